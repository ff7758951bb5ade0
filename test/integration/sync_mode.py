# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""The whole integration suite again with SSEProxyAsync off: every
stream keeps its worker thread, as on MPMs that cannot suspend."""
import os
import sys
import unittest

os.environ["SSE_TEST_ASYNC"] = "off"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SUITE = ["test_conf", "test_relay", "test_policy", "test_status",
         "test_cors", "test_hostile", "test_async", "test_abuse", "test_methods",
         "test_discovery", "test_websocket", "test_stop",
         "test_slow_readers", "test_h2_reset", "test_h2_streams", "test_limits"]

if __name__ == "__main__":
    tests = unittest.defaultTestLoader.loadTestsFromNames(SUITE)
    result = unittest.TextTestRunner(verbosity=2).run(tests)
    sys.exit(0 if result.wasSuccessful() else 1)
