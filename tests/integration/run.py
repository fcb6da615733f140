#!/usr/bin/env python3
"""Integration tests of cmrlab: the built binary on real sockets.

Usage: python3 tests/integration/run.py --binary build/cmrlab [-k NAME]
       [--keep] [--slow]

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
import datetime
import io
import json
import os
import random
import re
import select
import shutil
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


# ---- application server mode (RFC 3959, OMA CMR clause 1.1.1.7) ----------

STOP_LIMIT = 0.3           # RTP must end this soon after the final response
RATE_RANGE = (35, 65)      # packets per second, loose around 50


class RtpSink:
    """An RTP receiver on an even UDP port and its RTCP port above.

    A thread reads both sockets and stamps every packet with its arrival
    time: time.monotonic(), the clock of AsCaller's messages, and
    time.time(), the clock of sipp's traces.
    """

    def __init__(self):
        self.port = free_udp_block(2)
        self.rtp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtcp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp_sock.bind((HOST, self.port))
        self.rtcp_sock.bind((HOST, self.port + 1))
        self.rtp = []              # (monotonic, wall, src, bytes)
        self.rtcp = []
        self.lock = threading.Lock()
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
                    (self.rtp if s is self.rtp_sock else
                     self.rtcp).append(rec)

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


def rtp_stopped(sink, t_final, what, settle=0.6):
    """The last RTP packet came no later than STOP_LIMIT after t_final
    (a time.monotonic() of the message that must have stopped it).  Waits
    settle seconds first, so that a stream still running shows."""
    time.sleep(max(0.0, t_final + settle - time.monotonic()))
    pkts = sink.packets()
    check(pkts, "%s: no RTP packet arrived at all" % what)
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


def rtcp_parse(data):
    """[(packet type, ssrc)] of the packets of one compound RTCP packet."""
    out, off = [], 0
    while off + 4 <= len(data):
        b0, ptype, words = struct.unpack("!BBH", data[off:off + 4])
        check(b0 >> 6 == 2, "RTCP version %d" % (b0 >> 6))
        ssrc = (struct.unpack("!I", data[off + 4:off + 8])[0]
                if off + 8 <= len(data) else None)
        out.append((ptype, ssrc, data[off:off + 4 * (words + 1)]))
        off += 4 * (words + 1)
    check(off == len(data), "RTCP compound of %d bytes: lengths add up to %d"
          % (len(data), off))
    return out


# -- message bodies --

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


def sdp_answer(port, pt, user="alice"):
    """An early-session SDP answer: receive only, one codec."""
    name = {0: "PCMU", 8: "PCMA"}[pt]
    return ("v=0\r\no=%s 2 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP %d\r\na=rtpmap:%d %s/8000\r\na=recvonly\r\n"
            % (user, HOST, HOST, port, pt, pt, name)).encode()


def tags_of(value):
    return set(t.strip().lower() for v in value for t in v.split(",")
               if t.strip())


def tag_param(value):
    m = re.search(r";\s*tag=([^;>\s]+)", value or "")
    return m.group(1) if m else None


def early_offer(msg, with_session, where):
    """Checks the CMR server's early-session offer in msg; returns the
    offer's audio stream.  with_session: a session SDP goes with it, so
    the body is multipart/mixed, else plain application/sdp."""
    parts = body_parts(msg)
    ctype = (msg.get("content-type") or "").split(";")[0].strip().lower()
    info("%s: Content-Type %s, parts %s" % (where, ctype or None,
                                            [(p[0], p[1]) for p in parts]))
    early = [p for p in parts if p[0] == "application/sdp" and
             p[1] == "early-session"]
    session = [p for p in parts if p[0] == "application/sdp" and
               p[1] in (None, "session")]
    check(len(early) == 1, "%s: %d early-session SDP part(s), expected 1; "
          "parts %s" % (where, len(early), [(p[0], p[1]) for p in parts]))
    if with_session:
        check(ctype == "multipart/mixed", "%s: Content-Type %r, expected "
              "multipart/mixed (session and early-session SDP)"
              % (where, ctype))
        check(len(session) == 1, "%s: %d session SDP part(s), expected 1"
              % (where, len(session)))
    else:
        check(ctype == "application/sdp" and
              disposition(msg.get("content-disposition")) ==
              "early-session",
              "%s: Content-Type %r, Content-Disposition %r; expected "
              "application/sdp and early-session (no session SDP to go "
              "with it)" % (where, ctype, msg.get("content-disposition")))
        check(not session, "%s: a session SDP that nobody sent" % where)
    m = sdp_media(early[0][2])
    check(m["port"] > 0 and m["port"] % 2 == 0,
          "%s: early-session offer on port %d" % (where, m["port"]))
    check(0 in m["pts"] and 8 in m["pts"], "%s: early-session offer "
          "formats %s, expected PCMU (0) and PCMA (8)" % (where, m["pts"]))
    check(m["dir"] == "sendonly", "%s: early-session offer is %s, "
          "expected sendonly" % (where, m["dir"]))
    check(m["addr"] == HOST, "%s: early-session offer address %s"
          % (where, m["addr"]))
    return m


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


def as_callee(t, srv, scenario, **keys):
    """A sipp callee registered as bob."""
    callee = Sipp(t.tmp, scenario, "callee", keys=keys)
    callee.wait_listening()
    register_ok(srv, "bob", callee.contact)
    return callee


def as_parties(t, scenario, **keys):
    """The parties of an application server mode call: (server, the
    callee of as_callee, an RtpSink for the caller's media, AsCaller)."""
    srv = t.server()
    callee = as_callee(t, srv, scenario, **keys)
    return srv, callee, RtpSink(), AsCaller(srv)


def callee_done(callee):
    rc = callee.wait(10.0)
    why = callee.verdict(rc)
    check(why is None, why or "")


def callee_got(callee, method):
    """Checks that the sipp callee received a request method."""
    check(any(d == "<-" and m.first.startswith(method + " ")
              for d, m, _ in sipp_trace(callee)),
          "the callee got no %s" % method)


def cancel_streaming(cl, sink, after):
    """CANCEL after 1.5 s of ringback: 200 (CANCEL), 487 to the INVITE
    (from index after on) and its ACK; the stream stops at once."""
    time.sleep(1.5)
    check(len(sink.packets()) > 40, "only %d RTP packets in 1.5 s "
          "before the CANCEL" % len(sink.packets()))
    t_c, t_fin = cl.cancel_487(after)
    info("487 %.0f ms after the 200 (CANCEL)" % ((t_fin - t_c) * 1000))
    rtp_stopped(sink, t_c, "ringback, CANCEL")


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


def check_as_events(rec, d, pt, packets, final):
    """The API's account of one direction d ("bt" or "rt") of an
    application server mode call: its events in order, the packet count
    of rtp-stopped against what arrived, final: the event that follows
    rtp-stopped (None: none in particular)."""
    names = ev_names(rec.get("events", []))
    info("API events: %s" % " ".join(names))
    modes = events_of(rec, "mode", dir=d)
    check(modes and modes[-1].get("mode") == "as" and modes[-1].get("why"),
          "API: mode events for %s: %r, expected the last one mode \"as\" "
          "with its why" % (d, modes))
    check(rec.get("mode_" + d) == "as", "API: mode_%s %r, expected as"
          % (d, rec.get("mode_" + d)))
    ins = events_of(rec, "cmr-inserted", dir=d, mode="as")
    check(ins, "API: no cmr-inserted event with dir %s mode as" % d)
    esa = events_of(rec, "early-session-answer", dir=d)
    check(esa and esa[0].get("usable") is True and esa[0].get("pt") == pt,
          "API: early-session-answer for %s: %r, expected usable, pt %d"
          % (d, esa, pt))
    started = events_of(rec, "rtp-started", dir=d)
    stopped = events_of(rec, "rtp-stopped", dir=d)
    check(started and stopped, "API: rtp-started %r, rtp-stopped %r for %s"
          % (started, stopped, d))
    check(stopped[0].get("packets") == packets,
          "API: rtp-stopped says %r packets, %d arrived"
          % (stopped[0].get("packets"), packets))
    if d == "bt":
        seq = ["mode", "cmr-inserted", "prack", "early-session-answer",
               "rtp-started", "rtp-stopped", final, "ended"]
    else:
        seq = ["mode", "prack-sent", "cmr-inserted", "prack-answered",
               "early-session-answer", "rtp-started", "rtp-stopped", final,
               "ended"]
        sent = events_of(rec, "prack-sent")
        check(sent and sent[0].get("early_session_offer") is True,
              "API: prack-sent %r, expected early_session_offer true" % sent)
        ans = events_of(rec, "prack-answered")
        check(ans and ans[0].get("code") == 200,
              "API: prack-answered %r, expected code 200" % ans)
    # Only this direction's events count for the order.
    mine = [e.get("what") for e in rec.get("events", [])
            if e.get("dir") in (None, d)]
    check_events(mine, "API events (%s)" % d, [w for w in seq if w])
    check(rec.get("state") == "ended", "API: state %r" % rec.get("state"))


SLOW_TESTS = set()


def slow_test(fn):
    """A test too slow for every run: it runs only with --slow."""
    SLOW_TESTS.add(fn)
    return test(fn)


def as_early_media(cl, sink, pt, offer=False):
    """INVITE, the reliable 18x (offer: its early-session offer checked
    too), the PRACK with our answer for payload type pt and its 200.
    Returns the index of the 18x."""
    cl.invite("bob")
    i, _, r18, rseq = cl.reliable_bt()
    if offer:
        early_offer(r18, False, "caller's %d" % r18.status)
    cl.prack_ok(r18, "%d 1 INVITE" % rseq, sdp_answer(sink.port, pt))
    return i


def as_bt_ringback(t, pt, ring_ms, scenario="uas_answer.xml",
                   with_session=False, rtcp=False):
    """Clause 1.1.1.7, CMRBT: the reliable 18x with the early-session
    offer, the PRACK with the answer, RTP to the caller's receiver until
    the callee's 200, then ACK and BYE; the API's account of it."""
    srv, callee, sink, cl = as_parties(t, scenario, ring_ms=ring_ms)
    try:
        cl.invite("bob")
        i, _, r18, rseq = cl.reliable_bt()
        offer = early_offer(r18, with_session, "caller's %d" % r18.status)
        check(not sink.packets(), "RTP arrived before the PRACK")
        t_prack, _, t_pok = cl.prack_ok(r18, "%d 1 INVITE" % rseq,
                                        sdp_answer(sink.port, pt))
        _, t_fin, _ = cl.final(200, i, ring_ms / 1000.0 + 5)
        delta = rtp_stopped(sink, t_fin, "ringback")
        pkts = sink.packets()
        info("first RTP packet %.0f ms after the PRACK was sent"
             % ((pkts[0][0] - t_prack) * 1000))
        check(pkts[0][0] - t_prack < 0.3, "the first RTP packet came %.0f "
              "ms after the PRACK, expected at once"
              % ((pkts[0][0] - t_prack) * 1000))
        st = rtp_analyse(pkts, pt, "ringback",
                         src=(offer["addr"], offer["port"]))
        ringing = t_fin - t_pok
        check(st["n"] >= 35 * (ringing - 0.4), "%d packets in %.2f s of "
              "ringing" % (st["n"], ringing))
        if rtcp:
            rtcp_check(sink, st, t_fin)
        retx = [m for _, m in cl.msgs[i + 1:] if reliable_18x(m)]
        check(not retx, "the reliable 18x came again after its PRACK: %d "
              "time(s)" % len(retx))
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    rec = call_of(srv, cl.call_id)
    check_as_events(rec, "bt", pt, st["n"], "answered")
    check(events_of(rec, "prack") and
          events_of(rec, "prack")[0].get("early_session") is True,
          "API: prack event %r, expected early_session true"
          % events_of(rec, "prack"))
    info("figures: %.1f packets/s, stop %+.0f ms" % (st["rate"],
                                                     delta * 1000))
    return srv, rec


def rtcp_check(sink, st, t_fin):
    """Sender reports at the RTCP port during a ringing of more than 5 s:
    PT 200 from the stream's SSRC, RFC 3550 intervals around 5 s."""
    srs = []
    for t, _, _, d in sink.reports():
        pk = rtcp_parse(d)
        check(pk[0][0] == 200, "RTCP compound starts with PT %d, expected "
              "200 (SR)" % pk[0][0])
        check(pk[0][1] == st["ssrc"], "RTCP SR from SSRC %08x, the RTP "
              "stream is %08x" % (pk[0][1], st["ssrc"]))
        bye = any(p[0] == 203 for p in pk)
        n_sent = struct.unpack("!I", pk[0][2][20:24])[0]
        srs.append((t, bye, n_sent, [p[0] for p in pk]))
    info("RTCP: %s" % ["%+.2f s %s count=%d" % (t - st["first"], types,
                                                n) for t, _, n, types
                       in srs])
    during = [s for s in srs if s[0] <= t_fin and not s[1]]
    check(during, "no RTCP sender report during %.1f s of ringing"
          % (st["last"] - st["first"]))
    for a, b in zip(during, during[1:]):
        check(2.5 <= b[0] - a[0] <= 7.5, "RTCP SRs %.2f s apart, expected "
              "about 5 s" % (b[0] - a[0]))
    for t, _, n, _ in srs:
        have = sum(1 for p in sink.packets() if p[0] <= t + 0.05)
        check(n <= have + 1, "RTCP SR counts %d packets sent, %d had "
              "arrived" % (n, have))


@test
def as_ringback_pcmu(t):
    """CMRBT in application server mode: a reliable 180 with Require
    100rel and early-session and a plain early-session SDP offer; the
    PRACK's answer (PCMU) starts RTP to the caller's receiver; it stops
    before the callee's 200 is forwarded; events in the API."""
    as_bt_ringback(t, 0, 2000)


@test
def as_ringback_pcma(t):
    """As as_ringback_pcmu, the caller answers PCMA only (pt 8)."""
    as_bt_ringback(t, 8, 2000)


@test
def as_ringback_multipart(t):
    """The callee's 183 carries the session SDP: the reliable 18x to the
    caller is multipart/mixed with the session answer and the
    early-session offer."""
    as_bt_ringback(t, 0, 1500, scenario="uas_183_sdp_answer.xml",
                   with_session=True)


@test
def as_ringback_rtcp(t):
    """Six seconds of ringing: RTCP sender reports at the receiver's
    port + 1 during the stream."""
    as_bt_ringback(t, 0, 6000, rtcp=True)


@test
def as_prack_dropped(t):
    """The caller does not PRACK the reliable 18x: the server resends
    it with the same RSeq, T1 doubling (0.5, 1, 2 s); a late PRACK then
    stops the resending, starts RTP, and the call completes."""
    srv, callee, sink, cl = as_parties(t, "uas_answer.xml", ring_ms=5500)
    try:
        cl.invite("bob")
        i, t0, r18, rseq = cl.reliable_bt()
        seen = [(t0, r18)]
        while len(seen) < 4:
            j, tj, mj = cl.wait(reliable_18x, 3.0, i + 1,
                                "retransmission %d of the reliable 18x"
                                % len(seen))
            seen.append((tj, mj))
            i = j
        gaps = [b[0] - a[0] for a, b in zip(seen, seen[1:])]
        info("reliable 18x resent after %s s (RSeq %s)"
             % (["%.3f" % g for g in gaps],
                [m.get("rseq") for _, m in seen]))
        for _, m in seen[1:]:
            check(m.get("rseq") == r18.get("rseq"), "retransmission with "
                  "RSeq %r, the first had %r" % (m.get("rseq"),
                                                 r18.get("rseq")))
            check(m.body == r18.body, "retransmission with another body")
        check(0.35 <= gaps[0] <= 0.8, "first retransmission after %.3f s, "
              "expected T1 = 0.5 s" % gaps[0])
        for a, b in zip(gaps, gaps[1:]):
            check(1.5 <= b / a <= 2.6, "retransmission intervals %s s: "
                  "expected each about twice the one before"
                  % ["%.3f" % g for g in gaps])
        check(not sink.packets(), "RTP arrived before any PRACK")

        t_prack, k, t_pok = cl.prack_ok(r18, "%d 1 INVITE" % rseq,
                                        sdp_answer(sink.port, 0),
                                        "late PRACK")
        _, t_fin, fin = cl.response("1 INVITE", 5, k)
        check(fin.status == 200, "the INVITE ended %s" % fin.first)
        late = [tm for tm, m in cl.msgs[k:] if reliable_18x(m)
                and tm > t_pok + 0.05]
        check(not late, "the 18x was resent %d time(s) after the PRACK's "
              "200" % len(late))
        cl.ack(fin)
        rtp_stopped(sink, t_fin, "ringback after a late PRACK")
        pkts = sink.packets()
        check(pkts[0][0] - t_prack < 0.3, "first RTP packet %.0f ms after "
              "the PRACK" % ((pkts[0][0] - t_prack) * 1000))
        st = rtp_analyse(pkts, 0, "ringback after a late PRACK")
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    check_as_events(call_of(srv, cl.call_id), "bt", 0, st["n"], "answered")


@test
def as_cancel_early_media(t):
    """CANCEL while the ringback streams: 200 (CANCEL) and 487 to the
    caller, the stream stops at once, the callee gets the CANCEL."""
    srv, callee, sink, cl = as_parties(t, "uas_ring_cancel.xml")
    try:
        i = as_early_media(cl, sink, 0, offer=True)
        cancel_streaming(cl, sink, i)
        st = rtp_analyse(sink.packets(), 0, "ringback, CANCEL")
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    callee_got(callee, "CANCEL")
    rec = call_of(srv, cl.call_id)
    check_as_events(rec, "bt", 0, st["n"], None)
    check_events(ev_names(rec.get("events", [])), "API events",
                 ["rtp-started", "cancelled", "rtp-stopped", "ended"])


@test
def as_busy_early_media(t):
    """The callee answers 486 while the ringback streams: the stream
    stops and the caller gets the 486."""
    srv, callee, sink, cl = as_parties(t, "uas_ring_busy.xml", ring_ms=1500)
    try:
        i = as_early_media(cl, sink, 0)
        _, t_fin, _ = cl.final(486, i, 5)
        rtp_stopped(sink, t_fin, "ringback, 486")
        st = rtp_analyse(sink.packets(), 0, "ringback, 486")
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    check_as_events(call_of(srv, cl.call_id), "bt", 0, st["n"], "rejected")


@test
def as_prack_unmatched(t):
    """PRACKs that match no unacknowledged reliable 18x get 481: a wrong
    RSeq, a wrong CSeq number, a wrong method, the right RAck once more
    after it was acknowledged, and one outside any dialog."""
    srv, callee, sink, cl = as_parties(t, "uas_answer.xml", ring_ms=1500)
    try:
        cl.invite("bob")
        i, _, r18, rseq = cl.reliable_bt()
        for rack in ("%d 1 INVITE" % ((rseq % (2 ** 31 - 1)) + 1),
                     "%d 7 INVITE" % rseq, "%d 1 BYE" % rseq):
            _, cseq = cl.prack(r18, rack, sdp_answer(sink.port, 0))
            _, _, r = cl.response(cseq)
            info("PRACK with RAck %s: %s" % (rack, r.first))
            check(r.status == 481, "PRACK with RAck %s (the 18x has RSeq "
                  "%d): %s, expected 481" % (rack, rseq, r.first))
        check(not sink.packets(), "RTP started on an unmatched PRACK")
        _, cseq = cl.prack(r18, "%d 1 INVITE" % rseq,
                           sdp_answer(sink.port, 0))
        _, _, r = cl.response(cseq)
        check(r.status == 200, "the right PRACK: %s" % r.first)
        _, cseq = cl.prack(r18, "%d 1 INVITE" % rseq)
        _, _, r = cl.response(cseq)
        info("the same RAck again: %s" % r.first)
        check(r.status == 481, "the right RAck a second time (new "
              "transaction): %s, expected 481" % r.first)

        other = SipClient(srv)
        try:
            rsp = other.transact("PRACK", "sip:bob@%s:%d" % (HOST, srv.sip),
                                 to_user="bob", to_tag="no-such-dialog",
                                 headers=["RAck: 1 1 INVITE"])
        finally:
            other.close()
        info("PRACK outside any dialog: %s" % rsp.first)
        check(rsp.status == 481, "PRACK outside any dialog: %s, expected "
              "481" % rsp.first)

        _, t_fin, _ = cl.final(200, i, 5)
        rtp_stopped(sink, t_fin, "ringback")
        rtp_analyse(sink.packets(), 0, "ringback")
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    rec = call_of(srv, cl.call_id)
    n = len(events_of(rec, "prack-unmatched"))
    check(n == 4, "API: %d prack-unmatched events, expected 4" % n)


def as_rt_ringtone(t, caller_as):
    """Clause 1.1.1.7, CMRT: the callee's reliable 180 supports
    early-session; our PRACK carries the offer, its 200 the answer, RTP
    goes to the callee until its 200 (INVITE).  caller_as: the caller
    asks for application server mode too (both directions stream)."""
    srv = t.server()
    rt_sink = RtpSink()
    bt_sink = RtpSink() if caller_as else None
    callee = as_callee(t, srv, "uas_as_rel180.xml", ring_ms=2000,
                       rtp_port=rt_sink.port, rtp_pt=0)
    cl = AsCaller(srv)
    st_bt = None
    try:
        cl.invite("bob", supported="100rel, early-session" if caller_as
                  else None)
        i, _, r18 = cl.wait(lambda m: m.status == 180, 5, what="180")
        info("caller's 180: Require %r, RSeq %r, Content-Type %r"
             % (r18.all("require"), r18.get("rseq"),
                r18.get("content-type")))
        check(b"o=bob" not in r18.body and
              str(rt_sink.port).encode() not in r18.body,
              "the callee's early-session answer reached the caller: %r"
              % r18.body[:300])
        if caller_as:
            rseq = check_reliable_bt(r18, "caller's 180")
            offer = early_offer(r18, False, "caller's 180")
            cl.prack_ok(r18, "%d 1 INVITE" % rseq,
                        sdp_answer(bt_sink.port, 8))
        else:
            check(r18.get("rseq") is None and
                  "100rel" not in tags_of(r18.all("require")),
                  "the caller did not offer 100rel, yet the 180 is "
                  "reliable: RSeq %r, Require %r"
                  % (r18.get("rseq"), r18.all("require")))
            check(not body_parts(r18), "the caller's 180 has a body: %r"
                  % r18.body[:300])
        _, t_fin, _ = cl.final(200, i, 6)
        rtp_stopped(rt_sink, t_fin, "ringtone")
        st = rtp_analyse(rt_sink.packets(), 0, "ringtone")
        if caller_as:
            rtp_stopped(bt_sink, t_fin, "ringback")
            st_bt = rtp_analyse(bt_sink.packets(), 8, "ringback",
                                src=(offer["addr"], offer["port"]))
            check(st_bt["ssrc"] != st["ssrc"], "both streams have SSRC "
                  "%08x" % st["ssrc"])
        rt_pkts = rt_sink.packets()
        last_wall = rt_pkts[-1][1]
        cl.bye()
    finally:
        cl.close()
        rt_sink.close()
        if bt_sink:
            bt_sink.close()
    callee_done(callee)

    # What the callee saw: the INVITE and our PRACK.
    tr = sipp_trace(callee)
    inv = [m for d, m, _ in tr if d == "<-" and m.first.startswith("INVITE")]
    check(inv, "the callee's trace has no INVITE")
    sup = tags_of(inv[0].all("supported"))
    check("100rel" in sup and "early-session" in sup, "the INVITE to the "
          "callee has Supported %r, expected 100rel and early-session"
          % inv[0].all("supported"))
    pr = [m for d, m, _ in tr if d == "<-" and m.first.startswith("PRACK")]
    check(len(pr) == 1, "the callee got %d PRACK(s), expected 1" % len(pr))
    rack = (pr[0].get("rack") or "").split()
    info("PRACK to the callee: RAck %r, Require %r"
         % (pr[0].get("rack"), pr[0].all("require")))
    check(rack == ["1", inv[0].cseq().split()[0], "INVITE"],
          "PRACK to the callee: RAck %r, expected '1 %s INVITE'"
          % (pr[0].get("rack"), inv[0].cseq().split()[0]))
    check("early-session" in tags_of(pr[0].all("require")),
          "PRACK to the callee: Require %r, expected early-session"
          % pr[0].all("require"))
    offer_rt = early_offer(pr[0], False, "PRACK to the callee")
    src = set(p[2] for p in rt_pkts)
    check(src == {(offer_rt["addr"], offer_rt["port"])}, "ringtone: RTP "
          "came from %s, the PRACK's offer named %s:%d"
          % (sorted(src), offer_rt["addr"], offer_rt["port"]))
    ok = [w for d, m, w in tr if d == "->" and m.status == 200 and
          m.cseq().endswith(" INVITE")]
    check(ok, "the callee's trace has no 200 (INVITE)")
    info("ringtone: last RTP packet %+.0f ms after the callee sent its "
         "200 (wall clocks)" % ((last_wall - ok[0]) * 1000))
    check(last_wall - ok[0] <= STOP_LIMIT, "ringtone: the last RTP packet "
          "came %.0f ms after the callee's 200" % ((last_wall - ok[0]) *
                                                   1000))
    rec = call_of(srv, cl.call_id)
    check_as_events(rec, "rt", 0, st["n"], "answered")
    if caller_as:
        check_as_events(rec, "bt", 8, st_bt["n"], "answered")


@test
def as_ringtone(t):
    """CMRT in application server mode: the callee's reliable 180 with
    Supported: early-session gets a PRACK with Require: early-session and
    the offer; RTP flows to the callee's answer address until its 200;
    the caller (no 100rel) gets a plain 180 without the answer."""
    as_rt_ringtone(t, False)


@test
def as_both_directions(t):
    """Both directions in application server mode at once: ringback to
    the caller (PCMA) and ringtone to the callee (PCMU), two streams."""
    as_rt_ringtone(t, True)


@slow_test
def as_prack_never(t):
    """No PRACK at all: after 64*T1 = 32 s of resending the reliable 18x
    the server rejects the INVITE with a 5xx and cancels the callee
    (RFC 3262 section 3).  Slow: runs only with --slow."""
    srv = t.server()
    callee = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    callee.bind((HOST, 0))
    callee.settimeout(5)
    cl = AsCaller(srv)
    try:
        register_ok(srv, "bob", "sip:bob@%s:%d" % (HOST,
                                                  callee.getsockname()[1]))
        cl.invite("bob")
        inv, src = callee.recvfrom(65535)
        inv = SipMsg(inv)
        check(inv.first.startswith("INVITE "), "callee got %r" % inv.first)
        hdrs = ["%s: %s" % (n, v) for n, v in inv.headers
                if n in ("via", "from", "call-id", "cseq")]
        hdrs.append("To: %s;tag=never" % inv.get("to"))
        callee.sendto(("SIP/2.0 180 Ringing\r\n" + "\r\n".join(hdrs) +
                       "\r\nContact: <sip:bob@%s:%d>\r\n"
                       "Content-Length: 0\r\n\r\n"
                       % (HOST, callee.getsockname()[1])).encode(), src)
        i, t0, _, _ = cl.reliable_bt()
        _, t_fin, fin = cl.response("1 INVITE", 40, i)
        times = [tm for tm, m in cl.msgs if reliable_18x(m)]
        gaps = [b - a for a, b in zip(times, times[1:])]
        info("resent after %s s; final %s after %.1f s"
             % (["%.2f" % g for g in gaps], fin.first, t_fin - t0))
        check(500 <= fin.status < 600, "after 64*T1 without PRACK the "
              "INVITE ended %s, expected a 5xx" % fin.first)
        check(30 <= t_fin - t0 <= 35, "the 5xx came %.1f s after the "
              "first 18x, expected 32 s" % (t_fin - t0))
        # RFC 3262 section 3 says "doubles" and names no cap; a cap at
        # T2 (4 s) is allowed here too.  Either way the first three are
        # 0.5, 1 and 2 s, and no interval is shorter than the one before.
        check(len(gaps) >= 5 and
              all(abs(g - w) < 0.25 for g, w in zip(gaps, (0.5, 1, 2))) and
              all(b >= a - 0.1 for a, b in zip(gaps, gaps[1:])),
              "retransmission intervals %s, expected T1 doubling"
              % ["%.2f" % g for g in gaps])
        cl.ack_error(fin)
        got_cancel = False
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not got_cancel:
            try:
                m = SipMsg(callee.recv(65535))
            except socket.timeout:
                break
            got_cancel = m.first.startswith("CANCEL ")
        check(got_cancel, "the callee got no CANCEL")
        # 200 for the CANCEL, 487 for the INVITE, so that the server's
        # INVITE transaction ends now and not after its own timeout.
        ch = ["%s: %s" % (n, v) for n, v in m.headers
              if n in ("via", "from", "to", "call-id", "cseq")]
        callee.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(ch) +
                       "\r\nContent-Length: 0\r\n\r\n").encode(), src)
        callee.sendto(("SIP/2.0 487 Request Terminated\r\n" +
                       "\r\n".join(hdrs) +
                       "\r\nContent-Length: 0\r\n\r\n").encode(), src)
    finally:
        cl.close()
        callee.close()


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


def sdp_origin(sdp, where):
    """(username, sess-id, sess-version, the rest) of an SDP's o= line."""
    text = sdp.decode("utf-8", "replace")
    m = re.search(r"(?m)^o=(\S+) (\d+) (\d+) (IN IP4 \S+)\r?$", text)
    check(m, "%s: no valid o= line in %r" % (where, text[:300]))
    return m.group(1), m.group(2), int(m.group(3)), m.group(4)


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


def check_gw_reoffer(req, cl, r18, o1, callee, callee_pt, method, where):
    """The UPDATE or re-INVITE of clause 1.1.1.10: in the caller's dialog
    (Call-ID, tags, its Contact), the callee's c= and m= in the SDP, our
    o= line one version up (RFC 3264 section 8).  Returns the origin."""
    info("%s: %s, CSeq %s, From %s, To %s" % (where, req.first, req.cseq(),
                                              req.get("from"),
                                              req.get("to")))
    check(req.cseq().split()[-1:] == [method], "%s: CSeq %r"
          % (where, req.cseq()))
    check(req.get("call-id") == cl.call_id, "%s: Call-ID %r, the call's is "
          "%r" % (where, req.get("call-id"), cl.call_id))
    check(tag_param(req.get("from")) == tag_param(r18.get("to")),
          "%s: From tag %r, the dialog's (the 18x's To tag) is %r"
          % (where, tag_param(req.get("from")), tag_param(r18.get("to"))))
    check(tag_param(req.get("to")) == cl.from_tag, "%s: To tag %r, the "
          "caller's tag is %r" % (where, tag_param(req.get("to")),
                                  cl.from_tag))
    ruri = req.first.split()[1] if len(req.first.split()) > 1 else ""
    check("@%s:%d" % (HOST, cl.port) in ruri, "%s: Request-URI %r, the "
          "caller's Contact is sip:alice@%s:%d" % (where, ruri, HOST,
                                                   cl.port))
    sdp = only_sdp(req, where)
    m = sdp_media(sdp)
    info("%s: c=%s m=audio %d pts %s; o=%s"
         % (where, m["addr"], m["port"], m["pts"],
            " ".join(map(str, sdp_origin(sdp, where)))))
    check(m["addr"] == HOST and m["port"] == callee.mport,
          "%s: SDP names %s:%d, the callee's 200 named %s:%d"
          % (where, m["addr"], m["port"], HOST, callee.mport))
    check(m["pts"] == [callee_pt], "%s: formats %s, the callee's 200 had "
          "[%d]" % (where, m["pts"], callee_pt))
    o2 = sdp_origin(sdp, where)
    check(o2[0] == o1[0] and o2[1] == o1[1] and o2[3] == o1[3],
          "%s: o=%s, the server's 18x had o=%s: username, sess-id and "
          "address must stay (RFC 3264 section 8)"
          % (where, " ".join(map(str, o2)), " ".join(map(str, o1))))
    return o2


def check_gw_callee_side(callee, sink_port):
    """What the callee saw: the caller's offer in the INVITE and never the
    server's own P-Early-Media: sendrecv.  Returns the callee's trace."""
    tr = sipp_trace(callee)
    inv = [m for d, m, _ in tr if d == "<-" and m.first.startswith("INVITE")]
    check(inv, "the callee's trace has no INVITE")
    info("INVITE to the callee: P-Early-Media %r, Supported %r, Require %r"
         % (inv[0].all("p-early-media"), inv[0].all("supported"),
            inv[0].all("require")))
    check("sendrecv" not in pem_values(inv[0]), "the INVITE to the callee "
          "carries P-Early-Media %r" % inv[0].all("p-early-media"))
    check(("m=audio %d " % sink_port).encode() in inv[0].body,
          "the INVITE to the callee does not carry the caller's offer "
          "(m=audio %d): %r" % (sink_port, inv[0].body[:300]))
    return tr


def wall_of(tr, d, pred):
    w = [w for dd, m, w in tr if dd == d and pred(m)]
    return w[0] if w else None


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


def gw_update_call(t, pts=(8, 0), pt=8, callee_pt=8, ring_ms=2000,
                   hdr180="Subject: ringing", glare=False,
                   counter_offer=False):
    """Clause 1.1.1.10 with a caller that allows UPDATE: early media from
    the 18x until the callee's 200, then the UPDATE with the callee's SDP
    in the early dialog, its 200, and only then the 200 (INVITE) without
    SDP; ACK and BYE.  glare: the first UPDATE is answered 491 and the
    server must retry after 0 to 2 s (RFC 3261 section 14.1).  Returns
    (server, call record, figures)."""
    srv, callee, sink, cl = gw_parties(t, ring_ms=ring_ms, pt=callee_pt,
                                       hdr180=hdr180)
    fig = {}
    try:
        i, t18, r18, ans, o1 = gw_early_media(cl, sink, pts, pt)
        j, t_upd, upd = cl.request_in("UPDATE", ring_ms / 1000.0 + 5, i)
        fin = [m for _, m in cl.msgs[i:j] if m.status and m.status >= 200
               and m.cseq() == "1 INVITE"]
        check(not fin, "the caller got %s before the UPDATE" % fin)
        o2 = check_gw_reoffer(upd, cl, r18, o1, callee, callee_pt,
                              "UPDATE", "UPDATE")
        check(o2[2] == o1[2] + 1, "UPDATE: o= version %d, the 18x had %d: "
              "expected one up (RFC 3264 section 8)" % (o2[2], o1[2]))
        first_upd, upd_wall = upd, upd.wall
        if counter_offer:
            # Our own offer while the server's is unanswered: glare, 491
            # (RFC 3311 5.2); the server's UPDATE is then answered.
            target, tag = cl.dialog(r18)
            cl.cseq += 1
            cl._req("UPDATE", target, cl.cseq, to_tag=tag,
                    headers=["Content-Type: application/sdp"],
                    body=gw_sdp(sink.port, [callee_pt], 3))
            _, _, r = cl.response("%d UPDATE" % cl.cseq, 3, j)
            fig["counter_offer"] = r.status
            check(r.status == 491, "caller's UPDATE during the server's: "
                  "%s, expected 491" % r.first)
        if glare:
            t491, _ = cl.respond(upd, 491, "Request Pending")
            j, t_upd2, upd = cl.request_in("UPDATE", 4, j,
                                           seen=(via_branch(upd),))
            fig["glare_retry_ms"] = (t_upd2 - t491) * 1000
            info("glare: second UPDATE %.0f ms after the 491 (RFC 3261 "
                 "14.1: 0..2000 ms), CSeq %s then %s"
                 % (fig["glare_retry_ms"], first_upd.cseq(), upd.cseq()))
            check(0 <= t_upd2 - t491 <= 2.25, "glare: the UPDATE came "
                  "again %.0f ms after the 491, expected within 0..2 s"
                  % fig["glare_retry_ms"])
            check(int(upd.cseq().split()[0]) >
                  int(first_upd.cseq().split()[0]),
                  "glare: retried UPDATE CSeq %s, the first was %s"
                  % (upd.cseq(), first_upd.cseq()))
            o3 = check_gw_reoffer(upd, cl, r18, o1, callee, callee_pt,
                                  "UPDATE", "retried UPDATE")
            info("retried UPDATE: o= version %d (18x %d, first UPDATE %d)"
                 % (o3[2], o1[2], o2[2]))
            check(o3[2] in (o1[2] + 1, o2[2] + 1), "retried UPDATE: o= "
                  "version %d after %d and %d" % (o3[2], o1[2], o2[2]))
            fin = [m for _, m in cl.msgs if m.status and m.status >= 200
                   and m.cseq() == "1 INVITE"]
            check(not fin, "the caller got %s while the UPDATE was in "
                  "glare" % fin)
        t_u200, _ = cl.respond(upd, 200, "OK",
                               gw_sdp(sink.port, [callee_pt], 2))
        k, t_fin, fin = cl.response("1 INVITE", 5, j)
        check(fin.status == 200, "the INVITE ended %s, expected 200"
              % fin.first)
        info("200 (INVITE): Content-Type %r, Content-Length %r, %d body "
             "bytes" % (fin.get("content-type"), fin.get("content-length"),
                        len(fin.body)))
        check(not fin.body and (fin.get("content-length") or "0").strip()
              == "0", "the 200 (INVITE) carries a body: %r" % fin.body[:200])
        check(tag_param(fin.get("to")) == tag_param(r18.get("to")),
              "the 200's To tag %r differs from the 18x's %r"
              % (tag_param(fin.get("to")), tag_param(r18.get("to"))))
        again = [m for m in cl.requests("UPDATE", j + 1)
                 if via_branch(m) != via_branch(upd)]
        check(not again, "another UPDATE came after the answered one")
        cl.ack(fin)
        fig["stop_ms"] = rtp_stopped(sink, t_upd, "ringback (relative to "
                                     "the UPDATE)") * 1000
        pkts = sink.packets()
        st = rtp_analyse(pkts, pt, "gateway ringback",
                         src=(ans["addr"], ans["port"]))
        check(ans["port"] != callee.mport, "the 18x's answer names the "
              "callee's port %d" % callee.mport)
        fig["rate"] = st["rate"]
        fig["first_ms"] = (pkts[0][0] - t18) * 1000
        fig["final_after_u200_ms"] = (t_fin - t_u200) * 1000
        last_wall = pkts[-1][1]
        time.sleep(0.3)
        late = [p for p in sink.packets() if p[0] > t_fin]
        check(not late, "%d RTP packets after the 200 (INVITE)" % len(late))
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    tr = check_gw_callee_side(callee, sink.port)
    ok_wall = wall_of(tr, "->", lambda m: m.status == 200 and
                      m.cseq().endswith(" INVITE"))
    check(wall_of(tr, "<-", lambda m: m.first.startswith("ACK ")),
          "the callee got no ACK")
    check(ok_wall, "the callee's trace has no 200 (INVITE)")
    fig["update_after_200_ms"] = (upd_wall - ok_wall) * 1000
    fig["stop_after_callee_200_ms"] = (last_wall - ok_wall) * 1000
    info("figures: first RTP %.0f ms after the 18x; %.1f packets/s; last "
         "RTP %+.0f ms from the callee's 200 and %+.0f ms from the UPDATE's "
         "arrival; UPDATE %.0f ms after the callee's 200; 200 (INVITE) "
         "%.0f ms after our 200 (UPDATE)"
         % (fig["first_ms"], fig["rate"], fig["stop_after_callee_200_ms"],
            fig["stop_ms"], fig["update_after_200_ms"],
            fig["final_after_u200_ms"]))
    check(fig["stop_after_callee_200_ms"] <= STOP_LIMIT * 1000,
          "the last RTP packet came %.0f ms after the callee sent its 200"
          % fig["stop_after_callee_200_ms"])
    rec = call_of(srv, cl.call_id)
    check_gw_events(rec, st["n"], ["mode", "cmr-inserted", "rtp-started",
                                   "rtp-stopped", "update-sent",
                                   "update-answered", "answered", "ended"])
    sent = events_of(rec, "update-sent")
    check(len(sent) == (2 if glare else 1), "API: %d update-sent events, "
          "expected %d" % (len(sent), 2 if glare else 1))
    ua = events_of(rec, "update-answered")
    check(ua and ua[-1].get("code") == 200, "API: update-answered %r, "
          "expected code 200" % ua)
    return srv, rec, fig


@test
def gw_ringback_update(t):
    """Gateway mode (clause 1.1.1.10): P-Early-Media: supported and 100rel
    from the caller, offer PCMA then PCMU; the reliable 180 carries our
    PCMA answer and P-Early-Media: sendrecv, RTP flows to the offered
    port; on the callee's 200 the stream stops, the UPDATE carries the
    callee's SDP under our o= line, and the 200 without SDP follows its
    200; ACK, BYE, events."""
    gw_update_call(t, pts=(8, 0), pt=8, callee_pt=8)


@test
def gw_ringback_pcmu(t):
    """The first offered codec we stream decides: an offer of G.729, PCMU,
    PCMA gets a PCMU answer and PCMU packets."""
    gw_update_call(t, pts=(18, 0, 8), pt=0, callee_pt=0)


@test
def gw_reinvite_no_update(t):
    """The caller's Allow lacks UPDATE: the 200 (INVITE) without SDP comes
    first, and after the caller's ACK a re-INVITE in the same dialog
    carries the callee's SDP; its 200 gets an ACK; the call goes on."""
    srv, callee, sink, cl = gw_parties(t, ring_ms=2000, pt=8)
    try:
        i, t18, r18, ans, o1 = gw_early_media(cl, sink, (8, 0), 8,
                                              allow=GW_ALLOW_NO_UPDATE)
        k, t_fin, fin = cl.response("1 INVITE", 7, i)
        check(fin.status == 200, "the INVITE ended %s" % fin.first)
        check(not cl.requests("UPDATE"), "an UPDATE came to a caller "
              "whose Allow lacks it")
        check(not fin.body, "the 200 (INVITE) carries a body: %r"
              % fin.body[:200])
        early = cl.requests("INVITE")
        check(not early, "a re-INVITE came before the 200 (INVITE) was "
              "ACKed")
        t_ack = time.monotonic()
        cl.ack(fin)
        j, t_re, reinv = cl.request_in("INVITE", 3, k)
        info("re-INVITE %.0f ms after our ACK" % ((t_re - t_ack) * 1000))
        check(t_re >= t_ack, "the re-INVITE came %.0f ms before our ACK "
              "of the 200 (RFC 3261 section 14.1)"
              % ((t_ack - t_re) * 1000))
        o2 = check_gw_reoffer(reinv, cl, r18, o1, callee, 8, "INVITE",
                              "re-INVITE")
        check(o2[2] == o1[2] + 1, "re-INVITE: o= version %d, the 18x had "
              "%d: expected one up (RFC 3264 section 8)" % (o2[2], o1[2]))
        cl.respond(reinv, 200, "OK", gw_sdp(sink.port, [8], 2))
        rcseq = reinv.cseq().split()[0]
        _, t_rack, rack = cl.wait(lambda m: m.status is None and
                                  m.first.startswith("ACK ") and
                                  m.cseq() == "%s ACK" % rcseq, 2, j,
                                  "ACK of the re-INVITE's 200")
        check(tag_param(rack.get("from")) == tag_param(r18.get("to")),
              "ACK of the re-INVITE: From tag %r" % tag_param(rack.get(
                  "from")))
        stop = rtp_stopped(sink, t_fin, "ringback (relative to the 200)")
        st = rtp_analyse(sink.packets(), 8, "gateway ringback",
                         src=(ans["addr"], ans["port"]))
        late = [p for p in sink.packets() if p[0] > t_fin + STOP_LIMIT]
        check(not late, "RTP after the 200")
        time.sleep(0.3)
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    check_gw_callee_side(callee, sink.port)
    info("figures: %.1f packets/s, stop %+.0f ms from the 200 (INVITE)"
         % (st["rate"], stop * 1000))
    rec = call_of(srv, cl.call_id)
    check_gw_events(rec, st["n"], ["mode", "cmr-inserted", "rtp-started",
                                   "rtp-stopped", "answered",
                                   "reinvite-sent", "reinvite-answered",
                                   "ended"])
    check(not events_of(rec, "update-sent"), "API: update-sent without "
          "UPDATE in the caller's Allow")


@test
def gw_busy_early_media(t):
    """The callee's 486 during early media: the stream stops and the
    caller gets the 486, no UPDATE."""
    srv, callee, sink, cl = gw_parties(t, "uas_ring_busy.xml", ring_ms=1500)
    try:
        i, _, r18, ans, _ = gw_early_media(cl, sink, (8, 0), 8)
        _, t_fin, _ = cl.final(486, i, 5)
        rtp_stopped(sink, t_fin, "ringback, 486")
        st = rtp_analyse(sink.packets(), 8, "ringback, 486",
                         src=(ans["addr"], ans["port"]))
        check(not cl.requests("UPDATE") and not cl.requests("INVITE"),
              "an UPDATE or re-INVITE came for a rejected call")
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    check_gw_events(call_of(srv, cl.call_id), st["n"],
                    ["mode", "cmr-inserted", "rtp-started", "rtp-stopped",
                     "rejected", "ended"])


@test
def gw_unsupported_codec(t):
    """P-Early-Media: supported with a G.729-only offer: no gateway mode
    (nothing to stream in), so no SDP answer from us and no P-Early-Media:
    sendrecv in the 18x, HTTP mode's Alert-Info instead; the 200 carries
    the callee's SDP."""
    srv, callee, sink, cl = gw_parties(t, ring_ms=1000, pt=18)
    try:
        cl.invite("bob", sink.port, (18,))
        i, _, r18 = cl.wait(lambda m: m.status in (180, 183) and
                            m.cseq() == "1 INVITE", 5, what="18x")
        info("caller's %d: Require %r, RSeq %r, P-Early-Media %r, "
             "Alert-Info %r, Content-Type %r"
             % (r18.status, r18.all("require"), r18.get("rseq"),
                r18.all("p-early-media"), r18.all("alert-info"),
                r18.get("content-type")))
        check(not body_parts(r18), "the 18x carries a body: %r"
              % r18.body[:300])
        check("sendrecv" not in pem_values(r18), "the 18x carries "
              "P-Early-Media %r without gateway mode"
              % r18.all("p-early-media"))
        check(any("/r/" in a for a in r18.all("alert-info")),
              "the 18x has no Alert-Info URL (HTTP mode): %r"
              % r18.all("alert-info"))
        if r18.get("rseq"):
            _, cseq = cl.prack(r18, "%s 1 INVITE" % r18.get("rseq").strip())
            _, _, pok = cl.response(cseq)
            check(pok.status == 200, "PRACK answered %s" % pok.first)
        _, t_fin, fin = cl.response("1 INVITE", 5, i)
        check(fin.status == 200, "the INVITE ended %s" % fin.first)
        m = sdp_media(only_sdp(fin, "200 (INVITE)"))
        check(m["port"] == callee.mport and m["pts"] == [18],
              "the 200 names m=audio %d %s, the callee's was %d [18]"
              % (m["port"], m["pts"], callee.mport))
        cl.ack(fin)
        time.sleep(0.5)
        check(not sink.packets(), "%d RTP packets arrived without gateway "
              "mode" % len(sink.packets()))
        check(not cl.requests("UPDATE") and not cl.requests("INVITE"),
              "an UPDATE or re-INVITE came without gateway mode")
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    rec = call_of(srv, cl.call_id)
    check_gw_events(rec, None, ["mode", "cmr-inserted", "answered",
                                "ended"], mode="http")
    check(not events_of(rec, "rtp-started"), "API: rtp-started")


@test
def gw_cancel_before_18x(t):
    """CANCEL in gateway mode before any 18x: 200 and 487, no RTP, the
    callee gets the CANCEL."""
    srv, callee, sink, cl = gw_parties(t, "uas_gw_cancel_early.xml")
    try:
        cl.invite("bob", sink.port, (8, 0))
        i, _, _ = cl.response("1 INVITE", 3, final=False)
        time.sleep(0.5)
        cl.cancel_487(i)
        time.sleep(0.5)
        got18 = [m for _, m in cl.msgs if m.status in (180, 183)]
        check(not got18, "an 18x reached the caller: %s" % got18)
        check(not sink.packets(), "%d RTP packets before any 18x"
              % len(sink.packets()))
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    callee_got(callee, "CANCEL")
    rec = call_of(srv, cl.call_id)
    check_gw_events(rec, None, ["mode", "cancelled", "ended"])
    check(not events_of(rec, "rtp-started"), "API: rtp-started")
    info("cmr-inserted events: %r" % events_of(rec, "cmr-inserted"))


@test
def gw_cancel_early_media(t):
    """CANCEL while the gateway-mode ringback streams: 200 (CANCEL) and
    487, the stream stops at once, the callee gets the CANCEL."""
    srv, callee, sink, cl = gw_parties(t, "uas_ring_cancel.xml")
    try:
        i, _, _, ans, _ = gw_early_media(cl, sink, (8, 0), 8)
        cancel_streaming(cl, sink, i)
        st = rtp_analyse(sink.packets(), 8, "ringback, CANCEL",
                         src=(ans["addr"], ans["port"]))
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    callee_got(callee, "CANCEL")
    rec = call_of(srv, cl.call_id)
    check_gw_events(rec, st["n"], ["mode", "cmr-inserted", "rtp-started",
                                   "cancelled", "ended"])
    check_events(ev_names(rec.get("events", [])), "API events",
                 ["rtp-started", "rtp-stopped", "ended"])


def gw_update_refused(t, code, reason):
    """The caller answers the UPDATE with an error: the server ends both
    legs: BYE to the callee (after its ACK), a 5xx to the caller's
    still-pending INVITE, no BYE toward the caller's early dialog."""
    srv, callee, sink, cl = gw_parties(t, ring_ms=1500, pt=8)
    try:
        i, _, r18, ans, o1 = gw_early_media(cl, sink, (8, 0), 8)
        j, t_upd, upd = cl.request_in("UPDATE", 6, i)
        check_gw_reoffer(upd, cl, r18, o1, callee, 8, "UPDATE", "UPDATE")
        t_err, _ = cl.respond(upd, code, reason)
        k, t_fin, fin = cl.response("1 INVITE", 5, j)
        info("after our %d to the UPDATE the INVITE ended %s (%s), %.0f ms "
             "later" % (code, fin.first, fin.get("reason"),
                        (t_fin - t_err) * 1000))
        check(500 <= fin.status < 600, "after a %d to the UPDATE the "
              "INVITE ended %s, expected a 5xx" % (code, fin.first))
        cl.ack_error(fin)
        time.sleep(0.7)
        again = [m for m in cl.requests("UPDATE", j + 1)
                 if via_branch(m) != via_branch(upd)]
        check(not again, "the server sent the UPDATE again after %d" % code)
        check(not cl.requests("BYE"), "a BYE came to the caller's early "
              "dialog")
        ok = [m for _, m in cl.msgs if m.status == 200 and
              m.cseq() == "1 INVITE"]
        check(not ok, "the caller got a 200 (INVITE)")
        rtp_stopped(sink, t_upd, "ringback (relative to the UPDATE)")
        st = rtp_analyse(sink.packets(), 8, "gateway ringback",
                         src=(ans["addr"], ans["port"]))
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    callee_got(callee, "BYE")
    rec = call_of(srv, cl.call_id)
    check_gw_events(rec, st["n"], ["mode", "cmr-inserted", "rtp-started",
                                   "rtp-stopped", "update-sent",
                                   "update-failed", "ended"])
    uf = events_of(rec, "update-failed")
    check(uf[0].get("code") == code, "API: update-failed %r, expected code "
          "%d" % (uf, code))


@test
def gw_update_500(t):
    """The caller answers the UPDATE with 500: both legs end cleanly."""
    gw_update_refused(t, 500, "Server Internal Error")


@test
def gw_update_488(t):
    """The caller answers the UPDATE with 488: both legs end cleanly."""
    gw_update_refused(t, 488, "Not Acceptable Here")


@test
def gw_update_glare(t):
    """The caller answers the first UPDATE with 491: the server retries
    after 0 to 2 s (RFC 3261 section 14.1, the caller owns the Call-ID);
    the retry is answered 200 and the call completes."""
    srv, rec, fig = gw_update_call(t, glare=True)
    g = events_of(rec, "glare")
    info("glare events: %r" % g)


@test
def gw_update_glare_incoming(t):
    """While the server's UPDATE is unanswered the caller sends its own
    offer in an UPDATE: 491 (RFC 3311 section 5.2); the server's UPDATE is
    then answered and the call completes."""
    srv, rec, fig = gw_update_call(t, counter_offer=True)
    check(fig.get("counter_offer") == 491, "no 491")
    refused = events_of(rec, "offer-refused")
    check(refused, "API: no offer-refused event")


def pem_events(rec, value):
    """Events of a call that mention P-Early-Media and value."""
    return [e for e in rec.get("events", [])
            if "p-early-media" in json.dumps(e).lower() and
            value in json.dumps(e).lower()]


@test
def gw_pem_from_callee_http(t):
    """A callee's 180 with P-Early-Media: inactive in an HTTP-mode call
    (no P-Early-Media: supported from the caller): an event records it,
    the call completes, the server stays up."""
    srv, callee, sink, cl = gw_parties(t, ring_ms=800, pt=0,
                                       hdr180="P-Early-Media: inactive")
    try:
        cl.invite("bob", sink.port, (0,), pem=None, supported=None)
        i, _, r18 = cl.wait(lambda m: m.status == 180, 5, what="180")
        info("caller's 180: P-Early-Media %r, Alert-Info %r, RSeq %r"
             % (r18.all("p-early-media"), r18.all("alert-info"),
                r18.get("rseq")))
        check("sendrecv" not in pem_values(r18), "the 180 carries "
              "P-Early-Media %r" % r18.all("p-early-media"))
        _, _, fin = cl.response("1 INVITE", 5, i)
        check(fin.status == 200, "the INVITE ended %s" % fin.first)
        cl.ack(fin)
        time.sleep(0.2)
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    check(srv.alive(), "the server is gone")
    rec = call_of(srv, cl.call_id)
    info("API events: %s" % " ".join(ev_names(rec.get("events", []))))
    pe = pem_events(rec, "inactive")
    info("P-Early-Media events: %r" % pe)
    check(pe, "API: no event mentions the callee's P-Early-Media: inactive")
    check(rec.get("mode_bt") == "http", "mode_bt %r" % rec.get("mode_bt"))


@test
def gw_pem_from_callee_gateway(t):
    """A callee's 180 with P-Early-Media: gated in a gateway-mode call:
    the caller's 18x carries exactly the server's own sendrecv, the
    INVITE to the callee not the server's sendrecv; the call completes."""
    srv, rec, _ = gw_update_call(t, ring_ms=1500,
                                 hdr180="P-Early-Media: gated")
    info("P-Early-Media events: %r" % pem_events(rec, "gated"))


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
    ap.add_argument("--slow", action="store_true",
                    help="also run the slow tests (over 30 s each)")
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
    tests = [f for f in TESTS if (not args.pattern or
                                  args.pattern in f.__name__) and
             (args.slow or f not in SLOW_TESTS)]
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
