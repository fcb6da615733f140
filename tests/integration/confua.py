#!/usr/bin/env python3
'''A scripted CMR Client for `cmrlab conform --dut client`: the device
under test that the box's --dut-dial and --dut-answer commands start.

    confua.py --target sip:ADDR:PORT --to USER --mode MODE [--break NAME]
    confua.py --answer --as USER --mode MODE --target sip:ADDR:PORT
              [--ring S] [--break NAME]

The first places one call to USER through the box and follows the
calling party's procedure of MODE (http, as, gateway); the second
registers as USER, answers one call after --ring seconds and follows the
called party's procedure (http, as).  By default it does what OMA CMR
1.1.1.4, 1.1.1.8 and 1.1.1.11 and RFC 3262 and 3311 ask of a CMR Client:

- http: it fetches the Alert-Info URL of the 18x (calling) or of the
  INVITE (called party);
- as: its INVITE has Supported: 100rel, early-session (calling), its
  reliable 18x Supported: early-session (called party); it answers the
  early-session offer in its PRACK (calling) or in its 200 (PRACK)
  (called party);
- gateway: its INVITE has P-Early-Media: supported and 100rel, UPDATE in
  Allow; it answers the UPDATE with its SDP and sends its RTP where the
  UPDATE says;
- every reliable 18x gets a PRACK whose RAck is that 18x's RSeq, CSeq
  number and method; every party sends RTP (PCMU, 20 ms) to the session's
  media once the call is answered, and a 200 to the BYE ends it.

--break NAME breaks exactly one of these rules (BREAKS), so that the case
that checks it, and only that one, fails.  The ladder (every message sent
and received) goes to standard output, which the box writes to its
--dial-log.  Retransmissions as RFC 3261 17 asks are rtxua.py's.  Only
the Python standard library is used.
'''

import argparse
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cmrtest import HOST                                     # noqa: E402
from cmrtest_sip import contacts_of, new_id, tag_param       # noqa: E402
from rtxua import Engine, Party, early_session_part          # noqa: E402
from sipua import sdp                                        # noqa: E402

BREAKS = {
    "no-download": "does not fetch the Alert-Info URL (http)",
    "no-early-session": "no early-session in the INVITE's Supported "
                        "(calling) or the reliable 18x's (called, as)",
    "no-es-answer": "the PRACK (calling) or its 200 (called) carries no "
                    "early-session answer (as)",
    "no-pem": "no P-Early-Media: supported in the INVITE (gateway)",
    "bad-rack": "the PRACK's RAck names the INVITE's CSeq number + 1",
    "update-no-sdp": "the 200 to the UPDATE carries no SDP (gateway)",
    "no-move": "after the UPDATE its RTP goes on to the early media's "
               "address, not the far end's (gateway)",
}
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, UPDATE"
PTIME = 0.02
LIFE = 40.0                # the UA ends by itself after this
HOLD = 8.0                 # the caller's BYE, if the box's has not come


def media_of(body):
    """(address, port, first payload type) of an SDP's audio stream."""
    text = (body or b"").decode("utf-8", "replace")
    c = re.search(r"(?m)^c=IN IP4 ([0-9.]+)", text)
    m = re.search(r"(?m)^m=audio (\d+) RTP/AVP((?: \d+)*)", text)
    if not c or not m:
        return None
    pts = [int(p) for p in m.group(2).split()]
    return c.group(1), int(m.group(1)), (pts[0] if pts else 0)


def session_part(m):
    """The session SDP of a message (not an early-session one)."""
    if not m.body:
        return None
    if (m.get("content-disposition") or "").split(";")[0].strip().lower() \
            == "early-session":
        return None
    if "multipart" in (m.get("content-type") or "").lower():
        from cmrtest_sip import body_parts
        for ctype, disp, content in body_parts(m):
            if ctype == "application/sdp" and disp in (None, "session"):
                return content
        return None
    return m.body


def alert_url(m):
    for v in m.all("alert-info"):
        u = re.search(r"<(https?://[^>]+)>", v)
        if u:
            return u.group(1)
    return None


class Rtp:
    """Our media: a socket that takes whatever comes, and PCMU every
    20 ms to the remote address once it is set."""

    def __init__(self, eng):
        self.eng = eng
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.dst = None
        self.pt = 0
        self.seq, self.ts = 1, 0
        self.ssrc = int.from_bytes(os.urandom(4), "big")
        self.sent = self.got = 0
        eng.add(self.sock, self._rx)
        self.tick = None

    def _rx(self, sock, data, src):
        self.got += 1

    def send_to(self, addr, port, pt):
        self.dst, self.pt = (addr, port), pt
        if self.tick is None:
            self.tick = self.eng.at(0, self._send)

    def _send(self):
        if self.dst:
            hdr = struct.pack("!BBHII", 0x80, self.pt & 0x7f,
                              self.seq & 0xffff, self.ts & 0xffffffff,
                              self.ssrc)
            try:
                self.sock.sendto(hdr + b"\xff" * 160, self.dst)
                self.sent += 1
            except OSError:
                pass
            self.seq += 1
            self.ts += 160
        self.tick = self.eng.at(PTIME, self._send)

    def stop(self):
        if self.tick:
            self.tick.cancel()
        self.dst = None


class Ua(Party):
    """What calling and called party share: the ladder on stdout, the
    download, the PRACK's early-session answer, the end."""

    def __init__(self, eng, user, server, mode, brk):
        Party.__init__(self, eng, user, user, server)
        self.mode, self.brk = mode, brk
        self.server = server
        self.rtp = Rtp(eng)
        self.ended = False
        self.fetched = set()

    def _note(self, d, m):
        Party._note(self, d, m)
        print("%7.3f %s %s (%s)" % (time.monotonic() - self.t0, d, m.first,
                                    m.cseq()), flush=True)

    def fail(self, why):
        Party.fail(self, why)
        print("error: " + why, flush=True)

    def download(self, m):
        url = alert_url(m)
        if not url or url in self.fetched:
            return
        self.fetched.add(url)
        if self.brk == "no-download":
            print("break: not fetching %s" % url, flush=True)
            return

        def get():
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    n = len(r.read())
                print("GET %s: %d, %d bytes" % (url, r.status, n),
                      flush=True)
            except OSError as e:
                print("GET %s: %s" % (url, e), flush=True)
        threading.Thread(target=get, daemon=True).start()

    def es_answer(self, offer):
        """Our early-session answer: we receive the resource."""
        med = media_of(offer)
        return sdp(self.rtp.port, 1, self.user, sess=4242,
                   pts=(med[2] if med else 0,), direction="recvonly")

    def answer_sdp(self, offer, version):
        med = media_of(offer)
        return sdp(self.rtp.port, version, self.user, sess=4711,
                   pts=(med[2] if med else 0,), direction="sendrecv")

    def end(self):
        self.ended = True
        self.rtp.stop()


class Caller(Ua):
    """The calling party: one call to --to through the box."""

    def __init__(self, eng, user, server, mode, brk, callee):
        Ua.__init__(self, eng, user, server, mode, brk)
        self.call_id = new_id("conf-%s" % mode)
        self.frm = "<sip:%s@%s>;tag=%s" % (user, HOST, new_id("ft"))
        self.ruri = "sip:%s@%s:%d" % (callee, server[0], server[1])
        self.to = "<%s>" % self.ruri
        self.cseq = 1
        self.final = None
        self.target = self.ruri
        self.to_tag = None
        self.rseq = 0
        self.ack = None
        self.branch = "z9hG4bK" + new_id("inv")
        self.sdp_ver = 1
        self.early = None          # the 18x's SDP answer's media (gateway)
        self.hold = None

    def start(self):
        hdrs = ["Contact: <%s>" % self.contact, "Allow: " + ALLOW]
        if self.mode == "as":
            hdrs.append("Supported: 100rel%s" % (
                "" if self.brk == "no-early-session" else ", early-session"))
        elif self.mode == "gateway":
            hdrs.append("Supported: 100rel")
            if self.brk != "no-pem":
                hdrs.append("P-Early-Media: supported")
        self.request("INVITE", self.ruri, self.call_id, 1, self.frm,
                     self.to, hdrs, sdp(self.rtp.port, 1, self.user,
                                        sess=4711, pts=(0, 8)),
                     on_rsp=self.on_invite_rsp, branch=self.branch)

    def _in_dialog(self, method, headers=(), body=b"", on_rsp=None,
                   ctype="application/sdp"):
        self.cseq += 1
        self.request(method, self.target, self.call_id, self.cseq, self.frm,
                     "%s;tag=%s" % (self.to, self.to_tag), headers, body,
                     ctype=ctype, on_rsp=on_rsp)

    def on_invite_rsp(self, m):
        if m.status < 200:
            if self.final is None and m.status > 100:
                self.provisional(m)
            return
        if self.final is not None:
            if self.ack:           # the final response again
                self.send(self.ack, again=True)
            return
        self.final = m.status
        if m.status >= 300:        # ACKed within the INVITE's transaction
            self.ack = self.request("ACK", self.ruri, self.call_id, 1,
                                    self.frm, m.get("to"),
                                    branch=self.branch)
            self.end()
            return
        c = contacts_of(m)
        if c:
            self.target = c[0][0]
        self.to_tag = tag_param(m.get("to"))
        self.ack = self.request("ACK", self.target, self.call_id, 1,
                                self.frm, "%s;tag=%s" % (self.to,
                                                         self.to_tag))
        med = media_of(session_part(m))
        if med:
            self.rtp.send_to(*med)
        self.hold = self.eng.at(HOLD, self.hang_up)

    def provisional(self, m):
        self.download(m)
        rseq = (m.get("rseq") or "").strip()
        if self.mode == "gateway" and self.early is None:
            self.early = media_of(session_part(m))
        if not rseq.isdigit() or int(rseq) <= self.rseq:
            return
        self.rseq = int(rseq)
        c = contacts_of(m)
        if c:
            self.target = c[0][0]
        self.to_tag = tag_param(m.get("to"))
        num, method = m.cseq().split()
        if self.brk == "bad-rack":
            num = str(int(num) + 1)
        hdrs = ["RAck: %s %s %s" % (rseq, num, method)]
        body = b""
        offer = early_session_part(m)
        if offer is not None and self.brk != "no-es-answer":
            hdrs.append("Content-Disposition: early-session")
            body = self.es_answer(offer)
        self._in_dialog("PRACK", hdrs, body)

    def on_request(self, method, m):
        if method == "UPDATE":
            offer = session_part(m)
            self.sdp_ver += 1
            body = self.answer_sdp(offer, self.sdp_ver) \
                if offer and self.brk != "update-no-sdp" else b""
            self.reply(m, 200, body=body, headers=["Allow: " + ALLOW])
            med = media_of(offer)
            if self.brk == "no-move" and self.early:
                print("break: RTP stays on %s:%d" % self.early[:2],
                      flush=True)
                self.rtp.send_to(*self.early)
            elif med:
                self.rtp.send_to(*med)
        elif method == "BYE":
            self.reply(m, 200)
            if self.hold:
                self.hold.cancel()
            self.end()
        elif method == "INVITE":
            offer = session_part(m)
            self.sdp_ver += 1
            self.reply(m, 200, body=self.answer_sdp(offer, self.sdp_ver),
                       until="2xx %s" % m.cseq())
            med = media_of(offer)
            if med:
                self.rtp.send_to(*med)
        else:
            Party.on_request(self, method, m)

    def on_ack(self, m):
        self.stop("2xx %s" % m.cseq().replace("ACK", "INVITE"))

    def hang_up(self):
        if not self.ended:
            self._in_dialog("BYE", on_rsp=lambda r: self.end()
                            if r.status >= 200 else None)


class Callee(Ua):
    """The called party: registers, rings --ring seconds, answers."""

    def __init__(self, eng, user, server, mode, brk, ring):
        Ua.__init__(self, eng, user, server, mode, brk)
        self.ring = ring
        self.invite = None
        self.tag = new_id("tt")
        self.answered = False
        self.registered = None
        self.rseq = 1 + int.from_bytes(os.urandom(2), "big")

    def register(self, expires=300):
        frm = "<sip:%s@%s>" % (self.user, HOST)

        def got(m):
            if m.status >= 200 and expires:
                self.registered = m.status
        self.request("REGISTER", "sip:%s:%d" % self.server,
                     new_id("reg"), 1 if expires else 2,
                     "%s;tag=%s" % (frm, new_id("rt")), frm,
                     ["Contact: <%s>" % self.contact,
                      "Expires: %d" % expires], on_rsp=got)

    def on_request(self, method, m):
        if method == "INVITE" and not tag_param(m.get("to")):
            self.initial_invite(m)
        elif method == "INVITE":
            self.reply(m, 200, body=self.answer_sdp(session_part(m), 2),
                       until="2xx %s" % m.cseq())
        elif method == "PRACK":
            self.prack(m)
        elif method == "UPDATE":
            offer = session_part(m)
            self.reply(m, 200, body=self.answer_sdp(offer, 2)
                       if offer else b"")
        elif method == "BYE":
            self.reply(m, 200)
            if self.invite:
                self.stop("2xx %s" % self.invite.cseq())
            self.end()
        elif method == "CANCEL":
            self.reply(m, 200)
            if self.invite and not self.answered:
                self.reply(self.invite, 487, tag=self.tag)
            self.end()
        else:
            Party.on_request(self, method, m)

    def initial_invite(self, m):
        if self.invite is not None:
            self.reply(m, 486, tag=new_id("busy"))
            return
        self.invite = m
        self.reply(m, 100)
        self.download(m)
        if self.mode == "as":
            hdrs = ["Require: 100rel", "RSeq: %d" % self.rseq,
                    "Allow: " + ALLOW, "Supported: 100rel%s" % (
                        "" if self.brk == "no-early-session"
                        else ", early-session")]
            self.reply(m, 180, tag=self.tag, headers=hdrs, until="rel")
        else:
            self.reply(m, 180, tag=self.tag, headers=["Allow: " + ALLOW])
        self.eng.at(self.ring, self.answer)

    def prack(self, m):
        rack = (m.get("rack") or "").split()
        if rack[:1] != [str(self.rseq)]:
            self.reply(m, 481)
            return
        self.stop("rel")
        offer = early_session_part(m)
        if offer is not None and self.brk != "no-es-answer":
            self.reply(m, 200, headers=["Content-Disposition: "
                                        "early-session"],
                       body=self.es_answer(offer))
        else:
            self.reply(m, 200)

    def answer(self):
        if self.answered or self.ended:
            return
        self.answered = True
        self.stop("rel")
        offer = session_part(self.invite)
        self.reply(self.invite, 200, tag=self.tag,
                   body=self.answer_sdp(offer, 1),
                   headers=["Allow: " + ALLOW],
                   until="2xx %s" % self.invite.cseq())
        med = media_of(offer)
        if med:
            self.rtp.send_to(*med)

    def on_ack(self, m):
        if self.invite:
            self.stop("2xx %s" % self.invite.cseq())


def target_addr(uri):
    m = re.match(r"sip:([0-9.]+):(\d+)$", uri or "")
    if not m:
        raise SystemExit("confua: --target: %r is not sip:ADDR:PORT" % uri)
    return m.group(1), int(m.group(2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", required=True)
    ap.add_argument("--to")
    ap.add_argument("--from", dest="frm", default="dut")
    ap.add_argument("--answer", action="store_true")
    ap.add_argument("--as", dest="user")
    ap.add_argument("--mode", default="http",
                    choices=("http", "as", "gateway"))
    ap.add_argument("--ring", type=float, default=2.0)
    ap.add_argument("--break", dest="brk", choices=sorted(BREAKS))
    a = ap.parse_args()
    server = target_addr(a.target)
    if a.brk:
        print("break %s: %s" % (a.brk, BREAKS[a.brk]), flush=True)

    eng = Engine()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    if a.answer:
        if not a.user:
            ap.error("--answer needs --as USER")
        ua = Callee(eng, a.user, server, a.mode, a.brk, a.ring)
        ua.register()
        eng.run(lambda: ua.ended or stop, LIFE)
        ua.register(expires=0)
        eng.run(lambda: not ua.pending, 1.0)
    else:
        if not a.to:
            ap.error("--to USER is needed")
        ua = Caller(eng, a.frm, server, a.mode, a.brk, a.to)
        ua.start()
        eng.run(lambda: (ua.ended and not ua.pending) or stop, LIFE)
    print("rtp: %d sent, %d received" % (ua.rtp.sent, ua.rtp.got),
          flush=True)
    eng.close()
    return 1 if ua.errors else 0


if __name__ == "__main__":
    sys.exit(main())
