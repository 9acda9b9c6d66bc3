#!/bin/sh
# Builds the front-end fuzz target with clang's libFuzzer (plus ASan and
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

mkdir -p "$work/fuzz-front" || exit 1
out="$work/fuzz-front"
rm -rf "$out/corpus" "$out/artifacts"
mkdir -p "$out/corpus" "$out/artifacts" "$out/inc"

. "$src/test/fuzz/fuzz_lib.sh"
fuzz_link front_fuzz

# Seeds: every language-test program (small ones first; libFuzzer trims).
find "$src/test/lang" -name '*.hml' -size -64k | while read -r f; do
  cp "$f" "$out/corpus/$(echo "$f" | cksum | cut -d' ' -f1).hml"
done

echo "fuzzing the front end for ${secs}s with $(ls "$out/corpus" | wc -l) seeds"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:handle_segv=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
"$out/front_fuzz" "$out/corpus" -artifact_prefix="$out/artifacts/" \
  -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
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
