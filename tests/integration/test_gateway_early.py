"""Gateway mode calls that end or fall back during early media: busy, CANCEL
before and during the ringback, an offer without a codec to stream."""

from cmrtest import (
    call_of, check, check_events, ev_names, events_of, info, test, wait_event,
    wait_until)
from cmrtest_sip import (
    body_parts, callee_done, callee_got, only_sdp, pem_values, sdp_media,
    sipp_trace)
from cmrtest_media import (
    cancel_streaming, check_gw_events, gw_early_media, gw_parties, rtp_analyse,
    rtp_stopped)


@test
def gw_busy_early_media(t):
    """The callee's 486 during early media: the stream stops and the
    caller gets the 486, no UPDATE."""
    srv, callee, sink, cl = gw_parties(t, "uas_ring_busy.xml", ring_ms=1500)
    try:
        i, _, r18, ans, _ = gw_early_media(cl, sink, (8, 0), 8)
        _, t_fin, _ = cl.final(486, i, 5)
        rtp_stopped(sink, t_fin, "ringback, 486", srv)
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
        # A re-INVITE would leave at once on the ACK (gateway mode without
        # UPDATE); the barrier brings in whatever the server sent.
        wait_event(srv, "confirmed")
        cl.barrier()
        sink.sync()
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
        # The CANCEL once the callee has the INVITE and has sent its 100
        # (its trace shows the 100 after the send; loopback is at once).
        wait_event(srv, "leg-invite")
        wait_until(lambda: any(d == "->" and m.status == 100
                               for d, m, _ in sipp_trace(callee)), 3,
                   "100 Trying in the callee's trace")
        cl.cancel_487(i)
        wait_event(srv, "ended")
        cl.barrier()
        sink.sync()
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
