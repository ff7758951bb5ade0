# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""A chat page in headless Chromium reads an LLM token stream through
httpd + mod_sse_proxy over HTTP/2 (TLS, ALPN h2).

The page (demo/www/chat.html) POSTs an OpenAI-style chat completion
request with fetch() and reads the text/event-stream answer from a
ReadableStream, token by token; its Stop button aborts the request with
an AbortController.  The origin is sse-origin's POST
/v1/chat/completions.  Two things are checked: the tokens reach the page
one by one as the origin makes them, over h2; and Stop lets the origin go
at once (its CLOSE line, by=peer, follows the abort within a few seconds,
having made only a few tokens more).  The second test prints what it
measured (a FIGURES line): the tokens the origin made after the abort,
and the time from the abort to the origin's CLOSE.

Run like test_browser.py:

    cd test/browser && npm ci
    top_builddir=. top_srcdir=. HTTPD=/usr/sbin/apache2 \\
        python3 test/browser/test_chat_h2.py [TestClass[.test_name] ...]

Exit status 77 (skip) when node, Chromium or playwright-core is missing.
"""
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_browser  # noqa: E402
from test_browser import BENIGN, DEMO_WWW, BrowserTest, harness  # noqa: E402
from harness import Httpd, Origin, wait_for  # noqa: E402

CONF = """
TypesConfig /dev/null
AddType text/html .html
AddType text/javascript .js
AddType text/css .css
Alias /chat "{www}"
<Directory "{www}">
    Require all granted
</Directory>
<Location /v1>
    ProxyPass {o1}/v1
    SSEProxy On
</Location>
"""

ENDPOINT = "/v1/chat/completions"

# How soon after the abort the origin must have been let go, and how
# many tokens more than the page saw it may have made by then (the
# precise figures are printed, not asserted).
CLOSE_WITHIN_MS = 5000
EXTRA_TOKENS = 10


def chat_url(base, query):
    endpoint = "%s?%s" % (ENDPOINT, query)
    return "%s/chat/chat.html?endpoint=%s" % (
        base, urllib.parse.quote(endpoint, safe=""))


class ChatH2Test(BrowserTest):
    """The chat page over TLS + HTTP/2, the token stream through the
    module."""
    extra_modules = [("alias_module", "mod_alias.so"),
                     ("mime_module", "mod_mime.so")]
    benign = BENIGN
    tls = True    # False: the same over HTTP/1.1, for comparisons

    def setUp(self):
        # BrowserTest's, with a TLS httpd
        self.work = harness.workdir()
        self.o = []
        self.httpd = None
        self.addCleanup(self.stop_processes)
        self.o.append(Origin(self.work, "origin1"))
        self.httpd = Httpd(self.work, CONF.format(o1=self.o[0].url, www=DEMO_WWW),
                           servers=1, threads=32, loglevel="warn sse_proxy:info",
                           extra_modules=self.extra_modules, tls=self.tls)
        self.httpd.start()

    def llm_request(self, marker):
        """The origin's REQ and LLM lines of the request whose target
        contains marker, once it has come."""
        def find():
            reqs = [q for q in self.o[0].requests()
                    if q["method"] == "POST" and marker in q["path"]]
            return reqs[-1] if reqs else None
        req = wait_for(find, timeout=10, what="the origin to get the POST")
        llm = [l for l in self.o[0].lines("LLM") if l["conn"] == req["conn"]]
        return req, llm[-1] if llm else None

    def closes_of(self, conn):
        return [c for c in self.o[0].closes() if c["conn"] == conn]

    def access_lines(self, marker):
        return [l for l in self.httpd.access_log() if marker in l]

    def test_tokens_arrive_one_by_one(self):
        """1. 20 tokens, one every 100 ms after 300 ms of thinking: they
        reach the page one by one, spread over time, then [DONE]; the
        request went over h2."""
        query = "think_ms=300&tokens=20&token_rate=10"
        res = self.driver("chat", url=chat_url(self.httpd.url, query),
                          message="Stream me twenty tokens, please.",
                          wait_ms=30000, resource_ms=5000,
                          screenshot=self.output("chat-h2.png")).result()
        self.assertEqual(res["status"], 200)
        self.assertEqual(res["title"], "mod_sse_proxy chat demo")
        self.assertEqual(res["endpoint"], "%s?%s" % (ENDPOINT, query))
        self.assertTrue(res["ended"], res["chat"])
        chat = res["chat"]
        self.assertIsNone(chat["error"])
        self.assertEqual(chat["status"], 200)
        self.assertFalse(chat["aborted"])
        self.assertTrue(chat["done"], "no [DONE]")

        tokens = chat["tokens"]
        self.assertEqual([t["text"] for t in tokens],
                         ["tok%d " % k for k in range(1, 21)])
        times = [t["t"] for t in tokens]
        self.assertEqual(times, sorted(times))
        spread = times[-1] - times[0]
        distinct = len(set(times))
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertGreaterEqual(spread, 1000, "all at once: %s" % times)
        self.assertGreaterEqual(distinct, 10, "in few reads: %s" % times)
        # the first token after the origin's thinking time, not before
        self.assertGreaterEqual(times[0], 250, times)
        # the whole answer shows in the page
        self.assertEqual(res["transcript"][-1]["role"], "assistant")
        self.assertIn("tok1 tok2 ", res["transcript"][-1]["text"])
        self.assertIn("tok20 ", res["transcript"][-1]["text"])

        # h2 as the page (resource timing) and the network stack saw it
        self.assertEqual(chat["protocol"], "h2", res["resources"])
        self.assertEqual([p["protocol"] for p in res["protocols"]
                          if ENDPOINT in p["url"]], ["h2"])
        self.assertTrue(all(p["protocol"] == "h2" for p in res["protocols"]),
                        res["protocols"])
        posts = self.access_lines("POST " + ENDPOINT)
        self.assertEqual(len(posts), 1, self.httpd.access_log())
        self.assertTrue(posts[0].endswith(" HTTP/2.0"), posts)

        # the origin made them all and finished cleanly
        req, llm = self.llm_request("tokens=20&")
        self.assertIsNotNone(llm)
        self.assertEqual((llm["tokens"], llm["stream"]), ("20", "1"))
        ends = [e for e in self.o[0].lines("END") if e["conn"] == req["conn"]]
        self.assertEqual([e.get("tokens_sent") for e in ends], ["20"])

        print("FIGURES chat-h2 stream: tokens=%d first_token_ms=%.0f "
              "spread_ms=%.0f distinct_reads=%d max_gap_ms=%.0f access=%r"
              % (len(tokens), times[0], spread, distinct, max(gaps), posts[0]))

    def stop_after(self, query, seen_stop, marker):
        """Sends a message to the endpoint with query, clicks Stop once
        seen_stop tokens have come; returns (what the page saw, the
        origin's CLOSE line of that request while the browser was still
        up or None, figures)."""
        d = self.driver("chat", url=chat_url(self.httpd.url, query),
                        message="Talk for a long time.", stop_after=seen_stop,
                        wait_ms=30000, deadline_ms=150000)
        d.expect("ABORTED", timeout=60)
        req, llm = self.llm_request(marker)
        self.assertIsNotNone(llm)
        conn = req["conn"]
        # with the browser (and its h2 connection) still up
        try:
            wait_for(lambda: self.closes_of(conn),
                     timeout=CLOSE_WITHIN_MS / 1000 + 5, interval=0.02,
                     what="the origin's CLOSE")
        except AssertionError:
            pass
        closes = self.closes_of(conn)
        d.send("go")
        res = d.result()
        chat = res["chat"]
        # the abort, on the origin log's clock (CLOCK_MONOTONIC ms)
        clock = res["clock"]
        abort_ms = clock["offset_ms"] + chat["sentAt"] + (chat["abortedAt"] or 0)
        figures = {
            "query": query,
            "tokens_seen": len(chat["tokens"]),
            "clock_rtt_ms": round(clock["rtt_ms"], 2),
            "access": self.access_lines("POST " + ENDPOINT),
        }
        # the origin makes token k at LLM + think_ms + (k - 1) / rate
        first_ms = llm["ms"] + int(llm["think_ms"])
        interval_ms = 1000.0 / float(llm["rate"])
        made_by_abort = max(0, int((abort_ms - first_ms) // interval_ms) + 1)
        figures["origin_tokens_made_by_abort"] = made_by_abort
        close = closes[0] if closes else None
        if close:
            tokens_sent = int(close.get("tokens_sent", "-1"))
            figures.update(
                origin_tokens_sent=tokens_sent,
                # made after the abort (by the origin's schedule), and
                # sent beyond what the page had read when it aborted
                origin_tokens_after_abort=max(0, tokens_sent - made_by_abort),
                origin_tokens_beyond_seen=tokens_sent - (chat["tokensAtAbort"] or 0),
                abort_to_close_ms=round(close["ms"] - abort_ms, 1),
                close_by=close["by"], close_reason=close.get("reason"))
        else:
            # for the report: what came once the browser itself had gone
            try:
                wait_for(lambda: self.closes_of(conn), timeout=10,
                         what="the origin's CLOSE after the browser exit")
            except AssertionError:
                pass
            late = self.closes_of(conn)
            figures["close_while_browser_up"] = None
            if late:
                figures.update(
                    after_browser_exit_tokens_sent=int(late[0].get("tokens_sent", "-1")),
                    after_browser_exit_abort_to_close_ms=round(late[0]["ms"] - abort_ms, 1))
        figures["ends"] = [e for e in self.o[0].lines("END") if e["conn"] == conn]
        print("FIGURES chat-h2 abort: " + json.dumps(figures))
        return res, close, figures

    def test_stop_lets_the_origin_go(self):
        """2. A 1000-token answer at 10 tokens/s, Stop after 3 tokens: the
        origin sees its client leave (CLOSE by=peer) within a few seconds
        of the abort, having made only a few more tokens."""
        seen_stop = 3
        res, close, figures = self.stop_after(
            "tokens=1000&token_rate=10", seen_stop, marker="tokens=1000&")
        chat = res["chat"]
        self.assertTrue(res["ended"], chat)
        self.assertEqual(chat["status"], 200)
        self.assertTrue(chat["aborted"])
        self.assertFalse(chat["done"])
        self.assertIsNone(chat["error"])
        self.assertEqual(chat["tokensAtAbort"], seen_stop)
        self.assertEqual([t["text"] for t in chat["tokens"]],
                         ["tok%d " % k for k in range(1, seen_stop + 1)])
        self.assertEqual([p["protocol"] for p in res["protocols"]
                          if ENDPOINT in p["url"]], ["h2"])

        self.assertIsNotNone(close, "the origin went on after the abort: no "
                             "CLOSE while the browser was up: %s" % figures)
        self.assertEqual(close["by"], "peer", close)
        # the clock's error: the sync round trip, the log's ms resolution
        self.assertGreaterEqual(figures["abort_to_close_ms"],
                                -(figures["clock_rtt_ms"] + 2), figures)
        self.assertLessEqual(figures["abort_to_close_ms"], CLOSE_WITHIN_MS, figures)
        self.assertGreaterEqual(figures["origin_tokens_sent"], seen_stop, figures)
        self.assertLessEqual(figures["origin_tokens_sent"],
                             len(chat["tokens"]) + EXTRA_TOKENS, figures)
        # and it never finished
        self.assertEqual(figures["ends"], [])

if __name__ == "__main__":
    sys.exit(test_browser.main())
