#!/bin/sh
# bench/peers/go/build.sh OUTDIR — builds the Go peers (OUTDIR/actors, OUTDIR/echoserver) with
# Debian's golang-go (Go 1.19), installing the package first when `go` is missing and we are
# root. Standard library only: GOPATH mode, GOPATH and GOCACHE under OUTDIR, no module downloads.
# Exit status 0 when both binaries were built.
set -e
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
if ! command -v go >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get install -y -qq golang-go || (apt-get update -qq && apt-get install -y -qq golang-go)) \
      >"$out/apt.log" 2>&1 || true
  fi
fi
if ! command -v go >/dev/null 2>&1; then
  echo "build.sh: go not found (apt-get install golang-go)" >&2
  exit 1
fi
export GOPATH="$out/gopath" GOCACHE="$out/gocache" GO111MODULE=off GOFLAGS= CGO_ENABLED=0
cd "$here"
for p in actors echoserver; do
  if ls "$p"/*.go >/dev/null 2>&1; then
    go build -o "$out/$p" "./$p"
  fi
done
