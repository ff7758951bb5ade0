# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Origins killed with SIGKILL and brought back on their ports, at random
but replayable: the whole schedule follows from the seed, the interval
and the length of the phase, so a failing run can be run again as it was.
"""
import os
import random
import signal
import socket
import threading
import time

import harness

# An origin is down for a random while, but back before its interval
# ends, so at most one origin is dead at a time and every kill breaks
# streams that are flowing.
MIN_DOWN_S = 0.2
MAX_DOWN_S = 3.0


def plan(seed, interval, length, origins):
    """[(seconds from the phase start, origin index, seconds down)], one
    kill in each whole interval of the phase."""
    rng = random.Random(seed)
    down_max = min(MAX_DOWN_S, interval / 4.0)
    kills = []
    for i in range(int(length // interval)):
        down = rng.uniform(MIN_DOWN_S, max(MIN_DOWN_S, down_max))
        at = i * interval + rng.uniform(0, interval - down)
        kills.append((round(at, 3), rng.randrange(origins), round(down, 3)))
    return kills


def stable_port():
    """A free port below the kernel's ephemeral range: an origin killed for
    a few seconds must be able to bind its port again, and an ephemeral
    port could meanwhile be taken by any outgoing connection."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(10000, max(10001, low))
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port below the ephemeral range")


class Killer(threading.Thread):
    """Carries out a plan against a list of harness.Origin, replacing each
    killed one with a new process on the same port."""

    def __init__(self, work, origins, kills, log):
        super().__init__(daemon=True)
        self.work = work
        self.origins = origins
        self.kills = kills
        self.log = log
        self.done = []          # (planned, actual start offset, origin name)
        self.errors = []
        self.stopping = threading.Event()

    def run(self):
        t0 = time.monotonic()
        for at, idx, down in self.kills:
            if self.stopping.wait(max(0.0, t0 + at - time.monotonic())):
                return
            origin = self.origins[idx]
            began = time.monotonic() - t0
            harness._kill(origin.proc, signal.SIGKILL)
            self.stopping.wait(down)
            try:
                self.origins[idx] = self._restart(origin)
            except (AssertionError, OSError) as e:
                self.errors.append("%s did not come back: %s" % (origin.name, e))
                return
            self.done.append((at, round(began, 3), origin.name))
            self.log("killed %s at +%.1f s, back after %.1f s"
                     % (origin.name, began, down))

    def _restart(self, old, tries=5):
        for i in range(tries):
            try:
                return harness.Origin(self.work, old.name, port=old.port)
            except AssertionError:
                if i == tries - 1:
                    raise
                time.sleep(0.5)

    def stop(self):
        self.stopping.set()
        self.join()


def seed_from_env(value):
    """SOAK_SEED as given, or a fresh one to be printed for a replay."""
    if value not in (None, ""):
        return int(value)
    return int.from_bytes(os.urandom(4), "big")
