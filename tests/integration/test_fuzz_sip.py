"""Stateful SIP fuzzing: scripted callers and callees (sipfuzz.py draws
each call's script, sipfuzz_ua.py plays it) place calls through the real
server in every mode, over UDP and TCP, with mutated headers, bodies and
message orders on both sides.

The oracle: the server stays up; every message it sends is well formed;
the server's events of each call are consistent (received first, ended
once and last, confirmed only after answered, every stream it started
toward our RTP sinks stopped); a caller whose INVITE went unmutated gets
a final response, a 2xx exactly when the server says it answered and the
code of the server's rejected event; a callee's clean final error
reaches the caller unless something ended the call first; a clean ACK of
the 2xx confirms the call; every clean request gets a final response,
an INVITE's not long after its call ended; RFC 3261 and 3262 rules on
what the caller gets (Contact, RSeq order, 481 to a wrong RAck, no 2xx
to a second INVITE while the first waits for its final, no 2xx to a
CSeq below one the dialog took).  After each batch no call is live
(GET /api/v1/calls), the server's descriptors (/proc/PID/fd) are back to
their count before the calls, OPTIONS over UDP and TCP get 200 and a
clean call over each transport completes.  A failure names the seed and
the call's index, with the ladder and events of the call and the
environment that replays it.

Environment (the defaults keep `make test` near a minute):
  CMRLAB_SIPFUZZ_CALLS=N   calls in all (default 72, in batches of 24;
                           batch 1 UDP, batch 2 TCP, then both mixed)
  CMRLAB_SIPFUZZ_SEED=N    the seed (default 1; "random": a new one,
                           printed); a seed and index replay a call
  CMRLAB_SIPFUZZ_ONLY=I,J  play only these call indexes, and show
                           each one's ladder and events
  CMRLAB_SIPFUZZ_BATCH=N   calls per batch (default 24)
"""

import calendar
import json
import os
import random
import threading
import time

from cmrtest import Fail, HOST, check, info, test, wait_until
from cmrtest_sip import SipClient, contacts_of, tag_param
from sipfuzz import MODES, Script, draw_script
from sipfuzz_net import Endpoint, Sinks
from sipfuzz_ua import CallRun

PARALLEL = 8           # calls playing their steps at once
END_BOUND = 100.0      # seconds for a call to end after its script
FD_BOUND = 40.0        # seconds for the descriptors to come back after a
                       # batch: longer than any SIP timer (64*T1 = 32 s)
LATE = 10.0            # an INVITE answered this long after the call ended
SPAN = 2000            # registered callees per mode (ids reused after)
LIMITS = "limits ring=5 call=5"
# Events after which the callee's final need not reach the caller.
PREEMPT = ("cancelled", "bye", "limit", "answered", "no-ack", "ended")


def settings():
    env = os.environ
    seed = env.get("CMRLAB_SIPFUZZ_SEED", "1")
    seed = random.randrange(1 << 31) if seed == "random" else int(seed)
    calls = int(env.get("CMRLAB_SIPFUZZ_CALLS", "72"))
    batch = int(env.get("CMRLAB_SIPFUZZ_BATCH", "24"))
    only = env.get("CMRLAB_SIPFUZZ_ONLY")
    idx = [int(x) for x in only.split(",")] if only else list(range(calls))
    return seed, idx, batch


def transports(index, batch):
    return (("udp",), ("tcp",), ("udp", "tcp"))[min(index // batch, 2)]


class EventLog:
    """The server's --log-json, read as it grows: the events of each
    caller Call-ID.  state(call_id): None before any event, True once
    every call of that Call-ID has ended, else False."""

    def __init__(self, path):
        self.path, self.off, self.buf = path, 0, b""
        self.by_callid, self.lock = {}, threading.Lock()

    def update(self):
        with self.lock:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
            self.off += len(data)
            self.buf += data
            *lines, self.buf = self.buf.split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                try:
                    e = json.loads(line)
                except ValueError as err:
                    # Kept for the call's verdict, read as well as it goes.
                    e = json.loads(line.decode("utf-8", "replace"))
                    e["not-json"] = "%s: %r" % (err, line[:240])
                calls = self.by_callid.setdefault(e.get("callid"), {})
                calls.setdefault(e.get("call"), []).append(e)

    def events(self, call_id):
        self.update()
        with self.lock:
            calls = self.by_callid.get(call_id, {})
            return [e for evs in calls.values() for e in evs]

    def state(self, call_id):
        self.update()
        with self.lock:
            calls = self.by_callid.get(call_id)
            if not calls:
                return None
            return all(any(e.get("what") == "ended" for e in evs)
                       for evs in calls.values())


def write_profile(t, statics):
    lines = ["subscriber fzclean mode=http"]
    for k, mode in enumerate(MODES):
        lines.append("subscriber %d0000-%d%04d mode=%s"
                     % (k + 1, k + 1, SPAN - 1, mode))
        for (tp, slot), ep in statics.items():
            lines.append("subscriber st-%s-%s-%d mode=%s contact=%s"
                         % (mode, tp, slot, mode, ep.uri("st")))
    lines.append(LIMITS)
    path = os.path.join(t.tmp, "fuzz.profile")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def register(srv, user, uri, expires):
    cl = SipClient(srv, "udp")
    try:
        r = cl.transact("REGISTER", "sip:%s:%d" % (HOST, srv.sip),
                        from_user=user, to_user=user,
                        headers=["Contact: <%s>" % uri,
                                 "Expires: %d" % expires])
    finally:
        cl.close()
    check(r.status == 200, "REGISTER %s -> %s: %s" % (user, uri, r.first))


def socket_addr(hexaddr):
    """"0100007F:1F90" of /proc/net/* as "127.0.0.1:8080"."""
    ip, port = hexaddr.split(":")
    return "%s:%d" % (".".join(str(int(ip[i:i + 2], 16))
                               for i in (6, 4, 2, 0)), int(port, 16))


def ts(e):
    """An event's wall-clock time in seconds (its ts, UTC)."""
    t = time.strptime(e["ts"][:19], "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(t) + int(e["ts"][20:23]) / 1000.0


def stream_faults(evs, sinks):
    """What is inconsistent in the events of one call of the server."""
    names = [e.get("what") for e in evs]
    bad = []
    for i, e in enumerate(evs):
        # A stream toward a sink cannot stop by ICMP (which has no
        # event): the call must stop it.
        if e.get("what") == "rtp-started" and \
                int(e.get("dst", ":0").split(":")[-1]) in sinks and \
                not [x for x in evs[i:] if x.get("what") == "rtp-stopped"
                     and x.get("dir") == e.get("dir")]:
            bad.append("the %s stream from %s was never stopped"
                       % (e.get("dir"), e.get("src")))
    if names[0] != "received":
        bad.append("first event %r" % names[0])
    if names.count("ended") != 1 or names[-1] != "ended":
        bad.append("ended %d times, last event %r"
                   % (names.count("ended"), names[-1]))
    if "confirmed" in names and ("answered" not in names or
                                 names.index("confirmed") <
                                 names.index("answered")):
        bad.append("confirmed without answered before it")
    if names.count("answered") > 1 or names.count("confirmed") > 1:
        bad.append("answered %d times, confirmed %d times"
                   % (names.count("answered"), names.count("confirmed")))
    return bad


def caller_faults(run):
    """RFC rules on what the caller got, judged by the order of arrival
    (one socket or connection keeps the server's order)."""
    bad, rseq, final = [], {}, None
    for m in run.a.rx:
        if m.status is None or m.get("call-id") != run.call_id:
            continue
        cs = m.cseq().split()
        if len(cs) != 2 or cs[1] != "INVITE":
            continue
        if 100 < m.status < 300 and tag_param(m.get("to")) and \
                not contacts_of(m):
            bad.append("%s to INVITE without Contact" % m.first[8:])
        if cs[0] == str(run.inv_cseq):
            tag, n = tag_param(m.get("to")), (m.get("rseq") or "").strip()
            if m.status < 200 and n.isdigit():
                last = rseq.get(tag)
                if last is not None and int(n) not in (last, last + 1):
                    bad.append("RSeq %s after %d (RFC 3262 section 3)"
                               % (n, last))
                rseq[tag] = int(n)
            if m.status >= 200 and final is None:
                final = m
        elif 200 <= m.status < 300 and final is None:
            # RFC 3261 14.2: 500 to a second INVITE while the first waits
            # for its final response.
            bad.append("%s to INVITE %s while INVITE %d had no final "
                       "response" % (m.first[8:], cs[0], run.inv_cseq))
    for kind, code in run.a.codes:
        if kind.startswith("A PRACK wrong_") and "no 1xx" not in kind and \
                code != 481:
            bad.append("%s answered %d, not 481" % (kind, code))
    return bad


def cseq_faults(p):
    """RFC 3261 12.2.2: a request of a dialog with a CSeq below one the
    dialog took before is out of order (500).  A request the dialog took
    is one answered with anything but 400, 405 or 481."""
    bad, top = [], {}
    for key in p.order:
        call_id, cseq = key.split("|")
        n, code = int(cseq.split()[0]), p.final_code.get(key)
        if code is None or code in (400, 405, 481):
            continue
        if 200 <= code < 300 and n < top.get(call_id, -1):
            bad.append("%s %s answered %d after CSeq %d (RFC 3261 12.2.2: "
                       "500)" % (p.who, cseq, code, top[call_id]))
        top[call_id] = max(top.get(call_id, -1), n)
    return bad


def judge(run, events):
    """What the oracle finds wrong with one call that has ended."""
    bad = list(run.problems) + run.a.ep.problems + run.b.ep.problems
    bad += ["an event log line is not JSON: %s" % e["not-json"]
            for e in events if "not-json" in e]
    bad += ["no final response to %s" % u for u in run.unanswered()]
    bad += ["a datagram from elsewhere than the SIP socket: %s" % s
            for s in run.strays[:3]]
    if run.inv_clean and not run.poisoned and not run.a.ep.dropped:
        bad += caller_faults(run)
    for p in (run.a, run.b):
        if not run.poisoned and not p.ep.dropped:
            bad += cseq_faults(p)
    calls = {}
    for e in events:
        calls.setdefault(e.get("call"), []).append(e)
    for call, evs in calls.items():
        bad += ["%s: %s" % (call, w) for w in stream_faults(evs,
                                                             run.sinks)]
    # A second INVITE with the Call-ID is a call of its own: the caller's
    # INVITE made the first.
    events = list(calls.values())[0] if calls else []
    names = [e.get("what") for e in events]
    if calls:
        end = ts(list(calls.values())[0][-1])
        for p in (run.a, run.b):
            for key, wall in p.finals.items():
                if key.endswith(" INVITE") and wall > end + LATE:
                    bad.append("%s's %s was answered %.1f s after the "
                               "call ended" % (p.who, key.split("|")[-1],
                                               wall - end))
    f = run.a_final
    a_ok = (events and run.inv_clean and not run.poisoned and
            not run.a.ep.dropped)
    if a_ok:
        rej = [e.get("code") for e in events if e.get("what") == "rejected"]
        if f is None:
            bad.append("the caller got no final response to its INVITE")
        elif ("answered" in names) != (f.status < 300):
            bad.append("the caller got %d, the events say %s" % (
                f.status, "answered" if "answered" in names else
                "not answered"))
        elif rej and f.status != rej[0]:
            bad.append("the caller got %d, the rejected event says %s"
                       % (f.status, rej[0]))
    code = run.b_final
    if a_ok and run.b_final_clean and code >= 300:
        # The server's own order says whether the callee's final came
        # first: then the caller gets its code.
        want = {401: 403, 407: 403, 503: 500}.get(code, code)
        first = None
        for e in events:
            if e.get("what") in PREEMPT:
                break
            if e.get("what") == "leg-failed" and e.get("code") == code:
                first = e
                break
        if first and (f is None or f.status != want):
            bad.append("the callee answered %d, the caller got %s"
                       % (code, f.status if f else "nothing"))
        if run.b_acked and not first and not [
                e for e in events if e.get("what") in PREEMPT[:-1]]:
            bad.append("the server ACKed the callee's %d, but no "
                       "leg-failed event came before the end" % code)
    if run.ack_wall and a_ok and "answered" in names and \
            "confirmed" not in names and \
            ts(events[-1]) > run.ack_wall + 0.01:
        bad.append("the caller's ACK of the 2xx did not confirm the call")
    return bad


def report(run, events, bad, batch):
    """The failure text of one call: its script, ladder and events."""
    out = ["%s: %s" % (run.s.describe(), "; ".join(bad)),
           "  replay: CMRLAB_SIPFUZZ_SEED=%d CMRLAB_SIPFUZZ_ONLY=%d "
           "CMRLAB_SIPFUZZ_BATCH=%d" % (run.s.seed, run.s.index, batch)]
    out += ["  " + line for line in run.ladder[:80]]
    out.append("  events: " + " ".join(
        "%s%s" % (e.get("what"), "(%s)" % e.get("code") if "code" in e
                  else "") for e in events))
    return "\n".join(out)


class Fuzz:
    """One server and the state of a run: its static callees, event log,
    baseline descriptor count, the failures so far."""

    def __init__(self, t, seed, batch):
        self.seed, self.batch = seed, batch
        self.statics = {}
        for tp in ("udp", "tcp"):
            for slot in range(PARALLEL):
                self.statics[(tp, slot)] = Endpoint(tp, 0)
        self.free = {k: threading.Lock() for k in self.statics}
        self.sinks = Sinks(16)
        self.srv = t.server(profile=write_profile(t, self.statics))
        for ep in self.statics.values():
            ep.srv = (HOST, self.srv.sip)
        self.log = EventLog(self.srv.log_json)
        self.failures, self.stats, self.codes = [], {}, {}
        self.slots = threading.Semaphore(PARALLEL)
        self.lock = threading.Lock()
        self.callids = {}
        self.verbose = bool(os.environ.get("CMRLAB_SIPFUZZ_ONLY"))

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.srv.proc.pid))

    def play(self, index):
        s = draw_script(self.seed, index, transports(index, self.batch))
        mode = MODES.index(s.mode)
        static = None
        if s.reach == "static":
            for slot in range(PARALLEL):
                key = (s.tp_b, slot)
                if self.free[key].acquire(blocking=False):
                    static = key
                    break
        if static:
            user = "st-%s-%s-%d" % (s.mode, static[0], static[1])
        else:
            s.reach = "register"
            user = "%d%04d" % (mode + 1, index % SPAN)
        run = CallRun(s, self.srv, user,
                      self.statics[static] if static else None, self.sinks)
        try:
            if not static:
                register(self.srv, user, run.b.ep.uri(user), 300)
            with self.lock:
                self.callids[run.call_id] = run
            with self.slots:
                done = run.run_steps()
            done = run.wait_end(self.log.state, END_BOUND)
            with self.lock:
                self.callids[run.call_id] = run
            self.verdict(run, done)
        except Exception as e:       # a bug of the test: report, go on
            with self.lock:
                self.failures.append("%s: the player failed: %s: %s"
                                     % (s.describe(), type(e).__name__, e))
        finally:
            if not static:
                try:
                    register(self.srv, user, run.b.ep.uri(user), 0)
                except Fail:
                    pass
            run.close()
            if static:
                self.statics[static].drop_conns()
                self.free[static].release()

    def verdict(self, run, done):
        events = self.log.events(run.call_id)
        bad = [] if done else ["the call is still live %.0f s after its "
                               "script" % END_BOUND]
        bad += judge(run, events)
        with self.lock:
            why = events[-1].get("why") if events else "no call"
            key = (why or "?").split(":")[0]
            self.stats[key] = self.stats.get(key, 0) + 1
            for c in run.a.codes + run.b.codes:
                self.codes[c] = self.codes.get(c, 0) + 1
            if bad:
                self.failures.append(report(run, events, bad, self.batch))
            elif self.verbose:
                info(report(run, events, ["no fault"], self.batch))

    def run_batch(self, indexes):
        threads = [threading.Thread(target=self.play, args=(i,),
                                    daemon=True) for i in indexes]
        for th in threads:
            th.start()
        for th in threads:
            th.join(END_BOUND + 120)
        check(self.srv.alive(), "the server died (seed %d, calls %d-%d); "
              "stderr: %s" % (self.seed, indexes[0], indexes[-1],
                              self.srv.stderr_tail(12)))
        for ep in self.statics.values():
            ep.drop_conns()
        self.no_live_call(indexes)
        self.fds_back()
        self.alive_check()

    def calls(self, indexes):
        """GET /api/v1/calls; a body that is not JSON is a failure, and
        then read as well as it goes."""
        st, _, body = self.srv.http_get("/api/v1/calls")
        check(st == 200, "GET /api/v1/calls: %d" % st)
        try:
            return json.loads(body)
        except ValueError as e:
            why = ("seed %d: GET /api/v1/calls after the batch of calls "
                   "%d-%d is not JSON: %s" % (self.seed, indexes[0],
                                              indexes[-1], e))
            if why not in self.failures:
                self.failures.append(why)
            return json.loads(body.decode("utf-8", "replace"))

    def no_live_call(self, indexes):
        def quiet():
            live = [c for c in self.calls(indexes)
                    if c.get("state") != "ended"]
            return not live or None
        try:
            wait_until(quiet, 10, "end of every call", poll=0.2)
        except Fail:
            live = [c for c in self.calls(indexes)
                    if c.get("state") != "ended"]
            for c in live:
                run = self.callids.get(c.get("callid"))
                self.failures.append(
                    "seed %d: call %s (Call-ID %s, %s) is still live "
                    "(state %s) after the batch of calls %d-%d"
                    % (self.seed, run.s.index if run else "?",
                       c.get("callid"), c.get("id"), c.get("state"),
                       indexes[0], indexes[-1]))

    def fds_back(self):
        t0 = time.monotonic()
        if self.fds() > self.base:
            info("descriptors after the batch: %s" % "; ".join(
                self.sockets()))
        try:
            wait_until(lambda: self.fds() <= self.base, FD_BOUND,
                       "descriptor count back to %d" % self.base, poll=0.2)
        except Fail:
            self.failures.append("seed %d: the server has %d descriptors "
                                 "after the batch, %d before; %s" % (
                                     self.seed, self.fds(), self.base,
                                     "; ".join(self.sockets())))
        if time.monotonic() - t0 > 1:
            info("descriptors back after %.1f s" % (time.monotonic() - t0))

    def sockets(self):
        """Each socket of the server: protocol, addresses, state, and the
        call whose stream sent from that address."""
        pid = self.srv.proc.pid
        inodes = set()
        for f in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, f))
            except OSError:
                continue           # closed since the listing
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        src = {}
        for evs in self.log.by_callid.values():
            for call, lst in evs.items():
                for e in lst:
                    if e.get("what") == "rtp-started":
                        src[e.get("src")] = "%s %s" % (call,
                                                       e.get("callid"))
        out = []
        for proto in ("udp", "tcp"):
            with open("/proc/%d/net/%s" % (pid, proto)) as f:
                for line in f.readlines()[1:]:
                    c = line.split()
                    if c[9] not in inodes:
                        continue
                    addr = [socket_addr(x) for x in c[1:3]]
                    port = int(addr[0].split(":")[1])
                    who = sorted(r.s.index for r in self.callids.values()
                                 if port in r.srv_ports or
                                 port - 1 in r.srv_ports)
                    out.append("%s %s->%s st %s%s%s" % (
                        proto, addr[0], addr[1], c[3],
                        " (%s)" % src[addr[0]] if addr[0] in src else "",
                        " (in the SDP of calls %s)" % who if who else ""))
        return out

    def alive_check(self):
        for tp in ("udp", "tcp"):
            cl = SipClient(self.srv, tp)
            try:
                r = cl.transact("OPTIONS", "sip:%s:%d" % (HOST, self.srv.sip))
            finally:
                cl.close()
            check(r.status == 200, "OPTIONS over %s after the batch: %s"
                  % (tp, r.first))
            clean_call(self, tp)


def clean_script(tp):
    s = Script(0, 0)
    s.tp_a = s.tp_b = tp
    s.mode, s.reach, s.shape = "http", "register", "clean"
    s.invite = {"offer": True, "100rel": False, "es": False,
                "require100rel": False, "pem": False, "update": True,
                "se": None, "mut": None}
    for who in ("A", "B"):
        s.policy[who] = {"other": [("ok", None)]}
    s.tail = {"A": "coop", "B": "coop"}
    for who, action, p in (
            ("B", "prov", dict(code=180, rel=False, body=None, es=False,
                               pem=False, rseq="next")),
            ("B", "final", dict(code=200, body="answer")),
            ("A", "ack", dict(kind="ok")), ("A", "bye", {})):
        p.update(pause=0.0, mut=None)
        s.steps.append((who, action, p))
    return s


def clean_call(fz, tp):
    """INVITE, 180, 200, ACK, BYE, 200 between two clean parties."""
    fz.seq = getattr(fz, "seq", 0) + 1
    s = clean_script(tp)
    s.index = 900000 + fz.seq
    run = CallRun(s, fz.srv, "fzclean", None, fz.sinks)
    try:
        register(fz.srv, "fzclean", run.b.ep.uri("fzclean"), 300)
        run.run_steps()
        done = run.wait_end(fz.log.state, 10)
        names = [e.get("what") for e in fz.log.events(run.call_id)]
        bye = [m for m in run.a.rx if m.cseq().endswith(" BYE")]
        ok = (done and run.a_final is not None and run.a_final.status == 200
              and run.b_acked and [m for m in bye if m.status == 200] and
              "confirmed" in names and names[-1:] == ["ended"])
        check(ok, "clean call over %s after the batch failed; ladder: %s; "
              "events: %s" % (tp, " / ".join(run.ladder), names))
    finally:
        register(fz.srv, "fzclean", run.b.ep.uri("fzclean"), 0)
        run.close()


@test
def fuzz_sip_calls(t):
    """Calls with drawn scripts in batches; after each batch nothing is
    live, no descriptor leaked and a clean call works (see the module
    docstring; CMRLAB_SIPFUZZ_* make it longer or replay a seed)."""
    seed, idx, batch = settings()
    info("seed %d, %d calls, batches of %d (CMRLAB_SIPFUZZ_SEED=%d "
         "replays)" % (seed, len(idx), batch, seed))
    fz = Fuzz(t, seed, batch)
    try:
        clean_call(fz, "udp")
        clean_call(fz, "tcp")
        fz.base = fz.fds()
        t0 = time.monotonic()
        for start in range(0, len(idx), batch):
            part = idx[start:start + batch]
            fz.run_batch(part)
            info("calls %d-%d done at %.0f s; %d failures so far"
                 % (part[0], part[-1], time.monotonic() - t0,
                    len(fz.failures)))
        info("how calls ended: %s" % ", ".join(
            "%s %d" % kv for kv in sorted(fz.stats.items(),
                                          key=lambda kv: -kv[1])))
        kinds = {}
        for (kind, code), n in fz.codes.items():
            kinds.setdefault(kind, []).append("%d x%d" % (code, n))
        info("final responses to our clean requests: " + "; ".join(
            "%s: %s" % (k, ", ".join(sorted(v))) for k, v in
            sorted(kinds.items())))
    finally:
        for ep in fz.statics.values():
            ep.close()
        fz.sinks.close()
    for f in fz.failures[:20]:
        info(f)
    if fz.failures:
        path = os.path.join(t.tmp, "fuzz-failures.txt")
        with open(path, "w") as f:
            f.write("\n".join(fz.failures) + "\n")
        info("every failure is in %s" % path)
    check(not fz.failures, "%d failures (seed %d); the first: %s"
          % (len(fz.failures), seed, fz.failures[0].split("\n")[0]
             if fz.failures else ""))
