#!/usr/bin/env python3
# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Benchmarks: mod_sse_proxy against stock mod_proxy_http and nginx, in
the same run, on this machine.

  bench/run.py [--quick] [--only latency,throughput,concurrency,storm,fleet,
                                slowreaders,newcomers,broadcast]
               [--proxies direct,mod_sse_proxy,mod_sse_proxy-sync,
                          mod_proxy_http,nginx,mod_sse_proxy-share]

BENCH_QUICK=1 is --quick; BENCH_ONLY=fleet (a comma-separated list) is
--only; BENCH_PROXIES is --proxies, for the scenarios that compare setups
(latency, throughput, concurrency, storm, slowreaders, newcomers,
broadcast).
The fleet storm (three nodes, with and without shared member state) is
in bench/fleet_storm.py; the broadcast (thousands of clients of one
stream, mod_sse_proxy-share being SSEProxyShare On) in bench/broadcast.py.

Every proxy relays the same sse-origin; sse-load (bench/sse_load.c) is the
client.  Results go to bench/results/*.csv and docs/benchmarks.md (with
plots in docs/img/ when gnuplot is installed).  Only 127.0.0.1 is used.
"""
import argparse
import csv
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_SRC = os.path.abspath(os.environ.get("top_srcdir", os.path.join(HERE, "..")))
TOP_BUILD = os.path.abspath(os.environ.get("top_builddir", TOP_SRC))
sys.path.insert(0, os.path.join(TOP_SRC, "test", "integration"))
import harness  # noqa: E402
from procstat import group_usage  # noqa: E402
sys.path.insert(0, HERE)
import fleet_storm  # noqa: E402
import fairness  # noqa: E402
import h2_load  # noqa: E402
from h2client import shipped_settings  # noqa: E402
import broadcast  # noqa: E402

LOAD = os.path.join(TOP_BUILD, "bench", "sse-load")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# Both httpd setups get the same MPM limits: 1,024 worker threads.
MPM = dict(servers=16, threads=64)
# Streams that wait without a thread need no more workers than httpd's
# stock defaults (25 per child); the MPM must accept the connections
# though: ThreadsPerChild + idle threads x AsyncRequestWorkerFactor each.
MPM_ASYNC = dict(servers=4, threads=25)
ASYNC_FACTOR = 200


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


# ---------------------------------------------------------------------
# the proxies
# ---------------------------------------------------------------------
class Direct:
    name = "direct"

    def __init__(self, work, origin):
        self.port = origin.port
        self.pgid = origin.proc.pid

    def stop(self):
        pass


# The slow start window of the storm's run with one (SSEProxySlowStart).
SLOW_START_S = 30


def httpd_conf(origin, sse, sse_async=True, slow_start=False, share=False):
    route = """
<Proxy balancer://bench>
    BalancerMember {origin} {member_opts}
    ProxySet forcerecovery=Off
</Proxy>
<Location /events>
    ProxyPass balancer://bench/events
    {sse}
</Location>
""".format(origin=origin.url,
           member_opts="" if sse else "flushpackets=on timeout=86400",
           sse="SSEProxy On\n    SSEProxyHeartbeat 15\n    SSEProxyAsync %s%s"
           % ("on" if sse_async else "off",
              "\n    SSEProxyShare On" if share else "") if sse
           else "SetEnv no-gzip 1")
    mpm = ("AsyncRequestWorkerFactor %d\n" % ASYNC_FACTOR
           if sse and sse_async else "")
    if slow_start:
        route = "SSEProxySlowStart %ds\n" % SLOW_START_S + route
    return "ProxyTimeout 86400\n" + mpm + route


class Httpd:
    # h2: HTTP/2 clients (h2c, which every httpd of the benchmarks
    # speaks), with the shipped HTTP/2 settings (conf/examples/http2.conf)
    h2 = False

    def __init__(self, work, origin, sse, sse_async=True, slow_start=False,
                 h2=False, share=False):
        self.name = ("mod_proxy_http" if not sse else "mod_sse_proxy"
                     if sse_async else "mod_sse_proxy-sync")
        if slow_start:
            self.name += "-slowstart"
        if share:
            self.name += "-share"
        conf = httpd_conf(origin, sse, sse_async, slow_start, share)
        if h2:
            self.name += "-h2c"
            self.h2 = True
            conf = shipped_settings(TOP_SRC) + conf
        mpm = MPM_ASYNC if sse and sse_async else MPM
        self.h = harness.Httpd(work, conf, timeout=86400,
                               extra_modules=[("env_module", "mod_env.so")],
                               **mpm)
        # the access log would cost both setups the same; leave it out
        with open(self.h.conf_path) as f:
            text = f.read().replace('CustomLog "%s/access.log" sse'
                                    % self.h.root, "")
        text = text.replace("MinSpareThreads 1", "MinSpareThreads %d"
                            % (mpm["servers"] * mpm["threads"] // 2))
        with open(self.h.conf_path, "w") as f:
            f.write(text + "ListenBackLog 4096\n")
        self.h.start()
        self.port = self.h.port
        self.pgid = self.h.proc.pid

    def stop(self):
        self.h.stop()


NGINX_CONF = """
worker_processes 2;
worker_rlimit_nofile 200000;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 50000; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    upstream origin {{
        server 127.0.0.1:{origin_port};
        keepalive 1024;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location /events {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_cache off;
            proxy_read_timeout 86400s;
            proxy_send_timeout 86400s;
            gzip off;
        }}
    }}
}}
"""


class Nginx:
    name = "nginx"
    h2 = False

    def __init__(self, work, origin, h2=False):
        self.root = tempfile.mkdtemp(prefix="nginx-", dir=work)
        os.makedirs(os.path.join(self.root, "tmp"))
        self.port = harness.free_port()
        conf = os.path.join(self.root, "nginx.conf")
        with open(conf, "w") as f:
            text = NGINX_CONF.format(root=self.root, port=self.port,
                                     origin_port=origin.port)
            if h2:
                # nginx 1.22: "http2" on a listener without ssl is HTTP/2
                # with prior knowledge (h2c) only; 1.25.1 and later spell
                # it "http2 on;"
                self.name, self.h2 = "nginx-h2c", True
                text = text.replace("backlog=4096;", "backlog=4096 http2;")
            f.write(text)
        self.proc = subprocess.Popen(
            [NGINX, "-c", conf, "-p", self.root, "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self.pgid = self.proc.pid
        harness.wait_for(lambda: self._up(), what="nginx")

    def _up(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def stop(self):
        harness._kill(self.proc)


# ---------------------------------------------------------------------
# the client
# ---------------------------------------------------------------------
def load(port, path, streams, duration, mode="none", warmup=0, extra=(),
         timeline=None):
    out = tempfile.mktemp(prefix="load-", suffix=".json")
    cmd = [LOAD, "--port", str(port), "--path", path, "--streams",
           str(streams), "--duration", str(duration), "--mode", mode,
           "--warmup", str(warmup), "--quiet", "--json", out] + list(extra)
    if timeline:
        cmd += ["--timeline", timeline]
    res = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=duration + warmup + 600)
    if res.returncode != 0:
        raise RuntimeError("sse-load failed: %s\n%s" % (cmd, res.stderr))
    return read_json(out)


def read_json(path):
    with open(path) as f:
        doc = json.load(f)
    os.unlink(path)
    return doc


def measured(proxy, fn):
    """Runs fn() and returns (its result, the proxy's CPU seconds)."""
    before = group_usage(proxy.pgid)
    out = fn()
    after = group_usage(proxy.pgid)
    return out, after["cpu_s"] - before["cpu_s"]


# ---------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------
def make_proxies(work, origin, which):
    """Starts the proxies one at a time, as the caller iterates: only the
    one being measured runs, and an error stops it before the next."""
    for kind in which:
        if kind == "direct":
            yield Direct(work, origin)
        elif kind == "mod_sse_proxy":
            yield Httpd(work, origin, True)
        elif kind == "mod_sse_proxy-sync":
            yield Httpd(work, origin, True, sse_async=False)
        elif kind == "mod_sse_proxy-slowstart":
            yield Httpd(work, origin, True, slow_start=True)
        elif kind == "mod_sse_proxy-share":
            yield Httpd(work, origin, True, share=True)
        elif kind == "mod_proxy_http":
            yield Httpd(work, origin, False)
        elif kind == "nginx":
            yield Nginx(work, origin)
        elif kind == "mod_sse_proxy-h2c":
            yield Httpd(work, origin, True, h2=True)
        elif kind == "nginx-h2c":
            yield Nginx(work, origin, h2=True)


ALL = ["direct", "mod_sse_proxy", "mod_sse_proxy-sync", "mod_proxy_http",
       "nginx"]
# HTTP/2 clients (bench/h2_load.py), in the latency and concurrency
# scenarios
H2 = ["mod_sse_proxy-h2c", "nginx-h2c"]
# setups only some scenarios run (--proxies may name them too)
KNOWN = ALL + H2 + ["mod_sse_proxy-share", "mod_sse_proxy-slowstart"]
# --proxies: the setups the comparing scenarios run (all when empty)
PROXIES = []


def chosen(kinds):
    return [k for k in kinds if not PROXIES or k in PROXIES]


# HTTP/2 latency rows: the python client parses fewer events per second
H2_RATE = 10


def scenario_latency(work, q, rows):
    streams, duration = (100, 4) if q else (100, 20)
    origin = harness.Origin(work, "origin")
    try:
        for p in make_proxies(work, origin, chosen(ALL + H2)):
            try:
                rate = H2_RATE if p.name in H2 else 100
                log("latency: %s, %d streams x %d events/s, %d s"
                    % (p.name, streams, rate, duration))
                path = "/events?rate=%d&size=64" % rate
                if p.name in H2:
                    r, cpu = measured(p, lambda: h2_load.latency(
                        p.port, streams, duration, 1 if q else 2, path))
                else:
                    r, cpu = measured(p, lambda: load(
                        p.port, path, streams, duration,
                        warmup=1 if q else 2))
                lat = r["latency_us"]
                rows.append({"proxy": p.name, "streams": streams,
                             "rate": rate, "events": r["events"],
                             "p50_us": lat["p50"], "p99_us": lat["p99"],
                             "p999_us": lat["p999"], "max_us": lat["max"],
                             "proxy_cpu_s": round(cpu, 2)})
            finally:
                p.stop()
    finally:
        origin.stop()


def scenario_throughput(work, q, rows):
    duration = 2 if q else 10
    counts = [1000] if q else [10, 100, 1000]
    origin = harness.Origin(work, "origin")
    try:
        for p in make_proxies(work, origin, chosen(ALL)):
            try:
                for n in counts:
                    log("throughput: %s, %d streams, as fast as possible"
                        % (p.name, n))
                    r, cpu = measured(p, lambda: load(
                        p.port, "/events?rate=0&size=64", n, duration,
                        warmup=2 if q else 1))
                    if r["streams_established"] < n:
                        log("throughput: %s established %d of %d streams"
                            % (p.name, r["streams_established"], n))
                    ev = r["events"]
                    rows.append({"proxy": p.name, "streams": n,
                                 "events_per_s": round(r["events_per_sec"]),
                                 "established": r["streams_established"],
                                 "proxy_cpu_s": round(cpu, 2),
                                 "cpu_s_per_million_events":
                                     round(cpu / ev * 1e6, 2) if ev else None})
            finally:
                p.stop()
    finally:
        origin.stop()


def scenario_concurrency(work, q, rows):
    steps = [1000] if q else [1000, 2500, 5000, 10000]
    # HTTP/2: 90 streams a connection, each connection an MPM worker and
    # each stream an h2 worker (4 children x 25 threads, H2MaxWorkers
    # 1000 each)
    h2_steps = [450] if q else [900, 1800, 3600]
    hold = 3 if q else 10
    origin = harness.Origin(work, "origin")
    try:
        for p in make_proxies(work, origin, chosen(ALL[1:] + H2)):
            try:
                base = group_usage(p.pgid)
                for n in (steps if p.name not in H2 else h2_steps):
                    log("concurrency: %s, %d idle streams" % (p.name, n))
                    usage = {}

                    def run_h2():
                        r = h2_load.idle(p.port, n, hold,
                                         "/events?first_delay_ms=86400000")
                        usage.update(group_usage(p.pgid))
                        h2_load.close(r.pop("conns"))
                        # the streams' h2 workers end with them
                        time.sleep(2)
                        return r

                    def run():
                        # sample the proxy while the streams are held
                        out = tempfile.mktemp(prefix="load-", suffix=".json")
                        proc = subprocess.Popen(
                            [LOAD, "--port", str(p.port), "--path",
                             "/events?first_delay_ms=86400000", "--streams",
                             str(n), "--duration", str(hold), "--mode",
                             "none", "--quiet", "--connect-rate", "2000",
                             "--json", out])
                        time.sleep(n / 2000.0 + hold * 0.7)
                        usage.update(group_usage(p.pgid))
                        proc.wait(timeout=hold + 600)
                        return read_json(out)
                    r = run() if p.name not in H2 else run_h2()
                    est = r["streams_open_at_end"]
                    capped = r["streams_established"] < n
                    rows.append({
                        "proxy": p.name, "streams": n,
                        "established": r["streams_established"],
                        "open_at_end": est,
                        "threads": usage.get("threads"),
                        "pss_mib": round(usage.get("pss_kib", 0) / 1024, 1),
                        "kib_per_stream": round(
                            (usage.get("pss_kib", 0) - base["pss_kib"])
                            / est, 1) if est else None})
                    # a setup that could not hold this step (its threads
                    # are all taken) holds no more at the next ones
                    if capped:
                        break
            finally:
                p.stop()
    finally:
        origin.stop()


# (client mode, proxy) of the storm's runs; the last two have a slow
# start and shared streams
STORM_CASES = [("naive", "mod_proxy_http"), ("eventsource", "mod_proxy_http"),
               ("eventsource", "mod_sse_proxy"),
               ("eventsource", "mod_sse_proxy-slowstart"),
               ("eventsource", "mod_sse_proxy-share")]


def origin_peak(origin, back_at):
    """The stream requests the origin got once it was back (at back_at,
    on the monotonic clock its log uses): the most in one second, and
    how many in the first 10 s."""
    per_s = {}
    for req in origin.requests():
        t = req["ms"] / 1000.0 - back_at
        if t >= 0 and req.get("path", "").startswith("/events"):
            per_s[int(t)] = per_s.get(int(t), 0) + 1
    return (max(per_s.values(), default=0),
            sum(n for s, n in per_s.items() if s < 10))


def scenario_storm(work, q, rows, timelines):
    clients, outage, after = (100, 4, 6) if q else (1000, 30, 33)
    settle = 3 if q else 10
    for mode, kind in STORM_CASES:
        if not chosen([kind]):
            continue
        origin = harness.Origin(work, "origin")
        p = next(make_proxies(work, origin, [kind]))
        try:
            label = "%s clients behind %s" % (mode, kind)
            log("storm: %s, %d clients, origin down %d s" % (label, clients,
                                                             outage))
            tl = os.path.join(work, "timeline-%s-%s.csv" % (mode, kind))
            path = "/events?rate=1&size=32"

            def run():
                out = tempfile.mktemp(prefix="load-", suffix=".json")
                proc = subprocess.Popen(
                    [LOAD, "--port", str(p.port), "--path", path,
                     "--streams", str(clients), "--duration",
                     str(settle + outage + after), "--mode", mode, "--quiet",
                     "--timeline", tl, "--connect-rate", "500",
                     "--json", out])
                time.sleep(clients / 500.0 + settle)
                before = origin.stats()["total_requests"]
                origin.control(mode="down", for_ms=outage * 1000)
                t0 = time.monotonic()
                time.sleep(outage)

                def origin_up():
                    try:
                        return origin.stats()
                    except OSError:
                        return None
                during = harness.wait_for(origin_up, timeout=30)["total_requests"] - before
                # the streams the origin holds once the crowd is back
                time.sleep(max(after - 3, 0))
                streams = origin.stats()["open_streams"]
                proc.wait(timeout=outage + after + 600)
                return read_json(out), during, t0, streams
            (r, origin_reqs, t0, origin_streams), cpu = measured(p, run)
            with open(tl) as f:
                series = list(csv.DictReader(f))
            timelines[label] = series
            shutil.copy(tl, os.path.join(HERE, "results", "storm-timeline-%s-%s.csv"
                                         % (mode, kind)))
            start_idx = int(clients / 500.0 + settle)
            outage_rows = series[start_idx:start_idx + outage]
            peak = max((int(x["requests_sent_in_second"]) for x in series[start_idx:]),
                       default=0)
            reqs_outage = sum(int(x["requests_sent_in_second"])
                              for x in outage_rows)
            recovered_at = None
            for i, x in enumerate(series[start_idx + outage:]):
                if int(x["clients_streaming"]) >= 0.95 * clients:
                    recovered_at = i
                    break
            es = r.get("eventsource", {})
            back = origin_peak(origin, t0 + outage)
            rows.append({
                "clients": label, "n": clients, "outage_s": outage,
                "requests_to_proxy_during_outage": reqs_outage,
                "requests_to_origin_during_outage": origin_reqs,
                "peak_requests_per_s": peak,
                "origin_peak_requests_per_s_after_return": back[0],
                "origin_requests_first_10s_after_return": back[1],
                "streaming_at_end_pct": round(
                    100.0 * es.get("clients_streaming_at_end",
                                   r["streams_open_at_end"]) / clients, 1),
                "s_until_95pct_streaming": recovered_at,
                "failed_for_good": es.get("failed_for_good", 0),
                "lost_events": r.get("gaps", 0),
                "duplicates": r.get("duplicates", 0),
                "origin_streams_open_near_end": origin_streams,
                "proxy_cpu_s": round(cpu, 2)})
        finally:
            p.stop()
            origin.stop()


# ---------------------------------------------------------------------
# report
# ---------------------------------------------------------------------
def num(v):
    """A CSV cell back as a number where it is one."""
    if v in ("", None):
        return None
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def write_csv(path, rows):
    if not rows:
        return
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def md_table(rows, cols=None):
    if not rows:
        return "(not run)\n"
    cols = cols or list(rows[0])
    out = ["| " + " | ".join(cols) + " |",
           "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        out.append("| " + " | ".join("" if r.get(c) is None else str(r.get(c))
                                     for c in cols) + " |")
    return "\n".join(out) + "\n"


def ratio(a, b):
    return round(a / b, 2) if a and b else None


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    def ver(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"
    return ("%d cores (%s), %.0f GiB, %s %s; %s; %s" %
            (os.cpu_count(), cpu, mem, platform.system(), platform.release(),
             ver([harness.HTTPD, "-v"]),
             ver([NGINX, "-v"]) if os.path.exists(NGINX)
             else "nginx not installed"))


def plot(outdir, name, title, xlabel, ylabel, series, logy=False,
         kept=False):
    """series: {label: [(x, y), ...]} -> docs/img/<name>.png via gnuplot.
    kept: the data is a previous run's, so without gnuplot the picture
    already drawn from it still stands."""
    gp = shutil.which("gnuplot")
    if not gp and kept and os.path.exists(os.path.join(outdir,
                                                       name + ".png")):
        return "img/%s.png" % name
    if not gp or not series:
        return None
    os.makedirs(outdir, exist_ok=True)
    data = tempfile.mkdtemp(prefix="plot-")
    cmds = ["set terminal pngcairo size 900,450 font 'sans,10'",
            "set output '%s'" % os.path.join(outdir, name + ".png"),
            "set title '%s'" % title, "set xlabel '%s'" % xlabel,
            "set ylabel '%s'" % ylabel, "set key outside right top",
            "set termoption noenhanced", "set grid"]
    if logy:
        cmds.append("set logscale y")
    plots = []
    for i, (label, pts) in enumerate(series.items()):
        fn = os.path.join(data, "%d.dat" % i)
        with open(fn, "w") as f:
            for x, y in pts:
                if y is not None:
                    f.write("%s %s\n" % (x, y))
        plots.append("'%s' using 1:2 with linespoints title '%s'" % (fn, label))
    cmds.append("plot " + ", ".join(plots))
    subprocess.run([gp], input="\n".join(cmds), text=True, check=False)
    shutil.rmtree(data, ignore_errors=True)
    return "img/%s.png" % name


def goal_rows(results):
    """The performance goals, as ratios of this run's figures: memory per
    idle stream and CPU per event against nginx's, events/s at least
    nginx's, added latency against mod_proxy_http's and nginx's."""
    rows = []

    def row(measure, ours, theirs, goal, higher_is_better=False):
        r = ratio(ours, theirs)
        met = None if r is None else (r >= 1 if higher_is_better
                                      else r <= goal)
        rows.append({"measure": measure, "mod_sse_proxy": ours,
                     "other": theirs, "ratio": r,
                     "goal": ("at least 1" if higher_is_better
                              else "at most %s" % goal),
                     "met": {None: "", True: "yes", False: "no"}[met]})

    con = {(r["proxy"], r["streams"]): r
           for r in results.get("concurrency", [])}
    n = max([k[1] for k in con if k[0] == "mod_sse_proxy"] or [0])
    if n:
        row("KiB per idle stream, %d streams, vs nginx" % n,
            con[("mod_sse_proxy", n)].get("kib_per_stream"),
            con.get(("nginx", n), {}).get("kib_per_stream"), 2)
    thr = {(r["proxy"], r["streams"]): r
           for r in results.get("throughput", [])}
    for n in sorted(k[1] for k in thr if k[0] == "mod_sse_proxy"):
        ours, nginx = thr[("mod_sse_proxy", n)], thr.get(("nginx", n), {})
        row("CPU s per million events, %d streams, vs nginx" % n,
            ours.get("cpu_s_per_million_events"),
            nginx.get("cpu_s_per_million_events"), 1)
        row("events/s, %d streams, vs nginx" % n,
            ours.get("events_per_s"), nginx.get("events_per_s"), 1,
            higher_is_better=True)
    lat = {r["proxy"]: r for r in results.get("latency", [])}
    if "mod_sse_proxy" in lat and "added_p50_us" in lat["mod_sse_proxy"]:
        for q in ("p50", "p99"):
            for other in ("mod_proxy_http", "nginx"):
                row("added latency %s (µs) vs %s" % (q, other),
                    lat["mod_sse_proxy"].get("added_%s_us" % q),
                    lat.get(other, {}).get("added_%s_us" % q), 1)
    return rows


def report(args, results, timelines, started, ran=None):
    docs = os.path.join(TOP_SRC, "docs")
    img = os.path.join(docs, "img")
    partial = ran is not None and set(ran) != set(results)

    def kept(name):
        return ran is not None and name not in ran
    head = "Produced by `%s` (%s mode) on %s, started %s." % (
        "BENCH_QUICK=1 make bench" if args.quick else "make bench",
        "quick" if args.quick else "full", machine(), started)
    if partial:
        # the sections kept were produced by an earlier run: its line stays
        try:
            with open(os.path.join(docs, "benchmarks.md")) as f:
                head = next((l.rstrip("\n") for l in f
                             if l.startswith("Produced by ")), head)
        except OSError:
            pass
    lines = ["# Benchmarks", "", head,
             "This machine is shared and noisy: compare ratios within one "
             "run, not absolute numbers across runs. Raw numbers: "
             "`bench/results/*.csv`.", ""]
    if partial:
        lines += ["This report was regenerated by `%s` (%s mode), "
                  "which re-ran %s on %s, started %s; the other sections "
                  "are the previous run's results, kept in "
                  "`bench/results/`." %
                  (command_line(args), "quick" if args.quick else "full",
                   ", ".join(ran), machine(), started), ""]
    lines += [
             "Setups, all relaying the same `sse-origin` on 127.0.0.1:",
             "",
             "* **direct**: the client talks to the origin;",
             "* **mod_sse_proxy**: httpd 2.4 event MPM + this module "
             "(`SSEProxy On`, heartbeats every 15 s), streams waiting "
             "without a thread (`SSEProxyAsync On`, the default): %d "
             "children x %d threads (httpd's stock ThreadsPerChild), "
             "`AsyncRequestWorkerFactor %d`;"
             % (MPM_ASYNC["servers"], MPM_ASYNC["threads"], ASYNC_FACTOR),
             "* **mod_sse_proxy-sync**: the same with `SSEProxyAsync Off`, "
             "one worker thread per stream;",
             "* **mod_proxy_http**: the same httpd and MPM as mod_sse_proxy-sync, stock "
             "mod_proxy_http with `flushpackets=on`, `timeout=86400` and "
             "`no-gzip` (its best SSE configuration);",
             "* **nginx**: `proxy_buffering off`, HTTP/1.1 keep-alive "
             "upstream, 24 h read timeout, 2 workers.", "",
             "mod_sse_proxy-sync and mod_proxy_http: %d children x %d "
             "threads = %d workers."
             % (MPM["servers"], MPM["threads"],
                MPM["servers"] * MPM["threads"]), ""]

    goals_at = len(lines)
    lat = results.get("latency", [])
    if lat:
        h2 = [r for r in lat if r["proxy"] in H2]
        lat = [r for r in lat if r["proxy"] not in H2]
        base = {r["proxy"]: r for r in lat}.get("direct")
        for r in lat:
            if base and r["proxy"] != "direct":
                for k in ("p50_us", "p99_us", "p999_us"):
                    r["added_" + k] = round(r[k] - base[k], 1)
        lines += ["## 1. Latency: 100 streams x 100 events/s", "",
                  "Per-event latency from the origin's send timestamp to "
                  "the client's parser (µs); *added* is over direct.", "",
                  md_table(lat, ["proxy", "events", "p50_us", "p99_us",
                                 "p999_us", "max_us", "added_p50_us",
                                 "added_p99_us", "added_p999_us",
                                 "proxy_cpu_s"])]
        if h2:
            hb = {r["proxy"]: r for r in h2}
            lines += ["Over HTTP/2 (h2c with prior knowledge, 100 streams "
                      "on 2 connections, %d events/s each: the client is "
                      "python h2, `bench/h2_load.py`, slower than sse-load, "
                      "so compare these rows with each other only). "
                      "mod_sse_proxy has the settings of "
                      "`conf/examples/http2.conf`." % H2_RATE, "",
                      md_table(h2, ["proxy", "rate", "events", "p50_us",
                                    "p99_us", "p999_us", "max_us",
                                    "proxy_cpu_s"]),
                      "Ratios over HTTP/2, mod_sse_proxy-h2c / nginx-h2c: "
                      "p50 %s, p99 %s, CPU %s.\n" % (
                          ratio(hb.get("mod_sse_proxy-h2c", {}).get("p50_us"),
                                hb.get("nginx-h2c", {}).get("p50_us")),
                          ratio(hb.get("mod_sse_proxy-h2c", {}).get("p99_us"),
                                hb.get("nginx-h2c", {}).get("p99_us")),
                          ratio(hb.get("mod_sse_proxy-h2c", {})
                                .get("proxy_cpu_s"),
                                hb.get("nginx-h2c", {}).get("proxy_cpu_s")))]
        by = {r["proxy"]: r for r in lat}
        if "mod_sse_proxy" in by:
            s = by["mod_sse_proxy"]
            lines.append("Ratios of added p99 latency: mod_sse_proxy / "
                         "mod_sse_proxy-sync = %s, mod_sse_proxy / nginx "
                         "= %s, mod_sse_proxy / mod_proxy_http = %s.\n"
                         % (ratio(s.get("added_p99_us"),
                                  by.get("mod_sse_proxy-sync", {})
                                  .get("added_p99_us")),
                            ratio(s.get("added_p99_us"),
                                  by.get("nginx", {}).get("added_p99_us")),
                            ratio(s.get("added_p99_us"),
                                  by.get("mod_proxy_http", {}).get("added_p99_us"))))
    thr = results.get("throughput", [])
    if thr:
        lines += ["## 2. Throughput at saturation", "",
                  "Origin sending as fast as the socket accepts (64-byte "
                  "pads); events/s counted by the client; CPU seconds of "
                  "the proxy's processes per million events.", "",
                  md_table(thr)]
        series = {}
        for r in thr:
            series.setdefault(r["proxy"], []).append((r["streams"],
                                                      r["events_per_s"]))
        pic = plot(img, "bench-throughput", "Events/s at saturation",
                   "streams", "events/s", series, kept=kept("throughput"))
        if pic:
            lines.append("![throughput](%s)\n" % pic)
        by = {(r["proxy"], r["streams"]): r for r in thr}
        ratios = []
        for n in sorted({r["streams"] for r in thr}):
            s = by.get(("mod_sse_proxy", n), {})
            ratios.append("%d streams: events/s vs nginx %s, vs mod_proxy_http "
                          "%s; CPU/event vs nginx %s" % (
                              n, ratio(s.get("events_per_s"),
                                       by.get(("nginx", n), {}).get("events_per_s")),
                              ratio(s.get("events_per_s"),
                                    by.get(("mod_proxy_http", n), {}).get("events_per_s")),
                              ratio(s.get("cpu_s_per_million_events"),
                                    by.get(("nginx", n), {}).get("cpu_s_per_million_events"))))
        lines.append("Ratios (mod_sse_proxy / other): " + "; ".join(ratios) + ".\n")
    con = results.get("concurrency", [])
    if con:
        lines += ["## 3. Concurrency: idle streams", "",
                  "Streams opened at 2,000/s and held silent (the origin "
                  "sends nothing; mod_sse_proxy sends heartbeats). "
                  "`threads` and `pss_mib` are summed over the proxy's "
                  "processes; `kib_per_stream` is the PSS growth over the "
                  "idle proxy divided by the open streams. The -h2c rows "
                  "are HTTP/2 clients (`bench/h2_load.py`, 90 streams a "
                  "connection, after short requests that let mod_http2 run "
                  "that many; the origin sends nothing and neither proxy "
                  "sends heartbeats within the hold): each stream keeps "
                  "an h2 worker thread and each connection an MPM worker "
                  "(docs/architecture.md, \"HTTP/2 streams\").", "",
                  md_table(con)]
        series = {}
        for r in con:
            series.setdefault(r["proxy"], []).append((r["streams"],
                                                      r["open_at_end"]))
        pic = plot(img, "bench-concurrency", "Idle streams held",
                   "streams requested", "streams open", series,
                   kept=kept("concurrency"))
        if pic:
            lines.append("![concurrency](%s)\n" % pic)
    st = results.get("storm", [])
    if st:
        lines += ["## 4. Reconnect storm", "",
                  "Clients streaming at 1 event/s; the origin goes down "
                  "(connections refused) and comes back. *naive* clients "
                  "reconnect every second whatever happens (the design "
                  "note's \"before\"); *eventsource* clients follow the "
                  "WHATWG rules (obey `retry:`, send `Last-Event-ID`, fail "
                  "for good on a non-200 or non-event-stream answer, stop "
                  "on 204). Requests to the origin during the outage are "
                  "the ones that reached it (its own count). The fourth run "
                  "adds `SSEProxySlowStart %ds`: the origin, the only "
                  "member, takes a share of the returning crowd that grows "
                  "over that window, and the rest are told to come back; "
                  "the fifth adds `SSEProxyShare On` instead (all clients "
                  "ask for the same URL: one backend stream per child, "
                  "the default replay ring). "
                  "`origin_peak_requests_per_s_after_return` is the most "
                  "stream requests the origin got in one second once it was "
                  "back (its log); `origin_streams_open_near_end` the "
                  "streams it held 3 s before the end." % SLOW_START_S, "",
                  md_table(st)]
        series = {}
        for label, tl in timelines.items():
            series[label] = [(int(x["t_s"]), int(x["clients_streaming"]))
                             for x in tl]
        pic = plot(img, "bench-storm-streaming", "Clients streaming over time",
                   "seconds", "clients streaming", series,
                   kept=kept("storm"))
        if pic:
            lines.append("![storm](%s)\n" % pic)
        series = {label: [(int(x["t_s"]), int(x["requests_sent_in_second"]))
                          for x in tl] for label, tl in timelines.items()}
        pic = plot(img, "bench-storm-requests", "Requests per second",
                   "seconds", "requests/s", series, kept=kept("storm"))
        if pic:
            lines.append("![storm requests](%s)\n" % pic)
        notes = os.path.join(HERE, "results", "storm-notes.md")
        if os.path.exists(notes):
            with open(notes) as f:
                lines.append(f.read().strip() + "\n")
    lines += fleet_section(results.get("fleet", []))
    lines += fairness.report_section(results)
    lines += broadcast.report_section(results, md_table, HERE)
    # bench/h2_floor.py's table, as its last run wrote it
    floor = os.path.join(HERE, "results", "h2-floor-notes.md")
    if os.path.exists(floor):
        with open(floor) as f:
            lines += ["", f.read()]
    goals = goal_rows(results)
    if goals:
        lines[goals_at:goals_at] = ["## Goals", "",
                  "The performance goals, as ratios within this report "
                  "(mod_sse_proxy, streams waiting without a thread, over "
                  "the other; an event's added latency is over direct). "
                  "nginx's figures at 1,000 saturating streams are for the "
                  "streams it established (its `established` in section "
                  "2).", "",
                  md_table(goals, ["measure", "mod_sse_proxy", "other",
                                   "ratio", "goal", "met"])]
    with open(os.path.join(docs, "benchmarks.md"), "w") as f:
        f.write("\n".join(lines))
        if os.path.exists(os.path.join(HERE, "analysis.md")):
            with open(os.path.join(HERE, "analysis.md")) as a:
                f.write("\n" + a.read())


SCENARIOS = ["latency", "throughput", "concurrency", "storm", "fleet",
             "slowreaders", "newcomers", "broadcast"]
# the fairness scenarios compare the module with the other proxies
FAIR = ["mod_sse_proxy", "mod_sse_proxy-sync", "mod_proxy_http", "nginx"]


def command_line(args):
    """How this run can be repeated."""
    cmd = "bench/run.py"
    if args.quick:
        cmd = "BENCH_QUICK=1 " + cmd
    if args.only != ",".join(SCENARIOS):
        cmd += " --only " + args.only
    return cmd


def fleet_section(rows):
    if not rows:
        return []
    try:
        with open(os.path.join(HERE, "results", "fleet-run.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        meta = {}
    r0 = rows[0]
    out = ["## 5. Fleet storm: three nodes, with and without shared member "
           "state", "",
           "%d httpd nodes (event MPM, %d children x %d threads, "
           "`AsyncRequestWorkerFactor %d`, the same configuration each: "
           "`balancer://b` of one sse-origin with `ProxySet "
           "forcerecovery=Off`, `SSEProxy On` on `/events`) with %d "
           "EventSource clients each (sse-load `--mode eventsource`, one "
           "process per node, streams at 1 event/s), the origin down "
           "(mode `down`: connections refused) for %s s. Run twice: each "
           "node on its own member state, then the three sharing it "
           "through one redis-server (`SSEProxyStateCache "
           "redis:127.0.0.1:PORT`, `RedisTimeout 50ms`)."
           % (r0["nodes"], fleet_storm.SERVERS, fleet_storm.THREADS,
              fleet_storm.ASYNC_FACTOR, r0["clients_per_node"],
              r0["outage_s"]), "",
           "* *origin probes*: connection attempts the nodes made to the "
           "origin's port while it refused them. The origin cannot count "
           "them (its listening socket is closed), so they are counted "
           "where they are made: mod_proxy logs every `connect()` that "
           "fails (AH00957, `(111)Connection refused`), once per attempt "
           "(total and per node). *sse00002* is the module's own \"cannot "
           "connect\" count, for comparison: it can be higher, as a "
           "request that picked the member just before another child put "
           "it in error is refused by mod_proxy without a `connect()`. "
           "*requests_reaching_origin* are the origin's own REQ lines over "
           "the outage (0 expected);",
           "* *requests to the nodes*: access-log lines whose request was "
           "received (`%{msec}t`) between the origin's CONTROL lines for "
           "down and back; *retry answers* are those the module answered "
           "itself with a `retry:` hint (no member available);",
           "* *backoff decisions*: SSE00030 lines over the outage;",
           "* *s until 95% streaming*: from the origin's return (its "
           "CONTROL line) until 95% of all clients have a stream open at "
           "the origin (its STREAM and CLOSE lines, ms resolution); "
           "*_clients* is the same read from the clients' timelines (1 s "
           "resolution).", "",
           md_table(rows)]
    by = {("with" if "with shared" in r["run"] else "without"): r
          for r in rows}
    w, wo = by.get("with"), by.get("without")
    if w and wo:
        def rr(k):
            v = ratio(w.get(k), wo.get(k))
            return "%s (%s / %s)" % (v, w.get(k), wo.get(k))
        out.append("Ratios with / without shared state: origin probes %s, "
                   "requests to the nodes %s, backoff decisions %s, "
                   "seconds until 95%% streaming %s.\n"
                   % (rr("origin_probes_during_outage"),
                      rr("requests_to_nodes_during_outage"),
                      rr("backoff_decisions_during_outage"),
                      rr("s_until_95pct_streaming")))
    if meta:
        out.append("Command: `%s` (%s mode), started %s; module sha256 "
                   "%s… built %s on top of %s with uncommitted changes. "
                   "Load average before and after: %s, %s. The machine "
                   "has 2 cores and is shared (other builds "
                   "and tests ran at the same time): the three nodes, "
                   "the origin, redis and the three clients all share "
                   "those 2 cores, so compare the two runs' ratios, not "
                   "absolute numbers. Per-second probes and requests: "
                   "`bench/results/fleet-timeline-{without,with}.csv`.\n"
                   % (meta.get("command"), meta.get("mode"),
                      meta.get("started"),
                      (meta.get("module_sha256") or "?")[:12],
                      meta.get("module_mtime"), meta.get("git_head"),
                      " ".join(meta.get("loadavg_before", [])),
                      " ".join(meta.get("loadavg_after", []))))
    # what the run showed, written by whoever ran it (a re-run removes it)
    notes = os.path.join(HERE, "results", "fleet-notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            out.append(f.read().strip() + "\n")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true",
                    default=bool(os.environ.get("BENCH_QUICK")))
    ap.add_argument("--only", default=os.environ.get("BENCH_ONLY") or
                    ",".join(SCENARIOS))
    ap.add_argument("--proxies", default=os.environ.get("BENCH_PROXIES", ""),
                    help="comma-separated setups for the scenarios that "
                    "compare them (%s); the CSVs they write then hold only "
                    "those" % ",".join(KNOWN))
    args = ap.parse_args()
    PROXIES[:] = [k for k in args.proxies.split(",") if k]
    if set(PROXIES) - set(KNOWN):
        sys.exit("unknown setup(s): %s (known: %s)"
                 % (", ".join(sorted(set(PROXIES) - set(KNOWN))),
                    ", ".join(KNOWN)))
    unknown = set(args.only.split(",")) - set(SCENARIOS)
    if unknown:
        sys.exit("unknown scenario(s): %s (known: %s)"
                 % (", ".join(sorted(unknown)), ", ".join(SCENARIOS)))
    if not os.path.exists(LOAD):
        sys.exit("build sse-load first (make bench builds it)")
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    started = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC")
    work = harness.workdir()
    results, timelines = {}, {}
    outdir = os.path.join(HERE, "results")
    os.makedirs(outdir, exist_ok=True)
    try:
        for name in args.only.split(","):
            rows = results.setdefault(name, [])
            if name == "latency":
                scenario_latency(work, args.quick, rows)
            elif name == "throughput":
                scenario_throughput(work, args.quick, rows)
            elif name == "concurrency":
                scenario_concurrency(work, args.quick, rows)
            elif name == "storm":
                scenario_storm(work, args.quick, rows, timelines)
            elif name == "fleet":
                fleet_storm.scenario_fleet(work, args.quick, rows, outdir,
                                           command_line(args))
            elif name == "slowreaders":
                fairness.scenario_slowreaders(work, args.quick, rows,
                                              make_proxies, load, log, chosen(FAIR))
            elif name == "newcomers":
                fairness.scenario_newcomers(work, args.quick, rows,
                                            make_proxies, LOAD, log, chosen(FAIR))
            elif name == "broadcast":
                broadcast.scenario_broadcast(work, args.quick, rows,
                                             make_proxies, LOAD, read_json,
                                             log, chosen)
            write_csv(os.path.join(outdir, name + ".csv"), rows)
            log("%s done: %s" % (name, json.dumps(rows)))
    finally:
        harness.remove_workdir(work)
    # scenarios not run this time keep their last results in the report
    for name in SCENARIOS:
        path = os.path.join(outdir, name + ".csv")
        if name not in results and os.path.exists(path):
            with open(path) as f:
                results[name] = [{k: num(v) for k, v in row.items()}
                                 for row in csv.DictReader(f)]
    if "storm" in results and not timelines:
        for mode, kind in STORM_CASES:
            path = os.path.join(outdir, "storm-timeline-%s-%s.csv" % (mode, kind))
            if os.path.exists(path):
                with open(path) as f:
                    timelines["%s clients behind %s" % (mode, kind)] = \
                        list(csv.DictReader(f))
    report(args, results, timelines, started, ran=args.only.split(","))
    log("wrote docs/benchmarks.md and bench/results/")


if __name__ == "__main__":
    main()
