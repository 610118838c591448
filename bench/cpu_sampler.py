#!/usr/bin/env python3
"""CPU use of this benchmark's processes vs everything else on the machine, for bench/run.sh.

usage: cpu_sampler.py sample ROOT_PID OUTFILE [INTERVAL_S] [MAX_SECONDS]
         every INTERVAL_S (default 1) until SIGTERM or MAX_SECONDS (default 3600), appends a line
         "<epoch> <ours%> <others%> <steal%> <comm:pct,...>" where ours = ROOT_PID and its
         descendants, others = every other process, in % of one CPU, and the list names the
         busiest other processes.
       cpu_sampler.py summary SAMPLES STEPS
         STEPS holds "<epoch> <step name>" lines; prints a markdown table of the other
         processes' mean CPU during each step.
"""
import os
import signal
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def snapshot():
    procs = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                data = f.read()
        except OSError:
            continue
        rp = data.rfind(")")
        comm = data[data.find("(") + 1:rp]
        fields = data[rp + 2:].split()
        # fields[0] = state, [1] = ppid, [11] = utime, [12] = stime, [19] = starttime
        # (stat fields 3, 4, 14, 15, 22); starttime tells a reused pid from the old process
        procs[int(name)] = (comm, int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[19]))
    return procs


def steal_ticks():
    with open("/proc/stat") as f:
        parts = f.readline().split()
    return int(parts[8]) if len(parts) > 8 else 0


def sample(root, out, interval, max_seconds):
    stop = {"flag": False}
    signal.signal(signal.SIGTERM, lambda s, f: stop.update(flag=True))
    signal.signal(signal.SIGINT, lambda s, f: stop.update(flag=True))
    deadline = time.monotonic() + max_seconds
    prev, prev_t, prev_steal = snapshot(), time.monotonic(), steal_ticks()
    with open(out, "a") as f:
        while not stop["flag"] and time.monotonic() < deadline:
            time.sleep(interval)
            cur, now, st = snapshot(), time.monotonic(), steal_ticks()
            dt = now - prev_t
            ours = others = 0.0
            by_comm = {}
            for pid, (comm, ppid, ticks, start) in cur.items():
                old = prev.get(pid)
                delta = ticks - old[2] if old and old[3] == start else ticks
                if delta <= 0:
                    continue
                pct = 100.0 * delta / TICK / dt
                p, mine = pid, False
                for _ in range(64):  # walk up the parents
                    if p == root:
                        mine = True
                        break
                    entry = cur.get(p)
                    if entry is None or entry[1] <= 1:
                        break
                    p = entry[1]
                if mine:
                    ours += pct
                else:
                    others += pct
                    by_comm[comm] = by_comm.get(comm, 0.0) + pct
            top = sorted(by_comm.items(), key=lambda kv: -kv[1])[:3]
            names = ",".join(f"{c.replace(' ', '_')}:{v:.0f}" for c, v in top if v >= 5) or "-"
            steal = 100.0 * (st - prev_steal) / TICK / dt
            f.write(f"{time.time():.1f} {ours:.0f} {others:.0f} {steal:.0f} {names}\n")
            f.flush()
            prev, prev_t, prev_steal = cur, now, st


def summary(samples_path, steps_path):
    samples = []
    with open(samples_path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 5:
                samples.append((float(parts[0]), float(parts[1]), float(parts[2]), float(parts[3]), parts[4]))
    steps = []
    with open(steps_path) as f:
        for line in f:
            t, _, name = line.rstrip("\n").partition(" ")
            steps.append((float(t), name))
    print("| step | seconds | benchmark's processes, % of one CPU | other processes, % of one CPU | busiest others (mean %) |")
    print("|---|---:|---:|---:|---|")
    for i, (t0, name) in enumerate(steps):
        t1 = steps[i + 1][0] if i + 1 < len(steps) else float("inf")
        inside = [s for s in samples if t0 < s[0] <= t1]
        if not inside:
            continue
        n = len(inside)
        comms = {}
        for s in inside:
            if s[4] != "-":
                for item in s[4].split(","):
                    c, _, v = item.rpartition(":")
                    comms[c] = comms.get(c, 0.0) + float(v) / n
        busiest = ", ".join(f"{c} {v:.0f}" for c, v in sorted(comms.items(), key=lambda kv: -kv[1])[:3] if v >= 5)
        end = min(t1, inside[-1][0])
        print(f"| {name} | {end - t0:.0f} | {sum(s[1] for s in inside) / n:.0f} | "
              f"{sum(s[2] for s in inside) / n:.0f} | {busiest or '-'} |")


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "sample":
        interval = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
        max_seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 3600.0
        sample(int(sys.argv[2]), sys.argv[3], interval, max_seconds)
    elif len(sys.argv) == 4 and sys.argv[1] == "summary":
        summary(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
