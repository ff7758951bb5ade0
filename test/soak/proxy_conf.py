# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""The soak's httpd: how many threads and connections it is given for a
number of streams, and the balancer it relays them through.

Each relay mode gets what an operator would give it.  With
`SSEProxyAsync off` every open stream holds a worker thread, so the
workers alone must cover the streams, with headroom for the moments when a
reconnect is accepted before the broken stream's thread has gone back to
the pool.  With `SSEProxyAsync on` idle streams hold no thread: the same
number of children gets a few threads each, for the events being relayed,
and what limits the streams is the event MPM's per-child connection cap,
ThreadsPerChild + idle threads x AsyncRequestWorkerFactor, which a high
factor keeps far above the streams a child is given.  Threads are not
free when idle either: each keeps what its busiest moment left it (stack
pages, malloc's per-thread cache), and in a child of 128 threads some
are still doing a piece of work for the first time long after the
streams started: memory that grows without being a leak.
"""

THREADS_PER_CHILD = {"off": 128, "on": 32}
HEADROOM = 1.25
ASYNC_FACTOR = 16


def sizing(streams, async_mode, threads=0):
    """(children, threads per child): enough children for `streams`
    streams with one thread per stream; with streams waiting without a
    thread, the same children with fewer threads; `threads`, when given,
    in place of either."""
    workers = int(streams * HEADROOM) + 1
    children = max(2, -(-workers // THREADS_PER_CHILD["off"]))
    return children, threads or THREADS_PER_CHILD[async_mode]


def backoff_max_s(kill_interval):
    """The longest member backoff: a third of the kill interval, so that a
    killed member is back in the balancer long before the next kill and
    the soak measures churn, not clients parked behind long delays."""
    return max(2, int(kill_interval // 3))


ROUTE = """
ProxyTimeout 10
ListenBackLog 4096
AsyncRequestWorkerFactor {factor}
MaxConnectionsPerChild 0
<Proxy balancer://soak>
{members}
    ProxySet forcerecovery=Off
</Proxy>
{strategies}
<Location /events>
    ProxyPass balancer://soak/events
    SSEProxy On
    SSEProxyHeartbeat 5
    SSEProxyGiveUp retry
    SSEProxyAsync {async_mode}
</Location>
"""

# A member must never be given up on for good: a soak client that got a
# 204 would stop, and what is measured is recovery, not the give-up.
STRATEGY = "SSEProxyStrategy {cls} initial=1s max={max}s factor=2 attempts=1000000"


def conf(origin_urls, kill_interval, async_mode):
    members = "\n".join("    BalancerMember %s" % u for u in origin_urls)
    strategies = "\n".join(
        STRATEGY.format(cls=c, max=backoff_max_s(kill_interval))
        for c in ("NETWORK_ERROR", "PROXY_ERROR", "SERVER_ERROR"))
    return ROUTE.format(factor=ASYNC_FACTOR, members=members,
                        strategies=strategies, async_mode=async_mode)
