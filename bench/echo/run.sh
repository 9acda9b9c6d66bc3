#!/bin/sh
# bench/echo/run.sh [--build DIR] [--hiko PATH] [--runs N] [--duration S] [--only hiko,c,go]
#                   [--server-cpus LIST] [--client-cpus LIST] ...
# The echo benchmark of issue #6 in one invocation: the C load client (64 connections, 64-byte
# round trips) against hiko's examples/echo_server.hml on 2 workers (skipped when it does not
# exist or does not start), the plain C epoll server and the Go server (GOMAXPROCS=2); JSON line
# per run, then a table with ratios to Go and C. Builds the C programs with meson in BUILD
# (default build/) and the Go server with bench/peers/go/build.sh. Servers bind 127.0.0.1 only
# and are killed after each run. See bench/README.md.
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/run.py" "$@"
