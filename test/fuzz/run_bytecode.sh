#!/bin/sh
# Builds the bytecode fuzz target (loader, verifier, VM) with clang's libFuzzer (plus ASan and
# UBSan) and runs it for a bounded time, seeded with every test/lang program.
# Usage: run_front.sh SOURCE_ROOT WORK_DIR [SECONDS]
# Exit status: 0 when no crash, hang or sanitizer report; 1 otherwise;
# 77 (skip) when clang or libFuzzer is missing.
set -u
src=$1
work=$2
secs=${3:-60}

cc=$(command -v clang || command -v clang-14 || true)
if [ -z "$cc" ]; then echo "clang not found: skipping"; exit 77; fi

mkdir -p "$work/fuzz-bytecode" || exit 1
out="$work/fuzz-bytecode"
rm -rf "$out/corpus" "$out/artifacts"
mkdir -p "$out/corpus" "$out/artifacts" "$out/inc"

# Every vm source (as vm/meson.build lists them): the pipeline may call the
# checker and the compiler. They go into an archive, so only what the target
# needs is linked.
files="$src/vm/arena.c $src/vm/builtins_table.c"
for part in front check core builtins compile; do
  list="$src/vm/sources-$part.txt"
  [ -f "$list" ] || continue
  for f in $(grep -v '^ *#' "$list"); do files="$files $src/vm/$f"; done
done

cat > "$out/inc/hiko_config.h" <<CONF
#define HIKO_VERSION "fuzz"
#define HIKO_SOURCE_LIB_DIR "$src"
#define HIKO_INSTALL_LIB_DIR "/nonexistent"
CONF

flags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
  -I$src -I$src/include -I$out/inc"
rm -rf "$out/obj" && mkdir -p "$out/obj"
: > "$out/build.log"
for f in $files; do
  # shellcheck disable=SC2086
  "$cc" $flags -c "$f" -o "$out/obj/$(basename "$f" .c).o" >> "$out/build.log" 2>&1 || {
    echo "compiling $f for fuzzing failed:"; cat "$out/build.log"; exit 1; }
done
rm -f "$out/libvm.a"
ar rcs "$out/libvm.a" "$out"/obj/*.o || exit 1
# shellcheck disable=SC2086
if ! "$cc" $flags -fsanitize=fuzzer "$src/test/fuzz/bytecode_fuzz.c" "$out/libvm.a" -lm \
    -o "$out/bytecode_fuzz" >> "$out/build.log" 2>&1; then
  if grep -q "libclang_rt.fuzzer" "$out/build.log"; then
    echo "libFuzzer runtime missing: skipping"; cat "$out/build.log"; exit 77
  fi
  echo "linking the fuzz target failed:"; cat "$out/build.log"; exit 1
fi

# Seeds: the serialized images of the language-test programs.
# shellcheck disable=SC2086
"$cc" -std=c11 -D_GNU_SOURCE -g -O1 -I$src -I$src/include -I$out/inc -fsanitize=address,undefined \
  "$src/test/fuzz/bytecode_seed.c" "$out/libvm.a" -lm -o "$out/bytecode_seed" >> "$out/build.log" 2>&1 || {
  echo "building the seed tool failed:"; cat "$out/build.log"; exit 1; }
# shellcheck disable=SC2046
ASAN_OPTIONS=detect_leaks=0 "$out/bytecode_seed" "$out/corpus" \
  $(find "$src/test/lang/run" -name '*.hml' ! -name '_*' -size -16k | sort | head -150) || exit 1

echo "fuzzing the loader, verifier and VM for ${secs}s with $(ls "$out/corpus" | wc -l) seeds"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:handle_segv=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
"$out/bytecode_fuzz" "$out/corpus" -artifact_prefix="$out/artifacts/" \
  -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 > "$out/fuzz.log" 2>&1
rc=$?
tail -n 15 "$out/fuzz.log"
if [ $rc -ne 0 ] || [ -n "$(ls "$out/artifacts")" ]; then
  echo "fuzzing found a problem (exit $rc); reproducer(s) in $out/artifacts:"
  ls -l "$out/artifacts"
  grep -m 40 -E "ERROR|SUMMARY|runtime error|#[0-9]+ 0x" "$out/fuzz.log"
  exit 1
fi
echo "no crash, hang or sanitizer report"
exit 0
