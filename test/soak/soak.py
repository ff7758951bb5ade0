#!/usr/bin/env python3
# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""make soak: many EventSource clients held through one httpd (event MPM,
this tree's module) and a balancer of two sse-origins, while the origins
are killed with SIGKILL and brought back at random, and httpd itself is
restarted ungracefully (SIGHUP to its parent, `apachectl -k restart`)
SOAK_RESTARTS times, 2 by default (at 1/3 and 2/3 of the kills; 0: none).
It passes when httpd never crashed, its descriptors and memory came back
to where they were, every broken stream was resumed with Last-Event-ID,
and no event was lost or duplicated.  docs/soak.md describes it; the
knobs are environment variables (SOAK_MINUTES, SOAK_STREAMS,
SOAK_KILL_INTERVAL, SOAK_RESTARTS, SOAK_SEED, SOAK_ASYNC, SOAK_THREADS,
SOAK_RATE, SOAK_NON_READERS, SOAK_OUT), set by `make soak VAR=...`.
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_SRC = os.path.abspath(os.environ.get("top_srcdir",
                                         os.path.join(HERE, "..", "..")))
TOP_BUILD = os.path.abspath(os.environ.get("top_builddir", TOP_SRC))
sys.path.insert(0, os.path.join(TOP_SRC, "test", "integration"))
import harness  # noqa: E402
import procstat  # noqa: E402
import killer  # noqa: E402
import pools  # noqa: E402
import proxy_conf  # noqa: E402
import restarter  # noqa: E402
import stalled  # noqa: E402
import verdict  # noqa: E402

LOAD = os.path.join(TOP_BUILD, "bench", "sse-load")
# Two balancer members: a killed one's streams fail over to the other,
# which exercises more than a single member whose clients can only wait.
ORIGINS = ("a", "b")
CONNECT_RATE = 500
# The warm-up runs the soak's own load through ten kills, the origins in
# turn, so that every stream moves from one member to the other ten times.
# httpd keeps part of what it allocated for the most connections a child
# ever had at once, to a member or from clients (mod_proxy's connection
# records, the event MPM's recycled transaction pools, thread stacks); that
# grows by the luck of how each storm spreads over the children and levels
# off.  The baseline must already hold most of it, so that what the soak
# measures is growth beyond it.
WARMUP_KILLS = [(6 * i, (i + 1) % 2, 1.0) for i in range(10)]
WARMUP_S = 75
# An ungraceful restart replaces every child, and the parent keeps what
# reading its configuration again costs it: the children the baseline
# measures must be a generation that followed a restart, as those at the
# end are.  It comes before the second kill, so that this generation goes
# through nearly all the warm-up's storms.
WARMUP_RESTARTS = [3.0]
# Time after the ramp before the first kill, so that every client is
# streaming when the killing starts.
SETTLE_S = 5
# What killing origins makes httpd log at warn and above: connects
# refused while an origin is down (AH00957, AH00959, SSE00002), a backend
# gone before its response head (SSE00004) and the policy's backoff
# decisions (SSE00030).  Anything else fails the run; crashes and sanitizer
# reports always do (harness.Httpd.unexpected_log_lines).
EXPECTED_LOG = [r"AH00957", r"AH00959", r"SSE00002", r"SSE00004",
                r"SSE00030"]
# An ungraceful restart logs only at notice (AH00494 SIGHUP received,
# AH00489 / AH00163 resuming normal operations, AH00094 the command
# line), which the check above skips; a child that does not exit in time
# (AH00045, AH00046) or dies on a signal stays a failure.


def log(msg):
    print("[soak %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def knobs():
    env = os.environ
    k = {
        "minutes": float(env.get("SOAK_MINUTES") or 30),
        "streams": int(env.get("SOAK_STREAMS") or 1000),
        "interval": float(env.get("SOAK_KILL_INTERVAL") or 30),
        "restarts": int(env.get("SOAK_RESTARTS") or 2),
        "seed": killer.seed_from_env(env.get("SOAK_SEED")),
        "async": (env.get("SOAK_ASYNC") or "on").lower(),
        "threads": int(env.get("SOAK_THREADS") or 0),
        "rate": float(env.get("SOAK_RATE") or 2),
        "non_readers": int(env.get("SOAK_NON_READERS") or 100),
        "out": os.path.abspath(env.get("SOAK_OUT") or "soak-out"),
    }
    if k["async"] not in ("on", "off"):
        sys.exit("SOAK_ASYNC must be on or off")
    if k["threads"] < 0:
        sys.exit("SOAK_THREADS must be a number of threads per child")
    if k["restarts"] < 0:
        sys.exit("SOAK_RESTARTS must be a number of restarts (0: none)")
    if k["streams"] < 1 or k["interval"] <= 0 or k["minutes"] <= 0:
        sys.exit("SOAK_STREAMS, SOAK_KILL_INTERVAL and SOAK_MINUTES must "
                 "be positive")
    return k


def raise_nofile():
    """httpd, the origins and sse-load inherit this limit: each of them
    holds a descriptor per stream, sse-load and the origins all of them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    except (ValueError, OSError):
        pass        # an unlimited hard limit: sse-load raises its own
    return soft


def start_load(port, k, seconds, json_path, timeline=None):
    cmd = [LOAD, "--port", str(port),
           "--path", "/events?rate=%g&size=16" % k["rate"],
           "--streams", str(k["streams"]), "--duration", str(seconds),
           "--mode", "eventsource", "--connect-rate", str(CONNECT_RATE),
           "--quiet", "--json", json_path]
    if timeline:
        cmd += ["--timeline", timeline]
    return subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)


def load_with_kills(work, httpd, origins, k, seconds, kills, restarts,
                    json_path, timeline=None):
    """sse-load for `seconds` after its ramp; the kills and httpd's
    restarts count from the moment every client is streaming.  Returns
    (sse-load's summary, its report, the killer, the restarter)."""
    proc = start_load(httpd.port, k, seconds, json_path, timeline)
    monkey = killer.Killer(work, origins, kills, log)
    hup = restarter.Restarter(httpd.proc.pid, restarts, k["children"], log)
    try:
        time.sleep(k["streams"] / float(CONNECT_RATE) + SETTLE_S)
        monkey.start()
        hup.start()
        _, err = proc.communicate(timeout=seconds + 600)
    finally:
        if monkey.is_alive():
            monkey.stop()
        if hup.is_alive():
            hup.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError("sse-load failed (%d):\n%s" % (proc.returncode, err))
    with open(json_path) as f:
        return json.load(f), err, monkey, hup


class Footprint(threading.Thread):
    """httpd's descriptors and RSS every few seconds of the soak, as CSV:
    the two end points say whether memory came back, the series says
    whether what did not come back was still growing."""

    def __init__(self, pgid, path, every=10):
        super().__init__(daemon=True)
        self.pgid, self.path, self.every = pgid, path, every
        self.stopping = threading.Event()

    def run(self):
        t0 = time.monotonic()
        with open(self.path, "w") as f:
            f.write("t_s,fds,rss_kib\n")
            while not self.stopping.wait(self.every):
                fp = procstat.group_footprint(self.pgid)
                f.write("%d,%d,%d\n" % (time.monotonic() - t0, fp["fds"],
                                         fp["rss_kib"]))
                f.flush()

    def stop(self):
        self.stopping.set()
        self.join()


def settled(pgid, target_fds=None, quiet_s=5, timeout=60):
    """httpd's footprint once its descriptors stop changing (lingering
    closes and client-gone detection take a moment), or once they are
    back to target_fds."""
    deadline = time.monotonic() + timeout
    last, same = None, 0
    while True:
        fp = procstat.group_footprint(pgid)
        if target_fds is not None and fp["fds"] == target_fds:
            return fp
        same = same + 1 if last and fp["fds"] == last["fds"] else 0
        if same >= quiet_s or time.monotonic() > deadline:
            return fp
        last = fp
        time.sleep(1)


def pool_census(pgid):
    """httpd's APR pools by tag, summed over its processes ({} where the
    APR build cannot be read, see pools.py): when memory did not come
    back, the tags whose count grew say what holds it."""
    total = {}
    for pid in procstat.group_pids(pgid):
        try:
            for tag, n in pools.census(pid).items():
                total[tag] = total.get(tag, 0) + n
        except OSError:
            pass
    return total


def schedule(k):
    """The kills and restarts of the soak part and the quiet time left
    after them: the restarts are spread over the stretch with kills, so
    that the streams they break have the same time to come back."""
    tail = max(15, 3 * proxy_conf.backoff_max_s(k["interval"]) + 10)
    length = k["minutes"] * 60 - SETTLE_S - tail
    kills = killer.plan(k["seed"], k["interval"], length, len(ORIGINS))
    if not kills:
        sys.exit("SOAK_MINUTES=%g leaves no room for a kill every %g s and "
                 "%d s to recover after the last" % (k["minutes"],
                                                    k["interval"], tail))
    return kills, restarter.plan(k["restarts"], length), tail


def warm_up(work, httpd, origins, k):
    """The warm-up, then the baseline footprint."""
    restarts = WARMUP_RESTARTS if k["restarts"] > 0 else []
    log("warm-up: %d streams for %d s, %d kills, %d restart(s)"
        % (k["streams"], WARMUP_S, len(WARMUP_KILLS), len(restarts)))
    # the clients that do not read too: the most connections at once,
    # which httpd keeps memory for, must be reached before the baseline
    stuck = stalled.NonReaders(httpd.port, k["non_readers"], log)
    if k["non_readers"] > 0:
        stuck.start()
    try:
        _, _, warm, hup = load_with_kills(work, httpd, origins, k, WARMUP_S,
                                          WARMUP_KILLS, restarts,
                                          os.path.join(work, "warmup.json"))
    finally:
        if stuck.is_alive():
            stuck.stop()
    if warm.errors or hup.errors or len(hup.done) != len(restarts):
        raise RuntimeError("warm-up: " + "; ".join(
            warm.errors + hup.errors + ["%d of %d restarts"
                                        % (len(hup.done), len(restarts))]))
    base = settled(httpd.proc.pid)
    base["pools"] = pool_census(httpd.proc.pid)
    log("baseline: %d fds, %.1f MiB RSS in %d processes"
        % (base["fds"], base["rss_kib"] / 1024.0, len(base["pids"])))
    return base


def soak_part(work, httpd, origins, k, kills, restarts, tail):
    """The soak itself: (sse-load's summary, the killer, the
    restarter)."""
    with open(os.path.join(k["out"], "kills.json"), "w") as f:
        json.dump({"seed": k["seed"], "interval": k["interval"],
                   "kills": kills, "restarts": restarts}, f)
    log("soak: %d streams for %g min, %d kills planned (seed %d), "
        "%d restart(s) at +%s s, the last %d s without either"
        % (k["streams"], k["minutes"], len(kills), k["seed"], len(restarts),
           ", +".join("%g" % r for r in restarts) or "-", tail))
    sampler = Footprint(httpd.proc.pid,
                        os.path.join(k["out"], "footprint.csv"))
    sampler.start()
    # clients that stop reading must cost the others nothing
    stuck = stalled.NonReaders(httpd.port, k["non_readers"], log)
    if k["non_readers"] > 0:
        stuck.start()
    try:
        load, err, monkey, hup = load_with_kills(
            work, httpd, origins, k, k["minutes"] * 60, kills, restarts,
            os.path.join(k["out"], "load.json"),
            os.path.join(k["out"], "timeline.csv"))
    finally:
        if stuck.is_alive():
            stuck.stop()
        sampler.stop()
    sys.stdout.write(err)
    return load, monkey, hup


def soak(k, work):
    """Runs everything; returns the measurements verdict.checks() reads."""
    m = dict(k)
    kills, restarts, tail = schedule(k)
    m["kills_planned"], m["restarts_planned"] = kills, restarts
    origins = [harness.Origin(work, name, port=killer.stable_port())
               for name in ORIGINS]
    m["children"], m["threads"] = proxy_conf.sizing(k["streams"], k["async"],
                                                    k["threads"])
    k["children"] = m["children"]
    httpd = harness.Httpd(
        work, proxy_conf.conf([o.url for o in origins], k["interval"],
                              k["async"]),
        servers=m["children"], threads=m["threads"])
    shutil.copy(httpd.conf_path, os.path.join(k["out"], "httpd.conf"))
    httpd.start()
    try:
        m["baseline"] = warm_up(work, httpd, origins, k)
        m["load"], monkey, hup = soak_part(work, httpd, origins, k, kills,
                                           restarts, tail)
        m["kills_done"], m["kill_errors"] = monkey.done, monkey.errors
        m["restarts_done"], m["restart_errors"] = hup.done, hup.errors
        # the children the end is compared with: those of the last
        # restart, or the baseline's when the soak had none
        m["parent"] = httpd.proc.pid
        m["last_generation"] = (
            hup.generations[-1] if hup.generations else
            [p for p in m["baseline"]["pids"] if p != m["parent"]])
        m["after"] = settled(httpd.proc.pid, target_fds=m["baseline"]["fds"])
        m["after"]["pools"] = pool_census(httpd.proc.pid)
        m["httpd_alive"] = httpd.proc.poll() is None
    finally:
        httpd.stop()
        for o in origins:
            o.stop()
    m["log_problems"] = httpd.unexpected_log_lines(allowed=EXPECTED_LOG)
    shutil.copy(os.path.join(httpd.root, "error.log"),
                os.path.join(k["out"], "error.log"))
    return m


def main():
    k = knobs()
    if not os.path.exists(LOAD):
        sys.exit("build bench/sse-load first (make soak builds it)")
    os.makedirs(k["out"], exist_ok=True)
    limit = raise_nofile()
    if limit != resource.RLIM_INFINITY and limit < 3 * k["streams"]:
        log("warning: RLIMIT_NOFILE is %d; %d streams may not fit"
            % (limit, k["streams"]))
    work = harness.workdir()
    ok = False
    try:
        m = soak(k, work)
        results = verdict.checks(m)
        ok = verdict.report(m, results, print)
        with open(os.path.join(k["out"], "summary.json"), "w") as f:
            json.dump({"measured": m, "checks": results, "passed": ok}, f,
                      indent=1)
    finally:
        harness.remove_workdir(work, keep=not ok)
    print("results in %s; replay with SOAK_SEED=%d" % (k["out"], k["seed"]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
