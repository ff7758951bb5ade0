#!/usr/bin/env python3
# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""What holds an httpd child's memory: its APR pools, counted by tag.

    python3 test/soak/pools.py PID...

APR as Debian builds it maps every allocator node (8 KiB and up) with a
mmap of its own, and a pool lives at the start of its first node.  So the
anonymous mappings of a process, read through /proc/PID/mem, can be
walked node by node, and the tag of every pool found ("transaction",
"request", "proxy_conn_pool", ...) counted.  A count that grows from one
idle moment to the next is what keeps memory.  This reads APR's private
layout (apr_memnode_t, then apr_pool_t, 64-bit, APR 1.7 without pool
debugging): on another build it finds nothing, and says so.  Reading
another process's memory takes the same user or root.
"""
import collections
import struct
import sys

# apr_memnode_t: next, ref, index, free_index, first_avail, endp
NODE = struct.Struct("<QQIIQQ")
# apr_pool_t right after the node: parent, child, sibling, ref, cleanups,
# free_cleanups, allocator, subprocesses, abort_fn, user_data, tag,
# active, self
TAG_AT = NODE.size + 10 * 8
SELF_AT = NODE.size + 12 * 8
PAGE = 4096


def _mappings(pid):
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            yield lo, hi, fields[1], fields[5] if len(fields) > 5 else ""


def census(pid):
    """{tag: pools} for one process, plus "(other nodes)": allocator nodes
    that do not start a pool (a pool's further nodes, free nodes)."""
    maps = list(_mappings(pid))
    readable = [(lo, hi) for lo, hi, perm, _ in maps if perm[0] == "r"]
    counts = collections.Counter()

    with open("/proc/%d/mem" % pid, "rb") as mem:
        def read(addr, n):
            mem.seek(addr)
            return mem.read(n)

        def string_at(addr):
            if not any(lo <= addr < hi for lo, hi in readable):
                return None
            try:
                s = read(addr, 64).split(b"\0")[0]
            except OSError:
                return None
            return s.decode() if s and all(32 <= c < 127 for c in s) else None

        for lo, hi, perm, name in maps:
            if name or not perm.startswith("rw"):
                continue
            node = lo
            # adjacent mappings are merged into one: walk node by node
            while node < hi:
                try:
                    head = read(node, SELF_AT + 8)
                except OSError:
                    break
                endp = NODE.unpack_from(head)[5]
                if not (node < endp <= hi and (endp - node) % PAGE == 0):
                    break
                tag_ptr, = struct.unpack_from("<Q", head, TAG_AT)
                self_ptr, = struct.unpack_from("<Q", head, SELF_AT)
                tag = string_at(tag_ptr) if self_ptr == node else None
                counts[tag or "(other nodes)"] += 1
                node = endp
    return counts


def main(pids):
    if not pids:
        sys.exit(__doc__)
    total = collections.Counter()
    for pid in pids:
        total.update(census(int(pid)))
    if not total:
        sys.exit("no APR allocator nodes found (another APR build?)")
    for tag, n in total.most_common():
        print("%7d  %s" % (n, tag))


if __name__ == "__main__":
    main(sys.argv[1:])
