# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""The test origin's AI-traffic modes, spoken to directly (no httpd):
request bodies of any framing, an OpenAI-shaped token stream that counts
what it produced for a client that left, and MCP Streamable HTTP
sessions with Last-Event-ID replay.  Proxy tests build on these."""
import json
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Origin, RawClient, data_events, parse_events, wait_for  # noqa: E402


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return "%016x" % h


class Raw:
    """A request written by hand, so that framing and Expect are ours."""

    def __init__(self, port, head, body=b""):
        self.sock = socket.create_connection(("127.0.0.1", port), 10)
        self.sock.sendall(head.encode("latin-1") + body)

    def head(self):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data

    def close(self):
        self.sock.close()


class OriginAiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = harness.workdir()
        cls.o = Origin(cls.work, "ai")

    @classmethod
    def tearDownClass(cls):
        cls.o.stop()
        harness.remove_workdir(cls.work)

    def post(self, path, body, headers=None):
        h = {"Content-Type": "application/json",
             "Content-Length": str(len(body))}
        h.update(headers or {})
        c = RawClient(self.o.port, path, headers=h, method="POST",
                      body=body)
        data = c.read_to_end()
        c.close()
        return c.resp, data

    def test_chunked_upload_with_expect(self):
        body = os.urandom(3 * 1024 * 1024 + 17)
        r = Raw(self.o.port,
                "POST /v1/chat/completions?tokens=2&token_rate=200 HTTP/1.1\r\n"
                "Host: o\r\nTransfer-Encoding: chunked\r\n"
                "Expect: 100-continue\r\n\r\n")
        self.assertTrue(r.head().startswith(b"HTTP/1.1 100 Continue"))
        for i in range(0, len(body), 65521):
            part = body[i:i + 65521]
            r.sock.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
        r.sock.sendall(b"0\r\n\r\n")
        self.assertIn(b" 200 ", r.head())
        r.close()
        got = wait_for(lambda: [b for b in self.o.lines("BODY")
                                if b["bytes"] == str(len(body))],
                       what="the BODY line")
        self.assertEqual(got[0]["fnv"], fnv1a64(body))

    def test_token_stream(self):
        resp, body = self.post("/v1/chat/completions?tokens=3&token_rate=100",
                               b'{"stream": true}')
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.headers["content-type"]
                        .startswith("text/event-stream"))
        events = [e["data"] for e in data_events(body)]
        self.assertEqual(events[-1], "[DONE]")
        chunks = [json.loads(d) for d in events[:-1]]
        self.assertEqual(chunks[0]["choices"][0]["delta"], {"role": "assistant"})
        self.assertEqual([c["choices"][0]["delta"]["content"]
                          for c in chunks[1:]], ["tok1 ", "tok2 ", "tok3 "])

        resp, body = self.post("/v1/messages?tokens=2", b'{"stream":false}')
        self.assertEqual(resp.status, 200)
        self.assertIn(b"tok1 tok2 ", body)

        resp, body = self.post("/v1/chat/completions?status=429&retry_after=7",
                               b"{}")
        self.assertEqual((resp.status, resp.headers.get("retry-after")),
                         (429, "7"))
        self.assertIn("error", json.loads(body))

    def test_client_that_leaves_is_counted(self):
        c = RawClient(self.o.port,
                      "/v1/chat/completions?think_ms=60000&tokens=5",
                      headers={"Content-Length": "2"}, method="POST",
                      body=b"{}")
        c.read_chunk()          # the role chunk; then the model thinks
        c.close()
        conn = [x["conn"] for x in self.o.lines("LLM")
                if x["think_ms"] == "60000"][0]
        closes = wait_for(lambda: [x for x in self.o.lines("CLOSE")
                                   if x["conn"] == conn],
                          timeout=5, what="the CLOSE line")
        self.assertEqual((closes[0]["by"], closes[0]["tokens_sent"]),
                         ("peer", "0"))

    def test_mcp_session(self):
        resp, body = self.post("/mcp", b'{"jsonrpc":"2.0","id":7,'
                               b'"method": "initialize","params":{}}')
        self.assertEqual(resp.status, 200)
        sid = resp.headers["mcp-session-id"]
        self.assertEqual(json.loads(body)["id"], 7)
        s = {"Mcp-Session-Id": sid}

        resp, _ = self.post("/mcp", b'{"jsonrpc":"2.0",'
                            b'"method":"notifications/initialized"}', s)
        self.assertEqual(resp.status, 202)
        resp, body = self.post("/mcp", b'{"jsonrpc":"2.0","id":8,'
                               b'"method":"tools/call","params":{}}', s)
        self.assertEqual(resp.status, 200)
        ids = [e["id"] for e in parse_events(body)]
        self.assertEqual(ids, ["1", "2"])
        self.assertEqual(json.loads(data_events(body)[-1]["data"])["id"], 8)

        # the server's own stream, then a resumption that replays
        c = RawClient(self.o.port, "/mcp?rate=50",
                      headers=dict(s, Accept="text/event-stream"))
        c.read_until(lambda b: len(data_events(b)) >= 3)
        c.close()
        c = RawClient(self.o.port, "/mcp?rate=50",
                      headers=dict(s, Accept="text/event-stream",
                                   **{"Last-Event-ID": "2"}))
        body = c.read_until(lambda b: len(data_events(b)) >= 4)
        c.close()
        self.assertEqual([e["id"] for e in data_events(body)][:3],
                         ["3", "4", "5"])

        self.assertEqual(self.post("/mcp", b'{"id":1,"method":"x"}')[0].status,
                         400)
        c = RawClient(self.o.port, "/mcp", headers=s, method="DELETE")
        c.read_to_end()
        c.close()
        self.assertEqual(c.resp.status, 200)
        resp, body = self.post("/mcp", b'{"id":9,"method":"tools/list"}', s)
        self.assertEqual(resp.status, 404)
        self.assertEqual(json.loads(body)["error"]["code"], -32001)


if __name__ == "__main__":
    unittest.main(verbosity=2)
