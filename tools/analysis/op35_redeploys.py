#!/usr/bin/env python3
"""Savepoint redeploys of operator35 run folders (recorded or simulated): when they come and what
they change, and where the share of seconds <= 1.5 s is lost around them.

Usage: tools/analysis/op35_redeploys.py RUN_DIR...   (reads data/*-{task_managers,throughput,
consumer_lag,latency}-data.csv; writes nothing). A redeploy is a stretch of >= 10 s with 0
TaskManagers (as calibrate::replay); its decision time is the last throughput second before it
(the job's stop). Reported per run:
  * redeploys, and how many change the TaskManager level (mode of the level 25-150 s before vs the
    highest level within 60 s after);
  * time from the TaskManagers' return after the previous redeploy to the next stop (the first
    evaluation of operator35 comes at RUNNING + stabilization 120 s + window 60 s);
  * seconds with latency > 1.5 s by phase around each redeploy (A: stop-30 s .. consumption
    resumes, B/C/D: 0-60 / 60-120 / 120-300 s after, E: everything else), as points of the run.
"""
import os
import sys

from runfolders import series as load


def episodes(tm):
    ts = sorted(tm)
    out, i = [], 0
    while i < len(ts):
        if round(tm[ts[i]]) != 0 or i == 0 or round(tm[ts[i - 1]]) == 0:
            i += 1
            continue
        j = i
        while j + 1 < len(ts) and round(tm[ts[j + 1]]) == 0:
            j += 1
        s, e = ts[i], ts[j]
        after = [round(tm[t]) for t in ts[j + 1:] if t < e + 60 and round(tm[t]) != 0]
        pre = [round(tm[t]) for t in range(s - 150, s - 25) if t in tm and round(tm[t]) != 0]
        before = max(set(pre), key=pre.count) if pre else None
        if e - s + 1 >= 10 and after:
            out.append((s, e, before, max(after)))
        i = j + 1
    return out


def quantiles(xs, qs=(0.1, 0.25, 0.5)):
    xs = sorted(xs)
    return [xs[int(len(xs) * q)] for q in qs] if xs else []


def report(run):
    tm, thr, lat = load(run, "task_managers"), load(run, "throughput"), load(run, "latency")
    eps = episodes(tm)
    stops, consuming = [], []
    for s, e, _, _ in eps:
        stops.append(max([t for t in range(s - 120, s) if t in thr] or [s]))
        consuming.append(next((t for t in range(e + 1, e + 300) if thr.get(t, 0) > 0), None))
    level_changes = sum(1 for _, _, b, a in eps if b is not None and b != a)
    gaps = [stops[k] - (eps[k - 1][1] + 1) for k in range(1, len(eps))]
    first_eval = sum(1 for g in gaps if g < 240)
    print("%s: %d redeploys, %d change the TaskManager level; TaskManagers back -> next stop "
          "p10/p25/p50 %s s, %d of %d within 240 s (the first evaluation)"
          % (os.path.basename(run.rstrip("/")), len(eps), level_changes, quantiles(gaps),
             first_eval, len(gaps)))
    phase = {}
    for k, (s, _, _, _) in enumerate(eps):
        c = consuming[k]
        if c is None:
            continue
        nxt = eps[k + 1][0] - 30 if k + 1 < len(eps) else 1 << 62
        for name, a, b in (("A", s - 30, c), ("B", c, c + 60), ("C", c + 60, c + 120),
                           ("D", c + 120, c + 300)):
            for t in range(a, b if name == "A" else min(b, nxt)):
                phase.setdefault(t, name)
    counts = {}
    for t, v in lat.items():
        n = counts.setdefault(phase.get(t, "E"), [0, 0])
        n[0] += 1
        n[1] += v > 1500
    total = sum(n[0] for n in counts.values())
    print("  latency > 1.5 s, points of the run by phase: " + ", ".join(
        "%s %.1f (%d s of %d)" % (p, 100.0 * n[1] / total, n[1], n[0])
        for p, n in sorted(counts.items())))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.stderr.write("usage: op35_redeploys.py RUN_DIR...\n")
        sys.exit(2)
    for r in sys.argv[1:]:
        report(r)  # a folder it cannot read exits 2 with a message (runfolders.series)
