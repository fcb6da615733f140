"""serve --state DIR: the API's changes survive a restart, a SIGHUP and a
SIGKILL at any moment; a corrupt DIR refuses to start; calls in progress
ride through changes and reloads."""

import glob
import json
import os
import random
import signal
import stat
import subprocess
import threading
import time

import cmrtest
from cmrtest import (
    HOST, Fail, Server, call_of, check, events_of, free_port, info, test,
    wait_until)
from test_api_write import (
    delete, expect_error, put_res, put_sub, req, sipp_call, wav_bytes)

PROFILE = ("subscriber alice cmrbt=ringback-default cmrt=ringback-default\n"
           "subscriber bob cmrbt=ringback-default cmrt=ringback-default\n")


def profile(t):
    path = os.path.join(t.tmp, "state.profile")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(PROFILE)
    return path


def state_server(t, d, **kw):
    return t.server(profile=kw.pop("profile", profile(t)),
                    extra=["--state", d] + list(kw.pop("extra", [])), **kw)


def snapshot(srv):
    """Every subscriber (without its bindings) and every resource of the
    API, and each resource's bytes and ETag from /r/ID."""
    subs = {s["id"]: dict(s, bindings=None)
            for s in srv.api_json("/api/v1/subscribers")}
    res = {}
    for r in srv.api_json("/api/v1/resources"):
        st, h, body = req(srv, "GET", "/r/" + r["id"])
        check(st == 200, "GET /r/%s: %d" % (r["id"], st))
        res[r["id"]] = (dict(r, url=None), body, h.get("etag"))
    return subs, res


def state_files(d):
    """The files of DIR and DIR/res."""
    return sorted(glob.glob(os.path.join(d, "*")) +
                  glob.glob(os.path.join(d, ".*")) +
                  glob.glob(os.path.join(d, "res", "*")) +
                  glob.glob(os.path.join(d, "res", ".*")))


def check_dir(d):
    """state.json is valid and names exactly the files of DIR/res, every
    file is 0600, no *.tmp is left; returns state.json."""
    with open(os.path.join(d, "state.json")) as f:
        text = f.read()
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise Fail("state.json is not JSON (%s): %r" % (e, text[:300]))
    check(doc.get("version") == 1, "state.json version %r"
          % doc.get("version"))
    named = sorted(r["file"] for r in doc["resources"])
    files = sorted(os.listdir(os.path.join(d, "res")))
    check(named == files, "DIR/res holds %s, state.json names %s"
          % (files, named))
    tmps = [p for p in state_files(d) if p.endswith(".tmp")]
    check(not tmps, "temporary files left after the start: %s" % tmps)
    for p in state_files(d):
        if os.path.isfile(p):
            mode = stat.S_IMODE(os.stat(p).st_mode)
            check(mode == 0o600, "%s has mode %o, expected 600" % (p, mode))
    return doc


@test
def state_persists_across_restart(t):
    """Subscribers put, replaced and deleted (alice of the profile too),
    resources put, replaced and deleted (the unassigned built-in
    ringtone-default too): after a restart with the same DIR all is as it
    was, with the same bytes and ETags; files left in DIR/res that
    state.json does not name, and temporary files, are gone."""
    d = os.path.join(t.tmp, "state")
    srv = state_server(t, d)
    put_res(srv, "wav", wav_bytes(0.5, 8000, 1000), "audio/wav", want=(201,))
    put_sub(srv, "zed", {"mode": "as", "password": "pw", "cmrt": "wav",
                         "contacts": ["sip:zed@127.0.0.1:5999"]}, want=(201,))
    put_sub(srv, "bob", {"mode": "off", "cmrt": "ringback-default"},
            want=(200,))
    delete(srv, "/api/v1/subscribers/alice", 204)
    put_sub(srv, "gone", {}, want=(201,))
    delete(srv, "/api/v1/subscribers/gone", 204)
    vid = os.urandom(20000)
    put_res(srv, "vid", vid, "video/mp4", want=(201,))
    put_res(srv, "rep", b"first", "text/plain", want=(201,))
    put_res(srv, "rep", b"second", "text/plain", want=(200,))
    put_res(srv, "tmp1", b"x", "text/plain", want=(201,))
    delete(srv, "/api/v1/resources/tmp1", 204)
    delete(srv, "/api/v1/resources/ringtone-default", 204)
    put_sub(srv, "yan", {"cmrbt": "wav", "cmrt": "vid"}, want=(201,))
    before = snapshot(srv)
    info("before: subscribers %s, resources %s"
         % (sorted(before[0]), sorted(before[1])))
    check(stat.S_IMODE(os.stat(d).st_mode) & 0o077 == 0,
          "DIR has mode %o" % stat.S_IMODE(os.stat(d).st_mode))
    check_dir(d)
    check(srv.stop() is None, "SIGTERM: %s" % srv.stop())

    # Leftovers a crash may leave: files no state.json names.
    for name in ("res/junk", "res/vid.999", "res/rep.77.tmp",
                 "state.json.tmp"):
        with open(os.path.join(d, name), "w") as f:
            f.write("{torn")
    srv = state_server(t, d)
    after = snapshot(srv)
    check(after[0] == before[0], "subscribers after the restart:\n%r\n"
          "before:\n%r" % (after[0], before[0]))
    check(sorted(after[1]) == sorted(before[1]), "resources after the "
          "restart: %s, before %s" % (sorted(after[1]), sorted(before[1])))
    for rid in before[1]:
        check(after[1][rid] == before[1][rid], "resource %s after the "
              "restart: %r (ETag %s, %d bytes), before %r (ETag %s, %d "
              "bytes)" % (rid, after[1][rid][0], after[1][rid][2],
                          len(after[1][rid][1]), before[1][rid][0],
                          before[1][rid][2], len(before[1][rid][1])))
    for p in ("/api/v1/subscribers/alice", "/api/v1/subscribers/gone",
              "/api/v1/resources/ringtone-default", "/r/tmp1"):
        st, _, _ = req(srv, "GET", p)
        check(st == 404, "GET %s after the restart: %d" % (p, st))
    check(after[0]["zed"]["password_set"] is True, "zed: %r"
          % after[0]["zed"])
    check_dir(d)

    # The file numbers go on from the highest named: a replace after the
    # restart is a new file, and survives the next restart.
    put_res(srv, "vid", b"third", "video/mp4", want=(200,))
    check(srv.stop() is None, "SIGTERM")
    srv = state_server(t, d)
    st, h, body = req(srv, "GET", "/r/vid")
    check(body == b"third" and h.get("content-type") == "video/mp4",
          "vid after a second restart: %r %r" % (h.get("content-type"),
                                                 body[:20]))
    check_dir(d)


def refused(t, d, *whys):
    """serve --state d exits 2 before the ready line, each of whys on
    stderr."""
    cmd = [cmrtest.BINARY, "serve", "--sip", "%s:%d" % (HOST, free_port()),
           "--http", "%s:%d" % (HOST, free_port()), "--profile", profile(t),
           "--log-json", os.path.join(t.tmp, "refused.jsonl"),
           "--state", d]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       cwd=t.tmp, timeout=10)
    err = r.stderr.decode("utf-8", "replace").strip()
    info("exit %d: %s" % (r.returncode, err.splitlines()[-1] if err
                          else ""))
    check(r.returncode == 2 and all(w in err for w in whys),
          "serve --state: exit %d, stderr %r; expected 2 and %s"
          % (r.returncode, err[-400:], " and ".join(map(repr, whys))))
    check(b"ready" not in r.stdout, "a ready line: %r" % r.stdout)


@test
def state_corrupt_refused(t):
    """A DIR/state.json that is not JSON, of another version, or whose
    resource file holds other bytes (or is missing): exit 2, the file
    named."""
    d = os.path.join(t.tmp, "state")
    srv = state_server(t, d)
    put_res(srv, "vid", os.urandom(3000), "video/mp4", want=(201,))
    put_sub(srv, "zed", {"cmrt": "vid"}, want=(201,))
    check(srv.stop() is None, "SIGTERM")
    sj = os.path.join(d, "state.json")
    with open(sj) as f:
        good = f.read()
    doc = json.loads(good)
    blob = os.path.join(d, "res", doc["resources"][0]["file"])
    with open(blob, "rb") as f:
        data = f.read()

    for text in ("{", "not json", "[]", '{"version": 1} x',
                 json.dumps(dict(doc, version=2)),
                 json.dumps(dict(doc, resources=7))):
        with open(sj, "w") as f:
            f.write(text)
        refused(t, d, sj)
    with open(sj, "w") as f:
        f.write(good)

    # The same length, one byte other; then one byte more; then none.
    with open(blob, "wb") as f:
        f.write(bytes([data[0] ^ 1]) + data[1:])
    refused(t, d, blob)
    with open(blob, "wb") as f:
        f.write(data + b"!")
    refused(t, d, blob)
    os.unlink(blob)
    refused(t, d, blob)
    with open(blob, "wb") as f:
        f.write(data)
    os.chmod(blob, 0o600)
    srv = state_server(t, d)
    check(srv.api_json("/api/v1/subscribers/zed")["cmrt"] == "vid",
          "zed after the repair")


def stderr_count(srv, text):
    with open(srv.err_path, "rb") as f:
        return f.read().decode("utf-8", "replace").count(text)


def sighup(srv):
    """SIGHUP and the wait for its reload to end."""
    n = stderr_count(srv, "reload: ")
    os.kill(srv.proc.pid, signal.SIGHUP)
    wait_until(lambda: stderr_count(srv, "reload: ") > n, 5,
               "reload line on stderr")


@test
def state_reload_keeps_changes(t):
    """A SIGHUP reloads the profile and puts the API's changes on it
    again: a deleted profile subscriber stays deleted, a replaced one
    keeps its new fields, put ones stay; a subscriber the edited profile
    adds appears."""
    d = os.path.join(t.tmp, "state")
    srv = state_server(t, d)
    put_res(srv, "vid", b"video bytes", "video/mp4", want=(201,))
    put_sub(srv, "zed", {"cmrt": "vid"}, want=(201,))
    put_sub(srv, "bob", {"mode": "gateway", "cmrt": "vid"}, want=(200,))
    delete(srv, "/api/v1/subscribers/alice", 204)
    delete(srv, "/api/v1/resources/ringtone-default", 204)
    before = snapshot(srv)
    with open(profile(t), "a") as f:
        f.write("subscriber walt\n")
    sighup(srv)
    after = snapshot(srv)
    check("walt" in after[0], "the profile's new subscriber walt is not "
          "there after the SIGHUP: %s" % sorted(after[0]))
    del after[0]["walt"]
    check(after == before, "after the SIGHUP:\n%r\nbefore:\n%r"
          % (after, before))
    # And again, now with a change made after the first reload.
    delete(srv, "/api/v1/subscribers/walt", 204)
    sighup(srv)
    st, _, _ = req(srv, "GET", "/api/v1/subscribers/walt")
    check(st == 404, "walt deleted by the API came back with a SIGHUP")
    # Without --state the overlay is kept in memory all the same.
    srv2 = t.server(profile=profile(t))
    delete(srv2, "/api/v1/subscribers/alice", 204)
    sighup(srv2)
    st, _, _ = req(srv2, "GET", "/api/v1/subscribers/alice")
    check(st == 404, "without --state alice came back with a SIGHUP")


@test
def state_call_survives_changes(t):
    """A call to bob rings while bob is PUT again (his resource no longer
    assigned), that resource is deleted and SIGHUP reloads; it talks
    while bob is deleted: 200, ACK and BYE go through and its events end
    as a call that nobody disturbed does."""
    d = os.path.join(t.tmp, "state")
    srv = state_server(t, d, plain="http")
    put_res(srv, "bobtone", wav_bytes(1.0), "audio/wav", want=(201,))
    done = {}

    def during(callee, caller):
        srv.wait_call_state(("ringing",))
        put_sub(srv, "bob", {"mode": "http"}, want=(200,))
        delete(srv, "/api/v1/resources/bobtone", 204)
        sighup(srv)
        done["ringing"] = srv.calls()[-1]["state"]
        srv.wait_call_state(("answered", "confirmed"))
        delete(srv, "/api/v1/subscribers/bob", 204)
        sighup(srv)
        done["talking"] = srv.calls()[-1]["state"]

    # bob, registered, with bobtone: the PUT keeps his binding.
    sipp_call(t, srv, "bob", "bobtone", ring_ms=1500, during=during,
              rt="bobtone",
              registered=lambda: put_sub(srv, "bob", {
                  "mode": "http", "cmrbt": "bobtone", "cmrt": "bobtone"},
                  want=(200,)))
    info("changes made while the call was %s and %s"
         % (done.get("ringing"), done.get("talking")))
    check(done.get("ringing") == "ringing" and done.get("talking") in
          ("answered", "confirmed"), "the changes were not made while the "
          "call rang and talked: %r" % done)
    rec = call_of(srv, srv.calls()[-1]["callid"])
    names = [e.get("what") for e in rec["events"]]
    info("events: %s; end %r" % (" ".join(names), rec.get("end")))
    check(rec.get("state") == "ended" and rec.get("end") ==
          "caller hung up",
          "call state %r end %r" % (rec.get("state"), rec.get("end")))
    for n in ("received", "ringing", "answered", "confirmed", "bye",
              "ended"):
        check(n in names, "no %r event: %s" % (n, names))
    bad = [e for e in rec["events"] if "error" in json.dumps(e).lower() or
           "fail" in json.dumps(e).lower()]
    check(not bad, "error events: %r" % bad)
    ins = events_of(rec, "cmr-inserted", dir="bt")
    check(ins and ins[0].get("resource") == "bobtone", "cmr-inserted: %r"
          % ins)


# ---- SIGKILL at any moment -----------------------------------------------

class Writer(threading.Thread):
    """Writes until the server dies: puts of new subscribers and small
    resources, replaces and deletes; keeps what was acknowledged (2xx)
    and the one change in flight."""

    def __init__(self, srv, model, n0, rng):
        threading.Thread.__init__(self, daemon=True)
        self.srv = srv
        self.model = model       # {"sub:ID": True, "res:ID": bytes}
        self.n = n0
        self.rng = rng
        self.acked = 0
        self.inflight = None     # (key, value before, value after)
        self.error = None
        self.killed = False

    def op(self):
        self.n += 1
        n, rng, model = self.n, self.rng, self.model
        subs = sorted(k for k in model if k.startswith("sub:"))
        ress = sorted(k for k in model if k.startswith("res:"))
        kind = n % 5
        if kind == 0 or not subs:
            key, path, body, hdr = ("sub:s%d" % n, "/api/v1/subscribers/s%d"
                                    % n, {"mode": "http"}, None)
            after = True
        elif kind in (1, 2) or not ress:
            rid = "r%d" % n if kind == 1 or not ress else ress[-1][4:]
            after = os.urandom(rng.randint(1, 30000))
            key, path, body, hdr = ("res:" + rid, "/api/v1/resources/"
                                    + rid, after, {"Content-Type":
                                                   "application/x-kill"})
        elif kind == 3:
            key = subs[0]
            path, body, hdr, after = ("/api/v1/subscribers/" + key[4:],
                                      None, None, None)
        else:
            key = ress[0]
            path, body, hdr, after = ("/api/v1/resources/" + key[4:],
                                      None, None, None)
        method = "PUT" if after is not None else "DELETE"
        self.inflight = (key, model.get(key), after)
        st, _, rb = req(self.srv, method, path, body, hdr, timeout=5)
        if st // 100 != 2:
            raise Fail("%s %s: %d %r" % (method, path, st, rb[:200]))
        if after is None:
            model.pop(key, None)
        else:
            model[key] = after
        self.inflight = None
        self.acked += 1

    def run(self):
        try:
            while True:
                self.op()
        except Fail as e:
            if not self.killed:
                self.error = str(e)


def check_model(srv, model, inflight):
    """Every acknowledged change is there; the one in flight is there
    whole or not at all.  Returns the model as the server has it."""
    got = {}
    for s in srv.api_json("/api/v1/subscribers"):
        if s["id"].startswith("s") and s["id"][1:].isdigit():
            got["sub:" + s["id"]] = True
    for r in srv.api_json("/api/v1/resources"):
        if r["id"].startswith("r") and r["id"][1:].isdigit():
            st, h, body = req(srv, "GET", "/r/" + r["id"])
            check(st == 200 and h.get("content-type") ==
                  "application/x-kill", "GET /r/%s: %d %r"
                  % (r["id"], st, h.get("content-type")))
            check(r["bytes"] == len(body), "%s: %d bytes, the API says %d"
                  % (r["id"], len(body), r["bytes"]))
            got["res:" + r["id"]] = body
    fkey = inflight[0] if inflight else None
    for key in set(model) | set(got):
        if key == fkey:
            continue
        check(got.get(key) == model.get(key), "%s: %s after the restart, "
              "acknowledged %s" % (key, describe(got.get(key)),
                                   describe(model.get(key))))
    if fkey:
        v = got.get(fkey)
        check(v == inflight[1] or v == inflight[2], "%s, in flight: %s "
              "after the restart, neither the one before (%s) nor the one "
              "sent (%s)" % (fkey, describe(v), describe(inflight[1]),
                             describe(inflight[2])))
    return got, (fkey and got.get(fkey) == inflight[2] and
                 inflight[1] != inflight[2])


def describe(v):
    if v is None:
        return "absent"
    if v is True:
        return "present"
    return "%d bytes" % len(v)


@test
def state_sigkill_at_any_moment(t):
    """A client writes without pause (subscribers put, resources put and
    replaced, both deleted) while the server is killed with SIGKILL after
    a random delay, ten times: each restart starts, state.json is valid,
    every acknowledged change is there, the one in flight is there whole
    or not at all, and no temporary file is left."""
    d = os.path.join(t.tmp, "state")
    rng = random.Random(os.environ.get("CMRLAB_KILL_SEED") or
                        time.time_ns())
    model, n = {}, 0
    srv = state_server(t, d)
    t0 = time.monotonic()
    rounds = []
    for rnd in range(10):
        w = Writer(srv, model, n, rng)
        w.start()
        delay = rng.uniform(0.05, 0.8)
        time.sleep(delay)
        w.killed = True
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(5)
        srv.stopped = (0.0, None)   # killed on purpose
        w.join(6)
        check(not w.is_alive(), "round %d: the writer hangs" % rnd)
        check(w.error is None, "round %d: %s" % (rnd, w.error))
        n = w.n
        tmps = [os.path.basename(p) for p in state_files(d)
                if p.endswith(".tmp")]
        srv = state_server(t, d)
        doc = check_dir(d)
        model, applied = check_model(srv, dict(model), w.inflight)
        rounds.append((round(delay, 2), w.acked, w.inflight and
                       w.inflight[0], applied, tmps))
        info("round %d: killed after %.2f s, %d acknowledged, in flight "
             "%s (%s); after the kill %s; state.json: %d subscribers, %d "
             "resources" % (rnd, delay, w.acked, w.inflight and
                            w.inflight[0], "made" if applied else "not "
                            "made", tmps or "no .tmp",
                            len(doc["subscribers"]),
                            len(doc["resources"])))
    info("%.1f s for 10 rounds, %d changes acknowledged in all"
         % (time.monotonic() - t0, sum(r[1] for r in rounds)))
    check(sum(r[1] for r in rounds) >= 30, "too few changes made: %r"
          % rounds)


def kill_restart(t, srv, d):
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait(5)
    srv.stopped = (0.0, None)       # killed on purpose
    srv = state_server(t, d)
    check_dir(d)
    return srv


@test
def state_each_change_durable(t):
    """Each kind of change, answered 2xx and followed at once by SIGKILL,
    is there after the restart: a subscriber put, replaced, deleted (one
    of the API's and one of the profile's), a resource put, replaced and
    deleted (one of the API's and a built-in one)."""
    d = os.path.join(t.tmp, "state")
    srv = state_server(t, d)
    steps = [
        ("PUT", "/api/v1/subscribers/zed", {"mode": "as",
                                            "cmrt": "ringback-default"}),
        ("PUT", "/api/v1/subscribers/zed", {"mode": "off",
                                            "cmrt": "ringback-default"}),
        ("PUT", "/api/v1/subscribers/bob", {"mode": "gateway",
                                            "cmrt": "ringback-default"}),
        ("DELETE", "/api/v1/subscribers/zed", None),
        ("DELETE", "/api/v1/subscribers/alice", None),
        ("PUT", "/api/v1/resources/vid", b"first"),
        ("PUT", "/api/v1/resources/vid", b"second"),
        ("DELETE", "/api/v1/resources/vid", None),
        ("DELETE", "/api/v1/resources/ringtone-default", None),
    ]
    for method, path, body in steps:
        hdr = {"Content-Type": "video/mp4"} if "resources" in path else {}
        st, _, got = req(srv, method, path, body, hdr)
        check(st // 100 == 2, "%s %s: %d %r" % (method, path, st, got))
        want = snapshot(srv)
        srv = kill_restart(t, srv, d)
        have = snapshot(srv)
        check(have == want, "%s %s then SIGKILL: after the restart\n%r\n"
              "before the kill\n%r" % (method, path, have, want))
