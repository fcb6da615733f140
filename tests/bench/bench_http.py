"""@file bench_http.py  wrk against cmrlab's /r/ID and against nginx.

cmrlab serves its built-in ringback tone at /r/ringback-default (the
resource HTTP mode's terminals fetch); nginx (nginx-light, nginx.conf of
this folder, one worker) serves the same bytes, fetched from cmrlab
first, from a temporary directory.  wrk, one thread, the same number of
keep-alive connections and the same duration for both, fetches the
resource; the server's CPU time (utime + stime from /proc, nginx's
master and worker summed) over the run, divided by the requests, is
its CPU per request.  Printed: requests/s, MB/s, latency p50/p99, errors,
CPU per request, and the ratios cmrlab / nginx.
"""

import http.client
import os
import re
import subprocess

from benchlib import (HOST, HERE, QUICK, BenchError, Cmrlab, CpuMeter,
                      free_port, ratio, say, spawn, stop, table,
                      tree, wait_bound)

SECONDS = 3 if QUICK else 10
CONNECTIONS = 32
PATH = "/r/ringback-default"


def fetch(port, path):
    c = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
    finally:
        c.close()
    if r.status != 200 or not body:
        raise BenchError("GET %s: status %d, %d bytes"
                         % (path, r.status, len(body)))
    return body


class Nginx:
    def __init__(self, tmp, body):
        self.dir = os.path.join(tmp, "nginx")
        www = os.path.join(self.dir, "www", "r")
        os.makedirs(www, exist_ok=True)
        with open(os.path.join(www, os.path.basename(PATH)), "wb") as f:
            f.write(body)
        # Its worker may run as nobody: the path must be readable.
        for d in (tmp, self.dir, os.path.join(self.dir, "www"), www):
            os.chmod(d, 0o755)
        self.port = free_port()
        with open(os.path.join(HERE, "nginx.conf")) as f:
            conf = f.read().replace("@DIR@", self.dir).replace(
                "@PORT@", str(self.port))
        path = os.path.join(self.dir, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        err = open(os.path.join(self.dir, "stderr"), "wb")
        self.proc = spawn(["nginx", "-p", self.dir, "-c", path, "-e",
                           os.path.join(self.dir, "nginx-error.log")],
                          stdout=err, stderr=err)
        err.close()
        self.pid = self.proc.pid
        try:
            wait_bound(self.port, "tcp", 10.0)
        except BenchError:
            self.stop()
            raise
        if fetch(self.port, PATH) != body:
            self.stop()
            raise BenchError("nginx does not serve the same bytes")

    def stop(self):
        stop(self.proc, timeout=5.0)


def seconds_of(s):
    """wrk's "1.23ms", "500.00us", "1.20s", "2.00m"."""
    m = re.match(r"([\d.]+)(us|ms|s|m)$", s)
    if not m:
        return None
    return float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0,
                                "m": 60.0}[m.group(2)]


def wrk(port, pids, tmp, name):
    """One wrk run; its figures with the server's CPU."""
    meter = CpuMeter(pids)
    meter.start()
    out = subprocess.run(
        ["wrk", "-t1", "-c%d" % CONNECTIONS, "-d%ds" % SECONDS,
         "--latency", "http://%s:%d%s" % (HOST, port, PATH)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=SECONDS + 60).stdout
    cpu = meter.stop()
    with open(os.path.join(tmp, "wrk-%s.txt" % name), "w") as f:
        f.write(out)
    m = re.search(r"(\d+) requests in ([\d.]+\w+), ([\d.]+)(\w+) read", out)
    if not m:
        raise BenchError("wrk against %s: %s" % (name, out.strip()[-200:]))
    reqs, dur = int(m.group(1)), seconds_of(m.group(2))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write "
                     r"(\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r = {"requests": reqs, "seconds": dur, "rps": reqs / dur,
         "cpu_s": cpu, "cpu_pct": 100.0 * cpu / meter.wall,
         "cpu_us_per_req": 1e6 * cpu / reqs if reqs else None,
         "p50_ms": 1000 * (seconds_of(lat.get("50", "")) or 0) or None,
         "p99_ms": 1000 * (seconds_of(lat.get("99", "")) or 0) or None,
         "errors": (sum(int(x) for x in errs.groups()) if errs else 0) +
         (int(non2xx.group(1)) if non2xx else 0)}
    return r


def run(binary, tmp, results):
    say("== 4. http: wrk (1 thread, %d connections, %d s) against cmrlab's "
        "%s and nginx (1 worker) serving the same bytes"
        % (CONNECTIONS, SECONDS, PATH))
    srv = Cmrlab(binary, tmp, "subscriber alice\n", name="http-srv")
    ng = None
    try:
        body = fetch(srv.http, PATH)
        ng = Nginx(tmp, body)
        c = wrk(srv.http, [srv.pid], tmp, "cmrlab")
        n = wrk(ng.port, tree(ng.pid), tmp, "nginx")
    finally:
        srv.stop()
        if ng:
            ng.stop()
    mb = len(body) / 1e6
    rows = []
    for name, r in (("cmrlab", c), ("nginx", n)):
        rows.append([name, r["requests"], r["rps"], r["rps"] * mb,
                     r["p50_ms"], r["p99_ms"], r["errors"], r["cpu_pct"],
                     r["cpu_us_per_req"]])
    out = {"bytes": len(body), "connections": CONNECTIONS, "cmrlab": c,
           "nginx": n, "rps_ratio": ratio(c["rps"], n["rps"]),
           "cpu_ratio": ratio(c["cpu_us_per_req"], n["cpu_us_per_req"])}
    rows.append(["ratio", None, out["rps_ratio"], None, None, None, None,
                 None, out["cpu_ratio"]])
    table("http, GET %s (%d bytes; cpu: the server, %% of one core; "
          "us/req: server CPU / requests; ratio: cmrlab / nginx):"
          % (PATH, len(body)),
          ["server", "requests", "req/s", "MB/s", "p50_ms", "p99_ms",
           "errors", "cpu%", "us/req"], rows)
    results["http"] = out
    return out
