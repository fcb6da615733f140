'''SIP parties that retransmit, for calls over a lossy network.

sipua.py scripts one message at a time and never sends anything twice; a
call over a network that loses datagrams needs parties that do what
RFC 3261 section 17 and RFC 3262 ask of a user agent on UDP:

- a request we send is sent again after T1, 2*T1, 4*T1, ... (INVITE:
  until the first response; any other request: until the final one, the
  interval at most T2), and fails after 64*T1 = 32 s (Timers A/B, E/F);
- a 2xx to an INVITE we answer is sent again until its ACK comes, a
  reliable provisional response (100rel) until its PRACK comes (same
  intervals, up to 32 s);
- a request that arrives again (same Call-ID and CSeq) gets the last
  response we sent to it once more, and is not handed to the call a
  second time;
- a 2xx to our INVITE that arrives again is ACKed again; a reliable
  provisional response is PRACKed once, its retransmissions are ignored
  (our PRACK retransmits itself), and so is any provisional response
  that comes after the final one (reordering).

Every party of every call shares one Engine: a selector over all their
UDP sockets, and a heap of timers, run by engine.run(done, timeout) in
the calling thread.  Party.send() goes to one fixed address: the server's
SIP port, or the near side of a relay (faultnet.Relay), in which case the
party names the relay's far port in Via and Contact, so that whatever the
server sends it also takes the relay.

A Caller makes one call; its kind says which: "plain" (no 100rel: HTTP
mode), "as" (Supported: 100rel, early-session; its PRACK answers the
server's early-session offer), "gw-update" (P-Early-Media: supported,
100rel, UPDATE in Allow: it answers the server's UPDATE) or "gw-reinvite"
(the same without UPDATE: it answers the re-INVITE that follows its ACK).
It hangs up HOLD seconds after the 2xx (gw-reinvite: after the ACK of the
re-INVITE's 2xx).  A Callee registers, rings and answers one INVITE after
RING seconds (from the PRACK of its reliable 180), and answers the BYE;
its 180 is plain (kind "plain"), reliable ("rel") or reliable with
Supported: early-session ("as", whose 200 (PRACK) answers the server's
early-session offer).  Each records what happened in its `facts` (a set
of words) and, when something went wrong, in `errors`; `ladder()` is
every message it sent and received, for the failure report.  A party is
done once its call has ended and none of its requests waits for a final
response.
'''

import heapq
import selectors
import socket
import time

from cmrtest import HOST
from cmrtest_sip import SipMsg, body_parts, contacts_of, new_id, tag_param
from sipua import REASONS, sdp

T1, T2, T_END = 0.5, 4.0, 32.0
RING = 0.6                 # the callee rings this long (from its PRACK)
HOLD = 0.3                 # the caller hangs up this long after the 2xx
REINVITE_WAIT = 20.0       # gw-reinvite: the re-INVITE must come by then


class Timer:
    def __init__(self, when, fn, args):
        self.when, self.fn, self.args = when, fn, args
        self.cancelled = False

    def cancel(self):
        self.cancelled = True


class Engine:
    """One selector over many UDP sockets and a heap of timers."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.heap = []
        self.seq = 0

    def add(self, sock, fn):
        """fn(sock, data, src) for every datagram that sock receives."""
        sock.setblocking(False)
        self.sel.register(sock, selectors.EVENT_READ, fn)

    def remove(self, sock):
        try:
            self.sel.unregister(sock)
        except (KeyError, ValueError):
            pass

    def at(self, delay, fn, *args):
        tm = Timer(time.monotonic() + delay, fn, args)
        self.seq += 1
        heapq.heappush(self.heap, (tm.when, self.seq, tm))
        return tm

    def run(self, done, timeout):
        """Handles datagrams and timers until done() is true (returns
        True) or timeout seconds have passed (returns False)."""
        deadline = time.monotonic() + timeout
        while not done():
            now = time.monotonic()
            if now >= deadline:
                return False
            wait = min(deadline - now, 0.2)
            if self.heap:
                wait = max(0.0, min(wait, self.heap[0][0] - now))
            for key, _ in self.sel.select(wait):
                self._drain(key.fileobj, key.data)
            now = time.monotonic()
            while self.heap and self.heap[0][0] <= now:
                tm = heapq.heappop(self.heap)[2]
                if not tm.cancelled:
                    tm.cancelled = True
                    tm.fn(*tm.args)
        return True

    @staticmethod
    def _drain(sock, fn):
        while True:
            try:
                data, src = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:        # an ICMP error of an earlier send
                return
            fn(sock, data, src)

    def close(self):
        self.sel.close()


class Backoff:
    """Sends data to dst again after T1, 2*T1, ... (capped at cap) until
    stop(), and calls expire() once 32 s have passed without one."""

    def __init__(self, party, data, dst, cap, expire):
        self.party, self.data, self.dst = party, data, dst
        self.cap, self.expire = cap, expire
        self.interval = T1
        self.stopped = False
        self.tm = party.eng.at(T1, self._again)
        self.end = party.eng.at(T_END, self._expire)

    def _again(self):
        self.party.send(self.data, self.dst, again=True)
        self.interval = min(self.interval * 2, self.cap)
        self.tm = self.party.eng.at(self.interval, self._again)

    def _expire(self):
        self.stop()
        self.expire()

    def stop(self):
        if not self.stopped:
            self.stopped = True
            self.tm.cancel()
            self.end.cancel()


class Party:
    """One SIP endpoint of one call on its own UDP socket."""

    def __init__(self, eng, name, user, dst, relay=None):
        self.eng, self.name, self.user, self.dst = eng, name, user, dst
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.addr = self.sock.getsockname()
        self.port = relay.far_port if relay else self.addr[1]
        self.contact = "sip:%s@%s:%d" % (user, HOST, self.port)
        self.t0 = time.monotonic()
        self.trace = []            # (seconds, "->"/"<-", first line, CSeq)
        self.facts = set()
        self.errors = []
        self.stx = {}              # (Call-ID, CSeq) -> (response, dst)
        self.ctx = {}              # (Call-ID, CSeq) -> response handler
        self.pending = set()       # those without a final response yet
        self.rtx = {}              # name -> Backoff of a response
        eng.add(self.sock, self._recv)

    # -- wire --
    def send(self, data, dst=None, again=False):
        m = SipMsg(data)
        self._note("->" if not again else "->(again)", m)
        self.sock.sendto(data, dst or self.dst)

    def _note(self, d, m):
        self.trace.append((time.monotonic() - self.t0, d, m.first,
                           m.cseq()))

    def ladder(self):
        return " / ".join("%.2f %s %s (%s)" % x for x in self.trace)

    def fail(self, why):
        self.errors.append(why)

    def close(self):
        for b in self.rtx.values():
            b.stop()
        self.eng.remove(self.sock)
        self.sock.close()

    def _recv(self, sock, data, src):
        if not data.strip():
            return                 # keep-alive
        m = SipMsg(data)
        m.src = src
        self._note("<-", m)
        key = (m.get("call-id"), m.cseq())
        if m.status is not None:
            h = self.ctx.get(key)
            if h:
                h(m)
            return
        method = m.first.split(" ", 1)[0]
        if method == "ACK":
            self.on_ack(m)
            return
        if key in self.stx:        # a retransmission: our last answer
            last = self.stx[key]
            if last:
                self.send(last[0], last[1], again=True)
            return
        self.stx[key] = None
        self.on_request(method, m)

    # -- requests we send --
    def request(self, method, ruri, call_id, cseq, frm, to, headers=(),
                body=b"", ctype="application/sdp", on_rsp=None,
                branch=None):
        """Sends a request and retransmits it (module docstring);
        on_rsp(msg) gets every response to it, retransmissions too.
        Returns its bytes."""
        branch = branch or "z9hG4bK" + new_id("rtx")
        lines = ["%s %s SIP/2.0" % (method, ruri),
                 "Via: SIP/2.0/UDP %s:%d;branch=%s;rport"
                 % (HOST, self.port, branch),
                 "Max-Forwards: 70", "From: %s" % frm, "To: %s" % to,
                 "Call-ID: %s" % call_id, "CSeq: %d %s" % (cseq, method)]
        lines += list(headers)
        if body:
            lines.append("Content-Type: %s" % ctype)
        lines.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        self.send(data)
        if method == "ACK":
            return data
        key = (call_id, "%d %s" % (cseq, method))
        self.pending.add(key)
        cap = 64 * T1 if method == "INVITE" else T2
        what = "%s %s" % (self.name, key[1])
        b = Backoff(self, data, self.dst, cap,
                    lambda: self.fail("%s: no %sresponse within %d s"
                                      % (what, "" if method == "INVITE"
                                         else "final ", T_END)))

        def got(m):
            if m.status >= 200:
                self.pending.discard(key)
            if m.status >= 200 or method == "INVITE":
                b.stop()
            if on_rsp:
                on_rsp(m)
        self.ctx[key] = got
        return data

    # -- responses we send --
    def reply(self, req, code, tag=None, body=b"", ctype="application/sdp",
              headers=(), until=None):
        """Answers req; its retransmissions get this answer from now on.
        until: a name under which the answer is retransmitted until
        self.stop(name) (a 2xx to INVITE: until the ACK; a reliable 1xx:
        until the PRACK)."""
        to = req.get("to") or ""
        if tag and not tag_param(to):
            to += ";tag=" + tag
        lines = ["SIP/2.0 %d %s" % (code, REASONS.get(code, "OK"))]
        lines += ["Via: %s" % v for v in req.all("via")]
        lines += ["From: %s" % req.get("from"), "To: %s" % to,
                  "Call-ID: %s" % req.get("call-id"),
                  "CSeq: %s" % req.cseq()]
        method = req.cseq().split()[-1]
        if 100 < code < 300 and method in ("INVITE", "UPDATE"):
            lines.append("Contact: <%s>" % self.contact)
        lines += list(headers)
        if body:
            lines.append("Content-Type: %s" % ctype)
        lines.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        self.send(data, req.src)
        self.stx[(req.get("call-id"), req.cseq())] = (data, req.src)
        if until:
            what = "%s: %d (%s)" % (self.name, code, req.cseq())
            self.rtx[until] = Backoff(
                self, data, req.src, T2,
                lambda: self.fail("%s sent for %d s without its %s"
                                  % (what, T_END, "ACK" if code >= 200
                                     else "PRACK")))
        return data

    def stop(self, name):
        b = self.rtx.pop(name, None)
        if b:
            b.stop()
            return True
        return False

    # -- what subclasses do --
    def on_request(self, method, m):
        self.fail("%s: unexpected %s" % (self.name, m.first))
        self.reply(m, 501 if method != "BYE" else 200)

    def on_ack(self, m):
        pass


def early_session_part(msg):
    """The early-session SDP of a message body, or None."""
    for ctype, disp, content in body_parts(msg):
        if ctype == "application/sdp" and disp == "early-session":
            return content
    return None


def first_pt(offer, ours=(8, 0)):
    """The first payload type of an SDP offer that we have, else 0."""
    text = (offer or b"").decode("utf-8", "replace")
    for line in text.splitlines():
        if line.startswith("m=audio "):
            for pt in line.split()[3:]:
                if pt.isdigit() and int(pt) in ours:
                    return int(pt)
    return 0


class Caller(Party):
    """The calling party of one call (module docstring)."""

    ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS"

    def __init__(self, eng, kind, callee, server, media, relay=None):
        Party.__init__(self, eng, "caller->%s" % callee, "alice",
                       relay.near if relay else server, relay)
        self.kind, self.callee = kind, callee
        self.media = media         # where our SDP says we receive RTP
        self.call_id = new_id("loss-%s" % kind)
        self.frm = "<sip:alice@%s>;tag=%s" % (HOST, new_id("ft"))
        self.ruri = "sip:%s@%s:%d" % (callee, HOST, server[1])
        self.to = "<sip:%s@%s>" % (callee, HOST)
        self.cseq = 1
        self.final = None          # status of the INVITE's final response
        self.target = None         # the callee side's Contact
        self.to_tag = None
        self.rseq = 0              # the last RSeq we PRACKed
        self.ack = None            # bytes of our ACK to the 2xx
        self.bye = None            # status of the final response to BYE
        self.branch = None

    @property
    def done(self):
        """Hung up and every transaction of ours ended, or failed."""
        return (self.bye is not None and not self.pending) or \
            bool(self.errors)

    def start(self):
        hdrs = ["Contact: <%s>" % self.contact]
        if self.kind == "plain":
            hdrs.append("Allow: " + self.ALLOW)
        elif self.kind == "as":
            hdrs += ["Supported: 100rel, early-session",
                     "Allow: %s, PRACK" % self.ALLOW]
        else:
            hdrs += ["Supported: 100rel", "P-Early-Media: supported",
                     "Allow: %s, PRACK%s" % (self.ALLOW,
                                             ", UPDATE" if self.kind ==
                                             "gw-update" else "")]
        self.branch = "z9hG4bK" + new_id("inv")
        self.request("INVITE", self.ruri, self.call_id, 1, self.frm,
                     self.to, hdrs, sdp(self.media[1], 1, "alice",
                                        pts=(8, 0)),
                     on_rsp=self.on_invite_rsp, branch=self.branch)

    def _in_dialog(self, method, headers=(), body=b"", on_rsp=None):
        self.cseq += 1
        self.request(method, self.target, self.call_id, self.cseq, self.frm,
                     "%s;tag=%s" % (self.to, self.to_tag), headers, body,
                     on_rsp=on_rsp)

    def on_invite_rsp(self, m):
        if m.status < 200:
            if self.final is None:
                self.provisional(m)
            return
        if self.final is not None:
            if m.status < 300 and self.ack:
                self.send(self.ack, again=True)    # the 2xx again
            return
        self.final = m.status
        if m.status >= 300:
            self.fail("%s: the INVITE ended %s" % (self.name, m.first))
            self.request("ACK", self.ruri, self.call_id, 1, self.frm,
                         m.get("to"), branch=self.branch)
            return
        c = contacts_of(m)
        self.target = c[0][0] if c else self.ruri
        self.to_tag = tag_param(m.get("to"))
        self.ack = self.request("ACK", self.target, self.call_id, 1,
                                self.frm, "%s;tag=%s" % (self.to,
                                                         self.to_tag))
        if self.kind == "gw-reinvite":
            self.eng.at(REINVITE_WAIT, self._no_reinvite)
        else:
            self.eng.at(HOLD, self.hang_up)

    def provisional(self, m):
        """A 1xx before the final response: PRACK a reliable one with a
        new RSeq (with our early-session answer when it brings the
        server's offer); note what it carries."""
        if m.get("alert-info"):
            self.facts.add("alert-info")
        if "sendrecv" in (m.get("p-early-media") or "").lower():
            self.facts.add("pem-sendrecv")
        rseq = (m.get("rseq") or "").strip()
        if not rseq.isdigit() or int(rseq) <= self.rseq:
            return
        self.rseq = int(rseq)
        c = contacts_of(m)
        self.target = c[0][0] if c else self.ruri
        self.to_tag = tag_param(m.get("to"))
        hdrs = ["RAck: %s %s" % (rseq, m.cseq())]
        body = b""
        if early_session_part(m) is not None and \
                "es-offer" not in self.facts:
            self.facts.add("es-offer")
            hdrs.append("Content-Disposition: early-session")
            body = sdp(self.media[1], 1, "alice", pts=(8,),
                       direction="recvonly")
        self._in_dialog("PRACK", hdrs, body, on_rsp=self.on_prack_rsp)

    def on_prack_rsp(self, m):
        if m.status >= 200 and "prack-ok" not in self.facts:
            if m.status == 200:
                self.facts.add("prack-ok")
            else:
                self.fail("%s: PRACK answered %s" % (self.name, m.first))

    def on_request(self, method, m):
        if method == "UPDATE" and self.kind == "gw-update":
            self.facts.add("update")
            self.reply(m, 200, body=sdp(self.media[1], 2, "alice",
                                        pts=(first_pt(m.body),)))
        elif method == "INVITE" and self.kind == "gw-reinvite":
            self.facts.add("reinvite")
            self.reply(m, 200, body=sdp(self.media[1], 2, "alice",
                                        pts=(first_pt(m.body),)),
                       until="2xx %s" % m.cseq())
        elif method == "BYE":
            self.reply(m, 200)
            self.fail("%s: BYE from the server" % self.name)
        else:
            Party.on_request(self, method, m)

    def on_ack(self, m):
        if self.stop("2xx %s" % m.cseq().replace("ACK", "INVITE")) and \
                self.kind == "gw-reinvite" and "reinvite-acked" not in \
                self.facts:
            self.facts.add("reinvite-acked")
            self.eng.at(HOLD, self.hang_up)

    def _no_reinvite(self):
        if "reinvite-acked" not in self.facts and not self.done:
            self.fail("%s: no re-INVITE (or no ACK of its 2xx) within "
                      "%.0f s of the 200" % (self.name, REINVITE_WAIT))

    def hang_up(self):
        if "bye-sent" in self.facts:
            return
        self.facts.add("bye-sent")
        self._in_dialog("BYE", on_rsp=self.on_bye_rsp)

    def on_bye_rsp(self, m):
        if m.status >= 200 and self.bye is None:
            self.bye = m.status
            if m.status != 200:
                self.fail("%s: BYE answered %s" % (self.name, m.first))


class Callee(Party):
    """The called party of one call: registers as user, rings, answers."""

    def __init__(self, eng, kind, user, server, media, relay=None):
        Party.__init__(self, eng, "callee %s" % user, user,
                       relay.near if relay else server, relay)
        self.kind, self.server, self.media = kind, server, media
        self.registered = None     # status of the REGISTER's response
        self.invite = None
        self.tag = new_id("tt")
        self.answered = False
        self.bye = False

    @property
    def done(self):
        return (self.bye and not self.pending) or bool(self.errors)

    def register(self):
        frm = "<sip:%s@%s>" % (self.user, HOST)

        def got(m):
            if m.status >= 200 and self.registered is None:
                self.registered = m.status
                if m.status != 200:
                    self.fail("%s: REGISTER answered %s" % (self.name,
                                                             m.first))
        self.request("REGISTER", "sip:%s:%d" % self.server,
                     new_id("reg"), 1, "%s;tag=%s" % (frm, new_id("rt")),
                     frm, ["Contact: <%s>" % self.contact, "Expires: 300"],
                     on_rsp=got)

    def on_request(self, method, m):
        if method == "INVITE" and not tag_param(m.get("to")):
            self.initial_invite(m)
        elif method == "INVITE":   # a re-INVITE
            self.facts.add("reinvite")
            self.reply(m, 200, body=self._sdp(2, m.body),
                       until="2xx %s" % m.cseq())
        elif method == "PRACK":
            self.prack(m)
        elif method == "UPDATE":
            self.reply(m, 200, body=self._sdp(2, m.body) if m.body
                       else b"")
        elif method == "BYE":
            self.reply(m, 200)
            self.stop("2xx %s" % self.invite.cseq())
            self.bye = True
        elif method == "CANCEL":
            self.reply(m, 200)
            self.fail("%s: CANCEL from the server" % self.name)
        else:
            Party.on_request(self, method, m)

    def _sdp(self, version, offer=None):
        return sdp(self.media[1], version, self.user,
                   pts=(first_pt(offer) if offer else 8,))

    def initial_invite(self, m):
        if self.invite is not None:
            self.fail("%s: a second INVITE %s" % (self.name, m.cseq()))
            self.reply(m, 486)
            return
        self.invite = m
        self.reply(m, 100)
        if self.kind in ("as", "rel"):
            hdrs = ["Require: 100rel", "RSeq: 1",
                    "Allow: INVITE, ACK, BYE, CANCEL, PRACK, UPDATE"]
            if self.kind == "as":
                hdrs.append("Supported: early-session")
            self.reply(m, 180, tag=self.tag, headers=hdrs, until="rel 1")
        else:
            self.reply(m, 180, tag=self.tag)
            self.eng.at(RING, self.answer)

    def prack(self, m):
        if (m.get("rack") or "").split()[:1] != ["1"] or \
                not self.stop("rel 1"):
            self.reply(m, 481)
            self.fail("%s: PRACK with RAck %r for no reliable response "
                      "of ours" % (self.name, m.get("rack")))
            return
        self.facts.add("prack")
        offer = early_session_part(m)
        if offer is not None:
            self.facts.add("es-offer")
            self.reply(m, 200, headers=["Content-Disposition: "
                                        "early-session"],
                       body=sdp(self.media[1], 1, self.user,
                                pts=(first_pt(offer),),
                                direction="recvonly"))
        else:
            self.reply(m, 200)
        self.eng.at(RING, self.answer)

    def answer(self):
        if self.answered or self.bye:
            return
        self.answered = True
        self.reply(self.invite, 200, tag=self.tag,
                   body=self._sdp(1, self.invite.body),
                   until="2xx %s" % self.invite.cseq())

    def on_ack(self, m):
        if self.invite and m.cseq().split()[:1] == \
                self.invite.cseq().split()[:1]:
            if self.stop("2xx %s" % self.invite.cseq()):
                self.facts.add("acked")
        else:
            self.stop("2xx %s" % m.cseq().replace("ACK", "INVITE"))

