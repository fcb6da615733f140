#!/usr/bin/env python3
"""@file bench.py  make bench: every benchmark of cmrlab, one run, one
machine, each figure next to a peer measured in the same run.

Sections, in this order (each in its own file of tests/bench/):

  1. calls     bench_calls.py: Kamailio and cmrlab per mode, CPU per call
               at a fixed rate and the highest rate sustained
  2. overload  bench_overload.py: cmrlab (HTTP mode) offered twice that
               rate: goodput, 503s, other failures
  3. streams   build/tests/bench/bench_streams: RTP streamer at 1k to 7.5k
               streams against a plain sendmmsg sender's packet rate
  4. http      bench_http.py: wrk against cmrlab's /r/ID and nginx
  5. memory    bench_memory.py: RSS per ringing call, streaming and HTTP
  6. reload    bench_reload.py: SIP and RTP delay during a SIGHUP reload
  7. client    bench_client.py: cmrlab call as a load generator and sipp
               placing the same calls: CPU per call, the highest rate

Each section prints its tables; the run ends with one line
"bench: {JSON}" that holds every figure.  Nothing asserts a speed (the
machines are shared and noisy).  The exit status is 1 when a section
could not run.  BENCH_QUICK=1 makes it a short smoke run.

Usage: bench.py --binary build/cmrlab --streams build/tests/bench/
       bench_streams [--only calls,overload,...] [--keep]
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import benchlib                                          # noqa: E402
from benchlib import QUICK, BenchError, rnd, say, table  # noqa: E402

SECTIONS = ["calls", "overload", "streams", "http", "memory", "reload",
            "client"]
# make bench, packages and build included, should end within 15 minutes
# of its start (BENCH_T0, set by the Makefile); the calls section, the
# longest, gets what the others, about AFTER_CALLS seconds and the
# client section's budget, leave of TOTAL, and no more than its own.
TOTAL = 840
AFTER_CALLS = 240


class Interrupted(Exception):
    pass


def on_signal(signum, frame):
    raise Interrupted("signal %d" % signum)


def clean(v):
    """Figures rounded for the JSON line."""
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [clean(x) for x in v]
    return rnd(v)


def run_streams(a, results):
    """The C benchmark prints its tables and a last "streams: {JSON}"."""
    cmd = [a.streams] + (["-q"] if QUICK else [])
    say("== 3. streams: the RTP streamer of cmrlab (rtp/streamer.c on the "
        "real loop, in %s), not the binary" % os.path.basename(a.streams))
    p = benchlib.spawn(cmd, stdout=subprocess.PIPE, text=True)
    data = None
    for line in p.stdout:
        if line.startswith("streams: "):
            data = json.loads(line[len("streams: "):])
        else:
            sys.stdout.write(line)
            sys.stdout.flush()
    rc = p.wait()
    if rc or data is None:
        raise BenchError("bench_streams exited %d" % rc)
    say()
    results["streams"] = data


def run_reload(a, results):
    """bench_reload.py as it is; its closing figures go into the JSON."""
    cmd = [sys.executable, os.path.join(HERE, "bench_reload.py"),
           "--binary", a.binary]
    if QUICK:
        cmd += ["--seconds", "20", "--reloads", "1"]
    say("== 6. reload: SIP OPTIONS and RTP during a SIGHUP reload of a "
        "big WAV (bench_reload.py)")
    p = benchlib.spawn(cmd, stdout=subprocess.PIPE, text=True)
    lines = []
    for line in p.stdout:
        lines.append(line.rstrip("\n"))
        sys.stdout.write(line)
        sys.stdout.flush()
    rc = p.wait()
    say()
    text = "\n".join(lines)
    f = lambda rx: [float(x) for x in re.findall(rx, text)]
    worst = re.search(r"worst OPTIONS delay during a ([\d.]+) MB reload: "
                      r"([\d.]+) ms, p99 ([\d.]+) ms \((\d+) answers, "
                      r"(\d+) unanswered", text)
    rtp = re.search(r"RTP during the reloads: longest gap ([\d.]+) ms.*?"
                    r"(\d+) frames skipped, lateness worst ([\d.]+) ms",
                    text)
    took = f(r"reload took ([\d.]+) s")
    out = {"exit": rc, "reload_s": took}
    if worst:
        out.update(mb=float(worst.group(1)),
                   options_worst_ms=float(worst.group(2)),
                   options_p99_ms=float(worst.group(3)),
                   unanswered=int(worst.group(5)))
    if rtp:
        out.update(rtp_gap_ms=float(rtp.group(1)),
                   rtp_skipped=int(rtp.group(2)),
                   rtp_late_ms=float(rtp.group(3)))
    results["reload"] = out
    table("reload, summary (during the reloads; idle figures above):",
          ["MB", "reloads", "reload_s_max", "options_worst_ms",
           "options_p99_ms", "unanswered", "rtp_gap_ms", "rtp_skipped"],
          [[out.get("mb"), len(took), max(took) if took else None,
            out.get("options_worst_ms"), out.get("options_p99_ms"),
            out.get("unanswered"), out.get("rtp_gap_ms"),
            out.get("rtp_skipped")]])
    if rc:
        raise BenchError("bench_reload.py exited %d" % rc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default="build/cmrlab")
    ap.add_argument("--streams", default="build/tests/bench/bench_streams")
    ap.add_argument("--only", default=",".join(SECTIONS))
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary files")
    a = ap.parse_args()
    a.binary = os.path.abspath(a.binary)
    a.streams = os.path.abspath(a.streams)
    only = a.only.split(",")
    # Thousands of RTP streams need two descriptors each, in cmrlab and
    # in bench_streams: the soft limit goes up to the hard one.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft != resource.RLIM_INFINITY and soft < min(want, 65536):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, 65536), hard))
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    import bench_calls
    import bench_client
    import bench_http
    import bench_memory
    import bench_overload

    tmp = tempfile.mkdtemp(prefix="cmrlab-bench-")
    results = {"quick": QUICK, "cores": os.cpu_count()}
    failed = []
    t0 = time.monotonic()
    say("bench: one run on %s, %d cores%s; files in %s"
        % (os.uname().nodename, os.cpu_count(),
           " (BENCH_QUICK: short smoke run)" if QUICK else "", tmp))
    say()
    t_make = float(os.environ.get("BENCH_T0") or time.time())
    budget = bench_calls.BUDGET
    if not QUICK:
        after = AFTER_CALLS + (bench_client.BUDGET if "client" in only
                               else 0)
        left = TOTAL - after - (time.time() - t_make)
        budget = max(120, min(budget, left))
    steps = [
        ("calls", lambda: bench_calls.run(a.binary, tmp, results, budget)),
        ("overload", lambda: bench_overload.run(a.binary, tmp, results)),
        ("streams", lambda: run_streams(a, results)),
        ("http", lambda: bench_http.run(a.binary, tmp, results)),
        ("memory", lambda: bench_memory.run(a.binary, tmp, results)),
        ("reload", lambda: run_reload(a, results)),
        ("client", lambda: bench_client.run(a.binary, tmp, results)),
    ]
    try:
        for name, fn in steps:
            if name not in only:
                continue
            t1 = time.monotonic()
            try:
                fn()
            except BenchError as e:
                say("   %s: could not run: %s\n" % (name, e))
                failed.append(name)
                results.setdefault(name, {})["error"] = str(e)
            finally:
                benchlib.stop_all()
            results.setdefault(name, {})["seconds"] = round(
                time.monotonic() - t1, 1)
    except Interrupted as e:
        failed.append(str(e))
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        benchlib.stop_all()
    results["seconds"] = round(time.monotonic() - t0, 1)
    if failed:
        results["failed"] = failed
    say("bench: " + json.dumps(clean(results), sort_keys=True,
                               separators=(",", ":")))
    if failed or a.keep:
        say("bench: files kept in " + tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
