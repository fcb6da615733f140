#!/usr/bin/env python3
"""Integration tests of cmrlab: the built binary on real sockets.

Usage: python3 tests/integration/run.py --binary build/cmrlab [-k NAME]
       [--keep]

Every test starts its own server on free ports of 127.0.0.1 with its own
temporary directory and JSON event log, waits for the readiness line,
drives it with Python sockets, sipp (scenarios/*.xml) and curl, and then
stops it with SIGTERM: the server must exit 0 within 2 s, and that is
part of every test's verdict.  Each test prints "PASS name" or
"FAIL name: reason"; the last line is "N passed, M failed" and the exit
status is 1 when anything failed.

Only the Python standard library is used.  Every subprocess runs under a
timeout and is killed by its PID when a test ends, so one broken test
cannot hang the run or leave processes behind.
"""

import hashlib
import argparse
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(HERE, "scenarios")
HOST = "127.0.0.1"

READY_TIMEOUT = 5.0        # seconds from exec to the readiness line
SIGTERM_LIMIT = 2.0        # the contract's bound for a clean exit
SIPP_WAIT = 30.0           # wall-clock bound around every sipp run
CURL_TIMEOUT = 5

BINARY = None              # absolute path of the binary under test
PROCS = []                 # every Popen started, killed by PID at the end


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


# ---- SIP over Python sockets ----------------------------------------------

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


# ---- the tests -------------------------------------------------------------

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def options_udp_tcp(t):
    """OPTIONS over UDP and TCP is answered 200; /healthz answers 200."""
    srv = t.server()
    for tp in ("udp", "tcp"):
        cl = SipClient(srv, tp)
        try:
            rsp = cl.transact("OPTIONS", "sip:%s:%d" % (HOST, srv.sip))
        finally:
            cl.close()
        check(rsp.status == 200, "OPTIONS over %s: %s, expected 200"
              % (tp, rsp.first))
        via = rsp.get("via") or ""
        check(via.startswith("SIP/2.0/%s" % tp.upper()),
              "OPTIONS over %s: Via of the 200 is %r" % (tp, via))
        check(rsp.cseq() == "1 OPTIONS", "OPTIONS over %s: CSeq %r"
              % (tp, rsp.cseq()))
    st, _, _ = srv.http_get("/healthz")
    check(st == 200, "GET /healthz: %d, expected 200" % st)


@test
def register_bindings(t):
    """REGISTER: bind, refresh, query, two contacts, removal, wildcard,
    423 with Min-Expires, unknown subscriber 404, bindings in the API."""
    srv = t.server()
    c1 = "sip:bob@%s:%d" % (HOST, 41001)
    c2 = "sip:bob@%s:%d;transport=tcp" % (HOST, 41002)
    cid = new_id("reg")

    def uris(rsp):
        return {u: e for u, e in contacts_of(rsp)}

    r = register(srv, "bob", ["<%s>" % c1], 300, call_id=cid, cseq=1)
    check(r.status == 200, "bind: %s, expected 200" % r.first)
    got = uris(r)
    check(c1 in got, "bind: the 200 lists %s, not %s" % (got, c1))
    check(got[c1] is not None and 290 <= got[c1] <= 300,
          "bind: expires=%r, expected 290..300" % got[c1])

    r = register(srv, "bob", ["<%s>" % c1], 600, call_id=cid, cseq=2)
    check(r.status == 200, "refresh: %s, expected 200" % r.first)
    got = contacts_of(r)
    check([u for u, _ in got] == [c1],
          "refresh: the 200 lists %s, expected only %s" % (got, c1))
    check(got[0][1] is not None and 590 <= got[0][1] <= 600,
          "refresh: expires=%r, expected 590..600" % got[0][1])

    r = register(srv, "bob", call_id=new_id("q"))
    check(r.status == 200, "query: %s, expected 200" % r.first)
    check(set(uris(r)) == {c1}, "query: lists %s, expected %s"
          % (contacts_of(r), c1))

    r = register(srv, "bob", ["<%s>;expires=120" % c2], call_id=new_id("r2"))
    check(r.status == 200, "second contact: %s, expected 200" % r.first)
    got = uris(r)
    check(set(got) == {c1, c2},
          "second contact: the 200 lists %s, expected %s and %s"
          % (sorted(got), c1, c2))
    check(got[c2] is not None and 110 <= got[c2] <= 120,
          "second contact: expires=%r for %s, expected 110..120"
          % (got[c2], c2))

    r = register(srv, "bob", transport="tcp", call_id=new_id("qt"))
    check(r.status == 200 and set(uris(r)) == {c1, c2},
          "query over TCP: %s listing %s" % (r.first, contacts_of(r)))

    sub = srv.api_json("/api/v1/subscribers/bob")
    check(sub.get("id") == "bob", "API: id %r" % sub.get("id"))
    b = sub.get("bindings")
    check(isinstance(b, list), "API: bindings missing: %r" % sub)
    api_uris = sorted(x.get("uri") for x in b if isinstance(x, dict))
    check(api_uris == sorted([c1, c2]),
          "API: bindings %r, expected %s" % (api_uris, sorted([c1, c2])))

    r = register(srv, "bob", ["<%s>" % c1], 0, call_id=cid, cseq=3)
    check(r.status == 200, "remove one: %s, expected 200" % r.first)
    check(set(uris(r)) == {c2}, "remove one: the 200 lists %s, expected "
          "only %s" % (contacts_of(r), c2))
    api_uris = [x.get("uri") for x in
                srv.api_json("/api/v1/subscribers/bob").get("bindings", [])]
    check(api_uris == [c2], "API after removal: bindings %r, expected [%s]"
          % (api_uris, c2))

    r = register(srv, "bob", ["*"], 0, call_id=new_id("star"))
    check(r.status == 200, "Contact: *: %s, expected 200" % r.first)
    check(contacts_of(r) == [], "Contact: *: the 200 still lists %s"
          % contacts_of(r))
    r = register(srv, "bob", call_id=new_id("q2"))
    check(r.status == 200 and contacts_of(r) == [],
          "query after Contact: *: %s listing %s"
          % (r.first, contacts_of(r)))
    b = srv.api_json("/api/v1/subscribers/bob").get("bindings")
    check(b == [], "API after Contact: *: bindings %r, expected []" % b)

    r = register(srv, "bob", ["<%s>" % c1], 59, call_id=new_id("brief"))
    check(r.status == 423, "Expires: 59: %s, expected 423" % r.first)
    me = r.get("min-expires")
    check(me is not None and me.strip() == "60",
          "423 carries Min-Expires %r, expected 60" % me)
    r = register(srv, "bob", ["<%s>;expires=30" % c1],
                 call_id=new_id("brief2"))
    check(r.status == 423, "contact expires=30: %s, expected 423" % r.first)
    r = register(srv, "bob", ["<%s>" % c1], 60, call_id=new_id("ok60"))
    check(r.status == 200, "Expires: 60: %s, expected 200" % r.first)

    for user, code in (("eve", 404), ("1100", 404), ("1050", 200)):
        r = register(srv, user, ["<sip:%s@%s:41003>" % (user, HOST)], 300)
        check(r.status == code, "REGISTER %s: %s, expected %d"
              % (user, r.first, code))
    st, _, _ = srv.http_get("/api/v1/subscribers/eve")
    check(st == 404, "GET /api/v1/subscribers/eve: %d, expected 404" % st)


def call_record(srv, callee="bob"):
    """The most recent call record to callee from alice."""
    found = [c for c in srv.calls()
             if callee in str(c.get("callee")) and
             "alice" in str(c.get("caller"))]
    check(found, "GET /api/v1/calls has no call alice -> %s: %r"
          % (callee, srv.calls()))
    return found[-1]


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


@test
def call_http_mode(t):
    """HTTP-mode call: Alert-Info in the 180 and in the INVITE, BYE from
    the caller, the resource served with Range/ETag/HEAD, the call in the
    API and in the JSON log."""
    srv = t.server()
    callee, caller = run_call(t.tmp, srv)
    m = re.search(r"ringback_url=(\S+)", caller.logs())
    check(m, "caller log has no ringback_url: %r" % caller.logs())
    bt = m.group(1)
    m = re.search(r"ringtone_url=(\S+)", callee.logs())
    check(m, "callee log has no ringtone_url: %r" % callee.logs())
    rt = m.group(1)
    prefix = "http://%s:%d/r/" % (HOST, srv.http)
    check(bt.startswith(prefix + "ringback-default?call="),
          "CMRBT URL %r does not start with %sringback-default?call="
          % (bt, prefix))
    check(rt.startswith(prefix + "ringtone-default?call="),
          "CMRT URL %r does not start with %sringtone-default?call="
          % (rt, prefix))
    check("BYE" in caller.messages() and "BYE" in callee.messages(),
          "BYE missing from the traces")

    rec = call_record(srv)
    call_param = bt.split("call=", 1)[1].split("&")[0]
    check(call_param == rec.get("id"),
          "URL call=%r but the API call id is %r" % (call_param,
                                                     rec.get("id")))
    check_http_call_events(srv, rec, "caller")

    # The resource itself (CONTRACT.md, HTTP mode).
    st, h, body = curl(bt)
    check(st == 200, "GET %s: %d, expected 200" % (bt, st))
    check(h.get("content-type", "").split(";")[0].strip() == "audio/wav",
          "GET: Content-Type %r, expected audio/wav"
          % h.get("content-type"))
    total = len(body)
    check(h.get("content-length") == str(total),
          "GET: Content-Length %r but %d bytes came"
          % (h.get("content-length"), total))
    check(body[:4] == b"RIFF" and body[8:12] == b"WAVE",
          "GET: body is not RIFF/WAVE: %r" % body[:12])
    riff = int.from_bytes(body[4:8], "little")
    check(riff + 8 == total, "RIFF size %d + 8 != %d bytes" % (riff, total))
    try:
        w = wave.open(io.BytesIO(body))
        secs = w.getnframes() / float(w.getframerate())
    except (wave.Error, EOFError, ZeroDivisionError) as e:
        raise Fail("GET: not a readable WAV: %s" % e)
    check(secs >= 5.0, "ringback is %.2f s long, expected >= 5 s" % secs)
    etag = h.get("etag")
    check(etag, "GET: no ETag header")

    st, h2, part = curl(bt, "-H", "Range: bytes=0-99")
    check(st == 206, "Range 0-99: %d, expected 206" % st)
    check(part == body[:100], "Range 0-99: %d bytes, not the first 100"
          % len(part))
    check(h2.get("content-range") == "bytes 0-99/%d" % total,
          "Range 0-99: Content-Range %r, expected 'bytes 0-99/%d'"
          % (h2.get("content-range"), total))

    st, h3, b3 = curl(bt, "-H", "If-None-Match: %s" % etag)
    check(st == 304 and b3 == b"", "If-None-Match: %d with %d bytes, "
          "expected 304 and no body" % (st, len(b3)))

    st, _, _ = curl(bt, "-H", "Range: bytes=%d-" % (total + 1000))
    check(st == 416, "unsatisfiable Range: %d, expected 416" % st)

    st, _, _ = curl(prefix + "does-not-exist")
    check(st == 404, "GET /r/does-not-exist: %d, expected 404" % st)

    st, h4, b4 = curl(bt, "-I")
    check(st == 200, "HEAD: %d, expected 200" % st)
    check(h4.get("content-length") == str(total),
          "HEAD: Content-Length %r, expected %d"
          % (h4.get("content-length"), total))
    check(h4.get("content-type", "").startswith("audio/wav"),
          "HEAD: Content-Type %r" % h4.get("content-type"))
    # curl never reads a body after HEAD, so look at the raw bytes too.
    path = bt.split("%s:%d" % (HOST, srv.http), 1)[1]
    raw = raw_http(srv.http, ("HEAD %s HTTP/1.1\r\nHost: %s:%d\r\n"
                              "Connection: close\r\n\r\n"
                              % (path, HOST, srv.http)).encode())
    head, sep, rest = raw.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 200") and sep,
          "raw HEAD: %r" % raw[:80])
    check(rest == b"", "raw HEAD: %d bytes of body followed the headers"
          % len(rest))

    st, h5, b5 = curl(rt)
    check(st == 200 and b5[:4] == b"RIFF" and
          h5.get("content-type", "").startswith("audio/wav"),
          "GET CMRT URL: %d %r %r" % (st, h5.get("content-type"), b5[:4]))


@test
def bye_from_callee(t):
    """The callee hangs up: its BYE reaches the caller, both get 200."""
    srv = t.server()
    callee, caller = run_call(t.tmp, srv, uas="uas_answer_bye.xml",
                              uac="uac_call_wait_bye.xml", ring_ms=300)
    check(re.search(r"(?m)^BYE sip:", caller.messages()),
          "the caller trace has no BYE request")
    check("bye answered cseq=BYE" in callee.logs(),
          "the callee did not log the 200 for its BYE")
    rec = call_record(srv)
    check_http_call_events(srv, rec, "callee")


@test
def reject_unknown_and_unreachable(t):
    """Unknown user 404, known but unregistered 480 (UDP and TCP)."""
    srv = t.server()
    for tp in ("udp", "tcp"):
        cl = SipClient(srv, tp)
        try:
            for user, code in (("eve", 404), ("carol", 480), ("1100", 404),
                               ("1099", 480)):
                r = invite(cl, user)
                check(r.status == code, "INVITE %s over %s: %s, expected %d"
                      % (user, tp, r.first, code))
        finally:
            cl.close()
    # The ACKs were taken: no 404/480 retransmission is still pending
    # long after (Timer G would resend a non-2xx without ACK after 0.5 s).
    cl = SipClient(srv, "udp")
    try:
        r = invite(cl, "carol")
        check(r.status == 480, "INVITE carol: %s" % r.first)
        extra = cl.recv_msg(1.2)
        check(extra is None, "after the ACK the server still sent %r"
              % extra)
    finally:
        cl.close()


@test
def cancel_ringing(t):
    """CANCEL while the callee rings: 200 (CANCEL) and 487 (INVITE) on
    both legs."""
    srv = t.server()
    callee, caller = run_call(t.tmp, srv, uas="uas_ring_cancel.xml",
                              uac="uac_cancel.xml")
    logs = caller.logs()
    check("cancel answered cseq=1 CANCEL" in logs,
          "caller: no 200 for the CANCEL: %r" % logs)
    check("487" in logs, "caller: no 487 for the INVITE: %r" % logs)
    check(re.search(r"(?m)^CANCEL sip:", callee.messages()),
          "callee: no CANCEL arrived")
    rec = call_record(srv)
    names = ev_names(rec.get("events", []))
    check_events(names, "API events", ["received", "ringing", "cancelled",
                                       "ended"])
    check(rec.get("state") == "ended", "state %r" % rec.get("state"))


@test
def busy_486(t):
    """A callee's 486 Busy Here reaches the caller as 486."""
    srv = t.server()
    callee, caller = run_call(t.tmp, srv, uas="uas_busy.xml",
                              uac="uac_busy.xml")
    check("invite answered 486 cseq=1 INVITE" in caller.logs(),
          "caller: no 486: %r" % caller.logs())
    rec = call_record(srv)
    check(rec.get("state") == "ended", "state %r" % rec.get("state"))


def malformed_cases():
    """(name, bytes, allowed statuses) of bad messages; None = silence."""
    rnd = random.Random(1234)

    def req(lines, body=b""):
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def base(method="INVITE", drop=(), replace=None, extra=()):
        h = [
            "%s sip:bob@127.0.0.1 SIP/2.0" % method,
            "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK%s" % new_id("m"),
            "From: <sip:alice@127.0.0.1>;tag=%s" % new_id("t"),
            "To: <sip:bob@127.0.0.1>",
            "Call-ID: %s" % new_id("mal"),
            "CSeq: 1 %s" % method,
            "Max-Forwards: 70",
            "Content-Length: 0",
        ]
        h = [x for x in h if not any(x.startswith(d) for d in drop)]
        if replace:
            h = [replace.get(x.split(":", 1)[0], x) for x in h]
        return h[:-1] + list(extra) + h[-1:]

    ok = {400}
    cases = [
        ("truncated", req(base())[:60], ok),
        ("short body", req(base(replace={"Content-Length":
                                         "Content-Length: 500"}), b"v=0\r\n"),
         ok),
        ("no Call-ID", req(base(drop=("Call-ID",))), ok),
        ("no From tag", req(base(replace={
            "From": "From: <sip:alice@127.0.0.1>"})), ok),
        ("no From", req(base(drop=("From",))), ok),
        ("no To", req(base(drop=("To",))), ok),
        ("no CSeq", req(base(drop=("CSeq",))), ok),
        ("garbage CSeq", req(base(replace={"CSeq": "CSeq: abc INVITE"})), ok),
        ("CSeq method mismatch", req(base(replace={
            "CSeq": "CSeq: 1 BYE"})), ok),
        ("garbage Max-Forwards", req(base(replace={
            "Max-Forwards": "Max-Forwards: many"})), ok),
        ("bad Content-Length", req(base(replace={
            "Content-Length": "Content-Length: -5"})), ok),
        ("header without colon", req(base(extra=("NoColonHere",))), ok),
        ("bad request line", b"HELLO WORLD\r\n\r\n", ok),
        ("bad SIP version", req(base()).replace(b"SIP/2.0\r\n",
                                                b"SIP/7.0\r\n", 1), ok),
        ("bad Request-URI", req(base()).replace(b"sip:bob@127.0.0.1 ",
                                                b"::::@@@ ", 1), ok),
        ("random bytes", bytes(rnd.getrandbits(8) for _ in range(2000)),
         ok),
        ("NUL bytes", b"\x00" * 512, ok),
        ("bad REGISTER Contact", req(base("REGISTER", extra=(
            "Contact: <<<sip:",))), ok),
    ]
    return cases


def huge(size):
    pad = "X-Pad: " + "a" * size
    lines = [
        "OPTIONS sip:127.0.0.1 SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK%s" % new_id("h"),
        "From: <sip:alice@127.0.0.1>;tag=%s" % new_id("t"),
        "To: <sip:127.0.0.1>",
        "Call-ID: %s" % new_id("huge"),
        "CSeq: 1 OPTIONS",
        "Max-Forwards: 70",
        pad,
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def responses(sock, transport, timeout):
    """Statuses of every response that comes within timeout seconds."""
    cl = SipClient.__new__(SipClient)
    cl.sock, cl.transport, cl.buf = sock, transport, b""
    got = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        m = cl.recv_msg(left)
        if m is None:
            break
        got.append(m.status if m.status is not None else m.first)
    return got


@test
def malformed_sip(t):
    """Bad SIP over UDP and TCP gets 400 or silence, never a crash; the
    server then still answers OPTIONS and completes a call."""
    srv = t.server()
    problems = []
    hung = []
    # Fresh identifiers per transport: a repeated Call-ID, tag and CSeq
    # would rightly be taken as a merged request (482) instead.
    big = [("huge 60 KB over UDP", huge(60000), {400, 513}, "udp"),
           ("huge 70 KB over TCP", huge(70000), {400, 513}, "tcp")]
    plan = [(n, d, ok, tp) for tp in ("udp", "tcp")
            for n, d, ok in malformed_cases()] + big
    for name, data, ok, tp in plan:
        if tp == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((HOST, 0))
            try:
                s.sendto(data.replace(b"127.0.0.1:9;", ("127.0.0.1:%d;" %
                                      s.getsockname()[1]).encode()),
                         (HOST, srv.sip))
            except OSError as e:
                problems.append("%s/udp: send failed: %s" % (name, e))
                s.close()
                continue
        else:
            s = socket.create_connection((HOST, srv.sip), timeout=3)
            try:
                s.sendall(data.replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP"))
            except OSError:
                pass          # a server may close a connection early
        got = responses(s, tp, 0.3)
        bad = [g for g in got if g not in ok]
        info("%-24s %s: %s" % (name, tp, got or "no answer"))
        if bad:
            problems.append("%s over %s answered %s (allowed: %s or "
                            "nothing)" % (name, tp, got, sorted(ok)))
        if not srv.alive():
            raise Fail("server died after %s over %s (exit %s); stderr: %s"
                       % (name, tp, srv.proc.returncode, srv.stderr_tail()))
        if tp == "tcp" and name == "truncated":
            hung.append(s)    # left half-open on purpose until the end
        else:
            s.close()
    try:
        check(srv.alive(), "server is not running after the bad input")
        for tp in ("udp", "tcp"):
            cl = SipClient(srv, tp)
            try:
                r = cl.transact("OPTIONS", "sip:%s:%d" % (HOST, srv.sip))
            finally:
                cl.close()
            check(r.status == 200, "OPTIONS over %s after the bad input: "
                  "%s" % (tp, r.first))
        run_call(t.tmp, srv, ring_ms=200)
        check(srv.alive(), "server is not running after the call")
    finally:
        for s in hung:
            s.close()
    check(not problems, "; ".join(problems))


@test
def max_forwards_zero(t):
    """INVITE with Max-Forwards: 0 gets 483 and is not forwarded."""
    srv = t.server()
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind((HOST, 0))
    try:
        register_ok(srv, "bob", "sip:bob@%s:%d" % (HOST,
                                                  sink.getsockname()[1]))
        cl = SipClient(srv, "udp")
        try:
            r = invite(cl, "bob", max_forwards=0)
        finally:
            cl.close()
        check(r.status == 483, "INVITE with Max-Forwards: 0: %s, expected "
              "483" % r.first)
        sink.settimeout(0.5)
        try:
            data, _ = sink.recvfrom(70000)
            raise Fail("the INVITE was forwarded to the callee anyway: %r"
                       % data.split(b"\r\n", 1)[0])
        except socket.timeout:
            pass
    finally:
        sink.close()


@test
def tcp_call(t):
    """A call where caller and callee both use TCP."""
    srv = t.server()
    callee, caller = run_call(t.tmp, srv, transport="tcp", ring_ms=300)
    inv = re.search(r"(?ms)^INVITE sip:.*?\n\s*\n", callee.messages())
    check(inv and "SIP/2.0/TCP" in inv.group(0),
          "the INVITE to the callee did not come over TCP: %r"
          % (inv.group(0)[:300] if inv else None))
    check(re.search(r"ringback_url=http://", caller.logs()),
          "no Alert-Info URL over TCP")


PROFILE_V1 = """# integration test profile, version 1
subscriber alice mode=auto cmrbt=ringback-default cmrt=ringtone-default
subscriber bob mode=auto cmrbt=ringback-default cmrt=ringtone-default
"""
PROFILE_V2 = PROFILE_V1.replace("version 1", "version 2") + \
    "subscriber carol mode=auto cmrbt=ringback-default cmrt=ringtone-default\n"


@test
def sighup_reload(t):
    """SIGHUP during a ringing call reloads the profile; the call
    completes and the registrations survive."""
    prof = os.path.join(t.tmp, "cmrlab.profile")
    with open(prof, "w") as f:
        f.write(PROFILE_V1)
    srv = t.server(profile=prof)
    st, _, _ = srv.http_get("/api/v1/subscribers/carol")
    check(st == 404, "profile v1: carol answers %d, expected 404" % st)
    state = {}

    def during(callee, caller):
        srv.wait_call_state(("ringing",), timeout=5)
        tmp = prof + ".new"
        with open(tmp, "w") as f:
            f.write(PROFILE_V2)
        os.replace(tmp, prof)
        os.kill(srv.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            st, _, _ = srv.http_get("/api/v1/subscribers/carol")
            if st == 200:
                break
            time.sleep(0.05)
        state["carol"] = st
        state["bob"] = srv.api_json("/api/v1/subscribers/bob")
        state["contact"] = callee.contact
        check(srv.alive(), "server died on SIGHUP: %s" % srv.stderr_tail())

    run_call(t.tmp, srv, ring_ms=2500, during=during)
    check(state.get("carol") == 200, "after SIGHUP carol answers %r, "
          "expected 200 (profile not reloaded)" % state.get("carol"))
    uris = [b.get("uri") for b in state["bob"].get("bindings", [])]
    check(state["contact"] in uris, "after SIGHUP bob's bindings are %r, "
          "expected %s" % (uris, state["contact"]))
    # The surviving registration still routes: register nothing new and
    # call once more through it.
    uris = [b.get("uri") for b in
            srv.api_json("/api/v1/subscribers/bob").get("bindings", [])]
    check(state["contact"] in uris, "after the call bob's bindings are %r"
          % uris)
    cl = SipClient(srv, "udp")
    try:
        r = invite(cl, "carol")
        check(r.status == 480, "INVITE carol after reload: %s, expected 480"
              % r.first)
    finally:
        cl.close()


def run_cli(args, timeout=5):
    r = subprocess.run([BINARY] + args, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    return (r.returncode, r.stdout.decode("utf-8", "replace"),
            r.stderr.decode("utf-8", "replace"))


@test
def cli_exit_codes(t):
    """version and serve --help exit 0; bad usage and bad profiles exit 2
    with a message naming the file (and the line)."""
    rc, out, err = run_cli(["version"])
    check(rc == 0, "version: exit %d, expected 0" % rc)
    check(re.search(r"cmrlab \d+\.\d+", out), "version prints %r" % out)
    rc, out, err = run_cli(["serve", "--help"])
    check(rc == 0, "serve --help: exit %d, expected 0" % rc)
    check("--sip" in out, "serve --help does not describe --sip: %r"
          % out[:200])
    ports = ["--sip", "%s:%d" % (HOST, free_port()),
             "--http", "%s:%d" % (HOST, free_port())]
    try:
        rc, out, err = run_cli(["serve", "--no-such-option"] + ports)
    except subprocess.TimeoutExpired:
        raise Fail("serve --no-such-option kept running")
    check(rc == 2, "serve --no-such-option: exit %d, expected 2" % rc)
    try:
        rc, out, err = run_cli(["no-such-command"])
    except subprocess.TimeoutExpired:
        raise Fail("no-such-command kept running")
    check(rc == 2, "no-such-command: exit %d, expected 2" % rc)

    missing = os.path.join(t.tmp, "no-such-dir", "missing.profile")
    try:
        rc, out, err = run_cli(["serve", "--profile", missing] + ports)
    except subprocess.TimeoutExpired:
        raise Fail("serve with a missing profile kept running")
    check(rc == 2, "missing profile: exit %d, expected 2" % rc)
    check(missing in err, "missing profile: stderr does not name %s: %r"
          % (missing, err.strip()))
    check(out == "", "missing profile: printed %r on stdout" % out)

    bad = os.path.join(t.tmp, "bad.profile")
    with open(bad, "w") as f:
        f.write("# a bad profile\nsubscriber alice mode=auto\n"
                "frobnicate everything=yes\n")
    try:
        rc, out, err = run_cli(["serve", "--profile", bad] + ports)
    except subprocess.TimeoutExpired:
        raise Fail("serve with a bad profile kept running")
    check(rc == 2, "bad profile: exit %d, expected 2" % rc)
    check("%s:3" % bad in err, "bad profile: stderr does not name %s:3: %r"
          % (bad, err.strip()))

    for i, badopt in enumerate((["--sip", "nonsense"],
                                ["--http", "127.0.0.1:99999"],
                                ["--rtp-ports", "30000-20000"])):
        args = ["serve"] + badopt + (ports[2:] if badopt[0] == "--sip"
                                     else ports[:2])
        try:
            rc, out, err = run_cli(args)
        except subprocess.TimeoutExpired:
            raise Fail("serve %s kept running" % " ".join(badopt))
        check(rc == 2, "serve %s: exit %d, expected 2" % (" ".join(badopt),
                                                           rc))


@test
def sigterm_during_call(t):
    """SIGTERM during an established call: BYE to both parties, exit 0
    within 2 s."""
    srv = t.server()
    state = {}

    def during(callee, caller):
        srv.wait_call_state(("confirmed",), timeout=5)
        state["why"] = srv.stop()
        state["dt"] = srv.stopped[0]

    callee, caller = run_call(t.tmp, srv, uac="uac_call_wait_bye.xml",
                              ring_ms=300, during=during)
    check(state.get("why") is None, state.get("why") or "")
    check(re.search(r"(?m)^BYE sip:", caller.messages()),
          "the caller got no BYE")
    check(re.search(r"(?m)^BYE sip:", callee.messages()),
          "the callee got no BYE")


@test
def call_limit_and_sigterm_while_ringing(t):
    """Over --max-calls a new INVITE gets 503 with Retry-After; SIGTERM
    while a call rings gives the caller a final 503 and the callee a
    CANCEL, and the server exits 0 within 2 s."""
    srv = t.server(extra=("--max-calls", "1"))
    # The callee: a bare UDP socket that receives and never answers.
    callee = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    callee.bind((HOST, 0))
    callee.settimeout(3)
    try:
        register_ok(srv, "bob", "sip:bob@%s:%d" % (HOST,
                                                  callee.getsockname()[1]))
        a = SipClient(srv)
        b = SipClient(srv)
        try:
            data, _, cid1 = a.request(
                "INVITE", "sip:bob@%s:%d" % (HOST, srv.sip), to_user="bob",
                headers=["Contact: <sip:alice@%s:%d>" % (HOST, a.port),
                         "Content-Type: application/sdp"], body=SDP_OFFER)
            a.send_raw(data)
            first = a.recv_msg(3)
            check(first is not None and first.status == 100,
                  "first call: no 100 Trying (%r)" % first)
            inv, src = callee.recvfrom(65535)
            inv = inv.decode("utf-8", "replace")
            check(inv.startswith("INVITE "), "callee got %r" % inv[:40])
            # Ring (RFC 3261 9.1: no CANCEL before a provisional).
            hdrs = [l for l in inv.split("\r\n")
                    if re.match(r"(?i)(via|from|to|call-id|cseq):", l)]
            hdrs = [l + ";tag=ring1" if l.lower().startswith("to:") else l
                    for l in hdrs]
            callee.sendto(("SIP/2.0 180 Ringing\r\n" + "\r\n".join(hdrs)
                           + "\r\nContent-Length: 0\r\n\r\n").encode(),
                          src)
            ring = None
            while ring is None or ring.status == 100:
                ring = a.recv_msg(3)
                check(ring is not None, "the caller got no 180")
            check(ring.status == 180, "caller got %s, expected 180"
                  % ring.first)

            r = invite(b, "bob")
            check(r.status == 503, "second call: %s, expected 503"
                  % r.first)
            check(r.get("retry-after") is not None,
                  "503 without Retry-After")

            why = srv.stop()
            check(why is None, why or "")
            fin = a.final_response(cid1, "INVITE", 3)
            check(fin.status == 503, "ringing call on SIGTERM: %s, "
                  "expected 503" % fin.first)
            got_cancel = False
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and not got_cancel:
                try:
                    m = callee.recv(65535).decode("utf-8", "replace")
                except socket.timeout:
                    break
                got_cancel = m.startswith("CANCEL ")
            check(got_cancel, "the callee got no CANCEL on SIGTERM")
        finally:
            a.close()
            b.close()
    finally:
        callee.close()


def digest(user, password, method, uri, nonce, cnonce="0a4f113b"):
    h = lambda x: hashlib.md5(x.encode()).hexdigest()
    ha1 = h("%s:cmrlab:%s" % (user, password))
    ha2 = h("%s:%s" % (method, uri))
    resp = h("%s:%s:00000001:%s:auth:%s" % (ha1, nonce, cnonce, ha2))
    return ('Digest username="%s", realm="cmrlab", nonce="%s", uri="%s", '
            'response="%s", algorithm=MD5, qop=auth, nc=00000001, '
            'cnonce="%s"' % (user, nonce, uri, resp, cnonce))


@test
def digest_auth(t):
    """A subscriber with a password: REGISTER gets 401 and INVITE 407
    until the digest is right; others are not challenged."""
    prof = os.path.join(t.tmp, "auth.profile")
    with open(prof, "w") as f:
        f.write("subscriber alice\nsubscriber bob\n"
                "subscriber dave password=\"s3 cret\"\n")
    srv = t.server(profile=prof)
    ruri = "sip:%s:%d" % (HOST, srv.sip)
    contact = ["<sip:dave@%s:41007>" % HOST]

    r = register(srv, "dave", contact, 300, call_id=new_id("a"))
    check(r.status == 401, "REGISTER without credentials: %s" % r.first)
    chal = r.get("www-authenticate") or ""
    m = re.search(r'nonce="([^"]+)"', chal)
    check(m and 'realm="cmrlab"' in chal and "qop" in chal,
          "bad challenge %r" % chal)
    nonce = m.group(1)

    bad = digest("dave", "wrong", "REGISTER", ruri, nonce)
    r = register(srv, "dave", contact, 300, call_id=new_id("b"),
                 extra=["Authorization: " + bad])
    check(r.status == 401, "REGISTER with a wrong password: %s" % r.first)

    good = digest("dave", "s3 cret", "REGISTER", ruri, nonce)
    r = register(srv, "dave", contact, 300, call_id=new_id("c"),
                 extra=["Authorization: " + good])
    check(r.status == 200, "REGISTER with credentials: %s" % r.first)

    cl = SipClient(srv)
    try:
        r = invite(cl, "bob", from_user="dave")
        check(r.status == 407, "INVITE without credentials: %s" % r.first)
        chal = r.get("proxy-authenticate") or ""
        m = re.search(r'nonce="([^"]+)"', chal)
        check(m, "407 without Proxy-Authenticate nonce: %r" % chal)
        inv_uri = "sip:bob@%s:%d" % (HOST, srv.sip)
        cred = digest("dave", "s3 cret", "INVITE", inv_uri, m.group(1))
        r = invite(cl, "bob", from_user="dave", cseq=2,
                   headers=["Proxy-Authorization: " + cred])
        # Authenticated, routed: bob has no contact, so 480.
        check(r.status == 480, "authenticated INVITE: %s, expected 480"
              % r.first)
        r = invite(cl, "bob", from_user="alice")
        check(r.status == 480, "INVITE from alice: %s, expected 480"
              % r.first)
    finally:
        cl.close()



def pcap_read(path):
    """Every packet of a classic pcap file of link type RAW (101), as
    (time, src, sport, dst, dport, SipMsg), with the IPv4 header checksum,
    the lengths and the UDP checksum checked on the way."""
    with open(path, "rb") as f:
        data = f.read()
    check(len(data) >= 24, "%s: %d bytes, no pcap header" % (path, len(data)))
    if data[:4] == b"\xd4\xc3\xb2\xa1":
        e = "<"
    elif data[:4] == b"\xa1\xb2\xc3\xd4":
        e = ">"
    else:
        raise Fail("%s: magic %r is not a classic pcap" % (path, data[:4]))
    vmaj, vmin, _, _, snap, link = struct.unpack(e + "HHiIII", data[4:24])
    check((vmaj, vmin, snap, link) == (2, 4, 65535, 101),
          "pcap header: version %d.%d, snaplen %d, linktype %d; expected "
          "2.4, 65535, 101" % (vmaj, vmin, snap, link))

    def csum(b):
        if len(b) & 1:
            b += b"\0"
        acc = sum(struct.unpack("!%dH" % (len(b) // 2), b))
        while acc >> 16:
            acc = (acc & 0xffff) + (acc >> 16)
        return acc

    out = []
    off = 24
    while off < len(data):
        check(off + 16 <= len(data), "pcap: record header cut at %d" % off)
        sec, usec, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        check(len(pkt) == incl and incl == orig,
              "pcap record at %d: %d of %d/%d bytes" % (off, len(pkt), incl,
                                                        orig))
        off += 16 + incl
        if pkt[0] >> 4 == 4:
            check(pkt[0] == 0x45 and pkt[9] == 17,
                  "pcap: IPv4 header %r" % pkt[:20])
            check(struct.unpack("!H", pkt[2:4])[0] == len(pkt),
                  "pcap: IPv4 total length is not the packet's")
            check(csum(pkt[:20]) == 0xffff, "pcap: bad IPv4 header checksum")
            af, a, b, udp = socket.AF_INET, pkt[12:16], pkt[16:20], pkt[20:]
            pseudo = a + b + struct.pack("!BBH", 0, 17, len(udp))
        elif pkt[0] >> 4 == 6:
            check(pkt[6] == 17 and
                  struct.unpack("!H", pkt[4:6])[0] == len(pkt) - 40,
                  "pcap: IPv6 header %r" % pkt[:40])
            af, a, b, udp = socket.AF_INET6, pkt[8:24], pkt[24:40], pkt[40:]
            pseudo = a + b + struct.pack("!I3xB", len(udp), 17)
        else:
            raise Fail("pcap: packet is neither IPv4 nor IPv6: %r" % pkt[:8])
        sport, dport, ulen, ucs = struct.unpack("!HHHH", udp[:8])
        check(ulen == len(udp), "pcap: UDP length %d of %d bytes"
              % (ulen, len(udp)))
        check(ucs == 0 or csum(pseudo + udp) == 0xffff,
              "pcap: bad UDP checksum %#x" % ucs)
        out.append((sec + usec / 1e6, socket.inet_ntop(af, a), sport,
                    socket.inet_ntop(af, b), dport, SipMsg(udp[8:])))
    return out


@test
def pcap_capture(t):
    """serve --pcap: every SIP message the server sends or receives (UDP
    and TCP) is one UDP packet of the capture, readable while it runs."""
    path = os.path.join(t.tmp, "sip.pcap")
    srv = t.server(extra=("--pcap", path))
    register_ok(srv, "alice", "sip:alice@%s:%d" % (HOST, 41005))

    # Flushed per packet: the REGISTER and its 200 are there already.
    pk = pcap_read(path)
    check([p[5].first.split(" ")[0] for p in pk] == ["REGISTER", "SIP/2.0"]
          and pk[0][4] == srv.sip and pk[1][2] == srv.sip
          and pk[1][5].status == 200,
          "capture after one REGISTER: %r" % [(p[2], p[4], p[5].first)
                                               for p in pk])

    cl = SipClient(srv, "tcp")
    try:
        rsp = cl.transact("OPTIONS", "sip:%s:%d" % (HOST, srv.sip))
    finally:
        cl.close()
    check(rsp.status == 200, "OPTIONS over TCP: %s" % rsp.first)

    run_call(t.tmp, srv, ring_ms=300)
    why = srv.stop()
    check(why is None, why)

    pk = pcap_read(path)
    ladder = ["%s:%d>%s:%d %s" % (p[1], p[2], p[3], p[4], p[5].first)
              for p in pk]
    info("pcap: %d packets" % len(pk))
    for p in pk:
        check(srv.sip in (p[2], p[4]) and p[1] == HOST and p[3] == HOST,
              "packet not to or from the server's %s:%d: %s"
              % (HOST, srv.sip, ladder[pk.index(p)]))
        # One whole message per packet: the body is Content-Length long.
        clen = p[5].get("content-length")
        check(clen is not None and int(clen) == len(p[5].body),
              "packet %r: Content-Length %r, body %d bytes"
              % (p[5].first, clen, len(p[5].body)))
    times = [p[0] for p in pk]
    check(times == sorted(times) and abs(times[-1] - time.time()) < 60,
          "packet times are not in order or not now: %r" % times[:3])

    def find(what, rx, cseq=None, header=None, after=0):
        for i, p in enumerate(pk[after:], after):
            m = p[5]
            name = str(m.status) if m.status else m.first.split(" ")[0]
            if name != what or (p[4] == srv.sip) != rx:
                continue
            if cseq and not m.cseq().endswith(" " + cseq):
                continue
            if header and not m.get(header):
                continue
            return i
        raise Fail("no %s %s the server%s in the capture: %s"
                   % (what, "to" if rx else "from",
                      " with " + header if header else "",
                      " / ".join(ladder)))

    find("REGISTER", True)
    find("200", False, "REGISTER")
    find("OPTIONS", True)
    find("200", False, "OPTIONS")
    inv = find("INVITE", True)
    out = find("INVITE", False, header="alert-info", after=inv)
    find("180", True, "INVITE", after=out)
    r180 = find("180", False, "INVITE", header="alert-info", after=out)
    find("200", True, "INVITE", after=out)
    ok = find("200", False, "INVITE", after=r180)
    ack = find("ACK", True, after=ok)
    find("ACK", False, after=out)
    bye = find("BYE", True, after=ack)
    find("BYE", False, after=bye)
    find("200", False, "BYE", after=bye)
    find("200", True, "BYE", after=bye)

    # tshark is not a dependency; when it is there, it must read the file
    # as SIP (the server's port is not 5060, hence the decode-as).
    if shutil.which("tshark"):
        r = subprocess.run(["tshark", "-r", path, "-n",
                            "-d", "udp.port==%d,sip" % srv.sip, "-Y", "sip",
                            "-T", "fields", "-e", "sip.Method",
                            "-e", "sip.Status-Code"],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=60)
        rows = r.stdout.decode("utf-8", "replace").split()
        check(r.returncode == 0 and len(r.stdout.splitlines()) == len(pk),
              "tshark: exit %d, %d SIP packets of %d: %s"
              % (r.returncode, len(r.stdout.splitlines()), len(pk),
                 r.stderr.decode("utf-8", "replace")[-300:]))
        for want in ("REGISTER", "INVITE", "ACK", "BYE", "180", "200"):
            check(want in rows, "tshark did not decode a %s: %r"
                  % (want, rows))


# ---- the runner ------------------------------------------------------------

class Ctx:
    def __init__(self, name, keep):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="cmrlab-it-%s-" % name)
        self.servers = []
        self.keep = keep

    def server(self, **kw):
        srv = Server(self.tmp, "server%d" % len(self.servers)
                     if self.servers else "server", **kw)
        self.servers.append(srv)
        return srv.start()


def run_one(fn, keep):
    t = Ctx(fn.__name__, keep)
    why = None
    try:
        fn(t)
    except Fail as e:
        why = str(e)
    except subprocess.TimeoutExpired as e:
        why = "subprocess timed out: %s" % e
    except Exception as e:          # a bug in the test is a failure too
        why = "%s: %s" % (type(e).__name__, e)
    for srv in t.servers:
        stop_why = srv.stop()
        if stop_why and not why:
            why = stop_why
        elif stop_why:
            why += "; " + stop_why
    if why:
        for srv in t.servers:
            tail = srv.stderr_tail(6)
            if tail:
                info("server stderr: " + tail)
    kill_all()
    if why or keep:
        info("files kept in " + t.tmp)
    else:
        shutil.rmtree(t.tmp, ignore_errors=True)
    return why


def main():
    global BINARY
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("-k", dest="pattern", default=None,
                    help="run only tests whose name contains this")
    ap.add_argument("--keep", action="store_true",
                    help="keep every test's temporary files")
    args = ap.parse_args()
    BINARY = os.path.abspath(args.binary)
    if not os.access(BINARY, os.X_OK):
        print("FAIL setup: %s is not an executable" % BINARY)
        print("0 passed, 1 failed")
        return 1
    for tool in ("sipp", "curl"):
        if not shutil.which(tool):
            print("FAIL setup: %s is not installed" % tool)
            print("0 passed, 1 failed")
            return 1
    tests = [f for f in TESTS if not args.pattern or
             args.pattern in f.__name__]
    passed = failed = 0
    t0 = time.monotonic()
    try:
        for fn in tests:
            why = run_one(fn, args.keep)
            if why:
                failed += 1
                print("FAIL %s: %s" % (fn.__name__,
                                       " ".join(why.split("\n"))))
            else:
                passed += 1
                print("PASS %s" % fn.__name__)
            sys.stdout.flush()
    finally:
        kill_all()
    info("total %.1f s" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
