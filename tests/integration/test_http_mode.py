"""HTTP mode: the Alert-Info URLs of a call, the served WAV resource
(Range, ETag, HEAD) and the call's events in the API and the JSON log."""

import io
import re
import wave

from cmrtest import (
    Fail, HOST, call_record, check, check_http_call_events, curl, raw_http,
    test)
from cmrtest_sip import run_call


@test
def call_http_mode(t):
    """HTTP-mode call: Alert-Info in the 180 and in the INVITE, BYE from
    the caller, the resource served with Range/ETag/HEAD, the call in the
    API and in the JSON log."""
    srv = t.server(plain="http")
    callee, caller = run_call(t.tmp, srv)
    m = re.search(r"ringback_url=(\S+)", caller.logs())
    check(m, "caller log has no ringback_url: %r" % caller.logs())
    bt = m.group(1)
    m = re.search(r"ringtone_url=(\S+)", callee.logs())
    check(m, "callee log has no ringtone_url: %r" % callee.logs())
    rt = m.group(1)
    prefix = "http://%s:%d/r/" % (HOST, srv.http)
    check(bt.startswith(prefix + "ringback-default?call="),
          "CMRBT URL %r does not start with %sringback-default?call="
          % (bt, prefix))
    check(rt.startswith(prefix + "ringtone-default?call="),
          "CMRT URL %r does not start with %sringtone-default?call="
          % (rt, prefix))
    check("BYE" in caller.messages() and "BYE" in callee.messages(),
          "BYE missing from the traces")

    rec = call_record(srv)
    call_param = bt.split("call=", 1)[1].split("&")[0]
    check(call_param == rec.get("id"),
          "URL call=%r but the API call id is %r" % (call_param,
                                                     rec.get("id")))
    check_http_call_events(srv, rec, "caller")

    # The resource itself (docs/api.md, /r/ID).
    st, h, body = curl(bt)
    check(st == 200, "GET %s: %d, expected 200" % (bt, st))
    check(h.get("content-type", "").split(";")[0].strip() == "audio/wav",
          "GET: Content-Type %r, expected audio/wav"
          % h.get("content-type"))
    total = len(body)
    check(h.get("content-length") == str(total),
          "GET: Content-Length %r but %d bytes came"
          % (h.get("content-length"), total))
    check(body[:4] == b"RIFF" and body[8:12] == b"WAVE",
          "GET: body is not RIFF/WAVE: %r" % body[:12])
    riff = int.from_bytes(body[4:8], "little")
    check(riff + 8 == total, "RIFF size %d + 8 != %d bytes" % (riff, total))
    try:
        w = wave.open(io.BytesIO(body))
        secs = w.getnframes() / float(w.getframerate())
    except (wave.Error, EOFError, ZeroDivisionError) as e:
        raise Fail("GET: not a readable WAV: %s" % e)
    check(secs >= 5.0, "ringback is %.2f s long, expected >= 5 s" % secs)
    etag = h.get("etag")
    check(etag, "GET: no ETag header")

    st, h2, part = curl(bt, "-H", "Range: bytes=0-99")
    check(st == 206, "Range 0-99: %d, expected 206" % st)
    check(part == body[:100], "Range 0-99: %d bytes, not the first 100"
          % len(part))
    check(h2.get("content-range") == "bytes 0-99/%d" % total,
          "Range 0-99: Content-Range %r, expected 'bytes 0-99/%d'"
          % (h2.get("content-range"), total))

    st, h3, b3 = curl(bt, "-H", "If-None-Match: %s" % etag)
    check(st == 304 and b3 == b"", "If-None-Match: %d with %d bytes, "
          "expected 304 and no body" % (st, len(b3)))

    st, _, _ = curl(bt, "-H", "Range: bytes=%d-" % (total + 1000))
    check(st == 416, "unsatisfiable Range: %d, expected 416" % st)

    st, _, _ = curl(prefix + "does-not-exist")
    check(st == 404, "GET /r/does-not-exist: %d, expected 404" % st)

    st, h4, b4 = curl(bt, "-I")
    check(st == 200, "HEAD: %d, expected 200" % st)
    check(h4.get("content-length") == str(total),
          "HEAD: Content-Length %r, expected %d"
          % (h4.get("content-length"), total))
    check(h4.get("content-type", "").startswith("audio/wav"),
          "HEAD: Content-Type %r" % h4.get("content-type"))
    # curl never reads a body after HEAD, so look at the raw bytes too.
    path = bt.split("%s:%d" % (HOST, srv.http), 1)[1]
    raw = raw_http(srv.http, ("HEAD %s HTTP/1.1\r\nHost: %s:%d\r\n"
                              "Connection: close\r\n\r\n"
                              % (path, HOST, srv.http)).encode())
    head, sep, rest = raw.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 200") and sep,
          "raw HEAD: %r" % raw[:80])
    check(rest == b"", "raw HEAD: %d bytes of body followed the headers"
          % len(rest))

    st, h5, b5 = curl(rt)
    check(st == 200 and b5[:4] == b"RIFF" and
          h5.get("content-type", "").startswith("audio/wav"),
          "GET CMRT URL: %d %r %r" % (st, h5.get("content-type"), b5[:4]))
