"""The profile's time limits (profiles/README.md, `limits ring=S call=S`):
the longest ring and the longest call, with a scripted user agent on
each side (sipua.py)."""

import json
import os
import time

from cmrtest import call_of, check, info, slow_test, test, wait_until
from sipua import is_req, parties, sdp

SUBSCRIBERS = "".join(
    "subscriber %s mode=auto cmrbt=ringback-default cmrt=ringtone-default\n"
    % s for s in ("alice", "bob", "carol", "dave", "1000-1099"))


def limits_profile(t, line):
    """The embedded default profile (profiles/README.md) plus line."""
    path = os.path.join(t.tmp, "limits.profile")
    with open(path, "w") as f:
        f.write(SUBSCRIBERS + line + "\n")
    return path


def limit_event(srv, kind, timeout=5.0):
    """The event log line of the "limit" event {"what":"limit",
    "limit":"<kind>", ...}."""
    def found():
        with open(srv.log_json) as f:
            for line in f:
                if not line.strip():
                    continue
                ev = json.loads(line)
                if ev.get("what") == "limit" and ev.get("limit") == kind:
                    return ev
        return None
    return wait_until(found, timeout, '"limit" event with "limit":"%s" in '
                      'the event log' % kind)


@test
def limits_ring_time(t):
    """`limits ring=2`: a callee that rings and never answers gets CANCEL
    after about 2 s (RFC 3261 9.1), the caller a final response >= 400,
    and the event log says why."""
    with parties(t, profile=limits_profile(t, "limits ring=2")) as \
            (srv, alice, bob):
        d = alice.invite("bob", body=sdp(alice.media, 1, "alice"))
        inv = bob.next_request("INVITE")
        bob.reply(inv, 180, tag="b1")
        t180 = time.monotonic()
        can = bob.next_request("CANCEL", 6)
        info("CANCEL %.2f s after the 180" % (can.t - t180))
        check(1.5 <= can.t - t180 <= 3.5, "CANCEL %.2f s after the 180, "
              "the ring limit is 2 s" % (can.t - t180))
        bob.reply(can, 200)
        bob.reply(inv, 487)
        fin = alice.wait(d.match_rsp("1 INVITE"), 5, what="final response")
        info("the caller's final response: %s" % fin.first)
        check(fin.status >= 400, "the INVITE ended %s, expected >= 400"
              % fin.first)
        d.ack_error(fin)
        bob.wait(lambda m: is_req("ACK")(m) and m.cseq() == "%s ACK"
                 % inv.cseq().split()[0], 3, what="ACK of the 487")
        ev = limit_event(srv, "ring time")
        info("event: %s" % ev)
        rec = call_of(srv, d.call_id)
        check(rec.get("state") == "ended", "state %r" % rec.get("state"))


@test
def limits_call_duration(t):
    """`limits call=2`: an answered call is ended about 2 s later with BYE
    to both sides, and the event log says why."""
    with parties(t, profile=limits_profile(t, "limits call=2")) as \
            (srv, alice, bob):
        d = alice.invite("bob", body=sdp(alice.media, 1, "alice"))
        inv = bob.next_request("INVITE")
        bob.reply(inv, 180, tag="b1")
        bob.reply(inv, 200, tag="b1", body=sdp(bob.media, 1, "bob"))
        ok = alice.wait(d.match_rsp("1 INVITE"), 5, what="final response")
        check(ok.status == 200, "the INVITE ended %s" % ok.first)
        d.ack(ok)
        bob.next_request("ACK")
        for ua in (alice, bob):
            bye = ua.next_request("BYE", 6)
            ua.reply(bye, 200)
            info("BYE to %s %.2f s after the 200" % (ua.name, bye.t - ok.t))
            check(1.5 <= bye.t - ok.t <= 3.5, "BYE to %s %.2f s after the "
                  "200, the call limit is 2 s" % (ua.name, bye.t - ok.t))
        ev = limit_event(srv, "call duration")
        info("event: %s" % ev)
        rec = call_of(srv, d.call_id)
        check(rec.get("state") == "ended", "state %r" % rec.get("state"))


@slow_test
def timer_c_cancels_silent_callee(t):
    """RFC 3261 16.8, Timer C: with no ring limit (`limits ring=0`) a callee
    that sends one 180 and then nothing is cancelled 180 s later, and the
    caller gets 408 Request Timeout."""
    with parties(t, profile=limits_profile(t, "limits ring=0")) as \
            (srv, alice, bob):
        d = alice.invite("bob", body=sdp(alice.media, 1, "alice"))
        inv = bob.next_request("INVITE")
        bob.reply(inv, 180, tag="b1")
        t180 = time.monotonic()
        can = bob.next_request("CANCEL", 200)
        info("CANCEL %.1f s after the 180" % (can.t - t180))
        check(can.t - t180 >= 179, "CANCEL %.1f s after the 180, Timer C "
              "is 180 s" % (can.t - t180))
        bob.reply(can, 200)
        bob.reply(inv, 487)
        fin = alice.wait(d.match_rsp("1 INVITE"), 5, what="final response")
        check(fin.status == 408, "the INVITE ended %s, expected 408"
              % fin.first)
        d.ack_error(fin)
