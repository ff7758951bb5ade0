# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""When the memory of a finished stream's connection is freed.

The event MPM's worker thread goes on storing into a suspended
connection's memory after the suspend_connection hooks return, and says
nothing when it is done.  test/modules/mod_suspend_stall.c stalls that
thread right there, as a preempted thread would, while the stream ends on
another worker.  The connection must be given back to the MPM (socket
closed, count ended) without waiting for the stalled thread, and its
memory freed only after that thread has moved on: SSE00061 after "stall
over".  Freeing it earlier (on a timer, say) fails here, and in the
sanitizer build the stalled thread's store is reported as a use after
free."""
import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Httpd, Origin, RawClient, wait_for  # noqa: E402

STALL_MODULE = os.path.join(harness.TOP_BUILDDIR,
                            "test/modules/.libs/mod_suspend_stall.so")
STALL_MS = 8000

CONF = """
LoadModule suspend_stall_module "{module}"
ProxyPass /events {origin}/events
<Location /events>
    SSEProxy On
</Location>
"""


@unittest.skipIf(harness.ASYNC != "on", "streams keep their thread")
class ReleaseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = harness.workdir()
        cls.origin = Origin(cls.work)
        # two threads: one stalls, the other ends the stream
        cls.httpd = Httpd(cls.work, CONF.format(module=STALL_MODULE,
                                                origin=cls.origin.url),
                          servers=1, threads=2,
                          loglevel="warn sse_proxy:debug "
                                   "suspend_stall:notice").start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.stop()
        cls.origin.stop()
        bad = cls.httpd.unexpected_log_lines()
        harness.remove_workdir(cls.work, keep=bool(bad))
        if bad:
            raise AssertionError("unexpected error-log lines:\n"
                                 + "\n".join(bad))

    def line_of(self, pattern):
        """Index of the first error-log line matching pattern, or None."""
        for i, line in enumerate(self.httpd.error_log().splitlines()):
            if re.search(pattern, line):
                return i
        return None

    def test_freed_only_after_the_suspending_thread_moved_on(self):
        c = RawClient(self.httpd.port, "/events?count=1&first_delay_ms=300",
                      headers={"Accept": "text/event-stream",
                               "X-Suspend-Stall": str(STALL_MS)})
        body = c.read_to_end(timeout=10)
        c.close()
        self.assertIn(b"id: 1", body)
        self.assertTrue(c.resp.complete)

        begins = wait_for(lambda: re.search(r"stall begins conn=(\d+)",
                                            self.httpd.error_log()),
                          what="the stall")
        conn = begins.group(1)
        wait_for(lambda: self.line_of(r"stall over conn=%s$" % conn)
                 is not None, timeout=STALL_MS / 1000.0 + 5,
                 what="the stall's end")
        self.assertIsNone(self.line_of(r"SSE00061: connection %s " % conn),
                          "freed while its thread was still on it")
        # given back to the MPM while its thread still stalled
        self.assertIsNotNone(self.line_of(r"SSE00060: connection %s " % conn))

        # the stalled thread's next job lets the memory go
        def freed():
            with socket.create_connection(("127.0.0.1", self.httpd.port),
                                          5) as s:
                s.sendall(b"GET /nothing HTTP/1.1\r\nHost: x\r\n"
                          b"Connection: close\r\n\r\n")
                while s.recv(4096):
                    pass
            time.sleep(0.2)
            return self.line_of(r"SSE00061: connection %s " % conn) is not None
        wait_for(freed, timeout=20, interval=0, what="the free")
        self.assertGreater(self.line_of(r"SSE00061: connection %s " % conn),
                           self.line_of(r"stall over conn=%s$" % conn))
        self.assertLess(self.line_of(r"SSE00060: connection %s " % conn),
                        self.line_of(r"stall over conn=%s$" % conn))


if __name__ == "__main__":
    unittest.main(verbosity=2)
