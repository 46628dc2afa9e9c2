#!/bin/sh
# Everything CI checks, from a fresh Debian 12 machine (as root):
#   1. dependencies;
#   2. the default build, warnings as errors, and every test;
#   3. ASan + UBSan (libc malloc, so ASan sees every block) at debug level 3
#      (pool_is_valid after every change of a pool) and every test;
#   4. TSan, the threaded tests;
#   5. libFuzzer targets (clang), each for WPOOL_FUZZ_SECONDS (20) on its
#      corpus in fuzz/corpus/; new inputs go to a temporary directory.
# Each build lives in its own directory under build*/.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh

echo "== default build: meson test" >&2
scripts/build.sh build -Dwerror=true
meson test -C build --print-errorlogs

echo "== address,undefined sanitizers, debug level 3: meson test" >&2
scripts/build.sh build-asan -Dwerror=true -Djemalloc=disabled -Ddebug_level=3 \
  -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fno-sanitize-recover=all
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  meson test -C build-asan --print-errorlogs

echo "== thread sanitizer: meson test --suite threads" >&2
scripts/build.sh build-tsan -Dwerror=true -Djemalloc=disabled -Db_sanitize=thread -Db_lundef=false
# TSan needs the address-space layout it expects; newer kernels randomise
# more bits than this TSan runtime handles, so run without randomisation.
TSAN_OPTIONS=halt_on_error=1 setarch "$(uname -m)" -R \
  meson test -C build-tsan --suite threads --print-errorlogs

echo "== fuzzing: each target ${WPOOL_FUZZ_SECONDS:-20} s" >&2
CC=clang scripts/build.sh build-fuzz -Dfuzz=enabled -Dwerror=true -Djemalloc=disabled \
  -Db_sanitize=address,undefined -Db_lundef=false
# Every target has a corpus directory (fuzz/corpus/NAME for fuzz/fuzz_NAME.c).
for src in fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  [ -d "fuzz/corpus/${name#fuzz_}" ] || { echo "wpool: $src has no fuzz/corpus/${name#fuzz_}" >&2; exit 1; }
done
targets=$(ls fuzz/corpus)
nfuzz=0
for target in $targets; do
  nfuzz=$((nfuzz + 1))
  scratch=$(mktemp -d)
  log="$scratch/log"
  if ! build-fuzz/fuzz/fuzz_$target "$scratch" "fuzz/corpus/$target" \
      -max_total_time="${WPOOL_FUZZ_SECONDS:-20}" -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "wpool: fuzz_$target found a crash (the input is in the log above)" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "fuzz_$target: $runs executions, no crash" >&2
  rm -rf "$scratch"
done

# A failure above has already stopped the script (set -e), so every count
# here is a pass: meson's test programs in the three builds, and the fuzz
# targets.
passed=$nfuzz
for dir in build build-asan build-tsan; do
  n=$(grep -c '"result": "OK"' "$dir/meson-logs/testlog.json")
  passed=$((passed + n))
done
echo "wpool: every build and fuzz target passed (meson test programs in 3 builds, $nfuzz fuzz targets)"
echo "wpool: $passed passed, 0 failed"
