# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Seamless failover seen from real EventSources in headless Chromium:
the member serving a stream is killed (SIGKILL), and with SSEProxyResume
On the page sees no error event, no reconnection and no gap in the ids;
the events simply come from the other member.  The same holds for
EventSources that share one backend stream (SSEProxyShare): the resume
of the request that reads the backend carries all of them."""
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_browser  # noqa: E402
from test_browser import BrowserTest, assert_consecutive  # noqa: E402

FEED = """
<Proxy balancer://feed>
    BalancerMember {o1}
    BalancerMember {o2}
</Proxy>
<Location /events>
    ProxyPass balancer://feed/events
    SSEProxy On
    SSEProxyHeartbeat 1
    SSEProxyResume On 10
%s</Location>
<Location /sse-status>
    SetHandler sse-proxy-status
    Require local
</Location>
"""


class FailoverTest(BrowserTest):
    origins = 2

    def streams_asked(self, origin):
        return [r for r in origin.requests() if r["path"].startswith("/events")]

    def kill_serving_member(self):
        """SIGKILLs the one origin asked for the stream; returns it."""
        serving = [o for o in self.o if self.streams_asked(o)]
        self.assertEqual(len(serving), 1)
        killed = serving[0]
        os.kill(killed.proc.pid, signal.SIGKILL)
        killed.proc.wait(10)
        return killed

    def assert_seamless(self, rec, killed, after_kill):
        """One page's record: a single open and no error, still OPEN, its
        ids consecutive across the kill, the first events from the killed
        member and more than after_kill from the other; returns the ids."""
        after_mark = [l for l in rec["log"] if l["n"] > rec["mark_n"]]
        self.assertNotIn("error", [l["kind"] for l in after_mark], rec["log"])
        self.assertEqual([l["kind"] for l in rec["log"]
                          if l["kind"] in ("open", "error")], ["open"])
        self.assertEqual(rec["readyState"], 1)
        ids = [int(e["id"]) for e in rec["events"]]
        assert_consecutive(self, ids)
        origins = [e["origin"] for e in rec["events"]]
        self.assertEqual(origins[0], killed.name)
        self.assertNotEqual(origins[-1], killed.name)
        self.assertGreater(len([o for o in origins if o != killed.name]),
                           after_kill)
        return ids


class ResumeBrowserTest(FailoverTest):
    conf = FEED % ""

    def test_member_killed_under_an_eventsource(self):
        d = self.driver("outage", url=self.httpd.url + "/sse-status",
                        stream="/events?rate=5", before=5, record_ms=5000,
                        deadline_ms=60000)
        d.expect("READY")
        killed = self.kill_serving_member()
        d.send("go")
        res = d.result(timeout=90)
        # the record lasts 5 s at 5 events/s
        ids = self.assert_seamless(res, killed, 10)
        self.assertEqual(ids[0], 1)


class SharedResumeBrowserTest(FailoverTest):
    """Five EventSources (five pages of one browser: under Chromium's six
    connections per origin over HTTP/1.1) on one shared stream, in one
    httpd child."""
    conf = FEED % "    SSEProxyShare On 2\n"
    pages = 5

    def test_member_killed_under_shared_eventsources(self):
        d = self.driver("outage", url=self.httpd.url + "/sse-status",
                        stream="/events?rate=10", before=5, record_ms=5000,
                        pages=self.pages, deadline_ms=60000)
        d.expect("READY")
        self.assertEqual(len(self.streams_asked(self.o[0]))
                         + len(self.streams_asked(self.o[1])), 1,
                         "one backend stream for every page")
        killed = self.kill_serving_member()
        survivor = [o for o in self.o if o is not killed][0]
        d.send("go")
        res = d.result(timeout=90)
        self.assertEqual(len(res["pages"]), self.pages)
        last_from_killed = set()
        for rec in res["pages"]:
            # the record lasts 5 s at 10 events/s
            ids = self.assert_seamless(rec, killed, 25)
            last_from_killed.add(max(
                int(e["id"]) for e in rec["events"]
                if e["origin"] == killed.name))
        self.assertEqual(res["pages"][0]["events"][0]["id"], "1")
        # one resume for all: a single request to the survivor, from the
        # last event every page had from the killed member
        self.assertEqual(len(last_from_killed), 1, last_from_killed)
        asked = self.streams_asked(survivor)
        self.assertEqual([r.get("last_event_id") for r in asked],
                         [str(last_from_killed.pop())], asked)


if __name__ == "__main__":
    sys.exit(test_browser.main())
