# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Clients that never read, kept up during the soak: each connects, asks
for a stream the origin sends as fast as it is taken, and reads nothing
(a 2 KiB receive buffer, so its socket fills at once).  Each lives 45 s,
longer than the soak httpd's Timeout (30 s): some are dropped by the
proxy (SSE00025), the others close while their output waits.  A third of
them is replaced every 15 s, so that about n are there all along."""
import socket
import threading
import time

PATH = "/events?rate=0&size=2000"
LIFE_S = 45
EVERY_S = 15


class NonReaders(threading.Thread):
    def __init__(self, port, n, log):
        super().__init__(daemon=True)
        self.port, self.n, self.log = port, n, log
        self.stopping = threading.Event()
        self.opened = 0
        self.failed = 0

    def _open(self, count):
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Accept: text/event-stream\r\n\r\n" % PATH).encode()
        out = []
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            s.settimeout(10)
            try:
                s.connect(("127.0.0.1", self.port))
                s.sendall(req)
                out.append(s)
                self.opened += 1
            except OSError:
                s.close()
                self.failed += 1
        return out

    def run(self):
        batches = []     # (opened at, sockets)
        per = max(1, self.n * EVERY_S // LIFE_S)
        while not self.stopping.is_set():
            now = time.monotonic()
            while batches and now - batches[0][0] >= LIFE_S:
                for s in batches.pop(0)[1]:
                    s.close()
            batches.append((now, self._open(per)))
            self.stopping.wait(EVERY_S)
        for _, socks in batches:
            for s in socks:
                s.close()

    def stop(self):
        self.stopping.set()
        self.join()
        self.log("non-reading clients: %d opened, %d could not connect"
                 % (self.opened, self.failed))
