#!/usr/bin/env python3
"""How long the job is down when a cut-off TaskManager comes back, recorded vs replayed.

Usage: tools/analysis/reactive_returns.py RECORDED_RUN [SIMULATED_RUN]

RECORDED_RUN is a recorded run folder (app.log + data/*-latency-data.csv,
*-task_managers-data.csv); SIMULATED_RUN a `demeter-sim validate` output for it. For each
"Injecting delay into target job: X at TS: <epoch>" line of the recording's app.log: the first
TaskManager decrease within 30 s of the injection, then the first second within 150 s at which
the count is back at its level before (the return), and the seconds from 1 s before to 14 s after
the return without a latency sample above 0 (the restart that adds it back). Prints, per side,
returns early (< 45 s after the injection) and late (45-100 s): count, median and all gaps.
Standard library only; writes nothing. Exits 2 with a message on bad input.
"""
import os
import statistics
import sys

from runfolders import fail, injections, series


def returns(run, inj):
    lat, tm = series(run, "latency"), series(run, "task_managers")
    out = []
    for t0 in inj:
        base = tm.get(t0 - 2)
        if base is None:
            continue
        drop = next((t for t in range(t0, t0 + 30) if t in tm and tm[t] < base), None)
        if drop is None:
            continue
        back = next((t for t in range(drop, t0 + 150) if t in tm and tm[t] >= base), None)
        if back is None:
            continue
        gap = sum(1 for t in range(back - 1, back + 15) if not lat.get(t, 0) > 0)
        out.append((back - t0, gap))
    return out


def main(argv):
    if len(argv) not in (2, 3):
        fail("usage: reactive_returns.py RECORDED_RUN [SIMULATED_RUN]")
    for run in argv[1:]:
        if not os.path.isdir(run):
            fail("%s: not a folder" % run)
    inj = injections(argv[1])
    for side, run in zip(("recorded", "simulated"), argv[1:]):
        rows = returns(run, inj)
        for name, sel in (("early", [g for a, g in rows if a < 45]), ("late", [g for a, g in rows if 45 <= a < 100])):
            med = statistics.median(sel) if sel else "-"
            print("%-9s %-5s n=%-3d down p50 %s s  %s" % (side, name, len(sel), med, sorted(sel)))


if __name__ == "__main__":
    main(sys.argv)
