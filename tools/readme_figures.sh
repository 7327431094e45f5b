#!/usr/bin/env bash
# readme_figures.sh: re-measures the figures the README quotes from simulations, in one go, after a
# model change (the tables under "Policies", "Demeter in the loop", "Validation and calibration"
# and "The model in one page"). Prints Markdown; writes the run folders under OUT.
#
#   tools/readme_figures.sh [OUT]        (default OUT: runs/readme-figures; replaced if it exists)
#
# Needs the recorded Demeter traces in ../shared/traces/demeter (read, never copied) and builds the
# release binary. Wall times are not measured here (see README "Speed": criterion benches).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/readme-figures}
TRACES=../shared/traces/demeter
[[ -d "$TRACES/results" ]] || { echo "readme_figures.sh: $TRACES/results not found (the recorded traces)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "readme_figures.sh: python3 not found" >&2; exit 2; }
cargo build --release --quiet
BIN=target/release/demeter-sim
rm -rf "$OUT"
mkdir -p "$OUT"

echo "## Fidelity table (validate over every recorded run)"
"$BIN" validate "$TRACES"/results/* --out "$OUT/fidelity" --no-plots 2>/dev/null
echo
echo "## Catch-up, failed twice and profiling runs per recorded run (report.md)"
for r in "$OUT"/fidelity/*/; do
  echo "### $(basename "$r")"
  grep -E "catch-up \(CPU|failure to processing|Kafka metrics back|CPU load while|peak 3-s CPU|latency-seconds above|^Failed twice|capacity where|not recovered \(stored|recovery where both|30-s step" "$r/report.md" || true
done
echo
echo "## Policies on ysb_failures, seed 42 (README Policies table)"
"$BIN" compare scenarios/ysb_failures.toml --policies static,reactive35,operator35,ds2 --seeds 1 \
  --out "$OUT/policies42" --no-plots | tail -n +2
python3 - "$OUT/policies42/compare-runs.csv" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    print(f"{r['policy']}: <=1.5 s {float(r['latency_le_1500ms_pct']):.1f} %, lag {float(r['consumer_lag_records_mean'])/1000:.1f} K, "
          f"recovery {float(r['recovery_s_mean']):.0f} s")
PY
echo
echo "## Policies and Demeter on ysb_failures, seeds 42-44"
"$BIN" compare scenarios/ysb_failures.toml --policies static,reactive35,operator35,ds2,demeter --seeds 3 \
  --out "$OUT/policies" --no-plots | tail -n +2
python3 - "$OUT/policies" <<'PY'
import csv, json, sys, os
d = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(d, "compare-runs.csv"))))
static = {r["seed"]: r for r in rows if r["policy"] == "static"}
print("Demeter per seed: seed | core-h vs Static | GB-h vs Static | TMs | <=1.5 s % | recovery s | reconf | profiling jobs | profiling core-h / GB-h | injected")
for r in rows:
    if r["policy"] != "demeter":
        continue
    s = static[r["seed"]]
    m = json.load(open(os.path.join(d, "demeter", f"seed{r['seed']}", "summary.json")))
    print(f"| {r['seed']} | {float(r['core_hours'])/float(s['core_hours']):.3f} | {float(r['memory_gb_hours'])/float(s['memory_gb_hours']):.3f} "
          f"| {float(r['task_managers_mean']):.1f} | {float(r['latency_le_1500ms_pct']):.1f} | {float(r['recovery_s_mean']):.1f} | {r['reconfigurations']} "
          f"| {m.get('profiling_jobs')} | {m.get('profiling_core_hours', 0):.1f} / {m.get('profiling_gb_hours', 0):.1f} | {r['failures_injected']}/{r['failures_scheduled']} |")
PY
echo
echo "## Static runs (summarize; README 'The model in one page')"
"$BIN" scenarios/ysb_failures.toml --out "$OUT/ysb_static" --no-plots >/dev/null
"$BIN" scenarios/tsw_failures.toml --out "$OUT/tsw_static" --no-plots >/dev/null
"$BIN" summarize "$OUT/ysb_static" "$OUT/tsw_static" --format markdown
echo
echo "## Tick sensitivity (results only)"
for t in 100ms 10ms; do
  sed "s/^tick = \"1s\"/tick = \"$t\"/" scenarios/ysb_failures.toml > "$OUT/tick_$t.toml"
  # The scenario names its model and workload relative to scenarios/.
  sed -i "s#\"\.\./#\"$PWD/#g" "$OUT/tick_$t.toml"
  "$BIN" "$OUT/tick_$t.toml" --out "$OUT/tick_$t" --no-plots >/dev/null
done
"$BIN" summarize "$OUT/ysb_static" "$OUT/tick_100ms" "$OUT/tick_10ms" --format markdown
