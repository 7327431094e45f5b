#!/usr/bin/env bash
# jm.sh: kills, stops or starts the JobManager of a cluster made by start_cluster.sh, by PID.
#
#   tools/live/jm.sh FLINK_HOME CLUSTER_DIR kill     SIGKILL, a crash (prints the PID)
#   tools/live/jm.sh FLINK_HOME CLUSTER_DIR stop     SIGTERM, waits until it is gone
#   tools/live/jm.sh FLINK_HOME CLUSTER_DIR start    starts it again with the cluster's config;
#                                                    waits until REST answers (prints the URL)
#
# The PID comes from CLUSTER_DIR/run/flink-*-standalonesession.pid and is only signalled if its
# command line names this cluster's conf dir. Without high availability a restarted JobManager
# has no jobs and no uploaded jars: the TaskManagers re-register by themselves, the job has to
# be resubmitted from its latest retained checkpoint (the live backend does that when given
# --resubmit-jar-file).
set -euo pipefail
FLINK_HOME=$(cd "${1:?usage: jm.sh FLINK_HOME CLUSTER_DIR kill|stop|start}" && pwd)
CLUSTER_DIR=$(cd "${2:?usage: jm.sh FLINK_HOME CLUSTER_DIR kill|stop|start}" && pwd)
cmd=${3:?usage: jm.sh FLINK_HOME CLUSTER_DIR kill|stop|start}

ours() { [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -q -- "$CLUSTER_DIR/conf"; }
jm_pid() { cat "$CLUSTER_DIR"/run/flink-*-standalonesession.pid 2>/dev/null | tail -n1; }

case "$cmd" in
  kill|stop)
    pid=$(jm_pid)
    [[ -n "$pid" ]] && ours "$pid" || { echo "jm.sh: no running JobManager of $CLUSTER_DIR" >&2; exit 1; }
    if [[ "$cmd" == kill ]]; then kill -9 "$pid"; else kill "$pid"; fi
    for _ in $(seq 1 60); do ours "$pid" || break; sleep 0.5; done
    rm -f "$CLUSTER_DIR"/run/flink-*-standalonesession.pid
    echo "$pid"
    ;;
  start)
    url=$(cat "$CLUSTER_DIR/rest_url")
    export FLINK_CONF_DIR="$CLUSTER_DIR/conf" FLINK_LOG_DIR="$CLUSTER_DIR/log" FLINK_PID_DIR="$CLUSTER_DIR/run"
    "$FLINK_HOME/bin/jobmanager.sh" start >/dev/null
    for _ in $(seq 1 120); do
      if curl -sf -m 2 "$url/overview" >/dev/null 2>&1; then echo "$url"; exit 0; fi
      sleep 0.5
    done
    echo "jm.sh: the JobManager did not answer on $url within 60 s; see $CLUSTER_DIR/log" >&2
    exit 1
    ;;
  *) echo "jm.sh: unknown command $cmd; expected kill, stop or start" >&2; exit 2 ;;
esac
