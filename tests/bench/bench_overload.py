"""@file bench_overload.py  cmrlab offered twice the call rate it sustains.

A fresh cmrlab in HTTP mode, as shipped (--max-calls at its default),
with the calls section's callee (uas_ring.xml) behind it, gets the
calls section's traffic (uac_plain.xml) at twice the highest rate that
section found for HTTP mode, for one step.  The caller's scenario takes
a 503 as an expected end (it ACKs it); the 503s are counted from sipp's
-trace_counts file.  Printed: the offered rate, goodput (calls completed
per second of the step) as a fraction of the sustained rate, the 503s,
and the calls that failed otherwise (timeouts, other answers), with the
server's CPU and its own count of INVITEs it shed (/metrics
cmrlab_sip_shed_total, which counts retransmissions too); 503s beyond
that count come from --max-calls.  A server that sheds load answers the
excess 503 at once and completes the rest; one that does not falls
behind, and its calls time out.
"""

from benchlib import QUICK, BenchError, ratio, say, table
import bench_calls
from bench_calls import STEP, Step, start_target

DEFAULT_MAX = 100 if QUICK else 400    # when the calls section did not run


def run(binary, tmp, results):
    calls = results.get("calls", {}).get("http", {})
    best = calls.get("max_rate")
    base = best or DEFAULT_MAX
    rate = 2 * base
    say("== 2. overload: cmrlab, HTTP mode, default --max-calls, offered "
        "%d calls/s for %d s (twice %s %d/s)"
        % (rate, STEP, "the sustained" if best else "an assumed", base))
    uas, srv = start_target(binary, tmp, "overload", "http",
                            "uas_ring.xml", max_calls=None)
    try:
        s = Step(tmp, srv, uas, "uac_plain.xml", rate, STEP, "overload")
        try:
            srv_shed = srv.srv.metric("cmrlab_sip_shed_total")
        except BenchError:
            srv_shed = None             # a server without the counter
    finally:
        uas.stop()
        srv.stop()
    goodput = s.ok / float(STEP)
    out = {"offered_rate": rate, "sustained_rate": base,
           "sustained_measured": best is not None, "step_seconds": STEP,
           "placed": s.created, "ok": s.ok, "goodput": goodput,
           "goodput_fraction": ratio(goodput, base), "shed_503": s.shed,
           "failed_other": s.failed, "server_shed": srv_shed,
           "server_cpu_pct":
           100.0 * s.cpu / s.wall, "placed_s": s.placed_s,
           "caller_ended": s.ended}
    table("overload (goodput: ok calls / %d s; fraction: goodput / the "
          "sustained rate; 503: final responses 503 the callers got, from "
          "load shedding\n  (srv_shed: the server's count of INVITEs shed, "
          "retransmissions included) or from --max-calls; failed: neither "
          "ok nor 503,\n  mostly timeouts of %d s):"
          % (STEP, bench_calls.RECV_TIMEOUT_MS // 1000),
          ["offered", "placed", "placed_s", "ok", "goodput", "fraction",
           "503", "srv_shed", "failed", "srv_cpu%"],
          [[rate, s.created, s.placed_s, s.ok, goodput,
            out["goodput_fraction"], s.shed, srv_shed, s.failed,
            out["server_cpu_pct"]]])
    results["overload"] = out
    return out
