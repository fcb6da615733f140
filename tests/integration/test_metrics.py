"""/metrics: the Prometheus text format (0.0.4) read by a strict parser of
our own, and its figures after real calls, downloads and SIP traffic."""

import collections
import math
import re

from cmrtest import (
    HOST, Fail, call_of, call_record, check, info, test, wait_event,
    wait_until)
from cmrtest_sip import (
    SipClient, as_callee, callee_done, invite, run_call, sipp_trace)
from cmrtest_media import AsCaller, RtpSink


# ---- the text format -------------------------------------------------------

class PromError(Exception):
    pass


NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
TIMESTAMP = re.compile(r"-?\d+\Z")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"),
            "summary": ("_sum", "_count")}


def parse_value(s, where):
    """A sample value as Go's ParseFloat reads it, without the hex and
    underscore forms that no exposition needs."""
    if s in ("NaN", "+Inf", "-Inf"):
        return float(s.replace("Inf", "inf"))
    if not FLOAT.match(s):
        raise PromError("%s: value %r is not a float" % (where, s))
    return float(s)


def parse_labels(line, i, where):
    """The label set from line[i] == "{" on; returns (dict, index after
    the closing brace).  Values allow exactly the escapes \\\\, \\" and
    \\n."""
    labels = {}
    i += 1
    while True:
        if line[i:i + 1] == "}":
            return labels, i + 1
        m = LABEL.match(line, i)
        if not m:
            raise PromError("%s: bad label name at %r" % (where, line[i:]))
        name = m.group(0)
        if name.startswith("__"):
            raise PromError("%s: label name %r is reserved" % (where, name))
        if name in labels:
            raise PromError("%s: label %r twice" % (where, name))
        i = m.end()
        if line[i:i + 2] != '="':
            raise PromError("%s: label %s without =\"value\"" % (where, name))
        i += 2
        val = []
        while True:
            if i >= len(line):
                raise PromError("%s: label value of %s not closed"
                                % (where, name))
            c = line[i]
            if c == "\\":
                esc = line[i + 1:i + 2]
                if esc not in ("\\", '"', "n"):
                    raise PromError("%s: bad escape \\%s in label %s"
                                    % (where, esc, name))
                val.append("\n" if esc == "n" else esc)
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                val.append(c)
                i += 1
        labels[name] = "".join(val)
        if line[i:i + 1] == ",":
            i += 1
        elif line[i:i + 1] != "}":
            raise PromError("%s: expected , or } after label %s"
                            % (where, name))


def parse_help(doc, where):
    """A docstring of HELP: \\\\ and \\n are its only escapes."""
    out, i = [], 0
    while i < len(doc):
        if doc[i] == "\\":
            esc = doc[i + 1:i + 2]
            if esc not in ("\\", "n"):
                raise PromError("%s: bad escape \\%s in HELP" % (where, esc))
            out.append("\n" if esc == "n" else "\\")
            i += 2
        else:
            out.append(doc[i])
            i += 1
    return "".join(out)


class Metrics:
    """The parsed exposition: families {name: {"type", "help"}} and
    samples {(name, ((label, value), ...) sorted): value}."""

    def __init__(self, text):
        self.families = {}
        self.samples = collections.OrderedDict()
        self._parse(text)

    def _family_of(self, name, where):
        if name in self.families and self.families[name].get("type"):
            return name
        for typ, sfx in SUFFIXES.items():
            for s in sfx:
                base = name[:-len(s)]
                if name.endswith(s) and \
                        self.families.get(base, {}).get("type") == typ:
                    return base
        raise PromError("%s: sample %s belongs to no TYPE'd family"
                        % (where, name))

    def _enter(self, fam, where):
        """Every line of a family comes in one group."""
        if fam == self.current:
            return
        if fam in self.closed:
            raise PromError("%s: family %s comes again after other "
                            "families" % (where, fam))
        if self.current is not None:
            self.closed.add(self.current)
        self.current = fam

    def _parse(self, text):
        if text and not text.endswith("\n"):
            raise PromError("the last line does not end with a newline")
        self.current, self.closed = None, set()
        for n, line in enumerate(text.split("\n")[:-1], 1):
            where = "line %d" % n
            if not line.strip():
                continue                  # empty lines are ignored
            if line.startswith("#"):
                self._meta(line, where)
            else:
                self._sample(line, where)

    def _meta(self, line, where):
        parts = line.split(" ", 3)
        if len(parts) < 3 or parts[0] != "#" or parts[1] not in ("HELP",
                                                                   "TYPE"):
            return                        # a comment
        kw, name = parts[1], parts[2]
        rest = parts[3] if len(parts) > 3 else ""
        if not NAME.fullmatch(name):
            raise PromError("%s: %s of a bad metric name %r"
                            % (where, kw, name))
        self._enter(name, where)
        fam = self.families.setdefault(name, {})
        if kw == "HELP":
            if "help" in fam:
                raise PromError("%s: HELP of %s twice" % (where, name))
            fam["help"] = parse_help(rest, where)
            return
        if "type" in fam:
            raise PromError("%s: TYPE of %s twice" % (where, name))
        if fam.get("sampled"):
            raise PromError("%s: TYPE of %s after its samples"
                            % (where, name))
        if rest not in TYPES:
            raise PromError("%s: %s has type %r" % (where, name, rest))
        fam["type"] = rest

    def _sample(self, line, where):
        m = NAME.match(line)
        if not m:
            raise PromError("%s: no metric name at the start: %r"
                            % (where, line))
        name, i = m.group(0), m.end()
        labels = {}
        if line[i:i + 1] == "{":
            labels, i = parse_labels(line, i, where)
        rest = line[i:]
        if not rest[:1] in (" ", "\t"):
            raise PromError("%s: no blank before the value: %r"
                            % (where, line))
        fields = rest.split()
        if not 1 <= len(fields) <= 2 or rest != rest.rstrip():
            raise PromError("%s: expected a value and an optional "
                            "timestamp: %r" % (where, rest))
        value = parse_value(fields[0], where)
        if len(fields) == 2 and not TIMESTAMP.match(fields[1]):
            raise PromError("%s: bad timestamp %r" % (where, fields[1]))
        fam = self._family_of(name, where)
        self._enter(fam, where)
        self.families[fam]["sampled"] = True
        typ = self.families[fam]["type"]
        if typ == "counter":
            if not name.endswith("_total"):
                raise PromError("%s: counter %s does not end in _total"
                                % (where, name))
            if math.isnan(value) or value < 0:
                raise PromError("%s: counter %s is %r" % (where, name,
                                                         value))
        key = (name, tuple(sorted(labels.items())))
        if key in self.samples:
            raise PromError("%s: series %s%s twice" % (where, name, labels))
        self.samples[key] = value

    def get(self, name, **labels):
        """The value of one series; 0 for a series not (yet) there."""
        return self.samples.get((name, tuple(sorted(labels.items()))), 0)

    def series(self, name):
        """[(labels dict, value)] of every series of name."""
        return [(dict(k[1]), v) for k, v in self.samples.items()
                if k[0] == name]

    def total(self, name):
        return sum(v for _, v in self.series(name))


# What every answer has (each with HELP and TYPE); counters end in _total.
FAMILIES = {
    "cmrlab_calls_total": "counter",
    "cmrlab_calls_active": "gauge",
    "cmrlab_calls_ended_total": "counter",
    "cmrlab_sip_shed_total": "counter",
    "cmrlab_http_requests_total": "counter",
    "cmrlab_downloads_total": "counter",
    "cmrlab_download_bytes_total": "counter",
    "cmrlab_sip_requests_total": "counter",
    "cmrlab_sip_responses_total": "counter",
    "cmrlab_rtp_streams_active": "gauge",
    "cmrlab_rtp_packets_sent_total": "counter",
    "cmrlab_loop_lag_seconds": "gauge",
    "cmrlab_subscribers": "gauge",
    "cmrlab_resources": "gauge",
}


def scrape(srv):
    """GET /metrics, parsed and checked against FAMILIES."""
    st, h, body = srv.http_get("/metrics")
    check(st == 200, "GET /metrics: %d" % st)
    check(h.get("content-type") ==
          "text/plain; version=0.0.4; charset=utf-8",
          "GET /metrics: Content-Type %r" % h.get("content-type"))
    try:
        m = Metrics(body.decode("utf-8"))
    except (PromError, UnicodeDecodeError) as e:
        raise Fail("/metrics does not parse: %s" % e)
    for name, typ in FAMILIES.items():
        fam = m.families.get(name)
        check(fam and fam.get("type") == typ and fam.get("help"),
              "/metrics: family %s: %r, expected TYPE %s with a HELP"
              % (name, fam, typ))
    for name, fam in m.families.items():
        check(fam.get("help") and fam.get("type"), "/metrics: family %s "
              "without HELP or TYPE: %r" % (name, fam))
    lag = m.get("cmrlab_loop_lag_seconds")
    check(("cmrlab_loop_lag_seconds", ()) in m.samples and
          0 <= lag < 5, "cmrlab_loop_lag_seconds %r" % lag)
    return m


GOOD = r'''# a comment
# HELP x_total Things, with a \\ and a \n in the help.
# TYPE x_total counter
x_total{a="q\"uote",b="back\\slash",c="new\nline"} 1
x_total{a="2"} 1e3 1700000000000
x_total{a="3",} +Inf

# TYPE g gauge
g -0.5
g{l="NaN"} NaN
# TYPE h histogram
h_bucket{le="+Inf"} 2
h_sum 3.5
h_count 2
'''

BAD = [
    ("no TYPE", "# HELP a A.\na 1\n"),
    ("sample of another family", "# TYPE a gauge\nb 1\n"),
    ("bad metric name", "# TYPE 1a gauge\n1a 1\n"),
    ("bad label name", '# TYPE a gauge\na{1x="v"} 1\n'),
    ("reserved label name", '# TYPE a gauge\na{__x="v"} 1\n'),
    ("unescaped quote", '# TYPE a gauge\na{l="x"y"} 1\n'),
    ("bad escape", '# TYPE a gauge\na{l="x\\ty"} 1\n'),
    ("label value not closed", '# TYPE a gauge\na{l="x} 1\n'),
    ("labels not closed", '# TYPE a gauge\na{l="x" 1\n'),
    ("label twice", '# TYPE a gauge\na{l="x",l="y"} 1\n'),
    ("no value", "# TYPE a gauge\na\n"),
    ("value not a float", "# TYPE a gauge\na one\n"),
    ("value with two points", "# TYPE a gauge\na 1.2.3\n"),
    ("hex value", "# TYPE a gauge\na 0x10\n"),
    ("bad timestamp", "# TYPE a gauge\na 1 1.5\n"),
    ("trailing field", "# TYPE a gauge\na 1 2 3\n"),
    ("no blank before the value", '# TYPE a gauge\na{l="x"}1\n'),
    ("duplicate series", '# TYPE a gauge\na{l="x"} 1\na{l="x"} 2\n'),
    ("duplicate series, labels reordered",
     '# TYPE a gauge\na{l="x",m="y"} 1\na{m="y",l="x"} 2\n'),
    ("TYPE twice", "# TYPE a gauge\n# TYPE a gauge\na 1\n"),
    ("HELP twice", "# HELP a A.\n# HELP a A.\n# TYPE a gauge\na 1\n"),
    ("TYPE after samples", "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n"
     "# TYPE a gauge\n"),
    ("unknown type", "# TYPE a countr\na 1\n"),
    ("counter without _total", "# TYPE a counter\na 1\n"),
    ("negative counter", "# TYPE a_total counter\na_total -1\n"),
    ("family split", "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{l=\"x\"}"
     " 2\n"),
    ("bad HELP escape", "# HELP a A \\t.\n# TYPE a gauge\na 1\n"),
    ("no final newline", "# TYPE a gauge\na 1"),
]


@test
def metrics_parser_strict(t):
    """The test's own parser: a hand-written exposition with every
    allowed form parses to the right values, and each malformed text of a
    list is refused."""
    m = Metrics(GOOD)
    check(m.get("x_total", a='q"uote', b="back\\slash", c="new\nline") == 1,
          "escaped label values: %r" % list(m.samples))
    check(m.get("x_total", a="2") == 1000 and
          m.get("x_total", a="3") == float("inf"), "values: %r"
          % dict(m.samples))
    check(m.families["x_total"]["help"] ==
          "Things, with a \\ and a \n in the help.",
          "HELP %r" % m.families["x_total"]["help"])
    check(math.isnan(m.get("g", l="NaN")) and m.get("g") == -0.5,
          "gauge values")
    check(m.get("h_count") == 2, "histogram suffixes")
    for why, text in BAD:
        try:
            Metrics(text)
        except PromError as e:
            info("refused (%s): %s" % (why, e))
            continue
        raise Fail("the parser took a malformed exposition (%s): %r"
                   % (why, text))


# ---- the figures after real traffic ----------------------------------------

def sip_counts(sipps):
    """What the sipp parties sent and received, as the server must have
    counted it the other way round: (requests in by method, requests out,
    responses in by code, responses out)."""
    c = {k: collections.Counter() for k in ("req_in", "req_out", "rsp_in",
                                            "rsp_out")}
    for p in sipps:
        for d, msg, _ in sipp_trace(p):
            if msg.status:
                c["rsp_out" if d == "<-" else "rsp_in"][msg.status] += 1
            else:
                meth = msg.first.split(" ", 1)[0]
                c["req_out" if d == "<-" else "req_in"][meth] += 1
    return c


def check_sip(m, want, base=None):
    """The server's SIP counters against want (from sip_counts), on top
    of base (an earlier scrape)."""
    for key, fam, lab in (("req_in", "requests", "method"),
                          ("req_out", "requests", "method"),
                          ("rsp_in", "responses", "code"),
                          ("rsp_out", "responses", "code")):
        d = "in" if key.endswith("_in") else "out"
        name = "cmrlab_sip_%s_total" % fam
        seen = {lb[lab]: v - (base.get(name, **lb) if base else 0)
                for lb, v in m.series(name) if lb["direction"] == d}
        seen = {k: v for k, v in seen.items() if v}
        exp = {str(k): v for k, v in want[key].items()}
        info("%s %s: %s (the parties: %s)" % (fam, d, seen, exp))
        check(seen == exp, "%s %s by %s: %s, the parties' traces say %s"
              % (name, d, lab, seen, exp))


@test
def metrics_http_call(t):
    """An HTTP-mode call, a REGISTER, an INVITE to an unknown user and
    downloads of a resource: calls by modes and outcome, SIP requests by
    method and responses by code (the same as the sipp parties' traces),
    downloads by status and their bytes."""
    srv = t.server(plain="http")
    m0 = scrape(srv)
    check(m0.get("cmrlab_calls_total") == 0 and
          not m0.series("cmrlab_calls_ended_total") and
          not m0.series("cmrlab_downloads_total") and
          m0.total("cmrlab_sip_requests_total") == 0 and
          not m0.series("cmrlab_sip_responses_total") and
          m0.get("cmrlab_rtp_packets_sent_total") == 0,
          "a fresh server's figures: %r" % dict(m0.samples))
    check(len(m0.series("cmrlab_sip_requests_total")) == 30,
          "requests by method: %d series, expected 15 methods each way"
          % len(m0.series("cmrlab_sip_requests_total")))

    callee, caller = run_call(t.tmp, srv)
    rec = call_record(srv)
    rec = call_of(srv, rec["callid"])
    info("call %s: mode_bt %s, mode_rt %s, end %r" % (
        rec["id"], rec["mode_bt"], rec["mode_rt"], rec["end"]))
    check(rec["mode_bt"] == "http", "the call's mode_bt is %r"
          % rec["mode_bt"])

    m1 = scrape(srv)
    ended = m1.series("cmrlab_calls_ended_total")
    info("calls ended: %s" % ended)
    check(ended == [({"mode_bt": "http", "mode_rt": rec["mode_rt"],
                      "outcome": "answered"}, 1)],
          "cmrlab_calls_ended_total after one answered HTTP-mode call: %s"
          % ended)
    check(m1.get("cmrlab_calls_total") == 1 and
          m1.get("cmrlab_calls_active") == 0,
          "calls total %r, active %r" % (m1.get("cmrlab_calls_total"),
                                         m1.get("cmrlab_calls_active")))
    want = sip_counts([callee, caller])
    want["req_in"]["REGISTER"] += 1          # run_call's, from Python
    want["rsp_out"][200] += 1
    for meth in ("INVITE", "ACK", "BYE"):
        check(want["req_in"][meth] >= 1 and want["req_out"][meth] >= 1,
              "the traces have no %s each way: %s" % (meth, want))
    check(want["rsp_out"][180] >= 1 and want["rsp_out"][200] >= 3,
          "the traces: %s" % want["rsp_out"])
    check_sip(m1, want)

    # An unknown user: 404, refused before any mode was chosen.
    cl = SipClient(srv)
    try:
        r = invite(cl, "nosuchuser")
    finally:
        cl.close()
    check(r.status == 404, "INVITE to an unknown user: %s" % r.first)
    wait_until(lambda: scrape(srv).get("cmrlab_sip_requests_total",
                                       direction="in", method="ACK") >
               m1.get("cmrlab_sip_requests_total", direction="in",
                      method="ACK"), 3, "the ACK of the 404 counted")
    m2 = scrape(srv)
    check(m2.get("cmrlab_calls_ended_total", mode_bt="none", mode_rt="none",
                 outcome="refused") == 1,
          "the 404 call: %s" % m2.series("cmrlab_calls_ended_total"))
    check_sip(m2, {"req_in": collections.Counter(INVITE=1, ACK=1),
                   "req_out": collections.Counter(),
                   "rsp_in": collections.Counter(),
                   "rsp_out": collections.Counter({404: 1})}, base=m1)

    # Downloads: whole, a range, an unknown resource.
    st, _, body = srv.http_get("/r/ringback-default")
    check(st == 200 and len(body) > 1000, "GET /r/ringback-default: %d, %d "
          "bytes" % (st, len(body)))
    st, _, part = srv.http_get("/r/ringback-default",
                               {"Range": "bytes=0-99"})
    check(st == 206 and len(part) == 100, "Range: %d, %d bytes"
          % (st, len(part)))
    st, _, _ = srv.http_get("/r/nosuch")
    check(st == 404, "GET /r/nosuch: %d" % st)
    m3 = scrape(srv)
    dl = {lb["code"]: v for lb, v in m3.series("cmrlab_downloads_total")}
    info("downloads: %s, %d bytes" % (dl, m3.get(
        "cmrlab_download_bytes_total")))
    check(dl == {"200": 1, "206": 1, "404": 1},
          "cmrlab_downloads_total: %s, expected one 200, 206 and 404" % dl)
    check(m3.get("cmrlab_download_bytes_total") == len(body) + 100,
          "cmrlab_download_bytes_total %r, %d bytes came"
          % (m3.get("cmrlab_download_bytes_total"), len(body) + 100))


def sdp_answer(port, pt, user="alice"):
    """An early-session SDP answer: receive only, one codec."""
    name = {0: "PCMU", 8: "PCMA"}[pt]
    return ("v=0\r\no=%s 2 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP %d\r\na=rtpmap:%d %s/8000\r\na=recvonly\r\n"
            % (user, HOST, HOST, port, pt, pt, name)).encode()


def as_ringing(t, scenario, ring_ms):
    """An application server mode call up to its ringback streaming:
    (server, callee, sink, caller, index of the 18x)."""
    srv = t.server()
    callee = as_callee(t, srv, scenario, ring_ms=ring_ms)
    sink, cl = RtpSink(), AsCaller(srv)
    cl.invite("bob")
    i, _, r18, rseq = cl.reliable_bt()
    cl.prack_ok(r18, "%d 1 INVITE" % rseq, sdp_answer(sink.port, 0))
    wait_until(lambda: len(sink.packets()) >= 10, 3, "10 RTP packets")
    return srv, callee, sink, cl, i


@test
def metrics_as_call_rtp(t):
    """An application server mode call: one RTP stream active while it
    rings, none after; the packets counted are those the stream's
    rtp-stopped event reports; the call answered in mode as."""
    srv, callee, sink, cl, i = as_ringing(t, "uas_answer.xml", 2000)
    try:
        m1 = scrape(srv)
        info("while ringing: %d stream(s), %d packets" % (
            m1.get("cmrlab_rtp_streams_active"),
            m1.get("cmrlab_rtp_packets_sent_total")))
        check(m1.get("cmrlab_rtp_streams_active") == 1,
              "cmrlab_rtp_streams_active %r while the ringback streams"
              % m1.get("cmrlab_rtp_streams_active"))
        check(m1.get("cmrlab_rtp_packets_sent_total") >= 10,
              "cmrlab_rtp_packets_sent_total %r after 10 packets came"
              % m1.get("cmrlab_rtp_packets_sent_total"))
        check(m1.get("cmrlab_calls_active") == 1, "calls active %r"
              % m1.get("cmrlab_calls_active"))
        cl.final(200, i, 7)
        ev = wait_event(srv, "rtp-stopped", dir="bt")
        sink.sync()
        m2 = scrape(srv)
        check(m2.get("cmrlab_rtp_streams_active") == 0,
              "cmrlab_rtp_streams_active %r after the 200"
              % m2.get("cmrlab_rtp_streams_active"))
        check(m2.get("cmrlab_rtp_packets_sent_total") == ev["packets"] ==
              len(sink.packets()),
              "cmrlab_rtp_packets_sent_total %r, the rtp-stopped event "
              "says %r, %d arrived" % (
                  m2.get("cmrlab_rtp_packets_sent_total"), ev["packets"],
                  len(sink.packets())))
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)
    rec = call_of(srv, cl.call_id)
    # The call's record sums its media from the same events.
    media = rec.get("media", {})
    streams = sum(1 for e in rec["events"] if e["what"] == "rtp-started")
    check(media.get("rtp_packets") == ev["packets"] and
          media.get("rtp_octets") == ev["octets"] and
          media.get("rtp_streams") == streams >= 1 and
          media.get("downloads") == 0,
          "the call's media %r: rtp-stopped says %d packets, %d octets; "
          "%d stream(s) started" % (media, ev["packets"], ev["octets"],
                                    streams))
    m3 = scrape(srv)
    ended = m3.series("cmrlab_calls_ended_total")
    check(ended == [({"mode_bt": "as", "mode_rt": rec["mode_rt"],
                      "outcome": "answered"}, 1)],
          "cmrlab_calls_ended_total: %s" % ended)
    check(m3.get("cmrlab_sip_requests_total", direction="in",
                 method="PRACK") == 1,
          "PRACKs in: %r" % m3.get("cmrlab_sip_requests_total",
                                   direction="in", method="PRACK"))


@test
def metrics_call_outcomes(t):
    """Two calls that ring with ringback and end otherwise: the caller's
    CANCEL (outcome cancelled, 487 sent) and the callee's 486 (outcome
    rejected, 486 received and sent)."""
    for scenario, outcome, code in (("uas_ring_cancel.xml", "cancelled",
                                     487),
                                    ("uas_ring_busy.xml", "rejected", 486)):
        srv, callee, sink, cl, i = as_ringing(t, scenario, 1500)
        try:
            if outcome == "cancelled":
                cl.cancel_487(i)
            else:
                cl.final(486, i, 5)
        finally:
            cl.close()
            sink.close()
        callee_done(callee)
        rec = call_of(srv, cl.call_id)
        wait_until(lambda: scrape(srv).get(
            "cmrlab_rtp_streams_active") == 0, 2, "the stream stopped")
        m = scrape(srv)
        ended = m.series("cmrlab_calls_ended_total")
        info("%s: %s" % (scenario, ended))
        check(ended == [({"mode_bt": "as", "mode_rt": rec["mode_rt"],
                          "outcome": outcome}, 1)],
              "%s: cmrlab_calls_ended_total %s, expected outcome %s"
              % (scenario, ended, outcome))
        check(m.get("cmrlab_sip_responses_total", direction="out",
                    code=str(code)) >= 1,
              "%s: no %d sent: %s" % (scenario, code,
                                      m.series("cmrlab_sip_responses_total")))
        if outcome == "rejected":
            check(m.get("cmrlab_sip_responses_total", direction="in",
                        code="486") >= 1, "no 486 received")
        check(m.get("cmrlab_rtp_packets_sent_total") > 0,
              "no RTP packets counted")
