"""Early media for callers that ask for no CMR mode: our SDP answer and
the Alert-Info URL in the 18x, the ringback over RTP, then the callee's
SDP by UPDATE (reliable 18x, caller allows UPDATE) or by re-INVITE after
the 2xx that repeats our answer (unreliable 18x)."""

import time

from cmrtest import (
    HOST, call_of, check, curl, events_of, free_udp_block, info, test,
    wait_event)
from cmrtest_sip import (
    callee_done, only_sdp, pem_values, sdp_media, sdp_origin, sipp_trace,
    tag_param, tags_of)
from cmrtest_media import (
    GW_ALLOW, GW_ALLOW_NO_UPDATE, STOP_LIMIT, GwCaller, RtpSink, as_callee,
    check_gw_events, gw_parties, gw_sdp, reliable_18x, rtp_analyse,
    rtp_stopped)
from test_gateway import check_gw_callee_side, check_gw_reoffer
from sipua import UA, parties, sdp, sdp_version


def check_em_18x(r18, srv, reliable, where, pem=False):
    """The 18x of early media: our answer at the streamer, the resource's
    URL in Alert-Info, no P-Early-Media (the caller asked for none; pem:
    it supports it, and gets our sendrecv), reliable or not as said.  Returns (the answer's audio, its origin,
    the SDP bytes, the URL)."""
    req = tags_of(r18.all("require"))
    info("%s: %s, Require %r, RSeq %r, P-Early-Media %r, Alert-Info %r"
         % (where, r18.first, r18.all("require"), r18.get("rseq"),
            r18.all("p-early-media"), r18.all("alert-info")))
    if reliable:
        check("100rel" in req and (r18.get("rseq") or "").strip().isdigit(),
              "%s: not reliable (Require %r, RSeq %r)"
              % (where, r18.all("require"), r18.get("rseq")))
    else:
        check("100rel" not in req and not r18.get("rseq"),
              "%s: reliable to a caller that %s (Require %r, RSeq %r)"
              % (where, "does not support 100rel or UPDATE",
                 r18.all("require"), r18.get("rseq")))
    if pem:
        check(pem_values(r18) == ["sendrecv"], "%s: P-Early-Media %r, "
              "expected the server's sendrecv" % (where,
                                                  r18.all("p-early-media")))
    else:
        check(not pem_values(r18), "%s: P-Early-Media %r to a caller that "
              "asked for none" % (where, r18.all("p-early-media")))
    ai = r18.all("alert-info")
    check(len(ai) == 1 and ai[0].startswith("<http://") and
          "/r/ringback-default" in ai[0] and ai[0].endswith(">"),
          "%s: Alert-Info %r, expected the resource's URL" % (where, ai))
    sdp = only_sdp(r18, where)
    m = sdp_media(sdp)
    check(m["addr"] == HOST and m["port"] > 0 and m["pts"] == [8],
          "%s: answer %s:%d pts %s, expected the server's address and "
          "PCMA" % (where, m["addr"], m["port"], m["pts"]))
    return m, sdp_origin(sdp, where), sdp, ai[0][1:-1]


def check_url(url):
    """A CMR Client in HTTP mode fetches the URL of the 18x."""
    code, hdrs, body = curl(url)
    info("GET %s: %s, %s, %d bytes" % (url, code, hdrs.get("content-type"),
                                       len(body)))
    check(code == 200 and hdrs.get("content-type") == "audio/wav" and
          body[:4] == b"RIFF", "GET of the Alert-Info URL: %s %r"
          % (code, hdrs.get("content-type")))


def em_events(srv, cl, packets, seq, reliable, pem=False):
    rec = call_of(srv, cl.call_id)
    check_gw_events(rec, packets, seq, mode="early-media")
    mode = events_of(rec, "mode", dir="bt")[-1]
    info("mode bt why: %r" % mode.get("why"))
    check("offers SDP: early-media" in mode.get("why", "") and
          (not pem or "P-Early-Media" in mode.get("why", "")),
          "API: mode why %r" % mode.get("why"))
    ins = events_of(rec, "cmr-inserted", dir="bt", mode="early-media")
    check(len(ins) == 1 and ins[0].get("reliable") is reliable and
          "/r/ringback-default" in ins[0].get("url", ""),
          "API: cmr-inserted %r, expected one, reliable %s, with the URL"
          % (ins, reliable))
    return rec


@test
def em_reliable_update(t):
    """A caller with 100rel in Supported and UPDATE in Allow, no
    early-session, no P-Early-Media, an SDP offer: a reliable 18x with our
    answer and Alert-Info, the ringback over RTP until the callee's 200,
    then an UPDATE with the callee's SDP and the 200 without SDP."""
    srv, callee, sink, cl = gw_parties(t, ring_ms=2000, pt=8)
    try:
        cl.invite("bob", sink.port, (8, 0), pem=None, supported="100rel",
                  allow=GW_ALLOW)
        i, t18, r18 = cl.wait(reliable_18x, 5, what="reliable 18x")
        ans, o1, _, url = check_em_18x(r18, srv, True, "caller's %d"
                                       % r18.status)
        check_url(url)
        cl.prack_ok(r18, "%s 1 INVITE" % r18.get("rseq").strip())
        j, t_upd, upd = cl.request_in("UPDATE", 7, i)
        o2 = check_gw_reoffer(upd, cl, r18, o1, callee, 8, "UPDATE",
                              "UPDATE")
        check(o2[2] == o1[2] + 1, "UPDATE: o= version %d after %d"
              % (o2[2], o1[2]))
        cl.respond(upd, 200, "OK", cl_sdp(sink.port, 2))
        _, t_fin, fin = cl.response("1 INVITE", 5, j)
        check(fin.status == 200 and not fin.body, "the INVITE ended %s "
              "with %d body bytes, expected 200 without SDP"
              % (fin.first, len(fin.body)))
        cl.ack(fin)
        stop = rtp_stopped(sink, t_upd, "ringback (relative to the UPDATE)",
                           srv)
        st = rtp_analyse(sink.packets(), 8, "early media ringback",
                         src=(ans["addr"], ans["port"]))
        check(st["n"] >= 50, "only %d ringback packets in 2 s of ringing"
              % st["n"])
        wait_event(srv, "confirmed")
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    check_gw_callee_side(callee, sink.port)
    info("figures: %d packets, %.1f packets/s, first %.0f ms after the "
         "18x, stop %+.0f ms from the UPDATE"
         % (st["n"], st["rate"], (st["first"] - t18) * 1000, stop * 1000))
    em_events(srv, cl, st["n"], ["mode", "cmr-inserted", "rtp-started",
                                 "rtp-stopped", "update-sent",
                                 "update-answered", "answered", "ended"],
              True)


def cl_sdp(port, version):
    """The caller's answer to our UPDATE or re-INVITE (PCMA at port)."""
    return gw_sdp(port, [8], version)


def unreliable_call(t, supported, allow, move, pem=None):
    """A caller without 100rel (or without UPDATE): every 18x unreliable,
    with the same answer; the 200 repeats it byte for byte; after the ACK
    a re-INVITE carries the callee's SDP.  move: the caller's answer to
    the re-INVITE names another port, and the callee is re-INVITEd."""
    srv = t.server()
    callee = as_callee(t, srv, "uas_gw_answer_reinvite.xml" if move else
                       "uas_gw_answer.xml", ring_ms=2000, pt=8,
                       hdr180="Subject: ringing")
    sink = RtpSink()
    cl = GwCaller(srv)
    moved = free_udp_block(2)
    try:
        cl.invite("bob", sink.port, (8, 0), pem=pem, supported=supported,
                  allow=allow)
        i, t18, r18 = cl.wait(lambda m: m.status in (180, 183) and
                              m.cseq() == "1 INVITE", 5, what="18x")
        ans, o1, sdp18, url = check_em_18x(r18, srv, False, "caller's %d"
                                           % r18.status, pem=bool(pem))
        check_url(url)
        k, t_fin, fin = cl.response("1 INVITE", 7, i)
        check(fin.status == 200, "the INVITE ended %s" % fin.first)
        check(not cl.requests("UPDATE"), "an UPDATE after an unreliable "
              "18x")
        sdp200 = only_sdp(fin, "200 (INVITE)")
        info("200 (INVITE): %d SDP bytes, the 18x's %d"
             % (len(sdp200), len(sdp18)))
        check(sdp200 == sdp18, "the 200's SDP differs from the unreliable "
              "18x's answer (RFC 6337 3.1): %r vs %r" % (sdp200, sdp18))
        check(tag_param(fin.get("to")) == tag_param(r18.get("to")),
              "the 200's To tag differs from the 18x's")
        check(not cl.requests("INVITE"), "a re-INVITE before the ACK")
        t_ack = time.monotonic()
        cl.ack(fin)
        j, t_re, reinv = cl.request_in("INVITE", 3, k)
        info("re-INVITE %.0f ms after our ACK" % ((t_re - t_ack) * 1000))
        o2 = check_gw_reoffer(reinv, cl, r18, o1, callee, 8, "INVITE",
                              "re-INVITE")
        check(o2[2] == o1[2] + 1, "re-INVITE: o= version %d after %d"
              % (o2[2], o1[2]))
        cl.respond(reinv, 200, "OK", cl_sdp(moved if move else sink.port,
                                            2))
        stop = rtp_stopped(sink, t_fin, "ringback (relative to the 200)",
                           srv)
        st = rtp_analyse(sink.packets(), 8, "early media ringback",
                         src=(ans["addr"], ans["port"]))
        check(st["n"] >= 50, "only %d ringback packets in 2 s of ringing"
              % st["n"])
        check(not [p for p in sink.packets() if p[0] > t_fin + STOP_LIMIT],
              "RTP after the 200")
        wait_event(srv, "reinvite-answered")
        if move:
            ev = wait_event(srv, "caller-media-changed")
            check(ev.get("to") == "%s:%d" % (HOST, moved),
                  "caller-media-changed %r, expected to %s:%d"
                  % (ev, HOST, moved))
            wait_event(srv, "reinvite-callee-answered")
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    check_gw_callee_side(callee, sink.port)
    inv = [m for d, m, _ in sipp_trace(callee) if d == "<-" and
           m.first.startswith("INVITE ")]
    check(len(inv) == (2 if move else 1), "the callee got %d INVITEs"
          % len(inv))
    if move:
        check(sdp_media(only_sdp(inv[1], "re-INVITE to the callee"))
              ["port"] == moved, "the callee's re-INVITE does not name "
              "the caller's new port %d" % moved)
    info("figures: %d packets, %.1f packets/s, stop %+.0f ms from the 200"
         % (st["n"], st["rate"], stop * 1000))
    seq = ["mode", "cmr-inserted", "rtp-started", "rtp-stopped",
           "answered", "reinvite-sent", "reinvite-answered", "ended"]
    rec = em_events(srv, cl, st["n"], seq, False, pem=bool(pem))
    check(not events_of(rec, "update-sent"), "API: update-sent")


@test
def em_unreliable_reinvite(t):
    """A caller without 100rel and without UPDATE (as phones without
    either are): unreliable 18x with our answer and Alert-Info, the 200
    repeats the answer, a re-INVITE after the ACK gives the callee's
    SDP."""
    unreliable_call(t, None, GW_ALLOW_NO_UPDATE, False)


@test
def em_unreliable_media_moves(t):
    """The same with UPDATE allowed but no 100rel; the caller's answer to
    the re-INVITE moves its media, and the callee is re-INVITEd with
    it."""
    unreliable_call(t, None, GW_ALLOW, True)


@test
def em_pem_without_100rel(t):
    """A caller with P-Early-Media: supported but no 100rel cannot have
    gateway mode: early media, unreliable, with the server's own
    P-Early-Media: sendrecv (RFC 5009)."""
    unreliable_call(t, None, GW_ALLOW, False, pem="supported")


@test
def em_required_100rel_no_update(t):
    """A caller that requires 100rel but does not allow UPDATE: the 18x is
    reliable (RFC 3262 section 3), the 200 carries no SDP (the offer and
    answer are done) and the re-INVITE with the callee's SDP follows the
    ACK."""
    srv, callee, sink, cl = gw_parties(t, ring_ms=1500, pt=8)
    try:
        cl.invite("bob", sink.port, (8, 0), pem=None, supported=None,
                  require="100rel", allow=GW_ALLOW_NO_UPDATE)
        i, _, r18 = cl.wait(reliable_18x, 5, what="reliable 18x")
        ans, o1, _, _ = check_em_18x(r18, srv, True, "caller's %d"
                                     % r18.status)
        cl.prack_ok(r18, "%s 1 INVITE" % r18.get("rseq").strip())
        k, t_fin, fin = cl.response("1 INVITE", 6, i)
        check(fin.status == 200 and not fin.body, "the INVITE ended %s "
              "with %d body bytes, expected 200 without SDP"
              % (fin.first, len(fin.body)))
        check(not cl.requests("UPDATE"), "an UPDATE to a caller whose "
              "Allow lacks it")
        cl.ack(fin)
        j, _, reinv = cl.request_in("INVITE", 3, k)
        check_gw_reoffer(reinv, cl, r18, o1, callee, 8, "INVITE",
                         "re-INVITE")
        cl.respond(reinv, 200, "OK", cl_sdp(sink.port, 2))
        rtp_stopped(sink, t_fin, "ringback (relative to the 200)", srv)
        st = rtp_analyse(sink.packets(), 8, "early media ringback",
                         src=(ans["addr"], ans["port"]))
        wait_event(srv, "reinvite-answered")
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    em_events(srv, cl, st["n"], ["mode", "cmr-inserted", "rtp-started",
                                 "rtp-stopped", "answered", "reinvite-sent",
                                 "reinvite-answered", "ended"], True)


def http_call(t, offer, plain, why_has):
    """A caller that asks for no CMR mode and still gets HTTP mode: the
    180 carries the URL and no SDP; with an offer, the 200 carries the
    callee's SDP.  why_has: what the mode event's why must say."""
    srv, callee, sink, cl = gw_parties(t, ring_ms=800, pt=8, plain=plain)
    try:
        cl.invite("bob", sink.port, (8, 0), pem=None, supported=None,
                  offer=offer)
        i, _, r18 = cl.wait(lambda m: m.status == 180, 5, what="180")
        info("180: Alert-Info %r, %d body bytes" % (r18.all("alert-info"),
                                                   len(r18.body)))
        check(r18.all("alert-info") and not r18.body, "180: Alert-Info "
              "%r, body %r" % (r18.all("alert-info"), r18.body[:100]))
        _, _, fin = cl.response("1 INVITE", 5, i)
        check(fin.status == 200 and sdp_media(only_sdp(fin, "200"))
              ["port"] == callee.mport, "the 200 does not carry the "
              "callee's SDP")
        cl.ack(fin)
        wait_event(srv, "confirmed")
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    rec = call_of(srv, cl.call_id)
    why = events_of(rec, "mode", dir="bt")[-1].get("why", "")
    info("mode bt: %r, why %r" % (rec.get("mode_bt"), why))
    check(rec.get("mode_bt") == "http" and why_has in why,
          "mode_bt %r, why %r" % (rec.get("mode_bt"), why))


@test
def em_no_offer_http(t):
    """An INVITE without SDP asks for no CMR mode and offers nothing to
    answer: HTTP mode, the URL in the 180, no SDP of ours (the callee's
    offer comes in the 200)."""
    http_call(t, False, None, "no SDP offer")


@test
def em_plain_http_profile(t):
    """defaults plain=http: the seed's HTTP mode alone for such callers;
    the 180 carries the URL and no SDP, the 200 the callee's SDP."""
    http_call(t, True, "http", "plain=http")


@test
def em_version_after_refused_relay(t):
    """The callee re-INVITEs between the 200 and the caller's ACK: its
    offer cannot go on (our 200 waits for its ACK), so it gets 491, and
    the re-INVITE that follows the ACK carries our o= one version above
    the answer's (RFC 3264 section 8), not two: an offer that never went
    takes no number."""
    with parties(t, plain="early-media") as (srv, alice, bob):
        d = alice.invite("bob", body=sdp(alice.media, 1, "alice", pts=(8,)))
        inv = bob.next_request("INVITE")
        bob.reply(inv, 180, tag="b1")
        r18 = alice.wait(d.match_rsp("1 INVITE", final=False, status=180),
                         5, what="180")
        v18 = sdp_version(only_sdp(r18, "180"))
        bob.reply(inv, 200, tag="b1", body=sdp(bob.media, 1, "bob",
                                              pts=(8,)))
        ok = alice.wait(d.match_rsp("1 INVITE"), 5, what="200")
        check(sdp_version(only_sdp(ok, "200")) == v18,
              "the 200's answer is not the 180's")
        bob.next_request("ACK", call_id=inv.get("call-id"))
        bd = bob.uas_dialog(inv, "b1")
        r = bd.transact("INVITE", body=sdp(bob.media + 2, 2, "bob",
                                           pts=(8,)))
        info("the callee's re-INVITE before the caller's ACK: %s"
             % r.first)
        check(r.status == 491, "the callee's re-INVITE before the "
              "caller's ACK answered %s, expected 491" % r.first)
        bd.ack_error(r)
        mark = alice.mark()
        d.ack(ok)
        reinv = alice.next_request("INVITE", after=mark)
        v = sdp_version(reinv.body)
        info("o= versions: %d in the 180 and the 200, %d in the "
             "re-INVITE" % (v18, v))
        check(v == v18 + 1, "re-INVITE: o= version %d after %d "
              "(RFC 3264 section 8: one up)" % (v, v18))
        alice.reply(reinv, 200, body=sdp(alice.media, 2, "alice",
                                         pts=(8,)))
        wait_event(srv, "reinvite-answered")
        d.fork(ok).transact("BYE")
        bye = bob.next_request("BYE")
        bob.reply(bye, 200)


@test
def em_pair_back_at_answer(t):
    """With one RTP port pair, a call that talks does not hold it: the
    ringback's pair goes back to the range when the callee answers, so
    the next plain caller gets early media from it, not HTTP mode."""
    pair = free_udp_block(2)
    with parties(t, plain="early-media",
                 extra=("--rtp-ports", "%d-%d" % (pair, pair + 1))) as (
                     srv, alice, bob):
        carol = UA(srv, "carol")
        try:
            d = alice.invite("bob", body=sdp(alice.media, 1, "alice",
                                             pts=(8,)))
            inv = bob.next_request("INVITE")
            bob.reply(inv, 180, tag="b1")
            r18 = alice.wait(d.match_rsp("1 INVITE", final=False,
                                         status=180), 5, what="180")
            check(sdp_media(only_sdp(r18, "180"))["port"] == pair,
                  "the first caller's 180 does not name the pair")
            bob.reply(inv, 200, tag="b1", body=sdp(bob.media, 1, "bob",
                                                  pts=(8,)))
            ok = alice.wait(d.match_rsp("1 INVITE"), 5, what="200")
            d.ack(ok)
            reinv = alice.next_request("INVITE")
            alice.reply(reinv, 200, body=sdp(alice.media, 2, "alice",
                                             pts=(8,)))
            wait_event(srv, "reinvite-answered")

            # The first call talks; the second caller rings.
            d2 = carol.invite("bob", body=sdp(carol.media, 1, "carol",
                                              pts=(8,)))
            inv2 = bob.next_request("INVITE", call_id=None)
            bob.reply(inv2, 180, tag="b2")
            r2 = carol.wait(d2.match_rsp("1 INVITE", final=False,
                                         status=180), 5, what="180")
            mode = events_of(call_of(srv, d2.call_id), "mode", dir="bt")
            info("second call: mode %r, 180 with %d body bytes"
                 % ([(m.get("mode"), m.get("why")) for m in mode],
                    len(r2.body)))
            check(mode and mode[-1].get("mode") == "early-media",
                  "the second caller got %r while the first call talks"
                  % [(m.get("mode"), m.get("why")) for m in mode])
            check(sdp_media(only_sdp(r2, "second 180"))["port"] == pair,
                  "the second caller's 180 does not name the pair")
            bob.reply(inv2, 486, tag="b2")
            f2 = carol.wait(d2.match_rsp("1 INVITE"), 5, what="486")
            d2.ack_error(f2)
            d.fork(ok).transact("BYE")
            bob.reply(bob.next_request("BYE"), 200)
        finally:
            carol.close()
