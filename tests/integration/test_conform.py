"""cmrlab conform: its command line, the catalogue as docs/conform.md has
it, and the reports of one run against cmrlab's own server (the HTML page
in a real browser, the capture, JSON and the terminal table).  The
clause-breaking peers are in test_conform_server.py and
test_conform_client.py."""

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET

import cmrtest
from cmrtest import Skip, check, free_port, info, kill_proc, spawn, test
from chromium import available, check_page
from test_client import pcap_packets

HOST = "127.0.0.1"
RUN_LIMIT = 90.0
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def conform(t, args, timeout=RUN_LIMIT):
    """Runs cmrlab conform args; (exit status, stdout, stderr)."""
    p = spawn([cmrtest.BINARY, "conform"] + args,
              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
              stderr=subprocess.PIPE, cwd=t.tmp)
    try:
        so, se = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_proc(p)
        check(False, "cmrlab conform %r did not end within %.0f s"
              % (args, timeout))
    return p.returncode, so.decode(), se.decode()


def catalogue():
    """[(id, role, run, clause, what)] of --list."""
    p = subprocess.run([cmrtest.BINARY, "conform", "--list"],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=10)
    check(p.returncode == 0, "--list: exit %d" % p.returncode)
    rows = [l.split("\t") for l in p.stdout.decode().splitlines()]
    check(all(len(r) == 5 for r in rows), "--list: %r" % rows[:3])
    return rows


@test
def conform_usage(t):
    """Bad usage is exit 2 with a message naming what is wrong, before
    anything is sent; --help is exit 0."""
    port = free_port()
    tgt = "sip:%s:%d" % (HOST, port)
    for args, want in (
            ([], "--dut"),
            (["--dut", "phone"], "--dut"),
            (["--dut", "server"], "--target"),
            (["--dut", "server", "--target", "sip:no.such.host:5060"],
             "--target"),
            (["--dut", "server", "--target", "sip:%s:99999" % HOST],
             "--target"),
            (["--dut", "server", "--target", tgt, "--dut-dial", "x"],
             "--dut-dial"),
            (["--dut", "client", "--target", tgt], "--target"),
            (["--dut", "server", "--target", tgt, "--case", "NOPE-*"],
             "no server case"),
            (["--dut", "server", "--target", tgt, "--case",
              "CMR-AS-BT-CLI-01"], "no server case"),
            (["--dut", "client", "--run", "gw-bt"], "no client case"),
            (["--dut", "client", "--wait", "0"], "--wait"),
            (["--dut", "client", "--wait", "2.5"], "--wait"),
            (["--dut", "client", "--dut-contact", "tel:123"],
             "--dut-contact"),
            (["--dut", "client", "--dut-contact", "sip:a@b",
              "--dut-answer", "x"], "not both"),
            (["--dut", "server", "--target", tgt, "--caller", "a b"],
             "user name"),
            (["--dut", "server", "--target", tgt, "--pcap",
              "/nonexistent-dir/x.pcap"], "/nonexistent-dir/x.pcap"),
            (["--dut", "server", "--target", tgt, "extra"], "extra"),
            (["--bogus"], "usage")):
        rc, so, se = conform(t, args, timeout=10)
        check(rc == 2 and want in se, "%r: exit %d, %r" % (args, rc, se))
    rc, so, se = conform(t, ["--help"], timeout=10)
    check(rc == 0 and "--dut server|client" in so, "--help: %d" % rc)


@test
def conform_catalogue_documented(t):
    """docs/conform.md holds the catalogue exactly as --list --markdown
    prints it; every SHALL clause of the text has its cases; ids are
    unique."""
    p = subprocess.run([cmrtest.BINARY, "conform", "--list", "--markdown"],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=10)
    check(p.returncode == 0, "--markdown: exit %d" % p.returncode)
    table = p.stdout.decode().splitlines()
    with open(os.path.join(ROOT, "docs", "conform.md")) as f:
        doc = f.read()
    section = doc.split("## The catalogue", 1)[1]
    doc_rows = [l for l in section.splitlines() if l.startswith("|")]
    check(doc_rows == table, "docs/conform.md's table is not --list "
          "--markdown's: %d rows against %d; first difference %r"
          % (len(doc_rows), len(table),
             next(((a, b) for a, b in zip(doc_rows, table) if a != b),
                  None)))
    rows = catalogue()
    ids = [r[0] for r in rows]
    check(len(ids) == len(set(ids)), "ids are not unique")
    clauses = {r[3] for r in rows}
    for c in ("1.1.1.3", "1.1.1.4", "1.1.1.7", "1.1.1.8", "1.1.1.10",
              "1.1.1.11", "RFC 3262", "RFC 3311", "RFC 3264", "RFC 5009"):
        check(any(c in x for x in clauses), "no case of %s" % c)
    check({r[1] for r in rows} == {"server", "client"}, "roles")


@test
def conform_server_reports(t):
    """Against cmrlab's own server: exit 0, the table's summary, every
    server case in the JSON with a pass, the capture with SIP and RTP of
    every run, and the HTML page with a section per case and its ladder,
    opened in headless chromium without an error."""
    srv = t.server()
    out = {k: os.path.join(t.tmp, "c." + k)
           for k in ("json", "html", "pcap", "xml")}
    rc, so, se = conform(t, ["--dut", "server", "--target",
                             "sip:%s:%d" % (HOST, srv.sip),
                             "--json", out["json"], "--html", out["html"],
                             "--pcap", out["pcap"], "--junit", out["xml"]])
    info(so.strip().splitlines()[-1] if so.strip() else se)
    check(rc == 0, "exit %d: %s %s" % (rc, so[-2000:], se))
    server_ids = [r[0] for r in catalogue() if r[1] == "server"]
    check(re.search(r"^conform: %d cases: %d passed, 0 failed, 0 "
                    r"inconclusive$" % (len(server_ids), len(server_ids)),
                    so, re.M), "summary line: %r" % so[-300:])
    for i in server_ids:
        check(re.search(r"^%s +pass +" % re.escape(i), so, re.M),
              "%s not in the table as passed" % i)

    suite = ET.parse(out["xml"]).getroot()
    cases = suite.findall(".//testcase")
    check(sorted(c.get("name") for c in cases) == sorted(server_ids) and
          not suite.findall(".//failure"), "junit: %d testcases"
          % len(cases))
    with open(out["json"]) as f:
        j = json.load(f)
    check(j["dut"] == "server" and j["totals"]["pass"] == len(server_ids),
          "json totals %r" % j["totals"])
    check(sorted(c["id"] for c in j["cases"]) == sorted(server_ids),
          "json cases")
    check(all(r["made"] and r["messages"] > 5 for r in j["runs"]) and
          len(j["runs"]) == 6, "json runs %r" % j["runs"])
    check(all(c["evidence"] for c in j["cases"]), "a case without "
          "evidence")

    pk = pcap_packets(out["pcap"])
    sip = [p[3].split(b"\r\n", 1)[0] for p in pk if p[0] == 17 and
           srv.sip in (p[1], p[2])]
    rtp = [p for p in pk if p[0] == 17 and len(p[3]) >= 12 and
           p[3][0] >> 6 == 2 and srv.sip not in (p[1], p[2])]
    info("pcap: %d SIP, %d RTP" % (len(sip), len(rtp)))
    check(sum(s.startswith(b"INVITE sip:bob") for s in sip) >= 12,
          "INVITEs in the pcap: %r" % sip[:20])
    check(any(s.startswith(b"UPDATE ") for s in sip) and
          any(s.startswith(b"PRACK ") for s in sip), "UPDATE, PRACK")
    check(len(rtp) >= 600, "only %d RTP packets" % len(rtp))

    with open(out["html"], encoding="utf-8") as f:
        page = f.read()
    for i in server_ids:
        check('id="case-%s"' % i in page, "no section for %s" % i)
    check(page.count("<svg") >= len(server_ids), "a ladder per case")
    check("early-session" in page and "P-Early-Media" in page,
          "the evidence is on the page")
    if not available():
        raise Skip("the page was not opened: %s" % available().why)
    res = check_page(out["html"], os.path.join(t.tmp, "chromium"))
    check(res["ok"] and not res["console_errors"],
          "chromium: %r %r" % (res["problems"], res["console_errors"]))
    check(all(i in res["dom"] for i in server_ids), "DOM lacks a case")


@test
def conform_not_made(t):
    """A target where nothing answers: every run is not made, every case
    inconclusive with the reason, exit 1 (none could be judged); a client
    box whose device never registers nor dials: the same, within its
    --wait."""
    port = free_port()
    rc, so, se = conform(t, ["--dut", "server", "--target",
                             "sip:%s:%d" % (HOST, port), "--run",
                             "http-bt", "--wait", "2"], timeout=60)
    check(rc == 1, "exit %d" % rc)
    check("http-bt: not made: no answer to the REGISTER of bob at "
          "sip:%s:%d within 2 s" % (HOST, port) in so, "why: %r" % so)
    check(re.search(r"conform: 3 cases: 0 passed, 0 failed, 3 "
                    r"inconclusive", so), "summary: %r" % so[-300:])

    js = os.path.join(t.tmp, "c.json")
    rc, so, se = conform(t, ["--dut", "client", "--listen",
                             "%s:%d" % (HOST, free_port()), "--wait", "2",
                             "--dut-dial", "true", "--json", js],
                         timeout=60)
    check(rc == 1, "client: exit %d %s" % (rc, se))
    with open(js) as f:
        j = json.load(f)
    check(j["totals"]["inconclusive"] == len(j["cases"]) and
          not any(r["made"] for r in j["runs"]), "client: %r" % j["totals"])
    whys = {r["id"]: r["why"] for r in j["runs"]}
    check("did not call cmr-as within 2 s" in whys["c-as-bt"] and
          "did not register as dut within 2 s" in whys["c-as-rt"],
          "why: %r" % whys)
