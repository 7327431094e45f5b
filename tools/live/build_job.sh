#!/usr/bin/env bash
# build_job.sh: compiles the live test job (tools/live/job/src) with javac against FLINK_HOME/lib.
#
#   tools/live/build_job.sh FLINK_HOME OUT_DIR      -> OUT_DIR/rate-job.jar (printed)
#
# The jar is reused when OUT_DIR/rate-job.stamp says it was built from the same sources against
# the same FLINK_HOME (javac + jar take 4-10 s on a busy 2-core machine).
set -euo pipefail
FLINK_HOME=${1:?usage: build_job.sh FLINK_HOME OUT_DIR}
OUT=${2:?usage: build_job.sh FLINK_HOME OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
command -v javac >/dev/null || { echo "build_job.sh: javac not found; install a JDK 11 or 17" >&2; exit 2; }
stamp=$( { cd "$FLINK_HOME" && pwd; ls "$FLINK_HOME/lib"; find "$here/job/src" -name '*.java' -print0 | sort -z | xargs -0 cat; } | sha256sum | cut -d' ' -f1)
if [[ -f "$OUT/rate-job.jar" && "$(cat "$OUT/rate-job.stamp" 2>/dev/null)" == "$stamp" ]]; then
  echo "$OUT/rate-job.jar"
  exit 0
fi
rm -f "$OUT/rate-job.stamp"
rm -rf "$OUT/classes"
mkdir -p "$OUT/classes"
javac -nowarn -d "$OUT/classes" -cp "$FLINK_HOME/lib/*" $(find "$here/job/src" -name '*.java') >&2
jar --create --file "$OUT/rate-job.jar" --main-class demeter.RateJob -C "$OUT/classes" . >&2
echo "$stamp" > "$OUT/rate-job.stamp"
echo "$OUT/rate-job.jar"
