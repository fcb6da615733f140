"""SDP whose last line has no CRLF of its own (a multipart part before its
delimiter, RFC 2046 5.1.1, or a lone body) is read by every reader."""

from cmrtest import (
    HOST, call_of, check, events_of, free_udp_block, info, test, wait_event)
from cmrtest_sip import (
    Sipp, as_callee, body_parts, callee_done, only_sdp, sdp_media, sipp_trace)
from cmrtest_media import (
    AsCaller, GwCaller, RtpSink, check_gw_18x, gw_callee, gw_early_media,
    gw_sdp, reliable_18x, rtp_analyse, rtp_stopped)


def last_line_open(sdp, where):
    """Checks that the SDP bytes as sent end without a line end, so that
    the test really sends what it is about."""
    info("%s: ends %r" % (where, sdp[-24:]))
    check(sdp and not sdp.endswith(b"\n") and not sdp.endswith(b"\r"),
          "%s: the SDP ends with a line end after all: %r"
          % (where, sdp[-24:]))


def early_answer_of(msg, where):
    """The early-session SDP of msg, as bytes."""
    parts = [p for p in body_parts(msg) if p[0] == "application/sdp" and
             p[1] == "early-session"]
    check(len(parts) == 1, "%s: %d early-session SDP parts in %r"
          % (where, len(parts), msg.body[:300]))
    return parts[0][2]


def check_answer_used(srv, call_id, d, pt, sink, t_final=None):
    """The server took the early-session answer of direction d and
    streamed pt to sink until the call was answered: the event log says
    usable, RTP with that payload type arrived at the answered address,
    as many packets as rtp-stopped counts."""
    esa = wait_event(srv, "early-session-answer", dir=d)
    info("early-session-answer (%s): %r" % (d, esa))
    check(esa.get("usable") is True and esa.get("pt") == pt and
          esa.get("dst") == "%s:%d" % (HOST, sink.port),
          "early-session-answer (%s): %r, expected usable, pt %d, dst "
          "%s:%d" % (d, esa, pt, HOST, sink.port))
    ev = wait_event(srv, "rtp-stopped", dir=d)
    sink.sync()
    pkts = sink.packets()
    check(len(pkts) == ev.get("packets"), "%d RTP packets arrived, "
          "rtp-stopped says %r" % (len(pkts), ev.get("packets")))
    st = rtp_analyse(pkts, pt, "RTP at the answered address (%s)" % d)
    rec = call_of(srv, call_id)
    check(rec.get("mode_" + d) == "as", "API: mode_%s %r, expected as"
          % (d, rec.get("mode_" + d)))
    return st


def as_prack_caller(t, scenario, pt):
    """A sipp caller in application server mode whose PRACK carries the
    early-session answer as scenario frames it; the callee rings 1.5 s."""
    srv = t.server()
    callee = as_callee(t, srv, "uas_answer.xml", ring_ms=1500)
    sink = RtpSink()
    try:
        caller = Sipp(t.tmp, scenario, "caller",
                      remote="%s:%d" % (HOST, srv.sip), service="bob",
                      keys={"rtp_port": sink.port, "rtp_pt": pt})
        rc = caller.wait()
        why = caller.verdict(rc)
        check(why is None, why or "")
        callee_done(callee)
        tr = sipp_trace(caller)
        pr = [m for dr, m, _ in tr if dr == "->" and
              m.first.startswith("PRACK ")]
        check(pr, "the caller's trace has no PRACK")
        last_line_open(early_answer_of(pr[0], "PRACK"), "PRACK's answer")
        call_id = pr[0].get("call-id")
        st = check_answer_used(srv, call_id, "bt", pt, sink)
        check(st["n"] >= 40, "only %d RTP packets in 1.5 s of ringing"
              % st["n"])
    finally:
        sink.close()


@test
def sdp_crlf_as_prack_multipart(t):
    """Application server mode: the caller's PRACK answers the early
    session with a multipart/mixed whose SDP part has no CRLF of its own
    before the close delimiter; the ringback streams to its address."""
    as_prack_caller(t, "uac_as_prack_multipart.xml", 8)


@test
def sdp_crlf_as_prack_lone(t):
    """Application server mode: the caller's PRACK answers the early
    session with a lone application/sdp body without a final CRLF; the
    ringback streams to its address."""
    as_prack_caller(t, "uac_as_prack_lone.xml", 0)


@test
def sdp_crlf_as_ringtone(t):
    """Application server mode toward the callee: its 200 (PRACK) answers
    our early-session offer with a lone body without a final CRLF; the
    ringtone streams to its address."""
    srv = t.server()
    sink = RtpSink()
    callee = as_callee(t, srv, "uas_as_rel180_nocrlf.xml", ring_ms=1500,
                       rtp_port=sink.port, rtp_pt=0)
    cl = AsCaller(srv)
    try:
        cl.invite("bob", supported=None)
        i, _, _ = cl.wait(lambda m: m.status == 180, 5, what="180")
        _, t_fin, _ = cl.final(200, i, 6)
        st = check_answer_used(srv, cl.call_id, "rt", 0, sink)
        rtp_stopped(sink, t_fin, "ringtone", srv, "rt")
        check(st["n"] >= 40, "only %d RTP packets in 1.5 s of ringing"
              % st["n"])
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    ok = [m for dr, m, _ in sipp_trace(callee) if dr == "->" and
          m.status == 200 and m.cseq().endswith(" PRACK")]
    check(ok, "the callee's trace has no 200 (PRACK)")
    last_line_open(early_answer_of(ok[0], "200 (PRACK)"),
                   "the callee's answer")


class OpenOfferCaller(GwCaller):
    """A gateway-mode caller whose INVITE offer lacks the final CRLF."""

    def invite(self, user, rtp_port, pts=(8, 0), **kw):
        self.user = user
        self.ruri = "sip:%s@%s:%d" % (user, HOST, self.srv.sip)
        self.rtp_port = rtp_port
        self.offer = gw_sdp(rtp_port, pts)[:-2]
        hdrs = ["Contact: <sip:alice@%s:%d>" % (HOST, self.port),
                "Allow: INVITE, ACK, BYE, CANCEL, PRACK, UPDATE",
                "Supported: 100rel", "P-Early-Media: supported",
                "Content-Type: application/sdp"]
        t, self.branch = self._req("INVITE", self.ruri, 1, headers=hdrs,
                                   body=self.offer)
        return t


@test
def sdp_crlf_gw_offer(t):
    """Gateway mode: an INVITE offer without a final CRLF gets our SDP
    answer in the reliable 18x and the ringback at its address; the
    callee gets the offer with its last line ended."""
    srv = t.server()
    callee = gw_callee(t, srv, "uas_ring_busy.xml", ring_ms=1500)
    sink = RtpSink()
    cl = OpenOfferCaller(srv)
    try:
        cl.invite("bob", sink.port, (8, 0))
        last_line_open(cl.offer, "the INVITE's offer")
        i, _, r18 = cl.wait(reliable_18x, 5, what="reliable 18x")
        rseq, ans, _ = check_gw_18x(r18, (8, 0), 8,
                                    "caller's %d" % r18.status)
        cl.prack_ok(r18, "%d 1 INVITE" % rseq)
        _, t_fin, _ = cl.final(486, i, 5)
        rtp_stopped(sink, t_fin, "gateway ringback", srv)
        st = rtp_analyse(sink.packets(), 8, "gateway ringback",
                         src=(ans["addr"], ans["port"]))
        check(st["n"] >= 40, "only %d RTP packets in 1.5 s of ringing"
              % st["n"])
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    rec = call_of(srv, cl.call_id)
    check(rec.get("mode_bt") == "gateway", "API: mode_bt %r, expected "
          "gateway" % rec.get("mode_bt"))
    started = events_of(rec, "rtp-started", dir="bt")
    check(started and started[0].get("dst") == "%s:%d" % (HOST, sink.port),
          "API: rtp-started %r, expected dst %s:%d" % (started, HOST,
                                                       sink.port))
    # The offer the callee got: the caller's, its last line now ended.
    inv = [m for dr, m, _ in sipp_trace(callee) if dr == "<-" and
           m.first.startswith("INVITE ")]
    check(inv, "the callee's trace has no INVITE")
    info("offer relayed to the callee ends %r" % inv[0].body[-24:])
    check(inv[0].body == cl.offer + b"\r\n", "the callee's offer is not "
          "the caller's with a CRLF after its last line: %r"
          % inv[0].body[-60:])
    check(sdp_media(inv[0].body)["port"] == sink.port,
          "the callee's offer names another port")


@test
def sdp_crlf_gw_answer_moved(t):
    """Gateway mode: the caller answers our UPDATE (the callee's SDP) with
    an SDP without a final CRLF that moves its media; the server reads it,
    tells the callee in a re-INVITE, the SDP's last line ended."""
    srv = t.server()
    callee = as_callee(t, srv, "uas_gw_answer_reinvite.xml", ring_ms=1500,
                       pt=8, hdr180="Subject: ringing")
    sink = RtpSink()
    cl = GwCaller(srv)
    moved = free_udp_block(2)
    try:
        i, _, _, _, _ = gw_early_media(cl, sink, (8, 0), 8)
        j, _, upd = cl.request_in("UPDATE", 6, i)
        answer = gw_sdp(moved, [8], 2)[:-2]
        last_line_open(answer, "the caller's answer to the UPDATE")
        cl.respond(upd, 200, "OK", answer)
        _, _, fin = cl.response("1 INVITE", 5, j)
        check(fin.status == 200, "the INVITE ended %s" % fin.first)
        cl.ack(fin)
        ev = wait_event(srv, "caller-media-changed")
        info("caller-media-changed: %r" % ev)
        check(ev.get("from") == "%s:%d" % (HOST, sink.port) and
              ev.get("to") == "%s:%d" % (HOST, moved),
              "caller-media-changed %r, expected from %s:%d to %s:%d"
              % (ev, HOST, sink.port, HOST, moved))
        # The callee's scenario wants its ACK before the BYE.
        wait_event(srv, "reinvite-callee-answered")
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    inv = [m for dr, m, _ in sipp_trace(callee) if dr == "<-" and
           m.first.startswith("INVITE ")]
    check(len(inv) == 2, "the callee got %d INVITE(s), expected 2"
          % len(inv))
    sdp = only_sdp(inv[1], "re-INVITE to the callee")
    info("re-INVITE to the callee ends %r" % sdp[-24:])
    check(sdp == answer + b"\r\n", "the re-INVITE's SDP is not the "
          "caller's answer with a CRLF after its last line: %r" % sdp[-60:])
