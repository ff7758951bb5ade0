# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""The benchmarks' HTTP/2 client: many event streams multiplexed over a
few h2c connections (prior knowledge), on the python h2 library
(test/integration/h2client.py).  sse-load speaks HTTP/1.1 only.

Python parses far fewer events per second than sse-load, so the HTTP/2
rows run fewer events per second: compare them with each other (the
module against nginx, through the same client), not with the HTTP/1.1
rows."""
import math
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
from h2client import H2Client, pump, warm_up  # noqa: E402

# streams per connection: under H2MaxSessionStreams (100) and nginx's
# http2_max_concurrent_streams (128), and under what mod_http2 lets a
# connection run once warmed up (96 after five rounds)
PER_CONN = 90
T_FIELD = re.compile(rb'"t":(\d+)')


def connect(port, streams):
    conns = [H2Client(port, False, timeout=60, window=1 << 20)
             for _ in range(int(math.ceil(streams / float(PER_CONN))))]
    # lets mod_http2 run up to PER_CONN streams of each; for nginx,
    # a few requests that it answers 404
    warm_up(conns, "/warm-up", 6)
    return conns


def open_streams(conns, streams, path):
    out = []
    for i in range(streams):
        c = conns[i % len(conns)]
        out.append((c, c.get(path)))
    return out


def idle(port, streams, hold, path):
    """Opens streams, waits for their heads (or hold seconds), holds them
    hold seconds more, and counts those answered and still open."""
    conns = connect(port, streams)
    try:
        sids = open_streams(conns, streams, path)

        def answered():
            return sum(1 for c, s in sids if c.status.get(s) == "200")
        try:
            pump(conns, lambda: answered() >= streams, hold + 30,
                 "stream heads")
        except AssertionError:
            pass
        est = answered()
        end = time.monotonic() + hold
        try:
            pump(conns, lambda: time.monotonic() > end, hold + 5, "hold")
        except AssertionError:
            pass
        open_now = sum(1 for c, s in sids if c.status.get(s) == "200"
                       and s not in c.ended)
        return {"streams_established": est, "streams_open_at_end": open_now,
                "conns": conns}
    except BaseException:
        for c in conns:
            c.close()
        raise


def close(conns):
    for c in conns:
        c.close()


def pct(values, q):
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))]


def latency(port, streams, duration, warmup, path):
    """Per-event latency (µs) from the origin's timestamp (CLOCK_MONOTONIC
    in the event, "t") to this client's parse, over duration seconds
    after warmup seconds."""
    conns = connect(port, streams)
    lat = []
    bufs = {}
    counting = [False]

    def on_data(c):
        def cb(sid, data):
            key = (id(c), sid)
            buf = bufs.get(key, b"") + data
            *events, rest = buf.split(b"\n\n")
            bufs[key] = rest
            if counting[0]:
                now = time.monotonic_ns()
                for ev in events:
                    m = T_FIELD.search(ev)
                    if m:
                        lat.append((now - int(m.group(1))) / 1000.0)
        return cb
    try:
        for c in conns:
            c.on_data = on_data(c)
        open_streams(conns, streams, path)
        start = time.monotonic()
        pump(conns, lambda: time.monotonic() > start + warmup,
             warmup + 30, "warm-up")
        counting[0] = True
        end = time.monotonic() + duration
        pump(conns, lambda: time.monotonic() > end, duration + 30,
             "the run")
    finally:
        close(conns)
    lat.sort()
    return {"events": len(lat),
            "latency_us": {"p50": pct(lat, 0.5), "p99": pct(lat, 0.99),
                           "p999": pct(lat, 0.999),
                           "max": lat[-1] if lat else None}}
