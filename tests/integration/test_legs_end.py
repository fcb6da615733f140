"""Ending dialogs right: no BYE before the caller's ACK, responses where
the Via says, RFC 4028 session timers, an early BYE from the caller."""

import re
import time

from cmrtest import (
    HOST, call_of, check, ev_names, info, slow_test, test, wait_event,
    wait_until)
from cmrtest_sip import only_sdp, sdp_media, tag_param, tags_of
from cmrtest_media import RtpSink, gw_sdp
from sipua import is_req, media_lines, parties, sdp, sdp_version

from test_legs import answered_call, caller_bye, ended_clean


def callee_bye_at_once(alice, bob):
    """bob answers 200 and sends BYE at once; returns (alice's INVITE
    dialog, the 200 alice got, bob's dialog, the CSeq of bob's BYE)."""
    d = alice.invite("bob", body=sdp(alice.media, 1, "alice"))
    inv = bob.next_request("INVITE")
    bob.reply(inv, 180, tag="b1")
    bob.reply(inv, 200, tag="b1", body=sdp(bob.media, 1, "bob"))
    db = bob.uas_dialog(inv, "b1")
    cs = db.request("BYE")
    ok = alice.wait(d.match_rsp("1 INVITE"), 5, what="final response")
    check(ok.status == 200, "the INVITE ended %s" % ok.first)
    return d, ok, db, cs


@test
def no_bye_before_ack(t):
    """RFC 3261 section 15: the callee's BYE right after its 200 must not
    reach the caller before the caller's ACK of the 200 (a UA does not
    send BYE on a confirmed dialog before the ACK or before the server
    transaction times out); once the ACK is in, the BYE comes."""
    with parties(t) as (srv, alice, bob):
        d, ok, db, cs = callee_bye_at_once(alice, bob)
        wait_event(srv, "bye", by="callee")      # the server took the BYE
        # The caller withholds its ACK for 1 s (no ACK of the 200's
        # retransmissions either).
        time.sleep(max(0.0, ok.t + 1.0 - time.monotonic()))
        alice.sync()
        early = alice.matching(is_req("BYE"))
        n200 = len(alice.matching(d.match_rsp("1 INVITE", status=200)))
        info("before the ACK: %d copies of the 200, %d BYEs" % (n200,
                                                               len(early)))
        check(not early, "the server sent the caller BYE %.0f ms after the "
              "200, before the caller's ACK" % ((early[0].t - ok.t) * 1000
                                                if early else 0))
        t_ack = time.monotonic()
        d.ack(ok)
        bye = alice.next_request("BYE", 3)
        info("BYE %.0f ms after the ACK" % ((bye.t - t_ack) * 1000))
        alice.reply(bye, 200)
        r = bob.wait(db.match_rsp(cs), 5, what="response to the BYE")
        check(r.status == 200, "the callee's BYE answered %s" % r.first)
        ended_clean(srv, d.call_id, "callee")


@slow_test
def no_bye_before_ack_timeout(t):
    """RFC 3261 sections 13.3.1.4 and 15: the caller never ACKs the 200:
    the server retransmits it for 64*T1 = 32 s and only then sends the
    callee's hang-up as BYE; the BYE is not lost."""
    with parties(t) as (srv, alice, bob):
        d, ok, db, cs = callee_bye_at_once(alice, bob)
        bye = alice.next_request("BYE", 40)
        alice.reply(bye, 200)
        oks = alice.matching(d.match_rsp("1 INVITE", status=200))
        info("BYE %.1f s after the first 200; %d copies of the 200, the "
             "last %.1f s after the first" % (bye.t - ok.t, len(oks),
                                              oks[-1].t - ok.t))
        check(bye.t - ok.t >= 30, "the BYE came %.1f s after the 200, "
              "before the 2xx retransmissions gave up (32 s)"
              % (bye.t - ok.t))
        check(oks[-1].t <= bye.t, "the 200 was resent after the BYE")
        r = bob.wait(db.match_rsp(cs), 5, what="response to the BYE")
        check(r.status == 200, "the callee's BYE answered %s" % r.first)
        rec = call_of(srv, d.call_id)
        check(rec.get("state") == "ended", "state %r" % rec.get("state"))


# ---- 11: where responses go ----------------------------------------------

def via_call(t, rport):
    """alice sends from socket 0 and names socket 1's port in its Via;
    with rport every response must come to socket 0 (RFC 3581 section
    4), without it to socket 1 (RFC 3261 18.2.2)."""
    want = 0 if rport else 1
    with parties(t, alt=True) as (srv, alice, bob):
        d = alice.invite("bob", body=sdp(alice.media, 1, "alice"),
                         via_port=alice.alt_port, rport=rport)
        inv = bob.next_request("INVITE")
        bob.reply(inv, 180, tag="b1")
        bob.reply(inv, 200, tag="b1", body=sdp(bob.media, 1, "bob"))
        at = lambda p: lambda m: p(m) and m.sock == want
        ok = alice.wait(at(d.match_rsp("1 INVITE")), 5,
                        what="200 at socket %d" % want)
        # The ACK is withheld 1.2 s: the 200 comes again at 0.5 s.
        alice.wait(lambda m: at(d.match_rsp("1 INVITE"))(m) and
                   m.idx > ok.idx, 1.2, what="retransmitted 200 at "
                   "socket %d" % want)
        time.sleep(max(0.0, ok.t + 1.2 - time.monotonic()))
        dc = d.ack(ok)
        bob.next_request("ACK")
        cs = dc.request("BYE")
        bye = bob.next_request("BYE")
        bob.reply(bye, 200)
        alice.wait(at(dc.match_rsp(cs)), 5, what="200 (BYE) at socket %d"
                   % want)
        alice.barrier()
        rsps = alice.matching(lambda m: m.status is not None and
                              m.get("call-id") == d.call_id)
        info("responses: %s" % ", ".join("%d %s at socket %d"
                                         % (m.status, m.cseq(), m.sock)
                                         for m in rsps))
        wrong = [m for m in rsps if m.sock != want]
        check(not wrong, "%d responses came to socket %d (port %d), the "
              "Via %s: %s" % (len(wrong), 1 - want,
                              alice.socks[1 - want].getsockname()[1],
                              "has rport" if rport else "names port %d "
                              "without rport" % alice.alt_port,
                              ", ".join("%d %s" % (m.status, m.cseq())
                                        for m in wrong)))
        got = set(m.status for m in rsps if m.cseq() == "1 INVITE")
        check({100, 180, 200} <= got, "INVITE responses at socket %d: %s, "
              "expected 100, 180 and 200" % (want, sorted(got)))


@test
def responses_follow_via(t):
    """RFC 3261 18.2.2: without rport, responses go to the port of the
    Via's sent-by, not to the request's source port; RFC 3581: with
    rport, to the source port."""
    via_call(t, False)
    via_call(t, True)


# ---- 13: session timers --------------------------------------------------

SE = "Session-Expires: 90;refresher=uac"


def se_of(msg):
    return msg.get("session-expires") or msg.get("x")


def session_call(alice, bob, offer):
    dc, db, inv, ok = answered_call(alice, bob, offer, headers=[SE],
                                    supported="timer")
    info("INVITE to the callee: Session-Expires %r, Supported %r; 200 to "
         "the caller: Session-Expires %r, Require %r"
         % (se_of(inv), inv.all("supported"), se_of(ok), ok.all("require")))
    check(re.match(r"^90\s*;\s*refresher\s*=\s*uac\s*$", se_of(ok) or ""),
          "the 200: Session-Expires %r, expected 90;refresher=uac"
          % se_of(ok))
    check("timer" in tags_of(ok.all("require")), "the 200: Require %r, "
          "expected timer (RFC 4028 section 9)" % ok.all("require"))
    return dc, db, inv, ok


@test
def session_timer_expires(t):
    """RFC 4028 section 9: the caller asks for a 90 s session with itself
    as refresher: the 200 carries Session-Expires: 90;refresher=uac and
    Require: timer; a refresh re-INVITE with the same SDP gets a 200 with
    Session-Expires too (section 9 again)."""
    with parties(t) as (srv, alice, bob):
        offer = sdp(alice.media, 1, "alice")
        dc, db, inv, ok = session_call(alice, bob, offer)
        r = dc.transact("INVITE", body=offer,
                        headers=[SE, "Supported: timer"])
        check(r.status == 200, "refresh re-INVITE answered %s" % r.first)
        dc.ack(r)
        info("refresh: Session-Expires %r, Require %r" % (se_of(r),
                                                         r.all("require")))
        check(re.match(r"^90\s*;\s*refresher\s*=\s*uac\s*$", se_of(r) or ""),
              "the refresh's 200: Session-Expires %r, expected "
              "90;refresher=uac" % se_of(r))
        caller_bye(alice, dc, bob)
        ended_clean(srv, dc.call_id, "caller")


@slow_test
def session_timer_expiry_bye(t):
    """RFC 4028 section 10: the caller is the refresher and never
    refreshes: before the 90 s run out the server ends the session with
    BYE to both sides (it answers what the server sends meanwhile)."""
    with parties(t) as (srv, alice, bob):
        dc, db, inv, ok = session_call(alice, bob, sdp(alice.media, 1,
                                                       "alice"))
        got = {}
        deadline = ok.t + 90
        while len(got) < 2 and time.monotonic() < deadline:
            for ua, cid in ((alice, dc.call_id), (bob, db.call_id)):
                done = ua.answer_all(cid, sdp(ua.media, 2, ua.name))
                if done:
                    info("%s at %.1f s: %s" % (ua.name,
                                               time.monotonic() - ok.t,
                                               done))
                if "BYE" in done:
                    got[ua.name] = time.monotonic() - ok.t
            time.sleep(0.1)
        check(len(got) == 2, "BYE within 90 s only to %s" % sorted(got))
        rec = call_of(srv, dc.call_id)
        check(rec.get("state") == "ended", "state %r" % rec.get("state"))


# ---- 14: BYE in the early dialog ------------------------------------------

def early_bye(t, crossing):
    """alice BYEs the early dialog of bob's 180; bob gets CANCEL and
    answers it 200 and the INVITE 487, or (crossing) 200: that 200 crossed
    the CANCEL, and the server must ACK it and end it with BYE (RFC 3261
    13.2.2.4, 15) while alice still gets 487."""
    with parties(t) as (srv, alice, bob):
        d = alice.invite("bob", body=sdp(alice.media, 1, "alice"))
        inv = bob.next_request("INVITE")
        bob.reply(inv, 180, tag="b1")
        r180 = alice.wait(lambda m: d.match_rsp("1 INVITE", False)(m) and
                          m.status == 180 and tag_param(m.get("to")), 5,
                          what="180 with a To tag")
        de = d.fork(r180)
        cs = de.request("BYE")
        r = alice.wait(de.match_rsp(cs), 5, what="response to the BYE")
        check(r.status == 200, "BYE in the early dialog answered %s, "
              "expected 200" % r.first)
        can = bob.next_request("CANCEL", 5)
        bob.reply(can, 200)
        if crossing:
            bob.reply(inv, 200, tag="b1", body=sdp(bob.media, 1, "bob"))
            ack = bob.next_request("ACK", 3)
            check(tag_param(ack.get("to")) == "b1", "ACK of the crossing "
                  "200 with To tag %r" % tag_param(ack.get("to")))
            bye = bob.next_request("BYE", 3)
            check(ack.idx < bye.idx, "the BYE came before the ACK")
            bob.reply(bye, 200)
        else:
            bob.reply(inv, 487)
            bob.wait(lambda m: is_req("ACK")(m) and m.cseq() == "%s ACK"
                     % inv.cseq().split()[0], 3, what="ACK of the 487")
        fin = alice.wait(d.match_rsp("1 INVITE"), 5, what="final response")
        check(fin.status == 487, "the INVITE ended %s, expected 487"
              % fin.first)
        d.ack_error(fin)
        rec = call_of(srv, d.call_id)
        check(rec.get("state") == "ended", "state %r" % rec.get("state"))
        alice.barrier()
        oks = alice.matching(d.match_rsp("1 INVITE", status=200))
        check(not oks, "the caller got %s after its BYE" % oks)


@test
def early_bye_from_caller_487(t):
    """RFC 3261 section 15: a BYE in an early dialog gets 200 and ends the
    INVITE with 487 (15.1.2); the B2BUA cancels the callee's INVITE; when
    the callee's 200 crosses that CANCEL, the server ACKs it and sends BYE
    (13.2.2.4), and the caller still gets 487."""
    early_bye(t, False)
    early_bye(t, True)
