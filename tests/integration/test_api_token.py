"""--api-token-file: off loopback the API needs "Authorization: Bearer
TOKEN" (and the option itself); /healthz, /metrics and signed /r/ID URLs
stay open."""

import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import cmrtest
from cmrtest import (
    Fail, HOST, Server, check, free_port, info, test)

TOKEN = "cmrlab-T0ken_" + "0123456789abcdef"


class BoundServer(Server):
    """A Server whose HTTP listener is on http_bind (SIP stays on
    127.0.0.1), with --api-token-file token_file when that is given."""

    def __init__(self, tmp, http_bind, token_file=None, **kw):
        Server.__init__(self, tmp, **kw)
        self.http_bind = http_bind
        if token_file:
            self.extra += ["--api-token-file", token_file]

def bound_server(t, http_bind, token_file=None):
    srv = BoundServer(t.tmp, http_bind, token_file,
                      name="server%d" % len(t.servers)
                      if t.servers else "server")
    t.servers.append(srv)
    return srv.start()


def token_file(t, content, name="token"):
    path = os.path.join(t.tmp, name)
    with open(path, "wb") as f:
        f.write(content)
    return path


def get(url, authz=None, method="GET"):
    """(status, headers lowercased, body) of one request by urllib."""
    req = urllib.request.Request(url, method=method)
    if authz is not None:
        req.add_header("Authorization", authz)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return (r.status, {k.lower(): v for k, v in r.headers.items()},
                    r.read())
    except urllib.error.HTTPError as e:
        return (e.code, {k.lower(): v for k, v in e.headers.items()},
                e.read())
    except OSError as e:
        raise Fail("%s %s: %s" % (method, url, e))


def check_401(url, authz, error):
    """url with authz answers 401, the challenge and the JSON error."""
    st, h, body = get(url, authz)
    info("%s, Authorization %r: %d %s" % (url, authz, st,
                                           body.decode(errors="replace")
                                           .strip()))
    check(st == 401, "%s with Authorization %r: status %d, expected 401"
          % (url, authz, st))
    check(h.get("www-authenticate") == 'Bearer realm="cmrlab"',
          "%s: WWW-Authenticate %r" % (url, h.get("www-authenticate")))
    try:
        doc = json.loads(body)
    except ValueError:
        raise Fail("%s: the 401's body is not JSON: %r" % (url, body[:100]))
    check(doc == {"error": error, "field": "authorization"},
          "%s: the 401's body is %r" % (url, doc))


def check_200(url, authz=None):
    st, _, body = get(url, authz)
    check(st == 200, "%s with Authorization %r: status %d, expected 200: "
          "%r" % (url, authz, st, body[:100]))
    return body


@test
def api_token_wildcard(t):
    """serve --http 0.0.0.0:PORT --api-token-file F (first line ending
    in CRLF, a second line ignored): over 127.0.0.1 /api/v1/calls is 401
    without the token, with a wrong one or another scheme, and 200 with
    it (the scheme in any case); /healthz and /metrics need nothing, an
    unsigned /r/ID the token."""
    f = token_file(t, (TOKEN + "\r\nsecond line, ignored\n").encode())
    srv = bound_server(t, "0.0.0.0", f)
    base = "http://%s:%d" % (HOST, srv.http)

    check_401(base + "/api/v1/calls", None,
              "the API needs Authorization: Bearer TOKEN")
    check_401(base + "/api/v1/subscribers", None,
              "the API needs Authorization: Bearer TOKEN")
    check_401(base + "/api/v1/calls", "Bearer " + TOKEN[:-1],
              "wrong token")
    check_401(base + "/api/v1/calls", "Bearer " + TOKEN + "x",
              "wrong token")
    check_401(base + "/api/v1/calls", "Basic " + TOKEN,
              "Authorization is not a Bearer token")

    calls = json.loads(check_200(base + "/api/v1/calls", "Bearer " + TOKEN))
    check(isinstance(calls, list), "/api/v1/calls: %r" % calls)
    check_200(base + "/api/v1/calls", "bearer " + TOKEN)
    check_200(base + "/api/v1/resources", "BEARER  " + TOKEN)

    check(check_200(base + "/healthz") == b"ok\n", "/healthz body")
    check(b"cmrlab_http_requests_total" in check_200(base + "/metrics"),
          "/metrics body")
    # Off loopback an unsigned /r/ID needs the token too; the signed URLs
    # of calls do not (test_signed_url.py).
    st, _, _ = get(base + "/r/ringback-default")
    check(st == 403, "unsigned /r/ringback-default without the token: "
          "%d, expected 403" % st)
    check(check_200(base + "/r/ringback-default",
                    "Bearer " + TOKEN)[:4] == b"RIFF",
          "/r/ringback-default is not a WAV file")


@test
def api_token_loopback(t):
    """On loopback (all of 127.0.0.0/8) the option is not needed and the
    API is open; given there, the token is needed all the same."""
    srv = bound_server(t, "127.0.0.2")
    check_200("http://127.0.0.2:%d/api/v1/calls" % srv.http)

    tok = "0123456789abcdef"                 # 16, the shortest allowed
    f = token_file(t, tok.encode())          # no line end at all
    srv = bound_server(t, HOST, f)
    url = "http://%s:%d/api/v1/calls" % (HOST, srv.http)
    check_401(url, None, "the API needs Authorization: Bearer TOKEN")
    check_200(url, "Bearer " + tok)


def refused(t, args, *whys):
    """serve with args exits 2 before anything listens, each of whys on
    stderr."""
    cmd = [cmrtest.BINARY, "serve", "--sip", "%s:%d" % (HOST, free_port()),
           "--log-json", os.path.join(t.tmp, "refused.jsonl")] + args
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       cwd=t.tmp, timeout=5)
    err = r.stderr.decode("utf-8", "replace").strip()
    info("%s: exit %d: %s" % (" ".join(args), r.returncode, err))
    check(r.returncode == 2 and all(w in err for w in whys),
          "serve %s: exit %d, stderr %r; expected 2 and %s"
          % (" ".join(args), r.returncode, err, " and ".join(map(repr,
                                                                  whys))))
    check(not r.stdout, "serve %s printed %r" % (" ".join(args), r.stdout))


@test
def api_token_refused(t):
    """--http off loopback without --api-token-file, and a token file
    that is unreadable, empty or holds no good token: exit 2 with the
    reason (FILE: reason for the file)."""
    port = free_port()
    for bind in ("0.0.0.0:%d" % port, "[::]:%d" % port,
                 "192.0.2.1:%d" % port):
        refused(t, ["--http", bind], "--http %s is not a loopback address"
                % bind, "give --api-token-file FILE")

    missing = os.path.join(t.tmp, "no-such-file")
    cases = [
        (missing, "%s: No such file or directory" % missing),
        (t.tmp, "%s: Is a directory" % t.tmp),
        (token_file(t, b"", "empty"), "empty: the file is empty"),
        (token_file(t, b"\r\n" + TOKEN.encode(), "blank"),
         "blank: the first line is empty"),
        (token_file(t, b"x" * 15 + b"\n", "short"),
         "short: the token is shorter than 16 characters"),
        (token_file(t, b"x" * 257 + b"\n", "long"),
         "long: the token is longer than 256 characters"),
        (token_file(t, b"x" * 5000, "huge"),
         "huge: the token is longer than 256 characters"),
        (token_file(t, b"0123456789 abcdef\n", "space"),
         "space: the token has a space or a byte that is not printable"),
        (token_file(t, b" " + TOKEN.encode() + b"\n", "lead"),
         "lead: the token has a space"),
        (token_file(t, TOKEN.encode() + b" \n", "trail"),
         "trail: the token has a space"),
        (token_file(t, TOKEN.encode() + b"\t\n", "tab"),
         "tab: the token has a space or a byte that is not printable"),
        (token_file(t, TOKEN.encode() + b"\xc3\xa9\n", "utf8"),
         "utf8: the token has a space or a byte that is not printable"),
    ]
    for path, why in cases:
        # On loopback, so only the file can be the reason.
        refused(t, ["--http", "%s:%d" % (HOST, port),
                    "--api-token-file", path], why)
        refused(t, ["--http", "0.0.0.0:%d" % port,
                    "--api-token-file", path], why)

    h = subprocess.run([cmrtest.BINARY, "serve", "--help"],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=5).stdout.decode()
    check("--api-token-file FILE" in h, "serve --help does not describe "
          "--api-token-file")
