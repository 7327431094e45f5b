"""Shared by the analysis tools: read a run folder's series and a recording's injection times.

Run folders are the recorded format (`data/<policy>-<metric>-data.csv`, `timestamp|value` with a
header line; `null` for no value) that recordings and `demeter-sim` outputs share. Every problem
exits 2 with a message naming the calling tool, the file and what was expected. Standard library
only.
"""
import glob
import os
import re
import sys

INJECTION = re.compile(r"Injecting delay into target job: \S+ at TS: (\d+)")


def fail(msg):
    print("%s: %s" % (os.path.basename(sys.argv[0]), msg), file=sys.stderr)
    sys.exit(2)


def series(run, metric):
    """{epoch second: value} of data/*-<metric>-data.csv in `run` (exactly one such file)."""
    if not os.path.isdir(run):
        fail("%s: not a folder" % run)
    paths = glob.glob(os.path.join(run, "data", "*-%s-data.csv" % metric))
    if len(paths) != 1:
        fail("%s: expected one data/*-%s-data.csv, found %d" % (run, metric, len(paths)))
    out = {}
    with open(paths[0]) as f:
        next(f, None)
        for n, line in enumerate(f, 2):
            line = line.strip()
            if not line:
                continue
            parts = line.split("|")
            if len(parts) != 2:
                fail("%s line %d: expected timestamp|value, got %r" % (paths[0], n, line))
            try:
                t = int(float(parts[0]))
                if parts[1] != "null":
                    out[t] = float(parts[1])
            except ValueError:
                fail("%s line %d: expected an epoch and a number or null, got %r" % (paths[0], n, line))
    return out


def injections(run):
    """Ascending epoch seconds of the recording's "Injecting delay ... at TS: <epoch>" lines."""
    path = os.path.join(run, "app.log")
    if not os.path.isfile(path):
        fail("%s: no app.log (the recorded run folder holds the injection times)" % run)
    with open(path, errors="replace") as f:
        out = [int(x) for x in INJECTION.findall(f.read())]
    if not out:
        fail("%s: no 'Injecting delay into target job: ... at TS: <epoch>' lines" % path)
    return sorted(out)
