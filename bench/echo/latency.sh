#!/bin/bash
# bench/echo/latency.sh HIKO [WORKERS]: issue #6's completion -> runnable latency on the echo load.
# Runs examples/echo_server.hml (WORKERS, default 2) with HIKO_IO_LATENCY=1 and --stats until it
# has served 65 connections (the readiness probe and echo_client's 64), under echo_client -c 64
# -s 64 -w 0 -n $N (default 100000), then prints the client's JSON line and the server's
# latency histograms ("completion->runnable": the completion callback's start to the process's
# BLOCKED -> RUNNABLE CAS; "completion->running": to the process taking its result on a worker;
# log2 ns buckets) and its --stats totals. The histograms are printed only when the server ends by
# itself, which is why run.sh (which kills its servers) cannot show them. CLIENT overrides the
# client binary (default build-rel/bench/echo/echo_client). See bench/README.md.
set -u
here=$(cd "$(dirname "$0")" && pwd)
N=${N:-100000}
CLIENT=${CLIENT:-$here/../../build-rel/bench/echo/echo_client}
hiko=$1
workers=${2:-2}
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
HIKO_IO_LATENCY=1 timeout 300 "$hiko" run --stats --workers "$workers" \
  "$here/../../examples/echo_server.hml" "$PORT" 65 >/dev/null 2>"$tmp/err" &
spid=$!
for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done
timeout 300 "$CLIENT" -p "$PORT" -c 64 -s 64 -w 0 -n "$N" -l hiko
wait "$spid"
rc=$?
grep -E '^hiko (io latency|stats)|^(worker|total) ' "$tmp/err"
exit $rc
