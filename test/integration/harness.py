# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Real processes for the integration tests: an httpd with the built
module, sse-origin instances, and small raw-socket clients.

Every process runs in its own process group and is stopped by the test
that started it (and by atexit, should a test die); ports are taken from
the kernel (bind to port 0) so parallel runs cannot collide.
"""
import atexit
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.request

TOP_BUILDDIR = os.path.abspath(os.environ.get("top_builddir", "."))
TOP_SRCDIR = os.path.abspath(os.environ.get("top_srcdir", "."))
HTTPD = os.environ.get("HTTPD", "/usr/sbin/apache2")
MODULES_DIR = os.environ.get("APXS_LIBEXECDIR", "/usr/lib/apache2/modules")
SSE_MODULE = os.path.join(TOP_BUILDDIR, "mod_sse_proxy/.libs/mod_sse_proxy.so")
ORIGIN_BIN = os.path.join(TOP_BUILDDIR, "test/origin/sse-origin")

_live = []


def _cleanup_all():
    for proc in list(_live):
        _kill(proc)


atexit.register(_cleanup_all)


def _kill(proc, sig=signal.SIGTERM, wait=10):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    if proc in _live:
        _live.remove(proc)


def httpd_env():
    """httpd's environment: in a sanitizer build the runtimes are
    preloaded so that httpd can load the instrumented module."""
    env = dict(os.environ)
    preload = os.environ.get("SSE_HTTPD_PRELOAD", "").strip()
    if preload:
        env["LD_PRELOAD"] = preload
        # httpd frees its pools at exit only in part: leaks are not ours
        env["ASAN_OPTIONS"] = "detect_leaks=0:halt_on_error=1"
        env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


def monotonic_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


class Origin:
    """One sse-origin process; a given port lets a killed origin come
    back where its proxy expects it."""

    def __init__(self, workdir, name="origin", port=0):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=name + "-", dir=workdir)
        self.port_file = os.path.join(self.dir, "port")
        self.log_path = os.path.join(self.dir, "origin.log")
        with open(os.path.join(self.dir, "stderr"), "w") as err:
            self.proc = subprocess.Popen(
                [ORIGIN_BIN, "--port", str(port), "--port-file", self.port_file,
                 "--log", self.log_path, "--name", name],
                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        _live.append(self.proc)
        self.port = int(wait_for(self._read_port, what=name + " port"))
        self.url = "http://127.0.0.1:%d" % self.port

    def _read_port(self):
        try:
            with open(self.port_file) as f:
                return f.read().strip() or None
        except FileNotFoundError:
            return None

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=5) as resp:
            return resp.read().decode()

    def stats(self):
        return json.loads(self.get("/stats"))

    def control(self, **params):
        query = "&".join("%s=%s" % kv for kv in params.items())
        return json.loads(self.get("/control?" + query))

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def lines(self, word):
        """The key=value fields (and "ms", the time) of the origin log's
        lines of one kind: "REQ", "CLOSE", "BODY", "LLM" ..."""
        out = []
        for line in self.log():
            parts = line.split(" ")
            if len(parts) > 2 and parts[1] == word:
                fields = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
                fields["ms"] = int(parts[0])
                out.append(fields)
        return out

    def requests(self):
        return self.lines("REQ")

    def closes(self):
        return self.lines("CLOSE")

    def stop(self):
        _kill(self.proc)


REDIS_BIN = shutil.which("redis-server") or "/usr/bin/redis-server"


class Redis:
    """One redis-server on 127.0.0.1, without persistence, for a fleet's
    shared store (SSEProxyStateCache redis:...).  stop() kills it, as a
    crash would; restart() brings it back, empty, on the same port."""

    def __init__(self, workdir, port=0):
        self.dir = tempfile.mkdtemp(prefix="redis-", dir=workdir)
        self.log_path = os.path.join(self.dir, "redis.log")
        self.port = port or free_port()
        self.spec = "redis:127.0.0.1:%d" % self.port
        self.proc = None
        self.start()

    def start(self):
        with open(os.path.join(self.dir, "stdout"), "a") as out:
            self.proc = subprocess.Popen(
                [REDIS_BIN, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", self.dir,
                 "--logfile", self.log_path],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _live.append(self.proc)

        def answers():
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited:\n" + self.log())
            return self.ping()
        wait_for(answers, what="redis-server on port %d" % self.port)
        return self

    def ping(self):
        """True when the server answers PING with +PONG."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.5) as s:
                s.settimeout(0.5)
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def command(self, *args):
        """One command (arguments as str or bytes) on a new connection;
        the reply as Python values: bytes, int, None, lists, or an
        AssertionError for an error reply."""
        parts = [a if isinstance(a, bytes) else str(a).encode()
                 for a in args]
        req = b"*%d\r\n" % len(parts) + b"".join(
            b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
        with socket.create_connection(("127.0.0.1", self.port), 2) as s:
            s.settimeout(2)
            s.sendall(req)
            f = s.makefile("rb")
            return self._reply(f)

    def _reply(self, f):
        line = f.readline()
        if not line.endswith(b"\r\n"):
            raise EOFError("redis reply cut short")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise AssertionError("redis: " + rest.decode("latin-1"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else f.read(n + 2)[:n]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply(f) for _ in range(n)]
        raise AssertionError("redis: unexpected reply %r" % line)

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc:
            _kill(self.proc, signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()


BASE_MODULES = [
    ("authz_core_module", "mod_authz_core.so"),
    ("authz_host_module", "mod_authz_host.so"),
    ("filter_module", "mod_filter.so"),
    ("deflate_module", "mod_deflate.so"),
    ("headers_module", "mod_headers.so"),
    ("proxy_module", "mod_proxy.so"),
    ("proxy_http_module", "mod_proxy_http.so"),
    ("slotmem_shm_module", "mod_slotmem_shm.so"),
    ("proxy_balancer_module", "mod_proxy_balancer.so"),
    ("lbmethod_byrequests_module", "mod_lbmethod_byrequests.so"),
    # SSEProxySessionHeader's default store (and mod_ssl's session cache)
    ("socache_shmcb_module", "mod_socache_shmcb.so"),
    ("http2_module", "mod_http2.so"),
]

ASYNC = os.environ.get("SSE_TEST_ASYNC", "on")

BASE_CONF = """\
ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{root}/httpd.pid"
DefaultRuntimeDir "{root}/run"
Mutex file:{root}/run default
ErrorLog "{root}/error.log"
LogLevel {loglevel}
LogFormat "%h %>s %{{sse-end}}n events=%{{sse-events}}n %r" sse
CustomLog "{root}/access.log" sse
{modules}
LoadModule sse_proxy_module "{sse_module}"
{user}
Timeout {timeout}
StartServers {servers}
# room for a graceful restart's new children while the old ones end
# their streams
ServerLimit {server_limit}
ThreadsPerChild {threads}
MaxRequestWorkers {max_workers}
MinSpareThreads 1
MaxSpareThreads {max_workers}
ThreadLimit {threads}
Protocols h2c http/1.1
GracefulShutdownTimeout 10
# Streams wait without a thread (on) or each keeps one (off); the suite
# runs in both modes.
SSEProxyAsync {sse_async}
"""


# With Httpd(tls=True): mod_ssl, and the listener's TLS settings, which go after
# BASE_CONF and before the test's configuration.
TLS_MODULES = [("ssl_module", "mod_ssl.so")]

TLS_CONF = """\
# TLS (Httpd(tls=True)): a self-signed certificate for 127.0.0.1 and
# localhost; HTTP/2 by ALPN, HTTP/1.1 otherwise.  Protocols adds to the
# list above (h2c http/1.1 h2 http/1.1), whose order the server would
# honour, choosing http/1.1 over h2: the client's order decides instead
# (h2 first for browsers and curl --http2).
SSLSessionCache "shmcb:{root}/run/ssl_scache(512000)"
SSLEngine on
SSLCertificateFile "{cert}"
SSLCertificateKeyFile "{key}"
Protocols h2 http/1.1
ProtocolsHonorOrder off
"""

# Error-log lines a TLS httpd may log at warn and above.
TLS_BENIGN = [
    r"AH01882",   # mod_ssl built against a newer OpenSSL 3.0.x than loaded
]


def self_signed_cert(directory):
    """A self-signed certificate (and its key) for 127.0.0.1 and
    localhost, made with the openssl CLI: (cert path, key path)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
         "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-addext", "basicConstraints=critical,CA:FALSE"],
        check=True, capture_output=True)
    return cert, key


class Httpd:
    """An httpd (event MPM unless told otherwise) running the built module
    with the given configuration appended to a base.  With tls=True its
    listener speaks TLS (a fresh self-signed certificate in its root) and
    HTTP/2 by ALPN, and url is https://127.0.0.1:PORT."""

    def __init__(self, workdir, conf, timeout=30, loglevel="warn",
                 servers=1, threads=32, extra_modules=(), mpm="event",
                 tls=False):
        self.root = tempfile.mkdtemp(prefix="httpd-", dir=workdir)
        os.makedirs(os.path.join(self.root, "run"))
        os.chmod(self.root, 0o755)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.tls = tls
        if tls:
            self.url = "https://127.0.0.1:%d" % self.port
            self.cert, self.key = self_signed_cert(self.root)
            self.BENIGN = list(type(self).BENIGN) + TLS_BENIGN
            extra_modules = TLS_MODULES + list(extra_modules)
        # each module once: httpd warns of a second LoadModule
        wanted = {}
        for name, so in ([("mpm_%s_module" % mpm, "mod_mpm_%s.so" % mpm)]
                         + list(BASE_MODULES) + list(extra_modules)):
            wanted.setdefault(name, so)
        modules = "\n".join('LoadModule %s "%s/%s"' % (name, MODULES_DIR, so)
                            for name, so in wanted.items())
        user = ""
        if os.geteuid() == 0:
            user = "User nobody\nGroup nogroup"
        self.conf_path = os.path.join(self.root, "httpd.conf")
        text = BASE_CONF.format(
            root=self.root, port=self.port, loglevel=loglevel,
            modules=modules, sse_module=SSE_MODULE, user=user,
            timeout=timeout, servers=servers, threads=threads,
            server_limit=2 * servers,
            sse_async=ASYNC,
            max_workers=servers * threads)
        if tls:
            text += TLS_CONF.format(root=self.root, cert=self.cert,
                                    key=self.key)
        text += conf
        if os.environ.get("SSE_TEST_COREDIR"):
            text += '\nCoreDumpDirectory "%s"\n' % os.environ["SSE_TEST_COREDIR"]
        with open(self.conf_path, "w") as f:
            f.write(text)
        self.proc = None

    def check_config(self):
        """Runs httpd -t; returns (exit code, output)."""
        res = subprocess.run([HTTPD, "-t", "-f", self.conf_path],
                             capture_output=True, text=True, env=httpd_env())
        return res.returncode, res.stdout + res.stderr

    def start(self):
        rc, out = self.check_config()
        if rc != 0:
            raise AssertionError("httpd -t failed:\n" + out)
        with open(os.path.join(self.root, "stdout"), "w") as out:
            self.proc = subprocess.Popen(
                [HTTPD, "-f", self.conf_path, "-DFOREGROUND"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env=httpd_env())
        _live.append(self.proc)

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError("httpd exited:\n" + self.error_log())
            # httpd opens its listeners while it reads its configuration
            # the first time, then reads it again: a listener that
            # ListenCoresBucketsRatio duplicated in the first pass is
            # closed then, and the connections queued on it are reset.
            # The MPM writes the pid file once the last pass is done,
            # with the listeners that stay, before it starts children.
            if self.pid_from_file() != self.proc.pid:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return True
            except OSError:
                return False
        wait_for(listening, what="httpd to listen")
        return self

    def pid_from_file(self):
        try:
            with open(os.path.join(self.root, "httpd.pid")) as f:
                return int(f.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return None

    def error_log(self):
        try:
            with open(os.path.join(self.root, "error.log")) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def access_log(self):
        try:
            with open(os.path.join(self.root, "access.log")) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def graceful(self):
        os.kill(self.proc.pid, signal.SIGUSR1)

    def stop(self):
        """Graceful stop (what apachectl graceful-stop does): open streams
        end cleanly with a retry: hint, then the children exit.  An
        ungraceful stop closes the sockets of streams that hold a worker
        thread under them (test_stop.py tests it on its own)."""
        if self.proc:
            if self.proc.poll() is None:
                try:
                    os.kill(self.proc.pid, signal.SIGWINCH)
                    self.proc.wait(15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
            _kill(self.proc, signal.SIGTERM, wait=15)

    # Lines that a clean run may log at warn and above.
    BENIGN = [
        r"AH00558",            # could not determine the server's FQDN
        r"AH00098",            # pid file overwritten
        r"AH00489",            # version banner (notice)
        r"AH00094",            # command line (notice)
        r"AH00491",            # caught SIGTERM (notice)
        r"AH00492",            # caught SIGWINCH (notice)
        r"AH00493",            # SIGUSR1 received (notice)
        r"AH00494",            # SIGHUP received (notice)
        r"AH00495",            # SIGHUP (notice)
        r"AH00169",            # caught SIGTERM, shutting down (notice)
        r"AH00170",            # caught SIGWINCH, shutting down gracefully
        r"AH00171",            # graceful restart requested
        r"AH00292",            # Apache configured -- resuming
        r"AH00163",            # resuming normal operations
        r"AH00164",            # server built
        r"AH02282",            # no slotmem from mod_heartmon
        r"AH00050",            # child pid exit signal
    ]

    def unexpected_log_lines(self, allowed=()):
        patterns = [re.compile(p) for p in list(self.BENIGN) + list(allowed)]
        bad = []
        try:
            with open(os.path.join(self.root, "stdout")) as f:
                for line in f:
                    if ("Sanitizer" in line or "runtime error:" in line
                            or "ERROR:" in line):
                        bad.append(line.rstrip())
        except FileNotFoundError:
            pass
        for line in self.error_log().splitlines():
            # a crashed child is logged at notice level: never benign
            if "exit signal" in line or "AH00052" in line:
                bad.append(line)
                continue
            m = re.search(r"\[[\w_]+:(\w+)\]", line)
            level = m.group(1) if m else ""
            if level in ("debug", "info", "notice") or level.startswith("trace"):
                continue
            if any(p.search(line) for p in patterns):
                continue
            bad.append(line)
        return bad


class ProxyTestCase(unittest.TestCase):
    """One httpd per class with `conf` (formatted with o1, o2 ... for the
    origins' URLs and any names from conf_names()) in front of `origins`
    sse-origins, then `common_conf` as it is; tearDownClass fails on
    error-log lines outside Httpd.BENIGN and `allowed`."""
    origins = 1
    conf = ""
    common_conf = ""
    servers = 1
    threads = 32
    timeout = 30
    extra_modules = ()
    allowed = ()
    tls = False

    @classmethod
    def conf_names(cls):
        return {}

    @classmethod
    def setUpClass(cls):
        cls.work = workdir()
        cls.o = [Origin(cls.work, "origin%d" % (i + 1))
                 for i in range(cls.origins)]
        names = {"o%d" % (i + 1): o.url for i, o in enumerate(cls.o)}
        try:
            names.update(cls.conf_names())
            cls.httpd = Httpd(cls.work,
                              cls.conf.format(**names) + cls.common_conf,
                              servers=cls.servers, threads=cls.threads,
                              timeout=cls.timeout,
                              extra_modules=cls.extra_modules,
                              tls=cls.tls).start()
        except BaseException:
            for o in cls.o:
                o.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.httpd.stop()
        for o in cls.o:
            o.stop()
        bad = cls.httpd.unexpected_log_lines(allowed=cls.allowed)
        remove_workdir(cls.work, keep=bool(bad))
        if bad:
            raise AssertionError("unexpected error-log lines:\n"
                                 + "\n".join(bad[:20]))


def workdir():
    base = os.environ.get("SSE_TEST_TMPDIR") or tempfile.gettempdir()
    d = tempfile.mkdtemp(prefix="sse-it-", dir=base)
    os.chmod(d, 0o755)
    return d


def remove_workdir(d, keep=False):
    if not keep and not os.environ.get("SSE_TEST_KEEP"):
        shutil.rmtree(d, ignore_errors=True)


class RawResponse:
    def __init__(self):
        self.status = 0
        self.headers = {}
        self.head = b""
        self.body = b""          # de-chunked
        self.raw_body = b""      # as on the wire
        self.chunks = []         # (arrival monotonic ns, chunk payload)
        self.complete = False    # a terminating 0-chunk / full length / close


class RawClient:
    """A raw-socket HTTP/1.1 client that records when each chunk of a
    chunked response arrives."""

    def __init__(self, port, path, headers=None, method="GET", timeout=10,
                 body=b"", tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        if tls:
            # to an Httpd(tls=True), HTTP/1.1 by ALPN
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["http/1.1"])
            self.sock = ctx.wrap_socket(self.sock, server_hostname="127.0.0.1")
        self.sock.settimeout(timeout)
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % port]
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
                          + body)
        self.buf = b""
        self.resp = RawResponse()
        self.method = method
        self._read_head()

    def _recv(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        return data

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.resp.head = head
        lines = head.decode("latin-1").split("\r\n")
        self.resp.status = int(lines[0].split(" ")[1])
        for line in lines[1:]:
            k, v = line.split(":", 1)
            self.resp.headers[k.strip().lower()] = v.strip()

    def chunked(self):
        return self.resp.headers.get("transfer-encoding", "").lower() == "chunked"

    def read_chunk(self):
        """Next chunk payload (b'' for the last), or raises EOFError /
        socket.timeout."""
        while b"\r\n" not in self.buf:
            self.buf += self._recv()
        size_line, rest = self.buf.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        while len(rest) < size + 2:
            rest += self._recv()
        payload, self.buf = rest[:size], rest[size + 2:]
        assert rest[size:size + 2] == b"\r\n", "bad chunk terminator"
        self.resp.raw_body += size_line + b"\r\n" + payload + b"\r\n"
        if size:
            self.resp.chunks.append((monotonic_ns(), payload))
            self.resp.body += payload
        else:
            self.resp.complete = True
        return payload

    def read_until(self, pred, timeout=10):
        """Reads chunks until pred(body) holds; returns the body."""
        deadline = time.monotonic() + timeout
        while not pred(self.resp.body):
            if time.monotonic() > deadline:
                raise AssertionError("timed out; body so far: %r"
                                     % self.resp.body[-300:])
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            if not self.read_chunk():
                break
        return self.resp.body

    def read_to_end(self, timeout=10):
        self.sock.settimeout(timeout)
        if self.method == "HEAD":
            return self.resp.body
        if self.chunked():
            while self.read_chunk():
                pass
        else:
            n = self.resp.headers.get("content-length")
            try:
                while n is None or len(self.buf) < int(n):
                    self.buf += self._recv()
            except EOFError:
                pass
            self.resp.body = self.buf
            self.resp.complete = True
        return self.resp.body

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def parse_events(body):
    """Minimal event splitter for test assertions (LF streams only):
    returns a list of dicts of field -> value, comments under ':'."""
    events = []
    text = body.decode("utf-8", "replace")
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        ev = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                ev.setdefault(":", []).append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            ev[name] = value[1:] if value.startswith(" ") else value
        events.append(ev)
    return events


def data_events(body):
    """The events of a body that carry data (heartbeats left out)."""
    return [e for e in parse_events(body) if "data" in e]
