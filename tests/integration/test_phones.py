"""Real SIP phones (baresip, linphonec) call each other through the server:
the caller hears the callee's CMRBT as early media while the callee rings,
then the callee; both hear each other and the caller's BYE ends the call."""

import os
import time

from cmrtest import (
    HOST, check, check_events, ev_names, events_of, free_udp_block, info,
    test)
from cmrtest_sip import sdp_media, tags_of
from phones import PHONES, require
from phones_evidence import (
    WINDOW, LoCapture, Recording, rtp_figures, sip_ladder, sip_messages,
    tone_wav)

RING = 3.0                 # seconds the callee rings before it answers
TALK = 3.0                 # seconds of talk before the caller hangs up
CALLER_HZ = 400            # each party's tone: what the others must hear
RINGBACK_HZ = 700
CALLEE_HZ = 1200
TONES = (CALLER_HZ, RINGBACK_HZ, CALLEE_HZ)
# Of RING and TALK a phone must have heard at least this much: the rest
# goes to call set-up, jitter buffers and a noisy 2-core CI machine.
HEARD = 2.0
MODE = "early-media"       # the CMRBT mode of a caller without extensions
STOP_LIMIT_MS = 300        # ringback may run on this long into the callee


class PhoneCall:
    """One call from a caller phone through the server to a callee phone
    (subscriber bob, whose CMRBT is a RINGBACK_HZ tone), ringing RING s
    and lasting TALK s, and what it left: the server's call record, the
    SIP and RTP seen on lo, both phones' recordings."""

    def __init__(self, t, caller, callee, rel100=False):
        require(caller, callee)
        self.callee = PHONES[callee](t, "callee-" + callee, "bob",
                                     CALLEE_HZ)
        self.caller = PHONES[caller](t, "caller-" + caller, "alice",
                                     CALLER_HZ, rel100=rel100)
        tone_wav(os.path.join(t.tmp, "ringback.wav"), RINGBACK_HZ, 2)
        prof = os.path.join(t.tmp, "phones.profile")
        with open(prof, "w") as f:
            f.write("resource ringback file=ringback.wav\n"
                    "subscriber alice\n"
                    "subscriber bob contact=%s cmrbt=ringback\n"
                    % self.callee.uri)
        base = free_udp_block(8)
        self.streamer = (base, base + 7)
        self.srv = t.server(profile=prof, extra=(
            "--rtp-ports", "%d-%d" % self.streamer))
        self.names = {self.caller.sip: "caller", self.callee.sip: "callee",
                      self.srv.sip: "cmrlab"}
        self.cap = LoCapture([self.caller.rtp_range] +
                             [(p, p) for p in self.names])
        self.t0 = time.time()
        try:
            self._run()
        except Exception:
            self._stop(t)
            self._ladder()
            raise
        self._stop(t)
        self.heard_by_caller = Recording(self.caller.recording(), TONES)
        self.heard_by_callee = Recording(self.callee.recording(), TONES)

    def _stop(self, t):
        """Stops both phones and the capture, and takes the SIP and RTP
        figures out of what it caught."""
        self.caller.stop()
        self.callee.stop()
        self.cap.close()
        self.msgs = self.fig = None
        if not self.cap.available:
            return
        pkts = self.cap.packets()
        self.msgs = sip_messages(pkts, self.names)
        # The whole messages, for a failure's kept files.
        with open(os.path.join(t.tmp, "sip-on-lo.txt"), "wb") as f:
            for ts, frm, to, m in self.msgs:
                f.write(b"==== %+.3f s %s -> %s\n%s\n" % (
                    ts - self.t0, frm.encode(), to.encode(), m.raw))
        self.fig = rtp_figures(pkts, self.caller.rtp_range, self.streamer,
                               self.callee.rtp_range)

    def _ladder(self):
        if self.msgs is None:
            info("SIP on lo: unavailable (%s)" % self.cap.why)
        else:
            info("SIP on lo, from the dial:")
            for line in sip_ladder(self.msgs, self.t0):
                info("  " + line)

    def _run(self):
        self.callee.start()
        self.caller.start()
        self.t0 = time.time()      # the ladder's times count from here
        self.caller.dial("sip:bob@%s:%d" % (HOST, self.srv.sip))
        self.callee.wait_incoming(10)
        time.sleep(RING)
        self.callee.answer()
        self.callee.wait_established(5)
        self.caller.wait_established(5)
        time.sleep(TALK)
        self.caller.hangup()
        self.caller.wait_closed(5)
        self.callee.wait_closed(5)
        self.rec = self.srv.wait_call_state(("ended",), 5)

    def sent(self, frm, to, pred):
        """[(time, SipMsg)] of the captured messages frm -> to for which
        pred(msg) holds."""
        return [(ts, m) for ts, f, d, m in self.msgs
                if f == frm and d == to and pred(m)]

    def report(self):
        """Prints the SIP ladder, the API's events and the figures."""
        self._ladder()
        info("API events: %s" % " ".join(ev_names(self.rec["events"])))
        info("mode bt: %r" % events_of(self.rec, "mode", dir="bt"))
        for who, r in (("caller", self.heard_by_caller),
                       ("callee", self.heard_by_callee)):
            peaks = [(f, r.peak(f)) for f in TONES]
            info("%s heard (%.1f s recorded): %s; measured: %s" % (
                who, r.seconds, r.describe(), ", ".join(
                    "%d Hz in the %d Hz run" % (p, f)
                    for f, p in peaks if p)
                or "no tone"))
        r = self.heard_by_caller
        t1 = r.first_of(CALLEE_HZ)
        info("caller: %.1f s of ringback (%d Hz) before the callee, "
             "%.1f s of the callee (%d Hz) from %s s on; ringback ends %s "
             "s into the recording" % (
                 r.seconds_of(RINGBACK_HZ, end=t1), RINGBACK_HZ,
                 r.seconds_of(CALLEE_HZ), CALLEE_HZ,
                 "%.1f" % t1 if t1 is not None else "-",
                 "%.1f" % r.last_of(RINGBACK_HZ)
                 if r.last_of(RINGBACK_HZ) is not None else "-"))
        f = self.fig
        if f is None:
            info("packet figures: unavailable (%s)" % self.cap.why)
            return
        info("RTP to the caller: %d ringback packets (%.1f s) from %s, "
             "%d from the callee, %d from elsewhere; gap last ringback "
             "packet -> first callee packet: %s; ringback packets after "
             "the callee's first: %d" % (
                 f["ringback_packets"], f["ringback_packets"] * 0.02,
                 f["ringback_sources"] or "-", f["callee_packets"],
                 f["other_packets"], "%.0f ms" % f["gap_ms"]
                 if f["gap_ms"] is not None else "-",
                 f["ringback_after_callee"]))


def check_call(c):
    """What must hold whatever the CMRBT mode: the phones exited well,
    the caller's BYE ended the call on both sides, each party heard the
    other after the answer."""
    for p in (c.caller, c.callee):
        p.check_exit()
    rec = c.rec
    names = ev_names(rec["events"])
    check_events(names, "API events", ["received", "ringing", "answered",
                                       "confirmed", "bye", "ended"])
    bye = events_of(rec, "bye")
    check(bye[0].get("by") == "caller", "API: %r, expected by=caller"
          % bye[0])
    check(names[-1] == "ended" and rec.get("state") == "ended",
          "API: last event %r, state %r" % (names[-1], rec.get("state")))
    if c.msgs is not None:
        for frm, to in (("caller", "cmrlab"), ("cmrlab", "callee")):
            byes = c.sent(frm, to, lambda m: m.first.startswith("BYE "))
            check(byes, "no BYE %s -> %s on the wire" % (frm, to))
            cseq = byes[0][1].cseq()
            ok = c.sent(to, frm, lambda m: m.status == 200 and
                        m.cseq() == cseq)
            check(ok, "the BYE %s -> %s got no 200" % (frm, to))
        check(c.fig["callee_packets"] > 0, "no RTP from the callee phone "
              "reached the caller phone")
    heard = c.heard_by_callee.seconds_of(CALLER_HZ)
    check(heard >= HEARD, "the callee heard %.1f s of the caller (%d Hz), "
          "expected %.1f s at least: %s" % (heard, CALLER_HZ, HEARD,
                                           c.heard_by_callee.describe()))
    r = c.heard_by_caller
    t1 = r.first_of(CALLEE_HZ)
    heard = r.seconds_of(CALLEE_HZ)
    check(t1 is not None and heard >= HEARD, "the caller heard %.1f s of "
          "the callee (%d Hz), expected %.1f s at least: %s"
          % (heard, CALLEE_HZ, HEARD, r.describe()))


def check_wire(c, update):
    """The SIP of the CMRBT toward the caller, as captured: an 18x with
    the server's SDP naming a streamer port, the ringback from that port;
    then the callee's SDP in an UPDATE before a 200 without SDP (update),
    or a 200 repeating the 18x's SDP and a re-INVITE with the callee's
    after the caller's ACK."""
    invs = c.sent("caller", "cmrlab", lambda m: m.first.startswith(
        "INVITE "))
    check(invs, "no INVITE from the caller on the wire")
    cseq = invs[0][1].cseq()
    p18 = c.sent("cmrlab", "caller", lambda m: m.status and
                 180 <= m.status <= 189 and m.cseq() == cseq and m.body)
    check(p18, "no 18x with SDP to the caller")
    t18, r18 = p18[0]
    ans = sdp_media(r18.body)
    check(c.streamer[0] <= ans["port"] <= c.streamer[1] and
          ans["addr"] == HOST, "the %d's SDP names %s:%d, not a streamer "
          "port (%d-%d)" % (r18.status, ans["addr"], ans["port"],
                            c.streamer[0], c.streamer[1]))
    check(c.fig["ringback_sources"] == [ans["port"]], "ringback came from "
          "ports %s, the %d named %d" % (c.fig["ringback_sources"],
                                         r18.status, ans["port"]))
    c200 = c.sent("callee", "cmrlab", lambda m: m.status == 200 and
                  m.cseq().endswith(" INVITE") and m.body)
    check(c200, "no 200 with SDP from the callee on the wire")
    t_c200, callee_port = c200[0][0], sdp_media(c200[0][1].body)["port"]
    fin = c.sent("cmrlab", "caller", lambda m: m.status == 200 and
                 m.cseq() == cseq)
    check(fin, "no 200 (INVITE) to the caller")
    t_fin, fin = fin[0]
    reliable = "100rel" in tags_of(r18.all("require"))
    info("%d to the caller: reliable %s (RSeq %s), SDP %s:%d %s, "
         "Alert-Info %s; the callee answered with m=audio %d"
         % (r18.status, reliable, r18.get("rseq"), ans["addr"],
            ans["port"], ans["dir"], r18.all("alert-info"), callee_port))
    check(r18.all("alert-info"), "the %d has no Alert-Info (the URL for "
          "a CMR Client)" % r18.status)
    if update:
        check(reliable and r18.get("rseq"), "the %d is not reliable "
              "(Require %r), yet the caller supports 100rel"
              % (r18.status, r18.all("require")))
        check(c.sent("caller", "cmrlab", lambda m: m.first.startswith(
            "PRACK ")), "the caller sent no PRACK")
        upd = c.sent("cmrlab", "caller", lambda m: m.first.startswith(
            "UPDATE "))
        check(upd and upd[0][1].body, "no UPDATE with SDP to the caller")
        t_upd, upd = upd[0]
        port = sdp_media(upd.body)["port"]
        check(port == callee_port, "the UPDATE names port %d, the callee's "
              "is %d" % (port, callee_port))
        ok = c.sent("caller", "cmrlab", lambda m: m.status == 200 and
                    m.cseq() == upd.cseq())
        check(ok and ok[0][0] <= t_fin, "the UPDATE got no 200 before the "
              "200 (INVITE) went to the caller")
        check(not fin.body, "the 200 (INVITE) after the UPDATE carries a "
              "body")
        info("UPDATE %.0f ms after the callee's 200; 200 (INVITE) to the "
             "caller %.0f ms after it" % ((t_upd - t_c200) * 1000,
                                          (t_fin - t_c200) * 1000))
        return
    check(not reliable, "the %d is reliable (Require %r), yet the caller "
          "does not support 100rel" % (r18.status, r18.all("require")))
    check(fin.body == r18.body, "the 200 (INVITE) to the caller does not "
          "repeat the %d's SDP byte for byte: %r, the %d had %r"
          % (r18.status, fin.body[:300], r18.status, r18.body[:300]))
    ack = c.sent("caller", "cmrlab", lambda m: m.first.startswith("ACK ")
                 and m.cseq().split()[0] == cseq.split()[0])
    check(ack, "the caller sent no ACK")
    reinv = c.sent("cmrlab", "caller", lambda m: m.first.startswith(
        "INVITE "))
    check(reinv and reinv[0][1].body, "no re-INVITE with SDP to the caller")
    t_re, reinv = reinv[0]
    check(t_re >= ack[0][0], "the re-INVITE went before the caller's ACK")
    port = sdp_media(reinv.body)["port"]
    check(port == callee_port, "the re-INVITE names port %d, the callee's "
          "is %d" % (port, callee_port))
    ok = c.sent("caller", "cmrlab", lambda m: m.status == 200 and
                m.cseq() == reinv.cseq())
    check(ok, "the caller did not answer the re-INVITE 200")
    check(c.sent("cmrlab", "caller", lambda m: m.first.startswith("ACK ")
                 and m.cseq().split()[0] == reinv.cseq().split()[0]),
          "the server did not ACK the caller's 200 to its re-INVITE")
    info("re-INVITE %.0f ms after the caller's ACK, %.0f ms after the "
         "callee's 200" % ((t_re - ack[0][0]) * 1000,
                           (t_re - t_c200) * 1000))


def check_ringback(c, update):
    """The CMRBT as early media: the mode and the path the server took
    (update: an UPDATE in the early dialog, else a re-INVITE after the
    answer), the ringback the caller heard while the callee rang, and
    only the callee afterwards."""
    rec = c.rec
    modes = events_of(rec, "mode", dir="bt")
    check(rec.get("mode_bt") == MODE and modes and modes[-1].get("why"),
          "API: mode_bt %r (%r), expected %s" % (rec.get("mode_bt"), modes,
                                                MODE))
    names = ev_names(rec["events"])
    seq = (["update-sent", "update-answered", "answered"] if update else
           ["answered", "reinvite-sent", "reinvite-answered"])
    check_events(names, "API events", ["mode", "rtp-started", "rtp-stopped"]
                 + seq + ["ended"])
    other = "reinvite-sent" if update else "update-sent"
    check(not events_of(rec, other), "API: %s in this call" % other)
    ins = events_of(rec, "cmr-inserted", dir="bt")
    check(ins and all(e.get("reliable") is update for e in ins),
          "API: cmr-inserted (bt) %r, expected reliable %s" % (ins, update))
    stopped = events_of(rec, "rtp-stopped", dir="bt")
    if c.fig is not None:
        check_wire(c, update)
        f = c.fig
        check(stopped and stopped[0].get("packets") == f["ringback_packets"],
              "API: rtp-stopped %r, the caller phone got %d ringback "
              "packets" % (stopped, f["ringback_packets"]))
        check(f["ringback_packets"] * 0.02 >= HEARD, "%d ringback packets "
              "(%.1f s) reached the caller, expected %.1f s at least"
              % (f["ringback_packets"], f["ringback_packets"] * 0.02, HEARD))
        check(f["gap_ms"] is not None and f["gap_ms"] >= -STOP_LIMIT_MS,
              "the ringback ran %s ms into the callee's audio"
              % (-f["gap_ms"] if f["gap_ms"] is not None else "?"))
    r = c.heard_by_caller
    t1 = r.first_of(CALLEE_HZ)
    ring = r.seconds_of(RINGBACK_HZ, end=t1)
    t_ring = r.first_of(RINGBACK_HZ)
    check(ring >= HEARD and t_ring < t1, "the caller heard %.1f s of "
          "ringback (%d Hz) before the callee (%d Hz), expected %.1f s at "
          "least: %s" % (ring, RINGBACK_HZ, CALLEE_HZ, HEARD, r.describe()))
    late = r.seconds_of(RINGBACK_HZ, start=t1)
    check(late <= 2 * WINDOW, "the caller heard %.1f s of ringback after "
          "the callee's first: %s" % (late, r.describe()))


def phone_test(t, caller, callee, rel100=False):
    c = PhoneCall(t, caller, callee, rel100)
    c.report()
    check_call(c)
    check_ringback(c, update=rel100)


@test
def phones_baresip_to_linphonec(t):
    """baresip (neither 100rel nor UPDATE) calls linphonec: unreliable 18x
    with the ringback, 200 with the same SDP, then a re-INVITE with the
    callee's."""
    phone_test(t, "baresip", "linphonec")


@test
def phones_linphonec_100rel_to_baresip(t):
    """linphonec with 100rel calls baresip: reliable 18x with the ringback,
    PRACK, then an UPDATE with the callee's SDP and a 200 without."""
    phone_test(t, "linphonec", "baresip", rel100=True)


@test
def phones_linphonec_to_baresip(t):
    """linphonec without 100rel calls baresip: unreliable 18x, 200 with the
    same SDP, re-INVITE with the callee's."""
    phone_test(t, "linphonec", "baresip")


@test
def phones_linphonec_100rel_to_linphonec(t):
    """linphonec with 100rel calls linphonec: the UPDATE path toward a
    linphonec callee (each phone is callee of both kinds of caller)."""
    phone_test(t, "linphonec", "linphonec", rel100=True)
