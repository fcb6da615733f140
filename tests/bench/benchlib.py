"""@file benchlib.py  What the sections of make bench share.

Processes (each started through spawn() and stopped by its PID, never by
name), free loopback ports, CPU time and memory of a process tree from
/proc, the cmrlab server under test, sipp runs and their statistics, and
the tables every section prints.  Only the Python standard library.

BENCH_QUICK=1 in the environment makes every section a short smoke run
(QUICK below); the figures are then only good for seeing that it works.
"""

import os
import random
import select
import signal
import socket
import subprocess
import sys
import time

HOST = "127.0.0.1"
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(HERE, "scenarios")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROCS = []                 # every Popen started, stopped by PID at the end


class BenchError(Exception):
    """A section could not run; its message says why."""


def say(msg=""):
    print(msg)
    sys.stdout.flush()


# ---- processes --------------------------------------------------------------

def spawn(cmd, **kw):
    """Starts cmd and remembers it, so that stop_all() can end it."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(cmd, **kw)
    PROCS.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=5.0):
    """Sends sig to p's PID, waits up to timeout, then SIGKILL; then
    SIGKILL to the processes it forked (Kamailio's and nginx's workers)
    that outlived it.  The exit status (None when it had to be killed)."""
    if p.poll() is not None:
        return p.returncode
    forked = [(pid, _start(pid)) for pid in tree(p.pid) if pid != p.pid]
    try:
        os.kill(p.pid, sig)
        rc = p.wait(timeout=timeout)
    except ProcessLookupError:
        rc = p.wait()
    except subprocess.TimeoutExpired:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
        rc = None
    for pid, start in forked:
        # The same process still, not a new one with its PID.
        if start is not None and _start(pid) == start:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    return rc


def stop_all():
    while PROCS:
        stop(PROCS.pop(), timeout=3.0)


# ---- ports ------------------------------------------------------------------

# The integration tests' port helpers (tests/integration/cmrtest.py),
# with their one set of numbers already handed out.
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import cmrtest                                           # noqa: E402
from cmrtest import port_bound                           # noqa: E402,F401


def free_port():
    """A port free for both UDP and TCP on HOST, never handed out twice."""
    try:
        return cmrtest.free_port()
    except cmrtest.Fail as e:
        raise BenchError(str(e))


def free_udp_block(n=4):
    """n consecutive free UDP ports from an even one (sipp's -mp binds
    the port and the ones above it), above the streamer's RTP range."""
    try:
        return cmrtest.free_udp_block(n, lo=40000)
    except cmrtest.Fail as e:
        raise BenchError(str(e))


def wait_bound(port, proto="udp", timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_bound(port, proto):
            return True
        time.sleep(0.02)
    raise BenchError("nothing bound %s port %d in %.0f s"
                     % (proto, port, timeout))


# ---- /proc ------------------------------------------------------------------

def _fields(pid):
    """The fields of /proc/PID/stat after the command name (the first
    is the state), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(")") + 2:].split()


def _stat(pid):
    """(ppid, utime + stime in ticks) of one process, or None."""
    rest = _fields(pid)
    if not rest:
        return None
    return int(rest[1]), int(rest[11]) + int(rest[12])


def _start(pid):
    """The process's start time in ticks since boot, or None."""
    rest = _fields(pid)
    return int(rest[19]) if rest else None


def tree(pid):
    """pid and every process below it (Kamailio's and nginx's workers)."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st:
                children.setdefault(st[0], []).append(int(name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def cpu_s(pids):
    """User plus system CPU seconds of the processes, summed."""
    total = 0
    for pid in pids:
        st = _stat(pid)
        if st:
            total += st[1]
    return total / CLK_TCK


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def host_jiffies():
    """(idle, total) jiffies of every core, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[3] + v[4], sum(v[:8])


class HostMeter:
    """The share of the machine's cores left idle between start() and
    stop(): on a shared machine, what the other programs left over."""

    def start(self):
        self.j0 = host_jiffies()

    def stop(self):
        i1, t1 = host_jiffies()
        di, dt = i1 - self.j0[0], t1 - self.j0[1]
        self.idle_pct = 100.0 * di / dt if dt else None
        return self.idle_pct


class CpuMeter:
    """CPU seconds a process tree spends between start() and stop()."""

    def __init__(self, pids):
        self.pids = list(pids)

    def start(self):
        self.c0, self.t0 = cpu_s(self.pids), time.monotonic()

    def stop(self):
        self.cpu = cpu_s(self.pids) - self.c0
        self.wall = time.monotonic() - self.t0
        return self.cpu


# ---- the server under test --------------------------------------------------

class Cmrlab:
    """One cmrlab serve on free ports of HOST; stderr goes to a file."""

    def __init__(self, binary, tmp, profile_text, name="cmrlab", extra=()):
        self.name = name
        self.sip, self.http = free_port(), free_port()
        profile = os.path.join(tmp, name + ".profile")
        with open(profile, "w") as f:
            f.write(profile_text)
        self.err_path = os.path.join(tmp, name + ".err")
        err = open(self.err_path, "wb")
        cmd = [binary, "serve", "--sip", "%s:%d" % (HOST, self.sip),
               "--http", "%s:%d" % (HOST, self.http),
               "--profile", profile, "--log-level", "warn"] + list(extra)
        self.proc = spawn(cmd, stdout=subprocess.PIPE, stderr=err, cwd=tmp)
        err.close()
        r, _, _ = select.select([self.proc.stdout], [], [], 30.0)
        line = self.proc.stdout.readline().decode() if r else ""
        if not line.startswith("ready "):
            stop(self.proc)
            raise BenchError("%s: no ready line (%r): %s"
                             % (name, line, self.tail()))
        self.pid = self.proc.pid

    def tail(self, n=3):
        try:
            with open(self.err_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-n:])

    def metric(self, name):
        import http.client
        c = http.client.HTTPConnection(HOST, self.http, timeout=5)
        try:
            c.request("GET", "/metrics")
            body = c.getresponse().read().decode()
        finally:
            c.close()
        for line in body.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == name:
                return int(parts[1])
        raise BenchError("/metrics has no " + name)

    def stop(self):
        rc = stop(self.proc, timeout=5.0)
        if rc != 0:
            say("  (%s exited %s: %s)" % (self.name, rc, self.tail()))
        return rc


def profile_refused(binary, tmp, text):
    """The error when cmrlab refuses the profile text, else None (it
    starts a server and stops it again)."""
    try:
        Cmrlab(binary, tmp, text, name="probe").stop()
        return None
    except BenchError as e:
        return str(e)


# ---- sipp -------------------------------------------------------------------

class Sipp:
    """One sipp process on a scenario of scenarios/, with statistics in a
    CSV every second (-trace_stat) that stats() reads."""

    def __init__(self, tmp, name, scenario, keys=(), calls=None, rate=None,
                 remote=None, service=None, limit=None, extra=()):
        self.name = name
        self.port = free_port()
        self.mport = free_udp_block()
        p = lambda what: os.path.join(tmp, "%s.%s" % (name, what))
        self.stat, self.errors = p("stat.csv"), p("errors.log")
        cmd = ["sipp", "-sf", os.path.join(SCENARIOS, scenario),
               "-i", HOST, "-p", str(self.port), "-mp", str(self.mport),
               "-nostdin", "-trace_stat", "-stf", self.stat, "-fd", "1",
               "-trace_err", "-error_file", self.errors,
               "-max_recv_loops", "10000", "-max_sched_loops", "10000"]
        for k, v in keys:
            cmd += ["-key", k, str(v)]
        if calls:
            cmd += ["-m", str(calls)]
        if rate:
            cmd += ["-r", str(rate), "-rp", "1000"]
        cmd += ["-l", str(limit or 15000)]
        cmd += list(extra)
        if service:
            cmd += ["-s", service]
        if remote:
            cmd.append(remote)
        self.t0 = time.monotonic()
        self.proc = spawn(cmd, stdout=subprocess.DEVNULL,
                          stderr=open(p("stderr"), "wb"), cwd=tmp)

    def uri(self, user):
        return "sip:%s@%s:%d" % (user, HOST, self.port)

    def stats(self):
        """The last row of the statistics as {column: value}."""
        try:
            with open(self.stat) as f:
                rows = [r.rstrip("\n").split(";") for r in f if r.strip()]
        except OSError:
            return {}
        if len(rows) < 2:
            return {}
        return dict(zip(rows[0], rows[-1]))

    def wait(self, timeout):
        """Waits for sipp to end; kills it after timeout.  True when it
        ended by itself."""
        try:
            self.proc.wait(timeout=max(0.0, timeout))
            return True
        except subprocess.TimeoutExpired:
            stop(self.proc, sig=signal.SIGUSR1, timeout=3.0)
            return False

    def stop(self):
        stop(self.proc, sig=signal.SIGUSR1, timeout=3.0)


def num(st, col):
    """An integer column of a sipp statistics row (0 when absent)."""
    try:
        return int(st.get(col, "0") or 0)
    except ValueError:
        return 0


# ---- output -----------------------------------------------------------------

def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != v:
            return "-"
        if abs(v) >= 100:
            return "%.0f" % v
        if abs(v) >= 10:
            return "%.1f" % v
        return "%.3g" % v
    return str(v)


def table(title, head, rows):
    """A table: a title line, a header and one line per row."""
    cells = [[fmt(v) for v in r] for r in rows]
    width = [max([len(h)] + [len(r[i]) for r in cells])
             for i, h in enumerate(head)]
    say(title)
    say("  " + "  ".join(h.rjust(w) for h, w in zip(head, width)))
    for r in cells:
        say("  " + "  ".join(c.rjust(w) for c, w in zip(r, width)))
    say()


def ratio(a, b):
    if a is None or b is None or not b:
        return None
    return a / b


def rnd(v, digits=3):
    """A figure for the JSON line: floats rounded, None kept."""
    if isinstance(v, float):
        return round(v, digits) if v == v else None
    return v
