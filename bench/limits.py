# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""A reconnect loop against SSEProxyReconnectRate, beside well-behaved
EventSources.

NAIVE clients (sse-load --mode naive, each from its own 127/8 address)
open a stream that ends after one event and reconnect NAIVE_MS later,
whatever they were told: a broken page in a loop.  Beside them, GOOD
EventSource clients (--mode eventsource, their own addresses too) hold
long streams.  The same run is made twice through one httpd
configuration each: without a limit, and with `SSEProxyReconnectRate
10/m`.  What is recorded: stream requests the origin got, the naive
requests answered and how long their answer took (first byte), httpd's
CPU time, and the EventSources' events, latency and failures.

    python3 bench/limits.py          # in a built tree (top_builddir)

Prints the table of docs/benchmarks.md ("Reconnect limits").
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
import harness  # noqa: E402
from harness import Httpd, Origin  # noqa: E402
from procstat import group_usage  # noqa: E402

NAIVE = int(os.environ.get("LIMITS_NAIVE", "200"))
GOOD = int(os.environ.get("LIMITS_GOOD", "100"))
NAIVE_MS = 100
DURATION = float(os.environ.get("LIMITS_SECONDS", "20"))
LOAD = os.path.join(harness.TOP_BUILDDIR, "bench", "sse-load")

CONF = """
AsyncRequestWorkerFactor 200
<Location /events>
    ProxyPass {origin}/events
    SSEProxy On
    {limit}
</Location>
"""


def load(port, path, n, mode, source, out):
    return subprocess.Popen(
        [LOAD, "--port", str(port), "--path", path, "--streams", str(n),
         "--duration", str(DURATION), "--mode", mode,
         "--naive-interval-ms", str(NAIVE_MS), "--source-base", source,
         "--quiet", "--json", out],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(work, limit):
    origin = Origin(work)
    httpd = Httpd(work, CONF.format(origin=origin.url, limit=limit),
                  servers=2, threads=25).start()
    try:
        time.sleep(1)
        cpu0 = group_usage(httpd.proc.pid)["cpu_s"]
        req0 = origin.stats()["total_requests"]
        naive_json = os.path.join(work, "naive-%d.json" % bool(limit))
        good_json = os.path.join(work, "good-%d.json" % bool(limit))
        good = load(httpd.port, "/events?rate=10", GOOD, "eventsource",
                    "127.0.4.1", good_json)
        naive = load(httpd.port, "/events?rate=20&count=1", NAIVE, "naive",
                     "127.0.3.1", naive_json)
        naive.wait()
        good.wait()
        cpu = group_usage(httpd.proc.pid)["cpu_s"] - cpu0
        # the stats request itself is one more
        origin_requests = origin.stats()["total_requests"] - req0 - 1
    finally:
        httpd.stop()
        origin.stop()
    with open(naive_json) as f:
        n = json.load(f)
    with open(good_json) as f:
        g = json.load(f)
    return {
        "limit": limit or "none",
        "naive_requests": n["requests_sent"],
        "naive_statuses": n["responses_by_status"],
        "naive_first_byte_ms_p50": n["first_byte_ms"]["p50"],
        "naive_first_byte_ms_p99": n["first_byte_ms"]["p99"],
        "origin_requests": origin_requests,
        "httpd_cpu_s": round(cpu, 2),
        "good_events": g["events"],
        "good_latency_us_p99": g["latency_us"]["p99"],
        "good_failed_for_good": g["eventsource"]["failed_for_good"],
        "good_breaks": g["eventsource"]["breaks"],
    }


def main():
    if not os.access(LOAD, os.X_OK):
        sys.exit("bench/sse-load is not built")
    work = harness.workdir()
    rows = []
    try:
        for limit in ("", "SSEProxyReconnectRate 10/m"):
            rows.append(run(work, limit))
    finally:
        harness.remove_workdir(work)
    print(json.dumps(rows, indent=1))
    print()
    print("| limit | naive requests | answered by the origin | naive answer "
          "first byte p50 / p99 | httpd CPU | EventSource events | their "
          "p99 latency | their breaks, failures |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %d | %d | %.2f / %.2f ms | %.1f s | %d | %.0f µs | %d, %d |"
              % (r["limit"], r["naive_requests"], r["origin_requests"],
                 r["naive_first_byte_ms_p50"] or 0,
                 r["naive_first_byte_ms_p99"] or 0, r["httpd_cpu_s"],
                 r["good_events"], r["good_latency_us_p99"] or 0,
                 r["good_breaks"], r["good_failed_for_good"]))


if __name__ == "__main__":
    main()
