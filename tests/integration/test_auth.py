"""Digest authentication of subscribers with a password (401 for REGISTER,
407 for INVITE): SHA-256 and MD5 challenges, nonce counts, the digest uri,
forged nonces."""

import hashlib
import os
import re

from cmrtest import HOST, check, test
from cmrtest_sip import Sipp, SipClient, invite, new_id, register

PASSWORD = "s3 cret"
HASHES = {"SHA-256": hashlib.sha256, "MD5": hashlib.md5}


def digest(user, password, method, uri, nonce, alg="MD5", nc=1,
           cnonce="0a4f113b", sent_uri=None):
    """Credentials as RFC 7616 3.4 makes them with qop=auth; sent_uri puts
    another uri directive on the wire than the one hashed."""
    h = lambda x: HASHES[alg](x.encode()).hexdigest()
    ha1 = h("%s:cmrlab:%s" % (user, password))
    ha2 = h("%s:%s" % (method, uri))
    resp = h("%s:%s:%08x:%s:auth:%s" % (ha1, nonce, nc, cnonce, ha2))
    return ('Digest username="%s", realm="cmrlab", nonce="%s", uri="%s", '
            'response="%s", algorithm=%s, qop=auth, nc=%08x, '
            'cnonce="%s"' % (user, nonce, sent_uri or uri, resp, alg, nc,
                             cnonce))


def auth_server(t, extra=()):
    prof = os.path.join(t.tmp, "auth.profile")
    with open(prof, "w") as f:
        f.write("subscriber alice\nsubscriber bob\n"
                "subscriber dave password=\"%s\"\n" % PASSWORD)
    return t.server(profile=prof, extra=list(extra))


def challenges(r, hname):
    """The challenge headers of r in order: [(algorithm, nonce)]; each must
    carry realm and qop."""
    out = []
    for v in r.all(hname):
        a = re.search(r'algorithm=([^,\s]+)', v)
        n = re.search(r'nonce="([^"]+)"', v)
        check(a and n and 'realm="cmrlab"' in v and 'qop="auth"' in v,
              "bad %s %r" % (hname, v))
        out.append((a.group(1), n.group(1)))
    return out


def reg_nonce(srv, contact):
    r = register(srv, "dave", contact, 300, call_id=new_id("n"))
    check(r.status == 401, "REGISTER without credentials: %s" % r.first)
    ch = challenges(r, "www-authenticate")
    check([a for a, _ in ch] == ["SHA-256", "MD5"],
          "challenges %r, expected SHA-256 then MD5" % ch)
    check(ch[0][1] == ch[1][1], "two nonces in one challenge: %r" % ch)
    return ch[0][1]


def reg(srv, contact, cred):
    return register(srv, "dave", contact, 300, call_id=new_id("r"),
                    extra=["Authorization: " + cred])


def inv_nonce(cl):
    r = invite(cl, "bob", from_user="dave")
    check(r.status == 407, "INVITE without credentials: %s" % r.first)
    ch = challenges(r, "proxy-authenticate")
    check([a for a, _ in ch] == ["SHA-256", "MD5"],
          "407 challenges %r, expected SHA-256 then MD5" % ch)
    return ch[0][1]


def inv(cl, cred):
    return invite(cl, "bob", from_user="dave", cseq=2,
                  headers=["Proxy-Authorization: " + cred])


@test
def digest_auth(t):
    """A subscriber with a password: REGISTER gets 401 and INVITE 407,
    each with a SHA-256 and an MD5 challenge, until the digest is right,
    by either algorithm; others are not challenged."""
    srv = auth_server(t)
    ruri = "sip:%s:%d" % (HOST, srv.sip)
    contact = ["<sip:dave@%s:41007>" % HOST]
    inv_uri = "sip:bob@%s:%d" % (HOST, srv.sip)

    for alg in ("SHA-256", "MD5"):
        nonce = reg_nonce(srv, contact)
        r = reg(srv, contact, digest("dave", "wrong", "REGISTER", ruri,
                                     nonce, alg))
        check(r.status == 401, "%s REGISTER with a wrong password: %s"
              % (alg, r.first))
        r = reg(srv, contact, digest("dave", PASSWORD, "REGISTER", ruri,
                                     nonce, alg))
        check(r.status == 200, "%s REGISTER with credentials: %s"
              % (alg, r.first))

        cl = SipClient(srv)
        try:
            nonce = inv_nonce(cl)
            r = inv(cl, digest("dave", PASSWORD, "INVITE", inv_uri, nonce,
                               alg))
            # Authenticated, routed: bob has no contact, so 480.
            check(r.status == 480, "%s authenticated INVITE: %s, expected "
                  "480" % (alg, r.first))
        finally:
            cl.close()

    cl = SipClient(srv)
    try:
        r = invite(cl, "bob", from_user="alice")
        check(r.status == 480, "INVITE from alice: %s, expected 480"
              % r.first)
    finally:
        cl.close()


@test
def digest_replay(t):
    """A response is good once per nonce count: the same credentials again
    are challenged, a higher nc on the same nonce passes, a lower one
    does not; for REGISTER and INVITE."""
    srv = auth_server(t)
    ruri = "sip:%s:%d" % (HOST, srv.sip)
    contact = ["<sip:dave@%s:41007>" % HOST]
    inv_uri = "sip:bob@%s:%d" % (HOST, srv.sip)

    nonce = reg_nonce(srv, contact)
    cred = digest("dave", PASSWORD, "REGISTER", ruri, nonce, "SHA-256")
    r = reg(srv, contact, cred)
    check(r.status == 200, "REGISTER: %s" % r.first)
    r = reg(srv, contact, cred)
    check(r.status == 401, "the same Authorization again: %s, expected 401"
          % r.first)
    check("stale=true" not in (r.get("www-authenticate") or ""),
          "a replay is not stale: %r" % r.get("www-authenticate"))
    r = reg(srv, contact, digest("dave", PASSWORD, "REGISTER", ruri, nonce,
                                 "MD5", nc=2))
    check(r.status == 200, "nc=2 on the same nonce: %s" % r.first)
    r = reg(srv, contact, digest("dave", PASSWORD, "REGISTER", ruri, nonce,
                                 "SHA-256", nc=3, cnonce="other"))
    check(r.status == 200, "nc=3 on the same nonce: %s" % r.first)
    r = reg(srv, contact, digest("dave", PASSWORD, "REGISTER", ruri, nonce,
                                 "SHA-256", nc=2, cnonce="third"))
    check(r.status == 401, "nc=2 after nc=3: %s, expected 401" % r.first)

    cl = SipClient(srv)
    try:
        nonce = inv_nonce(cl)
        cred = digest("dave", PASSWORD, "INVITE", inv_uri, nonce, "MD5")
        r = inv(cl, cred)
        check(r.status == 480, "INVITE: %s, expected 480" % r.first)
        r = inv(cl, cred)
        check(r.status == 407, "the same Proxy-Authorization again: %s, "
              "expected 407" % r.first)
        r = inv(cl, digest("dave", PASSWORD, "INVITE", inv_uri, nonce,
                           "MD5", nc=2))
        check(r.status == 480, "INVITE with nc=2: %s, expected 480"
              % r.first)
    finally:
        cl.close()


@test
def digest_uri(t):
    """Credentials hashed over another URI than the Request-URI: 400 Bad
    Request (RFC 2617 3.2.2.5), for REGISTER and INVITE; they do not use
    the count up."""
    srv = auth_server(t)
    ruri = "sip:%s:%d" % (HOST, srv.sip)
    other = "sip:%s:%d" % (HOST, srv.sip + 1)
    contact = ["<sip:dave@%s:41007>" % HOST]

    nonce = reg_nonce(srv, contact)
    r = reg(srv, contact, digest("dave", PASSWORD, "REGISTER", other,
                                 nonce, "SHA-256"))
    check(r.status == 400, "REGISTER with uri %s: %s, expected 400"
          % (other, r.first))
    # The hash is over the uri directive: one that names the Request-URI
    # but was hashed over another is a wrong response, challenged.
    r = reg(srv, contact, digest("dave", PASSWORD, "REGISTER", other,
                                 nonce, "SHA-256", sent_uri=ruri))
    check(r.status == 401, "uri not the one hashed: %s, expected 401"
          % r.first)
    r = reg(srv, contact, digest("dave", PASSWORD, "REGISTER", ruri, nonce,
                                 "SHA-256"))
    check(r.status == 200, "then the right uri, nc=1: %s" % r.first)

    cl = SipClient(srv)
    try:
        nonce = inv_nonce(cl)
        r = inv(cl, digest("dave", PASSWORD, "INVITE",
                           "sip:alice@%s:%d" % (HOST, srv.sip), nonce))
        check(r.status == 400, "INVITE to bob with uri alice: %s, "
              "expected 400" % r.first)
    finally:
        cl.close()


@test
def digest_forged(t):
    """A nonce the server did not issue, or another server's: challenged
    again, not stale."""
    srv = auth_server(t)
    ruri = "sip:%s:%d" % (HOST, srv.sip)
    contact = ["<sip:dave@%s:41007>" % HOST]

    nonce = reg_nonce(srv, contact)
    forged = nonce[:30] + ("b" if nonce[30] == "a" else "a") + nonce[31:]
    for n, what in ((forged, "a forged nonce"),
                    ("%08x" % 0 + nonce[8:], "a nonce with another time"),
                    ("abc", "a short nonce")):
        r = reg(srv, contact, digest("dave", PASSWORD, "REGISTER", ruri, n,
                                     "SHA-256"))
        check(r.status == 401, "%s: %s, expected 401" % (what, r.first))
        check("stale=true" not in (r.get("www-authenticate") or ""),
              "%s is not stale: %r" % (what, r.get("www-authenticate")))

    # Another server's nonce (another secret).
    srv2 = auth_server(t)
    n2 = reg_nonce(srv2, contact)
    r = reg(srv, contact, digest("dave", PASSWORD, "REGISTER", ruri, n2,
                                 "SHA-256"))
    check(r.status == 401, "another server's nonce: %s" % r.first)
    # The genuine one is still good.
    r = reg(srv, contact, digest("dave", PASSWORD, "REGISTER", ruri, nonce,
                                 "SHA-256"))
    check(r.status == 200, "the nonce issued: %s" % r.first)


@test
def digest_offer(t):
    """serve --digest: the challenges offer those algorithms in that order,
    and a response by another is refused.  sipp 3.6 answers the first
    challenge and knows only MD5: with MD5 first it registers."""
    srv = auth_server(t, ["--digest", "MD5"])
    ruri = "sip:%s:%d" % (HOST, srv.sip)
    contact = ["<sip:dave@%s:41007>" % HOST]
    r = register(srv, "dave", contact, 300, call_id=new_id("n"))
    ch = challenges(r, "www-authenticate")
    check([a for a, _ in ch] == ["MD5"], "--digest MD5: %r" % ch)
    r = reg(srv, contact, digest("dave", PASSWORD, "REGISTER", ruri,
                                 ch[0][1], "SHA-256"))
    check(r.status == 401, "SHA-256 when only MD5 is offered: %s"
          % r.first)
    r = reg(srv, contact, digest("dave", PASSWORD, "REGISTER", ruri,
                                 ch[0][1], "MD5"))
    check(r.status == 200, "MD5 when offered: %s" % r.first)

    srv = auth_server(t, ["--digest", "MD5,SHA-256"])
    r = register(srv, "dave", [], None, call_id=new_id("n"))
    ch = challenges(r, "www-authenticate")
    check([a for a, _ in ch] == ["MD5", "SHA-256"],
          "--digest MD5,SHA-256: %r" % ch)
    sipp = Sipp(t.tmp, "uac_register_auth.xml", "sipp", service="dave",
                remote="%s:%d" % (HOST, srv.sip),
                args=["-au", "dave", "-ap", PASSWORD])
    verdict = sipp.verdict(sipp.wait())
    check(verdict is None, "sipp with [authentication]: %s" % verdict)
