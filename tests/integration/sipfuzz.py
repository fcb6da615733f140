'''The generator of the stateful SIP fuzz test (test_fuzz_sip.py): SIP
messages as editable header lists, the mutations of headers and bodies,
SDP and multipart bodies good and broken, and each call's script.

A call's script depends only on (seed, index): random.Random("SEED:INDEX")
draws, in program order, the transports and the callee's mode, the
caller's INVITE, the steps of both sides, how each side answers the
requests the server sends it and how each side leaves the call.  The
executor (sipfuzz_ua.py) plays a script against a running server; what a
step does may depend on what has arrived (a PRACK names the reliable 1xx
it got), never on another draw, so a seed and an index replay a call.

Mutations are drawn as (kind, subseed): the subseed picks the header and
the garbage when the message is built, so the draw does not depend on
the message.  Kinds in VALID_KINDS keep the message valid SIP (compact
names, folding, case, spacing); the others may break it.
'''

import random

from sipua import sdp as ua_sdp

MODES = ("http", "as", "gateway", "auto", "off")
FINAL_ERRORS = (486, 486, 480, 404, 403, 408, 487, 500, 503, 603, 600,
                302, 488, 401, 407, 420, 491, 699, 580)
PROV_CODES = (180, 180, 183, 183, 183, 181, 182, 199)
REASONS = {100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded",
           182: "Queued", 183: "Session Progress", 199: "Early Dialog "
           "Terminated", 200: "OK", 202: "Accepted", 302: "Moved "
           "Temporarily", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed",
           407: "Proxy Authentication Required", 408: "Request Timeout",
           420: "Bad Extension", 480: "Temporarily Unavailable",
           481: "Call/Transaction Does Not Exist", 486: "Busy Here",
           487: "Request Terminated", 488: "Not Acceptable Here",
           491: "Request Pending", 500: "Server Internal Error",
           503: "Service Unavailable", 580: "Precondition Failure",
           600: "Busy Everywhere", 603: "Decline", 699: "Whatever"}

HEADER_KINDS = ("drop", "drop", "dup", "garble", "garble", "garble", "huge",
                "empty", "tag", "tag", "callid", "cseq", "require",
                "maxfwd", "compact", "fold", "case", "ws", "unknown")
BODY_KINDS = ("sdp", "sdp", "multipart", "multipart", "cl", "ctype",
              "nobody")
VALID_KINDS = ("compact", "fold", "case", "ws", "unknown")
COMPACT = {"via": "v", "from": "f", "to": "t", "call-id": "i",
           "content-length": "l", "content-type": "c", "contact": "m",
           "supported": "k"}
GARBAGE = "<>\"';:,@=\\ \t%?&[]{}()*#!\x7f\udcff\udc80\u00e9\u4e2d"


# ---- messages ------------------------------------------------------------

class Msg:
    """A message to send: a start line, [(name, value)] and a body.  A
    Content-Length header whose value is None is written with the body's
    length; render() gives the bytes (str is UTF-8 with surrogateescape,
    so a value may hold any byte)."""

    def __init__(self, start, headers=(), body=b""):
        self.start, self.headers, self.body = start, list(headers), body

    def get(self, name):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def set(self, name, value):
        for i, (n, _) in enumerate(self.headers):
            if n.lower() == name.lower():
                self.headers[i] = (n, value)
                return
        self.headers.insert(len(self.headers) - 1, (name, value))

    def remove(self, name):
        self.headers = [(n, v) for n, v in self.headers
                        if n.lower() != name.lower()]

    def render(self):
        lines = [self.start]
        for n, v in self.headers:
            if v is None:
                v = str(len(self.body))
            lines.append("%s: %s" % (n, v) if n else v)
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("utf-8", "surrogateescape") + self.body


def reason(code):
    return REASONS.get(code, "Fuzz")


# ---- bodies --------------------------------------------------------------

def sdp(port, version=1, user="fz", direction=None, pts=(0, 8),
        addr="127.0.0.1"):
    """An SDP with one audio stream (nobody listens on port): sipua's,
    with PCMA too and a fixed session id."""
    return ua_sdp(port, version, user, 4242, direction, pts, addr)


def broken_sdp(r):
    """An SDP that is wrong in one of many ways."""
    good = sdp(r.randrange(1024, 65000, 2), r.randrange(1, 9))
    v = r.randrange(14)
    if v == 0:
        return good[:r.randrange(1, len(good))]
    if v == 1:
        return good.replace(b"m=audio", b"m=")
    if v == 2:
        return good.replace(b"c=IN IP4 127.0.0.1\r\n", b"")
    if v == 3:
        return good.replace(b"RTP/AVP 0 8", b"RTP/AVP")
    if v == 4:
        return good + b"m=audio 1 RTP/AVP 0\r\n" * r.randrange(20, 200)
    if v == 5:
        return good.replace(b"\r\n", b"\n")
    if v == 6:
        return good.replace(b"127.0.0.1", b"999.1.2.300")
    if v == 7:
        return good.replace(b"4242", b"99999999999999999999999")
    if v == 8:
        return b"v=0\r\n" + bytes(r.getrandbits(8) for _ in range(200))
    if v == 9:
        return good.replace(b"m=audio", b"m=audio 0 RTP/AVP 0\r\nm=audio")
    if v == 10:
        return good.replace(b"IN IP4 127.0.0.1", b"IN IP6 ::1")
    if v == 11:
        return good + b"a=" + b"x" * r.randrange(1000, 9000) + b"\r\n"
    if v == 12:
        return good.replace(b"\r\n", b"\r\n\x00", 1)
    return b"no equals sign here\r\n" + good


def multipart(parts, r=None):
    """(Content-Type, body) of a multipart/mixed of [(type, disposition,
    bytes)]; with a Random r, broken in one of several ways."""
    bnd = "fzb%08x" % (r or random).getrandbits(32)
    v = r.randrange(10) if r else -1
    use = bnd if v != 0 else bnd + "x"
    out = b""
    for i, (ct, disp, data) in enumerate(parts):
        out += b"--" + use.encode() + b"\r\n"
        out += ("Content-Type: %s\r\n" % ct).encode()
        if disp:
            out += ("Content-Disposition: %s\r\n" % disp).encode()
        out += (b"" if v == 1 and i == 0 else b"\r\n") + data
        out += b"" if v == 2 else b"\r\n"
    if v != 3:
        out += b"--" + use.encode() + b"--\r\n"
    ctype = "multipart/mixed;boundary=%s" % bnd
    if v == 4:
        ctype = "multipart/mixed"
    elif v == 5:
        ctype = 'multipart/mixed;boundary="%s' % bnd
    elif v == 6:
        long = "b" * 200
        out = out.replace(bnd.encode(), long.encode())
        ctype = "multipart/mixed;boundary=%s" % long
    elif v == 7:
        inner_ct, inner = multipart(parts)
        out = ("--%s\r\nContent-Type: %s\r\n\r\n" % (bnd, inner_ct)).encode()\
            + inner + ("\r\n--%s--\r\n" % bnd).encode()
    elif v == 8:
        out = out[:r.randrange(1, len(out))]
    elif v == 9:
        ctype = "multipart/mixed;boundary=%s;boundary=other" % bnd
    return ctype, out


# ---- mutations -----------------------------------------------------------

def draw_mut(rng, rate):
    """None, or the mutation of one message: (kind, subseed)."""
    if rng.random() >= rate:
        return None
    if rng.random() < 0.25:
        return (rng.choice(BODY_KINDS), rng.getrandbits(32))
    return (rng.choice(HEADER_KINDS), rng.getrandbits(32))


def garble(r, value):
    v = r.randrange(7)
    if v == 0 or not value:
        return "".join(r.choice(GARBAGE) for _ in range(r.randrange(1, 30)))
    if v == 1:
        return value[:r.randrange(len(value))]
    if v == 2:
        i = r.randrange(len(value) + 1)
        return value[:i] + r.choice(GARBAGE) * r.randrange(1, 4) + value[i:]
    if v == 3:
        return value.replace(">", "").replace("<", "<<", 1)
    if v == 4:
        return value.replace(";", ";;" + r.choice(("=", "tag", "branch=",
                                                     "\udcfe", "x=\"")), 1)
    if v == 5:
        return value + "\udcc3("
    return "".join(c if r.random() < 0.8 else r.choice(GARBAGE)
                   for c in value)


def mutate(msg, mut, transport):
    """Applies mut to msg in place.  Returns a set of notes: "invalid"
    unless the message stays valid SIP, "framing" when a TCP stream may
    lose its message boundaries."""
    kind, sub = mut
    r = random.Random(sub)
    notes = set() if kind in VALID_KINDS else {"invalid"}
    hs = msg.headers
    i = r.randrange(len(hs)) if hs else 0
    name = hs[i][0] if hs else ""
    if kind == "drop" and hs:
        del hs[i]
        if name.lower() == "content-length" and msg.body:
            notes.add("framing")
    elif kind == "dup" and hs:
        n, v = hs[i]
        if r.random() < 0.5 and v is not None:
            v = garble(r, v)
        hs.insert(i + 1, (n, v))
        if n.lower() == "content-length":
            notes.add("framing")
    elif kind in ("garble", "empty", "huge") and hs:
        n, v = hs[i]
        v = str(len(msg.body)) if v is None else v
        if kind == "garble":
            v = garble(r, v)
        elif kind == "empty":
            v = ""
        else:
            size = r.choice((1000, 4000, 16000, 60000))
            if transport == "udp":
                size = min(size, 60000 - len(msg.render()))
            v = v + r.choice("xa;,") * max(0, size)
        hs[i] = (n, v)
        if n.lower() == "content-length":
            notes.add("framing")
    elif kind == "tag":
        which = r.choice(("To", "From"))
        v = msg.get(which) or ""
        base = v.split(";tag=")[0]
        msg.set(which, r.choice((base, base + ";tag=fz%x" % sub,
                                 base + ";tag=", base + ";tag=a;tag=b")))
    elif kind == "callid":
        msg.set("Call-ID", r.choice(("fz-other-%x" % sub, "",
                                     "a b %x" % sub, "x" * 300 + str(sub))))
    elif kind == "cseq":
        v = (msg.get("CSeq") or "1 INVITE").split()
        meth = v[-1] if v else "INVITE"
        msg.set("CSeq", r.choice(("0 " + meth, "4294967295 " + meth,
                                  "4294967296 " + meth, "-1 " + meth,
                                  "1.5 " + meth, "7 FOO", meth, "1 2 3")))
    elif kind == "require":
        msg.set("Require", r.choice(("fz-unknown", "100rel", "timer",
                                     "early-session", "100rel, fz")))
    elif kind == "maxfwd":
        msg.set("Max-Forwards", r.choice(("0", "1", "256", "-1", "x")))
    elif kind == "compact":
        msg.headers = [(COMPACT.get(n.lower(), n), v) for n, v in hs]
    elif kind == "fold" and hs:
        n, v = hs[i]
        if v and " " in v:
            hs[i] = (n, v.replace(" ", "\r\n ", 1))
    elif kind == "case":
        msg.headers = [(n.upper() if r.random() < 0.5 else n.lower(), v)
                       for n, v in hs]
    elif kind == "ws":
        msg.headers = [(n + " " * r.randrange(3), " " + v if v else v)
                       for n, v in hs]
    elif kind == "unknown":
        msg.headers.insert(i, ("X-Fz-%x" % sub, "value;p=1"))
    elif kind == "sdp":
        msg.body = broken_sdp(r)
        msg.set("Content-Type", "application/sdp")
    elif kind == "multipart":
        ctype, msg.body = multipart([("application/sdp", "session",
                                      msg.body or sdp(40000))], r)
        msg.set("Content-Type", ctype)
    elif kind == "cl":
        n = len(msg.body) + r.choice((-20, -5, -1, 1, 7, 100, 5000))
        msg.set("Content-Length", r.choice((str(max(0, n)), str(max(0, n)),
                                            "abc", "99999999999")))
        notes.add("framing")
    elif kind == "ctype":
        msg.set("Content-Type", r.choice(("text/plain", "application/sdp;x",
                                          "multipart/mixed", "a/b",
                                          "application/isup")))
        if r.random() < 0.5:
            msg.set("Content-Disposition", r.choice((
                "session;handling=required", "render", "early-session",
                "icon;handling=optional")))
    elif kind == "nobody":
        msg.body = b""
    return notes


# ---- scripts -------------------------------------------------------------

class Script:
    """What one call does: see the module docstring.  steps are
    (who, action, params) with who "A" (the caller) or "B" (the callee);
    policy[who][method] lists the answers to the server's requests of that
    method, used in order (the last one repeats); tail[who] is "coop"
    (ends the call and answers everything) or "silent"."""

    def __init__(self, seed, index):
        self.seed, self.index = seed, index
        self.steps = []
        self.policy = {"A": {}, "B": {}}
        self.tail = {}
        self.shape = "random"

    def describe(self):
        return "seed %d call %d (%s, caller %s, callee %s %s, mode %s)" % (
            self.seed, self.index, self.shape, self.tp_a, self.tp_b,
            self.reach, self.mode)


def draw_answer(rng, method):
    """One answer to a request of the server: ("ok"|code|"hold"|"ignore",
    mutation or None)."""
    x = rng.random()
    mut = draw_mut(rng, 0.05)
    if x < 0.72:
        return ("ok", mut)
    if x < 0.84:
        return (rng.choice((481, 500, 488, 491, 403, 408, 486, 603)), mut)
    if x < 0.92:
        return ("hold", None)
    return ("ignore", None)


def draw_script(seed, index, transports=("udp", "tcp"), rate=0.10):
    """The script of call index under seed (see the module docstring)."""
    rng = random.Random("%d:%d" % (seed, index))
    s = Script(seed, index)
    # Drawn from both, then fitted: the other draws do not depend on
    # which transports a batch allows.
    s.tp_a, s.tp_b = rng.choice(("udp", "tcp")), rng.choice(("udp", "tcp"))
    if s.tp_a not in transports:
        s.tp_a = transports[0]
    if s.tp_b not in transports:
        s.tp_b = transports[0]
    s.mode = rng.choice(MODES)
    s.reach = "static" if rng.random() < 0.2 else "register"
    friendly = rng.random() < 0.75
    s.invite = {
        "offer": rng.random() < (0.85 if friendly else 0.5),
        "100rel": rng.random() < (0.8 if friendly else 0.4),
        "es": rng.random() < (0.7 if friendly else 0.2),
        "require100rel": rng.random() < 0.1,
        "pem": rng.random() < (0.6 if friendly else 0.2),
        "update": rng.random() < 0.6,
        "se": rng.choice((None, None, None, 90, 1800, 30)),
        "mut": draw_mut(rng, rate * 0.6),
    }
    for who, methods in (("A", ("BYE", "INVITE", "UPDATE", "INFO",
                                "OPTIONS", "other")),
                         ("B", ("PRACK", "CANCEL", "BYE", "INVITE",
                                "UPDATE", "INFO", "OPTIONS", "other"))):
        for m in methods:
            s.policy[who][m] = [draw_answer(rng, m) for _ in range(3)]
    s.tail = {"A": "coop" if rng.random() < 0.75 else "silent",
              "B": "coop" if rng.random() < 0.75 else "silent"}

    def step(who, action, **p):
        p.setdefault("pause", rng.choice((0.0, 0.02, 0.05, 0.1, 0.1, 0.2,
                                          0.4, 0.7)))
        p.setdefault("mut", draw_mut(rng, rate))
        s.steps.append((who, action, p))

    x = rng.random()
    if x < 0.05:
        shape_486_before_prack_answer(s, step)
    elif x < 0.10:
        shape_early_ack(s, step)
    else:
        early_phase(rng, step)
        final = final_phase(rng, step)
        if final == "2xx":
            confirmed_phase(rng, step)
    return s


def shape_486_before_prack_answer(s, step):
    """The callee's reliable 183, our PRACK held, its 486, then the
    PRACK's 200: the caller must get the 486."""
    s.shape = "486-before-prack-answer"
    s.policy["B"]["PRACK"] = [("hold", None)]
    step("B", "prov", code=183, rel=True, body="answer", es=False,
         pem=False, rseq="next", mut=None, pause=0.0)
    step("B", "await", method="PRACK", mut=None, pause=0.0)
    step("B", "final", code=486, body=None, mut=None, pause=0.0)
    step("B", "answer_held", method="PRACK", code=200, mut=None, pause=0.1)


def shape_early_ack(s, step):
    """A reliable 183, the caller's PRACK, an ACK in the early dialog,
    then the 200 and its real ACK: only the real ACK confirms."""
    s.shape = "early-ack"
    s.invite["100rel"] = True
    s.invite["mut"] = None
    step("B", "prov", code=183, rel=True, body="answer", es=False,
         pem=False, rseq="next", mut=None, pause=0.0)
    step("A", "prack", rack="ok", body=None, mut=None, pause=0.1)
    step("A", "ack", kind="stray", mut=None, pause=0.2)
    step("B", "final", code=200, body=None, mut=None, pause=0.2)
    step("A", "ack", kind="ok", mut=None, pause=0.0)
    step("A", "bye", mut=None, pause=0.3)


def early_phase(rng, step):
    if rng.random() < 0.3:
        step("B", "prov", code=100, rel=False, body=None, es=False,
             pem=False, rseq="next")
    for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4))):
        rel = rng.random() < 0.6
        step("B", "prov", code=rng.choice(PROV_CODES), rel=rel,
             body=rng.choice((None, None, "answer", "answer", "offer",
                              "multipart")), es=rng.random() < 0.4,
             pem=rng.random() < 0.2,
             rseq=rng.choice(("next",) * 8 + ("same", "back", "jump")))
        if rel and rng.random() < 0.8:
            step("A", "prack", rack=rng.choice(("ok",) * 7 + (
                "wrong_rseq", "wrong_cseq", "none")),
                 body=rng.choice((None, None, "es_answer", "answer")))
        if rng.random() < 0.25:
            early_extra(rng, step)
    if rng.random() < 0.12:
        step("A", "cancel", branch=rng.choice(("ok",) * 5 + ("wrong",)))
    if rng.random() < 0.04:
        step("A", "bye")


def early_extra(rng, step):
    who, action, p = rng.choice((
        ("A", "ack", {"kind": "stray"}),
        ("A", "update", {"body": rng.choice((None, "offer", "same"))}),
        ("A", "info", {}), ("A", "dup", {}),
        ("A", "prack", {"rack": "wrong_rseq", "body": None}),
        ("A", "lowcseq", {"method": "PRACK"}),
        ("A", "options", {}), ("A", "reorder", {}), ("B", "reorder", {}),
        ("B", "update", {"body": rng.choice((None, "offer"))}),
        ("B", "info", {}), ("B", "dup", {}), ("B", "bye", {}),
        ("B", "answer_held", {"method": None, "code": 200}),
        ("B", "answer_held", {"method": None, "code": 500}),
    ))
    step(who, action, **p)


def final_phase(rng, step):
    x = rng.random()
    if x < 0.5:
        step("B", "final", code=rng.choice((200, 200, 200, 202)),
             body=rng.choice(("answer", "answer", None, "offer",
                              "multipart")))
        if rng.random() < 0.1:
            step("B", "dup")
        if rng.random() < 0.3:
            step("B", "answer_held", method=None, code=200)
        kind = rng.choice(("ok",) * 17 + ("none", "wrong_tag", "late"))
        if kind != "none":
            step("A", "ack", kind=kind)
        if rng.random() < 0.06:
            step("A", "dup")
        return "2xx"
    if x < 0.8:
        step("B", "final", code=rng.choice(FINAL_ERRORS), body=None)
        if rng.random() < 0.3:
            step("B", "answer_held", method=None,
                 code=rng.choice((200, 481)))
        if rng.random() < 0.1:
            step("A", "ack", kind="stray")
        return "error"
    if rng.random() < 0.3:
        step("A", "cancel", branch="ok")
    return "none"


def confirmed_phase(rng, step):
    for _ in range(rng.choice((0, 0, 1, 1, 2, 3, 4))):
        who = rng.choice("AB")
        action = rng.choice(("reinvite", "reinvite", "update", "update",
                             "info", "options", "dup", "lowcseq",
                             "reorder", "message", "answer_held"))
        p = {}
        if action in ("reinvite", "update"):
            p["body"] = rng.choice(("same", "changed", "changed", None,
                                    "hold"))
        if action == "lowcseq":
            p["method"] = rng.choice(("INFO", "UPDATE", "INVITE", "BYE"))
        if action == "answer_held":
            p.update(method=None, code=rng.choice((200, 200, 491, 481)))
        step(who, action, **p)
    x = rng.random()
    if x < 0.45:
        step("A", "bye")
    elif x < 0.8:
        step("B", "bye")
    if rng.random() < 0.08:
        step(rng.choice("AB"), "bye")      # a second BYE
