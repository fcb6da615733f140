"""serve --pcap over TCP: each packet carries its connection's real ports,
also when the client's Via names another port (its listening port)."""

import os
import socket
import struct

from cmrtest import HOST, check, free_port, info, test
from cmrtest_sip import (
    Sipp, SipClient, SipMsg, contacts_of, invite, register_ok, tag_param)


def pcap_packets(path):
    """[(src, sport, dst, dport, SipMsg)] of a classic pcap of link type
    RAW (101) holding IPv4/UDP packets, read with struct."""
    with open(path, "rb") as f:
        data = f.read()
    check(len(data) >= 24, "%s: %d bytes, no pcap header" % (path, len(data)))
    magic = data[:4]
    check(magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4"),
          "%s: magic %r" % (path, magic))
    e = "<" if magic == b"\xd4\xc3\xb2\xa1" else ">"
    check(struct.unpack(e + "I", data[20:24])[0] == 101,
          "%s: link type is not RAW (101)" % path)
    out, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        check(len(pkt) >= 28 and pkt[0] == 0x45 and pkt[9] == 17,
              "pcap: not an IPv4/UDP packet: %r" % pkt[:28])
        sport, dport = struct.unpack("!HH", pkt[20:24])
        out.append((socket.inet_ntoa(pkt[12:16]), sport,
                    socket.inet_ntoa(pkt[16:20]), dport, SipMsg(pkt[28:])))
    check(off == len(data), "pcap: %d bytes left after the last record"
          % (len(data) - off))
    return out


def check_tcp_ports(path, srv, call_id, eph, need):
    """Every packet of call_id in the capture: a request from the client
    goes from HOST:eph (the connection's ephemeral port) to the server's
    port, a response the other way.  need: the first lines' starts (a
    method or "SIP/2.0 <code>") that must be there.  Returns the ladder."""
    pk = [p for p in pcap_packets(path) if p[4].get("call-id") == call_id]
    ladder = ["%s:%d>%s:%d %s" % (p[0], p[1], p[2], p[3], p[4].first)
              for p in pk]
    info("pcap, Call-ID %s: %s" % (call_id, " / ".join(ladder)))
    for p, line in zip(pk, ladder):
        if p[4].status is None:
            want = (HOST, eph, HOST, srv.sip)
        else:
            want = (HOST, srv.sip, HOST, eph)
        check(p[:4] == want, "pcap: %s; expected %s:%d>%s:%d, the TCP "
              "connection's addresses" % ((line,) + want))
    for n in need:
        check(any(p[4].first.startswith(n) for p in pk),
              "pcap: no %r packet of Call-ID %s: %s" % (n, call_id, ladder))
    return ladder


def tcp_client(srv):
    """A TCP client whose Via and Contact name a listening port of its
    own, not the connection's ephemeral port, as a UA that listens for
    TCP does; returns (client, ephemeral port)."""
    cl = SipClient(srv, "tcp")
    eph = cl.sock.getsockname()[1]
    cl.port = free_port()
    check(cl.port != eph, "the advertised port is the ephemeral one")
    info("TCP client: connection from %s:%d, Via names port %d"
         % (HOST, eph, cl.port))
    return cl, eph


@test
def pcap_tcp_options(t):
    """TCP OPTIONS whose Via names the client's listening port, and one
    whose Via names no port: the 200s are recorded from the server's
    port to the connection's ephemeral port, the requests the other
    way."""
    path = os.path.join(t.tmp, "sip.pcap")
    srv = t.server(extra=("--pcap", path))
    cl, eph = tcp_client(srv)
    try:
        ruri = "sip:%s:%d" % (HOST, srv.sip)
        data, _, cid1 = cl.request("OPTIONS", ruri)
        cl.send_raw(data)
        r1 = cl.final_response(cid1, "OPTIONS")
        check(r1.status == 200, "OPTIONS: %s" % r1.first)

        data, _, cid2 = cl.request("OPTIONS", ruri)
        via = "%s:%d;" % (HOST, cl.port)
        check(via.encode() in data, "no Via port to take out")
        cl.send_raw(data.replace(via.encode(), (HOST + ";").encode(), 1))
        r2 = cl.final_response(cid2, "OPTIONS")
        check(r2.status == 200, "OPTIONS, Via without port: %s" % r2.first)
    finally:
        cl.close()
    check_tcp_ports(path, srv, cid1, eph, ["OPTIONS", "SIP/2.0 200"])
    check_tcp_ports(path, srv, cid2, eph, ["OPTIONS", "SIP/2.0 200"])


@test
def pcap_tcp_invite(t):
    """A call from a TCP client whose Via names its listening port: the
    INVITE, ACK and BYE are recorded from the connection's ephemeral
    port, every response to them (18x, 200, 200 (BYE)) to it."""
    path = os.path.join(t.tmp, "sip.pcap")
    srv = t.server(extra=("--pcap", path), plain="http")
    callee = Sipp(t.tmp, "uas_answer.xml", "callee", keys={"ring_ms": 300})
    callee.wait_listening()
    register_ok(srv, "bob", callee.contact)
    cl, eph = tcp_client(srv)
    try:
        ft = "ft-pcap-tcp"
        ok = invite(cl, "bob", from_tag=ft, timeout=5)
        check(ok.status == 200, "INVITE: %s" % ok.first)
        cid = ok.get("call-id")
        target = contacts_of(ok)[0][0]
        tag = tag_param(ok.get("to"))
        data, _, _ = cl.request("ACK", target, to_user="bob", call_id=cid,
                                from_tag=ft, to_tag=tag)
        cl.send_raw(data)
        data, _, _ = cl.request("BYE", target, to_user="bob", call_id=cid,
                                cseq=2, from_tag=ft, to_tag=tag)
        cl.send_raw(data)
        bye = cl.final_response(cid, "BYE")
        check(bye.status == 200, "BYE: %s" % bye.first)
    finally:
        cl.close()
    rc = callee.wait(10)
    why = callee.verdict(rc)
    check(why is None, why or "")
    ladder = check_tcp_ports(path, srv, cid, eph,
                             ["INVITE", "SIP/2.0 180", "SIP/2.0 200", "ACK",
                              "BYE"])
    check(sum(1 for l in ladder if "SIP/2.0 200" in l) >= 2,
          "pcap: expected the 200 (INVITE) and the 200 (BYE): %s" % ladder)
