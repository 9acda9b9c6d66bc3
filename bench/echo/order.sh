#!/bin/bash
# bench/echo/order.sh HIKO [ROUNDS] — whether the server that ran just before moves hiko's echo
# rate and placement (bench/README.md, "Echo spin and order, stop 20"). Per round: the Go server
# with the client for 3 s, hiko (--workers 2) twice, the C server for 3 s, hiko once, the Go server
# again, hiko --workers 1 twice. Each hiko run is server_cpu.sh with N (default 300000): rate,
# server CPU per round trip and each thread's with_client (the share of samples on the client's
# CPU). ~25 s per round on a quiet machine; a measurement for the lead's quiet windows, not for a
# loaded machine. Environment: GO (the Go echoserver; built with bench/peers/go/build.sh into a
# temporary directory when unset), BUILD (default build-rel: echo_client and echo_server_c).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@" # run as `sh order.sh` too
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
H=$1
R=${2:-3}
BUILD=${BUILD:-$root/build-rel}
CL=$BUILD/bench/echo/echo_client
CS=$BUILD/bench/echo/echo_server_c
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GO=${GO:-}
if [ -z "$GO" ]; then
  sh "$root/bench/peers/go/build.sh" "$tmp/go" >"$tmp/go.log" 2>&1 || { cat "$tmp/go.log" >&2; exit 1; }
  GO=$tmp/go/echoserver
fi
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
# peer LABEL CMD...: a reference server (PORT replaced) under the client for 3 s, then killed.
peer() {
  local label=$1 port pid
  shift
  port=$(free_port)
  setsid env GOMAXPROCS=2 "${@//PORT/$port}" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
  "$CL" -p "$port" -c 64 -s 64 -w 0 -d 3 -l "$label" | python3 -c \
    'import json,sys; d=json.loads(sys.stdin.read()); print("  %s: rate=%.0f p99_us=%s" % (d["server"], d["rate"], d["p99_us"]))'
  kill -- "-$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
hk() { # LABEL WORKERS
  N=${N:-300000} CLIENT=$CL "$here/server_cpu.sh" "$1" "$H" run --workers "$2" \
    "$root/examples/echo_server.hml" PORT 2>&1 | sed 's/^/  /'
}
for r in $(seq "$R"); do
  echo "round $r (load $(cut -d' ' -f1 /proc/loadavg))"
  peer go "$GO" -port PORT
  hk hiko2-after-go 2
  hk hiko2-after-hiko 2
  peer c "$CS" -p PORT
  hk hiko2-after-c 2
  peer go "$GO" -port PORT
  hk hiko1-after-go 1
  hk hiko1-after-hiko1 1
done
