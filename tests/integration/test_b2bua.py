"""The B2BUA's call handling: BYE from either side, CANCEL, busy, 404/480,
Max-Forwards, calls over TCP."""

import re
import socket

from cmrtest import (
    Fail, HOST, call_record, check, check_events, check_http_call_events,
    ev_names, test)
from cmrtest_sip import SipClient, invite, register_ok, run_call


@test
def bye_from_callee(t):
    """The callee hangs up: its BYE reaches the caller, both get 200."""
    srv = t.server(plain="http")
    callee, caller = run_call(t.tmp, srv, uas="uas_answer_bye.xml",
                              uac="uac_call_wait_bye.xml", ring_ms=300)
    check(re.search(r"(?m)^BYE sip:", caller.messages()),
          "the caller trace has no BYE request")
    check("bye answered cseq=BYE" in callee.logs(),
          "the callee did not log the 200 for its BYE")
    rec = call_record(srv)
    check_http_call_events(srv, rec, "callee")


@test
def reject_unknown_and_unreachable(t):
    """Unknown user 404, known but unregistered 480 (UDP and TCP)."""
    srv = t.server()
    for tp in ("udp", "tcp"):
        cl = SipClient(srv, tp)
        try:
            for user, code in (("eve", 404), ("carol", 480), ("1100", 404),
                               ("1099", 480)):
                r = invite(cl, user)
                check(r.status == code, "INVITE %s over %s: %s, expected %d"
                      % (user, tp, r.first, code))
        finally:
            cl.close()
    # The ACKs were taken: no 404/480 retransmission is still pending
    # long after (Timer G would resend a non-2xx without ACK after 0.5 s).
    cl = SipClient(srv, "udp")
    try:
        r = invite(cl, "carol")
        check(r.status == 480, "INVITE carol: %s" % r.first)
        extra = cl.recv_msg(1.2)
        check(extra is None, "after the ACK the server still sent %r"
              % extra)
    finally:
        cl.close()


@test
def cancel_ringing(t):
    """CANCEL while the callee rings: 200 (CANCEL) and 487 (INVITE) on
    both legs."""
    srv = t.server()
    callee, caller = run_call(t.tmp, srv, uas="uas_ring_cancel.xml",
                              uac="uac_cancel.xml")
    logs = caller.logs()
    check("cancel answered cseq=1 CANCEL" in logs,
          "caller: no 200 for the CANCEL: %r" % logs)
    check("487" in logs, "caller: no 487 for the INVITE: %r" % logs)
    check(re.search(r"(?m)^CANCEL sip:", callee.messages()),
          "callee: no CANCEL arrived")
    rec = call_record(srv)
    names = ev_names(rec.get("events", []))
    check_events(names, "API events", ["received", "ringing", "cancelled",
                                       "ended"])
    check(rec.get("state") == "ended", "state %r" % rec.get("state"))


@test
def busy_486(t):
    """A callee's 486 Busy Here reaches the caller as 486."""
    srv = t.server()
    callee, caller = run_call(t.tmp, srv, uas="uas_busy.xml",
                              uac="uac_busy.xml")
    check("invite answered 486 cseq=1 INVITE" in caller.logs(),
          "caller: no 486: %r" % caller.logs())
    rec = call_record(srv)
    check(rec.get("state") == "ended", "state %r" % rec.get("state"))


@test
def tcp_call(t):
    """A call where caller and callee both use TCP."""
    srv = t.server(plain="http")
    callee, caller = run_call(t.tmp, srv, transport="tcp", ring_ms=300)
    inv = re.search(r"(?ms)^INVITE sip:.*?\n\s*\n", callee.messages())
    check(inv and "SIP/2.0/TCP" in inv.group(0),
          "the INVITE to the callee did not come over TCP: %r"
          % (inv.group(0)[:300] if inv else None))
    check(re.search(r"ringback_url=http://", caller.logs()),
          "no Alert-Info URL over TCP")


@test
def max_forwards_zero(t):
    """INVITE with Max-Forwards: 0 gets 483 and is not forwarded."""
    srv = t.server()
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind((HOST, 0))
    try:
        register_ok(srv, "bob", "sip:bob@%s:%d" % (HOST,
                                                  sink.getsockname()[1]))
        cl = SipClient(srv, "udp")
        try:
            r = invite(cl, "bob", max_forwards=0)
            check(r.status == 483, "INVITE with Max-Forwards: 0: %s, "
                  "expected 483" % r.first)
            # The server has answered a later request too: had it forwarded
            # the INVITE, the copy would be in the sink's queue by now.
            r = cl.transact("OPTIONS", "sip:%s:%d" % (HOST, srv.sip))
            check(r.status == 200, "OPTIONS after the 483: %s" % r.first)
        finally:
            cl.close()
        sink.setblocking(False)
        try:
            data, _ = sink.recvfrom(70000)
            raise Fail("the INVITE was forwarded to the callee anyway: %r"
                       % data.split(b"\r\n", 1)[0])
        except BlockingIOError:
            pass
    finally:
        sink.close()


@test
def escaped_user_routed(t):
    """RFC 3261 19.1.4 / RFC 4475 3.1.1.3: an escaped character of a
    Request-URI or To user is that character: sip:%63arol is carol (480,
    no contact), sip:%62ob registers bob; an escaped NUL names nobody."""
    srv = t.server()
    cl = SipClient(srv, "udp")
    try:
        for user, code in (("%63arol", 480), ("c%61rol", 480),
                           ("carol%00", 404), ("%6", 404)):
            r = invite(cl, user)
            check(r.status == code, "INVITE sip:%s: %s, expected %d"
                  % (user, r.first, code))
        r = cl.transact("REGISTER", "sip:%s:%d" % (HOST, srv.sip),
                        from_user="%62ob", to_user="%62ob",
                        headers=["Contact: <sip:bob@%s:%d>" % (HOST, 5999),
                                 "Expires: 60"])
        check(r.status == 200, "REGISTER sip:%%62ob: %s" % r.first)
        subs = srv.api_json("/api/v1/subscribers/bob")
        binds = [b.get("uri") for b in subs.get("bindings", [])]
        check(any("5999" in (u or "") for u in binds),
              "bob's bindings after REGISTER as %%62ob: %r" % binds)
    finally:
        cl.close()
