"""serve --pcap: the SIP capture file, packet by packet."""

import os
import shutil
import socket
import struct
import subprocess
import time

from cmrtest import Fail, HOST, check, info, test
from cmrtest_sip import SipClient, SipMsg, register_ok, run_call


def pcap_read(path):
    """Every packet of a classic pcap file of link type RAW (101), as
    (time, src, sport, dst, dport, SipMsg), with the IPv4 header checksum,
    the lengths and the UDP checksum checked on the way."""
    with open(path, "rb") as f:
        data = f.read()
    check(len(data) >= 24, "%s: %d bytes, no pcap header" % (path, len(data)))
    if data[:4] == b"\xd4\xc3\xb2\xa1":
        e = "<"
    elif data[:4] == b"\xa1\xb2\xc3\xd4":
        e = ">"
    else:
        raise Fail("%s: magic %r is not a classic pcap" % (path, data[:4]))
    vmaj, vmin, _, _, snap, link = struct.unpack(e + "HHiIII", data[4:24])
    check((vmaj, vmin, snap, link) == (2, 4, 65535, 101),
          "pcap header: version %d.%d, snaplen %d, linktype %d; expected "
          "2.4, 65535, 101" % (vmaj, vmin, snap, link))

    def csum(b):
        if len(b) & 1:
            b += b"\0"
        acc = sum(struct.unpack("!%dH" % (len(b) // 2), b))
        while acc >> 16:
            acc = (acc & 0xffff) + (acc >> 16)
        return acc

    out = []
    off = 24
    while off < len(data):
        check(off + 16 <= len(data), "pcap: record header cut at %d" % off)
        sec, usec, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        check(len(pkt) == incl and incl == orig,
              "pcap record at %d: %d of %d/%d bytes" % (off, len(pkt), incl,
                                                        orig))
        off += 16 + incl
        if pkt[0] >> 4 == 4:
            check(pkt[0] == 0x45 and pkt[9] == 17,
                  "pcap: IPv4 header %r" % pkt[:20])
            check(struct.unpack("!H", pkt[2:4])[0] == len(pkt),
                  "pcap: IPv4 total length is not the packet's")
            check(csum(pkt[:20]) == 0xffff, "pcap: bad IPv4 header checksum")
            af, a, b, udp = socket.AF_INET, pkt[12:16], pkt[16:20], pkt[20:]
            pseudo = a + b + struct.pack("!BBH", 0, 17, len(udp))
        elif pkt[0] >> 4 == 6:
            check(pkt[6] == 17 and
                  struct.unpack("!H", pkt[4:6])[0] == len(pkt) - 40,
                  "pcap: IPv6 header %r" % pkt[:40])
            af, a, b, udp = socket.AF_INET6, pkt[8:24], pkt[24:40], pkt[40:]
            pseudo = a + b + struct.pack("!I3xB", len(udp), 17)
        else:
            raise Fail("pcap: packet is neither IPv4 nor IPv6: %r" % pkt[:8])
        sport, dport, ulen, ucs = struct.unpack("!HHHH", udp[:8])
        check(ulen == len(udp), "pcap: UDP length %d of %d bytes"
              % (ulen, len(udp)))
        check(ucs == 0 or csum(pseudo + udp) == 0xffff,
              "pcap: bad UDP checksum %#x" % ucs)
        out.append((sec + usec / 1e6, socket.inet_ntop(af, a), sport,
                    socket.inet_ntop(af, b), dport, SipMsg(udp[8:])))
    return out


@test
def pcap_capture(t):
    """serve --pcap: every SIP message the server sends or receives (UDP
    and TCP) is one UDP packet of the capture, readable while it runs."""
    path = os.path.join(t.tmp, "sip.pcap")
    srv = t.server(extra=("--pcap", path), plain="http")
    register_ok(srv, "alice", "sip:alice@%s:%d" % (HOST, 41005))

    # Flushed per packet: the REGISTER and its 200 are there already.
    pk = pcap_read(path)
    check([p[5].first.split(" ")[0] for p in pk] == ["REGISTER", "SIP/2.0"]
          and pk[0][4] == srv.sip and pk[1][2] == srv.sip
          and pk[1][5].status == 200,
          "capture after one REGISTER: %r" % [(p[2], p[4], p[5].first)
                                               for p in pk])

    cl = SipClient(srv, "tcp")
    try:
        rsp = cl.transact("OPTIONS", "sip:%s:%d" % (HOST, srv.sip))
    finally:
        cl.close()
    check(rsp.status == 200, "OPTIONS over TCP: %s" % rsp.first)

    run_call(t.tmp, srv, ring_ms=300)
    why = srv.stop()
    check(why is None, why)

    pk = pcap_read(path)
    ladder = ["%s:%d>%s:%d %s" % (p[1], p[2], p[3], p[4], p[5].first)
              for p in pk]
    info("pcap: %d packets" % len(pk))
    for p in pk:
        check(srv.sip in (p[2], p[4]) and p[1] == HOST and p[3] == HOST,
              "packet not to or from the server's %s:%d: %s"
              % (HOST, srv.sip, ladder[pk.index(p)]))
        # One whole message per packet: the body is Content-Length long.
        clen = p[5].get("content-length")
        check(clen is not None and int(clen) == len(p[5].body),
              "packet %r: Content-Length %r, body %d bytes"
              % (p[5].first, clen, len(p[5].body)))
    times = [p[0] for p in pk]
    check(times == sorted(times) and abs(times[-1] - time.time()) < 60,
          "packet times are not in order or not now: %r" % times[:3])

    def find(what, rx, cseq=None, header=None, after=0):
        for i, p in enumerate(pk[after:], after):
            m = p[5]
            name = str(m.status) if m.status else m.first.split(" ")[0]
            if name != what or (p[4] == srv.sip) != rx:
                continue
            if cseq and not m.cseq().endswith(" " + cseq):
                continue
            if header and not m.get(header):
                continue
            return i
        raise Fail("no %s %s the server%s in the capture: %s"
                   % (what, "to" if rx else "from",
                      " with " + header if header else "",
                      " / ".join(ladder)))

    find("REGISTER", True)
    find("200", False, "REGISTER")
    find("OPTIONS", True)
    find("200", False, "OPTIONS")
    inv = find("INVITE", True)
    out = find("INVITE", False, header="alert-info", after=inv)
    find("180", True, "INVITE", after=out)
    r180 = find("180", False, "INVITE", header="alert-info", after=out)
    find("200", True, "INVITE", after=out)
    ok = find("200", False, "INVITE", after=r180)
    ack = find("ACK", True, after=ok)
    find("ACK", False, after=out)
    bye = find("BYE", True, after=ack)
    find("BYE", False, after=bye)
    find("200", False, "BYE", after=bye)
    find("200", True, "BYE", after=bye)

    # tshark is not a dependency; when it is there, it must read the file
    # as SIP (the server's port is not 5060, hence the decode-as).
    if shutil.which("tshark"):
        r = subprocess.run(["tshark", "-r", path, "-n",
                            "-d", "udp.port==%d,sip" % srv.sip, "-Y", "sip",
                            "-T", "fields", "-e", "sip.Method",
                            "-e", "sip.Status-Code"],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=60)
        rows = r.stdout.decode("utf-8", "replace").split()
        check(r.returncode == 0 and len(r.stdout.splitlines()) == len(pk),
              "tshark: exit %d, %d SIP packets of %d: %s"
              % (r.returncode, len(r.stdout.splitlines()), len(pk),
                 r.stderr.decode("utf-8", "replace")[-300:]))
        for want in ("REGISTER", "INVITE", "ACK", "BYE", "180", "200"):
            check(want in rows, "tshark did not decode a %s: %r"
                  % (want, rows))
