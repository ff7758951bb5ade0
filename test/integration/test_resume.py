# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Seamless failover (SSEProxyResume): a member killed under hundreds of
streams, in both relay modes.  The clients keep their connections and see
every event once; a backend that never comes back ends the streams with
retry: after the window; a stream without ids and a POST stream are not
resumed."""
import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Httpd, Origin, RawClient  # noqa: E402
from test_async import Fleet, dechunk, ids  # noqa: E402

# What a member's death legitimately logs at warn and above: connections
# refused and the member put in error by mod_proxy, the policy's backoff
# decisions; and, with hundreds of streams resuming at once, every worker
# busy for a moment (a resume's connection and request are made on a
# worker thread), which the MPM reports once.
ALLOWED = [r"AH0095[79]", r"AH01114", r"AH00940", r"AH01102", r"AH01097",
           r"SSE0000[24]", r"SSE0003\d", r"AH10187", r"AH0116[57]",
           r"AH01170", r"AH00484"]

CONF = """
AsyncRequestWorkerFactor 200
<Proxy balancer://pair>
    BalancerMember {o1}
    BalancerMember {o2}
</Proxy>
<Proxy balancer://one>
    BalancerMember {o1}
</Proxy>
ProxyPass /pair balancer://pair
ProxyPass /one balancer://one
<LocationMatch "^/(pair|one)/">
    SSEProxy On
    SSEProxyAsync {mode}
    SSEProxyHeartbeat 1
    SSEProxyResume On {window}
</LocationMatch>
<Location /sse-status>
    SetHandler sse-proxy-status
</Location>
LogLevel warn sse_proxy:info
"""


def last_id(raw):
    """The last complete event's id in a raw (chunked) response so far."""
    body, _ = dechunk(raw.partition(b"\r\n\r\n")[2])
    got = ids(body[:body.rfind(b"\n\n") + 2])
    return got[-1] if got else 0


def kill(origin):
    """SIGKILL: the backend dies without a word, as a crashed one does."""
    os.kill(origin.proc.pid, signal.SIGKILL)
    origin.proc.wait(10)


class TwoMembers:
    """An httpd (self.httpd) in front of two origins (self.o), started by
    setUp; stopped and its error log checked (ALLOWED) after each test."""

    def tearDown(self):
        self.httpd.stop()
        for o in self.o:
            o.stop()
        bad = self.httpd.unexpected_log_lines(allowed=ALLOWED)
        harness.remove_workdir(self.work, keep=bool(bad))
        if bad:
            raise AssertionError("unexpected error-log lines:\n"
                                 + "\n".join(bad[:20]))

    def status(self, fmt="json"):
        c = RawClient(self.httpd.port, "/sse-status?format=" + fmt)
        try:
            body = c.read_to_end().decode()
        finally:
            c.close()
        return json.loads(body) if fmt == "json" else body


class ResumeBase(TwoMembers):
    """The tests, run in each relay mode by the classes below."""
    mode = "On"
    window = 4
    servers, threads = 2, 16

    def setUp(self):
        self.work = harness.workdir()
        self.o = [Origin(self.work, "m1"), Origin(self.work, "m2")]
        self.httpd = Httpd(self.work, CONF.format(
            o1=self.o[0].url, o2=self.o[1].url, mode=self.mode,
            window=self.window), servers=self.servers,
            threads=self.threads).start()

    def assert_resumes_shown(self, attempted, succeeded, given_up):
        """The same counts in every format of the status page."""
        self.assertEqual(self.status()["resumes"],
                         {"attempted": attempted, "succeeded": succeeded,
                          "given_up": given_up})
        prom = self.status("prometheus")
        for name, value in (("attempted", attempted),
                            ("succeeded", succeeded),
                            ("given_up", given_up)):
            self.assertIn("\nsse_proxy_resumes_%s_total %d\n" % (name, value),
                          prom)
        html = self.status("html")
        self.assertIn("<th>resumes attempted</th><th>succeeded</th>"
                      "<th>given up</th></tr>\n<tr><td>%d</td><td>%d</td>"
                      "<td>%d</td>" % (attempted, succeeded, given_up), html)

    def survive_kill(self, path, n, more):
        """n streams of path over both members; one member killed: each
        stream gets `more` events past where it was, on its connection,
        every event once and in order.  Returns the streams' count on the
        killed member."""
        fleet = Fleet(self.httpd.port, path, n)
        try:
            self.assertTrue(fleet.pump(lambda f: all(
                last_id(r) >= 2 for r in f.raw.values()), timeout=60),
                "every stream gets its first events")
            # byrequests spreads them over both members
            self.assertEqual(len(self.served_by("/events")), 2)
            on_killed = len(self.o[0].requests())
            at_kill = {s: last_id(r) for s, r in fleet.raw.items()}
            kill(self.o[0])
            # each stream goes on past where it was, from the survivor
            self.assertTrue(fleet.pump(lambda f: all(
                last_id(f.raw[s]) >= at_kill[s] + more for s in f.raw),
                timeout=60), "every stream goes on after the kill")
            self.assertEqual(fleet.closed, set(),
                             "no client lost its connection")
            for body, complete in ((body, complete) for _, body, complete in fleet.responses()):
                got = ids(body[:body.rfind(b"\n\n") + 2])
                # every event once, in order: none lost, none repeated
                self.assertEqual(got, list(range(1, len(got) + 1)))
                self.assertFalse(complete)
            # each stream counts once, where it is now: a load-aware
            # lbmethod sees the member it left free again
            open_streams = {m["member"]: m.get("open_streams")
                            for m in self.status()["members"]
                            if m["balancer"].endswith("pair")}
            self.assertEqual(open_streams.get(self.o[0].url), 0)
            self.assertEqual(open_streams.get(self.o[1].url), n)
        finally:
            fleet.close()
        return on_killed

    def served_by(self, path):
        """The origin that got requests for path."""
        return [o for o in self.o
                if any(r["path"].startswith(path) for r in o.requests())]

    def test_member_killed_under_500_clients(self):
        on_killed = self.survive_kill("/pair/events?rate=4", 500, 12)
        self.assertGreater(on_killed, 100)
        self.assert_resumes_shown(on_killed, on_killed, 0)
        # the survivor was asked for the rest, from the ids the clients had
        asked = [r for r in self.o[1].requests()
                 if r["last_event_id"] != "-"]
        self.assertEqual(len(asked), on_killed)
        self.assertTrue(all(int(r["last_event_id"]) >= 2 for r in asked))
        self.assertIn("SSE00092", self.httpd.error_log())

    def test_replayed_events_are_not_repeated(self):
        """A member that ignores Last-Event-ID sends the stream from its
        start again: the client still sees each event once."""
        on_killed = self.survive_kill("/pair/events?rate=20&replay=1", 40, 10)
        self.assert_resumes_shown(on_killed, on_killed, 0)

    def test_backend_that_never_comes_back(self):
        """After the window the clients get today's clean end: retry:, the
        final chunk.  Meanwhile heartbeats keep them alive."""
        fleet = Fleet(self.httpd.port, "/one/events?rate=4", 20)
        try:
            self.assertTrue(fleet.pump(lambda f: all(
                last_id(r) >= 2 for r in f.raw.values()), timeout=30))
            kill(self.o[0])
            killed = time.monotonic()
            if self.mode == "On":
                # between tries the streams hold no thread
                fleet.pump(lambda f: False, timeout=1.5)
                streams = self.status()["streams"]
                self.assertGreaterEqual(streams["waiting"], 20, streams)
            self.assertTrue(fleet.pump(lambda f: len(f.closed) == 20
                                       or all(dechunk(r.partition(
                                           b"\r\n\r\n")[2])[1]
                                           for r in f.raw.values()),
                                       timeout=self.window + 30))
            took = time.monotonic() - killed
            for body, complete in ((body, complete) for _, body, complete in fleet.responses()):
                self.assertTrue(complete, body[-200:])
                tail = body[body.rfind(b"\nid: "):]
                self.assertIn(b"\nretry: ", tail)
                self.assertIn(b": heartbeat", tail)
                got = ids(body)
                self.assertEqual(got, list(range(1, len(got) + 1)))
        finally:
            fleet.close()
        self.assertGreaterEqual(took, self.window - 1)
        self.assertLess(took, self.window + 20)
        self.assert_resumes_shown(20, 0, 20)
        self.assertIn("SSE00093", self.httpd.error_log())

    def end_at_kill(self, method, path, body=b""):
        """A stream the proxy must not resume: killed, it ends at once with
        retry:, and the other member never hears of it."""
        headers = {"Accept": "text/event-stream"}
        if method == "POST":
            headers.update({"Content-Type": "application/json",
                            "Content-Length": str(len(body))})
        c = RawClient(self.httpd.port, path, headers=headers, method=method,
                      body=body, timeout=30)
        try:
            c.read_until(lambda b: b.count(b"\n\n") >= 3)
            serving = self.served_by("/events")
            self.assertEqual(len(serving), 1)
            other = [o for o in self.o if o is not serving[0]][0]
            kill(serving[0])
            killed = time.monotonic()
            body = c.read_to_end(timeout=30)
            took = time.monotonic() - killed
        finally:
            c.close()
        self.assertTrue(c.resp.complete)
        self.assertIn(b"\nretry: ", body[-200:])
        self.assertLess(took, 5)
        self.assertEqual([r for r in other.requests()
                          if r["path"].startswith("/events")], [])
        self.assertEqual(self.status()["resumes"]["attempted"], 0)
        return body

    def test_stream_without_ids_is_not_resumed(self):
        self.end_at_kill("GET", "/pair/events?rate=10&noid=1")

    def test_post_stream_is_not_replayed(self):
        """A POST is not idempotent (an LLM generation, a tool call): the
        proxy never sends it to a second member, even with ids; the client
        gets the clean end and decides."""
        self.end_at_kill("POST", "/pair/events?rate=10", b'{"prompt":"x"}')
        self.assertIn("SSE00094", self.httpd.error_log())


class ResumeConfTest(unittest.TestCase):
    """SSEProxyResume's arguments: a bad one stops httpd -t, naming it."""

    def check(self, args):
        work = harness.workdir()
        try:
            h = Httpd(work, "<Location /e>\n    SSEProxyResume %s\n"
                            "</Location>\n" % args)
            return h.check_config()
        finally:
            harness.remove_workdir(work)

    def test_good(self):
        for args in ("On", "Off", "on 1", "On 3600", "Off 30"):
            rc, out = self.check(args)
            self.assertEqual(rc, 0, out)

    def test_bad(self):
        for args, word in (("maybe", "maybe"), ("On 0", "'0'"),
                           ("On 3601", "3601"), ("On 5s", "5s"),
                           ("On -1", "-1")):
            rc, out = self.check(args)
            self.assertNotEqual(rc, 0, args)
            self.assertIn("SSEProxyResume", out)
            self.assertIn(word, out)


class ResumeThreadFreeTest(ResumeBase, unittest.TestCase):
    """SSEProxyAsync On: the wait between tries holds no thread."""
    mode = "On"


class ResumeSyncTest(ResumeBase, unittest.TestCase):
    """SSEProxyAsync Off: each stream keeps its thread, resumes included."""
    mode = "Off"
    servers, threads = 2, 300


if __name__ == "__main__":
    unittest.main(verbosity=2)
