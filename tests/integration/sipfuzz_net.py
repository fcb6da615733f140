'''Transport and wire checks of the SIP fuzz test (test_fuzz_sip.py).

Endpoint is one party's transport: a UDP socket, or a TCP listener (its
port is the party's Contact) with the connections it accepts and one
connection of its own to the server.  Messages from the server are framed
(over TCP by their Content-Length) and checked by wire_problems().  Sinks
are UDP ports that the parties' SDPs name: bound and never read, so that
the server's RTP to them gets no ICMP error and runs until the server
stops it.
'''

import re
import socket

from cmrtest import HOST, free_udp_block
from cmrtest_sip import SipMsg, tag_param

START_LINE = re.compile(r"^(?:[A-Z]+ \S+ SIP/2\.0|SIP/2\.0 [1-6]\d\d .*)$")
HEADER_LINE = re.compile(r"^[!#-'*+.0-9A-Z^-z|~-]+[ \t]*:")


def wire_problems(raw, udp):
    """What is wrong with a message the server sent: (what is wrong with
    any message, what is wrong with one that answers a clean request or
    is a request of the server's).  The first: its start line, the blank
    line after the headers, a response to an ACK.  The second: header
    lines, the headers every message needs, Content-Length, a request's
    Via branch, From tag and CSeq."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "surrogateescape").split("\r\n")
    m = SipMsg(raw)
    always, out = [], []
    if not sep:
        always.append("no blank line after the headers")
    if not START_LINE.match(lines[0]):
        always.append("start line %r" % lines[0][:80])
    if m.status is not None and m.cseq().endswith(" ACK"):
        always.append("a response to an ACK")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        out.append("headers are not UTF-8")
    for ln in lines[1:]:
        if ln[:1] not in (" ", "\t") and not HEADER_LINE.match(ln):
            out.append("header line %r" % ln[:80])
    for h in ("via", "from", "to", "call-id", "cseq"):
        if not m.all(h):
            out.append("no %s" % h)
    for h in ("from", "to", "call-id", "cseq", "content-length"):
        if len(m.all(h)) > 1:
            out.append("%d %s headers" % (len(m.all(h)), h))
    cl = m.get("content-length")
    if cl is None:
        out.append("no Content-Length")
    elif not cl.isdigit():
        out.append("Content-Length %r" % cl)
    elif udp and int(cl) != len(body):
        out.append("Content-Length %s, body %d bytes" % (cl, len(body)))
    if m.status is None:
        if not re.search(r"branch=z9hG4bK", m.get("via") or ""):
            out.append("Via without a z9hG4bK branch")
        if not tag_param(m.get("from")):
            out.append("From without tag")
        meth = m.first.split()[0] if m.first.split() else ""
        cs = m.cseq().split()
        want = "INVITE" if meth in ("ACK", "CANCEL") else meth
        if len(cs) != 2 or not cs[0].isdigit() or \
                cs[1] not in (meth, want):
            out.append("CSeq %r in a %s" % (m.cseq(), meth))
    return always, out


class Endpoint:
    """One party's transport (see the module docstring)."""

    def __init__(self, transport, srv_port):
        self.tp, self.srv = transport, (HOST, srv_port)
        self.conns = {}            # TCP socket -> bytes read, not framed
        self.out = None            # TCP: our connection to the server
        self.dropped = 0           # TCP: connections the server closed
        self.problems = []
        if transport == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((HOST, 0))
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((HOST, 0))
            self.sock.listen(16)
        self.port = self.sock.getsockname()[1]

    def uri(self, user):
        return "sip:%s@%s:%d%s" % (user, HOST, self.port,
                                   ";transport=tcp" if self.tp == "tcp"
                                   else "")

    def via(self, branch):
        return "SIP/2.0/%s %s:%d;branch=%s;rport" % (self.tp.upper(), HOST,
                                                     self.port, branch)

    def socks(self):
        return [self.sock] + list(self.conns)

    def send(self, data, conn=None, dst=None):
        """Over UDP to dst or the server; over TCP on conn while it is
        open, else on our own connection to the server."""
        try:
            if self.tp == "udp":
                self.sock.sendto(data, dst or self.srv)
                return True
            if conn is None or conn not in self.conns:
                if self.out is None:
                    self.out = socket.create_connection(self.srv, 3)
                    self.conns[self.out] = b""
                conn = self.out
            conn.sendall(data)
            return True
        except OSError:
            if conn is not None:
                self._drop(conn)
            return False

    def _drop(self, c):
        if c in self.conns:
            del self.conns[c]
            self.dropped += 1
        if c is self.out:
            self.out = None
        c.close()

    def read(self, s):
        """[(bytes, source address, connection)] of what s has."""
        if self.tp == "udp":
            try:
                data, src = s.recvfrom(70000)
            except OSError:
                return []
            return [(data, src, None)] if data.strip() else []
        if s is self.sock:
            try:
                c, _ = s.accept()
            except OSError:
                return []
            self.conns[c] = b""
            return []
        try:
            data = s.recv(70000)
        except OSError:
            data = b""
        if not data:
            self._drop(s)
            return []
        self.conns[s] += data
        out = []
        while True:
            buf = self.conns[s].lstrip(b"\r\n")
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.conns[s] = buf
                return out
            m = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)",
                          buf[:end])
            if not m:
                self.problems.append("a message over TCP without "
                                     "Content-Length")
            n = int(m.group(1)) if m else 0
            if len(buf) < end + 4 + n:
                self.conns[s] = buf
                return out
            out.append((buf[:end + 4 + n], None, s))
            self.conns[s] = buf[end + 4 + n:]

    def drop_conns(self):
        """Closes every TCP connection, keeps the socket (its port)."""
        for c in list(self.conns):
            c.close()
        self.conns, self.out, self.problems = {}, None, []

    def close(self):
        for c in list(self.conns):
            c.close()
        self.conns = {}
        self.out = None
        self.sock.close()


class Sinks:
    """UDP ports bound in pairs (RTP, RTCP) and never read, for the SDPs
    of the parties: streams the server sends there get no ICMP error, so
    they run until the server stops them.  The kernel drops what does
    not fit in a socket's buffer."""

    def __init__(self, pairs):
        self.socks = []
        while len(self.socks) < 2 * pairs:
            base = free_udp_block(2)
            for port in (base, base + 1):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind((HOST, port))
                self.socks.append(s)
        self.ports = [s.getsockname()[1] for s in self.socks[::2]]

    def close(self):
        for s in self.socks:
            s.close()
