#!/bin/bash
# bench/echo/server_cpu.sh LABEL CMD... — the server's CPU per echo round trip, independent of the
# machine's load (unlike the rates of run.sh): starts CMD (the word PORT in it is replaced by a
# free port) in its own session, waits until the port accepts connections, runs echo_client with
# -w 0 -n $N (default 60000) against it, and prints the server's utime+stime per round trip (from
# /proc/PID/stat; io_thread_us/rt: the part of it spent by hiko's I/O thread, the thread named
# hiko-io, 0 for other servers), system calls and context switches per round trip (perf stat -p
# PID), the rate
# and p99. A second line (bench/echo/threads.py) gives each busy thread's CPU and context switches
# (inv: involuntary) per round trip, its migrations, and the share of 50 ms samples in which it
# last ran on the client's CPU (with_client), with the load average at the start: where the
# threads sit tells the echo benchmark's modes apart (bench/README.md, "Echo, stop 16").
# Note that the readiness probe is one extra connection. Example (alternate binaries,
# take medians):
#   bench/echo/server_cpu.sh hiko build-rel/hiko run --workers 2 examples/echo_server.hml PORT
#   bench/echo/server_cpu.sh C build-rel/bench/echo/echo_server_c -p PORT
#   GOMAXPROCS=2 bench/echo/server_cpu.sh Go GOBUILD/echoserver -port PORT
# CLIENT overrides the client binary (default build-rel/bench/echo/echo_client); CLIENT_CPUS runs
# it under taskset -c (a placement experiment: put `taskset -c LIST` before CMD for the server).
# See bench/README.md.
set -u
here=$(cd "$(dirname "$0")" && pwd)
N=${N:-60000}
CLIENT=${CLIENT:-$here/../../build-rel/bench/echo/echo_client}
label=$1; shift
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
setsid "${@//PORT/$PORT}" >"$tmp/server.out" 2>&1 &
spid=$!
for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done
stat_cpu() { sed 's/^.*) //' "/proc/$spid/stat" | awk '{print $12 + $13}'; }
# utime + stime of the server's threads named hiko-io (hiko's I/O thread; 0 for other servers)
io_cpu() {
  local t sum=0
  for t in /proc/$spid/task/*; do
    [ "$(cat "$t/comm" 2>/dev/null)" = hiko-io ] || continue
    sum=$((sum + $(sed 's/^.*) //' "$t/stat" | awk '{print $12 + $13}')))
  done
  echo $sum
}
c0=$(stat_cpu)
i0=$(io_cpu)
timeout 300 perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$spid" -o "$tmp/perf" &
ppid=$!
sleep 0.2
# threads.py takes its first snapshot, then reads the client's pid from $tmp/cpid
python3 "$here/threads.py" "$spid" "$tmp/cpid" "$tmp/threads.json" &
tpid=$!
for _ in $(seq 500); do [ -e "$tmp/threads.json.ready" ] && break; sleep 0.01; done
timeout 300 ${CLIENT_CPUS:+taskset -c "$CLIENT_CPUS"} "$CLIENT" -p "$PORT" -c 64 -s 64 -w 0 -n "$N" -l "$label" >"$tmp/client.out" &
cpid=$!
echo "$cpid" >"$tmp/cpid.new" && mv "$tmp/cpid.new" "$tmp/cpid"
wait "$cpid"
wait "$tpid"
out=$(cat "$tmp/client.out")
c1=$(stat_cpu)
i1=$(io_cpu)
kill -INT "$ppid"; wait "$ppid" 2>/dev/null
kill -- "-$spid" 2>/dev/null; wait "$spid" 2>/dev/null
sc=$(grep sys_enter "$tmp/perf" | cut -d, -f1)
cs=$(grep context-sw "$tmp/perf" | cut -d, -f1)
python3 - "$label" "$c0" "$c1" "$(getconf CLK_TCK)" "${sc:-0}" "${cs:-0}" "$out" "$i0" "$i1" \
  "$tmp/threads.json" <<'PY'
import json, sys
label, c0, c1, tck, sc, cs, out, i0, i1, thr = sys.argv[1:]
d = json.loads(out)
n = d["round_trips"]
cpu = (int(c1) - int(c0)) / int(tck) * 1e6 / n
io = (int(i1) - int(i0)) / int(tck) * 1e6 / n
print(f"{label}: cpu_us/rt={cpu:.2f} io_thread_us/rt={io:.2f} syscalls/rt={int(sc)/n:.2f} "
      f"cs/rt={int(cs)/n:.3f} rate={d['rate']:.0f} p99_us={d['p99_us']}")
try:
    t = json.load(open(thr))
except (OSError, ValueError):
    sys.exit(0)
parts = [f"{x['name']}:{x['ticks'] / int(tck) * 1e6 / n:.2f}us,cs={(x['vcs'] + x['ics']) / n:.3f}"
         f"(inv {x['ics'] / n:.3f}),migr={x['migr']},with_client={x['with_client']:.2f}"
         for x in t["threads"]]
print(f"  load={t['load']} samples={t['samples']} " + " ".join(parts))
PY
