# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""A fleet: three httpd nodes that share member state and sessions through
one redis-server (SSEProxyStateCache).  A member backed off on one node is
out on the others within a second, and one success anywhere brings it back
everywhere; two nodes that see the same failure at once count it once; a
session made through one node is served by its member through the others;
with the store gone (killed, or stopped so that it never answers) every
node goes on with its own state, without waiting for it, and shares again
once it is back."""
import json
import os
import re
import signal
import statistics
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawClient, data_events, wait_for  # noqa: E402
from test_policy import BENIGN, SSE, decisions  # noqa: E402

REDIS_MODULE = os.path.join(harness.MODULES_DIR, "mod_socache_redis.so")
EXTRA_MODULES = [("socache_redis_module", "mod_socache_redis.so")]
JSON = {"Content-Type": "application/json"}
MCP_ACCEPT = "application/json, text/event-stream"

# what these tests provoke on purpose: members backed off and recovered
# (SSE00030/SSE00031)
ALLOWED = list(BENIGN) + [r"SSE0003[01]"]
# with the store killed or stopped: the module's notes on it
# (SSE00070/SSE00071) and mod_socache_redis's own errors (AH03478/AH03479)
STORE_DOWN_ALLOWED = ALLOWED + [r"SSE0007[01]", r"AH0347[89]"]

NODE_CONF = """
LogLevel warn sse_proxy:info
RedisTimeout 50ms
SSEProxyStateCache {spec}
SSEProxyJitter none
# a member that refuses connections is tried again 2 s later
SSEProxyStrategy NETWORK_ERROR initial=2s max=4s
SSEProxyStrategy PROXY_ERROR initial=2s max=4s
<Proxy balancer://b>
    BalancerMember {o1}
    BalancerMember {o2}
    ProxySet forcerecovery=Off
</Proxy>
<Location /events>
    ProxyPass balancer://b/events
    SSEProxy On
    SSEProxySessionHeader Mcp-Session-Id
</Location>
<Location /mcp>
    ProxyPass balancer://b/mcp
    SSEProxy On
    SSEProxySessionHeader Mcp-Session-Id
</Location>
<Location /status>
    SetHandler sse-proxy-status
</Location>
"""


def origins_in(body):
    """The origin names found in a stream's events."""
    return {m for e in data_events(body)
            for m in re.findall(r'"origin":"([^"]*)"', e["data"])}


def report(text):
    print(text, flush=True)


class FleetBase(unittest.TestCase):
    """One redis-server, two sse-origins in balancer://b, and three httpd
    nodes with the same configuration; tearDownClass fails on error-log
    lines outside Httpd.BENIGN and `allowed`."""
    servers = 2
    allowed = ALLOWED

    @classmethod
    def setUpClass(cls):
        if not os.access(harness.REDIS_BIN, os.X_OK):
            raise unittest.SkipTest("redis-server not installed")
        if not os.path.exists(REDIS_MODULE):
            raise unittest.SkipTest(REDIS_MODULE + " not installed")
        cls.work = harness.workdir()
        cls.redis, cls.o, cls.n = None, [], []
        try:
            cls.redis = harness.Redis(cls.work)
            cls.o = [harness.Origin(cls.work, "origin%d" % (i + 1))
                     for i in range(2)]
            conf = NODE_CONF.format(spec=cls.redis.spec, o1=cls.o[0].url,
                                    o2=cls.o[1].url)
            for _ in range(3):
                cls.n.append(harness.Httpd(
                    cls.work, conf, servers=cls.servers, threads=16,
                    extra_modules=EXTRA_MODULES).start())
        except BaseException:
            cls.stop_all()
            raise

    @classmethod
    def stop_all(cls):
        for node in cls.n:
            node.stop()
        for o in cls.o:
            o.stop()
        if cls.redis:
            cls.redis.stop()

    @classmethod
    def tearDownClass(cls):
        cls.stop_all()
        bad = ["node%d: %s" % (i + 1, line) for i, node in enumerate(cls.n)
               for line in node.unexpected_log_lines(allowed=cls.allowed)]
        harness.remove_workdir(cls.work, keep=bool(bad))
        if bad:
            raise AssertionError("unexpected error-log lines:\n"
                                 + "\n".join(bad[:20]))

    # --- requests --------------------------------------------------------

    def get(self, node, path, headers=None, method="GET", body=b"",
            timeout=10):
        c = RawClient(node.port, path, headers=headers, method=method,
                      body=body, timeout=timeout)
        try:
            data = c.read_to_end(timeout=timeout)
        finally:
            c.close()
        return c.resp, data

    def rpc(self, node, body, sid=None):
        h = dict(JSON)
        h["Accept"] = MCP_ACCEPT
        h["Content-Length"] = str(len(body))
        if sid:
            h["Mcp-Session-Id"] = sid
        return self.get(node, "/mcp", headers=h, method="POST",
                        body=body.encode())

    def open_session(self, node):
        resp, body = self.rpc(node, '{"jsonrpc":"2.0","id":1,'
                                    '"method":"initialize"}')
        self.assertEqual(resp.status, 200, body)
        return resp.headers["mcp-session-id"], resp.headers["x-origin-name"]

    def call(self, node, sid, k=2):
        """A tools/call of the session: a stream whose last event is the
        result of call k."""
        return self.rpc(node, '{"jsonrpc":"2.0","id":%d,'
                              '"method":"tools/call"}' % k, sid)

    @staticmethod
    def result_ids(body):
        """The ids of the JSON-RPC results in a stream."""
        out = []
        for e in data_events(body):
            doc = json.loads(e["data"])
            if "result" in doc:
                out.append(doc["id"])
        return out

    # --- status ----------------------------------------------------------

    def status(self, node):
        resp, body = self.get(node, "/status?format=json")
        self.assertEqual(resp.status, 200, body)
        return json.loads(body.decode())

    def member(self, node, origin):
        found = [m for m in self.status(node)["members"]
                 if m["balancer"] == "b" and m["member"] == origin.url]
        self.assertEqual(len(found), 1, origin.url)
        return found[0]

    def node_no(self, node):
        return self.n.index(node) + 1

    def recoveries(self, node, origin):
        return len(re.findall(r"SSE00031: recovered member=%s "
                              % re.escape(origin.url), node.error_log()))

    def assert_all_usable(self, timeout=3):
        for node in self.n:
            for o in self.o:
                wait_for(lambda: (lambda m: m["usable"] is True
                                  and m["consecutive_failures"] == 0)(
                                      self.member(node, o)),
                         timeout=timeout,
                         what="%s usable on node %d"
                         % (o.name, self.node_no(node)))

    # --- failures --------------------------------------------------------

    def other_than(self, victim):
        return [o for o in self.o if o is not victim][0]

    def fail_through(self, node, victim, tries=12):
        """Streams through node until one of them finds victim refusing
        (and is served by the other member): (monotonic time that request
        was sent, its duration).  Requests pinned to a session count as
        elections, so the balancer may give the other member a few new
        ones in a row first."""
        other = self.other_than(victim)
        before = len(decisions(node, victim.url))
        for _ in range(tries):
            sent = time.monotonic()
            resp, body = self.get(node, "/events?count=1", headers=SSE)
            took = time.monotonic() - sent
            self.assertEqual(resp.status, 200, body)
            self.assertEqual(origins_in(body), {other.name})
            if len(decisions(node, victim.url)) > before:
                return sent, took
        self.fail("no request through node %d reached %s"
                  % (self.node_no(node), victim.name))

    def wait_out_from_fleet(self, node, victim, since, timeout):
        """Polls node's status until victim is out there; returns (seconds
        since `since`, the member's status)."""
        deadline = since + timeout
        while True:
            m = self.member(node, victim)
            now = time.monotonic()
            if m["usable"] is False:
                return now - since, m
            if now > deadline:
                self.fail("%s still usable on node %d after %.1f s: %s"
                          % (victim.name, self.node_no(node), timeout, m))
            time.sleep(0.01)

    def recover(self, victim, node):
        """Lets victim listen again, then streams through node until one
        reaches it (after its window) and succeeds; returns how long every
        node took from that success to see the member usable again."""
        os.kill(victim.proc.pid, signal.SIGUSR1)    # mode normal

        def listening():
            try:
                return victim.stats()["mode"] == "normal"
            except OSError:     # the signal is not handled yet
                return False
        wait_for(listening, timeout=5, what=victim.name + " back")
        before = self.recoveries(node, victim)

        def recovered():
            resp, body = self.get(node, "/events?count=1", headers=SSE)
            self.assertEqual(resp.status, 200, body)
            return self.recoveries(node, victim) > before
        wait_for(recovered, timeout=8, interval=0.1,
                 what="a success on %s through node %d"
                 % (victim.name, self.node_no(node)))
        back = time.monotonic()
        self.assert_all_usable()
        return time.monotonic() - back


class FleetTest(FleetBase):

    def test_a_member_out_on_one_node_is_out_on_all(self):
        """A member backed off through node 1 is out on nodes 2 and 3
        within 1 s, as the fleet says; one success through node 3 brings
        it back on all three."""
        n1, n2, n3 = self.n
        victim, other = self.o[0], self.o[1]
        self.assert_all_usable()
        victim.control(mode="down", for_ms=30000)
        sent, took = self.fail_through(n1, victim)
        got = decisions(n1, victim.url)
        self.assertEqual([d[2]["attempt"] for d in got], ["1"], got)
        self.assertEqual(self.member(n1, victim)["source"], "local")

        seen = {}
        for node in (n2, n3):
            seen[node] = self.wait_out_from_fleet(node, victim, sent, 3)
        report("\npropagation of a failure through node 1 (request %.1f ms):"
               " node 2 %.0f ms, node 3 %.0f ms"
               % (took * 1000, seen[n2][0] * 1000, seen[n3][0] * 1000))
        for node, (after, m) in seen.items():
            self.assertLess(after, 1.0, "node %d" % self.node_no(node))
            self.assertEqual(m["source"], "fleet", m)
            self.assertEqual(m["consecutive_failures"], 1, m)
            self.assertEqual(m["last_class"], got[0][2]["class"], m)
            self.assertGreater(m["next_retry_in_ms"], 0, m)
            fleet = self.status(node)["fleet"]
            self.assertEqual(fleet["state"], "ok", fleet)
            self.assertEqual(fleet["store"], self.redis.spec, fleet)
            self.assertGreater(fleet["pulled"], 0, fleet)
        self.assertGreater(self.status(n1)["fleet"]["pushed"], 0)

        # nodes 2 and 3 send it nothing: they need not find out themselves
        for node in (n2, n3):
            for _ in range(3):
                resp, body = self.get(node, "/events?count=1", headers=SSE)
                self.assertEqual(resp.status, 200, body)
                self.assertEqual(origins_in(body), {other.name})
            self.assertEqual(decisions(node, victim.url), [])

        # back: one success through node 3 ends the outage everywhere
        took = self.recover(victim, n3)
        report("recovery through node 3 seen by every node %.0f ms later"
               % (took * 1000))
        self.assertLess(took, 1.5)
        for node in (n1, n2):
            self.assertEqual(self.recoveries(node, victim), 0)
            self.assertIsNotNone(self.member(node, victim)["last_recovery_ms"])
        self.assertEqual(self.member(n3, victim)["source"], "local")

    def test_b_same_failure_at_once_counts_once(self):
        """Nodes 1 and 2 find the same refusing member at the same moment:
        each records attempt 1, and the fleet's count stays 1 on every node
        after any number of merges."""
        n1, n2, n3 = self.n
        victim, other = self.o[1], self.o[0]
        self.assert_all_usable()
        victim.control(mode="down", for_ms=30000)
        before = [len(decisions(node, victim.url)) for node in self.n]
        # two concurrent streams per node: byrequests gives one of them
        # to each member, so each node tries the victim once
        barrier = threading.Barrier(4)
        results = []

        def one(node):
            barrier.wait()
            try:
                results.append(self.get(node, "/events?count=1",
                                        headers=SSE))
            except Exception as e:  # noqa: BLE001 - reported below
                results.append((e, b""))
        threads = [threading.Thread(target=one, args=(node,))
                   for node in (n1, n1, n2, n2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        self.assertEqual(len(results), 4)
        for resp, body in results:
            self.assertEqual(getattr(resp, "status", resp), 200, body)
            self.assertEqual(origins_in(body), {other.name})
        found = [[d[2]["attempt"] for d in decisions(node, victim.url)[k:]]
                 for node, k in zip(self.n, before)]
        report("\nbackoffs logged for %s at once: node 1 %s, node 2 %s, "
               "node 3 %s" % (victim.name, *found))
        self.assertEqual(found, [["1"], ["1"], []])

        wait_for(lambda: self.member(n3, victim)["usable"] is False,
                 timeout=2, what="node 3 to learn of the failure")
        time.sleep(1.0)     # four more rounds of merging on every node
        counts = []
        for node in self.n:
            m = self.member(node, victim)
            counts.append(m["consecutive_failures"])
            self.assertIs(m["usable"], False, m)
        report("consecutive_failures after merging: %s" % counts)
        self.assertEqual(counts, [1, 1, 1])
        self.assertEqual(self.member(n3, victim)["source"], "fleet")
        # and in the store itself
        stored = self.stored_records(victim)
        report("stored record: %r" % stored)
        self.assertEqual(len(stored), 1, stored)
        self.assertEqual(stored[0].split()[1], "1", stored)

        took = self.recover(victim, n1)
        report("recovery through node 1 seen by every node %.0f ms later"
               % (took * 1000))

    def stored_records(self, origin):
        """The member records in redis that name origin."""
        out = []
        for key in self.redis.command("KEYS", "*"):
            value = self.redis.command("GET", key)
            if (value and value.startswith(b"sse2 ")
                    and value.decode().split("\n")[-1] == origin.url):
                out.append(value.decode().split("\n")[0])
        return out

    def test_c_session_is_served_by_its_member_on_every_node(self):
        """Sessions made through node 1 are served by their member through
        nodes 2 and 3 (which learn them from the fleet)."""
        self.assert_all_usable()
        owners = set()
        for _ in range(4):
            sid, owner = self.open_session(self.n[0])
            owners.add(owner)
            for node in self.n[1:]:
                for k in range(4):
                    resp, body = self.call(node, sid, k + 2)
                    self.assertEqual(resp.status, 200, body)
                    self.assertEqual(resp.headers["x-origin-name"], owner,
                                     "node %d" % self.node_no(node))
                    self.assertEqual(self.result_ids(body), [k + 2])
            # and the session's own stream
            c = RawClient(self.n[2].port, "/mcp?rate=20", headers={
                "Accept": "text/event-stream", "Mcp-Session-Id": sid})
            try:
                c.read_until(lambda b: len(data_events(b)) >= 2)
            finally:
                c.close()
            self.assertEqual(c.resp.status, 200)
            self.assertEqual(c.resp.headers["x-origin-name"], owner)
        self.assertEqual(owners, {"origin1", "origin2"})
        for node in self.n[1:]:
            fleet = self.status(node)["fleet"]
            report("\nnode %d fleet: %s" % (self.node_no(node), fleet))


class FleetStoreDownTest(FleetBase):
    allowed = STORE_DOWN_ALLOWED
    N = 20

    def timings(self, node, sid):
        """Median and max seconds of N requests through node, of each
        kind: a stream, a session the node knows, and a session it does
        not (a lookup in the store while it answers)."""
        kinds = {"stream": [], "known session": [], "unknown session": []}
        for k in range(self.N):
            t = time.monotonic()
            resp, body = self.get(node, "/events?count=1", headers=SSE)
            kinds["stream"].append(time.monotonic() - t)
            self.assertEqual(resp.status, 200, body)
            self.assertEqual(len(data_events(body)), 1)

            t = time.monotonic()
            resp, body = self.call(node, sid, k + 2)
            kinds["known session"].append(time.monotonic() - t)
            self.assertEqual(resp.status, 200, body)

            t = time.monotonic()
            resp, body = self.call(node, uuid.uuid4().hex, k + 2)
            kinds["unknown session"].append(time.monotonic() - t)
            self.assertEqual(resp.status, 404, body)
        return {kind: (statistics.median(v), max(v))
                for kind, v in kinds.items()}

    def test_store_down_then_back(self):
        """With the store killed, every node serves as before (open streams,
        new streams, the sessions it knows) without waiting for it, and
        says so once; once the store is back, they share again."""
        n1, n2, n3 = self.n
        sid, owner = self.open_session(n1)
        # node 2 learns the session from the fleet, and keeps it
        resp, body = self.call(n2, sid)
        self.assertEqual(resp.headers["x-origin-name"], owner)
        streams = [RawClient(node.port, "/events?rate=20", headers=SSE)
                   for node in self.n]
        try:
            self.store_down(sid, owner, streams)
        finally:
            for s in streams:
                s.close()
        self.store_back()

    def store_down(self, sid, owner, streams):
        n1, n2, n3 = self.n
        for s in streams:
            s.read_until(lambda b: len(data_events(b)) >= 2)

        up = self.timings(n2, sid)
        self.redis.stop()
        down = self.timings(n2, sid)
        report("\nthrough node 2, median / max ms of %d requests, store up "
               "-> store down (killed just before):" % self.N)
        for kind in up:
            report("  %-16s %6.2f / %6.2f -> %6.2f / %6.2f" % (
                kind, up[kind][0] * 1000, up[kind][1] * 1000,
                down[kind][0] * 1000, down[kind][1] * 1000))
        for kind in up:
            self.assertLess(down[kind][0] - up[kind][0], 0.05, kind)

        for node in self.n:
            wait_for(lambda: self.status(node)["fleet"]["state"]
                     == "unreachable", timeout=5,
                     what="node %d to see the store gone"
                     % self.node_no(node))
        # every node goes on: open streams flow, new ones are served,
        # sessions known there stay on their member
        for s in streams:
            n = len(data_events(s.resp.body))
            s.read_until(lambda b: len(data_events(b)) >= n + 3)
        for node in self.n:
            resp, body = self.get(node, "/events?count=2", headers=SSE)
            self.assertEqual(resp.status, 200, body)
            self.assertEqual(len(data_events(body)), 2)
        for node in (n1, n2):
            for k in range(3):
                resp, body = self.call(node, sid, k + 2)
                self.assertEqual(resp.status, 200, body)
                self.assertEqual(resp.headers["x-origin-name"], owner)
                self.assertEqual(self.result_ids(body), [k + 2])
        time.sleep(1.5)     # a few probes of the store by every child
        for node in self.n:
            self.assertEqual(node.error_log().count("SSE00070"), 1,
                             "node %d" % self.node_no(node))
            fleet = self.status(node)["fleet"]
            self.assertEqual(fleet["state"], "unreachable", fleet)
            self.assertGreater(fleet["errors"], 0, fleet)

    def store_back(self):
        """The store back on its port (empty): every node answers again,
        and a new failure through node 1 reaches node 2."""
        n1, n2, n3 = self.n
        self.redis.restart()
        restarted = time.monotonic()
        rejoined = {}
        for node in self.n:
            wait_for(lambda: self.status(node)["fleet"]["state"] == "ok"
                     and "SSE00071" in node.error_log(), timeout=20,
                     interval=0.1,
                     what="node %d to rejoin" % self.node_no(node))
            rejoined[self.node_no(node)] = time.monotonic() - restarted
        report("nodes back in the fleet after the restart (s): %s"
               % {k: round(v, 1) for k, v in rejoined.items()})
        victim = self.o[0]
        victim.control(mode="down", for_ms=30000)
        sent, _ = self.fail_through(n1, victim)
        after, m = self.wait_out_from_fleet(
            n2, victim, sent, max(2.0, 20 - (time.monotonic() - restarted)))
        report("a failure through node 1 reached node 2 in %.0f ms"
               % (after * 1000))
        self.assertEqual(m["source"], "fleet", m)
        for node in self.n:
            log = node.error_log()
            self.assertEqual((log.count("SSE00070"), log.count("SSE00071")),
                             (1, 1), "node %d" % self.node_no(node))
        self.recover(victim, n3)

    def test_store_stalls(self):
        """A store that takes connections and never answers (stopped, as a
        hung or partitioned server would be): a request waits for it at
        most SSE_FLEET_WAIT, every node gives up on it (SSE00070) and goes
        on alone, and shares again once it answers (SSE00071)."""
        n2 = self.n[1]
        for node in self.n:
            wait_for(lambda: self.status(node)["fleet"]["state"] == "ok",
                     timeout=20, interval=0.1,
                     what="node %d in the fleet" % self.node_no(node))
        logged = [(node.error_log().count("SSE00070"),
                   node.error_log().count("SSE00071")) for node in self.n]
        skipped = self.status(n2)["fleet"]["lookups_not_waited_for"]

        def lookups():
            times = []
            for k in range(self.N):
                t = time.monotonic()
                resp, body = self.call(n2, uuid.uuid4().hex, k + 2)
                times.append(time.monotonic() - t)
                self.assertEqual(resp.status, 404, body)
            return times
        up = lookups()
        os.kill(self.redis.proc.pid, signal.SIGSTOP)
        try:
            stalled = lookups()
            skipped = (self.status(n2)["fleet"]["lookups_not_waited_for"]
                       - skipped)
            report("\nunknown-session lookups through node 2, median / max "
                   "ms, store up -> store stopped: %.2f / %.2f -> %.2f / "
                   "%.2f; lookups not waited for: %d"
                   % (statistics.median(up) * 1000, max(up) * 1000,
                      statistics.median(stalled) * 1000,
                      max(stalled) * 1000, skipped))
            self.assertLess(statistics.median(stalled)
                            - statistics.median(up), 0.05)
            # not one request waited out the store's own timeout (50 ms)
            self.assertLess(max(stalled), 0.05)
            self.assertGreater(skipped, 0)

            # every node gives up on it, as on a store that refuses
            deadline = time.monotonic() + 5
            while True:
                fleets = [self.status(node)["fleet"] for node in self.n]
                if all(f["state"] == "unreachable" for f in fleets):
                    break
                if time.monotonic() > deadline:
                    self.fail("the store stopped 5 s ago; the nodes' "
                              "fleet status:\n%s"
                              % "\n".join(json.dumps(f) for f in fleets))
                time.sleep(0.1)
        finally:
            os.kill(self.redis.proc.pid, signal.SIGCONT)

        started = time.monotonic()
        for node, (warned, noticed) in zip(self.n, logged):
            wait_for(lambda: self.status(node)["fleet"]["state"] == "ok"
                     and node.error_log().count("SSE00071") > noticed,
                     timeout=20, interval=0.1,
                     what="node %d to rejoin" % self.node_no(node))
            self.assertEqual(node.error_log().count("SSE00070"), warned + 1,
                             "node %d" % self.node_no(node))
        report("every node back in the fleet %.1f s after the store "
               "answered" % (time.monotonic() - started))

if __name__ == "__main__":
    unittest.main(verbosity=2)
