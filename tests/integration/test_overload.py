"""Load shedding (sip/overload.c): while the server is behind, a new
INVITE gets 503 with Retry-After at once; nothing is lost, and the server
takes calls again as soon as it has caught up.

The backlog is made, not hoped for: the test stops the server (SIGSTOP),
queues a burst of INVITEs on its UDP socket, waits, and lets it go on."""

import os
import signal
import socket
import time
import urllib.request

from cmrtest import HOST, check, info, test
from cmrtest_sip import SipClient

BURST = 500
STOPPED_S = 0.4          # the backlog's age: over the 100 ms threshold
PAD = "a=x-pad:" + "p" * 900 + "\r\n"    # ~1.1 KB datagrams


def metric(srv, name):
    with urllib.request.urlopen(srv.base + "/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
    raise AssertionError("no %s in /metrics" % name)


def invite(cl, user):
    body = ("v=0\r\no=a 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio 4000 RTP/AVP 0\r\n%s" % (HOST, HOST, PAD)).encode()
    return cl.request("INVITE", "sip:%s@%s:%d" % (user, HOST, cl.srv.sip),
                      to_user=user, body=body,
                      headers=("Contact: <sip:alice@%s:%d>" % (HOST, cl.port),
                               "Content-Type: application/sdp"))


@test
def overload_backlog_sheds_with_503(t):
    """A backlog of 500 INVITEs (about 1.1 MB of kernel buffer) 0.4 s old:
    each one read while the datagram behind it has waited more than
    100 ms gets 503 with Retry-After, the last is handled (404, unknown
    user); every one is answered (the socket's receive buffer was raised,
    or most would be dropped), the shed count is in /metrics, and then
    OPTIONS and 20 INVITEs one after the other are all served."""
    check(os.geteuid() == 0, "needs root: the test relies on "
          "SO_RCVBUFFORCE to hold the burst")
    srv = t.server()
    cl = SipClient(srv)
    try:
        cl.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        # The first INVITE seen on the socket raises its buffer.
        data, _, cid = invite(cl, "nobody")
        cl.send_raw(data)
        rsp = cl.final_response(cid, "INVITE", 3)
        check(rsp is not None and rsp.status == 404,
              "the first INVITE: %r" % (rsp and rsp.first))

        ids = []
        os.kill(srv.proc.pid, signal.SIGSTOP)
        try:
            for i in range(BURST):
                data, _, cid = invite(cl, "nobody")
                ids.append(cid)
                cl.send_raw(data)
            time.sleep(STOPPED_S)
        finally:
            os.kill(srv.proc.pid, signal.SIGCONT)

        final = {}
        retry_after = set()
        deadline = time.monotonic() + 15
        while len(final) < BURST and time.monotonic() < deadline:
            m = cl.recv_msg(1.0)
            if m is None or m.status is None or m.status < 200:
                continue
            cid = m.get("Call-ID")
            if cid in final:
                continue
            final[cid] = m.status
            if m.status == 503:
                retry_after.add(m.get("Retry-After"))
        n503 = sum(1 for s in final.values() if s == 503)
        n404 = sum(1 for s in final.values() if s == 404)
        info("%d INVITEs queued: %d answered 503, %d answered 404, %d "
             "unanswered" % (BURST, n503, n404, BURST - len(final)))
        check(len(final) == BURST, "%d of %d INVITEs unanswered"
              % (BURST - len(final), BURST))
        check(n503 >= BURST // 2, "only %d 503s for %d INVITEs queued "
              "%.1f s" % (n503, BURST, STOPPED_S))
        check(n404 > 0, "no INVITE of the backlog handled, not even the "
              "last")
        check(n503 + n404 == BURST, "other final responses: %r"
              % sorted(set(final.values())))
        check(retry_after == {"2"}, "Retry-After of the 503s: %r"
              % retry_after)
        shed = metric(srv, "cmrlab_sip_shed_total")
        check(shed == n503, "cmrlab_sip_shed_total %d, %d 503s seen"
              % (shed, n503))

        data, _, cid = cl.request("OPTIONS", "sip:%s:%d" % (HOST, srv.sip))
        cl.send_raw(data)
        rsp = cl.final_response(cid, "OPTIONS", 3)
        check(rsp is not None and rsp.status == 200, "OPTIONS after: %r"
              % (rsp and rsp.first))
        for i in range(20):
            data, _, cid = invite(cl, "nobody")
            cl.send_raw(data)
            rsp = cl.final_response(cid, "INVITE", 3)
            check(rsp is not None and rsp.status == 404,
                  "INVITE %d after the backlog: %r"
                  % (i, rsp and rsp.first))
    finally:
        cl.close()
