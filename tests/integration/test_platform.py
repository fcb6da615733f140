"""The cmrlab process itself: the ready line, OPTIONS and /healthz, the
command line's exit codes, SIGHUP reload, SIGTERM and --max-calls."""

import os
import re
import signal
import socket
import subprocess
import time

import cmrtest
from cmrtest import Fail, HOST, check, free_port, test, wait_until
from cmrtest_sip import SDP_OFFER, SipClient, invite, register_ok, run_call


@test
def options_udp_tcp(t):
    """OPTIONS over UDP and TCP is answered 200; /healthz answers 200."""
    srv = t.server()
    for tp in ("udp", "tcp"):
        cl = SipClient(srv, tp)
        try:
            rsp = cl.transact("OPTIONS", "sip:%s:%d" % (HOST, srv.sip))
        finally:
            cl.close()
        check(rsp.status == 200, "OPTIONS over %s: %s, expected 200"
              % (tp, rsp.first))
        via = rsp.get("via") or ""
        check(via.startswith("SIP/2.0/%s" % tp.upper()),
              "OPTIONS over %s: Via of the 200 is %r" % (tp, via))
        check(rsp.cseq() == "1 OPTIONS", "OPTIONS over %s: CSeq %r"
              % (tp, rsp.cseq()))
    st, _, _ = srv.http_get("/healthz")
    check(st == 200, "GET /healthz: %d, expected 200" % st)


PROFILE_V1 = """# integration test profile, version 1
defaults plain=http
subscriber alice mode=auto cmrbt=ringback-default cmrt=ringtone-default
subscriber bob mode=auto cmrbt=ringback-default cmrt=ringtone-default
"""


PROFILE_V2 = PROFILE_V1.replace("version 1", "version 2") + \
    "subscriber carol mode=auto cmrbt=ringback-default cmrt=ringtone-default\n"


@test
def sighup_reload(t):
    """SIGHUP during a ringing call reloads the profile; the call
    completes and the registrations survive."""
    prof = os.path.join(t.tmp, "cmrlab.profile")
    with open(prof, "w") as f:
        f.write(PROFILE_V1)
    srv = t.server(profile=prof)
    st, _, _ = srv.http_get("/api/v1/subscribers/carol")
    check(st == 404, "profile v1: carol answers %d, expected 404" % st)
    state = {}

    def during(callee, caller):
        srv.wait_call_state(("ringing",), timeout=5)
        tmp = prof + ".new"
        with open(tmp, "w") as f:
            f.write(PROFILE_V2)
        os.replace(tmp, prof)
        os.kill(srv.proc.pid, signal.SIGHUP)
        try:
            wait_until(lambda: srv.http_get("/api/v1/subscribers/carol")[0]
                       == 200, 2, "carol in the API")
        except Fail:
            pass                # state["carol"] tells, after the call
        state["carol"] = srv.http_get("/api/v1/subscribers/carol")[0]
        state["bob"] = srv.api_json("/api/v1/subscribers/bob")
        state["contact"] = callee.contact
        check(srv.alive(), "server died on SIGHUP: %s" % srv.stderr_tail())

    run_call(t.tmp, srv, ring_ms=2500, during=during)
    check(state.get("carol") == 200, "after SIGHUP carol answers %r, "
          "expected 200 (profile not reloaded)" % state.get("carol"))
    uris = [b.get("uri") for b in state["bob"].get("bindings", [])]
    check(state["contact"] in uris, "after SIGHUP bob's bindings are %r, "
          "expected %s" % (uris, state["contact"]))
    # The surviving registration still routes: register nothing new and
    # call once more through it.
    uris = [b.get("uri") for b in
            srv.api_json("/api/v1/subscribers/bob").get("bindings", [])]
    check(state["contact"] in uris, "after the call bob's bindings are %r"
          % uris)
    cl = SipClient(srv, "udp")
    try:
        r = invite(cl, "carol")
        check(r.status == 480, "INVITE carol after reload: %s, expected 480"
              % r.first)
    finally:
        cl.close()


def run_cli(args, timeout=5):
    r = subprocess.run([cmrtest.BINARY] + args, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    return (r.returncode, r.stdout.decode("utf-8", "replace"),
            r.stderr.decode("utf-8", "replace"))


@test
def cli_exit_codes(t):
    """version and serve --help exit 0; bad usage and bad profiles exit 2
    with a message naming the file (and the line)."""
    rc, out, err = run_cli(["version"])
    check(rc == 0, "version: exit %d, expected 0" % rc)
    check(re.search(r"cmrlab \d+\.\d+", out), "version prints %r" % out)
    rc, out, err = run_cli(["serve", "--help"])
    check(rc == 0, "serve --help: exit %d, expected 0" % rc)
    check("--sip" in out, "serve --help does not describe --sip: %r"
          % out[:200])
    ports = ["--sip", "%s:%d" % (HOST, free_port()),
             "--http", "%s:%d" % (HOST, free_port())]
    try:
        rc, out, err = run_cli(["serve", "--no-such-option"] + ports)
    except subprocess.TimeoutExpired:
        raise Fail("serve --no-such-option kept running")
    check(rc == 2, "serve --no-such-option: exit %d, expected 2" % rc)
    try:
        rc, out, err = run_cli(["no-such-command"])
    except subprocess.TimeoutExpired:
        raise Fail("no-such-command kept running")
    check(rc == 2, "no-such-command: exit %d, expected 2" % rc)

    missing = os.path.join(t.tmp, "no-such-dir", "missing.profile")
    try:
        rc, out, err = run_cli(["serve", "--profile", missing] + ports)
    except subprocess.TimeoutExpired:
        raise Fail("serve with a missing profile kept running")
    check(rc == 2, "missing profile: exit %d, expected 2" % rc)
    check(missing in err, "missing profile: stderr does not name %s: %r"
          % (missing, err.strip()))
    check(out == "", "missing profile: printed %r on stdout" % out)

    bad = os.path.join(t.tmp, "bad.profile")
    with open(bad, "w") as f:
        f.write("# a bad profile\nsubscriber alice mode=auto\n"
                "frobnicate everything=yes\n")
    try:
        rc, out, err = run_cli(["serve", "--profile", bad] + ports)
    except subprocess.TimeoutExpired:
        raise Fail("serve with a bad profile kept running")
    check(rc == 2, "bad profile: exit %d, expected 2" % rc)
    check("%s:3" % bad in err, "bad profile: stderr does not name %s:3: %r"
          % (bad, err.strip()))

    for i, badopt in enumerate((["--sip", "nonsense"],
                                ["--http", "127.0.0.1:99999"],
                                ["--rtp-ports", "30000-20000"])):
        args = ["serve"] + badopt + (ports[2:] if badopt[0] == "--sip"
                                     else ports[:2])
        try:
            rc, out, err = run_cli(args)
        except subprocess.TimeoutExpired:
            raise Fail("serve %s kept running" % " ".join(badopt))
        check(rc == 2, "serve %s: exit %d, expected 2" % (" ".join(badopt),
                                                           rc))


@test
def sigterm_during_call(t):
    """SIGTERM during an established call: BYE to both parties, exit 0
    within 2 s."""
    srv = t.server(plain="http")
    state = {}

    def during(callee, caller):
        srv.wait_call_state(("confirmed",), timeout=5)
        state["why"] = srv.stop()
        state["dt"] = srv.stopped[0]

    callee, caller = run_call(t.tmp, srv, uac="uac_call_wait_bye.xml",
                              ring_ms=300, during=during)
    check(state.get("why") is None, state.get("why") or "")
    check(re.search(r"(?m)^BYE sip:", caller.messages()),
          "the caller got no BYE")
    check(re.search(r"(?m)^BYE sip:", callee.messages()),
          "the callee got no BYE")


@test
def call_limit_and_sigterm_while_ringing(t):
    """Over --max-calls a new INVITE gets 503 with Retry-After; SIGTERM
    while a call rings gives the caller a final 503 and the callee a
    CANCEL, and the server exits 0 within 2 s."""
    srv = t.server(extra=("--max-calls", "1"))
    # The callee: a bare UDP socket that receives and never answers.
    callee = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    callee.bind((HOST, 0))
    callee.settimeout(3)
    try:
        register_ok(srv, "bob", "sip:bob@%s:%d" % (HOST,
                                                  callee.getsockname()[1]))
        a = SipClient(srv)
        b = SipClient(srv)
        try:
            data, _, cid1 = a.request(
                "INVITE", "sip:bob@%s:%d" % (HOST, srv.sip), to_user="bob",
                headers=["Contact: <sip:alice@%s:%d>" % (HOST, a.port),
                         "Content-Type: application/sdp"], body=SDP_OFFER)
            a.send_raw(data)
            first = a.recv_msg(3)
            check(first is not None and first.status == 100,
                  "first call: no 100 Trying (%r)" % first)
            inv, src = callee.recvfrom(65535)
            inv = inv.decode("utf-8", "replace")
            check(inv.startswith("INVITE "), "callee got %r" % inv[:40])
            # Ring (RFC 3261 9.1: no CANCEL before a provisional).
            hdrs = [l for l in inv.split("\r\n")
                    if re.match(r"(?i)(via|from|to|call-id|cseq):", l)]
            hdrs = [l + ";tag=ring1" if l.lower().startswith("to:") else l
                    for l in hdrs]
            callee.sendto(("SIP/2.0 180 Ringing\r\n" + "\r\n".join(hdrs)
                           + "\r\nContent-Length: 0\r\n\r\n").encode(),
                          src)
            ring = None
            while ring is None or ring.status == 100:
                ring = a.recv_msg(3)
                check(ring is not None, "the caller got no 180")
            check(ring.status == 180, "caller got %s, expected 180"
                  % ring.first)

            r = invite(b, "bob")
            check(r.status == 503, "second call: %s, expected 503"
                  % r.first)
            check(r.get("retry-after") is not None,
                  "503 without Retry-After")

            why = srv.stop()
            check(why is None, why or "")
            fin = a.final_response(cid1, "INVITE", 3)
            check(fin.status == 503, "ringing call on SIGTERM: %s, "
                  "expected 503" % fin.first)
            got_cancel = False
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and not got_cancel:
                try:
                    m = callee.recv(65535).decode("utf-8", "replace")
                except socket.timeout:
                    break
                got_cancel = m.startswith("CANCEL ")
            check(got_cancel, "the callee got no CANCEL on SIGTERM")
        finally:
            a.close()
            b.close()
    finally:
        callee.close()
