#!/usr/bin/env python3
# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""How many idle SSE streams one httpd child holds over HTTP/2, and what
each costs, as a function of mod_http2's settings.

On HTTP/2 every stream keeps one of mod_http2's worker threads while it
lives (docs/architecture.md, "HTTP/2 streams"), and each connection with
open streams keeps an MPM worker.  For each configuration below, one
child (event MPM, ThreadsPerChild 25, httpd's stock figure) in front of
one sse-origin gets CONNS HTTP/2 connections (python h2, h2c with prior
knowledge or h2 over TLS) that open more streams than it can run; a
stream counts as held once its first event arrived (the origin sends
one, then nothing: an idle stream).  Recorded: the streams held, the
child's threads, and its memory (RSS and PSS, from /proc; virtual size
too, which thread stacks make) with the streams open, less the same
with none, divided by the streams held: the cost per stream.

    python3 bench/h2_floor.py            # in a built tree (top_builddir)
    H2_FLOOR_ONLY=stock,max1000 python3 bench/h2_floor.py

Writes bench/results/h2-floor.json and bench/results/h2-floor-notes.md,
which bench/run.py's report includes in docs/benchmarks.md.
"""
import datetime
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
import harness  # noqa: E402
from h2client import H2_FIRST_LIMIT, H2Client, pump, warm_up  # noqa: E402
from procstat import group_pids, group_usage  # noqa: E402

THREADS = 25       # ThreadsPerChild, httpd's default
CONNS = 20         # HTTP/2 connections, each holding one MPM worker

CONF = """
LogLevel warn
ProxyTimeout 86400
{h2}
<Location /health>
    ProxyPass {origin}/health
</Location>
<Location /events>
    ProxyPass {origin}/events
    SSEProxy On
</Location>
"""

# name, mod_http2 / core directives, warm-up rounds (each doubles the
# streams a connection may run: 6, 12, 24, 48, 96, then
# H2MaxSessionStreams, 100; a round more than needed, as a round now and
# then does not count), streams per connection, TLS
CASES = [
    ("stock", "", 0, 6, False),
    ("max100", "H2MaxWorkers 100", 0, 6, False),
    ("max250", "H2MaxWorkers 250", 4, 15, False),
    ("max1000", "H2MaxWorkers 1000", 6, 60, False),
    ("max1000-stack256k", "H2MaxWorkers 1000\nThreadStackSize 262144",
     6, 60, False),
    ("max1000-stack256k-mem8k", "H2MaxWorkers 1000\nThreadStackSize 262144\n"
     "H2StreamMaxMemSize 8192", 6, 60, False),
    ("max1000-min1000-stack256k", "H2MinWorkers 1000\nH2MaxWorkers 1000\n"
     "ThreadStackSize 262144", 6, 60, False),
    ("max2000-stack128k-mem8k", "H2MaxWorkers 2000\nThreadStackSize 131072\n"
     "H2StreamMaxMemSize 8192", 7, 100, False),
    ("max250-idle1s", "H2MaxWorkers 250\nH2MaxWorkerIdleSeconds 1",
     4, 15, False),
    ("min250-max250-idle1s", "H2MinWorkers 250\nH2MaxWorkers 250\n"
     "H2MaxWorkerIdleSeconds 1", 4, 15, False),
    ("shipped", "H2MinWorkers 1000\nH2MaxWorkers 1000\n"
     "ThreadStackSize 262144\nH2StreamMaxMemSize 8192", 6, 60, False),
    ("tls-shipped", "H2MinWorkers 1000\nH2MaxWorkers 1000\n"
     "ThreadStackSize 262144\nH2StreamMaxMemSize 8192", 6, 60, True),
    # more connections than MPM threads, one stream each: a connection
    # with open streams keeps its MPM worker
    ("40-connections", "H2MaxWorkers 1000", 0, 1, False, 40),
]


def log(msg):
    print("[h2-floor %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def memory(pgid):
    """Threads, PSS, RSS and virtual size (KiB) of httpd's processes."""
    use = group_usage(pgid)
    rss = vsz = 0
    for pid in group_pids(pgid):
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("VmSize:"):
                        vsz += int(line.split()[1])
        except OSError:
            pass
    return {"threads": use["threads"], "pss_kib": use["pss_kib"],
            "rss_kib": rss, "vsz_kib": vsz}


def held_streams(clients, want, settle=3.0, limit=90.0):
    """Reads until every stream got its first event, or none got it for
    settle seconds; the number that got it."""
    started = time.monotonic()
    last = [0, time.monotonic()]

    def count():
        return sum(1 for c in clients for b in c.body.values()
                   if b"id: 1\n" in b)

    def done():
        n = count()
        now = time.monotonic()
        if n != last[0]:
            last[:] = [n, now]
        return (n >= want or now - last[1] > settle
                or now - started > limit)
    try:
        pump(clients, done, limit + settle + 5, "first events")
    except AssertionError as e:
        log("stopped reading: %s" % e)
    return count()


def run_case(work, name, h2, rounds, per_conn, tls, conns=CONNS):
    origin = harness.Origin(work, "origin")
    httpd = harness.Httpd(work, CONF.format(h2=h2, origin=origin.url),
                          servers=1, threads=THREADS, timeout=86400, tls=tls)
    # the access log costs every case the same; leave it out
    with open(httpd.conf_path) as f:
        text = f.read().replace('CustomLog "%s/access.log" sse'
                                % httpd.root, "")
    with open(httpd.conf_path, "w") as f:
        f.write(text)
    httpd.start()
    clients = []
    try:
        time.sleep(1.5)
        base = memory(httpd.proc.pid)
        clients = [H2Client(httpd.port, tls, timeout=30)
                   for _ in range(conns)]
        warm_up(clients, "/health", rounds)
        # the connections, warmed up, without a stream (with
        # H2MaxWorkerIdleSeconds 1, the h2 workers the warm-up started
        # beyond H2MinWorkers have ended; well within KeepAliveTimeout)
        time.sleep(2)
        warm = memory(httpd.proc.pid)
        want = conns * per_conn
        log("%s: %d streams over %d connections (%s)"
            % (name, want, conns, "h2" if tls else "h2c"))
        t0 = time.monotonic()
        streams = [(c, c.get("/events?gap_after=1&gap_ms=86400000"))
                   for c in clients for _ in range(per_conn)]
        held = held_streams(clients, want)
        took = time.monotonic() - t0
        time.sleep(1)
        full = memory(httpd.proc.pid)
        # answered: the response head came (held or not)
        answered = sum(1 for c, sid in streams if sid in c.status)
        most = max(sum(1 for sid in c.body if b"id: 1\n" in c.body[sid])
                   for c in clients)
        row = {
            "case": name, "protocol": "h2" if tls else "h2c",
            "directives": h2.replace("\n", "; ") or "(none)",
            "connections": conns,
            "per_conn_limit": min(H2_FIRST_LIMIT << rounds, 100),
            "requested": want, "held": held, "answered": answered,
            "most_on_one_connection": most,
            "open_s": round(took, 1),
            "threads_idle": base["threads"], "threads": full["threads"],
            "rss_mib": round(full["rss_kib"] / 1024, 1),
            "vsz_mib": round(full["vsz_kib"] / 1024),
            "idle_rss_mib": round(base["rss_kib"] / 1024, 1),
            "idle_vsz_mib": round(base["vsz_kib"] / 1024),
            "connections_rss_mib": round((warm["rss_kib"] - base["rss_kib"])
                                         / 1024, 1),
            # what the streams cost with their connections and threads
            "rss_kib_per_stream": round((full["rss_kib"] - base["rss_kib"])
                                        / held, 1) if held else None,
            "pss_kib_per_stream": round((full["pss_kib"] - base["pss_kib"])
                                        / held, 1) if held else None,
            "vsz_kib_per_stream": round((full["vsz_kib"] - base["vsz_kib"])
                                        / held) if held else None,
        }
        log(json.dumps(row))
        return row
    finally:
        for c in clients:
            c.close()
        httpd.stop()
        origin.stop()
        bad = httpd.unexpected_log_lines()
        if bad:
            log("unexpected error-log lines in %s:\n  %s"
                % (name, "\n  ".join(bad[:10])))


TABLE = [("case", "case"), ("protocol", "protocol"),
         ("directives", "directives"), ("connections", "connections"),
         ("requested", "streams requested"), ("held", "held"),
         ("most_on_one_connection", "most on one connection"),
         ("threads", "threads"), ("rss_mib", "RSS MiB"),
         ("idle_rss_mib", "idle RSS MiB"),
         ("connections_rss_mib", "connections' RSS MiB"),
         ("rss_kib_per_stream", "RSS KiB / stream"),
         ("pss_kib_per_stream", "PSS KiB / stream"),
         ("vsz_mib", "virtual MiB"),
         ("vsz_kib_per_stream", "virtual KiB / stream")]


def notes(rows, started, command):
    lines = [
        "## HTTP/2 streams: what one child holds",
        "",
        "Produced by `%s`, started %s, on %d cores, Linux %s; %s."
        % (command, started, os.cpu_count(), platform.release(),
           subprocess.run([harness.HTTPD, "-v"], capture_output=True,
                          text=True).stdout.splitlines()[0]),
        "",
        "One httpd child (event MPM, ThreadsPerChild %d, `SSEProxy On`) "
        "relays idle streams (one event, then silence) to %d HTTP/2 "
        "connections (40 in the last case), each of which holds one MPM "
        "worker while it has open streams; `held` streams got their first event, the rest "
        "wait in mod_http2's queue for an h2 worker. Connections are "
        "first warmed up with short requests (mod_http2 runs 6 streams "
        "of a new connection at once and doubles that as streams "
        "complete), then left alone for 2 s. Memory is summed over "
        "httpd's processes: idle, before any connection; with the "
        "connections open and warmed up (what they add, with the h2 "
        "workers the warm-up started, is `connections' RSS`); and with "
        "the streams open: per stream is the growth over the idle "
        "server (connections and threads included), divided by the "
        "streams held. The `idle1s` cases let the h2 workers the "
        "warm-up started end before the streams come "
        "(`H2MaxWorkerIdleSeconds 1`): mod_http2 reuses an ended "
        "worker's slot only once some other worker goes idle "
        "(`join_zombies()` in `h2_workers.c`), which no event stream "
        "does, so the child runs out of slots, unless `H2MinWorkers` "
        "keeps them all." % (THREADS, CONNS),
        "",
        "| " + " | ".join(t for _, t in TABLE) + " |",
        "|" + "---|" * len(TABLE)]
    for r in rows:
        lines.append("| " + " | ".join(
            "`%s`" % r[k] if k == "directives" and r[k] != "(none)"
            else str(r.get(k)) for k, _ in TABLE) + " |")
    return "\n".join(lines) + "\n"


def main():
    only = [x for x in os.environ.get("H2_FLOOR_ONLY", "").split(",") if x]
    cases = [c for c in CASES if not only or c[0] in only]
    started = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")
    work = harness.workdir()
    rows = []
    try:
        for case in cases:
            rows.append(run_case(work, *case))
    finally:
        harness.remove_workdir(work)
    results = os.path.join(HERE, "results")
    with open(os.path.join(results, "h2-floor.json"), "w") as f:
        json.dump(rows, f, indent=1)
        f.write("\n")
    command = "python3 bench/h2_floor.py"
    if only:
        command = "H2_FLOOR_ONLY=%s %s" % (",".join(only), command)
    text = notes(rows, started, command)
    with open(os.path.join(results, "h2-floor-notes.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
