"""@file bench_memory.py  cmrlab's memory per call held ringing.

For gateway mode (the ringback streams as RTP from the moment of the
reliable 180) and for HTTP mode (no stream): a cmrlab with the callee
behind it, a sipp callee that rings and never answers
(scenarios/uas_noanswer.xml), and sipp callers (the calls section's
uac_gw.xml and uac_plain.xml) that place calls at RATE/s and wait.
The server's RSS is read when idle, once the first 1000 calls ring
(/metrics cmrlab_calls_active) and have settled for a second, and
again once 5000 ring: (RSS - idle RSS) / calls is the memory per ringing
call.  The server's open descriptors are counted too (a stream holds
two: RTP and RTCP), and the INVITEs it shed (a server that falls behind
answers new INVITEs 503, so fewer calls ring).  Then the callers go,
the server is stopped (it cancels the calls) and the callee goes.
"""

import os
import time

from benchlib import (HOST, QUICK, BenchError, Cmrlab, Sipp, rss_kib, say,
                      table, wait_bound)

COUNTS = [100, 300] if QUICK else [1000, 5000]
RATE = 200 if QUICK else 500
SETTLE = 1.0
USER = "bench"
MODES = [("gateway", "uac_gw.xml"), ("http", "uac_plain.xml")]


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def wait_active(srv, n, timeout):
    """Waits until n calls are in progress; the number reached."""
    deadline = time.monotonic() + timeout
    active = 0
    while time.monotonic() < deadline:
        active = srv.metric("cmrlab_calls_active")
        if active >= n:
            break
        time.sleep(0.2)
    return active


def one_mode(binary, tmp, mode, uac_sf):
    uas = Sipp(tmp, "mem-%s-uas" % mode, "uas_noanswer.xml")
    wait_bound(uas.port, "udp", 5.0)
    lo = 20000 + 2 * (os.getpid() % 500)
    text = ("# make bench: one callee that never answers\n"
            "subscriber alice\n"
            "subscriber %s mode=%s contact=%s\n"
            % (USER, mode, uas.uri(USER)))
    uacs, srv = [], None
    rows = []
    try:
        srv = Cmrlab(binary, tmp, text, name="mem-" + mode, extra=(
            "--max-calls", str(4 * COUNTS[-1]),
            "--rtp-ports", "%d-%d" % (lo, lo + 4 * COUNTS[-1] + 999)))
        time.sleep(0.5)
        rss0, fd0 = rss_kib(srv.pid), fds(srv.pid)
        placed = 0
        for n in COUNTS:
            t0 = time.monotonic()
            uacs.append(Sipp(tmp, "mem-%s-%d" % (mode, n), uac_sf,
                             calls=n - placed, rate=RATE,
                             remote="%s:%d" % (HOST, srv.sip),
                             service=USER, limit=2 * COUNTS[-1]))
            active = wait_active(srv, n, (n - placed) / float(RATE) + 60)
            placed = n
            up_s = time.monotonic() - t0
            time.sleep(SETTLE)
            rss, fd = rss_kib(srv.pid), fds(srv.pid)
            try:
                shed = srv.metric("cmrlab_sip_shed_total")
            except BenchError:
                shed = None             # a server without the counter
            rows.append({"calls": n, "ringing": active, "rss_kib": rss,
                         "shed": shed,
                         "rss0_kib": rss0, "kib_per_call":
                         (rss - rss0) / float(active) if active else None,
                         "fds": fd - fd0, "setup_s": up_s})
            if active < n:
                say("   %s: only %d of %d calls ringing after %.0f s"
                    % (mode, active, n, up_s))
                break
    finally:
        for u in uacs:
            u.stop()
        if srv:
            srv.stop()
        uas.stop()
    return rows


def run(binary, tmp, results):
    say("== 5. memory: cmrlab RSS per call held ringing (the callee never "
        "answers), %s calls, placed at %d/s"
        % (" and ".join(str(n) for n in COUNTS), RATE))
    out, trows = {}, []
    for mode, uac_sf in MODES:
        rows = one_mode(binary, tmp, mode, uac_sf)
        out[mode] = rows
        for r in rows:
            trows.append([mode, r["calls"], r["ringing"], r["rss0_kib"],
                          r["rss_kib"], r["kib_per_call"], r["fds"],
                          r["shed"], r["setup_s"]])
    table("memory (rss0: idle; kib/call: (rss - rss0) / calls ringing; "
          "fds: open descriptors above idle, two per RTP stream;\n  shed: "
          "INVITEs the server answered 503 because it was behind, so far):",
          ["mode", "calls", "ringing", "rss0_kib", "rss_kib", "kib/call",
           "fds", "shed", "setup_s"], trows)
    results["memory"] = out
    return out
