"""The live page at /: served from memory with its headers to anyone (it
holds no data), same-origin only; in headless chromium it shows a call
ringing and then ended, the subscribers and the counters, and asks for the
API's token when the API wants one."""

import json
import os
import re
import time

from cmrtest import HOST, Skip, check, info, raw_http, test
from chromium import LivePage, available
from sipua import UA, parties, sdp
from test_api_token import BoundServer, token_file

CSP_NEEDS = ("default-src 'self'", "script-src 'unsafe-inline'",
             "style-src 'unsafe-inline'", "media-src 'self'")
LOAD_WAIT = 5.0             # seconds for the page to show a change (it
                            # polls every second)


def check_headers(h, what):
    check(h.get("content-type") == "text/html; charset=utf-8",
          "%s: Content-Type %r" % (what, h.get("content-type")))
    check(h.get("cache-control") == "no-cache",
          "%s: Cache-Control %r" % (what, h.get("cache-control")))
    csp = h.get("content-security-policy") or ""
    for d in CSP_NEEDS:
        check(d in [x.strip() for x in csp.split(";")],
              "%s: Content-Security-Policy %r lacks %r" % (what, csp, d))


def split_raw(data):
    """(status, headers lowercased, body) of one raw HTTP response."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    h = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        h[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), h, body


@test
def page_served(t):
    """GET / is 200, text/html, no-cache, the Content-Security-Policy;
    HEAD the same headers without a body; the document names no other
    origin and puts nothing in as markup; POST gets 405."""
    srv = t.server()
    st, h, body = srv.http_get("/")
    info("GET /: %d, %d bytes, CSP %r" % (st, len(body),
                                         h.get("content-security-policy")))
    check(st == 200, "GET /: status %d" % st)
    check_headers(h, "GET /")
    check(int(h.get("content-length", -1)) == len(body),
          "GET /: Content-Length %r for %d bytes"
          % (h.get("content-length"), len(body)))
    text = body.decode("utf-8")
    check(text.startswith("<!DOCTYPE html>") and "</html>" in text,
          "GET /: not an HTML document: %r" % text[:80])
    for part in ("/api/v1/calls", "/api/v1/subscribers",
                 "/api/v1/resources", "/metrics", "sessionStorage",
                 "Bearer ", "'audio'", "preload"):
        check(part in text, "the page does not mention %r" % part)

    # Same origin only: no scheme-qualified or protocol-relative URL,
    # and nothing that parses data as markup.
    urls = re.findall(r"(?i)\b(?:https?|wss?|ftp):|['(=]\s*//", text)
    check(not urls, "the page names another origin: %r" % urls[:5])
    for bad in ("innerHTML", "outerHTML", "insertAdjacentHTML",
                "document.write", "eval(", "new Function"):
        check(bad not in text, "the page uses %s" % bad)

    data = raw_http(srv.http, b"HEAD / HTTP/1.1\r\nHost: x\r\n"
                    b"Connection: close\r\n\r\n")
    st, hh, rest = split_raw(data)
    check(st == 200, "HEAD /: status %d" % st)
    check_headers(hh, "HEAD /")
    check(hh.get("content-length") == h.get("content-length"),
          "HEAD /: Content-Length %r, GET's %r"
          % (hh.get("content-length"), h.get("content-length")))
    check(rest == b"", "HEAD /: a body of %d bytes" % len(rest))

    data = raw_http(srv.http, b"POST / HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    st, hp, _ = split_raw(data)
    check(st == 405 and hp.get("allow") == "GET, HEAD",
          "POST /: %d, Allow %r" % (st, hp.get("allow")))


@test
def page_without_token(t):
    """With --api-token-file, / is served without the token (the API
    still is not), and it is the same document byte for byte as from a
    server without a token and another profile: it holds no data."""
    open_srv = t.server()
    _, _, plain = open_srv.http_get("/")

    prof = os.path.join(t.tmp, "other.profile")
    with open(prof, "w") as f:
        f.write("subscriber zed mode=http cmrbt=ringback-default "
                "cmrt=ringtone-default\n")
    srv = BoundServer(t.tmp, HOST, token_file(t, b"page-T0ken-0123456789"),
                      name="server-token", profile=prof)
    t.servers.append(srv)
    srv.start()
    st, h, body = srv.http_get("/")
    check(st == 200, "GET / with a token file: status %d" % st)
    check_headers(h, "GET / with a token file")
    check(body == plain, "the page differs between two servers: it "
          "carries data")
    st, _, _ = srv.http_get("/api/v1/calls")
    check(st == 401, "GET /api/v1/calls without the token: %d" % st)


# ---- in a browser ----------------------------------------------------------

# The live call's view on the page, or null: its element's state, the
# texts of its head and the events of its ladder.
CALL_JS = """(function (sel) {
  var d = document.querySelector(sel);
  if (!d) return null;
  function txt(c) { var e = d.querySelector(c); return e && e.textContent; }
  return { id: d.dataset.call, state: d.dataset.state,
           box: d.parentNode.id, caller: txt('.caller'),
           callee: txt('.callee'), end: txt('.end'),
           ladder: Array.prototype.map.call(
             d.querySelectorAll('.row[data-what]'),
             function (r) { return r.dataset.what; }),
           arrows: Array.prototype.map.call(d.querySelectorAll('.arrow'),
             function (a) { return a.textContent; }) };
})(%s)"""


def call_view(page, sel):
    return page.eval(CALL_JS % json.dumps(sel))


def wait_call(page, sel, pred, what):
    """The view of the call at sel once pred holds for it."""
    deadline = time.monotonic() + LOAD_WAIT
    while True:
        v = call_view(page, sel)
        if v is not None and pred(v):
            return v
        check(time.monotonic() < deadline, "%s: not on the page within "
              "%.0f s; it shows %r" % (what, LOAD_WAIT, v))
        time.sleep(0.1)


@test
def page_live_call(t):
    """Headless chromium on /: the subscribers with a player for each
    tone; a call appears under the live calls while it rings (caller,
    callee, state, its ladder), then under the recent calls as ended
    when the caller cancels; the counters follow; no console error."""
    found = available()
    if not found:
        raise Skip(found.why)
    # The caller's user part holds character references: put in as markup
    # it would read "x<b>y"; the page must show it as it is.
    evil = "x&lt;b&gt;y"
    with parties(t) as (srv, alice, bob), \
            LivePage(srv.base + "/", os.path.join(t.tmp, "chromium"),
                     timeout=30) as page:
        caller = UA(srv, evil)
        try:
            n = page.wait_for("document.querySelectorAll("
                              "'#subs tbody tr').length", LOAD_WAIT)
            subs = srv.api_json("/api/v1/subscribers")
            check(n == len(subs), "%d subscribers on the page, the API "
                  "lists %d" % (n, len(subs)))
            bob_row = page.eval(
                "(function () { var r = document.querySelector("
                "'#subs tr[data-sub=bob]'); return r && { cells: "
                "Array.prototype.map.call(r.cells, function (c) { return "
                "c.textContent; }), audio: Array.prototype.map.call("
                "r.querySelectorAll('audio'), function (a) { return "
                "[a.getAttribute('src'), a.preload, a.controls]; }) }; "
                "})()")
            info("bob on the page: %r" % bob_row)
            check(bob_row and bob_row["cells"][2] == "ringback-default"
                  and bob_row["cells"][4] == "ringtone-default",
                  "bob's tones on the page: %r" % bob_row)
            check(bob_row["audio"] == [["/r/ringback-default", "none", True],
                                       ["/r/ringtone-default", "none",
                                        True]],
                  "bob's players: %r" % bob_row["audio"])
            check(page.eval("document.getElementById('live-none')"
                            ".hidden") is False,
                  "the page shows a live call before any")

            d = caller.invite("bob", body=sdp(caller.media, 1, "x"))
            inv = bob.next_request("INVITE")
            bob.reply(inv, 180, tag="p1")
            ring = wait_call(page, "#live [data-call]",
                             lambda v: v["state"] == "ringing",
                             "the ringing call")
            info("ringing: %r" % ring)
            check(ring["caller"] == evil + "@" + HOST,
                  "caller on the page: %r, expected %r"
                  % (ring["caller"], evil + "@" + HOST))
            check(ring["callee"] == "bob@" + HOST,
                  "callee on the page: %r" % ring["callee"])
            check(ring["ladder"][:1] == ["received"] and
                  "ringing" in ring["ladder"],
                  "the ringing call's ladder: %r" % ring["ladder"])
            page.wait_for("document.querySelector("
                          "'[data-metric=cmrlab_calls_active] .v')"
                          ".textContent === '1'", LOAD_WAIT)

            cs = d.cancel()
            r = caller.wait(d.match_rsp(cs), 5, what="200 (CANCEL)")
            check(r.status == 200, "CANCEL answered %s" % r.first)
            can = bob.next_request("CANCEL")
            bob.reply(can, 200)
            bob.reply(inv, 487, tag="p1")
            fin = caller.wait(d.match_rsp("1 INVITE"), 5, what="487")
            d.ack_error(fin)

            sel = "#recent [data-call=%s]" % ring["id"]
            end = wait_call(page, sel, lambda v: v["state"] == "ended",
                            "the ended call")
            info("ended: %r" % end)
            rec = [c for c in srv.calls() if c["id"] == ring["id"]][0]
            check(end["ladder"] == [e["what"] for e in rec["events"]],
                  "the ladder %r is not the call's events %r"
                  % (end["ladder"], [e["what"] for e in rec["events"]]))
            check("cancelled" in end["ladder"] and
                  end["ladder"][-1] == "ended",
                  "the ended call's ladder: %r" % end["ladder"])
            check(end["end"] == rec["end"], "the end on the page %r, the "
                  "API's %r" % (end["end"], rec["end"]))
            check(call_view(page, "#live [data-call]") is None,
                  "the call is still among the live ones")
            page.wait_for("document.querySelector("
                          "'[data-metric=cmrlab_calls_total] .v')"
                          ".textContent === '1' && document.querySelector("
                          "'[data-metric=cmrlab_calls_active] .v')"
                          ".textContent === '0'", LOAD_WAIT)
            errs = page.errors()
        finally:
            caller.save(os.path.join(t.tmp, "caller.sip"))
            caller.close()
    errs += page.errors()[len(errs):]
    check(not errs, "console errors: %r" % errs[:5])


@test
def page_asks_token(t):
    """With --api-token-file the page in chromium shows the token form
    (and the counters, which need no token); given the token it keeps it
    in sessionStorage, sends it, and shows the subscribers."""
    found = available()
    if not found:
        raise Skip(found.why)
    tok = "page-T0ken-0123456789abcdef"
    srv = BoundServer(t.tmp, HOST, token_file(t, tok.encode()))
    t.servers.append(srv)
    srv.start()
    with LivePage(srv.base + "/", os.path.join(t.tmp, "chromium"),
                  timeout=30) as page:
        page.wait_for("!document.getElementById('auth').hidden", LOAD_WAIT)
        page.wait_for("document.querySelectorAll('.counter').length > 0",
                      LOAD_WAIT)
        check(page.eval("document.querySelectorAll('#subs tbody tr')"
                        ".length") == 0, "subscribers shown without the "
              "token")
        page.eval("document.getElementById('auth-token').value = '%s'; "
                  "document.getElementById('auth').requestSubmit(); 1"
                  % "wrong-token-0123456789")
        why = page.wait_for("!document.getElementById('auth').hidden && "
                            "document.getElementById('auth-why')"
                            ".textContent", LOAD_WAIT)
        info("a wrong token: %r" % why)
        check(why == "wrong token", "after a wrong token the form says "
              "%r" % why)
        page.eval("document.getElementById('auth-token').value = '%s'; "
                  "document.getElementById('auth').requestSubmit(); 1"
                  % tok)
        n = page.wait_for("document.querySelectorAll('#subs tbody tr')"
                          ".length", LOAD_WAIT)
        info("with the token: %d subscribers" % n)
        check(page.eval("document.getElementById('auth').hidden") is True,
              "the form is still shown with the right token")
        check(page.eval("sessionStorage.getItem('cmrlab.token')") == tok,
              "the token is not in sessionStorage")
    # The 401s the page got before it had the token are logged as failed
    # loads; anything else is an error.
    errs = [e for e in page.errors() if "status of 401" not in e]
    check(not errs, "console errors: %r" % errs[:5])
