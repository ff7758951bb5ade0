"""The soak's httpd: how many threads and connections it is given for a
number of streams, and the balancer it relays them through.

The sizing has to hold in both relay modes.  With `SSEProxyAsync off`
every open stream holds a worker thread, so the workers alone must cover
the streams, with headroom for the moments when a reconnect is accepted
before the broken stream's thread has gone back to the pool.  With
`SSEProxyAsync on` idle streams hold no thread, and what limits them is the
event MPM's per-child connection cap, ThreadsPerChild + idle threads x
AsyncRequestWorkerFactor; a high factor keeps that cap far above the
streams, so the same numbers serve both modes.
"""

THREADS_PER_CHILD = 128
HEADROOM = 1.25
ASYNC_FACTOR = 8


def sizing(streams):
    """(children, threads per child) able to hold `streams` streams even
    with one thread per stream."""
    workers = int(streams * HEADROOM) + 1
    children = max(2, -(-workers // THREADS_PER_CHILD))
    return children, THREADS_PER_CHILD


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
