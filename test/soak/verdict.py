# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""The soak's pass criteria, each checked against what the run measured,
and the summary that reports them."""

RSS_GROWTH_MAX = 0.05
# Descriptors must come back exactly: every one httpd holds for a stream
# (client socket, backend socket) is closed when the stream ends, and no
# backend connection of a stream is ever pooled.  A restart's new
# children open what the old ones had, and the baseline already follows
# one, so the count holds across generations too.
FD_TOLERANCE = 0


def checks(m):
    """[(criterion, passed, detail)] for the measurements `m` (see
    soak.py for the keys)."""
    load, base, after = m["load"], m["baseline"], m["after"]
    es = load["eventsource"]
    n = m["streams"]
    growth = (after["rss_kib"] - base["rss_kib"]) / float(base["rss_kib"])
    # every restart replaces the children: those at the end must be the
    # last generation's, with the parent, and nothing older
    expected = sorted([m["parent"]] + list(m["last_generation"]))
    out = [
        ("httpd never crashed",
         m["httpd_alive"] and not m["log_problems"]
         and not m["restart_errors"] and after["pids"] == expected,
         "parent %s, children at the end %s (compared with the last "
         "generation: %s), %s, %d error-log problem(s)%s" % (
             "alive" if m["httpd_alive"] else "GONE",
             "the same" if after["pids"] == expected else
             "CHANGED %s -> %s" % (expected, after["pids"]),
             "the baseline's, no restart in the soak"
             if not m["restarts_done"] else
             "after restart %d of the soak" % len(m["restarts_done"]),
             "; ".join(m["restart_errors"]) or
             "no child of an old generation left after %d restart(s)"
             % len(m["restarts_done"]),
             len(m["log_problems"]),
             "".join("\n      " + l for l in m["log_problems"][:10]))),
        ("file descriptors back to baseline",
         abs(after["fds"] - base["fds"]) <= FD_TOLERANCE,
         "%d before, %d after" % (base["fds"], after["fds"])),
        ("RSS growth under %d%%" % (RSS_GROWTH_MAX * 100),
         growth < RSS_GROWTH_MAX,
         "%.1f MiB before, %.1f MiB after (%+.2f%%)" % (
             base["rss_kib"] / 1024.0, after["rss_kib"] / 1024.0,
             growth * 100)),
        ("origins killed as planned",
         not m["kill_errors"] and len(m["kills_done"]) == len(m["kills_planned"])
         and len(m["kills_done"]) > 0,
         "%d of %d kills%s" % (len(m["kills_done"]), len(m["kills_planned"]),
                               "".join("; " + e for e in m["kill_errors"]))),
        ("httpd restarted as planned (SIGHUP)",
         not m["restart_errors"]
         and len(m["restarts_done"]) == len(m["restarts_planned"]),
         "%d of %d restarts%s" % (
             len(m["restarts_done"]), len(m["restarts_planned"]),
             "".join(", at +%.1f s, settled in %.1f s" % (at, took)
                     for _, at, took in m["restarts_done"]))),
        ("every client streaming, none given up",
         load["streams_established"] == n
         and es["clients_streaming_at_end"] == n
         and es["failed_for_good"] == 0 and es["stopped_204"] == 0,
         "%d established, %d streaming at the end, %d failed, %d stopped" % (
             load["streams_established"], es["clients_streaming_at_end"],
             es["failed_for_good"], es["stopped_204"])),
        ("every break resumed with Last-Event-ID",
         es["breaks"] > 0 and es["resumes"] == es["breaks"]
         and es["resumes_without_id"] == 0
         and es["breaks_pending_at_end"] == 0,
         "%d breaks, %d resumed with it, %d without, %d pending" % (
             es["breaks"], es["resumes"], es["resumes_without_id"],
             es["breaks_pending_at_end"])),
        ("no event lost or duplicated",
         load["gaps"] == 0 and load["lost_events"] == 0
         and load["duplicates"] == 0 and load["events_total"] > 0,
         "%d events, %d lost (in %d gaps), %d duplicated" % (
             load["events_total"], load["lost_events"], load["gaps"],
             load["duplicates"])),
    ]
    return out


def report(m, results, emit):
    """Prints the run and its verdict; returns True when all passed."""
    load = m["load"]
    es = load["eventsource"]
    emit("")
    emit("soak summary: %d streams, %.1f min, kill every %g s, %d "
         "restart(s), seed %d, SSEProxyAsync %s" % (
             m["streams"], m["minutes"], m["interval"], m["restarts"],
             m["seed"], m["async"]))
    emit("  httpd: %d children x %d threads" % (m["children"], m["threads"]))
    emit("  kills %d, restarts %d, breaks %d, resumes %d, reconnects %d, "
         "events %d" % (len(m["kills_done"]), len(m["restarts_done"]),
                        es["breaks"], es["resumes"], es["reconnects"],
                        load["events_total"]))
    emit("  fds %d -> %d, RSS %.1f -> %.1f MiB" % (
        m["baseline"]["fds"], m["after"]["fds"],
        m["baseline"]["rss_kib"] / 1024.0, m["after"]["rss_kib"] / 1024.0))
    before, after = m["baseline"]["pools"], m["after"]["pools"]
    grew = sorted(((after[t] - before.get(t, 0), t) for t in after
                   if after[t] > before.get(t, 0)), reverse=True)
    if before or after:
        emit("  APR pools (by tag) that grew: %s" % (
            ", ".join("%s +%d" % (t, n) for n, t in grew[:6]) or "none"))
    ok = True
    for name, passed, detail in results:
        ok = ok and passed
        emit("  %s  %s: %s" % ("PASS" if passed else "FAIL", name, detail))
    emit("soak %s" % ("PASSED" if ok else "FAILED"))
    return ok
