#!/bin/sh
# bench/echo/server_callgrind.sh HIKO [WORKERS [BACKEND]] — user-space instructions per echo round
# trip of examples/echo_server.hml, which neither the machine's load nor the threads' placement
# moves (bench/README.md, "Accept cancel race and echo system calls, stop 17"). Runs the server
# under callgrind (--workers WORKERS, default 1; HIKO_IO_BACKEND=BACKEND, default fallback:
# callgrind does not run the io_uring backend here) twice, each for exactly C connections (no
# readiness probe: the port is read from the server's first line) driven by
# `echo_client -c C -s 64 -w 0 -n N`, with N = N1 and N2, and prints
#   instructions per round trip = (Ir(N2) - Ir(N1)) / (N2 - N1)
# which removes start-up and shut-down. Environment: N1 (2000), N2 (10000), C (8), CLIENT (the
# client binary, default build-rel/bench/echo/echo_client). Compare builds back to back.
set -u
here=$(cd "$(dirname "$0")" && pwd)
HIKO=$1
W=${2:-1}
B=${3:-fallback}
N1=${N1:-2000}
N2=${N2:-10000}
C=${C:-8}
CLIENT=${CLIENT:-$here/../../build-rel/bench/echo/echo_client}
EX=$here/../../examples/echo_server.hml
tmp=$(mktemp -d)
spid=
cleanup() {
  [ -n "$spid" ] && kill "$spid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# Ir of one server run serving $1 round trips.
one() {
  : >"$tmp/out"
  HIKO_IO_BACKEND=$B valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" \
    "$HIKO" run --workers "$W" "$EX" 0 "$C" >"$tmp/out" 2>"$tmp/err" &
  spid=$!
  i=0
  while [ ! -s "$tmp/out" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
  port=$(head -1 "$tmp/out" | sed 's/.*://')
  if [ -z "$port" ]; then
    echo "server_callgrind: the server printed no port" >&2
    exit 1
  fi
  "$CLIENT" -p "$port" -c "$C" -s 64 -w 0 -d 100 -n "$1" >/dev/null || {
    echo "server_callgrind: the client failed" >&2
    exit 1
  }
  wait "$spid"
  spid=
  sed -n 's/^summary: *//p; s/^totals: *//p' "$tmp/cg" | head -1
}

a=$(one "$N1")
b=$(one "$N2")
echo "$B --workers $W: $a at $N1, $b at $N2 round trips:" \
  "$(( (b - a) / (N2 - N1) )) instructions per round trip"
