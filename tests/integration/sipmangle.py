#!/usr/bin/env python3
'''sipmangle: a stateless SIP proxy over UDP between cmrlab conform (or
cmrlab call) and a CMR Server, which breaks one clause on the way.

The box sends everything to the proxy (its --target); the proxy passes
each message on as a stateless proxy does (RFC 3261 16.11): a request
gets a Via of ours on top and goes to the server, or, when its
Request-URI is one of our Contacts, to the address that Contact stands
for; a response loses our Via and goes to the next one's address.  Every
Contact that passes is rewritten to point at the proxy, the original
encoded in the user part (sip:mg-HEX@PROXY), and restored when it comes
back (a Request-URI, or the Contact list of a REGISTER's 200): so the
server's requests to the box (INVITE to the callee, PRACK, UPDATE,
re-INVITE, BYE) and the box's in-dialog requests all come through here.

With no rule the proxy is transparent.  A rule (RULES, by name) is a
list of steps: a selector of the catalogue's grammar (sip/conform.h,
from the box's side: "caller<18x" is an 18x the box's calling party
receives, "callee>200/PRACK" a 200 (PRACK) the called party sends) and
an action with its arguments.  Each message that passes is matched
against every step in order and changed by those that match: headers
dropped, replaced or edited, a body part stripped, an SDP line edited,
the message held back until another one has passed, duplicated,
answered here, or acknowledged here (a PRACK of our own).  Where a rule
needs media, the proxy relays RTP: it rewrites the port of the box's SDP
to one of its own, passes the server's packets on from there, and can
keep sending after the final response.

As a module: Mangler(server_port, rule=NAME).start(); .port, .fired,
.log, .close().  As a program (for a look at what passes):

    python3 sipmangle.py --server 127.0.0.1:5060 [--port P] [--rule NAME]
                         [--list] [-v]

Only the Python standard library is used.
'''

import argparse
import hashlib
import heapq
import re
import select
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"
PREFIX = "mg-"             # the user part of a Contact we encode
KEEP_MS = 600              # RTP kept going after the final response

COMPACT = {"v": "via", "m": "contact", "l": "content-length",
           "c": "content-type", "i": "call-id", "f": "from", "t": "to",
           "k": "supported", "e": "content-encoding", "s": "subject"}


# ---- the rule table -------------------------------------------------------
#
# name: (what the fault is, [(selector, action, args...), ...]).  The
# actions are the Mangler's act_* methods (below).  Each rule breaks one
# clause of the server catalogue; test_conform_server.py names the case.

RULES = {
    # OMA CMR 1.1.1.3, HTTP mode
    "no-url-18x": (
        "the 18x to the caller has no Alert-Info",
        [("caller<18x", "drop_hdr", "Alert-Info")]),
    "bad-url-18x": (
        "the URL in the 18x to the caller names no resource (404)",
        [("caller<18x", "hdr_sub", "Alert-Info", r"/r/[^>?;]*",
          "/r/sipmangle-missing")]),
    "no-url-invite": (
        "the INVITE to the callee has no Alert-Info",
        [("callee<INVITE", "drop_hdr", "Alert-Info")]),
    "bad-url-invite": (
        "the URL in the INVITE to the callee names no resource (404)",
        [("callee<INVITE", "hdr_sub", "Alert-Info", r"/r/[^>?;]*",
          "/r/sipmangle-missing")]),
    "require-es-18x": (
        "the 18x to a caller that supports nothing requires "
        "early-session",
        [("caller<18x", "add_hdr", "Require", "early-session")]),
    # OMA CMR 1.1.1.7, application server mode
    "no-es-offer-18x": (
        "the reliable 18x to the caller loses its early-session offer",
        [("caller<18x", "strip_part", "early-session")]),
    "no-require-es-18x": (
        "the 18x with the early-session offer lacks early-session in "
        "Require",
        [("caller<18x", "tok_del", "Require", "early-session")]),
    "es-answer-lost-bt": (
        "the resource plays to another port than the caller's "
        "early-session answer",
        [("caller>PRACK", "sdp_port", "early-session", "sink")]),
    "tone-after-final-bt": (
        "the early-session RTP to the caller goes on after the 200",
        [("caller>PRACK", "relay", "early-session"),
         ("caller<200/INVITE", "keep_tone", "caller")]),
    "no-es-offer-prack": (
        "the PRACK to the callee loses its early-session offer",
        [("callee<PRACK", "strip_part", "early-session")]),
    "no-require-es-prack": (
        "the PRACK with the early-session offer lacks early-session in "
        "Require",
        [("callee<PRACK", "tok_del", "Require", "early-session")]),
    "es-answer-lost-rt": (
        "the resource plays to another port than the callee's "
        "early-session answer",
        [("callee>200/PRACK", "sdp_port", "early-session", "sink")]),
    "tone-after-final-rt": (
        "the early-session RTP to the callee goes on after its 200",
        [("callee>200/PRACK", "relay", "early-session"),
         ("callee>200/INVITE", "keep_tone", "callee")]),
    # RFC 3262 under application server mode
    "rseq-zero": (
        "the first reliable 18x to the caller has RSeq 0 (its PRACK's "
        "RAck is mended on the way back)",
        [("caller<rel18x", "rseq_shift"),
         ("caller>PRACK", "rack_unshift")]),
    "2xx-before-prack": (
        "the caller gets the 200 (INVITE) before its reliable 18x: the "
        "proxy holds the 18x and PRACKs it itself",
        [("caller<rel18x", "prack_self"),
         ("caller<18x", "hold", "caller<200/INVITE"),
         ("caller>PRACK", "answer", 200)]),
    "2xx-before-prack-gw": (
        "the caller gets its 18x at once but not reliably, the reliable "
        "one only after the 200 (INVITE): the proxy PRACKs it and "
        "answers the UPDATE itself",
        [("caller>INVITE", "keep_sdp"),
         ("caller<rel18x", "prack_self"),
         ("caller<rel18x", "unrel_copy", "caller<200/INVITE"),
         ("caller<UPDATE", "answer", 200, "sdp"),
         ("caller>PRACK", "answer", 200)]),
    "rack-wrong-cseq": (
        "a PRACK whose RAck names another CSeq reaches the callee "
        "before the right one",
        [("callee<PRACK", "bad_rack_first")]),
    # OMA CMR 1.1.1.10, gateway mode
    "answer-extra-m": (
        "the SDP of the 18x to the caller has an m-line more than the "
        "offer",
        [("caller<18x", "sdp_append", "session", "m=video 0 RTP/AVP 31")]),
    "pem-sendonly": (
        "the 18x to the caller says P-Early-Media: sendonly",
        [("caller<18x", "set_hdr", "P-Early-Media", "sendonly")]),
    "no-100rel-18x": (
        "the 18x to the caller is not reliable (no 100rel, no RSeq): "
        "the proxy PRACKs it and answers the UPDATE itself",
        [("caller>INVITE", "keep_sdp"),
         ("caller<rel18x", "prack_self"),
         ("caller<18x", "tok_del", "Require", "100rel"),
         ("caller<18x", "drop_hdr", "RSeq"),
         ("caller<UPDATE", "answer", 200, "sdp")]),
    "offer-lost-gw": (
        "the resource plays to another port than the caller's offer",
        [("caller>INVITE", "sdp_port", "session", "sink")]),
    "tone-after-final-gw": (
        "the early media to the caller goes on after the 200",
        [("caller>INVITE", "relay", "session"),
         ("caller<18x", "relay_peer", "session"),
         ("caller<200/INVITE", "keep_tone", "caller")]),
    "update-other-port": (
        "the UPDATE to the caller names another port than the callee's "
        "answer",
        [("caller<UPDATE", "sdp_port", "session", "+2")]),
    "final-with-sdp": (
        "the 200 (INVITE) to the caller carries the callee's SDP",
        [("callee>200/INVITE", "keep_sdp"),
         ("caller<200/INVITE", "add_sdp")]),
    "update-before-prack-200": (
        "the caller gets the UPDATE before the 200 (PRACK)",
        [("caller<200/PRACK", "hold", "caller<UPDATE")]),
    "pem-in-final": (
        "the 200 (INVITE) to the caller has P-Early-Media: supported, a "
        "request's value",
        [("caller<200/INVITE", "add_hdr", "P-Early-Media", "supported")]),
    "update-version-jump": (
        "the o= version of the UPDATE to the caller is 5 higher",
        [("caller<UPDATE", "sdp_over", 5)]),
    "other-sdp-18x": (
        "the caller gets a copy of the 18x whose SDP names another port",
        [("caller<18x", "dup_sdp_port", "+2")]),
    "reinvite-other-port": (
        "the re-INVITE to the caller names another port than the "
        "callee's answer",
        [("caller<reINVITE", "sdp_port", "session", "+2")]),
    "reinvite-version-jump": (
        "the o= version of the re-INVITE to the caller is 5 higher",
        [("caller<reINVITE", "sdp_over", 5)]),
}


# ---- SIP messages --------------------------------------------------------

def canon(name):
    n = name.strip().lower()
    return COMPACT.get(n, n)


def split_list(val):
    """A header value's comma-separated elements, commas inside quotes
    and <> left alone."""
    out, cur, q, a = [], "", False, False
    for ch in val:
        if ch == '"':
            q = not q
        elif ch == "<" and not q:
            a = True
        elif ch == ">" and not q:
            a = False
        elif ch == "," and not q and not a:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def hparam(val, name):
    """A header parameter (after the URI's <>) such as tag or branch."""
    rest = val.rsplit(">", 1)[1] if ">" in val else val
    m = re.search(r";\s*%s=([^;,\s]+)" % re.escape(name), rest, re.I)
    return m.group(1) if m else None


class Msg:
    """A SIP message: its start line, its headers in order ([name,
    value]), its body; encode() writes it back, Content-Length mended
    when the body changed."""

    def __init__(self, data):
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            head, sep, body = data.partition(b"\n\n")
        lines = head.decode("utf-8", "surrogateescape").replace(
            "\r\n", "\n").split("\n")
        self.first = lines[0]
        self.hdrs = []
        for l in lines[1:]:
            if l[:1] in (" ", "\t") and self.hdrs:
                self.hdrs[-1][1] += " " + l.strip()
                continue
            name, _, val = l.partition(":")
            self.hdrs.append([name.strip(), val.strip()])
        p = self.first.split(" ", 2)
        self.req = not p[0].startswith("SIP/")
        if self.req:
            self.method, self.uri = p[0], p[1]
            self.status = 0
        else:
            self.status = int(p[1])
            self.method = None
        cl = self.get("Content-Length")
        if cl is not None and cl.strip().isdigit():
            body = body[:int(cl)]
        self.body = body
        self.body_changed = False

    # -- headers --
    def idx(self, name):
        c = canon(name)
        return [i for i, h in enumerate(self.hdrs) if canon(h[0]) == c]

    def get(self, name):
        i = self.idx(name)
        return self.hdrs[i[0]][1] if i else None

    def getall(self, name):
        return [self.hdrs[i][1] for i in self.idx(name)]

    def values(self, name):
        return [v for h in self.getall(name) for v in split_list(h)]

    def remove(self, name):
        c = canon(name)
        self.hdrs = [h for h in self.hdrs if canon(h[0]) != c]

    def set(self, name, value):
        i = self.idx(name)
        if not i:
            self.add(name, value)
            return
        self.hdrs[i[0]][1] = value
        for k in reversed(i[1:]):
            del self.hdrs[k]

    def add(self, name, value):
        """Appends a header line, before Content-Length when there is
        one (so that it stays the last, as most stacks write it)."""
        i = self.idx("Content-Length")
        self.hdrs.insert(i[0] if i else len(self.hdrs), [name, value])

    def set_body(self, body, ctype=None):
        self.body = body
        self.body_changed = True
        if ctype:
            self.set("Content-Type", ctype)
        elif not body:
            self.remove("Content-Type")
            self.remove("Content-Disposition")

    @property
    def callid(self):
        return self.get("Call-ID") or ""

    def cseq(self):
        v = (self.get("CSeq") or "0 ?").split()
        return int(v[0]) if v[0].isdigit() else 0, v[1] if len(v) > 1 else ""

    def to_tag(self):
        return hparam(self.get("To") or "", "tag")

    def start_line(self):
        if self.req:
            return "%s %s SIP/2.0" % (self.method, self.uri)
        return self.first

    def encode(self):
        if self.body_changed or self.get("Content-Length") is None:
            self.set("Content-Length", str(len(self.body)))
        out = self.start_line() + "\r\n" + "".join(
            "%s: %s\r\n" % (n, v) for n, v in self.hdrs) + "\r\n"
        return out.encode("utf-8", "surrogateescape") + self.body

    def summary(self):
        n, met = self.cseq()
        if self.req:
            return "%s (CSeq %d)" % (self.method, n)
        return "%d/%s (CSeq %d)%s" % (self.status, met, n,
                                     " RSeq %s" % self.get("RSeq")
                                     if self.get("RSeq") else "")


# ---- bodies: the session and early-session SDP --------------------------

def _ctype(msg):
    return (msg.get("Content-Type") or "").strip()


def body_parts(msg):
    """[(disposition, headers text, content bytes)] of the body: one
    part for application/sdp, the parts of a multipart/mixed; None for
    anything else (or no body)."""
    ct = _ctype(msg)
    if not msg.body or not ct:
        return None
    if ct.lower().startswith("application/sdp"):
        disp = (msg.get("Content-Disposition") or "session").split(";")[0]
        return [(disp.strip().lower(), None, msg.body)]
    m = re.search(r'boundary="?([^";]+)"?', ct, re.I)
    if not ct.lower().startswith("multipart/") or not m:
        return None
    bnd = b"--" + m.group(1).encode()
    out = []
    for chunk in msg.body.split(bnd)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        chunk = chunk[:-2] if chunk.endswith(b"\r\n") else chunk
        h, _, c = chunk.partition(b"\r\n\r\n")
        ht = h.decode("utf-8", "replace")
        d = re.search(r"^content-disposition:\s*([^;\r\n]+)", ht, re.I | re.M)
        out.append(((d.group(1).strip().lower() if d else "session"), ht, c))
    return out


def set_parts(msg, parts):
    """The body from parts (as body_parts gives them): one part goes as
    the body itself, two or more as multipart/mixed."""
    if not parts:
        msg.set_body(b"")
        return
    if len(parts) == 1:
        disp, _, c = parts[0]
        msg.set_body(c, "application/sdp")
        if disp == "session":
            msg.remove("Content-Disposition")
        else:
            msg.set("Content-Disposition", "%s;handling=required" % disp)
        return
    bnd = "sipmangle-" + hashlib.md5(b"".join(p[2] for p in parts)
                                     ).hexdigest()[:16]
    body = b""
    for disp, ht, c in parts:
        ht = ht or ("Content-Type: application/sdp\r\n"
                    "Content-Disposition: %s" % disp)
        body += b"--" + bnd.encode() + b"\r\n" + ht.encode() + \
            b"\r\n\r\n" + c + b"\r\n"
    body += b"--" + bnd.encode() + b"--\r\n"
    msg.remove("Content-Disposition")
    msg.set_body(body, "multipart/mixed;boundary=%s" % bnd)


def get_sdp(msg, disp):
    for d, _, c in body_parts(msg) or ():
        if d == disp:
            return c.decode("utf-8", "replace")
    return None


def put_sdp(msg, disp, sdp):
    parts = body_parts(msg) or []
    parts = [(d, h, sdp.encode() if d == disp else c) for d, h, c in parts]
    set_parts(msg, parts)


def sdp_media(sdp):
    """(c= address, first m= port) of an SDP (the m-line's own c= first)."""
    addr, port, in_m = None, None, False
    for l in sdp.splitlines():
        if l.startswith("m=") and port is None:
            port = int(l.split()[1])
            in_m = True
        elif l.startswith("m="):
            break
        elif l.startswith("c="):
            if in_m or addr is None:
                addr = l.split()[-1]
    return addr, port


def sdp_set_media(sdp, addr, port):
    """The SDP with its first m= port and every c= address set."""
    out, done = [], False
    for l in sdp.splitlines(True):
        if l.startswith("m=") and not done:
            f = l.split(" ")
            f[1] = str(port)
            l = " ".join(f)
            done = True
        elif l.startswith("c=") and addr:
            eol = l[len(l.rstrip("\r\n")):]
            l = " ".join(l.rstrip("\r\n").split()[:2] + [addr]) + eol
        out.append(l)
    return "".join(out)


# ---- URIs and Vias --------------------------------------------------------

URI_RE = re.compile(r"^(sips?):(?:([^@;?]*)@)?(\[[^\]]+\]|[^:;?>]+)"
                    r"(?::(\d+))?(.*)$", re.I)


def uri_parts(uri):
    """(scheme, user, host, port, rest) of a SIP URI, or None."""
    m = URI_RE.match(uri.strip())
    if not m:
        return None
    return (m.group(1), m.group(2), m.group(3),
            int(m.group(4)) if m.group(4) else 5060, m.group(5))


def via_dest(via):
    """Where a response goes by this Via: received= and rport= first."""
    sent = via.split(";")[0].split()[-1]
    host, _, port = sent.partition(":")
    host = hparam(via, "received") or host
    rport = hparam(via, "rport")
    port = int(rport) if rport and rport.isdigit() else \
        int(port) if port else 5060
    return host, port


def top_via(msg):
    v = msg.values("Via")
    return v[0] if v else ""


def pop_via(msg):
    i = msg.idx("Via")
    if not i:
        return
    elems = split_list(msg.hdrs[i[0]][1])
    if len(elems) > 1:
        msg.hdrs[i[0]][1] = ", ".join(elems[1:])
    else:
        del msg.hdrs[i[0]]


# ---- RTP --------------------------------------------------------------------

class Relay:
    """One RTP relay for one media address of the box: the server's
    packets go on to the box from here, the box's to the server's last
    source (or the address the server's SDP named)."""

    def __init__(self, mg, box):
        self.mg, self.box = mg, box
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.peer = None
        self.last = None           # the last packet to the box
        self.keep_until = None
        self.n_in = self.n_kept = 0

    def rx(self, data, src):
        if src == self.box:
            if self.peer:
                self.mg.sendto(self.sock, data, self.peer)
            return
        self.peer = self.peer or src
        self.n_in += 1
        self.last = data
        self.mg.sendto(self.sock, data, self.box)

    def keep(self, ms):
        """Sends on, 20 ms apart, for ms: the last packet again with the
        next sequence number and timestamp."""
        if self.keep_until is None:
            self.keep_until = time.monotonic() + ms / 1000.0
            self.mg.at(0.02, self._tick)

    def _tick(self):
        if not self.last or time.monotonic() >= self.keep_until:
            return
        b = bytearray(self.last)
        if len(b) >= 12:
            seq, ts = struct.unpack("!HI", bytes(b[2:8]))
            struct.pack_into("!HI", b, 2, (seq + 1) & 0xffff,
                             (ts + 160) & 0xffffffff)
        self.last = bytes(b)
        self.n_kept += 1
        self.mg.sendto(self.sock, self.last, self.box)
        self.mg.at(0.02, self._tick)


# ---- the proxy --------------------------------------------------------------

class Mangler:
    """The proxy (module docstring).  server_port: the CMR Server's SIP
    port on HOST; rule: a name of RULES or None (transparent)."""

    def __init__(self, server_port, rule=None, port=0, verbose=False):
        if rule and rule not in RULES:
            raise ValueError("no rule %r" % rule)
        self.server = (HOST, server_port)
        self.rule = rule
        self.steps = [(s[0], s[1], s[2:]) for s in
                      (RULES[rule][1] if rule else ())]
        self.fired = [0] * len(self.steps)
        self.verbose = verbose
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, port))
        self.port = self.sock.getsockname()[1]
        self.sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sink.bind((HOST, 0))
        self.sink_port = self.sink.getsockname()[1]
        self.wake_r, self.wake_w = socket.socketpair()
        self.socks = {self.sock: self._sip_rx, self.sink: None,
                      self.wake_r: None}
        self.timers = []
        self.tseq = 0
        self.t0 = time.monotonic()
        self.stopping = False
        self.thread = None
        self.lock = threading.Lock()
        self.log = []              # (t, "caller<", summary, [actions])
        self.errors = []
        # what the rules remember
        self.legs = {}             # Call-ID: "caller" or "callee"
        self.inv_cseq = {}         # Call-ID: the initial INVITE's CSeq
        self.relays = {}           # box (addr, port): Relay
        self.held = []             # [(release selector, Msg, dest)]
        self.state = {}

    # -- the loop --
    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name="sipmangle")
        self.thread.start()
        return self

    def close(self):
        self.stopping = True
        try:
            self.wake_w.send(b"x")
        except OSError:
            pass
        if self.thread:
            self.thread.join(timeout=5)
        for s in list(self.socks) + [self.wake_w]:
            s.close()

    def at(self, delay, fn, *args):
        with self.lock:
            self.tseq += 1
            heapq.heappush(self.timers, (time.monotonic() + delay,
                                         self.tseq, fn, args))

    def _run(self):
        while not self.stopping:
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, fn, args = heapq.heappop(self.timers)
                self._guard(fn, *args)
            wait = min(0.2, max(0.0, self.timers[0][0] - now)) \
                if self.timers else 0.2
            r, _, _ = select.select(list(self.socks), [], [], wait)
            for s in r:
                try:
                    data, src = s.recvfrom(65535)
                except OSError:
                    continue
                h = self.socks.get(s)
                if h:
                    self._guard(h, data, src)

    def _guard(self, fn, *args):
        try:
            fn(*args)
        except Exception as e:   # one bad message must not stop the proxy
            import traceback
            self.errors.append("%s: %s" % (type(e).__name__, e))
            if self.verbose:
                traceback.print_exc()

    def sendto(self, sock, data, dest):
        try:
            sock.sendto(data, dest)
        except OSError as e:
            self.errors.append("send to %s:%d: %s" % (dest[0], dest[1], e))

    def note(self, d, party, msg, acts):
        t = time.monotonic() - self.t0
        self.log.append((t, "%s%s" % (party or "-", d), msg.summary(),
                         acts))
        if self.verbose:
            print("%7.3f %-8s %s%s" % (t, "%s%s" % (party or "-", d),
                                       msg.start_line()[:70],
                                       "  [%s]" % ", ".join(acts)
                                       if acts else ""))
            sys.stdout.flush()

    # -- Contacts --
    def enc(self, uri):
        return "sip:%s%s@%s:%d" % (PREFIX, uri.encode().hex(), HOST,
                                   self.port)

    def dec(self, uri):
        """The URI one of our Contacts stands for, or None."""
        p = uri_parts(uri)
        if not p or not p[1] or not p[1].startswith(PREFIX) or \
                p[3] != self.port:
            return None
        try:
            return bytes.fromhex(p[1][len(PREFIX):]).decode()
        except ValueError:
            return None

    def swap_contacts(self, msg):
        """Ours back to the original, any other to one of ours."""
        for i in msg.idx("Contact"):
            out = []
            for c in split_list(msg.hdrs[i][1]):
                m = re.match(r"^([^<]*<)([^>]*)(>.*)$", c)
                if m:
                    pre, uri, post = m.groups()
                else:
                    uri, _, post = c.partition(";")
                    pre, post = "", ";" + post if post else ""
                    if uri.strip() == "*":
                        out.append(c)
                        continue
                d = self.dec(uri)
                out.append(pre + (d if d else self.enc(uri)) + post)
            msg.hdrs[i][1] = ", ".join(out)

    # -- what a message is --
    def party_of(self, msg, from_box):
        cid = msg.callid
        if msg.req and msg.method == "INVITE" and not msg.to_tag() and \
                cid not in self.legs:
            self.legs[cid] = "caller" if from_box else "callee"
            self.inv_cseq[cid] = msg.cseq()[0]
        return self.legs.get(cid)

    def match(self, sel, msg, party, rx):
        m = re.match(r"^(caller|callee)([<>])(.+)$", sel)
        if not m or m.group(1) != party or (m.group(2) == "<") != rx:
            return False
        what = m.group(3)
        if what == "*":
            return True
        num, met = msg.cseq()
        if not re.match(r"^[1-6](xx|8x|\d\d)", what) and what != "rel18x":
            if not msg.req:
                return False
            if what == "reINVITE":
                return msg.method == "INVITE" and bool(msg.to_tag())
            if what == "INVITE":
                return msg.method == "INVITE" and not msg.to_tag()
            return msg.method == what
        if msg.req:
            return False
        rel = what == "rel18x"
        code, _, wmet = ("18x/INVITE" if rel else what).partition("/")
        wmet = wmet or "INVITE"
        reinv = wmet == "reINVITE"
        wmet = "INVITE" if reinv else wmet
        if code.endswith("xx"):
            lo = int(code[0]) * 100
            lo, hi = max(lo, 101), lo + 99
        elif code == "18x":
            lo, hi = 101, 199
        else:
            lo = hi = int(code)
        if not lo <= msg.status <= hi or met != wmet:
            return False
        if wmet == "INVITE" and reinv == (num == self.inv_cseq.get(
                msg.callid)):
            return False
        return not rel or msg.get("RSeq") is not None

    # -- SIP in and out --
    def _sip_rx(self, data, src):
        if not data.strip():
            return                 # a keep-alive
        msg = Msg(data)
        from_box = src != self.server
        party = self.party_of(msg, from_box)
        if msg.req:
            dest = self.route_request(msg, from_box)
        else:
            dest = self.route_response(msg)
        if dest is None:
            return
        self.swap_contacts(msg)
        mf = msg.get("Max-Forwards")
        if msg.req and mf and mf.strip().isdigit():
            msg.set("Max-Forwards", str(max(0, int(mf) - 1)))
        self.forward(msg, dest, party, not from_box)

    def route_request(self, msg, from_box):
        orig = self.dec(msg.uri)
        if orig:
            msg.uri = orig
            p = uri_parts(orig)
            dest = (p[2], p[3])
        elif from_box:
            p = uri_parts(msg.uri)
            if not p:
                self.errors.append("Request-URI %r" % msg.uri)
                return None
            msg.uri = "%s:%s%s:%d%s" % (p[0], p[1] + "@" if p[1] else "",
                                        self.server[0], self.server[1],
                                        p[4])
            dest = self.server
        else:
            self.errors.append("a request of the server's to %r, not a "
                               "Contact of ours" % msg.uri)
            return None
        branch = hparam(top_via(msg), "branch") or msg.first
        h = hashlib.md5(("%s|%s" % (branch, from_box)).encode()
                        ).hexdigest()[:20]
        msg.hdrs.insert(0, ["Via", "SIP/2.0/UDP %s:%d;branch=z9hG4bK-mg-%s"
                            % (HOST, self.port, h)])
        return dest

    def route_response(self, msg):
        v = top_via(msg)
        host, port = via_dest(v)
        if (host, port) != (HOST, self.port):
            self.errors.append("a response whose top Via is not ours: %r"
                               % v)
            return None
        pop_via(msg)
        dest = via_dest(top_via(msg)) if msg.values("Via") else None
        if dest is None or dest == (HOST, self.port):
            self.own_response(msg)
            return None
        return dest

    def forward(self, msg, dest, party, rx):
        """Applies the rule's steps, then sends (or holds, or drops)."""
        acts = []
        for i, (sel, act, args) in enumerate(self.steps):
            if not party or not self.match(sel, msg, party, rx):
                continue
            r = getattr(self, "act_" + act)(msg, dest, party, *args)
            self.fired[i] += 1
            acts.append(act)
            if r == "hold":
                self.held.append((args[0], msg, dest))
                self.note("<" if rx else ">", party, msg, acts)
                return
            if r == "drop":
                self.note("<" if rx else ">", party, msg, acts)
                return
        self.note("<" if rx else ">", party, msg, acts)
        self.sendto(self.sock, msg.encode(), dest)
        self.release(msg, party, rx)

    def release(self, msg, party, rx):
        """Sends what was held until this message had passed."""
        out = [h for h in self.held if self.match(h[0], msg, party, rx)]
        if not out:
            return
        self.held = [h for h in self.held if h not in out]
        for _, m, dest in out:
            self.note("<" if rx else ">", party, m, ["released"])
            self.sendto(self.sock, m.encode(), dest)

    def own_response(self, msg):
        """A response to a request of ours: nothing to pass on."""
        self.note("<", "proxy", msg, ["absorbed"])

    def send_own(self, msg, dest):
        self.tseq += 1
        msg.hdrs.insert(0, ["Via", "SIP/2.0/UDP %s:%d;branch=z9hG4bK-mg-"
                            "own-%d-%d" % (HOST, self.port, self.port,
                                           self.tseq)])
        self.note(">", "proxy", msg, ["own"])
        self.sendto(self.sock, msg.encode(), dest)

    # -- actions: (msg, dest, party, *args); "hold" or "drop", or
    # -- None (the message goes on as changed) --
    def act_drop_hdr(self, msg, dest, party, name):
        msg.remove(name)

    def act_set_hdr(self, msg, dest, party, name, value):
        msg.set(name, value)

    def act_add_hdr(self, msg, dest, party, name, value):
        msg.add(name, value)

    def act_hdr_sub(self, msg, dest, party, name, pat, repl):
        for i in msg.idx(name):
            msg.hdrs[i][1] = re.sub(pat, repl, msg.hdrs[i][1])

    def act_tok_del(self, msg, dest, party, name, tok):
        for i in reversed(msg.idx(name)):
            toks = [t for t in split_list(msg.hdrs[i][1])
                    if t.lower() != tok.lower()]
            if toks:
                msg.hdrs[i][1] = ", ".join(toks)
            else:
                del msg.hdrs[i]

    def act_strip_part(self, msg, dest, party, disp):
        parts = body_parts(msg)
        if parts:
            set_parts(msg, [p for p in parts if p[0] != disp])

    def act_sdp_port(self, msg, dest, party, disp, how):
        sdp = get_sdp(msg, disp)
        if sdp is None:
            return
        addr, port = sdp_media(sdp)
        new = self.sink_port if how == "sink" else port + int(how)
        put_sdp(msg, disp, sdp_set_media(sdp, addr if how != "sink" else
                                         HOST, new))

    def act_sdp_append(self, msg, dest, party, disp, line):
        sdp = get_sdp(msg, disp)
        if sdp is not None:
            put_sdp(msg, disp, sdp + ("" if sdp.endswith("\n") else
                                      "\r\n") + line + "\r\n")

    def act_sdp_over(self, msg, dest, party, n):
        sdp = get_sdp(msg, "session")
        if sdp is None:
            return

        def bump(m):
            return "%s %d%s" % (m.group(1), int(m.group(2)) + n, m.group(3))
        put_sdp(msg, "session", re.sub(r"(?m)^(o=\S+ \S+) (\d+)( .*)$",
                                       bump, sdp, count=1))

    def act_keep_sdp(self, msg, dest, party):
        sdp = get_sdp(msg, "session")
        if sdp is not None:
            self.state["sdp"] = sdp
            self.state["contact"] = msg.get("Contact")

    def act_add_sdp(self, msg, dest, party):
        if self.state.get("sdp") and not msg.body:
            set_parts(msg, [("session", None,
                             self.state["sdp"].encode())])

    def act_hold(self, msg, dest, party, until):
        return "hold"

    def act_answer(self, msg, dest, party, code, body=None):
        """Answers the request here (its Via as it came, ours popped);
        body "sdp": with the SDP keep_sdp kept, its version one higher,
        and the Contact of that message."""
        r = Msg(("SIP/2.0 %d OK\r\n\r\n" % code).encode())
        for n in ("Via", "From", "To", "Call-ID", "CSeq"):
            for v in msg.getall(n):
                r.hdrs.append([n, v])
        pop_via(r)
        r.set("Content-Length", "0")
        if body == "sdp" and self.state.get("sdp"):
            r.set("Contact", self.state["contact"])
            set_parts(r, [("session", None, self.state["sdp"].encode())])
            self.act_sdp_over(r, dest, party, 1)
        self.note(">", "proxy", r, ["own"])
        self.sendto(self.sock, r.encode(), via_dest(top_via(r)))
        return "drop"

    def act_prack_self(self, msg, dest, party):
        """PRACKs a new reliable 18x on the caller's behalf (once per
        RSeq), to the server's Contact."""
        rseq = (msg.get("RSeq") or "").strip()
        done = self.state.setdefault("pracked", set())
        if not rseq.isdigit() or rseq in done:
            return
        done.add(rseq)
        num, _ = msg.cseq()
        contact = msg.values("Contact")
        m = re.search(r"<([^>]*)>", contact[0]) if contact else None
        target = (self.dec(m.group(1)) if m else None) or \
            "sip:%s:%d" % self.server
        p = uri_parts(target)
        self.state["cseq"] = self.state.get("cseq", num) + 1
        pk = Msg(("PRACK %s SIP/2.0\r\n\r\n" % target).encode())
        pk.hdrs = [["Max-Forwards", "70"], ["From", msg.get("From")],
                   ["To", msg.get("To")], ["Call-ID", msg.callid],
                   ["CSeq", "%d PRACK" % self.state["cseq"]],
                   ["RAck", "%s %d INVITE" % (rseq, num)],
                   ["Content-Length", "0"]]
        # after the 18x itself has gone on
        self.at(0, self.send_own, pk, (p[2], p[3]))

    def act_unrel_copy(self, msg, dest, party, until):
        """Sends a copy of the reliable 18x that is not reliable (no
        100rel, no RSeq) now, and holds the 18x itself until a message
        that until selects has passed."""
        cp = Msg(msg.encode())
        self.act_tok_del(cp, dest, party, "Require", "100rel")
        cp.remove("RSeq")
        self.note("<", party, cp, ["own"])
        self.sendto(self.sock, cp.encode(), dest)
        return "hold"

    def act_rseq_shift(self, msg, dest, party):
        """RSeq counted from 0 instead of from the server's first."""
        v = int(msg.get("RSeq").strip())
        base = self.state.setdefault("rseq_base", v)
        msg.set("RSeq", str(v - base))

    def act_rack_unshift(self, msg, dest, party):
        base = self.state.get("rseq_base")
        f = (msg.get("RAck") or "").split()
        if base is not None and len(f) == 3 and f[0].isdigit():
            msg.set("RAck", "%d %s %s" % (int(f[0]) + base, f[1], f[2]))

    def act_bad_rack_first(self, msg, dest, party):
        """Sends the callee a copy of the PRACK whose RAck names the
        CSeq 7 higher (its own transaction: our branch), then the PRACK
        itself; the callee's answer to the copy stays here."""
        f = (msg.get("RAck") or "").split()
        if len(f) != 3 or not f[1].isdigit():
            return
        key = "badrack-" + f[0]
        if key in self.state:
            return
        self.state[key] = True
        bad = Msg(msg.encode())
        bad.set("RAck", "%s %d %s" % (f[0], int(f[1]) + 7, f[2]))
        # our Via alone: the callee's answer to it must end here, not
        # go on to the server as the answer to its own PRACK
        bad.remove("Via")
        self.send_own(bad, dest)

    def act_dup_sdp_port(self, msg, dest, party, how):
        """After the message, a copy whose SDP names another port."""
        sdp = get_sdp(msg, "session")
        if sdp is None:
            return
        dup = Msg(msg.encode())
        self.act_sdp_port(dup, dest, party, "session", how)
        self.at(0.05, self.sendto, self.sock, dup.encode(), dest)

    def act_relay(self, msg, dest, party, disp):
        """The box's SDP names a relay of ours instead of its own port."""
        sdp = get_sdp(msg, disp)
        if sdp is None:
            return
        addr, port = sdp_media(sdp)
        box = (addr, port)
        if box not in self.relays:
            r = Relay(self, box)
            self.relays[box] = r
            self.socks[r.sock] = r.rx
            self.state.setdefault("relay_of", {})[party] = r
        put_sdp(msg, disp, sdp_set_media(sdp, HOST, self.relays[box].port))

    def act_relay_peer(self, msg, dest, party, disp):
        """The server's SDP to the box names the relay too, so that what
        comes from the relay is what the SDP announced."""
        r = self.state.get("relay_of", {}).get(party)
        sdp = get_sdp(msg, disp)
        if not r or sdp is None:
            return
        addr, port = sdp_media(sdp)
        r.peer = r.peer or (addr, port)
        put_sdp(msg, disp, sdp_set_media(sdp, HOST, r.port))

    def act_keep_tone(self, msg, dest, party, who):
        r = self.state.get("relay_of", {}).get(who)
        if r:
            r.keep(KEEP_MS)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", help="the CMR Server, 127.0.0.1:PORT")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--rule", default=None)
    ap.add_argument("--list", action="store_true", help="the rules")
    ap.add_argument("-v", dest="verbose", action="store_true")
    a = ap.parse_args()
    if a.list:
        for name, (what, steps) in RULES.items():
            print("%s\t%s" % (name, what))
        return 0
    if not a.server:
        ap.error("--server is needed")
    mg = Mangler(int(a.server.rpartition(":")[2]), a.rule, a.port,
                 a.verbose).start()
    print("sipmangle: sip:%s:%d -> %s%s" % (HOST, mg.port, a.server,
                                            " rule " + a.rule if a.rule
                                            else ""), file=sys.stderr)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    mg.close()
    print("fired %s; errors %s" % (mg.fired, mg.errors), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
