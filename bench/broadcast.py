# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""The broadcast scenario of bench/run.py: many clients of one stream.

2,000 and 10,000 clients (2,000 alone when quick) of one URL at 10
events/s, through mod_sse_proxy with SSEProxyShare On (one backend stream
per child), nginx (one backend stream per client, as it relays), stock
mod_proxy_http (a worker thread per stream: 1,000 clients, what its 1,024
workers hold) and mod_sse_proxy without sharing (full mode only).  For each: the memory of
the server's processes per client over the idle server, its CPU seconds
per million events delivered to clients, the latency of those events
from the origin's timestamp, and the streams the origin had to open.
"""
import os
import subprocess
import tempfile
import time

from procstat import group_footprint, group_pids, group_usage

RATE = 10
# align=1: every origin stream sends at the same instants, as a backend
# broadcasting one event to all its clients does; without it each of
# nginx's 10,000 backend streams would tick from its own start, spread
# over the interval, while a shared stream's clients all get each event
# at once
PATH = "/events?rate=%d&size=64&align=1" % RATE
# a thread per stream: the 16 x 64 workers of bench/run.py hold 1,024
THREAD_BOUND = {"mod_proxy_http": 1000}
SETUPS = ["mod_sse_proxy-share", "nginx", "mod_proxy_http", "mod_sse_proxy"]
QUICK_SETUPS = ["mod_sse_proxy-share", "nginx", "mod_proxy_http"]
CONNECT_RATE = 2000


# A client waits this long for its response head: during the ramp of
# 10,000 the proxy is also relaying the events of the clients already
# in, and a client given up would leave the run short of clients.
TIMEOUT_MS = 60000


def steps(quick):
    """(clients, warmup s, measured s) of each step: 2,000, which this
    machine relays with room to spare, then 10,000, which saturates it
    (the origin, the proxy and sse-load share its 2 cores)."""
    return [(2000, 1, 5)] if quick else [(2000, 3, 15), (10000, 10, 20)]


def group_cpu(pgid):
    """CPU seconds of the group, from /proc/PID/stat alone: cheap enough
    to sample twice a second without loading the machine."""
    tick = os.sysconf("SC_CLK_TCK")
    cpu = 0.0
    for pid in group_pids(pgid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return cpu


def nearest(samples, t):
    """The (t, value) sample closest to t."""
    return min(samples, key=lambda s: abs(s[0] - t))


def one_run(p, origin, clients, warmup, duration, load_bin, read_json):
    """Runs sse-load against p; returns its summary, the proxy's CPU
    seconds over the measured window (and that span), its memory in the
    middle of the window and the origin's streams then."""
    out = tempfile.mktemp(prefix="load-", suffix=".json")
    before = origin.stats()
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [load_bin, "--port", str(p.port), "--path", PATH, "--streams",
         str(clients), "--duration", str(duration), "--warmup", str(warmup),
         "--connect-rate", str(CONNECT_RATE), "--timeout-ms", str(TIMEOUT_MS),
         "--mode", "none", "--quiet", "--json", out])
    cpu = []
    mid = t0 + clients / float(CONNECT_RATE) + warmup + duration / 2.0
    mem = orig = None
    while proc.poll() is None:
        now = time.monotonic()
        cpu.append((now - t0, group_cpu(p.pgid)))
        if mem is None and now >= mid:
            mem = dict(group_usage(p.pgid), **group_footprint(p.pgid))
            orig = origin.stats()
        time.sleep(0.5)
    r = read_json(out)
    after = origin.stats()
    w0 = r["ramp_s"] + r["warmup_s"]
    w1 = w0 + r["window_s"]
    cpu.append((time.monotonic() - t0, group_cpu(p.pgid)))
    a, b = nearest(cpu, w0), nearest(cpu, w1)
    return (r, b[1] - a[1], b[0] - a[0], mem or {}, orig or after,
            after["total_streams"] - before["total_streams"])


def scenario_broadcast(work, q, rows, make_proxies, load_bin, read_json,
                       log, chosen):
    import harness
    origin = harness.Origin(work, "origin")
    try:
        for p in make_proxies(work, origin, chosen(QUICK_SETUPS if q
                                                   else SETUPS)):
            try:
                time.sleep(1)   # the children are all up
                idle = dict(group_usage(p.pgid), **group_footprint(p.pgid))
                done = set()
                for n, warmup, duration in steps(q):
                    clients = min(n, THREAD_BOUND.get(p.name, n))
                    if clients in done:
                        continue
                    if done:
                        # the last step's shared streams outlive their
                        # clients by the grace time (5 s): each step
                        # opens its own
                        time.sleep(6)
                    done.add(clients)
                    step(p, origin, idle, clients, warmup, duration, rows,
                         load_bin, read_json, log)
            finally:
                p.stop()
    finally:
        origin.stop()


def step(p, origin, idle, clients, warmup, duration, rows, load_bin,
         read_json, log):
    """One run of clients against p, idle: p's usage before any."""
    log("broadcast: %s, %d clients of one stream at %d "
        "events/s, %d s" % (p.name, clients, RATE, duration))
    r, cpu, span, mem, orig, streams = one_run(
        p, origin, clients, warmup, duration, load_bin,
        read_json)
    ev = r["events"]
    # the window's events, over the span the CPU was read
    ev_span = ev * span / r["window_s"] if r["window_s"] else 0
    open_now = r["streams_open_at_end"] if mem else 0
    lat = r["latency_us"] or {}
    rows.append({
        "proxy": p.name, "clients": clients,
        "established": r["streams_established"],
        "open_at_end": r["streams_open_at_end"],
        "events": ev,
        "lost_events": r.get("lost_events", 0),
        "p50_us": lat.get("p50"), "p99_us": lat.get("p99"),
        "p999_us": lat.get("p999"),
        "pss_kib_per_client": round(
            (mem.get("pss_kib", 0) - idle["pss_kib"])
            / open_now, 1) if open_now else None,
        "rss_kib_per_client": round(
            (mem.get("rss_kib", 0) - idle["rss_kib"])
            / open_now, 1) if open_now else None,
        "threads": mem.get("threads"),
        "cpu_s": round(cpu, 2),
        "cpu_s_per_million_events":
            round(cpu / ev_span * 1e6, 2) if ev_span else None,
        "origin_streams_opened": streams,
        "origin_streams_open": orig.get("open_streams"),
    })


def ratio(a, b):
    return round(a / b, 2) if a and b else None


COLUMNS = ["proxy", "clients", "established", "open_at_end", "events",
           "lost_events", "p50_us", "p99_us", "p999_us",
           "pss_kib_per_client", "rss_kib_per_client", "threads", "cpu_s",
           "cpu_s_per_million_events", "origin_streams_opened",
           "origin_streams_open"]


def report_section(results, md_table, here):
    rows = results.get("broadcast", [])
    if not rows:
        return []
    n = max(r["clients"] for r in rows)
    lines = ["## 8. Broadcast: %s clients of one stream" % format(n, ","), "",
             "sse-load clients (`--mode none`, %d s to get a response "
             "head) of one URL, `%s`, opened at %d/s: 2,000, which this "
             "machine relays with room to spare, then 10,000 (full mode), "
             "which saturates it, as the origin, the proxy and sse-load "
             "share its 2 cores. The origin stamps each event, and "
             "`align=1` makes all its streams send at the same instants "
             "(one event to all clients at once, as in a broadcast; "
             "otherwise each of nginx's backend streams would tick from "
             "its own start, its load spread over the interval). "
             "**mod_sse_proxy-share** is the mod_sse_proxy setup with "
             "`SSEProxyShare On` on the location (ring: the default "
             "`SSEProxyReplay`, 1,000 events / 1M): the first client of "
             "each child opens the backend stream and the others are "
             "served from its ring, so the origin sees one stream per "
             "child (4). nginx relays each client's own backend stream; "
             "mod_proxy_http needs a worker thread per stream, so it gets "
             "1,000 clients (its 16 x 64 workers hold 1,024), and "
             "mod_sse_proxy without sharing is there for comparison (full "
             "mode). *p50/p99/p999*: delivered events, origin's timestamp "
             "to the client's parser (µs). *pss/rss_kib_per_client*: "
             "memory of all the server's processes in the middle of the "
             "window minus the same before its first client, over the "
             "clients open at the end (PSS counts a page shared by n "
             "processes as 1/n in each; RSS counts it in full in each). "
             "*cpu_s_per_million_events*: user+system CPU seconds of the "
             "server's processes over the measured window, per million "
             "events the clients received in it. *origin_streams_opened*: "
             "streams the origin started during the step; "
             "*origin_streams_open*: open in the middle of the window."
             % (TIMEOUT_MS // 1000, PATH, CONNECT_RATE), "",
             md_table(rows, [c for c in COLUMNS if c in rows[0]])]
    by = {(r["proxy"], r["clients"]): r for r in rows}
    out = []
    for k in sorted({r["clients"] for r in rows}):
        s, x = by.get(("mod_sse_proxy-share", k)), by.get(("nginx", k))
        if not (s and x):
            continue
        out.append(
            "%s clients: memory per client %s (PSS), %s (RSS); CPU per "
            "delivered event %s; latency p50 %s, p99 %s; origin streams "
            "open %s against %s"
            % (format(k, ","),
               ratio(s["pss_kib_per_client"], x["pss_kib_per_client"]),
               ratio(s["rss_kib_per_client"], x["rss_kib_per_client"]),
               ratio(s["cpu_s_per_million_events"],
                     x["cpu_s_per_million_events"]),
               ratio(s["p50_us"], x["p50_us"]),
               ratio(s["p99_us"], x["p99_us"]),
               s["origin_streams_open"], x["origin_streams_open"]))
    if out:
        lines.append("Ratios mod_sse_proxy-share / nginx: "
                     + "; ".join(out) + ".\n")
    notes = os.path.join(here, "results", "broadcast-notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            lines.append(f.read().strip() + "\n")
    return lines
