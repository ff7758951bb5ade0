# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""The sse-proxy-status handler: JSON, Prometheus text and HTML, and the
access-log notes."""
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Httpd, Origin, RawClient, data_events  # noqa: E402

SSE = {"Accept": "text/event-stream"}
BENIGN = [r"SSE0003\d", r"SSE0000[246]", r"AH0095[79]", r"AH01114",
          r"AH00940", r"AH01102", r"AH01097", r"AH00898"]

CONF = """
SSEProxyJitter none
# the scenario's 503 backs its member off at once
SSEProxyMemberFailureThreshold 1
LogFormat "%h %>s end=%{{sse-end}}n events=%{{sse-events}}n bytes=%{{sse-bytes}}n class=%{{sse-class}}n %U" ssenotes
CustomLog "{root}/notes.log" ssenotes
<Proxy "balancer://feed">
    BalancerMember {o1}
    BalancerMember {o2}
    ProxySet forcerecovery=Off
</Proxy>
<Proxy "balancer://odd">
    BalancerMember "{o1}/<script>alert(1)</script>&amp;"
</Proxy>
<Location /events>
    ProxyPass balancer://feed/events
    SSEProxy On
</Location>
<Location /odd>
    ProxyPass balancer://odd
    SSEProxy On
</Location>
<Location /sse-status>
    SetHandler sse-proxy-status
    Require local
</Location>
"""

# name -> (type, required) of the documented JSON schema (docs/status.md)
TOP = {"version": str, "uptime_seconds": int, "streams": dict,
       "relayed": dict, "first_event": dict, "event_latency": dict,
       "errors": dict, "ends": dict,
       "answers": dict, "resumes": dict, "fleet": dict, "members": list,
       "policy": dict}
# stream caps and reconnect limits (test_limits.py)
TOP["limits"] = dict
# shared streams (test_share.py)
TOP["shared"] = dict
MEMBER = {"balancer": str, "member": str, "state": (str, type(None)),
          "usable": (bool, type(None)), "last_class": (str, type(None)),
          "consecutive_failures": int, "status_streak": int, "gave_up": bool, "delay_ms": int,
          "next_retry_in_ms": int, "source": str, "quality": str,
          "mean_latency_ms": float,
          "latency_samples": int, "error_rate": float, "attempts": int,
          "outages": int, "current_outage_ms": (int, type(None)),
          "last_recovery_ms": (int, type(None)), "failures": dict,
          "open_streams": (int, type(None)),
          "stream_weight": (float, type(None)), "slow_start": dict}
CLASSES = {"NETWORK_ERROR", "AUTH_ERROR", "SERVER_ERROR", "PROXY_ERROR"}


def check_schema(test, doc):
    test.assertEqual(set(doc), set(TOP))
    for k, t in TOP.items():
        test.assertIsInstance(doc[k], t, k)
    test.assertEqual(set(doc["shared"]),
                     {"streams", "clients", "replays", "failovers",
                      "dropped", "this_child"})
    test.assertEqual(set(doc["shared"]["this_child"]), {"pid", "channels"})
    test.assertEqual(set(doc["streams"]),
                     {"open", "requests", "established", "success_rate",
                      "waiting", "queued", "relaying", "held"})
    for place in ("waiting", "queued", "relaying", "held"):
        test.assertIsInstance(doc["streams"][place], int, place)
        test.assertGreaterEqual(doc["streams"][place], 0, place)
    test.assertEqual(set(doc["relayed"]), {"events", "bytes", "heartbeats"})
    test.assertEqual(set(doc["first_event"]), {"streams", "mean_ms"})
    lat = doc["event_latency"]
    test.assertEqual(set(lat), {"events", "mean_us", "p50_us", "p99_us",
                                "buckets"})
    test.assertEqual(sum(b["events"] for b in lat["buckets"]), lat["events"])
    bounds = [b["le_us"] for b in lat["buckets"]]
    test.assertIsNone(bounds[-1])
    test.assertEqual(bounds[:-1], sorted(bounds[:-1]))
    test.assertEqual(set(doc["errors"]), CLASSES)
    test.assertEqual(set(doc["ends"]), {"backend", "client", "idle", "oversize",
                                        "premature", "error", "shutdown"})
    test.assertEqual(set(doc["answers"]), {"retry", "no_content", "unavailable"})
    # no limit configured (test_limits.py checks the rest)
    test.assertEqual(set(doc["limits"]), {"limited", "untracked", "reclaimed",
                                          "keys", "slots", "top"})
    test.assertEqual(doc["limits"]["limited"],
                     {"client_streams": 0, "location_streams": 0,
                      "reconnect_rate": 0})
    test.assertEqual(doc["limits"]["top"], [])
    test.assertEqual(set(doc["resumes"]), {"attempted", "succeeded",
                                           "given_up"})
    for k in doc["resumes"]:
        test.assertIsInstance(doc["resumes"][k], int, k)
    # outside a fleet (test_fleet.py checks the rest)
    test.assertEqual(doc["fleet"], {"store": None, "state": "none"})
    for m in doc["members"]:
        test.assertEqual(set(m), set(MEMBER))
        for k, t in MEMBER.items():
            if t is float:
                t = (int, float)
            test.assertIsInstance(m[k], t, k)
        test.assertEqual(set(m["failures"]), CLASSES)
        test.assertEqual(set(m["slow_start"]),
                         {"share", "remaining_ms", "held"})
        test.assertEqual(m["source"], "local")
    test.assertEqual(set(doc["policy"]["strategies"]), CLASSES)


METRIC_NAME = re.compile(r"^sse_proxy_[a-z_]+$")
SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)'
    r'(?:\{(?P<labels>(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})?'
    r' (?P<value>[-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|NaN|\+Inf|-Inf))$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(test, text):
    """Validates the text exposition format 0.0.4; returns
    {(name, labels): value} and {family: type}."""
    helps, types, samples = {}, {}, {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            name, _, doc = line[7:].partition(" ")
            test.assertRegex(name, METRIC_NAME)
            test.assertNotIn(name, helps, "HELP twice for " + name)
            test.assertTrue(doc)
            helps[name] = doc
            continue
        if line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            test.assertIn(typ, ("counter", "gauge", "summary", "histogram",
                                "untyped"))
            test.assertIn(name, helps, "TYPE before HELP for " + name)
            test.assertNotIn(name, types, "TYPE twice for " + name)
            types[name] = typ
            continue
        test.assertFalse(line.startswith("#"), line)
        m = SAMPLE.match(line)
        test.assertIsNotNone(m, "bad sample line: %r" % line)
        name = m.group("name")
        family = re.sub(r"_(sum|count|bucket)$", "", name)
        if family not in types:
            family = name
        test.assertIn(family, types, "sample without TYPE: " + line)
        if types[family] == "counter":
            test.assertTrue(name.endswith("_total"), name)
        labels = tuple(LABEL.findall(m.group("labels") or ""))
        key = (name, labels)
        test.assertNotIn(key, samples, "duplicate sample " + line)
        samples[key] = float(m.group("value"))
    return samples, types


class StatusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = harness.workdir()
        cls.o = [Origin(cls.work, "o1"), Origin(cls.work, "o2")]
        h = Httpd(cls.work, "", servers=2, threads=8)
        with open(h.conf_path, "a") as f:
            f.write(CONF.format(root=h.root, o1=cls.o[0].url, o2=cls.o[1].url))
        cls.httpd = h.start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.stop()
        for o in cls.o:
            o.stop()
        bad = cls.httpd.unexpected_log_lines(allowed=BENIGN)
        harness.remove_workdir(cls.work, keep=bool(bad))
        if bad:
            raise AssertionError("unexpected error-log lines:\n" + "\n".join(bad))

    def fetch(self, query=""):
        c = RawClient(self.httpd.port, "/sse-status" + query)
        body = c.read_to_end()
        c.close()
        self.assertEqual(c.resp.status, 200)
        return c.resp, body.decode()

    def status(self):
        return json.loads(self.fetch("?format=json")[1])

    def stream(self, path, headers=SSE):
        c = RawClient(self.httpd.port, path, headers=headers)
        body = c.read_to_end()
        c.close()
        return c.resp, body

    def test_1_scenario_counts(self):
        before = self.status()
        check_schema(self, before)
        # N = 6 streams of 3 events, on two children and two members
        for _ in range(6):
            resp, body = self.stream("/events?count=3&rate=50")
            self.assertEqual(len(data_events(body)), 3)
        # a member failure: o1 answers 503, the request fails over to o2
        self.o[0].control(mode="status", status=503)
        for _ in range(2):
            resp, body = self.stream("/events?count=1")
            self.assertEqual(resp.status, 200)
        self.o[0].control(mode="normal")
        after = self.status()
        check_schema(self, after)
        d = lambda *path: (self._get(after, path) - self._get(before, path))
        self.assertEqual(d("streams", "requests"), 8)
        self.assertEqual(d("streams", "established"), 8)
        self.assertEqual(d("relayed", "events"), 6 * 3 + 2)
        self.assertEqual(d("ends", "backend"), 8)
        self.assertEqual(d("errors", "PROXY_ERROR"), 1)
        self.assertEqual(d("first_event", "streams"), 8)
        # every relayed event is in the added-latency histogram, and on an
        # idle loopback the relay adds well under the design's 100 ms
        self.assertEqual(d("event_latency", "events"), 6 * 3 + 2)
        lat = after["event_latency"]
        self.assertIsNotNone(lat["p50_us"])
        self.assertLessEqual(lat["p50_us"], 100000)
        self.assertEqual(after["streams"]["open"], 0)
        self.assertGreater(after["relayed"]["bytes"], before["relayed"]["bytes"])
        feed = [m for m in after["members"] if m["balancer"] == "feed"]
        self.assertEqual({m["member"] for m in feed},
                         {self.o[0].url, self.o[1].url})
        bad = [m for m in feed if m["member"] == self.o[0].url][0]
        self.assertEqual(bad["consecutive_failures"], 1)
        self.assertEqual(bad["last_class"], "PROXY_ERROR")
        self.assertEqual(bad["failures"]["PROXY_ERROR"], 1)
        self.assertFalse(bad["usable"])
        self.assertEqual(bad["delay_ms"], 15000)
        self.assertTrue(0 < bad["next_retry_in_ms"] <= 15000)
        self.assertIsNotNone(bad["current_outage_ms"])
        good = [m for m in feed if m["member"] == self.o[1].url][0]
        self.assertTrue(good["usable"])
        self.assertEqual(good["consecutive_failures"], 0)
        self.assertEqual(after["policy"]["jitter"], "none")
        # the access log carries the notes
        with open(os.path.join(self.httpd.root, "notes.log")) as f:
            notes = f.read()
        self.assertRegex(notes, r" 200 end=backend events=3 bytes=\d+ class=- /events")

    @staticmethod
    def _get(doc, path):
        for p in path:
            doc = doc[p]
        return doc

    def test_2_prometheus(self):
        resp, text1 = self.fetch("?format=prometheus")
        self.assertTrue(resp.headers["content-type"].startswith(
            "text/plain; version=0.0.4"))
        s1, types = parse_prometheus(self, text1)
        for family in ("sse_proxy_events_total", "sse_proxy_streams_open",
                       "sse_proxy_errors_total", "sse_proxy_member_usable",
                       "sse_proxy_member_backoff_seconds",
                       "sse_proxy_member_quality"):
            self.assertIn(family, types)
        self.assertIn(("sse_proxy_errors_total", (("class", "PROXY_ERROR"),)), s1)
        self.stream("/events?count=2")
        resp, text2 = self.fetch("?format=prometheus")
        s2, types2 = parse_prometheus(self, text2)
        for (name, labels), value in s1.items():
            family = re.sub(r"_(sum|count)$", "", name)
            if types.get(family) == "counter" or name.endswith("_count"):
                self.assertGreaterEqual(s2[(name, labels)], value, name)
        self.assertGreater(s2[("sse_proxy_events_total", ())],
                           s1[("sse_proxy_events_total", ())])
        # the added latency per event, a cumulative histogram
        self.assertEqual(types2["sse_proxy_event_latency_seconds"], "histogram")
        buckets = sorted(((float(dict(l)["le"]), v) for (n, l), v in s2.items()
                          if n == "sse_proxy_event_latency_seconds_bucket"))
        self.assertEqual(buckets[-1][0], float("inf"))
        self.assertEqual([v for _, v in buckets], sorted(v for _, v in buckets))
        self.assertEqual(buckets[-1][1],
                         s2[("sse_proxy_event_latency_seconds_count", ())])
        self.assertEqual(s2[("sse_proxy_event_latency_seconds_count", ())],
                         s2[("sse_proxy_events_total", ())])

    def test_3_html_escapes(self):
        resp, html = self.fetch()
        self.assertTrue(resp.headers["content-type"].startswith("text/html"))
        self.assertIn("SSE proxy status", html)
        self.assertNotIn("<script>", html)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", html)
        self.assertIn("feed", html)
        self.assertIn("Added latency per event", html)
        # the hostile name is safe in JSON and Prometheus too
        doc = self.status()
        self.assertTrue(any("<script>" in m["member"] for m in doc["members"]))
        parse_prometheus(self, self.fetch("?format=prometheus")[1])
        resp, html = self.fetch("?refresh=5")
        self.assertIn('http-equiv="refresh" content="5"', html)

    def test_5_policy_format(self):
        # the configured table alone, the same document as in ?format=json
        resp, body = self.fetch("?format=policy")
        self.assertEqual(resp.headers["content-type"], "application/json")
        doc = json.loads(body)
        self.assertEqual(doc, self.status()["policy"])
        self.assertEqual(set(doc["strategies"]), CLASSES)
        self.assertEqual(doc["jitter"], "none")

    def test_4_bad_format(self):
        c = RawClient(self.httpd.port, "/sse-status?format=xml")
        c.read_to_end()
        c.close()
        self.assertEqual(c.resp.status, 400)


if __name__ == "__main__":
    unittest.main(verbosity=2)
