'''Shared helpers of cmrlab's integration tests (tests/integration).

run.py imports every test_<subject>.py of this folder in name order and
runs the tests they register: a new subject is one new file, nothing else.
Such a file opens with a one or two line docstring, imports what it uses
from here and defines its tests:

    from cmrtest import HOST, SipClient, check, test

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

A test takes a Ctx (t: t.tmp, t.server(profile=..., extra=(...))) and has
a name unique in the suite; -k selects by name or subject.  check() fails
it, info() prints a diagnostic; the runner stops every server with SIGTERM
and fails the test unless it exits 0 within 2 s.  The other parties:
SipClient, Sipp / run_call (scenarios/*.xml), AsCaller / GwCaller, RtpSink.
Never sleep and then check that nothing happened: first wait for what
proves the server got past that point (wait_event(srv, "confirmed"),
srv.wait_call_state(...), wait_until(pred, timeout, what), AsCaller.barrier,
RtpSink.sync).  @slow_test instead of @test: runs only with --slow.
'''

import datetime
import json
import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

# ---- constants -----------------------------------------------------------

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(HERE, "scenarios")
HOST = "127.0.0.1"
READY_TIMEOUT = 5.0        # seconds from exec to the readiness line
SIGTERM_LIMIT = 2.0        # the contract's bound for a clean exit
SIPP_WAIT = 30.0           # wall-clock bound around every sipp run
CURL_TIMEOUT = 5
BINARY = None              # absolute path of the binary under test
PROCS = []                 # every Popen started, killed by PID at the end


# ---- failures, output, subprocesses --------------------------------------

class Fail(Exception):
    """A check did not hold; the message is the test's failure reason."""


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


def free_port():
    """A port number free for both UDP and TCP on 127.0.0.1 right now.

    The TCP socket is bound to port 0 and the UDP socket to the same
    number; both are closed before the number is returned.  Numbers are
    never handed out twice in one run, so two servers of the same test
    cannot collide with each other.
    """
    for _ in range(200):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind((HOST, 0))
            port = t.getsockname()[1]
            if port in _handed_out:
                continue
            u.bind((HOST, port))
        except OSError:
            continue
        finally:
            t.close()
            u.close()
        _handed_out.add(port)
        return port
    raise Fail("no free port found")


def free_udp_block(n=4):
    """n consecutive free UDP ports (sipp's media port and its neighbours),
    starting at an even number."""
    for _ in range(200):
        base = random.randrange(30000, 60000, 2)
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

    def __init__(self, tmp, name="server", profile=None, extra=()):
        self.tmp = tmp
        self.name = name
        self.sip = free_port()
        self.http = free_port()
        self.log_json = os.path.join(tmp, name + "-events.jsonl")
        self.out_path = os.path.join(tmp, name + ".out")
        self.err_path = os.path.join(tmp, name + ".err")
        self.profile = profile
        self.extra = list(extra)
        self.proc = None
        self.stopped = None        # None, or the verdict of stop()

    @property
    def base(self):
        return "http://%s:%d" % (HOST, self.http)

    def start(self):
        cmd = [BINARY, "serve",
               "--sip", "%s:%d" % (HOST, self.sip),
               "--http", "%s:%d" % (HOST, self.http),
               "--log-json", self.log_json] + self.extra
        if self.profile:
            cmd += ["--profile", self.profile]
        self.out = open(self.out_path, "wb")
        self.err = open(self.err_path, "wb")
        self.proc = spawn(cmd, stdin=subprocess.DEVNULL, stdout=self.out,
                          stderr=self.err, cwd=self.tmp)
        want = "ready sip=udp:%s:%d http=http://%s:%d" % (
            HOST, self.sip, HOST, self.http)
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


# ---- SIP over Python sockets ---------------------------------------------

COMPACT = {"i": "call-id", "m": "contact", "l": "content-length",
           "f": "from", "t": "to", "v": "via", "c": "content-type",
           "k": "supported", "e": "content-encoding", "s": "subject"}


class SipMsg:
    def __init__(self, raw):
        self.raw = raw
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("utf-8", "replace").split("\r\n")
        self.first = lines[0]
        self.headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:
                name, val = self.headers[-1]
                self.headers[-1] = (name, val + " " + line.strip())
                continue
            name, _, val = line.partition(":")
            name = name.strip().lower()
            self.headers.append((COMPACT.get(name, name), val.strip()))
        self.status = None
        m = re.match(r"SIP/2\.0 (\d{3}) ", self.first + " ")
        if m:
            self.status = int(m.group(1))

    def all(self, name):
        return [v for n, v in self.headers if n == name.lower()]

    def get(self, name):
        v = self.all(name)
        return v[0] if v else None

    def cseq(self):
        return self.get("cseq") or ""

    def __repr__(self):
        return self.first


def split_commas(value):
    """Split a header value on commas outside <> and quotes."""
    out, cur, depth, quote = [], "", 0, False
    for ch in value:
        if ch == '"':
            quote = not quote
        elif not quote and ch == "<":
            depth += 1
        elif not quote and ch == ">":
            depth -= 1
        if ch == "," and depth == 0 and not quote:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def contacts_of(msg):
    """[(uri, expires or None)] of every Contact of a message."""
    out = []
    for v in msg.all("contact"):
        for c in split_commas(v):
            m = re.match(r'\s*(?:"[^"]*"\s*)?<([^>]*)>(.*)$', c)
            if m:
                uri, params = m.group(1), m.group(2)
            else:
                uri, _, params = c.partition(";")
                params = ";" + params
            e = re.search(r";\s*expires\s*=\s*(\d+)", params, re.I)
            out.append((uri.strip(), int(e.group(1)) if e else None))
    return out


_seq = [0]


def new_id(prefix):
    _seq[0] += 1
    return "%s-%d-%d-%06x" % (prefix, os.getpid(), _seq[0],
                              random.getrandbits(24))


class SipClient:
    """A minimal SIP endpoint on UDP or TCP toward the server."""

    def __init__(self, srv, transport="udp"):
        self.srv = srv
        self.transport = transport
        self.buf = b""
        if transport == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((HOST, 0))
        else:
            self.sock = socket.create_connection((HOST, srv.sip), timeout=3)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        if self.transport == "udp":
            self.sock.sendto(data, (HOST, self.srv.sip))
        else:
            self.sock.sendall(data)

    def request(self, method, ruri, from_user="alice", to_user=None,
                call_id=None, cseq=1, branch=None, headers=(), body=b"",
                from_tag=None, to_tag=None, max_forwards=70):
        """Builds a request; returns (bytes, branch, call_id)."""
        branch = branch or "z9hG4bK" + new_id("b")
        call_id = call_id or new_id("call")
        from_tag = from_tag or new_id("ft")
        to_user = to_user or from_user
        tp = self.transport.upper()
        lines = [
            "%s %s SIP/2.0" % (method, ruri),
            "Via: SIP/2.0/%s %s:%d;branch=%s;rport" % (tp, HOST, self.port,
                                                       branch),
            "From: <sip:%s@%s>;tag=%s" % (from_user, HOST, from_tag),
            "To: <sip:%s@%s>%s" % (to_user, HOST,
                                   ";tag=" + to_tag if to_tag else ""),
            "Call-ID: %s" % call_id,
            "CSeq: %d %s" % (cseq, method),
        ]
        if max_forwards is not None:
            lines.append("Max-Forwards: %d" % max_forwards)
        lines += list(headers)
        lines.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        return data, branch, call_id

    def recv_msg(self, timeout):
        """The next message, or None after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if self.transport == "tcp":
                m = self._frame()
                if m is not None:
                    return m
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                if self.transport == "udp":
                    data, _ = self.sock.recvfrom(70000)
                    return SipMsg(data)
                data = self.sock.recv(70000)
            except socket.timeout:
                return None
            except OSError:
                return None
            if not data:
                return self._frame()
            self.buf += data

    def _frame(self):
        while self.buf.startswith(b"\r\n"):
            self.buf = self.buf[2:]
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buf[:end].decode("utf-8", "replace")
        m = re.search(r"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
        n = int(m.group(1)) if m else 0
        if len(self.buf) < end + 4 + n:
            return None
        raw, self.buf = self.buf[:end + 4 + n], self.buf[end + 4 + n:]
        return SipMsg(raw)

    def final_response(self, call_id, method, timeout=3.0):
        """Collects responses of one transaction until a final one."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            m = self.recv_msg(max(0.0, deadline - time.monotonic()))
            if m is None:
                raise Fail("%s: no final response within %.0f s (got %s)"
                           % (method, timeout, seen or "nothing"))
            if m.status is None or m.get("call-id") != call_id or \
                    not m.cseq().endswith(" " + method):
                continue
            seen.append(m.status)
            if m.status >= 200:
                return m

    def transact(self, method, ruri, timeout=3.0, **kw):
        data, branch, call_id = self.request(method, ruri, **kw)
        self.send_raw(data)
        rsp = self.final_response(call_id, method, timeout)
        if method == "INVITE" and rsp.status >= 300:
            self.ack_error(rsp, ruri, branch, call_id, kw)
        return rsp

    def ack_error(self, rsp, ruri, branch, call_id, kw):
        """The ACK of a non-2xx final response (same branch, its To)."""
        tp = self.transport.upper()
        lines = [
            "ACK %s SIP/2.0" % ruri,
            "Via: SIP/2.0/%s %s:%d;branch=%s;rport" % (tp, HOST, self.port,
                                                       branch),
            "From: %s" % (rsp.get("from") or ""),
            "To: %s" % (rsp.get("to") or ""),
            "Call-ID: %s" % call_id,
            "CSeq: %d ACK" % kw.get("cseq", 1),
            "Max-Forwards: 70",
            "Content-Length: 0",
        ]
        self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode())


SDP_OFFER = ("v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
             "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"
             "a=rtpmap:0 PCMU/8000\r\n").encode()


def invite(cl, user, **kw):
    """An INVITE to user@server with an SDP offer; its final response."""
    ruri = "sip:%s@%s:%d" % (user, HOST, cl.srv.sip)
    headers = ["Contact: <sip:alice@%s:%d;transport=%s>"
               % (HOST, cl.port, cl.transport),
               "Content-Type: application/sdp"] + list(kw.pop("headers", []))
    return cl.transact("INVITE", ruri, to_user=user, headers=headers,
                       body=SDP_OFFER, **kw)


def register(srv, user, contacts=(), expires=None, transport="udp",
             call_id=None, cseq=1, extra=()):
    """One REGISTER for user; returns the final response."""
    cl = SipClient(srv, transport)
    try:
        headers = ["Contact: %s" % c for c in contacts]
        if expires is not None:
            headers.append("Expires: %s" % expires)
        headers += list(extra)
        return cl.transact("REGISTER", "sip:%s:%d" % (HOST, srv.sip),
                           from_user=user, to_user=user, call_id=call_id,
                           cseq=cseq, headers=headers)
    finally:
        cl.close()


def register_ok(srv, user, contact, transport="udp"):
    r = register(srv, user, ["<%s>" % contact], 300, transport)
    check(r.status == 200, "REGISTER %s -> %s: %s, expected 200"
          % (user, contact, r.first))


# ---- sipp ----------------------------------------------------------------

class Sipp:
    """One sipp process playing one scenario once."""

    def __init__(self, tmp, scenario, name, transport="udp", remote=None,
                 service=None, keys=None):
        self.tmp = tmp
        self.scenario = scenario
        self.name = name
        self.port = free_port()
        self.mport = free_udp_block()
        self.transport = transport
        p = lambda ext: os.path.join(tmp, "%s.%s" % (name, ext))
        self.msg_file, self.log_file = p("msg.log"), p("logs.log")
        self.err_file, self.out_file = p("err.log"), p("out.log")
        cmd = ["sipp", "-sf", os.path.join(SCENARIOS, scenario),
               "-i", HOST, "-p", str(self.port), "-mp", str(self.mport),
               "-m", "1", "-timeout", "20s", "-timeout_error",
               "-recv_timeout", "10000", "-nostdin",
               "-trace_msg", "-message_file", self.msg_file,
               "-trace_logs", "-log_file", self.log_file,
               "-trace_err", "-error_file", self.err_file]
        if transport == "tcp":
            cmd += ["-t", "t1"]
        for k, v in (keys or {}).items():
            cmd += ["-key", k, str(v)]
        if service:
            cmd += ["-s", service]
        if remote:
            cmd.append(remote)
        self.cmd = cmd
        self.out = open(self.out_file, "wb")
        self.proc = spawn(cmd, stdin=subprocess.DEVNULL, stdout=self.out,
                          stderr=subprocess.STDOUT, cwd=tmp)

    @property
    def contact(self):
        uri = "sip:bob@%s:%d" % (HOST, self.port)
        if self.transport == "tcp":
            uri += ";transport=tcp"
        return uri

    def wait_listening(self):
        if not wait_bound(self.port, self.transport, 3.0):
            self.proc.poll()
            raise Fail("%s (sipp) did not bind %s port %d within 3 s: %s"
                       % (self.name, self.transport, self.port,
                          self.tail(self.out_file)))

    def wait(self, timeout=SIPP_WAIT):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_proc(self.proc)
            rc = None
        self.out.close()
        return rc

    @staticmethod
    def tail(path, n=6):
        try:
            with open(path, "rb") as f:
                lines = [l for l in f.read().decode("utf-8", "replace")
                         .splitlines() if l.strip()]
        except OSError:
            return ""
        return " | ".join(lines[-n:])

    def logs(self):
        try:
            with open(self.log_file) as f:
                return f.read()
        except OSError:
            return ""

    def messages(self):
        try:
            with open(self.msg_file, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def verdict(self, rc):
        """None when sipp ended with 0, else why not."""
        if rc == 0:
            return None
        what = "timed out (killed)" if rc is None else "exit %d" % rc
        return ("%s (%s) %s; errors: %s; ladder: %s"
                % (self.name, self.scenario, what,
                   self.tail(self.err_file, 4) or self.tail(self.out_file, 4),
                   " / ".join(self.ladder())))

    def ladder(self):
        """Direction and start line of every traced message."""
        out = []
        text = self.messages()
        for block in re.split(r"\n(?=-{5,} )", text):
            hm = re.match(r"-{5,} ([^\n]*)\n(.*)", block, re.S)
            if not hm:
                continue
            lines = [l.strip() for l in hm.group(2).splitlines()
                     if l.strip()]
            if len(lines) < 2:
                continue
            d = "<-" if "received" in lines[0] else "->"
            for line in lines[1:]:
                if "SIP/2.0" in line:
                    out.append("%s %s" % (d, line))
                    break
        return out


def run_call(tmp, srv, uas="uas_answer.xml", uac="uac_call.xml",
             transport="udp", ring_ms=1000, during=None, user="bob"):
    """A sipp callee registered as user and a sipp caller calling it.

    during(uas, uac), when given, runs while the call is in progress.
    Returns (uas, uac) after both ended; raises Fail unless both exit 0.
    """
    callee = Sipp(tmp, uas, "callee", transport=transport,
                  keys={"ring_ms": ring_ms})
    callee.wait_listening()
    register_ok(srv, user, callee.contact, transport)
    caller = Sipp(tmp, uac, "caller", transport=transport,
                  remote="%s:%d" % (HOST, srv.sip), service=user)
    if during:
        during(callee, caller)
    rc_caller = caller.wait()
    # When the caller already failed, the callee may wait for a message
    # that never comes: give it a short grace instead of sipp's 20 s.
    rc_callee = callee.wait(SIPP_WAIT if rc_caller == 0 else 3.0)
    why = [w for w in (caller.verdict(rc_caller), callee.verdict(rc_callee))
           if w]
    check(not why, "; ".join(why))
    return callee, caller


def sipp_trace(sipp):
    """[('<-' received or '->' sent, SipMsg, wall time)] of a sipp
    -trace_msg file."""
    try:
        with open(sipp.msg_file, "rb") as f:
            data = f.read()
    except OSError:
        return []
    out = []
    for m in re.finditer(rb"-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n"
                         rb"(?:UDP|TCP) message (received|sent) \D*(\d+)"
                         rb"[^\n]*\n\n", data):
        n = int(m.group(3))
        raw = data[m.end():m.end() + n]
        wall = datetime.datetime.strptime(m.group(1).decode(),
                                          "%Y-%m-%d %H:%M:%S.%f").timestamp()
        out.append(("<-" if m.group(2) == b"received" else "->",
                    SipMsg(raw), wall))
    return out


def as_callee(t, srv, scenario, **keys):
    """A sipp callee registered as bob."""
    callee = Sipp(t.tmp, scenario, "callee", keys=keys)
    callee.wait_listening()
    register_ok(srv, "bob", callee.contact)
    return callee


def callee_done(callee):
    rc = callee.wait(10.0)
    why = callee.verdict(rc)
    check(why is None, why or "")


def callee_got(callee, method):
    """Checks that the sipp callee received a request method."""
    check(any(d == "<-" and m.first.startswith(method + " ")
              for d, m, _ in sipp_trace(callee)),
          "the callee got no %s" % method)


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


# ---- RTP -----------------------------------------------------------------

STOP_LIMIT = 0.3           # RTP must end this soon after the final response
RATE_RANGE = (35, 65)      # packets per second, loose around 50


class RtpSink:
    """An RTP receiver on an even UDP port and its RTCP port above.

    A thread reads both sockets and stamps every packet with its arrival
    time: time.monotonic(), the clock of AsCaller's messages, and
    time.time(), the clock of sipp's traces.  sync() makes sure that every
    packet already sent to it has been read.
    """

    def __init__(self):
        self.port = free_udp_block(2)
        self.rtp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtcp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp_sock.bind((HOST, self.port))
        self.rtcp_sock.bind((HOST, self.port + 1))
        self.rtp = []              # (monotonic, wall, src, bytes)
        self.rtcp = []
        self.lock = threading.Condition()
        self.marks = set()         # sources of sync() markers under way
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        socks = [self.rtp_sock, self.rtcp_sock]
        while self.running:
            try:
                ready, _, _ = select.select(socks, [], [], 0.05)
            except (OSError, ValueError):
                return
            for s in ready:
                try:
                    data, src = s.recvfrom(4096)
                except OSError:
                    continue
                rec = (time.monotonic(), time.time(), src, data)
                with self.lock:
                    if s is self.rtp_sock and src in self.marks:
                        self.marks.discard(src)
                        self.lock.notify_all()
                        continue
                    (self.rtp if s is self.rtp_sock else
                     self.rtcp).append(rec)

    def sync(self, timeout=2.0):
        """Returns once every RTP packet sent to the sink before this call
        has been read and stamped: a marker datagram sent now on loopback
        queues behind them, and the reader thread takes it out of
        self.marks when it gets there."""
        m = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            m.bind((HOST, 0))
            src = m.getsockname()
            with self.lock:
                self.marks.add(src)
            m.sendto(b"cmrtest sync marker", (HOST, self.port))
            with self.lock:
                ok = self.lock.wait_for(lambda: src not in self.marks,
                                        timeout)
        finally:
            m.close()
        check(ok, "RTP sink: the sync marker was not read within %.1f s"
              % timeout)

    def packets(self):
        with self.lock:
            return list(self.rtp)

    def reports(self):
        with self.lock:
            return list(self.rtcp)

    def close(self):
        self.running = False
        self.thread.join(2)
        self.rtp_sock.close()
        self.rtcp_sock.close()


def rtp_analyse(pkts, pt, what, src=None):
    """Checks one received RTP stream packet by packet and its rate.

    pkts: RtpSink records in arrival order; pt: the payload type the
    client answered; src: the (address, port) the offer named, if known.
    Returns the figures: n, first, last, rate, windows, ssrc.
    """
    check(pkts, "%s: no RTP packet arrived" % what)
    hdrs = []
    for i, (t, _, frm, d) in enumerate(pkts):
        check(len(d) >= 12, "%s: packet %d is %d bytes" % (what, i, len(d)))
        b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", d[:12])
        check(b0 >> 6 == 2, "%s: packet %d has RTP version %d"
              % (what, i, b0 >> 6))
        check(b0 & 0x3f == 0, "%s: packet %d has P/X/CC bits %#x"
              % (what, i, b0 & 0x3f))
        check(b1 & 0x7f == pt, "%s: packet %d has payload type %d, the "
              "client answered %d" % (what, i, b1 & 0x7f, pt))
        check(len(d) - 12 == 160, "%s: packet %d carries %d bytes of "
              "payload, expected 160 (20 ms at 8 kHz)"
              % (what, i, len(d) - 12))
        if src:
            check(frm == src, "%s: packet %d came from %s:%d, the offer "
                  "named %s:%d" % (what, i, frm[0], frm[1], src[0], src[1]))
        hdrs.append((t, bool(b1 & 0x80), seq, ts, ssrc))
    check(hdrs[0][1], "%s: the first packet has no marker bit" % what)
    later = [i for i, h in enumerate(hdrs) if h[1] and i]
    check(not later, "%s: marker bit also on packets %s" % (what, later[:5]))
    ssrcs = sorted(set(h[4] for h in hdrs))
    check(len(ssrcs) == 1, "%s: SSRC changed: %s"
          % (what, ["%08x" % s for s in ssrcs[:4]]))
    for a, b in zip(hdrs, hdrs[1:]):
        check((b[2] - a[2]) & 0xffff == 1,
              "%s: sequence %d followed by %d" % (what, a[2], b[2]))
        check((b[3] - a[3]) & 0xffffffff == 160,
              "%s: timestamp %d followed by %d (step %d, expected 160) at "
              "seq %d" % (what, a[3], b[3], (b[3] - a[3]) & 0xffffffff,
                          b[2]))
    first, last = hdrs[0][0], hdrs[-1][0]
    n = len(hdrs)
    rate = (n - 1) / (last - first) if last > first else 0.0
    windows = []
    k = 0
    while first + k + 1 <= last:
        lo, hi = first + k, first + k + 1
        windows.append(sum(1 for h in hdrs if lo <= h[0] < hi))
        k += 1
    info("%s: %d packets over %.3f s, %.1f packets/s, per second %s, "
         "SSRC %08x, pt %d" % (what, n, last - first, rate, windows,
                              ssrcs[0], pt))
    check(RATE_RANGE[0] <= rate <= RATE_RANGE[1],
          "%s: %.1f packets/s, expected %d..%d" % ((what, rate) + RATE_RANGE))
    bad = [w for w in windows if not RATE_RANGE[0] <= w <= RATE_RANGE[1]]
    check(not bad, "%s: packets per second %s, expected each in %d..%d"
          % ((what, windows) + RATE_RANGE))
    return {"n": n, "first": first, "last": last, "rate": rate,
            "windows": windows, "ssrc": ssrcs[0]}


def rtp_stopped(sink, t_final, what, srv, d="bt"):
    """The last RTP packet came no later than STOP_LIMIT after t_final
    (a time.monotonic() of the message that must have stopped it).  Waits
    for the server's rtp-stopped event of direction d ("bt" or "rt"),
    logged once the stream has sent its last packet, and for the sink to
    have read every packet; then every packet the server sent counts, and
    their number must be the event's."""
    ev = wait_event(srv, "rtp-stopped", dir=d)
    sink.sync()
    pkts = sink.packets()
    check(pkts, "%s: no RTP packet arrived at all" % what)
    check(len(pkts) == ev.get("packets"), "%s: %d RTP packets arrived, "
          "the rtp-stopped event says %r were sent"
          % (what, len(pkts), ev.get("packets")))
    late = [p for p in pkts if p[0] > t_final + STOP_LIMIT]
    delta = pkts[-1][0] - t_final
    info("%s: last RTP packet %+.0f ms after the final response reached "
         "the caller (limit +%d ms)" % (what, delta * 1000,
                                         STOP_LIMIT * 1000))
    check(not late, "%s: %d RTP packet(s) more than %d ms after the final "
          "response, the last %+.0f ms after it" % (what, len(late),
                                                    STOP_LIMIT * 1000,
                                                    delta * 1000))
    return delta


# ---- message bodies, SDP, header parameters ------------------------------

def disposition(value):
    return (value or "").split(";")[0].strip().lower() or None


def body_parts(msg):
    """[(content type, disposition, bytes)] of a message body: the parts
    of a multipart/mixed, else the body itself; [] without a body."""
    if not msg.body:
        return []
    ctype = msg.get("content-type") or ""
    if not ctype.lower().startswith("multipart/"):
        return [(ctype.split(";")[0].strip().lower(),
                 disposition(msg.get("content-disposition")), msg.body)]
    m = re.search(r'boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))', ctype, re.I)
    check(m, "%s: multipart without boundary: %r" % (msg.first, ctype))
    delim = b"\r\n--" + (m.group(1) or m.group(2)).encode()
    body = b"\r\n" + msg.body
    chunks = body.split(delim)
    check(len(chunks) >= 3, "%s: multipart body without parts: %r"
          % (msg.first, msg.body[:200]))
    parts = []
    for c in chunks[1:]:
        if c.startswith(b"--"):
            break
        c = c.split(b"\r\n", 1)[1] if b"\r\n" in c else b""
        if c.startswith(b"\r\n"):
            head, content = b"", c[2:]
        else:
            head, _, content = c.partition(b"\r\n\r\n")
        hdrs = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            k, _, v = line.partition(":")
            if k.strip():
                hdrs[COMPACT.get(k.strip().lower(), k.strip().lower())] = \
                    v.strip()
        parts.append(((hdrs.get("content-type") or "text/plain")
                      .split(";")[0].strip().lower(),
                      disposition(hdrs.get("content-disposition")),
                      content))
    return parts


def sdp_media(sdp):
    """The first audio stream of an SDP: address, port, payload types,
    direction attribute, origin user."""
    text = sdp.decode("utf-8", "replace")
    c = re.search(r"(?m)^c=IN IP4 ([0-9.]+)", text)
    m = re.search(r"(?m)^m=audio (\d+) RTP/AVP((?: \d+)*)\s*$", text)
    o = re.search(r"(?m)^o=(\S+)", text)
    d = re.findall(r"(?m)^a=(sendonly|recvonly|sendrecv|inactive)\s*$",
                   text)
    check(c and m, "SDP without c=IN IP4 or m=audio: %r" % text[:300])
    return {"addr": c.group(1), "port": int(m.group(1)),
            "pts": [int(x) for x in m.group(2).split()],
            "dir": d[-1] if d else "sendrecv",
            "origin": o.group(1) if o else None, "text": text}


def sdp_origin(sdp, where):
    """(username, sess-id, sess-version, the rest) of an SDP's o= line."""
    text = sdp.decode("utf-8", "replace")
    m = re.search(r"(?m)^o=(\S+) (\d+) (\d+) (IN IP4 \S+)\r?$", text)
    check(m, "%s: no valid o= line in %r" % (where, text[:300]))
    return m.group(1), m.group(2), int(m.group(3)), m.group(4)


def tags_of(value):
    return set(t.strip().lower() for v in value for t in v.split(",")
               if t.strip())


def tag_param(value):
    m = re.search(r";\s*tag=([^;>\s]+)", value or "")
    return m.group(1) if m else None


def pem_values(msg):
    """The P-Early-Media parameters of a message, lower case, in order."""
    return [v.strip().lower() for h in msg.all("p-early-media")
            for v in h.split(",") if v.strip()]


def via_branch(msg):
    m = re.search(r";\s*branch=([^;,\s]+)", msg.get("via") or "")
    return m.group(1) if m else None


def only_sdp(msg, where):
    """The one application/sdp session body of msg."""
    parts = body_parts(msg)
    info("%s: Content-Type %s, parts %s"
         % (where, msg.get("content-type"), [(p[0], p[1]) for p in parts]))
    check(len(parts) == 1 and parts[0][0] == "application/sdp" and
          parts[0][1] in (None, "session"),
          "%s: body parts %s, expected one application/sdp session body"
          % (where, [(p[0], p[1]) for p in parts]))
    return parts[0][2]


# ---- application server mode (RFC 3959, OMA CMR clause 1.1.1.7) ----------

class AsCaller(SipClient):
    """A calling party CMR client over UDP (clause 1.1.1.8): INVITE with
    early-session and 100rel in Supported, PRACK with an early-session
    answer, ACK, BYE, CANCEL.  A thread reads every message from the
    server and stamps it with time.monotonic(); every message also
    carries its source address (msg.src) and its arrival on the wall
    clock (msg.wall), the clock of sipp's traces."""

    def __init__(self, srv):
        SipClient.__init__(self, srv, "udp")
        self.msgs = []             # (monotonic, SipMsg)
        self.cv = threading.Condition()
        self.running = True
        self.call_id = new_id("as")
        self.from_tag = new_id("ft")
        self.cseq = 1
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.05)
        while self.running:
            try:
                data, src = self.sock.recvfrom(70000)
            except socket.timeout:
                continue
            except OSError:
                return
            m = SipMsg(data)
            m.src = src
            m.wall = time.time()
            with self.cv:
                self.msgs.append((time.monotonic(), m))
                self.cv.notify_all()

    def close(self):
        self.running = False
        self.thread.join(2)
        SipClient.close(self)

    def ladder(self):
        with self.cv:
            return " / ".join("%s %s" % (m.first, m.cseq())
                              for _, m in self.msgs)

    def wait(self, pred, timeout, after=0, what="message"):
        """(index, time, msg) of the first message from index after on
        that satisfies pred; Fail after timeout seconds."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for i in range(after, len(self.msgs)):
                    if pred(self.msgs[i][1]):
                        return (i,) + self.msgs[i]
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cv.wait(left)
        raise Fail("caller: no %s within %.1f s; got: %s"
                   % (what, timeout, self.ladder() or "nothing"))

    def response(self, cseq, timeout=3.0, after=0, final=True):
        return self.wait(lambda m: m.status is not None and
                         m.cseq() == cseq and
                         (m.status >= 200 or not final), timeout, after,
                         "%sresponse to %s" % ("final " if final else "",
                                               cseq))

    def _req(self, method, ruri, cseq, to_tag=None, branch=None,
             headers=(), body=b""):
        data, branch, _ = self.request(
            method, ruri, from_user="alice", to_user=self.user,
            call_id=self.call_id, cseq=cseq, branch=branch,
            headers=list(headers), body=body, from_tag=self.from_tag,
            to_tag=to_tag)
        t = time.monotonic()
        self.send_raw(data)
        return t, branch

    def invite(self, user, supported="100rel, early-session", extra=()):
        self.user = user
        self.ruri = "sip:%s@%s:%d" % (user, HOST, self.srv.sip)
        hdrs = ["Contact: <sip:alice@%s:%d>" % (HOST, self.port),
                "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK"]
        if supported:
            hdrs.append("Supported: " + supported)
        hdrs += list(extra) + ["Content-Type: application/sdp"]
        t, self.branch = self._req("INVITE", self.ruri, 1, headers=hdrs,
                                   body=SDP_OFFER)
        return t

    def dialog(self, rsp):
        """(remote target, To tag) of the dialog a response makes."""
        c = contacts_of(rsp)
        check(c, "caller: %s without Contact" % rsp.first)
        tag = tag_param(rsp.get("to"))
        check(tag, "caller: %s without To tag" % rsp.first)
        return c[0][0], tag

    def prack(self, rsp, rack, body=None):
        """A PRACK for the reliable rsp with the RAck given; with body, the
        early-session answer.  Returns (time sent, its CSeq)."""
        target, tag = self.dialog(rsp)
        self.cseq += 1
        hdrs = ["RAck: %s" % rack]
        if body:
            hdrs += ["Content-Type: application/sdp",
                     "Content-Disposition: early-session"]
        t, _ = self._req("PRACK", target, self.cseq, to_tag=tag,
                         headers=hdrs, body=body or b"")
        return t, "%d PRACK" % self.cseq

    def ack(self, rsp):
        """The ACK of a 2xx: in the dialog, to its Contact."""
        target, tag = self.dialog(rsp)
        self.ok = rsp
        self._req("ACK", target, 1, to_tag=tag)

    def ack_error(self, rsp):
        """The ACK of a non-2xx final response: the INVITE's branch."""
        self._req("ACK", self.ruri, 1, to_tag=tag_param(rsp.get("to")),
                  branch=self.branch)

    def bye(self):
        target, tag = self.dialog(self.ok)
        self.cseq += 1
        self._req("BYE", target, self.cseq, to_tag=tag)
        _, _, r = self.response("%d BYE" % self.cseq)
        check(r.status == 200, "caller: BYE answered %s" % r.first)

    def cancel(self):
        t, _ = self._req("CANCEL", self.ruri, 1, branch=self.branch)
        return t

    def reliable_bt(self, timeout=5):
        """(index, time, msg, RSeq) of the reliable 18x, checked as
        clause 1.1.1.7 wants it."""
        i, t, r18 = self.wait(reliable_18x, timeout, what="reliable 18x")
        return i, t, r18, check_reliable_bt(r18, "caller's %d" % r18.status)

    def prack_ok(self, rsp, rack, body=None, what="PRACK"):
        """prack() and its response, which must be a 200.  Returns (time
        the PRACK was sent, index and time of the 200)."""
        t, cseq = self.prack(rsp, rack, body)
        k, t_ok, ok = self.response(cseq)
        check(ok.status == 200, "%s answered %s" % (what, ok.first))
        return t, k, t_ok

    def final(self, code, after, timeout=3.0):
        """The final response to the INVITE from index after on, which
        must be code, and its ACK.  Returns (index, time, msg)."""
        k, t, fin = self.response("1 INVITE", timeout, after)
        check(fin.status == code, "the INVITE ended %s, expected %d"
              % (fin.first, code))
        if code < 300:
            self.ack(fin)
        else:
            self.ack_error(fin)
        return k, t, fin

    def cancel_487(self, after):
        """CANCEL, its 200, then the INVITE's 487 and its ACK.  Returns
        the arrival of the 200 (CANCEL) and of the 487."""
        self.cancel()
        _, t_c, c200 = self.response("1 CANCEL")
        check(c200.status == 200, "CANCEL answered %s" % c200.first)
        _, t_fin, _ = self.final(487, after)
        return t_c, t_fin

    def barrier(self, timeout=3.0):
        """An OPTIONS to the server outside the call, and its 200.  The
        server handles the SIP messages of one socket in order on one
        loop, so whatever it sent this caller in answer to anything sent
        before is in self.msgs once the 200 is."""
        data, _, cid = self.request("OPTIONS",
                                    "sip:%s:%d" % (HOST, self.srv.sip))
        self.send_raw(data)
        self.wait(lambda m: m.status == 200 and m.get("call-id") == cid,
                  timeout, what="200 (OPTIONS) of the barrier")


def reliable_18x(msg):
    return (msg.status in (180, 183) and msg.cseq() == "1 INVITE" and
            msg.get("rseq") is not None)


def check_reliable_bt(msg, where):
    """The 18x of clause 1.1.1.7: Require 100rel and early-session, an
    RSeq; returns the RSeq."""
    req = tags_of(msg.all("require"))
    info("%s: %s, Require: %s, RSeq: %s" % (where, msg.first,
                                           ", ".join(msg.all("require")),
                                           msg.get("rseq")))
    check("100rel" in req and "early-session" in req,
          "%s: Require %r, expected 100rel and early-session"
          % (where, msg.all("require")))
    rseq = (msg.get("rseq") or "").strip()
    check(rseq.isdigit() and 1 <= int(rseq) < 2 ** 31,
          "%s: RSeq %r, expected 1..2^31-1" % (where, rseq))
    check(contacts_of(msg), "%s: no Contact" % where)
    return int(rseq)


def cancel_streaming(cl, sink, after):
    """CANCEL after 1.5 s of ringback: 200 (CANCEL), 487 to the INVITE
    (from index after on) and its ACK; the stream stops at once."""
    time.sleep(1.5)            # the scenario: ringback for 1.5 s, then CANCEL
    check(len(sink.packets()) > 40, "only %d RTP packets in 1.5 s "
          "before the CANCEL" % len(sink.packets()))
    t_c, t_fin = cl.cancel_487(after)
    info("487 %.0f ms after the 200 (CANCEL)" % ((t_fin - t_c) * 1000))
    rtp_stopped(sink, t_c, "ringback, CANCEL", cl.srv)


# ---- gateway mode (clauses 1.1.1.9 to 1.1.1.11, RFC 3960, RFC 5009) ------

GW_ALLOW = "INVITE, ACK, BYE, CANCEL, PRACK, UPDATE"
GW_ALLOW_NO_UPDATE = "INVITE, ACK, BYE, CANCEL, PRACK"
CODEC = {0: "PCMU", 8: "PCMA", 18: "G729"}


def gw_sdp(port, pts, version=1):
    """An SDP of the calling party: its RTP receiver at 127.0.0.1:port,
    the payload types pts in order of preference; version: the o= line's
    sess-version (the offer is 1, a later answer 2)."""
    lines = ["v=0", "o=alice 1 %d IN IP4 %s" % (version, HOST), "s=-",
             "c=IN IP4 %s" % HOST, "t=0 0",
             "m=audio %d RTP/AVP %s" % (port, " ".join(map(str, pts)))]
    lines += ["a=rtpmap:%d %s/8000" % (p, CODEC[p]) for p in pts
              if p in CODEC]
    lines.append("a=sendrecv")
    return ("\r\n".join(lines) + "\r\n").encode()


class GwCaller(AsCaller):
    """A calling party CMR client in gateway mode (clause 1.1.1.11): its
    INVITE has "P-Early-Media: supported", "Supported: 100rel" (without
    early-session) and an SDP offer toward the test's RTP receiver; it
    PRACKs the reliable 18x without a body and answers the server's
    UPDATE or re-INVITE itself.  Its reader thread is AsCaller's, which
    stamps every message with msg.src and msg.wall."""

    def invite(self, user, rtp_port, pts=(8, 0), pem="supported",
               supported="100rel", allow=GW_ALLOW):
        self.user = user
        self.ruri = "sip:%s@%s:%d" % (user, HOST, self.srv.sip)
        self.rtp_port = rtp_port
        hdrs = ["Contact: <sip:alice@%s:%d>" % (HOST, self.port)]
        if allow:
            hdrs.append("Allow: " + allow)
        if supported:
            hdrs.append("Supported: " + supported)
        if pem:
            hdrs.append("P-Early-Media: " + pem)
        hdrs.append("Content-Type: application/sdp")
        t, self.branch = self._req("INVITE", self.ruri, 1, headers=hdrs,
                                   body=gw_sdp(rtp_port, pts))
        return t

    def request_in(self, method, timeout, after=0, seen=()):
        """(index, time, msg) of the next request method from the server
        whose Via branch is not in seen (skips retransmissions)."""
        return self.wait(lambda m: m.status is None and
                         m.first.startswith(method + " ") and
                         via_branch(m) not in seen, timeout, after,
                         "%s request%s" % (method, " (a new one)"
                                           if seen else ""))

    def respond(self, req, code, reason, body=b""):
        """A response to a request of the server, sent back to where it
        came from; returns (monotonic, wall) of the send."""
        lines = ["SIP/2.0 %d %s" % (code, reason)]
        lines += ["Via: %s" % v for v in req.all("via")]
        lines += ["From: %s" % req.get("from"), "To: %s" % req.get("to"),
                  "Call-ID: %s" % req.get("call-id"),
                  "CSeq: %s" % req.cseq()]
        if code < 300:
            lines.append("Contact: <sip:alice@%s:%d>" % (HOST, self.port))
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        t, w = time.monotonic(), time.time()
        self.sock.sendto(data, req.src)
        return t, w

    def requests(self, method, after=0):
        with self.cv:
            return [m for _, m in self.msgs[after:] if m.status is None
                    and m.first.startswith(method + " ")]


def gw_callee(t, srv, scenario="uas_gw_answer.xml", ring_ms=2000, pt=8,
              hdr180="Subject: ringing"):
    """A sipp callee registered as bob; uas_gw_answer.xml answers with its
    own SDP (its media port, payload type pt) after ring_ms."""
    keys = {"ring_ms": ring_ms}
    if scenario == "uas_gw_answer.xml":
        keys.update(pt=pt, hdr180=hdr180)
    return as_callee(t, srv, scenario, **keys)


def gw_parties(t, *args, **kw):
    """The parties of a gateway mode call: (server, the callee of
    gw_callee with args and kw, an RtpSink for the caller's media,
    GwCaller)."""
    srv = t.server()
    callee = gw_callee(t, srv, *args, **kw)
    return srv, callee, RtpSink(), GwCaller(srv)


def check_gw_18x(r18, offer_pts, pt, where):
    """Clause 1.1.1.10: the provisional response to the caller carries an
    SDP answer to its offer pointing at the streamer, P-Early-Media:
    sendrecv, Require: 100rel and RSeq.  Returns (RSeq, the answer's
    audio stream, its origin)."""
    req = tags_of(r18.all("require"))
    info("%s: %s, Require: %s, RSeq: %s, P-Early-Media: %s"
         % (where, r18.first, ", ".join(r18.all("require")),
            r18.get("rseq"), r18.all("p-early-media")))
    check("100rel" in req, "%s: Require %r, expected 100rel"
          % (where, r18.all("require")))
    check("early-session" not in req, "%s: Require %r names early-session, "
          "which the caller never offered" % (where, r18.all("require")))
    rseq = (r18.get("rseq") or "").strip()
    check(rseq.isdigit() and 1 <= int(rseq) < 2 ** 31,
          "%s: RSeq %r, expected 1..2^31-1" % (where, rseq))
    check(pem_values(r18) == ["sendrecv"], "%s: P-Early-Media %r, expected "
          "exactly the server's own sendrecv" % (where,
                                                 r18.all("p-early-media")))
    check(contacts_of(r18), "%s: no Contact" % where)
    check(not r18.all("alert-info"), "%s: Alert-Info %r in gateway mode"
          % (where, r18.all("alert-info")))
    sdp = only_sdp(r18, where)
    m = sdp_media(sdp)
    info("%s: answer c=%s m=audio %d pts %s a=%s"
         % (where, m["addr"], m["port"], m["pts"], m["dir"]))
    check(m["addr"] == HOST, "%s: answer address %s, expected the "
          "server's %s" % (where, m["addr"], HOST))
    check(m["port"] > 0, "%s: answer port %d" % (where, m["port"]))
    check(m["pts"] and m["pts"][0] == pt, "%s: answer formats %s, expected "
          "%d first (the first offered codec we stream; offer %s)"
          % (where, m["pts"], pt, list(offer_pts)))
    check(set(m["pts"]) <= set(offer_pts) & {0, 8}, "%s: answer formats %s "
          "outside the offer %s or not PCMU/PCMA" % (where, m["pts"],
                                                    list(offer_pts)))
    check(m["dir"] in ("sendrecv", "sendonly"), "%s: answer direction %s, "
          "yet the server sends" % (where, m["dir"]))
    return int(rseq), m, sdp_origin(sdp, where)


def check_gw_events(rec, packets, seq, mode="gateway"):
    """The API's account of the CMRBT direction of a gateway-mode call:
    mode with its why, cmr-inserted, the stream's events, and the events
    of seq in that order (only this direction's and the call's)."""
    names = ev_names(rec.get("events", []))
    info("API events: %s" % " ".join(names))
    modes = events_of(rec, "mode", dir="bt")
    info("mode bt: %r" % (modes[-1] if modes else None))
    check(modes and modes[-1].get("mode") == mode and modes[-1].get("why"),
          "API: mode events for bt: %r, expected the last one mode %r with "
          "its why" % (modes, mode))
    check(rec.get("mode_bt") == mode, "API: mode_bt %r, expected %s"
          % (rec.get("mode_bt"), mode))
    if mode == "gateway" and "cmr-inserted" in seq:
        check(events_of(rec, "cmr-inserted", dir="bt", mode="gateway"),
              "API: no cmr-inserted event with dir bt mode gateway: %r"
              % events_of(rec, "cmr-inserted"))
    if packets is not None:
        started = events_of(rec, "rtp-started", dir="bt")
        stopped = events_of(rec, "rtp-stopped", dir="bt")
        check(started and stopped, "API: rtp-started %r, rtp-stopped %r "
              "for bt" % (started, stopped))
        check(len(started) == 1 and len(stopped) == 1, "API: %d "
              "rtp-started and %d rtp-stopped events, expected one each"
              % (len(started), len(stopped)))
        check(stopped[0].get("packets") == packets, "API: rtp-stopped says "
              "%r packets, %d arrived" % (stopped[0].get("packets"),
                                          packets))
    mine = [e.get("what") for e in rec.get("events", [])
            if e.get("dir") in (None, "bt")]
    check_events(mine, "API events (bt)", seq)
    check(names[-1] == "ended", "API: last event %r" % names[-1])
    check(rec.get("state") == "ended", "API: state %r" % rec.get("state"))


def gw_early_media(cl, sink, pts, pt, **invite):
    """INVITE (invite: more arguments of GwCaller.invite), the reliable
    18x with our answer, PRACK and its 200.  Returns (index of the 18x,
    its arrival, the 18x, the answer's audio, its origin)."""
    cl.invite("bob", sink.port, pts, **invite)
    i, t18, r18 = cl.wait(reliable_18x, 5, what="reliable 18x")
    rseq, ans, o1 = check_gw_18x(r18, pts, pt, "caller's %d" % r18.status)
    cl.prack_ok(r18, "%d 1 INVITE" % rseq)
    return i, t18, r18, ans, o1


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
