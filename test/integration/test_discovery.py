# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Endpoint discovery: a HEAD with Accept: text/event-stream on an SSE
route is answered by the relay itself (200 text/event-stream, no-cache,
X-SSE-Relay) without asking any backend, also while every member is
down; any other HEAD is relayed as before."""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import wait_for  # noqa: E402

ACCEPT = "Accept: text/event-stream"


def head(url, *args):
    """(status, {lower-case header: value}, raw) of curl -I."""
    res = subprocess.run(["curl", "-sS", "-I", "--max-time", "10"]
                         + list(args) + [url], capture_output=True, timeout=30)
    raw = res.stdout.decode("latin-1")
    lines = raw.split("\r\n")
    status = int(lines[0].split(" ")[1]) if lines and lines[0] else None
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers, raw


class DiscoveryTest(harness.ProxyTestCase):
    conf = """
<Proxy balancer://feed>
    BalancerMember {o1}
    ProxySet forcerecovery=Off
</Proxy>
<Location /events>
    ProxyPass balancer://feed/events
    SSEProxy On
</Location>
<Location /direct/events>
    ProxyPass {o1}/events
    SSEProxy On
    SSEProxyAllowOrigin http://app.example
</Location>
<Location /plain/events>
    ProxyPass {o1}/events
</Location>
<Location /closed/events>
    ProxyPass {o1}/events
    SSEProxy On
    Require all denied
</Location>
"""
    # the member backed off by the outage test, the denied route
    allowed = [r"SSE0000[2346]", r"SSE0003\d", r"AH00957", r"AH00959",
               r"AH01170", r"AH00940",
               r"AH01630"]

    def origin_heads(self, path):
        return [q for q in self.o[0].requests()
                if q["method"] == "HEAD" and q["path"].startswith(path)]

    def settle(self):
        # the origin logs a request when it reads it: a moment for one in
        # flight
        time.sleep(0.3)

    def assert_discovery_answer(self, status, h, raw):
        self.assertEqual(status, 200, raw)
        self.assertTrue(h.get("content-type", "").startswith("text/event-stream"), raw)
        self.assertEqual(h.get("cache-control"), "no-cache", raw)
        self.assertEqual(h.get("x-sse-relay"), "mod_sse_proxy", raw)
        self.assertNotIn("x-origin-name", h, raw)
        self.assertNotIn("content-length", h, raw)

    def test_head_answered_without_backend(self):
        for path in ("/events", "/direct/events"):
            status, h, raw = head(self.httpd.url + path + "?disc=1", "-H", ACCEPT)
            self.assert_discovery_answer(status, h, raw)
        self.settle()
        self.assertEqual(self.origin_heads("/events?disc=1"), [])
        log = "\n".join(self.httpd.access_log())
        self.assertIn(" 200 discovery ", log)

    def test_head_over_h2c(self):
        status, h, raw = head(self.httpd.url + "/events?disc=h2",
                              "--http2-prior-knowledge", "-H", ACCEPT)
        self.assertTrue(raw.startswith("HTTP/2 200"), raw)
        self.assert_discovery_answer(status, h, raw)
        self.settle()
        self.assertEqual(self.origin_heads("/events?disc=h2"), [])

    def test_accept_list(self):
        status, h, raw = head(self.httpd.url + "/events?disc=list", "-H",
                              "Accept: application/json, text/event-stream;q=0.9")
        self.assert_discovery_answer(status, h, raw)

    def test_head_without_accept_is_relayed(self):
        status, h, raw = head(self.httpd.url + "/events?disc=noaccept")
        self.assertEqual(status, 200, raw)
        self.assertNotIn("x-sse-relay", h, raw)
        self.assertEqual(h.get("x-origin-name"), "origin1", raw)
        self.settle()
        self.assertEqual(len(self.origin_heads("/events?disc=noaccept")), 1)

    def test_other_route_is_relayed(self):
        status, h, raw = head(self.httpd.url + "/plain/events?disc=plain", "-H", ACCEPT)
        self.assertEqual(status, 200, raw)
        self.assertNotIn("x-sse-relay", h, raw)
        self.settle()
        self.assertEqual(len(self.origin_heads("/events?disc=plain")), 1)

    def test_get_is_relayed(self):
        res = subprocess.run(["curl", "-sS", "-i", "--max-time", "10", "-H", ACCEPT,
                              self.httpd.url + "/events?disc=get&count=1"],
                             capture_output=True, timeout=30)
        out = res.stdout.decode("latin-1")
        self.assertIn("id: 1", out)
        self.assertNotIn("X-SSE-Relay", out)

    def test_access_control_first(self):
        status, h, raw = head(self.httpd.url + "/closed/events", "-H", ACCEPT)
        self.assertEqual(status, 403, raw)
        self.assertNotIn("x-sse-relay", h, raw)

    def test_cors(self):
        status, h, raw = head(self.httpd.url + "/direct/events", "-H", ACCEPT,
                              "-H", "Origin: http://app.example")
        self.assert_discovery_answer(status, h, raw)
        self.assertEqual(h.get("access-control-allow-origin"), "http://app.example", raw)
        self.assertEqual(h.get("access-control-expose-headers"), "X-SSE-Relay", raw)
        status, h, raw = head(self.httpd.url + "/direct/events", "-H", ACCEPT,
                              "-H", "Origin: http://other.example")
        self.assert_discovery_answer(status, h, raw)
        self.assertNotIn("access-control-allow-origin", h, raw)
        self.assertNotIn("access-control-expose-headers", h, raw)

    def test_zz_members_down(self):
        """With its only member down and backed off, the route is still
        discovered: the answer needs no member."""
        self.o[0].control(mode="down", for_ms=4000)
        subprocess.run(["curl", "-sS", "-o", "/dev/null", "--max-time", "10",
                        "-H", ACCEPT, self.httpd.url + "/events?count=1"],
                       capture_output=True, timeout=30)
        wait_for(lambda: "SSE00030" in self.httpd.error_log(), timeout=10,
                 what="the member backed off")
        status, h, raw = head(self.httpd.url + "/events", "-H", ACCEPT)
        self.assert_discovery_answer(status, h, raw)


if __name__ == "__main__":
    unittest.main(verbosity=2)
