#!/usr/bin/env python3
"""bench/echo/threads.py SERVER_PID PIDFILE OUT — per-thread detail for server_cpu.sh.

Takes a snapshot of every thread of SERVER_PID (utime + stime, voluntary and involuntary context
switches, migrations from /proc/PID/task/TID/sched when the kernel has it) and creates OUT.ready;
then waits for PIDFILE to hold the client's pid, every 50 ms notes the CPU each server thread and
the client last ran on until the client exits, then takes a second snapshot and writes one JSON
object to OUT:

  {"load": "1-minute load average at the start", "samples": K,
   "threads": [{"name": "io" (hiko's I/O thread, comm hiko-io) or "tN", "ticks": clock ticks,
                "vcs": voluntary switches, "ics": involuntary switches, "migr": migrations or
                -1, "with_client": share of samples on the client's CPU}, ...]}

Only threads that used CPU or switched during the run are listed. Reading a few /proc files every
50 ms costs well under 1 % of one CPU. The placement tells the modes of the echo benchmark apart
(bench/README.md, "Echo, stop 16"): where the I/O thread and the workers sit relative to the
client."""
import json
import os
import sys
import time


def stat_of(path):
    """(state, cpu, utime + stime) of a /proc stat file, or None once the thread is gone."""
    try:
        with open(path) as f:
            s = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return s[0], int(s[36]), int(s[11]) + int(s[12])


def status_of(tid_dir):
    v = i = 0
    try:
        with open(tid_dir + "/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches"):
                    v = int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches"):
                    i = int(line.split()[1])
    except OSError:
        pass
    m = -1
    try:
        with open(tid_dir + "/sched") as f:
            for line in f:
                if line.startswith("se.nr_migrations"):
                    m = int(line.split(":")[1])
    except OSError:
        pass
    return v, i, m


def leaf(pid):
    """The process that does the work under [pid]: its only child, repeatedly (the client runs
    under timeout(1), which forks it), once that child exists."""
    for _ in range(200):
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                kids = f.read().split()
        except OSError:
            return pid
        if len(kids) == 1:
            pid = kids[0]
            continue
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() != "timeout":
                return pid
        time.sleep(0.005)  # timeout has not forked yet
    return pid


def snapshot(spid):
    out = {}
    base = f"/proc/{spid}/task"
    for tid in os.listdir(base):
        d = f"{base}/{tid}"
        st = stat_of(d + "/stat")
        if st is None:
            continue
        try:
            with open(d + "/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        out[tid] = (comm, st[2]) + status_of(d)
    return out


def main():
    spid, pidfile, outp = sys.argv[1], sys.argv[2], sys.argv[3]
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    s0 = snapshot(spid)
    open(outp + ".ready", "w").close()
    for _ in range(1000):
        if os.path.exists(pidfile):
            break
        time.sleep(0.005)
    with open(pidfile) as f:
        cpid = f.read().strip()
    cpid = leaf(cpid)
    tids = sorted(s0)
    same = {t: 0 for t in tids}
    samples = 0
    cpath = f"/proc/{cpid}/stat"
    while True:
        c = stat_of(cpath)
        if c is None or c[0] == "Z":
            break
        samples += 1
        for t in tids:
            st = stat_of(f"/proc/{spid}/task/{t}/stat")
            if st is not None and st[1] == c[1]:
                same[t] += 1
        time.sleep(0.05)
    s1 = snapshot(spid)
    threads = []
    k = 0
    for t in tids:
        if t not in s1:
            continue
        a, b = s0[t], s1[t]
        ticks, vcs, ics = b[1] - a[1], b[2] - a[2], b[3] - a[3]
        if ticks == 0 and vcs == 0 and ics == 0:
            continue
        name = "io" if a[0] == "hiko-io" else f"t{k}"
        k += name != "io"
        migr = b[4] - a[4] if a[4] >= 0 and b[4] >= 0 else -1
        threads.append({"name": name, "ticks": ticks, "vcs": vcs, "ics": ics, "migr": migr,
                        "with_client": round(same[t] / samples, 2) if samples else 0})
    with open(outp, "w") as f:
        json.dump({"load": load, "samples": samples, "threads": threads}, f)


if __name__ == "__main__":
    main()
