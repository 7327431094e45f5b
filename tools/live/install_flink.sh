#!/usr/bin/env bash
# install_flink.sh: assembles Apache Flink from two PyPI artifacts into FLINK_HOME (no Maven, no Apache mirror).
#
#   tools/live/install_flink.sh [FLINK_HOME] [VERSION]
#
# Defaults: FLINK_HOME=$HOME/.cache/demeter-sim/flink-1.20.3, VERSION=1.20.3. Downloads are cached in
# DL_DIR (default $HOME/.cache/demeter-sim/download). The jars come from the apache-flink-libraries
# sdist, bin/ and conf/ from the apache-flink wheel (neither is complete alone). lib/ must be a real
# directory (bin/config.sh runs find without -L). Idempotent: an existing complete install is kept.
set -euo pipefail
VERSION=${2:-1.20.3}
FLINK_HOME=${1:-$HOME/.cache/demeter-sim/flink-$VERSION}
DL_DIR=${DL_DIR:-$HOME/.cache/demeter-sim/download}
PYTHON=${PYTHON:-python3}

if [[ -f "$FLINK_HOME/lib/flink-dist-$VERSION.jar" && -x "$FLINK_HOME/bin/jobmanager.sh" ]]; then
  echo "$FLINK_HOME"
  exit 0
fi
command -v "$PYTHON" >/dev/null || { echo "install_flink.sh: $PYTHON not found; install Python 3 with pip" >&2; exit 2; }
mkdir -p "$DL_DIR"
sdist="$DL_DIR/apache-flink-libraries-$VERSION.tar.gz"
if [[ ! -f "$sdist" ]]; then
  "$PYTHON" -m pip download -q --no-deps --no-binary :all: -d "$DL_DIR" "apache-flink-libraries==$VERSION" >&2
fi
wheel=$(ls "$DL_DIR"/apache_flink-"$VERSION"-*.whl 2>/dev/null | head -n1 || true)
if [[ -z "$wheel" ]]; then
  "$PYTHON" -m pip download -q --no-deps --only-binary :all: --implementation cp --python-version 3.11 \
    --platform manylinux2014_x86_64 -d "$DL_DIR" "apache-flink==$VERSION" >&2
  wheel=$(ls "$DL_DIR"/apache_flink-"$VERSION"-*.whl | head -n1)
fi
tmp="$FLINK_HOME.partial"
rm -rf "$tmp"
mkdir -p "$tmp"
tar -xzf "$sdist" -C "$tmp" --strip-components=2 "apache-flink-libraries-$VERSION/deps"
"$PYTHON" - "$wheel" "$tmp" <<'PY'
import sys, zipfile, os
whl, home = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        for pre, dst in (("pyflink/bin/", "bin"), ("pyflink/conf/", "conf")):
            if n.startswith(pre) and not n.endswith("/"):
                out = os.path.join(home, dst, n[len(pre):])
                os.makedirs(os.path.dirname(out), exist_ok=True)
                with open(out, "wb") as f:
                    f.write(z.read(n))
PY
chmod +x "$tmp"/bin/*
rm -rf "$tmp/opt/flink-python"*
rm -rf "$FLINK_HOME"
mv "$tmp" "$FLINK_HOME"
echo "$FLINK_HOME"
