'''Core helpers of cmrlab's integration tests (tests/integration).

run.py imports every test_<subject>.py of this folder in name order and
runs the tests they register: a new subject is one new file, nothing else.
Such a file opens with a one or two line docstring, imports what it uses
from the helper modules and defines its tests:

    from cmrtest import HOST, check, test
    from cmrtest_sip import SipClient

    @test
    def options_answered(t):
        """OPTIONS over UDP is answered 200."""
        srv = t.server()              # own ports, tmp dir and event log
        cl = SipClient(srv, "udp")
        try:
            rsp = cl.transact("OPTIONS", "sip:%s:%d" % (HOST, srv.sip))
        finally:
            cl.close()
        check(rsp.status == 200, "OPTIONS: %s" % rsp.first)

The helpers are in four modules:

- cmrtest (this one): Fail, Skip, check, info; subprocesses and free
  ports; the Server under test and its HTTP API; raw_http and curl; call
  records and events; wait_until, wait_event; the test registry (@test,
  @slow_test) and the Ctx a test gets;
- cmrtest_sip: SIP messages (SipMsg), the SipClient, INVITE and REGISTER
  helpers, sipp (Sipp, run_call, scenarios/*.xml), message bodies, SDP
  and header parameters;
- cmrtest_media: the RTP sink and stream checks, and the early-media
  callers: AsCaller (application server mode) and GwCaller (gateway mode);
- phones: real SIP phones (baresip, linphonec) as callers and callees,
  the tones they recorded and a packet capture on lo.

A test takes a Ctx (t: t.tmp, t.server(profile=..., extra=(...))) and has
a name unique in the suite; -k selects by name or subject.  check() fails
it, raise Skip("why") skips it (a program it needs is missing), info()
prints a diagnostic; the runner stops every server with SIGTERM and fails
the test unless it exits 0 within 2 s.
Never sleep and then check that nothing happened: first wait for what
proves the server got past that point (wait_event(srv, "confirmed"),
srv.wait_call_state(...), wait_until(pred, timeout, what), AsCaller.barrier,
RtpSink.sync).  @slow_test instead of @test: runs only with --slow.
'''

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

# ---- constants -----------------------------------------------------------

HOST = "127.0.0.1"
READY_TIMEOUT = 5.0        # seconds from exec to the readiness line
SIGTERM_LIMIT = 2.0        # the bound for a clean exit (docs/cli.md)
CURL_TIMEOUT = 5
BINARY = None              # absolute path of the binary under test
# The embedded default profile (profiles/README.md).
DEFAULT_PROFILE = "".join(
    "subscriber %s mode=auto cmrbt=ringback-default cmrt=ringtone-default\n"
    % s for s in ("alice", "bob", "carol", "dave", "1000-1099"))
PROCS = []                 # every Popen started, killed by PID at the end


# ---- failures, output, subprocesses --------------------------------------

class Fail(Exception):
    """A check did not hold; the message is the test's failure reason."""


class Skip(Exception):
    """The test cannot run here (a program it needs is missing); the
    message says why.  A skipped test counts neither as passed nor as
    failed."""


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def info(msg):
    """Diagnostic output of a test, indented under its verdict line."""
    for line in str(msg).splitlines():
        print("    " + line)
    sys.stdout.flush()


def spawn(cmd, **kw):
    """Start a subprocess and remember it so that it can be killed."""
    p = subprocess.Popen(cmd, **kw)
    PROCS.append(p)
    return p


def kill_proc(p):
    """Kill one subprocess by its PID if it still runs, and reap it."""
    if p.poll() is None:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def kill_all():
    while PROCS:
        kill_proc(PROCS.pop())


# ---- ports ---------------------------------------------------------------

_handed_out = set()


# Listening ports come from 10000-19999: below the kernel's ephemeral
# range (32768-60999 by default), where every connect() and every socket
# bound to port 0 by this suite, by sipp or by the servers' own clients
# takes its number, and below the server's default RTP range (20000-29999).
# A number picked in the ephemeral range could be taken by such a socket
# between the check here and the server's bind ("Address already in use").
PORT_LO, PORT_HI = 10000, 19999


def free_port():
    """A port number free for both UDP and TCP on 127.0.0.1 right now.

    A random number of PORT_LO..PORT_HI is bound with TCP and UDP; both
    sockets are closed before the number is returned.  Numbers are never
    handed out twice in one run, so two servers of the same test cannot
    collide with each other.
    """
    for _ in range(400):
        port = random.randint(PORT_LO, PORT_HI)
        if port in _handed_out:
            continue
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind((HOST, port))
            u.bind((HOST, port))
        except OSError:
            continue
        finally:
            t.close()
            u.close()
        _handed_out.add(port)
        return port
    raise Fail("no free port found")


def free_udp_block(n=4, lo=30000):
    """n consecutive free UDP ports (sipp's media port and its neighbours),
    starting at an even number from lo up."""
    for _ in range(200):
        base = random.randrange(lo, 32768 - n, 2)
        if any(base + i in _handed_out for i in range(n)):
            continue
        socks = []
        try:
            for i in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((HOST, base + i))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        for i in range(n):
            _handed_out.add(base + i)
        return base
    raise Fail("no free UDP port block found")


def port_bound(port, proto):
    """True when something listens on 127.0.0.1:port (from /proc/net)."""
    path = "/proc/net/udp" if proto == "udp" else "/proc/net/tcp"
    want = "0100007F:%04X" % port
    try:
        with open(path) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if len(cols) > 3 and cols[1] == want:
                    if proto == "udp" or cols[3] == "0A":
                        return True
    except OSError:
        return False
    return False


def wait_bound(port, proto, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_bound(port, proto):
            return True
        time.sleep(0.02)
    return False


# ---- the server under test -----------------------------------------------

class Server:
    """One cmrlab serve process with its own ports, directory and logs."""

    def __init__(self, tmp, name="server", profile=None, extra=(),
                 plain=None):
        self.tmp = tmp
        self.name = name
        self.sip = free_port()
        self.http = free_port()
        self.log_json = os.path.join(tmp, name + "-events.jsonl")
        self.out_path = os.path.join(tmp, name + ".out")
        self.err_path = os.path.join(tmp, name + ".err")
        self.profile = profile
        if plain:
            self.profile = self.plain_profile(profile, plain)
        self.extra = list(extra)
        self.proc = None
        self.stopped = None        # None, or the verdict of stop()
        # Where the listeners bind: a subclass may put either on
        # "0.0.0.0" or "[::]" (the ready line names them as bound).
        self.sip_bind = HOST
        self.http_bind = HOST

    @property
    def base(self):
        return "http://%s:%d" % (HOST, self.http)

    def plain_profile(self, profile, plain):
        """The profile (or the embedded default) with "defaults
        plain=PLAIN": what callers that ask for no CMR mode get.  Tests
        of the call machinery with such callers use plain="http", so
        that no early media comes into their ladders."""
        if profile:
            with open(profile) as f:
                text = f.read()
            path = profile + "." + self.name + ".plain"
        else:
            text = DEFAULT_PROFILE
            path = os.path.join(self.tmp, self.name + "-plain.profile")
        with open(path, "w") as f:
            f.write(text + "\ndefaults plain=%s\n" % plain)
        return path

    def start(self):
        cmd = [BINARY, "serve",
               "--sip", "%s:%d" % (self.sip_bind, self.sip),
               "--http", "%s:%d" % (self.http_bind, self.http),
               "--log-json", self.log_json] + self.extra
        if self.profile:
            cmd += ["--profile", self.profile]
        self.out = open(self.out_path, "wb")
        self.err = open(self.err_path, "wb")
        self.proc = spawn(cmd, stdin=subprocess.DEVNULL, stdout=self.out,
                          stderr=self.err, cwd=self.tmp)
        want = "ready sip=udp:%s:%d http=http://%s:%d" % (
            self.sip_bind, self.sip, self.http_bind, self.http)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            with open(self.out_path, "rb") as f:
                data = f.read().decode("utf-8", "replace")
            if "\n" in data:
                line = data.split("\n", 1)[0]
                check(line == want, "readiness line %r, expected %r"
                      % (line, want))
                return self
            if self.proc.poll() is not None:
                raise Fail("server exited with %d before the ready line; "
                           "stderr: %s" % (self.proc.returncode,
                                           self.stderr_tail()))
            time.sleep(0.02)
        raise Fail("no ready line within %.0f s; stderr: %s"
                   % (READY_TIMEOUT, self.stderr_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_tail(self, n=8):
        try:
            with open(self.err_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-n:])

    def stop(self):
        """SIGTERM; the server must exit 0 within SIGTERM_LIMIT seconds.

        Returns None when it did, else the reason.  Idempotent: a test that
        stopped the server itself gets the same verdict again.
        """
        if self.stopped is not None:
            return self.stopped[1]
        if self.proc is None:
            self.stopped = (0.0, None)
            return None
        if self.proc.poll() is not None:
            why = ("server was no longer running at the end "
                   "(exit code %d); stderr: %s"
                   % (self.proc.returncode, self.stderr_tail()))
            self.stopped = (0.0, why)
            return why
        t0 = time.monotonic()
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=SIGTERM_LIMIT)
            dt = time.monotonic() - t0
        except subprocess.TimeoutExpired:
            kill_proc(self.proc)
            why = "SIGTERM: still running after %.1f s" % SIGTERM_LIMIT
            info("sigterm (%s): %s" % (self.name, why))
            self.stopped = (SIGTERM_LIMIT, why)
            return why
        self.out.close()
        self.err.close()
        info("sigterm (%s): exit %d after %.3f s" % (self.name, rc, dt))
        why = None
        if rc != 0:
            why = ("SIGTERM: exit code %d after %.3f s (expected 0); "
                   "stderr: %s" % (rc, dt, self.stderr_tail()))
        self.stopped = (dt, why)
        return why

    def events(self):
        """Every line of the JSON event log, parsed; each must be JSON."""
        out = []
        with open(self.log_json) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    out.append(json.loads(line))
                except ValueError as e:
                    raise Fail("%s line %d is not JSON (%s): %r"
                               % (self.log_json, n, e, line[:200]))
        return out

    # -- HTTP API --
    def http_get(self, path, headers=None):
        """(status, headers dict lowercased, body bytes) of a GET."""
        req = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return (r.status, {k.lower(): v for k, v in r.headers.items()},
                        r.read())
        except urllib.error.HTTPError as e:
            return (e.code, {k.lower(): v for k, v in e.headers.items()},
                    e.read())
        except OSError as e:
            raise Fail("GET %s: %s" % (path, e))

    def api_json(self, path):
        st, _, body = self.http_get(path)
        check(st == 200, "GET %s: status %d, expected 200: %r"
              % (path, st, body[:200]))
        try:
            return json.loads(body)
        except ValueError:
            raise Fail("GET %s: body is not JSON: %r" % (path, body[:200]))

    def calls(self):
        calls = self.api_json("/api/v1/calls")
        check(isinstance(calls, list), "/api/v1/calls is not a JSON array")
        return calls

    def wait_call_state(self, states, timeout=5.0):
        """The first call record whose state is one of states."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for c in self.calls():
                last = c.get("state")
                if last in states:
                    return c
            time.sleep(0.05)
        raise Fail("no call reached state %s within %.0f s (last seen: %r)"
                   % ("/".join(states), timeout, last))


# ---- HTTP ----------------------------------------------------------------

def raw_http(port, request, timeout=5.0):
    """Sends one raw HTTP/1.1 request and returns every byte that comes
    back until the server closes the connection (Connection: close)."""
    s = socket.create_connection((HOST, port), timeout=timeout)
    data = b""
    try:
        s.sendall(request)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return data


def curl(url, *args):
    """(status, headers dict lowercased, body) of one curl request."""
    fd, hdr_path = tempfile.mkstemp(prefix="curl-h-")
    os.close(fd)
    fd, body_path = tempfile.mkstemp(prefix="curl-b-")
    os.close(fd)
    try:
        r = subprocess.run(["curl", "-s", "-S", "--max-time",
                            str(CURL_TIMEOUT), "-D", hdr_path, "-o",
                            body_path] + list(args) + [url],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=CURL_TIMEOUT + 5)
        check(r.returncode == 0, "curl %s %s: exit %d: %s"
              % (" ".join(args), url, r.returncode,
                 r.stderr.decode(errors="replace").strip()))
        with open(hdr_path, "rb") as f:
            head = f.read().decode("latin-1")
        with open(body_path, "rb") as f:
            body = f.read()
    finally:
        os.unlink(hdr_path)
        os.unlink(body_path)
    lines = head.strip().split("\r\n")
    m = re.match(r"HTTP/[\d.]+ (\d{3})", lines[0])
    check(m, "curl %s: no status line in %r" % (url, head[:100]))
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(m.group(1)), hdrs, body


# ---- call records and events ---------------------------------------------

def call_record(srv, callee="bob"):
    """The most recent call record to callee from alice."""
    found = [c for c in srv.calls()
             if callee in str(c.get("callee")) and
             "alice" in str(c.get("caller"))]
    check(found, "GET /api/v1/calls has no call alice -> %s: %r"
          % (callee, srv.calls()))
    return found[-1]


def call_of(srv, call_id):
    """The call record of the API for one SIP Call-ID (waits for it to
    end, since the events come on until then)."""
    deadline = time.monotonic() + 3
    rec = None
    while time.monotonic() < deadline:
        recs = [c for c in srv.calls() if c.get("callid") == call_id]
        if recs:
            rec = recs[-1]
            if rec.get("state") == "ended":
                return rec
        time.sleep(0.05)
    check(rec, "GET /api/v1/calls: no call with Call-ID %s: %r"
          % (call_id, srv.calls()))
    return rec


def events_of(rec, what, **kv):
    return [e for e in rec.get("events", []) if e.get("what") == what and
            all(e.get(k) == v for k, v in kv.items())]


def check_events(what_list, where, need):
    """need: ordered list of event names that must appear in this order."""
    pos = -1
    for name in need:
        idx = [i for i, w in enumerate(what_list) if w == name and i > pos]
        check(idx, "%s: no %r event after position %d in %s"
              % (where, name, pos, what_list))
        pos = idx[0]


def ev_names(events):
    return [e.get("what") for e in events]


def check_http_call_events(srv, rec, by):
    ev = rec.get("events")
    check(isinstance(ev, list), "call record without events: %r" % rec)
    names = ev_names(ev)
    check_events(names, "API events", ["received", "ringing", "answered",
                                       "bye", "ended"])
    for n in ("mode", "cmr-inserted"):
        dirs = sorted(e.get("dir") for e in ev if e.get("what") == n)
        check(dirs == ["bt", "rt"], "API: %r events for dirs %r, expected "
              "bt and rt" % (n, dirs))
    check(all(e.get("mode") == "http" for e in ev if e.get("what") == "mode"),
          "API: mode events %r, expected http"
          % [e for e in ev if e.get("what") == "mode"])
    bye = [e for e in ev if e.get("what") == "bye"]
    check(bye[0].get("by") == by, "API: bye event %r, expected by=%s"
          % (bye[0], by))
    check(names[-1] == "ended", "API: last event %r, expected ended"
          % names[-1])
    check(rec.get("state") == "ended", "API: call state %r, expected ended"
          % rec.get("state"))
    check(rec.get("mode_bt") == "http" and rec.get("mode_rt") == "http",
          "API: mode_bt=%r mode_rt=%r, expected http/http"
          % (rec.get("mode_bt"), rec.get("mode_rt")))

    lines = [e for e in srv.events() if e.get("call") == rec.get("id")]
    check(lines, "--log-json has no line for call %r" % rec.get("id"))
    lnames = ev_names(lines)
    check_events(lnames, "--log-json", ["received", "mode", "cmr-inserted",
                                        "ringing", "answered", "bye",
                                        "ended"])
    dirs = sorted(e.get("dir") for e in lines if e.get("what") == "mode")
    check(dirs == ["bt", "rt"], "--log-json: mode dirs %r" % dirs)


# ---- waiting, the test registry, the test context ------------------------

def wait_until(pred, timeout, what, poll=0.02):
    """pred()'s first true value, polled every poll seconds; Fail with
    "no <what> within <timeout> s" when it stays false that long."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise Fail("no %s within %.1f s" % (what, timeout))
        time.sleep(poll)


def wait_event(srv, what, timeout=5.0, **kv):
    """The first line of srv's JSON event log (written and flushed as it
    happens) whose "what" is what and whose fields match kv; waits for it
    up to timeout seconds.  This is the way to learn that the server got
    past a point: a negative check ("nothing more came") waits for such
    an event first and only then looks."""
    def found():
        for e in srv.events():
            if e.get("what") == what and \
                    all(e.get(k) == v for k, v in kv.items()):
                return e
        return None
    try:
        return wait_until(found, timeout, "", poll=0.05)
    except Fail:
        raise Fail("no %r event%s in the event log within %.1f s; it has: "
                   "%s" % (what, "".join(" %s=%r" % i for i in kv.items()),
                           timeout, " ".join(ev_names(srv.events()))))


TESTS = []                 # every test of every file, in import order
SLOW_TESTS = set()


def test(fn):
    """Registers fn(t) as a test named after the function; the runner
    calls it with a Ctx.  Test names are unique across all files."""
    TESTS.append(fn)
    return fn


def slow_test(fn):
    """A test too slow for every run: it runs only with --slow."""
    SLOW_TESTS.add(fn)
    return test(fn)


def subject(fn):
    """The subject of a test: its file's name without "test_" and ".py"."""
    return fn.__module__.rpartition(".")[2][len("test_"):]


class Ctx:
    """What a test gets as t: its name, its own temporary directory
    (t.tmp) and t.server(), which starts a Server there; the runner stops
    every server a test started (SIGTERM, exit 0 within 2 s)."""

    def __init__(self, name, keep):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="cmrlab-it-%s-" % name)
        self.servers = []
        self.keep = keep

    def server(self, **kw):
        """A started Server; kw: profile (a path), extra (more serve
        arguments)."""
        srv = Server(self.tmp, "server%d" % len(self.servers)
                     if self.servers else "server", **kw)
        self.servers.append(srv)
        return srv.start()
