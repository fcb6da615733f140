"""Application server mode (RFC 3959, OMA CMR clause 1.1.1.7): early-session
ringback and ringtone over RTP, reliable 18x and PRACK handling."""

import socket
import struct
import time

from cmrtest import (
    HOST, call_of, check, check_events, ev_names, events_of, info, slow_test,
    test)
from cmrtest_sip import (
    SipClient, SipMsg, as_callee, body_parts, callee_done, callee_got,
    disposition, register_ok, sdp_media, sipp_trace, tags_of)
from cmrtest_media import (
    AsCaller, RtpSink, STOP_LIMIT, cancel_streaming, check_reliable_bt,
    reliable_18x, rtp_analyse, rtp_stopped)


def sdp_answer(port, pt, user="alice"):
    """An early-session SDP answer: receive only, one codec."""
    name = {0: "PCMU", 8: "PCMA"}[pt]
    return ("v=0\r\no=%s 2 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP %d\r\na=rtpmap:%d %s/8000\r\na=recvonly\r\n"
            % (user, HOST, HOST, port, pt, pt, name)).encode()


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


def as_parties(t, scenario, **keys):
    """The parties of an application server mode call: (server, the
    callee of as_callee, an RtpSink for the caller's media, AsCaller)."""
    srv = t.server()
    callee = as_callee(t, srv, scenario, **keys)
    return srv, callee, RtpSink(), AsCaller(srv)


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
        delta = rtp_stopped(sink, t_fin, "ringback", srv)
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
        rtp_stopped(sink, t_fin, "ringback after a late PRACK", srv)
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
        rtp_stopped(sink, t_fin, "ringback, 486", srv)
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
        rtp_stopped(sink, t_fin, "ringback", srv)
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
    srv = t.server(plain="http")
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
        rtp_stopped(rt_sink, t_fin, "ringtone", srv, "rt")
        st = rtp_analyse(rt_sink.packets(), 0, "ringtone")
        if caller_as:
            rtp_stopped(bt_sink, t_fin, "ringback", srv)
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
