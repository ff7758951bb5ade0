# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""What finished streams cost while they are being closed: the
connections httpd still holds, and its memory, under a steady rate of
stream ends.

sse-load's naive clients (--mode naive) each open a stream that waits
without a thread (its one event comes FIRST_DELAY_MS after the head),
read it to its end, close, and reconnect NAIVE_MS later, so the proxy
sees about STREAMS / (FIRST_DELAY_MS + NAIVE_MS) stream ends per second.
httpd's descriptors and resident memory (VmRSS, parent and children) are
sampled every half second of the measured window; "held" is descriptors
above the idle server's, so client and backend sockets of open streams
plus those of closing connections.

    python3 bench/linger.py [label]      # in a built tree (top_builddir)

Prints one row of the table in docs/benchmarks.md ("Closing
connections").
"""
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
import harness  # noqa: E402
from harness import Httpd, Origin  # noqa: E402
from procstat import group_footprint  # noqa: E402

STREAMS = int(os.environ.get("LINGER_STREAMS", "500"))
FIRST_DELAY_MS = 300
NAIVE_MS = 100
DURATION = float(os.environ.get("LINGER_SECONDS", "20"))
LOAD = os.path.join(harness.TOP_BUILDDIR, "bench", "sse-load")

CONF = """
AsyncRequestWorkerFactor 200
ProxyPass /events {origin}/events
<Location /events>
    SSEProxy On
</Location>
"""


def main():
    label = sys.argv[1] if len(sys.argv) > 1 else "this build"
    work = harness.workdir()
    origin = Origin(work)
    httpd = Httpd(work, CONF.format(origin=origin.url), servers=4,
                  threads=25).start()
    time.sleep(1)
    idle = group_footprint(httpd.proc.pid)
    samples = []
    stop = threading.Event()

    def sample():
        while not stop.wait(0.5):
            samples.append(group_footprint(httpd.proc.pid))

    load = subprocess.Popen(
        [LOAD, "--port", str(httpd.port), "--path",
         "/events?count=1&first_delay_ms=%d" % FIRST_DELAY_MS,
         "--streams", str(STREAMS), "--duration", str(DURATION),
         "--warmup", "3", "--mode", "naive",
         "--naive-interval-ms", str(NAIVE_MS), "--quiet"])
    time.sleep(3 + STREAMS / 2000.0)   # ramp and warm-up
    ends_before = len(httpd.access_log())
    t0 = time.monotonic()
    sampler = threading.Thread(target=sample)
    sampler.start()
    load.wait()
    stop.set()
    sampler.join()
    seconds = time.monotonic() - t0
    ends = len(httpd.access_log()) - ends_before
    httpd.stop()
    origin.stop()
    bad = httpd.unexpected_log_lines()
    harness.remove_workdir(work, keep=bool(bad))
    if bad:
        print("unexpected error-log lines:\n" + "\n".join(bad[:10]))
    held = [s["fds"] - idle["fds"] for s in samples]
    rss = [(s["rss_kib"] - idle["rss_kib"]) / 1024.0 for s in samples]
    print("| %s | %d | %.0f | %.0f | %d | %.0f |" % (
        label, STREAMS, ends / seconds, sum(held) / len(held), max(held),
        sum(rss) / len(rss)))


if __name__ == "__main__":
    main()
