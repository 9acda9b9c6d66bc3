#!/bin/sh
# Builds the loader/verifier/VM fuzz target (vm_fuzz.c) with clang's libFuzzer
# (plus ASan and UBSan), replays every reproducer in test/fuzz/regress, then
# fuzzes for a bounded time starting from the images of every test/lang/run
# program (built by the same file compiled as a seed tool).
# Usage: run_vm.sh SOURCE_ROOT WORK_DIR [SECONDS]
# Exit status: 0 when no crash, hang or sanitizer report; 1 otherwise;
# 77 (skip) when clang or libFuzzer is missing.
set -u
src=$(cd "$1" && pwd) || exit 1
work=$2
secs=${3:-60}

cc=$(command -v clang || command -v clang-14 || true)
if [ -z "$cc" ]; then echo "clang not found: skipping"; exit 77; fi

mkdir -p "$work/fuzz-vm" || exit 1
out=$(cd "$work/fuzz-vm" && pwd) || exit 1
rm -rf "$out/corpus" "$out/artifacts"
mkdir -p "$out/corpus" "$out/artifacts" "$out/inc"

. "$src/test/fuzz/fuzz_lib.sh"
fuzz_link vm_fuzz
# shellcheck disable=SC2086
"$cc" $flags -DHK_VM_FUZZ_SEEDS "$src/test/fuzz/vm_fuzz.c" "$out/libvm.a" -lm \
  -o "$out/vm_seeds" >> "$out/build.log" 2>&1 || {
  echo "building the seed tool failed:"; cat "$out/build.log"; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:handle_segv=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# Everything runs in the work folder: nothing may land in the checkout.
cd "$out" || exit 1

# Reproducers of bugs found before must stay fixed: raw inputs (*.hbc), and
# programs (*.hml) whose images get 60000 extra local slots per function,
# then 60000 extra slots of declared maximum stack (rebuilt here, so they
# follow changes of the instruction set).
rm -rf "$out/regress" "$out/regress-stack" && mkdir -p "$out/regress" "$out/regress-stack"
programs=$(find "$src/test/fuzz/regress" -name '*.hml' 2>/dev/null | sort)
if [ -n "$programs" ]; then
  # shellcheck disable=SC2086
  { ASAN_OPTIONS=detect_leaks=0 "$out/vm_seeds" -l 60000 "$out/regress" $programs > /dev/null &&
    ASAN_OPTIONS=detect_leaks=0 "$out/vm_seeds" -s 60000 "$out/regress-stack" $programs > /dev/null; } || {
    echo "building the reproducer images failed"; exit 1; }
fi
regress=$(find "$src/test/fuzz/regress" "$out/regress" "$out/regress-stack" -name '*.hbc' 2>/dev/null | sort)
if [ -n "$regress" ]; then
  # shellcheck disable=SC2086
  if ! "$out/vm_fuzz" -timeout=10 $regress > "$out/regress.log" 2>&1; then
    echo "a reproducer of test/fuzz/regress fails again:"
    grep -m 40 -E "Running:|ERROR|SUMMARY|runtime error|vm_fuzz:|#[0-9]+ 0x" "$out/regress.log"
    exit 1
  fi
  echo "replayed $(echo "$regress" | wc -l) reproducer(s)"
fi

# Seeds: the serialized images of the language-test programs.
(cd "$src/test/lang/run" && ASAN_OPTIONS=detect_leaks=0 "$out/vm_seeds" "$out/corpus" \
  ./*.hml) || { echo "writing the seed images failed"; exit 1; }

echo "fuzzing the loader, verifier and VM for ${secs}s with $(find "$out/corpus" -type f | wc -l) seeds"
"$out/vm_fuzz" "$out/corpus" -artifact_prefix="$out/artifacts/" \
  -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
  -use_value_profile=1 -print_final_stats=1 > "$out/fuzz.log" 2>&1
rc=$?
tail -n 15 "$out/fuzz.log"
if [ $rc -ne 0 ] || [ -n "$(ls "$out/artifacts")" ]; then
  echo "fuzzing found a problem (exit $rc); reproducer(s) in $out/artifacts:"
  ls -l "$out/artifacts"
  grep -m 40 -E "ERROR|SUMMARY|runtime error|vm_fuzz:|#[0-9]+ 0x" "$out/fuzz.log"
  exit 1
fi
echo "no crash, hang or sanitizer report"
exit 0
