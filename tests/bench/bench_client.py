"""@file bench_client.py  cmrlab call, the CMR Client, as a load
generator, next to sipp placing the same calls through the same server.

For each caller mode (plain, as, gateway) one cmrlab serve on free ports
with a profile of two subscribers: alice, and bob in the server mode
that the caller mode asks for (plain: mode=off, an ordinary B2BUA call,
the nearest to sipp's plain caller; as: mode=as; gateway: mode=gateway),
and a ringtone of 0.2 s instead of the built-in 6 s one (gateway mode's
ringtone goes by HTTP: the callee downloads it for every call).  One
callee for both generators, a new one for every run, registered as bob:

  cmrlab call --answer --as bob --calls N --ring 0.2 --talk 0.2 --mode plain

(not a sipp callee: cmrlab's callee talks back, so the caller under test
has RTP to receive and measure, as in real use; both generators get the
same callee.)  The generators, one after the other, N calls at R/s:

  cmrlab  cmrlab call --from alice --to bob --calls N --rate R --talk 0.2
          --mode MODE --json --no-register (sipp registers nothing
          either); its totals give passed, failed and ms_final
  sipp    the calls section's caller of the mode (uac_plain.xml,
          uac_as.xml, uac_gw.xml): the same SIP, a hold of 0.2 s, BYE.
          sipp sends no RTP and reads none: the ringback and the callee's
          talk reach its media port and are dropped there, while cmrlab's
          client receives both, measures loss and jitter, and sends its
          own 0.2 s of talk.  A 503 counts as failed for both.

Figures: the generator's CPU (utime + stime of its process from
/proc/PID/stat, read when it has exited and before it is reaped), per
passed call; calls passed and failed; its wall time; the rate at which
its calls reached the server (the server's call count read every POLL
s: the first call to the last); the ratio cmrlab / sipp; the server's
and the callee's CPU and the machine's idle share in the same time, to
tell what limited a run.  Then cmrlab call alone at higher rates, STEP
seconds of calls each (N = R x STEP), while every call passes and the
section's time lasts: the highest rate at which it passed every call,
and the rate it placed them at (which may fall short of the rate asked:
that is a figure, not a failure).  Printed, never asserted.
"""

import json
import os
import signal
import struct
import threading
import time

from benchlib import (HOST, QUICK, BenchError, Cmrlab, CpuMeter, HostMeter,
                      Sipp, cpu_s, num, ratio, say, spawn, stop, table)
from bench_calls import RECV_TIMEOUT_MS, read_counts, rtd_ms, rtp_range

FIXED_RATE = 50                       # calls/s of the comparison
FIXED_CALLS = 100 if QUICK else 500   # calls of the comparison
STEP = 2 if QUICK else 10             # seconds of calls in a search step
RATES = [50, 100, 200, 400]           # the search; the first is the fixed
BUDGET = 60 if QUICK else 180         # seconds for the whole section
RING = 0.2                            # the callee rings, then answers
TALK = 0.2                            # both talk, then the caller hangs up
POLL = 0.02                           # s between two reads of /metrics

# caller mode, the server's mode for bob, sipp's caller
MODES = [
    ("plain", "off", "uac_plain.xml"),
    ("as", "as", "uac_as.xml"),
    ("gateway", "gateway", "uac_gw.xml"),
]


def ringtone(path, seconds=RING):
    """A WAV of silence, 8 kHz 16-bit mono: the CMRT, downloaded per call
    in gateway mode, no longer than the ring."""
    n = int(8000 * seconds)
    data = b"\0\0" * n
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE")
        f.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000,
                                      2, 16))
        f.write(b"data" + struct.pack("<I", len(data)) + data)


def exit_cpu(proc, timeout, sig=signal.SIGTERM):
    """Waits up to timeout for proc to exit (then sends sig); its CPU
    seconds read from /proc/PID/stat while it is a zombie (waitid with
    WNOWAIT: the counters are final, the PID still its own), then reaps
    it.  (CPU seconds, True when it ended by itself)."""
    deadline = time.monotonic() + timeout
    ended = True
    while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT |
                    os.WNOHANG) is None:
        if time.monotonic() > deadline:
            ended = False
            break
        time.sleep(0.01)
    cpu = cpu_s([proc.pid])
    if ended:
        proc.wait()
    else:
        stop(proc, sig=sig, timeout=3.0)
    return cpu, ended


class Callee:
    """cmrlab call --answer --as bob for calls calls, registered at the
    server; its totals when it exits."""

    def __init__(self, binary, tmp, srv, calls, tag):
        p = lambda what: os.path.join(tmp, "%s.%s" % (tag, what))
        self.out_path, self.err_path = p("out"), p("err")
        cmd = [binary, "call", "--answer", "--as", "bob",
               "--target", "sip:%s:%d" % (HOST, srv.sip),
               "--calls", str(calls), "--ring", str(RING),
               "--talk", str(TALK), "--mode", "plain", "--json"]
        with open(self.out_path, "wb") as out, \
                open(self.err_path, "wb") as err:
            self.proc = spawn(cmd, stdout=out, stderr=err, cwd=tmp)
        deadline = time.monotonic() + 5.0
        while "answering as bob" not in self.stderr():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                stop(self.proc)
                raise BenchError("callee did not register: %s"
                                 % self.stderr()[-300:])
            time.sleep(0.02)

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def finish(self, timeout):
        """Its totals ({} when it had to be stopped: calls missing); its
        CPU seconds at its exit in self.cpu."""
        # SIGINT: it removes its registration on the way out.
        self.cpu, ended = exit_cpu(self.proc, timeout, sig=signal.SIGINT)
        self.stopped = not ended
        return read_json(self.out_path) if ended else {}


def read_json(path):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8", "replace"))
    except (OSError, ValueError):
        return {}


class Placement(threading.Thread):
    """The server's count of calls (/metrics cmrlab_calls_total) every
    POLL seconds while a generator runs: when its first call and its
    last arrived, the same measure for both generators."""

    def __init__(self, srv, calls):
        threading.Thread.__init__(self, daemon=True)
        self.srv, self.calls = srv, calls
        self.base = srv.metric("cmrlab_calls_total")
        self.first = self.last = None
        self.done = threading.Event()
        self.start()

    def run(self):
        while not self.done.is_set():
            try:
                n = self.srv.metric("cmrlab_calls_total") - self.base
            except (BenchError, OSError):
                n = 0
            t = time.monotonic()
            if n > 0 and self.first is None:
                self.first = t
            if n >= self.calls:
                self.last = t
                break
            self.done.wait(POLL)

    def finish(self):
        """(seconds from the first call to the last, their rate)."""
        self.done.set()
        self.join(timeout=5.0)
        if self.first is None or self.last is None:
            return None, None
        span = self.last - self.first
        return span, ((self.calls - 1) / span if span > 0 else None)


class Run:
    """One generator placing calls calls at rate/s through srv to a new
    callee; the figures."""

    def __init__(self, binary, tmp, srv, gen, mode, uac_sf, calls, rate,
                 tag):
        self.gen, self.mode, self.calls, self.rate = gen, mode, calls, rate
        callee = Callee(binary, tmp, srv, calls, tag + "-callee")
        srv_m, host = CpuMeter([srv.pid]), HostMeter()
        callee_c0 = cpu_s([callee.proc.pid])
        placement = Placement(srv, calls)
        srv_m.start()
        host.start()
        timeout = calls / float(rate) + RECV_TIMEOUT_MS / 1000.0 + 30
        t0 = time.monotonic()
        self.ms_final = self.ms_p95 = None
        if gen == "cmrlab":
            out = os.path.join(tmp, tag + ".json")
            with open(out, "wb") as f, \
                    open(os.path.join(tmp, tag + ".err"), "wb") as err:
                p = spawn([binary, "call", "--from", "alice", "--to", "bob",
                           "--target", "sip:%s:%d" % (HOST, srv.sip),
                           "--calls", str(calls), "--rate", str(rate),
                           "--talk", str(TALK), "--mode", mode, "--json",
                           "--no-register"], stdout=f, stderr=err, cwd=tmp)
            self.cpu, self.ended = exit_cpu(p, timeout)
            self.wall = time.monotonic() - t0
            r = read_json(out)
            self.passed, self.failed = r.get("passed", 0), r.get("failed")
            if self.failed is None:
                self.failed = calls
            fin = r.get("ms_final") or {}
            self.ms_final, self.ms_p95 = fin.get("mean"), fin.get("p95")
            self.reasons = r.get("reasons") or []
        else:
            uac = Sipp(tmp, tag, uac_sf, calls=calls, rate=rate,
                       remote="%s:%d" % (HOST, srv.sip), service="bob",
                       limit=max(1000, rate * 10),
                       extra=["-trace_counts", "-recv_timeout",
                              str(RECV_TIMEOUT_MS)])
            self.cpu, self.ended = exit_cpu(uac.proc, timeout)
            self.wall = time.monotonic() - t0
            st = uac.stats()
            counts = read_counts(tmp, uac_sf, uac.proc.pid)
            # Its scenarios take a 503 as an expected end: a failure here.
            self.passed = max(0, num(st, "SuccessfulCall(C)") -
                              counts["503"])
            self.failed = calls - self.passed
            self.ms_final = rtd_ms(st.get("ResponseTimesetup(C)", ""))
            self.reasons = ([["503", counts["503"]]] if counts["503"]
                            else [])
        self.placed_s, self.placed_rate = placement.finish()
        self.callee = callee.finish(RING + TALK + 5.0)
        self.callee_stopped = callee.stopped
        self.callee_cpu = callee.cpu - callee_c0
        self.srv_cpu = srv_m.stop()
        self.idle_pct = host.stop()
        self.span = srv_m.wall

    @property
    def cpu_ms_per_call(self):
        return 1000.0 * self.cpu / self.passed if self.passed else None

    @property
    def all_passed(self):
        return self.ended and self.passed == self.calls and not self.failed

    def row(self):
        pct = lambda c: 100.0 * c / self.span if self.span else None
        return [self.mode, self.gen, self.rate, self.calls, self.passed,
                self.failed, self.wall, self.placed_s, self.placed_rate,
                self.cpu, self.cpu_ms_per_call, pct(self.cpu),
                pct(self.srv_cpu), pct(self.callee_cpu), self.idle_pct,
                self.ms_final, self.ms_p95, self.callee.get("passed"),
                "yes" if self.all_passed else "no"]

    def figures(self):
        return {"rate": self.rate, "calls": self.calls,
                "passed": self.passed, "failed": self.failed,
                "wall_s": self.wall, "placed_s": self.placed_s,
                "placed_rate": self.placed_rate,
                "cpu_s": self.cpu, "cpu_ms_per_call": self.cpu_ms_per_call,
                "server_cpu_s": self.srv_cpu,
                "callee_cpu_s": self.callee_cpu, "idle_pct": self.idle_pct,
                "ms_final_mean": self.ms_final, "ms_final_p95": self.ms_p95,
                "callee_passed": self.callee.get("passed"),
                "all_passed": self.all_passed,
                "reasons": self.reasons[:3]}


HEAD = ["mode", "gen", "rate", "calls", "passed", "failed", "wall_s",
        "placed_s", "placed/s", "cpu_s", "cpu_ms/call", "gen_cpu%",
        "srv_cpu%", "callee_cpu%", "idle%", "final_ms", "final_p95",
        "callee_ok", "all_ok"]


class Target:
    """The server of one mode; a new one after a run whose callee had to
    be stopped (calls it never got), so that no stale registration of
    bob forks the next run's calls."""

    def __init__(self, binary, tmp, mode, srv_mode):
        self.binary, self.tmp, self.mode = binary, tmp, mode
        self.text = ("# make bench: the CMR Client against sipp; bob is "
                     "the callee\n"
                     "resource ringtone-default file=ringtone.wav\n"
                     "subscriber alice\n"
                     "subscriber bob mode=%s\n" % srv_mode)
        self.srv = None
        self.start()

    def start(self):
        self.srv = Cmrlab(self.binary, self.tmp, self.text,
                          name="client-" + self.mode,
                          extra=["--rtp-ports", rtp_range(),
                                 "--max-calls", "100000"])

    def run(self, gen, uac_sf, calls, rate, tag):
        r = Run(self.binary, self.tmp, self.srv, gen, self.mode, uac_sf,
                calls, rate, tag)
        if r.callee_stopped:
            self.stop()
            self.start()
        return r

    def stop(self):
        if self.srv:
            self.srv.stop()
            self.srv = None


def rate_cell(best, tried):
    """The highest rate passed; + when no rate above it failed (the
    search's last rate, or the section's time was up)."""
    if best:
        return "%d%s" % (best, "+" if best == tried[-1] else "")
    return "<%d" % tried[0] if tried else None


def run(binary, tmp, results, budget=BUDGET):
    say("== 7. client: cmrlab call as a load generator against sipp, "
        "caller -> cmrlab serve -> cmrlab call --answer")
    say("   the callee rings %.1f s, both talk %.1f s, the caller hangs up; "
        "%d calls at %d/s per generator and mode, then cmrlab call alone "
        "at %s calls/s for %d s each while every call passes; about "
        "%.0f s" % (RING, TALK, FIXED_CALLS, FIXED_RATE,
                    ", ".join(str(r) for r in RATES[1:]), STEP, budget))
    ringtone(os.path.join(tmp, "ringtone.wav"))
    deadline = time.monotonic() + budget
    rows, srows, out = [], [], {}
    for i, (mode, srv_mode, uac_sf) in enumerate(MODES):
        # Each mode gets an equal share of what is left.
        left = deadline - time.monotonic()
        m_deadline = time.monotonic() + left / (len(MODES) - i)
        t = Target(binary, tmp, mode, srv_mode)
        runs, steps = {}, []
        try:
            for gen in ("cmrlab", "sipp"):
                runs[gen] = t.run(gen, uac_sf, FIXED_CALLS, FIXED_RATE,
                                  "client-%s-%s" % (mode, gen))
                rows.append(runs[gen].row())
            # The fixed run is the first step when it lasts STEP seconds.
            if FIXED_CALLS == FIXED_RATE * STEP:
                steps.append(runs["cmrlab"])
            for rate in RATES:
                if steps and not steps[-1].all_passed:
                    break
                if steps and rate <= steps[-1].rate:
                    continue
                if time.monotonic() + STEP + RING + TALK + 5 > m_deadline:
                    break
                s = t.run("cmrlab", uac_sf, rate * STEP, rate,
                          "client-%s-%d" % (mode, rate))
                steps.append(s)
                rows.append(s.row())
        finally:
            t.stop()
        c, p = runs["cmrlab"], runs["sipp"]
        passed = [s for s in steps if s.all_passed]
        top = max(passed, key=lambda s: s.rate) if passed else None
        best = top.rate if top else None
        tried = [s.rate for s in steps]
        o = {"cmrlab": c.figures(), "sipp": p.figures(),
             "cpu_ratio": ratio(c.cpu_ms_per_call, p.cpu_ms_per_call),
             "wall_ratio": ratio(c.wall, p.wall),
             "max_rate": best, "max_rate_placed": top and top.placed_rate,
             "rates_tried": tried,
             "steps": [s.figures() for s in steps if s is not c]}
        out[mode] = o
        srows.append([mode, c.passed, c.failed, p.passed, p.failed,
                      c.cpu_ms_per_call, p.cpu_ms_per_call, o["cpu_ratio"],
                      c.placed_rate, p.placed_rate, c.wall, p.wall,
                      rate_cell(best, tried), top and top.placed_rate,
                      ",".join(str(r) for r in tried)])
    table("client, every run (gen: the generator; rate: asked; placed_s, "
          "placed/s: the first call to the last at the server, and their "
          "rate; cpu: the generator's, at its exit;\n  gen/srv/callee "
          "cpu%: of one core over the run; final_ms: INVITE to final "
          "response, mean (sipp: its setup time, plain caller only); "
          "callee_ok: calls the callee passed):", HEAD, rows)
    table("client, summary at %d calls/s, %d calls (cpu_ratio: cmrlab "
          "call / sipp per passed call; max_rate: cmrlab call passed every "
          "call of %d s at that asked rate (+: none higher failed; the search "
          "stops at %d/s or when the time is up), placed at max_placed/s):" % (FIXED_RATE, FIXED_CALLS, STEP, RATES[-1]),
          ["mode", "cmrlab_ok", "cmrlab_failed", "sipp_ok", "sipp_failed",
           "cmrlab_ms/call", "sipp_ms/call", "cpu_ratio", "cmrlab_placed/s",
           "sipp_placed/s", "cmrlab_wall_s", "sipp_wall_s", "max_rate",
           "max_placed/s", "rates_tried"], srows)
    results["client"] = out
    return out
