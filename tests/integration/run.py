#!/usr/bin/env python3
"""Integration tests of cmrlab: the built binary on real sockets.

Usage: python3 tests/integration/run.py --binary build/cmrlab [-k NAME]
       [--keep] [--slow]

The tests live in tests/integration/test_<subject>.py, one file per
subject, over the helpers of cmrtest.py, cmrtest_sip.py and
cmrtest_media.py; this runner imports every test_*.py of its folder in
name order and runs the tests in file order, then definition order.
-k NAME runs the tests whose name or subject (the file name without
"test_" and ".py") contains NAME.

Every test starts its own server on free ports of 127.0.0.1 with its own
temporary directory and JSON event log, waits for the readiness line,
drives it with Python sockets, sipp (scenarios/*.xml) and curl, and then
stops it with SIGTERM: the server must exit 0 within 2 s, and that is
part of every test's verdict.  Each test prints "PASS name",
"FAIL name: reason" or "SKIP name: reason" (it raised cmrtest.Skip: a
program it needs is missing; neither passed nor failed); the last line is
"N passed, M failed, K skipped" and the exit status is 1 when anything
failed.

Only the Python standard library is used.  Every subprocess runs under a
timeout and is killed by its PID when a test ends, so one broken test
cannot hang the run or leave processes behind.
"""

import argparse
import glob
import importlib
import os
import shutil
import subprocess
import traceback
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

import cmrtest
from cmrtest import Ctx, Fail, Skip, info, kill_all


def load_tests():
    """Imports every test_*.py of this folder (sorted by name); returns
    the registered tests, or a reason why the suite cannot run."""
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        name = os.path.basename(path)[:-3]
        try:
            importlib.import_module(name)
        except Exception as e:      # a broken file must not hide the rest
            return None, "%s: %s: %s" % (name, type(e).__name__, e)
    seen = {}
    for fn in cmrtest.TESTS:
        if fn.__name__ in seen:
            return None, ("test %s is defined in both %s and %s"
                          % (fn.__name__, seen[fn.__name__], fn.__module__))
        seen[fn.__name__] = fn.__module__
    return list(cmrtest.TESTS), None


def run_one(fn, keep):
    """Runs one test: (None, None) when it passed, (why, None) when it
    failed, (None, why) when it skipped (and stopped its servers well)."""
    t = Ctx(fn.__name__, keep)
    why = skip = None
    try:
        fn(t)
    except Skip as e:
        skip = str(e) or "skipped"
    except Fail as e:
        why = str(e)
    except subprocess.TimeoutExpired as e:
        why = "subprocess timed out: %s" % e
    except Exception as e:          # a bug in the test is a failure too
        why = "%s: %s" % (type(e).__name__, e)
        info("".join(traceback.format_exc()).rstrip())
    for srv in t.servers:
        stop_why = srv.stop()
        if stop_why and not why:
            why = stop_why
        elif stop_why:
            why += "; " + stop_why
    if why:
        for srv in t.servers:
            tail = srv.stderr_tail(6)
            if tail:
                info("server stderr: " + tail)
    kill_all()
    if why or keep:
        info("files kept in " + t.tmp)
    else:
        shutil.rmtree(t.tmp, ignore_errors=True)
    return why, None if why else skip


def setup_failure(why):
    print("FAIL setup: %s" % why)
    print("0 passed, 1 failed, 0 skipped")
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("-k", dest="pattern", default=None,
                    help="run only tests whose name or subject contains "
                    "this")
    ap.add_argument("--keep", action="store_true",
                    help="keep every test's temporary files")
    ap.add_argument("--slow", action="store_true",
                    help="also run the slow tests (over 30 s each)")
    args = ap.parse_args()
    cmrtest.BINARY = os.path.abspath(args.binary)
    if not os.access(cmrtest.BINARY, os.X_OK):
        return setup_failure("%s is not an executable" % cmrtest.BINARY)
    for tool in ("sipp", "curl"):
        if not shutil.which(tool):
            return setup_failure("%s is not installed" % tool)
    tests, why = load_tests()
    if why:
        return setup_failure(why)
    tests = [f for f in tests if (not args.pattern or
                                  args.pattern in f.__name__ or
                                  args.pattern in cmrtest.subject(f)) and
             (args.slow or f not in cmrtest.SLOW_TESTS)]
    passed = failed = skipped = 0
    t0 = time.monotonic()
    try:
        for fn in tests:
            why, skip = run_one(fn, args.keep)
            if why:
                failed += 1
                print("FAIL %s: %s" % (fn.__name__,
                                       " ".join(why.split("\n"))))
            elif skip:
                skipped += 1
                print("SKIP %s: %s" % (fn.__name__,
                                       " ".join(skip.split("\n"))))
            else:
                passed += 1
                print("PASS %s" % fn.__name__)
            sys.stdout.flush()
    finally:
        kill_all()
    info("total %.1f s" % (time.monotonic() - t0))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
