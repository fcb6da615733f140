"""Faults: calls in every mode over a network that loses 5% of the SIP
datagrams, and reorders some on the caller's leg, complete through
retransmission; TCP peers that connect to the SIP or HTTP port and stall
are closed by the server, which gives back what they held."""

import os
import random
import socket
import time

from cmrtest import HOST, Fail, check, info, test, wait_until
from cmrtest_sip import run_call
from faultnet import Loss
from idleconn import Stalls
from rtxua import Callee, Caller, Engine

PER_MODE = 20              # calls in each mode
REORDER = 0.1              # share of the caller leg's datagrams held back
SPACING = 0.03             # seconds between the starts of two calls
CALL_BUDGET = 60.0         # every call of every mode ends within this

# mode: (first callee number, caller kinds in turn, callee kind, the
# API's mode_bt and mode_rt).  "auto" gets early-media callers
# (P-Early-Media, no early-session) and early-session callees.
MODES = {
    "http": (2000, ("plain",), "plain", ("http", "http")),
    "as": (2100, ("as",), "as", ("as", "as")),
    "gateway": (2200, ("gw-update", "gw-reinvite"), "rel",
                ("gateway", "http")),
    "auto": (2300, ("gw-update",), "as", ("gateway", "as")),
}
CALLER_FACTS = {
    "plain": set(),
    "as": {"es-offer", "prack-ok"},
    "gw-update": {"pem-sendrecv", "prack-ok", "update"},
    "gw-reinvite": {"pem-sendrecv", "prack-ok", "reinvite",
                    "reinvite-acked"},
}
CALLEE_FACTS = {"plain": set(), "rel": {"prack"},
                "as": {"prack", "es-offer"}}


def loss_profile(t):
    path = os.path.join(t.tmp, "faults.profile")
    with open(path, "w") as f:
        f.write("subscriber alice mode=auto\n")
        for mode, (first, _, _, _) in MODES.items():
            f.write("subscriber %d-%d mode=%s\n"
                    % (first, first + PER_MODE - 1, mode))
    return path


# ---- calls over a lossy network ------------------------------------------

def make_calls(eng, loss, srv, media, rnd):
    """[(mode, Caller, Callee)]: PER_MODE calls of each mode, each callee
    with its own number, each caller behind a reordering relay (and,
    with the shim, each callee behind a dropping one)."""
    server = (HOST, srv.sip)
    calls = []
    for mode, (first, kinds, ckind, _) in MODES.items():
        for i in range(PER_MODE):
            user = str(first + i)
            crelay = loss.relay(eng, server, rnd, "callee") \
                if loss.shim else None
            callee = Callee(eng, ckind, user, server, media, crelay)
            relay = loss.relay(eng, server, rnd, "caller", REORDER)
            caller = Caller(eng, kinds[i % len(kinds)], user, server,
                            media, relay)
            calls.append((mode, caller, callee))
    return calls


def call_verdict(mode, caller, callee, rec):
    """Why one call did not end as it should, or None."""
    why = caller.errors + callee.errors
    if caller.final != 200:
        why.append("the INVITE ended %r" % caller.final)
    if caller.bye != 200:
        why.append("the caller's BYE ended %r" % caller.bye)
    if not callee.bye:
        why.append("the callee got no BYE")
    miss = CALLER_FACTS[caller.kind] - caller.facts
    if miss:
        why.append("caller (%s) missed %s" % (caller.kind, sorted(miss)))
    miss = CALLEE_FACTS[callee.kind] - callee.facts
    if miss:
        why.append("callee (%s) missed %s" % (callee.kind, sorted(miss)))
    want = MODES[mode][3]
    if rec is None:
        why.append("no call record")
    else:
        got = (rec.get("mode_bt"), rec.get("mode_rt"))
        if got != want or rec.get("state") != "ended":
            why.append("call record: state %s, modes %s, expected ended, "
                       "%s" % (rec.get("state"), got, want))
    return "; ".join(why) or None


def loss_calls(loss, srv, seed):
    """Every call of MODES over the lossy network; checks their ends and
    prints the figures."""
    eng = Engine()
    rnd = random.Random(seed)
    media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    media.bind((HOST, 0))          # RTP goes here and is never read
    calls = make_calls(eng, loss, srv, media.getsockname(), rnd)
    loss.drop_on(srv.sip)
    try:
        t0 = time.monotonic()
        for _, _, callee in calls:
            callee.register()
        ok = eng.run(lambda: all(c.registered or c.errors
                                 for _, _, c in calls), 40)
        regs = [c.registered for _, _, c in calls]
        check(ok and regs.count(200) == len(calls), "REGISTER: %d of %d "
              "answered 200 (%s)" % (regs.count(200), len(calls),
                                     sorted(set(map(str, regs)))))
        t1 = time.monotonic()
        order = list(range(len(calls)))
        rnd.shuffle(order)         # the modes mixed, in parallel
        for n, k in enumerate(order):
            eng.at(n * SPACING, calls[k][1].start)
        eng.run(lambda: all(cl.done and ce.done for _, cl, ce in calls),
                CALL_BUDGET)
        t2 = time.monotonic()
        info("REGISTER of %d callees: %.1f s; %d calls: %.1f s"
             % (len(calls), t1 - t0, len(calls), t2 - t1))
        for line in loss.report():
            info(line)
    finally:
        for _, caller, callee in calls:
            caller.close()
            callee.close()
        for r in loss.relays:
            r.close()
        eng.close()
        media.close()
    recs = call_records(srv, [cl.call_id for _, cl, _ in calls])
    failed = []
    for mode in MODES:
        mine = [(cl, ce) for m, cl, ce in calls if m == mode]
        again = sum(1 for cl, ce in mine for p in (cl, ce)
                    for x in p.trace if x[1] == "->(again)")
        bad = [(cl, ce, call_verdict(mode, cl, ce, recs.get(cl.call_id)))
               for cl, ce in mine]
        bad = [b for b in bad if b[2]]
        info("%-7s %d calls, %d ended with 200 and BYE/200 on both "
             "sides; the parties sent %d retransmissions"
             % (mode, len(mine), len(mine) - len(bad), again))
        failed += bad
    for cl, ce, why in failed[:3]:
        info("%s: %s\n  caller: %s\n  callee: %s"
             % (cl.call_id, why, cl.ladder(), ce.ladder()))
    check(not failed, "%d of %d calls did not end as they should; the "
          "first: %s" % (len(failed), len(calls),
                         failed[0][2] if failed else ""))
    seen, dropped = loss.dropped()
    check(dropped > 0, "%s dropped none of %d datagrams"
          % (loss.mechanism, seen))


def call_records(srv, call_ids):
    """{Call-ID: its record}, once every one of them has ended (or 10 s
    have passed)."""
    want = set(call_ids)

    def ended():
        recs = {r.get("callid"): r for r in srv.calls()
                if r.get("callid") in want}
        if len(recs) == len(want) and all(r.get("state") == "ended"
                                          for r in recs.values()):
            return recs
        return None
    try:
        return wait_until(ended, 10, "end of every call record", 0.2)
    except Fail:               # the verdicts say which
        return {r.get("callid"): r for r in srv.calls()}


# ---- the test ------------------------------------------------------------

@test
def faults_loss_and_stalled_peers(t):
    """At 5% loss each way (and some reordering on the caller's leg), 20
    calls in each mode (http, as, gateway with UPDATE or re-INVITE, auto
    with early media) end with 200 and BYE/200 on both sides.  Meanwhile
    another server gets 52 stalled SIP TCP connections and 50 stalled
    HTTP connections, closes the stalled ones by itself (libre: 32 s
    without a whole message; MHD: 30 s idle), connects a call over TCP all
    the same, and gets back to the fds it had, and frees the memory they
    held (a second round of them finds it)."""
    seed = random.randrange(1 << 30)
    info("seed %d" % seed)
    with Loss() as loss:
        lossy = t.server(profile=loss_profile(t))
        plain = t.server(plain="http")
        stalls = None
        try:
            stalls = Stalls(plain)
            run_call(t.tmp, plain, transport="tcp", ring_ms=300)
            info("a call over TCP among the stalled connections: done")
            loss_calls(loss, lossy, seed)
            stalls.finish()
        finally:
            if stalls:
                stalls.close()
            for srv in t.servers:
                srv.stop()
