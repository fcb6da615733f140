#!/usr/bin/env python3
"""@file soak.py  cmrlab under a steady call load for minutes: leaks, and
calls or RTP streams left behind.

Usage: python3 tests/soak/soak.py --binary build/cmrlab [--seconds S]
       [--rate R] [--warmup W] [--every E]
       [--modes http,as,gateway,auto] [--keep]
(make soak; SOAK_SECONDS=S sets --seconds, 600 by default.)

Starts cmrlab serve on free loopback ports with a profile of one callee
per delivery mode, each with a static contact= at its own sipp callee:

  mode     caller (tests/soak/scenarios)   callee (tests/integration/...)
  http     uac_plain.xml, UDP              uas_answer.xml
  as       uac_as.xml, UDP                 uas_as_rel180.xml
  gateway  uac_gw.xml, UDP                 uas_gw_answer.xml
  auto     uac_early.xml, TCP              uas_183_sdp_answer.xml

Application server mode streams the ringback to the caller and the
ringtone to the callee, gateway mode and auto (early media to a plain
caller) the ringback to the caller; every
RTP destination is a sipp media port, which sipp binds.  Each caller
places R calls a second for S seconds: the callee rings 1.5 s, answers,
the caller holds the call 1 to 2 s and hangs up.  Once a second the
script fetches a tone over HTTP, as HTTP mode's terminals do.

It prints the server's RSS and fd count when idle, after a warm-up of W
seconds (300, or half of S if that is less), every E seconds (60) and at the end, with the calls
placed and failed from sipp's statistics (-trace_stat; "failed" counts
the callers' calls that did not succeed plus the callees' failed
calls).  At the end, after the last call ended, it reads the live calls
from /metrics and /api/v1/calls and the live RTP streams from the JSON
event log (every rtp-started needs its rtp-stopped), and closes with

  soak: N calls, F failed, RSS +X KiB after warm-up, fds S->E,
        live calls L, streams M          (one line)

The warm-up is the time the heap of a steady load takes to settle.  The
objects of a load are complete after 40 s (libre keeps a UDP transaction
32 s after its final response, plus one call's length), but glibc's
malloc goes on spreading them over new pages for minutes, more slowly
each minute, although the bytes in use stay flat.  Measured at this
load with the server's malloc_trim every 30 s (core/memtrim.c): +1.8,
+1.2, +0.7, +0.4, +0.2 MiB in the first five minutes after the first
40 s, then +0.1 to +0.2 MiB a minute.

S is the fd count before the first call, E the one after the last.  The
exit status is 1 when a call failed, RSS grew by 1 MiB or more after
the warm-up, the fds are not back to S, a call or stream is still live,
a mode did not stream as it should, a tone fetch failed, or the server
did not exit 0 on SIGTERM.  Every process the script starts is stopped
by its PID at the end, on Ctrl-C and on SIGTERM too.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

import cmrtest                                          # noqa: E402
from cmrtest import (                                   # noqa: E402
    HOST, Fail, Server, free_port, free_udp_block, kill_all, kill_proc,
    spawn, wait_bound)
from cmrtest_sip import SCENARIOS as IT_SCENARIOS       # noqa: E402

SOAK_SCENARIOS = os.path.join(HERE, "scenarios")
RING_MS = 1500
RSS_LIMIT_KIB = 1024
SETTLE_S = 5.0             # how long the end waits for calls and fds
TAIL_S = 60                # how long sipp may run past --seconds
MEDIA_PORT = "media-port"  # a key value: the callee's own -mp port

# name, subscriber, transport, caller, callee, callee's keys, RTP
# streams per call (application server: ringback and ringtone; gateway
# and early media: the ringback).
MODES = [
    ("http", "soak-http", "udp", "uac_plain.xml", "uas_answer.xml", {}, 0),
    ("as", "soak-as", "udp", "uac_as.xml", "uas_as_rel180.xml",
     {"rtp_port": MEDIA_PORT, "rtp_pt": 0}, 2),
    ("gateway", "soak-gw", "udp", "uac_gw.xml", "uas_gw_answer.xml",
     {"pt": 0, "hdr180": "Subject: ringing"}, 1),
    ("auto", "soak-auto", "tcp", "uac_early.xml", "uas_183_sdp_answer.xml",
     {}, 1),
]


class Interrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP to the script: it stops everything."""


def on_signal(signum, frame):
    raise Interrupted("signal %d" % signum)


def say(msg):
    print("soak: " + msg)
    sys.stdout.flush()


# ---- the server as /proc and its HTTP side see it -------------------------

def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise Fail("/proc/%d/status has no VmRSS" % pid)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def metric(srv, name):
    st, _, body = srv.http_get("/metrics")
    if st != 200:
        raise Fail("GET /metrics: status %d" % st)
    for line in body.decode().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == name:
            return int(parts[1])
    raise Fail("GET /metrics has no %s" % name)


def live_records(srv):
    """Call records of /api/v1/calls that have not ended."""
    return [c for c in srv.calls() if c.get("state") != "ended"]


def stream_counts(srv):
    """From the JSON event log: ({mode: rtp-started}, live streams, how
    many rtp-not-started).  A stream is a call and a direction; it is
    live while it has more rtp-started than rtp-stopped events."""
    user_mode = {m[1]: m[0] for m in MODES}
    call_mode, started, live = {}, {}, {}
    not_started = 0
    with open(srv.log_json) as f:
        for line in f:
            if '"received"' not in line and '"rtp-' not in line:
                continue
            e = json.loads(line)
            what, call = e.get("what"), e.get("call")
            if what == "received":
                user = str(e.get("to", "")).partition("@")[0]
                call_mode[call] = user_mode.get(user, "?")
            elif what == "rtp-started":
                mode = call_mode.get(call, "?")
                started[mode] = started.get(mode, 0) + 1
                key = (call, e.get("dir"))
                live[key] = live.get(key, 0) + 1
            elif what == "rtp-stopped":
                key = (call, e.get("dir"))
                live[key] = live.get(key, 0) - 1
            elif what == "rtp-not-started":
                not_started += 1
    return started, sum(n for n in live.values() if n > 0), not_started


def rtp_range():
    """1000 ports from an even number above the usual 20000-29999; the
    streamer passes over the ones something else holds."""
    lo = random.randrange(40000, 58000, 2)
    return lo, lo + 999


# ---- sipp -----------------------------------------------------------------

class Sipp:
    """One sipp process of the soak: many calls, statistics in a CSV."""

    def __init__(self, tmp, name, scenario, transport, calls, keys=(),
                 rate=None, service=None, remote=None):
        self.name = name
        self.port = free_port()
        self.mport = free_udp_block()
        self.transport = transport
        p = lambda what: os.path.join(tmp, "%s.%s" % (name, what))
        self.stat, self.errors = p("stat.csv"), p("errors.log")
        self.stderr = p("stderr.log")
        cmd = ["sipp", "-sf", scenario, "-i", HOST, "-p", str(self.port),
               "-mp", str(self.mport), "-m", str(calls), "-nostdin",
               "-recv_timeout", "10000", "-trace_stat", "-stf", self.stat,
               "-fd", "1", "-trace_err", "-error_file", self.errors]
        if transport == "tcp":
            cmd += ["-t", "t1"]
        for k, v in keys:
            cmd += ["-key", k, str(self.mport if v == MEDIA_PORT else v)]
        if rate:
            cmd += ["-r", str(rate), "-rp", "1000", "-l", "1000",
                    "-s", service, remote]
        self.err = open(self.stderr, "wb")
        self.proc = spawn(cmd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=self.err,
                          cwd=tmp)
        self.rc = "running"

    def contact(self, user):
        uri = "sip:%s@%s:%d" % (user, HOST, self.port)
        return uri + (";transport=tcp" if self.transport == "tcp" else "")

    def running(self):
        return self.proc.poll() is None

    def stats(self):
        """(placed, successful, failed) from the last row of the CSV."""
        try:
            with open(self.stat) as f:
                rows = [r.rstrip("\n").split(";") for r in f if r.strip()]
        except OSError:
            return 0, 0, 0
        if len(rows) < 2:
            return 0, 0, 0
        head, last = rows[0], rows[-1]
        col = lambda n: int(last[head.index(n)])
        return (col("TotalCallCreated"), col("SuccessfulCall(C)"),
                col("FailedCall(C)"))

    def finish(self, timeout):
        """Waits up to timeout seconds for sipp to end by itself, else
        kills it (rc None)."""
        try:
            self.rc = self.proc.wait(timeout=max(0.0, timeout))
        except subprocess.TimeoutExpired:
            kill_proc(self.proc)
            self.rc = None
        self.err.close()
        return self.rc

    def why(self):
        """How many errors sipp logged and the last one, else the last
        line of its stderr.  sipp writes its errors as "DATE<tab>TIME<tab>
        EPOCH: text", at times with no line end between two of them."""
        try:
            with open(self.errors, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            text = ""
        found = re.findall(r"\d{4}-\d\d-\d\d\t[\d:.]+\t[\d.]+: "
                           r"(.*?)(?=\d{4}-\d\d-\d\d\t|\n|$)", text)
        if found:
            return "%s: %d errors, the last: %s" % (
                self.name, len(found), found[-1].strip())
        try:
            with open(self.stderr, "rb") as f:
                lines = f.read().decode("utf-8", "replace").split("\n")
        except OSError:
            lines = []
        lines = [l.strip() for l in lines if l.strip()]
        return "%s: %s" % (self.name, lines[-1]) if lines else ""


class Mode:
    """One delivery mode: its subscriber, sipp callee and sipp caller."""

    def __init__(self, row):
        (self.name, self.user, self.transport, self.uac_sf, self.uas_sf,
         self.keys, self.streams_per_call) = row
        self.uas = self.uac = None

    def start_callee(self, tmp, calls):
        keys = [("ring_ms", RING_MS)] + sorted(self.keys.items())
        self.uas = Sipp(tmp, self.name + "-callee",
                        os.path.join(IT_SCENARIOS, self.uas_sf),
                        self.transport, calls, keys)

    def start_caller(self, tmp, srv, calls, rate):
        self.uac = Sipp(tmp, self.name + "-caller",
                        os.path.join(SOAK_SCENARIOS, self.uac_sf),
                        self.transport, calls, rate=rate, service=self.user,
                        remote="%s:%d" % (HOST, srv.sip))

    def failed(self, final=False):
        """The caller's failed calls plus the callee's; final (once both
        sipps ended): every call the caller placed and did not finish
        successfully counts as failed."""
        placed, ok, failed = self.uac.stats()
        return (placed - ok if final else failed) + self.uas.stats()[2]


def profile_text(modes):
    lines = ["# cmrlab soak: one callee per mode, at its sipp callee",
             "subscriber alice", "limits ring=30 call=60"]
    for m in modes:
        lines.append("subscriber %s mode=%s contact=%s"
                     % (m.user, m.name, m.uas.contact(m.user)))
    return "\n".join(lines) + "\n"


# ---- the run --------------------------------------------------------------

class Soak:
    def __init__(self, args, tmp):
        self.a = args
        self.tmp = tmp
        self.modes = [Mode(r) for r in MODES if r[0] in args.modes]
        self.calls = args.rate * args.seconds     # per mode
        self.srv = None
        self.fetches = self.fetch_fail = 0
        self.why = []

    def totals(self, final=False):
        if any(m.uac is None for m in self.modes):
            return 0, 0
        placed = sum(m.uac.stats()[0] for m in self.modes)
        return placed, sum(m.failed(final) for m in self.modes)

    def figures(self, what, live=True, final=False):
        pid = self.srv.proc.pid
        placed, failed = self.totals(final)
        rss, fds = rss_kib(pid), fd_count(pid)
        extra = (", live calls %d" % metric(self.srv, "cmrlab_calls_active")
                 if live else "")
        say("%s: calls placed %d, failed %d, RSS %d KiB, fds %d%s"
            % (what, placed, failed, rss, fds, extra))
        return rss, fds

    def start(self):
        for m in self.modes:
            m.start_callee(self.tmp, self.calls)
        for m in self.modes:
            if not wait_bound(m.uas.port, m.transport, 3.0):
                raise Fail("%s: sipp did not bind %s port %d: %s"
                           % (m.uas.name, m.transport, m.uas.port,
                              m.uas.why()))
        profile = os.path.join(self.tmp, "soak.profile")
        with open(profile, "w") as f:
            f.write(profile_text(self.modes))
        self.srv = Server(self.tmp, profile=profile, extra=(
            "--rtp-ports", "%d-%d" % rtp_range(), "--log-level", "warn"))
        self.srv.start()
        say("%d modes x %d calls/s for %d s (warm-up %d s), %d calls per "
            "mode; server pid %d; files in %s"
            % (len(self.modes), self.a.rate, self.a.seconds, self.a.warmup,
               self.calls, self.srv.proc.pid, self.tmp))
        for m in self.modes:
            say("mode %s: %s, caller %s, callee %s, %d RTP stream(s) a "
                "call" % (m.name, m.transport.upper(), m.uac_sf, m.uas_sf,
                          m.streams_per_call))

    def fetch(self, n):
        path = "/r/%s" % ("ringback-default" if n % 2 else
                          "ringtone-default")
        self.fetches += 1
        try:
            st, _, body = self.srv.http_get(path)
            ok = st == 200 and len(body) > 0
        except Fail:
            ok = False
        if not ok:
            self.fetch_fail += 1

    def run(self):
        a = self.a
        _, self.fds0 = self.figures("idle", live=False)
        for m in self.modes:
            m.start_caller(self.tmp, self.srv, self.calls, a.rate)
        t0 = time.monotonic()
        warm = progress = None
        n = 0
        while any(m.uac.running() for m in self.modes):
            el = time.monotonic() - t0
            if el > a.seconds + TAIL_S:
                self.why.append("callers still running %d s after the "
                                "last call was due" % TAIL_S)
                break
            if not self.srv.alive():
                raise Fail("the server exited with %s; stderr: %s"
                           % (self.srv.proc.returncode,
                              self.srv.stderr_tail()))
            if warm is None and el >= a.warmup:
                warm = self.figures("warm-up (%d s)" % round(el))
                progress = el
            elif progress is not None and el - progress >= a.every:
                self.figures("t=%d s" % round(el))
                progress = el
            self.fetch(n)
            n += 1
            time.sleep(max(0.0, t0 + n - time.monotonic()))
        if warm is None:
            raise Fail("the callers ended before the warm-up was over")
        for m in self.modes:
            m.uac.finish(TAIL_S)
        for m in self.modes:
            m.uas.finish(10.0)
        self.t_end = time.monotonic() - t0
        return warm

    def settle(self):
        """Waits up to SETTLE_S for no live call and the idle fd count
        (TCP connections of the sipps just gone); the last readings."""
        deadline = time.monotonic() + SETTLE_S
        while True:
            active = metric(self.srv, "cmrlab_calls_active")
            fds = fd_count(self.srv.proc.pid)
            if (active == 0 and fds == self.fds0) or \
                    time.monotonic() >= deadline:
                return active
            time.sleep(0.1)

    def report(self, warm):
        rss_w, fds_w = warm
        active = self.settle()
        records = live_records(self.srv)
        rss, fds = self.figures("end (%d s)" % round(self.t_end),
                                final=True)
        started, streams, not_started = stream_counts(self.srv)
        say("end: live calls %d in /metrics, %d in /api/v1/calls; live "
            "RTP streams %d (event log)" % (active, len(records), streams))
        total = failed = 0
        for m in self.modes:
            placed, ok, fail = m.uac.stats()
            _, cok, cfail = m.uas.stats()
            want = ok * m.streams_per_call
            got = started.get(m.name, 0)
            total += placed
            failed += m.failed(final=True)
            say("mode %s: caller placed %d, ok %d, failed %d (sipp exit "
                "%s); callee ok %d, failed %d; RTP streams %d"
                % (m.name, placed, ok, fail, m.uac.rc, cok, cfail, got))
            if placed != self.calls:
                self.why.append("%s: %d of %d calls placed"
                                % (m.name, placed, self.calls))
            if got != want:
                self.why.append("%s: %d RTP streams for %d calls, expected "
                                "%d" % (m.name, got, ok, want))
            if m.failed(final=True):
                self.why += [w for w in (m.uac.why(), m.uas.why()) if w]
        say("http: %d tone fetches, %d failed; %d rtp-not-started"
            % (self.fetches, self.fetch_fail, not_started))
        growth = rss - rss_w
        say("RSS growth after warm-up: %+d KiB (%d -> %d KiB)"
            % (growth, rss_w, rss))
        say("%d calls, %d failed, RSS %+d KiB after warm-up, fds %d->%d, "
            "live calls %d, streams %d"
            % (total, failed, growth, self.fds0, fds, max(active,
                                                         len(records)),
               streams))
        checks = [
            (failed == 0, "%d failed calls" % failed),
            (growth < RSS_LIMIT_KIB, "RSS grew %d KiB" % growth),
            (fds == self.fds0, "fds %d at the end, %d idle"
             % (fds, self.fds0)),
            (active == 0 and not records, "live calls: %d (metrics), %s"
             % (active, [(c.get("id"), c.get("state")) for c in records])),
            (streams == 0, "%d RTP streams live" % streams),
            (not_started == 0, "%d rtp-not-started" % not_started),
            (self.fetch_fail == 0, "%d tone fetches failed"
             % self.fetch_fail),
        ]
        self.why += [why for ok, why in checks if not ok]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default="build/cmrlab")
    ap.add_argument("--seconds", type=int,
                    default=int(os.environ.get("SOAK_SECONDS") or 600))
    ap.add_argument("--rate", type=int, default=5,
                    help="calls a second per mode")
    ap.add_argument("--warmup", type=int, default=None,
                    help="seconds of calls before the first figures "
                    "(default: 300, or half of --seconds if that is less)")
    ap.add_argument("--every", type=int, default=60,
                    help="seconds between two progress lines")
    ap.add_argument("--modes", default=",".join(r[0] for r in MODES),
                    help="the modes to call, separated by commas "
                    "(default: all)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary files after a pass too")
    a = ap.parse_args()
    a.modes = a.modes.split(",")
    if a.warmup is None:
        a.warmup = min(300, a.seconds // 2)
    known = [r[0] for r in MODES]
    if a.seconds <= a.warmup or a.rate < 1 or not a.modes or \
            any(m not in known for m in a.modes):
        sys.exit("soak: --seconds must be above --warmup (%d), --rate "
                 "at least 1, --modes from %s" % (a.warmup, ",".join(known)))
    cmrtest.BINARY = os.path.abspath(a.binary)
    if not os.access(cmrtest.BINARY, os.X_OK):
        sys.exit("soak: %s is not an executable" % cmrtest.BINARY)
    if not shutil.which("sipp"):
        sys.exit("soak: sipp is not installed (Debian: sip-tester)")
    # SIGINT too: a shell starts a background job with SIGINT ignored.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    tmp = tempfile.mkdtemp(prefix="cmrlab-soak-")
    s = Soak(a, tmp)
    try:
        s.start()
        warm = s.run()
        s.report(warm)
    except (Fail, Interrupted) as e:
        s.why.append("%s: %s" % (type(e).__name__, e))
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if s.srv is not None:
            stop_why = s.srv.stop()
            if stop_why:
                s.why.append(stop_why)
        kill_all()
    if s.why:
        say("FAIL: " + "; ".join(s.why))
        say("files kept in " + tmp)
        return 1
    say("PASS")
    if a.keep:
        say("files kept in " + tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
