#!/usr/bin/env python3
"""The latency tail after each failure's catch-up, recorded vs replayed, second by second.

Usage: tools/analysis/latency_tail.py [--span S] [--curve] RECORDED_RUN [SIMULATED_RUN]

RECORDED_RUN is a recorded run folder (app.log + data/*-latency-data.csv); SIMULATED_RUN a run
folder written by `demeter-sim validate` for it (data/*-latency-data.csv). The failure times are
the recording's "Injecting delay into target job: X at TS: <epoch>" lines of app.log; both sides
are measured at them. Per failure, as `calibrate::catch_up` defines them:
  * resumed: the first second with a latency sample above 0 after one missing or at 0, within
    300 s of the injection (processing resumed);
  * seconds above 1.5 s and latency-seconds above 1.5 s (s*s) in the 250 s after the injection
    (or up to the next one); means per failure, and the median of the latency-seconds (a few
    failures with a second outage dominate the mean on some runs).
Then, aligned on each side's own resumption, the mean p95 (ms) over the failures that resumed on
both sides, at 0..S s after resumption (--curve prints every second; otherwise a few points and
shape figures: the peak, the second it falls below 5 s / 3 s / 1.5 s, and the mean slope
between the last second above 5 s and the first below 1.5 s). Standard library only; writes
nothing. Exits 2 with a message on bad input (missing folder or file, malformed line).
"""
import os
import sys

from runfolders import fail, injections, series

SLO = 1500.0
SPAN_AFTER_INJECTION = 250


def load_latency(run):
    out = series(run, "latency")
    if not out:
        fail("%s: no latency values" % run)
    return out


def resumed_at(lat, injected, until):
    down = False
    expect = injected + 1
    for t in range(injected + 1, until):
        if t not in lat:
            continue
        v = lat[t]
        if t > expect or v <= 0.0:
            down = True
        elif down:
            return t
        expect = t + 1
    return None


def per_failure(lat, failures):
    first, last = min(lat), max(lat)
    rows = []
    inside = [f for f in failures if first <= f < last]
    for i, f in enumerate(inside):
        nxt = inside[i + 1] if i + 1 < len(inside) else last + 1
        end = min(f + SPAN_AFTER_INJECTION, nxt)
        over = [lat[t] for t in range(f, end) if t in lat and lat[t] > SLO]
        rows.append({
            "injected": f,
            "next": nxt,
            "resumed": resumed_at(lat, f, min(nxt, f + 300)),
            "count": len(over),
            "area": sum((v - SLO) / 1000.0 for v in over),
        })
    return rows


def curve(lat, rows, span):
    """Mean latency at 0..span s after resumption over `rows` (None where no failure has data)."""
    out = []
    for k in range(span + 1):
        vals = [lat[r["resumed"] + k] for r in rows
                if r["resumed"] + k < r["next"] and r["resumed"] + k in lat]
        out.append(sum(vals) / len(vals) if vals else None)
    return out


def shape(c):
    peak = max(range(len(c)), key=lambda k: c[k] if c[k] is not None else -1)
    first_below = {}
    for level in (5000.0, 3000.0, SLO):
        first_below[level] = next((k for k in range(peak, len(c))
                                   if c[k] is not None and c[k] < level), None)
    a = max((k for k in range(peak, len(c)) if c[k] is not None and c[k] >= 5000.0), default=None)
    b = first_below[SLO]
    slope = (c[a] - c[b]) / 1000.0 / (b - a) if a is not None and b is not None and b > a else None
    return peak, c[peak], first_below, slope


def fmt(v):
    return "-" if v is None else "%.0f" % v


def main(argv):
    span, show_curve, runs = 120, False, []
    i = 0
    while i < len(argv):
        if argv[i] == "--span":
            try:
                span = int(argv[i + 1])
            except (IndexError, ValueError):
                fail("--span needs a whole number of seconds")
            i += 2
        elif argv[i] == "--curve":
            show_curve = True
            i += 1
        elif argv[i].startswith("-"):
            fail("unknown option %s (usage: latency_tail.py [--span S] [--curve] RECORDED [SIMULATED])"
                 % argv[i])
        else:
            runs.append(argv[i])
            i += 1
    if not 1 <= len(runs) <= 2:
        fail("usage: latency_tail.py [--span S] [--curve] RECORDED_RUN [SIMULATED_RUN]")
    for r in runs:
        if not os.path.isdir(r):
            fail("%s: not a folder" % r)
    failures = injections(runs[0])
    sides = [("recorded", load_latency(runs[0]))]
    if len(runs) == 2:
        sides.append(("simulated", load_latency(runs[1])))
    tables = [(name, lat, per_failure(lat, failures)) for name, lat in sides]
    print("run %s: %d failures" % (os.path.basename(os.path.normpath(runs[0])), len(tables[0][2])))
    for name, _, rows in tables:
        n = len(rows)
        areas = sorted(r["area"] for r in rows)
        print("  %-9s seconds > 1.5 s per failure %.1f, latency-seconds above 1.5 s %.0f (median %.0f),"
              " resumed %.1f s after injection (%d resumed)" % (
                  name, sum(r["count"] for r in rows) / n, sum(areas) / n, areas[n // 2],
                  sum(r["resumed"] - r["injected"] for r in rows if r["resumed"]) /
                  max(1, sum(1 for r in rows if r["resumed"])),
                  sum(1 for r in rows if r["resumed"])))
    # Failures that resumed on every side.
    keep = [j for j in range(len(tables[0][2])) if all(t[2][j]["resumed"] for t in tables)
            if all(j < len(t[2]) for t in tables)]
    curves = [(name, curve(lat, [rows[j] for j in keep], span)) for name, lat, rows in tables]
    print("mean latency (ms) after processing resumed, over %d failures:" % len(keep))
    print("  %4s  %s" % ("s", "  ".join("%9s" % n for n, _ in curves)))
    points = range(span + 1) if show_curve else [k for k in
                                                  (0, 1, 2, 3, 5, 8, 10, 12, 15, 20, 25, 30, 40, 50,
                                                   60, 80, 100, 120) if k <= span]
    for k in points:
        print("  %4d  %s" % (k, "  ".join("%9s" % fmt(c[k]) for _, c in curves)))
    for name, c in curves:
        peak, v, below, slope = shape(c)
        print("  %-9s peak %s ms at +%d s; below 5 s at +%s, 3 s at +%s, 1.5 s at +%s; slope from"
              " the last second >= 5 s to 1.5 s: %s s/s" % (
                  name, fmt(v), peak, below[5000.0], below[3000.0], below[SLO],
                  "-" if slope is None else "%.2f" % slope))


if __name__ == "__main__":
    main(sys.argv[1:])
