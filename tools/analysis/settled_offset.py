#!/usr/bin/env python3
"""The settled state of run folders (recorded or simulated): latency level, share of seconds above
1.5 s and the consumer lag in seconds of per-partition arrivals, away from restarts.

Usage: tools/analysis/settled_offset.py RUN_DIR...   (reads data/*-{latency,task_managers,
consumer_lag,throughput}-data.csv, `timestamp|value`; standard library only)

A second is "settled" when the latency metric is above 0 and the TaskManager count has not changed
(a redeploy shows as a drop to 0) for at least 300 s. Lag per partition = consumer lag (records,
mean over source subtasks of records-lag-max) / (throughput / 24 partitions). The second table
bins the seconds at 24 TaskManagers by the time since the last restart or TaskManager change.
"""
import statistics as st
import sys

from runfolders import series as load

PARTITIONS = 24  # research/demeter.md section 1: 24 partitions per topic
SETTLE_S = 300
BINS_S = [300, 600, 1200, 2400]


def settled_seconds(run_dir):
    """(age since the last restart or TM change, latency ms, lag s per partition or None, TMs)."""
    lat = load(run_dir, "latency")
    tms = load(run_dir, "task_managers")
    lag = load(run_dir, "consumer_lag")
    thr = load(run_dir, "throughput")
    out = []
    since, prev = None, None
    for t in sorted(lat):
        v, m = lat[t], tms.get(t)
        if v <= 0 or m is None or m != prev:
            since = t
        prev = m
        if t - since < SETTLE_S:
            continue
        rate = thr.get(t)
        lag_s = lag[t] / (rate / PARTITIONS) if rate and t in lag else None
        out.append((t - since, v, lag_s, m))
    return out


def describe(rows):
    lat = [r[1] for r in rows]
    lags = [r[2] for r in rows if r[2] is not None]
    if not lat:
        return "no settled seconds"
    above = sum(v > 1500 for v in lat) / len(lat)
    lag = f"{st.median(lags):.2f} s" if lags else "-"
    return f"n {len(lat):6d}  > 1.5 s {above:6.1%}  latency p50 {st.median(lat):5.0f} ms  lag {lag}"


def main(dirs):
    print("settled seconds (all / at 24 TaskManagers)")
    per_dir = {d: settled_seconds(d) for d in dirs}
    for d, rows in per_dir.items():
        print(f"{d}\n  all    {describe(rows)}\n  at 24  {describe([r for r in rows if r[3] == 24])}")
    print("\nat 24 TaskManagers, by time since the last restart or TaskManager change")
    for d, rows in per_dir.items():
        print(d)
        at24 = [r for r in rows if r[3] == 24]
        for lo, hi in zip(BINS_S, BINS_S[1:] + [None]):
            part = [r for r in at24 if r[0] >= lo and (hi is None or r[0] < hi)]
            label = f"{lo}-{hi} s" if hi else f">= {lo} s"
            print(f"  {label:12s} {describe(part)}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
