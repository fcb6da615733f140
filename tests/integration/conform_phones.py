#!/usr/bin/env python3
'''cmrlab conform --dut client against the real phones, baresip and
linphonec, run headless: each registers at the box as "dut", answers by
itself, and is made to dial by the box's --dut-dial command.

    python3 tests/integration/conform_phones.py --binary build/cmrlab \\
        --out docs/examples [--phone baresip|linphonec]

writes, for each phone, conform-PHONE.txt (what conform printed),
conform-PHONE.json (--json) and conform-PHONE.html (--html, when under
300 KB), the examples of docs/conform-phones.md.
tests/integration/test_conform_client.py runs the same (run_phone()).

- baresip (baresip-core): its account registers at the box with
  answermode=auto; ctrl_tcp takes the dial, sent by this very file as
  `conform_phones.py --ctrl-dial ADDR:PORT URI` (one netstring of JSON);
- linphonec (linphone-cli): its standard input is a FIFO opened for
  reading and writing (so that no writer's end is an end of file); the
  set-up lines ("register", "autoanswer enable") go first, and the dial
  command appends "call URI" to it.

Every process is started with cmrtest.spawn and stopped by its PID when
conform has ended: linphonec is told to quit, baresip gets SIGTERM twice
(at the first it would wait for its un-REGISTER, which the box, gone,
never answers); either is killed if it has not exited within 5 s.  Only
the Python standard library is used.
'''

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cmrtest import (                                        # noqa: E402
    HOST, free_port, free_udp_block, kill_all, kill_proc, spawn,
    wait_bound)
from phones import BARESIP_MODULES, LINPHONE_CODECS, PACKAGES  # noqa: E402
from phones_evidence import tone_wav                         # noqa: E402

WAIT = 10                  # conform --wait: the phone's REGISTER and dial
LIFE = 150                 # a phone quits by itself after this
CONFORM_LIMIT = 200        # seconds conform may take at most
STOP_TIMEOUT = 5.0
HTML_MAX = 300 * 1024
TONE_HZ = 400              # the phones' microphone


def missing(kind):
    """Why the phone cannot run here, or None."""
    if not shutil.which(kind):
        return "%s is not installed (package %s)" % (kind, PACKAGES[kind])
    if kind == "baresip" and not os.path.isdir(BARESIP_MODULES):
        return "baresip has no module folder %s" % BARESIP_MODULES
    return None


class DutPhone:
    """One phone as the device under test: its folder, SIP port, RTP
    ports and microphone (a tone WAV longer than the session)."""

    kind = None

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, self.kind)
        os.makedirs(self.dir)
        self.sip = free_port()
        self.rtp = free_udp_block(10)
        self.source = tone_wav(os.path.join(self.dir, "mic.wav"), TONE_HZ,
                               LIFE)
        self.out_path = os.path.join(self.dir, "stdout.txt")
        self.proc = None
        self.out = None

    def close(self):
        pass

    def _spawn(self, cmd, stdin=subprocess.DEVNULL, env=None):
        self.out = open(self.out_path, "wb")
        self.proc = spawn(cmd, stdin=stdin, stdout=self.out,
                          stderr=subprocess.STDOUT, cwd=self.dir, env=env)

    def output_tail(self, n=10):
        try:
            with open(self.out_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def _wait_exit(self):
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            kill_proc(self.proc)
            rc = "killed after %.0f s" % STOP_TIMEOUT
        self.out.close()
        return rc


class BaresipDut(DutPhone):
    kind = "baresip"

    def __init__(self, tmp):
        DutPhone.__init__(self, tmp)
        self.ctrl = free_port()

    def config(self, box):
        ctrl = "%s:%d" % (HOST, self.ctrl)
        cfg = (("poll_method", "epoll"),
               ("sip_listen", "%s:%d" % (HOST, self.sip)),
               ("audio_player", "aubridge,nil"),
               ("audio_alert", "aubridge,nil"),
               ("audio_source", "aufile," + self.source),
               ("rtp_ports", "%d-%d" % (self.rtp, self.rtp + 9)),
               ("module_path", BARESIP_MODULES),
               ("module", "g711.so"),
               ("module", "aufile.so"),
               ("module", "aubridge.so"),
               ("module_tmp", "uuid.so"),
               ("module_tmp", "account.so"),
               ("module_app", "contact.so"),
               ("module_app", "menu.so"),
               ("module_app", "ctrl_tcp.so"),
               ("ctrl_tcp_listen", ctrl))
        return ("".join("%s\t\t%s\n" % kv for kv in cfg),
                "<sip:dut@%s:%d>;regint=60;answermode=auto\n" % (HOST, box))

    def prepare(self, box):
        config, account = self.config(box)
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write(config)
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write(account)
        open(os.path.join(self.dir, "contacts"), "w").close()

    def start(self):
        self._spawn(["baresip", "-f", self.dir, "-n", HOST, "-t", str(LIFE)])
        return self

    def dial_command(self):
        return "python3 %s --ctrl-dial %s:%d {uri}" % (
            os.path.join(HERE, "conform_phones.py"), HOST, self.ctrl)

    def stop(self):
        """SIGTERM twice: at the first baresip unregisters and waits for
        the box, which has gone; at the second it exits (status 0)."""
        for _ in range(2):
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGTERM)
                time.sleep(0.2)
        return self._wait_exit()


class LinphonecDut(DutPhone):
    kind = "linphonec"

    def __init__(self, tmp):
        DutPhone.__init__(self, tmp)
        self.fifo = os.path.join(self.dir, "stdin.fifo")
        self.fd = None

    def rc(self):
        return ("[sip]\nsip_port=%d\nsip_tcp_port=0\nsip_tls_port=0\n"
                "bind_address=%s\nguess_hostname=0\n"
                "contact=\"dut\" <sip:dut@%s:%d>\n"
                "register_only_when_network_is_up=0\n"
                "inc_timeout=60\n100rel_support_level=1\n"
                "[rtp]\naudio_rtp_port=%d-%d\nbind_address=%s\n"
                "%s"
                "[sound]\nechocancellation=0\n"
                "[video]\ndisplay=0\ncapture=0\n"
                "automatically_initiate=0\nautomatically_accept=0\n"
                % (self.sip, HOST, HOST, self.sip, self.rtp, self.rtp + 9,
                   HOST, "".join("[audio_codec_%d]\nmime=%s\nrate=%d\n"
                                 "channels=%d\nenabled=%d\n" % ((i,) + c)
                                 for i, c in enumerate(LINPHONE_CODECS))))

    def setup_lines(self, box):
        return ["soundcard use files", "play " + self.source,
                "autoanswer enable",
                "register sip:dut@%s sip:%s:%d" % (HOST, HOST, box)]

    def prepare(self, box):
        """The FIFO and the set-up lines in it, before the box runs its
        first dial command: "call" comes after them."""
        self.home = os.path.join(self.dir, "home")
        # Without this folder linphone never opens its SIP socket.
        os.makedirs(os.path.join(self.home, ".local", "share", "linphone"))
        self.rcfile = os.path.join(self.dir, "linphonerc")
        with open(self.rcfile, "w") as f:
            f.write(self.rc())
        os.mkfifo(self.fifo)
        # Read and write: linphonec never sees an end of file, however
        # many dial commands open and close the FIFO.
        self.fd = os.open(self.fifo, os.O_RDWR)
        os.write(self.fd, "".join(l + "\n" for l in self.setup_lines(box))
                 .encode())

    def start(self):
        self._spawn(["linphonec", "-c", self.rcfile], stdin=self.fd,
                    env=dict(os.environ, HOME=self.home))
        return self

    def dial_command(self):
        return "printf 'call %%s\\n' {uri} > %s" % self.fifo

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.write(self.fd, b"quit\n")
            except OSError:
                pass
        rc = self._wait_exit()
        self.close()
        return rc

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


PHONES = {"baresip": BaresipDut, "linphonec": LinphonecDut}


def ctrl_send(host, port, command, params, tries=300):
    """One ctrl_tcp command as a netstring of JSON, sent once baresip
    listens (tried every 0.1 s, tries times: 30 s, conform's default
    --wait).  ctrl_tcp keeps one connection: this one replaces whatever
    other was open."""
    msg = {"command": command, "token": "conform"}
    if params is not None:
        msg["params"] = params
    data = json.dumps(msg).encode()
    for i in range(tries):
        try:
            s = socket.create_connection((host, port), timeout=2)
            break
        except OSError:
            if i + 1 == tries:
                raise
            time.sleep(0.1)
    try:
        s.sendall(b"%d:%s," % (len(data), data))
        try:
            return s.recv(4096)
        except OSError:
            return b""
    finally:
        s.close()


class Result:
    """One conform session against one phone."""

    def __init__(self, kind):
        self.kind = kind
        self.rc = None
        self.text = ""
        self.report = None         # the --json object
        self.seconds = 0.0
        self.phone_exit = None
        self.phone_tail = ""
        self.files = {}            # "txt", "json", "html", "dial" -> path


def run_phone(kind, binary, tmp, wait=WAIT, html=True):
    """Runs conform --dut client against one phone in tmp; returns a
    Result.  The box starts first (the phone registers at it and the
    first run dials at once), then the phone."""
    box = free_port()
    res = Result(kind)
    phone = PHONES[kind](tmp)
    paths = {k: os.path.join(tmp, "conform-%s.%s" % (kind, k))
             for k in ("txt", "json", "html", "dial", "pcap")}
    cmd = [binary, "conform", "--dut", "client", "--listen",
           "%s:%d" % (HOST, box), "--dut-dial", phone.dial_command(),
           "--wait", str(wait), "--dial-log", paths["dial"],
           "--json", paths["json"], "--pcap", paths["pcap"]]
    if html:
        cmd += ["--html", paths["html"]]
    res.cmd = cmd
    t0 = time.monotonic()
    phone.prepare(box)
    try:
        with open(paths["txt"], "wb") as out:
            conf = spawn(cmd, stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT,
                         env=dict(os.environ, NO_COLOR="1"))
            try:
                if wait_bound(box, "udp", 5.0):
                    phone.start()
                res.rc = conf.wait(timeout=CONFORM_LIMIT)
            finally:
                kill_proc(conf)
                if phone.proc:
                    res.phone_exit = phone.stop()
                    res.phone_tail = phone.output_tail()
    finally:
        phone.close()
    res.seconds = time.monotonic() - t0
    with open(paths["txt"], "rb") as f:
        res.text = f.read().decode("utf-8", "replace")
    try:
        with open(paths["json"]) as f:
            res.report = json.load(f)
    except (OSError, ValueError):
        res.report = None
    res.files = {k: p for k, p in paths.items() if os.path.exists(p)}
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default="build/cmrlab")
    ap.add_argument("--out", help="folder of the examples")
    ap.add_argument("--phone", action="append", choices=sorted(PHONES))
    ap.add_argument("--ctrl-dial", nargs=2, metavar=("ADDR:PORT", "URI"),
                    help="(the --dut-dial of baresip) dial URI over "
                    "baresip's ctrl_tcp")
    a = ap.parse_args()
    if a.ctrl_dial:
        host, _, port = a.ctrl_dial[0].rpartition(":")
        print(ctrl_send(host, int(port), "dial", a.ctrl_dial[1])
              .decode("utf-8", "replace"))
        return 0
    if not a.out:
        ap.error("--out FOLDER is needed")
    binary = os.path.abspath(a.binary)
    os.makedirs(a.out, exist_ok=True)
    bad = 0
    for kind in a.phone or sorted(PHONES):
        why = missing(kind)
        if why:
            print("%s: skipped: %s" % (kind, why))
            continue
        tmp = tempfile.mkdtemp(prefix="cmrlab-conform-%s-" % kind)
        try:
            res = run_phone(kind, binary, tmp)
        finally:
            kill_all()
        if res.report is None:
            print("%s: conform exited %s without a JSON report:\n%s"
                  % (kind, res.rc, res.text))
            bad += 1
            continue
        for ext in ("txt", "json", "html"):
            src = res.files.get(ext)
            if not src or (ext == "html" and
                           os.path.getsize(src) > HTML_MAX):
                continue
            shutil.copyfile(src, os.path.join(a.out, "conform-%s.%s"
                                              % (kind, ext)))
        t = res.report["totals"]
        print("%s: exit %s in %.1f s: %d passed, %d failed, %d "
              "inconclusive" % (kind, res.rc, res.seconds, t["pass"],
                                t["fail"], t["inconclusive"]))
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
