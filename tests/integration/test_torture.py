"""RFC 4475 torture messages (tests/rfc4475/*.sip) sent to the running
server: each gets the answer the RFC names, and the server goes on."""

import os
import re
import socket
import time

from cmrtest import HOST, Fail, check, info, test
from cmrtest_sip import contacts_of, new_id, SipMsg

MSGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                    "rfc4475")

# (name, RFC 4475 section, transport, the answer, why that answer).
# None: no answer at all (a response that matches nothing of ours).
CASES = [
    # 3.1.1 Valid messages: processed as any other request.
    ("wsinv", "3.1.1.1", "udp", 481,
     "well formed; its To tag makes it a request inside a dialog we do "
     "not have (RFC 3261 12.2.2)"),
    ("intmeth", "3.1.1.2", "udp", 501,
     "\"Endpoints will generate a 501 listing the methods they "
     "understand in an Allow header field\""),
    ("esc01", "3.1.1.3", "udp", 404,
     "routed: the user sips%3Abob%40example.com is nobody here"),
    ("escnull", "3.1.1.4", "udp", 404,
     "the REGISTER is processed; null-%00-null is no subscriber"),
    ("esc02", "3.1.1.5", "udp", 501,
     "\"An endpoint would reject this message with a 501\""),
    ("lwsdisp", "3.1.1.6", "udp", 200, "\"should accept this request\""),
    ("longreq", "3.1.1.7", "udp", 480,
     "routed to subscriber 1050, who has no contact; libre alone drops "
     "it (no branch in the top Via), rawin adds one"),
    ("dblreq", "3.1.1.8", "udp", 200,
     "the REGISTER is handled, the INVITE after Content-Length ignored"),
    ("semiuri", "3.1.1.9", "udp", 200, "\"will accept this\""),
    ("transports", "3.1.1.10", "udp", 200,
     "process it as if every Via were UDP"),
    ("mpart01", "3.1.1.11", "udp", 405,
     "\"Parsers must accept this message\"; MESSAGE is not ours: 405"),
    ("unreason", "3.1.1.12", "udp", None,
     "a response: accepted and dropped, it matches no transaction"),
    ("noreason", "3.1.1.13", "udp", None,
     "a response: accepted and dropped, it matches no transaction"),
    # 3.1.2 Invalid messages
    ("badinv01", "3.1.2.1", "udp", 400,
     "\"should respond with a 400 Bad Request\""),
    ("clerr", "3.1.2.2", "udp", 400,
     "\"When sent over UDP ... should respond with a 400\""),
    ("ncl", "3.1.2.3", "udp", 400, "\"should respond with an error\""),
    ("scalar02", "3.1.2.4", "udp", 400,
     "\"should respond with a 400 Bad Request due to the CSeq error\""),
    ("scalarlg", "3.1.2.5", "udp", None,
     "\"An element receiving this response will simply discard it\""),
    ("quotbal", "3.1.2.6", "udp", 400,
     "\"should return a 400 Bad Request error\""),
    ("ltgtruri", "3.1.2.7", "udp", 400,
     "\"reasonable always to reject ... with a 400\""),
    ("lwsruri", "3.1.2.8", "udp", 400,
     "\"should respond with a 400 Bad Request\""),
    ("lwsstart", "3.1.2.9", "udp", 400,
     "\"acceptable to reject this request as malformed\""),
    ("trws", "3.1.2.10", "udp", 400,
     "\"acceptable to reject this request as malformed\""),
    ("escruri", "3.1.2.11", "udp", 400,
     "\"acceptable ... to reject this request with a 400\""),
    ("baddate", "3.1.2.12", "udp", 404,
     "the Date is not important to us (\"could ignore this value\"); "
     "routed, the user is nobody here"),
    ("regbadct", "3.1.2.13", "udp", 400,
     "\"reasonable ... to respond with a 400\""),
    ("badaspec", "3.1.2.14", "udp", 400,
     "\"reasonable to reject this request with a 400\""),
    ("baddn", "3.1.2.15", "udp", 400,
     "\"reasonable always to reject this kind of error with a 400\""),
    ("badvers", "3.1.2.16", "udp", 505,
     "\"should respond ... with a 505 Version Not Supported\""),
    ("mismatch01", "3.1.2.17", "udp", 400,
     "\"will respond with a 400 Bad Request\""),
    ("mismatch02", "3.1.2.18", "udp", 501,
     "\"should respond with a 501 Not Implemented\" (400 acceptable, "
     "501 more future-proof)"),
    ("bigcode", "3.1.2.19", "udp", None,
     "\"should simply drop it\""),
    # 3.2 Transaction layer
    ("badbranch", "3.2.1", "udp", 400,
     "\"could reject the request with a 400\" (statelessly)"),
    # 3.3 Application-layer semantics
    ("insuf", "3.3.1", "udp", 400,
     "\"Ideally, it will respond with a 400 Bad Request\""),
    ("unkscm", "3.3.2", "udp", 416,
     "\"will reject it with a 416 Unsupported URI Scheme\""),
    ("novelsc", "3.3.3", "udp", 416,
     "we never accept soap.beep: \"return a 416\""),
    ("unksm2", "3.3.4", "udp", 400,
     "\"A registrar would reject this request with a 400\""),
    ("bext01", "3.3.5", "udp", 420,
     "\"should respond with a 420 Bad Extension\" listing the Require "
     "tags"),
    ("invut", "3.3.6", "udp", 415,
     "\"would reject it with a 415 Unsupported Media Type\""),
    ("regaut01", "3.3.7", "udp", 200,
     "alice has no password: the unknown Authorization is ignored"),
    ("multi01", "3.3.8", "udp", 400,
     "\"would respond with a 400 Bad Request\""),
    ("mcl01", "3.3.9", "udp", 400, "\"should respond with an error\""),
    ("bcast", "3.3.10", "udp", None,
     "a response: dropped, never sent on to 255.255.255.255"),
    ("zeromf", "3.3.11", "udp", 200,
     "an endpoint processes it as if Max-Forwards were positive"),
    ("cparam01", "3.3.12", "udp", 200,
     "\"This REGISTER should succeed\"; unknownparam is a contact-param"),
    ("cparam02", "3.3.13", "udp", 200,
     "\"The register should succeed\"; unknownparam stays in the URI"),
    ("regescrt", "3.3.14", "udp", 200,
     "\"The register should succeed\"; the escaped header stays"),
    ("sdp01", "3.3.15", "udp", 406,
     "\"could respond with a 406 Not Acceptable, with a Warning/399\""),
    # 3.4 Backward compatibility
    ("inv2543", "3.4", "udp", 480,
     "\"should be accepted\": routed to carol, who has no contact; "
     "libre alone drops it (no branch), rawin adds one"),
]


def load(name):
    with open(os.path.join(MSGS, name + ".sip"), "rb") as f:
        return f.read()


def aim(data, port):
    """The message with its top Via's sent-by port set to port.

    The one change made to a torture message: RFC 3261 18.2.2 sends a
    response over UDP to the source address and the sent-by port (5060
    when there is none), so that port must be ours.  Hosts, folding and
    everything else stay as written.
    """
    m = re.search(rb"(?im)^(?:via|v)[ \t]*:", data)
    i, n = m.end(), 0
    while n < 2:                         # SIP / 2.0 / transport
        n += data[i:i + 1] == b"/"
        i += 1
    while data[i:i + 1] in b" \t\r\n":
        i += 1
    while data[i:i + 1] not in b" \t\r\n":
        i += 1
    while data[i:i + 1] in b" \t\r\n":
        i += 1
    j = i                                # the sent-by host
    while data[j:j + 1] not in b" \t\r\n;,:":
        j += 1
    k = j
    if data[k:k + 1] == b":":
        k += 1
        while data[k:k + 1].isdigit():
            k += 1
    return data[:j] + b":%d" % port + data[k:]


def recv(sock, timeout):
    """The next datagram as a SipMsg, or None after timeout seconds."""
    sock.settimeout(max(timeout, 0.001))
    try:
        data, _ = sock.recvfrom(70000)
    except socket.timeout:
        return None
    return SipMsg(data)


def options(sock, srv):
    """An OPTIONS from sock; returns (its 200, everything that came before
    it).  UDP from one socket is handled in order: once the OPTIONS is
    answered, the server is past the message sent before it."""
    port = sock.getsockname()[1]
    call_id = new_id("opt")
    sock.sendto(("OPTIONS sip:%s:%d SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport\r\n"
                 "From: <sip:alice@%s>;tag=%s\r\n"
                 "To: <sip:%s>\r\n"
                 "Call-ID: %s\r\n"
                 "CSeq: 1 OPTIONS\r\n"
                 "Max-Forwards: 70\r\n"
                 "Content-Length: 0\r\n\r\n"
                 % (HOST, srv.sip, HOST, port, new_id("b"), HOST,
                    new_id("t"), HOST, call_id)).encode(),
                (HOST, srv.sip))
    before = []
    deadline = time.monotonic() + 3.0
    while True:
        m = recv(sock, deadline - time.monotonic())
        if m is None:
            raise Fail("no answer to OPTIONS within 3 s (before it: %s)"
                       % before)
        if m.get("call-id") == call_id:
            check(m.status == 200, "OPTIONS: %s" % m.first)
            return m, before
        before.append(m)


def exchange(srv, name, expect):
    """Sends one torture message over UDP; returns its final response
    (None when expect is None: then nothing may come back)."""
    data = load(name)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, 0))
    try:
        if not data.startswith(b"SIP/"):
            data = aim(data, s.getsockname()[1])
        s.sendto(data, (HOST, srv.sip))
        final = None
        if expect is not None:
            deadline = time.monotonic() + 3.0
            while final is None:
                m = recv(s, deadline - time.monotonic())
                check(m is not None, "%s: no answer within 3 s, expected "
                      "%d" % (name, expect))
                if m.status is not None and m.status >= 200:
                    final = m
        _, before = options(s, srv)
        # A final response may be retransmitted (no ACK is sent here);
        # anything else before the OPTIONS' 200 is wrong.
        extra = [m.first for m in before
                 if final is None or m.status != final.status]
        check(not extra, "%s: also answered %s" % (name, extra))
        return final, s
    except BaseException:
        s.close()
        raise


def check_answer(name, section, rsp, expect):
    got = rsp.status if rsp is not None else None
    info("%-10s %-8s %s" % (name, section, rsp.first if rsp is not None
                            else "no answer"))
    check(got == expect, "RFC 4475 %s %s: %s, expected %s"
          % (section, name, rsp.first if rsp is not None else "no answer",
             expect if expect is not None else "no answer"))


# ---- what some cases check beyond the status ------------------------------

def binding_uri(rsp, part):
    uris = [u for u, _ in contacts_of(rsp) if part in u]
    check(uris, "no binding with %r in %s" % (part, rsp.all("contact")))
    return uris[0]


def extra_dblreq(srv, rsp, sock):
    binding_uri(rsp, "sip:dave@host.example.com")
    # The INVITE octets after Content-Length are no request.
    for e in srv.events():
        check("dblreq.inner" not in str(e), "the INVITE after the "
              "REGISTER was processed: %s" % e)


def extra_cparam01(srv, rsp, sock):
    uri = binding_uri(rsp, "+19725552222@gw1.example.net")
    check("unknownparam" not in uri, "cparam01: unknownparam is a "
          "contact-param, not part of the bound URI: %r" % uri)


def extra_cparam02(srv, rsp, sock):
    uri = binding_uri(rsp, "+19725553333@gw1.example.net")
    check(uri.endswith(";unknownparam"), "cparam02: the bound URI lost "
          "its unknownparam: %r" % uri)


def extra_regescrt(srv, rsp, sock):
    uri = binding_uri(rsp, "sip:1003@example.com")
    check("?Route=%3Csip:sip.example.com%3E" in uri, "regescrt: the "
          "escaped Route header is not in the binding: %r" % uri)


def extra_allow(srv, rsp, sock):
    allow = rsp.get("allow") or ""
    check("INVITE" in allow and "REGISTER" in allow,
          "%s without an Allow listing our methods: %r" % (rsp.first, allow))


def extra_bext01(srv, rsp, sock):
    uns = ", ".join(rsp.all("unsupported"))
    check("nothingSupportsThis" in uns and "nothingSupportsThisEither"
          in uns and "noProxies" not in uns, "420 Unsupported: %r" % uns)


def extra_sdp01(srv, rsp, sock):
    check((rsp.get("warning") or "").startswith("399 "),
          "406 without Warning 399: %r" % rsp.get("warning"))


def extra_badvers(srv, rsp, sock):
    via = rsp.get("via") or ""
    check(via.startswith("SIP/7.0/UDP c.example.com:") and
          via.endswith(";branch=z9hG4bKbadvers"),
          "505 without the request's Via as written: %r" % via)
    check(rsp.get("call-id") == "badvers.31417@c.example.com",
          "505 Call-ID: %r" % rsp.get("call-id"))
    check(";tag=" in (rsp.get("to") or ""), "505 To without a tag: %r"
          % rsp.get("to"))


def extra_inv2543(srv, rsp, sock):
    # The RFC 2543 ACK has no branch either; rawin gives it the INVITE's,
    # so it ends the transaction and the 480 is not sent again.
    port = sock.getsockname()[1]
    ack = ("ACK sip:carol@example.com SIP/2.0\r\n"
           "Via: SIP/2.0/UDP iftgw.example.com:%d\r\n"
           "From: <sip:+13035551111@ift.client.example.net;user=phone>\r\n"
           "To: %s\r\n"
           "Call-ID: inv2543.1717@ift.client.example.com\r\n"
           "CSeq: 56 ACK\r\n"
           "Content-Length: 0\r\n\r\n" % (port, rsp.get("to")))
    sock.sendto(ack.encode(), (HOST, srv.sip))
    # Timer G would resend the 480 after 0.5 s without a matching ACK.
    again = recv(sock, 1.2)
    check(again is None, "after the RFC 2543 ACK the server still sent "
          "%r" % again)


EXTRA = {
    "dblreq": extra_dblreq, "cparam01": extra_cparam01,
    "cparam02": extra_cparam02, "regescrt": extra_regescrt,
    "intmeth": extra_allow, "esc02": extra_allow, "mismatch02": extra_allow,
    "mpart01": extra_allow, "bext01": extra_bext01, "sdp01": extra_sdp01,
    "badvers": extra_badvers, "inv2543": extra_inv2543,
}


def make_test(name, section, expect, why):
    def fn(t):
        srv = t.server()
        rsp, sock = exchange(srv, name, expect)
        try:
            check_answer(name, section, rsp, expect)
            if name in EXTRA:
                EXTRA[name](srv, rsp, sock)
        finally:
            sock.close()
        check(srv.alive(), "server died after %s" % name)
    fn.__name__ = "torture_" + name
    fn.__doc__ = "RFC 4475 %s %s: %s (%s)." % (
        section, name, "no answer" if expect is None else expect, why)
    return fn


for _name, _section, _tp, _expect, _why in CASES:
    test(make_test(_name, _section, _expect, _why))


@test
def torture_longreq_tcp(t):
    """RFC 4475 3.1.1.7 over TCP, as its Vias say: libre closes the
    connection unanswered (no branch in the top Via, and no hook before
    its TCP decoder); the server goes on over UDP and TCP."""
    srv = t.server()
    s = socket.create_connection((HOST, srv.sip), timeout=3)
    try:
        s.sendall(load("longreq"))
        data = b""
        deadline = time.monotonic() + 3.0
        while True:
            s.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                chunk = s.recv(70000)
            except socket.timeout:
                raise Fail("the connection stayed open for 3 s")
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        info("longreq over TCP: %s" % (data.split(b"\r\n", 1)[0]
                                       if data else "closed, no answer"))
        # This documents libre 1.1.0: were it ever processed, 480 would
        # be the answer (torture_longreq over UDP).
        check(not data or data.startswith(b"SIP/2.0 480 "),
              "longreq over TCP answered %r" % data[:60])
    finally:
        s.close()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((HOST, 0))
    try:
        options(u, srv)
    finally:
        u.close()
    s = socket.create_connection((HOST, srv.sip), timeout=3)
    try:
        call_id = new_id("opt")
        s.sendall(("OPTIONS sip:%s:%d SIP/2.0\r\n"
                   "Via: SIP/2.0/TCP %s:%d;branch=z9hG4bK%s\r\n"
                   "From: <sip:alice@%s>;tag=%s\r\n"
                   "To: <sip:%s>\r\n"
                   "Call-ID: %s\r\n"
                   "CSeq: 1 OPTIONS\r\n"
                   "Max-Forwards: 70\r\n"
                   "Content-Length: 0\r\n\r\n"
                   % (HOST, srv.sip, HOST, s.getsockname()[1],
                      new_id("b"), HOST, new_id("t"), HOST,
                      call_id)).encode())
        s.settimeout(3)
        rsp = s.recv(70000)
        check(rsp.startswith(b"SIP/2.0 200 "), "OPTIONS over TCP after "
              "longreq: %r" % rsp[:60])
    finally:
        s.close()
