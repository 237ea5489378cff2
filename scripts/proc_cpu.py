#!/usr/bin/env python3
"""proc_cpu.py OUT: CPU seconds per process name until SIGTERM, into OUT.

Samples /proc/<pid>/stat every 0.2 s, so processes that exit in between
(loadgen, the sidecar) keep the time they had at their last sample (up to
0.2 s of it can be missed). OUT gets one line per name: `name seconds`,
busiest first. Used by bench_compare.sh to say where the CPU went.
"""
import os
import signal
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")
NAMES = ("hokm-loadgen", "hokm-engine", "hokm-sidecar", "redis-server", "postgres")


def sample():
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(pid)] = (comm, (int(fields[11]) + int(fields[12])) / HZ)
    return out


def main():
    base = sample()
    last = dict(base)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        last.update(sample())
        time.sleep(0.2)
    last.update(sample())
    totals = {}
    for pid, (comm, t) in last.items():
        before = base[pid][1] if pid in base and base[pid][0] == comm else 0.0
        name = next((n for n in NAMES if comm.startswith(n[:15])), "other")
        totals[name] = totals.get(name, 0.0) + t - before
    with open(sys.argv[1], "w") as f:
        for name, t in sorted(totals.items(), key=lambda kv: -kv[1]):
            f.write(f"{name} {t:.2f}\n")


if __name__ == "__main__":
    main()
