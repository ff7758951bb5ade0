# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""CORS on SSE routes: SSEProxyAllowOrigin / SSEProxyAllowCredentials."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Httpd, Origin, RawClient  # noqa: E402

CONF = """
<Location /listed>
    ProxyPass {o}/events
    SSEProxy On
    SSEProxyAllowOrigin https://app.example.com http://localhost:3000
    SSEProxyAllowCredentials on
</Location>
<Location /any>
    ProxyPass {o}/events
    SSEProxy On
    SSEProxyAllowOrigin *
</Location>
<Location /none>
    ProxyPass {o}/events
    SSEProxy On
</Location>
<Location /ports>
    ProxyPass {o}/events
    SSEProxy On
    SSEProxyAllowOrigin https://app.example.com:443 http://localhost:80 http://127.0.0.1:8443
</Location>
<Location /down>
    ProxyPass http://127.0.0.1:{dead}/events
    SSEProxy On
    SSEProxyAllowOrigin https://app.example.com
</Location>
"""


class CorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = harness.workdir()
        cls.origin = Origin(cls.work)
        cls.httpd = Httpd(cls.work, CONF.format(o=cls.origin.url,
                                                dead=harness.free_port())).start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.stop()
        cls.origin.stop()
        bad = cls.httpd.unexpected_log_lines(
            allowed=[r"SSE0000[24]", r"SSE0003\d", r"AH00957", r"AH01114",
                     r"AH00959"])
        harness.remove_workdir(cls.work, keep=bool(bad))
        if bad:
            raise AssertionError("unexpected error-log lines:\n" + "\n".join(bad))

    def req(self, path, origin=None, method="GET", extra=None):
        headers = {"Accept": "text/event-stream"}
        if origin:
            headers["Origin"] = origin
        headers.update(extra or {})
        c = RawClient(self.httpd.port, path, headers=headers, method=method)
        if method != "OPTIONS":
            c.read_to_end()
        c.close()
        return c.resp

    def test_listed_origin_is_echoed_with_credentials(self):
        r = self.req("/listed?count=1", "https://app.example.com")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("access-control-allow-origin"),
                         "https://app.example.com")
        self.assertEqual(r.headers.get("access-control-allow-credentials"), "true")
        self.assertIn("Origin", r.headers.get("vary", ""))

    def test_other_origin_gets_nothing(self):
        r = self.req("/listed?count=1", "https://evil.example.net")
        self.assertNotIn("access-control-allow-origin", r.headers)
        self.assertNotIn("access-control-allow-credentials", r.headers)
        self.assertIn("Origin", r.headers.get("vary", ""))

    def test_default_port_written_out(self):
        # Browsers leave the scheme's default port out of Origin: an entry
        # that spells it out must still match, and only that scheme's.
        for origin in ("https://app.example.com", "http://localhost",
                       "https://app.example.com:443"):
            r = self.req("/ports?count=1", origin)
            self.assertEqual(r.headers.get("access-control-allow-origin"), origin)
        for origin in ("http://app.example.com", "https://localhost",
                       "http://127.0.0.1", "https://127.0.0.1",
                       "http://localhost:8080"):
            r = self.req("/ports?count=1", origin)
            self.assertNotIn("access-control-allow-origin", r.headers, origin)

    def test_star_without_credentials(self):
        r = self.req("/any?count=1", "https://whoever.example")
        self.assertEqual(r.headers.get("access-control-allow-origin"), "*")
        self.assertNotIn("access-control-allow-credentials", r.headers)

    def test_unconfigured_route_adds_nothing(self):
        r = self.req("/none?count=1", "https://app.example.com")
        self.assertNotIn("access-control-allow-origin", r.headers)

    def test_preflight(self):
        r = self.req("/listed", "http://localhost:3000", method="OPTIONS",
                     extra={"Access-Control-Request-Method": "GET",
                            "Access-Control-Request-Headers": "last-event-id"})
        self.assertEqual(r.status, 204)
        self.assertEqual(r.headers.get("access-control-allow-origin"),
                         "http://localhost:3000")
        self.assertIn("GET", r.headers.get("access-control-allow-methods", ""))
        self.assertIn("Last-Event-ID",
                      r.headers.get("access-control-allow-headers", ""))
        # the preflight never reached the origin
        self.assertFalse([q for q in self.origin.requests()
                          if q.get("method") == "OPTIONS"])

    def test_policy_answers_carry_cors(self):
        r = self.req("/down", "https://app.example.com")
        self.assertEqual(r.status, 200)   # the policy's retry: answer
        self.assertEqual(r.headers.get("access-control-allow-origin"),
                         "https://app.example.com")

    def test_config_errors(self):
        bad = [
            ("SSEProxyAllowOrigin *\nSSEProxyAllowCredentials on", "credentials"),
            ("SSEProxyAllowCredentials on\nSSEProxyAllowOrigin *", "credentials"),
            ("SSEProxyAllowOrigin https://a.example/path", "SSEProxyAllowOrigin"),
            ("SSEProxyAllowOrigin ftp://a.example", "SSEProxyAllowOrigin"),
            ("SSEProxyAllowOrigin http://a.example:http", "port"),
            ("SSEProxyAllowOrigin http://:8080", "no host"),
            ("SSEProxyAllowOrigin * https://a.example", "SSEProxyAllowOrigin"),
            ("SSEProxyAllowCredentials maybe", "SSEProxyAllowCredentials"),
        ]
        for text, word in bad:
            h = Httpd(self.work, "<Location /x>\n%s\n</Location>\n" % text)
            rc, out = h.check_config()
            self.assertNotEqual(rc, 0, text)
            self.assertIn(word, out, text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
