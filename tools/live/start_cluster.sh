#!/usr/bin/env bash
# start_cluster.sh: a standalone Flink session cluster on 127.0.0.1 (1 JobManager + N TaskManagers).
#
#   tools/live/start_cluster.sh FLINK_HOME CLUSTER_DIR [N_TASKMANAGERS=2]
#
# Everything the cluster writes (conf/, log/, run/ pid files, tmp/, state/) lives in CLUSTER_DIR;
# FLINK_HOME stays untouched. Fast heartbeats (1 s / 5 s), the adaptive scheduler with 1-s
# rescale timers, a 0.5-s REST cache and a 1-s metric fetch interval (docs: live_flink.md §2, §10).
# Buffer debloating keeps ~1 s of records in flight (Flink default target): without it RateJob's
# 8-byte records fill ~10^5 records of network buffers before the source is backpressured, and a
# backlog beyond capacity hides there instead of showing as the source's pendingRecords (the lag).
# web.timeout 10 s (default 600 s): the JobManager's metric fetcher waits for every TaskManager's
# answer before it fetches again, and a query in flight to a TaskManager killed with SIGKILL is
# only given up after web.timeout: with the default, every REST metric froze for minutes after a
# TaskManager kill (seen in most live-test TaskManager kills; README "Live").
# Environment: REST_PORT (18081), JM_RPC_PORT (16123), SLOTS (2 per TM), TM_MEMORY (1g),
# SCHEDULER (adaptive|default), EXTRA_CONF (a YAML file appended to the config).
# Prints the REST URL once all TaskManagers have registered; exits 1 after 90 s otherwise.
set -euo pipefail
FLINK_HOME=$(cd "${1:?usage: start_cluster.sh FLINK_HOME CLUSTER_DIR [N]}" && pwd)
mkdir -p "${2:?usage: start_cluster.sh FLINK_HOME CLUSTER_DIR [N]}"
CLUSTER_DIR=$(cd "$2" && pwd)
N=${3:-2}
REST_PORT=${REST_PORT:-18081}
JM_RPC_PORT=${JM_RPC_PORT:-16123}
SLOTS=${SLOTS:-2}
TM_MEMORY=${TM_MEMORY:-1g}
SCHEDULER=${SCHEDULER:-adaptive}
here=$(cd "$(dirname "$0")" && pwd)
url="http://127.0.0.1:$REST_PORT"

command -v java >/dev/null || { echo "start_cluster.sh: java not found; install a JDK 11 or 17" >&2; exit 2; }
if curl -sf -m 2 "$url/overview" >/dev/null 2>&1; then
  echo "start_cluster.sh: something already answers on $url; stop it or set REST_PORT" >&2
  exit 2
fi
mkdir -p "$CLUSTER_DIR"/{conf,log,run,tmp,state}
cp "$FLINK_HOME"/conf/log4j*.properties "$CLUSTER_DIR/conf/"
opens=$(grep -m1 -- '--add-exports' "$FLINK_HOME/conf/config.yaml" | sed 's/^ *all: *//')
cat > "$CLUSTER_DIR/conf/config.yaml" <<YAML
env.java.opts.all: $opens -Djava.io.tmpdir=$CLUSTER_DIR/tmp
env.pid.dir: $CLUSTER_DIR/run
env.log.dir: $CLUSTER_DIR/log
io.tmp.dirs: $CLUSTER_DIR/tmp
jobmanager.rpc.address: 127.0.0.1
jobmanager.rpc.port: $JM_RPC_PORT
jobmanager.bind-host: 127.0.0.1
jobmanager.memory.process.size: 1g
jobmanager.scheduler: $SCHEDULER
jobmanager.execution.failover-strategy: region
jobmanager.adaptive-scheduler.scaling-interval.min: 1 s
jobmanager.adaptive-scheduler.resource-stabilization-timeout: 1 s
jobmanager.adaptive-scheduler.resource-wait-timeout: 5 min
taskmanager.host: 127.0.0.1
taskmanager.bind-host: 127.0.0.1
taskmanager.numberOfTaskSlots: $SLOTS
taskmanager.memory.process.size: $TM_MEMORY
taskmanager.memory.managed.fraction: 0.1
blob.server.port: 0
rest.address: 127.0.0.1
rest.bind-address: 127.0.0.1
rest.port: $REST_PORT
restart-strategy.type: fixed-delay
restart-strategy.fixed-delay.attempts: 1000
restart-strategy.fixed-delay.delay: 1 s
state.backend.type: hashmap
execution.checkpointing.interval: 5 s
execution.checkpointing.dir: file://$CLUSTER_DIR/state/checkpoints
execution.checkpointing.savepoint-dir: file://$CLUSTER_DIR/state/savepoints
execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION
heartbeat.interval: 1000
heartbeat.timeout: 5000
web.refresh-interval: 500
metrics.fetcher.update-interval: 1000
web.tmpdir: $CLUSTER_DIR/tmp
taskmanager.network.memory.buffer-debloat.enabled: true
web.timeout: 10000
YAML
if [[ -n "${EXTRA_CONF:-}" ]]; then cat "$EXTRA_CONF" >> "$CLUSTER_DIR/conf/config.yaml"; fi
echo "$url" > "$CLUSTER_DIR/rest_url"

export FLINK_CONF_DIR="$CLUSTER_DIR/conf" FLINK_LOG_DIR="$CLUSTER_DIR/log" FLINK_PID_DIR="$CLUSTER_DIR/run"
"$FLINK_HOME/bin/jobmanager.sh" start >/dev/null
for _ in $(seq 1 "$N"); do "$here/tm.sh" "$FLINK_HOME" "$CLUSTER_DIR" start >/dev/null; done

deadline=$((SECONDS + 90))
while (( SECONDS < deadline )); do
  tms=$(curl -sf -m 2 "$url/overview" 2>/dev/null | sed -n 's/.*"taskmanagers":\([0-9]*\).*/\1/p' || true)
  if [[ "${tms:-0}" -ge "$N" ]]; then
    echo "$url"
    exit 0
  fi
  sleep 0.5
done
echo "start_cluster.sh: $N TaskManagers did not register within 90 s; see $CLUSTER_DIR/log" >&2
exit 1
