# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""One page in headless Chromium opens 20 EventSources to one origin.

Over HTTP/2 (TLS, ALPN h2, the shipped HTTP/2 settings of
conf/examples/http2.conf) all 20 stream at once on the page's one
connection.  Over HTTP/1.1 exactly 6 do: Chromium opens at most 6
connections per origin, and each EventSource keeps one, so the other 14
wait, unopened, for as long as those 6 stream.

mod_http2 runs 6 streams of a new connection at once and doubles that
each time a stream on it completes (at most every 100 ms), up to
H2MaxWorkers or H2MaxSessionStreams (docs/architecture.md, "HTTP/2
streams").  A page that loaded a few resources over the connection has
raised it; this page fetches three rounds of resources (7, 13, 25)
before its EventSources.  The third test opens the EventSources without them and prints
how many stream (6 or 12, by when the page's own load completed).

Run like test_browser.py:

    cd test/browser && npm ci
    top_builddir=. top_srcdir=. HTTPD=/usr/sbin/apache2 \\
        python3 test/browser/test_many_streams.py [TestClass[.test_name] ...]

Exit status 77 (skip) when node, Chromium or playwright-core is missing.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_browser  # noqa: E402
from test_browser import BENIGN, SSL_BENIGN, BrowserTest, harness  # noqa: E402
from harness import Httpd, Origin  # noqa: E402
from h2client import H2_FIRST_LIMIT, shipped_settings  # noqa: E402

STREAMS = 20
# Chromium's connections per origin (and proxy) over HTTP/1.1
CHROMIUM_PER_ORIGIN = 6
# events every streaming EventSource must get (the origin sends 4 a
# second)
EVENTS = 3

CONF = """
{h2}
<Location /health>
    ProxyPass {o1}/health
</Location>
<Location /events>
    ProxyPass {o1}/events
    SSEProxy On
</Location>
"""

# window.__rec.per[i]: events EventSource i received; opened: how many
# fired open.  First `warm` rounds of resources fetched at once, 250 ms
# apart, each one more than the limit it should double (h2client.py's
# warm_up()).
PAGE = """
(async () => {
  const rec = window.__rec = { events: [], per: {}, opened: 0 };
  for (let i = 0; i < %(warm)d; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const n = (6 << i) + 1;
    await Promise.all([...Array(n).keys()].map(async (j) =>
      (await fetch('/health?w=' + i + '-' + j, { cache: 'no-store' })).text()));
  }
  for (let i = 0; i < %(streams)d; i++) {
    rec.per[i] = 0;
    const es = new EventSource('/events?rate=4&m=' + i);
    es.onopen = () => { rec.opened++; };
    es.onmessage = () => { rec.per[i]++; };
  }
})()
"""

# once `n` EventSources have EVENTS events, 3 s more: the others had
# their chance
SETTLED = """
(() => {
  const r = window.__rec;
  const n = Object.values(r.per).filter((x) => x >= %(events)d).length;
  if (n >= %(n)d && !r.since) r.since = Date.now();
  return !!r.since && Date.now() - r.since > 3000;
})()
"""


class ManyStreamsBase(BrowserTest):
    tls = True
    benign = BENIGN + SSL_BENIGN

    def setUp(self):
        # BrowserTest's, with the shipped HTTP/2 settings and TLS or not
        self.work = harness.workdir()
        self.o = []
        self.httpd = None
        self.addCleanup(self.stop_processes)
        self.o.append(Origin(self.work, "origin1"))
        conf = CONF.format(h2=shipped_settings(harness.TOP_SRCDIR),
                           o1=self.o[0].url)
        self.httpd = Httpd(self.work, conf, servers=1, threads=32,
                           loglevel="warn", tls=self.tls)
        self.httpd.start()

    def page(self, warm, until_streaming):
        res = self.driver(
            "script", url=self.httpd.url + "/health",
            script=PAGE % {"warm": warm, "streams": STREAMS},
            until=SETTLED % {"events": EVENTS, "n": until_streaming},
            until_ms=40000).result()
        self.assertEqual(res["status"], 200)
        self.assertTrue(res["done"], res)
        per = [res["per"][str(i)] for i in range(STREAMS)]
        streams = [p["protocol"] for p in res["protocols"]
                   if "/events?" in p["url"]]
        return per, res["opened"], streams


class H2ManyStreamsTest(ManyStreamsBase):
    tls = True

    def test_twenty_event_sources_stream_at_once(self):
        per, opened, protocols = self.page(warm=3, until_streaming=STREAMS)
        self.assertEqual(opened, STREAMS)
        self.assertTrue(all(n >= EVENTS for n in per), per)
        self.assertEqual(protocols, ["h2"] * STREAMS)
        print("\nHTTP/2: %d of %d EventSources streaming, events %s"
              % (sum(1 for n in per if n >= EVENTS), STREAMS, per),
              file=sys.stderr)

    def test_without_warm_up_six_or_more(self):
        per, opened, protocols = self.page(warm=0,
                                           until_streaming=H2_FIRST_LIMIT)
        streaming = sum(1 for n in per if n >= EVENTS)
        self.assertGreaterEqual(streaming, H2_FIRST_LIMIT)
        self.assertTrue(set(protocols) <= {"h2"}, protocols)
        print("\nFIGURES HTTP/2 without warm-up: %d of %d EventSources "
              "streaming (mod_http2 runs 6 of a new connection's streams, "
              "more once requests completed on it)" % (streaming, STREAMS),
              file=sys.stderr)


class H1ManyStreamsTest(ManyStreamsBase):
    tls = False

    def test_six_event_sources_stream_at_once(self):
        per, opened, protocols = self.page(
            warm=3, until_streaming=CHROMIUM_PER_ORIGIN)
        streaming = [n for n in per if n >= EVENTS]
        self.assertEqual(len(streaming), CHROMIUM_PER_ORIGIN, per)
        self.assertEqual(per.count(0), STREAMS - CHROMIUM_PER_ORIGIN, per)
        self.assertEqual(opened, CHROMIUM_PER_ORIGIN)
        self.assertEqual(set(protocols), {"http/1.1"})
        print("\nHTTP/1.1: %d of %d EventSources streaming, events %s"
              % (len(streaming), STREAMS, per), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(test_browser.main())
