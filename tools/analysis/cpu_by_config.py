#!/usr/bin/env python3
"""cpu_by_config.py: settled JVM CPU load per deployed configuration, recorded vs replayed.

    tools/analysis/cpu_by_config.py RECORDED_RUN REPLAY_DIR

RECORDED_RUN is a recorded run folder (app.log + data/); REPLAY_DIR is what `demeter-sim
validate RECORDED_RUN --out DIR` wrote for it (DIR/<run>/, with configs.csv, the configuration
timeline the replay followed). Settled seconds: >= 300 s after the last configuration change,
outside [-10, +400] s around every injection, TaskManagers at the configuration's count in both
series. Per configuration (scale-out x slots x CPU x memory per TaskManager) it prints the number of
settled seconds, the median throughput and CPU load recorded / replayed, and the CPU cost per
record, CPU load x TaskManagers x cores per TaskManager / throughput, in microseconds.
Standard library only; bad input exits 2.
"""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runfolders import fail, injections, series  # noqa: E402

SETTLE_S = 300
FAIL_BEFORE_S, FAIL_AFTER_S = 10, 400


def config_timeline(replay):
    path = os.path.join(replay, "configs.csv")
    if not os.path.isfile(path):
        fail("%s: no configs.csv (expected a `demeter-sim validate` output folder)" % replay)
    out = []
    with open(path) as f:
        header = next(f, "").strip().split("|")
        want = ["timestamp", "scaleOut", "taskSlots", "cpu", "memory"]
        if header[: len(want)] != want:
            fail("%s: expected a header starting %s, got %s" % (path, "|".join(want), "|".join(header)))
        for n, line in enumerate(f, 2):
            parts = line.strip().split("|")
            try:
                out.append((int(parts[0]), int(parts[1]), int(parts[2]), float(parts[3]), int(parts[4])))
            except (ValueError, IndexError):
                fail("%s line %d: expected timestamp|scaleOut|taskSlots|cpu|..., got %r" % (path, n, line))
    if not out:
        fail("%s: no configurations" % path)
    return out


def main():
    if len(sys.argv) != 3:
        fail("usage: cpu_by_config.py RECORDED_RUN REPLAY_DIR")
    rec, sim = sys.argv[1], sys.argv[2]
    configs = config_timeline(sim)
    injected = injections(rec)
    series_of = {m: (series(rec, m), series(sim, m)) for m in ("cpu_load", "throughput", "task_managers")}
    groups = {}
    for i, (start, scale_out, slots, cpu, mem) in enumerate(configs):
        end = configs[i + 1][0] if i + 1 < len(configs) else max(series_of["cpu_load"][0])
        tms = scale_out // slots
        for t in range(start + SETTLE_S, end):
            if any(x - FAIL_BEFORE_S <= t <= x + FAIL_AFTER_S for x in injected):
                continue
            values = [series_of[m][k].get(t) for m in ("cpu_load", "throughput", "task_managers") for k in (0, 1)]
            if any(v is None for v in values):
                continue
            cpu_rec, cpu_sim, thr_rec, thr_sim, tm_rec, tm_sim = values
            if round(tm_rec) != tms or round(tm_sim) != tms or thr_rec <= 0 or thr_sim <= 0:
                continue
            groups.setdefault((scale_out, slots, cpu, mem), []).append((cpu_rec, cpu_sim, thr_rec, thr_sim))
    print("| scale-out x slots x CPU x memory MB | settled s | throughput rec / sim | CPU load rec / sim | us CPU per record rec / sim |")
    print("|:--|--:|--:|--:|--:|")
    for (scale_out, slots, cpu, mem), rows in sorted(groups.items()):
        tms = scale_out // slots
        med = [statistics.median(r[k] for r in rows) for k in range(4)]
        us = [statistics.median(r[k] * tms * cpu / r[k + 2] * 1e6 for r in rows) for k in (0, 1)]
        print("| %d x %d x %g x %d | %d | %.0f / %.0f | %.3f / %.3f | %.0f / %.0f |"
              % (scale_out, slots, cpu, mem, len(rows), med[2], med[3], med[0], med[1], us[0], us[1]))
    for label, keep in (("1 slot x 1 CPU, >= 2 GB", lambda k: k[1] == 1 and k[2] == 1 and k[3] >= 2048),
                        ("more cores or slots, >= 2 GB", lambda k: (k[1] > 1 or k[2] > 1) and k[3] >= 2048),
                        ("1 slot, 1 GB", lambda k: k[1] == 1 and k[3] < 2048),
                        ("several slots, any memory", lambda k: k[1] > 1)):
        rows = [r for k, rs in groups.items() if keep(k) for r in rs]
        if rows:
            bias = statistics.mean((r[1] - r[0]) / r[0] for r in rows) * 100
            mae = statistics.mean(abs(r[1] - r[0]) / r[0] for r in rows) * 100
            print("%s: %d settled s, CPU load (sim - rec) / rec mean %+.1f %%, mean |.| %.1f %%"
                  % (label, len(rows), bias, mae))

if __name__ == "__main__":
    main()
