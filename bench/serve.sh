#!/bin/sh
# wpool serve under wrk: requests per second and latency p50/p99 for the
# hello guest and two realistic guests (json: a 12 KB JSON document parsed
# with malloc and free per node; template: a page rendered from a 108 KB
# data segment), under three set-ups in one run, interleaved in rounds
# (the set-ups' order rotates each round):
#   defaults   the pool's defaults (wpool serve with no --config)
#   wasmtime   Wasmtime-like settings: prefix reset, keep_resident 0 for
#              memories and tables, max_unused_warm_slots 100
#   stock      --runtime stock: Debian's wasm2c runtime (mmap per instance)
#   nolimit    the defaults without a time limit (--timeout 0; the default
#              is 10 s): what the limit costs (not in the default set)
# Loopback only (127.0.0.1, an ephemeral port), every wrk run bounded by
# its duration. One JSON line per run on stdout (and in OUT if given), then
# a summary line per guest and set-up with the medians over rounds.
#
#   baseline   (only with BASELINE=PATH: another build's wpool binary, e.g.
#              the code before a change, with its defaults: the summary
#              gives each set-up's ratio to it as well)
#
# usage: bench/serve.sh [BUILD_DIR] [OUT.jsonl]
# environment: ROUNDS (3), DURATION seconds per run (5), CONNECTIONS (4),
#   THREADS (the server's; default: its own, one per core), WRK_THREADS (1),
#   SETUPS (default "defaults wasmtime stock", plus "baseline" with
#   BASELINE), GUESTS (default "hello json template")
set -eu
build=${1:-build}
out=${2:-}
rounds=${ROUNDS:-3}
duration=${DURATION:-5}
conns=${CONNECTIONS:-4}
wrk_threads=${WRK_THREADS:-1}
guests=${GUESTS:-hello json template}
baseline=${BASELINE:-}
[ -z "$baseline" ] || [ -x "$baseline" ] || { echo "bench/serve.sh: BASELINE=$baseline is not a program" >&2; exit 2; }
tool="$build/tools/wpool/wpool"
[ -x "$tool" ] || { echo "bench/serve.sh: no $tool (build first)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench/serve.sh: wrk is not installed (scripts/deps.sh)" >&2; exit 2; }
export WPOOL_CACHE_DIR="${WPOOL_CACHE_DIR:-$build/wasm-cache}"

work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

mkdir "$work/modules"
for g in hello json template; do cp "$build/examples/$g.wasm" "$work/modules/"; done
# The guests' inputs, as `wpool wasm` uses them (tools/wpool/wasm.c).
python3 - "$work" <<'EOF'
import sys
w = sys.argv[1]
users = ','.join('{"id":%d,"name":"u%d","tags":["a",%d]}' % (i, i, i * 3) for i in range(200))
open(w + '/json.body', 'w').write('{"users":[' + users + ']}')
open(w + '/template.body', 'w').write('user=ann\ntitle=Report\nplan=pro\nregion=eu\n')
EOF
# A wrk script per guest: the request, and a JSON line from done().
for g in hello json template; do
  {
    if [ "$g" != hello ]; then
      printf 'local f = io.open("%s/%s.body", "rb")\nwrk.method = "POST"\nwrk.body = f:read("*a")\nf:close()\n' "$work" "$g"
      printf 'wrk.headers["Content-Type"] = "text/plain"\n'
    fi
    cat <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_s":%.3f,"requests_per_s":%.1f,"p50_us":%.1f,"p99_us":%.1f,' ..
    '"max_us":%.1f,"errors":%d,"non_2xx":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
EOF
  } >"$work/$g.lua"
done

setup_args() {
  case $1 in
    defaults | baseline) ;;
    wasmtime) echo "--config reset_strategy=prefix --config linear_memory_keep_resident=0 --config table_keep_resident=0 --config max_unused_warm_slots=100" ;;
    stock) echo "--runtime stock" ;;
    nolimit) echo "--timeout 0" ;;
  esac
}

start() {
  : >"$work/err"
  run_tool=$tool
  [ "$1" = baseline ] && run_tool=$baseline
  # shellcheck disable=SC2046
  "$run_tool" serve --listen 127.0.0.1:0 ${THREADS:+--threads $THREADS} $(setup_args "$1") \
    "$work/modules" >/dev/null 2>"$work/err" &
  pid=$!
  i=0
  while ! grep -q 'listening on' "$work/err"; do
    i=$((i + 1))
    if [ $i -gt 1200 ] || ! kill -0 "$pid" 2>/dev/null; then
      cat "$work/err" >&2
      echo "bench/serve.sh: the $1 server did not start" >&2
      exit 1
    fi
    sleep 0.1
  done
  port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$work/err")
}

# The server's user + system CPU time, in clock ticks.
cpu_ticks() {
  awk '{ print $14 + $15 }' "/proc/$pid/stat"
}

stop() {
  kill -TERM "$pid"
  if ! wait "$pid"; then
    cat "$work/err" >&2
    echo "bench/serve.sh: the server did not stop cleanly" >&2
    exit 1
  fi
  pid=
}

: >"$work/results"
setups=${SETUPS:-defaults wasmtime stock${baseline:+ baseline}}
echo "bench/serve.sh: $rounds rounds x set-ups ($setups) x guests ($guests), wrk -t$wrk_threads -c$conns -d${duration}s each" >&2
r=1
while [ "$r" -le "$rounds" ]; do
  # Rotate the set-ups' order each round.
  order=$(echo $setups | awk -v r="$r" '{n = NF; for (i = 0; i < n; i++) printf "%s ", $(((i + r - 1) % n) + 1)}')
  for s in $order; do
    start "$s"
    for g in $guests; do
      # One warm-up second (compiled code paged in, the pool's slots warm).
      wrk -t1 -c"$conns" -d1s -s "$work/$g.lua" "http://127.0.0.1:$port/$g" >/dev/null
      cpu0=$(cpu_ticks)
      line=$(wrk -t"$wrk_threads" -c"$conns" -d"${duration}s" --latency -s "$work/$g.lua" \
        "http://127.0.0.1:$port/$g" | grep '^{')
      cpu1=$(cpu_ticks)
      # The server's CPU time per request (user + system): less moved by
      # other load on the machine than requests per second.
      reqs=$(echo "$line" | sed -n 's/.*"requests":\([0-9]*\).*/\1/p')
      cpu_us=$(awk -v t="$((cpu1 - cpu0))" -v n="$reqs" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.2f", n ? t * 1e6 / hz / n : 0 }')
      line="{\"guest\":\"$g\",\"setup\":\"$s\",\"round\":$r,\"connections\":$conns,\"server_cpu_us_per_request\":$cpu_us,${line#\{}"
      echo "$line" | tee -a "$work/results"
    done
    stop
  done
  r=$((r + 1))
done

# Medians over rounds, and the ratios to stock.
python3 - "$work/results" "$guests" "$setups" <<'EOF' | tee -a "$work/results"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
guests, setups = sys.argv[2].split(), sys.argv[3].split()
med = {}
for g in guests:
    for s in setups:
        rs = [r for r in rows if r['guest'] == g and r['setup'] == s]
        med[g, s] = {k: statistics.median(r[k] for r in rs)
                     for k in ('requests_per_s', 'p50_us', 'p99_us', 'server_cpu_us_per_request')}
        med[g, s]['errors'] = sum(r['errors'] + r['non_2xx'] for r in rs)
for g in guests:
    for s in setups:
        m = med[g, s]
        line = {'summary': True, 'guest': g, 'setup': s, 'rounds': len([r for r in rows if r['guest'] == g and r['setup'] == s]),
                'median_requests_per_s': round(m['requests_per_s'], 1),
                'median_p50_us': round(m['p50_us'], 1), 'median_p99_us': round(m['p99_us'], 1),
                'median_server_cpu_us_per_request': round(m['server_cpu_us_per_request'], 2)}
        for base in ('stock', 'baseline', 'nolimit'):
            if base in setups:
                line['vs_' + base] = round(m['requests_per_s'] / med[g, base]['requests_per_s'], 3)
                line['cpu_vs_' + base] = round(m['server_cpu_us_per_request'] /
                                               med[g, base]['server_cpu_us_per_request'], 3)
        line['errors'] = m['errors']
        print(json.dumps(line))
EOF
[ -n "$out" ] && cp "$work/results" "$out"
exit 0
