"""The API's writes: PUT and DELETE of /api/v1/subscribers/ID and
/api/v1/resources/ID, their errors, and calls to what they made."""

import http.client
import io
import json
import os
import re
import signal
import time
import socket
import struct
import subprocess
import wave

from cmrtest import (
    HOST, Fail, call_of, check, curl, events_of, info, raw_http, test,
    wait_until)
from cmrtest_sip import (
    SipClient, Sipp, SIPP_WAIT, invite, register_ok)
from cmrtest_media import (
    GwCaller, RtpSink, gw_callee, gw_early_media)

ALLOW_ITEM = "GET, HEAD, PUT, DELETE"
SCENARIOS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "scenarios")


# ---- helpers shared with test_state.py -----------------------------------

def req(srv, method, path, body=None, headers=None, timeout=10):
    """(status, headers lowercased, body bytes) of one request; a dict
    body goes as JSON."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    c = http.client.HTTPConnection(HOST, srv.http, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return (r.status, {k.lower(): v for k, v in r.getheaders()},
                r.read())
    except OSError as e:
        raise Fail("%s %s: %s" % (method, path, e))
    finally:
        c.close()


def jbody(st, body, what):
    try:
        return json.loads(body)
    except ValueError:
        raise Fail("%s: %d with a body that is not JSON: %r"
                   % (what, st, body[:200]))


def put_sub(srv, sid, doc, want=(200, 201)):
    st, _, body = req(srv, "PUT", "/api/v1/subscribers/" + sid, doc)
    check(st in want, "PUT subscriber %s %r: %d %r, expected %s"
          % (sid, doc, st, body[:200], want))
    return jbody(st, body, "PUT subscriber %s" % sid) if body else None


def put_res(srv, rid, data, ctype, want=(200, 201)):
    st, _, body = req(srv, "PUT", "/api/v1/resources/" + rid, data,
                      {"Content-Type": ctype})
    check(st in want, "PUT resource %s (%s, %d bytes): %d %r, expected %s"
          % (rid, ctype, len(data), st, body[:200], want))
    return jbody(st, body, "PUT resource %s" % rid) if body else None


def delete(srv, path, want):
    st, h, body = req(srv, "DELETE", path)
    check(st == want, "DELETE %s: %d %r, expected %d"
          % (path, st, body[:200], want))
    return h, body


def expect_error(srv, method, path, body, status, field, headers=None,
                 error=None):
    """method path answers status with {"error", "field": field}."""
    st, _, got = req(srv, method, path, body, headers)
    shown = body if not isinstance(body, bytes) or len(body) < 80 else \
        body[:80] + b"..."
    check(st == status, "%s %s %r: %d %r, expected %d field %s"
          % (method, path, shown, st, got[:200], status, field))
    doc = jbody(st, got, "%s %s" % (method, path))
    check(isinstance(doc, dict) and doc.get("field") == field and
          isinstance(doc.get("error"), str),
          "%s %s %r: body %r, expected an error naming field %r"
          % (method, path, shown, doc, field))
    if error is not None:
        check(doc.get("error") == error, "%s %s: error %r, expected %r"
              % (method, path, doc.get("error"), error))
    return doc


def wav_bytes(seconds=1.0, rate=8000, sample=0):
    """A mono 16-bit WAV of one constant sample value."""
    out = io.BytesIO()
    w = wave.open(out, "wb")
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(rate)
    w.writeframes(struct.pack("<h", sample) * int(seconds * rate))
    w.close()
    return out.getvalue()


def scenario_for(t, name, default, resid):
    """The scenario name, its Alert-Info check expecting /r/resid in
    place of /r/default."""
    with open(os.path.join(SCENARIOS, name)) as f:
        text = f.read()
    check("/r/" + default in text, "%s has changed" % name)
    path = os.path.join(t.tmp, "%s-%s" % (resid, name))
    with open(path, "w") as f:
        f.write(text.replace("/r/" + default, "/r/" + resid))
    return path


def sipp_call(t, srv, user, resid, ring_ms=1000, static=False,
              during=None, registered=None, rt="ringtone-default"):
    """A sipp callee for user (registered, or with static=True given as
    the subscriber's contact by PUT) and a sipp caller that expects the
    CMRBT URL of resid (and the callee the CMRT URL of rt); registered() runs once the callee is known to
    the server, during(callee, caller) while the call goes on.  Returns
    (callee, caller) after both exited 0."""
    callee = Sipp(t.tmp, scenario_for(t, "uas_answer.xml",
                                      "ringtone-default", rt),
                  "callee-" + user,
                  keys={"ring_ms": ring_ms})
    callee.wait_listening()
    if static:
        put_sub(srv, user, {"mode": "http", "cmrbt": resid,
                            "contacts": [callee.contact]}, want=(201,))
    else:
        register_ok(srv, user, callee.contact)
    if registered:
        registered()
    caller = Sipp(t.tmp, scenario_for(t, "uac_call.xml", "ringback-default",
                                      resid), "caller-" + user,
                  remote="%s:%d" % (HOST, srv.sip), service=user)
    if during:
        during(callee, caller)
    rc = caller.wait()
    rc2 = callee.wait(SIPP_WAIT if rc == 0 else 3.0)
    why = [w for w in (caller.verdict(rc), callee.verdict(rc2)) if w]
    check(not why, "; ".join(why))
    return callee, caller


# ---- subscribers ---------------------------------------------------------

@test
def api_write_subscriber_put(t):
    """PUT /api/v1/subscribers/ID: 201 created, 200 replaced, the body as
    GET shows it; a GET body PUT back; an empty body is {}; every field's
    bad values are 400 naming the field."""
    srv = t.server()
    path = "/api/v1/subscribers/zed"
    doc = {"mode": "http", "cmrbt": "ringtone-default",
           "cmrt": "ringback-default", "password": "s3cret",
           "contacts": ["sip:zed@127.0.0.1:5999", "sips:zed@example.com"]}
    st, h, body = req(srv, "PUT", path, doc,
                      {"Content-Type": "application/json"})
    check(st == 201, "PUT %s (new): %d %r, expected 201" % (path, st, body))
    got = jbody(st, body, "PUT")
    info("201: %s" % body.decode().strip())
    want = {"id": "zed", "mode": "http", "cmrbt": "ringtone-default",
            "cmrt": "ringback-default", "password_set": True,
            "contacts": doc["contacts"], "bindings": []}
    check(got == want, "PUT body %r, expected %r" % (got, want))
    check(h.get("content-type", "").startswith("application/json"),
          "PUT: Content-Type %r" % h.get("content-type"))
    check(srv.api_json(path) == got, "GET %s: %r, PUT answered %r"
          % (path, srv.api_json(path), got))
    listed = [s for s in srv.api_json("/api/v1/subscribers")
              if s.get("id") == "zed"]
    check(listed == [got], "GET /api/v1/subscribers: zed is %r" % listed)

    # What GET shows goes back as it is: "password_set": true without a
    # "password" keeps the password, which GET never shows; false drops
    # it.
    st, _, body = req(srv, "PUT", path, got)
    check(st == 200 and jbody(st, body, "PUT") == got,
          "PUT of the GET body: %d %r, expected %r" % (st, body, got))
    st, _, body = req(srv, "PUT", path, dict(got, password_set=False))
    check(st == 200 and jbody(st, body, "PUT") == dict(
        got, password_set=False), "PUT with password_set false: %d %r"
          % (st, body))
    put_sub(srv, "zed", dict(got, password="s3cret", bindings=[
        {"uri": "sip:x@h", "expires_in_s": 9}]), want=(200,))
    # null password, then an empty body: every field to its default.
    got2 = put_sub(srv, "zed", {"password": None}, want=(200,))
    check(got2["password_set"] is False and got2["contacts"] == [] and
          got2["mode"] == "auto", "PUT {password: null}: %r" % got2)
    st, _, body = req(srv, "PUT", path, b"")
    dflt = jbody(st, body, "PUT empty")
    check(st == 200 and dflt == srv.api_json("/api/v1/subscribers/bob")
          | {"id": "zed", "bindings": []},
          "PUT with an empty body: %d %r, expected the defaults like bob's"
          " %r" % (st, dflt, srv.api_json("/api/v1/subscribers/bob")))
    put_sub(srv, "zed", {"password": "p" * 128}, want=(200,))
    # Escapes are JSON's: an escaped backslash before "u0000" is text.
    st, _, body = req(srv, "PUT", path, b' {"password": "a\\\\u0000b",'
                      b' "mode": "\\u0068ttp", "contacts": []}\r\n')
    check(st == 200 and jbody(st, body, "PUT")["mode"] == "http",
          "PUT with escapes: %d %r" % (st, body))
    put_sub(srv, "zed", {"contacts": ["sip:u%d@h" % i for i in range(16)]},
            want=(200,))
    put_sub(srv, "new.one_~+-9", {}, want=(201,))

    bad = [
        ({"color": "red"}, "color"),
        ({"mode": "early"}, "mode"),
        ({"mode": "nonsense"}, "mode"),
        ({"mode": 3}, "mode"),
        ({"cmrbt": "no-such-resource"}, "cmrbt"),
        ({"cmrbt": "bad id/"}, "cmrbt"),
        ({"cmrt": "no-such-resource"}, "cmrt"),
        ({"cmrt": 7}, "cmrt"),
        ({"password": ""}, "password"),
        ({"password": "p" * 129}, "password"),
        ({"password": 1234}, "password"),
        ({"contacts": ["sip:u%d@h" % i for i in range(17)]}, "contacts"),
        ({"contacts": ["http://example.com/"]}, "contacts"),
        ({"contacts": "sip:zed@h"}, "contacts"),
        ({"contacts": [1]}, "contacts"),
        ({"id": "other"}, "id"),
        ({"id": 5}, "id"),
        (b"not json", "body"),
        (b"[1, 2]", "body"),
        (b'"zed"', "body"),
        (b'{"mode": "http"', "body"),
        (b'{"mode": "http"}\x00', "body"),
        (b'{"mode": "ht\x00tp"}', "body"),
        (b'{"mode": "http"} trailing', "body"),
        (b'{"mode": "http"}}', "body"),
        (b'{"mode": "http"} {"mode": "as"}', "body"),
        (b'{"mode": "http"},{"color": 1}', "body"),
        (b'{"mode": "http",}', "body"),
        (b'{"contacts": ["sip:a@b",]}', "body"),
        (b'{"password": "a\\u0000b"}', "body"),
        (b'{"id": "zed\\u0000x"}', "body"),
        (b'{"mode": "http", "mode": "as"}', "body"),
        (b'{"password": "\xff\xfe"}', "body"),
    ]
    before = srv.api_json(path)
    for body, field in bad:
        expect_error(srv, "PUT", path, body, 400, field)
    doc = expect_error(srv, "PUT", path, {"mode": "http", "colour": 1}, 400,
                       "colour")
    check(doc == {"error": "unknown field", "field": "colour"},
          "unknown field: %r" % doc)
    check(srv.api_json(path) == before, "a refused PUT changed zed: %r, "
          "was %r" % (srv.api_json(path), before))
    for sid in ("a" * 65, "bad%2Fid", "sp%20ace", "%C3%A9"):
        expect_error(srv, "PUT", "/api/v1/subscribers/" + sid, {}, 400,
                     "id")
    st, _, _ = req(srv, "GET", "/api/v1/subscribers/" + "a" * 65)
    check(st in (400, 404), "GET of a 65-character id: %d" % st)


@test
def api_write_subscriber_replace_keeps_bindings(t):
    """PUT of a subscriber that has a registered contact keeps the binding
    and drops its per-caller rules (whose resource then deletes)."""
    prof = os.path.join(t.tmp, "rules.profile")
    with open(prof, "w") as f:
        f.write("resource extra file=%s type=text/plain\n"
                "subscriber alice\nsubscriber bob\n"
                "rule bob from=alice cmrbt=extra\n"
                % os.path.join(t.tmp, "extra.txt"))
    with open(os.path.join(t.tmp, "extra.txt"), "w") as f:
        f.write("extra\n")
    srv = t.server(profile=prof)
    register_ok(srv, "bob", "sip:bob@127.0.0.1:5977")
    b = srv.api_json("/api/v1/subscribers/bob")
    check([x.get("uri") for x in b["bindings"]] ==
          ["sip:bob@127.0.0.1:5977"], "bindings after REGISTER: %r" % b)
    doc = expect_error(srv, "DELETE", "/api/v1/resources/extra", None, 409,
                       "id")
    check(doc["error"] == "the resource is assigned to subscriber bob",
          "DELETE of a resource of a rule: %r" % doc)
    got = put_sub(srv, "bob", {"mode": "http"}, want=(200,))
    check([x.get("uri") for x in got["bindings"]] ==
          ["sip:bob@127.0.0.1:5977"],
          "PUT bob dropped its binding: %r" % got)
    check(srv.api_json("/api/v1/subscribers/bob") == got,
          "GET after PUT differs: %r" % srv.api_json(
              "/api/v1/subscribers/bob"))
    delete(srv, "/api/v1/resources/extra", 204)


@test
def api_write_subscriber_delete(t):
    """DELETE of a subscriber: 204 without a body, then GET 404, a second
    DELETE 404 with the error, and an INVITE to it 404."""
    srv = t.server()
    cl = SipClient(srv, "udp")
    try:
        h, body = delete(srv, "/api/v1/subscribers/carol", 204)
        check(body == b"", "204 with a body: %r" % body)
        st, _, _ = req(srv, "GET", "/api/v1/subscribers/carol")
        check(st == 404, "GET after DELETE: %d" % st)
        doc = expect_error(srv, "DELETE", "/api/v1/subscribers/carol", None,
                           404, "id")
        check(doc == {"error": "no such subscriber", "field": "id"},
              "second DELETE: %r" % doc)
        expect_error(srv, "DELETE", "/api/v1/subscribers/nobody", None,
                     404, "id")
        rsp = invite(cl, "carol")
        check(rsp.status == 404, "INVITE to a deleted subscriber: %s"
              % rsp.first)
        # The range's members delete one by one.
        delete(srv, "/api/v1/subscribers/1042", 204)
        rsp = invite(cl, "1042")
        check(rsp.status == 404, "INVITE 1042 after DELETE: %s" % rsp.first)
    finally:
        cl.close()


@test
def api_write_subscriber_call(t):
    """A subscriber and its ringback made by PUT, with a static contact:
    an HTTP-mode call to it rings with /r/RES in Alert-Info and ends
    normally; its events name the resource."""
    srv = t.server(plain="http")
    r = put_res(srv, "zed-tone", wav_bytes(1.0), "audio/wav", want=(201,))
    check(r.get("duration_ms", 0) > 0, "WAV resource: %r" % r)
    callee, caller = sipp_call(t, srv, "zed", "zed-tone", static=True)
    m = re.search(r"ringback_url=(\S+)", caller.logs())
    check(m, "no ringback_url in the caller's log")
    info("ringback_url=%s" % m.group(1))
    recs = [c for c in srv.calls() if "zed" in str(c.get("callee"))]
    check(recs, "no call to zed in the API: %r" % srv.calls())
    rec = call_of(srv, recs[-1]["callid"])
    ins = events_of(rec, "cmr-inserted", dir="bt")
    check(ins and ins[0].get("resource") == "zed-tone",
          "cmr-inserted bt: %r, expected resource zed-tone" % ins)
    names = [e.get("what") for e in rec["events"]]
    check("answered" in names and "bye" in names and rec.get("state") ==
          "ended", "call events %s state %r" % (names, rec.get("state")))
    st, h, body = curl(m.group(1))
    check(st == 200 and body == wav_bytes(1.0), "GET %s: %d, %d bytes"
          % (m.group(1), st, len(body)))


# ---- resources -----------------------------------------------------------

@test
def api_write_resource_put(t):
    """PUT /api/v1/resources/ID: Content-Type and body checks, WAV
    converted (duration_ms), any other type served as it is; 201 then
    200; an upload with Expect: 100-continue (curl)."""
    srv = t.server()
    rpath = "/api/v1/resources/clip"
    expect_error(srv, "PUT", rpath, b"abc", 400, "Content-Type")
    for bad in ("", "video", "video/", "/mp4", "vid eo/mp4",
                "video/mp4\x7f", "a/b/c"):
        expect_error(srv, "PUT", rpath, b"abc", 400, "Content-Type",
                     {"Content-Type": bad})
    expect_error(srv, "PUT", rpath, b"", 400, "body",
                 {"Content-Type": "video/mp4"})
    expect_error(srv, "PUT", rpath, b"RIFF not a wave at all", 400, "body",
                 {"Content-Type": "audio/wav"})
    expect_error(srv, "PUT", rpath, b"\x00" * 100, 400, "body",
                 {"Content-Type": "audio/x-wav"})
    expect_error(srv, "PUT", "/api/v1/resources/bad%20id", b"x", 400, "id",
                 {"Content-Type": "text/plain"})
    st, _, _ = req(srv, "GET", rpath)
    check(st == 404, "a refused PUT made the resource: GET %d" % st)

    mp4 = os.urandom(5000)
    r = put_res(srv, "clip", mp4, "video/mp4", want=(201,))
    info("201: %r" % r)
    url = "http://%s:%d/r/clip" % (HOST, srv.http)
    check(r.get("id") == "clip" and r.get("type") == "video/mp4" and
          r.get("bytes") == 5000 and r.get("url") == url and
          "duration_ms" in r,
          "PUT answer %r, expected id, type, bytes, duration_ms, url %s"
          % (r, url))
    check(set(r) >= {"id", "type", "bytes", "duration_ms", "url"},
          "PUT answer members %s" % sorted(r))
    st, h, body = req(srv, "GET", "/r/clip")
    check(st == 200 and body == mp4 and h.get("content-type") ==
          "video/mp4", "GET /r/clip: %d %r, %d bytes (same: %s)"
          % (st, h.get("content-type"), len(body), body == mp4))
    check(srv.api_json(rpath) == r, "GET %s: %r, PUT answered %r"
          % (rpath, srv.api_json(rpath), r))

    text = b"hello, world\n"
    r = put_res(srv, "clip", text, "text/plain; charset=utf-8", want=(200,))
    check(r["bytes"] == len(text) and r["type"] ==
          "text/plain; charset=utf-8", "replaced: %r" % r)
    st, h, body = req(srv, "GET", "/r/clip")
    check(body == text and h.get("content-type") ==
          "text/plain; charset=utf-8", "GET after replace: %r %r"
          % (h.get("content-type"), body))

    wav = wav_bytes(1.5, 16000)
    r = put_res(srv, "tone", wav, "audio/wav", want=(201,))
    check(r["bytes"] == len(wav) and 1400 <= r["duration_ms"] <= 1600,
          "WAV resource: %r, expected about 1500 ms" % r)
    st, h, body = req(srv, "GET", "/r/tone")
    check(body == wav, "GET /r/tone: not the bytes put")

    # curl sends Expect: 100-continue for a body over 1 KiB, and can be
    # told to for a small one.
    f = os.path.join(t.tmp, "up.bin")
    big = os.urandom(300000)
    with open(f, "wb") as fh:
        fh.write(big)
    r = subprocess.run(["curl", "-s", "-S", "--max-time", "5", "-v",
                        "-X", "PUT", "-H", "Content-Type: application/x-test",
                        "-H", "Expect: 100-continue", "--data-binary",
                        "@" + f, "-w", "\n%{http_code}",
                        url.replace("/r/", "/api/v1/resources/")],
                       capture_output=True, timeout=10)
    out = r.stdout.decode()
    err = r.stderr.decode("utf-8", "replace")
    check(r.returncode == 0 and "< HTTP/1.1 100 Continue" in err and
          out.endswith("\n200") and
          json.loads(out.rpartition("\n")[0])["bytes"] == len(big),
          "curl PUT with Expect: 100-continue: exit %d, %r, %r"
          % (r.returncode, out[-200:], [ln for ln in err.splitlines()
                                        if ln.startswith("<")]))
    st, h, body = req(srv, "GET", "/r/clip")
    check(body == big and h.get("content-type") == "application/x-test",
          "after curl's PUT: %d bytes %r" % (len(body),
                                             h.get("content-type")))
    # A chunked upload (no Content-Length).
    raw = raw_http(srv.http, b"PUT /api/v1/resources/chunky HTTP/1.1\r\n"
                   b"Host: x\r\nContent-Type: text/plain\r\n"
                   b"Transfer-Encoding: chunked\r\nConnection: close\r\n"
                   b"\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    check(raw.startswith(b"HTTP/1.1 201"), "chunked PUT: %r" % raw[:200])
    st, _, body = req(srv, "GET", "/r/chunky")
    check(body == b"hello world", "chunked PUT stored %r" % body)


def read_response(s, timeout=5.0):
    """The head and body of one response on socket s (with
    Content-Length), or what came before the connection closed."""
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)content-length: *(\d+)", head)
    n = int(m.group(1)) if m else 0
    while len(rest) < n:
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        rest += chunk
    return head, rest


def check_413(head, body, what):
    check(head.startswith(b"HTTP/1.1 413"), "%s: %r, expected 413"
          % (what, head[:100]))
    doc = json.loads(body)
    check(doc.get("field") == "body", "%s: 413 body %r" % (what, doc))


@test
def api_write_resource_too_large(t):
    """A body over 64 MiB is 413 field "body": announced by Content-Length
    (answered before it is read), and chunked without one; the server
    then serves on."""
    srv = t.server()
    s = socket.create_connection((HOST, srv.http), timeout=5)
    try:
        s.sendall(b"PUT /api/v1/resources/huge HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: video/mp4\r\nContent-Length: %d\r\n\r\n"
                  b"abcd" % (70 << 20))
        head, body = read_response(s)
    finally:
        s.close()
    info("Content-Length 70 MiB: %s" % head.split(b"\r\n")[0].decode())
    check_413(head, body, "Content-Length of 70 MiB")
    # The same with Expect: the 413 comes in place of the 100.
    s = socket.create_connection((HOST, srv.http), timeout=5)
    try:
        s.sendall(b"PUT /api/v1/resources/huge HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: video/mp4\r\nExpect: 100-continue\r\n"
                  b"Content-Length: %d\r\n\r\n" % ((64 << 20) + 1))
        head, body = read_response(s)
    finally:
        s.close()
    check_413(head, body, "Expect with 64 MiB + 1")

    # Chunked: 65 MiB in 1 MiB chunks.
    s = socket.create_connection((HOST, srv.http), timeout=10)
    chunk = b"%x\r\n" % (1 << 20) + b"z" * (1 << 20) + b"\r\n"
    try:
        s.sendall(b"PUT /api/v1/resources/huge HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: video/mp4\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(65):
                s.sendall(chunk)
            s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError) as e:
            info("chunked upload: the server closed while sending: %s" % e)
        head, body = read_response(s, 10)
    finally:
        s.close()
    info("chunked 65 MiB: %s" % head.split(b"\r\n")[0].decode())
    check_413(head, body, "chunked upload of 65 MiB")
    st, _, _ = req(srv, "GET", "/api/v1/resources/huge")
    check(st == 404, "after the 413s GET /api/v1/resources/huge: %d" % st)
    put_res(srv, "small", b"ok", "text/plain", want=(201,))


@test
def api_write_resource_delete(t):
    """DELETE of a resource: 404 unknown, 409 while assigned (naming the
    subscriber), 204 and then gone once it is not."""
    srv = t.server()
    doc = expect_error(srv, "DELETE", "/api/v1/resources/nope", None, 404,
                       "id")
    check(doc == {"error": "no such resource", "field": "id"},
          "DELETE unknown resource: %r" % doc)
    doc = expect_error(srv, "DELETE", "/api/v1/resources/ringback-default",
                       None, 409, "id")
    check(re.fullmatch(r"the resource is assigned to subscriber "
                       r"(alice|bob|carol|dave|10\d\d)", doc["error"]),
          "409 error %r" % doc["error"])
    put_res(srv, "mine", b"x" * 10, "text/plain", want=(201,))
    put_sub(srv, "zed", {"cmrt": "mine"}, want=(201,))
    doc = expect_error(srv, "DELETE", "/api/v1/resources/mine", None, 409,
                       "id")
    check(doc["error"] == "the resource is assigned to subscriber zed",
          "409 error %r" % doc["error"])
    put_sub(srv, "zed", {"cmrbt": "mine"}, want=(200,))
    expect_error(srv, "DELETE", "/api/v1/resources/mine", None, 409, "id")
    delete(srv, "/api/v1/subscribers/zed", 204)
    h, body = delete(srv, "/api/v1/resources/mine", 204)
    check(body == b"", "204 with a body %r" % body)
    for p in ("/r/mine", "/api/v1/resources/mine"):
        st, _, _ = req(srv, "GET", p)
        check(st == 404, "GET %s after DELETE: %d" % (p, st))
    expect_error(srv, "DELETE", "/api/v1/resources/mine", None, 404, "id")
    expect_error(srv, "PUT", "/api/v1/subscribers/zed", {"cmrt": "mine"},
                 400, "cmrt")


@test
def api_write_methods(t):
    """Collections and calls take no PUT or DELETE (405 with Allow), items
    no POST (405, Allow: GET, HEAD, PUT, DELETE)."""
    srv = t.server()
    for path in ("/api/v1/subscribers", "/api/v1/resources",
                 "/api/v1/calls", "/api/v1/calls/c1"):
        for m in ("PUT", "DELETE", "POST"):
            st, h, body = req(srv, m, path, b"{}")
            check(st == 405 and h.get("allow") == "GET, HEAD",
                  "%s %s: %d Allow %r" % (m, path, st, h.get("allow")))
    for path in ("/api/v1/subscribers/alice",
                 "/api/v1/resources/ringback-default",
                 "/api/v1/subscribers/nobody"):
        for m in ("POST", "PATCH"):
            st, h, body = req(srv, m, path, b"{}")
            check(st == 405 and h.get("allow") == ALLOW_ITEM,
                  "%s %s: %d Allow %r, expected 405 and %r"
                  % (m, path, st, h.get("allow"), ALLOW_ITEM))
    check(srv.api_json("/api/v1/subscribers/alice")["id"] == "alice",
          "alice is gone")


@test
def api_write_token(t):
    """With --api-token-file, PUT and DELETE without the token are 401 on
    the headers alone (the body is never waited for), and work with it."""
    tok = "0123456789abcdef-write"
    f = os.path.join(t.tmp, "token")
    with open(f, "w") as fh:
        fh.write(tok + "\n")
    srv = t.server(extra=["--api-token-file", f])
    for m, p in (("PUT", "/api/v1/subscribers/zed"),
                 ("PUT", "/api/v1/resources/x"),
                 ("DELETE", "/api/v1/subscribers/alice")):
        s = socket.create_connection((HOST, srv.http), timeout=5)
        try:
            # A body announced but never sent: only an answer on the
            # headers can come.
            s.sendall(b"%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      b"text/plain\r\nContent-Length: 1000\r\n\r\n"
                      % (m.encode(), p.encode()))
            head, body = read_response(s, 3)
        finally:
            s.close()
        check(head.startswith(b"HTTP/1.1 401"), "%s %s without a token "
              "and no body sent: %r, expected 401" % (m, p, head[:80]))
    check(srv.api_json is not None, "")
    st, _, _ = req(srv, "PUT", "/api/v1/subscribers/zed", {},
                   {"Authorization": "Bearer wrong-token-0123456"})
    check(st == 401, "PUT with a wrong token: %d" % st)
    st, _, body = req(srv, "PUT", "/api/v1/subscribers/zed", {},
                      {"Authorization": "Bearer " + tok})
    check(st == 201, "PUT with the token: %d %r" % (st, body))
    st, _, _ = req(srv, "DELETE", "/api/v1/subscribers/zed",
                   headers={"Authorization": "Bearer " + tok})
    check(st == 204, "DELETE with the token: %d" % st)


@test
def api_write_gateway_streams_put_wav(t):
    """A WAV put through the API and set as bob's cmrbt (bob's binding
    kept) is what a gateway-mode call streams: silence, every PCMA
    payload 0xd5, where the built-in ringback is a tone."""
    srv = t.server()
    callee = gw_callee(t, srv, ring_ms=1500, pt=8)
    r = put_res(srv, "quiet", wav_bytes(3.0), "audio/wav", want=(201,))
    check(r["duration_ms"] >= 2900, "WAV: %r" % r)
    got = put_sub(srv, "bob", {"cmrbt": "quiet"}, want=(200,))
    check(got["bindings"], "PUT bob lost its binding: %r" % got)
    sink, cl = RtpSink(), GwCaller(srv)
    try:
        gw_early_media(cl, sink, (8, 0), 8)
        wait_until(lambda: len(sink.packets()) >= 20, 3, "20 RTP packets")
        pkts = sink.packets()
        cl.cancel()
        srv.wait_call_state(("ended",))
    finally:
        sink.close()
        cl.close()
    pay = [d[12:] for _, _, _, d in pkts if len(d) > 12]
    other = [p for p in pay if set(p) != {0xd5}]
    info("%d RTP packets, %d with a payload other than PCMA silence"
         % (len(pay), len(other)))
    check(len(pay) >= 20 and not other, "%d packets, %d not silence; the "
          "first such %r" % (len(pay), len(other),
                             other[0][:16] if other else None))
    callee.wait(3.0)


@test
def api_write_stop_while_converting(t):
    """SIGTERM while a large WAV put is being converted (the request
    suspended, its work on a thread): the server ends within the usual
    bound and exits 0; the client gets its answer (201 when the work
    won the race, else 503), never a bare close or a hang; with --state
    nothing is half there at the next start."""
    d = os.path.join(t.tmp, "state")
    srv = t.server(extra=["--state", d])
    rate, secs = 44100, 300
    hdr = io.BytesIO()
    w = wave.open(hdr, "wb")
    w.setnchannels(2)
    w.setsampwidth(2)
    w.setframerate(rate)
    w.writeframes(b"")
    w.close()
    n = (rate * secs * 4) >> 16 << 16
    head = bytearray(hdr.getvalue())
    struct.pack_into("<I", head, 4, 36 + n)
    struct.pack_into("<I", head, 40, n)
    data = bytes(head) + os.urandom(1 << 16) * (n >> 16)
    tasks = "/proc/%d/task" % srv.proc.pid
    threads = len(os.listdir(tasks))
    s = socket.create_connection((HOST, srv.http), timeout=10)
    try:
        s.sendall(b"PUT /api/v1/resources/big HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: audio/wav\r\nContent-Length: %d\r\n\r\n"
                  % len(data) + data)
        # The body is in once the work's thread is there.
        wait_until(lambda: len(os.listdir(tasks)) > threads, 5,
                   "thread of the conversion", poll=0.002)
        t0 = time.monotonic()
        os.kill(srv.proc.pid, signal.SIGTERM)
        head, body = read_response(s, 5)
        info("%d MiB WAV: %r after SIGTERM (%.0f ms)"
             % (len(data) >> 20, head.split(b"\r\n")[0],
                (time.monotonic() - t0) * 1000))
    finally:
        s.close()
    check(head.split(b" ")[1:2] in ([b"201"], [b"503"]),
          "the answer: %r" % head[:100])
    try:
        rc = srv.proc.wait(2)
    except subprocess.TimeoutExpired:
        rc = None
    dt = time.monotonic() - t0
    info("exit %r %.0f ms after the SIGTERM" % (rc, dt * 1000))
    srv.stopped = (dt, None)
    check(rc == 0 and dt < 2, "SIGTERM while converting: exit %r after "
          "%.1f s; stderr: %s" % (rc, dt, srv.stderr_tail()))
    srv = t.server(extra=["--state", d])
    st, h, got = req(srv, "GET", "/r/big")
    check(st == 404 or got == data, "after the restart /r/big: %d, %d "
          "bytes" % (st, len(got)))
    check(sorted(os.listdir(os.path.join(d, "res"))) ==
          (["big.0"] if st == 200 else []), "DIR/res: %s"
          % os.listdir(os.path.join(d, "res")))
