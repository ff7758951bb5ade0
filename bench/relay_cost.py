#!/usr/bin/env python3
# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Instructions per relayed event in httpd's user space, counted by
callgrind: a count does not move with the machine's other load, where
CPU seconds do.

  bench/relay_cost.py [--setup mod_sse_proxy|mod_sse_proxy-sync|
                       mod_proxy_http] [--streams N] [--events N]
                      [--size PAD] [--top K]

httpd runs as one process (-X) under callgrind, with the configuration
of bench/run.py's setup, between sse-origin and sse-load.  Two runs
relay --events and then six times as many events a stream (`rate=0`:
as fast as they go); the difference of their instruction counts over
the difference of their events leaves out start-up and shutdown.
Under callgrind httpd is far slower than the origin, so every read
finds a full buffer: this is the cost of a saturated stream.  The
kernel's share (system calls, TCP) is not counted.
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run  # noqa: E402
harness = run.harness

SETUPS = {"mod_sse_proxy": dict(sse=True, sse_async=True),
          "mod_sse_proxy-sync": dict(sse=True, sse_async=False),
          "mod_proxy_http": dict(sse=False)}


def conf_file(work, origin, setup):
    h = harness.Httpd(work, run.httpd_conf(origin, **SETUPS[setup]),
                      timeout=86400,
                      extra_modules=[("env_module", "mod_env.so")],
                      servers=1, threads=25)
    with open(h.conf_path) as f:
        text = f.read()
    # callgrind writes its profile when httpd exits: as root it must
    # not have switched to another user by then
    text = text.replace("User nobody\nGroup nogroup", "")
    text = text.replace('CustomLog "%s/access.log" sse' % h.root, "")
    with open(h.conf_path, "w") as f:
        f.write(text)
    return h


def listening(port, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("httpd under callgrind did not listen")


def one_run(work, origin, args, events, tag):
    h = conf_file(work, origin, args.setup)
    out = os.path.join(work, "callgrind.%s" % tag)
    os.chmod(work, 0o755)
    vg = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--vgdb=no",
         "--callgrind-out-file=" + out, harness.HTTPD, "-X", "-f",
         h.conf_path],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        listening(h.port)
        # long enough for the slowest stream under callgrind
        duration = max(20, events * args.streams // 4000)
        r = run.load(h.port, "/events?rate=0&count=%d&size=%d"
                     % (events, args.size), args.streams, duration)
    finally:
        os.killpg(vg.pid, signal.SIGTERM)
        vg.wait(120)
    with open(out) as f:
        total = next(int(line.split()[1]) for line in f
                     if line.startswith(("summary:", "totals:")))
    return r["events"], total, out


def top_functions(path, k):
    text = subprocess.run(["callgrind_annotate", "--inclusive=no", "--auto=no", path],
                          capture_output=True, text=True).stdout
    rows = []
    for line in text.splitlines():
        m = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S+)", line)
        if m and "PROGRAM TOTALS" not in line:
            rows.append((int(m.group(1).replace(",", "")),
                         m.group(2).split(":")[-1]))
    merged = {}
    for n, name in rows:
        merged[name] = merged.get(name, 0) + n
    return sorted(merged.items(), key=lambda kv: -kv[1])[:k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--setup", choices=sorted(SETUPS),
                    default="mod_sse_proxy")
    ap.add_argument("--streams", type=int, default=10)
    ap.add_argument("--events", type=int, default=2000,
                    help="events a stream in the shorter run")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args()
    work = harness.workdir()
    origin = harness.Origin(work, "origin")
    try:
        ev1, ir1, _ = one_run(work, origin, args, args.events, "short")
        ev2, ir2, path = one_run(work, origin, args, 6 * args.events,
                                 "long")
        expected = args.streams * args.events
        if ev1 != expected or ev2 != 6 * expected:
            raise RuntimeError("events relayed: %d and %d, expected %d and "
                               "%d" % (ev1, ev2, expected, 6 * expected))
        per_event = (ir2 - ir1) / (ev2 - ev1)
        print("%s, %d streams, pad %d: %.0f instructions per event "
              "(%d events: %d; %d events: %d)"
              % (args.setup, args.streams, args.size, per_event, ev1, ir1,
                 ev2, ir2))
        print("| function (the longer run) | instructions per event |")
        print("|---|---|")
        for name, n in top_functions(path, args.top):
            print("| %s | %.0f |" % (name, n / ev2))
    finally:
        origin.stop()
        harness.remove_workdir(work)


if __name__ == "__main__":
    main()
