# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""The shipped configuration files are valid for a real httpd."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Httpd  # noqa: E402

CONF = os.path.join(harness.TOP_SRCDIR, "conf")


def read(name):
    with open(os.path.join(CONF, name)) as f:
        return f.read()


class ShippedConfTest(unittest.TestCase):
    def setUp(self):
        self.work = harness.workdir()

    def tearDown(self):
        harness.remove_workdir(self.work)

    def check(self, text, extra_modules=()):
        h = Httpd(self.work, text, extra_modules=extra_modules)
        rc, out = h.check_config()
        self.assertEqual(rc, 0, out)
        self.assertIn("Syntax OK", out)

    def test_sse_proxy_conf(self):
        self.check(read("sse_proxy.conf"))

    def test_load_file_names_the_module(self):
        text = read("sse_proxy.load.in")
        self.assertIn("LoadModule sse_proxy_module @apachemoddir@/mod_sse_proxy.so",
                      text)
        self.assertIn("# Depends: proxy proxy_http", text)

    def test_balancer_example(self):
        hcheck = [("proxy_hcheck_module", "mod_proxy_hcheck.so")]
        text = read("examples/balancer.conf")
        self.check(text, extra_modules=hcheck)
        # and with the directives it offers as comments
        self.assertIn("#SSEProxyShare On", text)
        self.check(text.replace("#SSEProxy", "SSEProxy"),
                   extra_modules=hcheck)

    def test_llm_example(self):
        self.check(read("examples/llm.conf"))

    def test_mcp_example(self):
        # its session map file goes where this test may write
        text = read("examples/mcp.conf").replace(
            "/run/apache2/", os.path.join(self.work, ""))
        self.assertNotEqual(text, read("examples/mcp.conf"))
        self.check(text)

    def test_fleet_example(self):
        self.check(read("examples/fleet.conf"),
                   extra_modules=[("socache_redis_module",
                                   "mod_socache_redis.so")])

    def test_http2_example(self):
        # its certificate paths are the reader's: a fresh pair instead
        cert, key = harness.self_signed_cert(self.work)
        text = read("examples/http2.conf")
        for name, path in (("events.example.com.pem", cert),
                           ("events.example.com.key", key)):
            self.assertIn(name, text)
            text = text.replace(
                next(w for w in text.split() if w.endswith(name)), path)
        self.check(text, extra_modules=harness.TLS_MODULES)

    def test_status_at_the_designs_path(self):
        # every shipped configuration with a stream route mounts the
        # status handler where the design names it
        for name in ("examples/balancer.conf", "examples/llm.conf",
                     "examples/mcp.conf", "examples/fleet.conf",
                     "demo.conf.in"):
            text = read(name)
            self.assertRegex(text, r"<Location /debug/sse-stats>\s*\n\s*"
                             r"SetHandler sse-proxy-status", name)

    def test_demo_conf(self):
        text = read("demo.conf.in")
        root = os.path.join(self.work, "demo")
        os.makedirs(os.path.join(root, "run"))
        for key, val in {"@root@": root, "@host@": "127.0.0.1",
                         "@port@": str(harness.free_port()),
                         "@moddir@": harness.MODULES_DIR,
                         "@sse_module@": harness.SSE_MODULE,
                         "@origin1@": "6687", "@origin2@": "6688",
                         "@www@": os.path.join(harness.TOP_SRCDIR, "demo/www"),
                         "@user@": ""}.items():
            text = text.replace(key, val)
        path = os.path.join(root, "httpd.conf")
        with open(path, "w") as f:
            f.write(text)
        res = subprocess.run([harness.HTTPD, "-t", "-f", path],
                             capture_output=True, text=True,
                             env=harness.httpd_env())
        self.assertEqual(res.returncode, 0, res.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
