'''A small scripted SIP user agent over UDP for the integration tests.

One UA is one party on 127.0.0.1 with its own socket (and, with alt=True,
a second one, to name in a Via while sending from the first).  A reader
thread takes every datagram of both sockets, parses it (cmrtest_sip.SipMsg)
and appends it to ua.msgs with msg.src (its source address), msg.sock
(0 main socket, 1 the second one), msg.t (time.monotonic() of arrival)
and msg.idx (its index in ua.msgs, for after=).  Nothing is answered
automatically: the test scripts every request and response.

As a callee:

    bob = UA(srv, "bob").register()          # REGISTER, 200 expected
    inv = bob.next_request("INVITE")
    bob.reply(inv, 183, tag="A", rel=True, body=sdp(bob.media, 1))
    pr = bob.next_request("PRACK")           # pr.get("rack") == "1 1 INVITE"
    bob.reply(pr, 200)
    bob.reply(inv, 200, tag="A")             # no SDP this time
    d = bob.uas_dialog(inv, "A")             # the callee's own requests:
    d.request("BYE")                         # d.transact("BYE") waits too

As a caller:

    alice = UA(srv, "alice", alt=True)
    d = alice.invite("bob", body=sdp(alice.media, 1), supported="100rel",
                     rport=False, via_port=alice.alt_port)
    r18 = alice.wait(d.match_rsp("1 INVITE", final=False))
    d.prack(r18, body=None)                  # RAck from its RSeq and CSeq
    ok = alice.wait(d.match_rsp("1 INVITE"))
    d.ack(ok); d.transact("BYE")

A Dialog is one side's view of one dialog: Call-ID, local and remote
tag, the remote target, the local CSeq.  The caller's dialog before a
tagged response has no remote tag; d.fork(rsp) (what ack, prack and the
in-dialog requests use) is the dialog of that response's To tag, so two
forks of one INVITE are two Dialogs.  In-dialog requests go to the
server's address; their Request-URI is the peer's Contact.

ua.wait(pred, timeout, after) returns the first message from index after
on that satisfies pred, or fails the test with the UA's ladder (every
message sent and received, in order); ua.matching(pred, after) lists them
without waiting, for negative checks after a barrier; ua.barrier() is an
OPTIONS to the server and its 200 (the server handles one socket's
messages in order), then ua.sync(), which makes sure every datagram
already queued on either socket has been read.  ua.answer_all(call_id)
answers 200 whatever requests of a call came and were not handed out.
ua.save(path) writes the full trace, sent and received, with times.
sdp() builds a session description and media_lines() picks the lines two
SDPs are compared on.  parties(t) starts a server and the two usual UAs
(alice calling, bob registered) and saves their traces in t.tmp; with
SIPUA_DEBUG=1 in the environment the server also writes a pcap there.
'''

import os
import random
import re
import select
import socket
import threading
import time

from cmrtest import HOST, Fail
from cmrtest_sip import SipMsg, contacts_of, new_id, tag_param

REASONS = {100: "Trying", 180: "Ringing", 183: "Session Progress",
           200: "OK", 481: "Call/Transaction Does Not Exist",
           486: "Busy Here", 487: "Request Terminated",
           488: "Not Acceptable Here", 491: "Request Pending",
           500: "Server Internal Error"}


def sdp(port, version=1, user="ua", sess=None, direction=None, pts=(0,),
        addr=HOST):
    """An SDP with one audio stream at addr:port; version: the o= line's
    sess-version; direction: an a= direction attribute or none."""
    sess = sess or 1000 + len(user)
    lines = ["v=0", "o=%s %d %d IN IP4 %s" % (user, sess, version, addr),
             "s=-", "c=IN IP4 %s" % addr, "t=0 0",
             "m=audio %d RTP/AVP %s" % (port, " ".join(map(str, pts)))]
    lines += ["a=rtpmap:%d %s/8000" % (p, {0: "PCMU", 8: "PCMA"}[p])
              for p in pts if p in (0, 8)]
    if direction:
        lines.append("a=" + direction)
    return ("\r\n".join(lines) + "\r\n").encode()


def media_lines(body):
    """The c=, m= and direction lines of an SDP, in order: what two
    descriptions of the same media have in common."""
    text = (body or b"").decode("utf-8", "replace")
    return [l.strip() for l in text.splitlines()
            if l.startswith(("c=", "m=")) or
            l.strip() in ("a=sendonly", "a=recvonly", "a=inactive",
                          "a=sendrecv")]


def sdp_version(body):
    m = re.search(r"(?m)^o=\S+ \S+ (\d+) ", (body or b"").decode("utf-8",
                                                                 "replace"))
    return int(m.group(1)) if m else None


def cseq_num(msg):
    return int(msg.cseq().split()[0])


def is_req(method):
    """A predicate: requests of this method."""
    return lambda m: m.status is None and m.first.startswith(method + " ")


class Dialog:
    """One side's state of one dialog (or of an INVITE before any To tag):
    local/remote name-addr (without tag), tags, remote target, CSeq."""

    def __init__(self, ua, call_id, local, ltag, remote, rtag, target,
                 cseq, via_port=None, rport=True):
        self.ua, self.call_id = ua, call_id
        self.local, self.ltag = local, ltag
        self.remote, self.rtag = remote, rtag
        self.target, self.cseq = target, cseq
        self.via_port = via_port or ua.port
        self.rport = rport
        self.forks = {}
        self.invite_cseq = None    # the INVITE that made it (caller side)
        self.branch = None         # its Via branch
        self.ruri = target
        self.sent = {}             # CSeq string: (branch, Request-URI)
        self.parent = None

    # -- building and sending --
    def build(self, method, cseq=None, headers=(), body=b"",
              ctype="application/sdp", branch=None, to_tag=None,
              ruri=None):
        """A request of this dialog: (bytes, CSeq string, branch)."""
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        branch = branch or "z9hG4bK" + new_id("ua")
        rtag = self.rtag if to_tag is None else to_tag
        lines = ["%s %s SIP/2.0" % (method, ruri or self.target),
                 "Via: SIP/2.0/UDP %s:%d;branch=%s%s"
                 % (HOST, self.via_port, branch,
                    ";rport" if self.rport else ""),
                 "Max-Forwards: 70",
                 "From: %s;tag=%s" % (self.local, self.ltag),
                 "To: %s%s" % (self.remote, ";tag=" + rtag if rtag else ""),
                 "Call-ID: %s" % self.call_id,
                 "CSeq: %d %s" % (cseq, method)]
        if method in ("INVITE", "UPDATE", "SUBSCRIBE", "REFER"):
            lines.append("Contact: <%s>" % self.ua.contact)
        lines += list(headers)
        if body:
            lines.append("Content-Type: %s" % ctype)
        lines.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        self.sent["%d %s" % (cseq, method)] = (branch, ruri or self.target)
        return data, "%d %s" % (cseq, method), branch

    def request(self, method, **kw):
        """Sends a request of this dialog; returns its CSeq string."""
        data, cseq, branch = self.build(method, **kw)
        self.ua.send(data)
        self.last_branch = branch
        return cseq

    def transact(self, method, timeout=5.0, **kw):
        """request() and its final response."""
        after = len(self.ua.msgs)
        cseq = self.request(method, **kw)
        return self.ua.wait(self.match_rsp(cseq), timeout, after,
                            "final response to %s" % cseq)

    def match_rsp(self, cseq, final=True, status=None):
        """A predicate: responses of this Call-ID to CSeq cseq."""
        def pred(m):
            return (m.status is not None and m.cseq() == cseq and
                    m.get("call-id") == self.call_id and
                    (not final or m.status >= 200) and
                    (status is None or m.status == status))
        return pred

    def match_req(self, method):
        """A predicate: requests of method in this Call-ID."""
        return lambda m: is_req(method)(m) and \
            m.get("call-id") == self.call_id

    # -- the caller's INVITE --
    def fork(self, rsp):
        """The dialog of rsp's To tag (made on first use); its target
        follows the Contact of the latest response seen for it."""
        tag = tag_param(rsp.get("to"))
        if not tag:
            raise Fail("%s: no To tag" % rsp.first)
        d = self.forks.get(tag)
        if d is None:
            d = Dialog(self.ua, self.call_id, self.local, self.ltag,
                       self.remote, tag, self.ruri, self.cseq,
                       self.via_port, self.rport)
            d.invite_cseq, d.branch, d.ruri = (self.invite_cseq,
                                               self.branch, self.ruri)
            d.parent = self
            self.forks[tag] = d
        c = contacts_of(rsp)
        if c:
            d.target = c[0][0]
        return d

    def prack(self, rsp, body=b"", headers=()):
        """The PRACK of a reliable 1xx (RAck: its RSeq and CSeq); returns
        the PRACK's CSeq string."""
        d = self.fork(rsp)
        rack = "RAck: %s %s" % ((rsp.get("rseq") or "").strip(), rsp.cseq())
        cseq = d.request("PRACK", headers=[rack] + list(headers), body=body)
        self.cseq = max(self.cseq, d.cseq)
        return cseq

    def ack(self, rsp, body=b""):
        """The ACK of a 2xx (to an INVITE or re-INVITE of this dialog or
        its parent's): a new transaction to the dialog's target."""
        d = self.fork(rsp) if self.rtag is None else self
        d.request("ACK", cseq=cseq_num(rsp), body=body)
        return d

    def ack_error(self, rsp):
        """The ACK of a non-2xx final: its INVITE's branch and URI."""
        sent = self.sent.get(rsp.cseq()) or \
            (self.parent and self.parent.sent.get(rsp.cseq()))
        if not sent:
            raise Fail("ACK: no INVITE %s sent in this dialog" % rsp.cseq())
        data, _, _ = self.build("ACK", cseq=cseq_num(rsp), branch=sent[0],
                                ruri=sent[1],
                                to_tag=tag_param(rsp.get("to")) or "")
        self.ua.send(data)

    def cancel(self):
        data, _, _ = self.build("CANCEL", cseq=self.invite_cseq,
                                branch=self.branch, ruri=self.ruri,
                                to_tag="")
        self.ua.send(data)
        return "%d CANCEL" % self.invite_cseq


class UA:
    """One SIP party on UDP (see the module docstring)."""

    def __init__(self, srv, user, alt=False, name=None):
        self.srv, self.user = srv, user
        self.name = name or user
        self.socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM)]
        if alt:
            self.socks.append(socket.socket(socket.AF_INET,
                                            socket.SOCK_DGRAM))
        for s in self.socks:
            s.bind((HOST, 0))
        self.port = self.socks[0].getsockname()[1]
        self.alt_port = self.socks[1].getsockname()[1] if alt else None
        self.contact = "sip:%s@%s:%d" % (user, HOST, self.port)
        self.media = random.randrange(20000, 29998, 2)  # named, not bound
        self.msgs = []
        self.trace = []            # (monotonic, "->"/"<-", sock, bytes)
        self.returned = set()      # requests next_request() handed out
        self.rseq = {}             # our next RSeq per To tag
        self.cv = threading.Condition()
        self.synced = set()        # sync() markers read
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                ready, _, _ = select.select(self.socks, [], [], 0.05)
            except (OSError, ValueError):
                return
            for s in ready:
                try:
                    data, src = s.recvfrom(70000)
                except OSError:
                    continue
                if not data.strip():
                    continue       # keep-alive
                if data.startswith(b"SIPUA-SYNC "):
                    with self.cv:
                        self.synced.add(data)
                        self.cv.notify_all()
                    continue
                m = SipMsg(data)
                m.src, m.sock, m.t = src, self.socks.index(s), \
                    time.monotonic()
                with self.cv:
                    m.idx = len(self.msgs)
                    self.msgs.append(m)
                    self.trace.append((m.t, "<-", m.sock, data))
                    self.cv.notify_all()

    def close(self):
        self.running = False
        self.thread.join(2)
        for s in self.socks:
            s.close()

    def send(self, data, dst=None, sock=0):
        with self.cv:
            self.trace.append((time.monotonic(), "->", sock, data))
        self.socks[sock].sendto(data, dst or (HOST, self.srv.sip))

    # -- what arrived --
    def mark(self):
        with self.cv:
            return len(self.msgs)

    def ladder(self):
        with self.cv:
            out = []
            for _, d, s, data in self.trace:
                m = SipMsg(data)
                out.append("%s%s %s (%s)" % (d, "'" if s else "", m.first,
                                             m.cseq()))
            return " / ".join(out)

    def save(self, path):
        """The full trace: every datagram sent and received, with times."""
        with self.cv, open(path, "wb") as f:
            t0 = self.trace[0][0] if self.trace else 0
            for t, d, s, data in self.trace:
                f.write(("==== %+.3f s %s %s socket %d\n"
                         % (t - t0, self.name, d, s)).encode())
                f.write(data + b"\n")

    def wait(self, pred, timeout=5.0, after=0, what="message"):
        """The first message from index after on that satisfies pred;
        Fail after timeout seconds."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for m in self.msgs[after:]:
                    if pred(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cv.wait(left)
        raise Fail("%s: no %s within %.1f s; ladder: %s"
                   % (self.name, what, timeout, self.ladder()))

    def matching(self, pred, after=0, before=None):
        with self.cv:
            return [m for m in self.msgs[after:before] if pred(m)]

    def next_request(self, method, timeout=5.0, after=0, call_id=None):
        """The next request of method not handed out before (a
        retransmission, same branch and CSeq, counts as handed out)."""
        def pred(m):
            return (is_req(method)(m) and
                    (call_id is None or m.get("call-id") == call_id) and
                    self._key(m) not in self.returned)
        m = self.wait(pred, timeout, after, "%s request" % method)
        self.returned.add(self._key(m))
        return m

    @staticmethod
    def _key(m):
        via = m.get("via") or ""
        b = re.search(r"branch=([^;,\s]+)", via)
        return (b.group(1) if b else via, m.cseq())

    def sync(self, timeout=2.0):
        """Returns once every datagram already queued on our sockets has
        been read: a marker sent to each now queues behind them."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            marks = []
            for i, own in enumerate(self.socks):
                marks.append(b"SIPUA-SYNC %s" % new_id("s").encode())
                s.sendto(marks[-1], own.getsockname())
            with self.cv:
                ok = self.cv.wait_for(lambda: all(m in self.synced
                                                  for m in marks), timeout)
        finally:
            s.close()
        if not ok:
            raise Fail("%s: sync markers not read within %.1f s"
                       % (self.name, timeout))

    def barrier(self, timeout=3.0):
        """An OPTIONS outside any dialog and its 200, then sync(): whatever
        the server sent us in answer to anything before it has arrived
        and been read by then, on either socket."""
        d = Dialog(self, new_id("bar"), "<sip:%s@%s>" % (self.user, HOST),
                   new_id("t"), "<sip:%s:%d>" % (HOST, self.srv.sip), None,
                   "sip:%s:%d" % (HOST, self.srv.sip), 1)
        r = d.transact("OPTIONS", timeout)
        if r.status != 200:
            raise Fail("%s: barrier OPTIONS answered %s" % (self.name,
                                                            r.first))
        self.sync()

    def answer_all(self, call_id, body=b""):
        """Answers 200 every request of call_id not handed out yet (body:
        our SDP for an INVITE or an UPDATE with an offer); ACKs are only
        taken.  Returns the methods, in order."""
        def pred(m):
            return (m.status is None and m.get("call-id") == call_id and
                    self._key(m) not in self.returned)
        done = []
        for m in self.matching(pred):
            self.returned.add(self._key(m))
            method = m.first.split()[0]
            done.append(method)
            if method != "ACK":
                self.reply(m, 200, body=body if method == "INVITE" or
                           (method == "UPDATE" and m.body) else b"")
        return done

    # -- as a callee --
    def register(self, expires=300):
        d = Dialog(self, new_id("reg"), "<sip:%s@%s>" % (self.user, HOST),
                   new_id("t"), "<sip:%s@%s>" % (self.user, HOST), None,
                   "sip:%s:%d" % (HOST, self.srv.sip), 0)
        r = d.transact("REGISTER", headers=["Contact: <%s>" % self.contact,
                                            "Expires: %d" % expires])
        if r.status != 200:
            raise Fail("%s: REGISTER answered %s" % (self.name, r.first))
        return self

    def reply(self, req, code, reason=None, tag=None, body=b"",
              ctype="application/sdp", rel=False, rseq=None, headers=(),
              contact=True):
        """Answers a request: its Vias, From, Call-ID and CSeq, its To with
        ;tag=tag added when it has none; a Contact on 1xx/2xx to INVITE
        and on 2xx to UPDATE; rel: Require: 100rel and the next RSeq of
        this To tag (or rseq).  Sent to the request's source from the
        socket it came in on; returns (bytes, RSeq or None)."""
        to = req.get("to") or ""
        if tag and not tag_param(to):
            to += ";tag=" + tag
        tag = tag_param(to)
        lines = ["SIP/2.0 %d %s" % (code, reason or REASONS.get(code, "X"))]
        lines += ["Via: %s" % v for v in req.all("via")]
        lines += ["From: %s" % req.get("from"), "To: %s" % to,
                  "Call-ID: %s" % req.get("call-id"),
                  "CSeq: %s" % req.cseq()]
        method = req.cseq().split()[-1]
        if contact and code < 300 and code > 100 and (
                method == "INVITE" or (method == "UPDATE" and code >= 200)):
            lines.append("Contact: <%s>" % self.contact)
        n = None
        if rel:
            n = rseq if rseq is not None else self.rseq.get(tag, 1)
            self.rseq[tag] = n + 1
            lines += ["Require: 100rel", "RSeq: %d" % n]
        lines += list(headers)
        if body:
            lines.append("Content-Type: %s" % ctype)
        lines.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        self.send(data, req.src, req.sock)
        return data, n

    def uas_dialog(self, req, tag, cseq=100):
        """The callee's dialog of a received INVITE with our To tag, for
        our own requests in it (CSeq from cseq on)."""
        frm = req.get("from") or ""
        c = contacts_of(req)
        if not c:
            raise Fail("%s: %s without Contact" % (self.name, req.first))
        return Dialog(self, req.get("call-id"),
                      re.sub(r";\s*tag=[^;>\s]+", "", req.get("to") or ""),
                      tag, re.sub(r";\s*tag=[^;>\s]+", "", frm),
                      tag_param(frm), c[0][0], cseq)

    # -- as a caller --
    def invite(self, user, body=b"", supported=None, headers=(),
               via_port=None, rport=True, cseq=1, call_id=None,
               allow="INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, UPDATE, "
                     "INFO"):
        """Sends an INVITE to user@server; returns the caller's Dialog
        (no remote tag yet: see Dialog.fork)."""
        ruri = "sip:%s@%s:%d" % (user, HOST, self.srv.sip)
        d = Dialog(self, call_id or new_id("call"),
                   "<sip:%s@%s>" % (self.user, HOST), new_id("ft"),
                   "<sip:%s@%s>" % (user, HOST), None, ruri, cseq - 1,
                   via_port, rport)
        d.invite_cseq = cseq
        hdrs = list(headers)
        if supported:
            hdrs.append("Supported: " + supported)
        if allow:
            hdrs.append("Allow: " + allow)
        data, _, d.branch = d.build("INVITE", headers=hdrs, body=body)
        self.send(data)
        return d


class parties:
    """with parties(t, ...) as (srv, alice, bob): a started server (kw:
    t.server's), a caller UA alice (alt: with a second socket) and a
    callee UA bob registered as bob.  On the way out every UA's trace is
    saved in t.tmp (<name>.sip) and the UAs are closed.  With SIPUA_DEBUG
    set in the environment the server also writes t.tmp/sip.pcap and logs
    at level debug (run.py --keep keeps them)."""

    def __init__(self, t, alt=False, **kw):
        # Callers that ask for no CMR mode get HTTP mode here, so that no
        # early media of ours comes into the ladders of these tests.
        kw.setdefault("plain", "http")
        self.t, self.alt, self.kw = t, alt, kw
        if os.environ.get("SIPUA_DEBUG"):
            kw["extra"] = tuple(kw.get("extra", ())) + (
                "--pcap", os.path.join(t.tmp, "sip.pcap"),
                "--log-level", "debug")
        self.uas = []

    def __enter__(self):
        srv = self.t.server(**self.kw)
        self.uas = [UA(srv, "alice", alt=self.alt), UA(srv, "bob")]
        self.uas[1].register()
        return srv, self.uas[0], self.uas[1]

    def __exit__(self, *exc):
        for ua in self.uas:
            try:
                ua.save("%s/%s.sip" % (self.t.tmp, ua.name))
            finally:
                ua.close()
        return False
