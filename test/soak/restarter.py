# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Ungraceful restarts of httpd during the soak: SIGHUP to the parent,
what `apachectl -k restart` sends.  The parent stays and keeps its
listeners; its children end every stream (a retry: hint, then the final
chunk) and exit at once, and a new generation of children takes the
reconnecting clients.  Each restart is followed until it has settled:
no child of the old generation left and a whole new one running."""
import os
import signal
import threading
import time

import procstat

# generous: an ungraceful restart takes about a second
SETTLE_TIMEOUT_S = 60


def plan(count, length):
    """Moments (seconds from the phase start) of `count` restarts spread
    evenly over a phase of `length` seconds: at 1/3 and 2/3 for two."""
    return [round(length * (i + 1) / (count + 1), 3) for i in range(count)]


def children(parent):
    """The processes of httpd's group other than its parent."""
    return sorted(set(procstat.group_pids(parent)) - {parent})


class Restarter(threading.Thread):
    """Restarts the httpd whose parent is `parent` (and process group, see
    harness.py) at the moments given; `children` is how many children a
    generation has.  generations holds the children of each new
    generation once it has settled, errors what did not settle."""

    def __init__(self, parent, moments, n_children, log):
        super().__init__(daemon=True)
        self.parent = parent
        self.moments = moments
        self.n_children = n_children
        self.log = log
        self.done = []          # (planned, actual offset, seconds to settle)
        self.generations = []   # the children of each new generation
        self.errors = []
        self.stopping = threading.Event()

    def run(self):
        t0 = time.monotonic()
        for at in self.moments:
            if self.stopping.wait(max(0.0, t0 + at - time.monotonic())):
                return
            old = set(children(self.parent))
            began = time.monotonic()
            try:
                os.kill(self.parent, signal.SIGHUP)
            except ProcessLookupError:
                self.errors.append("httpd's parent is gone")
                return
            new = self._settle(old, began + SETTLE_TIMEOUT_S)
            if new is None:
                return
            took = time.monotonic() - began
            self.generations.append(new)
            self.done.append((at, round(began - t0, 3), round(took, 3)))
            self.log("restarted httpd (SIGHUP) at +%.1f s: %d old children "
                     "gone, %d new ones after %.1f s"
                     % (began - t0, len(old), len(new), took))

    def _settle(self, old, deadline):
        """The new generation once no old child is left and all of the
        new one runs, or None (and an error) when that takes too long."""
        while True:
            now = set(children(self.parent))
            if not now & old and len(now) >= self.n_children:
                return sorted(now)
            if time.monotonic() > deadline or self.stopping.is_set():
                self.errors.append(
                    "restart did not settle in %d s: old children %s left, "
                    "%d new" % (SETTLE_TIMEOUT_S, sorted(now & old),
                                len(now - old)))
                return None
            time.sleep(0.2)

    def stop(self):
        self.stopping.set()
        self.join()
