# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""The failure policy: classified, quality-scaled backoff of balancer
members, failover, and answers an EventSource can act on."""
import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Httpd, Origin, RawClient, data_events, wait_for  # noqa: E402

SSE = {"Accept": "text/event-stream"}
BENIGN = [r"AH00171", r"AH0330[23]", r"SSE0003\d", r"AH10187", r"SSE0000[246]", r"AH0095[79]", r"AH01114",
          r"AH00940", r"AH01102", r"AH01165", r"AH00933", r"AH01097",
          r"AH00898", r"AH01167", r"AH01170"]


def decisions(httpd, member=None):
    """(pid, verb, fields) of every backoff decision in the error log."""
    out = []
    for line in httpd.error_log().splitlines():
        m = re.search(r"\[pid (\d+).*SSE00030: (backoff|give-up) (.*)", line)
        if not m:
            continue
        fields = dict(kv.split("=", 1) for kv in m.group(3).split())
        if member and fields["member"] != member:
            continue
        out.append((int(m.group(1)), m.group(2), fields))
    return out


def up(origin):
    try:
        return origin.stats()["mode"] == "normal"
    except OSError:
        return False


def retry_of(body):
    m = re.search(rb"^retry: (\d+)$", body, re.M)
    return int(m.group(1)) if m else None


def manager_page(httpd):
    c = RawClient(httpd.port, "/manager")
    body = c.read_to_end().decode()
    c.close()
    return body


# These tests are about what follows once an answer counts against a
# member, so every 5xx counts at once; test_abuse.py tests which statuses
# count by default, the threshold and the share cap.
COUNT_EVERY_5XX = """
SSEProxyMemberFailure 500-599
SSEProxyMemberFailureThreshold 1
SSEProxyMemberFailureShare 100
"""


class PolicyBase(unittest.TestCase):
    origins = 1
    conf = ""
    servers = 1
    extra_modules = ()
    threads = 16

    @classmethod
    def setUpClass(cls):
        cls.work = harness.workdir()
        cls.o = [Origin(cls.work, "origin%d" % (i + 1))
                 for i in range(cls.origins)]
        urls = {"o%d" % (i + 1): o.url for i, o in enumerate(cls.o)}
        cls.httpd = Httpd(cls.work, COUNT_EVERY_5XX + cls.conf.format(**urls) + """
<Location /manager>
    SetHandler balancer-manager
</Location>
""", servers=cls.servers, threads=cls.threads,
                          extra_modules=cls.extra_modules).start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.stop()
        for o in cls.o:
            o.stop()
        bad = cls.httpd.unexpected_log_lines(allowed=BENIGN)
        harness.remove_workdir(cls.work, keep=bool(bad))
        if bad:
            raise AssertionError("unexpected error-log lines:\n" + "\n".join(bad[:20]))

    def get(self, path, headers=None, timeout=10):
        c = RawClient(self.httpd.port, path, headers=headers)
        body = c.read_to_end(timeout=timeout)
        c.close()
        return c.resp, body


class TableWalkTest(PolicyBase):
    """1. delays per class follow the strategy table exactly (jitter none).
    forcerecovery On lets a lone member be retried at once after each
    failure, so a whole table is walked in a few requests; each class gets
    a fresh member, whose grade is GOOD (fewer than three samples)."""
    origins = 3
    conf = """
SSEProxyJitter none
<Proxy balancer://p>
    BalancerMember {o1}
    ProxySet forcerecovery=On
</Proxy>
<Proxy balancer://s>
    BalancerMember {o2}
    ProxySet forcerecovery=On
</Proxy>
<Proxy balancer://n>
    BalancerMember {o3}
    ProxySet forcerecovery=On
</Proxy>
<Location /p>
    ProxyPass balancer://p/events
    SSEProxy On
</Location>
<Location /s>
    ProxyPass balancer://s/events
    SSEProxy On
</Location>
<Location /n>
    ProxyPass balancer://n/events
    SSEProxy On
</Location>
"""

    def walk(self, route, origin, cls_name, expected):
        member = origin.url
        for i, _ in enumerate(expected):
            resp, body = self.get(route, headers=SSE)
            gave_up = decisions(self.httpd, member)[-1][1] == "give-up"
            # SSEProxyGiveUp 204 (the default) once the member gave up
            self.assertEqual(resp.status, 204 if gave_up else 200)
            if not gave_up:
                self.assertIsNotNone(retry_of(body))
                self.assertIn(cls_name.encode(), body)
        got = decisions(self.httpd, member)
        self.assertEqual([int(f["delay"][:-2]) for _, _, f in got], expected)
        self.assertEqual({f["class"] for _, _, f in got}, {cls_name})
        self.assertEqual({f["quality"] for _, _, f in got}, {"GOOD"})
        self.assertEqual([int(f["attempt"]) for _, _, f in got],
                         list(range(1, len(expected) + 1)))
        return got

    def recover(self, route):
        resp, body = self.get(route + "?count=1", headers=SSE)
        self.assertEqual(resp.status, 200)
        self.assertEqual(len(data_events(body)), 1)

    def test_proxy_error_503(self):
        self.o[0].control(mode="status", status=503)
        got = self.walk("/p", self.o[0], "PROXY_ERROR",
                        [15000, 37500, 93750, 234375, 900000])
        self.assertEqual([v for _, v, _ in got],
                         ["backoff"] * 4 + ["give-up"])
        # mod_proxy's own worker state: the member is in error
        self.assertRegex(manager_page(self.httpd), r"<td>Init Err\s*</td>")
        self.o[0].control(mode="normal")
        self.recover("/p")
        self.assertIn("SSE00031", self.httpd.error_log())
        self.assertNotRegex(manager_page(self.httpd), r"<td>Init Err\s*</td>")

    def test_server_error_500(self):
        self.o[1].control(mode="status", status=500)
        self.walk("/s", self.o[1], "SERVER_ERROR",
                  [10000, 18000, 32400, 58320, 104976, 180000, 180000])
        self.o[1].control(mode="normal")
        self.recover("/s")

    def test_network_error_refused(self):
        self.o[2].control(mode="down", for_ms=60000)
        try:
            self.walk("/n", self.o[2], "NETWORK_ERROR",
                      [5000, 7500, 11250, 16875, 25312, 37968, 56953, 85429,
                       300000])
        finally:
            os.kill(self.o[2].proc.pid, signal.SIGUSR1)
        wait_for(lambda: up(self.o[2]), what="origin back")
        self.recover("/n")


class RetryWindowTest(PolicyBase):
    """1. the delay is mod_proxy's retry window: with forcerecovery Off the
    balancer itself keeps the member out until it is due."""
    conf = """
SSEProxyJitter none
SSEProxyStrategy PROXY_ERROR initial=1500ms max=1m factor=2 attempts=4
<Proxy balancer://one>
    BalancerMember {o1}
    ProxySet forcerecovery=Off
</Proxy>
<Location /events>
    ProxyPass balancer://one/events
    SSEProxy On
</Location>
"""

    def test_window(self):
        origin = self.o[0]
        self.get("/events?status=503&n=1", headers=SSE)
        self.assertEqual(decisions(self.httpd)[-1][2]["delay"], "1500ms")
        seen = len(origin.requests())
        # inside the window: answered by the policy, the origin sees nothing
        resp, body = self.get("/events?status=503&n=2", headers=SSE)
        self.assertEqual(resp.status, 200)
        self.assertTrue(500 <= retry_of(body) <= 1500 + 5000)
        self.assertEqual(len(origin.requests()), seen)
        time.sleep(1.7)
        # due again: the member is tried, fails, and goes out for 3 s
        self.get("/events?status=503&n=3", headers=SSE)
        self.assertEqual(len(origin.requests()), seen + 1)
        self.assertEqual(decisions(self.httpd)[-1][2]["delay"], "3000ms")
        self.assertEqual(decisions(self.httpd)[-1][2]["attempt"], "2")


class QualityTest(PolicyBase):
    """2. a slow member is graded FAIR or POOR and its delays scale."""
    conf = """
SSEProxyJitter none
<Proxy balancer://fair>
    BalancerMember {o1}
    ProxySet forcerecovery=On
</Proxy>
<Proxy balancer://poor>
    BalancerMember {o1}
    ProxySet forcerecovery=On
</Proxy>
<Location /fair>
    ProxyPass balancer://fair/events
    SSEProxy On
</Location>
<Location /poor>
    ProxyPass balancer://poor/events
    SSEProxy On
</Location>
"""

    def grade_then_fail(self, route, delay_ms):
        # three answers that took delay_ms each: enough samples to grade
        for _ in range(3):
            resp, body = self.get("%s?count=1&head_delay_ms=%d"
                                  % (route, delay_ms), headers=SSE)
            self.assertEqual(len(data_events(body)), 1)
        self.get(route + "?status=503", headers=SSE)
        return decisions(self.httpd)[-1][2]

    def test_fair(self):
        d = self.grade_then_fail("/fair", 700)
        self.assertEqual((d["quality"], d["delay"]), ("FAIR", "22500ms"))

    def test_poor(self):
        d = self.grade_then_fail("/poor", 2100)
        self.assertEqual((d["quality"], d["delay"]), ("POOR", "45000ms"))


class FailoverTest(PolicyBase):
    """3. a failing member is skipped without the client noticing."""
    origins = 2
    conf = """
<Proxy balancer://two>
    BalancerMember {o1}
    BalancerMember {o2}
    ProxySet forcerecovery=Off
</Proxy>
<Location /events>
    ProxyPass balancer://two/events
    SSEProxy On
</Location>
"""

    def test_failover(self):
        self.o[0].control(mode="status", status=503)
        for _ in range(6):
            resp, body = self.get("/events?count=2", headers=SSE)
            self.assertEqual(resp.status, 200)
            events = data_events(body)
            self.assertEqual([e["id"] for e in events], ["1", "2"])
            self.assertTrue(all('"origin2"' in e["data"] for e in events))
        got = decisions(self.httpd, self.o[0].url)
        self.assertEqual(len(got), 1)   # out after one failure, not retried
        self.assertEqual(got[0][2]["class"], "PROXY_ERROR")


class AllDownTest(PolicyBase):
    """4./5./8. every member down: EventSource clients get a spread retry:,
    give-up gives 204, others 503 + Retry-After, streams resume."""
    origins = 2
    conf = """
SSEProxyStrategy NETWORK_ERROR initial=1s max=4s factor=2 attempts=3
SSEProxyStrategy PROXY_ERROR initial=1s max=4s factor=2 attempts=2
<Proxy balancer://pair>
    BalancerMember {o1}
    BalancerMember {o2}
    ProxySet forcerecovery=Off
</Proxy>
<Location /events>
    ProxyPass balancer://pair/events
    SSEProxy On
</Location>
<Location /giveup>
    ProxyPass balancer://pair/events
    SSEProxy On
    SSEProxyGiveUp 204
</Location>
"""

    def test_a_all_down_retry_spread_and_resume(self):
        live = RawClient(self.httpd.port, "/events?rate=20", headers=SSE)
        live.read_until(lambda b: b.count(b"}\n\n") >= 3)
        for o in self.o:
            o.control(mode="down", for_ms=2500)
        # 8. the live stream ends cleanly, with a retry: from the policy
        body = live.read_to_end(timeout=10)
        self.assertTrue(live.resp.complete)
        last_id = [e for e in data_events(body) if "id" in e][-1]["id"]
        # the policy's hint: a retry: line, and the same as a named event
        # for pages (sent only between events, as here)
        self.assertRegex(body.rsplit(b"}\n\n", 1)[1], rb"retry: \d+\n")
        self.assertIn(b"event: sse-proxy\ndata: {\"retry\":", body)
        live.close()

        hints = []
        for _ in range(100):
            resp, body = self.get("/events", headers=SSE)
            self.assertEqual(resp.status, 200)
            self.assertTrue(resp.headers["content-type"].startswith("text/event-stream"))
            hints.append(retry_of(body))
            # refused connects, or the stream that broke off before
            self.assertRegex(body, rb"(NETWORK|PROXY)_ERROR")
        self.assertTrue(all(h is not None for h in hints))
        # due + equal jitter of the 1 s initial ([500, 1000]), capped by
        # the class maximum of 4 s.  Due is at most 1 s while the members'
        # first backoff lasts; on a slow machine the 100 requests outlast
        # it, the members are probed, fail again and are out for up to 2 s
        # more.
        self.assertTrue(all(500 <= h <= 4000 for h in hints), hints)
        self.assertGreater(len(set(hints)), 30, "retry: values are not spread")

        # origins return; the client comes back after its retry: and resumes
        wait_for(lambda: all(up(o) for o in self.o), timeout=10,
                 what="origins back")
        time.sleep(max(hints) / 1000.0)
        def resumed():
            resp, body = self.get("/events?count=%d" % (int(last_id) + 2),
                                  headers=dict(SSE, **{"Last-Event-ID": last_id}))
            ev = data_events(body)
            return ev if resp.status == 200 and ev else None
        events = wait_for(resumed, timeout=10, interval=0.5, what="resume")
        self.assertEqual([e["id"] for e in events],
                         [str(int(last_id) + 1), str(int(last_id) + 2)])

    def test_b_give_up_and_non_sse_clients(self):
        wait_for(lambda: all(up(o) for o in self.o), timeout=10,
                 what="origins back")
        for o in self.o:
            o.control(mode="status", status=502)
        # walk both members to give-up (3 attempts, 4 s max)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            resp, _ = self.get("/giveup", headers=SSE)
            if resp.status == 204:
                break
            time.sleep(0.3)
        self.assertEqual(resp.status, 204)
        resp, body = self.get("/events", headers={"Accept": "*/*"})
        self.assertEqual(resp.status, 503)
        self.assertRegex(resp.headers.get("retry-after", ""), r"^\d+$")
        self.assertLessEqual(int(resp.headers["retry-after"]), 4)
        for o in self.o:
            o.control(mode="normal")


class PassThroughTest(PolicyBase):
    """6. an idle stream never marks its member failed; 401 passes
    through; every healthy stream starts with a retry: hint."""
    conf = """
Timeout 2
<Proxy balancer://one>
    BalancerMember {o1}
</Proxy>
<Location /events>
    ProxyPass balancer://one/events
    SSEProxy On
    SSEProxyHeartbeat 1
</Location>
<Location /fixed>
    ProxyPass balancer://one/events
    SSEProxy On
    SSEProxyRetry 3000
</Location>
<Location /noretry>
    ProxyPass balancer://one/events
    SSEProxy On
    SSEProxyRetry off
</Location>
"""

    def test_idle_stream_is_not_a_failure(self):
        resp, body = self.get("/events?count=2&gap_after=1&gap_ms=6500",
                              timeout=15)
        self.assertEqual([e["id"] for e in data_events(body)], ["1", "2"])
        self.assertEqual(decisions(self.httpd), [])

    def test_401_passes_through(self):
        resp, body = self.get("/events?status=401", headers=SSE)
        self.assertEqual(resp.status, 401)
        self.assertEqual(decisions(self.httpd), [])

    def test_retry_hint_on_healthy_streams(self):
        hints = set()
        for _ in range(20):
            resp, body = self.get("/events?count=1", headers=SSE)
            h = retry_of(body)
            # never below NETWORK_ERROR's initial 5 s, spread up to 15 s
            self.assertTrue(5000 <= h <= 15000, h)
            hints.add(h)
        self.assertGreater(len(hints), 5)
        self.assertEqual(retry_of(self.get("/fixed?count=1")[1]), 3000)
        self.assertIsNone(retry_of(self.get("/noretry?count=1")[1]))
        # the backend's own retry: comes later and wins
        body = self.get("/events?count=1&retry=1234")[1]
        self.assertEqual(re.findall(rb"^retry: (\d+)$", body, re.M)[-1], b"1234")


class SharedStateTest(PolicyBase):
    """7. with two children, the member state is the same whichever child
    serves the request."""
    servers = 2
    threads = 4
    # A listening socket per child (SO_REUSEPORT): the kernel spreads new
    # connections over both children instead of the one that wins accept.
    conf = """
ListenCoresBucketsRatio 1
SSEProxyJitter none
<Proxy balancer://one>
    BalancerMember {o1}
    ProxySet forcerecovery=On
</Proxy>
<Location /events>
    ProxyPass balancer://one/events
    SSEProxy On
    SSEProxyGiveUp retry
</Location>
"""

    def test_children_share_state(self):
        for _ in range(12):
            self.get("/events?status=503", headers=SSE)
        got = decisions(self.httpd)
        self.assertEqual([int(f["attempt"]) for _, _, f in got],
                         list(range(1, 13)))
        self.assertGreater(len({pid for pid, _, _ in got}), 1,
                           "one child served every request")



class OneOutageTest(PolicyBase):
    """Streams that die together are one failure of their member, not one
    per stream: a crowd must not push the member to give-up at once."""
    conf = """
SSEProxyJitter none
<Proxy balancer://one>
    BalancerMember {o1}
    ProxySet forcerecovery=Off
</Proxy>
<Location /events>
    ProxyPass balancer://one/events
    SSEProxy On
</Location>
"""

    def test_many_streams_one_failure(self):
        clients = [RawClient(self.httpd.port, "/events?rate=10", headers=SSE)
                   for _ in range(12)]
        for c in clients:
            c.read_until(lambda b: b.count(b"}\n\n") >= 1)
        self.o[0].control(mode="down", for_ms=1500)
        for c in clients:
            c.read_to_end(timeout=10)
            self.assertTrue(c.resp.complete)
            c.close()
        got = decisions(self.httpd)
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0][2]["attempt"], "1")
        self.assertEqual(got[0][2]["class"], "PROXY_ERROR")


class HealthCheckTest(PolicyBase):
    """A passing mod_proxy_hcheck check puts the member back and starts
    its count again."""
    conf = """
SSEProxyJitter none
SSEProxyStrategy PROXY_ERROR initial=30s max=5m factor=2 attempts=4
<Proxy balancer://hc>
    BalancerMember {o1} hcmethod=GET hcuri=/health hcinterval=1 hcpasses=1 hcfails=1
    ProxySet forcerecovery=Off
</Proxy>
<Location /events>
    ProxyPass balancer://hc/events
    SSEProxy On
</Location>
"""

    extra_modules = (("proxy_hcheck_module", "mod_proxy_hcheck.so"),)

    def test_passing_check_resets_the_count(self):
        self.get("/events?status=503", headers=SSE)
        first = decisions(self.httpd)[-1][2]
        self.assertEqual((first["attempt"], first["delay"]), ("1", "30000ms"))
        # the origin is fine again: its health checks pass within seconds,
        # long before the 30 s window ends
        wait_for(lambda: "Err" not in manager_page(self.httpd),
                 timeout=10, interval=0.3, what="health check to pass")
        self.get("/events?status=503", headers=SSE)
        again = decisions(self.httpd)[-1][2]
        self.assertEqual((again["attempt"], again["delay"]), ("1", "30000ms"))
        self.assertIn("SSE00036", self.httpd.error_log())


class GracefulTest(PolicyBase):
    """Graceful restart and stop with open streams: they end cleanly, with
    a retry: hint, and new streams are served by the new children."""
    conf = """
<Location /events>
    ProxyPass {o1}/events
    SSEProxy On
</Location>
"""

    def test_graceful_restart(self):
        c = RawClient(self.httpd.port, "/events?rate=5", headers=SSE)
        c.read_until(lambda b: b.count(b"}\n\n") >= 2)
        self.httpd.graceful()
        body = c.read_to_end(timeout=10)
        self.assertTrue(c.resp.complete, "stream did not end cleanly")
        tail = body.rsplit(b"}\n\n", 1)[1]
        self.assertRegex(tail, rb"retry: \d+\n")
        c.close()
        time.sleep(0.5)
        resp, body = self.get("/events?count=1", headers=SSE)
        self.assertEqual(len(data_events(body)), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
