# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Slow start (SSEProxySlowStart) and lbmethod=bystreams, across two
children of the event MPM, counted at the origins."""
import json
import os
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Httpd, Origin, RawClient, wait_for  # noqa: E402
from test_async import Fleet  # noqa: E402

SSE = {"Accept": "text/event-stream"}
SERVERS = 2
WINDOW_S = 12
# connection failures of the scenario, and the balancers' own messages
# about members they find in error
BENIGN = [r"SSE0000[24]", r"SSE0003\d", r"SSE0008[12]", r"AH0095[79]",
          r"AH01114", r"AH00940", r"AH01102", r"AH01097", r"AH00898",
          r"AH01170", r"AH10159"]
MULTIPLIER = {"EXCELLENT": 0.5, "GOOD": 1.0, "FAIR": 1.5, "POOR": 3.0}

SLOW_START_CONF = """
AsyncRequestWorkerFactor 200
SSEProxyJitter none
SSEProxySlowStart {window}s
SSEProxyStrategy PROXY_ERROR initial=2s max=60s factor=2 attempts=8
<Proxy balancer://feed>
    BalancerMember {o1}
    BalancerMember {o2}
    BalancerMember {o3}
    ProxySet forcerecovery=Off
</Proxy>
<Proxy balancer://solo>
    BalancerMember {o4}
    ProxySet forcerecovery=Off
</Proxy>
ProxyPass /events balancer://feed/events
ProxyPass /solo balancer://solo/events
<LocationMatch "^/(events|solo)">
    SSEProxy On
</LocationMatch>
<Location /sse-status>
    SetHandler sse-proxy-status
</Location>
"""

BYSTREAMS_CONF = """
AsyncRequestWorkerFactor 200
<Proxy balancer://b>
    BalancerMember {o1} loadfactor=2
    BalancerMember {o2}
    BalancerMember {o3}
    ProxySet lbmethod=bystreams forcerecovery=Off
</Proxy>
ProxyPass /events balancer://b/events
<Location /events>
    SSEProxy On
</Location>
<Location /sse-status>
    SetHandler sse-proxy-status
</Location>
"""


def status(httpd, fmt="json"):
    c = RawClient(httpd.port, "/sse-status?format=" + fmt)
    body = c.read_to_end()
    c.close()
    return json.loads(body) if fmt == "json" else body.decode()


def member(doc, origin):
    for m in doc["members"]:
        if m["member"] == origin.url:
            return m
    raise AssertionError("no member %s in %r" % (origin.url, doc))


def short_stream(port, path):
    """One stream of a single event: (status, body)."""
    c = RawClient(port, path, headers=SSE)
    try:
        body = c.read_to_end()
        return c.resp.status, body
    finally:
        c.close()


class Driver(threading.Thread):
    """Opens short streams at a steady pace until stopped; counts those
    the policy held back (a 200 whose body is only a retry: and the
    sse-proxy event)."""

    def __init__(self, port, path, per_second):
        super().__init__(daemon=True)
        self.port, self.path = port, path
        self.interval = 1.0 / per_second
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sent = self.held = self.errors = 0
        self.log = []   # (monotonic, held)

    def run(self):
        nxt = time.monotonic()
        while not self.stop.is_set():
            try:
                st, body = short_stream(self.port, self.path)
                held = st == 200 and b"event: sse-proxy" in body
                ok = st == 200
            except OSError:
                held, ok = False, False
            with self.lock:
                self.sent += 1
                self.held += held
                self.errors += not ok
                self.log.append((time.monotonic(), held))
            nxt += self.interval
            delay = nxt - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                nxt = time.monotonic()

    def finish(self):
        self.stop.set()
        self.join(30)


class BalanceCase(unittest.TestCase):
    conf = ""
    origins = 3
    threads = 32
    allowed = ()

    @classmethod
    def setUpClass(cls):
        cls.work = harness.workdir()
        cls.o = [Origin(cls.work, "m%d" % (i + 1)) for i in range(cls.origins)]
        names = {"o%d" % (i + 1): o.url for i, o in enumerate(cls.o)}
        try:
            cls.httpd = Httpd(cls.work, cls.conf.format(window=WINDOW_S,
                                                        **names),
                              servers=SERVERS, threads=cls.threads,
                              loglevel="notice").start()
        except BaseException:
            for o in cls.o:
                o.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.httpd.stop()
        for o in cls.o:
            o.stop()
        bad = cls.httpd.unexpected_log_lines(allowed=BENIGN
                                             + list(cls.allowed))
        harness.remove_workdir(cls.work, keep=bool(bad))
        if bad:
            raise AssertionError("unexpected error-log lines:\n"
                                 + "\n".join(bad[:20]))

    def backoffs(self, origin):
        """The SSE00030 lines of a member: dicts of their fields."""
        out = []
        for line in self.httpd.error_log().splitlines():
            if "SSE00030" in line and "member=%s " % origin.url in line:
                out.append(dict(re.findall(r"(\w+)=(\S+)", line)))
        return out


class SlowStartTest(BalanceCase):
    conf = SLOW_START_CONF
    origins = 4

    def take_out(self, origin, path=None):
        """Makes origin close connections without an answer until its
        member is backed off, with streams on path (or those of a
        driver already running); returns that backoff's line."""
        seen = len(self.backoffs(origin))
        origin.control(mode="refuse")

        def backed_off():
            if path:
                short_stream(self.httpd.port, path)
            lines = self.backoffs(origin)[seen:]
            return lines[0] if lines else None
        try:
            return wait_for(backed_off, timeout=WINDOW_S, interval=0.02,
                            what="a backoff of %s" % origin.name)
        finally:
            origin.control(mode="normal")

    def wait_ramp(self, origin):
        """Waits for the member's slow start to begin; returns the
        monotonic time it began at."""
        def ramping():
            m = member(status(self.httpd), origin)
            s = m["slow_start"]
            if 0 < s["share"] < 1:
                return time.monotonic() - (WINDOW_S * 1000
                                           - s["remaining_ms"]) / 1000.0
            return None
        return wait_for(ramping, timeout=15, interval=0.05,
                        what="slow start of %s" % origin.name)

    def test_1_share_grows_over_the_window(self):
        o1, o2, o3 = self.o[:3]
        self.take_out(o3, "/events?count=1&rate=1000")
        began = self.wait_ramp(o3)
        driver = Driver(self.httpd.port, "/events?count=1&rate=1000", 40)
        buckets, mid = [], None
        driver.start()
        try:
            edges = [began + k * WINDOW_S / 4.0 for k in range(1, 5)]
            edges.append(edges[-1] + 4)
            before = [o.stats()["total_streams"] for o in (o1, o2, o3)]
            for k, edge in enumerate(edges):
                time.sleep(max(0, edge - time.monotonic()))
                now = [o.stats()["total_streams"] for o in (o1, o2, o3)]
                d = [b - a for a, b in zip(before, now)]
                buckets.append((d[2], sum(d)))
                before = now
                if k == 1:
                    mid = (status(self.httpd), status(self.httpd, "prometheus"),
                           status(self.httpd, "html"))
        finally:
            driver.finish()
        shares = [round(a / float(n), 3) if n else 0.0 for a, n in buckets]
        print("\n  slow start, share of new streams at the recovered member "
              "per quarter of the %d s window, then after it: %s (of %s)"
              % (WINDOW_S, shares, [n for _, n in buckets]), file=sys.stderr)
        self.assertEqual(driver.held, 0, "other members could take them")
        self.assertEqual(driver.errors, 0)
        self.assertGreater(min(n for _, n in buckets), 40)
        # small at first, growing, and the whole of it once the window ended
        self.assertLess(shares[0], 0.15, buckets)
        self.assertLess(shares[0], shares[3], buckets)
        self.assertLess(shares[0] + shares[1], shares[2] + shares[3], buckets)
        self.assertGreater(shares[4], 0.25, buckets)
        # the status formats show the ramp in its middle
        doc, prom, html = mid
        s = member(doc, o3)["slow_start"]
        self.assertGreater(s["share"], 0.3)
        self.assertLess(s["share"], 0.8)
        self.assertGreater(s["remaining_ms"], 2000)
        self.assertEqual(member(doc, o1)["slow_start"]["share"], 1.0)
        got = re.search(r'sse_proxy_member_slow_start_share\{balancer="feed",'
                        r'member="%s"\} ([0-9.]+)' % re.escape(o3.url), prom)
        self.assertIsNotNone(got, prom[-3000:])
        self.assertLess(float(got.group(1)), 0.8)
        self.assertRegex(html, r"\d+% of new streams, [0-9.]+ s left")
        after = member(status(self.httpd), o3)["slow_start"]
        self.assertEqual((after["share"], after["remaining_ms"]), (1.0, 0))
        self.assertIn("SSE00082", self.httpd.error_log())

    def test_2_failure_during_slow_start_sends_it_back_out(self):
        o3 = self.o[2]
        first = self.take_out(o3, "/events?count=1&rate=1000")
        self.wait_ramp(o3)
        served = o3.stats()["total_streams"]
        driver = Driver(self.httpd.port, "/events?count=1&rate=1000", 40)
        driver.start()
        try:
            # back in, serving its first streams of the window
            wait_for(lambda: o3.stats()["total_streams"] > served,
                     timeout=WINDOW_S, what="a stream on the member")
            m = member(status(self.httpd), o3)
            self.assertEqual(m["consecutive_failures"], 0)
            self.assertLess(m["slow_start"]["share"], 1.0)
            again = self.take_out(o3)
        finally:
            driver.finish()
        m = member(status(self.httpd), o3)
        self.assertEqual(driver.errors, 0, "failover hides the failures")
        # the outage it came back from goes on: its second attempt, the
        # strategy's next delay (2 s x 2, by the grade it has now)
        self.assertEqual(first["attempt"], "1")
        self.assertEqual(first["delay"], "%dms"
                         % (2000 * MULTIPLIER[first["quality"]]))
        self.assertEqual(again["delay"], "%dms"
                         % (4000 * MULTIPLIER[again["quality"]]))
        self.assertEqual(again["attempt"], "2")
        self.assertEqual(m["consecutive_failures"], 2)
        self.assertFalse(m["usable"])
        self.assertGreater(m["next_retry_in_ms"], 0)
        self.assertRegex(self.httpd.error_log(),
                         r"SSE00081: member=%s balancer=feed failed during "
                         r"slow start at share=\d+%%; back out as attempt 2"
                         % re.escape(o3.url))

    def test_3_alone_it_takes_its_share_and_the_rest_come_back_later(self):
        o4 = self.o[3]
        self.take_out(o4, "/solo?count=1&rate=1000")
        began = self.wait_ramp(o4)
        driver = Driver(self.httpd.port, "/solo?count=1&rate=1000", 30)
        driver.start()
        time.sleep(max(0, began + WINDOW_S + 2 - time.monotonic()))
        driver.finish()
        third = [h for t, h in driver.log if t < began + WINDOW_S / 3.0]
        last = [h for t, h in driver.log if t > began + WINDOW_S]
        print("\n  alone in slow start: %d of %d streams held back in the "
              "first third, %d of %d after the window"
              % (sum(third), len(third), sum(last), len(last)),
              file=sys.stderr)
        self.assertEqual(driver.errors, 0)
        self.assertGreater(sum(third), 0.5 * len(third))
        self.assertLess(sum(third), len(third))
        self.assertEqual(sum(last), 0)
        doc = status(self.httpd)
        self.assertEqual(member(doc, o4)["slow_start"]["held"], driver.held)
        prom = status(self.httpd, "prometheus")
        self.assertIn('sse_proxy_member_slow_start_held_total{balancer="solo",'
                      'member="%s"} %d' % (o4.url, driver.held), prom)


class ByStreamsTest(BalanceCase):
    conf = BYSTREAMS_CONF
    # The synchronous relay needs a thread per stream; either relay waits
    # for an answer's head on a thread, and the POOR member's 100 come
    # 2.1 s late.
    N = 1000 if harness.ASYNC == "on" else 150
    threads = 80 if harness.ASYNC == "on" else 100
    # the burst of 1,000 keeps every worker waiting for heads a while
    allowed = [r"AH00484"]

    def warm_up(self):
        """Streams until every member has the three latency samples a
        grade needs."""
        def graded():
            fleet = Fleet(self.httpd.port, "/events?count=1&rate=100", 12)
            try:
                fleet.pump(lambda f: f.all(lambda r: r.endswith(
                    b"\r\n0\r\n\r\n")), timeout=20)
            finally:
                fleet.close()
            doc = status(self.httpd)
            ms = [member(doc, o) for o in self.o]
            if all(m["latency_samples"] >= 3 for m in ms):
                return ms
            return None
        return wait_for(graded, timeout=60, interval=0, what="grades")

    def test_streams_in_proportion_to_loadfactor_and_grade(self):
        o1, o2, o3 = self.o
        # answers in 200 ms: GOOD; in 2.1 s: POOR
        o1.control(head_delay_ms=200)
        o2.control(head_delay_ms=200)
        o3.control(head_delay_ms=2100)
        ms = self.warm_up()
        self.assertEqual([m["quality"] for m in ms], ["GOOD", "GOOD", "POOR"])
        base = [o.stats()["open_streams"] for o in self.o]
        self.assertEqual(base, [0, 0, 0])
        fleet = Fleet(self.httpd.port, "/events?rate=0.2", self.N)
        try:
            def all_open():
                fleet.pump(lambda f: False, 0.2)
                return sum(o.stats()["open_streams"] for o in self.o) \
                    >= self.N
            wait_for(all_open, timeout=60, interval=0,
                     what="%d streams open" % self.N)
            counts = [o.stats()["open_streams"] for o in self.o]
            doc = status(self.httpd)
            prom = status(self.httpd, "prometheus")
            html = status(self.httpd, "html")
        finally:
            fleet.close()
        ms = [member(doc, o) for o in self.o]
        weights = [m["stream_weight"] for m in ms]
        total = sum(weights)
        expected = [self.N * w / total for w in weights]
        print("\n  bystreams, %d streams: %s at the origins, expected %s "
              "(weights %s, grades %s)"
              % (self.N, counts, [round(e, 1) for e in expected], weights,
                 [m["quality"] for m in ms]), file=sys.stderr)
        # loadfactor 2, 1, 1 times GOOD 1, GOOD 1, POOR 1/3
        self.assertEqual(weights, [2.0, 1.0, 0.3333])
        self.assertEqual(sum(counts), self.N)
        for got, want in zip(counts, expected):
            self.assertLess(abs(got - want), 0.03 * self.N,
                            (counts, expected))
        self.assertLess(counts[2], counts[1])
        # the status page counts them as the origins do
        self.assertEqual([m["open_streams"] for m in ms], counts)
        for o, n in zip(self.o, counts):
            self.assertIn('sse_proxy_member_open_streams{balancer="b",'
                          'member="%s"} %d' % (o.url, n), prom)
            self.assertIn("<td>%d</td>" % n, html)


AFFINITY_CONF = """
AsyncRequestWorkerFactor 200
<Proxy balancer://b>
    BalancerMember {o1}
    BalancerMember {o2}
    ProxySet lbmethod=bystreams forcerecovery=Off
</Proxy>
<Location /mcp>
    ProxyPass balancer://b/mcp
    SSEProxy On
    SSEProxySessionHeader Mcp-Session-Id
</Location>
ProxyPass /events balancer://b/events
<Location /events>
    SSEProxy On
</Location>
<Location /sse-status>
    SetHandler sse-proxy-status
</Location>
"""


class AffinityTest(BalanceCase):
    """A session's streams stay on its member whatever bystreams would
    choose, and count there: new streams go to the other member until
    the loads are even."""
    conf = AFFINITY_CONF
    origins = 2
    PINNED = 8

    def test_sessions_pin_and_count(self):
        body = b'{"jsonrpc":"2.0","id":1,"method":"initialize"}'
        c = RawClient(self.httpd.port, "/mcp", method="POST", body=body,
                      headers={"Content-Type": "application/json",
                               "Accept": "application/json, "
                                         "text/event-stream",
                               "Content-Length": str(len(body))})
        c.read_to_end()
        c.close()
        sid = c.resp.headers["mcp-session-id"]
        owner = c.resp.headers["x-origin-name"]
        mine = self.o[0] if owner == "m1" else self.o[1]
        other = self.o[1] if mine is self.o[0] else self.o[0]
        pinned, fresh = [], []
        try:
            for _ in range(self.PINNED):
                s = RawClient(self.httpd.port, "/mcp",
                              headers={"Accept": "text/event-stream",
                                       "Mcp-Session-Id": sid})
                self.assertEqual(s.resp.status, 200)
                self.assertEqual(s.resp.headers["x-origin-name"], owner)
                pinned.append(s)
            doc = status(self.httpd)
            self.assertEqual(member(doc, mine)["open_streams"], self.PINNED)
            self.assertEqual(member(doc, other)["open_streams"], 0)
            # the next new streams even the loads out first
            for k in range(self.PINNED + 2):
                s = RawClient(self.httpd.port, "/events?rate=1",
                              headers=SSE)
                self.assertEqual(s.resp.status, 200)
                fresh.append(s.resp.headers["x-origin-name"])
                pinned.append(s)
            doc = status(self.httpd)
        finally:
            for s in pinned:
                s.close()
        self.assertEqual(fresh[:self.PINNED], [other.name] * self.PINNED,
                         fresh)
        self.assertEqual(sorted(fresh[self.PINNED:]), ["m1", "m2"], fresh)
        self.assertEqual([member(doc, o)["open_streams"] for o in self.o],
                         [self.PINNED + 1] * 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
