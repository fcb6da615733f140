'''What the phone tests measure: tone WAV files in and out, the tones a
recording holds (a Goertzel filter per candidate frequency over short
windows), and a packet capture on the loopback interface (an AF_PACKET
socket with a classic BPF filter; root only: without it the figures it
gives are reported as unavailable), with the SIP ladder and the RTP
figures read from it.  Only the Python standard library is used.
'''

import ctypes
import math
import re
import socket
import struct
import threading
import time

from cmrtest import Fail, HOST, check
from cmrtest_sip import SipMsg

RATE = 8000                # the sources' sample rate (G.711's)


# ---- WAV files -----------------------------------------------------------

def tone_wav(path, freq, seconds, amp=8000, rate=RATE):
    """Writes a 16-bit mono WAV of one pure tone (whole seconds)."""
    one = struct.pack("<%dh" % rate, *(
        int(round(amp * math.sin(2 * math.pi * freq * i / rate)))
        for i in range(rate)))
    data = one * int(seconds)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE")
        f.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2,
                                      2, 16))
        f.write(b"data" + struct.pack("<I", len(data)) + data)
    return path


def read_wav(path):
    """(rate, samples of the first channel) of a PCM WAV.  A recorder
    killed before it wrote its header's sizes leaves 0 or too large a
    size: the data then runs to the end of the file."""
    with open(path, "rb") as f:
        d = f.read()
    check(d[:4] == b"RIFF" and d[8:12] == b"WAVE",
          "%s is not a RIFF/WAVE file (%d bytes)" % (path, len(d)))
    pos, fmt = 12, None
    while pos + 8 <= len(d):
        cid, size = d[pos:pos + 4], struct.unpack("<I", d[pos + 4:pos + 8])[0]
        body = pos + 8
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", d[body:body + 16])
        elif cid == b"data":
            check(fmt, "%s: data chunk before fmt" % path)
            end = body + size if 0 < size <= len(d) - body else len(d)
            tag, ch, rate, _, align, bits = fmt
            check(tag == 1 and bits == 16, "%s: format %d with %d bits, "
                  "expected 16-bit PCM" % (path, tag, bits))
            n = (end - body) // align
            x = struct.unpack("<%dh" % (n * ch), d[body:body + n * align])
            return rate, list(x[::ch])
        pos = body + size + (size & 1)
    raise Fail("%s: no data chunk" % path)


# ---- tones ---------------------------------------------------------------

WINDOW = 0.1               # seconds per analysis window
TONE_SHARE = 0.5           # a window's tone holds this share of its energy
QUIET_RMS = 100            # below this a window is silence


def goertzel_share(x, rate, freq):
    """The share of x's energy at freq: 1.0 for a pure tone at freq and
    a whole number of its periods in x, near 0 for other tones."""
    n = len(x)
    c = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for v in x:
        s1, s2 = v + c * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - c * s1 * s2
    energy = sum(v * v for v in x)
    return 2 * power / (n * energy) if energy else 0.0


class Recording:
    """What a phone received, from one or more WAV files one after the
    other, cut into windows of WINDOW seconds.  track: per window (start
    in s, the dominant frequency among freqs or None, RMS); None stands
    for silence, or for a window where no candidate holds TONE_SHARE of
    the energy (a mix, noise, the switch from one tone to the next)."""

    def __init__(self, paths, freqs):
        self.rate, self.x = None, []
        for path in paths:
            r, more = read_wav(path)
            if self.rate not in (None, r):
                raise Fail("%s: %d Hz after %d Hz" % (path, r, self.rate))
            self.rate = r
            self.x += more
        self.rate = self.rate or RATE
        n = int(self.rate * WINDOW)
        self.track = []
        for i in range(0, len(self.x) - n + 1, n):
            w = self.x[i:i + n]
            rms = math.sqrt(sum(v * v for v in w) / n)
            best, share = None, 0.0
            if rms >= QUIET_RMS:
                for f in freqs:
                    s = goertzel_share(w, self.rate, f)
                    if s > share:
                        best, share = f, s
            self.track.append((i / self.rate,
                               best if share >= TONE_SHARE else None,
                               int(rms)))

    @property
    def seconds(self):
        return len(self.x) / self.rate

    def segments(self):
        """Runs of one dominant frequency: [(freq, start s, end s)]."""
        out = []
        for t, f, _ in self.track:
            if out and out[-1][0] == f:
                out[-1][2] = t + WINDOW
            else:
                out.append([f, t, t + WINDOW])
        return [tuple(s) for s in out]

    def describe(self):
        """'700 Hz 0.0-2.9 s, none 2.9-3.0 s, 1200 Hz 3.0-6.1 s'."""
        return ", ".join("%s %.1f-%.1f s" % ("%d Hz" % f if f else "none",
                                             a, b)
                         for f, a, b in self.segments()) or "empty"

    def seconds_of(self, freq, start=0.0, end=None):
        """Seconds of windows dominated by freq from start to end."""
        return WINDOW * sum(1 for t, f, _ in self.track if f == freq and
                            t >= start and (end is None or t < end))

    def first_of(self, freq, start=0.0):
        for t, f, _ in self.track:
            if f == freq and t >= start:
                return t
        return None

    def last_of(self, freq, end=None):
        ts = [t for t, f, _ in self.track
              if f == freq and (end is None or t < end)]
        return ts[-1] + WINDOW if ts else None

    def peak(self, freq, lo=100, hi=2000):
        """The frequency with the most energy, to 1 Hz, in the middle
        half second of the longest run dominated by freq (None without
        one): a scan in 20 Hz steps from lo to hi, then in 1 Hz steps
        around the best."""
        runs = [(b - a, a, b) for f, a, b in self.segments() if f == freq]
        if not runs:
            return None
        _, a, b = max(runs)
        mid = (a + b) / 2
        i0 = int(max(a, mid - 0.25) * self.rate)
        i1 = int(min(b, mid + 0.25) * self.rate)
        x = self.x[i0:i1]
        best = max(range(lo, hi + 1, 20),
                   key=lambda f: goertzel_share(x, self.rate, f))
        return max(range(best - 20, best + 21),
                   key=lambda f: goertzel_share(x, self.rate, f))


# ---- packet capture ------------------------------------------------------

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
SO_TIMESTAMPNS = 35
PACKET_OUTGOING = 4


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte),
                ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort),
                ("filter", ctypes.POINTER(_SockFilter))]


def udp_dport_filter(ranges):
    """A classic BPF program for lo's Ethernet framing: IPv4 UDP first
    fragments whose destination port is in one of ranges [(lo, hi)]."""
    prog = [(0x28, 0, 0, 12),                 # ldh [12]: ethertype
            (0x15, 0, "drop", 0x0800),        # IPv4
            (0x30, 0, 0, 23),                 # ldb [23]: protocol
            (0x15, 0, "drop", 17),            # UDP
            (0x28, 0, 0, 20),                 # ldh [20]: fragment offset
            (0x45, "drop", 0, 0x1fff),
            (0xb1, 0, 0, 14),                 # ldxb 4*([14]&0xf)
            (0x48, 0, 0, 16)]                 # ldh [x+16]: dst port
    for i, (lo, hi) in enumerate(ranges):
        nxt = "r%d" % (i + 1) if i + 1 < len(ranges) else "drop"
        prog.append(("r%d" % i,))
        prog.append((0x35, 0, nxt, lo))       # jge lo
        prog.append((0x25, nxt, "accept", hi))  # jgt hi
    prog += [("accept",), (0x06, 0, 0, 0x40000), ("drop",), (0x06, 0, 0, 0)]
    labels, code = {}, []
    for ins in prog:
        if len(ins) == 1:
            labels[ins[0]] = len(code)
        else:
            code.append(ins)

    def off(at, j):
        return labels[j] - at - 1 if isinstance(j, str) else j
    return [(c, off(i, jt), off(i, jf), k)
            for i, (c, jt, jf, k) in enumerate(code)]


class LoCapture:
    """UDP datagrams on lo to the destination ports of ranges, with the
    kernel's receive time (time.time() clock): (time, src port, dst port,
    payload).  available is False, with why, when the socket cannot be
    opened (not root): the test then goes without these figures."""

    def __init__(self, ranges):
        self.pkts = []
        self.lock = threading.Lock()
        self.running = True
        self.available, self.why = True, None
        try:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except (OSError, AttributeError) as e:
            self.available, self.why = False, "no AF_PACKET socket: %s" % e
            return
        try:
            prog = udp_dport_filter(ranges)
            arr = (_SockFilter * len(prog))(*[_SockFilter(*i) for i in prog])
            fprog = _SockFprog(len(prog), arr)
            s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,
                         bytes(memoryview(fprog).cast("B")))
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            s.bind(("lo", ETH_P_ALL))
            s.settimeout(0.1)
        except OSError as e:
            s.close()
            self.available, self.why = False, "capture on lo: %s" % e
            return
        self.sock = s
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data, anc, _, addr = self.sock.recvmsg(65536, 64)
            except socket.timeout:
                continue
            except OSError:
                return
            if addr[2] == PACKET_OUTGOING:    # lo shows each one twice
                continue
            ts = time.time()
            for lvl, typ, val in anc:
                if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", val[:16])
                    ts = sec + nsec / 1e9
            ihl = (data[14] & 0x0f) * 4
            sport, dport = struct.unpack("!HH", data[14 + ihl:18 + ihl])
            with self.lock:
                self.pkts.append((ts, sport, dport, data[22 + ihl:]))

    def packets(self):
        with self.lock:
            return list(self.pkts)

    def close(self):
        if not self.available:
            return
        self.running = False
        self.thread.join(2)
        self.sock.close()


def is_rtp(payload):
    """RTP version 2 and not an RTCP packet type (200..204 give 72..76
    in the payload type bits)."""
    return (len(payload) >= 12 and payload[0] >> 6 == 2 and
            not 72 <= payload[1] & 0x7f <= 76)


def sip_messages(pkts, names):
    """[(time, from, to, SipMsg)] of the SIP datagrams between the
    parties whose SIP ports names maps to their names."""
    out = []
    for ts, sp, dp, pl in pkts:
        if sp in names and dp in names and re.match(
                rb"SIP/2\.0 \d{3} |[A-Z]+ \S+ SIP/2\.0\r\n", pl):
            out.append((ts, names[sp], names[dp], SipMsg(pl)))
    return out


def sip_ladder(msgs, t0):
    """One line per message: time from t0, parties, first line, CSeq, the
    SDP's audio port and the headers that tell 100rel and UPDATE."""
    out = []
    for ts, frm, to, m in msgs:
        extra = ["%s: %s" % (h, m.get(h)) for h in
                 ("Require", "RSeq", "RAck", "Supported", "Allow")
                 if m.get(h) and (h != "Allow" or
                                  m.first.startswith("INVITE"))]
        port = re.search(rb"(?m)^m=audio (\d+)", m.body)
        out.append("%+6.0f ms %s -> %s: %s [%s]%s%s" % (
            (ts - t0) * 1000, frm, to, m.first.replace(" SIP/2.0", ""),
            m.cseq(), " SDP m=audio %s" % port.group(1).decode()
            if port else "", "".join(" {%s}" % e for e in extra)))
    return out


def rtp_figures(pkts, rx, streamer, callee):
    """The RTP that reached the caller phone's ports (rx, a (first, last)
    range like the others): ringback packets (from the server's streamer
    ports), the callee phone's packets, and the gap from the last
    ringback packet to the callee's first (negative: they overlapped).
    Times are the capture's (time.time() clock)."""
    def within(port, r):
        return r[0] <= port <= r[1]
    got = [(ts, sp) for ts, sp, dp, pl in pkts
           if within(dp, rx) and is_rtp(pl)]
    ring = [p for p in got if within(p[1], streamer)]
    from_callee = [p for p in got if within(p[1], callee)]
    fig = {"ringback_packets": len(ring),
           "ringback_sources": sorted({p[1] for p in ring}),
           "ringback_first": ring[0][0] if ring else None,
           "ringback_last": ring[-1][0] if ring else None,
           "callee_packets": len(from_callee),
           "callee_first": from_callee[0][0] if from_callee else None,
           "other_packets": len(got) - len(ring) - len(from_callee),
           "ringback_after_callee": 0,
           "gap_ms": None}
    if ring and from_callee:
        fig["gap_ms"] = (from_callee[0][0] - ring[-1][0]) * 1000
        fig["ringback_after_callee"] = sum(
            1 for p in ring if p[0] >= from_callee[0][0])
    return fig
