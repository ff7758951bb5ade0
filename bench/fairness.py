# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Fairness scenarios of bench/run.py: clients that stop reading, and
newcomers while the proxy is saturated.

* slowreaders: healthy streams at 5 events/s alone, then beside 1,000
  clients (200 when quick) that connect, ask for a fast stream and never
  read (a 2 KiB receive buffer, so their sockets fill at once): how many
  of their events arrive, and their latency against the run alone.
* newcomers: streams relayed as fast as the origin, the proxy and
  sse-load go, then new streams arriving 0.2 s apart: the time from
  connect to each newcomer's first event.
"""
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time

import harness

SLOW_PATH = "/events?rate=0&size=2000"
SATURATING_PATH = "/events?rate=0&size=64"
# newcomers arrive this far apart
STAGGER_S = 0.2


def request(path):
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Accept: text/event-stream\r\n\r\n" % path).encode()


def non_readers(port, n):
    out = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        s.settimeout(10)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(request(SLOW_PATH))
        except OSError:
            s.close()
            continue
        out.append(s)
    return out


def until_origin_quiet(origin, limit=60):
    """Until the origin has sent nothing for 1.5 s: the non-readers and
    the proxy's share of their streams are full."""
    sent, still, end = -1, 0, time.monotonic() + limit
    while still < 3 and time.monotonic() < end:
        time.sleep(0.5)
        now = origin.stats()["events_sent"]
        still = still + 1 if now == sent else 0
        sent = now


def scenario_slowreaders(work, q, rows, make_proxies, load, log, which):
    stuck_n, healthy, rate = (200 if q else 1000), 50, 5
    # A p99 over one short window on a shared machine swings tenfold from
    # one run of the same setup to the next, and the swings come in
    # spells: the full run alternates rounds alone and beside the clients
    # that do not read, and reports the median round of each.
    duration, rounds = (3, 1) if q else (5, 3)
    path = "/events?rate=%d" % rate
    for kind in which:
        origin = harness.Origin(work, "origin")
        p = next(make_proxies(work, origin, [kind]))
        alone, beside, stuck, stuck_open = [], [], [], 0
        try:
            for i in range(rounds):
                log("slowreaders: %s, round %d: %d streams x %d events/s "
                    "for %d s alone, then beside %d clients that never read"
                    % (p.name, i + 1, healthy, rate, duration, stuck_n))
                # the same healthy streams alone: what the clients that do
                # not read add to their latency is the difference
                alone.append(load(p.port, path, healthy, duration, warmup=2))
                stuck = non_readers(p.port, stuck_n)
                stuck_open = len(stuck)
                until_origin_quiet(origin)
                beside.append(load(p.port, path, healthy, duration, warmup=2))
                close_all(stuck)
                stuck = []
                if i + 1 < rounds:
                    time.sleep(2)
            per = sum(r["events"] for r in beside) / float(healthy * rounds)
            expected = rate * duration
            p50_0, p99_0 = median_of(alone, "p50"), median_of(alone, "p99")
            p50, p99 = median_of(beside, "p50"), median_of(beside, "p99")
            rows.append({"proxy": p.name, "non_readers": stuck_open,
                         "healthy": healthy,
                         "healthy_established": min(
                             r["streams_established"] for r in beside),
                         "events_per_healthy_stream": round(per, 1),
                         "expected": expected,
                         "pct_of_expected": round(100.0 * per / expected, 1),
                         "p50_us_alone": p50_0, "p99_us_alone": p99_0,
                         "p50_us": p50, "p99_us": p99,
                         "p50_ratio": ratio(p50, p50_0),
                         "p99_ratio": ratio(p99, p99_0),
                         "p99_us_rounds": " / ".join(
                             "%.0f-%.0f" % (a["latency_us"]["p99"],
                                            b["latency_us"]["p99"])
                             for a, b in zip(alone, beside))})
        finally:
            close_all(stuck)
            p.stop()
            origin.stop()


def close_all(socks):
    for s in socks:
        s.close()


def median_of(results, key):
    values = sorted(r["latency_us"][key] for r in results
                    if r["latency_us"][key] is not None)
    return values[len(values) // 2] if values else None


def ratio(a, b):
    return round(a / b, 2) if a is not None and b else None


def staggered(fn, n):
    """fn() started n times, STAGGER_S apart, each on its own thread:
    newcomers arrive one after another, and one that waits its whole
    patience does not delay the next one's arrival."""
    out = [None] * n

    def one(i):
        out[i] = fn()

    threads = []
    for i in range(n):
        t = threading.Thread(target=one, args=(i,))
        t.start()
        threads.append(t)
        time.sleep(STAGGER_S)
    for t in threads:
        t.join()
    return out


def first_event_s(port, timeout):
    """Seconds from connect to the first event; None past timeout."""
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout)
    except OSError:
        return None
    try:
        s.sendall(request("/events?rate=1"))
        raw = b""
        while b"id: 1\n" not in raw:
            left = timeout - (time.monotonic() - t0)
            if left <= 0:
                return None
            s.settimeout(left)
            data = s.recv(65536)
            if not data:
                return None
            raw += data
        return time.monotonic() - t0
    except OSError:
        return None
    finally:
        s.close()


def scenario_newcomers(work, q, rows, make_proxies, loadbin, log, which):
    saturating, newcomers = (500, 5) if q else (1000, 50)
    patience, fill_s, settle = 10.0, (4 if q else 20), (1 if q else 2)
    for kind in which:
        origin = harness.Origin(work, "origin")
        p = next(make_proxies(work, origin, [kind]))
        proc = None
        try:
            log("newcomers: %s, %d saturating streams, then %d newcomers "
                "%.1f s apart" % (p.name, saturating, newcomers, STAGGER_S))
            out = tempfile.mktemp(prefix="load-", suffix=".json")
            proc = subprocess.Popen(
                [loadbin, "--port", str(p.port), "--path", SATURATING_PATH,
                 "--streams", str(saturating), "--duration", "600",
                 "--quiet", "--json", out],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # as many as get through in fill_s
            end = time.monotonic() + fill_s
            while (time.monotonic() < end
                   and origin.stats()["open_streams"] < saturating):
                time.sleep(0.5)
            time.sleep(settle)
            open_before = origin.stats()["open_streams"]
            waits = staggered(lambda: first_event_s(p.port, patience),
                              newcomers)
            got = sorted(w for w in waits if w is not None)
            rows.append({
                "proxy": p.name, "saturating_requested": saturating,
                "saturating_open": open_before, "newcomers": newcomers,
                "first_event_within_10s": len(got),
                "median_s": (round(statistics.median(got), 3)
                             if got else None),
                "p90_s": (round(got[int(0.9 * (len(got) - 1))], 3)
                          if got else None),
                "max_s": round(got[-1], 3) if got else None})
        finally:
            if proc:
                proc.terminate()
                proc.wait(30)
            try:
                os.unlink(out)
            except OSError:
                pass
            p.stop()
            origin.stop()


def report_section(results):
    lines = []
    slow = results.get("slowreaders", [])
    if slow:
        lines += ["## 6. Clients that do not read", "",
                  "50 healthy sse-load streams at 5 events/s alone, then "
                  "the same beside clients that connect, ask for a stream "
                  "the origin sends as fast as it is taken (2,000-byte "
                  "pads) and never read (2 KiB receive buffer), once the "
                  "origin has stopped sending to them: events each healthy "
                  "stream received per round (of `expected`), and its per-event "
                  "latency (origin's send timestamp to arrival, us) alone "
                  "and beside them. The full run alternates three 5 s "
                  "rounds alone and beside and reports the median round's "
                  "p50 and p99 (`p99_us_rounds`: each round's p99 alone-"
                  "beside); `p50_ratio` and `p99_ratio` are beside / "
                  "alone.", ""]
        lines.append(md(slow))
    new = results.get("newcomers", [])
    if new:
        lines += ["## 7. Newcomers under saturation", "",
                  "1,000 sse-load streams the origin sends as fast as they "
                  "are taken (64-byte pads); then new streams arriving "
                  "0.2 s apart, each timed from connect to its first "
                  "event (given up after 10 s). `saturating_open` is how "
                  "many of the saturating streams the origin had open "
                  "when the newcomers began (after at most 20 s).", ""]
        lines.append(md(new))
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "results", "fairness-notes.md")
    if (slow or new) and os.path.exists(notes):
        with open(notes) as f:
            lines.append(f.read().strip() + "\n")
    return lines


def md(rows):
    cols = list(rows[0].keys())
    out = ["| " + " | ".join(cols) + " |",
           "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join("" if r.get(c) is None else str(r[c])
                                     for c in cols) + " |")
    return "\n".join(out) + "\n"
