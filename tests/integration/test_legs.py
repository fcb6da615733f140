"""The B2BUA's two legs with a scripted user agent (sipua.py) on each side:
reliable 1xx, offers in every place RFC 3264 allows, forks, in-dialog
requests, dialog and transaction rules of RFC 3261, 3262, 3311, 4028."""

import re
import time

from cmrtest import (
    HOST, call_of, check, ev_names, info, slow_test, test, wait_event,
    wait_until)
from cmrtest_sip import only_sdp, sdp_media, tag_param, tags_of
from cmrtest_media import RtpSink, gw_sdp
from sipua import is_req, media_lines, parties, sdp, sdp_version

BAD_EVENTS = ("leg-failed", "prack-timeout", "prack-failed", "no-ack",
              "prack-unmatched")


def ended_clean(srv, call_id, by=None):
    """The call's record ended, without an event of trouble; with by, its
    bye event names that side."""
    rec = call_of(srv, call_id)
    names = ev_names(rec.get("events", []))
    info("API events: %s" % " ".join(names))
    check(rec.get("state") == "ended", "call state %r, expected ended"
          % rec.get("state"))
    bad = [n for n in names if n in BAD_EVENTS]
    check(not bad, "the call had %s events: %s" % (bad, names))
    if by:
        byes = [e for e in rec.get("events", []) if e.get("what") == "bye"]
        check(byes and byes[0].get("by") == by, "bye events %r, expected "
              "by=%s" % (byes, by))
    return rec


def caller_bye(caller, d, callee):
    """The caller's BYE in dialog d reaches the callee (which answers 200)
    and the caller gets 200.  Returns the BYE the callee got."""
    cs = d.request("BYE")
    bye = callee.next_request("BYE")
    callee.reply(bye, 200)
    r = caller.wait(d.match_rsp(cs), 5, what="final response to the BYE")
    check(r.status == 200, "caller's BYE answered %s" % r.first)
    return bye


def check_prack(pr, tag, rseq, inv, where):
    """A PRACK the callee got: To tag, RAck (RFC 3262 section 7.2)."""
    info("%s: %s, To %s, RAck %s" % (where, pr.first, pr.get("to"),
                                     pr.get("rack")))
    check(tag_param(pr.get("to")) == tag, "%s: To tag %r, expected %r"
          % (where, tag_param(pr.get("to")), tag))
    want = "%d %s" % (rseq, inv.cseq())
    check(" ".join((pr.get("rack") or "").split()) == want,
          "%s: RAck %r, expected %r" % (where, pr.get("rack"), want))


def answered_call(alice, bob, offer=None, answer=None, tag="b1",
                  headers=(), supported=None):
    """A plain call (HTTP mode): alice's INVITE with an SDP offer, bob
    rings (180) and answers 200 with its SDP; alice ACKs and bob gets the
    ACK.  Returns (alice's dialog, bob's dialog, bob's INVITE, the 200
    alice got)."""
    offer = offer or sdp(alice.media, 1, "alice")
    answer = answer or sdp(bob.media, 1, "bob")
    d = alice.invite("bob", body=offer, headers=headers, supported=supported)
    inv = bob.next_request("INVITE")
    bob.reply(inv, 180, tag=tag)
    bob.reply(inv, 200, tag=tag, body=answer)
    ok = alice.wait(d.match_rsp("1 INVITE"), 5, what="final response")
    check(ok.status == 200, "the INVITE ended %s, expected 200" % ok.first)
    dc = d.ack(ok)
    bob.next_request("ACK", call_id=inv.get("call-id"))
    return dc, bob.uas_dialog(inv, tag), inv, ok


# ---- 1, 2: the SDP answer in a reliable 1xx, the 200 without one -------

@test
def rel18x_answer_then_200_without_sdp_plain_caller(t):
    """RFC 3262 section 5 and RFC 3264 section 4: the callee's answer in a
    reliable 183 is the answer, and its 200 carries none.  The caller did
    not offer 100rel, so the answer can only reach it in the 200 (RFC 3261
    13.2.1: the answer is in the first reliable non-failure message): the
    caller's 200 must carry the callee's SDP."""
    with parties(t) as (srv, alice, bob):
        offer = sdp(alice.media, 1, "alice")
        d = alice.invite("bob", body=offer)
        inv = bob.next_request("INVITE")
        info("INVITE to the callee: Supported %r, Require %r"
             % (inv.all("supported"), inv.all("require")))
        answer = sdp(bob.media, 1, "bob")
        bob.reply(inv, 183, tag="b1", rel=True, body=answer)
        pr = bob.next_request("PRACK")
        check_prack(pr, "b1", 1, inv, "PRACK at the callee")
        bob.reply(pr, 200)
        bob.reply(inv, 200, tag="b1")
        ok = alice.wait(d.match_rsp("1 INVITE"), 5, what="final response")
        check(ok.status == 200, "the INVITE ended %s, expected 200"
              % ok.first)
        rel = alice.matching(lambda m: m.get("rseq") is not None)
        check(not rel, "the caller, without 100rel, got reliable %s"
              % rel)
        check(ok.body, "the caller's 200 has no SDP: the callee's answer "
              "(in its reliable 183) never reached the caller")
        got = media_lines(only_sdp(ok, "caller's 200"))
        check(got == media_lines(answer), "caller's 200: media %s, the "
              "callee answered %s" % (got, media_lines(answer)))
        dc = d.ack(ok)
        bob.next_request("ACK")
        caller_bye(alice, dc, bob)
        ended_clean(srv, d.call_id, "caller")


@test
def rel18x_answer_then_200_without_sdp_100rel_caller(t):
    """RFC 3262 section 5: the caller supports 100rel, so the callee's
    answer reaches it in a reliable 183 (Require: 100rel, RSeq), which it
    PRACKs; the 200 may then omit the SDP and, when it has one, it is the
    same (RFC 3264 section 8: no change without a new offer).  RFC 3262
    section 3: no 2xx before the PRACK of a reliable 1xx with SDP."""
    with parties(t) as (srv, alice, bob):
        offer = sdp(alice.media, 1, "alice")
        d = alice.invite("bob", body=offer, supported="100rel")
        inv = bob.next_request("INVITE")
        answer = sdp(bob.media, 1, "bob")
        bob.reply(inv, 183, tag="b1", rel=True, body=answer)
        pr = bob.next_request("PRACK")
        check_prack(pr, "b1", 1, inv, "PRACK at the callee")
        bob.reply(pr, 200)
        bob.reply(inv, 200, tag="b1")
        r18 = alice.wait(lambda m: d.match_rsp("1 INVITE", False)(m) and
                         m.status < 200 and m.get("rseq") is not None, 5,
                         what="reliable 1xx")
        info("caller's %s: Require %r, RSeq %r" % (r18.first,
                                                  r18.all("require"),
                                                  r18.get("rseq")))
        check("100rel" in tags_of(r18.all("require")), "caller's %s: "
              "Require %r" % (r18.first, r18.all("require")))
        check(r18.body, "the caller's reliable %d has no SDP: the callee's "
              "answer did not reach it reliably" % r18.status)
        got = media_lines(only_sdp(r18, "caller's reliable 1xx"))
        check(got == media_lines(answer), "caller's reliable %d: media %s, "
              "the callee answered %s" % (r18.status, got,
                                          media_lines(answer)))
        # The server has the callee's 200 now; it must hold it until the
        # caller's PRACK.
        early = alice.matching(d.match_rsp("1 INVITE"))
        check(not early, "the caller got %s before its PRACK of the "
              "reliable 1xx with SDP (RFC 3262 section 3)" % early)
        cs = d.prack(r18)
        r = alice.wait(d.match_rsp(cs), 5, what="response to the PRACK")
        check(r.status == 200, "caller's PRACK answered %s" % r.first)
        ok = alice.wait(d.match_rsp("1 INVITE"), 5, what="final response")
        check(ok.status == 200, "the INVITE ended %s" % ok.first)
        if ok.body:
            got2 = media_lines(only_sdp(ok, "caller's 200"))
            check(ok.body == r18.body, "the 200 carries an SDP other than "
                  "the reliable %d's: %s vs %s" % (r18.status, got2, got))
        dc = d.ack(ok)
        bob.next_request("ACK")
        caller_bye(alice, dc, bob)
        ended_clean(srv, d.call_id, "caller")


# ---- 3: gateway mode, the callee's SDP from a reliable 18x ---------------

def gw_18x_sdp_call(t, allow_update):
    """A gateway mode caller (P-Early-Media: supported, 100rel, a PCMU
    offer toward an RtpSink); the callee's SDP comes in its reliable 183
    and its 200 has none; the server re-offers the callee's media to the
    caller by UPDATE (allow_update) or by re-INVITE after the ACK."""
    sink = RtpSink()
    try:
        with parties(t) as (srv, alice, bob):
            allow = "INVITE, ACK, BYE, CANCEL, PRACK" + \
                (", UPDATE" if allow_update else "")
            d = alice.invite("bob", body=gw_sdp(sink.port, [0]),
                             supported="100rel", allow=allow,
                             headers=["P-Early-Media: supported"])
            inv = bob.next_request("INVITE")
            ans = sdp(bob.media, 1, "bob")
            bob.reply(inv, 183, tag="b1", rel=True, body=ans)
            pr = bob.next_request("PRACK")
            check_prack(pr, "b1", 1, inv, "PRACK at the callee")
            bob.reply(pr, 200)
            r18 = alice.wait(lambda m: d.match_rsp("1 INVITE", False)(m)
                             and m.status < 200 and m.get("rseq"), 5,
                             what="reliable 18x of gateway mode")
            ours = sdp_media(only_sdp(r18, "caller's reliable 18x"))
            info("caller's %s: our answer at %s:%d" % (r18.first,
                                                      ours["addr"],
                                                      ours["port"]))
            cs = d.prack(r18)
            r = alice.wait(d.match_rsp(cs), 5, what="200 (PRACK)")
            check(r.status == 200, "caller's PRACK: %s" % r.first)
            bob.reply(inv, 200, tag="b1")        # no SDP: the 183 had it
            dc = d.fork(r18)
            if allow_update:
                upd = alice.next_request("UPDATE", 5)
                fin = alice.matching(d.match_rsp("1 INVITE"), 0, upd.idx)
                check(not fin, "the caller got %s before the UPDATE" % fin)
            else:
                ok = alice.wait(d.match_rsp("1 INVITE"), 5,
                                what="final response")
                check(ok.status == 200, "the INVITE ended %s" % ok.first)
                check(not alice.matching(is_req("UPDATE")), "an UPDATE "
                      "came to a caller whose Allow lacks it")
                dc = d.ack(ok)
                upd = alice.next_request("INVITE", 5)
            what = upd.first.split()[0]
            body = upd.body
            check(body, "the server's %s has no SDP" % what)
            m = sdp_media(only_sdp(upd, what))
            info("%s to the caller: c=%s m=audio %d" % (what, m["addr"],
                                                       m["port"]))
            check((m["addr"], m["port"]) == (HOST, bob.media),
                  "the server's %s names %s:%d, the callee's reliable 183 "
                  "named %s:%d" % (what, m["addr"], m["port"], HOST,
                                   bob.media))
            alice.reply(upd, 200, body=gw_sdp(sink.port, [0], 2))
            if allow_update:
                ok = alice.wait(d.match_rsp("1 INVITE"), 5,
                                what="final response")
                check(ok.status == 200, "the INVITE ended %s" % ok.first)
                check(not ok.body, "the 200 (INVITE) after the UPDATE "
                      "carries a body: %r" % ok.body[:200])
                dc = d.ack(ok)
            else:
                alice.wait(lambda x: is_req("ACK")(x) and
                           x.cseq() == "%s ACK" % upd.cseq().split()[0], 3,
                           what="ACK of the re-INVITE's 200")
            bob.next_request("ACK")
            caller_bye(alice, dc, bob)
            rec = ended_clean(srv, d.call_id, "caller")
            check(rec.get("mode_bt") == "gateway", "the call ran in mode "
                  "%r, not gateway" % rec.get("mode_bt"))
    finally:
        sink.close()


@test
def gateway_update_carries_18x_sdp(t):
    """Gateway mode (clause 1.1.1.10, RFC 3311): the callee's session
    came in its reliable 183 (RFC 3262 section 5) and its 200 has no SDP;
    the UPDATE to the caller must carry the callee's media from that 183,
    and the 200 (INVITE) then comes without SDP."""
    gw_18x_sdp_call(t, True)


@test
def gateway_reinvite_carries_18x_sdp(t):
    """The same without UPDATE in the caller's Allow: the re-INVITE after
    the caller's ACK (RFC 3261 14.1) carries the callee's media from its
    reliable 183."""
    gw_18x_sdp_call(t, False)


# ---- 4: a late offer in a reliable 1xx, the answer in the PRACK ----------

@test
def late_offer_prack_carries_answer(t):
    """RFC 3262 section 5: an INVITE without offer, the callee's offer in
    a reliable 183; the caller's answer is in its PRACK and must reach the
    callee in the PRACK the server sends it (RFC 3264 section 4: an answer
    goes to whom made the offer)."""
    with parties(t) as (srv, alice, bob):
        d = alice.invite("bob", supported="100rel")
        inv = bob.next_request("INVITE")
        info("INVITE to the callee: %d body bytes, Content-Type %r"
             % (len(inv.body), inv.get("content-type")))
        check(not inv.body, "the INVITE to the callee carries a body "
              "the caller never sent: %r" % inv.body[:200])
        offer = sdp(bob.media, 1, "bob")
        bob.reply(inv, 183, tag="b1", rel=True, body=offer)
        r18 = alice.wait(lambda m: d.match_rsp("1 INVITE", False)(m) and
                         m.status < 200 and m.get("rseq") is not None, 5,
                         what="reliable 1xx with the callee's offer")
        check(r18.body and media_lines(r18.body) == media_lines(offer),
              "caller's reliable %d: media %s, the callee offered %s"
              % (r18.status, media_lines(r18.body), media_lines(offer)))
        answer = sdp(alice.media, 1, "alice")
        cs = d.prack(r18, body=answer)
        pr = bob.next_request("PRACK")
        check_prack(pr, "b1", 1, inv, "PRACK at the callee")
        check(pr.body, "the PRACK to the callee has no SDP: the caller's "
              "answer is lost")
        check(media_lines(pr.body) == media_lines(answer), "PRACK to the "
              "callee: media %s, the caller answered %s"
              % (media_lines(pr.body), media_lines(answer)))
        bob.reply(pr, 200)
        r = alice.wait(d.match_rsp(cs), 5, what="200 (PRACK)")
        check(r.status == 200, "caller's PRACK answered %s" % r.first)
        bob.reply(inv, 200, tag="b1")
        ok = alice.wait(d.match_rsp("1 INVITE"), 5, what="final response")
        check(ok.status == 200, "the INVITE ended %s" % ok.first)
        check(not ok.body or media_lines(ok.body) == media_lines(offer),
              "the 200 carries other media %s" % media_lines(ok.body))
        dc = d.ack(ok)
        bob.next_request("ACK")
        caller_bye(alice, dc, bob)
        ended_clean(srv, d.call_id, "caller")


# ---- 5: two forks of one INVITE ------------------------------------------

@test
def fork_two_tags_winner_gets_200(t):
    """Two early dialogs (To tags A and B) from one contact: a PRACK for
    each reliable 180 in its own dialog (RFC 3262 section 4), the 200 of
    B reaches the caller and B gets the ACK; A's later 200 is ACKed and
    ended with BYE (RFC 3261 13.2.2.4); the caller's BYE reaches B."""
    with parties(t) as (srv, alice, bob):
        d = alice.invite("bob", body=sdp(alice.media, 1, "alice"))
        inv = bob.next_request("INVITE")
        bob.reply(inv, 180, tag="forkA", rel=True, rseq=100)
        bob.reply(inv, 180, tag="forkB", rel=True, rseq=200)
        got = {}
        for _ in range(2):
            pr = bob.next_request("PRACK")
            got[tag_param(pr.get("to"))] = pr
            bob.reply(pr, 200)
        check(sorted(got) == ["forkA", "forkB"], "PRACKs for To tags %s, "
              "expected one for forkA and one for forkB" % sorted(got))
        check_prack(got["forkA"], "forkA", 100, inv, "PRACK of fork A")
        check_prack(got["forkB"], "forkB", 200, inv, "PRACK of fork B")
        bob.reply(inv, 200, tag="forkB", body=sdp(bob.media, 1, "bob"))
        ok = alice.wait(d.match_rsp("1 INVITE"), 5, what="final response")
        check(ok.status == 200, "the INVITE ended %s, expected 200 from "
              "fork B" % ok.first)
        dc = d.ack(ok)
        ack = bob.next_request("ACK")
        check(tag_param(ack.get("to")) == "forkB", "ACK with To tag %r, "
              "the 200 came from forkB" % tag_param(ack.get("to")))
        bob.reply(inv, 200, tag="forkA", body=sdp(bob.media + 2, 1, "bob"))
        ack = bob.next_request("ACK")
        check(tag_param(ack.get("to")) == "forkA", "after fork A's 200: "
              "ACK with To tag %r" % tag_param(ack.get("to")))
        bye = bob.next_request("BYE")
        check(tag_param(bye.get("to")) == "forkA", "BYE after fork A's "
              "200 with To tag %r, expected forkA" % tag_param(bye.get("to")))
        check(ack.idx < bye.idx, "fork A: BYE before the ACK")
        bob.reply(bye, 200)
        alice.barrier()
        oks = alice.matching(d.match_rsp("1 INVITE", status=200))
        tags = set(tag_param(m.get("to")) for m in oks)
        check(len(tags) == 1, "the caller got 200s of %d dialogs" % len(tags))
        bye = caller_bye(alice, dc, bob)
        check(tag_param(bye.get("to")) == "forkB", "the caller's BYE "
              "reached the callee with To tag %r, expected forkB"
              % tag_param(bye.get("to")))
        ended_clean(srv, d.call_id, "caller")


# ---- 6, 7: offers after the call is up -----------------------------------

@test
def reinvite_refresh_same_sdp(t):
    """A re-INVITE with the SDP unchanged (same o= version: RFC 3264
    section 8, the session refresh of RFC 4028) changes nothing: the 200
    carries the SDP the caller got before and the callee is not
    disturbed; the same for an UPDATE with that SDP, and an UPDATE
    without SDP gets a 200 without SDP (RFC 3311 section 5.2)."""
    with parties(t) as (srv, alice, bob):
        offer = sdp(alice.media, 1, "alice")
        dc, db, inv, ok = answered_call(alice, bob, offer)
        r = dc.transact("INVITE", body=offer)
        check(r.status == 200, "re-INVITE with the same SDP answered %s"
              % r.first)
        dc.ack(r)
        check(r.body, "the 200 to the re-INVITE has no SDP (an INVITE "
              "with an offer needs the answer in its 2xx)")
        info("re-INVITE's 200: o= version %s, the first 200's %s"
             % (sdp_version(r.body), sdp_version(ok.body)))
        check(media_lines(r.body) == media_lines(ok.body) and
              sdp_version(r.body) == sdp_version(ok.body),
              "re-INVITE's 200: SDP %r, the caller got %r before (same "
              "media and o= version expected)" % (r.body, ok.body))
        for what, body in (("UPDATE with the same SDP", offer),
                           ("UPDATE without SDP", b"")):
            r = dc.transact("UPDATE", body=body)
            check(r.status == 200, "%s answered %s" % (what, r.first))
            if body:
                check(media_lines(r.body) == media_lines(ok.body) and
                      sdp_version(r.body) == sdp_version(ok.body),
                      "%s: 200 with SDP %r, the caller got %r before"
                      % (what, r.body, ok.body))
            else:
                check(not r.body, "%s: 200 with a body %r"
                      % (what, r.body[:200]))
        bob.barrier()
        seen = [m.first for m in bob.matching(
            lambda m: m.status is None and m.first.split()[0] in
            ("INVITE", "UPDATE"))]
        check(len(seen) == 1, "the callee got %s, expected only the first "
              "INVITE" % seen)
        caller_bye(alice, dc, bob)
        ended_clean(srv, dc.call_id, "caller")


@test
def reinvite_hold_relayed(t):
    """A changed offer is relayed (RFC 3264 sections 8.4 and 8): the
    caller's hold (a=sendonly, o= version up) reaches the callee in a
    re-INVITE and its a=recvonly answer comes back in the 200, ACKs on
    both legs; the callee's re-INVITE with a new port reaches the caller;
    a 488 to a relayed offer comes back as 488 and the call stays up."""
    with parties(t) as (srv, alice, bob):
        dc, db, inv, ok = answered_call(alice, bob)
        hold = sdp(alice.media, 2, "alice", direction="sendonly")
        mark = bob.mark()
        cs = dc.request("INVITE", body=hold)
        re1 = bob.next_request("INVITE", after=mark)
        check(media_lines(re1.body) == media_lines(hold), "re-INVITE to "
              "the callee: media %s, the caller offered %s"
              % (media_lines(re1.body), media_lines(hold)))
        held = sdp(bob.media, 2, "bob", direction="recvonly")
        bob.reply(re1, 200, body=held)
        r = alice.wait(dc.match_rsp(cs), 5, what="final response")
        check(r.status == 200, "hold re-INVITE answered %s" % r.first)
        check(media_lines(r.body) == media_lines(held), "200 to the hold: "
              "media %s, the callee answered %s" % (media_lines(r.body),
                                                    media_lines(held)))
        dc.ack(r)
        ack = bob.next_request("ACK", after=mark)
        check(ack.cseq() == "%s ACK" % re1.cseq().split()[0],
              "the callee's ACK has CSeq %r" % ack.cseq())

        # The callee moves its media: a re-INVITE the other way.
        moved = sdp(bob.media + 2, 3, "bob")
        mark = alice.mark()
        cs = db.request("INVITE", body=moved)
        re2 = alice.next_request("INVITE", after=mark)
        check(media_lines(re2.body) == media_lines(moved), "re-INVITE to "
              "the caller: media %s, the callee offered %s"
              % (media_lines(re2.body), media_lines(moved)))
        back = sdp(alice.media, 3, "alice")
        alice.reply(re2, 200, body=back)
        r = bob.wait(db.match_rsp(cs), 5, what="final response")
        check(r.status == 200, "callee's re-INVITE answered %s" % r.first)
        check(media_lines(r.body) == media_lines(back), "200 to the "
              "callee: media %s, the caller answered %s"
              % (media_lines(r.body), media_lines(back)))
        db.ack(r)
        alice.next_request("ACK", after=mark)

        # A refused offer: 488 back, the call goes on.
        mark = bob.mark()
        cs = dc.request("INVITE", body=sdp(alice.media, 4, "alice",
                                           direction="inactive"))
        re3 = bob.next_request("INVITE", after=mark)
        bob.reply(re3, 488)
        r = alice.wait(dc.match_rsp(cs), 5, what="final response")
        check(r.status == 488, "re-INVITE refused by the callee: the "
              "caller got %s, expected 488" % r.first)
        dc.ack_error(r)
        bob.wait(lambda m: is_req("ACK")(m) and m.cseq() == "%s ACK"
                 % re3.cseq().split()[0], 3, mark, "ACK of the 488")
        caller_bye(alice, dc, bob)
        ended_clean(srv, dc.call_id, "caller")


# ---- 8, 9: other requests in the dialog ----------------------------------

DTMF = b"Signal=5\r\nDuration=160\r\n"


@test
def info_relayed(t):
    """INFO (RFC 6086) is relayed both ways with its body and type, and
    its 200 comes back."""
    with parties(t) as (srv, alice, bob):
        dc, db, inv, ok = answered_call(alice, bob)
        for frm, d, to, body in ((alice, dc, bob, DTMF),
                                 (bob, db, alice, DTMF.replace(b"5", b"9"))):
            cs = d.request("INFO", body=body, ctype="application/dtmf-relay")
            got = to.next_request("INFO")
            info("INFO at %s: Content-Type %r, body %r"
                 % (to.name, got.get("content-type"), got.body))
            check(got.body == body and (got.get("content-type") or "")
                  .lower() == "application/dtmf-relay",
                  "INFO from %s reached %s with %r %r" % (
                      frm.name, to.name, got.get("content-type"), got.body))
            to.reply(got, 200)
            r = frm.wait(d.match_rsp(cs), 5, what="final response")
            check(r.status == 200, "INFO from %s answered %s"
                  % (frm.name, r.first))
        caller_bye(alice, dc, bob)
        ended_clean(srv, dc.call_id, "caller")


@test
def cseq_out_of_order_500(t):
    """RFC 3261 12.2.2: a request in a dialog with a CSeq lower than the
    last one from that side is answered 500 and goes no further."""
    with parties(t) as (srv, alice, bob):
        dc, db, inv, ok = answered_call(alice, bob)
        # CSeq 11: an UPDATE without SDP, which the server answers itself
        # (what it answers does not matter: the dialog saw CSeq 11).
        mark = bob.mark()
        cs = dc.request("UPDATE", cseq=11)
        wait_until(lambda: alice.matching(dc.match_rsp(cs)) or
                   bob.matching(is_req("UPDATE"), mark), 5,
                   "response to the UPDATE")
        for u in bob.matching(is_req("UPDATE"), mark):
            bob.reply(u, 200)                    # relayed: answer it
        r = alice.wait(dc.match_rsp(cs), 5, what="final response")
        info("UPDATE CSeq 11 answered %s" % r.first)
        mark = bob.mark()
        r = dc.transact("UPDATE", cseq=9)
        check(r.status == 500, "UPDATE with CSeq 9 after 11 answered %s, "
              "expected 500" % r.first)
        r = dc.transact("INFO", cseq=10, body=DTMF,
                        ctype="application/dtmf-relay")
        check(r.status == 500, "INFO with CSeq 10 after 11 answered %s, "
              "expected 500" % r.first)
        bob.barrier()
        got = [m.first for m in bob.matching(
            lambda m: m.status is None and m.first.split()[0] in
            ("INFO", "UPDATE"), mark)]
        check(not got, "the out-of-order requests went on: the callee got "
              "%s" % got)
        dc.cseq = 11
        caller_bye(alice, dc, bob)
        ended_clean(srv, dc.call_id, "caller")


# ---- 10: the callee hangs up before the caller's ACK ---------------------
