'''The executor of the SIP fuzz test (test_fuzz_sip.py): plays one
sipfuzz.Script against a running cmrlab serve with a caller (A) and a
callee (B) of its own, each on its own sipfuzz_net.Endpoint (UDP or TCP),
and records what crossed the wire and what was wrong with what the server
sent.

CallRun.run_steps() sends the caller's INVITE, plays the steps, then the
tail (a "coop" side ends the call and answers everything, a "silent" one
no longer answers); wait_end() goes on until the server reports the call
ended and every clean request of ours has its final response.  The
server's requests are answered as the script's policy says, one answer
per transaction: a retransmission gets the same answer again.  A party
also does what every transaction layer does: it ACKs a final error
response to its INVITE and ACKs again a 2xx it has ACKed before, unless
it is silent.  What each side sent and got is the call's ladder.
'''

import re
import select
import time

from cmrtest import HOST
from cmrtest_sip import SipMsg, contacts_of, tag_param
from sipfuzz import Msg, multipart, mutate, reason, sdp
from sipfuzz_net import Endpoint, wire_problems

WAIT_INVITE = 3.0      # how long the callee's first step waits for it
WAIT_RSP = 1.0         # how long a step waits for what it answers


class Party:
    """One side's state beyond its transport."""

    def __init__(self, who, ep, user):
        self.who, self.ep, self.user = who, ep, user
        self.rx = []               # SipMsg received, with .t .conn .src
        self.answers = {}          # (branch, CSeq) -> our answer's bytes
        self.held = []             # requests waiting for answer_held
        self.used = {}             # method -> policy answers used
        self.last = None           # (bytes, conn) of our last message
        self.mode = "script"       # then the tail's "coop" or "silent"
        self.sent = {}             # "Call-ID|CSeq" -> sent clean?
        self.tainted = False       # sent a message a mutation broke
        self.pending = {}          # our clean requests without a final
        self.finals = {}           # ... and when their final came
        self.labels = {}           # ... and what kind of request it was
        self.codes = []            # (kind of request, final status)
        self.order = []            # clean requests but CANCEL, as sent
        self.final_code = {}       # ... their final status


class CallRun:
    """One call of a script (see the module docstring).  srv: the Server;
    callee_user: the subscriber called (its contact is b.ep.uri(), which
    the test registers); static: the Endpoint of a static contact= of
    that subscriber or None; sinks: the sipfuzz_net.Sinks that SDPs
    name."""

    def __init__(self, script, srv, callee_user, static, sinks):
        self.s, self.srv, self.user = script, srv, callee_user
        self.sinks = sinks.ports
        self.srv_ports = set()     # the ports of the server's SDPs
        i = script.index
        self.a = Party("A", Endpoint(script.tp_a, srv.sip), "fz%d" % i)
        self.b = Party("B", static or Endpoint(script.tp_b, srv.sip),
                       callee_user)
        self.static = static is not None
        self.t0 = time.monotonic()
        self.ladder = []
        self.problems = []         # what the oracle reports
        self.strays = []           # datagrams not from the SIP socket
        self.call_id = "fz-%d-%d-%d" % (script.seed, i, int(time.time()))
        self.ftag, self.inv_cseq = "fa%d" % i, 1 + (i * 7919) % 5000
        self.a_cseq, self.b_cseq = self.inv_cseq, 100 + i % 50
        self.branch = "z9hG4bKfzA%d" % i
        self.a_rsp = []            # responses to the INVITE
        self.pracked, self.acked, self.a_final = set(), None, None
        self.inv_clean = True      # the INVITE went as the script drew it
        self.poisoned = False      # a TCP stream may have lost framing
        self.ack_wall = None       # when the caller ACKed the 2xx cleanly
        self.a_end_wall = None     # when it first sent CANCEL or BYE
        self.b_inv, self.b_tag = None, "fb%d" % i
        self.b_rseq, self.b_final = 1 + i % 100, None
        self.b_final_wall, self.b_final_clean = None, False
        self.b_acked = False
        self.top = {"A": self.inv_cseq}    # the highest CSeq sent
        self.offer = sdp(self.sdp_port(i), 1, "fza")
        self.label = None          # the kind of the next request sent
        self.seq = 0

    def sdp_port(self, n):
        return self.sinks[n % len(self.sinks)]

    # ---- the wire ----
    def log(self, party, arrow, data, note=""):
        m = SipMsg(data)
        self.ladder.append("%6.2f %s%s %s (%s)%s" % (
            time.monotonic() - self.t0, party.who, arrow, m.first[:60],
            m.cseq()[:30], note))

    def send(self, party, msg, mut=None, conn=None, dst=None):
        if party is self.a and self.a_end_wall is None and \
                msg.start.split()[0] in ("CANCEL", "BYE"):
            self.a_end_wall = time.time()
        notes = mutate(msg, mut, party.ep.tp) if mut else set()
        data = msg.render()
        if "framing" in notes and party.ep.tp == "tcp":
            self.poisoned = True
        if "invalid" in notes:
            party.tainted = True
        self.log(party, "->", data, (" {%s}" % self.label if self.label
                                     else "") +
                 (" [%s]" % mut[0] if mut else ""))
        party.ep.send(data, conn, dst)
        party.last = (data, conn, dst)
        if msg.start.endswith("SIP/2.0"):
            m = SipMsg(data)
            key = "%s|%s" % (m.get("call-id"), m.cseq())
            party.sent[key] = "invalid" not in notes
            if "invalid" not in notes and not msg.start.startswith("ACK "):
                party.pending[key] = time.monotonic() - self.t0
                party.labels[key] = self.label or m.first.split()[0]
                if not msg.start.startswith("CANCEL "):
                    party.order.append(key)
        self.label = None
        return "invalid" not in notes

    def pump(self, secs, until=None):
        """Reads and handles messages for secs seconds, or until until()
        holds; returns until()'s last value."""
        end = time.monotonic() + secs
        eps = [(self.a, self.a.ep), (self.b, self.b.ep)]
        while True:
            if until and until():
                return True
            left = end - time.monotonic()
            if left <= 0:
                return False
            socks = {s: p for p, ep in eps for s in ep.socks()}
            try:
                ready, _, _ = select.select(list(socks), [], [],
                                            min(left, 0.05))
            except (OSError, ValueError):
                return False
            for s in ready:
                p = socks[s]
                for data, src, conn in p.ep.read(s):
                    self.receive(p, data, src, conn)

    def receive(self, p, data, src, conn):
        if src is not None and src != p.ep.srv:
            # Not from the server's SIP socket over UDP: RTP or RTCP that
            # went astray, or a stranger.
            self.strays.append("%s got %d bytes from %s:%d: %r" % (
                p.who, len(data), src[0], src[1], data[:12]))
            return
        m = SipMsg(data)
        m.t, m.wall, m.src, m.conn = time.monotonic(), time.time(), src, conn
        if p is self.b and self.static and not self.mine(m):
            return                 # another call's, at a shared contact
        self.log(p, "<-", data)
        self.srv_ports.update(int(x) for x in re.findall(
            rb"m=audio (\d+) ", m.body))
        always, bad = wire_problems(data, p.ep.tp == "udp")
        key = "%s|%s" % (m.get("call-id"), m.cseq())
        # A message may carry what either side sent (the server relays
        # bodies, reason phrases, a 3xx's Contact): strict only when no
        # mutation broke anything in the call, for a response only when
        # its request went clean.
        if self.a.tainted or self.b.tainted or (
                m.status is not None and not p.sent.get(key)):
            bad = []
        bad = always + bad
        if bad:
            self.problems.append("%s got a malformed %s: %s"
                                 % (p.who, m.first[:50], "; ".join(bad)))
        p.rx.append(m)
        if m.status is not None:
            self.response(p, m)
        else:
            self.request(p, m)

    def mine(self, m):
        if self.b_inv is not None:
            return m.get("call-id") == self.b_inv.get("call-id")
        return "sip:fz%d@" % self.s.index in (m.get("from") or "")

    # ---- responses ----
    def response(self, p, m):
        key = "%s|%s" % (m.get("call-id"), m.cseq())
        if m.status >= 200 and key in p.pending:
            del p.pending[key]
            p.finals[key] = m.wall
            p.final_code[key] = m.status
            p.codes.append(("%s %s" % (p.who, p.labels.get(key)),
                            m.status))
        cs = m.cseq().split()
        if len(cs) != 2 or not cs[0].isdigit():
            return
        if p is self.a and m.get("call-id") == self.call_id and \
                cs == [str(self.inv_cseq), "INVITE"]:
            self.a_rsp.append(m)
            if m.status >= 200 and self.a_final is None:
                self.a_final = m
            if m.status >= 300 and p.mode != "silent":
                self.ack_error(p, m, self.branch)
            elif m.status >= 200 and self.acked is not None and \
                    p.mode != "silent":
                p.ep.send(self.acked)          # a 2xx again: ACK again
            return
        if cs[1] == "INVITE" and m.status >= 200 and p.mode != "silent":
            if m.status < 300:
                self.ack_2xx(p, m, int(cs[0]))
            else:
                self.ack_error(p, m, None)

    def ack_error(self, p, rsp, branch):
        """The ACK of a final error response: its request's branch."""
        via = rsp.get("via") or ""
        b = re.search(r"branch=([^;,\s]+)", via)
        msg = Msg("ACK %s SIP/2.0" % self.ruri(p), [
            ("Via", p.ep.via(branch or (b.group(1) if b else "z9hG4bKx"))),
            ("Max-Forwards", "70"), ("From", rsp.get("from") or ""),
            ("To", rsp.get("to") or ""), ("Call-ID", rsp.get("call-id")),
            ("CSeq", "%s ACK" % rsp.cseq().split()[0]),
            ("Content-Length", None)])
        p.ep.send(msg.render(), rsp.conn, rsp.src)

    def ack_2xx(self, p, rsp, n):
        frm, to = self.dialog_ends(p)
        msg = self.req(p, "ACK", n, frm, to + ";tag=" + tag_param(
            rsp.get("to")) if p is self.a else to, self.target(p, rsp))
        p.ep.send(msg.render(), rsp.conn if p is self.b else None, rsp.src)

    # ---- requests from the server ----
    def request(self, p, m):
        meth = m.first.split()[0]
        via = m.get("via") or ""
        b = re.search(r"branch=([^;,\s]+)", via)
        key = (b.group(1) if b else via, m.cseq())
        if meth == "ACK":
            if p is self.b and self.b_final:
                self.b_acked = True
            return
        if p is self.b and meth == "INVITE" and not tag_param(m.get("to")):
            if self.b_inv is None:
                self.b_inv = m
                return
            if key == self.key_of(self.b_inv):
                if key in p.answers:
                    p.ep.send(p.answers[key], m.conn, m.src)
                return
            return                 # a second call's, or a stale one
        if key in p.answers:
            p.ep.send(p.answers[key], m.conn, m.src)
            return
        if p.mode == "silent":
            return
        if p.mode == "coop":
            what = ("ok", None)
        else:
            pol = self.s.policy[p.who]
            lst = pol.get(meth) or pol["other"]
            n = p.used.get(meth, 0)
            p.used[meth] = n + 1
            what = lst[min(n, len(lst) - 1)]
        if what[0] == "hold":
            p.held.append(m)
        elif what[0] != "ignore":
            self.answer(p, m, what[0], what[1])

    @staticmethod
    def key_of(m):
        b = re.search(r"branch=([^;,\s]+)", m.get("via") or "")
        return (b.group(1) if b else m.get("via"), m.cseq())

    def answer(self, p, m, code, mut):
        """Answers a request of the server: code "ok" is what a willing UA
        says (200 with an SDP answer where one is due; a CANCEL's 200 and
        then the INVITE's 487)."""
        meth = m.first.split()[0]
        body, hdrs, ctype = b"", [], "application/sdp"
        if code == "ok":
            code = 200
            if meth in ("INVITE", "UPDATE") and (m.body or meth == "INVITE"):
                self.seq += 1
                body = sdp(self.sdp_port(self.s.index + 1), self.seq + 1,
                           "fz" + p.who.lower())
            elif meth == "PRACK" and b"early-session" in m.raw:
                body = sdp(self.sdp_port(self.s.index + 3), 1, "fzes")
                hdrs = [("Content-Disposition", "early-session")]
        rsp = self.reply_msg(p, m, code, body, ctype, hdrs)
        self.send(p, rsp, mut, m.conn, m.src)
        p.answers[self.key_of(m)] = p.last[0]
        if meth == "CANCEL" and code == 200 and p is self.b and \
                self.b_inv is not None and self.b_final is None:
            self.b_final = 487
            self.send(p, self.reply_msg(p, self.b_inv, 487), None,
                      self.b_inv.conn, self.b_inv.src)
            p.answers[self.key_of(self.b_inv)] = p.last[0]

    def reply_msg(self, p, req, code, body=b"", ctype="application/sdp",
                  extra=()):
        to = req.get("to") or ""
        if code > 100 and not tag_param(to):
            to += ";tag=" + (self.b_tag if p is self.b else "fa%d" %
                             self.s.index)
        hs = [("Via", v) for v in req.all("via")]
        hs += [("From", req.get("from") or ""), ("To", to),
               ("Call-ID", req.get("call-id") or ""),
               ("CSeq", req.cseq())]
        meth = req.cseq().split()[-1] if req.cseq() else ""
        if 100 < code < 300 and meth in ("INVITE", "UPDATE", "SUBSCRIBE"):
            hs.append(("Contact", "<%s>" % p.ep.uri(p.user)))
        if 300 <= code < 400:
            hs.append(("Contact", "<sip:elsewhere@%s:9>" % HOST))
        if code == 401:
            hs.append(("WWW-Authenticate", 'Digest realm="fz", nonce="1"'))
        if code == 407:
            hs.append(("Proxy-Authenticate", 'Digest realm="fz", nonce="1"'))
        hs += list(extra)
        if body:
            hs.append(("Content-Type", ctype))
        hs.append(("Content-Length", None))
        return Msg("SIP/2.0 %d %s" % (code, reason(code)), hs, body)

    # ---- requests of ours ----
    def ruri(self, p):
        if p is self.a:
            return "sip:%s@%s:%d" % (self.user, HOST, self.srv.sip)
        return self.target(p, None)

    def target(self, p, rsp):
        """The remote target: the Contact of rsp, else the dialog's."""
        if rsp is not None and contacts_of(rsp):
            return contacts_of(rsp)[0][0]
        if p is self.b:
            c = contacts_of(self.b_inv) if self.b_inv else []
            return c[0][0] if c else "sip:%s:%d" % (HOST, self.srv.sip)
        for r in reversed(self.a_rsp):
            if contacts_of(r) and tag_param(r.get("to")) == self.a_tag():
                return contacts_of(r)[0][0]
        return self.ruri(p)

    def a_tag(self):
        """The caller's dialog: the 2xx's To tag, else the newest 1xx's."""
        if self.a_final is not None and self.a_final.status < 300:
            return tag_param(self.a_final.get("to"))
        for r in reversed(self.a_rsp):
            if tag_param(r.get("to")):
                return tag_param(r.get("to"))
        return None

    def dialog_ends(self, p):
        """(From, To without the remote tag) of p's requests."""
        if p is self.a:
            return ("<sip:fz%d@%s>;tag=%s" % (self.s.index, HOST, self.ftag),
                    "<sip:%s@%s>" % (self.user, HOST))
        return ((self.b_inv.get("to") or "") + ";tag=" + self.b_tag,
                self.b_inv.get("from") or "")

    def req(self, p, meth, cseq, frm, to, ruri, body=b"", hdrs=(),
            ctype="application/sdp"):
        self.seq += 1
        branch = "z9hG4bKfz%s%d-%d" % (p.who, self.s.index, self.seq)
        call_id = self.call_id if p is self.a else self.b_inv.get("call-id")
        hs = [("Via", p.ep.via(branch)), ("Max-Forwards", "70"),
              ("From", frm), ("To", to), ("Call-ID", call_id),
              ("CSeq", "%d %s" % (cseq, meth))]
        if meth in ("INVITE", "UPDATE"):
            hs.append(("Contact", "<%s>" % p.ep.uri(p.user)))
        hs += list(hdrs)
        if body:
            hs.append(("Content-Type", ctype))
        hs.append(("Content-Length", None))
        return Msg("%s %s SIP/2.0" % (meth, ruri), hs, body)

    def in_dialog(self, p, meth, params, cseq=None):
        """A request of p in its dialog (none yet: without a To tag)."""
        if cseq is None:
            if p is self.a:
                self.a_cseq += 1
                cseq = self.a_cseq
            else:
                self.b_cseq += 1
                cseq = self.b_cseq
        self.top[p.who] = max(self.top.get(p.who) or 0, cseq)
        frm, to = self.dialog_ends(p)
        if p is self.a and self.a_tag():
            to += ";tag=" + self.a_tag()
        body, hdrs = self.body_of(params.get("body"), p), []
        if meth == "INFO":
            hdrs, body = [("Info-Package", "fz")], b"fz=1\r\n"
        if meth == "MESSAGE":
            body = b"hello"
        msg = self.req(p, meth, cseq, frm, to, self.target(p, None), body,
                       hdrs, "text/plain" if meth in ("INFO", "MESSAGE")
                       else "application/sdp")
        conn = self.b_inv.conn if p is self.b else None
        if self.label is None:
            early = (self.a_final is None or self.a_final.status >= 300) \
                if p is self.a else (self.b_final is None or
                                     self.b_final >= 300)
            self.label = "%s%s%s" % (meth, " in no dialog" if ";tag=" not in
                                     to else "", " early" if early else "")
        return self.send(p, msg, params.get("mut"), conn)

    def body_of(self, kind, p):
        self.seq += 1
        port = self.sdp_port(self.s.index + self.seq)
        if kind == "same":
            return self.offer if p is self.a else sdp(self.sdp_port(
                self.s.index + 1), 2, "fzb")
        if kind in ("offer", "changed", "answer"):
            return sdp(port, self.seq + 2, "fz" + p.who.lower())
        if kind == "hold":
            return sdp(port, self.seq + 2, "fz" + p.who.lower(), "sendonly")
        return b""

    # ---- the script ----
    def run_steps(self):
        """Sends the INVITE, plays the steps and the tail."""
        self.invite()
        no_invite = False
        for who, action, p in self.s.steps:
            self.pump(p["pause"])
            party = self.a if who == "A" else self.b
            if who == "B" and self.b_inv is None:
                if not no_invite:
                    self.pump(WAIT_INVITE, lambda: self.b_inv is not None
                              or self.a_final is not None)
                if self.b_inv is None:
                    no_invite = True
                    continue
            getattr(self, "do_" + action)(party, p)
        self.pump(0.05)
        self.tail(self.a)
        self.tail(self.b)

    def wait_end(self, state, bound):
        """Goes on answering until state(call_id), the server's word, is
        True (ended) or None (no such call), at most bound seconds;
        returns whether it came."""
        cid = self.call_id
        done = self.pump(bound, lambda: state(cid) is not False)
        if done and state(cid) is None and not self.poisoned:
            # No call record yet: after an OPTIONS' answer on the same
            # transport, the server has handled the INVITE.
            self.barrier()
            done = self.pump(bound, lambda: state(cid) is not False)
        self.pump(0.3)
        # Every clean request gets its final response, however late.
        self.pump(bound, lambda: not self.unanswered())
        return done

    def unanswered(self):
        """"who: CSeq (sent at s)" of our clean requests that still have
        no final response (not over a TCP stream that lost framing or a
        connection the server closed)."""
        if self.poisoned:
            return []
        return ["%s: %s (sent at %.2f s)" % (p.who, k.split("|")[-1], t)
                for p in (self.a, self.b) if not p.ep.dropped
                for k, t in p.pending.items()]

    def barrier(self):
        self.seq += 1
        cid = "fzbar-%s-%d" % (self.call_id, self.seq)
        msg = self.req(self.a, "OPTIONS", 1, "<sip:fzbar@%s>;tag=x" % HOST,
                       "<sip:%s:%d>" % (HOST, self.srv.sip),
                       "sip:%s:%d" % (HOST, self.srv.sip))
        msg.set("Call-ID", cid)
        self.send(self.a, msg)
        self.pump(3.0, lambda: any(m.get("call-id") == cid
                                   for m in self.a.rx))

    def tail(self, p):
        p.mode = self.s.tail[p.who]
        if p.mode == "silent":
            p.held = []
            return
        for m in p.held:
            self.answer(p, m, "ok", None)
        p.held = []
        if p is self.a:
            if self.a_final is None:
                self.do_cancel(p, {"branch": "ok", "mut": None})
            elif self.a_final.status < 300:
                if self.acked is None:
                    self.do_ack(p, {"kind": "ok", "mut": None})
                if self.a_end_wall is None and not any(
                        m.first.startswith("BYE ") for m in p.rx):
                    self.in_dialog(p, "BYE", {})

    def invite(self):
        p, inv = self.a, self.s.invite
        sup = [t for t, on in (("100rel", inv["100rel"]),
                               ("early-session", inv["es"]),
                               ("timer", inv["se"] is not None)) if on]
        frm, to = self.dialog_ends(p)
        hs = [("Supported", ", ".join(sup))] if sup else []
        if inv["require100rel"]:
            hs.append(("Require", "100rel"))
        if inv["pem"]:
            hs.append(("P-Early-Media", "supported"))
        if inv["se"]:
            hs.append(("Session-Expires", str(inv["se"])))
        hs.append(("Allow", "INVITE, ACK, BYE, CANCEL, PRACK, INFO" +
                   (", UPDATE" if inv["update"] else "")))
        msg = self.req(p, "INVITE", self.inv_cseq, frm, to, self.ruri(p),
                       self.offer if inv["offer"] else b"", hs)
        msg.headers[0] = ("Via", p.ep.via(self.branch))
        msg.set("Call-ID", self.call_id)
        self.inv_clean = self.send(p, msg, inv["mut"])
        got = SipMsg(p.last[0]).get("call-id")
        if got and got != self.call_id:
            self.call_id = got            # a mutation changed it

    def do_prack(self, p, prm):
        def unpracked():
            return [r for r in self.a_rsp if r.status < 200 and
                    r.get("rseq") and (tag_param(r.get("to")),
                                       r.get("rseq")) not in self.pracked]
        self.pump(WAIT_RSP, lambda: unpracked())
        rel = unpracked()
        if not rel and prm["rack"] == "ok":
            return
        r = rel[-1] if rel else None
        rseq = (r.get("rseq") or "1").strip() if r else "1"
        if r:
            self.pracked.add((tag_param(r.get("to")), r.get("rseq")))
        rack = {"ok": "%s %d INVITE" % (rseq, self.inv_cseq),
                "wrong_rseq": "%d %d INVITE" % (int(rseq) + 1000
                                                if rseq.isdigit() else 7,
                                                self.inv_cseq),
                "wrong_cseq": "%s %d INVITE" % (rseq, self.inv_cseq + 50),
                "none": None}[prm["rack"]]
        hdrs = [("RAck", rack)] if rack else []
        self.a_cseq += 1
        self.top["A"] = max(self.top["A"], self.a_cseq)
        frm, to = self.dialog_ends(p)
        tag = tag_param(r.get("to")) if r else self.a_tag()
        body = self.body_of("answer", p) if prm["body"] else b""
        if prm["body"] == "es_answer":
            hdrs.append(("Content-Disposition", "early-session"))
        self.label = "PRACK %s%s" % (prm["rack"], "" if r else " (no 1xx)")
        msg = self.req(p, "PRACK", self.a_cseq, frm, to + (
            ";tag=" + tag if tag else ""), self.target(p, r), body, hdrs)
        self.send(p, msg, prm["mut"])

    def do_ack(self, p, prm):
        kind = prm["kind"]
        if kind == "stray":
            if self.a_final is not None:
                return
            frm, to = self.dialog_ends(p)
            tag = self.a_tag()
            msg = self.req(p, "ACK", self.inv_cseq, frm, to + (
                ";tag=" + tag if tag else ""), self.target(p, None))
            self.send(p, msg, prm["mut"])
            return
        if kind == "late":
            self.pump(1.5)
        self.pump(2.0, lambda: self.a_final is not None)
        f = self.a_final
        if f is None or f.status >= 300:
            return
        frm, to = self.dialog_ends(p)
        tag = tag_param(f.get("to")) if kind != "wrong_tag" else "fzwrong"
        body = b""
        if not self.s.invite["offer"] and f.body:
            body = self.body_of("answer", p)
        msg = self.req(p, "ACK", self.inv_cseq, frm, to + ";tag=%s" % tag,
                       self.target(p, f), body)
        clean = self.send(p, msg, prm["mut"])
        if kind != "wrong_tag":
            self.acked = p.last[0]
            if clean and self.ack_wall is None:
                self.ack_wall = time.time()

    def do_cancel(self, p, prm):
        frm, to = self.dialog_ends(p)
        msg = self.req(p, "CANCEL", self.inv_cseq, frm, to, self.ruri(p))
        self.label = "CANCEL %s%s" % (
            "after the final" if self.a_final else "",
            "" if prm["branch"] == "ok" else " other branch")
        if prm["branch"] == "ok":
            msg.headers[0] = ("Via", p.ep.via(self.branch))
        self.send(p, msg, prm["mut"])

    def do_bye(self, p, prm):
        self.in_dialog(p, "BYE", prm)

    def do_update(self, p, prm):
        self.in_dialog(p, "UPDATE", prm)

    def do_reinvite(self, p, prm):
        self.in_dialog(p, "INVITE", prm)

    def do_info(self, p, prm):
        self.in_dialog(p, "INFO", prm)

    def do_options(self, p, prm):
        self.in_dialog(p, "OPTIONS", prm)

    def do_message(self, p, prm):
        self.in_dialog(p, "MESSAGE", prm)

    def do_lowcseq(self, p, prm):
        """A request with a CSeq below the highest one p has sent."""
        top = self.top.get(p.who)
        self.label = "%s with a lower CSeq" % prm["method"]
        if top is None:
            top = self.b_cseq + 1
            self.label = "%s, the first of ours" % prm["method"]
        self.in_dialog(p, prm["method"], prm, cseq=max(top - 1, 0))

    def do_reorder(self, p, prm):
        """An INFO and then an OPTIONS, the OPTIONS sent first: the INFO
        arrives with the lower CSeq."""
        base = self.a_cseq if p is self.a else self.b_cseq
        if p is self.a:
            self.a_cseq += 2
        else:
            self.b_cseq += 2
        self.label = "OPTIONS before a lower CSeq"
        self.in_dialog(p, "OPTIONS", prm, cseq=base + 2)
        self.label = "INFO after a higher CSeq"
        self.in_dialog(p, "INFO", {"mut": None}, cseq=base + 1)

    def do_dup(self, p, prm):
        if p.last is not None:
            data, conn, dst = p.last
            self.log(p, "->", data, " [dup]")
            p.ep.send(data, conn, dst)

    def do_await(self, p, prm):
        self.pump(2 * WAIT_RSP, lambda: any(
            m.first.startswith(prm["method"] + " ") for m in p.held))

    def do_answer_held(self, p, prm):
        for m in list(p.held):
            if prm["method"] in (None, m.first.split()[0]):
                p.held.remove(m)
                self.answer(p, m, "ok" if prm["code"] == 200 else
                            prm["code"], prm["mut"])
                return

    def do_prov(self, p, prm):
        code, hs = prm["code"], []
        if prm["rel"] and code > 100:
            if prm["rseq"] == "back":
                self.b_rseq -= 2
            elif prm["rseq"] == "jump":
                self.b_rseq += 1000
            elif prm["rseq"] == "same":
                self.b_rseq -= 1
            hs += [("Require", "100rel"), ("RSeq", str(self.b_rseq))]
            self.b_rseq += 1
        if prm["es"]:
            hs.append(("Supported", "100rel, early-session"))
        if prm["pem"]:
            hs.append(("P-Early-Media", "sendrecv"))
        self.b_respond(p, code, prm["body"] if code > 100 else None, hs,
                       prm["mut"])

    def do_final(self, p, prm):
        if self.b_final is not None:
            return
        self.b_final = prm["code"]
        clean = self.b_respond(p, prm["code"], prm["body"], [], prm["mut"])
        self.b_final_wall, self.b_final_clean = time.time(), clean

    def b_respond(self, p, code, kind, hs, mut):
        body, ctype = self.body_of(kind, p), "application/sdp"
        if kind == "multipart":
            ctype, body = multipart([("application/sdp", "session",
                                      self.body_of("answer", p))])
        rsp = self.reply_msg(p, self.b_inv, code, body, ctype, hs)
        clean = self.send(p, rsp, mut, self.b_inv.conn, self.b_inv.src)
        p.answers[self.key_of(self.b_inv)] = p.last[0]
        return clean

    def close(self):
        self.a.ep.close()
        if not self.static:
            self.b.ep.close()
