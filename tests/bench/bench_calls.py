"""@file bench_calls.py  Calls through Kamailio and through cmrlab in each
mode: CPU per call at a fixed rate, and the highest rate sustained.

The same sipp traffic for every target: a sipp caller (UAC) calls
through the server to a sipp callee (scenarios/uas_ring.xml) that sends
100 and 180, rings 0.5 s and answers 200; the caller holds the call
0.2 s and hangs up.  The targets:

  kamailio  kamailio.cfg, a plain stateful proxy (tm, rr, sl), 2 children,
            every INVITE to the callee; caller uac_plain.xml
  http      cmrlab, subscriber mode=http (URL in the 18x); uac_plain.xml
  as        mode=as: a reliable 180 with an early-session offer, RTP
            from cmrlab after the caller's PRACK; uac_as.xml
  gateway   mode=gateway: a reliable 180 with cmrlab's SDP answer, RTP at
            once, an UPDATE when the callee answers; uac_gw.xml
  early     mode=early-media, a caller without 100rel or UPDATE (as
            baresip): an unreliable 180 with cmrlab's SDP answer, RTP at
            once, the 200 repeating the answer and a re-INVITE after the
            ACK with the callee's SDP; uac_early.xml; skipped when the
            profile refuses mode=early-media

For each target: a step at the fixed rate (FIXED calls/s for STEP
seconds) gives the server's CPU per completed call (utime + stime from
/proc, every Kamailio process summed); then a short search (doubling,
then one bisection) finds the highest rate at which a step of STEP
seconds placed its calls on time (95% of the rate) with fewer than 0.1%
failed calls.  cmrlab runs with --max-calls high enough not to refuse
calls here (the overload section runs it as shipped).  Nothing here
asserts a speed: figures and ratios to Kamailio, measured in the same run.
"""

import math
import os
import resource
import time

from benchlib import (HERE, HOST, QUICK, Cmrlab, CpuMeter, HostMeter, Sipp,
                      free_port, num, profile_refused, ratio, say,
                      spawn, stop, table, tree, wait_bound)

FIXED = 50 if QUICK else 200          # calls/s for CPU per call
STEP = 5 if QUICK else 20             # seconds of one step
STEPS = 2 if QUICK else 5             # steps per target, the fixed one too
CAP = 3200                            # calls/s the search stops at
BUDGET = 60 if QUICK else 450         # seconds for the whole section
FAIL_MAX = 0.001                      # failed calls / placed, to sustain
ON_TIME = 0.95                        # calls placed / offered in time
RECV_TIMEOUT_MS = 5000                # a caller's wait before it fails
MAX_CALLS = 100000                    # cmrlab --max-calls here
USER = "bench"

# name, cmrlab mode (None: Kamailio), caller, callee
TARGETS = [
    ("kamailio", None, "uac_plain.xml", "uas_ring.xml"),
    ("http", "http", "uac_plain.xml", "uas_ring.xml"),
    ("as", "as", "uac_as.xml", "uas_ring.xml"),
    ("gateway", "gateway", "uac_gw.xml", "uas_ring.xml"),
    ("early", "early-media", "uac_early.xml", "uas_ring.xml"),
]


# ---- the servers ------------------------------------------------------------

class Kamailio:
    """kamailio.cfg in the foreground (-DD) on a free port of HOST,
    forwarding every INVITE to target; its workers are its children."""

    def __init__(self, tmp, target):
        self.name = "kamailio"
        self.sip = free_port()
        run = os.path.join(tmp, "kamailio-run")
        os.makedirs(run, exist_ok=True)
        self.err_path = os.path.join(tmp, "kamailio.err")
        err = open(self.err_path, "wb")
        self.proc = spawn(
            ["kamailio", "-DD", "-E", "-f", os.path.join(HERE,
                                                          "kamailio.cfg"),
             "-Y", run, "-l", "udp:%s:%d" % (HOST, self.sip),
             "-A", 'TARGET="%s"' % target, "-m", "256", "-M", "16"],
            stdout=err, stderr=err, cwd=tmp)
        err.close()
        self.pid = self.proc.pid
        wait_bound(self.sip, "udp", 10.0)
        time.sleep(0.3)                  # its workers start after the bind

    def pids(self):
        return tree(self.pid)

    def stop(self):
        return stop(self.proc, timeout=5.0)


class CmrlabTarget:
    def __init__(self, binary, tmp, mode, contact, name, extra=()):
        text = ("# make bench: one callee, at the sipp callee\n"
                "subscriber alice\n"
                "subscriber %s mode=%s contact=%s\n" % (USER, mode, contact))
        self.srv = Cmrlab(binary, tmp, text, name=name, extra=extra)
        self.sip, self.pid = self.srv.sip, self.srv.pid

    def pids(self):
        return [self.pid]

    def stop(self):
        return self.srv.stop()


def rtp_range():
    """A range of 2000 ports; the streamer passes over ports in use."""
    lo = 20000 + 2 * (os.getpid() % 2000)
    return "%d-%d" % (lo, lo + 1999)


# ---- one step: calls at a rate for a while ----------------------------------

class Step:
    """rate calls/s for seconds through the server to the callee uas;
    the figures."""

    def __init__(self, tmp, srv, uas, uac_sf, rate, seconds, tag):
        n = int(rate * seconds)
        meter, uas_meter, host = (CpuMeter(srv.pids()),
                                  CpuMeter([uas.proc.pid]), HostMeter())
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        meter.start()
        uas_meter.start()
        host.start()
        uac = Sipp(tmp, tag, uac_sf, calls=n, rate=rate,
                   remote="%s:%d" % (HOST, srv.sip), service=USER,
                   limit=max(1000, rate * 10),
                   extra=["-trace_counts", "-recv_timeout",
                          str(RECV_TIMEOUT_MS)])
        ended = uac.wait(seconds + RECV_TIMEOUT_MS / 1000.0 + 30)
        self.cpu = meter.stop()
        self.uas_cpu = uas_meter.stop()
        self.idle_pct = host.stop()
        # The caller has been reaped: its CPU is among the children's.
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.wall = meter.wall
        self.uac_cpu = (ru1.ru_utime + ru1.ru_stime -
                        ru0.ru_utime - ru0.ru_stime)
        self.rate, self.seconds, self.offered = rate, seconds, n
        st = uac.stats()
        counts = read_counts(tmp, uac_sf, uac.proc.pid)
        self.created = num(st, "TotalCallCreated")
        self.shed = counts["503"]
        self.ok = max(0, num(st, "SuccessfulCall(C)") - self.shed)
        self.failed = self.created - self.ok - self.shed
        self.placed_s = counts["placed_s"]
        self.ended = ended
        self.setup_ms = rtd_ms(st.get("ResponseTimesetup(C)", ""))

    @property
    def on_time(self):
        return (self.created >= self.offered and self.placed_s is not None
                and self.placed_s <= self.seconds / ON_TIME)

    @property
    def sustained(self):
        return (self.ended and self.on_time and
                self.failed + self.shed <= FAIL_MAX * self.created)

    @property
    def cpu_ms_per_call(self):
        return 1000.0 * self.cpu / self.ok if self.ok else None

    def row(self, name):
        return [name, self.rate, self.created, self.ok, self.failed,
                self.shed, self.placed_s, 100.0 * self.cpu / self.wall,
                self.cpu_ms_per_call, 100.0 * self.uac_cpu / self.wall,
                100.0 * self.uas_cpu / self.wall, self.idle_pct,
                "yes" if self.sustained else "no"]


HEAD = ["target", "rate", "placed", "ok", "failed", "503", "placed_s",
        "srv_cpu%", "cpu_ms/call", "uac_cpu%", "uas_cpu%", "idle%",
        "sustained"]


def read_counts(tmp, scenario, pid):
    """From sipp's -trace_counts file (SCENARIO_PID_counts.csv): the 503s
    received and the seconds until the last INVITE went out."""
    name = os.path.splitext(scenario)[0]
    path = os.path.join(tmp, "%s_%d_counts.csv" % (name, pid))
    out = {"503": 0, "placed_s": None}
    try:
        with open(path) as f:
            rows = [r.rstrip("\n").split(";") for r in f if r.strip()]
    except OSError:
        return out
    if len(rows) < 2:
        return out
    head = rows[0]
    c503 = [i for i, h in enumerate(head) if h.endswith("_503_Recv")]
    inv = [i for i, h in enumerate(head) if h.endswith("_INVITE_Sent")]
    last = rows[-1]
    out["503"] = sum(int(last[i] or 0) for i in c503)
    if inv:
        total = int(last[inv[0]] or 0)
        prev_t, prev_n = 0.0, 0
        for r in rows[1:]:
            t, n = elapsed(r[1]), int(r[inv[0]] or 0)
            if t is None:
                continue
            if n >= total:
                out["placed_s"] = (t if n == prev_n else prev_t +
                                   (t - prev_t) * (total - prev_n) /
                                   (n - prev_n))
                break
            prev_t, prev_n = t, n
    return out


def elapsed(s):
    """sipp's "HH:MM:SS:uuuuuu" in seconds."""
    p = s.split(":")
    try:
        return (int(p[0]) * 3600 + int(p[1]) * 60 + int(p[2]) +
                (int(p[3]) / 1e6 if len(p) > 3 else 0))
    except (ValueError, IndexError):
        return None


def rtd_ms(s):
    t = elapsed(s)
    return None if t is None else t * 1000.0


# ---- the section ------------------------------------------------------------

def start_target(binary, tmp, name, mode, uas_sf, max_calls=MAX_CALLS):
    """The callee, then the server in front of it; max_calls None leaves
    cmrlab's --max-calls at its default."""
    uas = Sipp(tmp, name + "-uas", uas_sf)
    wait_bound(uas.port, "udp", 5.0)
    extra = ["--rtp-ports", rtp_range()]
    if max_calls:
        extra += ["--max-calls", str(max_calls)]
    try:
        if mode is None:
            srv = Kamailio(tmp, "sip:%s:%d" % (HOST, uas.port))
        else:
            srv = CmrlabTarget(binary, tmp, mode, uas.uri(USER), name,
                               extra=extra)
    except BaseException:
        uas.stop()
        raise
    return uas, srv


def search(tmp, srv, uas, name, uac_sf, first, deadline):
    """Steps after the fixed one: double while sustained, halve while
    not, then one bisection; the highest sustained rate, or None."""
    steps = [first]
    lo = first.rate if first.sustained else None
    hi = None if first.sustained else first.rate
    while len(steps) < STEPS and time.monotonic() + STEP + 15 < deadline:
        if hi is None:
            if lo >= CAP:
                break
            rate = min(CAP, lo * 2)
        elif lo is None:
            rate = max(10, hi // 2)
            if rate == hi:
                break
        else:
            if hi <= lo * 1.3:
                break
            rate = int(round(math.sqrt(lo * hi) / 10.0)) * 10
        s = Step(tmp, srv, uas, uac_sf, rate, STEP,
                 "%s-%d" % (name, rate))
        steps.append(s)
        if s.sustained:
            lo = rate
        else:
            hi = rate
    return lo, steps


def run(binary, tmp, results, budget=BUDGET):
    """The section in about budget seconds (the fixed-rate steps run
    whatever is left)."""
    say("== 1. calls: Kamailio (stateful proxy, 2 children) and cmrlab per "
        "mode, sipp UAC -> server -> sipp UAS")
    say("   callee rings 0.5 s then 200, caller holds 0.2 s then BYE; "
        "fixed rate %d/s for %d s (CPU per call), then a search for the "
        "highest rate sustained %d s (< %.1f%% failed, %d%% on time, at "
        "most %d steps, cap %d/s)" % (FIXED, STEP, STEP, FAIL_MAX * 100,
                                      ON_TIME * 100, STEPS, CAP))
    say("   about %.0f s for the section" % budget)
    early_why = profile_refused(binary, tmp,
                               "subscriber x mode=early-media\n")
    deadline = time.monotonic() + budget
    rows, summary, out = [], [], {}
    targets = [t for t in TARGETS if t[0] != "early" or not early_why]
    for i, (name, mode, uac_sf, uas_sf) in enumerate(targets):
        # Each target gets an equal share of what is left.
        left = deadline - time.monotonic()
        t_deadline = time.monotonic() + left / (len(targets) - i)
        uas, srv = start_target(binary, tmp, name, mode, uas_sf)
        try:
            first = Step(tmp, srv, uas, uac_sf, FIXED, STEP,
                         "%s-fixed" % name)
            best, steps = search(tmp, srv, uas, name, uac_sf, first,
                                 t_deadline)
            uas_failed = num(uas.stats(), "FailedCall(C)")
        finally:
            uas.stop()
            srv.stop()
        rows += [s.row(name) for s in steps]
        out[name] = {"cpu_ms_per_call": first.cpu_ms_per_call,
                     "fixed_rate": FIXED, "fixed_failed": first.failed,
                     "max_rate": best, "capped": best is not None and
                     best >= CAP, "steps": len(steps),
                     "callee_failed": uas_failed}
        summary.append((name, first, best, uas_failed))
    table("calls, every step (rate: offered calls/s; placed_s: seconds "
          "sipp took to place them; srv_cpu%: server, of one core; "
          "cpu_ms/call: server CPU / ok calls):", HEAD, rows)
    kam = out.get("kamailio", {})
    srows = []
    for name, first, best, uas_failed in summary:
        o = out[name]
        o["cpu_ratio_to_kamailio"] = ratio(o["cpu_ms_per_call"],
                                           kam.get("cpu_ms_per_call"))
        o["max_rate_ratio_to_kamailio"] = ratio(best, kam.get("max_rate"))
        srows.append([name, o["cpu_ms_per_call"], o["cpu_ratio_to_kamailio"],
                      ("%d%s" % (best, "+" if o["capped"] else ""))
                      if best else "<%d" % first.rate,
                      o["max_rate_ratio_to_kamailio"], uas_failed])
    table("calls, summary (cpu ratio and max-rate ratio: this target / "
          "Kamailio; a rate with + hit the search's cap):",
          ["target", "cpu_ms/call", "cpu_ratio", "max_rate", "rate_ratio",
           "callee_failed"], srows)
    if early_why:
        say("   early: skipped, cmrlab has no plain early-media mode "
            "(the profile refuses mode=early-media: %s)\n"
            % early_why.split("cmrlab: ")[-1])
        out["early"] = {"skipped": "no mode=early"}
    results["calls"] = out
    return out
