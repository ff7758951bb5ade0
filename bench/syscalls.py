#!/usr/bin/env python3
# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""System calls per relayed event: httpd with mod_sse_proxy (asynchronous
relay, the setup of bench/run.py) between sse-origin and sse-load, its
children traced for the whole load run.

  bench/syscalls.py [--tool strace|perf] [--streams N] [--duration S]
                    [--rate EVENTS_PER_S_PER_STREAM] [--size PAD]

--rate 0 (the default) is saturation: the origin writes as fast as the
socket takes.  The tracer attaches to every child before the load starts
and stops after it; the events are the ones sse-load received.  Tracing
slows httpd down (strace much more than perf trace), and a slower relay
finds more events per read, so the calls per event at saturation are a
lower bound; paced streams (--rate 50) show the cost of a lone event.
"""
import argparse
import collections
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run  # noqa: E402
harness = run.harness


def parse_strace(text):
    calls = collections.Counter()
    errors = collections.Counter()
    for line in text.splitlines():
        f = line.split()
        # % time, seconds, usecs/call, calls, [errors,] syscall
        if len(f) >= 5 and re.match(r"^[0-9.]+$", f[0]) and f[-1] != "total":
            calls[f[-1]] += int(f[3])
            if len(f) == 6:
                errors[f[-1]] += int(f[4])
    return calls, errors


def parse_perf(text):
    calls = collections.Counter()
    errors = collections.Counter()
    for line in text.splitlines():
        m = re.match(r"^\s+([a-z_0-9]+)\s+(\d+)\s+(\d+)\s+[0-9.]+", line)
        if m:
            calls[m.group(1)] += int(m.group(2))
            errors[m.group(1)] += int(m.group(3))
    return calls, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", choices=("strace", "perf"), default="strace")
    ap.add_argument("--streams", type=int, default=100)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rate", type=int, default=0)
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()
    try:
        import resource
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    work = harness.workdir()
    out = os.path.join(work, "trace.txt")
    origin = harness.Origin(work, "origin")
    proxy = None
    try:
        proxy = run.Httpd(work, origin, sse=True, sse_async=True)
        time.sleep(1)
        kids = subprocess.run(["pgrep", "-P", str(proxy.h.proc.pid)],
                              capture_output=True, text=True).stdout.split()
        if args.tool == "strace":
            cmd = ["strace", "-c", "-f", "-o", out]
            for k in kids:
                cmd += ["-p", k]
        else:
            cmd = ["perf", "trace", "-s", "-o", out, "-p", ",".join(kids)]
        tracer = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        time.sleep(3)  # attached to every thread
        r = run.load(proxy.port, "/events?rate=%d&size=%d"
                     % (args.rate, args.size), args.streams, args.duration)
        time.sleep(1)
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=120)
        with open(out) as f:
            text = f.read()
    finally:
        if proxy:
            proxy.stop()
        origin.stop()
        harness.remove_workdir(work)
    calls, errors = (parse_strace if args.tool == "strace"
                     else parse_perf)(text)
    events = r["events"]
    print("%s, %d streams, rate %s, pad %d: %d events in %d s (%.0f/s), "
          "%d streams established"
          % (args.tool, args.streams, args.rate or "max", args.size, events,
             args.duration, r["events_per_sec"], r["streams_established"]))
    print("| system call | calls | failed | per event |")
    print("|---|---|---|---|")
    for name, n in calls.most_common():
        print("| %s | %d | %d | %.4f |" % (name, n, errors[name],
                                           n / events if events else 0))
    total = sum(calls.values())
    print("| all | %d | %d | %.4f |" % (total, sum(errors.values()),
                                         total / events if events else 0))


if __name__ == "__main__":
    main()
