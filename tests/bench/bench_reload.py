#!/usr/bin/env python3
"""@file bench_reload.py  How long a SIGHUP reload of a big WAV stalls SIP.

Writes a big WAV (default 270 s of 44.1 kHz 16-bit stereo, 47.6 MB, about
45 MiB) into a temporary directory, starts `cmrlab serve` on free ports of
127.0.0.1 with a profile that serves it as a resource, and then, for each
of --reloads rounds, sends SIGHUP and, until the server logs the end of the
reload (plus a short tail), sends one SIP OPTIONS over UDP every 2 ms
without waiting for the answers (open loop, so that a stalled loop shows
as many late answers, not as one).  Every answer's round-trip time is
recorded; the script prints per round and over all rounds the worst, the
99th percentile and the median delay, the requests never answered (a
loop that stands still lets its socket's receive buffer overflow), and
how long the reload took.  An idle round before the first SIGHUP gives
the baseline of this machine.

Unless --no-rtp is given, a call in application server mode keeps one
RTP stream running toward a receiver in this script during the reloads:
a caller that asks for early-session media and PRACKs the offer, and a
callee that rings and never answers, both small UDP helpers here.  The
receiver stamps every packet.  A loop that stands still shows as the
longest gap between two packets (20 ms when all is well) and as frames
the streamer skipped (it sends at most a few late frames, then jumps);
the lateness of each packet against the 20 ms grid of its RTP timestamp
is printed too.

It asserts nothing about speed (the machines are shared); it prints the
figures for people to read and exits 1 only when the server failed (no
ready line, a failed reload, no clean exit on SIGTERM).

Usage: bench_reload.py [--binary build/cmrlab] [--seconds 270]
       [--reloads 3] [--interval 0.002] [--no-rtp] [--keep]
Only the Python standard library is used.
"""
import argparse
import array
import math
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import wave

HOST = "127.0.0.1"
READY_TIMEOUT = 300.0      # the old binary converts before "ready"
RELOAD_TIMEOUT = 300.0
TAIL = 0.2                 # seconds of OPTIONS after the reload's log line
SIGTERM_LIMIT = 2.0


def free_port():
    """A port free for both UDP and TCP on HOST."""
    while True:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((HOST, 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind((HOST, port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()


def write_wav(path, seconds, rate=44100, channels=2):
    """A sweep-free two-tone signal, one second built and repeated: the
    content does not matter to the conversion's cost, only the size."""
    one = array.array("h")
    for i in range(rate):
        t = i / rate
        left = 0.3 * math.sin(2 * math.pi * 440 * t)
        right = 0.3 * math.sin(2 * math.pi * 660 * t)
        one.append(int(left * 32767))
        if channels == 2:
            one.append(int(right * 32767))
    if sys.byteorder != "little":
        one.byteswap()
    block = one.tobytes()
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        for _ in range(seconds):
            w.writeframesraw(block)
    return os.path.getsize(path)


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1,
            max(0, int(math.ceil(p / 100.0 * len(sorted_vals))) - 1))
    return sorted_vals[k]


class Server:
    def __init__(self, binary, tmp, profile):
        self.sip = free_port()
        self.http = free_port()
        self.err_path = os.path.join(tmp, "server.err")
        self.err = open(self.err_path, "wb")
        self.err_off = 0
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [binary, "serve", "--sip", "%s:%d" % (HOST, self.sip),
             "--http", "%s:%d" % (HOST, self.http),
             "--rtp-ports", "%d-%d" % self.rtp_range(),
             "--profile", profile],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self.err, cwd=tmp)
        r, _, _ = select.select([self.proc.stdout], [], [], READY_TIMEOUT)
        line = self.proc.stdout.readline().decode() if r else ""
        if not line.startswith("ready "):
            self.kill()
            sys.exit("bench: no ready line (%r); stderr: %s"
                     % (line, self.tail()))
        self.startup = time.monotonic() - t0

    @staticmethod
    def rtp_range():
        # An even block of 64 ports somewhere above the usual range.
        while True:
            lo = random.randrange(30000, 60000, 2)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind((HOST, lo))
                return lo, lo + 63
            except OSError:
                continue
            finally:
                s.close()

    def new_log(self):
        """Log text written since the last call."""
        with open(self.err_path, "rb") as f:
            f.seek(self.err_off)
            data = f.read()
        self.err_off += len(data)
        return data.decode("utf-8", "replace")

    def tail(self, n=6):
        with open(self.err_path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return " | ".join(lines[-n:])

    def stop(self):
        """SIGTERM; seconds to exit and the exit code (None: killed)."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=SIGTERM_LIMIT + 3)
        except subprocess.TimeoutExpired:
            self.kill()
            return time.monotonic() - t0, None
        return time.monotonic() - t0, rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ---- OPTIONS -------------------------------------------------------------

class Pinger:
    """Open-loop OPTIONS: one request every interval, answers matched by
    Call-ID, round-trip times in seconds."""

    def __init__(self, sip_port):
        self.dst = (HOST, sip_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((HOST, 0))
        self.lport = self.sock.getsockname()[1]
        self.n = 0
        self.sent = {}             # call-id -> monotonic send time
        self.rtts = []

    def send(self):
        self.n += 1
        cid = "br-%d-%d" % (self.lport, self.n)
        msg = ("OPTIONS sip:%s:%d SIP/2.0\r\n"
               "Via: SIP/2.0/UDP %s:%d;rport;branch=z9hG4bK%s\r\n"
               "Max-Forwards: 70\r\n"
               "From: <sip:bench@%s>;tag=%d\r\n"
               "To: <sip:%s:%d>\r\n"
               "Call-ID: %s\r\n"
               "CSeq: 1 OPTIONS\r\n"
               "Content-Length: 0\r\n\r\n"
               % (HOST, self.dst[1], HOST, self.lport, cid, HOST, self.n,
                  HOST, self.dst[1], cid))
        self.sent[cid] = time.monotonic()
        self.sock.sendto(msg.encode(), self.dst)

    def recv_ready(self):
        while True:
            try:
                data = self.sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            now = time.monotonic()
            m = re.search(rb"(?mi)^(?:call-id|i)[ \t]*:[ \t]*(\S+)", data)
            if not m:
                continue
            t0 = self.sent.pop(m.group(1).decode(), None)
            if t0 is not None:
                self.rtts.append(now - t0)

    def run(self, interval, until, extra=0.0):
        """Sends every interval until until() is true, then for extra
        seconds more; then waits up to 2 s for outstanding answers."""
        nxt = time.monotonic()
        stop_at = None
        while True:
            now = time.monotonic()
            if stop_at is None and until():
                stop_at = now + extra
            if stop_at is not None and now >= stop_at:
                break
            if now >= nxt:
                self.send()
                nxt += interval
                if nxt < now:           # we fell behind: do not burst
                    nxt = now + interval
            r, _, _ = select.select([self.sock], [], [],
                                    max(0.0, nxt - time.monotonic()))
            if r:
                self.recv_ready()
        deadline = time.monotonic() + 2.0
        while self.sent and time.monotonic() < deadline:
            r, _, _ = select.select([self.sock], [], [], 0.05)
            if r:
                self.recv_ready()

    def figures(self):
        v = sorted(self.rtts)
        return {"sent": self.n, "answered": len(v), "lost": len(self.sent),
                "worst": v[-1] * 1e3 if v else float("nan"),
                "p99": pct(v, 99) * 1e3, "p50": pct(v, 50) * 1e3,
                "rtts": v}

    def close(self):
        self.sock.close()


# ---- an RTP stream: one AS-mode call that keeps ringing ------------------

def sip_msg(first, hdrs, body=b""):
    out = first + "\r\n"
    for k, v in hdrs:
        out += "%s: %s\r\n" % (k, v)
    out += "Content-Length: %d\r\n\r\n" % len(body)
    return out.encode() + body


def sip_parse(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "replace").split("\r\n")
    hdrs = []
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs.append((k.strip().lower(), v.strip()))
    return lines[0], hdrs, body


def hget(hdrs, *names):
    for k, v in hdrs:
        if k in names:
            return v
    return None


class RingingCallee(threading.Thread):
    """Registers as bob and answers every INVITE with 100 and 180, and
    never with a final response; answers anything else 200."""

    def __init__(self, sip_port):
        threading.Thread.__init__(self, daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.srv = (HOST, sip_port)
        self.invites = {}          # call-id -> (headers, To) of INVITEs
        self.running = True

    def register(self):
        p = self.port
        self.sock.sendto(sip_msg(
            "REGISTER sip:%s:%d SIP/2.0" % self.srv,
            [("Via", "SIP/2.0/UDP %s:%d;rport;branch=z9hG4bKreg%d"
              % (HOST, p, p)),
             ("Max-Forwards", "70"),
             ("From", "<sip:bob@%s>;tag=r%d" % (HOST, p)),
             ("To", "<sip:bob@%s>" % HOST),
             ("Call-ID", "reg-%d" % p), ("CSeq", "1 REGISTER"),
             ("Contact", "<sip:bob@%s:%d>" % (HOST, p)),
             ("Expires", "3600")]), self.srv)
        self.sock.settimeout(3)
        first, _, _ = sip_parse(self.sock.recv(65536))
        if " 200 " not in first + " ":
            raise RuntimeError("REGISTER: " + first)
        self.sock.settimeout(0.05)

    def run(self):
        while self.running:
            try:
                data, src = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            first, hdrs, _ = sip_parse(data)
            if first.startswith("SIP/2.0"):
                continue
            method = first.split(" ", 1)[0]
            if method == "ACK":
                continue
            base = [(n, v) for n, v in hdrs
                    if n in ("via", "from", "call-id", "cseq")]
            to = hget(hdrs, "to") or ""
            codes = ((100, "Trying"), (180, "Ringing")) \
                if method == "INVITE" else ((200, "OK"),)
            if method == "INVITE":
                self.invites[hget(hdrs, "call-id")] = (base, to)
            for code, reason in codes:
                t = to if code == 100 or "tag=" in to else to + ";tag=cal"
                h = base + [("to", t)]
                if code == 180:
                    h.append(("contact", "<sip:bob@%s:%d>"
                              % (HOST, self.port)))
                self.sock.sendto(sip_msg("SIP/2.0 %d %s" % (code, reason),
                                         h), src)
            # A CANCEL ends the INVITE with 487.
            inv = self.invites.pop(hget(hdrs, "call-id"), None) \
                if method == "CANCEL" else None
            if inv:
                self.sock.sendto(sip_msg(
                    "SIP/2.0 487 Request Terminated",
                    inv[0] + [("to", inv[1] + ";tag=cal")]), src)

    def close(self):
        self.running = False
        self.join(2)
        self.sock.close()


class RtpRecv(threading.Thread):
    """Stamps every RTP packet on an even port (RTCP on the next is
    bound and drained)."""

    def __init__(self):
        threading.Thread.__init__(self, daemon=True)
        while True:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((HOST, 0))
            self.port = self.sock.getsockname()[1]
            try:
                if self.port % 2:
                    raise OSError
                self.rtcp.bind((HOST, self.port + 1))
                break
            except OSError:
                self.sock.close()
                self.rtcp.close()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.stamps = []           # (monotonic, RTP timestamp)
        self.lock = threading.Lock()
        self.running = True

    def run(self):
        socks = [self.sock, self.rtcp]
        while self.running:
            r, _, _ = select.select(socks, [], [], 0.05)
            for s in r:
                data = s.recv(65536)
                if s is self.sock and len(data) >= 12:
                    ts = struct.unpack("!I", data[4:8])[0]
                    with self.lock:
                        self.stamps.append((time.monotonic(), ts))

    def mark(self):
        with self.lock:
            return len(self.stamps)

    def since(self, i):
        """The packets from mark i on, and the one before it, so that a
        stall right at the mark shows as a gap."""
        with self.lock:
            return list(self.stamps[max(0, i - 1):])

    def close(self):
        self.running = False
        self.join(2)
        self.sock.close()
        self.rtcp.close()


class AsCall:
    """alice calls bob asking for early-session media (application server
    mode); the PRACK carries our answer and the server starts RTP toward
    rtp_port.  bob rings for ever, so the stream runs until BYE/CANCEL."""

    def __init__(self, sip_port, rtp_port):
        self.srv = (HOST, sip_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]
        self.rtp_port = rtp_port
        self.cid = "bench-as-%d" % self.port
        self.ruri = "sip:bob@%s:%d" % self.srv
        self.remote_tag = None

    def _req(self, method, cseq, extra=(), body=b"", branch=None):
        p = self.port
        to = "<sip:bob@%s>" % HOST
        if self.remote_tag and method not in ("INVITE", "CANCEL"):
            to += ";tag=" + self.remote_tag
        h = [("Via", "SIP/2.0/UDP %s:%d;rport;branch=%s"
              % (HOST, p, branch or "z9hG4bK%s%d" % (method, cseq))),
             ("Max-Forwards", "70"),
             ("From", "<sip:alice@%s>;tag=a%d" % (HOST, p)),
             ("To", to), ("Call-ID", self.cid),
             ("CSeq", "%d %s" % (cseq, method)),
             ("Contact", "<sip:alice@%s:%d>" % (HOST, p))] + list(extra)
        self.sock.sendto(sip_msg("%s %s SIP/2.0" % (method, self.ruri), h,
                                 body), self.srv)

    def _wait(self, pred, what):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            first, hdrs, body = sip_parse(self.sock.recv(65536))
            if pred(first, hdrs, body):
                return first, hdrs, body
        raise RuntimeError("AS call: no " + what)

    def start(self):
        self._req("INVITE", 1, [("Supported", "100rel, early-session")],
                  branch="z9hG4bKinv")
        first, hdrs, body = self._wait(
            lambda f, h, b: f.startswith("SIP/2.0 18") and
            hget(h, "rseq") is not None, "reliable 18x")
        to = hget(hdrs, "to", "t") or ""
        m = re.search(r";\s*tag=([^;>\s]+)", to)
        self.remote_tag = m.group(1) if m else None
        rseq = hget(hdrs, "rseq")
        m = re.search(rb"m=audio \d+ RTP/AVP((?: \d+)*)", body)
        if not m:
            raise RuntimeError("AS call: 18x without an early-session "
                               "offer: %r" % body[:200])
        sdp = ("v=0\r\no=alice 2 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\n"
               "t=0 0\r\nm=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
               "a=recvonly\r\n" % (HOST, HOST, self.rtp_port)).encode()
        self._req("PRACK", 2, [("RAck", "%s 1 INVITE" % rseq),
                               ("Content-Type", "application/sdp"),
                               ("Content-Disposition",
                                "early-session;handling=required")], sdp)
        self._wait(lambda f, h, b: f.startswith("SIP/2.0 200") and
                   "PRACK" in (hget(h, "cseq") or ""), "200 to the PRACK")

    def cancel(self):
        self.remote_tag = None
        self._req("CANCEL", 1, branch="z9hG4bKinv")
        try:
            self.sock.settimeout(1)
            for _ in range(10):
                first, hdrs, _ = sip_parse(self.sock.recv(65536))
                if "INVITE" in (hget(hdrs, "cseq") or "") and \
                        first.split(" ")[1] >= "300":
                    self._req("ACK", 1, branch="z9hG4bKinv")
                    break
        except OSError:
            pass
        self.sock.close()


def rtp_figures(stamps):
    """What the receiver saw of the 20 ms ticks: the packets, the frames
    the streamer skipped (it drops what is more than a few frames late),
    the longest gap between two arrivals, and the arrival lateness of each
    packet against the 20 ms grid of its RTP timestamp (8 kHz), relative
    to the earliest packet of the window, in ms."""
    if len(stamps) < 2:
        return None
    t0, ts0 = stamps[0]
    off = []
    skipped = 0
    gap = 0.0
    for i, (t, ts) in enumerate(stamps):
        due = ((ts - ts0) & 0xffffffff) / 8000.0
        off.append(t - t0 - due)
        if i:
            frames = ((ts - stamps[i - 1][1]) & 0xffffffff) // 160
            skipped += max(0, frames - 1)
            gap = max(gap, t - stamps[i - 1][0])
    base = min(off)
    return {"packets": len(stamps), "skipped": skipped, "gap": gap * 1e3,
            "late": sorted((o - base) * 1e3 for o in off)}


# ---- the rounds ----------------------------------------------------------

def show(name, f, r=None, with_rtp=False):
    print("%-9s OPTIONS sent %5d answered %5d lost %3d: worst %8.1f ms, "
          "p99 %8.1f ms, median %6.2f ms"
          % (name, f["sent"], f["answered"], f["lost"], f["worst"],
             f["p99"], f["p50"]))
    if r:
        print("          RTP %d packets, %d frames skipped, longest gap "
              "%.1f ms; lateness worst %.1f ms, p99 %.1f ms"
              % (r["packets"], r["skipped"], r["gap"], r["late"][-1],
                 pct(r["late"], 99)))
    elif with_rtp:
        print("          RTP: no packets")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default="build/cmrlab")
    ap.add_argument("--seconds", type=int, default=270,
                    help="length of the WAV (44.1 kHz 16-bit stereo)")
    ap.add_argument("--reloads", type=int, default=3)
    ap.add_argument("--interval", type=float, default=0.002)
    ap.add_argument("--no-rtp", action="store_true")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()

    binary = os.path.abspath(a.binary)
    tmp = tempfile.mkdtemp(prefix="cmrlab-bench-reload-")
    srv = callee = call = rtp = None
    ok = True
    try:
        wav = os.path.join(tmp, "big.wav")
        size = write_wav(wav, a.seconds)
        prof = os.path.join(tmp, "bench.profile")
        with open(prof, "w") as f:
            f.write("resource big file=big.wav\n"
                    "subscriber alice mode=as cmrbt=big\n"
                    "subscriber bob mode=as cmrbt=big cmrt=big\n")
        print("bench_reload: %s, WAV %d bytes (%.1f MiB, %d s of 44.1 kHz "
              "16-bit stereo)" % (a.binary, size, size / 1048576.0,
                                  a.seconds))

        srv = Server(binary, tmp, prof)
        print("start-up: ready after %.2f s" % srv.startup)

        if not a.no_rtp:
            try:
                rtp = RtpRecv()
                rtp.start()
                callee = RingingCallee(srv.sip)
                callee.register()
                callee.start()
                call = AsCall(srv.sip, rtp.port)
                call.start()
                time.sleep(0.5)
                if not rtp.mark():
                    raise RuntimeError("no RTP after the PRACK")
            except (RuntimeError, OSError) as e:
                print("RTP stream not set up (%s); OPTIONS only" % e)
                rtp = None

        # The idle baseline: same cadence, no reload.
        p = Pinger(srv.sip)
        mark = rtp.mark() if rtp else 0
        t_end = time.monotonic() + 1.0
        p.run(a.interval, lambda: time.monotonic() >= t_end)
        show("idle", p.figures(), rtp_figures(rtp.since(mark)) if rtp
             else None, bool(rtp))
        p.close()

        every = []
        lost = 0
        rtp_all = []
        srv.new_log()
        for i in range(a.reloads):
            p = Pinger(srv.sip)
            mark = rtp.mark() if rtp else 0
            state = {"done": None}
            t0 = time.monotonic()

            def until():
                if state["done"] is None:
                    text = srv.new_log()
                    if re.search(r"reload(: \d+ subscribers| failed)",
                                 text):
                        state["done"] = time.monotonic()
                        state["failed"] = "reload failed" in text
                    elif time.monotonic() - t0 > RELOAD_TIMEOUT:
                        state["done"] = time.monotonic()
                        state["failed"] = True
                return state["done"] is not None

            os.kill(srv.proc.pid, signal.SIGHUP)
            p.run(a.interval, until, TAIL)
            f = p.figures()
            r = rtp_figures(rtp.since(mark)) if rtp else None
            show("reload %d" % (i + 1), f, r, bool(rtp))
            print("          reload took %.2f s (SIGHUP to its log line)"
                  % (state["done"] - t0))
            if state.get("failed"):
                print("bench: reload %d failed or timed out: %s"
                      % (i + 1, srv.tail()))
                ok = False
            every += f["rtts"]
            lost += f["lost"]
            if r:
                rtp_all.append(r)
            p.close()

        v = sorted(every)
        if v:
            print("worst OPTIONS delay during a %.1f MB reload: %.1f ms, "
                  "p99 %.1f ms (%d answers, %d unanswered, %d reloads)"
                  % (size / 1e6, v[-1] * 1e3, pct(v, 99) * 1e3, len(v),
                     lost, a.reloads))
        if rtp_all:
            late = sorted(x for r in rtp_all for x in r["late"])
            print("RTP during the reloads: longest gap %.1f ms (20 ms "
                  "expected), %d frames skipped, lateness worst %.1f ms, "
                  "p99 %.1f ms"
                  % (max(r["gap"] for r in rtp_all),
                     sum(r["skipped"] for r in rtp_all), late[-1],
                     pct(late, 99)))

        if call:
            call.cancel()
            call = None
        dt, rc = srv.stop()
        print("SIGTERM: exit %s after %.3f s" % (rc, dt))
        if rc != 0 or dt > SIGTERM_LIMIT:
            ok = False
    finally:
        if call:
            call.sock.close()
        if callee:
            callee.close()
        if rtp:
            rtp.close()
        if srv:
            srv.kill()
        if a.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
