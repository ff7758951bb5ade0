# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Ungraceful stop and restart (apachectl -k stop, -k restart: SIGTERM
and SIGHUP to the parent) with thousands of streams open.

The event MPM does not wait for connections then: its workers exit at
once and the child destroys its pools.  Streams that wait without a
thread must still end cleanly for their clients (a retry: hint and the
final chunk, as on a graceful stop), be logged, and hand their backend
connections back before mod_proxy's pools go; no child may die on a
signal, nothing of the old generation may outlive it, and the new
generation serves streams.

Each round of StopTest starts an httpd, opens the streams and stops it;
RestartTest restarts one httpd once per round.  By default 3 rounds each
with 2,000 streams (SSEProxyAsync On; with it off, sync_mode.py, each
stream holds a worker thread, so fewer).  The full run, 10 rounds each:

    SSE_STOP_ROUNDS=10 python3 test/integration/test_stop.py

SSE_STOP_STREAMS sets the number of streams per round.
"""
import os
import resource
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Httpd, Origin, wait_for  # noqa: E402
from procstat import group_pids  # noqa: E402
from test_async import Fleet, child_pids, ids  # noqa: E402

ASYNC = harness.ASYNC == "on"
ROUNDS = int(os.environ.get("SSE_STOP_ROUNDS", "3"))
# Synchronous streams hold a worker thread each: 4 x 100 threads.
STREAMS = int(os.environ.get("SSE_STOP_STREAMS", "2000" if ASYNC else "300"))
SERVERS = 4
THREADS = 25 if ASYNC else 100
# generous: an ungraceful stop takes about a second
EXIT_WITHIN = 30
# Thousands of streams opened at once can keep every worker of a child
# busy for a moment (in the sanitizer build above all): the MPM says so.
ALLOWED = [r"AH00484"]

CONF = """
# waiting streams are connections: about 5,000 per child
AsyncRequestWorkerFactor 200
ProxyPass /events {origin}/events
<Location /events>
    SSEProxy On
</Location>
"""


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def open_streams(httpd, n):
    """n streams, each with an event received."""
    fleet = Fleet(httpd.port, "/events?rate=1", n)
    if not fleet.pump(lambda f: f.all(lambda r: b"\nid: " in r), 120):
        fleet.close()
        raise AssertionError("%d streams did not all start" % n)
    return fleet


def all_closed(fleet):
    """True once the server has closed every stream's connection."""
    return not fleet.sel.get_map()


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def thread_count(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def shared_mappings(pid):
    """The process's shared memory mappings (segments, slotmem)."""
    with open("/proc/%d/maps" % pid) as f:
        return sum(1 for line in f if line.split()[1].endswith("s"))


class StopBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise_fd_limit()
        cls.work = harness.workdir()
        cls.origin = Origin(cls.work)
        cls.servers = []

    @classmethod
    def tearDownClass(cls):
        for httpd in cls.servers:
            httpd.stop()
        cls.origin.stop()
        harness.remove_workdir(cls.work, keep=cls.keep())

    @classmethod
    def keep(cls):
        return any(h.unexpected_log_lines(ALLOWED) for h in cls.servers)

    def new_httpd(self):
        httpd = Httpd(self.work, CONF.format(origin=self.origin.url),
                      servers=SERVERS, threads=THREADS, loglevel="warn")
        self.servers.append(httpd)
        return httpd.start()

    def check_log(self, httpd):
        # a crashed child is "exit signal ..."; a child slow to exit is
        # AH00045 (the parent signals it again, then kills it)
        self.assertEqual(httpd.unexpected_log_lines(ALLOWED), [])

    def check_ends(self, fleet, n):
        """Every stream got its connection closed; with SSEProxyAsync on,
        each ended cleanly, with a retry: hint after its last event."""
        closed = fleet.pump(all_closed, EXIT_WITHIN)
        resps = fleet.responses()
        self.assertTrue(closed, "%d of %d connections still open"
                        % (len(fleet.sel.get_map()), n))
        self.assertEqual(len(resps), n)
        self.assertTrue(all(s == 200 and ids(b) for s, b, _ in resps))
        if not ASYNC:
            # a worker's connection is closed under it by the MPM
            # (close_worker_sockets), as with mod_proxy_http
            return
        bad = [b[-80:] for _, b, complete in resps
               if not complete or not b.rsplit(b"}\n\n", 1)[1].startswith(
                   b"retry: ")]
        self.assertEqual(bad[:3], [], "%d of %d streams did not end cleanly"
                         % (len(bad), n))

    def check_logged(self, httpd, n):
        # every stream is in the access log, ended by the stop
        ends = [line.split(" ")[2] for line in httpd.access_log()
                if "/events?rate=1 " in line]
        self.assertEqual(len(ends), n)
        if ASYNC:
            self.assertEqual(set(ends), {"shutdown"})


class StopTest(StopBase):
    def test_stop_with_streams_open(self):
        for rnd in range(ROUNDS):
            with self.subTest(round=rnd):
                httpd = self.new_httpd()
                fleet = open_streams(httpd, STREAMS)
                try:
                    os.kill(httpd.proc.pid, signal.SIGTERM)
                    self.check_ends(fleet, STREAMS)
                    httpd.proc.wait(EXIT_WITHIN)
                finally:
                    fleet.close()
                # nothing of this server is left
                self.assertEqual(group_pids(httpd.proc.pid), [],
                                 "processes left after the stop")
                self.check_log(httpd)
                self.check_logged(httpd, STREAMS)


class RestartTest(StopBase):
    def test_restart_with_streams_open(self):
        httpd = self.new_httpd()
        parent = httpd.proc.pid
        fds = threads = shm = None
        for rnd in range(ROUNDS):
            with self.subTest(round=rnd):
                fleet = open_streams(httpd, STREAMS)
                old = set(child_pids(httpd))
                try:
                    os.kill(parent, signal.SIGHUP)
                    self.check_ends(fleet, STREAMS)
                finally:
                    fleet.close()
                # the old generation is gone, a new one has started
                wait_for(lambda: not old & set(child_pids(httpd)),
                         timeout=EXIT_WITHIN, what="the old children to exit")
                wait_for(lambda: len(child_pids(httpd)) >= SERVERS,
                         timeout=EXIT_WITHIN, what="the new children")
                self.assertIsNone(httpd.proc.poll())
                # and serves streams
                again = Fleet(httpd.port, "/events?count=2", 20)
                try:
                    self.assertTrue(again.pump(lambda f: f.all(
                        lambda r: r.endswith(b"\r\n0\r\n\r\n")), 30))
                    self.assertEqual([(s, ids(b)) for s, b, _
                                      in again.responses()],
                                     [(200, [1, 2])] * 20)
                finally:
                    again.close()
                # the parent holds no more descriptors, threads or
                # shared memory segments after a restart than after the
                # first one
                if fds is None:
                    fds, threads = fd_count(parent), thread_count(parent)
                    shm = shared_mappings(parent)
                else:
                    self.assertEqual(fd_count(parent), fds)
                    self.assertEqual(thread_count(parent), threads)
                    self.assertEqual(shared_mappings(parent), shm)
        self.check_log(httpd)
        time.sleep(0.5)   # the access log of the last round
        self.check_logged(httpd, STREAMS * ROUNDS)


if __name__ == "__main__":
    unittest.main(verbosity=2)
