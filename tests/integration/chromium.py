'''A real browser over the demo's report page: Debian's chromium, headless.

check_page(html_path, workdir) opens the page in three runs of chromium,
each with its own profile under workdir and its own process group:

1. --screenshot: a PNG of the page in a 1280x4000 window, checked to be a
   PNG of that size (its signature, its IHDR chunk and that chunk's CRC);
2. --dump-dom: the DOM after the page loaded, as chromium serialises it;
3. --remote-debugging-pipe: the DevTools protocol over two pipes (fd 3 to
   chromium, fd 4 back), which tells console messages by level and names
   every resource that failed to load.

Why the third run: the brief way, reading chromium's stderr with
--enable-logging=stderr, no longer tells errors apart.  Chromium 156 logs
every console message as "INFO:CONSOLE:LINE" whatever its level, and a
resource that fails to load (an image of a missing file) is not logged at
all.  The first two runs' stderr is still read: a CONSOLE line logged at
ERROR level (older chromium), and the lines of failed loads and media
errors ("net::ERR_", "Failed to load resource", "PipelineStatus::").
Everything else on that stderr (D-Bus, GPU and sandbox complaints of a
machine without a desktop) is noise and ignored.

The page must load nothing from the network, and the test machine must
not try: every run goes through a proxy that is not there (127.0.0.1:9)
with no bypass, even for loopback, and has chromium's own background
traffic (updates, sync, metrics) off.  A page that tries a remote load
gets ERR_PROXY_CONNECTION_FAILED, which the third run reports.

Every run has a timeout.  Chromium starts in a session of its own
(setsid), so it and every helper process it forks share one process
group; when the run ends, in time or not, that group is killed, and no
other process.

LivePage(url, workdir) is the third run's way kept open over a page that
a server serves and that changes while it is open (the server's live page
at /): eval() and wait_for() evaluate JavaScript in it, errors() lists
what the third run would report.  Loopback bypasses the dead proxy there
(chromium's implicit rule, which FLAGS otherwise cancels with <-loopback>),
so only the page's own server is reachable; every other host still is not.

Only the Python standard library is used.  Run it by hand with
    python3 tests/integration/chromium.py PAGE.html [WORKDIR]
which prints the result (without the DOM) as JSON and exits 1 when the
page is not ok.
'''

import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

CHROMIUM = "chromium"
WINDOW = (1280, 4000)
RUN_TIMEOUT = 60.0          # seconds per run; a cold start takes ~3 s
SETTLE = 0.5                # after the load event, for late errors

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu",
    "--enable-logging=stderr", "--v=0",
    "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-default-apps", "--disable-extensions",
    "--disable-domain-reliability", "--metrics-recording-only",
    "--mute-audio", "--hide-scrollbars",
    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
]

# stderr lines that are findings, not noise.
LOG_LINE = re.compile(r"^\[[^\]]*:(INFO|WARNING|ERROR|FATAL|VERBOSE\d*):"
                      r"([^\]]*)\]\s*(.*)$")
LOAD_FAILED = re.compile(r"net::ERR_|Failed to load resource|"
                         r"Not allowed to load local resource|"
                         r"PipelineStatus::|DEMUXER_ERROR")


class Found:
    '''available()'s answer: true when chromium can run; why says what
    was found (its version) or why it cannot.'''

    def __init__(self, path, why):
        self.path = path
        self.why = why

    def __bool__(self):
        return self.path is not None

    def __repr__(self):
        return "Found(%r, %r)" % (self.path, self.why)


def _kill_group(pgid):
    '''Kills what is left of a run's process group (it is the leader's
    PID, from setsid); no other process.'''
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _run(args, timeout, stdout, stderr, **kw):
    '''Runs args in a session of its own; returns (exit status or None on
    timeout, seconds).  The process group is killed at the end.'''
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=stdout,
                         stderr=stderr, start_new_session=True, **kw)
    try:
        rc = p.wait(timeout)
    except subprocess.TimeoutExpired:
        rc = None
    _kill_group(p.pid)
    if rc is None:
        p.wait()
    return rc, time.monotonic() - t0


def available():
    '''Whether chromium is on PATH and starts; Found, with why.'''
    path = shutil.which(CHROMIUM)
    if not path:
        return Found(None, "no %s on PATH (apt-get install chromium)"
                     % CHROMIUM)
    with tempfile.TemporaryFile() as out:
        try:
            rc, _ = _run([path, "--version"], 30, out, subprocess.DEVNULL)
        except OSError as e:
            return Found(None, "%s does not start: %s" % (path, e))
        out.seek(0)
        version = out.read().decode(errors="replace").strip()
    if rc != 0:
        return Found(None, "%s --version: exit status %s" % (path, rc))
    return Found(path, version)


def png_size(path):
    '''(width, height) of a PNG file, or raises ValueError: the signature,
    then an IHDR chunk of 13 bytes with a good CRC.'''
    with open(path, "rb") as f:
        head = f.read(33)
    if len(head) < 33 or head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    length, kind = struct.unpack(">I4s", head[8:16])
    if kind != b"IHDR" or length != 13:
        raise ValueError("no IHDR chunk first")
    crc, = struct.unpack(">I", head[29:33])
    if zlib.crc32(head[12:29]) != crc:
        raise ValueError("IHDR CRC mismatch")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def stderr_findings(text):
    '''Console errors and failed loads among chromium's stderr lines.'''
    found = []
    for line in text.splitlines():
        m = LOG_LINE.match(line)
        if not m:
            continue
        level, where, msg = m.groups()
        if where.startswith("CONSOLE") and level in ("ERROR", "FATAL"):
            found.append("console: " + msg)
        elif LOAD_FAILED.search(line):
            found.append("%s %s: %s" % (level, where, msg))
    return found


class _Pipe:
    '''The DevTools protocol over --remote-debugging-pipe: JSON messages
    ended by a NUL byte, commands to chromium's fd 3, answers and events
    from its fd 4.'''

    def __init__(self, wfd, rfd):
        self.wfd, self.rfd = wfd, rfd
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method,
               "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.wfd, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def recv(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.rfd], [], [], left)
            if not ready:
                return None
            data = os.read(self.rfd, 65536)
            if not data:
                return None
            self.buf += data
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, deadline, params=None, session=None):
        '''Sends a command and waits for its answer; events on the way
        are kept.'''
        want = self.send(method, params, session)
        while True:
            msg = self.recv(deadline)
            if msg is None:
                raise TimeoutError("no answer to " + method)
            if msg.get("id") == want:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            self.events.append(msg)


def _cdp_errors(events):
    '''Error-level console messages, exceptions and failed loads among
    the DevTools events.'''
    found = []
    urls = {}
    for ev in events:
        method, p = ev.get("method"), ev.get("params", {})
        if method == "Network.requestWillBeSent":
            urls[p.get("requestId")] = p.get("request", {}).get("url")
        elif method == "Runtime.consoleAPICalled" and \
                p.get("type") in ("error", "assert"):
            found.append("console.%s: %s" % (p["type"], " ".join(
                str(a.get("value", a.get("description", "")))
                for a in p.get("args", []))))
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            found.append("exception: %s %s" % (
                d.get("text", ""),
                d.get("exception", {}).get("description", "")))
        elif method == "Log.entryAdded" and \
                p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            found.append("%s: %s %s" % (e.get("source"), e.get("text"),
                                        e.get("url", "")))
        elif method == "Network.loadingFailed":
            found.append("load failed: %s %s" % (
                urls.get(p.get("requestId"), p.get("requestId")),
                p.get("errorText")))
    return found


def _console_run(path, url, profile, err, timeout):
    '''The third run: opens url in a new tab with the Runtime, Log,
    Network and Page domains on, waits for the load event and SETTLE
    seconds more, then closes the browser.  Returns (errors, problem or
    None, seconds).'''
    to_r, to_w = os.pipe()          # commands: we write, chromium reads
    from_r, from_w = os.pipe()      # answers: chromium writes, we read

    def fds():
        # dup first: dup2 of an fd onto itself would keep close-on-exec.
        a, b = os.dup(to_r), os.dup(from_w)
        os.dup2(a, 3)
        os.dup2(b, 4)

    t0 = time.monotonic()
    deadline = t0 + timeout
    p = subprocess.Popen(
        [path] + FLAGS + ["--user-data-dir=" + profile,
                          "--remote-debugging-pipe", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
        start_new_session=True, preexec_fn=fds, close_fds=False)
    os.close(to_r)
    os.close(from_w)
    pipe = _Pipe(to_w, from_r)
    problem = None
    try:
        tab = pipe.call("Target.createTarget", deadline,
                        {"url": "about:blank"})["targetId"]
        sess = pipe.call("Target.attachToTarget", deadline,
                         {"targetId": tab, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            pipe.call(domain + ".enable", deadline, session=sess)
        pipe.call("Page.navigate", deadline, {"url": url}, session=sess)
        loaded = None
        while True:
            until = deadline if loaded is None else \
                min(deadline, loaded + SETTLE)
            msg = pipe.recv(until)
            if msg is None:
                break
            pipe.events.append(msg)
            if msg.get("method") == "Page.loadEventFired":
                loaded = time.monotonic()
        if loaded is None:
            problem = "console run: no load event within %.0f s" % timeout
        try:
            pipe.send("Browser.close")
            p.wait(max(1.0, min(10.0, deadline - time.monotonic())))
        except (OSError, subprocess.TimeoutExpired):
            pass
    except (OSError, ValueError, TimeoutError, RuntimeError, KeyError) as e:
        problem = "console run: %s: %s" % (type(e).__name__, e)
    finally:
        os.close(to_w)
        os.close(from_r)
        _kill_group(p.pid)
        p.wait()
    return _cdp_errors(pipe.events), problem, time.monotonic() - t0


class LivePage:
    '''url open in headless chromium until close() (or the end of a with
    block): the DevTools pipe with the Runtime, Log, Network and Page
    domains on.  open() waits for the load event; eval(expr) is the value
    of a JavaScript expression in the page (JSON-able values only);
    wait_for(expr, timeout) polls it until it is truthy and returns it, or
    raises TimeoutError with its last value; errors() lists error-level
    console messages, exceptions and failed loads so far; stderr_findings
    of chromium's stderr are in errors() after close().'''

    FLAGS = [f for f in FLAGS if not f.startswith("--proxy-bypass-list")]

    def __init__(self, url, workdir, timeout=RUN_TIMEOUT):
        self.url, self.workdir, self.timeout = url, workdir, timeout
        self.p = self.pipe = self.sess = None
        self.err = None
        self.late = []             # stderr findings, after close()

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
        return False

    def _deadline(self):
        return time.monotonic() + self.timeout

    def open(self):
        found = available()
        if not found:
            raise RuntimeError(found.why)
        os.makedirs(self.workdir, exist_ok=True)
        profile = tempfile.mkdtemp(prefix="chromium-live-", dir=self.workdir)
        self.err = open(os.path.join(self.workdir, "live.stderr"), "w+")
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()

        def fds():
            a, b = os.dup(to_r), os.dup(from_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.p = subprocess.Popen(
            [found.path] + self.FLAGS + ["--user-data-dir=" + profile,
                                         "--remote-debugging-pipe",
                                         "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self.err, start_new_session=True, preexec_fn=fds,
            close_fds=False)
        os.close(to_r)
        os.close(from_w)
        self.pipe = _Pipe(to_w, from_r)
        deadline = self._deadline()
        tab = self.pipe.call("Target.createTarget", deadline,
                             {"url": "about:blank"})["targetId"]
        self.sess = self.pipe.call("Target.attachToTarget", deadline,
                                   {"targetId": tab,
                                    "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.pipe.call(domain + ".enable", deadline, session=self.sess)
        self.pipe.call("Page.navigate", deadline, {"url": self.url},
                       session=self.sess)
        while not any(e.get("method") == "Page.loadEventFired"
                      for e in self.pipe.events):
            msg = self.pipe.recv(deadline)
            if msg is None:
                raise TimeoutError("no load event within %.0f s"
                                   % self.timeout)
            self.pipe.events.append(msg)
        return self

    def eval(self, expr):
        r = self.pipe.call("Runtime.evaluate", self._deadline(),
                           {"expression": expr, "returnByValue": True},
                           session=self.sess)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr, r["exceptionDetails"].get(
                "exception", {}).get("description", r["exceptionDetails"])))
        return r.get("result", {}).get("value")

    def wait_for(self, expr, timeout, poll=0.1):
        deadline = time.monotonic() + timeout
        while True:
            v = self.eval(expr)
            if v:
                return v
            if time.monotonic() >= deadline:
                raise TimeoutError("%s still %r after %.1f s"
                                   % (expr, v, timeout))
            time.sleep(poll)

    def errors(self):
        return _cdp_errors(self.pipe.events if self.pipe else []) + \
            self.late

    def close(self):
        if self.p is None:
            return
        try:
            self.pipe.send("Browser.close")
            self.p.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        os.close(self.pipe.wfd)
        os.close(self.pipe.rfd)
        _kill_group(self.p.pid)
        self.p.wait()
        self.p = None
        self.err.seek(0)
        self.late = stderr_findings(self.err.read())
        self.err.close()


def check_page(html_path, workdir, timeout=RUN_TIMEOUT):
    '''Opens html_path in headless chromium; returns a dict:
    ok              the three runs ended in time with status 0, the
                    screenshot is a WINDOW-sized PNG, the DOM has a
                    document, and nothing was found below
    console_errors  error-level console messages, exceptions and failed
                    loads (DevTools run), and such lines of stderr
    screenshot      the PNG's path (in workdir)
    dom             the DOM as chromium dumped it ("" when it did not)
    problems        why ok is False, besides console_errors
    seconds         each run's time
    command         the screenshot run's command line
    Raises nothing for a broken page or browser: that is a result.'''
    found = available()
    path = found.path
    res = {"ok": False, "console_errors": [], "screenshot": None,
           "dom": "", "problems": [], "seconds": {}, "command": None}
    if not found:
        res["problems"].append(found.why)
        return res

    os.makedirs(workdir, exist_ok=True)
    url = "file://" + os.path.abspath(html_path)
    shot = os.path.join(workdir, "page.png")
    if os.path.exists(shot):
        os.unlink(shot)
    res["screenshot"] = shot
    errs = []

    def profile(name):
        return tempfile.mkdtemp(prefix="chromium-%s-" % name, dir=workdir)

    # 1. The screenshot.
    cmd = [path] + FLAGS + [
        "--user-data-dir=" + profile("shot"), "--screenshot=" + shot,
        "--window-size=%d,%d" % WINDOW, url]
    res["command"] = cmd
    with open(os.path.join(workdir, "shot.stderr"), "w+") as err:
        rc, res["seconds"]["screenshot"] = _run(
            cmd, timeout, subprocess.DEVNULL, err)
        err.seek(0)
        errs += stderr_findings(err.read())
    if rc != 0:
        res["problems"].append("screenshot run: %s" % (
            "timed out" if rc is None else "exit status %d" % rc))
    try:
        size = png_size(shot)
        if size != WINDOW:
            res["problems"].append("screenshot is %dx%d, not %dx%d"
                                   % (size + WINDOW))
    except (OSError, ValueError) as e:
        res["problems"].append("screenshot: %s" % e)

    # 2. The DOM.
    cmd = [path] + FLAGS + ["--user-data-dir=" + profile("dom"),
                            "--dump-dom", url]
    with open(os.path.join(workdir, "dom.html"), "w+b") as out, \
            open(os.path.join(workdir, "dom.stderr"), "w+") as err:
        rc, res["seconds"]["dom"] = _run(cmd, timeout, out, err)
        out.seek(0)
        res["dom"] = out.read().decode(errors="replace")
        err.seek(0)
        errs += stderr_findings(err.read())
    if rc != 0:
        res["problems"].append("dom run: %s" % (
            "timed out" if rc is None else "exit status %d" % rc))
    if "<html" not in res["dom"] or "</html>" not in res["dom"]:
        res["problems"].append("dom: no document")

    # 3. Console messages by level, failed loads.
    with open(os.path.join(workdir, "console.stderr"), "w+") as err:
        found_errs, problem, res["seconds"]["console"] = _console_run(
            path, url, profile("console"), err, timeout)
        err.seek(0)
        errs += found_errs + stderr_findings(err.read())
    if problem:
        res["problems"].append(problem)

    res["console_errors"] = errs
    res["ok"] = not res["problems"] and not errs
    return res


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write("usage: chromium.py PAGE.html [WORKDIR]\n")
        return 2
    workdir = argv[2] if len(argv) == 3 else \
        tempfile.mkdtemp(prefix="chromium-check-")
    res = check_page(argv[1], workdir)
    res["dom"] = "%d characters" % len(res["dom"])
    print(json.dumps(res, indent=1))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
