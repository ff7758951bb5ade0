# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Stream caps and reconnect limits, across two children: the streams
of one client (by address, by mod_remoteip's address, by a header) and
of one location are capped, other clients are not, a naive reconnect
loop is limited with a growing retry:, and EventSources that follow the
policy's retry: hints never are.  Every client is real: raw sockets
bound to their own 127/8 source addresses, and the benchmarks' sse-load
in its EventSource mode."""
import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402
from harness import Httpd, Origin, RawClient, parse_events, wait_for  # noqa: E402

SSE_LOAD = os.path.join(harness.TOP_BUILDDIR, "bench", "sse-load")
ES = {"Accept": "text/event-stream"}


class SourcedClient(RawClient):
    """RawClient from a given source address (any of 127/8 on Linux)."""

    def __init__(self, port, path, source, headers=None, timeout=10):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % port]
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.buf = b""
        self.resp = harness.RawResponse()
        self.method = "GET"
        self._read_head()

    def closed_by_server(self, timeout=5):
        """True when the server closes the connection after its answer."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
            return True
        except (socket.timeout, OSError):
            return False


def first_answer(b):
    return b"data:" in b


def was_limited(c):
    """Reads enough of c's answer to tell a stream from the answer of a
    limit: that one is not chunked (it ends with its connection) and
    carries the sse-proxy event."""
    if not c.chunked():
        return True
    c.read_until(first_answer, timeout=5)
    return b"sse-proxy" in c.resp.body


def open_stream(port, path, source, headers=None, timeout=10):
    """An admitted stream: its head and first event read."""
    c = SourcedClient(port, path, source, dict(ES, **(headers or {})),
                      timeout=timeout)
    assert c.resp.status == 200, c.resp.head
    c.read_until(lambda b: b"data:" in b, timeout=timeout)
    return c


def let_in_again(port, source, n):
    """Waits until source is let in again for n streams (a new generation
    of children may not listen yet), then closes them."""
    got = []

    def admitted():
        try:
            c = SourcedClient(port, "/events?rate=5", source, ES)
        except OSError:
            time.sleep(0.2)
            return False
        if was_limited(c):
            c.close()
            time.sleep(0.3)
            return False
        got.append(c)
        return True
    wait_for(admitted, timeout=15, what="the client let in again")
    for _ in range(n - 1):
        wait_for(admitted, timeout=5, what="its next stream")
    for c in got:
        c.close()


def limited(c, limit):
    """c got the come-back-later answer of an EventSource for limit:
    200 text/event-stream with retry: and the sse-proxy event, the whole
    answer at once, and the connection closed.  Returns the retry."""
    assert c.resp.status == 200, c.resp.head
    assert c.resp.headers["content-type"].startswith("text/event-stream")
    body = c.read_to_end(timeout=5)
    assert c.resp.complete, body
    events = parse_events(body)
    retry = int(events[0]["retry"])
    hint = [e for e in events if e.get("event") == "sse-proxy"]
    assert hint, body
    info = json.loads(hint[0]["data"])
    assert info["limit"] == limit, info
    assert info["retry"] == retry, info
    assert c.closed_by_server(), "connection kept open"
    c.close()
    return retry


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read().decode())


def get_text(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def pids_of(httpd, source, path):
    """The pids of the children that served source's admitted streams
    under path (a CustomLog with %P)."""
    out = set()
    try:
        with open(os.path.join(httpd.root, "pids.log")) as f:
            for line in f:
                pid, addr, status, end, req = line.split(" ", 4)
                if addr == source and path in req and end != "limit":
                    out.add(pid)
    except FileNotFoundError:
        pass
    return out


PIDS_LOG = 'CustomLog "pids.log" "%P %a %>s %{sse-end}n %r"\n'
STATUS = """
<Location /sse-status>
    SetHandler sse-proxy-status
</Location>
"""


class LimitsBase(unittest.TestCase):
    conf = ""
    servers = 2
    threads = 8
    allowed = ()
    extra_modules = ()

    @classmethod
    def setUpClass(cls):
        cls.work = harness.workdir()
        cls.origin = Origin(cls.work)
        try:
            cls.httpd = Httpd(cls.work, cls.conf.format(o=cls.origin.url)
                              + PIDS_LOG + STATUS, servers=cls.servers,
                              threads=cls.threads,
                              loglevel="warn sse_proxy:info",
                              extra_modules=cls.extra_modules).start()
        except BaseException:
            cls.origin.stop()
            raise
        cls.port = cls.httpd.port

    @classmethod
    def tearDownClass(cls):
        cls.httpd.stop()
        cls.origin.stop()
        bad = cls.httpd.unexpected_log_lines(allowed=cls.allowed)
        harness.remove_workdir(cls.work, keep=bool(bad))
        if bad:
            raise AssertionError("unexpected error-log lines:\n"
                                 + "\n".join(bad[:20]))

    def status(self):
        return get_json(self.httpd.url + "/sse-status?format=json")["limits"]


class TestClientCapThreads(LimitsBase):
    """Each stream holds a worker thread and each child has three: four
    streams of one client need both children, so the cap can only hold
    if the children share the count.  (With two threads a child, the
    request over the cap once went unanswered in the sanitizer build
    beside other tests; three leave more room.)"""
    threads = 3
    conf = """
<Location /events>
    ProxyPass {o}/events
    SSEProxy On
    SSEProxyAsync Off
    SSEProxyMaxStreamsPerClient 4
</Location>
"""
    # every worker busy is the point of this setup
    allowed = (r"AH00484",)

    def connect(self, make):
        """make()'s client, tried again on a new connection when the
        first is not answered: a child whose threads all hold streams may
        have accepted it just before it stopped listening, and it waits
        there for a thread that only a stream's end frees."""
        for _ in range(4):
            try:
                return make(3)
            except socket.timeout:
                continue
        return make(10)

    def test_cap_across_children(self):
        a = [open_stream(self.port, "/events?rate=5", "127.0.0.1")
             for _ in range(4)]
        retry = limited(self.connect(lambda t: SourcedClient(
            self.port, "/events?rate=5", "127.0.0.1", ES, timeout=t)),
            "client-streams")
        self.assertGreaterEqual(retry, 1000)
        # any other client: 429 with Retry-After
        c = self.connect(lambda t: SourcedClient(
            self.port, "/events?rate=5", "127.0.0.1", timeout=t))
        self.assertEqual(c.resp.status, 429, c.resp.head)
        self.assertGreaterEqual(int(c.resp.headers["retry-after"]), 1)
        c.read_to_end(timeout=5)
        c.close()
        # another address is not affected
        b = self.connect(lambda t: open_stream(
            self.port, "/events?rate=5", "127.0.0.2", timeout=t))
        self.assertIn(b"data:", b.resp.body)
        b.close()
        # one stream ends, and its place is free again
        a.pop().close()

        def admitted():
            c = self.connect(lambda t: SourcedClient(
                self.port, "/events?rate=5", "127.0.0.1", ES, timeout=t))
            if not was_limited(c):
                a.append(c)
                return True
            c.close()
            time.sleep(0.2)
            return False
        wait_for(admitted, timeout=10, what="a stream let in again")
        for s in a:
            s.close()
        wait_for(lambda: len(pids_of(self.httpd, "127.0.0.1", "/events"))
                 >= 2, timeout=10, what="streams logged by two children")
        st = wait_for(lambda: (lambda s: s if s["limited"]["client_streams"]
                               >= 2 else None)(self.status()), timeout=5,
                      what="the status page")
        self.assertEqual(st["limited"]["location_streams"], 0)
        log = self.httpd.error_log()
        self.assertRegex(log, r"SSE00086: client 127\.0\.0\.1 holds 4 streams "
                              r"\(SSEProxyMaxStreamsPerClient 4\)")
        self.assertNotIn("127.0.0.2 holds", log)


class TestCapsAsync(LimitsBase):
    """Streams that wait without a thread count as long as they are open,
    and stop counting when they end; the keys an operator may choose."""
    extra_modules = (("remoteip_module", "mod_remoteip.so"),)
    conf = """
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy 127.0.0.1
<Location /ev>
    ProxyPass {o}/events
    SSEProxy On
    SSEProxyMaxStreamsPerClient 2
</Location>
<Location /capped>
    ProxyPass {o}/events
    SSEProxy On
    SSEProxyMaxStreams 3
</Location>
<Location /tenant>
    ProxyPass {o}/events
    SSEProxy On
    SSEProxyMaxStreamsPerClient 1
    SSEProxyLimitKey header X-Tenant
</Location>
"""

    def test_1_per_address(self):
        a = [open_stream(self.port, "/ev?rate=5", "127.0.0.3")
             for _ in range(2)]
        limited(SourcedClient(self.port, "/ev?rate=5", "127.0.0.3", ES),
                "client-streams")
        b = open_stream(self.port, "/ev?rate=5", "127.0.0.4")
        for s in a + [b]:
            s.close()
        # the ended streams no longer count, waiting ones included
        wait_for(lambda: self.try_open("/ev?rate=5", "127.0.0.3", 2),
                 timeout=10, what="the client's streams given back")

    def try_open(self, path, source, n, headers=None):
        """n streams open at once, closed again; False if one is
        refused."""
        got = []
        try:
            for _ in range(n):
                c = SourcedClient(self.port, path, source,
                                  dict(ES, **(headers or {})))
                got.append(c)
                if was_limited(c):
                    time.sleep(0.2)
                    return False
            return True
        finally:
            for c in got:
                c.close()

    def test_2_location(self):
        srcs = ["127.0.0.%d" % i for i in (10, 11, 12)]
        a = [open_stream(self.port, "/capped?rate=5", s) for s in srcs]
        limited(SourcedClient(self.port, "/capped?rate=5", "127.0.0.13", ES),
                "location-streams")
        # other locations are not affected
        other = open_stream(self.port, "/ev?rate=5", "127.0.0.13")
        other.close()
        a.pop().close()
        wait_for(lambda: self.try_open("/capped?rate=5", "127.0.0.13", 1),
                 timeout=10, what="the location's stream given back")
        for s in a:
            s.close()
        self.assertRegex(self.httpd.error_log(),
                         r"SSE00087: /capped holds 3 streams "
                         r"\(SSEProxyMaxStreams 3\)")

    def test_3_remoteip(self):
        """Behind a trusted front, mod_remoteip's address is the key."""
        x = {"X-Forwarded-For": "203.0.113.5"}
        a = open_stream(self.port, "/ev?rate=5", "127.0.0.1", x)
        a2 = open_stream(self.port, "/ev?rate=5", "127.0.0.1", x)
        limited(SourcedClient(self.port, "/ev?rate=5", "127.0.0.1",
                              dict(ES, **x)), "client-streams")
        y = open_stream(self.port, "/ev?rate=5", "127.0.0.1",
                        {"X-Forwarded-For": "203.0.113.6"})
        for s in (a, a2, y):
            s.close()
        self.assertRegex(self.httpd.error_log(),
                         r"SSE00086: client 203\.0\.113\.5 holds 2 streams")

    def test_4_header(self):
        """Keyed by a header: one stream per tenant; a request without
        the header is keyed by its address."""
        t1 = open_stream(self.port, "/tenant?rate=5", "127.0.0.20",
                         {"X-Tenant": "acme"})
        limited(SourcedClient(self.port, "/tenant?rate=5", "127.0.0.21",
                              dict(ES, **{"X-Tenant": "acme"})),
                "client-streams")
        t2 = open_stream(self.port, "/tenant?rate=5", "127.0.0.20",
                         {"X-Tenant": "globex"})
        n1 = open_stream(self.port, "/tenant?rate=5", "127.0.0.20",
                         {"X-Tenant": ""})
        limited(SourcedClient(self.port, "/tenant?rate=5", "127.0.0.20", ES),
                "client-streams")
        st = self.status()
        keys = {t["key"]: t for t in st["top"]}
        # the header's value is shown as a hash, never as it is
        self.assertFalse(any("acme" in k for k in keys), keys)
        self.assertTrue(any(k.startswith("header X-Tenant#") for k in keys),
                        keys)
        for s in (t1, t2, n1):
            s.close()

    def test_4b_http2(self):
        """Over HTTP/2 the answer is the same, and ends only its stream."""
        t1 = open_stream(self.port, "/tenant?rate=5", "127.0.0.22",
                         {"X-Tenant": "initech"})
        res = subprocess.run(
            ["curl", "-sS", "--http2-prior-knowledge", "--max-time", "10",
             "-D", "-", "-H", "Accept: text/event-stream",
             "-H", "X-Tenant: initech",
             self.httpd.url + "/tenant?rate=5"],
            capture_output=True, text=True, timeout=30)
        t1.close()
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(res.stdout.startswith("HTTP/2 200"), res.stdout)
        self.assertIn("content-type: text/event-stream", res.stdout)
        self.assertRegex(res.stdout, r"\nretry: \d+\n")
        self.assertIn('"limit":"client-streams"', res.stdout)

    def test_5_status_formats(self):
        st = self.status()
        self.assertGreaterEqual(st["limited"]["client_streams"], 1)
        self.assertEqual(st["slots"], 4096)
        prom = get_text(self.httpd.url + "/sse-status?format=prometheus")
        m = re.search(r'^sse_proxy_limited_total\{limit="client_streams"\} '
                      r'(\d+)$', prom, re.M)
        self.assertTrue(m, prom)
        self.assertGreaterEqual(int(m.group(1)), 1)
        self.assertIn('sse_proxy_limited_total{limit="reconnect_rate"} 0',
                      prom)
        html = get_text(self.httpd.url + "/sse-status")
        self.assertIn("<h2>Limits</h2>", html)


class TestReconnectRate(LimitsBase):
    """3 stream requests per 3 s for each address; the policy's first
    retry: is 1-3 s (NETWORK_ERROR's initial delay, spread)."""
    conf = """
SSEProxyStrategy NETWORK_ERROR initial=1s max=20s factor=2 attempts=8
<Location /r>
    ProxyPass {o}/events
    SSEProxy On
    SSEProxyReconnectRate 3/3s
</Location>
"""

    def test_1_naive_loop(self):
        """Ten a second, whatever it is told: three get in, the rest are
        told to come back later, later each time."""
        retries, admitted = [], 0
        for _ in range(30):
            c = SourcedClient(self.port, "/r?rate=20", "127.0.0.30", ES)
            if was_limited(c):
                retries.append(limited(c, "reconnect-rate"))
            else:
                admitted += 1
                c.close()
            time.sleep(0.1)
        self.assertLessEqual(admitted, 4)
        self.assertGreaterEqual(len(retries), 26)
        self.assertGreater(retries[-1], retries[0])
        self.assertGreaterEqual(retries[-1], 15000)
        # any other client gets 429 with Retry-After
        c = SourcedClient(self.port, "/r?rate=20", "127.0.0.30")
        self.assertEqual(c.resp.status, 429, c.resp.head)
        self.assertGreaterEqual(int(c.resp.headers["retry-after"]), 15)
        c.close()
        # another address is not affected
        open_stream(self.port, "/r?rate=20", "127.0.0.31").close()
        self.assertGreaterEqual(self.status()["limited"]["reconnect_rate"],
                                15)
        self.assertIn("SSE00088: client 127.0.0.30 reconnects faster",
                      self.httpd.error_log())

    @unittest.skipUnless(os.access(SSE_LOAD, os.X_OK), "needs bench/sse-load")
    def test_2_eventsources_following_retry(self):
        """The storm scenario's clients: streams that end after two
        events, and EventSources that come back when retry: says, each
        from its own address.  None is ever limited."""
        before = self.status()["limited"]["reconnect_rate"]
        res = subprocess.run(
            [SSE_LOAD, "--port", str(self.port),
             "--path", "/r?rate=20&count=2", "--streams", "20",
             "--duration", "12", "--mode", "eventsource",
             "--source-base", "127.0.2.1", "--quiet",
             "--json", os.path.join(self.work, "load.json")],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr)
        with open(os.path.join(self.work, "load.json")) as f:
            load = json.load(f)
        text = json.dumps(load)
        # they reconnected many times (each stream lasts 0.1 s) ...
        es = load["eventsource"]
        self.assertGreaterEqual(es["reconnects"], 20 * 3, text)
        self.assertEqual(es["failed_for_good"], 0, text)
        # ... and were never limited
        self.assertEqual(self.status()["limited"]["reconnect_rate"], before)
        self.assertNotRegex(self.httpd.error_log(),
                            r"SSE00088: client 127\.0\.2\.")


def children_of(pid):
    """The pids of the processes whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(d))
    return out


class TestDeadChildren(LimitsBase):
    """Children killed with their streams open (a crash, or what an
    ungraceful stop does to them) leave no count behind."""
    conf = """
<Location /events>
    ProxyPass {o}/events
    SSEProxy On
    SSEProxyMaxStreamsPerClient 2
    SSEProxyMaxStreams 4
</Location>
"""

    @classmethod
    def tearDownClass(cls):
        cls.httpd.stop()
        cls.origin.stop()
        # the children this test kills are logged as such
        bad = [l for l in cls.httpd.unexpected_log_lines()
               if "exit signal Killed" not in l]
        harness.remove_workdir(cls.work, keep=bool(bad))
        if bad:
            raise AssertionError("unexpected error-log lines:\n"
                                 + "\n".join(bad[:20]))

    def test_killed_children(self):
        a = [open_stream(self.port, "/events?rate=5", "127.0.0.40")
             for _ in range(2)]
        b = [open_stream(self.port, "/events?rate=5", "127.0.0.41")
             for _ in range(2)]
        limited(SourcedClient(self.port, "/events?rate=5", "127.0.0.40", ES),
                "client-streams")
        limited(SourcedClient(self.port, "/events?rate=5", "127.0.0.42", ES),
                "location-streams")
        old = children_of(self.httpd.proc.pid)
        self.assertGreaterEqual(len(old), 2)
        for pid in old:
            os.kill(pid, 9)
        for s in a + b:
            s.close()
        # the parent starts new children; their first stream finds the
        # killed ones' counts gone
        wait_for(lambda: set(children_of(self.httpd.proc.pid)) - set(old),
                 timeout=15, what="new children")

        def admitted():
            try:
                c = SourcedClient(self.port, "/events?rate=5", "127.0.0.40",
                                  ES)
            except OSError:
                return False
            if was_limited(c):
                c.close()
                time.sleep(0.3)
                return False
            a.append(c)
            return True
        wait_for(admitted, timeout=15, what="the client let in again")
        wait_for(admitted, timeout=5, what="its second stream")
        for s in a:
            s.close()
        self.assertGreaterEqual(self.status()["reclaimed"], 4)
        self.assertIn("SSE00105", self.httpd.error_log())

    def test_graceful_restart(self):
        """A graceful restart ends the old generation's streams with a
        retry: hint; they are given back, and the client's next streams
        are let in by the new generation."""
        a = [open_stream(self.port, "/events?rate=5", "127.0.0.60")
             for _ in range(2)]
        old = set(children_of(self.httpd.proc.pid))
        self.httpd.graceful()
        for s in a:
            s.read_to_end(timeout=15)
            self.assertIn(b"retry:", s.resp.body[-200:])
            s.close()
        let_in_again(self.port, "127.0.0.60", 2)
        self.assertTrue(set(children_of(self.httpd.proc.pid)) - old)

    def test_ungraceful_restart(self):
        """apachectl restart kills the children without waiting for
        their streams: the new generation starts from zero."""
        import signal
        a = [open_stream(self.port, "/events?rate=5", "127.0.0.50")
             for _ in range(2)]
        limited(SourcedClient(self.port, "/events?rate=5", "127.0.0.50", ES),
                "client-streams")
        old = set(children_of(self.httpd.proc.pid))
        os.kill(self.httpd.proc.pid, signal.SIGHUP)
        wait_for(lambda: (lambda now: now and not (now & old))(
                     set(children_of(self.httpd.proc.pid))),
                 timeout=20, what="a new generation of children")
        for s in a:
            s.close()
        let_in_again(self.port, "127.0.0.50", 2)


class TestDirectives(unittest.TestCase):
    """A bad argument fails httpd -t with a message that names the
    directive and says what it accepts."""

    def check(self, line):
        work = harness.workdir()
        try:
            h = Httpd(work, "<Location /e>\n    ProxyPass http://127.0.0.1:9/"
                      "\n    SSEProxy On\n    %s\n</Location>\n" % line)
            return h.check_config()
        finally:
            harness.remove_workdir(work)

    def test_good(self):
        for line in ("SSEProxyMaxStreamsPerClient 6", "SSEProxyMaxStreams off",
                     "SSEProxyReconnectRate 10/m", "SSEProxyReconnectRate 3/10s",
                     "SSEProxyReconnectRate off", "SSEProxyLimitKey ip",
                     "SSEProxyLimitKey header X-Tenant",
                     "SSEProxyLimitKey env AUTHENTICATE_UID"):
            rc, out = self.check(line)
            self.assertEqual(rc, 0, line + "\n" + out)

    def test_bad(self):
        cases = {
            "SSEProxyMaxStreamsPerClient 0": "number of streams from 1",
            "SSEProxyMaxStreams 12x": "number of streams from 1",
            "SSEProxyReconnectRate 10": "use n/period",
            "SSEProxyReconnectRate 10/2d": "use n/period",
            "SSEProxyReconnectRate 0/s": "use n/period",
            "SSEProxyLimitKey header": "use ip, header <name> or env",
            "SSEProxyLimitKey cookie session": "use ip, header <name> or env",
            "SSEProxyLimitKey header Bad:Name": "SSEProxyLimitKey",
        }
        for line, words in cases.items():
            rc, out = self.check(line)
            self.assertNotEqual(rc, 0, line)
            self.assertIn(line.split()[0] + ":", out, line)
            self.assertIn(words, out, line)


if __name__ == "__main__":
    unittest.main(verbosity=2)
