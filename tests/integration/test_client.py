"""cmrlab call, the CMR Client: each role and mode against cmrlab's
server, and against sipp and sipua peers that break the contract."""

import os
import signal
import socket
import struct
import subprocess
import threading
import time

import cmrtest
from cmrtest import (HOST, Fail, check, free_port, info, kill_proc, slow_test,
                     spawn, test)
from cmrtest_sip import Sipp
from cmrclient import CALL_TIMEOUT, Callee, call, correlation, wav_samples
from sipua import UA, sdp

RING = 1.5
TALK = 1


def resource(srv, rid):
    st, hdrs, body = srv.http_get("/r/" + rid)
    check(st == 200, "GET /r/%s: %d" % (rid, st))
    return body


def pair(t, srv, caller_opts, callee_opts, to="bob"):
    """A called party registered as to, then a calling party calling it;
    both results (each checked to be one JSON object)."""
    callee = Callee(t, srv.sip, user=to, ring=RING, talk=TALK,
                    **callee_opts)
    rc, r, _ = call(t, srv.sip, to=to, talk=TALK, **caller_opts)
    crc, cr = callee.wait()
    return rc, r, crc, cr


def check_ok(rc, r, who):
    check(rc == 0 and r["ok"], "%s: exit %d, %s" % (who, rc, r["reason"]))
    check(r["final"] == 200, "%s: final %s" % (who, r["final"]))


def check_talk(r, who):
    """Both ends talked: the far end's tone came, ours went."""
    check(r["talk"]["packets"] >= 20 and r["talk"]["sent"] >= 20,
          "%s: talk %r" % (who, r["talk"]))


def check_heard(t, srv, path, rid="ringback-default", min_corr=0.9):
    """The saved WAV's start is the resource (G.711 in between)."""
    with open(path, "rb") as f:
        rate, heard = wav_samples(f.read())
    _, res = wav_samples(resource(srv, rid))
    check(rate == 8000, "saved WAV at %d Hz" % rate)
    c = correlation(res, heard)
    info("saved %d samples, correlation with %s %.3f" % (len(heard), rid, c))
    check(c >= min_corr, "what was heard does not match %s (correlation "
          "%.3f)" % (rid, c))


@test
def client_http_ringback(t):
    """HTTP mode, calling party: the URL of the 180 is downloaded and
    played until the 200; the saved WAV is the resource."""
    srv = t.server(plain="http")
    wav = os.path.join(t.tmp, "heard.wav")
    rc, r, crc, cr = pair(t, srv, {"mode": "http", "save": wav},
                          {"mode": "plain"})
    check_ok(rc, r, "caller")
    check_ok(crc, cr, "callee")
    body = resource(srv, "ringback-default")
    h = r["http"]
    check(h["status"] == 200 and h["type"] == "audio/wav" and
          h["bytes"] == len(body) and "/r/ringback-default" in h["url"]
          and h["duration_ms"] and h["duration_ms"] >= 5000,
          "download %r" % h)
    check(r["tone"]["heard_ms"] >= 1000, "played only %r" % r["tone"])
    check(r["tone"]["packets"] == 0, "RTP tone in HTTP mode: %r" % r["tone"])
    check_talk(r, "caller")
    check_talk(cr, "callee")
    check_heard(t, srv, wav)


@test
def client_text_verdict(t):
    """Without --json: the verdict line, then the figures; the download's
    line says when it was complete."""
    import re
    srv = t.server(plain="http")
    callee = Callee(t, srv.sip, ring=RING, talk=TALK)
    p = subprocess.run([cmrtest.BINARY, "call", "--from", "alice", "--to",
                        "bob", "--target", "sip:%s:%d" % (HOST, srv.sip),
                        "--mode", "http", "--talk", str(TALK)],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=CALL_TIMEOUT)
    callee.wait()
    out = p.stdout.decode("utf-8", "replace")
    info("text verdict: %r" % out)
    lines = out.splitlines()
    check(p.returncode == 0 and lines and
          lines[0].startswith("pass: http mode ringback"),
          "exit %d: %r" % (p.returncode, out))
    check(any(re.match(r"  download: http://\S+/r/ringback-default\S* -> "
                       r"200 audio/wav, \d+ bytes, complete \d+ ms after "
                       r"the INVITE$", l) for l in lines),
          "no download line with its time: %r" % out)


@test
def client_http_ringtone(t):
    """HTTP mode, called party: the URL of the INVITE is downloaded and
    played until our answer."""
    srv = t.server(plain="http")
    wav = os.path.join(t.tmp, "heard.wav")
    rc, r, crc, cr = pair(t, srv, {"mode": "plain"},
                          {"mode": "http", "save": wav})
    check_ok(rc, r, "caller")
    check_ok(crc, cr, "callee")
    h = cr["http"]
    check(h["status"] == 200 and "/r/ringtone-default" in h["url"] and
          h["duration_ms"] and h["duration_ms"] >= 5000,
          "callee download %r" % h)
    check(cr["tone"]["heard_ms"] >= 1000, "played %r" % cr["tone"])
    check_heard(t, srv, wav, rid="ringtone-default")


@test
def client_as_ringback(t):
    """Application server mode, calling party: the early-session offer of
    the reliable 183 is answered in the PRACK and the RTP that follows is
    the resource."""
    srv = t.server()
    wav = os.path.join(t.tmp, "heard.wav")
    rc, r, crc, cr = pair(t, srv, {"mode": "as", "save": wav},
                          {"mode": "plain"})
    check_ok(rc, r, "caller")
    check_ok(crc, cr, "callee")
    e, tone = r["early"], r["tone"]
    check(e["reliable_18x"] and e["early_session_offer"], "early %r" % e)
    check(tone["packets"] >= 50 and tone["lost"] == 0, "tone %r" % tone)
    check(0 < tone["ms_first_packet"] < 1000, "tone %r" % tone)
    check(r["talk"]["gap_ms"] is not None, "no gap measured: %r" % r["talk"])
    check_talk(r, "caller")
    check_heard(t, srv, wav)


@test
def client_as_ringtone(t):
    """Application server mode, called party: our reliable 180 says
    early-session, the PRACK brings the offer, our 200 (PRACK) the answer,
    the RTP comes until we answer."""
    srv = t.server(plain="http")
    wav = os.path.join(t.tmp, "heard.wav")
    rc, r, crc, cr = pair(t, srv, {"mode": "plain"},
                          {"mode": "as", "save": wav})
    check_ok(rc, r, "caller")
    check_ok(crc, cr, "callee")
    check(cr["early"]["early_session_offer"], "callee early %r" % cr["early"])
    check(cr["tone"]["packets"] >= 50 and cr["tone"]["lost"] == 0,
          "callee tone %r" % cr["tone"])
    check_heard(t, srv, wav, rid="ringtone-default")


@test
def client_gateway_update(t):
    """Gateway mode, calling party: the 183's SDP answer with
    P-Early-Media: sendrecv, its RTP, the UPDATE with the callee's SDP."""
    srv = t.server()
    rc, r, crc, cr = pair(t, srv, {"mode": "gateway"}, {"mode": "plain"})
    check_ok(rc, r, "caller")
    check_ok(crc, cr, "callee")
    e = r["early"]
    check(e["p_early_media_sendrecv"] and e["reliable_18x"] and
          e["updates"] == 1 and e["reinvites"] == 0, "early %r" % e)
    check(r["tone"]["packets"] >= 50, "tone %r" % r["tone"])
    check_talk(r, "caller")
    check_talk(cr, "callee")


@test
def client_gateway_reinvite(t):
    """Gateway mode, a calling party whose Allow lacks UPDATE: the
    callee's SDP comes in a re-INVITE after the ACK."""
    srv = t.server()
    rc, r, crc, cr = pair(t, srv, {"mode": "gateway", "no_update": True},
                          {"mode": "plain"})
    check_ok(rc, r, "caller")
    check_ok(crc, cr, "callee")
    e = r["early"]
    check(e["reinvites"] == 1 and e["updates"] == 0, "early %r" % e)
    check_talk(r, "caller")


@test
def client_plain_early_media(t):
    """A plain calling party gets early media: the URL and our answer in
    the 180, the RTP, then the callee's SDP by re-INVITE."""
    srv = t.server()
    rc, r, crc, cr = pair(t, srv, {"mode": "plain"}, {"mode": "plain"})
    check_ok(rc, r, "caller")
    check_ok(crc, cr, "callee")
    check(r["http"]["status"] == 200, "URL of the 180: %r" % r["http"])
    check(r["tone"]["packets"] >= 50, "tone %r" % r["tone"])
    check(r["early"]["reinvites"] == 1, "early %r" % r["early"])
    check_talk(r, "caller")


@test
def client_callee_hangs_up(t):
    """--hangup callee: the called party sends the BYE after its talk."""
    srv = t.server()
    rc, r, crc, cr = pair(t, srv, {"mode": "gateway", "hangup": "callee"},
                          {"mode": "plain", "hangup": "callee"})
    check_ok(rc, r, "caller")
    check_ok(crc, cr, "callee")
    check(cr["talk"]["bye_sent"] and not r["talk"]["bye_sent"],
          "BYE sent by caller %s, callee %s" % (r["talk"]["bye_sent"],
                                               cr["talk"]["bye_sent"]))


@test
def client_reject(t):
    """--reject 486: the calling party sees 486, and exits 0 only when it
    expected it."""
    srv = t.server()
    callee = Callee(t, srv.sip, ring=0.5, reject=486, calls=2)
    rc, r, _ = call(t, srv.sip, mode="gateway", expect=486, name="c1")
    check(rc == 0 and r["final"] == 486, "expected 486: %d %r"
          % (rc, r["reason"]))
    check(r["tone"]["packets"] >= 10, "ringback before the 486: %r"
          % r["tone"])
    rc, r, _ = call(t, srv.sip, mode="gateway", name="c2")
    check(rc == 1 and "486" in r["reason"], "without --expect: %d %r"
          % (rc, r["reason"]))
    crc, cr = callee.wait()
    check(crc == 0, "callee: %d %r" % (crc, cr))


@test
def client_load(t):
    """--calls N --rate R: N calls, their totals in one JSON object."""
    srv = t.server()
    callee = Callee(t, srv.sip, ring=0.3, talk=0.2, calls=6)
    rc, r, _ = call(t, srv.sip, mode="as", calls=6, rate=4, talk=0.2)
    check(rc == 0 and r["calls"] == 6 and r["passed"] == 6 and
          r["failed"] == 0, "totals %r" % r)
    check(r["ms_final"]["min"] >= 300, "ms_final %r" % r["ms_final"])
    crc, cr = callee.wait()
    check(crc == 0 and cr["passed"] == 6, "callee totals %r" % cr)


def broken(t, scenario, mode, want, **keys):
    """The calling party against a sipp CMR Server that breaks the
    contract: it must exit 1 and name the reason."""
    keys.setdefault("ring_ms", 1500)
    peer = Sipp(t.tmp, scenario, "peer", keys=keys)
    peer.wait_listening()
    rc, r, _ = call(t, peer.port, mode=mode, no_register=True, talk=TALK)
    prc = peer.wait()
    check(rc == 1 and not r["ok"], "exit %d (%r), expected 1" % (rc, r))
    check(want in r["reason"], "reason %r, expected %r" % (r["reason"],
                                                          want))
    check(prc == 0, peer.verdict(prc) or "")


class _PeerAddr:
    """What sipua.UA sends to by default: the caller's SIP port, known
    once its INVITE came."""
    sip = None


def scripted(t, script, name="peer", **opts):
    """The calling party straight at a scripted SIP peer (sipua.UA) that
    plays the server: script(ua, inv) from the INVITE on.  Returns the
    caller's exit status and JSON result."""
    ua = UA(_PeerAddr(), "cmr", name=name)
    box = {}

    def run():
        try:
            box["res"] = call(t, ua.port, no_register=True, talk=TALK,
                              **opts)
        except Exception as e:         # noqa: BLE001 (re-raised below)
            box["err"] = e

    th = threading.Thread(target=run, daemon=True)
    th.start()
    try:
        inv = ua.next_request("INVITE", timeout=10)
        ua.srv.sip = inv.src[1]
        script(ua, inv)
        th.join(CALL_TIMEOUT + 5)
    finally:
        ua.save(os.path.join(t.tmp, name + ".sip"))
        ua.close()
    if "err" in box:
        raise box["err"]
    if "res" not in box:
        raise Fail("the caller did not finish")
    rc, r, _ = box["res"]
    return rc, r


def hang_up_after(ua, inv):
    """The ACK of our 2xx, then the caller's BYE, answered."""
    ua.next_request("ACK", call_id=inv.get("call-id"))
    bye = ua.next_request("BYE", timeout=10, call_id=inv.get("call-id"))
    ua.reply(bye, 200)


@test
def client_2xx_without_answer(t):
    """A 200 without SDP to the INVITE's offer, none having come in a
    reliable 18x (RFC 3261 13.2.1): the call has no far end to talk to
    and fails."""
    def script(ua, inv):
        ua.reply(inv, 180, tag="s1")
        time.sleep(0.4)
        ua.reply(inv, 200, tag="s1")
        hang_up_after(ua, inv)

    rc, r = scripted(t, script, mode="plain")
    check(rc == 1 and not r["ok"] and
          "no SDP answer" in r["reason"], "exit %d, %r" % (rc, r["reason"]))


@test
def client_answer_without_g711(t):
    """A 200 whose SDP answer names neither of our offer's formats (RFC
    3264 section 6.1), or refuses the stream (port 0): nothing to talk
    to, the call fails."""
    for name, body in (("g729", sdp(40000, 1, "cmr", pts=())
                        .replace(b"RTP/AVP \r\n", b"RTP/AVP 18\r\n")),
                       ("port0", sdp(0, 1, "cmr"))):
        def script(ua, inv, body=body):
            ua.reply(inv, 180, tag="s1")
            time.sleep(0.2)
            ua.reply(inv, 200, tag="s1", body=body)
            hang_up_after(ua, inv)

        rc, r = scripted(t, script, name="peer-" + name, mode="plain")
        check(rc == 1 and "no PCMU or PCMA" in r["reason"],
              "%s: exit %d, %r" % (name, rc, r["reason"]))


@test
def client_update_before_answer(t):
    """An UPDATE with an offer in the early dialog, before the answer to
    the INVITE's offer: our offer is outstanding, so it is glare, 491
    (RFC 3311 5.2), and the call goes on."""
    def script(ua, inv):
        ua.reply(inv, 180, tag="s1")
        d = ua.uas_dialog(inv, "s1")
        r = d.transact("UPDATE", body=sdp(40000, 1, "cmr"))
        info("UPDATE before the answer: %s" % r.first)
        check(r.status == 491, "UPDATE before the answer answered %s, "
              "expected 491" % r.first)
        ua.reply(inv, 200, tag="s1", body=sdp(40002, 1, "cmr"))
        hang_up_after(ua, inv)

    rc, r = scripted(t, script, mode="plain")
    check(rc == 0 and r["ok"], "exit %d, %r" % (rc, r["reason"]))


@test
def client_callee_late_offer(t):
    """An INVITE without SDP: the called party offers in its 200, and
    talks to the address the answer in the ACK names."""
    port = free_port()
    peer = _PeerAddr()
    peer.sip = port
    ua = UA(peer, "alice")
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind((HOST, 0))
    rtp.settimeout(0.2)
    try:
        callee = Callee(t, port, ring=0.3, talk=TALK, hangup="callee",
                        no_register=True, sip="%s:%d" % (HOST, port))
        d = ua.invite("bob")
        ok = ua.wait(d.match_rsp("1 INVITE"), 5, what="200")
        check(ok.status == 200 and b"m=audio" in ok.body,
              "the 200: %s, SDP %r" % (ok.first, ok.body[:60]))
        d.ack(ok, body=sdp(rtp.getsockname()[1], 1, "alice"))
        got, deadline = 0, time.monotonic() + TALK + 2
        while time.monotonic() < deadline:
            try:
                rtp.recv(2000)
                got += 1
            except socket.timeout:
                pass
            if ua.matching(d.match_req("BYE")):
                break
        bye = ua.next_request("BYE", timeout=5)
        ua.reply(bye, 200)
        crc, cr = callee.wait()
    finally:
        rtp.close()
        ua.save(os.path.join(t.tmp, "alice.sip"))
        ua.close()
    info("RTP packets from the callee: %d; its result: %s"
         % (got, cr["talk"]))
    check(crc == 0 and cr["ok"], "callee: %d %r" % (crc, cr["reason"]))
    check(got >= 20 and cr["talk"]["sent"] >= 20,
          "the callee sent %d packets (we got %d) to the ACK's answer"
          % (cr["talk"]["sent"], got))


def callee_ends_ringing(t, by_bye):
    """A called party that rings 5 s, and the caller's CANCEL (or BYE in
    the early dialog) after its 180; the called party's exit status and
    result."""
    port = free_port()
    peer = _PeerAddr()
    peer.sip = port
    ua = UA(peer, "alice")
    try:
        callee = Callee(t, port, ring=5, no_register=True,
                        sip="%s:%d" % (HOST, port))
        d = ua.invite("bob", body=sdp(40000, 1, "alice"))
        r18 = ua.wait(d.match_rsp("1 INVITE", final=False, status=180), 5,
                      what="180")
        time.sleep(0.3)
        if by_bye:
            r = d.fork(r18).transact("BYE")
        else:
            r = ua.wait(d.match_rsp(d.cancel()), 5, what="200 (CANCEL)")
        check(r.status == 200, "%s answered %s"
              % ("BYE" if by_bye else "CANCEL", r.first))
        fin = ua.wait(d.match_rsp("1 INVITE"), 5, what="487")
        check(fin.status == 487, "INVITE answered %s" % fin.first)
        d.ack_error(fin)
        crc, cr = callee.wait()
    finally:
        ua.save(os.path.join(t.tmp, "alice.sip"))
        ua.close()
    check(cr["final"] == 487 and cr["ms_final"] is not None and
          cr["ms_final"] >= 300, "final %r after %r ms"
          % (cr["final"], cr["ms_final"]))
    return crc, cr


@test
def client_callee_cancelled(t):
    """A CANCEL while the called party rings: 200 (CANCEL) and 487, and
    its result says so, with the time of that 487."""
    crc, cr = callee_ends_ringing(t, False)
    check(crc == 1 and "cancelled" in cr["reason"],
          "callee: %d %r" % (crc, cr["reason"]))


@test
def client_callee_bye_ringing(t):
    """A BYE in the early dialog while the called party rings: 200, the
    INVITE 487 (RFC 3261 15.1.2), and a result that says so."""
    crc, cr = callee_ends_ringing(t, True)
    check(crc == 1 and "hung up before the answer" in cr["reason"],
          "callee: %d %r" % (crc, cr["reason"]))


@slow_test
def client_callee_no_prack(t):
    """AS mode, called party: no PRACK comes for its reliable 180; after
    64*T1 the INVITE gets a 5xx (RFC 3262 section 3)."""
    port = free_port()
    peer = _PeerAddr()
    peer.sip = port
    ua = UA(peer, "alice")
    try:
        callee = Callee(t, port, mode="as", ring=40, no_register=True,
                        sip="%s:%d" % (HOST, port))
        d = ua.invite("bob", body=sdp(40000, 1, "alice"),
                      supported="100rel, early-session")
        r18 = ua.wait(d.match_rsp("1 INVITE", final=False, status=180), 5,
                      what="180")
        check(r18.get("rseq"), "the 180 is not reliable")
        fin = ua.wait(d.match_rsp("1 INVITE"), 36, what="final response")
        info("no PRACK: %s after %.1f s" % (fin.first, fin.t - r18.t))
        check(500 <= fin.status < 600, "INVITE answered %s, expected a "
              "5xx" % fin.first)
        d.ack_error(fin)
        crc, cr = callee.wait()
    finally:
        ua.save(os.path.join(t.tmp, "alice.sip"))
        ua.close()
    check(crc == 1 and "PRACK" in cr["reason"] and
          cr["final"] == fin.status, "callee: %d %r, final %r"
          % (crc, cr["reason"], cr["final"]))


@test
def client_sigint_while_registering(t):
    """SIGINT while the REGISTER is pending: the call is not placed when
    its 200 comes after all, and the program exits 1."""
    ua = UA(_PeerAddr(), "registrar")
    try:
        p = spawn([cmrtest.BINARY, "call", "--from", "alice", "--to", "bob",
                   "--target", "sip:%s:%d" % (HOST, ua.port), "--json"],
                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)
        reg = ua.next_request("REGISTER", timeout=10)
        p.send_signal(signal.SIGINT)
        time.sleep(0.3)
        ua.reply(reg, 200, headers=["Contact: %s" % reg.get("contact")])
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kill_proc(p)
            raise Fail("the caller did not exit after SIGINT")
        ua.sync()
        invites = ua.matching(lambda m: m.first.startswith("INVITE "))
    finally:
        ua.save(os.path.join(t.tmp, "registrar.sip"))
        ua.close()
    check(not invites, "an INVITE went after SIGINT: %s"
          % invites[0].first if invites else "")
    check(rc == 1, "exit %d after SIGINT" % rc)


@test
def client_registrar_gone_at_the_end(t):
    """The registrar does not answer the removal of our binding at the
    end (REGISTER, Expires: 0): the caller exits within seconds, not
    after the REGISTER's 32 s timeout."""
    ua = UA(_PeerAddr(), "cmr")
    try:
        p = spawn([cmrtest.BINARY, "call", "--from", "alice", "--to", "bob",
                   "--target", "sip:%s:%d" % (HOST, ua.port), "--json",
                   "--talk", "0.2"],
                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)
        reg = ua.next_request("REGISTER", timeout=10)
        ua.srv.sip = reg.src[1]
        ua.reply(reg, 200, headers=["Contact: %s" % reg.get("contact")])
        inv = ua.next_request("INVITE", timeout=10)
        ua.reply(inv, 200, tag="s1", body=sdp(40000, 1, "cmr"))
        hang_up_after(ua, inv)
        t_bye = time.monotonic()
        unreg = ua.next_request("REGISTER", timeout=5)
        check("expires=0" in (unreg.get("contact") or "").replace(" ", ""),
              "not the removal: %s" % unreg.get("contact"))
        try:
            rc = p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            kill_proc(p)
            raise Fail("the caller did not exit within 15 s of its BYE")
        took = time.monotonic() - t_bye
    finally:
        ua.save(os.path.join(t.tmp, "registrar.sip"))
        ua.close()
    info("exit %d %.1f s after the BYE" % (rc, took))
    check(rc == 0, "exit %d: %r" % (rc, p.stdout.read()[:300]))
    check(took < 5, "the caller exited %.1f s after its BYE" % took)


@test
def client_no_early_session_offer(t):
    """AS mode: a reliable 183 without the early-session offer."""
    broken(t, "uas_cmr_rel183_no_early.xml", "as",
           "no early-session offer in the reliable 18x")


@test
def client_no_p_early_media(t):
    """Gateway mode: an SDP answer without P-Early-Media: sendrecv."""
    broken(t, "uas_cmr_183_no_pem.xml", "gateway",
           "no P-Early-Media: sendrecv")


@test
def client_url_404(t):
    """HTTP mode: the URL of the 180 answers 404."""
    srv = t.server()
    broken(t, "uas_cmr_180_url.xml", "http",
           "the resource URL failed: 404",
           url="%s/r/no-such-resource" % srv.base)


@test
def client_rtp_never_comes(t):
    """Gateway mode: a correct 183, but no RTP before the 200."""
    broken(t, "uas_cmr_183_pem_no_rtp.xml", "gateway", "no RTP came")


@test
def client_register_refused(t):
    """The server refuses the REGISTER (an unknown user): no call runs,
    and yet one call ends in its one verdict, in text and in JSON, and
    the totals of several count every call as failed, for that reason."""
    import json
    srv = t.server()
    base = [cmrtest.BINARY, "call", "--target",
            "sip:%s:%d" % (HOST, srv.sip)]
    for role in (["--from", "nobody", "--to", "bob"],
                 ["--answer", "--as", "nobody"]):
        p = subprocess.run(base + role + ["--json"], capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=20)
        out = p.stdout.decode("utf-8", "replace")
        r = json.loads(out)
        check(p.returncode == 1 and r["ok"] is False and "REGISTER" in
              r["reason"] and "404" in r["reason"] and r["role"] ==
              ("callee" if "--answer" in role else "caller"),
              "%r: exit %d, %r" % (role, p.returncode, out[:300]))
        p = subprocess.run(base + role, capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=20)
        out = p.stdout.decode("utf-8", "replace")
        check(p.returncode == 1 and out.startswith("FAIL: REGISTER at ")
              and "404" in out.splitlines()[0],
              "%r text: exit %d, %r" % (role, p.returncode, out[:300]))
    p = subprocess.run(base + ["--from", "nobody", "--to", "bob", "--calls",
                               "3", "--json"], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=20)
    r = json.loads(p.stdout)
    check(p.returncode == 1 and r["calls"] == 3 and r["failed"] == 3 and
          r["passed"] == 0 and len(r["reasons"]) == 1 and
          r["reasons"][0]["calls"] == 3 and "404" in
          r["reasons"][0]["reason"], "totals: exit %d, %r"
          % (p.returncode, r))


class _Pty:
    """A pseudo-terminal for a process's stderr, read as it comes."""

    def __init__(self):
        import pty
        self.master, self.slave = pty.openpty()
        self.data = b""
        self.th = threading.Thread(target=self._read, daemon=True)
        self.th.start()

    def _read(self):
        while True:
            try:
                b = os.read(self.master, 4096)
            except OSError:
                return
            if not b:
                return
            self.data += b

    def text(self):
        os.close(self.slave)
        self.th.join(5)
        os.close(self.master)
        return self.data.decode("utf-8", "replace")


@test
def client_progress_line(t):
    """--calls on a terminal: the progress line; SIGINT in the middle of
    a run ends that line before the totals.  The called party's line
    counts the calls done, not calls it placed."""
    srv = t.server()
    target = "sip:%s:%d" % (HOST, srv.sip)
    ept, rpt = _Pty(), _Pty()
    callee = spawn([cmrtest.BINARY, "call", "--answer", "--as", "bob",
                    "--target", target, "--calls", "40", "--ring", "0.3",
                    "--talk", "0.5"], stdin=subprocess.DEVNULL,
                   stdout=subprocess.PIPE, stderr=ept.slave)
    try:
        time.sleep(0.5)
        caller = spawn([cmrtest.BINARY, "call", "--from", "alice", "--to",
                        "bob", "--target", target, "--calls", "40",
                        "--rate", "10", "--talk", "0.5"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=rpt.slave)
        time.sleep(1.5)
        caller.send_signal(signal.SIGINT)
        out, _ = caller.communicate(timeout=10)
        callee.send_signal(signal.SIGINT)
        callee.communicate(timeout=10)
    finally:
        kill_proc(callee)
    er, ee = rpt.text(), ept.text()
    info("caller's terminal ends %r, callee's %r" % (er[-120:], ee[-120:]))
    check(caller.returncode == 1 and b"40 calls:" in out,
          "caller: exit %d, %r" % (caller.returncode, out[:200]))
    check("calls placed" in er and er.endswith("\n"),
          "the caller's progress line is not ended: %r" % er[-200:])
    check("calls done" in ee and "placed" not in ee and
          ee.endswith("\n"), "the callee's progress line: %r" % ee[-200:])


@test
def client_usage(t):
    """Bad usage exits 2 with a message."""
    import subprocess
    import cmrtest
    for args, want in ((["--from", "a"], "--to"),
                       (["--from", "a", "--to", "b", "--mode", "x"],
                        "--mode"),
                       (["--answer", "--as", "b", "--mode", "gateway"],
                        "no called party"),
                       (["--from", "a", "--to", "b", "--target", "x"],
                        "--target"),
                       # No name is looked up, no port over 65535 sent
                       # to, no address of the other family: each would
                       # only time out.
                       (["--from", "a", "--to", "b", "--target",
                         "sip:no.such.host.invalid:5060"], "--target"),
                       (["--from", "a", "--to", "b", "--target",
                         "sip:127.0.0.1:99999"], "--target"),
                       (["--from", "a", "--to", "b", "--target",
                         "sip:[::1]:5060"], "--target"),
                       (["--from", "a", "--to", "b", "--calls", "1.5",
                         "--target", "sip:%s:%d" % (HOST, free_port())],
                        "--calls"),
                       (["--answer", "--as", "b", "--reject", "486.5",
                         "--target", "sip:%s:%d" % (HOST, free_port())],
                        "--reject"),
                       # Before any call, like --pcap.
                       (["--from", "a", "--to", "b", "--target",
                         "sip:%s:%d" % (HOST, free_port()), "--save",
                         "/nonexistent-dir/heard.wav"], "--save")):
        p = subprocess.run([cmrtest.BINARY, "call"] + args,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=10)
        check(p.returncode == 2 and want in p.stderr.decode(),
              "%r: exit %d, %r" % (args, p.returncode, p.stderr))


def pcap_packets(path):
    """[(proto, sport, dport, payload)] of a LINKTYPE_RAW IPv4 pcap."""
    with open(path, "rb") as f:
        data = f.read()
    check(len(data) >= 24 and struct.unpack("<I", data[:4])[0] ==
          0xa1b2c3d4, "not a pcap")
    out, pos = [], 24
    while pos + 16 <= len(data):
        incl = struct.unpack("<I", data[pos + 8:pos + 12])[0]
        pkt = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        if not pkt or pkt[0] >> 4 != 4:
            continue
        ihl = (pkt[0] & 15) * 4
        proto = pkt[9]
        sport, dport = struct.unpack("!HH", pkt[ihl:ihl + 4])
        hl = 8 if proto == 17 else (pkt[ihl + 12] >> 4) * 4
        out.append((proto, sport, dport, pkt[ihl + hl:]))
    return out


@test
def client_pcap_and_log(t):
    """--pcap: our SIP, the RTP both ways and the HTTP download are in
    it; --log-json: one JSON event per line."""
    import json
    srv = t.server()
    pcap = os.path.join(t.tmp, "call.pcap")
    log = os.path.join(t.tmp, "call.jsonl")
    callee = Callee(t, srv.sip, ring=RING, talk=TALK)
    rc, r, _ = call(t, srv.sip, mode="plain", talk=TALK, pcap=pcap,
                    log_json=log)
    callee.wait()
    check(rc == 0, "caller %r" % r["reason"])
    pk = pcap_packets(pcap)
    sip = [p[3].split(b"\r\n", 1)[0] for p in pk
           if p[0] == 17 and srv.sip in (p[1], p[2])]
    rtp = [p for p in pk if p[0] == 17 and len(p[3]) >= 12 and
           p[3][0] >> 6 == 2 and srv.sip not in (p[1], p[2])]
    http = [p for p in pk if p[0] == 6 and p[3]]
    info("pcap: %d SIP, %d RTP, %d HTTP segments" % (len(sip), len(rtp),
                                                      len(http)))
    check(any(s.startswith(b"INVITE ") for s in sip) and
          any(s.startswith(b"SIP/2.0 180") for s in sip) and
          any(s.startswith(b"INVITE ") for s in sip[2:]),
          "SIP in the pcap: %r" % sip)
    check(len(rtp) >= 60, "only %d RTP packets in the pcap" % len(rtp))
    check(any(p[3].startswith(b"GET /r/") for p in http) and
          any(p[3].startswith(b"HTTP/1.1 200") for p in http),
          "no HTTP GET and 200 in the pcap")
    with open(log) as f:
        lines = [json.loads(l) for l in f if l.strip()]
    check(lines and any(l.get("what") == "client-result" for l in lines),
          "event log %r" % lines[-3:])
