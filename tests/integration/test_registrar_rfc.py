"""The registrar against RFC 3261: Expires values above 2^32-1 are capped,
and Contact URIs are matched by the comparison rules of section 19.1.4."""

from cmrtest import HOST, check, test
from cmrtest_sip import contacts_of, new_id, register

MAX = 3600                  # REG_EXPIRES_MAX of sip/sip_int.h


def bindings(srv, user):
    """{uri: expires_in_s} of user's bindings, from the HTTP API."""
    b = srv.api_json("/api/v1/subscribers/%s" % user).get("bindings")
    check(isinstance(b, list), "API: no bindings list for %s" % user)
    return {x.get("uri"): x.get("expires_in_s") for x in b}


@test
def registrar_expires_above_32_bits(t):
    """Expires above 2^32-1 (header or contact parameter, 11 or 20
    digits) is capped to the registrar's maximum: never a wrap to a
    short interval (423) or to 0 (a removal), never a 400 (RFC 3261
    sections 25 and 10.3)."""
    srv = t.server()
    c1 = "sip:bob@%s:41011" % HOST
    cid = new_id("big")
    r = register(srv, "bob", ["<%s>" % c1], 300, call_id=cid, cseq=1)
    check(r.status == 200, "bind: %s, expected 200" % r.first)

    # Each case refreshes the binding; every case is tried and all that
    # fail are reported together.
    cases = (
        ("Expires: 4294967301 (2^32+5)", "<%s>" % c1, "4294967301"),
        ("Expires: 4294967296 (2^32)", "<%s>" % c1, "4294967296"),
        ("contact expires=99999999999", "<%s>;expires=99999999999" % c1,
         "60"),
        ("Expires: 18446744073709551621 (2^64+5)", "<%s>" % c1,
         "18446744073709551621"),
    )
    bad = []
    for n, (what, contact, expires) in enumerate(cases, 2):
        r = register(srv, "bob", [contact], expires, call_id=cid, cseq=n)
        got = contacts_of(r)
        api = bindings(srv, "bob")
        if r.status != 200:
            bad.append("%s: %s, expected 200" % (what, r.first))
        elif [u for u, _ in got] != [c1] or list(api) != [c1]:
            bad.append("%s: the 200 lists %s, the API %r, expected only "
                       "%s" % (what, got, sorted(api), c1))
        elif not (MAX - 10 <= (got[0][1] or 0) <= MAX and
                  MAX - 10 <= (api[c1] or 0) <= MAX):
            bad.append("%s: expires %r in the 200, %r in the API, "
                       "expected %d" % (what, got[0][1], api[c1], MAX))
    check(not bad, "; ".join(bad))

    r = register(srv, "bob", ["<%s>" % c1], "4294967296x", call_id=cid,
                 cseq=len(cases) + 2)
    check(r.status == 400, "Expires: 4294967296x: %s, expected 400"
          % r.first)
    check(list(bindings(srv, "bob")) == [c1],
          "after the 400 the binding is gone: %r" % bindings(srv, "bob"))


@test
def registrar_contact_equivalence(t):
    """A contact written another way but equivalent by RFC 3261 19.1.4
    (scheme and host case, an escaped character, parameter order and
    case) refreshes and removes the same binding; one that differs in
    the user's case or lacks the transport parameter is another."""
    srv = t.server()
    c1 = "sip:Bob@%s:41021;transport=udp;lr" % HOST
    same = "SIP:%%42ob@%s:41021;LR;Transport=UDP" % HOST
    other_user = "sip:bob@%s:41021;transport=udp" % HOST
    no_transport = "sip:Bob@%s:41021" % HOST
    cid = new_id("eq")

    r = register(srv, "bob", ["<%s>" % c1], 300, call_id=cid, cseq=1)
    check(r.status == 200, "bind: %s, expected 200" % r.first)

    r = register(srv, "bob", ["<%s>" % same], 600, call_id=cid, cseq=2)
    check(r.status == 200, "refresh as %s: %s, expected 200"
          % (same, r.first))
    got = contacts_of(r)
    check(len(got) == 1, "refresh as %s: the 200 lists %s, expected one "
          "binding" % (same, got))
    check(got[0][1] is not None and 590 <= got[0][1] <= 600,
          "refresh: expires=%r, expected 590..600" % got[0][1])
    api = bindings(srv, "bob")
    check(len(api) == 1, "refresh: API bindings %r, expected one"
          % sorted(api))

    r = register(srv, "bob", ["<%s>" % other_user, "<%s>" % no_transport],
                 300, call_id=cid, cseq=3)
    check(r.status == 200, "other contacts: %s, expected 200" % r.first)
    api = bindings(srv, "bob")
    check(len(api) == 3 and other_user in api and no_transport in api,
          "user case and a missing transport are other bindings: API has "
          "%r" % sorted(api))

    gone = "sip:%%42ob@%s:41021;TRANSPORT=udp" % HOST
    r = register(srv, "bob", ["<%s>;expires=0" % gone], call_id=cid,
                 cseq=4)
    check(r.status == 200, "remove as %s: %s, expected 200"
          % (gone, r.first))
    left = sorted(u for u, _ in contacts_of(r))
    check(left == sorted([other_user, no_transport]),
          "remove as %s: the 200 lists %s, expected %s" %
          (gone, left, sorted([other_user, no_transport])))
    api = bindings(srv, "bob")
    check(sorted(api) == sorted([other_user, no_transport]),
          "remove: API bindings %r" % sorted(api))
