"""HTTP input at the edges of HTTP/1.1: every request that is complete
gets a final response, whatever bytes follow it."""

import re

from cmrtest import check, info, raw_http, test


def finals(data):
    """The status codes of the final responses in data, in order."""
    return [int(c) for c in re.findall(rb"HTTP/1\.1 ([2-5]\d\d) ", data)]


@test
def expect_continue_stray_bytes(t):
    """RFC 9110 section 10.1.1: "Expect: 100-continue" on a request without
    a body is the client's error, but the request is complete and gets its
    final response, also when more bytes (a stray byte, a pipelined
    request) came with it.  With a body, the 100 comes first, then the
    final response; a plain pipelined pair still gets two answers on one
    connection."""
    srv = t.server()
    host = "Host: %s:%d\r\n" % ("127.0.0.1", srv.http)
    cases = [
        ("GET, Expect, no body, a stray byte",
         "GET /healthz HTTP/1.1\r\n%sExpect: 100-continue\r\n\r\nx", [200]),
        ("GET of a resource, Expect, Range, a stray byte",
         "GET /r/ringback-default HTTP/1.1\r\n%sExpect: 100-continue\r\n"
         "Range: bytes=0-9\r\n\r\nx", [206]),
        ("HEAD, Expect, no body, a pipelined GET",
         "HEAD /healthz HTTP/1.1\r\n%sExpect: 100-continue\r\n\r\n"
         "GET /healthz HTTP/1.1\r\n\r\n", [200]),
        ("GET, Expect, Content-Length: 0, a stray byte",
         "GET /healthz HTTP/1.1\r\n%sExpect: 100-continue\r\n"
         "Content-Length: 0\r\n\r\nx", [200]),
        ("GET, Expect, a one-byte body and a stray byte",
         "GET /healthz HTTP/1.1\r\n%sExpect: 100-continue\r\n"
         "Content-Length: 1\r\n\r\nxy", [200]),
        ("two pipelined GETs, the second closing",
         "GET /healthz HTTP/1.1\r\n%s\r\n"
         "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
         [200, 200]),
    ]
    for what, req, want in cases:
        raw = raw_http(srv.http, (req % host).encode(), timeout=2.0)
        got = finals(raw)
        info("%s: %s" % (what, got))
        check(got[:len(want)] == want, "%s: final responses %s, expected "
              "%s; got %r" % (what, got, want, raw[:120]))
    # The server is fine afterwards.
    raw = raw_http(srv.http, ("GET /healthz HTTP/1.1\r\n%sConnection: "
                              "close\r\n\r\n" % host).encode())
    check(finals(raw) == [200], "healthz afterwards: %r" % raw[:80])
