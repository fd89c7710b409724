#!/usr/bin/python3
"""tests/bench/procsample.py — run one command while sampling a process group from /proc.

Used by tests/bench/s3.sh to watch httpd while a client uploads through it:

    procsample.py --pgid PID --report FILE [--interval 0.05] [--idle 1.0] -- CMD ARG...

1. For --idle seconds, samples the processes of group PID (httpd runs under setsid, so the
   parent's pid is the group's id): the idle resident memory.
2. Runs CMD (stdin, stdout and stderr inherited) and samples every --interval seconds until it
   exits, then once more after a short pause (the server may still be finishing the request).
3. Writes shell-readable key=value lines to FILE:
     idle_rss_kib   sum of VmRSS over the group, mean of the idle samples
     idle_anon_kib  the same for RssAnon (private anonymous memory: heap, stacks, buffers)
     peak_rss_kib   the highest sum of VmRSS seen while CMD ran
     peak_anon_kib  the highest sum of RssAnon seen while CMD ran
     procs_min, procs_max   how many processes the group had in the samples
     group_cpu_s    user+system CPU seconds the group used while CMD ran, counted per pid:
                    a pid's last sample minus its first (0 for a pid born during the run), so a
                    child that exits during the run still counts up to its last sample
     cmd_cpu_s      user+system CPU seconds of CMD (and its children), from wait4()
     cmd_rc         CMD's exit status
     cmd_wall_s     how long CMD ran
     samples        how many samples were taken while CMD ran
Standard library only (runs with Debian's /usr/bin/python3). Exit status: 0, or 2 on bad usage;
CMD's failure is reported in FILE, not in the exit status.
"""
import argparse
import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def group_pids(pgid):
    """The pids whose process group is pgid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: the fields start after the last ')'
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:   # field 5, pgrp
            out.append(int(name))
    return out


def sample(pgid):
    """{pid: (cpu_ticks, rss_kib, anon_kib)} of the group, now."""
    res = {}
    for pid in group_pids(pgid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                stat = f.read()
            with open("/proc/%d/status" % pid) as f:
                status = f.read()
        except OSError:
            continue   # exited between the listing and the read
        fields = stat[stat.rindex(")") + 2:].split()
        ticks = int(fields[11]) + int(fields[12])   # fields 14, 15: utime, stime
        rss = anon = 0
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("RssAnon:"):
                anon = int(line.split()[1])
        res[pid] = (ticks, rss, anon)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pgid", type=int, required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--idle", type=float, default=1.0)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("no command")

    idle = []
    end = time.monotonic() + a.idle
    while True:
        idle.append(sample(a.pgid))
        if time.monotonic() >= end:
            break
        time.sleep(a.interval)
    first = dict((pid, v[0]) for pid, v in idle[-1].items())   # CPU baseline: the last idle sample
    last = dict(first)
    peak_rss = peak_anon = 0
    procs = [len(s) for s in idle]
    n = 0

    t0 = time.monotonic()
    child = subprocess.Popen(cmd)
    status = None
    while status is None:
        time.sleep(a.interval)
        pid, st, ru = os.wait4(child.pid, os.WNOHANG)
        if pid:
            status = (st, ru)
        s = sample(a.pgid)
        n += 1
        procs.append(len(s))
        peak_rss = max(peak_rss, sum(v[1] for v in s.values()))
        peak_anon = max(peak_anon, sum(v[2] for v in s.values()))
        for p, v in s.items():
            last[p] = v[0]
    wall = time.monotonic() - t0
    time.sleep(max(a.interval, 0.1))
    for p, v in sample(a.pgid).items():
        last[p] = v[0]
    st, ru = status
    child.returncode = os.waitstatus_to_exitcode(st)   # reaped here, not by Popen

    ticks = sum(t - first.get(p, 0) for p, t in last.items())
    with open(a.report, "w") as f:
        f.write("idle_rss_kib=%d\n" % (sum(sum(v[1] for v in s.values()) for s in idle) / len(idle)))
        f.write("idle_anon_kib=%d\n" % (sum(sum(v[2] for v in s.values()) for s in idle) / len(idle)))
        f.write("peak_rss_kib=%d\n" % peak_rss)
        f.write("peak_anon_kib=%d\n" % peak_anon)
        f.write("procs_min=%d\nprocs_max=%d\n" % (min(procs), max(procs)))
        f.write("group_cpu_s=%.2f\n" % (ticks / TICK))
        f.write("cmd_cpu_s=%.2f\n" % (ru.ru_utime + ru.ru_stime))
        f.write("cmd_rc=%d\n" % child.returncode)
        f.write("cmd_wall_s=%.2f\n" % wall)
        f.write("samples=%d\n" % n)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:   # Ctrl-C reaches the whole group: the command stops too
        sys.exit(130)
