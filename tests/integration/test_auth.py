"""Digest authentication of subscribers with a password (401 for REGISTER,
407 for INVITE)."""

import hashlib
import os
import re

from cmrtest import HOST, check, test
from cmrtest_sip import SipClient, invite, new_id, register


def digest(user, password, method, uri, nonce, cnonce="0a4f113b"):
    h = lambda x: hashlib.md5(x.encode()).hexdigest()
    ha1 = h("%s:cmrlab:%s" % (user, password))
    ha2 = h("%s:%s" % (method, uri))
    resp = h("%s:%s:00000001:%s:auth:%s" % (ha1, nonce, cnonce, ha2))
    return ('Digest username="%s", realm="cmrlab", nonce="%s", uri="%s", '
            'response="%s", algorithm=MD5, qop=auth, nc=00000001, '
            'cnonce="%s"' % (user, nonce, uri, resp, cnonce))


@test
def digest_auth(t):
    """A subscriber with a password: REGISTER gets 401 and INVITE 407
    until the digest is right; others are not challenged."""
    prof = os.path.join(t.tmp, "auth.profile")
    with open(prof, "w") as f:
        f.write("subscriber alice\nsubscriber bob\n"
                "subscriber dave password=\"s3 cret\"\n")
    srv = t.server(profile=prof)
    ruri = "sip:%s:%d" % (HOST, srv.sip)
    contact = ["<sip:dave@%s:41007>" % HOST]

    r = register(srv, "dave", contact, 300, call_id=new_id("a"))
    check(r.status == 401, "REGISTER without credentials: %s" % r.first)
    chal = r.get("www-authenticate") or ""
    m = re.search(r'nonce="([^"]+)"', chal)
    check(m and 'realm="cmrlab"' in chal and "qop" in chal,
          "bad challenge %r" % chal)
    nonce = m.group(1)

    bad = digest("dave", "wrong", "REGISTER", ruri, nonce)
    r = register(srv, "dave", contact, 300, call_id=new_id("b"),
                 extra=["Authorization: " + bad])
    check(r.status == 401, "REGISTER with a wrong password: %s" % r.first)

    good = digest("dave", "s3 cret", "REGISTER", ruri, nonce)
    r = register(srv, "dave", contact, 300, call_id=new_id("c"),
                 extra=["Authorization: " + good])
    check(r.status == 200, "REGISTER with credentials: %s" % r.first)

    cl = SipClient(srv)
    try:
        r = invite(cl, "bob", from_user="dave")
        check(r.status == 407, "INVITE without credentials: %s" % r.first)
        chal = r.get("proxy-authenticate") or ""
        m = re.search(r'nonce="([^"]+)"', chal)
        check(m, "407 without Proxy-Authenticate nonce: %r" % chal)
        inv_uri = "sip:bob@%s:%d" % (HOST, srv.sip)
        cred = digest("dave", "s3 cret", "INVITE", inv_uri, m.group(1))
        r = invite(cl, "bob", from_user="dave", cseq=2,
                   headers=["Proxy-Authorization: " + cred])
        # Authenticated, routed: bob has no contact, so 480.
        check(r.status == 480, "authenticated INVITE: %s, expected 480"
              % r.first)
        r = invite(cl, "bob", from_user="alice")
        check(r.status == 480, "INVITE from alice: %s, expected 480"
              % r.first)
    finally:
        cl.close()
