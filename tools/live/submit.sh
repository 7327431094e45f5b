#!/usr/bin/env bash
# submit.sh: uploads a jar to a Flink session cluster and runs it; prints the job id.
#
#   tools/live/submit.sh URL JAR PARALLELISM [PROGRAM ARGS...]
#   e.g. tools/live/submit.sh http://127.0.0.1:18081 build/rate-job.jar 2 --rate 1000 --rate-file /tmp/rate
set -euo pipefail
url=${1:?usage: submit.sh URL JAR PARALLELISM [ARGS...]}
jar=${2:?usage: submit.sh URL JAR PARALLELISM [ARGS...]}
par=${3:?usage: submit.sh URL JAR PARALLELISM [ARGS...]}
shift 3
up=$(curl -sf -m 30 -X POST -H "Expect:" -F "jarfile=@$jar" "$url/jars/upload") \
  || { echo "submit.sh: upload of $jar to $url failed" >&2; exit 1; }
jarid=$(basename "$(echo "$up" | sed -n 's/.*"filename":"\([^"]*\)".*/\1/p')")
[[ -n "$jarid" ]] || { echo "submit.sh: unexpected upload answer: $up" >&2; exit 1; }
argsjson=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$@")
run=$(curl -s -m 60 -X POST -H 'Content-Type: application/json' "$url/jars/$jarid/run" \
  -d "{\"parallelism\":$par,\"programArgsList\":$argsjson}")
jid=$(echo "$run" | sed -n 's/.*"jobid":"\([0-9a-f]*\)".*/\1/p')
[[ -n "$jid" ]] || { echo "submit.sh: run failed: $run" >&2; exit 1; }
echo "$jid"
