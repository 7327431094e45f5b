#!/usr/bin/env bash
# stop_cluster.sh: stops every JVM of a cluster made by start_cluster.sh, by PID (never by name).
#
#   tools/live/stop_cluster.sh CLUSTER_DIR
#
# SIGTERM to the PIDs in CLUSTER_DIR/run/*.pid whose command line names CLUSTER_DIR/conf, then
# SIGKILL after 15 s. Safe to run twice.
set -uo pipefail
CLUSTER_DIR=$(cd "${1:?usage: stop_cluster.sh CLUSTER_DIR}" 2>/dev/null && pwd) || exit 0
ours() { [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -q -- "$CLUSTER_DIR/conf"; }
mapfile -t all < <(cat "$CLUSTER_DIR"/run/*.pid "$CLUSTER_DIR"/run/*.pids 2>/dev/null | sort -u)
targets=()
for p in "${all[@]}"; do
  if [[ -n "$p" ]] && ours "$p"; then targets+=("$p"); fi
done
for p in "${targets[@]}"; do kill "$p" 2>/dev/null; done
for _ in $(seq 1 30); do
  left=()
  for p in "${targets[@]}"; do if ours "$p"; then left+=("$p"); fi; done
  [[ ${#left[@]} -eq 0 ]] && break
  sleep 0.5
done
for p in "${targets[@]}"; do if ours "$p"; then kill -9 "$p" 2>/dev/null; fi; done
rm -f "$CLUSTER_DIR"/run/*.pid "$CLUSTER_DIR"/run/*.pids
echo "stopped ${#targets[@]} Flink processes of $CLUSTER_DIR"
