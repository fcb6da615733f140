"""cmrlab demo: every case passes, the capture reads in tshark with every
message the modes need, and the report page opens in a real browser with
every case on it."""

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import time

import cmrtest
from cmrtest import Skip, check, info, kill_proc, spawn, test
from chromium import available, check_page

CASES = ("http-bt", "http-rt", "as-bt", "as-rt", "gw-update",
         "gw-reinvite", "early-media")
DEMO_LIMIT = 60.0           # seconds: the bound for make demo
_RUN = {}                   # out dir -> stdout of a demo that passed


def run_demo(t):
    """Runs cmrlab demo --out DIR once per test run (a later test reuses
    it); returns (DIR, stdout)."""
    if _RUN:
        return next(iter(_RUN.items()))
    # Outside t.tmp, which goes when the test passes: the later tests
    # read the same files.
    base = tempfile.mkdtemp(prefix="cmrlab-it-demo-")
    atexit.register(shutil.rmtree, base, True)
    out = os.path.join(base, "demo")
    p = spawn([cmrtest.BINARY, "demo", "--out", out],
              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
              stderr=subprocess.PIPE, cwd=t.tmp)
    try:
        so, se = p.communicate(timeout=DEMO_LIMIT)
    except subprocess.TimeoutExpired:
        kill_proc(p)
        check(False, "cmrlab demo did not finish within %.0f s"
              % DEMO_LIMIT)
    so = so.decode("utf-8", "replace")
    se = se.decode("utf-8", "replace")
    check(p.returncode == 0, "cmrlab demo: exit %d; stderr %r; last "
          "lines %r" % (p.returncode, se[-400:], so[-800:]))
    _RUN[out] = so
    return out, so


@test
def demo_every_case(t):
    """cmrlab demo: seven cases, each with its ladder, figures and a pass
    verdict; no colours when stdout is not a terminal."""
    out, so = run_demo(t)
    check("\033[" not in so, "ANSI escapes on a pipe")
    wide = [l for l in so.splitlines() if len(l) > 100]
    check(not wide, "%d lines over 100 columns: %r" % (len(wide), wide[:3]))
    for cid in CASES:
        m = re.search(r"== \d/7 %s ==\n(.*?)\n  (pass|FAIL)[^\n]*"
                      % re.escape(cid), so, re.S)
        check(m, "case %s is not in the output" % cid)
        check(m.group(2) == "pass", "case %s: %s" % (cid, m.group(0)[-300:]))
        ladder = m.group(1)
        check("INVITE" in ladder and "BYE" in ladder,
              "case %s: no INVITE/BYE in its ladder" % cid)
    check("7 of 7 cases passed" in so, "summary: %r" % so[-200:])
    # The ladder's rows of each case (not its title).
    blocks = {}
    for cid in CASES:
        text = re.search(r"== \d/7 %s ==\n.*?\n  (?:pass|FAIL)"
                         % re.escape(cid), so, re.S).group(0)
        blocks[cid] = "\n".join(l for l in text.splitlines()[1:]
                                if l.lstrip().startswith(("+", "|")))
    # Each case's clock runs forward, from its REGISTER on.
    for cid, rows in blocks.items():
        times = [float(x) for x in re.findall(r"^\s*\+(\d+\.\d+)s ", rows,
                                              re.M)]
        check(times and times == sorted(times), "case %s: the ladder's "
              "times go back: %r" % (cid, times))
    # What each case must show on its ladder.
    check("Alert-Info <http" in blocks["http-bt"], "http-bt: no URL")
    check("early-session offer" in blocks["as-bt"] and
          "PRACK" in blocks["as-bt"], "as-bt: no offer and PRACK")
    check("early-session answer" in blocks["as-rt"], "as-rt: no answer")
    check("UPDATE" in blocks["gw-update"], "gw-update: no UPDATE")
    check(blocks["gw-reinvite"].count("INVITE") >= 3 and
          "UPDATE" not in blocks["gw-reinvite"], "gw-reinvite: no "
          "re-INVITE (or an UPDATE)")
    for f in ("demo-report.html", "demo.pcap"):
        check(os.path.getsize(os.path.join(out, f)) > 1000,
              "%s missing or empty" % f)


def tshark(path, *args):
    p = subprocess.run(["tshark", "-r", path, "-o",
                        "rtp.heuristic_rtp:TRUE"] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=60)
    check(p.returncode == 0, "tshark %r: exit %d: %r"
          % (args, p.returncode, p.stderr[-300:]))
    return p.stdout.decode("utf-8", "replace")


@test
def demo_pcap_in_tshark(t):
    """tshark reads demo.pcap: INVITE, the 18x with the CMR header or
    body, PRACK, UPDATE, the HTTP GET of a resource and its 200, RTP."""
    if not shutil.which("tshark"):
        raise Skip("tshark is not installed")
    out, _ = run_demo(t)
    pcap = os.path.join(out, "demo.pcap")
    summary = tshark(pcap)
    counts = {}
    for what in ("Request: INVITE", "Status: 18",
                 "Request: PRACK", "Request: UPDATE", "GET /r/",
                 "HTTP/1.1 200 OK", " RTP ", " RTCP "):
        counts[what] = summary.count(what)
    info("tshark: %r" % counts)
    for what, n in counts.items():
        check(n > 0, "tshark shows no %r in demo.pcap" % what)
    for flt, what in (("sip.Alert-Info", "Alert-Info"),
                      ('sip and frame contains "early-session"',
                       "an early-session body or tag"),
                      ('sip and frame contains "P-Early-Media: sendrecv"',
                       "P-Early-Media: sendrecv")):
        n = len(tshark(pcap, "-Y", flt).splitlines())
        check(n > 0, "no SIP message with %s" % what)


@test
def demo_report_in_chromium(t):
    """demo-report.html in headless chromium: no console error, a
    1280x4000 screenshot, every case's section and verdict in the DOM."""
    found = available()
    if not found:
        raise Skip(found.why)
    out, _ = run_demo(t)
    res = check_page(os.path.join(out, "demo-report.html"),
                     os.path.join(t.tmp, "chromium"))
    info("chromium: %.1f s in all, screenshot %s"
         % (sum(res["seconds"].values()), res["screenshot"]))
    check(not res["console_errors"], "console errors: %r"
          % res["console_errors"][:5])
    check(res["ok"], "chromium: %r" % res["problems"])
    dom = res["dom"]
    for cid in CASES:
        m = re.search(r'<section[^>]*id="case-%s"[^>]*>(.*?)</section>'
                      % re.escape(cid), dom, re.S)
        check(m, "case %s not on the page" % cid)
        sec = m.group(1)
        check("<svg" in sec and "data:audio/wav;base64," in sec and
              "pass" in sec, "case %s: its ladder, waveform, player or "
              "verdict is missing" % cid)


# The server's INVITE to the callee of the first case, and no other
# message: its ringtone URL names the server's first call.
DROP_C1 = "ringtone-default?call=c1&"


@test
def demo_case_fails(t):
    """A case that fails: in a network namespace of its own where the
    server's INVITE to the first case's callee cannot leave (iptables,
    as root), the server answers the caller itself.  That case fails at
    once with the caller's own reason, not after the case's limit with
    "the callee did not finish"; the demo goes on with the others, puts
    the FAIL in its report and exits 1."""
    if os.geteuid() != 0:
        raise Skip("needs root, for a network namespace and iptables")
    for tool in ("unshare", "ip", "iptables"):
        if not shutil.which(tool):
            raise Skip("%s is not installed" % tool)
    out = os.path.join(t.tmp, "demo")
    script = ("ip link set lo up && iptables -A OUTPUT -p udp -m string "
              "--algo bm --string '%s' -j DROP || exit 99; exec \"$0\" "
              "demo --out \"$1\"" % DROP_C1)
    t0 = time.monotonic()
    p = spawn(["unshare", "-n", "sh", "-c", script, cmrtest.BINARY, out],
              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
              stderr=subprocess.PIPE, cwd=t.tmp)
    try:
        so, se = p.communicate(timeout=DEMO_LIMIT)
    except subprocess.TimeoutExpired:
        kill_proc(p)
        check(False, "cmrlab demo did not finish within %.0f s"
              % DEMO_LIMIT)
    took = time.monotonic() - t0
    so = so.decode("utf-8", "replace")
    se = se.decode("utf-8", "replace")
    if p.returncode == 99:
        raise Skip("no namespace or iptables string match: %s" % se[-200:])
    info("demo with the first INVITE to the callee dropped: exit %d in "
         "%.1f s" % (p.returncode, took))
    verdicts = re.findall(r"^  (pass|FAIL)(: [^\n]*)", so, re.M)
    check(len(verdicts) == 7, "%d verdicts: %r" % (len(verdicts),
                                                 so[-600:]))
    check(verdicts[0][0] == "FAIL" and "final response was" in
          verdicts[0][1], "http-bt: %r, expected the caller's reason"
          % (verdicts[0],))
    check(all(v[0] == "pass" for v in verdicts[1:]),
          "the other cases: %r" % verdicts[1:])
    check(p.returncode == 1 and "6 of 7 cases passed" in so,
          "exit %d, %r" % (p.returncode, so[-200:]))
    with open(os.path.join(out, "demo-report.html"), encoding="utf-8") as f:
        page = f.read()
    check("FAIL: the final response was" in page, "the report has no FAIL")
    # Seven cases of 3 s and their gaps take some 23 s; waiting for the
    # case's limit added 22 s.
    check(took < 36, "the demo took %.1f s" % took)


def strip_ansi(text):
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


@test
def demo_on_a_terminal(t):
    """cmrlab demo with its stdout on a terminal (a pty), NO_COLOR set but
    empty (no-color.org: only a non-empty one counts): the verdicts in
    colour, the progress line while the media plays, and every line, as
    the terminal shows it, within the ladder's 100 columns."""
    import pty
    master, slave = pty.openpty()
    env = dict(os.environ, NO_COLOR="")
    p = spawn([cmrtest.BINARY, "demo", "--out", os.path.join(t.tmp, "d")],
              stdin=subprocess.DEVNULL, stdout=slave,
              stderr=subprocess.PIPE, cwd=t.tmp, env=env)
    os.close(slave)
    data = b""
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < DEMO_LIMIT:
            try:
                b = os.read(master, 65536)
            except OSError:         # EIO: the demo closed the terminal
                break
            if not b:
                break
            data += b
        rc = p.wait(timeout=10)
    finally:
        kill_proc(p)
        os.close(master)
    text = data.decode("utf-8", "replace")
    check(rc == 0 and "7 of 7 cases passed" in text, "exit %d: %r"
          % (rc, text[-300:]))
    check("\033[32mpass: " in text, "no green verdict with NO_COLOR=''")
    check("packets received by the caller" in text,
          "no progress line")
    shown = [l for l in re.split(r"[\r\n]", strip_ansi(text))]
    wide = [l for l in shown if len(l) > 100]
    check(not wide, "%d lines over 100 columns: %r" % (len(wide), wide[:3]))
