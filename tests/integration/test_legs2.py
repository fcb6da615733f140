"""The B2BUA's two legs, part two: the defects a review of the leg layer
found (in-dialog OPTIONS, offerless re-INVITEs, re-INVITEs before the
ACK, target refresh, late 2xx of unknown forks, CANCEL during the gateway
UPDATE, the server as session refresher, BYE during a relayed offer),
with a scripted user agent (sipua.py) on each side."""

import re
import time

from cmrtest import HOST, Fail, check, info, slow_test, test, wait_until
from cmrtest_sip import contacts_of, sdp_media, tag_param
from cmrtest_media import GW_ALLOW, RtpSink, gw_sdp
from sipua import UA, is_req, parties, sdp
from test_legs import answered_call, caller_bye, ended_clean


class parties_alt_callee(parties):
    """parties() whose callee bob has a second socket (bob.alt_port)."""

    def __enter__(self):
        srv = self.t.server(**self.kw)
        self.uas = [UA(srv, "alice"), UA(srv, "bob", alt=True)]
        self.uas[1].register()
        return srv, self.uas[0], self.uas[1]


def no_live_call(srv, timeout=3.0):
    """Every call record of GET /api/v1/calls is ended (within timeout)."""
    live = []

    def done():
        live[:] = [(c.get("callid"), c.get("state")) for c in srv.calls()
                   if c.get("state") != "ended"]
        return not live
    try:
        wait_until(done, timeout, "")
    except Fail:
        check(False, "GET /api/v1/calls still shows live calls after %.0f "
              "s: %s" % (timeout, live))


def second_call(srv, alice, bob):
    """A new call completes (200, ACK, BYE): not 503 from a call limit
    still held by the call before."""
    d = alice.invite("bob", body=sdp(alice.media, 1, "alice"))
    wait_until(lambda: alice.matching(d.match_rsp("1 INVITE")) or
               bob.matching(lambda m: is_req("INVITE")(m) and
                            bob._key(m) not in bob.returned), 5,
               "final response, or an INVITE at the callee, for the "
               "second call")
    early = alice.matching(d.match_rsp("1 INVITE"))
    check(not early, "the second call ended %s at once: the first call "
          "still counts against --max-calls 1" % (early[0].first
                                                  if early else ""))
    inv = bob.next_request("INVITE")
    bob.reply(inv, 180, tag="n1")
    bob.reply(inv, 200, tag="n1", body=sdp(bob.media, 1, "bob"))
    ok = alice.wait(d.match_rsp("1 INVITE"), 5, what="final response to "
                    "the second call")
    check(ok.status == 200, "the second call ended %s" % ok.first)
    dc = d.ack(ok)
    bob.next_request("ACK", call_id=inv.get("call-id"))
    caller_bye(alice, dc, bob)
    ended_clean(srv, d.call_id, "caller")


# ---- 1: OPTIONS and MESSAGE in the dialog --------------------------------

@test
def indialog_options_relayed(t):
    """RFC 3261 section 11 (OPTIONS inside a dialog, a keepalive) and
    12.2: a request in the callee's dialog reaches the caller in the
    caller's dialog and its final response comes back; the same for a
    MESSAGE (RFC 3428) with a text/plain body the other way."""
    with parties(t) as (srv, alice, bob):
        dc, db, inv, ok = answered_call(alice, bob)
        cs = db.request("OPTIONS")
        got = alice.next_request("OPTIONS", call_id=dc.call_id)
        info("OPTIONS at the caller: %s, To %s" % (got.first,
                                                   got.get("to")))
        check(tag_param(got.get("to")) == dc.ltag, "OPTIONS at the caller "
              "with To tag %r, the caller's tag is %r"
              % (tag_param(got.get("to")), dc.ltag))
        alice.reply(got, 200, headers=["Allow: INVITE, ACK, BYE, CANCEL, "
                                       "OPTIONS, UPDATE, MESSAGE"])
        r = bob.wait(db.match_rsp(cs), 5, what="final response to the "
                     "callee's OPTIONS")
        check(r.status == 200, "the callee's OPTIONS answered %s, the "
              "caller said 200" % r.first)
        check(srv.alive(), "the server died relaying OPTIONS")

        body = b"Hello, bob.\r\n"
        cs = dc.request("MESSAGE", body=body, ctype="text/plain")
        got = bob.next_request("MESSAGE")
        info("MESSAGE at the callee: Content-Type %r, body %r"
             % (got.get("content-type"), got.body))
        check(got.body == body and (got.get("content-type") or "")
              .lower().startswith("text/plain"), "MESSAGE at the callee: "
              "Content-Type %r, body %r, the caller sent text/plain %r"
              % (got.get("content-type"), got.body, body))
        check(tag_param(got.get("to")) == "b1", "MESSAGE at the callee "
              "with To tag %r" % tag_param(got.get("to")))
        bob.reply(got, 200)
        r = alice.wait(dc.match_rsp(cs), 5, what="final response to the "
                       "MESSAGE")
        check(r.status == 200, "the caller's MESSAGE answered %s"
              % r.first)
        caller_bye(alice, dc, bob)
        ended_clean(srv, dc.call_id, "caller")


# ---- 2: a re-INVITE without an offer (3PCC) ------------------------------

def offerless_reinvite(alice, bob, dc, db, from_caller):
    """One side's re-INVITE without SDP; the other side's offer in its
    200 must reach the sender in the 200, and the sender's answer in its
    ACK must reach the other side in its ACK."""
    if from_caller:
        snd, sd, rcv, who = alice, dc, bob, "caller"
    else:
        snd, sd, rcv, who = bob, db, alice, "callee"
    other = "callee" if from_caller else "caller"
    mark = rcv.mark()
    cs = sd.request("INVITE")
    re1 = rcv.next_request("INVITE", after=mark)
    info("the %s's offerless re-INVITE at the %s: Content-Type %r, %d "
         "body bytes" % (who, other, re1.get("content-type"),
                         len(re1.body)))
    check(not re1.body, "the %s's re-INVITE without SDP reached the %s "
          "with a body (an offer the %s never made): %r"
          % (who, other, who, re1.body[:200]))
    offer_port = rcv.media + 2
    offer = sdp(offer_port, 2, rcv.name)
    rcv.reply(re1, 200, body=offer)
    r = snd.wait(sd.match_rsp(cs), 5, what="final response to the "
                 "offerless re-INVITE")
    check(r.status == 200, "the %s's offerless re-INVITE answered %s"
          % (who, r.first))
    check(r.body, "the 200 to the %s's offerless re-INVITE has no SDP: "
          "the %s's offer is lost (RFC 3261 13.2.1)" % (who, other))
    got = sdp_media(r.body)
    info("200 at the %s: c=%s m=audio %d (the %s offered %d)"
         % (who, got["addr"], got["port"], other, offer_port))
    check(got["port"] == offer_port, "the 200 to the %s names m=audio %d, "
          "the %s offered %d in its 200" % (who, got["port"], other,
                                           offer_port))
    rcv.sync()
    early = rcv.matching(lambda m: is_req("ACK")(m) and m.cseq() ==
                         "%s ACK" % re1.cseq().split()[0], mark)
    check(not early, "the %s got the ACK of its 200 (body %r) before the "
          "%s's ACK with the answer (RFC 3261 13.2.1: the answer to an "
          "offer in a 2xx is in the ACK)" % (other, early[0].body[:100]
                                            if early else b"", who))
    answer_port = snd.media + 2
    answer = sdp(answer_port, 2, snd.name)
    sd.ack(r, body=answer)
    ack = rcv.wait(lambda m: is_req("ACK")(m) and m.cseq() == "%s ACK"
                   % re1.cseq().split()[0] and m.body, 3, mark,
                   "ACK with SDP of the 200 to the re-INVITE")
    a = sdp_media(ack.body)
    info("ACK at the %s: c=%s m=audio %d (the %s answered %d)"
         % (other, a["addr"], a["port"], who, answer_port))
    check(a["port"] == answer_port, "the ACK at the %s names m=audio %d, "
          "the %s answered %d in its ACK" % (other, a["port"], who,
                                            answer_port))


@test
def offerless_reinvite_relayed(t):
    """RFC 3261 14.1 and 13.2.1 (third party call control, RFC 3725): a
    re-INVITE without SDP asks the other side for an offer; the B2BUA
    relays it without SDP, the offer comes in the 200 and the answer in
    the ACK, on both legs; from the caller and then from the callee."""
    with parties(t) as (srv, alice, bob):
        dc, db, inv, ok = answered_call(alice, bob)
        offerless_reinvite(alice, bob, dc, db, True)
        alice.media += 2
        bob.media += 2
        offerless_reinvite(alice, bob, dc, db, False)
        caller_bye(alice, dc, bob)
        ended_clean(srv, dc.call_id, "caller")


# ---- 3: a re-INVITE before the caller's ACK ------------------------------

@test
def reinvite_before_ack_491(t):
    """RFC 3261 14.1: no re-INVITE in a dialog while an INVITE transaction
    is open there: the callee answers 200 and re-INVITEs (once it has its
    ACK) while the caller withholds its ACK for 1 s; no re-INVITE may
    reach the caller before its ACK.  The callee gets 491 (14.1), or a
    200 once the caller's ACK is in and the re-INVITE went after it."""
    with parties(t) as (srv, alice, bob):
        d = alice.invite("bob", body=sdp(alice.media, 1, "alice"))
        inv = bob.next_request("INVITE")
        bob.reply(inv, 180, tag="b1")
        bob.reply(inv, 200, tag="b1", body=sdp(bob.media, 1, "bob"))
        db = bob.uas_dialog(inv, "b1")
        try:
            bob.next_request("ACK", 1.0, call_id=inv.get("call-id"))
        except Fail:
            info("no ACK at the callee within 1 s: it re-INVITEs anyway")
        cs = db.request("INVITE", body=sdp(bob.media + 2, 2, "bob"))
        ok = alice.wait(d.match_rsp("1 INVITE"), 5, what="final response")
        check(ok.status == 200, "the INVITE ended %s" % ok.first)
        reinv = lambda m: is_req("INVITE")(m) and m.cseq() != "1 INVITE"
        time.sleep(max(0.0, ok.t + 1.0 - time.monotonic()))
        alice.sync()
        early = alice.matching(reinv)
        pre = bob.matching(db.match_rsp(cs))
        info("before the caller's ACK: re-INVITEs at the caller %s, the "
             "callee's re-INVITE answered %s" % (early, pre))
        check(not early, "a re-INVITE reached the caller %.0f ms after its "
              "200, before its ACK (RFC 3261 14.1)"
              % ((early[0].t - ok.t) * 1000 if early else 0))
        t_ack = time.monotonic()
        dc = d.ack(ok)
        wait_until(lambda: bob.matching(db.match_rsp(cs)) or
                   alice.matching(reinv), 5, "final response to the "
                   "callee's re-INVITE, or a re-INVITE at the caller")
        got = alice.matching(reinv)
        if got:
            info("re-INVITE at the caller %.0f ms after its ACK"
                 % ((got[0].t - t_ack) * 1000))
            alice.reply(got[0], 200, body=sdp(alice.media, 2, "alice"))
        r = bob.wait(db.match_rsp(cs), 5, what="final response to the "
                     "callee's re-INVITE")
        info("the callee's re-INVITE: %s" % r.first)
        check(r.status in (491, 200), "the callee's re-INVITE before the "
              "caller's ACK answered %s, expected 491 (or 200 after the "
              "caller's ACK)" % r.first)
        if r.status == 491:
            db.ack_error(r)
        else:
            check(got, "the callee's re-INVITE got 200 without reaching "
                  "the caller")
            db.ack(r)
            alice.wait(lambda m: is_req("ACK")(m) and m.cseq() ==
                       "%s ACK" % got[0].cseq().split()[0], 3,
                       what="ACK of the re-INVITE at the caller")
        caller_bye(alice, dc, bob)
        ended_clean(srv, d.call_id, "caller")


# ---- 4: target refresh ---------------------------------------------------

@test
def target_refresh_2xx_has_contact(t):
    """RFC 3261 12.2.2 and 13.3.1.4: a re-INVITE is a target refresh; its
    2xx must carry a Contact (the UAS's target for the peer); the new
    Contact of the callee's re-INVITE (its second socket) replaces the
    callee's remote target: the caller's BYE must reach it there."""
    with parties_alt_callee(t) as (srv, alice, bob):
        dc, db, inv, ok = answered_call(alice, bob)
        old = bob.contact
        bob.contact = "sip:bob@%s:%d" % (HOST, bob.alt_port)
        info("the callee moves its Contact from %s to %s" % (old,
                                                            bob.contact))
        mark = alice.mark()
        cs = db.request("INVITE", body=sdp(bob.media + 2, 2, "bob"))
        re1 = alice.next_request("INVITE", after=mark)
        alice.reply(re1, 200, body=sdp(alice.media, 2, "alice"))
        r = bob.wait(db.match_rsp(cs), 5, what="final response to the "
                     "callee's re-INVITE")
        check(r.status == 200, "the callee's re-INVITE answered %s"
              % r.first)
        info("200 to the callee: Contact %r" % r.all("contact"))
        check(contacts_of(r), "the 200 to the callee's re-INVITE (a "
              "target refresh) has no Contact (RFC 3261 12.2.2, 13.3.1.4)")
        check("@%s:%d" % (HOST, srv.sip) in contacts_of(r)[0][0],
              "the 200's Contact %r does not name the server (%s:%d)"
              % (contacts_of(r)[0][0], HOST, srv.sip))
        db.ack(r)
        alice.wait(lambda m: is_req("ACK")(m) and m.cseq() == "%s ACK"
                   % re1.cseq().split()[0], 3, mark,
                   "ACK of the re-INVITE at the caller")
        cs = dc.request("BYE")
        bye = bob.next_request("BYE")
        info("BYE at the callee: %s on socket %d" % (bye.first, bye.sock))
        bob.reply(bye, 200)
        check(bye.sock == 1, "the caller's BYE reached the callee at its "
              "old Contact %s, not the new one %s" % (old, bob.contact))
        check(bye.first.split()[1] == bob.contact, "BYE Request-URI %r, "
              "the callee's Contact is %s" % (bye.first.split()[1],
                                              bob.contact))
        r = alice.wait(dc.match_rsp(cs), 5, what="final response to BYE")
        check(r.status == 200, "the caller's BYE answered %s" % r.first)
        ended_clean(srv, dc.call_id, "caller")


# ---- 5: a 2xx from a fork nobody heard of --------------------------------

@test
def late_2xx_new_fork_acked_and_ended(t):
    """RFC 3261 13.2.2.4: after fork B's 200, a 200 with an unknown To tag
    (fork C, never a 1xx) makes a second dialog: the server must ACK it
    and end it with BYE; the caller sees only B's call, which stays up
    (the caller's BYE reaches B)."""
    with parties(t) as (srv, alice, bob):
        d = alice.invite("bob", body=sdp(alice.media, 1, "alice"))
        inv = bob.next_request("INVITE")
        bob.reply(inv, 180, tag="forkB")
        bob.reply(inv, 200, tag="forkB", body=sdp(bob.media, 1, "bob"))
        bob.reply(inv, 200, tag="forkC", body=sdp(bob.media + 2, 1, "bob"))
        ok = alice.wait(d.match_rsp("1 INVITE"), 5, what="final response")
        check(ok.status == 200, "the INVITE ended %s" % ok.first)
        dc = d.ack(ok)
        of = lambda method, tag: lambda m: is_req(method)(m) and \
            tag_param(m.get("to")) == tag
        bob.wait(of("ACK", "forkB"), 5, what="ACK of fork B's 200")
        ack_c = bob.wait(of("ACK", "forkC"), 5, what="ACK of fork C's 200")
        bye_c = bob.wait(of("BYE", "forkC"), 5, what="BYE of fork C")
        bob.returned.add(bob._key(bye_c))
        info("fork C: ACK %s, BYE %s" % (ack_c.cseq(), bye_c.cseq()))
        check(ack_c.idx < bye_c.idx, "fork C: BYE before the ACK")
        check(ack_c.cseq() == "%s ACK" % inv.cseq().split()[0],
              "fork C's ACK has CSeq %r, the INVITE %r" % (ack_c.cseq(),
                                                         inv.cseq()))
        bob.reply(bye_c, 200)
        alice.barrier()
        tags = set(tag_param(m.get("to")) for m in
                   alice.matching(d.match_rsp("1 INVITE", status=200)))
        check(len(tags) == 1, "the caller got 200s of %d dialogs" % len(tags))
        check(not alice.matching(is_req("BYE")), "the caller got a BYE")
        bye = caller_bye(alice, dc, bob)
        check(tag_param(bye.get("to")) == "forkB", "the caller's BYE "
              "reached the callee with To tag %r, expected forkB"
              % tag_param(bye.get("to")))
        ended_clean(srv, d.call_id, "caller")


# ---- 6: CANCEL while the gateway's UPDATE is out -------------------------

@test
def cancel_during_gateway_update_frees_call(t):
    """Gateway mode (clause 1.1.1.10): the callee answered and the
    server's UPDATE to the caller is unanswered when the caller CANCELs.
    RFC 3261 9.2: no final response went to the caller, so the CANCEL
    gets 200 and the INVITE 487 (or, had the server's 200 crossed the
    CANCEL, a 200 the caller ACKs and ends with BYE); the callee gets BYE
    (after the ACK of its 200), the call ends without waiting for the
    UPDATE's answer and, with --max-calls 1, a second call completes (not
    503)."""
    sink = RtpSink()
    try:
        with parties(t, extra=("--max-calls", "1")) as (srv, alice, bob):
            d = alice.invite("bob", body=gw_sdp(sink.port, [0]),
                             supported="100rel", allow=GW_ALLOW,
                             headers=["P-Early-Media: supported"])
            inv = bob.next_request("INVITE")
            bob.reply(inv, 180, tag="b1")
            r18 = alice.wait(lambda m: d.match_rsp("1 INVITE", False)(m)
                             and m.status < 200 and m.get("rseq"), 5,
                             what="reliable 18x of gateway mode")
            cs = d.prack(r18)
            r = alice.wait(d.match_rsp(cs), 5, what="200 (PRACK)")
            check(r.status == 200, "caller's PRACK: %s" % r.first)
            bob.reply(inv, 200, tag="b1", body=sdp(bob.media, 1, "bob"))
            upd = alice.next_request("UPDATE", 5)
            info("UPDATE at the caller: %s (unanswered)" % upd.cseq())
            cs = d.cancel()
            r = alice.wait(d.match_rsp(cs), 5, what="response to CANCEL")
            info("CANCEL: %s" % r.first)
            fin = alice.wait(d.match_rsp("1 INVITE"), 5,
                             what="final response to the INVITE")
            info("the INVITE after the CANCEL: %s" % fin.first)
            check(fin.status in (200, 487), "the INVITE CANCELed during "
                  "the UPDATE ended %s, expected 487 (or 200)" % fin.first)
            if fin.status == 487:
                check(r.status == 200, "CANCEL answered %s" % r.first)
                d.ack_error(fin)
                # The early dialog is gone: the UPDATE's answer would be
                # 481 (RFC 3261 12.2.2); it comes last, once the call had
                # to end without it.
            else:
                alice.reply(upd, 200, body=gw_sdp(sink.port, [0], 2))
                d.ack(fin)
                bye = alice.next_request("BYE", 5)
                alice.reply(bye, 200)
            bye = bob.next_request("BYE", 5)
            bob.reply(bye, 200)
            ack = bob.wait(lambda m: is_req("ACK")(m) and m.cseq() ==
                           "%s ACK" % inv.cseq().split()[0], 1,
                           what="ACK of the callee's 200")
            check(ack.idx < bye.idx, "the callee got BYE before the ACK "
                  "of its 200 (RFC 3261 13.2.2.4)")
            ended_clean(srv, d.call_id)
            no_live_call(srv)
            second_call(srv, alice, bob)
            if fin.status == 487:
                alice.reply(upd, 481)
    finally:
        sink.close()


# ---- 7: the server refreshes the session ---------------------------------

@slow_test
def session_refresh_by_server(t):
    """RFC 4028 sections 9 and 10: the caller asks the UAS to refresh
    (Session-Expires: 90;refresher=uas, Supported: timer): the 200 says
    refresher=uas and the server refreshes toward the caller at half the
    interval, by UPDATE since the caller allows it (section 7.4), with a
    Session-Expires; answered 200, the call stays up."""
    se = "Session-Expires: 90;refresher=uas"
    with parties(t) as (srv, alice, bob):
        dc, db, inv, ok = answered_call(alice, bob, headers=[se],
                                        supported="timer")
        info("200 to the caller: Session-Expires %r, Require %r"
             % (ok.get("session-expires"), ok.all("require")))
        check(re.match(r"^90\s*;\s*refresher\s*=\s*uas\s*$",
                       ok.get("session-expires") or ""), "the 200: "
              "Session-Expires %r, expected 90;refresher=uas"
              % ok.get("session-expires"))
        pred = lambda m: m.status is None and \
            m.get("call-id") == dc.call_id and \
            m.first.split()[0] in ("UPDATE", "INVITE", "BYE") and \
            m.cseq() != "1 INVITE"
        deadline = ok.t + 52
        ref = None
        while ref is None and time.monotonic() < deadline:
            got = bob.answer_all(db.call_id, sdp(bob.media, 1, "bob"))
            if got:
                info("callee at %.1f s: %s" % (time.monotonic() - ok.t,
                                               got))
            found = alice.matching(pred)
            if found:
                ref = found[0]
            time.sleep(0.1)
        check(ref, "no refresh at the caller within 52 s of the 200")
        dt = ref.t - ok.t
        method = ref.first.split()[0]
        info("%s at the caller %.1f s after the 200: Session-Expires %r, "
             "%d body bytes" % (method, dt, ref.get("session-expires"),
                                len(ref.body)))
        check(method != "BYE", "the server ended the session it was to "
              "refresh (BYE %.1f s after the 200)" % dt)
        check(40 <= dt <= 50, "the refresh came %.1f s after the 200, "
              "expected about 45 s (half of 90)" % dt)
        check(method == "UPDATE", "the refresh is a %s, the caller allows "
              "UPDATE (RFC 4028 section 7.4 prefers it)" % method)
        m = re.match(r"^\s*(\d+)\s*(;.*)?$", ref.get("session-expires") or "")
        check(m and int(m.group(1)) == 90, "the refresh %s has "
              "Session-Expires %r, expected 90 (RFC 4028 section 7.4)"
              % (method, ref.get("session-expires")))
        rp = re.search(r"refresher\s*=\s*(\w+)", m.group(2) or "")
        check(not rp or rp.group(1).lower() == "uac", "the server's "
              "refresh says refresher=%s: it hands refreshing to the "
              "caller" % (rp.group(1) if rp else None))
        alice.returned.add(alice._key(ref))
        alice.reply(ref, 200, body=ref.body and sdp(alice.media, 1,
                                                      "alice"),
                    headers=["Session-Expires: 90;refresher=uac",
                             "Require: timer"])
        if method == "INVITE":
            alice.wait(lambda x: is_req("ACK")(x) and x.cseq() ==
                       "%s ACK" % ref.cseq().split()[0], 3,
                       what="ACK of the refresh")
        time.sleep(3)
        bob.answer_all(db.call_id, sdp(bob.media, 1, "bob"))
        alice.barrier()
        byes = alice.matching(is_req("BYE")) + bob.matching(is_req("BYE"))
        check(not byes, "BYE after the refresh: %s" % byes)
        live = [c for c in srv.calls() if c.get("callid") == dc.call_id]
        check(live and live[-1].get("state") != "ended", "the call ended "
              "after the refresh: %r" % (live[-1:] or None))
        caller_bye(alice, dc, bob)
        ended_clean(srv, dc.call_id, "caller")


# ---- 8: BYE while a re-INVITE is relayed ---------------------------------

@test
def inline_bye_during_relay(t):
    """RFC 3261 15.1.2: the caller's BYE while its re-INVITE is relayed
    (the callee has not answered): the BYE gets 200, the pending
    re-INVITE a final response (487 recommended; 500 or 481 will do), the
    callee gets BYE (and answers its pending re-INVITE 487); the call
    ends and, with --max-calls 1, a new call works."""
    with parties(t, extra=("--max-calls", "1")) as (srv, alice, bob):
        dc, db, inv, ok = answered_call(alice, bob)
        mark = bob.mark()
        cs = dc.request("INVITE", body=sdp(alice.media + 2, 2, "alice"))
        re1 = bob.next_request("INVITE", after=mark)
        bcs = dc.request("BYE")
        rb = alice.wait(dc.match_rsp(bcs), 5, what="final response to BYE")
        check(rb.status == 200, "the caller's BYE answered %s" % rb.first)
        bye = bob.next_request("BYE", 5)
        bob.reply(bye, 200)
        for c in bob.matching(is_req("CANCEL"), mark):
            info("CANCEL at the callee: %s" % c.cseq())
            bob.reply(c, 200)
        bob.reply(re1, 487)
        fin = alice.wait(dc.match_rsp(cs), 5, what="final response to the "
                         "re-INVITE")
        info("the caller's re-INVITE: %s; BYE %s" % (fin.first, rb.first))
        check(fin.status in (487, 500, 481), "the caller's re-INVITE "
              "pending at its BYE ended %s" % fin.first)
        dc.ack_error(fin)
        bob.wait(lambda m: is_req("ACK")(m) and m.cseq() == "%s ACK"
                 % re1.cseq().split()[0], 3, mark, "ACK of the 487")
        ended_clean(srv, dc.call_id, "caller")
        no_live_call(srv)
        second_call(srv, alice, bob)
