# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Real AI-protocol client libraries through httpd + mod_sse_proxy: the
openai SDK streaming a chat completion whose model thinks longer than
httpd's Timeout, and the Model Context Protocol SDK running sessions
behind a balancer of two origins, which only work when every request of
a session reaches the member that created it.

The clients are test/browser/ai_client.mjs (node; the SDKs are pinned in
test/browser/package.json: `npm ci` there).  It prints JSON lines; the
assertions are here.  The module skips when node or the SDKs are
missing, and then exits 77 (skip) like the browser tests.

    cd test/browser && npm ci
    top_builddir=. top_srcdir=. HTTPD=/usr/sbin/apache2 \\
        python3 test/integration/test_ai_clients.py
"""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import wait_for  # noqa: E402

BROWSER_DIR = os.path.join(harness.TOP_SRCDIR, "test", "browser")
CLIENT = os.path.join(BROWSER_DIR, "ai_client.mjs")
PACKAGES = ["openai", "@modelcontextprotocol/sdk"]
NODE = os.environ.get("NODE") or shutil.which("node")

# Error-log lines (warn and above) a client that leaves mid-stream may
# cause, judged benign.
BENIGN = [
    r"AH01102",   # mod_proxy_http: error reading status line
    r"AH00898",   # mod_proxy: error reading from remote server
]


def setUpModule():
    if not NODE:
        raise unittest.SkipTest("node not found")
    for pkg in PACKAGES:
        if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", pkg)):
            raise unittest.SkipTest("%s missing: run npm ci in test/browser"
                                    % pkg)


def run_client(*args, timeout=90):
    """Runs ai_client.mjs; returns (exit status, JSON lines, stderr)."""
    res = subprocess.run([NODE, CLIENT] + list(args), cwd=BROWSER_DIR,
                         capture_output=True, text=True, timeout=timeout)
    lines = []
    for line in res.stdout.splitlines():
        line = line.strip()
        if line:
            lines.append(json.loads(line))
    return res.returncode, lines, res.stderr


class AiBase(harness.ProxyTestCase):
    allowed = BENIGN

    def client(self, *args, ok=True, timeout=90):
        rc, lines, err = run_client(*args, timeout=timeout)
        if ok:
            self.assertEqual(rc, 0, "client failed: %r\n%s" % (lines, err))
        return rc, lines


class LlmTest(AiBase):
    """The openai SDK (which asks for Accept: application/json even when
    it streams) through an SSE location whose Timeout is shorter than the
    model's silence before its first token."""
    timeout = 3
    conf = """
<Location /v1>
    ProxyPass {o1}/v1
    SSEProxy On
</Location>
"""

    def llm_conn(self, think_ms, tokens):
        """The origin's connection id of the one LLM request with these
        parameters."""
        got = [x["conn"] for x in self.o[0].lines("LLM")
               if x["think_ms"] == str(think_ms) and x["tokens"] == str(tokens)]
        self.assertEqual(len(got), 1, got)
        return got[0]

    def test_thinking_longer_than_timeout(self):
        _, lines = self.client("chat", "--base", self.httpd.url + "/v1",
                               "--query", "think_ms=8000&tokens=5")
        tokens = [x for x in lines if "token" in x]
        self.assertEqual([x["token"] for x in tokens],
                         ["tok%d " % k for k in range(1, 6)])
        # the first token really came after the silence, and all of them
        # as they were generated (20/s), not at the end
        self.assertGreaterEqual(tokens[0]["t_ms"], 7900)
        self.assertLess(tokens[-1]["t_ms"] - tokens[0]["t_ms"], 2000)
        self.assertEqual(lines[-1]["done"], True)
        self.assertEqual(lines[-1]["tokens"], 5)
        conn = self.llm_conn(8000, 5)
        ends = [x for x in self.o[0].lines("END") if x["conn"] == conn]
        self.assertEqual([x["tokens_sent"] for x in ends], ["5"])

    def test_not_streamed(self):
        _, lines = self.client("chat", "--no-stream",
                               "--base", self.httpd.url + "/v1",
                               "--query", "tokens=3")
        self.assertEqual(lines[0]["content"], "tok1 tok2 tok3 ")
        self.assertEqual((lines[-1]["done"], lines[-1]["tokens"]), (True, 3))

    def test_client_that_aborts_frees_the_origin(self):
        _, lines = self.client("chat", "--base", self.httpd.url + "/v1",
                               "--query", "tokens=400&token_rate=20",
                               "--abort-after", "3")
        self.assertEqual(lines[-1]["aborted"], True)
        self.assertEqual(lines[-1]["tokens"], 3)
        conn = self.llm_conn(0, 400)
        closes = wait_for(lambda: [x for x in self.o[0].closes()
                                   if x["conn"] == conn],
                          timeout=5, what="the origin to see the client leave")
        self.assertEqual(closes[0]["by"], "peer")
        self.assertLess(int(closes[0]["tokens_sent"]), 400)

    def test_origin_error_reaches_the_sdk(self):
        rc, lines = self.client("chat", "--base", self.httpd.url + "/v1",
                                "--query", "status=429&retry_after=7",
                                ok=False)
        self.assertEqual(rc, 1)
        self.assertEqual(lines[-1]["status"], 429)


MCP_CONF = """
<Proxy balancer://mcp>
    BalancerMember {o1}
    BalancerMember {o2}
</Proxy>
<Location /mcp>
    ProxyPass balancer://mcp/mcp
    SSEProxy On
    SSEProxySessionHeader Mcp-Session-Id
</Location>
# the same balancer without the module: the control group
<Location /stock/mcp>
    ProxyPass balancer://mcp/mcp
</Location>
"""


class McpBalancerTest(AiBase):
    """The MCP SDK's Streamable HTTP client behind a balancer of two
    origins, each knowing only the sessions it created."""
    origins = 2
    conf = MCP_CONF
    extra_modules = ()

    SESSIONS = 5
    CALLS = 3

    def test_sessions_stay_on_their_member(self):
        # think_ms: each tool call's stream stays open a while; rate: the
        # standalone GET stream the SDK opens by itself carries events
        target = "/mcp?think_ms=200&rate=20"
        _, lines = self.client(
            "mcp", "--url", self.httpd.url + target,
            "--calls", str(self.CALLS), "--sessions", str(self.SESSIONS))
        self.assertEqual(lines[-1], {"done": True})
        # every request reached an origin with its query string, those
        # sent to a session's member as much as the first
        # (initialize, initialized, GET, the calls, ping, DELETE)
        sent = self.SESSIONS * (5 + self.CALLS)
        paths = [x["path"] for o in self.o for x in o.requests()
                 if x["path"].startswith("/mcp")]
        self.assertEqual(paths.count(target), sent, paths)
        sessions = [x["session"] for x in lines if "index" in x]
        self.assertEqual(len(set(sessions)), self.SESSIONS, lines)
        for sid in sessions:
            calls = [x for x in lines if x.get("session") == sid
                     and "call" in x]
            self.assertEqual([(x["text"], x["is_error"], x["progress"])
                              for x in calls],
                             [("done", False, 1)] * self.CALLS, calls)
            for x in calls:
                self.assertGreaterEqual(x["t_ms"], 190)
            closed = [x for x in lines if x.get("closed") == sid][0]
            self.assertEqual(closed["errors"], [], closed)
            self.assertEqual(
                sorted(closed["requests"]),
                sorted(["POST initialize 200",
                        "POST notifications/initialized 202",
                        "GET - 200", "POST ping 200", "DELETE - 200"]
                       + ["POST tools/call 200"] * self.CALLS), closed)
            # the standalone stream was relayed as it went
            self.assertGreater(closed["messages"], 0, closed)

        # every request of a session went to the origin that created it,
        # and the balancer spread the sessions over both
        by_origin = {}
        for o in self.o:
            for x in o.lines("MCP"):
                if x["session"] != "-":
                    by_origin.setdefault(x["session"], set()).add(o.name)
        for sid in sessions:
            self.assertEqual(len(by_origin.get(sid, ())), 1,
                             (sid, by_origin.get(sid)))
        created = {o.name: [x["session"] for x in o.lines("MCP")
                            if x["rpc"] == "initialize"
                            and x["session"] in sessions]
                   for o in self.o}
        self.assertTrue(all(created.values()), created)
        for o in self.o:
            for x in o.lines("MCP"):
                if x["session"] in sessions:
                    self.assertNotEqual(x["status"], "404", x)

    def test_stock_balancer_loses_sessions(self):
        """The premise: without affinity a session's next request meets
        the other member, which answers 404."""
        rc, lines = self.client("mcp", "--url", self.httpd.url + "/stock/mcp",
                                "--calls", "1", "--sessions", "2", ok=False)
        self.assertEqual(rc, 1, lines)
        self.assertEqual(lines[-1]["status"], 404, lines)


def main():
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    if r.testsRun == 0 and r.skipped:
        return 77
    return 0 if r.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
