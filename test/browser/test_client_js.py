# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""The browser client (client/ssep-client.js) in headless Chromium,
through httpd + mod_sse_proxy: its parser against the rules of
libssepolicy's, an origin outage survived while the access token
expires, endpoint discovery, a POST stream, backoff by the policy the
proxy serves, 204, and the WebSocket fallback behind a proxy that
buffers event streams.

    top_builddir=. top_srcdir=. HTTPD=/usr/sbin/apache2 \\
        python3 test/browser/test_client_js.py [TestClass[.test_name] ...]

SSEP_CLIENT=ssep-client.min.js runs them against the minified build
(MinifiedParserTest runs the parser and policy cases against it always).
Exit status 77 (skip) when node, Chromium or playwright-core is missing.
"""
import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_browser  # noqa: E402
from test_browser import (BENIGN, TOP_SRCDIR, BrowserTest,  # noqa: E402
                          assert_consecutive, harness, wait_for)

CLIENT_DIR = os.path.join(TOP_SRCDIR, "client")
MODULE = "/client/" + os.environ.get("SSEP_CLIENT", "ssep-client.js")

# Recorder shared by the pages: every client event in __rec.log, every
# message in __rec.events.
RECORDER = """
const M = await import(%(module)s);
window.M = M;
const t0 = performance.now();
const now = () => Math.round(performance.now() - t0);
window.__now = now;
window.__rec = { events: [], log: [], tokens: [], mark: null };
window.__record = (c) => {
  for (const k of ['connecting', 'open', 'backoff', 'closed', 'transport', 'discovered', 'policy']) {
    c.addEventListener(k, (e) => window.__rec.log.push({ ...(e.detail || {}), kind: k, t: now(), rs: c.readyState }));
  }
  c.addEventListener('message', (e) => window.__rec.events.push({ t: now(), id: e.lastEventId, data: e.data }));
  window.__client = c;
  return c;
};
"""


def page_script(body, module=MODULE):
    return "(async () => {%s\n%s\n})()" % (RECORDER % {"module": json.dumps(module)}, body)


def of(rec, kind):
    return [l for l in rec["log"] if l["kind"] == kind]


def event_ids(rec):
    return [int(json.loads(e["data"])["id"]) for e in rec["events"]]


# Strategies the tests can wait for; no jitter, so delays are exact.
POLICY_CONF = """
SSEProxyJitter none
SSEProxyStrategy NETWORK_ERROR initial=1s max=3s factor=1.5 attempts=20
SSEProxyStrategy PROXY_ERROR initial=1s max=3s factor=2 attempts=20
SSEProxyStrategy AUTH_ERROR initial=1200ms max=5s factor=2 attempts=5
SSEProxyStrategy SERVER_ERROR initial=700ms max=2s factor=3 attempts=3
"""

CONF = POLICY_CONF + """
TypesConfig /dev/null
AddType text/html .html
AddType text/javascript .js
AddType text/plain .txt
DocumentRoot "{docroot}"
<Directory "{docroot}">
    Require all granted
</Directory>
Alias /client/ "{client}/"
<Directory "{client}">
    Require all granted
</Directory>
<Proxy balancer://feed>
    BalancerMember {o1}
    ProxySet forcerecovery=Off
</Proxy>
<Location /events>
    ProxyPass balancer://feed/events
    SSEProxy On
</Location>
# the stream behind a bearer token, checked by httpd ahead of the relay
RewriteEngine On
RewriteCond %{{REQUEST_URI}} ^/secure/
RewriteCond %{{HTTP:Authorization}} !^Bearer\\ {token}$
RewriteRule ^ - [R=401,L]
<Location /secure/events>
    ProxyPass balancer://feed/events
    SSEProxy On
</Location>
<Location /v1>
    ProxyPass {o1}/v1
    SSEProxy On
</Location>
<Location /plain>
    ProxyPass {o1}
</Location>
<Location /sse-status>
    SetHandler sse-proxy-status
    Require local
</Location>
"""

MODULES = [("alias_module", "mod_alias.so"), ("mime_module", "mod_mime.so"),
           ("rewrite_module", "mod_rewrite.so")]

# Parser cases: (chunks, [(type, data, id)], last id, retry), by the
# rules libssepolicy's parser follows (ssep_parser_feed gives the same).
PARSER_CASES = [
    (["data: a\n\n"], [("message", "a", "")], "", -1),
    (["\ufeffdata: bom\n\n"], [("message", "bom", "")], "", -1),
    (["data: a\r\ndata: b\r\rdata: c\n\n"], [("message", "a\nb", ""), ("message", "c", "")], "", -1),
    (["data: x\r", "\ndata: y\r", "\r"], [("message", "x\ny", "")], "", -1),
    ([": comment\ndata\n\n"], [("message", "", "")], "", -1),
    (["data:no space\ndata:  two\n\n"], [("message", "no space\n two", "")], "", -1),
    (["event: ping\ndata: 1\n\ndata: 2\n\n"], [("ping", "1", ""), ("message", "2", "")], "", -1),
    (["event:\ndata: e\n\n"], [("message", "e", "")], "", -1),
    (["id: 7\ndata: a\n\nid: 8\u0000x\ndata: b\n\n"], [("message", "a", "7"), ("message", "b", "7")], "7", -1),
    (["id: 3\n\n", "data: later\n\n"], [("message", "later", "3")], "3", -1),
    (["id\ndata: cleared\n\n"], [("message", "cleared", "")], "", -1),
    (["retry: 1500\n", "retry: 15x\nretry:\nretry: -1\n\n"], [], "", 1500),
    (["id: 5\ndata: unfinished"], [], "", -1),
    (["da", "ta: sp", "lit\n", "\n"], [("message", "split", "")], "", -1),
    (["foo: bar\n\n", "data\n\n"], [("message", "", "")], "", -1),
]


class ClientTest(BrowserTest):
    conf = CONF
    extra_modules = MODULES
    benign = BENIGN + [r"SSE0000[67]", r"AH00898", r"AH01110", r"AH01102"]
    module = MODULE

    def prepare(self):
        self.docroot = os.path.join(self.work, "www")
        os.makedirs(self.docroot)
        with open(os.path.join(self.docroot, "index.html"), "w") as f:
            f.write("<!DOCTYPE html><title>client</title><p>ssep-client tests</p>\n")
        self.set_token("t1")
        return {"docroot": self.docroot, "client": CLIENT_DIR, "token": "t1"}

    def set_token(self, token):
        with open(os.path.join(self.docroot, "token.txt"), "w") as f:
            f.write(token + "\n")

    def run_page(self, body, base=None, **args):
        return self.driver("script", url=(base or self.httpd.url) + "/",
                           script=page_script(body, self.module), **args)

    def policy(self):
        import urllib.request
        with urllib.request.urlopen(self.httpd.url + "/sse-status?format=policy") as r:
            return json.loads(r.read())


class ParserTest(ClientTest):
    """The parser, case by case, and the minified build is current."""

    def test_parser_cases(self):
        body = """
const cases = %s;
window.__rec.results = cases.map(([chunks]) => {
  const out = [];
  const p = new M.Parser((e) => out.push([e.type, e.data, e.id]));
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  for (const c of chunks) p.feed(dec.decode(enc.encode(c), { stream: true }));
  return { events: out, lastId: p.lastId, retry: p.retry };
});
""" % json.dumps(PARSER_CASES)
        res = self.run_page(body).result()
        for case, got in zip(PARSER_CASES, res["results"]):
            chunks, events, last_id, retry = case
            self.assertEqual([tuple(e) for e in got["events"]], events, chunks)
            self.assertEqual(got["lastId"], last_id, chunks)
            self.assertEqual(got["retry"], retry, chunks)

    def test_defaults_and_policy_json(self):
        """The client's defaults are the library's table, and it reads
        the proxy's policy document as the proxy serves it."""
        body = """
window.__rec.defaults = M.DEFAULT_POLICY;
window.__rec.loaded = await M.loadPolicy('/sse-status?format=policy');
window.__rec.classes = [[404], [502], [503], [401], [403], [500], [504],
  [0, 'Network error'], [0, 'connection reset'], [0, 'event stream closed'],
  [0, 'premature end'], [0, 'whatever']].map((a) => M.classify(...a));
const s = M.DEFAULT_POLICY.strategies.SERVER_ERROR;
window.__rec.delays = [0, 1, 2, 3, 4, 5, 6].map((n) => M.backoffDelay(s, n, 1));
window.__rec.equal = Array.from({ length: 200 }, () => M.jittered('equal', s, 1000));
"""
        res = self.run_page(body).result()
        d = res["defaults"]
        self.assertEqual(d["jitter"], "equal")
        self.assertEqual(d["strategies"]["NETWORK_ERROR"],
                         {"initial_ms": 5000, "max_ms": 300000, "factor": 1.5, "max_attempts": 8})
        self.assertEqual(d["strategies"]["AUTH_ERROR"],
                         {"initial_ms": 30000, "max_ms": 600000, "factor": 2, "max_attempts": 5})
        self.assertEqual(d["strategies"]["SERVER_ERROR"],
                         {"initial_ms": 10000, "max_ms": 180000, "factor": 1.8, "max_attempts": 6})
        self.assertEqual(d["strategies"]["PROXY_ERROR"],
                         {"initial_ms": 15000, "max_ms": 900000, "factor": 2.5, "max_attempts": 4})
        self.assertEqual({g: (q["latency_threshold_ms"], q["multiplier"]) for g, q in d["quality"].items()},
                         {"EXCELLENT": (100, 0.5), "GOOD": (500, 1), "FAIR": (2000, 1.5), "POOR": (5000, 3)})
        served = self.policy()
        self.assertEqual(res["loaded"]["strategies"], served["strategies"])
        self.assertEqual(res["loaded"]["quality"], served["quality"])
        self.assertEqual(res["loaded"]["jitter"], served["jitter"])
        self.assertEqual(res["classes"], [
            "PROXY_ERROR", "PROXY_ERROR", "PROXY_ERROR", "AUTH_ERROR", "AUTH_ERROR",
            "SERVER_ERROR", "SERVER_ERROR", "NETWORK_ERROR", "NETWORK_ERROR",
            "PROXY_ERROR", "PROXY_ERROR", "NETWORK_ERROR"])
        # 10 s * 1.8^n up to 180 s, 6 attempts (1.8^3 * 10000 is 58320)
        self.assertEqual(res["delays"], [10000, 18000, 32400, 58320, 104976, 180000, -1])
        self.assertTrue(all(500 <= v <= 1000 for v in res["equal"]))

    def test_minified_build_is_current(self):
        rc = subprocess.run([test_browser.NODE, os.path.join(CLIENT_DIR, "minify.mjs"), "--check",
                             os.path.join(CLIENT_DIR, "ssep-client.js"),
                             os.path.join(CLIENT_DIR, "ssep-client.min.js")])
        self.assertEqual(rc.returncode, 0)

    def test_minified_size(self):
        """The shipped build stays about 5 KB (the README says how much):
        room for small fixes, none for a second copy of anything."""
        self.assertLessEqual(os.path.getsize(os.path.join(CLIENT_DIR, "ssep-client.min.js")), 5376)


class MinifiedParserTest(ClientTest):
    """The parser cases and the policy defaults against the shipped,
    minified build, whatever SSEP_CLIENT says."""
    module = "/client/ssep-client.min.js"
    test_parser_cases = ParserTest.test_parser_cases
    test_defaults_and_policy_json = ParserTest.test_defaults_and_policy_json


class OutageTokenTest(ClientTest):
    """The origin goes down under a live stream while the access token is
    rotated: the stream breaks, the old token gets a 401, the header
    callback fetches the new one, and the stream resumes where it was,
    with no event lost or repeated."""

    def test_outage_with_token_rotation(self):
        body = """
let token = null;
const c = window.__record(new M.SSEClient('/secure/events?rate=5', {
  policyUrl: '/sse-status?format=policy',
  headers: async (last) => {
    if (!token || last.status === 401) {
      token = (await (await fetch('/token.txt', { cache: 'no-store' })).text()).trim();
      window.__rec.tokens.push({ t: window.__now(), token, after: last.status ?? null });
    }
    return { Authorization: 'Bearer ' + token };
  },
}));
"""
        d = self.run_page(body, ready="window.__rec.events.length >= 5",
                          until="window.__rec.events.length >= window.__rec.mark + 25"
                                " && window.__rec.log.some((l) => l.kind === 'backoff'"
                                " && l.class === 'AUTH_ERROR')",
                          until_ms=60000, deadline_ms=120000)
        d.expect("READY")
        # the origin dies, and the operator rotates the token
        self.o[0].control(mode="down", for_ms=4000)
        self.set_token("t2")
        with open(self.httpd.conf_path) as f:
            text = f.read()
        with open(self.httpd.conf_path, "w") as f:
            f.write(text.replace("Bearer\\ t1$", "Bearer\\ t2$"))
        self.httpd.graceful()
        d.send("go")
        res = d.result(timeout=120)
        self.assertTrue(res["done"], json.dumps(res["log"])[:3000])
        ids = event_ids(res)
        self.assertEqual(ids[0], 1)
        assert_consecutive(self, ids)
        self.assertEqual([e["id"] for e in res["events"]], [str(i) for i in ids])
        # the token was refreshed once, after the 401
        self.assertEqual([(t["token"], t["after"]) for t in res["tokens"]],
                         [("t1", None), ("t2", 401)])
        auth = [b for b in of(res, "backoff") if b["class"] == "AUTH_ERROR"]
        self.assertEqual(len(auth), 1, auth)
        b = auth[0]
        # AUTH_ERROR initial=1200ms factor=2, no jitter: the policy served
        s = self.policy()["strategies"]["AUTH_ERROR"]
        self.assertEqual(s["initial_ms"], 1200)
        self.assertEqual(b["status"], 401)
        self.assertEqual(b["delay"], int(min(s["initial_ms"] * s["factor"] ** b["attempt"],
                                             s["max_ms"]) * b["multiplier"]))
        self.assertEqual(of(res, "policy")[0]["source"], "/sse-status?format=policy")
        self.assertNotIn("closed", [l["kind"] for l in res["log"]])
        # the resumption asked for the event after the last one seen
        before = ids[res["mark"] - 1]
        resumed = [q for q in self.o[0].requests()
                   if q["path"].startswith("/events") and q.get("last_event_id") not in (None, "-")]
        self.assertTrue(resumed, self.o[0].requests())
        self.assertTrue(all(int(q["last_event_id"]) >= before for q in resumed), resumed)
        self.assertTrue(any(" 401 " in line and "/secure/events" in line
                            for line in self.httpd.access_log()))


class DiscoveryTest(ClientTest):
    """Discovery from a list whose first candidates are dead: refused,
    404, a route that is no event stream; the SSE route is kept, found
    without a request to the backend."""

    def test_discovers_the_sse_route(self):
        dead = "http://127.0.0.1:%d/events" % harness.free_port()
        body = """
window.__record(new M.SSEClient(%s, {}));
""" % json.dumps([dead, "/missing/events", "/plain/health", "/events?rate=10&disc=1"])
        res = self.run_page(body, until="window.__rec.events.length >= 5").result()
        self.assertTrue(res["done"], res["log"])
        found = of(res, "discovered")
        self.assertEqual(len(found), 1)
        self.assertEqual(found[0]["url"], self.httpd.url + "/events?rate=10&disc=1")
        self.assertEqual(found[0]["relay"], "mod_sse_proxy")
        self.assertEqual(found[0]["status"], 200)
        opens = of(res, "open")
        self.assertEqual(opens[0]["url"], self.httpd.url + "/events?rate=10&disc=1")
        assert_consecutive(self, event_ids(res))
        reqs = self.o[0].requests()
        # the SSE route's probe never reached the origin; the plain one did
        self.assertEqual([q for q in reqs if q["method"] == "HEAD" and "disc=1" in q["path"]], [])
        self.assertEqual(len([q for q in reqs if q["method"] == "HEAD" and q["path"] == "/health"]), 1)
        self.assertEqual(len([q for q in reqs if q["method"] == "GET" and "disc=1" in q["path"]]), 1)

    def test_no_endpoint(self):
        body = """
window.__record(new M.SSEClient(['/missing/events', '/plain/health'], {}));
"""
        res = self.run_page(body, until="window.__rec.log.some((l) => l.kind === 'closed')").result()
        self.assertEqual([l["reason"] for l in of(res, "closed")], ["no-endpoint"])


class PostTest(ClientTest):
    """A POST token stream (OpenAI-shaped) read by the client."""

    def test_post_stream(self):
        body = """
const c = window.__record(new M.SSEClient('/v1/chat/completions?tokens=6&token_rate=40', {
  method: 'POST',
  body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  headers: { 'Content-Type': 'application/json' },
}));
c.addEventListener('message', (e) => { if (e.data === '[DONE]') c.close(); });
"""
        res = self.run_page(body, until="window.__rec.log.some((l) => l.kind === 'closed')").result()
        self.assertTrue(res["done"], res["log"])
        data = [e["data"] for e in res["events"]]
        self.assertEqual(data[-1], "[DONE]")
        tokens = [json.loads(x)["choices"][0]["delta"].get("content") for x in data[:-1]]
        self.assertEqual(tokens, [None] + ["tok%d " % i for i in range(1, 7)])
        self.assertEqual([l["reason"] for l in of(res, "closed")], ["closed"])
        self.assertEqual(len(of(res, "connecting")), 1)
        posts = [q for q in self.o[0].requests() if q["method"] == "POST"]
        self.assertEqual(len(posts), 1)
        self.assertTrue(self.o[0].lines("BODY"))


class BackoffTest(ClientTest):
    """Backoff by the policy the proxy serves: SERVER_ERROR
    initial=700ms max=2s factor=3 attempts=3, no jitter; then give-up.
    A 204 stops the client for good."""

    def test_backoff_follows_served_policy(self):
        body = """
window.__record(new M.SSEClient('/events?status=500', { policyUrl: '/sse-status?format=policy' }));
"""
        res = self.run_page(body, until="window.__rec.log.some((l) => l.kind === 'closed')",
                            until_ms=20000).result()
        self.assertTrue(res["done"], res["log"])
        s = self.policy()["strategies"]["SERVER_ERROR"]
        self.assertEqual((s["initial_ms"], s["max_ms"], s["factor"], s["max_attempts"]),
                         (700, 2000, 3, 3))
        backoffs = of(res, "backoff")
        self.assertEqual([(b["class"], b["attempt"], b["delay"], b["status"]) for b in backoffs],
                         [("SERVER_ERROR", 0, 700, 500), ("SERVER_ERROR", 1, 2000, 500),
                          ("SERVER_ERROR", 2, 2000, 500)])
        self.assertEqual({b["quality"] for b in backoffs}, {"GOOD"})
        closed = of(res, "closed")
        self.assertEqual([(c["reason"], c["class"]) for c in closed], [("give-up", "SERVER_ERROR")])
        # it waited as it said
        conn = [l["t"] for l in of(res, "connecting")]
        self.assertEqual(len(conn), 4)
        for b, nxt in zip(backoffs, conn[1:]):
            self.assertGreaterEqual(nxt - b["t"], b["delay"] - 20)
            self.assertLess(nxt - b["t"], b["delay"] + 1500)

    def test_204_stops(self):
        body = """
window.__record(new M.SSEClient('/events?status=204', {}));
"""
        res = self.run_page(body, until="window.__rec.log.some((l) => l.kind === 'closed')").result()
        self.assertEqual([(c["reason"], c["status"]) for c in of(res, "closed")], [("no-content", 204)])
        self.assertEqual(len(of(res, "connecting")), 1)
        self.assertEqual(of(res, "backoff"), [])


class BufferingProxy:
    """An HTTP/1.1 proxy on localhost in front of httpd that holds back
    every text/event-stream body until the stream ends (as a buffering
    reverse proxy does) and passes everything else, WebSocket upgrades
    included, straight through.  One request per connection."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.port = harness.free_port()
        self.loop = asyncio.new_event_loop()
        self.held = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self.serve, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)
        self.url = "http://127.0.0.1:%d" % self.port

    def serve(self, ready):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self.handle, "127.0.0.1", self.port))
        ready.set()
        self.loop.run_forever()

    async def pipe(self, r, w):
        try:
            while True:
                data = await r.read(65536)
                if not data:
                    break
                w.write(data)
                await w.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            try:
                w.close()
            except Exception:
                pass

    async def handle(self, cr, cw):
        try:
            head = await cr.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            cw.close()
            return
        upgrade = re.search(rb"(?im)^upgrade:\s*websocket", head) is not None
        if not upgrade:
            lines = [l for l in head.split(b"\r\n") if l and not l.lower().startswith(b"connection:")]
            head = b"\r\n".join(lines) + b"\r\nConnection: close\r\n\r\n"
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            cw.close()
            return
        uw.write(head)
        up = asyncio.ensure_future(self.pipe(cr, uw))
        try:
            rhead = await ur.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            up.cancel()
            cw.close()
            return
        cw.write(rhead)
        if not upgrade and re.search(rb"(?im)^content-type:\s*text/event-stream", rhead):
            # held back until the end: nothing reaches the client meanwhile
            self.held += 1
            body = b""
            try:
                while True:
                    data = await ur.read(65536)
                    if not data:
                        break
                    body += data
            except ConnectionError:
                pass
            cw.write(body)
            try:
                await cw.drain()
            except ConnectionError:
                pass
            cw.close()
            up.cancel()
            return
        await self.pipe(ur, cw)
        up.cancel()

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class WebSocketTest(ClientTest):
    """Behind a proxy that buffers event streams, no event and no
    heartbeat arrives: the client goes over to a WebSocket on the same
    URL, resuming with the last event id."""
    ws_conf = """
<Location /ws/events>
    ProxyPass balancer://feed/events
    SSEProxy On
    SSEProxyHeartbeat 1
    SSEProxyWebSocket On
</Location>
"""
    conf = CONF + """
<Location /hb/events>
    ProxyPass balancer://feed/events
    SSEProxy On
    SSEProxyHeartbeat 1
</Location>
"""

    def setUp(self):
        super().setUp()
        self.proxy = BufferingProxy(self.httpd.port)
        self.addCleanup(self.proxy.stop)

    def client_body(self, path):
        return """
window.__record(new M.SSEClient(%s, { websocket: true, heartbeat: 1000, bufferTimeout: 2500,
  lastEventId: '3' }));
""" % json.dumps(path)

    def test_buffering_detected(self):
        """Without a buffering proxy the heartbeats keep the stream; with
        one, the client gives up on the event stream and tries the
        WebSocket URL with lastEventId (which this route does not
        serve: it comes back to the event stream)."""
        body = self.client_body("/hb/events?rate=0.1")
        res = self.run_page(body, until="window.__now() > 4000", until_ms=8000).result()
        self.assertEqual(of(res, "transport"), [])
        self.assertEqual(len(of(res, "connecting")), 1)
        res = self.run_page(body, base=self.proxy.url,
                            until="window.__rec.log.filter((l) => l.kind === 'connecting').length >= 3",
                            until_ms=20000).result()
        self.assertTrue(res["done"], res["log"])
        switch = of(res, "transport")
        self.assertEqual([(t["from"], t["to"], t["reason"]) for t in switch][:1],
                         [("sse", "ws", "buffering")])
        conn = of(res, "connecting")
        self.assertEqual(conn[0]["transport"], "sse")
        self.assertGreaterEqual(switch[0]["t"] - conn[0]["t"], 2400)
        self.assertEqual(conn[1]["transport"], "ws")
        self.assertEqual(conn[1]["url"], self.proxy.url.replace("http:", "ws:")
                         + "/hb/events?rate=0.1&lastEventId=3")
        self.assertGreaterEqual(self.proxy.held, 1)

    def test_falls_back_to_websocket(self):
        self.httpd.stop()
        with open(self.httpd.conf_path) as f:
            text = f.read()
        with open(self.httpd.conf_path, "w") as f:
            f.write(text + self.ws_conf.replace("{o1}", self.o[0].url))
        self.httpd.start()
        self.proxy.stop()
        self.proxy = BufferingProxy(self.httpd.port)
        self.addCleanup(self.proxy.stop)
        res = self.run_page(self.client_body("/ws/events?rate=5"), base=self.proxy.url,
                            until="window.__rec.events.length >= 10", until_ms=20000).result()
        self.assertTrue(res["done"], res["log"])
        self.assertEqual([(t["from"], t["to"]) for t in of(res, "transport")], [("sse", "ws")])
        self.assertIn("ws", [o["transport"] for o in of(res, "open")])
        ids = event_ids(res)
        self.assertEqual(ids[0], 4)
        assert_consecutive(self, ids)


def main():
    return test_browser.main()


if __name__ == "__main__":
    sys.exit(main())
