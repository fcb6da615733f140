'''SIP helpers of cmrlab's integration tests: messages, a minimal SIP
client, INVITE and REGISTER, sipp scenarios, message bodies and SDP.'''

import datetime
import os
import random
import re
import socket
import subprocess
import time

from cmrtest import (
    Fail, HOST, check, free_port, free_udp_block, info, kill_proc, spawn,
    wait_bound)

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(HERE, "scenarios")
SIPP_WAIT = 30.0           # wall-clock bound around every sipp run


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
                 service=None, keys=None, args=()):
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
        cmd += list(args)
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
