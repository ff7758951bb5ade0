# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Seamless failover seen from a real EventSource in headless Chromium:
the member serving it is killed (SIGKILL), and with SSEProxyResume On the
page sees no error event, no reconnection and no gap in the ids; the
events simply come from the other member."""
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_browser  # noqa: E402
from test_browser import BrowserTest, assert_consecutive  # noqa: E402


class ResumeBrowserTest(BrowserTest):
    origins = 2
    conf = """
<Proxy balancer://feed>
    BalancerMember {o1}
    BalancerMember {o2}
</Proxy>
<Location /events>
    ProxyPass balancer://feed/events
    SSEProxy On
    SSEProxyHeartbeat 1
    SSEProxyResume On 10
</Location>
<Location /sse-status>
    SetHandler sse-proxy-status
    Require local
</Location>
"""

    def test_member_killed_under_an_eventsource(self):
        d = self.driver("outage", url=self.httpd.url + "/sse-status",
                        stream="/events?rate=5", before=5, record_ms=5000,
                        deadline_ms=60000)
        d.expect("READY")
        serving = [o for o in self.o
                   if any(r["path"].startswith("/events")
                          for r in o.requests())]
        self.assertEqual(len(serving), 1)
        killed = serving[0]
        os.kill(killed.proc.pid, signal.SIGKILL)
        killed.proc.wait(10)
        d.send("go")
        res = d.result(timeout=90)

        after_mark = [l for l in res["log"] if l["n"] > res["mark_n"]]
        self.assertNotIn("error", [l["kind"] for l in after_mark], res["log"])
        self.assertEqual([l["kind"] for l in res["log"]
                          if l["kind"] in ("open", "error")], ["open"])
        self.assertEqual(res["readyState"], 1)
        ids = [int(e["id"]) for e in res["events"]]
        assert_consecutive(self, ids)
        self.assertEqual(ids[0], 1)
        origins = [e["origin"] for e in res["events"]]
        # the first events from the killed member, the last ones (the
        # record lasts 5 s at 5 events/s) from the other
        self.assertEqual(origins[0], killed.name)
        self.assertNotEqual(origins[-1], killed.name)
        self.assertGreater(len([o for o in origins if o != killed.name]), 10)


if __name__ == "__main__":
    sys.exit(test_browser.main())
