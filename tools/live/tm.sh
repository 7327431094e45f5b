#!/usr/bin/env bash
# tm.sh: starts, stops or kills one TaskManager of a cluster made by start_cluster.sh, by PID.
#
#   tools/live/tm.sh FLINK_HOME CLUSTER_DIR start        starts one more TaskManager, prints its PID
#   tools/live/tm.sh FLINK_HOME CLUSTER_DIR stop  [PID]  SIGTERM (default: the newest TaskManager)
#   tools/live/tm.sh FLINK_HOME CLUSTER_DIR kill  [PID]  SIGKILL, a crash (default: the newest)
#   tools/live/tm.sh FLINK_HOME CLUSTER_DIR list         PIDs of live TaskManagers, oldest first
#
# PIDs are kept in CLUSTER_DIR/run/taskmanagers.pids; a PID is only signalled if its command line
# names this cluster's conf dir, so a recycled PID is never hit.
set -euo pipefail
FLINK_HOME=$(cd "${1:?usage: tm.sh FLINK_HOME CLUSTER_DIR start|stop|kill|list [PID]}" && pwd)
CLUSTER_DIR=$(cd "${2:?usage: tm.sh FLINK_HOME CLUSTER_DIR start|stop|kill|list [PID]}" && pwd)
cmd=${3:?usage: tm.sh FLINK_HOME CLUSTER_DIR start|stop|kill|list [PID]}
pids="$CLUSTER_DIR/run/taskmanagers.pids"
touch "$pids"

ours() { [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -q -- "$CLUSTER_DIR/conf"; }
live() { while read -r p; do if [[ -n "$p" ]] && ours "$p"; then echo "$p"; fi; done < "$pids"; }

case "$cmd" in
  start)
    export FLINK_CONF_DIR="$CLUSTER_DIR/conf" FLINK_LOG_DIR="$CLUSTER_DIR/log" FLINK_PID_DIR="$CLUSTER_DIR/run"
    "$FLINK_HOME/bin/taskmanager.sh" start >/dev/null
    pf=$(ls "$CLUSTER_DIR"/run/flink-*-taskexecutor.pid)
    pid=$(tail -n1 "$pf")
    echo "$pid" >> "$pids"
    echo "$pid"
    ;;
  stop|kill)
    pid=${4:-$(live | tail -n1)}
    [[ -n "$pid" ]] || { echo "tm.sh: no live TaskManager in $pids" >&2; exit 1; }
    ours "$pid" || { echo "tm.sh: PID $pid is not a TaskManager of $CLUSTER_DIR" >&2; exit 1; }
    if [[ "$cmd" == kill ]]; then kill -9 "$pid"; else kill "$pid"; fi
    grep -vx "$pid" "$pids" > "$pids.new" || true
    mv "$pids.new" "$pids"
    echo "$pid"
    ;;
  list) live ;;
  *) echo "tm.sh: unknown command $cmd; expected start, stop, kill or list" >&2; exit 2 ;;
esac
