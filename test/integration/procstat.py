# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""What /proc says about processes: which match, and their CPU time,
threads, memory and open descriptors.  The servers under test run in
process groups of their own (see harness.py), so a group is the server,
parent and children together."""
import os


def pids_matching(pred):
    """Pids for which pred(pid) holds; processes that vanish while being
    looked at are left out."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if pred(int(d)):
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return out


def _stat(pid):
    """The fields of /proc/PID/stat after the command name."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()


def _kib(path, key):
    """The value of the `key:` line of a /proc file in kB, or 0."""
    with open(path) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def group_pids(pgid):
    return pids_matching(lambda pid: int(_stat(pid)[2]) == pgid)


def group_usage(pgid):
    """CPU seconds, threads and PSS (KiB) of a process group."""
    tick = os.sysconf("SC_CLK_TCK")
    cpu = threads = pss = 0
    for pid in group_pids(pgid):
        try:
            fields = _stat(pid)
            cpu += (int(fields[11]) + int(fields[12])) / tick
            threads += int(fields[17])
            pss += _kib("/proc/%d/smaps_rollup" % pid, "Pss")
        except (OSError, IndexError, ValueError):
            pass
    return {"cpu_s": cpu, "threads": threads, "pss_kib": pss}


def group_footprint(pgid):
    """Open descriptors and resident memory (VmRSS, KiB), summed over the
    group, with the pids they came from."""
    pids = sorted(group_pids(pgid))
    fds = rss = 0
    for pid in pids:
        try:
            fds += len(os.listdir("/proc/%d/fd" % pid))
            rss += _kib("/proc/%d/status" % pid, "VmRSS")
        except (OSError, ValueError):
            pass
    return {"pids": pids, "fds": fds, "rss_kib": rss}
