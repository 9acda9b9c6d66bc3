#!/bin/sh
# bench/vm/run.sh [HIKO] [RUNS] — the VM benchmarks beside the same programs
# in Lua 5.4, in one invocation: median wall time of RUNS alternating runs,
# the ratio hiko/Lua per program and the geometric mean (target <= 1.0).
# Installs the Debian package lua5.4 when it is missing.
set -e
here=$(cd "$(dirname "$0")" && pwd)
hiko=${1:-$here/../../build/hiko}
runs=${2:-5}
if ! command -v lua5.4 >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq lua5.4) >/dev/null 2>&1 || true
fi
exec python3 "$here/run.py" "$hiko" "$runs"
