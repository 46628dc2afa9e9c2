#!/bin/sh
# Turn a cycle_bench results file (one JSON object per line) into SVG plots:
#   OUTDIR/perf-cycle-near.svg, perf-cycle-spread.svg: median cycle time vs
#     D per strategy (log scale);
#   OUTDIR/perf-modules.svg: pool resident bytes and affine hit rate vs
#     max_unused_warm_slots.
# usage: bench/plot.sh RESULTS.jsonl OUTDIR   (needs gnuplot: gnuplot-nox)
set -eu
in=$1
out=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# get KEY: the value of "KEY": in the current line, quotes removed.
awk -v dir="$tmp" '
function get(key,   v) {
  if (!match($0, "\"" key "\":(\"[^\"]*\"|[^,}]*)")) return ""
  v = substr($0, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
  gsub(/"/, "", v)
  return v
}
get("bench") == "cycle" || get("bench") == "floor" {
  f = dir "/" get("pattern") "-" get("strategy") ".dat"
  print get("D"), get("median_ns") / 1000.0 >> f
}
get("bench") == "modules" {
  print get("max_unused_warm"), get("resident_bytes") / 1048576.0, get("affine_hit_rate"), \
        get("median_ns") / 1000.0 >> (dir "/modules.dat")
}' "$in"

for pattern in near spread; do
  plots=""
  for f in "$tmp/$pattern"-*.dat; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .dat | sed "s/^$pattern-//")
    plots="$plots${plots:+, }'$f' using 1:2 with linespoints title '$name'"
  done
  gnuplot <<GP
set terminal svg size 760,480 dynamic font 'sans,12' background rgb 'white'
set termoption noenhanced
set output '$out/perf-cycle-$pattern.svg'
set title 'Instance cycle, pattern $pattern (median, one run)'
set xlabel 'D: pages dirtied per instance'
set ylabel 'microseconds per cycle'
set logscale xy
set key outside right
set grid
set xtics (1, 16, 64, 256)
plot $plots
GP
done

if [ -e "$tmp/modules.dat" ]; then
  gnuplot <<GP
set terminal svg size 760,480 dynamic font 'sans,12' background rgb 'white'
set termoption noenhanced
set output '$out/perf-modules.svg'
set title '100 modules, Zipf(1.0), 32 live, 1000 slots, keep_resident 1 MiB'
set xlabel 'max_unused_warm_slots (N)'
set logscale x
set xrange [0.5:2000]
set ylabel 'pool resident MiB at the end'
set y2label 'affine hit rate'
set y2range [0:1]
set y2tics
set ytics nomirror
set grid
set key top left
plot '$tmp/modules.dat' using (\$1 == 0 ? 1 : \$1):2 with linespoints title 'resident MiB (N=0 drawn at 1)', \
     '' using (\$1 == 0 ? 1 : \$1):3 axes x1y2 with linespoints title 'affine hit rate'
GP
fi
echo "plots written to $out" >&2
