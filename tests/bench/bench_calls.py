#!/usr/bin/env python3
"""@file bench_calls.py  Call setup rate, HTTP resource rate and memory.

Starts build/cmrlab on free loopback ports, registers a sipp UAS as bob,
drives N calls with sipp's built-in UAC at a fixed rate, fetches the
ringback resource M times over HTTP, and prints the figures: calls per
second completed, failed calls, HTTP requests per second, and the server's
resident memory before and after.  It asserts nothing about speed: these
machines are shared, so the figures are printed for people to read.
"""
import argparse, os, signal, socket, subprocess, sys, tempfile, time
import http.client


def free_port():
    while True:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def register(sip_port, user, contact_port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.bind(("127.0.0.1", 0))
    lp = s.getsockname()[1]
    msg = (f"REGISTER sip:127.0.0.1:{sip_port} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{lp};rport;branch=z9hG4bKb{lp}\r\n"
           f"From: <sip:{user}@bench>;tag=b\r\nTo: <sip:{user}@bench>\r\n"
           f"Call-ID: bench-{lp}\r\nCSeq: 1 REGISTER\r\n"
           f"Contact: <sip:{user}@127.0.0.1:{contact_port}>\r\n"
           f"Expires: 600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    s.sendto(msg.encode(), ("127.0.0.1", sip_port))
    reply = s.recv(4096).decode(errors="replace")
    s.close()
    if not reply.startswith("SIP/2.0 200"):
        sys.exit("bench: REGISTER failed: " + reply.split("\r\n")[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="build/cmrlab")
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--fetches", type=int, default=2000)
    a = ap.parse_args()

    sip, hport, uas, uac = free_port(), free_port(), free_port(), free_port()
    tmp = tempfile.mkdtemp(prefix="cmrlab-bench-")
    srv = subprocess.Popen([a.binary, "serve", "--sip", f"127.0.0.1:{sip}",
                            "--http", f"127.0.0.1:{hport}",
                            "--log-level", "warn"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
    procs = [srv]
    try:
        if not srv.stdout.readline().startswith("ready "):
            sys.exit("bench: server did not become ready")
        rss0 = rss_kib(srv.pid)

        u = subprocess.Popen(["sipp", "-sn", "uas", "-i", "127.0.0.1",
                              "-p", str(uas), "-nostdin"],
                             cwd=tmp, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        procs.append(u)
        time.sleep(0.5)
        register(sip, "bob", uas)

        t0 = time.monotonic()
        c = subprocess.run(["sipp", "-sn", "uac", "-i", "127.0.0.1",
                            "-p", str(uac), "-s", "bob",
                            f"127.0.0.1:{sip}", "-m", str(a.calls),
                            "-r", str(a.rate), "-l", "500", "-d", "0",
                            "-nostdin", "-trace_stat", "-stf",
                            os.path.join(tmp, "stat.csv"),
                            "-timeout", "120s"], cwd=tmp,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=180)
        dt = time.monotonic() - t0
        ok = failed = 0
        with open(os.path.join(tmp, "stat.csv")) as f:
            rows = [r.strip().split(";") for r in f if r.strip()]
        head, last = rows[0], rows[-1]
        ok = int(last[head.index("SuccessfulCall(C)")])
        failed = int(last[head.index("FailedCall(C)")])
        rss1 = rss_kib(srv.pid)

        t0 = time.monotonic()
        size = 0
        for _ in range(a.fetches):
            conn = http.client.HTTPConnection("127.0.0.1", hport, timeout=5)
            conn.request("GET", "/r/ringback-default")
            size = len(conn.getresponse().read())
            conn.close()
        hdt = time.monotonic() - t0
        rss2 = rss_kib(srv.pid)

        print(f"calls: {ok} completed, {failed} failed in {dt:.2f} s "
              f"at offered {a.rate}/s: {ok / dt:.1f} calls/s "
              f"(sipp exit {c.returncode})")
        print(f"http: {a.fetches} GET /r/ringback-default ({size} bytes) "
              f"in {hdt:.2f} s: {a.fetches / hdt:.0f} requests/s, "
              f"{a.fetches * size / hdt / 1e6:.1f} MB/s")
        print(f"memory: RSS {rss0} KiB at start, {rss1} KiB after the "
              f"calls, {rss2} KiB after the fetches")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    p.kill()


if __name__ == "__main__":
    main()
