# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Shared streams (SSEProxyShare) and their replay ring (SSEProxyReplay):
a thousand clients of one stream cost the origin one stream per child,
each client gets every event from its join once and in order, a
reconnection with a recent id is served from memory, credentials keep
streams apart, a slow client is dropped alone, and a member killed under
hundreds of clients of a shared stream goes unnoticed by them."""
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Httpd, Origin, RawClient  # noqa: E402
from test_async import Fleet, dechunk, ids  # noqa: E402
from test_websocket import WSClient  # noqa: E402
from h2client import H2Client  # noqa: E402
# the two origins, and what a member's death may log
from test_resume import TwoMembers  # noqa: E402

CONF = """
AsyncRequestWorkerFactor 200
<Proxy balancer://pair>
    BalancerMember {o1}
    BalancerMember {o2}
</Proxy>
ProxyPass /shared {o1}
ProxyPass /pair balancer://pair
ProxyPass /vary {o1}
ProxyPass /small {o1}
ProxyPass /alone {o1}
<LocationMatch "^/(shared|pair|vary|small)/">
    SSEProxy On
    SSEProxyAsync {mode}
    SSEProxyHeartbeat 1
    SSEProxyShare On 2
    SSEProxyWebSocket On
</LocationMatch>
<Location /alone/>
    SSEProxy On
    SSEProxyAsync {mode}
</Location>
<Location /pair/>
    SSEProxyResume On 20
</Location>
<Location /vary/>
    SSEProxyShareVary Authorization
</Location>
<Location /small/>
    SSEProxyReplay 100 64K
</Location>
<Location /sse-status>
    SetHandler sse-proxy-status
</Location>
LogLevel warn sse_proxy:info
"""


def events_of(raw):
    """The ids of the complete events in a raw (chunked) response."""
    body, _ = dechunk(raw.partition(b"\r\n\r\n")[2])
    return ids(body[:body.rfind(b"\n\n") + 2])


def consecutive(got):
    return got == list(range(got[0], got[0] + len(got))) if got else True


class ShareBase(TwoMembers):
    mode = "On"
    servers, threads = 2, 16

    def setUp(self):
        self.work = harness.workdir()
        self.o = [Origin(self.work, "m1"), Origin(self.work, "m2")]
        self.httpd = Httpd(self.work, CONF.format(
            o1=self.o[0].url, o2=self.o[1].url, mode=self.mode),
            servers=self.servers, threads=self.threads).start()

    def streams_asked(self, path, origin=0):
        return [r for r in self.o[origin].requests()
                if r["path"].startswith(path)]

    def assert_every_event_once(self, fleet, at_least):
        for raw in fleet.raw.values():
            got = events_of(raw)
            self.assertGreaterEqual(len(got), at_least)
            self.assertTrue(consecutive(got), got[:20])


class TestShared(ShareBase, unittest.TestCase):
    def test_thousand_clients_two_backend_streams(self):
        """1,000 clients behind 2 children: at most 2 origin streams."""
        fleet = Fleet(self.httpd.port, "/shared/events?rate=5", 1000)
        try:
            self.assertTrue(fleet.pump(lambda f: f.all(
                lambda raw: len(events_of(raw)) >= 6), timeout=90),
                "every client gets events")
            self.assertEqual(fleet.closed, set())
            self.assertLessEqual(len(self.streams_asked("/events")), 2)
            self.assert_every_event_once(fleet, 6)
            shared = self.status()["shared"]
            self.assertGreaterEqual(shared["streams"], 1)
            self.assertGreaterEqual(shared["clients"], 998)
            mine = shared["this_child"]["channels"]
            self.assertTrue(mine and mine[0]["key"].endswith(
                "/events?rate=5"), mine)
            self.assertIn("sse_proxy_shared_clients ",
                          self.status("prometheus"))
            self.assertIn("<h2>Shared streams</h2>", self.status("html"))
        finally:
            fleet.close()
        # the last client gone, the origin stream closes after the grace
        harness.wait_for(lambda: self.o[0].stats()["open_streams"] == 0,
                         timeout=15, what="the shared streams closed")

    def test_founder_leaving_keeps_the_others(self):
        first = RawClient(self.httpd.port, "/shared/events?rate=10")
        first.read_until(lambda b: len(ids(b)) >= 2)
        fleet = Fleet(self.httpd.port, "/shared/events?rate=10", 20)
        try:
            self.assertTrue(fleet.pump(lambda f: f.all(
                lambda raw: len(events_of(raw)) >= 3), timeout=30))
            first.close()
            self.assertTrue(fleet.pump(lambda f: f.all(
                lambda raw: len(events_of(raw)) >= 25), timeout=30))
            self.assertEqual(fleet.closed, set())
            self.assert_every_event_once(fleet, 25)
            # one child may have founded a second stream for its share
            self.assertLessEqual(len(self.streams_asked("/events")), 2)
        finally:
            fleet.close()

    def test_credentials_are_not_shared(self):
        """Requests carrying Authorization or Cookie get streams of their
        own, unless the header is listed: then its value is the key."""
        clients = []
        try:
            for headers in ({"Authorization": "Bearer a"},
                            {"Authorization": "Bearer a"},
                            {"Cookie": "s=1"}, {"Cookie": "s=1"}):
                c = RawClient(self.httpd.port, "/shared/creds/events",
                              headers=headers)
                c.read_until(lambda b: len(ids(b)) >= 1)
                clients.append(c)
            self.assertEqual(len(self.streams_asked("/creds/")), 4)
            for token in ("a", "a", "a", "b"):
                c = RawClient(self.httpd.port, "/vary/events?v=1",
                              headers={"Authorization": "Bearer " + token})
                c.read_until(lambda b: len(ids(b)) >= 1)
                clients.append(c)
            asked = self.streams_asked("/events?v=1")
            # one stream per token and child at most; never one for all
            self.assertGreaterEqual(len(asked), 2)
            self.assertLessEqual(len(asked), 3)
        finally:
            for c in clients:
                c.close()

    def test_slow_client_dropped_alone(self):
        """A client that stops reading falls behind the ring and is
        dropped; the others do not wait for it."""
        path = "/small/events?rate=100&size=2000"
        first = Fleet(self.httpd.port, path, 1)
        self.assertTrue(first.pump(lambda f: f.all(
            lambda raw: len(events_of(raw)) >= 1), timeout=10))
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", self.httpd.port))
        slow.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        fleet = Fleet(self.httpd.port, path, 10)
        try:
            def dropped(f):
                first.pump(lambda f: False, timeout=0.01)
                return self.status()["shared"]["dropped"] >= 1
            self.assertTrue(fleet.pump(dropped, timeout=40),
                            "the client that stopped reading is dropped")
            self.assertIn("SSE00096", self.httpd.error_log())
            self.assertTrue(fleet.pump(lambda f: f.all(
                lambda raw: len(events_of(raw)) >= 300), timeout=30))
            self.assertEqual(fleet.closed, set())
            self.assert_every_event_once(fleet, 300)
        finally:
            fleet.close()
            slow.close()
            first.close()


class TestReplay(ShareBase, unittest.TestCase):
    """One child, so that a reconnection finds the stream it left."""
    servers, threads = 1, 16

    def test_reconnect_served_from_ring(self):
        c = RawClient(self.httpd.port, "/shared/events?rate=20")
        c.read_until(lambda b: len(ids(b)) >= 30)
        c.close()
        asked = len(self.o[0].requests())
        # within the grace time, with an id the ring still has
        again = RawClient(self.httpd.port, "/shared/events?rate=20",
                          headers={"Last-Event-ID": "20"})
        try:
            body = again.read_until(lambda b: len(ids(b)) >= 15)
        finally:
            again.close()
        got = ids(body)
        self.assertEqual(got[:15], list(range(21, 36)))
        self.assertEqual(len(self.o[0].requests()), asked,
                         "no origin request for a replay")
        self.assertEqual(self.status()["shared"]["replays"], 1)

    def test_slow_first_client_holds_nobody_back(self):
        """The client whose request reads the backend stops reading: the
        others keep the stream's pace, and it is dropped."""
        path = "/small/events?rate=100&size=2000"
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", self.httpd.port))
        slow.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        harness.wait_for(lambda: self.streams_asked("/events?rate=100"),
                         what="the first client's stream")
        fleet = Fleet(self.httpd.port, path, 10)
        try:
            self.assertTrue(fleet.pump(lambda f: f.all(
                lambda raw: len(events_of(raw)) >= 300), timeout=30))
            # dropped once what it owes passes the ring's bytes (the
            # kernel's buffers take their share first)
            self.assertTrue(fleet.pump(
                lambda f: self.status()["shared"]["dropped"] >= 1,
                timeout=60), "the first client is dropped")
            self.assertEqual(fleet.closed, set())
            self.assert_every_event_once(fleet, 300)
            self.assertEqual(len(self.streams_asked("/events?rate=100")), 1)
        finally:
            fleet.close()
            slow.close()

    def test_websocket_joins_and_replays(self):
        """WebSocket clients are served from a stream an EventSource
        opened, live or from the ring, with no backend request."""
        c = RawClient(self.httpd.port, "/shared/events?rate=20")
        c.read_until(lambda b: len(ids(b)) >= 10)
        asked = len(self.o[0].requests())
        live = WSClient(self.httpd.port, "/shared/events?rate=20")
        back = WSClient(self.httpd.port,
                        "/shared/events?rate=20&lastEventId=5")
        try:
            self.assertEqual((live.status, back.status), (101, 101))
            got = [int(m["id"]) for m in live.messages(5)]
            self.assertEqual(got, list(range(got[0], got[0] + 5)))
            self.assertGreater(got[0], 10)
            self.assertEqual([int(m["id"]) for m in back.messages(5)],
                             [6, 7, 8, 9, 10])
            self.assertEqual(len(self.o[0].requests()), asked)
        finally:
            live.close()
            back.close()
            c.close()

    def test_crowd_resuming_where_the_stream_starts_shares_it(self):
        """After an outage its clients come back with the same
        Last-Event-ID: the first founds a stream resumed after it, the
        others join that stream from its first event, with no backend
        request of their own."""
        path = "/shared/events?rate=20&after=outage"
        first = RawClient(self.httpd.port, path,
                          headers={"Last-Event-ID": "50"})
        others = []
        try:
            got = ids(first.read_until(lambda b: len(ids(b)) >= 3))
            self.assertEqual(got[:3], [51, 52, 53])
            for _ in range(3):
                c = RawClient(self.httpd.port, path,
                              headers={"Last-Event-ID": "50"})
                others.append(c)
                got = ids(c.read_until(lambda b: len(ids(b)) >= 5))
                self.assertEqual(got[:5], [51, 52, 53, 54, 55])
            self.assertEqual(len(self.streams_asked("/events?rate=20&after")),
                             1, "one backend stream for all four")
        finally:
            for c in others + [first]:
                c.close()

    def test_id_not_in_ring_goes_to_backend(self):
        c = RawClient(self.httpd.port, "/small/events?rate=20")
        c.read_until(lambda b: len(ids(b)) >= 3)
        old = RawClient(self.httpd.port, "/small/events?rate=20",
                        headers={"Last-Event-ID": "100000"})
        try:
            old.read_until(lambda b: True)
            asked = [r for r in self.o[0].requests()
                     if r["last_event_id"] == "100000"]
            self.assertEqual(len(asked), 1)
        finally:
            old.close()
            c.close()


class TestReplaySync(TestReplay):
    """The same with streams that keep their thread."""
    mode = "Off"


class TestSharedFailover(ShareBase, unittest.TestCase):
    def test_member_killed_under_500_clients(self):
        fleet = Fleet(self.httpd.port, "/pair/events?rate=4", 500)
        try:
            self.assertTrue(fleet.pump(lambda f: f.all(
                lambda raw: len(events_of(raw)) >= 2), timeout=60))
            streams = [o.stats()["open_streams"] for o in self.o]
            victim = 0 if streams[0] else 1
            self.assertGreater(streams[victim], 0)
            at_kill = {s: events_of(r)[-1] for s, r in fleet.raw.items()}
            os.kill(self.o[victim].proc.pid, signal.SIGKILL)
            self.o[victim].proc.wait(10)
            self.assertTrue(fleet.pump(lambda f: all(
                events_of(f.raw[s])[-1] >= at_kill[s] + 12 for s in f.raw),
                timeout=60), "every stream goes on after the kill")
            self.assertEqual(fleet.closed, set(),
                             "no client lost its connection")
            self.assert_every_event_once(fleet, 12)
            shared = self.status()["shared"]
            self.assertGreaterEqual(shared["failovers"], 1)
        finally:
            fleet.close()


class TestSharedH2(ShareBase, unittest.TestCase):
    """Followers on HTTP/2 wait in mod_http2's workers, on the channel's
    condition; the founder's reset leaves them streaming."""
    servers, threads = 1, 16

    def setUp(self):
        self.work = harness.workdir()
        self.o = [Origin(self.work, "m1"), Origin(self.work, "m2")]
        self.httpd = Httpd(self.work, CONF.format(
            o1=self.o[0].url, o2=self.o[1].url, mode="On"),
            servers=1, threads=16, tls=True).start()

    def test_streams_of_one_connection_share(self):
        c = H2Client(self.httpd.port, tls=True)
        try:
            sids = [c.get("/shared/events?rate=20") for _ in range(5)]
            c.read_until(lambda: all(len(ids(c.body[s])) >= 5
                                     for s in sids))
            self.assertEqual(len(self.streams_asked("/events")), 1)
            c.reset(sids[0])
            marks = {s: len(ids(c.body[s])) for s in sids[1:]}
            c.read_until(lambda: all(len(ids(c.body[s])) >= marks[s] + 20
                                     for s in sids[1:]))
            for s in sids[1:]:
                self.assertNotIn(s, c.ended)
                self.assertTrue(consecutive(ids(c.body[s])))
            self.assertEqual(len(self.streams_asked("/events")), 1)
        finally:
            c.close()


class TestBytesLogged(ShareBase, unittest.TestCase):
    """mod_logio (built into Debian's httpd) counts what streams send,
    shared or not: the relay writes events to the socket itself when the
    core output filter holds nothing, and counts them as the core
    would."""
    servers, threads = 1, 16

    def setUp(self):
        self.work = harness.workdir()
        self.o = [Origin(self.work, "m1"), Origin(self.work, "m2")]
        self.log = os.path.join(self.work, "bytes.log")
        self.httpd = Httpd(self.work, CONF.format(
            o1=self.o[0].url, o2=self.o[1].url, mode="On")
            + 'LogFormat "%%O %%U" bytes\nCustomLog "%s" bytes\n' % self.log,
            servers=1, threads=16).start()

    def test_sent_bytes_are_counted(self):
        got = {}
        for path in ("/alone/events?count=30&rate=50",
                     "/shared/events?count=30&rate=50"):
            c = RawClient(self.httpd.port, path)
            try:
                c.read_to_end()
            finally:
                c.close()
            got[path.split("/")[1]] = len(c.resp.head) + len(c.resp.raw_body)
        def lines():
            if not os.path.exists(self.log):
                return []
            with open(self.log) as f:
                return f.read().splitlines()
        harness.wait_for(lambda: len(lines()) >= 2,
                         what="both requests logged")
        logged = {line.split()[1].split("/")[1]: int(line.split()[0])
                  for line in lines()}
        for name, wire in got.items():
            # head, chunked body and its framing: every byte the client
            # read, and nothing but what the server wrote
            self.assertGreaterEqual(logged[name], wire, (name, logged, got))
            self.assertLess(logged[name], wire + 64, (name, logged, got))


class TestSharedSync(TestShared):
    """The same with streams that keep their thread: fewer clients, as
    each holds one."""
    mode = "Off"
    servers, threads = 2, 40

    def test_thousand_clients_two_backend_streams(self):
        fleet = Fleet(self.httpd.port, "/shared/events?rate=5", 60)
        try:
            self.assertTrue(fleet.pump(lambda f: f.all(
                lambda raw: len(events_of(raw)) >= 6), timeout=60))
            self.assertEqual(fleet.closed, set())
            self.assertLessEqual(len(self.streams_asked("/events")), 2)
            self.assert_every_event_once(fleet, 6)
        finally:
            fleet.close()


class TestDirectives(unittest.TestCase):
    """A bad argument stops httpd -t, naming the directive and the value."""

    def check(self, line):
        work = harness.workdir()
        try:
            return Httpd(work, "<Location /e>\n    %s\n</Location>\n"
                         % line).check_config()
        finally:
            harness.remove_workdir(work)

    def test_good(self):
        for line in ("SSEProxyShare On", "SSEProxyShare Off",
                     "SSEProxyShare on 0", "SSEProxyShare On 3600",
                     "SSEProxyShareVary Authorization X-Tenant",
                     "SSEProxyReplay 0", "SSEProxyReplay 1000 1M",
                     "SSEProxyReplay 20 1K"):
            rc, out = self.check(line)
            self.assertEqual(rc, 0, (line, out))

    def test_bad(self):
        for line, word in (("SSEProxyShare maybe", "maybe"),
                           ("SSEProxyShare On -1", "-1"),
                           ("SSEProxyShare On 3601", "3601"),
                           ("SSEProxyShare On 5s", "5s"),
                           ("SSEProxyShareVary Bad:Header", "Bad:Header"),
                           ("SSEProxyReplay -1", "-1"),
                           ("SSEProxyReplay 100001", "100001"),
                           ("SSEProxyReplay lots", "lots"),
                           ("SSEProxyReplay 10 100", "100"),
                           ("SSEProxyReplay 10 65M", "65M")):
            rc, out = self.check(line)
            self.assertNotEqual(rc, 0, line)
            self.assertIn(line.split()[0], out)
            self.assertIn(word, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
