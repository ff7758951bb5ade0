# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Every method on an SSE route: request bodies of any framing reach the
backend intact (kept bodies fail over, larger ones stream), the answer's
type decides how it is relayed, a client that leaves stops the backend's
work, a backend's Retry-After is a floor, and sessions named by a
response header stay on their member."""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawClient, data_events, wait_for  # noqa: E402
from test_origin_ai import fnv1a64  # noqa: E402
from test_policy import BENIGN, decisions  # noqa: E402

# what these tests provoke on purpose: bodies larger than the buffer
# (SSE00063), clients that leave (SSE00067), a member failing under a
# streamed body (SSE00068), lost sessions (SSE00066), members backed off
# (SSE00030/SSE00058), httpd's own notes on refused bodies and failed
# writes to members that went away
ALLOWED = list(BENIGN) + [r"SSE0006[3678]", r"SSE0003[0]", r"SSE0005[589]",
                          r"SSE0000[246]", r"AH01084", r"AH00898",
                          r"AH01102", r"AH02608", r"AH01095"]
JSON = {"Content-Type": "application/json"}
MCP_ACCEPT = "application/json, text/event-stream"


def curl(*args, timeout=60):
    res = subprocess.run(["curl", "-sS", "-i", "--http1.1"] + list(args),
                         capture_output=True, timeout=timeout)
    return res.stdout


def status_of(raw):
    """The final status of a curl -i output (after any 100 Continue)."""
    codes = re.findall(rb"^HTTP/1\.1 (\d{3})", raw, re.M)
    return int(codes[-1]) if codes else None


class MethodsBase(harness.ProxyTestCase):
    allowed = ALLOWED

    def post(self, path, body, headers=None, timeout=20):
        h = dict(JSON)
        h["Content-Length"] = str(len(body))
        h.update(headers or {})
        c = RawClient(self.httpd.port, path, headers=h, method="POST",
                      body=body, timeout=timeout)
        try:
            data = c.read_to_end(timeout=timeout)
        finally:
            c.close()
        return c.resp, data

    def bodies(self, origin):
        """{conn: (bytes, fnv)} of the bodies an origin read."""
        return [(b["bytes"], b["fnv"]) for b in origin.lines("BODY")]

    def tokens(self, body):
        return [json.loads(e["data"])["choices"][0]["delta"].get("content")
                for e in data_events(body) if e["data"] != "[DONE]"]


class LlmStreamTest(MethodsBase):
    """1./2./7. POST token streams behind Timeout 3: the answer decides."""
    timeout = 3
    servers = 2
    # streams that wait without a thread: 200 of them on 64 threads;
    # otherwise a thread each
    threads = 32 if harness.ASYNC == "on" else 160
    conf = """
AsyncRequestWorkerFactor 10
<Location /v1>
    ProxyPass {o1}/v1
    SSEProxy On
    SSEProxyHeartbeat 2
    # an event stream is never compressed, whatever the server says
    AddOutputFilterByType DEFLATE text/event-stream application/json
</Location>
<Location /mcp>
    ProxyPass {o1}/mcp
    SSEProxy On
</Location>
<Location /small>
    ProxyPass {o1}/v1
    SSEProxy On
    LimitRequestBody 100000
</Location>
"""

    def test_think_longer_than_timeout(self):
        started = time.monotonic()
        resp, body = self.post("/v1/chat/completions?think_ms=8000&tokens=5",
                               b'{"stream":true}', timeout=30,
                               headers={"Accept-Encoding": "gzip"})
        took = time.monotonic() - started
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.headers["content-type"]
                        .startswith("text/event-stream"))
        self.assertEqual(self.tokens(body),
                         [None] + ["tok%d " % k for k in range(1, 6)])
        self.assertEqual(data_events(body)[-1]["data"], "[DONE]")
        self.assertGreaterEqual(took, 7.9)
        self.assertNotIn("content-encoding", resp.headers)
        # heartbeats between the first chunk and the first token, every
        # SSEProxyHeartbeat (2 s) of the 8 s of thought
        thinking = body.split(b"assistant")[1].split(b"tok1")[0]
        self.assertGreaterEqual(thinking.count(b": heartbeat\n\n"), 3)

    def test_json_answer_and_202_on_one_route(self):
        resp, body = self.post("/v1/chat/completions?tokens=3",
                               b'{"stream": false}')
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.headers["content-type"], "application/json")
        self.assertEqual(int(resp.headers["content-length"]), len(body))
        doc = json.loads(body)
        self.assertEqual(doc["choices"][0]["message"]["content"],
                         "tok1 tok2 tok3 ")
        # MCP on the same kind of route: a JSON answer with a session
        # header, a 202 with no body, then an event stream
        resp, body = self.post("/mcp", b'{"jsonrpc":"2.0","id":1,'
                               b'"method":"initialize"}',
                               headers={"Accept": MCP_ACCEPT})
        self.assertEqual(resp.status, 200)
        sid = resp.headers["mcp-session-id"]
        self.assertRegex(sid, r"^[0-9a-f]{32}$")
        self.assertEqual(json.loads(body)["id"], 1)
        resp, body = self.post("/mcp", b'{"jsonrpc":"2.0","method":'
                               b'"notifications/initialized"}',
                               headers={"Accept": MCP_ACCEPT,
                                        "Mcp-Session-Id": sid})
        self.assertEqual((resp.status, body), (202, b""))
        resp, body = self.post("/mcp", b'{"jsonrpc":"2.0","id":2,'
                               b'"method":"tools/call"}',
                               headers={"Accept": MCP_ACCEPT,
                                        "Mcp-Session-Id": sid})
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.headers["content-type"]
                        .startswith("text/event-stream"))
        events = data_events(body)
        self.assertEqual(json.loads(events[-1]["data"])["id"], 2)

    def test_error_answers_are_relayed(self):
        # a 429 (not counted by default) reaches the client as the backend
        # gave it: JSON body and Retry-After
        resp, body = self.post("/v1/chat/completions?status=429&retry_after=7",
                               b'{"stream":true}')
        self.assertEqual(resp.status, 429)
        self.assertEqual(resp.headers.get("retry-after"), "7")
        self.assertEqual(json.loads(body)["error"]["message"], "status 429")

    def test_chunked_upload_of_10_mb_answered_by_a_stream(self):
        data = os.urandom(10 * 1024 * 1024)
        path = os.path.join(self.work, "upload.bin")
        with open(path, "wb") as f:
            f.write(data)
        out = curl("-X", "POST", "-H", "Transfer-Encoding: chunked",
                   "-H", "Content-Type: application/octet-stream",
                   "--data-binary", "@" + path,
                   self.httpd.url + "/v1/chat/completions?tokens=2")
        self.assertEqual(status_of(out), 200)
        self.assertIn(b"tok2", out)
        self.assertIn(("%d" % len(data), fnv1a64(data)),
                      self.bodies(self.o[0]))

    def test_expect_100_continue(self):
        data = os.urandom(300 * 1024)
        path = os.path.join(self.work, "expect.bin")
        with open(path, "wb") as f:
            f.write(data)
        out = curl("-X", "POST", "-H", "Expect: 100-continue",
                   "--expect100-timeout", "30",
                   "--data-binary", "@" + path,
                   self.httpd.url + "/v1/chat/completions?tokens=1")
        self.assertTrue(out.startswith(b"HTTP/1.1 100 Continue"), out[:200])
        self.assertEqual(status_of(out), 200)
        self.assertIn(("%d" % len(data), fnv1a64(data)),
                      self.bodies(self.o[0]))

    def test_body_over_limit_never_reaches_the_backend(self):
        before = len(self.o[0].requests())
        data = os.urandom(200 * 1024)
        path = os.path.join(self.work, "big.bin")
        with open(path, "wb") as f:
            f.write(data)
        for framing in ([], ["-H", "Transfer-Encoding: chunked"]):
            out = curl("-X", "POST", *framing, "--data-binary", "@" + path,
                       self.httpd.url + "/small/chat/completions")
            self.assertEqual(status_of(out), 413, out[:300])
        self.assertEqual(len(self.o[0].requests()), before)

    def test_200_concurrent_streams_thinking_longer_than_timeout(self):
        n = 200
        results = [None] * n

        def one(i):
            try:
                resp, body = self.post(
                    "/v1/chat/completions?think_ms=4500&tokens=3&n=%d" % i,
                    b'{"stream":true}', timeout=60)
                results[i] = (resp.status, self.tokens(body)[-1])
            except Exception as e:  # reported below
                results[i] = repr(e)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        bad = [r for r in results if r != (200, "tok3 ")]
        self.assertEqual(bad, [], "%d of %d streams" % (len(bad), n))


class ClientGoneTest(MethodsBase):
    """3. A client that leaves closes the backend connection within 1 s,
    thinking or not, before the answer's head or during the stream."""
    timeout = 30
    conf = """
LogLevel warn sse_proxy:info
<Location /v1>
    ProxyPass {o1}/v1
    SSEProxy On
</Location>
<Location /events>
    ProxyPass {o1}/events
    SSEProxy On
</Location>
"""

    def test_left_while_the_model_thinks(self):
        o = self.o[0]
        n = len(o.closes())
        c = RawClient(self.httpd.port,
                      "/v1/chat/completions?think_ms=20000&tokens=5",
                      headers=dict(JSON, **{"Content-Length": "2"}),
                      method="POST", body=b"{}", timeout=10)
        c.read_until(lambda b: b"assistant" in b)
        left = time.monotonic()
        c.close()
        wait_for(lambda: len(o.closes()) > n, timeout=5,
                 what="the origin's CLOSE")
        after = time.monotonic() - left
        close = o.closes()[-1]
        self.assertEqual(close["by"], "peer")
        self.assertEqual(close["tokens_sent"], "0")
        self.assertLess(after, 1.5)
        print("\nclient left while thinking: origin closed after %.0f ms, "
              "%s tokens produced" % (after * 1000, close["tokens_sent"]),
              file=sys.stderr)

    def test_left_while_the_model_thinks_h2(self):
        # curl over h2c: the user's tab closes while the model is silent
        o = self.o[0]
        n = len(o.closes())
        proc = subprocess.Popen(
            ["curl", "-sS", "-N", "--http2-prior-knowledge", "-X", "POST",
             "-H", "Content-Type: application/json", "--data", "{}",
             self.httpd.url + "/v1/chat/completions?think_ms=20000&tokens=5"],
            stdout=subprocess.PIPE)
        try:
            first = proc.stdout.readline()
            while b"assistant" not in first:
                first = proc.stdout.readline()
                self.assertTrue(first, "no first chunk")
        finally:
            proc.kill()
            left = time.monotonic()
            proc.wait()
            proc.stdout.close()
        wait_for(lambda: len(o.closes()) > n, timeout=5,
                 what="the origin's CLOSE")
        after = time.monotonic() - left
        close = o.closes()[-1]
        self.assertEqual(close["by"], "peer")
        self.assertEqual(close["tokens_sent"], "0")
        self.assertLess(after, 1.5)
        self.assertTrue([l for l in self.httpd.access_log()
                         if "think_ms=20000" in l and l.endswith("HTTP/2.0")])
        print("\nclient left while thinking (HTTP/2): origin closed after "
              "%.0f ms, %s tokens produced" % (after * 1000,
                                               close["tokens_sent"]),
              file=sys.stderr)

    def test_left_mid_stream(self):
        o = self.o[0]
        n = len(o.closes())
        c = RawClient(self.httpd.port,
                      "/v1/chat/completions?tokens=100000&token_rate=50",
                      headers=dict(JSON, **{"Content-Length": "2"}),
                      method="POST", body=b"{}", timeout=10)
        c.read_until(lambda b: b"tok10 " in b)
        seen = len(re.findall(rb"tok\d+ ", c.resp.body))
        left = time.monotonic()
        c.close()
        wait_for(lambda: len(o.closes()) > n, timeout=5,
                 what="the origin's CLOSE")
        after = time.monotonic() - left
        close = o.closes()[-1]
        self.assertEqual(close["by"], "peer")
        produced_after = int(close["tokens_sent"]) - seen
        # at 50 tokens/s, one second is 50 tokens
        self.assertLess(produced_after, 50, close)
        print("\nclient left mid-stream: origin closed after %.0f ms, %d "
              "tokens produced after" % (after * 1000, produced_after),
              file=sys.stderr)

    def test_left_before_the_head(self):
        o = self.o[0]
        n = len(o.closes())
        s = socket.create_connection(("127.0.0.1", self.httpd.port), 5)
        s.sendall(b"GET /events?head_delay_ms=20000 HTTP/1.1\r\n"
                  b"Host: x\r\nAccept: text/event-stream\r\n\r\n")
        wait_for(lambda: [q for q in o.requests()
                          if "head_delay_ms" in q["path"]],
                 timeout=5, what="the request at the origin")
        left = time.monotonic()
        s.close()
        wait_for(lambda: len(o.closes()) > n, timeout=5,
                 what="the origin's CLOSE")
        after = time.monotonic() - left
        self.assertEqual(o.closes()[-1]["by"], "peer")
        self.assertLess(after, 1.5)
        self.assertIn("SSE00067", self.httpd.error_log())


class FailoverTest(MethodsBase):
    """1. A kept body fails over before the first response byte, intact;
    a body larger than SSEProxyBodyBuffer is not sent twice."""
    origins = 2
    conf = """
LogLevel warn sse_proxy:info
SSEProxyJitter none
SSEProxyMemberFailureThreshold 1
SSEProxyMemberFailureShare 50
<Proxy balancer://refuse>
    BalancerMember {o1}
    BalancerMember {o2}
    ProxySet forcerecovery=Off
</Proxy>
<Proxy balancer://counted>
    BalancerMember {o1}
    BalancerMember {o2}
    ProxySet forcerecovery=Off
</Proxy>
<Proxy balancer://streamed>
    BalancerMember {o1}
    BalancerMember {o2}
    ProxySet forcerecovery=Off
</Proxy>
# a balancer per test: member state is per balancer and member
<Location /refuse>
    ProxyPass balancer://refuse/v1
    SSEProxy On
</Location>
<Location /counted>
    ProxyPass balancer://counted/v1
    SSEProxy On
</Location>
<Location /streamed>
    ProxyPass balancer://streamed/v1
    SSEProxy On
    SSEProxyBodyBuffer 64K
</Location>
"""

    def setUp(self):
        for o in self.o:
            o.control(mode="normal")

    def test_kept_body_fails_over_intact(self):
        self.o[0].control(mode="refuse")
        data = os.urandom(512 * 1024)
        results = []
        for i in range(6):
            started = time.monotonic()
            resp, body = self.post("/refuse/chat/completions?tokens=2&i=%d"
                                   % i, data)
            results.append(time.monotonic() - started)
            self.assertEqual(resp.status, 200, body[:200])
            self.assertEqual(resp.headers["x-origin-name"], "origin2")
            self.assertIn("tok2", body.decode())
        # every body reached origin2 whole; origin1 read the first one
        # before failing it, and was then backed off
        self.assertEqual(self.bodies(self.o[1]).count(
            ("%d" % len(data), fnv1a64(data))), 6)
        got = [d for d in decisions(self.httpd, self.o[0].url)
               if d[2]["balancer"] == "refuse"]
        self.assertEqual(len(got), 1, got)
        print("\nPOST failover: 6 of 6 bodies of 512 KiB served by the "
              "other member, %.0f ms for the one that failed over" %
              (results[0] * 1000), file=sys.stderr)

    def test_counted_status_fails_over_with_the_body(self):
        self.o[1].control(mode="status", status=502)
        data = os.urandom(100 * 1024)
        for i in range(4):
            resp, body = self.post("/counted/chat/completions?tokens=1&s=%d"
                                   % i, data)
            self.assertEqual(resp.status, 200, body[:200])
            self.assertEqual(resp.headers["x-origin-name"], "origin1")
        self.assertEqual(self.bodies(self.o[0]).count(
            ("%d" % len(data), fnv1a64(data))), 4)

    def test_streamed_body_is_not_retried(self):
        self.o[0].control(mode="refuse")
        self.o[1].control(mode="refuse")
        data = os.urandom(200 * 1024)
        resp, body = self.post("/streamed/chat/completions", data)
        # one member read it and failed: the client is told, no member is
        # sent the body a second time
        self.assertEqual(resp.status, 502)
        sent = sum(len([b for b in o.lines("BODY")
                        if b["bytes"] == "%d" % len(data)]) for o in self.o)
        self.assertEqual(sent, 1)
        log = self.httpd.error_log()
        self.assertIn("SSE00063", log)
        self.assertIn("SSE00068", log)


class RetryAfterTest(MethodsBase):
    """4. A backend's Retry-After on a counted 503 is a floor for the
    member's backoff and for what the client is told; a 429 is relayed
    and takes no member out unless the operator counts it."""
    conf = """
SSEProxyJitter none
SSEProxyMemberFailureThreshold 1
<Proxy balancer://one>
    BalancerMember {o1}
    ProxySet forcerecovery=Off
</Proxy>
<Location /v1>
    ProxyPass balancer://one/v1
    SSEProxy On
</Location>
<Location /status>
    SetHandler sse-proxy-status
</Location>
"""

    def member(self):
        c = RawClient(self.httpd.port, "/status?format=json")
        doc = json.loads(c.read_to_end().decode())
        c.close()
        return [m for m in doc["members"] if m["balancer"] == "one"][0]

    def test_retry_after_is_a_floor(self):
        resp, body = self.post("/v1/chat/completions?status=429&"
                               "retry_after=120", b"{}")
        self.assertEqual(resp.status, 429)
        self.assertIs(self.member()["usable"], True)
        resp, body = self.post("/v1/chat/completions?status=503&"
                               "retry_after=120", b"{}")
        self.assertEqual(resp.status, 503)
        self.assertGreaterEqual(int(resp.headers["retry-after"]), 119)
        m = self.member()
        self.assertIs(m["usable"], False)
        # PROXY_ERROR starts at 15 s; the backend asked for 120
        self.assertGreater(m["next_retry_in_ms"], 100000)
        # a client with nothing left to try is told the same
        resp, body = self.post("/v1/chat/completions", b"{}",
                               headers={"Accept": MCP_ACCEPT})
        self.assertEqual(resp.status, 503)
        self.assertGreaterEqual(int(resp.headers["retry-after"]), 100)


class SessionTest(MethodsBase):
    """5. Sessions named by Mcp-Session-Id stay on their member, from any
    child and across a graceful restart; a session whose member cannot
    serve it gets 404; DELETE ends it; resumption reaches its member."""
    origins = 2
    servers = 2
    conf = """
LogLevel warn sse_proxy:info
SSEProxyJitter none
<Proxy balancer://mcp>
    BalancerMember {o1}
    BalancerMember {o2}
    ProxySet forcerecovery=Off
</Proxy>
<Location /mcp>
    ProxyPass balancer://mcp/mcp
    SSEProxy On
    SSEProxySessionHeader Mcp-Session-Id
</Location>
"""

    def rpc(self, body, sid=None, path="/mcp"):
        h = {"Accept": MCP_ACCEPT}
        if sid:
            h["Mcp-Session-Id"] = sid
        return self.post(path, body.encode(), headers=h)

    def open_session(self):
        resp, body = self.rpc('{"jsonrpc":"2.0","id":1,"method":"initialize"}')
        self.assertEqual(resp.status, 200)
        return resp.headers["mcp-session-id"], resp.headers["x-origin-name"]

    def test_sessions_stay_on_their_member(self):
        owners = set()
        for k in range(6):
            sid, owner = self.open_session()
            owners.add(owner)
            for i in range(5):
                resp, body = self.rpc('{"jsonrpc":"2.0","id":%d,'
                                      '"method":"tools/call"}' % (i + 2), sid)
                self.assertEqual(resp.status, 200, body)
                self.assertEqual(resp.headers["x-origin-name"], owner)
            resp, body = self.rpc('{"jsonrpc":"2.0","method":"n"}', sid)
            self.assertEqual((resp.status, body), (202, b""))
        self.assertEqual(owners, {"origin1", "origin2"})

    def test_graceful_restart_keeps_sessions(self):
        sid, owner = self.open_session()
        generations = self.httpd.error_log().count("resuming normal operations")
        self.httpd.graceful()
        wait_for(lambda: self.httpd.error_log().count(
            "resuming normal operations") > generations, timeout=10,
            what="the new generation")
        for i in range(4):
            resp, body = self.rpc('{"jsonrpc":"2.0","id":%d,"method":"x"}'
                                  % (i + 2), sid)
            self.assertEqual(resp.status, 200, body)
            self.assertEqual(resp.headers["x-origin-name"], owner)

    def test_delete_ends_the_session(self):
        sid, owner = self.open_session()
        c = RawClient(self.httpd.port, "/mcp", method="DELETE",
                      headers={"Mcp-Session-Id": sid})
        c.read_to_end()
        c.close()
        self.assertEqual(c.resp.status, 200)
        # forgotten: balanced as any request, and no member knows it
        statuses = set()
        for i in range(4):
            resp, body = self.rpc('{"jsonrpc":"2.0","id":5,"method":"x"}',
                                  sid)
            statuses.add(resp.status)
        self.assertEqual(statuses, {404})

    def test_unknown_session_is_balanced(self):
        seen = set()
        for i in range(8):
            resp, body = self.rpc('{"jsonrpc":"2.0","id":5,"method":"x"}',
                                  "0123456789abcdef0123456789abcdef")
            self.assertEqual(resp.status, 404)
            seen.add(resp.headers["x-origin-name"])
            if len(seen) == 2:
                break
        self.assertEqual(seen, {"origin1", "origin2"})

    def test_resumption_reaches_the_member(self):
        sid, owner = self.open_session()
        for i in range(3):
            self.rpc('{"jsonrpc":"2.0","id":%d,"method":"tools/call"}'
                     % (i + 2), sid)
        # events 1..6 are in the session's ring; resume after 4
        c = RawClient(self.httpd.port, "/mcp?rate=20", headers={
            "Accept": "text/event-stream", "Mcp-Session-Id": sid,
            "Last-Event-ID": "4"})
        body = c.read_until(lambda b: b"id: 7" in b)
        c.close()
        self.assertEqual(c.resp.headers["x-origin-name"], owner)
        self.assertEqual([e["id"] for e in data_events(body)][:3],
                         ["5", "6", "7"])

    def test_zz_member_down_gives_404(self):
        sid, owner = self.open_session()
        victim = [o for o in self.o if o.name == owner][0]
        victim.control(mode="down", for_ms=3000)
        resp, body = self.rpc('{"jsonrpc":"2.0","id":2,"method":"x"}', sid)
        self.assertEqual(resp.status, 404)
        self.assertIn("SSE00066", self.httpd.error_log())
        # the member is now backed off: the session is not served by the
        # other member either
        resp, body = self.rpc('{"jsonrpc":"2.0","id":3,"method":"x"}', sid)
        self.assertEqual(resp.status, 404)


if __name__ == "__main__":
    unittest.main(verbosity=2)
