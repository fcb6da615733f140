'''Network faults for the integration tests: datagram loss on a server's
SIP port, and reordering on a caller's leg.

Loss, as root: `with Loss() as loss` makes a network namespace of the
test's own (cmrlab-faults-PID), brings its loopback up and enters it:
setns(2) on the test's main thread, so every socket the test opens and
every thread and process it starts from then on (the servers, sipp,
curl) lives in it, and /proc/net shows its sockets.  loss.drop_on(port)
then loads an nftables table into it whose input chain drops LOSS_PCT
per cent of the UDP datagrams to and from that port, at random
(numgen random), and counts them.  A datagram on lo passes the input hook
once, so both directions of every leg lose that share; RTP and the
test's own datagrams to other ports are not touched.  On the way out the
test goes back to its own namespace and deletes the new one, also after
a failure.

Loss without root (or without ip, nft or namespaces): the drop shim.
Each party of a call talks to the server through a Relay that drops
LOSS_PCT per cent in each direction.  CMRTEST_LOSS=shim in the
environment picks the shim even as root.  loss.mechanism says which
one ran, and loss.why why not the namespace.

Reordering: nftables cannot hold a datagram back, so the caller's Relay
does: with probability `reorder` it holds a datagram until the next one
in the same direction has passed it, or for HOLD_MAX seconds when none
comes.  That swaps neighbours in one direction of the caller's leg
(a 180 behind its 200, an ACK behind the BYE, a PRACK behind its
retransmission, a 200 (PRACK) behind the 200 (INVITE)), and delays lone
datagrams by up to HOLD_MAX; it never moves a datagram further than one
place, and never across the two directions or legs.
'''

import ctypes
import json
import os
import socket
import subprocess

from cmrtest import HOST, Fail, info

LOSS_PCT = 5
HOLD_MAX = 0.6             # the longest a relay holds a datagram back
CLONE_NEWNET = 0x40000000
TABLE = "cmrlab_faults"


def run_ip(args, data=None):
    """(exit status, stderr) of an ip or nft command; 127 when the tool
    is missing."""
    try:
        r = subprocess.run(args, input=data, capture_output=True,
                           timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return 127, str(e)
    return r.returncode, r.stderr.decode(errors="replace").strip()


def setns(fd):
    """Moves the calling thread into the network namespace of fd (an
    open /run/netns/NAME or /proc/.../ns/net).  Python 3.12 has
    os.setns; before it, libc's."""
    if hasattr(os, "setns"):
        os.setns(fd, CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: %s" % os.strerror(err))


class Loss:
    """Datagram loss by nftables in a namespace, or by relays (above)."""

    def __init__(self):
        self.ns = "cmrlab-faults-%d" % os.getpid()
        self.mechanism = None
        self.why = None
        self.added = False
        self.own = None            # our own namespace, to go back to
        self.port = None
        self.relays = []

    def __enter__(self):
        if os.environ.get("CMRTEST_LOSS") == "shim":
            self.why = "CMRTEST_LOSS=shim"
        elif os.geteuid() != 0:
            self.why = "not root"
        else:
            self.why = self._netns()
        self.mechanism = "relay shim" if self.why else "nftables"
        info("loss: %s, %d%% of the SIP datagrams each way%s"
             % (self.mechanism, LOSS_PCT,
                " (no namespace: %s)" % self.why if self.why else
                " (namespace %s)" % self.ns))
        return self

    def _netns(self):
        """Makes and enters the namespace; None, or why it cannot."""
        rc, err = run_ip(["ip", "netns", "add", self.ns])
        if rc:
            return "ip netns add: %s" % (err or "exit %d" % rc)
        self.added = True
        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["nft", "add", "table", "inet", TABLE]):
            rc, err = run_ip(["ip", "netns", "exec", self.ns] + cmd)
            if rc:
                self._delete()
                return "%s: %s" % (" ".join(cmd[:2]),
                                   err or "exit %d" % rc)
        try:
            self.own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            fd = os.open("/run/netns/" + self.ns, os.O_RDONLY)
            try:
                setns(fd)
            finally:
                os.close(fd)
        except OSError as e:
            self._leave()
            self._delete()
            return "setns: %s" % e
        return None

    def _leave(self):
        if self.own is not None:
            try:
                setns(self.own)
            finally:
                os.close(self.own)
                self.own = None

    def _delete(self):
        if self.added:
            rc, err = run_ip(["ip", "netns", "del", self.ns])
            if rc:
                info("loss: ip netns del %s: %s" % (self.ns, err))
            self.added = False

    def __exit__(self, *exc):
        try:
            self._leave()
        finally:
            self._delete()
        return False

    @property
    def shim(self):
        return self.mechanism == "relay shim"

    def drop_on(self, port):
        """nftables: from now on LOSS_PCT% of the UDP datagrams to and
        from port are dropped (and every one of them counted).  The shim
        drops in its relays instead (relay())."""
        self.port = port
        if self.shim:
            return
        rules = ("table inet %s {\n chain input {\n"
                 "  type filter hook input priority 0; policy accept;\n"
                 "  udp dport %d counter\n  udp sport %d counter\n"
                 "  udp dport %d numgen random mod 100 < %d counter drop\n"
                 "  udp sport %d numgen random mod 100 < %d counter drop\n"
                 " }\n}\n" % (TABLE, port, port, port, LOSS_PCT, port,
                              LOSS_PCT))
        rc, err = run_ip(["ip", "netns", "exec", self.ns, "nft", "-f", "-"],
                         rules.encode())
        if rc:
            raise Fail("nft -f: %s" % err)

    def counters(self):
        """(datagrams to and from the port, dropped) from the nftables
        counters; None with the shim."""
        if self.shim:
            return None
        r = subprocess.run(["ip", "netns", "exec", self.ns, "nft", "-j",
                            "list", "table", "inet", TABLE],
                           capture_output=True, timeout=10)
        if r.returncode:
            raise Fail("nft list table: %s"
                       % r.stderr.decode(errors="replace").strip())
        seen = dropped = 0
        for obj in json.loads(r.stdout).get("nftables", []):
            rule = obj.get("rule")
            if not rule:
                continue
            expr = rule.get("expr", [])
            cnt = [e["counter"]["packets"] for e in expr if "counter" in e]
            if not cnt:
                continue
            if any("drop" in e for e in expr):
                dropped += cnt[0]
            else:
                seen += cnt[0]
        return seen, dropped

    def dropped(self):
        """(datagrams, dropped): nftables' counters, or the relays'."""
        c = self.counters()
        if c:
            return c
        return (sum(r.n["seen"] for r in self.relays),
                sum(r.n["dropped"] for r in self.relays))

    def relay(self, eng, server, rnd, leg, reorder=0.0):
        """A Relay for one party toward server: it drops LOSS_PCT% each
        way with the shim (none with nftables, which drops on the
        server's port), and reorders as asked."""
        r = Relay(eng, server, rnd, leg,
                  LOSS_PCT / 100.0 if self.shim else 0.0, reorder)
        self.relays.append(r)
        return r

    def report(self):
        """Lines that say what the faults did."""
        out = []
        c = self.counters()
        if c:
            out.append("nftables: %d of %d SIP datagrams to and from port "
                       "%d dropped (%.1f%%)" % (c[1], c[0], self.port,
                                                100.0 * c[1] /
                                                max(c[0], 1)))
        for leg in sorted(set(r.leg for r in self.relays)):
            rs = [r for r in self.relays if r.leg == leg]
            n = {k: sum(r.n[k] for r in rs) for k in rs[0].n}
            out.append("relays, %d %s legs: %d datagrams, %d dropped, %d "
                       "held back: %d passed by the next one, %d released "
                       "after %.1f s" % (len(rs), leg, n["seen"],
                                         n["dropped"], n["held"],
                                         n["swapped"], n["late"],
                                         HOLD_MAX))
        return out


class Relay:
    """A UDP relay between one party and the server, run by an Engine
    (rtxua.Engine).  The party sends to `near`; the relay passes that on
    from its far socket, whose port (`far_port`) the party names in Via
    and Contact, so that the server answers and sends its requests there;
    what arrives there goes to the party (the source of the first
    datagram on near).  drop: the share lost in each direction; reorder:
    the share held back (module docstring)."""

    def __init__(self, eng, server, rnd, leg, drop, reorder):
        self.eng, self.server, self.rnd, self.leg = eng, server, rnd, leg
        self.drop, self.reorder = drop, reorder
        self.near_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.far_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.near_sock.bind((HOST, 0))
        self.far_sock.bind((HOST, 0))
        self.near = self.near_sock.getsockname()
        self.far_port = self.far_sock.getsockname()[1]
        self.party = None
        self.held = [None, None]   # per direction: (data, timer)
        self.n = dict(seen=0, dropped=0, held=0, swapped=0, late=0)
        eng.add(self.near_sock, self._from_party)
        eng.add(self.far_sock, self._from_server)

    def _from_party(self, sock, data, src):
        self.party = self.party or src
        self._pass(0, data)

    def _from_server(self, sock, data, src):
        if self.party:
            self._pass(1, data)

    def _out(self, d, data):
        if d == 0:
            self.far_sock.sendto(data, self.server)
        else:
            self.near_sock.sendto(data, self.party)

    def _pass(self, d, data):
        self.n["seen"] += 1
        if self.rnd.random() < self.drop:
            self.n["dropped"] += 1
            return
        held = self.held[d]
        if held is None and self.rnd.random() < self.reorder:
            self.n["held"] += 1
            self.held[d] = (data, self.eng.at(HOLD_MAX, self._late, d))
            return
        self._out(d, data)
        if held:
            held[1].cancel()
            self.held[d] = None
            self.n["swapped"] += 1
            self._out(d, held[0])

    def _late(self, d):
        data, _ = self.held[d]
        self.held[d] = None
        self.n["late"] += 1
        self._out(d, data)

    def close(self):
        for s in (self.near_sock, self.far_sock):
            self.eng.remove(s)
            s.close()
