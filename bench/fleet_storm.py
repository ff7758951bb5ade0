# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""The fleet storm: three httpd nodes in front of one origin, each with its
own EventSource crowd, the origin down for a while; run once with every
node on its own member state and once with the nodes sharing it through
redis (SSEProxyStateCache).  Called by bench/run.py (--only fleet).

What is counted, per run:

* origin probes during the outage: connection attempts the nodes made to
  the origin's port while it refused them.  mod_proxy logs each connect()
  that fails (AH00957, "(111)Connection refused: attempt to connect ...
  failed"), once per attempt, so those lines are the probes.  The module's
  own SSE00002 ("cannot connect to backend") is counted too: it can
  exceed AH00957, since a request that took the member just before
  another child put it in error is refused by mod_proxy without a
  connect().  The origin's listening socket is closed in mode down, so it
  cannot count them itself (its REQ lines over the outage are counted
  too, and must be 0).  Probes less than 0.5 s apart are one round:
  across the fleet (probe_rounds_fleet) and per node, summed;
* client requests to the nodes during the outage: access-log lines whose
  request was received (%{msec}t) between the origin going down and
  coming back, and of those the ones the module answered itself with a
  retry: hint (sse-end "policy");
* the time from the origin's return until 95% of all clients are
  streaming again: from the origin's own log (STREAM and CLOSE lines, ms
  on the same clock as its CONTROL lines), and, as a cross-check at 1 s
  resolution, from the three clients' timelines.
"""
import csv
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import time

import harness
from procstat import group_usage

NODES = 3
PATH = "/events?rate=1&size=32"
CONNECT_RATE = 500
SETTLE_S = 10
# the event MPM as bench/run.py's mod_sse_proxy setup (MPM_ASYNC)
SERVERS, THREADS, ASYNC_FACTOR = 4, 25, 200

NODE_CONF = """
ProxyTimeout 86400
AsyncRequestWorkerFactor {factor}
MinSpareThreads {min_spare}
ListenBackLog 4096
LogFormat "%{{msec}}t %>s %{{sse-end}}n %{{sse-retry}}n \\"%r\\"" fleet
CustomLog "{root}/fleet-access.log" fleet
<Proxy balancer://b>
    BalancerMember {origin}
    ProxySet forcerecovery=Off
</Proxy>
<Location /events>
    ProxyPass balancer://b/events
    SSEProxy On
    SSEProxyHeartbeat 15
</Location>
<Location /sse-status>
    SetHandler sse-proxy-status
    Require local
</Location>
{fleet}"""

FLEET_CONF = """SSEProxyStateCache redis:127.0.0.1:{port}
RedisTimeout 50ms
"""


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


class Node:
    def __init__(self, work, origin, redis, module):
        self.h = harness.Httpd(
            work, "", timeout=86400, servers=SERVERS, threads=THREADS,
            extra_modules=[("socache_redis_module", "mod_socache_redis.so")]
            if redis else ())
        conf = NODE_CONF.format(
            factor=ASYNC_FACTOR, min_spare=SERVERS * THREADS // 2,
            root=self.h.root, origin=origin.url,
            fleet=FLEET_CONF.format(port=redis.port) if redis else "")
        with open(self.h.conf_path) as f:
            text = f.read()
        # the harness's own access log is replaced by fleet-access.log
        text = text.replace('CustomLog "%s/access.log" sse' % self.h.root, "")
        text = text.replace("MinSpareThreads 1\n", "")
        text = text.replace('LoadModule sse_proxy_module "%s"'
                            % harness.SSE_MODULE,
                            'LoadModule sse_proxy_module "%s"' % module)
        with open(self.h.conf_path, "w") as f:
            f.write(text + conf)
        self.h.start()
        self.port = self.h.port
        self.pgid = self.h.proc.pid

    def status(self):
        c = harness.RawClient(self.port, "/sse-status?format=json",
                              timeout=5)
        try:
            return json.loads(c.read_to_end(5))
        finally:
            c.close()

    def stop(self):
        self.h.stop()


# ---------------------------------------------------------------------
# log parsing
# ---------------------------------------------------------------------
ERR_TIME = re.compile(r"^\[(\w{3} \w{3} \d\d \d\d:\d\d:\d\d\.\d+ \d{4})\]")


def error_lines(node, code):
    """Wall-clock times (s) of the node's error-log lines carrying code."""
    out = []
    for line in node.h.error_log().splitlines():
        if code not in line:
            continue
        m = ERR_TIME.match(line)
        if m:
            t = datetime.datetime.strptime(m.group(1), "%a %b %d %H:%M:%S.%f %Y")
            out.append(time.mktime(t.timetuple()) + t.microsecond / 1e6)
    return out


def rounds(times, gap=0.5):
    """Bursts of probes: times closer than gap seconds are one round."""
    n, last = 0, None
    for t in sorted(times):
        if last is None or t - last > gap:
            n += 1
        last = t
    return n


def access_lines(node):
    """(request received, wall-clock s; status; sse-end) per request."""
    out = []
    try:
        with open(os.path.join(node.h.root, "fleet-access.log")) as f:
            for line in f:
                parts = line.split(" ", 4)
                if len(parts) >= 4 and parts[0].isdigit():
                    out.append((int(parts[0]) / 1000.0, parts[1], parts[2]))
    except FileNotFoundError:
        pass
    return out


def origin_marks(origin):
    """(down, back) on the origin's clock (ms), from its CONTROL lines."""
    down = back = None
    for c in origin.lines("CONTROL"):
        if c.get("mode") == "down" and down is None:
            down = c["ms"]
        elif c.get("mode") == "normal" and down is not None and back is None:
            back = c["ms"]
    return down, back


def origin_recovery_s(origin, back_ms, total, share=0.95):
    """Seconds from back_ms until share of total streams are open at the
    origin (streams opened after back_ms minus those closed again)."""
    events = []
    streams = set()
    for line in origin.log():
        parts = line.split(" ")
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        ms, word = int(parts[0]), parts[1]
        if ms < back_ms or word not in ("STREAM", "CLOSE"):
            continue
        f = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
        if word == "STREAM":
            streams.add(f.get("conn"))
            events.append((ms, 1))
        elif f.get("conn") in streams:
            events.append((ms, -1))
    open_ = 0
    for ms, d in sorted(events):
        open_ += d
        if open_ >= share * total:
            return round((ms - back_ms) / 1000.0, 2)
    return None


def client_recovery_s(timelines, starts, back_wall, total, share=0.95):
    """The same from the clients' timelines (1 s resolution): seconds
    from the origin's return to the first second at whose end the
    clients of all nodes together had share of total streaming."""
    per_second = {}
    for tl, start in zip(timelines, starts):
        for row in tl:
            t_end = start + int(row["t_s"])     # end of that timeline second
            k = int(round(t_end - back_wall))
            per_second[k] = per_second.get(k, 0) + int(row["clients_streaming"])
    for k in sorted(per_second):
        if k >= 0 and per_second[k] >= share * total:
            return k
    return None


# ---------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------
def one_run(work, quick, shared, module, results_dir):
    clients, outage, after = (100, 4, 6) if quick else (1000, 30, 33)
    settle = 3 if quick else SETTLE_S
    label = "with shared state (redis)" if shared else "without shared state"
    tag = "with" if shared else "without"
    origin = harness.Origin(work, "origin")
    redis = harness.Redis(work) if shared else None
    nodes = []
    loads = []
    try:
        for _ in range(NODES):
            nodes.append(Node(work, origin, redis, module))
        if shared:
            for n in nodes:
                st = n.status().get("fleet") or {}
                if st.get("state") != "ok":
                    raise RuntimeError("node %d: fleet state %r"
                                       % (n.port, st))
        log("fleet storm, %s: %d nodes x %d clients, origin down %d s"
            % (label, NODES, clients, outage))
        cpu0 = sum(group_usage(n.pgid)["cpu_s"] for n in nodes)
        ramp = clients / float(CONNECT_RATE)
        duration = settle + outage + after
        starts, tls, outs = [], [], []
        for i, n in enumerate(nodes):
            tl = os.path.join(work, "fleet-%s-%d.csv" % (tag, i))
            out = os.path.join(work, "fleet-%s-%d.json" % (tag, i))
            starts.append(time.time())
            loads.append(subprocess.Popen(
                [os.environ.get("SSE_LOAD_BIN", _load_bin()),
                 "--port", str(n.port), "--path", PATH,
                 "--streams", str(clients), "--duration", str(duration),
                 "--mode", "eventsource", "--quiet", "--timeline", tl,
                 "--connect-rate", str(CONNECT_RATE), "--json", out],
                stderr=open(out + ".stderr", "w"), start_new_session=True))
            tls.append(tl)
            outs.append(out)
        time.sleep(ramp + settle)
        origin.control(mode="down", for_ms=outage * 1000)
        time.sleep(outage)

        def origin_up():
            try:
                return origin.stats()
            except OSError:
                return None
        harness.wait_for(origin_up, timeout=30)
        for p in loads:
            p.wait(timeout=duration + ramp + 600)
        cpu = sum(group_usage(n.pgid)["cpu_s"] for n in nodes) - cpu0
        fleet = [n.status().get("fleet") for n in nodes] if shared else []
        summaries = []
        for p, out in zip(loads, outs):
            if p.returncode != 0:
                raise RuntimeError("sse-load exited %d" % p.returncode)
            with open(out) as f:
                summaries.append(json.load(f))
        timelines = []
        for tl in tls:
            with open(tl) as f:
                timelines.append(list(csv.DictReader(f)))

        # the origin's clock (CLOCK_MONOTONIC ms) to wall-clock seconds
        off = time.time() - time.monotonic()
        down_ms, back_ms = origin_marks(origin)
        down_w, back_w = down_ms / 1000.0 + off, back_ms / 1000.0 + off
        total = clients * NODES
        # requests that reached the origin while it was down (must be 0)
        during = sum(1 for q in origin.requests()
                     if down_ms <= q["ms"] < back_ms
                     and not q.get("path", "").startswith(("/control",
                                                           "/stats")))

        def within(ts):
            return [t for t in ts if down_w <= t < back_w]
        probes = [len(within(error_lines(n, "AH00957"))) for n in nodes]
        sse2 = [len(within(error_lines(n, "SSE00002"))) for n in nodes]
        backoffs = [len(within(error_lines(n, "SSE00030"))) for n in nodes]
        acc = [access_lines(n) for n in nodes]
        reqs = [[a for a in al if down_w <= a[0] < back_w] for al in acc]
        n_reqs = sum(len(r) for r in reqs)
        retry_answers = sum(1 for r in reqs for a in r if a[2] == "policy")
        per_sec = {}
        for r in reqs:
            for a in r:
                k = int(a[0] - down_w)
                per_sec[k] = per_sec.get(k, 0) + 1
        probe_times = [t for n in nodes
                       for t in within(error_lines(n, "AH00957"))]
        node_rounds = sum(rounds(within(error_lines(n, "AH00957")))
                          for n in nodes)
        probe_sec = {}
        for t in probe_times:
            k = int(t - down_w)
            probe_sec[k] = probe_sec.get(k, 0) + 1
        with open(os.path.join(results_dir, "fleet-timeline-%s.csv" % tag),
                  "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["s_since_origin_down", "origin_probes",
                        "requests_to_nodes"])
            for k in range(int(back_w - down_w) + 1):
                w.writerow([k, probe_sec.get(k, 0), per_sec.get(k, 0)])
        es = [s.get("eventsource", {}) for s in summaries]
        row = {
            "run": label, "nodes": NODES, "clients_per_node": clients,
            "outage_s": round((back_ms - down_ms) / 1000.0, 1),
            "origin_probes_during_outage": sum(probes),
            "probes_per_node": "/".join(str(x) for x in probes),
            "probe_rounds_fleet": rounds(probe_times),
            "probe_rounds_summed_over_nodes": node_rounds,
            "sse00002_during_outage": sum(sse2),
            "backoff_decisions_during_outage": sum(backoffs),
            "requests_reaching_origin_during_outage": during,
            "requests_to_nodes_during_outage": n_reqs,
            "retry_answers_during_outage": retry_answers,
            "peak_requests_per_s": max(per_sec.values(), default=0),
            "s_until_95pct_streaming": origin_recovery_s(origin, back_ms,
                                                         total),
            "s_until_95pct_streaming_clients": client_recovery_s(
                timelines, starts, back_w, total),
            "streaming_at_end_pct": round(100.0 * sum(
                e.get("clients_streaming_at_end", 0) for e in es) / total, 1),
            "failed_for_good": sum(e.get("failed_for_good", 0) for e in es),
            "lost_events": sum(s.get("gaps", 0) for s in summaries),
            "duplicates": sum(s.get("duplicates", 0) for s in summaries),
            "nodes_cpu_s": round(cpu, 2),
            "fleet_pulled": sum((f or {}).get("pulled", 0) for f in fleet)
            if shared else None,
            "fleet_pushed": sum((f or {}).get("pushed", 0) for f in fleet)
            if shared else None,
            "fleet_errors": sum((f or {}).get("errors", 0) for f in fleet)
            if shared else None,
        }
        return row
    finally:
        for p in loads:
            if p.poll() is None:
                harness._kill(p)
        for n in nodes:
            n.stop()
        if redis:
            redis.stop()
        origin.stop()


def _load_bin():
    top = os.path.abspath(os.environ.get(
        "top_builddir", os.path.join(os.path.dirname(__file__), "..")))
    return os.path.join(top, "bench", "sse-load")


def scenario_fleet(work, quick, rows, results_dir, command):
    """Both runs; rows get one line each; a description of the run goes
    to results_dir/fleet-run.json."""
    # one copy of the module for both runs: others may rebuild it meanwhile
    module = os.path.join(work, "mod_sse_proxy.so")
    shutil.copy(harness.SSE_MODULE, module)
    with open(module, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    load_before = open("/proc/loadavg").read().split()[:3]
    started = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC")
    # notes on the previous results no longer apply
    notes = os.path.join(results_dir, "fleet-notes.md")
    if os.path.exists(notes):
        os.unlink(notes)
    for shared in (False, True):
        rows.append(one_run(work, quick, shared, module, results_dir))
        log("fleet: %s" % json.dumps(rows[-1]))
    try:
        head = subprocess.run(["git", "-C", os.path.dirname(__file__),
                               "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        head = "?"
    meta = {"command": command, "mode": "quick" if quick else "full",
            "started": started, "module_sha256": digest,
            "git_head": head, "module_mtime": time.strftime(
                "%Y-%m-%d %H:%M:%S UTC",
                time.gmtime(os.path.getmtime(harness.SSE_MODULE))),
            "loadavg_before": load_before,
            "loadavg_after": open("/proc/loadavg").read().split()[:3]}
    with open(os.path.join(results_dir, "fleet-run.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    return meta
