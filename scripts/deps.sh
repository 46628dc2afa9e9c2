#!/bin/sh
# Install what wpool needs from Debian's archive, and nothing when all of it
# is there already. Run as root (or with sudo available). Idempotent.
set -eu
# The runtime (runtime/, examples/): wasm2c and its wasm-rt.h (wabt), and
# clang-14 with lld-14, wasi-libc and the wasm32 compiler-rt for the guests.
# `wpool serve` (docs/serve.md): llhttp's C sources (node-llhttp), libcurl for its tests, wrk
# for bench/serve.sh. Node (Debian's nodejs): the V8 peer of bench/peer_bench.
pkgs="gcc libc6-dev meson ninja-build pkg-config libcriterion-dev libuv1-dev libjemalloc-dev clang libclang-rt-14-dev
  wabt clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32
  node-llhttp libcurl4-openssl-dev wrk nodejs"
missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
echo "wpool: installing:$missing" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
