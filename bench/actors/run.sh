#!/bin/sh
# bench/actors/run.sh [--hiko PATH] [--runs N] [--small] [--only a,b] [--timeout S] [--no-go]
# The eight actor workloads in hiko (--workers 2) and Go (GOMAXPROCS=2), alternating, 5 runs
# each by default, in one invocation: one JSON line per measurement, then the table of medians,
# ratios and issue #5's targets. Builds the Go peers first (installing golang-go when missing
# and run as root). HIKO=PATH also selects the binary (default build/hiko). See bench/README.md.
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/run.py" "$@"
