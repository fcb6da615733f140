"""The registrar: REGISTER bindings, refresh, removal, wildcard, 423 and
404, and the bindings in the HTTP API."""

from cmrtest import HOST, check, test
from cmrtest_sip import contacts_of, new_id, register


@test
def register_bindings(t):
    """REGISTER: bind, refresh, query, two contacts, removal, wildcard,
    423 with Min-Expires, unknown subscriber 404, bindings in the API."""
    srv = t.server()
    c1 = "sip:bob@%s:%d" % (HOST, 41001)
    c2 = "sip:bob@%s:%d;transport=tcp" % (HOST, 41002)
    cid = new_id("reg")

    def uris(rsp):
        return {u: e for u, e in contacts_of(rsp)}

    r = register(srv, "bob", ["<%s>" % c1], 300, call_id=cid, cseq=1)
    check(r.status == 200, "bind: %s, expected 200" % r.first)
    got = uris(r)
    check(c1 in got, "bind: the 200 lists %s, not %s" % (got, c1))
    check(got[c1] is not None and 290 <= got[c1] <= 300,
          "bind: expires=%r, expected 290..300" % got[c1])

    r = register(srv, "bob", ["<%s>" % c1], 600, call_id=cid, cseq=2)
    check(r.status == 200, "refresh: %s, expected 200" % r.first)
    got = contacts_of(r)
    check([u for u, _ in got] == [c1],
          "refresh: the 200 lists %s, expected only %s" % (got, c1))
    check(got[0][1] is not None and 590 <= got[0][1] <= 600,
          "refresh: expires=%r, expected 590..600" % got[0][1])

    r = register(srv, "bob", call_id=new_id("q"))
    check(r.status == 200, "query: %s, expected 200" % r.first)
    check(set(uris(r)) == {c1}, "query: lists %s, expected %s"
          % (contacts_of(r), c1))

    r = register(srv, "bob", ["<%s>;expires=120" % c2], call_id=new_id("r2"))
    check(r.status == 200, "second contact: %s, expected 200" % r.first)
    got = uris(r)
    check(set(got) == {c1, c2},
          "second contact: the 200 lists %s, expected %s and %s"
          % (sorted(got), c1, c2))
    check(got[c2] is not None and 110 <= got[c2] <= 120,
          "second contact: expires=%r for %s, expected 110..120"
          % (got[c2], c2))

    r = register(srv, "bob", transport="tcp", call_id=new_id("qt"))
    check(r.status == 200 and set(uris(r)) == {c1, c2},
          "query over TCP: %s listing %s" % (r.first, contacts_of(r)))

    sub = srv.api_json("/api/v1/subscribers/bob")
    check(sub.get("id") == "bob", "API: id %r" % sub.get("id"))
    b = sub.get("bindings")
    check(isinstance(b, list), "API: bindings missing: %r" % sub)
    api_uris = sorted(x.get("uri") for x in b if isinstance(x, dict))
    check(api_uris == sorted([c1, c2]),
          "API: bindings %r, expected %s" % (api_uris, sorted([c1, c2])))

    r = register(srv, "bob", ["<%s>" % c1], 0, call_id=cid, cseq=3)
    check(r.status == 200, "remove one: %s, expected 200" % r.first)
    check(set(uris(r)) == {c2}, "remove one: the 200 lists %s, expected "
          "only %s" % (contacts_of(r), c2))
    api_uris = [x.get("uri") for x in
                srv.api_json("/api/v1/subscribers/bob").get("bindings", [])]
    check(api_uris == [c2], "API after removal: bindings %r, expected [%s]"
          % (api_uris, c2))

    r = register(srv, "bob", ["*"], 0, call_id=new_id("star"))
    check(r.status == 200, "Contact: *: %s, expected 200" % r.first)
    check(contacts_of(r) == [], "Contact: *: the 200 still lists %s"
          % contacts_of(r))
    r = register(srv, "bob", call_id=new_id("q2"))
    check(r.status == 200 and contacts_of(r) == [],
          "query after Contact: *: %s listing %s"
          % (r.first, contacts_of(r)))
    b = srv.api_json("/api/v1/subscribers/bob").get("bindings")
    check(b == [], "API after Contact: *: bindings %r, expected []" % b)

    r = register(srv, "bob", ["<%s>" % c1], 59, call_id=new_id("brief"))
    check(r.status == 423, "Expires: 59: %s, expected 423" % r.first)
    me = r.get("min-expires")
    check(me is not None and me.strip() == "60",
          "423 carries Min-Expires %r, expected 60" % me)
    r = register(srv, "bob", ["<%s>;expires=30" % c1],
                 call_id=new_id("brief2"))
    check(r.status == 423, "contact expires=30: %s, expected 423" % r.first)
    r = register(srv, "bob", ["<%s>" % c1], 60, call_id=new_id("ok60"))
    check(r.status == 200, "Expires: 60: %s, expected 200" % r.first)

    for user, code in (("eve", 404), ("1100", 404), ("1050", 200)):
        r = register(srv, user, ["<sip:%s@%s:41003>" % (user, HOST)], 300)
        check(r.status == code, "REGISTER %s: %s, expected %d"
              % (user, r.first, code))
    st, _, _ = srv.http_get("/api/v1/subscribers/eve")
    check(st == 404, "GET /api/v1/subscribers/eve: %d, expected 404" % st)
