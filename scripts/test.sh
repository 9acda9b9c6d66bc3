#!/bin/sh
# Runs the whole test suite: unit, language, fuzz and stress tests in the
# normal build; the stress tests under ThreadSanitizer; everything again under
# AddressSanitizer + UBSan. Ends with one line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."

status=0
configure() { # dir, extra meson options...
  dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dwerror_ours=true "$@" >/dev/null || return 1
  fi
  ninja -C "$dir" >/dev/null || ninja -C "$dir"
}
run() { # dir, meson test options...
  dir=$1; shift
  echo "== tests in $dir"
  rm -f "$dir/meson-logs/testlog.junit.xml"
  if ! meson test -C "$dir" --list "$@" 2>/dev/null | grep -v -q -E "^(ninja: no work to do.|No tests defined.)$"; then
    echo "(no tests registered in $dir)"; touch "$dir/.no-tests"; return 0
  fi
  rm -f "$dir/.no-tests"
  timeout -k 10 1500 meson test -C "$dir" --num-processes 2 --print-errorlogs "$@" \
    | grep -v -E '^ *[0-9]+/[0-9]+ .* OK ' || true
}

configure build-test --buildtype=debugoptimized || status=1
configure build-tsan --buildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false || status=1
configure build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false || status=1

run build-test
run build-tsan --suite stress
# ASan+UBSan at -O0 runs programs ~10x slower: each language program gets 240 s, not 60.
export HIKO_LANG_TIMEOUT=240
run build-asan --no-suite fuzz --timeout-multiplier 3

python3 scripts/summary.py build-test build-tsan build-asan || status=1
exit $status
