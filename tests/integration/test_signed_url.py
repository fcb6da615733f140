"""Signed resource URLs: the Alert-Info URL of HTTP mode carries an expiry
and a signature; only its fetch adds a resource-fetched event to the call,
an altered or expired one is refused, and off loopback an unsigned /r/ID
needs the API's token."""

import json
import os
import re
import time
import urllib.parse

from cmrtest import (
    HOST, Server, call_record, check, curl, info, test, wait_until)
from cmrtest_sip import new_id, run_call


def bt_url(caller):
    """The CMRBT URL the sipp caller found in Alert-Info."""
    m = re.search(r"ringback_url=(\S+)", caller.logs())
    check(m, "caller log has no ringback_url: %r" % caller.logs()[-300:])
    return m.group(1)


def split(url):
    """(base, id, {query}) of a /r/ID URL."""
    u = urllib.parse.urlsplit(url)
    m = re.match(r"/r/([^/?]+)$", u.path)
    check(m, "%s: not a /r/ID URL" % url)
    q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
    return "%s://%s" % (u.scheme, u.netloc), m.group(1), q


def join(base, rid, q):
    return "%s/r/%s?%s" % (base, rid, urllib.parse.urlencode(q))


def fetched(srv, rec):
    """The call's resource-fetched events, from the API."""
    r = srv.api_json("/api/v1/calls/%s" % rec["id"])
    return [e for e in r.get("events", [])
            if e.get("what") == "resource-fetched"]


def get(url, *args):
    st, _, body = curl(url, *args)
    return st, body


def check_403(url, field, what):
    st, body = get(url)
    check(st == 403, "%s: %s answered %d, expected 403" % (what, url, st))
    try:
        j = json.loads(body)
    except ValueError:
        j = {}
    check(j.get("field") == field and j.get("error"),
          "%s: body %r, expected an error with field %r"
          % (what, body[:200], field))


def check_signed(url, rec):
    """The URL's query: the call, a future expiry and 64 hex digits."""
    _, rid, q = split(url)
    check(q.get("call") == rec.get("id"), "URL call=%r, the call is %r"
          % (q.get("call"), rec.get("id")))
    check(re.fullmatch(r"[0-9a-f]{64}", q.get("sig", "")),
          "URL sig=%r, expected 64 hex digits" % q.get("sig"))
    check(re.fullmatch(r"[1-9][0-9]*", q.get("exp", "")),
          "URL exp=%r, expected UNIX seconds" % q.get("exp"))
    return rid, q


@test
def signed_url_fetch(t):
    """A call in HTTP mode: its Alert-Info URL is signed for the call and
    valid for 300 s; fetching it adds resource-fetched to the call; the
    same URL with the id, the call, the expiry or the signature altered
    is refused (403, field sig) and adds nothing; an unsigned ?call= is
    served on loopback but adds nothing either."""
    srv = t.server(plain="http")
    _, caller = run_call(t.tmp, srv)
    url = bt_url(caller)
    rec = call_record(srv)
    base, rid, q = split(url)
    rid, q = check_signed(url, rec)
    left = int(q["exp"]) - time.time()
    info("CMRBT %s, valid %.0f s more" % (url, left))
    # Without --url-ttl: 300 s, the default ring limit (180 s) + 60 s
    # being shorter.
    check(290 < left <= 301, "exp is %.0f s ahead, expected 300" % left)
    check(fetched(srv, rec) == [], "resource-fetched before any fetch: %r"
          % fetched(srv, rec))

    altered = [
        ("id", join(base, "ringtone-default", q)),
        ("call", join(base, rid, dict(q, call="c2"))),
        ("exp", join(base, rid, dict(q, exp=str(int(q["exp"]) + 3600)))),
        ("sig", join(base, rid, dict(q, sig=("0" if q["sig"][0] != "0"
                                             else "1") + q["sig"][1:]))),
        ("sig, truncated", join(base, rid, dict(q, sig=q["sig"][:-2]))),
        ("sig, missing", join(base, rid, {"call": q["call"],
                                          "exp": q["exp"]})),
    ]
    for what, u in altered:
        check_403(u, "sig", "%s altered" % what)
    check(fetched(srv, rec) == [], "an altered URL added %r"
          % fetched(srv, rec))

    # Unsigned, on loopback: the resource, but no event.
    st, body = get("%s/r/%s?call=%s" % (base, rid, q["call"]))
    check(st == 200 and body[:4] == b"RIFF", "unsigned ?call=: %d %r"
          % (st, body[:8]))
    check(fetched(srv, rec) == [], "an unsigned URL added %r"
          % fetched(srv, rec))

    st, body = get(url)
    check(st == 200 and body[:4] == b"RIFF", "the signed URL: %d %r"
          % (st, body[:8]))
    ev = fetched(srv, rec)
    check(len(ev) == 1 and ev[0].get("resource") == rid and
          ev[0].get("status") == 200 and ev[0].get("bytes") == len(body),
          "after the signed fetch: %r" % ev)


@test
def signed_url_expiry(t):
    """serve --url-ttl 1: the URL names an expiry one second after the
    call began; past it, the URL is refused (403, field exp) and adds no
    event.  Out-of-range values of the option are refused at start."""
    srv = t.server(plain="http", extra=["--url-ttl", "1"])
    t0 = time.time()
    _, caller = run_call(t.tmp, srv)
    url = bt_url(caller)
    rec = call_record(srv)
    _, q = check_signed(url, rec)
    exp = int(q["exp"])
    check(int(t0) <= exp <= int(t0) + 1 + 3, "exp %d, the call began at "
          "%.1f: expected it a second later" % (exp, t0))
    wait_until(lambda: time.time() > exp + 1.1, exp + 3 - time.time(),
               "expiry")
    check_403(url, "exp", "expired")
    check(fetched(srv, rec) == [], "an expired URL added %r"
          % fetched(srv, rec))

    for bad in ("0", "86401", "x"):
        s = Server(t.tmp, name="bad-ttl-" + bad,
                   extra=["--url-ttl", bad])
        try:
            s.start()
            ok = False
        except Exception:
            ok = True
        finally:
            if s.proc and s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait()
        check(ok and s.proc.returncode == 2, "--url-ttl %s: exit %r, "
              "expected 2" % (bad, s.proc.returncode))


class OpenServer(Server):
    """HTTP on 0.0.0.0 (SIP stays on loopback), with --api-token-file and
    --advertise 127.0.0.1, fetched through 127.0.0.1."""

    def __init__(self, tmp, **kw):
        Server.__init__(self, tmp, **kw)
        self.http_bind = "0.0.0.0"
        self.token = "tok-%s" % new_id("signed")
        path = os.path.join(tmp, self.name + ".token")
        with open(path, "w") as f:
            f.write(self.token + "\n")
        self.extra += ["--api-token-file", path, "--advertise", HOST]

    def http_get(self, path, headers=None):
        h = {"Authorization": "Bearer " + self.token}
        h.update(headers or {})
        return Server.http_get(self, path, h)


@test
def signed_url_open_listener(t):
    """With the HTTP listener off loopback an unsigned /r/ID is refused
    (403) unless it shows the API's token; the signed URL of a call needs
    no token and adds the call's event."""
    srv = OpenServer(t.tmp, plain="http")
    t.servers.append(srv)
    srv.start()
    _, caller = run_call(t.tmp, srv)
    url = bt_url(caller)
    rec = call_record(srv)
    base, rid, q = split(url)
    check(base == "http://%s:%d" % (HOST, srv.http), "URL %s does not "
          "name the advertised %s:%d" % (url, HOST, srv.http))
    check_signed(url, rec)

    plain = "%s/r/%s" % (base, rid)
    check_403(plain, "sig", "unsigned, no token")
    check_403("%s?call=%s" % (plain, q["call"]), "sig",
              "unsigned ?call=, no token")
    st, _ = get(plain, "-H", "Authorization: Bearer wrong-%s" % srv.token)
    check(st == 403, "unsigned, wrong token: %d, expected 403" % st)
    st, body = get(plain, "-H", "Authorization: Bearer %s" % srv.token)
    check(st == 200 and body[:4] == b"RIFF", "unsigned with the token: "
          "%d %r" % (st, body[:8]))
    check(fetched(srv, rec) == [], "unsigned fetches added %r"
          % fetched(srv, rec))

    st, body = get(url)
    check(st == 200 and body[:4] == b"RIFF", "the signed URL: %d %r"
          % (st, body[:8]))
    check(len(fetched(srv, rec)) == 1, "after the signed fetch: %r"
          % fetched(srv, rec))
    media = call_record(srv).get("media", {})
    check(media.get("downloads") == 1 and
          media.get("download_bytes") == len(body),
          "the call's media after one download of %d bytes: %r"
          % (len(body), media))


@test
def signed_url_api_off_loopback(t):
    """Off loopback the API's resource "url" is signed for no call, so
    that a browser's player (which cannot send the token) can fetch what
    the API shows; it adds no event, and an altered one is refused."""
    srv = OpenServer(t.tmp)
    t.servers.append(srv)
    srv.start()
    auth = ["-H", "Authorization: Bearer %s" % srv.token]
    st, body = get("%s/api/v1/resources/ringback-default" % srv.base,
                   *auth)
    check(st == 200, "GET of the resource: %d" % st)
    url = json.loads(body)["url"]
    _, rid, q = split(url)
    check(rid == "ringback-default" and q.get("call") == "" and
          re.fullmatch(r"[0-9a-f]{64}", q.get("sig", "")),
          "the API's url %s is not signed for no call" % url)
    st, body = get(url)
    check(st == 200 and body[:4] == b"RIFF", "the API's signed url: %d"
          % st)
    check_403(url.replace("ringback-default", "ringtone-default"), "sig",
              "the API's url with another id")
    st, body = get("%s/api/v1/resources" % srv.base, *auth)
    urls = [r["url"] for r in json.loads(body)]
    check(all("&sig=" in u for u in urls), "list urls %r" % urls)
