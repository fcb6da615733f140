'''TCP peers that connect and stall, for the integration tests: they send
nothing, or the start of a message and never its end, and wait for the
server to close the connection by itself; and what the server holds
meanwhile (its open fds and resident memory).

IdleProbe(port, kinds, timeout) opens one connection per entry of
kinds, each a (name, bytes to send first, more, awaited) tuple: the bytes
go out at once; when more is given (the start of a second message), it
goes out once the server has answered the first (one whole message, then
half of another).  A thread then waits, with one select(), for the server
to close the connections (end of file or reset) and notes when, in
seconds after the connect, until every awaited one is closed or timeout
seconds have passed.  probe.start() runs it in the background;
probe.join() and then probe.closed(name) say what happened.

sip_kinds(port) and http_kinds() are the stalls of the SIP and HTTP
ports; Stalls(server) puts both on a server in the background and
measures it, Stalls.finish() checks what became of them.
'''

import os
import select
import socket
import threading
import time

from cmrtest import HOST, Fail, check, info, wait_until
from cmrtest_sip import SipClient, new_id

STALL_WAIT = 45.0          # the longest we wait for the server to close
SIP_CLOSE_LIMIT = 40.0     # libre: 32 s without a whole message
HTTP_CLOSE_LIMIT = 40.0    # http/httpd.c: 30 s idle
HELD_MIN_KIB = 1024        # VmRSS grows at least this much with them


# ---- the server process and its connections, from /proc ------------------

def process_figures(pid):
    """(open file descriptors, VmRSS in KiB) of a process."""
    fds = len(os.listdir("/proc/%d/fd" % pid))
    rss = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return fds, rss


def tcp_table():
    """(local, remote, state, tx queue, rx queue) of every TCP socket of
    this network namespace, addresses as /proc/net/tcp writes them."""
    out = []
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if len(cols) < 5:
                continue
            tx, rx = cols[4].split(":")
            out.append((cols[1], cols[2], cols[3], int(tx, 16),
                        int(rx, 16)))
    return out


def settled(port):
    """True when every byte sent to 127.0.0.1:port over TCP has been
    delivered and read: no established connection to that port has data
    in its send queue, none of the port's own has any in its receive
    queue."""
    want = "0100007F:%04X" % port
    return not any(st == "01" and ((loc == want and rx) or
                                   (rem == want and tx))
                   for loc, rem, st, tx, rx in tcp_table())


def established(port):
    """How many established TCP connections 127.0.0.1:port has."""
    want = "0100007F:%04X" % port
    return sum(1 for loc, _, st, _, _ in tcp_table()
               if loc == want and st == "01")


def under_asan(pid):
    """True when the process runs with AddressSanitizer, whose quarantine
    keeps freed memory resident on purpose."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


# ---- stalled connections -------------------------------------------------

class Conn:
    def __init__(self, name, first, more, awaited):
        self.name, self.first, self.more = name, first, more
        self.awaited = awaited
        self.sock = None
        self.t_open = None
        self.t_closed = None       # seconds after the connect
        self.answered = b""        # what the server sent
        self.error = None


class IdleProbe:
    """Stalled connections to one TCP port (module docstring)."""

    def __init__(self, port, kinds, timeout):
        self.port, self.timeout = port, timeout
        self.conns = [Conn(*k) for k in kinds]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.error = None
        self.opened = threading.Event()

    def start(self):
        self.thread.start()
        return self

    def join(self):
        self.thread.join(self.timeout + 10)

    def _run(self):
        try:
            self.open()
            self.opened.set()
            self._wait()
        except Exception as e:     # reported by the test, not lost
            self.error = "%s: %s" % (type(e).__name__, e)
        finally:
            self.opened.set()

    def open(self):
        """Connects and sends every first part (start() does it in the
        background, then waits)."""
        for c in self.conns:
            c.sock = socket.create_connection((HOST, self.port), timeout=5)
            c.t_open = time.monotonic()
            if c.first:
                c.sock.sendall(c.first)
            c.sock.setblocking(False)

    def _wait(self):
        """Until the server has closed every awaited connection, or
        timeout seconds."""
        deadline = time.monotonic() + self.timeout
        awaited = [c for c in self.conns if c.awaited]
        while any(c.t_closed is None for c in awaited):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            live = [c for c in self.conns if c.t_closed is None]
            ready, _, _ = select.select([c.sock for c in live], [], [],
                                        min(0.2, left))
            for c in live:
                if c.sock in ready:
                    self._read(c)

    def _read(self, c):
        try:
            data = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            c.error = str(e)
            data = b""
        if data:
            c.answered += data
            if c.more not in (None, True):
                c.sock.setblocking(True)
                c.sock.sendall(c.more)
                c.sock.setblocking(False)
                c.more = True      # sent: from now on it only waits
            return
        c.t_closed = time.monotonic() - c.t_open

    def closed(self, name):
        """[seconds to close, or None while open] of the connections of
        name."""
        return [c.t_closed for c in self.conns if c.name == name]

    def close_all(self):
        for c in self.conns:
            if c.sock:
                c.sock.close()


def sip_start(port):
    """The header lines of an OPTIONS, without the blank line."""
    return ("OPTIONS sip:%s:%d SIP/2.0\r\n"
            "Via: SIP/2.0/TCP %s:9;branch=z9hG4bK%s\r\n"
            "From: <sip:stall@%s>;tag=%s\r\nTo: <sip:%s:%d>\r\n"
            "Call-ID: %s\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            % (HOST, port, HOST, new_id("st"), HOST, new_id("t"), HOST,
               port, new_id("stall"))).encode()


def sip_kinds(port):
    """50 connections to the SIP port that never send a whole message
    (nothing; 60 KB of headers without their end; a body 4000 bytes short
    of its Content-Length: each just under libre's 64 KiB limit for a
    message in the making), and 2 that send one whole OPTIONS and then
    headers without their end (not awaited: libre gives those 900 s)."""
    pad = b"".join(b"X-Pad-%03d: %s\r\n" % (i, b"x" * 100)
                   for i in range(540))

    def head():
        return sip_start(port) + pad

    def short():
        return (sip_start(port) + b"Content-Length: 64000\r\n\r\n" +
                b"y" * 60000)
    whole = sip_start(port) + b"Content-Length: 0\r\n\r\n"
    return ([("silent", b"", None, True)] * 16 +
            [("head", head(), None, True) for _ in range(17)] +
            [("short", short(), None, True) for _ in range(17)] +
            [("whole+half", whole, head(), False) for _ in range(2)])


def http_kinds():
    """50 connections that stall on the HTTP port: nothing, a request
    without its end, a body shorter than its Content-Length, one whole
    request and then silence, one and then half of another."""
    get = b"GET /healthz HTTP/1.1\r\nHost: %s\r\n" % HOST.encode()
    head = get + b"X-Pad: " + b"x" * 1000 + b"\r\n"
    short = get + b"Content-Length: 100000\r\n\r\n" + b"y" * 1000
    return ([("silent", b"", None, True)] * 12 +
            [("head", head, None, True)] * 13 +
            [("short", short, None, True)] * 13 +
            [("keep-alive", get + b"\r\n", None, True)] * 6 +
            [("whole+half", get + b"\r\n", head, True)] * 6)


# ---- what the server makes of them ---------------------------------------

def spread(times):
    got = [x for x in times if x is not None]
    if not got:
        return "%d open, none closed" % len(times)
    return "%d of %d closed after %.1f to %.1f s" % (len(got), len(times),
                                                    min(got), max(got))


def check_closed(probe, kinds, limit, what):
    """Waits for probe; each awaited connection was closed by the server
    within limit seconds of its connect."""
    probe.join()
    check(probe.error is None, "%s probe: %s" % (what, probe.error))
    for name in sorted(set(k[0] for k in kinds)):
        times = probe.closed(name)
        info("%s %-10s %s" % (what, name, spread(times)))
        if not [k for k in kinds if k[0] == name][0][3]:
            continue
        late = [x for x in times if x is None or x > limit]
        check(not late, "%s: %d of %d %s connections still open after "
              "%.0f s (limit %.0f s)" % (what, len(late), len(times), name,
                                         STALL_WAIT, limit))


def warm_up(srv):
    """One OPTIONS over TCP and one GET, so that what the server
    allocates on first use is there before the first measurement."""
    cl = SipClient(srv, "tcp")
    try:
        r = cl.transact("OPTIONS", "sip:%s:%d" % (HOST, srv.sip))
        check(r.status == 200, "OPTIONS over TCP: %s" % r.first)
    finally:
        cl.close()
    st, _, _ = srv.http_get("/healthz")
    check(st == 200, "GET /healthz: %d" % st)
    wait_until(lambda: not established(srv.sip) and
               not established(srv.http), 5,
               "close of the warm-up connections")


def figures_when_settled(srv, what):
    """process_figures() once the server has read every byte sent to its
    SIP and HTTP ports."""
    wait_until(lambda: settled(srv.sip) and settled(srv.http), 10,
               "read of every byte sent (%s)" % what, 0.05)
    return process_figures(srv.proc.pid)


def fds_back(srv, fds, what):
    """process_figures() once the server has no more fds open than fds."""
    def back():
        f = process_figures(srv.proc.pid)
        return f if f[0] <= fds else None
    try:
        return wait_until(back, 5, "")
    except Fail:
        raise Fail("%s: the server has %d fds open, %d before"
                   % (what, process_figures(srv.proc.pid)[0], fds))


class Stalls:
    """The stalled SIP and HTTP connections to one server, in the
    background, and the server's fds and VmRSS: before, with them,
    after, with a second round, after that."""

    def __init__(self, srv):
        self.srv = srv
        self.sk, self.hk = sip_kinds(srv.sip), http_kinds()
        warm_up(srv)
        self.fig = {"before": process_figures(srv.proc.pid)}
        self.sip = IdleProbe(srv.sip, self.sk, STALL_WAIT).start()
        self.http = IdleProbe(srv.http, self.hk, STALL_WAIT).start()
        self.sip.opened.wait(10)
        self.http.opened.wait(10)
        self.fig["stalled"] = figures_when_settled(srv, "stalled")

    def finish(self):
        """Waits for the server to close them; checks how long it took,
        that its fds come back, and the memory (reuse())."""
        try:
            check_closed(self.sip, self.sk, SIP_CLOSE_LIMIT, "SIP")
            check_closed(self.http, self.hk, HTTP_CLOSE_LIMIT, "HTTP")
            half = [c for c in self.sip.conns if c.name == "whole+half"]
            info("SIP whole+half: answered %s; %s %.0f s after the "
                 "connect (libre closes 900 s after the last whole "
                 "message)" % (", ".join(sorted(set(
                     c.answered.split(b"\r\n", 1)[0].decode()
                     for c in half))),
                     spread(self.sip.closed("whole+half")),
                     time.monotonic() - half[0].t_open))
        finally:
            self.sip.close_all()
            self.http.close_all()
        self.fig["after"] = fds_back(self.srv, self.fig["before"][0],
                                     "after the stalled connections")
        self.reuse()
        info("server fds: %s" % ", ".join("%d %s" % (f[0], k) for k, f
                                          in self.fig.items()))
        info("server VmRSS: %s" % ", ".join("%d KiB %s" % (f[1], k) for
                                            k, f in self.fig.items()))
        self.judge_memory()

    def close(self):
        """Closes whatever is still open (after a failure)."""
        self.sip.close_all()
        self.http.close_all()

    def reuse(self):
        """A second round of the same stalls (the awaited ones), closed
        by us once the server has read them."""
        again = [IdleProbe(self.srv.sip, [k for k in self.sk if k[3]], 0),
                 IdleProbe(self.srv.http, self.hk, 0)]
        try:
            for p in again:
                p.open()
            self.fig["stalled again"] = figures_when_settled(self.srv,
                                                             "again")
        finally:
            for p in again:
                p.close_all()
        self.fig["after again"] = fds_back(self.srv, self.fig["before"][0],
                                           "after the second round")

    def judge_memory(self):
        """glibc keeps freed memory for later, so VmRSS need not fall back
        to where it was; but when the first round's memory was freed the
        second round finds it, and VmRSS grows far less than it did."""
        f = self.fig
        if under_asan(self.srv.proc.pid):
            info("VmRSS not judged: AddressSanitizer keeps freed memory "
                 "in quarantine (LeakSanitizer checks at exit)")
            return
        held = f["stalled"][1] - f["before"][1]
        check(held >= HELD_MIN_KIB, "VmRSS grew by %d KiB with the stalled "
              "connections, expected at least %d KiB (what they sent)"
              % (held, HELD_MIN_KIB))
        check(f["stalled again"][1] <= f["stalled"][1] + held // 2,
              "VmRSS %d KiB with the second round of stalled connections, "
              "%d KiB with the first, %d KiB before: the first round's "
              "memory was not freed" % (f["stalled again"][1],
                                        f["stalled"][1], f["before"][1]))
