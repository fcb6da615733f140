'''Real SIP phones as callers and callees of cmrlab: baresip and linphonec
run headless, every file of theirs in the test's directory, on free ports
of 127.0.0.1.

A phone plays a WAV of its own pure tone as its microphone and records
what it receives:

- baresip (package baresip-core): the aufile module is the source, the
  sndfile module writes the decoded received audio to snd/dump-*-dec.wav,
  and the ctrl_tcp module (netstring-framed JSON on a TCP port) dials,
  accepts, hangs up and reports the call's events;
- linphonec (package linphone-cli): "soundcard use files", "play" and
  "record" on its standard input; "call", "answer", "terminate" and
  "quit" there too; its standard output says what the call does.

Both offer G.711 only, the codecs of the server's ringback.  Neither
auto-answers: a callee answers when the test tells it to, so that a call
rings for as long as the test wants.  Every process is started with
cmrtest.spawn, told to quit, and killed by its PID if it has not exited
within STOP_TIMEOUT (the exit status is part of the verdict).

What the tests measure (the tones in a recording, a packet capture on
"lo") is in phones_evidence.py.  Only the Python standard library is
used.
'''

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time

from cmrtest import (
    Fail, HOST, Skip, check, free_port, free_udp_block, kill_proc,
    spawn, wait_bound, wait_until)
from phones_evidence import tone_wav

PACKAGES = {"baresip": "baresip-core", "linphonec": "linphone-cli"}
BARESIP_MODULES = "/usr/lib/baresip/modules"
SOURCE_SECONDS = 60        # baresip hangs up when its aufile source ends
STOP_TIMEOUT = 5.0         # a phone told to quit must exit within this
BARESIP_LIFE = 60          # baresip -t: it quits by itself after this


def require(*kinds):
    """Skips the test unless every phone program of kinds is installed."""
    missing = [k for k in sorted(set(kinds)) if not shutil.which(k)]
    if missing:
        one = len(missing) == 1
        raise Skip("%s %s not installed (package%s %s; make deps-test installs "
                   "%s when apt-get can)" % (
                       " and ".join(missing), "is" if one else "are",
                       "" if one else "s",
                       " and ".join(PACKAGES[k] for k in missing),
                       "it" if one else "them"))
    if "baresip" in kinds and not os.path.isdir(BARESIP_MODULES):
        raise Skip("baresip has no module folder %s" % BARESIP_MODULES)


# ---- phones --------------------------------------------------------------

class Phone:
    """What both phones share: a folder in the test's directory, a SIP
    port, a block of RTP ports, a source tone and the received audio."""

    kind = None
    rtp_span = 10              # RTP ports the phone may pick from

    def __init__(self, t, name, user, tone, rel100=False):
        require(self.kind)
        self.t = t
        self.name = name
        self.user = user
        self.tone = tone
        self.rel100 = rel100
        self.dir = os.path.join(t.tmp, name)
        os.makedirs(self.dir)
        self.sip = free_port()
        self.rtp = free_udp_block(self.rtp_span)
        self.rtp_range = (self.rtp, self.rtp + self.rtp_span - 1)
        self.source = tone_wav(os.path.join(self.dir, "src-%d.wav" % tone),
                               tone, SOURCE_SECONDS)
        self.out_path = os.path.join(self.dir, "stdout.txt")
        self.proc = None
        self.exit = None

    @property
    def uri(self):
        return "sip:%s@%s:%d" % (self.user, HOST, self.sip)

    def _spawn(self, cmd, env=None, stdin=subprocess.DEVNULL):
        self.out = open(self.out_path, "wb")
        self.proc = spawn(cmd, stdin=stdin, stdout=self.out,
                          stderr=subprocess.STDOUT, cwd=self.dir, env=env)
        if not wait_bound(self.sip, "udp", 10.0):
            raise Fail("%s: %s did not bind SIP port %d within 10 s; "
                       "output: %s" % (self.name, self.kind, self.sip,
                                       self.output_tail()))

    def output(self):
        try:
            with open(self.out_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def output_tail(self, n=8):
        return " | ".join(self.output().strip().splitlines()[-n:])

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """The exit status once the process ended; a process still running
        after timeout is killed and the status says so."""
        try:
            self.exit = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_proc(self.proc)
            self.exit = "still running %.0f s after quit: killed" % timeout
        self.out.close()
        return self.exit

    def check_exit(self):
        check(self.exit == 0, "%s (%s) ended with %s; output: %s"
              % (self.name, self.kind, self.exit if isinstance(
                  self.exit, str) else "exit status %d" % self.exit
                  if self.exit >= 0 else "signal %d" % -self.exit,
                  self.output_tail()))


class Baresip(Phone):
    """baresip driven through ctrl_tcp: commands go out as netstrings of
    JSON, replies and events come back the same way."""

    kind = "baresip"

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.ctrl = free_port()
        self.snd = os.path.join(self.dir, "snd")
        # sndfile's file names live in 128 bytes, folder included.
        check(len(self.snd) + len("/dump-YYYY-MM-DD-HH-MM-SS-dec.wav") < 128,
              "%s: the folder %s is too long for baresip's sndfile"
              % (self.name, self.snd))
        os.makedirs(self.snd)
        self.events = []
        self.replies = {}
        self.cv = threading.Condition()
        self.token = 0
        self.sock = None

    def start(self):
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write("".join("%s\t\t%s\n" % kv for kv in (
                ("poll_method", "epoll"),
                ("sip_listen", "%s:%d" % (HOST, self.sip)),
                ("audio_player", "aubridge,nil"),
                ("audio_alert", "aubridge,nil"),
                ("audio_source", "aufile," + self.source),
                ("rtp_ports", "%d-%d" % self.rtp_range),
                ("module_path", BARESIP_MODULES),
                ("module", "g711.so"),
                ("module", "aufile.so"),
                ("module", "aubridge.so"),
                ("module", "sndfile.so"),
                ("module_tmp", "uuid.so"),
                ("module_tmp", "account.so"),
                ("module_app", "contact.so"),
                ("module_app", "menu.so"),
                ("module_app", "ctrl_tcp.so"),
                ("ctrl_tcp_listen", "%s:%d" % (HOST, self.ctrl)),
                ("snd_path", self.snd))))
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write("<sip:%s@%s:%d>;regint=0\n" % (self.user, HOST,
                                                   self.sip))
        open(os.path.join(self.dir, "contacts"), "w").close()
        self._block_enc_dumps()
        # -t: baresip quits by itself should the test never tell it to.
        self._spawn(["baresip", "-f", self.dir, "-n", HOST, "-t",
                     str(BARESIP_LIFE)])
        if not wait_bound(self.ctrl, "tcp", 5.0):
            raise Fail("%s: baresip's ctrl_tcp port %d not bound within "
                       "5 s; output: %s" % (self.name, self.ctrl,
                                            self.output_tail()))
        self.sock = socket.create_connection((HOST, self.ctrl), timeout=5)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        return self

    def _block_enc_dumps(self):
        """Keeps sndfile from dumping the sent audio, so that it goes on
        dumping the received audio for the whole call.

        baresip 1.0.0 starts its receive side over (player, buffer,
        filters) when it sets the decoder while the media is not
        sendrecv, as at the 200 after recvonly early media, but builds
        the filters again only when the send side has none either: with
        sndfile's encoder in place the receive side is left without any,
        and the dump of what the phone hears ends with the early media
        (the player still gets the callee).  sndfile names its dumps
        after the second they start (snd/dump-YYYY-MM-DD-HH-MM-SS-enc.wav,
        local time): a folder of that name for every second the phone
        may live makes each encoder dump fail to open; the decoder dumps
        open (a new file each time the receive side is built) and
        recording() joins them."""
        now = int(time.time())
        for sec in range(now - 2, now + BARESIP_LIFE + 10):
            os.mkdir(os.path.join(self.snd, "dump-%s-enc.wav" % time.strftime(
                "%Y-%m-%d-%H-%M-%S", time.localtime(sec))))

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self.cv:
                    self.events.append({"type": "ctrl-closed"})
                    self.cv.notify_all()
                return
            buf += chunk
            while True:
                m = re.match(rb"(\d+):", buf)
                if not m or len(buf) < m.end() + int(m.group(1)) + 1:
                    break
                n = int(m.group(1))
                body = buf[m.end():m.end() + n]
                buf = buf[m.end() + n + 1:]
                try:
                    msg = json.loads(body)
                except ValueError:
                    continue
                msg["_t"] = time.time()
                with self.cv:
                    if msg.get("event"):
                        self.events.append(msg)
                    elif msg.get("response"):
                        self.replies[msg.get("token")] = msg
                    self.cv.notify_all()

    def command(self, cmd, params=None, timeout=5.0):
        """Sends one ctrl_tcp command; returns its reply."""
        with self.cv:
            self.token += 1
            tok = str(self.token)
        msg = {"command": cmd, "token": tok}
        if params is not None:
            msg["params"] = params
        d = json.dumps(msg).encode()
        self.sock.sendall(b"%d:%s," % (len(d), d))
        with self.cv:
            ok = self.cv.wait_for(lambda: tok in self.replies, timeout)
            check(ok, "%s: no ctrl_tcp reply to %r within %.0f s"
                  % (self.name, cmd, timeout))
            rep = self.replies.pop(tok)
        check(rep.get("ok"), "%s: ctrl_tcp %r: %r" % (self.name, cmd, rep))
        return rep

    def wait_event(self, types, timeout):
        """The first call event of one of types; its time.time()."""
        with self.cv:
            ok = self.cv.wait_for(lambda: any(
                e.get("type") in types for e in self.events), timeout)
            seen = [e.get("type") for e in self.events]
        check(ok, "%s: no %s from baresip within %.0f s (events: %s); "
              "output: %s" % (self.name, "/".join(types), timeout, seen,
                              self.output_tail()))
        return [e for e in self.events if e.get("type") in types][0]["_t"]

    def dial(self, uri):
        self.command("dial", uri)

    def wait_incoming(self, timeout=10.0):
        return self.wait_event(("CALL_INCOMING",), timeout)

    def answer(self):
        self.command("accept")

    def wait_established(self, timeout=10.0):
        return self.wait_event(("CALL_ESTABLISHED",), timeout)

    def hangup(self):
        self.command("hangup")

    def wait_closed(self, timeout=10.0):
        return self.wait_event(("CALL_CLOSED",), timeout)

    def stop(self):
        """quit over ctrl_tcp, then the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.wait_exit(0.1) if self.proc else None
        try:
            self.command("quit", timeout=2.0)
        except (Fail, OSError):
            pass
        rc = self.wait_exit()
        if self.sock:
            self.sock.close()
        return rc

    def recording(self):
        """The WAV files of the received audio, oldest first: sndfile
        starts one each time the receive side's filters are built (named
        by the second it started)."""
        dumps = sorted(f for f in os.listdir(self.snd)
                       if f.endswith("-dec.wav") and
                       os.path.isfile(os.path.join(self.snd, f)))
        check(dumps, "%s: baresip wrote no *-dec.wav in %s" % (self.name,
                                                               self.snd))
        return [os.path.join(self.snd, f) for f in dumps]


# G.711 only, like the ringback: linphonec rebuilds its audio graph when
# an UPDATE or re-INVITE changes the codec, and its new recorder starts
# the record file over (what it heard before is lost).
LINPHONE_CODECS = [("PCMU", 8000, 1, 1), ("PCMA", 8000, 1, 1),
                   ("opus", 48000, 2, 0), ("speex", 16000, 1, 0),
                   ("speex", 8000, 1, 0), ("speex", 32000, 1, 0),
                   ("G729", 8000, 1, 0), ("GSM", 8000, 1, 0),
                   ("G722", 8000, 1, 0)]

# linphonec prints its prompt before a line when it was waiting for input.
PROMPT = r"^(?:linphonec> )*"


class Linphonec(Phone):
    """linphonec reading its commands from a pipe; its standard output is
    how the test learns what the call does."""

    kind = "linphonec"

    def start(self):
        home = os.path.join(self.dir, "home")
        # Without this folder linphone never opens its SIP socket.
        os.makedirs(os.path.join(home, ".local", "share", "linphone"))
        self.rc = os.path.join(self.dir, "linphonerc")
        with open(self.rc, "w") as f:
            f.write("[sip]\nsip_port=%d\nsip_tcp_port=0\nsip_tls_port=0\n"
                    "bind_address=%s\nguess_hostname=0\n"
                    "contact=\"%s\" <sip:%s@%s:%d>\n"
                    "register_only_when_network_is_up=0\ndefault_proxy=-1\n"
                    "inc_timeout=60\n100rel_support_level=%d\n"
                    "[rtp]\naudio_rtp_port=%d-%d\nbind_address=%s\n"
                    "%s"
                    "[sound]\nechocancellation=0\n"
                    "[video]\ndisplay=0\ncapture=0\n"
                    "automatically_initiate=0\nautomatically_accept=0\n"
                    % (self.sip, HOST, self.user, self.user, HOST,
                       self.sip, 1 if self.rel100 else 0,
                       self.rtp_range[0], self.rtp_range[1], HOST,
                       "".join("[audio_codec_%d]\nmime=%s\nrate=%d\n"
                               "channels=%d\nenabled=%d\n" % ((i,) + c)
                               for i, c in enumerate(LINPHONE_CODECS))))
        self.rec = os.path.join(self.dir, "rec.wav")
        env = dict(os.environ, HOME=home)
        self._spawn(["linphonec", "-c", self.rc, "-d", "6", "-l",
                     os.path.join(self.dir, "linphonec.log")],
                    env=env, stdin=subprocess.PIPE)
        for line in ("soundcard use files", "play " + self.source,
                     "record " + self.rec):
            self.send(line)
        return self

    def send(self, line):
        try:
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
        except OSError as e:
            raise Fail("%s: linphonec's stdin: %s (%s); output: %s"
                       % (self.name, e, line, self.output_tail()))

    def wait_line(self, pattern, timeout):
        """The time.time() at which a line of the output matching
        pattern was first seen (polled)."""
        rx = re.compile(pattern, re.M)
        wait_until(lambda: rx.search(self.output()) or
                   self.proc.poll() is not None, timeout,
                   "%s: linphonec output %r" % (self.name, pattern))
        check(rx.search(self.output()), "%s: linphonec exited (%s) without "
              "%r; output: %s" % (self.name, self.proc.returncode, pattern,
                                  self.output_tail()))
        return time.time()

    def dial(self, uri):
        self.send("call " + uri)

    def wait_incoming(self, timeout=10.0):
        return self.wait_line(PROMPT + r"Receiving new incoming call",
                              timeout)

    def answer(self):
        self.send("answer")

    def wait_established(self, timeout=10.0):
        return self.wait_line(PROMPT + r"Call \d+ with .* connected\.",
                              timeout)

    def hangup(self):
        self.send("terminate")

    def wait_closed(self, timeout=10.0):
        return self.wait_line(PROMPT + r"Call \d+ with .* ended", timeout)

    def stop(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.stdin.close()
            except (Fail, OSError):
                pass
        return self.wait_exit()

    def recording(self):
        check(os.path.exists(self.rec), "%s: linphonec wrote no %s"
              % (self.name, self.rec))
        return [self.rec]


PHONES = {"baresip": Baresip, "linphonec": Linphonec}
