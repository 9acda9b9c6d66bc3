#!/bin/sh
# Installs whatever is missing (Debian 12, as root), then configures build/ and
# builds the CLI, build/hiko (the only target the README's commands use; the
# test suite builds its own trees in scripts/test.sh, and bench/echo/run.sh
# builds what it needs). `ninja -C build` builds everything else (examples/embed,
# benches). Idempotent: with everything present it only runs ninja.
set -eu
cd "$(dirname "$0")/.."

pkgs="liburing-dev libck-dev libcriterion-dev meson ninja-build pkg-config python3 clang libclang-rt-14-dev"
missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done
if [ -n "$missing" ]; then
  echo "setup: installing$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=release -Db_ndebug=false >/dev/null
fi
ninja -C build hiko >/dev/null || ninja -C build hiko
