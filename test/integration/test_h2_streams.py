# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Many idle SSE streams over HTTP/2 with the shipped HTTP/2 settings
(conf/examples/http2.conf), over h2c and over h2 with TLS.

On HTTP/2 a stream keeps one of mod_http2's worker threads while it
lives, and its connection keeps one MPM worker (docs/architecture.md,
"HTTP/2 streams"); with H2MaxWorkers well above ThreadsPerChild, a
server of 2 children x 10 threads relays 120 streams over 10
connections, and its remaining MPM workers still serve HTTP/1.1: a plain
GET, and an SSE stream (which waits without a thread, unless
SSEProxyAsync is off).  mod_http2 runs 6
streams of a new connection at once (a seventh waits until one ends),
and more once requests on the connection have completed: the tests warm
their connections up with short requests first, as a page's own
resources do.  The client is the python h2 library (h2client.py)."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402
from harness import RawClient, data_events  # noqa: E402
from h2client import (H2_FIRST_LIMIT, H2Client, pump,  # noqa: E402
                      shipped_settings, warm_up)

SERVERS = 2
THREADS = 10
# what every stream must receive (the origin sends 2 events a second)
EVENTS = 3
# generous: a loaded 2-core machine opens a hundred streams in 1-2 s
WITHIN = 30


def directive(text, name):
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == name:
            return int(parts[1])
    raise AssertionError("%s is not set in conf/examples/http2.conf" % name)


class StreamsBase:
    """The tests; a subclass says whether the connection speaks TLS."""
    tls = False
    conf = """
LogLevel warn
{h2}
<Location /health>
    ProxyPass {o1}/health
</Location>
<Location /events>
    ProxyPass {o1}/events
    SSEProxy On
</Location>
"""

    servers, threads = SERVERS, THREADS

    @classmethod
    def conf_names(cls):
        cls.settings = shipped_settings(harness.TOP_SRCDIR)
        return {"h2": cls.settings}

    def connections(self, n, rounds):
        clients = [H2Client(self.httpd.port, self.tls, timeout=WITHIN)
                   for _ in range(n)]
        for c in clients:
            self.addCleanup(c.close)
        for status in warm_up(clients, "/health", rounds):
            self.assertEqual(status, "200")
        return clients

    def open_streams(self, clients, per_conn, tag):
        return [(c, c.get("/events?rate=2&m=%s-%d" % (tag, i)))
                for c in clients for i in range(per_conn)]

    @staticmethod
    def events(c, sid):
        return c.body[sid].count(b"\n\n")

    def all_receive(self, clients, streams, what):
        try:
            pump(clients, lambda: all(self.events(c, s) >= EVENTS
                                      for c, s in streams), WITHIN, what)
        except AssertionError as e:
            raise AssertionError("%s; streams with events, by connection: %s"
                                 % (e, [sum(1 for s in c.body
                                            if self.events(c, s))
                                        for c in clients]))
        for c, s in streams:
            self.assertEqual(c.status[s], "200")
            self.assertNotIn(s, c.ended)

    def test_settings_put_h2_workers_above_the_mpm(self):
        self.assertGreater(directive(self.settings, "H2MaxWorkers"),
                           10 * THREADS)

    def test_streams_beyond_the_mpm_threads(self):
        """120 idle streams over 10 connections, 6 times the MPM's 20
        worker threads: every one receives events."""
        clients = self.connections(10, rounds=3)
        streams = self.open_streams(clients, 12, "many")
        self.assertGreater(len(streams), 5 * SERVERS * THREADS)
        self.all_receive(clients, streams, "events on 120 streams")
        print("\n%s: %d streams over %d connections, %d MPM threads: "
              "all received %d events" % ("h2" if self.tls else "h2c",
                                          len(streams), len(clients),
                                          SERVERS * THREADS, EVENTS),
              file=sys.stderr)
        # and go on receiving
        seen = {(id(c), s): self.events(c, s) for c, s in streams}
        pump(clients, lambda: all(self.events(c, s) > seen[(id(c), s)]
                                  for c, s in streams), WITHIN,
             "more events on every stream")

    def test_http1_served_while_h2_streams_fill_the_server(self):
        """10 HTTP/2 connections with 120 streams hold 10 of the 20 MPM
        workers (all of one child's, if they all went to it): an HTTP/1.1
        GET and an HTTP/1.1 event stream are still served.  Not more
        connections: a child accepts connections beyond its threads while
        they are idle, and those with open streams then wait for one of
        its workers."""
        clients = self.connections(THREADS, rounds=3)
        streams = self.open_streams(clients, 12, "full")
        self.all_receive(clients, streams, "events on 120 streams")
        h1 = self.http1_client("/health")
        self.assertEqual(h1.resp.status, 200)
        self.assertEqual(h1.read_to_end(), b"ok\n")
        sse = self.http1_client("/events?rate=5&m=h1-sse",
                                {"Accept": "text/event-stream"})
        self.assertEqual(sse.resp.status, 200)
        body = sse.read_until(lambda b: len(data_events(b)) >= 3,
                              timeout=WITHIN)
        self.assertEqual([e["id"] for e in data_events(body)[:3]],
                         ["1", "2", "3"])
        # the HTTP/2 streams went on meanwhile
        seen = {(id(c), s): self.events(c, s) for c, s in streams}
        pump(clients, lambda: all(self.events(c, s) > seen[(id(c), s)]
                                  for c, s in streams), WITHIN,
             "more events on every HTTP/2 stream")

    def test_a_new_connection_runs_six_streams_at_once(self):
        """mod_http2's limit for a new connection: of 8 streams, 6 run
        and 2 wait, unanswered, until one of the 6 ends."""
        c = H2Client(self.httpd.port, self.tls, timeout=WITHIN)
        self.addCleanup(c.close)
        # the first ends after 6 events, 3 s; the others go on
        first = c.get("/events?rate=2&count=6&m=cold-end")
        streams = [first] + [s for _, s in self.open_streams(
            [c], H2_FIRST_LIMIT + 1, "cold")]
        pump([c], lambda: sum(1 for s in streams
                              if self.events(c, s) >= 2) >= H2_FIRST_LIMIT,
             WITHIN, "6 streams")
        self.assertNotIn(first, c.ended)
        self.assertEqual(sorted(c.status), streams[:H2_FIRST_LIMIT])
        pump([c], lambda: first in c.ended, WITHIN, "the first stream's end")
        pump([c], lambda: len(c.status) > H2_FIRST_LIMIT, WITHIN,
             "a waiting stream to start")

    def http1_client(self, path, headers=None):
        c = RawClient(self.httpd.port, path, headers=headers,
                      timeout=WITHIN, tls=self.tls)
        self.addCleanup(c.close)
        return c


class H2cStreamsTest(StreamsBase, harness.ProxyTestCase):
    tls = False


class H2TlsStreamsTest(StreamsBase, harness.ProxyTestCase):
    tls = True


if __name__ == "__main__":
    unittest.main(verbosity=2)
