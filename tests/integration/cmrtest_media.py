'''Media helpers of cmrlab's integration tests: an RTP sink and the
checks of a received stream, and the early-media callers of application
server mode (AsCaller) and gateway mode (GwCaller).'''

import select
import socket
import struct
import threading
import time

from cmrtest import (
    Fail, HOST, check, check_events, ev_names, events_of, free_udp_block,
    info, wait_event)
from cmrtest_sip import (
    SDP_OFFER, SipClient, SipMsg, as_callee, contacts_of, new_id, only_sdp,
    pem_values, sdp_media, sdp_origin, tag_param, tags_of, via_branch)


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


def ts_skipped(pkts):
    """The frames an RTP stream passed over: the timestamp steps beyond
    one frame (160 samples) between packets in arrival order."""
    ts = [struct.unpack("!I", d[4:8])[0] for _, _, _, d in pkts
          if len(d) >= 12]
    return sum(((b - a) & 0xffffffff) // 160 - 1
               for a, b in zip(ts, ts[1:]) if (b - a) & 0xffffffff)


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
    # A tick of the streamer that came late (a loaded machine) skips the
    # frames it missed: the timestamp follows the clock (RFC 3550 5.1),
    # a step of whole frames.  How many depends on the machine's load, so
    # they are counted and shown here, and rtp_stopped() checks that the
    # server skipped exactly those (none was lost or sent twice).
    for a, b in zip(hdrs, hdrs[1:]):
        step = (b[3] - a[3]) & 0xffffffff
        check((b[2] - a[2]) & 0xffff == 1,
              "%s: sequence %d followed by %d" % (what, a[2], b[2]))
        check(step and step % 160 == 0 and step <= 160 * 10,
              "%s: timestamp %d followed by %d (step %d, expected 160) at "
              "seq %d" % (what, a[3], b[3], step, b[2]))
    skipped = ts_skipped(pkts)
    if skipped:
        info("%s: %d frame(s) skipped after late ticks" % (what, skipped))
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
    their number must be the event's, and so must the frames their
    timestamps pass over (skipped after late wake-ups)."""
    ev = wait_event(srv, "rtp-stopped", dir=d)
    sink.sync()
    pkts = sink.packets()
    check(pkts, "%s: no RTP packet arrived at all" % what)
    check(len(pkts) == ev.get("packets"), "%s: %d RTP packets arrived, "
          "the rtp-stopped event says %r were sent"
          % (what, len(pkts), ev.get("packets")))
    check(ts_skipped(pkts) == ev.get("skipped"), "%s: the timestamps pass "
          "over %d frame(s), the rtp-stopped event says %r were skipped"
          % (what, ts_skipped(pkts), ev.get("skipped")))
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
               supported="100rel", allow=GW_ALLOW, require=None,
               offer=True):
        """require: a Require value; offer False: no SDP at all."""
        self.user = user
        self.ruri = "sip:%s@%s:%d" % (user, HOST, self.srv.sip)
        self.rtp_port = rtp_port
        hdrs = ["Contact: <sip:alice@%s:%d>" % (HOST, self.port)]
        if allow:
            hdrs.append("Allow: " + allow)
        if supported:
            hdrs.append("Supported: " + supported)
        if require:
            hdrs.append("Require: " + require)
        if pem:
            hdrs.append("P-Early-Media: " + pem)
        if offer:
            hdrs.append("Content-Type: application/sdp")
        t, self.branch = self._req("INVITE", self.ruri, 1, headers=hdrs,
                                   body=gw_sdp(rtp_port, pts) if offer
                                   else b"")
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


def gw_parties(t, *args, plain=None, **kw):
    """The parties of a gateway mode call: (server, the callee of
    gw_callee with args and kw, an RtpSink for the caller's media,
    GwCaller); plain: the server's defaults plain=."""
    srv = t.server(plain=plain)
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
