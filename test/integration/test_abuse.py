# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Member health comes from evidence a client cannot forge: answers a
client can provoke (404, 500) are relayed and never take a member out,
counted statuses need a streak and stay within a share of the balancer,
connection failures still count at once, member state is keyed by whole
names, and relayed redirects and cookies are rewritten as mod_proxy_http
does."""
import json
import os
import re
import socket
import sys
import threading
import unittest
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawClient, data_events  # noqa: E402
from test_policy import BENIGN, SSE, decisions, retry_of  # noqa: E402

# what these tests provoke on purpose: a counted status below the
# threshold (info) and a member the share cap keeps in (warning)
ALLOWED = list(BENIGN) + [r"SSE0005[589]"]

STATUS = """
<Location /status>
    SetHandler sse-proxy-status
</Location>
"""


def origin_of(body):
    """The origin names found in a stream's events."""
    return {m for e in data_events(body)
            for m in re.findall(r'"origin":"([^"]*)"', e["data"])}


class AbuseBase(harness.ProxyTestCase):
    """The module's defaults for SSEProxyMemberFailure* unless conf says
    otherwise, and a status page."""
    common_conf = STATUS
    allowed = ALLOWED
    threads = 16

    def get(self, path, headers=None, timeout=10):
        c = RawClient(self.httpd.port, path, headers=headers, timeout=timeout)
        try:
            body = c.read_to_end(timeout=timeout)
        finally:
            c.close()
        return c.resp, body

    def members(self, balancer):
        c = RawClient(self.httpd.port, "/status?format=json")
        try:
            body = c.read_to_end()
        finally:
            c.close()
        self.assertEqual(c.resp.status, 200)
        doc = json.loads(body.decode())
        return [m for m in doc["members"] if m["balancer"] == balancer]

    def member(self, balancer, name):
        found = [m for m in self.members(balancer) if m["member"] == name]
        self.assertEqual(len(found), 1, "%s in %s" % (name, balancer))
        return found[0]

    def out_count(self, balancer):
        return sum(1 for m in self.members(balancer) if m["usable"] is False)

    def assert_policy_retry(self, resp, body):
        """The policy's answer for an EventSource: 200, text/event-stream,
        a retry: line."""
        self.assertEqual(resp.status, 200, body)
        self.assertTrue(resp.headers.get("content-type", "")
                        .startswith("text/event-stream"), resp.headers)
        self.assertIsNotNone(retry_of(body), body)



class ProvokedAnswersTest(AbuseBase):
    """1. A thousand 404s and a thousand 500s that any client can provoke
    are relayed as the backend gave them and take no member out."""
    origins = 2
    servers = 2
    threads = 16
    N = 1000
    conf = """
# a listening socket per child, so that both children serve requests
ListenCoresBucketsRatio 1
SSEProxyJitter none
<Proxy balancer://b>
    BalancerMember {o1}
    BalancerMember {o2}
    ProxySet forcerecovery=Off
</Proxy>
<Location /live>
    ProxyPass balancer://b/events
    SSEProxy On
</Location>
"""

    def flood(self, paths):
        def one(path):
            resp, body = self.get(path, headers=SSE)
            return path, resp.status, body
        with ThreadPoolExecutor(6) as pool:
            return list(pool.map(one, paths))

    def test_provoked_answers_are_relayed(self):
        missing = ["/live/nothing-here-%d" % i for i in range(self.N)]
        errors = ["/live?status=500&n=%d" % i for i in range(self.N)]
        paths = [p for pair in zip(missing, errors) for p in pair]
        results = self.flood(paths)
        wrong = [(p, s, b[:80]) for p, s, b in results
                 if (s, b) != ((404, b"not found\n") if "nothing-here" in p
                               else (500, b"status 500\n"))]
        self.assertEqual(wrong, [], "%d of %d answers are not the backend's"
                         % (len(wrong), len(results)))
        self.assertEqual(decisions(self.httpd), [])

        # they really reached the origins, as what the route made of them
        paths_seen, statuses = [], []
        for o in self.o:
            reqs = [f["path"] for f in o.lines("REQ")]
            resps = [f["status"] for f in o.lines("RESP")]
            self.assertGreater(resps.count("404"), 0, o.name + ": no 404")
            self.assertGreater(resps.count("500"), 0, o.name + ": no 500")
            paths_seen += reqs
            statuses += resps
        self.assertEqual(sorted(p for p in paths_seen if "nothing-here" in p),
                         sorted("/events/nothing-here-%d" % i
                                for i in range(self.N)))
        self.assertEqual(statuses.count("404"), self.N)
        self.assertEqual(statuses.count("500"), self.N)

        for m in self.members("b"):
            self.assertIs(m["usable"], True, m)
            self.assertEqual(m["consecutive_failures"], 0, m)
            self.assertEqual(m["status_streak"], 0, m)
        self.assertEqual(len(self.members("b")), 2)

        # an EventSource still gets its streams, from both members
        seen = set()
        for _ in range(4):
            resp, body = self.get("/live?count=3", headers=SSE)
            self.assertEqual(resp.status, 200)
            self.assertEqual([e["id"] for e in data_events(body)],
                             ["1", "2", "3"])
            names = origin_of(body)
            self.assertEqual(len(names), 1, names)
            seen |= names
            if seen == {"origin1", "origin2"}:
                break
        self.assertEqual(seen, {"origin1", "origin2"})


class RefusedMemberTest(AbuseBase):
    """2. A member that refuses connections is backed off at once, and the
    request that found out is served by the healthy member."""
    origins = 1
    conf = """
SSEProxyJitter none
<Proxy balancer://b>
    BalancerMember {dead_url}
    BalancerMember {o1}
    ProxySet forcerecovery=Off
</Proxy>
<Location /live>
    ProxyPass balancer://b/events
    SSEProxy On
</Location>
"""

    @classmethod
    def conf_names(cls):
        # bound but not listening: connects are refused, and no other
        # process can take the port while the test runs
        cls.dead = socket.socket()
        cls.dead.bind(("127.0.0.1", 0))
        cls.dead_url = "http://127.0.0.1:%d" % cls.dead.getsockname()[1]
        return {"dead_url": cls.dead_url}

    @classmethod
    def tearDownClass(cls):
        cls.dead.close()
        super().tearDownClass()

    def test_refused_member_is_backed_off_at_once(self):
        for _ in range(4):
            resp, body = self.get("/live?count=3", headers=SSE)
            got = decisions(self.httpd, self.dead_url)
            # whichever request hit the dead member, it got its stream
            self.assertEqual(resp.status, 200)
            self.assertEqual([e["id"] for e in data_events(body)],
                             ["1", "2", "3"])
            self.assertEqual(origin_of(body), {"origin1"})
            if got:
                break
        self.assertEqual(len(got), 1, got)
        _, verb, fields = got[0]
        self.assertEqual(verb, "backoff")
        self.assertEqual(fields["attempt"], "1")
        self.assertEqual(fields["class"], "NETWORK_ERROR")
        self.assertEqual(fields["balancer"], "b")
        dead = self.member("b", self.dead_url)
        self.assertIs(dead["usable"], False)
        self.assertEqual(dead["consecutive_failures"], 1)
        alive = self.member("b", self.o[0].url)
        self.assertIs(alive["usable"], True)
        self.assertEqual(alive["consecutive_failures"], 0)


class ShareCapTest(AbuseBase):
    """3. Counted statuses take out no more than SSEProxyMemberFailureShare
    of a balancer (40% of 5 members: 2); connection failures are exempt."""
    origins = 5
    servers = 2
    threads = 16
    conf = """
ListenCoresBucketsRatio 1
SSEProxyJitter none
SSEProxyMemberFailureShare 40
# long windows: nothing comes back while the test looks
SSEProxyStrategy PROXY_ERROR initial=60s max=5m factor=2 attempts=4
SSEProxyStrategy SERVER_ERROR initial=60s max=5m factor=2 attempts=4
SSEProxyStrategy NETWORK_ERROR initial=60s max=5m factor=2 attempts=4
<Proxy balancer://five>
    BalancerMember {o1}
    BalancerMember {o2}
    BalancerMember {o3}
    BalancerMember {o4}
    BalancerMember {o5}
    ProxySet forcerecovery=Off
</Proxy>
<Location /live>
    ProxyPass balancer://five/events
    SSEProxy On
</Location>
"""

    def test_share_cap(self):
        self.assertEqual(len(self.members("five")), 5)
        seen_out = []   # members out, each time the table was looked at
        done = threading.Event()
        poll_errors = []

        def poll():
            try:
                while not done.is_set():
                    seen_out.append(self.out_count("five"))
                    done.wait(0.02)
            except Exception as e:   # reported by the main thread
                poll_errors.append(e)

        def one(path):
            return self.get(path, headers=SSE)

        # 20 rounds of 5 paths, 4 at a time over two children; the member
        # table is looked at all along and after every round
        answers = []
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        try:
            with ThreadPoolExecutor(4) as pool:
                for _ in range(20):
                    answers += pool.map(one, ["/live?status=503&p=%d" % (k + 1)
                                              for k in range(5)])
                    seen_out.append(self.out_count("five"))
        finally:
            done.set()
            poller.join(10)
        self.assertEqual(poll_errors, [])
        for resp, body in answers:
            self.assert_policy_retry(resp, body)
        members = self.members("five")
        out = [m for m in members if m["usable"] is False]
        self.assertLessEqual(max(seen_out), 2, "more than 2 of 5 out at once")
        self.assertEqual(len(out), 2, members)
        self.assertIn("SSE00059", self.httpd.error_log())
        got = decisions(self.httpd)
        self.assertEqual(sorted(f["member"] for _, _, f in got),
                         sorted(m["member"] for m in out))
        self.assertEqual({(f["class"], f["attempt"]) for _, _, f in got},
                         {("PROXY_ERROR", "1")})
        for m in members:
            if m["usable"]:
                self.assertEqual(m["consecutive_failures"], 0, m)

        # control: a member that refuses connections goes out although the
        # cap is reached
        victim = [o for o in self.o
                  if o.url not in {m["member"] for m in out}][0]
        victim.stop()
        for _ in range(10):
            resp, body = self.get("/live?count=1", headers=SSE)
            self.assertEqual(resp.status, 200)
            self.assertEqual(len(data_events(body)), 1, body)
            self.assertNotIn(victim.name, origin_of(body))
            if decisions(self.httpd, victim.url):
                break
        got = decisions(self.httpd, victim.url)
        self.assertEqual(len(got), 1, got)
        self.assertIn(got[0][2]["class"], ("NETWORK_ERROR", "PROXY_ERROR"))
        self.assertIs(self.member("five", victim.url)["usable"], False)
        self.assertEqual(self.out_count("five"), 3)


class ThresholdTest(AbuseBase):
    """4. A counted status backs a member off only at the
    SSEProxyMemberFailureThreshold-th answer in a row; any other answer
    ends the streak.  One member per balancer, so that there is no doubt
    which member answered; the same origin behind two balancers is two
    members with a state each."""
    origins = 1
    conf = """
# SSE00058 (a counted status below the threshold) is logged at info
LogLevel warn sse_proxy:info
SSEProxyJitter none
SSEProxyMemberFailureThreshold 3
<Proxy balancer://reset>
    BalancerMember {o1}
    ProxySet forcerecovery=Off
</Proxy>
<Proxy balancer://count>
    BalancerMember {o1}
    ProxySet forcerecovery=Off
</Proxy>
<Location /reset>
    ProxyPass balancer://reset/events
    SSEProxy On
</Location>
<Location /count>
    ProxyPass balancer://count/events
    SSEProxy On
</Location>
"""

    def setUp(self):
        self.o[0].control(mode="status", status=503)

    def tearDown(self):
        self.o[0].control(mode="normal")

    def counted(self, route, n, headers=SSE):
        """n requests that the origin answers 503; each reaches it."""
        for _ in range(n):
            before = len(self.o[0].requests())
            resp, body = self.get(route, headers=headers)
            self.assertEqual(len(self.o[0].requests()), before + 1,
                             "the member was not asked")
            if headers is SSE:
                self.assert_policy_retry(resp, body)
            else:
                self.assertEqual(resp.status, 503)
                self.assertRegex(resp.headers.get("retry-after", ""), r"^\d+$")

    def state(self, balancer):
        return self.member(balancer, self.o[0].url)

    def test_other_answer_ends_the_streak(self):
        self.counted("/reset", 1)
        self.counted("/reset", 1, headers={"Accept": "*/*"})
        m = self.state("reset")
        self.assertEqual((m["usable"], m["status_streak"]), (True, 2), m)
        # a 404 is the member working: the streak starts over
        resp, body = self.get("/reset/nothing-here", headers=SSE)
        self.assertEqual((resp.status, body), (404, b"not found\n"))
        m = self.state("reset")
        self.assertEqual((m["usable"], m["status_streak"]), (True, 0), m)
        self.counted("/reset", 2)
        m = self.state("reset")
        self.assertEqual((m["usable"], m["status_streak"],
                          m["consecutive_failures"]), (True, 2, 0), m)
        self.assertEqual([d for d in decisions(self.httpd)
                          if d[2]["balancer"] == "reset"], [])
        self.assertGreaterEqual(
            len(re.findall(r"SSE00058: status 503 from member=\S+ "
                           r"balancer=reset ", self.httpd.error_log())), 4)

    def test_threshold(self):
        self.counted("/count", 2)
        self.assertEqual([d for d in decisions(self.httpd)
                          if d[2]["balancer"] == "count"], [])
        m = self.state("count")
        self.assertEqual((m["usable"], m["status_streak"]), (True, 2), m)
        self.counted("/count", 1)
        got = [d for d in decisions(self.httpd) if d[2]["balancer"] == "count"]
        self.assertEqual(len(got), 1, got)
        self.assertEqual((got[0][1], got[0][2]["attempt"], got[0][2]["class"],
                          got[0][2]["member"]),
                         ("backoff", "1", "PROXY_ERROR", self.o[0].url))
        m = self.state("count")
        self.assertEqual((m["usable"], m["consecutive_failures"],
                          m["status_streak"]), (False, 1, 0), m)
        # the member is out: the origin is not asked, the client still
        # gets the policy's answer
        before = len(self.o[0].requests())
        self.assert_policy_retry(*self.get("/count", headers=SSE))
        self.assertEqual(len(self.o[0].requests()), before)


def padded_member(url, length):
    """url + "/aaa..." of exactly length characters."""
    pad = length - len(url) - 1
    assert pad > 0
    return url + "/" + "a" * pad


class LongNameTest(AbuseBase):
    """5. Member state is keyed by whole names, up to httpd's 383
    characters: names that share their first 159 characters are not one
    member, and no member shows up twice."""
    origins = 3
    servers = 2
    LENGTHS = (159, 160, 383)
    conf = """
ListenCoresBucketsRatio 1
SSEProxyJitter none
<Proxy balancer://long>
    BalancerMember {m1}
    BalancerMember {m2}
    BalancerMember {m3}
    ProxySet forcerecovery=Off
</Proxy>
<Location /long>
    ProxyPass balancer://long/events
    SSEProxy On
</Location>
"""

    @classmethod
    def conf_names(cls):
        cls.names = [padded_member(o.url, n)
                     for o, n in zip(cls.o, cls.LENGTHS)]
        return {"m%d" % (i + 1): n for i, n in enumerate(cls.names)}

    def test_long_names(self):
        self.assertEqual([len(n) for n in self.names], list(self.LENGTHS))
        seen = set()
        for _ in range(9):
            resp, body = self.get("/long?count=2", headers=SSE)
            self.assertEqual(resp.status, 200)
            self.assertEqual(len(data_events(body)), 2)
            seen |= origin_of(body)
            if len(seen) == 3:
                break
        self.assertEqual(seen, {"origin1", "origin2", "origin3"})
        # the members were asked for member path + /events
        for o, name in zip(self.o, self.names):
            path = name[len(o.url):] + "/events"
            self.assertIn(path + "?count=2",
                          [r["path"] for r in o.requests()])

        # the 160-character member fails: its connects are refused
        victim, victim_name = self.o[1], self.names[1]
        victim.stop()
        for _ in range(6):
            resp, body = self.get("/long?count=1", headers=SSE)
            self.assertEqual(resp.status, 200)
            self.assertEqual(len(data_events(body)), 1)
            if decisions(self.httpd, victim_name):
                break
        self.assertEqual(len(decisions(self.httpd, victim_name)), 1)

        members = self.members("long")
        self.assertEqual(sorted(m["member"] for m in members),
                         sorted(self.names))
        by_name = {m["member"]: m for m in members}
        self.assertGreaterEqual(by_name[victim_name]["consecutive_failures"], 1)
        self.assertIs(by_name[victim_name]["usable"], False)
        for name in self.names:
            if name != victim_name:
                self.assertEqual(by_name[name]["consecutive_failures"], 0)
                self.assertIs(by_name[name]["usable"], True)
        # no cut-off copy of any name, in any balancer
        c = RawClient(self.httpd.port, "/status?format=json")
        doc = json.loads(c.read_to_end().decode())
        c.close()
        for o, name in zip(self.o, self.names):
            self.assertEqual([(m["balancer"], m["member"])
                              for m in doc["members"]
                              if m["member"].startswith(o.url + "/")],
                             [("long", name)])


class RewriteTest(AbuseBase):
    """6. Redirects and cookies relayed on an SSE route are rewritten by
    ProxyPassReverse and ProxyPassReverseCookie*, exactly as stock
    mod_proxy_http rewrites them on an identical route."""
    origins = 1
    conf = """
<Location /live>
    ProxyPass {o1}/events
    ProxyPassReverse {o1}/events
    ProxyPassReverseCookieDomain internal.example public.example
    ProxyPassReverseCookiePath /events /live
    SSEProxy On
</Location>
<Location /stock>
    ProxyPass {o1}/events
    ProxyPassReverse {o1}/events
    ProxyPassReverseCookieDomain internal.example public.example
    ProxyPassReverseCookiePath /events /stock
</Location>
"""

    def redirect(self, route):
        query = "status=302&location=%s&set_cookie=%s" % (
            quote(self.o[0].url + "/events/next", safe=""),
            quote("s=1; Domain=internal.example; Path=/events", safe=""))
        resp, body = self.get(route + "?" + query, headers=SSE)
        self.assertEqual((resp.status, body), (302, b"status 302\n"))
        return resp.headers.get("location"), resp.headers.get("set-cookie")

    def test_location_and_cookie_rewritten(self):
        stock_loc, stock_cookie = self.redirect("/stock")
        loc, cookie = self.redirect("/live")
        # what mod_proxy_http makes of it, for the stock route's prefix
        self.assertEqual(stock_loc, "%s/stock/next" % self.httpd.url)
        self.assertEqual(stock_cookie,
                         "s=1; Domain=public.example; Path=/stock")
        # the SSE route gives the same, for its prefix
        self.assertEqual(loc, stock_loc.replace("/stock", "/live"))
        self.assertEqual(cookie, stock_cookie.replace("/stock", "/live"))
        self.assertEqual(loc, "%s/live/next" % self.httpd.url)
        self.assertEqual(cookie, "s=1; Domain=public.example; Path=/live")
        # nothing of the origin's address is left
        for value in (loc, cookie, stock_loc, stock_cookie):
            self.assertNotIn("127.0.0.1:%d" % self.o[0].port, value)
            self.assertNotIn("internal.example", value)
        for value in (loc, stock_loc):
            self.assertEqual(urlsplit(value).port, self.httpd.port)


@unittest.skipIf(harness.ASYNC != "on",
                 "streams that keep their thread wait for a connection")
class BusyMemberTest(AbuseBase):
    """A member whose max= connections are all held by streams is busy,
    not sick: a client that fills it is told to come back later, and the
    member stays in for everyone else."""
    conf = """
<Proxy balancer://busy>
    BalancerMember {o1} max=2
    ProxySet forcerecovery=Off
</Proxy>
<Location /live>
    ProxyPass balancer://busy/events
    SSEProxy On
</Location>
"""

    def test_full_member_stays_in(self):
        held = [RawClient(self.httpd.port, "/live?rate=5", headers=SSE)
                for _ in range(2)]
        try:
            for c in held:
                c.read_until(lambda b: b"id: 1" in b)
            for _ in range(3):
                resp, body = self.get("/live?count=1", headers=SSE)
                self.assert_policy_retry(resp, body)
            self.assertIn("SSE00055", self.httpd.error_log())
            self.assertIs(self.member("busy", self.o[0].url)["usable"], True)
            self.assertEqual(decisions(self.httpd), [])
        finally:
            for c in held:
                c.close()
        # once a stream is gone, its connection serves a new one
        harness.wait_for(
            lambda: origin_of(self.get("/live?count=1", headers=SSE)[1]),
            timeout=10, interval=0.2, what="a stream after the others left")


if __name__ == "__main__":
    unittest.main(verbosity=2)
