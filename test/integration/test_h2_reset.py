# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""HTTP/2 clients that leave: a stream reset (RST_STREAM, the connection
kept) or a closed connection frees the stream's backend connection
within a second, while the backend is silent and no heartbeat is due,
over h2c and over h2 with TLS.  The client is the python h2 library
(Debian's python3-h2, which ./bootstrap installs)."""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402
from harness import wait_for  # noqa: E402

from h2client import H2Client  # noqa: E402

# What the whole chain may take: the relay looks at an HTTP/2 stream's
# connection every 250 ms, then closes its backend connection.
BOUND = 1.0


class ResetBase:
    """The tests; a subclass says whether the connection speaks TLS."""
    tls = False
    conf = """
LogLevel warn sse_proxy:info
<Location /events>
    ProxyPass {o1}/events
    SSEProxy On
    # no heartbeat write within the test's time: only the stream's
    # reset can tell the relay that its client left
    SSEProxyHeartbeat 60
</Location>
"""

    def client(self):
        c = H2Client(self.httpd.port, self.tls)
        self.addCleanup(c.close)
        return c

    def backend_conn(self, tag):
        """The origin's connection number for the request tagged m=tag."""
        return wait_for(lambda: next((q["conn"] for q in self.o[0].requests()
                                      if "m=%s" % tag in q["path"]), None),
                        what="the origin's request " + tag)

    def closed_within(self, conns, since, what):
        """Waits for the origin to log the close of every one of conns,
        by its peer (the proxy); returns the seconds after since."""
        def closed():
            return {x["conn"] for x in self.o[0].closes()
                    if x["conn"] in conns} == set(conns)
        wait_for(closed, timeout=10, interval=0.01,
                 what="the origin's CLOSE of " + what)
        after = time.monotonic() - since
        for x in self.o[0].closes():
            if x["conn"] in conns:
                self.assertEqual(x["by"], "peer", x)
        return after

    def quiet_stream(self, c, tag):
        """A stream that got its first event and then hears nothing."""
        sid = c.get("/events?gap_after=1&gap_ms=60000&m=%s" % tag)
        c.read_until(lambda: b"id: 1\n" in c.body[sid])
        self.assertEqual(c.status[sid], "200")
        return sid, self.backend_conn(tag)

    def test_reset_frees_the_backend(self):
        tag = "reset-%s" % self.tls
        c = self.client()
        sid, conn = self.quiet_stream(c, tag)
        # a second, busy stream on the same connection
        other = c.get("/events?rate=20&m=busy-%s" % tag)
        c.read_until(lambda: b"id: 2\n" in c.body[other])
        time.sleep(0.3)   # the quiet relay is waiting for its backend
        left = time.monotonic()
        c.reset(sid)
        after = self.closed_within([conn], left, "the reset stream")
        self.assertLess(after, BOUND)
        # the connection and its other stream go on
        seen = c.body[other].count(b"\n\n")
        c.read_until(lambda: c.body[other].count(b"\n\n") >= seen + 5)
        self.assertNotIn(other, c.ended)
        print("\nRST_STREAM (%s): backend closed after %.0f ms"
              % ("h2" if self.tls else "h2c", after * 1000), file=sys.stderr)

    def test_reset_before_the_head(self):
        tag = "head-%s" % self.tls
        c = self.client()
        sid = c.get("/events?head_delay_ms=20000&m=%s" % tag)
        conn = self.backend_conn(tag)
        time.sleep(0.3)
        left = time.monotonic()
        c.reset(sid)
        after = self.closed_within([conn], left, "the stream waiting")
        self.assertLess(after, BOUND)
        self.assertNotIn(sid, c.status)
        print("\nRST_STREAM before the head (%s): backend closed after "
              "%.0f ms" % ("h2" if self.tls else "h2c", after * 1000),
              file=sys.stderr)

    def test_reset_of_a_stream_that_stopped_reading(self):
        # the windows close at 64 KiB, mod_http2's buffer for the stream
        # fills, and the stream's writes wait in mod_http2, not in the
        # relay's own wait
        tag = "stalled-%s" % self.tls
        c = H2Client(self.httpd.port, self.tls, reads=False)
        self.addCleanup(c.close)
        sid = c.get("/events?rate=200&size=2000&m=%s" % tag)
        conn = self.backend_conn(tag)
        c.read_until(lambda: len(c.body[sid]) >= 60000)
        time.sleep(1.5)
        left = time.monotonic()
        c.reset(sid)
        after = self.closed_within([conn], left, "the stalled stream")
        self.assertLess(after, BOUND)
        print("\nRST_STREAM of a stream that stopped reading (%s): backend "
              "closed after %.0f ms" % ("h2" if self.tls else "h2c",
                                        after * 1000), file=sys.stderr)

    def test_closed_connection_frees_every_backend(self):
        tag = "close-%s" % self.tls
        c = self.client()
        conns = [self.quiet_stream(c, "%s-%d" % (tag, i))[1]
                 for i in range(3)]
        time.sleep(0.3)
        left = time.monotonic()
        c.close()
        after = self.closed_within(conns, left, "the connection's streams")
        self.assertLess(after, BOUND)
        print("\nconnection closed (%s): %d backends closed after %.0f ms"
              % ("h2" if self.tls else "h2c", len(conns), after * 1000),
              file=sys.stderr)


class H2cResetTest(ResetBase, harness.ProxyTestCase):
    tls = False


class H2TlsResetTest(ResetBase, harness.ProxyTestCase):
    tls = True


if __name__ == "__main__":
    unittest.main(verbosity=2)
