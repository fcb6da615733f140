"""cmrlab conform --dut client: what the device's commands get from the
box and what is left of them.  A command is the device's, not the box's:
it must not hold the box's sockets or files (a device that stays up would
keep the box's --listen port from the next box), and whatever it started
in its process group ends with the run, even when it ignores SIGTERM."""

import os
import subprocess
import time

import cmrtest
from cmrtest import check, free_port, info, kill_proc, spawn, test

HOST = "127.0.0.1"


def marker_pids(marker):
    """The processes whose command line holds marker."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if marker.encode() in f.read():
                    pids.append(int(d))
        except OSError:
            pass
    return pids


@test
def conform_dut_command_isolated(t):
    """The --dut-dial command has stdin, stdout and stderr of its own and
    nothing else of the box's (no socket, no --pcap); its group, a child
    that ignores SIGTERM included, is gone when cmrlab conform exits."""
    fds = os.path.join(t.tmp, "fds.txt")
    pcap = os.path.join(t.tmp, "c.pcap")
    marker = "30%d" % (os.getpid() % 1000 + 1000)
    dial = ("ls -l /proc/$$/fd > %s; (trap '' TERM; exec sleep %s) & "
            "trap '' TERM; sleep %s #{uri}" % (fds, marker, marker))
    p = spawn([cmrtest.BINARY, "conform", "--dut", "client", "--listen",
               "%s:%d" % (HOST, free_port()), "--run", "c-http-bt",
               "--wait", "2", "--pcap", pcap, "--dut-dial", dial],
              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
              stderr=subprocess.PIPE, cwd=t.tmp)
    try:
        so, se = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        kill_proc(p)
        check(False, "cmrlab conform did not end within 30 s")
    check(p.returncode == 1, "exit %d: %s" % (p.returncode, se.decode()))

    with open(fds) as f:
        listing = f.read()
    info(listing.strip().replace("\n", " | ")[:300])
    targets = [l.split("->", 1)[1].strip() for l in listing.splitlines()
               if "->" in l]
    check(not any(x.startswith("socket:") for x in targets),
          "the command holds the box's sockets: %r" % targets)
    check(not any(x.endswith(".pcap") for x in targets),
          "the command holds the capture: %r" % targets)
    # the shell may keep a copy of its stdout for the redirection
    check(set(targets) <= {"/dev/null", fds}, "fds %r" % targets)

    # SIGKILL to the group is sent before cmrlab exits; the kernel may
    # take a moment to take the last of them away.
    deadline = time.time() + 3
    while marker_pids(marker) and time.time() < deadline:
        time.sleep(0.05)
    check(not marker_pids(marker), "left behind: %r"
          % marker_pids(marker))
