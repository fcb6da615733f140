"""Gateway mode (clauses 1.1.1.9 to 1.1.1.11, RFC 3960, RFC 5009) calls that
get answered: the UPDATE or re-INVITE with the callee's SDP, glare,
refused UPDATEs, P-Early-Media from the callee."""

import json
import time

from cmrtest import (
    HOST, call_of, check, ev_names, events_of, info, test, wait_event)
from cmrtest_sip import (
    callee_done, callee_got, only_sdp, pem_values, sdp_media, sdp_origin,
    sipp_trace, tag_param, via_branch)
from cmrtest_media import (
    GW_ALLOW_NO_UPDATE, STOP_LIMIT, check_gw_events, gw_early_media,
    gw_parties, gw_sdp, rtp_analyse, rtp_stopped)


def check_gw_reoffer(req, cl, r18, o1, callee, callee_pt, method, where):
    """The UPDATE or re-INVITE of clause 1.1.1.10: in the caller's dialog
    (Call-ID, tags, its Contact), the callee's c= and m= in the SDP, our
    o= line one version up (RFC 3264 section 8).  Returns the origin."""
    info("%s: %s, CSeq %s, From %s, To %s" % (where, req.first, req.cseq(),
                                              req.get("from"),
                                              req.get("to")))
    check(req.cseq().split()[-1:] == [method], "%s: CSeq %r"
          % (where, req.cseq()))
    check(req.get("call-id") == cl.call_id, "%s: Call-ID %r, the call's is "
          "%r" % (where, req.get("call-id"), cl.call_id))
    check(tag_param(req.get("from")) == tag_param(r18.get("to")),
          "%s: From tag %r, the dialog's (the 18x's To tag) is %r"
          % (where, tag_param(req.get("from")), tag_param(r18.get("to"))))
    check(tag_param(req.get("to")) == cl.from_tag, "%s: To tag %r, the "
          "caller's tag is %r" % (where, tag_param(req.get("to")),
                                  cl.from_tag))
    ruri = req.first.split()[1] if len(req.first.split()) > 1 else ""
    check("@%s:%d" % (HOST, cl.port) in ruri, "%s: Request-URI %r, the "
          "caller's Contact is sip:alice@%s:%d" % (where, ruri, HOST,
                                                   cl.port))
    sdp = only_sdp(req, where)
    m = sdp_media(sdp)
    info("%s: c=%s m=audio %d pts %s; o=%s"
         % (where, m["addr"], m["port"], m["pts"],
            " ".join(map(str, sdp_origin(sdp, where)))))
    check(m["addr"] == HOST and m["port"] == callee.mport,
          "%s: SDP names %s:%d, the callee's 200 named %s:%d"
          % (where, m["addr"], m["port"], HOST, callee.mport))
    check(m["pts"] == [callee_pt], "%s: formats %s, the callee's 200 had "
          "[%d]" % (where, m["pts"], callee_pt))
    o2 = sdp_origin(sdp, where)
    check(o2[0] == o1[0] and o2[1] == o1[1] and o2[3] == o1[3],
          "%s: o=%s, the server's 18x had o=%s: username, sess-id and "
          "address must stay (RFC 3264 section 8)"
          % (where, " ".join(map(str, o2)), " ".join(map(str, o1))))
    return o2


def check_gw_callee_side(callee, sink_port):
    """What the callee saw: the caller's offer in the INVITE and never the
    server's own P-Early-Media: sendrecv.  Returns the callee's trace."""
    tr = sipp_trace(callee)
    inv = [m for d, m, _ in tr if d == "<-" and m.first.startswith("INVITE")]
    check(inv, "the callee's trace has no INVITE")
    info("INVITE to the callee: P-Early-Media %r, Supported %r, Require %r"
         % (inv[0].all("p-early-media"), inv[0].all("supported"),
            inv[0].all("require")))
    check("sendrecv" not in pem_values(inv[0]), "the INVITE to the callee "
          "carries P-Early-Media %r" % inv[0].all("p-early-media"))
    check(("m=audio %d " % sink_port).encode() in inv[0].body,
          "the INVITE to the callee does not carry the caller's offer "
          "(m=audio %d): %r" % (sink_port, inv[0].body[:300]))
    return tr


def wall_of(tr, d, pred):
    w = [w for dd, m, w in tr if dd == d and pred(m)]
    return w[0] if w else None


def gw_update_call(t, pts=(8, 0), pt=8, callee_pt=8, ring_ms=2000,
                   hdr180="Subject: ringing", glare=False,
                   counter_offer=False):
    """Clause 1.1.1.10 with a caller that allows UPDATE: early media from
    the 18x until the callee's 200, then the UPDATE with the callee's SDP
    in the early dialog, its 200, and only then the 200 (INVITE) without
    SDP; ACK and BYE.  glare: the first UPDATE is answered 491 and the
    server must retry after 0 to 2 s (RFC 3261 section 14.1).  Returns
    (server, call record, figures)."""
    srv, callee, sink, cl = gw_parties(t, ring_ms=ring_ms, pt=callee_pt,
                                       hdr180=hdr180)
    fig = {}
    try:
        i, t18, r18, ans, o1 = gw_early_media(cl, sink, pts, pt)
        j, t_upd, upd = cl.request_in("UPDATE", ring_ms / 1000.0 + 5, i)
        fin = [m for _, m in cl.msgs[i:j] if m.status and m.status >= 200
               and m.cseq() == "1 INVITE"]
        check(not fin, "the caller got %s before the UPDATE" % fin)
        o2 = check_gw_reoffer(upd, cl, r18, o1, callee, callee_pt,
                              "UPDATE", "UPDATE")
        check(o2[2] == o1[2] + 1, "UPDATE: o= version %d, the 18x had %d: "
              "expected one up (RFC 3264 section 8)" % (o2[2], o1[2]))
        first_upd, upd_wall = upd, upd.wall
        if counter_offer:
            # Our own offer while the server's is unanswered: glare, 491
            # (RFC 3311 5.2); the server's UPDATE is then answered.
            target, tag = cl.dialog(r18)
            cl.cseq += 1
            cl._req("UPDATE", target, cl.cseq, to_tag=tag,
                    headers=["Content-Type: application/sdp"],
                    body=gw_sdp(sink.port, [callee_pt], 3))
            _, _, r = cl.response("%d UPDATE" % cl.cseq, 3, j)
            fig["counter_offer"] = r.status
            check(r.status == 491, "caller's UPDATE during the server's: "
                  "%s, expected 491" % r.first)
        if glare:
            t491, _ = cl.respond(upd, 491, "Request Pending")
            j, t_upd2, upd = cl.request_in("UPDATE", 4, j,
                                           seen=(via_branch(upd),))
            fig["glare_retry_ms"] = (t_upd2 - t491) * 1000
            info("glare: second UPDATE %.0f ms after the 491 (RFC 3261 "
                 "14.1: 0..2000 ms), CSeq %s then %s"
                 % (fig["glare_retry_ms"], first_upd.cseq(), upd.cseq()))
            check(0 <= t_upd2 - t491 <= 2.25, "glare: the UPDATE came "
                  "again %.0f ms after the 491, expected within 0..2 s"
                  % fig["glare_retry_ms"])
            check(int(upd.cseq().split()[0]) >
                  int(first_upd.cseq().split()[0]),
                  "glare: retried UPDATE CSeq %s, the first was %s"
                  % (upd.cseq(), first_upd.cseq()))
            o3 = check_gw_reoffer(upd, cl, r18, o1, callee, callee_pt,
                                  "UPDATE", "retried UPDATE")
            info("retried UPDATE: o= version %d (18x %d, first UPDATE %d)"
                 % (o3[2], o1[2], o2[2]))
            check(o3[2] in (o1[2] + 1, o2[2] + 1), "retried UPDATE: o= "
                  "version %d after %d and %d" % (o3[2], o1[2], o2[2]))
            fin = [m for _, m in cl.msgs if m.status and m.status >= 200
                   and m.cseq() == "1 INVITE"]
            check(not fin, "the caller got %s while the UPDATE was in "
                  "glare" % fin)
        t_u200, _ = cl.respond(upd, 200, "OK",
                               gw_sdp(sink.port, [callee_pt], 2))
        k, t_fin, fin = cl.response("1 INVITE", 5, j)
        check(fin.status == 200, "the INVITE ended %s, expected 200"
              % fin.first)
        info("200 (INVITE): Content-Type %r, Content-Length %r, %d body "
             "bytes" % (fin.get("content-type"), fin.get("content-length"),
                        len(fin.body)))
        check(not fin.body and (fin.get("content-length") or "0").strip()
              == "0", "the 200 (INVITE) carries a body: %r" % fin.body[:200])
        check(tag_param(fin.get("to")) == tag_param(r18.get("to")),
              "the 200's To tag %r differs from the 18x's %r"
              % (tag_param(fin.get("to")), tag_param(r18.get("to"))))
        again = [m for m in cl.requests("UPDATE", j + 1)
                 if via_branch(m) != via_branch(upd)]
        check(not again, "another UPDATE came after the answered one")
        cl.ack(fin)
        fig["stop_ms"] = rtp_stopped(sink, t_upd, "ringback (relative to "
                                     "the UPDATE)", srv) * 1000
        pkts = sink.packets()
        st = rtp_analyse(pkts, pt, "gateway ringback",
                         src=(ans["addr"], ans["port"]))
        check(ans["port"] != callee.mport, "the 18x's answer names the "
              "callee's port %d" % callee.mport)
        fig["rate"] = st["rate"]
        fig["first_ms"] = (pkts[0][0] - t18) * 1000
        fig["final_after_u200_ms"] = (t_fin - t_u200) * 1000
        last_wall = pkts[-1][1]
        # The server took our ACK: a stream started again after the 200
        # (INVITE) would have sent something by now.
        wait_event(srv, "confirmed")
        sink.sync()
        late = [p for p in sink.packets() if p[0] > t_fin]
        check(not late, "%d RTP packets after the 200 (INVITE)" % len(late))
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    tr = check_gw_callee_side(callee, sink.port)
    ok_wall = wall_of(tr, "->", lambda m: m.status == 200 and
                      m.cseq().endswith(" INVITE"))
    check(wall_of(tr, "<-", lambda m: m.first.startswith("ACK ")),
          "the callee got no ACK")
    check(ok_wall, "the callee's trace has no 200 (INVITE)")
    fig["update_after_200_ms"] = (upd_wall - ok_wall) * 1000
    fig["stop_after_callee_200_ms"] = (last_wall - ok_wall) * 1000
    info("figures: first RTP %.0f ms after the 18x; %.1f packets/s; last "
         "RTP %+.0f ms from the callee's 200 and %+.0f ms from the UPDATE's "
         "arrival; UPDATE %.0f ms after the callee's 200; 200 (INVITE) "
         "%.0f ms after our 200 (UPDATE)"
         % (fig["first_ms"], fig["rate"], fig["stop_after_callee_200_ms"],
            fig["stop_ms"], fig["update_after_200_ms"],
            fig["final_after_u200_ms"]))
    check(fig["stop_after_callee_200_ms"] <= STOP_LIMIT * 1000,
          "the last RTP packet came %.0f ms after the callee sent its 200"
          % fig["stop_after_callee_200_ms"])
    rec = call_of(srv, cl.call_id)
    check_gw_events(rec, st["n"], ["mode", "cmr-inserted", "rtp-started",
                                   "rtp-stopped", "update-sent",
                                   "update-answered", "answered", "ended"])
    sent = events_of(rec, "update-sent")
    check(len(sent) == (2 if glare else 1), "API: %d update-sent events, "
          "expected %d" % (len(sent), 2 if glare else 1))
    ua = events_of(rec, "update-answered")
    check(ua and ua[-1].get("code") == 200, "API: update-answered %r, "
          "expected code 200" % ua)
    return srv, rec, fig


@test
def gw_ringback_update(t):
    """Gateway mode (clause 1.1.1.10): P-Early-Media: supported and 100rel
    from the caller, offer PCMA then PCMU; the reliable 180 carries our
    PCMA answer and P-Early-Media: sendrecv, RTP flows to the offered
    port; on the callee's 200 the stream stops, the UPDATE carries the
    callee's SDP under our o= line, and the 200 without SDP follows its
    200; ACK, BYE, events."""
    gw_update_call(t, pts=(8, 0), pt=8, callee_pt=8)


@test
def gw_ringback_pcmu(t):
    """The first offered codec we stream decides: an offer of G.729, PCMU,
    PCMA gets a PCMU answer and PCMU packets."""
    gw_update_call(t, pts=(18, 0, 8), pt=0, callee_pt=0)


@test
def gw_reinvite_no_update(t):
    """The caller's Allow lacks UPDATE: the 200 (INVITE) without SDP comes
    first, and after the caller's ACK a re-INVITE in the same dialog
    carries the callee's SDP; its 200 gets an ACK; the call goes on."""
    srv, callee, sink, cl = gw_parties(t, ring_ms=2000, pt=8)
    try:
        i, t18, r18, ans, o1 = gw_early_media(cl, sink, (8, 0), 8,
                                              allow=GW_ALLOW_NO_UPDATE)
        k, t_fin, fin = cl.response("1 INVITE", 7, i)
        check(fin.status == 200, "the INVITE ended %s" % fin.first)
        check(not cl.requests("UPDATE"), "an UPDATE came to a caller "
              "whose Allow lacks it")
        check(not fin.body, "the 200 (INVITE) carries a body: %r"
              % fin.body[:200])
        early = cl.requests("INVITE")
        check(not early, "a re-INVITE came before the 200 (INVITE) was "
              "ACKed")
        t_ack = time.monotonic()
        cl.ack(fin)
        j, t_re, reinv = cl.request_in("INVITE", 3, k)
        info("re-INVITE %.0f ms after our ACK" % ((t_re - t_ack) * 1000))
        check(t_re >= t_ack, "the re-INVITE came %.0f ms before our ACK "
              "of the 200 (RFC 3261 section 14.1)"
              % ((t_ack - t_re) * 1000))
        o2 = check_gw_reoffer(reinv, cl, r18, o1, callee, 8, "INVITE",
                              "re-INVITE")
        check(o2[2] == o1[2] + 1, "re-INVITE: o= version %d, the 18x had "
              "%d: expected one up (RFC 3264 section 8)" % (o2[2], o1[2]))
        cl.respond(reinv, 200, "OK", gw_sdp(sink.port, [8], 2))
        rcseq = reinv.cseq().split()[0]
        _, t_rack, rack = cl.wait(lambda m: m.status is None and
                                  m.first.startswith("ACK ") and
                                  m.cseq() == "%s ACK" % rcseq, 2, j,
                                  "ACK of the re-INVITE's 200")
        check(tag_param(rack.get("from")) == tag_param(r18.get("to")),
              "ACK of the re-INVITE: From tag %r" % tag_param(rack.get(
                  "from")))
        stop = rtp_stopped(sink, t_fin, "ringback (relative to the 200)",
                           srv)
        st = rtp_analyse(sink.packets(), 8, "gateway ringback",
                         src=(ans["addr"], ans["port"]))
        late = [p for p in sink.packets() if p[0] > t_fin + STOP_LIMIT]
        check(not late, "RTP after the 200")
        # The BYE only once the server is through with the re-INVITE.
        wait_event(srv, "reinvite-answered")
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    check_gw_callee_side(callee, sink.port)
    info("figures: %.1f packets/s, stop %+.0f ms from the 200 (INVITE)"
         % (st["rate"], stop * 1000))
    rec = call_of(srv, cl.call_id)
    check_gw_events(rec, st["n"], ["mode", "cmr-inserted", "rtp-started",
                                   "rtp-stopped", "answered",
                                   "reinvite-sent", "reinvite-answered",
                                   "ended"])
    check(not events_of(rec, "update-sent"), "API: update-sent without "
          "UPDATE in the caller's Allow")


def gw_update_refused(t, code, reason):
    """The caller answers the UPDATE with an error: the server ends both
    legs: BYE to the callee (after its ACK), a 5xx to the caller's
    still-pending INVITE, no BYE toward the caller's early dialog."""
    srv, callee, sink, cl = gw_parties(t, ring_ms=1500, pt=8)
    try:
        i, _, r18, ans, o1 = gw_early_media(cl, sink, (8, 0), 8)
        j, t_upd, upd = cl.request_in("UPDATE", 6, i)
        check_gw_reoffer(upd, cl, r18, o1, callee, 8, "UPDATE", "UPDATE")
        t_err, _ = cl.respond(upd, code, reason)
        k, t_fin, fin = cl.response("1 INVITE", 5, j)
        info("after our %d to the UPDATE the INVITE ended %s (%s), %.0f ms "
             "later" % (code, fin.first, fin.get("reason"),
                        (t_fin - t_err) * 1000))
        check(500 <= fin.status < 600, "after a %d to the UPDATE the "
              "INVITE ended %s, expected a 5xx" % (code, fin.first))
        cl.ack_error(fin)
        # The call is over at the server, and everything it sent the
        # caller before is in: only then can nothing more come.
        wait_event(srv, "ended")
        cl.barrier()
        again = [m for m in cl.requests("UPDATE", j + 1)
                 if via_branch(m) != via_branch(upd)]
        check(not again, "the server sent the UPDATE again after %d" % code)
        check(not cl.requests("BYE"), "a BYE came to the caller's early "
              "dialog")
        ok = [m for _, m in cl.msgs if m.status == 200 and
              m.cseq() == "1 INVITE"]
        check(not ok, "the caller got a 200 (INVITE)")
        rtp_stopped(sink, t_upd, "ringback (relative to the UPDATE)", srv)
        st = rtp_analyse(sink.packets(), 8, "gateway ringback",
                         src=(ans["addr"], ans["port"]))
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    callee_got(callee, "BYE")
    rec = call_of(srv, cl.call_id)
    check_gw_events(rec, st["n"], ["mode", "cmr-inserted", "rtp-started",
                                   "rtp-stopped", "update-sent",
                                   "update-failed", "ended"])
    uf = events_of(rec, "update-failed")
    check(uf[0].get("code") == code, "API: update-failed %r, expected code "
          "%d" % (uf, code))


@test
def gw_update_500(t):
    """The caller answers the UPDATE with 500: both legs end cleanly."""
    gw_update_refused(t, 500, "Server Internal Error")


@test
def gw_update_488(t):
    """The caller answers the UPDATE with 488: both legs end cleanly."""
    gw_update_refused(t, 488, "Not Acceptable Here")


@test
def gw_update_glare(t):
    """The caller answers the first UPDATE with 491: the server retries
    after 0 to 2 s (RFC 3261 section 14.1, the caller owns the Call-ID);
    the retry is answered 200 and the call completes."""
    srv, rec, fig = gw_update_call(t, glare=True)
    g = events_of(rec, "glare")
    info("glare events: %r" % g)


@test
def gw_update_glare_incoming(t):
    """While the server's UPDATE is unanswered the caller sends its own
    offer in an UPDATE: 491 (RFC 3311 section 5.2); the server's UPDATE is
    then answered and the call completes."""
    srv, rec, fig = gw_update_call(t, counter_offer=True)
    check(fig.get("counter_offer") == 491, "no 491")
    refused = events_of(rec, "offer-refused")
    check(refused, "API: no offer-refused event")


def pem_events(rec, value):
    """Events of a call that mention P-Early-Media and value."""
    return [e for e in rec.get("events", [])
            if "p-early-media" in json.dumps(e).lower() and
            value in json.dumps(e).lower()]


@test
def gw_pem_from_callee_http(t):
    """A callee's 180 with P-Early-Media: inactive in an HTTP-mode call
    (no P-Early-Media: supported from the caller): an event records it,
    the call completes, the server stays up."""
    srv, callee, sink, cl = gw_parties(t, ring_ms=800, pt=0,
                                       hdr180="P-Early-Media: inactive",
                                       plain="http")
    try:
        cl.invite("bob", sink.port, (0,), pem=None, supported=None)
        i, _, r18 = cl.wait(lambda m: m.status == 180, 5, what="180")
        info("caller's 180: P-Early-Media %r, Alert-Info %r, RSeq %r"
             % (r18.all("p-early-media"), r18.all("alert-info"),
                r18.get("rseq")))
        check("sendrecv" not in pem_values(r18), "the 180 carries "
              "P-Early-Media %r" % r18.all("p-early-media"))
        _, _, fin = cl.response("1 INVITE", 5, i)
        check(fin.status == 200, "the INVITE ended %s" % fin.first)
        cl.ack(fin)
        wait_event(srv, "confirmed")       # the ACK is in before the BYE
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    check(srv.alive(), "the server is gone")
    rec = call_of(srv, cl.call_id)
    info("API events: %s" % " ".join(ev_names(rec.get("events", []))))
    pe = pem_events(rec, "inactive")
    info("P-Early-Media events: %r" % pe)
    check(pe, "API: no event mentions the callee's P-Early-Media: inactive")
    check(rec.get("mode_bt") == "http", "mode_bt %r" % rec.get("mode_bt"))


@test
def gw_pem_from_callee_gateway(t):
    """A callee's 180 with P-Early-Media: gated in a gateway-mode call:
    the caller's 18x carries exactly the server's own sendrecv, the
    INVITE to the callee not the server's sendrecv; the call completes."""
    srv, rec, _ = gw_update_call(t, ring_ms=1500,
                                 hdr180="P-Early-Media: gated")
    info("P-Early-Media events: %r" % pem_events(rec, "gated"))
