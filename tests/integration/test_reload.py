"""SIGHUP reloads off the loop: while a 45 MiB WAV is read and converted
the server keeps answering, then serves the new resource; a second SIGHUP
during the conversion queues, SIGTERM during it exits cleanly."""

import array
import math
import os
import re
import select
import signal
import socket
import sys
import time
import wave

from cmrtest import HOST, check, info, test, wait_until

BIG_SECONDS = 270          # of 44.1 kHz 16-bit stereo: 47.6 MB, 45.4 MiB
DELAY_LIMIT = 0.100        # s; measured: about 6 ms now, 0.9-1.4 s before
RELOAD_TIMEOUT = 60.0      # s; a sanitizer build converts slowly
INTERVAL = 0.002           # s between two OPTIONS

PROFILE = "subscriber alice mode=as\nsubscriber bob mode=as\n"


def big_wav(path, seconds=BIG_SECONDS, rate=44100):
    """A two-tone stereo WAV: one second built, then repeated."""
    one = array.array("h")
    for i in range(rate):
        one.append(int(9000 * math.sin(2 * math.pi * 440 * i / rate)))
        one.append(int(9000 * math.sin(2 * math.pi * 660 * i / rate)))
    if sys.byteorder != "little":
        one.byteswap()
    block = one.tobytes()
    with wave.open(path, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        for _ in range(seconds):
            w.writeframesraw(block)
    return os.path.getsize(path)


def write(path, text):
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class Log:
    """The server's stderr from a point on."""

    def __init__(self, srv):
        self.path = srv.err_path
        self.off = os.path.getsize(self.path)

    def text(self):
        with open(self.path, "rb") as f:
            f.seek(self.off)
            return f.read().decode("utf-8", "replace")

    def count(self, pattern):
        return len(re.findall(pattern, self.text()))


def options_while(srv, busy, tail=0.1):
    """Sends one OPTIONS every INTERVAL without waiting for answers (a
    loop that stands still shows as many late answers, not one) while
    busy() holds and tail seconds more, then waits up to 1 s for the
    last answers.  Returns the round-trip times in seconds and how many
    requests got no answer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind((HOST, 0))
    lport = sock.getsockname()[1]
    sent, rtts = {}, []
    n = 0
    end = None
    nxt = time.monotonic()

    def drain():
        while True:
            try:
                data = sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            m = re.search(rb"(?mi)^(?:call-id|i)[ \t]*:[ \t]*(\S+)", data)
            t0 = sent.pop(m.group(1).decode(), None) if m else None
            if t0 is not None:
                rtts.append(time.monotonic() - t0)

    try:
        while True:
            now = time.monotonic()
            if end is None and not busy():
                end = now + tail
            if end is not None and now >= end:
                break
            if now >= nxt:
                n += 1
                cid = "rl-%d-%d" % (lport, n)
                sent[cid] = now
                sock.sendto((
                    "OPTIONS sip:%s:%d SIP/2.0\r\n"
                    "Via: SIP/2.0/UDP %s:%d;rport;branch=z9hG4bK%s\r\n"
                    "Max-Forwards: 70\r\n"
                    "From: <sip:alice@%s>;tag=%d\r\nTo: <sip:%s:%d>\r\n"
                    "Call-ID: %s\r\nCSeq: 1 OPTIONS\r\n"
                    "Content-Length: 0\r\n\r\n"
                    % (HOST, srv.sip, HOST, lport, cid, HOST, n, HOST,
                       srv.sip, cid)).encode(), (HOST, srv.sip))
                nxt = max(nxt + INTERVAL, now)
            r, _, _ = select.select([sock], [], [],
                                    max(0.0, nxt - time.monotonic()))
            if r:
                drain()
        deadline = time.monotonic() + 1.0
        while sent and time.monotonic() < deadline:
            r, _, _ = select.select([sock], [], [], 0.05)
            if r:
                drain()
    finally:
        sock.close()
    return sorted(rtts), len(sent)


def start_with_big(t):
    """A server on PROFILE, the big WAV next to it, and the profile
    rewritten to serve it: the next SIGHUP loads it."""
    prof = os.path.join(t.tmp, "reload.profile")
    write(prof, PROFILE)
    srv = t.server(profile=prof)
    size = big_wav(os.path.join(t.tmp, "big.wav"))
    write(prof, PROFILE + "resource big file=big.wav\n")
    return srv, prof, size


def resource_served(srv, size):
    """/api/v1/resources lists big with its size and duration, and /r/big
    serves the file's bytes."""
    res = {r.get("id"): r for r in srv.api_json("/api/v1/resources")}
    check("big" in res, "after the reload /api/v1/resources has %s, no "
          "'big'" % sorted(res))
    check(res["big"].get("bytes") == size, "big: %r bytes, the file has "
          "%d" % (res["big"].get("bytes"), size))
    check(res["big"].get("duration_ms") == BIG_SECONDS * 1000,
          "big: duration_ms %r, expected %d"
          % (res["big"].get("duration_ms"), BIG_SECONDS * 1000))
    st, _, body = srv.http_get("/r/big", {"Range": "bytes=0-43"})
    with open(os.path.join(srv.tmp, "big.wav"), "rb") as f:
        head = f.read(44)
    check(st == 206 and body == head, "GET /r/big bytes 0-43: %d %r, "
          "expected 206 and the file's header" % (st, body[:44]))


def ms(v):
    return "%.1f ms" % (v * 1e3)


@test
def reload_big_wav_keeps_answering(t):
    """A SIGHUP that adds a 45 MiB WAV resource: OPTIONS sent every 2 ms
    during the reload are all answered, each within 100 ms (the old
    synchronous reload held them for about a second), and the new resource
    is served afterwards."""
    srv, prof, size = start_with_big(t)
    log = Log(srv)
    t0 = time.monotonic()
    os.kill(srv.proc.pid, signal.SIGHUP)

    def busy():
        if log.count(r"reload(: \d+ subscribers| failed)"):
            return False
        check(time.monotonic() - t0 < RELOAD_TIMEOUT, "no reload line "
              "within %.0f s: %s" % (RELOAD_TIMEOUT, srv.stderr_tail()))
        return True

    rtts, lost = options_while(srv, busy)
    took = time.monotonic() - t0
    check(not log.count(r"reload failed"), "the reload failed: %s"
          % srv.stderr_tail())
    info("reload of %d bytes took %.2f s; %d OPTIONS answered, %d not; "
         "round trip worst %s, p99 %s, median %s"
         % (size, took, len(rtts), lost, ms(rtts[-1]) if rtts else "-",
            ms(rtts[int(len(rtts) * 0.99)]) if rtts else "-",
            ms(rtts[len(rtts) // 2]) if rtts else "-"))
    check(rtts, "no OPTIONS was answered during the reload")
    check(rtts[-1] < DELAY_LIMIT, "an OPTIONS waited %s for its answer "
          "during the reload (limit %s)" % (ms(rtts[-1]), ms(DELAY_LIMIT)))
    check(not lost, "%d of %d OPTIONS were never answered: the loop "
          "stood still long enough to overflow its socket"
          % (lost, lost + len(rtts)))
    resource_served(srv, size)


@test
def reload_queued_during_conversion(t):
    """A second SIGHUP while the first one's WAV converts: the profile as
    it is then ends up live (a new subscriber and the big resource), and
    no reload fails."""
    srv, prof, size = start_with_big(t)
    log = Log(srv)
    os.kill(srv.proc.pid, signal.SIGHUP)
    wait_until(lambda: log.count(r"SIGHUP"), 5, "log line of the SIGHUP")
    write(prof, PROFILE + "resource big file=big.wav\nsubscriber carol\n")
    os.kill(srv.proc.pid, signal.SIGHUP)
    wait_until(lambda: log.count(r"SIGHUP") >= 2, RELOAD_TIMEOUT,
               "log line of the second SIGHUP")
    running = log.count(r"a reload is running")
    info("the second SIGHUP %s" % ("was queued behind the running reload"
                                   if running else
                                   "came after the first reload"))

    def carol():
        st, _, _ = srv.http_get("/api/v1/subscribers/carol")
        return st == 200
    wait_until(carol, RELOAD_TIMEOUT, "subscriber carol after the second "
               "SIGHUP", poll=0.1)
    wait_until(lambda: log.count(r"reload: \d+ subscribers") >= 2,
               RELOAD_TIMEOUT, "second reload line")
    check(not log.count(r"reload failed"), "a reload failed: %s"
          % srv.stderr_tail())
    resource_served(srv, size)


@test
def reload_sigterm_during_conversion(t):
    """SIGTERM while a SIGHUP's 45 MiB WAV converts: the server exits 0
    within 2 s (the conversion is abandoned and its thread joined; the
    sanitizer build also checks that nothing leaks)."""
    srv, prof, size = start_with_big(t)
    log = Log(srv)
    os.kill(srv.proc.pid, signal.SIGHUP)
    wait_until(lambda: log.count(r"SIGHUP"), 5, "log line of the SIGHUP")
    finished = log.count(r"reload: \d+ subscribers")
    why = srv.stop()
    info("SIGTERM came %s the reload had finished"
         % ("after" if finished else "before"))
    check(why is None, why or "")
