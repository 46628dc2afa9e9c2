#!/usr/bin/env python3
"""Plot wasm_bench results: requests per second relative to the stock
runtime, per guest and setting, as grouped bars on a log scale (SVG).
usage: bench/plot_wasm.py RESULTS.jsonl OUT.svg"""
import json, math, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
guests, sets = [], []
for r in rows:
    if r['guest'] not in guests: guests.append(r['guest'])
    if r['setting'] not in sets: sets.append(r['setting'])
val = {(r['guest'], r['setting']): r['vs_stock'] for r in rows}
colors = ['#888888', '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728']
W, H, left, top, bottom = 900, 420, 60, 40, 90
lo, hi = 0.5, max(max(val.values()) * 1.5, 2)
def y(v):
    return top + (H - top - bottom) * (1 - (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)))
gw = (W - left - 20) / len(guests)
bw = gw * 0.8 / len(sets)
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<text x="{W/2}" y="20" text-anchor="middle" font-size="14">requests/s relative to the stock wasm2c runtime (log scale)</text>']
for t in [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500]:
    if lo <= t <= hi:
        out.append(f'<line x1="{left}" x2="{W-20}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#ddd"/>'
                   f'<text x="{left-6}" y="{y(t)+4:.1f}" text-anchor="end">{t:g}x</text>')
for gi, g in enumerate(guests):
    x0 = left + gi * gw + gw * 0.1
    for si, s in enumerate(sets):
        v = val.get((g, s))
        if not v: continue
        x = x0 + si * bw
        out.append(f'<rect x="{x:.1f}" y="{min(y(v), y(1)):.1f}" width="{bw-2:.1f}" '
                   f'height="{abs(y(1)-y(v)):.1f}" fill="{colors[si % len(colors)]}"><title>{g} {s}: {v:.2f}x</title></rect>')
    out.append(f'<text x="{x0 + gw*0.4:.1f}" y="{H-bottom+16}" text-anchor="middle">{g}</text>')
for si, s in enumerate(sets):
    out.append(f'<rect x="{left + si*200}" y="{H-40}" width="12" height="12" fill="{colors[si % len(colors)]}"/>'
               f'<text x="{left + si*200 + 16}" y="{H-30}">{s}</text>')
out.append('</svg>')
open(sys.argv[2], 'w').write('\n'.join(out) + '\n')
