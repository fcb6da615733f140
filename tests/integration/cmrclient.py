"""cmrlab's own CMR Client (cmrlab call) as a process of a test: a called
party that answers, a calling party that calls, their JSON results, and
the WAV files they save."""

import json
import math
import os
import struct
import subprocess
import time

import cmrtest
from cmrtest import HOST, Fail, check, info, kill_proc, spawn

CALL_TIMEOUT = 40.0


def _args(opts):
    out = []
    for k, v in opts.items():
        if v is False or v is None:
            continue
        out.append("--" + k.replace("_", "-"))
        if v is not True:
            out.append(str(v))
    return out


class Callee:
    """cmrlab call --answer --as USER, registered at the server; wait()
    returns (exit status, JSON result)."""

    def __init__(self, t, srv_port, user="bob", name="callee", **opts):
        self.out_path = os.path.join(t.tmp, name + ".out")
        self.err_path = os.path.join(t.tmp, name + ".err")
        cmd = [cmrtest.BINARY, "call", "--answer", "--as", user,
               "--target", "sip:%s:%d" % (HOST, srv_port), "--json"]
        cmd += _args(opts)
        self.cmd = cmd
        self.out = open(self.out_path, "wb")
        self.err = open(self.err_path, "wb")
        self.proc = spawn(cmd, stdin=subprocess.DEVNULL, stdout=self.out,
                          stderr=self.err, cwd=t.tmp)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            if "answering as %s" % user in self.stderr():
                return
            if self.proc.poll() is not None:
                raise Fail("callee exited %d before registering: %s"
                           % (self.proc.returncode, self.stderr()))
            time.sleep(0.02)
        raise Fail("callee did not register within 5 s: %s" % self.stderr())

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait(self, timeout=CALL_TIMEOUT):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_proc(self.proc)
            raise Fail("callee did not exit within %.0f s: %s"
                       % (timeout, self.stderr()))
        self.out.close()
        self.err.close()
        with open(self.out_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        return rc, parse_json(text, "callee", self.stderr())


def parse_json(text, who, err=""):
    lines = [l for l in text.splitlines() if l.strip()]
    check(len(lines) == 1, "%s: stdout is not one line of JSON: %r "
          "(stderr %r)" % (who, text[:300], err[-300:]))
    try:
        return json.loads(lines[0])
    except ValueError as e:
        raise Fail("%s: stdout is not JSON (%s): %r" % (who, e, lines[0][:300]))


def call(t, target_port, frm="alice", to="bob", timeout=CALL_TIMEOUT,
         name="caller", **opts):
    """cmrlab call --from FRM --to TO --json ...; (exit status, JSON,
    stderr)."""
    cmd = [cmrtest.BINARY, "call", "--from", frm, "--to", to,
           "--target", "sip:%s:%d" % (HOST, target_port), "--json"]
    cmd += _args(opts)
    err_path = os.path.join(t.tmp, name + ".err")
    with open(err_path, "wb") as err:
        p = spawn(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                  stderr=err, cwd=t.tmp)
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_proc(p)
            raise Fail("%s did not exit within %.0f s" % (name, timeout))
    with open(err_path, "rb") as f:
        errtext = f.read().decode("utf-8", "replace")
    res = parse_json(out.decode("utf-8", "replace"), name, errtext)
    info("%s: exit %d: %s" % (name, p.returncode, res.get("reason")))
    return p.returncode, res, errtext


def wav_samples(data):
    """(rate, [int16 samples]) of a 16-bit mono PCM WAV."""
    check(data[:4] == b"RIFF" and data[8:12] == b"WAVE", "not a WAV")
    pos, fmt, samples = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif cid == b"data":
            samples = list(struct.unpack("<%dh" % (len(body) // 2),
                                         body[:len(body) // 2 * 2]))
        pos += 8 + size + (size & 1)
    check(fmt and samples is not None, "WAV without fmt or data")
    check(fmt[0] == 1 and fmt[1] == 1 and fmt[5] == 16,
          "WAV format %r, expected 16-bit PCM mono" % (fmt,))
    return fmt[2], samples


def correlation(a, b, max_lag=160, n=8000):
    """The best normalised cross-correlation of b's first n samples with
    a's, a shifted by 0..max_lag samples."""
    b = b[:n]
    best = 0.0
    eb = math.sqrt(sum(x * x for x in b)) or 1.0
    for lag in range(0, max_lag + 1, 2):
        seg = a[lag:lag + len(b)]
        if len(seg) < len(b):
            break
        ea = math.sqrt(sum(x * x for x in seg)) or 1.0
        c = sum(x * y for x, y in zip(seg, b)) / (ea * eb)
        best = max(best, c)
    return best
