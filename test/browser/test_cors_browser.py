# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Cross-origin EventSources in headless Chromium: SSEProxyAllowOrigin and
SSEProxyAllowCredentials as a browser enforces them.

The page comes from one origin (http://127.0.0.1:<page port>, a second
virtual host of the same httpd) and opens EventSources on another (the
httpd's main port, whose SSE routes carry the CORS directives).  A cookie
for the stream's host is in the browser throughout; the two origins
differ only by port, so they are same-site and the cookie's SameSite
attribute never decides: only withCredentials and the module's answer
do.  What the page saw is asserted, and what the origin received.

Run like test_browser.py (make check-browser); exit 77 when Chromium or
playwright-core is missing.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_browser  # noqa: E402
from test_browser import BrowserTest, assert_consecutive, harness, ids_of  # noqa: E402

COOKIE = {"name": "sse_session", "value": "s3cr3t"}
SENT_COOKIE = "%(name)s=%(value)s" % COOKIE

CONF = """
TypesConfig /dev/null
AddType text/html .html
Listen 127.0.0.1:{page_port}
<VirtualHost 127.0.0.1:{page_port}>
    ServerName 127.0.0.1
    DocumentRoot "{work}/page"
    <Directory "{work}/page">
        Require all granted
    </Directory>
</VirtualHost>
<Location /listed>
    ProxyPass {o1}/events
    SSEProxy On
    SSEProxyAllowOrigin http://localhost:{page_port} http://127.0.0.1:{page_port}
</Location>
# a quiet second ends the stream, so that the browser comes back
<Location /credentials>
    ProxyPass {o1}/events
    SSEProxy On
    SSEProxyAllowOrigin http://127.0.0.1:{page_port}
    SSEProxyAllowCredentials on
    SSEProxyIdleTimeout 1
    SSEProxyRetry 300
</Location>
# near misses only: another host, another scheme, another port
<Location /others>
    ProxyPass {o1}/events
    SSEProxy On
    SSEProxyAllowOrigin http://localhost:{page_port} https://127.0.0.1:{page_port} http://127.0.0.1:{other_port}
</Location>
<Location /any>
    ProxyPass {o1}/events
    SSEProxy On
    SSEProxyAllowOrigin *
</Location>
<Location /down>
    ProxyPass http://127.0.0.1:{other_port}/events
    SSEProxy On
    SSEProxyAllowOrigin http://127.0.0.1:{page_port}
    SSEProxyAllowCredentials on
</Location>
"""

CONNECTING, OPEN, CLOSED = 0, 1, 2     # readyState
EVENTS = 3


class CrossOriginTest(BrowserTest):
    extra_modules = [("mime_module", "mod_mime.so")]
    conf = CONF

    def prepare(self):
        os.makedirs(os.path.join(self.work, "page"))
        with open(os.path.join(self.work, "page", "index.html"), "w") as f:
            f.write("<!doctype html><title>cross-origin page</title>\n")
        port = harness.free_port()
        self.page_origin = "http://127.0.0.1:%d" % port
        # nothing listens on other_port: a near miss for /others, dead for /down
        return {"page_port": port, "other_port": harness.free_port()}

    def run_cases(self, *cases):
        """cases: dicts of route, creds and optionally query, count, until;
        returns {name: what the page saw}, a name being the route plus
        "-creds" or "-plain".  The name is in the stream's query too, for
        the origin's log."""
        specs = []
        for c in cases:
            name = "%s-%s" % (c["route"].strip("/"), "creds" if c["creds"] else "plain")
            query = "rate=20&%scase=%s" % (c.get("query", ""), name)
            specs.append({"name": name, "withCredentials": c["creds"],
                          "count": c.get("count", EVENTS),
                          "until": c.get("until", "events"),
                          "stream": "%s%s?%s" % (self.httpd.url, c["route"], query)})
        cookie = dict(COOKIE, url=self.httpd.url, sameSite="Lax")
        res = self.driver("cors", url=self.page_origin + "/index.html",
                          cookies=[cookie], cases=specs).result()
        self.assertEqual(res["status"], 200)
        self.assertEqual(res["origin"], self.page_origin)
        self.failures = res["failures"]
        out = {}
        for spec, rec in zip(specs, res["cases"]):
            self.assertEqual(rec["withCredentials"], spec["withCredentials"])
            rec["url"] = spec["stream"]
            out[rec["name"]] = rec
        return out

    def received(self, rec):
        """The origin's requests for a case's stream."""
        tag = "case=" + rec["name"]
        return [q for q in self.o[0].requests() if q["path"].endswith(tag)]

    def cors_errors(self, rec):
        """Chromium's reasons for failing a case's requests (the page's own
        close() cancels a request too: not a failure)."""
        return [f["corsError"] for f in self.failures
                if f["url"] == rec["url"] and not f["canceled"]]

    def states(self, rec):
        return [(l["kind"], l["rs"]) for l in rec["log"]]

    def assert_delivered(self, rec, cookie):
        """The stream opened and its events reached the page, in order; the
        origin got the page's Origin, and the cookie or not."""
        self.assertTrue(rec["settled"], rec["log"])
        self.assertEqual(ids_of(rec["events"][:EVENTS]), list(range(1, EVENTS + 1)))
        assert_consecutive(self, ids_of(rec["events"]))
        self.assertEqual(self.states(rec)[:2], [("created", CONNECTING), ("open", OPEN)])
        self.assertEqual(self.cors_errors(rec), [])
        reqs = self.received(rec)
        self.assertTrue(reqs)
        for q in reqs:
            self.assertEqual(q["origin"], self.page_origin)
            self.assertEqual(q["cookie"], SENT_COOKIE if cookie else "-")
        return reqs

    def assert_refused(self, rec, cors_error):
        """The browser failed the connection for good: one error event, no
        open, no event, CLOSED; Chromium's reason is cors_error."""
        self.assertTrue(rec["settled"], "never CLOSED: %s" % rec["log"])
        self.assertEqual(rec["readyState"], CLOSED)
        self.assertEqual(rec["events"], [])
        self.assertEqual(self.states(rec), [("created", CONNECTING), ("error", CLOSED)])
        self.assertEqual(self.cors_errors(rec), [cors_error])

    def test_listed_origin_without_credentials(self):
        """1. A listed origin, credentials off, withCredentials false."""
        rec = self.run_cases({"route": "/listed", "creds": False})["listed-plain"]
        self.assertNotIn("error", [l["kind"] for l in rec["log"]])
        self.assertEqual(len(self.assert_delivered(rec, cookie=False)), 1)

    def test_credentials_not_allowed(self):
        """2. withCredentials true where credentials are not allowed."""
        rec = self.run_cases({"route": "/listed", "creds": True})["listed-creds"]
        self.assert_refused(rec, "InvalidAllowCredentials")
        # CORS hides the answer, not the request: it went out with the
        # cookie (a simple GET has no preflight).
        self.assertEqual([q["cookie"] for q in self.received(rec)], [SENT_COOKIE])

    def test_credentials_allowed(self):
        """3. SSEProxyAllowCredentials on, withCredentials true; the stream
        ends after 3 events and the browser resumes it, cookie and
        Last-Event-ID included, still cross-origin."""
        rec = self.run_cases({"route": "/credentials", "creds": True, "count": 6,
                              "query": "gap_after=3&gap_ms=5000&"})["credentials-creds"]
        reqs = self.assert_delivered(rec, cookie=True)
        self.assertEqual(ids_of(rec["events"][:6]), list(range(1, 7)))
        self.assertEqual(self.states(rec)[:4], [("created", CONNECTING), ("open", OPEN),
                                                ("error", CONNECTING), ("open", OPEN)])
        self.assertEqual([q["last_event_id"] for q in reqs], ["-", "3"])
        # Chromium sends Last-Event-ID without a preflight
        self.assertFalse([l for l in self.httpd.access_log() if " OPTIONS " in l])

    def test_origin_not_listed(self):
        """4. The page's origin is not in the list."""
        recs = self.run_cases({"route": "/others", "creds": False},
                              {"route": "/others", "creds": True})
        self.assert_refused(recs["others-plain"], "MissingAllowOriginHeader")
        self.assert_refused(recs["others-creds"], "MissingAllowOriginHeader")

    def test_any_origin(self):
        """5. SSEProxyAllowOrigin *: without credentials only."""
        recs = self.run_cases({"route": "/any", "creds": False},
                              {"route": "/any", "creds": True})
        self.assert_delivered(recs["any-plain"], cookie=False)
        self.assert_refused(recs["any-creds"], "WildcardOriginNotAllowed")

    def test_policy_answer_cross_origin(self):
        """6. No backend: the policy's answer reaches a credentialed
        cross-origin page, which is told when to come back and waits
        (CONNECTING), instead of failing for good."""
        rec = self.run_cases({"route": "/down", "creds": True,
                              "until": "reconnecting"})["down-creds"]
        self.assertTrue(rec["settled"], rec["log"])
        self.assertEqual(self.states(rec), [("created", CONNECTING), ("open", OPEN),
                                            ("error", CONNECTING)])
        self.assertEqual(rec["events"], [])
        self.assertEqual([p["cls"] for p in rec["proxy"]], ["NETWORK_ERROR"])
        self.assertGreater(rec["proxy"][0]["retry"], 0)
        self.assertEqual(self.cors_errors(rec), [])


if __name__ == "__main__":
    sys.exit(test_browser.main())
