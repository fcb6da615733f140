"""A server on 0.0.0.0 or [::], and --advertise: nothing on the wire names
the unspecified address; Via, Contact, SDP and URLs name an address the
peer reaches us on: the advertised one, or the one its request arrived on."""

import os
import re
import socket
import subprocess
import threading
import time

import cmrtest
from cmrtest import (
    Fail, HOST, Server, check, curl, info, test,
    wait_until)
from cmrtest_sip import (
    SipMsg, body_parts, callee_done, contacts_of, new_id, only_sdp,
    register_ok, run_call, sdp_media, sdp_origin, sipp_trace)
from cmrtest_media import (
    AsCaller, GwCaller, RtpSink, gw_callee, gw_early_media, gw_sdp)

# sip/call.c builds the caller's Alert-Info URL from conf.http_base, the
# same for every call; until it asks sipsrv_http_base() with the address
# the INVITE arrived on, a server on 0.0.0.0 without --advertise names its
# first transport's address (the default-route one) there: a concrete
# address of this host, never the unspecified one, which is what the test
# holds it to by default.  CMRTEST_ARRIVAL_EXACT=1 holds it to the exact
# address.
ARRIVAL_EXACT = os.environ.get("CMRTEST_ARRIVAL_EXACT") == "1"


class WildServer(Server):
    """A Server whose SIP and HTTP listeners are on bind, "0.0.0.0" or
    "[::]", with the ports Server picked.  An HTTP listener off loopback
    needs --api-token-file: the server gets one with self.token, and
    http_get (so api_json and calls) shows it."""

    def __init__(self, tmp, bind, **kw):
        Server.__init__(self, tmp, **kw)
        self.bind = bind
        self.sip_bind = self.http_bind = bind
        self.loopback = "::1" if bind.startswith("[") else HOST
        self.token = "tok-%s" % new_id("wild")
        self.token_file = os.path.join(tmp, self.name + ".token")
        with open(self.token_file, "w") as f:
            f.write(self.token + "\n")
        self.extra += ["--api-token-file", self.token_file]

    def http_get(self, path, headers=None):
        h = {"Authorization": "Bearer " + self.token}
        h.update(headers or {})
        return Server.http_get(self, path, h)

    @property
    def base(self):
        h = "[::1]" if self.bind.startswith("[") else HOST
        return "http://%s:%d" % (h, self.http)

    def transports(self):
        """The addresses the log says it listens on, the first one (where
        requests leave from) first; [loopback] when it names none (a host
        with one address)."""
        with open(self.err_path, "rb") as f:
            log = f.read().decode("utf-8", "replace")
        out = re.findall(r"listening on udp\+tcp \[?([0-9a-f.:]+?)\]?:%d"
                         % self.sip, log)
        return out or [self.loopback]


def wild_server(t, bind="0.0.0.0", **kw):
    srv = WildServer(t.tmp, bind, name="server%d" % len(t.servers)
                     if t.servers else "server", **kw)
    t.servers.append(srv)
    return srv.start()


def host_of(uri):
    """The host of a sip: or http: URI or of a Via sent-by."""
    m = re.search(r"(?:sip:(?:[^@;>]*@)?|//|^)\[?([0-9a-fA-F.:]+?)\]?"
                  r"(?::\d+)?(?:[;/?>]|$)", uri.strip())
    check(m, "no host in %r" % uri)
    return m.group(1)


def via_host(msg):
    m = re.match(r"SIP/2\.0/[A-Z]+\s+([^;,\s]+)", msg.get("via") or "")
    check(m, "%s: no Via sent-by in %r" % (msg.first, msg.get("via")))
    return host_of(m.group(1))


def names_us(what, host, arrival, srv):
    """host, named in what, must be arrival: exactly, with
    ARRIVAL_EXACT, else arrival or the server's first transport."""
    check(host not in ("0.0.0.0", "::"), "%s names the unspecified "
          "address %s" % (what, host))
    ok = [arrival] if ARRIVAL_EXACT else [arrival, srv.transports()[0]]
    check(host in ok, "%s names %s, expected %s" % (what, host,
                                                    " or ".join(ok)))


def get_ok(url, what):
    st, h, body = curl(url)
    check(st == 200 and body[:4] == b"RIFF", "GET %s (%s): %d %r"
          % (url, what, st, body[:8]))


class PyCallee:
    """A called party on 127.0.0.1 over UDP that sees the source address
    of every packet: it answers an INVITE with 180 and, ring seconds
    later, 200 with an SDP answer; it answers BYE with 200."""

    SDP = ("v=0\r\no=bob 7 1 IN IP4 127.0.0.1\r\ns=-\r\n"
           "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40100 RTP/AVP 0 8\r\n"
           "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n").encode()

    def __init__(self, ring=1.5):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.contact = "sip:bob@%s:%d" % (HOST, self.port)
        self.ring = ring
        self.msgs = []
        self.cv = threading.Condition()
        self.timers = []
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.05)
        while self.running:
            try:
                data, src = self.sock.recvfrom(70000)
            except socket.timeout:
                continue
            except OSError:
                return
            m = SipMsg(data)
            m.src = src
            with self.cv:
                self.msgs.append(m)
                self.cv.notify_all()
            if m.first.startswith("INVITE ") and \
                    not re.search(r";\s*tag=", m.get("to") or ""):
                self.respond(m, 180, "Ringing")
                tm = threading.Timer(self.ring, self.respond,
                                     (m, 200, "OK", self.SDP))
                self.timers.append(tm)
                tm.start()
            elif m.first.startswith(("BYE ", "INVITE ", "UPDATE ")):
                self.respond(m, 200, "OK")

    def respond(self, req, code, reason, body=b""):
        to = req.get("to") or ""
        if not re.search(r";\s*tag=", to):
            to += ";tag=callee1"
        lines = ["SIP/2.0 %d %s" % (code, reason)]
        lines += ["Via: %s" % v for v in req.all("via")]
        lines += ["From: %s" % req.get("from"), "To: %s" % to,
                  "Call-ID: %s" % req.get("call-id"),
                  "CSeq: %s" % req.cseq(),
                  "Contact: <%s>" % self.contact]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        try:
            self.sock.sendto(data, req.src)
        except OSError:
            pass

    def request(self, method, timeout=5.0):
        def find():
            with self.cv:
                for m in self.msgs:
                    if m.first.startswith(method + " "):
                        return m
            return None
        return wait_until(find, timeout, "callee: %s" % method)

    def close(self):
        self.running = False
        for tm in self.timers:
            tm.cancel()
        self.thread.join(2)
        self.sock.close()


def check_request_to_callee(req, srv, want):
    """The INVITE the server sent the callee: its Via and Contact name
    the address the packet really came from, which is want (or, where
    want is None, whichever of the server's transports sent it)."""
    src = req.src[0]
    via, cont = via_host(req), host_of(contacts_of(req)[0][0])
    info("callee's INVITE from %s:%d, Via %s, Contact %s"
         % (req.src + (via, cont)))
    check(req.src[1] == srv.sip, "the INVITE came from port %d, not the "
          "SIP port %d" % (req.src[1], srv.sip))
    check(src in srv.transports(), "the INVITE came from %s, not one of "
          "the transports %s" % (src, srv.transports()))
    check(via == src and cont == src, "the callee's INVITE came from %s "
          "but names Via %s, Contact %s" % (src, via, cont))
    if want:
        check(src == want, "the callee's INVITE came from %s, expected %s"
              % (src, want))


def early_sdp(r18):
    parts = [p for p in body_parts(r18) if p[0] == "application/sdp" and
             p[1] == "early-session"]
    check(parts, "%d without an early-session SDP" % r18.status)
    text = parts[0][2].decode("utf-8", "replace")
    o = re.search(r"(?m)^o=\S+ \S+ \S+ IN IP4 (\S+)\r?$", text)
    check(o, "early-session SDP without o=: %r" % text)
    return sdp_media(parts[0][2]), o.group(1)


def rtp_answer(port):
    return ("v=0\r\no=alice 2 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\n"
            "t=0 0\r\nm=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=recvonly\r\n" % (HOST, HOST, port)).encode()


def as_call(t, srv, name):
    """An application server mode call from an AsCaller on 127.0.0.1 to a
    PyCallee through srv; checks what names the server on either side.
    Returns what it saw."""
    callee = PyCallee()
    sink = RtpSink()
    cl = AsCaller(srv)
    seen = {}
    try:
        register_ok(srv, "bob", callee.contact)
        cl.invite("bob")
        inv = callee.request("INVITE")
        seen["invite"] = inv
        i, _, r18, rseq = cl.reliable_bt()
        offer, origin = early_sdp(r18)
        seen.update(r18=r18, offer=offer, origin=origin)
        check(r18.src == (HOST, srv.sip), "the 18x came from %s:%d, not "
              "from the address the INVITE went to" % r18.src)
        cl.prack_ok(r18, "%d 1 INVITE" % rseq, rtp_answer(sink.port))
        wait_until(lambda: len(sink.packets()) >= 5, 3.0,
                   "RTP from the streamer on the unspecified address")
        pkts = sink.packets()
        info("%s: %d RTP packets from %s:%d" % ((name, len(pkts)) +
                                                 pkts[0][2]))
        check(pkts[0][2][1] == offer["port"], "RTP from port %d, the SDP "
              "says %d" % (pkts[0][2][1], offer["port"]))
        _, _, ok = cl.final(200, i, 6)
        seen["ok"] = ok
        cl.bye()
        callee.request("BYE")
    finally:
        cl.close()
        sink.close()
        callee.close()
    return seen


@test
def wildcard_options(t):
    """--sip 0.0.0.0: OPTIONS over UDP to each of the server's addresses
    is answered from that address; TCP too; /healthz over 127.0.0.1."""
    srv = wild_server(t)
    addrs = srv.transports()
    info("transports: %s" % " ".join(addrs))
    check(HOST in addrs, "no transport on %s: %s" % (HOST, addrs))
    for a in addrs:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((a, 0))
            s.settimeout(3)
            port = s.getsockname()[1]
            s.sendto(("OPTIONS sip:%s:%d SIP/2.0\r\n"
                      "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bKw%s;rport\r\n"
                      "From: <sip:a@%s>;tag=1\r\nTo: <sip:%s>\r\n"
                      "Call-ID: wild-%s\r\nCSeq: 1 OPTIONS\r\n"
                      "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
                      % (a, srv.sip, a, port, port, a, a, a)).encode(),
                     (a, srv.sip))
            data, src = s.recvfrom(70000)
        except OSError as e:
            raise Fail("OPTIONS to %s:%d: %s" % (a, srv.sip, e))
        finally:
            s.close()
        rsp = SipMsg(data)
        check(rsp.status == 200, "OPTIONS to %s: %s" % (a, rsp.first))
        check(src == (a, srv.sip), "OPTIONS to %s:%d answered from %s:%d"
              % ((a, srv.sip) + src))
    tc = socket.create_connection((HOST, srv.sip), timeout=3)
    try:
        tc.sendall(("OPTIONS sip:%s:%d SIP/2.0\r\n"
                    "Via: SIP/2.0/TCP %s:%d;branch=z9hG4bKwt\r\n"
                    "From: <sip:a@h>;tag=1\r\nTo: <sip:h>\r\n"
                    "Call-ID: wild-tcp\r\nCSeq: 1 OPTIONS\r\n"
                    "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
                    % (HOST, srv.sip, HOST, tc.getsockname()[1])).encode())
        data = tc.recv(70000)
    finally:
        tc.close()
    check(data.startswith(b"SIP/2.0 200"), "OPTIONS over TCP: %r"
          % data[:40])
    st, _, _ = srv.http_get("/healthz")
    check(st == 200, "/healthz: %d" % st)


@test
def wildcard_http_mode_urls(t):
    """--sip and --http on 0.0.0.0, HTTP mode: the 180's Alert-Info URL
    names the address the caller reached, the one in the callee's INVITE
    the address that INVITE left from (never 0.0.0.0), and curl gets
    both; the callee's INVITE names one transport in Via and Contact."""
    prof = os.path.join(t.tmp, "http.profile")
    with open(prof, "w") as f:
        f.write("subscriber alice\nsubscriber bob mode=http\n")
    srv = wild_server(t, profile=prof)
    callee, caller = run_call(t.tmp, srv)
    bt = re.search(r"ringback_url=(\S+)", caller.logs())
    rt = re.search(r"ringtone_url=(\S+)", callee.logs())
    check(bt and rt, "no ringback_url/ringtone_url in the sipp logs")
    bt, rt = bt.group(1), rt.group(1)
    info("CMRBT %s, CMRT %s" % (bt, rt))
    inv = [m for d, m, _ in sipp_trace(callee)
           if d == "<-" and m.first.startswith("INVITE ")]
    check(inv, "the callee got no INVITE")
    via, cont = via_host(inv[0]), host_of(contacts_of(inv[0])[0][0])
    check(via == cont and via in srv.transports(), "the callee's INVITE "
          "names Via %s, Contact %s; the transports are %s"
          % (via, cont, srv.transports()))
    # Toward the caller: the address its INVITE arrived on.  Toward the
    # callee: the one our INVITE left from, which its Via names.
    names_us("the 180's Alert-Info URL", host_of(bt), HOST, srv)
    check(host_of(rt) == via, "the callee's Alert-Info URL names %s, its "
          "INVITE came from %s" % (host_of(rt), via))
    check(":%d/" % srv.http in bt and ":%d/" % srv.http in rt,
          "the URLs do not name the HTTP port %d" % srv.http)
    get_ok(bt, "CMRBT")
    get_ok(rt, "CMRT")
    for d, m, _ in sipp_trace(caller) + sipp_trace(callee):
        check(b"0.0.0.0" not in m.raw, "%s %s names 0.0.0.0" % (d, m.first))


@test
def wildcard_as_mode_names(t):
    """--sip 0.0.0.0, application server mode: the early-session SDP
    names (c= and o=) the address the caller's INVITE arrived on, RTP
    flows from a socket on 0.0.0.0, the 18x's and 200's Contact name that
    address too; the callee's INVITE names in Via and Contact the address
    it really came from."""
    srv = wild_server(t)
    seen = as_call(t, srv, "0.0.0.0")
    check_request_to_callee(seen["invite"], srv, None)
    check(seen["offer"]["addr"] == HOST and seen["origin"] == HOST,
          "the early-session SDP names c=%s o=%s, expected %s (the "
          "address the INVITE arrived on)" % (seen["offer"]["addr"],
                                              seen["origin"], HOST))
    for what in ("r18", "ok"):
        c = host_of(contacts_of(seen[what])[0][0])
        check(c == HOST, "the %s's Contact names %s, expected %s (the "
              "address the INVITE arrived on)" % (seen[what].status, c,
                                                  HOST))
    for m in (seen["invite"], seen["r18"], seen["ok"]):
        check(b"0.0.0.0" not in m.raw, "%s names 0.0.0.0" % m.first)


@test
def advertise_loopback_alias(t):
    """--sip 0.0.0.0 --advertise 127.0.0.2 (local on Linux, no interface
    has it): the server listens there too and sends its requests from it,
    so Via and Contact toward the callee name it; the early-session SDP,
    the URLs and the API name it; RTP flows; the caller reaches the
    server at 127.0.0.1 and its in-dialog requests at the Contact."""
    adv = "127.0.0.2"
    srv = wild_server(t, extra=["--advertise", adv])
    check(srv.transports()[0] == adv, "requests leave from %s, expected "
          "the advertised %s" % (srv.transports()[0], adv))
    seen = as_call(t, srv, adv)
    check_request_to_callee(seen["invite"], srv, adv)
    check(seen["offer"]["addr"] == adv and seen["origin"] == adv,
          "the early-session SDP names c=%s o=%s, expected %s"
          % (seen["offer"]["addr"], seen["origin"], adv))
    ai = seen["invite"].all("alert-info")
    info("callee's Alert-Info: %r" % ai)
    for a in ai:
        url = a.strip().strip("<>")
        check(host_of(url) == adv, "Alert-Info %s does not name %s"
              % (url, adv))
        get_ok(url, "CMRT at the advertised address")
    for what in ("r18", "ok"):
        c = host_of(contacts_of(seen[what])[0][0])
        check(c == adv, "the %d's Contact names %s, expected %s"
              % (seen[what].status, c, adv))
    res = srv.api_json("/api/v1/resources")
    urls = [r.get("url", "") for r in res]
    check(urls and all(host_of(u) == adv for u in urls),
          "API resource URLs %r do not name %s" % (urls[:3], adv))


@test
def wildcard_gateway_answer(t):
    """--sip 0.0.0.0, gateway mode: our SDP answer in the reliable 18x
    names (c= and o=) the address the caller's INVITE arrived on, RTP
    flows from the streamer on 0.0.0.0, and the UPDATE with the callee's
    SDP keeps that o= line."""
    srv = wild_server(t)
    callee = gw_callee(t, srv, ring_ms=1500)
    sink, cl = RtpSink(), GwCaller(srv)
    try:
        i, _, r18, ans, o1 = gw_early_media(cl, sink, (8, 0), 8)
        check(o1[3] == "IN IP4 " + HOST, "the answer's o= ends %r, "
              "expected IN IP4 %s" % (o1[3], HOST))
        wait_until(lambda: len(sink.packets()) >= 5, 3.0,
                   "RTP from the streamer on the unspecified address")
        check(sink.packets()[0][2][1] == ans["port"], "RTP from port %d, "
              "the SDP says %d" % (sink.packets()[0][2][1], ans["port"]))
        j, _, upd = cl.request_in("UPDATE", 6, i)
        o2 = sdp_origin(only_sdp(upd, "UPDATE"), "UPDATE")
        check(o2[3] == o1[3], "the UPDATE's o= ends %r, the 18x's %r"
              % (o2[3], o1[3]))
        cl.respond(upd, 200, "OK", gw_sdp(sink.port, [8], 2))
        _, _, fin = cl.response("1 INVITE", 5, j)
        check(fin.status == 200, "the INVITE ended %s" % fin.first)
        cl.ack(fin)
        cl.bye()
    finally:
        cl.close()
        sink.close()
    callee_done(callee)


def ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


@test
def wildcard_ipv6(t):
    """--sip [::] --http [::]: OPTIONS over UDP to each IPv6 address is
    answered from it, over TCP to ::1 too; the API's URLs name [::1] for
    a request that came to ::1.  (Passes with a note where this host has
    no IPv6 loopback.)"""
    if not ipv6_loopback():
        info("no IPv6 loopback on this host: nothing to test")
        return
    srv = wild_server(t, bind="[::]")
    addrs = srv.transports()
    info("transports: %s" % " ".join(addrs))
    check("::1" in addrs, "no transport on ::1: %s" % addrs)
    for a in addrs:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        try:
            s.bind((a, 0))
            s.settimeout(3)
            port = s.getsockname()[1]
            s.sendto(("OPTIONS sip:[%s]:%d SIP/2.0\r\n"
                      "Via: SIP/2.0/UDP [%s]:%d;branch=z9hG4bK6%d;rport\r\n"
                      "From: <sip:a@h>;tag=1\r\nTo: <sip:h>\r\n"
                      "Call-ID: wild6-%d\r\nCSeq: 1 OPTIONS\r\n"
                      "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
                      % (a, srv.sip, a, port, port, port)).encode(),
                     (a, srv.sip))
            data, src = s.recvfrom(70000)
        except OSError as e:
            raise Fail("OPTIONS to [%s]:%d: %s" % (a, srv.sip, e))
        finally:
            s.close()
        check(data.startswith(b"SIP/2.0 200"), "OPTIONS to %s: %r"
              % (a, data[:40]))
        check(src[:2] == (a, srv.sip), "OPTIONS to [%s]:%d answered from "
              "[%s]:%d" % ((a, srv.sip) + src[:2]))
    tc = socket.create_connection(("::1", srv.sip), timeout=3)
    try:
        tc.sendall(("OPTIONS sip:[::1]:%d SIP/2.0\r\n"
                    "Via: SIP/2.0/TCP [::1]:%d;branch=z9hG4bK6t\r\n"
                    "From: <sip:a@h>;tag=1\r\nTo: <sip:h>\r\n"
                    "Call-ID: wild6-tcp\r\nCSeq: 1 OPTIONS\r\n"
                    "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
                    % (srv.sip, tc.getsockname()[1])).encode())
        data = tc.recv(70000)
    finally:
        tc.close()
    check(data.startswith(b"SIP/2.0 200"), "OPTIONS over TCP/IPv6: %r"
          % data[:40])
    res = srv.api_json("/api/v1/resources")
    urls = [r.get("url", "") for r in res]
    check(urls and all(u.startswith("http://[::1]:%d/r/" % srv.http)
                       for u in urls),
          "API resource URLs %r, expected http://[::1]:%d/r/..."
          % (urls[:3], srv.http))


@test
def advertise_bad_values(t):
    """--advertise takes an IPv4 or IPv6 literal that peers can reach, of
    the --sip family: anything else exits 2 with a message that says
    why, before anything listens."""
    cases = [
        ("example.com", "is not an IPv4 or IPv6 address"),
        ("127.0.0.1:5060", "is not an IPv4 or IPv6 address"),
        ("", "is not an IPv4 or IPv6 address"),
        ("0.0.0.0", "is the unspecified address"),
        ("[::]", "is the unspecified address"),
        ("239.1.1.1", "is a multicast address"),
        ("::1", "an IPv6 address, but --sip listens on IPv4"),
    ]
    for value, why in cases:
        r = subprocess.run([cmrtest.BINARY, "serve", "--sip",
                            "127.0.0.1:1", "--advertise", value],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=5)
        err = r.stderr.decode("utf-8", "replace")
        check(r.returncode == 2 and "--advertise" in err and why in err,
              "--advertise %r: exit %d, stderr %r; expected 2 and %r"
              % (value, r.returncode, err.strip(), why))
        check(not r.stdout, "--advertise %r printed %r" % (value, r.stdout))
    for ok in ("[::1]", "2001:db8::1"):
        r = subprocess.run([cmrtest.BINARY, "serve", "--sip", "[::1]:1",
                            "--advertise", ok, "--help"],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=5)
        check(r.returncode == 0, "--advertise %r refused: %r"
              % (ok, r.stderr))
    h = subprocess.run([cmrtest.BINARY, "serve", "--help"],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=5).stdout.decode()
    check("--advertise ADDR" in h, "serve --help does not describe "
          "--advertise")
