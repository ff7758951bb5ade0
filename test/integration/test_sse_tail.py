# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""sse-tail, the command-line client: events through the proxy across an
origin outage, output formats, exit codes, the policy it reconnects by
(its own, or the proxy's ?format=policy) and HTTP/2."""
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
from harness import Origin, wait_for  # noqa: E402

SSE_TAIL = os.path.join(harness.TOP_BUILDDIR, "sse-tail/sse-tail")

EXIT_OK, EXIT_USAGE, EXIT_GAVE_UP, EXIT_AUTH, EXIT_TIMEOUT = 0, 2, 3, 4, 5
RECONNECT = re.compile(r"^\[SSE\] Smart reconnect: (\w+), quality: (\w+), "
                       r"delay: (\d+)ms$", re.M)

BENIGN = [r"AH00171", r"AH0330[23]", r"SSE0003\d", r"AH10187",
          r"SSE0000[246]", r"AH0095[79]", r"AH01114", r"AH00940", r"AH01102",
          r"AH01165", r"AH00933", r"AH01097", r"AH00898", r"AH01167",
          r"AH01170", r"AH01110"]

# A fixed stream with every escaping case: comments, retry, multi-line
# data, CRLF, control bytes, invalid UTF-8, an id reset, U+2028.
FIXED_BODY = (b": comment\n"
              b"retry: 50\n"
              b"id: 1\ndata: plain\n\n"
              b"event: tick\ndata: line1\ndata: line2\n\n"
              b"id: 2\r\ndata: quote \" backslash \\ tab \t bell \x07 del \x7f\r\n\r\n"
              b"data: bad utf8 \xff \xe2\x82 ok \xe2\x82\xac \xed\xa0\x80 end\n"
              b"data:  leading space\n\n"
              b"id\ndata: \xe2\x80\xa8 sep\n\n")


class FixedServer:
    """Answers every request with FIXED_BODY as an event stream, then
    closes; keeps the request heads it got."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d/fixed" % self.port
        self.heads = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                self.heads.append(head.decode("latin-1"))
                try:
                    conn.sendall(b"HTTP/1.1 200 OK\r\n"
                                 b"Content-Type: text/event-stream\r\n"
                                 b"Connection: close\r\n\r\n" + FIXED_BODY)
                except OSError:
                    pass

    def close(self):
        self.sock.close()


def tail(*args, timeout=60):
    """Runs sse-tail to its end: (exit status, stdout bytes, stderr)."""
    res = subprocess.run([SSE_TAIL] + list(args), capture_output=True,
                         timeout=timeout)
    return res.returncode, res.stdout, res.stderr.decode(errors="replace")


def reconnects(stderr):
    return [(c, q, int(d)) for c, q, d in RECONNECT.findall(stderr)]


class SseTailTest(harness.ProxyTestCase):
    conf = """
SSEProxyJitter none
SSEProxyStrategy NETWORK_ERROR initial=300ms max=1s factor=2 attempts=1000
SSEProxyStrategy PROXY_ERROR initial=300ms max=1s factor=2 attempts=1000
SSEProxyStrategy SERVER_ERROR initial=1234ms max=5s factor=2 attempts=2
<Proxy balancer://feed>
    BalancerMember {o1}
    ProxySet forcerecovery=Off
</Proxy>
<Location /events>
    ProxyPass balancer://feed/events
    SSEProxy On
</Location>
<Location /sse-status>
    SetHandler sse-proxy-status
    Require local
</Location>
"""
    allowed = BENIGN

    def url(self, path):
        return self.httpd.url + path

    # 1. through the proxy across an origin outage: every event once, in
    # order, and the restarted origin was asked to resume
    def test_01_outage_no_loss_no_duplicates(self):
        origin = self.o[0]
        proc = subprocess.Popen(
            [SSE_TAIL, "--json", "--timeout", "120",
             self.url("/events?rate=20&count=60")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ids = []
        lines = []

        def read_until(n):
            while len(ids) < n:
                line = proc.stdout.readline()
                if not line:
                    raise AssertionError("sse-tail ended early: %s" %
                                         proc.stderr.read().decode())
                lines.append(line)
                ev = json.loads(line)
                if ev["event"] == "message":
                    ids.append(int(ev["id"]))
        try:
            read_until(10)
            port = origin.port
            origin.stop()
            time.sleep(2)
            self.o[0] = Origin(self.work, "origin1", port=port)
            read_until(60)
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
        self.assertEqual(ids, list(range(1, 61)))
        resumed = [r["last_event_id"] for r in self.o[0].requests()
                   if r["path"].startswith("/events")]
        self.assertTrue(resumed, "the restarted origin got no request")
        self.assertRegex(resumed[0], r"^\d+$")
        self.assertGreaterEqual(int(resumed[0]), 10)
        self.assertTrue(reconnects(err.decode()), err)

    # 2. --json and raw output, exactly
    def test_02_output_exact(self):
        server = FixedServer()
        try:
            rc, out, err = tail("--json", "--max-events", "5", server.url)
            self.assertEqual(rc, EXIT_OK, err)
            expected = [
                '{"id":"1","event":"message","data":"plain"}',
                '{"id":"1","event":"tick","data":"line1\\nline2"}',
                '{"id":"2","event":"message","data":"quote \\" backslash '
                '\\\\ tab \\t bell \\u0007 del \\u007f"}',
                '{"id":"2","event":"message","data":"bad utf8 \ufffd \ufffd '
                'ok \u20ac \ufffd\ufffd\ufffd end\\n leading space"}',
                '{"id":"","event":"message","data":"\\u2028 sep"}',
            ]
            self.assertEqual(out.decode("utf-8").splitlines(), expected)
            for line in out.decode().splitlines():
                json.loads(line)
            rc, out, err = tail("--max-events", "5", server.url)
            self.assertEqual(rc, EXIT_OK, err)
            self.assertEqual(out, (
                b"id: 1\ndata: plain\n\n"
                b"id: 1\nevent: tick\ndata: line1\ndata: line2\n\n"
                b"id: 2\ndata: quote \" backslash \\ tab \t bell \x07 del \x7f\n\n"
                b"id: 2\ndata: bad utf8 \xff \xe2\x82 ok \xe2\x82\xac \xed\xa0\x80 end\n"
                b"data:  leading space\n\n"
                b"id\ndata: \xe2\x80\xa8 sep\n\n"))
            self.assertIn("Accept: text/event-stream", server.heads[0])
        finally:
            server.close()

    # 3. --max-events
    def test_03_max_events(self):
        rc, out, err = tail("--json", "--max-events", "5",
                            self.url("/events?rate=50"))
        self.assertEqual(rc, EXIT_OK, err)
        ids = [json.loads(l)["id"] for l in out.decode().splitlines()]
        self.assertEqual(ids, ["1", "2", "3", "4", "5"])

    # 4. 204 stops the client with status 0
    def test_04_no_content_stops(self):
        rc, out, err = tail("--timeout", "60", self.url("/events?status=204"))
        self.assertEqual(rc, EXIT_OK, err)
        self.assertEqual(out, b"")
        self.assertEqual(reconnects(err), [])

    # 5. 401 and 403: the auth exit status at once
    def test_05_auth(self):
        for status in (401, 403):
            rc, out, err = tail("--timeout", "60",
                                self.url("/events?status=%d" % status))
            self.assertEqual(rc, EXIT_AUTH, err)
            self.assertIn(str(status), err)
            self.assertEqual(reconnects(err), [])

    # 6. bad input: the usage status and one line saying why
    def test_06_bad_input(self):
        cases = [
            (["ftp://example.com/"], "URL"),
            (["not a url"], "URL"),
            (["http:///events"], "host"),
            (["-H", "X-A: 1\r\nX-B: 2", self.url("/events")], "CR or LF"),
            (["-H", "X-A: 1\nX-B: 2", self.url("/events")], "CR or LF"),
            (["-H", "NoColon", self.url("/events")], "colon"),
            (["--strategy", "network=initial=10", self.url("/events")],
             "strategy"),
            (["--strategy", "bogus=initial=1s", self.url("/events")],
             "class"),
            (["--strategy", "network=initial=1s,max=1ms", self.url("/events")],
             "strategy"),
            (["--jitter", "sometimes", self.url("/events")], "jitter"),
            (["--max-events", "-1", self.url("/events")], "max-events"),
            (["--timeout", "soon", self.url("/events")], "timeout"),
            (["--bogus", self.url("/events")], "unknown option"),
            ([], "no URL"),
            ([self.url("/a"), self.url("/b")], "more than one URL"),
        ]
        for args, word in cases:
            rc, out, err = tail(*args)
            self.assertEqual(rc, EXIT_USAGE, (args, err))
            self.assertEqual(len(err.strip().splitlines()), 1, (args, err))
            self.assertIn(word, err, args)
            self.assertTrue(err.startswith("sse-tail: "), err)
        rc, out, _ = tail("--help")
        self.assertEqual(rc, EXIT_OK)
        self.assertIn(b"Exit status", out)

    # 7. give up after a class's max_attempts; a non-stream answer is a
    # failure too
    def test_07_give_up(self):
        closed = "http://127.0.0.1:%d/events" % harness.free_port()
        rc, out, err = tail("--strategy", "network=initial=10ms,max=20ms,factor=2,attempts=2",
                            "--jitter", "none", closed)
        self.assertEqual(rc, EXIT_GAVE_UP, err)
        self.assertEqual(reconnects(err), [("NETWORK_ERROR", "GOOD", 10),
                                           ("NETWORK_ERROR", "GOOD", 20)])
        self.assertIn("giving up", err)
        rc, out, err = tail("--strategy", "NETWORK_ERROR=initial=10ms,max=20ms,attempts=1",
                            "--jitter", "none",
                            self.url("/events?type=text/html"))
        self.assertEqual(rc, EXIT_GAVE_UP, err)
        self.assertEqual(reconnects(err), [("NETWORK_ERROR", "GOOD", 10)])
        self.assertEqual(out, b"")

    # 8. --policy-from: the proxy's own table sets the delays
    def test_08_policy_from(self):
        policy = self.url("/sse-status?format=policy")
        failing = self.url("/events?status=500")
        rc, out, err = tail("--policy-from", policy, failing)
        self.assertEqual(rc, EXIT_GAVE_UP, err)
        self.assertEqual(reconnects(err), [("SERVER_ERROR", "GOOD", 1234),
                                           ("SERVER_ERROR", "GOOD", 2468)])
        # --strategy still overrides the document
        rc, out, err = tail("--policy-from", policy, "--strategy",
                            "server=initial=100ms,attempts=1", failing)
        self.assertEqual(rc, EXIT_GAVE_UP, err)
        self.assertEqual(reconnects(err), [("SERVER_ERROR", "GOOD", 100)])
        # without it, the library's default table (10 s, equal jitter)
        rc, out, err = tail("--timeout", "3", failing)
        self.assertEqual(rc, EXIT_TIMEOUT, err)
        first = reconnects(err)[0]
        self.assertEqual(first[0], "SERVER_ERROR")
        self.assertGreaterEqual(first[2], 5000)
        # a document that is not the policy: a clear error of its own
        rc, out, err = tail("--policy-from", self.url("/sse-status?format=json"),
                            failing)
        self.assertEqual(rc, 6, err)
        self.assertIn("policy", err)

    # 9. retry: sets the delay after a stream that ended cleanly, and
    # the reconnect resumes from the last id
    def test_09_retry_obeyed(self):
        origin = self.o[0]
        before = len(origin.requests())
        rc, out, err = tail("--json", "--timeout", "6",
                            origin.url + "/events?rate=50&count=2&retry=777")
        self.assertEqual(rc, EXIT_TIMEOUT, err)
        got = reconnects(err)
        self.assertTrue(got, err)
        self.assertEqual({(c, d) for c, _, d in got}, {("NONE", 777)})
        reqs = origin.requests()[before:]
        self.assertGreaterEqual(len(reqs), 2)
        self.assertEqual(reqs[0]["last_event_id"], "-")
        self.assertEqual(reqs[1]["last_event_id"], "2")
        self.assertEqual(len(out.decode().splitlines()), 2)

    # 10. HTTP/2: h2c with prior knowledge and by Upgrade
    def test_10_http2(self):
        rc, out, err = tail("--http2-prior-knowledge", "--json",
                            "--max-events", "3",
                            self.url("/events?rate=50&h2=prior"))
        self.assertEqual(rc, EXIT_OK, err)
        self.assertEqual(len(out.splitlines()), 3)
        wait_for(lambda: any("h2=prior HTTP/2.0" in l
                             for l in self.httpd.access_log()),
                 what="an HTTP/2 request in the access log")
        rc, out, err = tail("--http2", "--json", "--max-events", "3",
                            self.url("/events?rate=50&h2=upgrade"))
        self.assertEqual(rc, EXIT_OK, err)
        self.assertEqual(len(out.splitlines()), 3)

    # --header 'Last-Event-ID: x' sets the id the first request resumes from
    def test_11_initial_last_event_id(self):
        rc, out, err = tail("--json", "--max-events", "2", "-H",
                            "Last-Event-ID: 41", "-H", "X-Trace: abc",
                            self.url("/events?rate=50&lei=1"))
        self.assertEqual(rc, EXIT_OK, err)
        ids = [json.loads(l)["id"] for l in out.decode().splitlines()]
        self.assertEqual(ids, ["42", "43"])
        reqs = [r for r in self.o[0].requests() if "lei=1" in r["path"]]
        self.assertEqual(reqs[0]["last_event_id"], "41")


if __name__ == "__main__":
    unittest.main(verbosity=2)
