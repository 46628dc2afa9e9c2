#!/bin/sh
# Everything CI checks, from a fresh Debian 12 machine (as root):
#   1. dependencies;
#   2. the default build, warnings as errors, and every test;
#   3. ASan + UBSan (libc malloc, so ASan sees every block) and every test;
#   4. TSan, the threaded tests.
# Each build lives in its own directory under build*/.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh

echo "== default build: meson test" >&2
scripts/build.sh build -Dwerror=true
meson test -C build --print-errorlogs

echo "== address,undefined sanitizers: meson test" >&2
scripts/build.sh build-asan -Dwerror=true -Djemalloc=disabled \
  -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fno-sanitize-recover=all
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  meson test -C build-asan --print-errorlogs

echo "== thread sanitizer: meson test --suite threads" >&2
scripts/build.sh build-tsan -Dwerror=true -Djemalloc=disabled -Db_sanitize=thread -Db_lundef=false
# TSan needs the address-space layout it expects; newer kernels randomise
# more bits than this TSan runtime handles, so run without randomisation.
TSAN_OPTIONS=halt_on_error=1 setarch "$(uname -m)" -R \
  meson test -C build-tsan --suite threads --print-errorlogs

echo "wpool: all test builds passed" >&2
