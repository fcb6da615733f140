"""Call faults that fuzzing found, one test each: a callee that ends its
INVITE before it answers our PRACK, a caller's ACK inside the early
dialog, a caller's second INVITE in the early dialog, a re-INVITE left
pending when the call ends, and Contact URIs that do not start with
their scheme."""

import time

from cmrtest import call_of, check, ev_names, info, test, wait_event
from sipua import parties, sdp


def final_of(alice, d, what):
    r = alice.wait(d.match_rsp("1 INVITE"), 5, what=what)
    info("caller's final: %s" % r.first)
    return r


def rel183_to_caller(alice, bob, reliable=True):
    """alice (100rel) calls bob, who answers with a reliable 183 and SDP
    and takes our PRACK; returns (alice's dialog, bob's INVITE, the 183
    alice got: a reliable one, unless reliable is False)."""
    d = alice.invite("bob", body=sdp(alice.media, 1, "alice"),
                     supported="100rel")
    inv = bob.next_request("INVITE")
    bob.reply(inv, 183, tag="b1", rel=True, body=sdp(bob.media, 1, "bob"))
    pr = bob.next_request("PRACK")
    bob.reply(pr, 200)
    r18 = alice.wait(lambda m: d.match_rsp("1 INVITE", False)(m) and
                     m.status == 183 and
                     (not reliable or m.get("rseq") is not None), 5,
                     what="caller's 183")
    return d, inv, r18


@test
def rel183_then_486_before_prack_answer(t):
    """RFC 3262 section 3 and RFC 3261 section 13.2.2.4: the callee sends a
    reliable 183, we PRACK it, and the callee answers the INVITE with 486
    before it answers the PRACK.  The 486 ends the INVITE: the caller gets
    it (and ACKs it), and the call ends, whatever becomes of the PRACK."""
    for supported in (None, "100rel"):
        with parties(t) as (srv, alice, bob):
            info("caller Supported: %r" % supported)
            d = alice.invite("bob", body=sdp(alice.media, 1, "alice"),
                             supported=supported)
            inv = bob.next_request("INVITE")
            bob.reply(inv, 183, tag="b1", rel=True,
                      body=sdp(bob.media, 1, "bob"))
            pr = bob.next_request("PRACK")
            bob.reply(inv, 486, tag="b1")
            r = final_of(alice, d, "final response after the callee's 486")
            check(r.status == 486, "the caller got %s, expected 486"
                  % r.first)
            d.fork(r).ack_error(r)
            ack = bob.next_request("ACK", call_id=inv.get("call-id"))
            info("callee got %s" % ack.first)
            # The PRACK's own answer, late: it changes nothing.
            bob.reply(pr, 481)
            rec = call_of(srv, d.call_id)
            info("API events: %s" % " ".join(ev_names(rec["events"])))
            check(rec.get("state") == "ended", "call state %r, expected "
                  "ended" % rec.get("state"))
            # The next call works.
            d2 = alice.invite("bob", body=sdp(alice.media, 1, "alice"))
            inv2 = bob.next_request("INVITE")
            bob.reply(inv2, 486, tag="b2")
            r2 = final_of(alice, d2, "final response of the next call")
            check(r2.status == 486, "the next call got %s" % r2.first)
            d2.fork(r2).ack_error(r2)


@test
def early_ack_does_not_confirm(t):
    """RFC 3261 section 17.2.1: an ACK belongs to a final response; one in
    the early dialog (after a reliable 183, before any final) matches no
    transaction and is dropped.  The real ACK of the later 200 must
    still confirm the call: the 200 is not resent for 32 s and nobody
    gets a BYE."""
    with parties(t) as (srv, alice, bob):
        d, inv, r18 = rel183_to_caller(alice, bob, reliable=False)
        if r18.get("rseq") is not None:
            cs = d.prack(r18)
            alice.wait(d.fork(r18).match_rsp(cs), 5, what="PRACK's 200")
        # The stray ACK: early dialog, CSeq of the INVITE.
        d.fork(r18).request("ACK", cseq=1)
        alice.barrier()
        bob.reply(inv, 200, tag="b1")
        ok = final_of(alice, d, "the 200")
        check(ok.status == 200, "the caller got %s" % ok.first)
        mark = alice.mark()
        d.ack(ok)
        bob.next_request("ACK", call_id=inv.get("call-id"))
        wait_event(srv, "confirmed", callid=d.call_id)
        # T1 is 500 ms: a 200 resent for want of its ACK shows by 1.5 s.
        alice.barrier()
        time.sleep(1.6)
        alice.sync()
        again = alice.matching(d.match_rsp("1 INVITE"), after=mark)
        check(not again, "the 200 came %d more times after the ACK"
              % len(again))
        byes = alice.matching(d.match_req("BYE")) + \
            bob.matching(lambda m: m.first.startswith("BYE"))
        check(not byes, "BYE sent: %s" % [m.first for m in byes])
        cs = d.fork(ok).request("BYE")
        bye = bob.next_request("BYE")
        bob.reply(bye, 200)
        r = alice.wait(d.fork(ok).match_rsp(cs), 5, what="BYE's 200")
        check(r.status == 200, "BYE answered %s" % r.first)
        rec = call_of(srv, d.call_id)
        names = ev_names(rec["events"])
        info("API events: %s" % " ".join(names))
        check("no-ack" not in names, "the call had a no-ack event")


@test
def early_reinvite_500(t):
    """RFC 3261 section 14.2: a UAS that receives a second INVITE before it
    sent the final response to a first INVITE with a lower CSeq on the
    same dialog MUST return 500 with Retry-After.  The caller (100rel)
    has not PRACKed our reliable 183 yet, so the callee's 200 waits
    (RFC 3262 section 3); the caller's INVITE in the early dialog then
    gets 500, and its PRACK lets the first INVITE end with the 200."""
    with parties(t) as (srv, alice, bob):
        d, inv, r18 = rel183_to_caller(alice, bob)
        bob.reply(inv, 200, tag="b1")
        wait_event(srv, "2xx-held", callid=d.call_id)
        early = d.fork(r18)
        cs = early.request("INVITE", body=sdp(alice.media, 2, "alice"))
        r = alice.wait(early.match_rsp(cs), 5, what="answer to the "
                       "INVITE in the early dialog")
        info("second INVITE: %s, Retry-After %r" % (r.first,
                                                   r.get("retry-after")))
        check(r.status == 500 and r.get("retry-after"), "the INVITE in "
              "the early dialog got %s (Retry-After %r), expected 500 "
              "with Retry-After" % (r.first, r.get("retry-after")))
        early.ack_error(r)
        cs = d.prack(r18)
        alice.wait(early.match_rsp(cs), 5, what="PRACK's 200")
        ok = final_of(alice, d, "the 200 of the first INVITE")
        check(ok.status == 200, "the first INVITE ended %s" % ok.first)
        dc = d.ack(ok)
        bob.next_request("ACK", call_id=inv.get("call-id"))
        cs = dc.request("BYE")
        bye = bob.next_request("BYE")
        bob.reply(bye, 200)
        r = alice.wait(dc.match_rsp(cs), 5, what="BYE's 200")
        check(r.status == 200, "BYE answered %s" % r.first)



@test
def bye_ends_pending_reinvite(t):
    """RFC 3261 section 15.1.2: requests pending in a dialog that ends get
    their final response.  The callee's re-INVITE is relayed to the
    caller, who never answers it and hangs up: the callee gets 487 for
    its re-INVITE at once, not when the relayed copy times out (32 s)."""
    with parties(t) as (srv, alice, bob):
        d = alice.invite("bob", body=sdp(alice.media, 1, "alice"))
        inv = bob.next_request("INVITE")
        bob.reply(inv, 200, tag="b1", body=sdp(bob.media, 1, "bob"))
        ok = final_of(alice, d, "the 200")
        dc = d.ack(ok)
        bob.next_request("ACK", call_id=inv.get("call-id"))
        bd = bob.uas_dialog(inv, "b1")
        rcs = bd.request("INVITE", body=sdp(bob.media, 2, "bob"))
        alice.next_request("INVITE")        # relayed; never answered
        cs = dc.request("BYE")
        alice.wait(dc.match_rsp(cs), 5, what="BYE's 200")
        bye = bob.next_request("BYE")
        bob.reply(bye, 200)
        r = bob.wait(bd.match_rsp(rcs), 5, what="final response to the "
                     "callee's re-INVITE")
        info("callee's re-INVITE: %s" % r.first)
        check(r.status == 487, "the callee's re-INVITE got %s, expected "
              "487" % r.first)
        bd.ack_error(r)


@test
def contact_uri_not_starting_with_scheme(t):
    """RFC 3261 25.1: a URI starts with its scheme.  libre reads
    "<:sip:bob@host>" all the same, with the scheme one byte in, and a
    dialog with that remote target reads freed memory after its next
    target refresh (fuzz_sip: heap-use-after-free in the ACK of the 200).
    The callee's 180 with one makes no dialog and its 200 does: the ACK
    goes to the 200's Contact.  The caller's UPDATE with one is malformed
    (400) and leaves its target as it was: our BYE reaches it."""
    with parties(t) as (srv, alice, bob):
        d = alice.invite("bob", body=sdp(alice.media, 1, "alice"))
        inv = bob.next_request("INVITE")
        bob.reply(inv, 180, tag="b1", contact=False,
                  headers=["Contact: <:%s>" % bob.contact])
        bob.reply(inv, 200, tag="b1", body=sdp(bob.media, 1, "bob"))
        ok = final_of(alice, d, "the 200")
        check(ok.status == 200, "the INVITE ended %s" % ok.first)
        dc = d.ack(ok)
        ack = bob.next_request("ACK", call_id=inv.get("call-id"))
        info("callee's ACK: %s" % ack.first)
        check(ack.first.split()[1] == bob.contact, "the ACK went to %s, "
              "expected the 200's Contact %s" % (ack.first, bob.contact))

        good = alice.contact
        alice.contact = ":" + good
        try:
            r = dc.transact("UPDATE")
        finally:
            alice.contact = good
        info("UPDATE with <:sip:...>: %s" % r.first)
        check(r.status == 400, "the UPDATE got %s, expected 400" % r.first)
        r = dc.transact("UPDATE")
        check(r.status == 200, "the next UPDATE got %s" % r.first)

        bd = bob.uas_dialog(inv, "b1")
        cs = bd.request("BYE")
        bye = alice.next_request("BYE")
        info("caller's BYE: %s" % bye.first)
        check(bye.first.split()[1] == good, "the BYE went to %s, expected "
              "%s" % (bye.first, good))
        alice.reply(bye, 200)
        r = bob.wait(bd.match_rsp(cs), 5, what="BYE's 200")
        check(r.status == 200, "BYE answered %s" % r.first)
        info("events: %s" % " ".join(ev_names(call_of(
            srv, d.call_id).get("events", []))))
