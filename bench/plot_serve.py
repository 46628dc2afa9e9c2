#!/usr/bin/env python3
"""Plot bench/serve.sh results: for each guest and set-up, requests per
second relative to stock (left) and latency p50 and p99 (right), medians
over rounds, as grouped bars on log scales (SVG).
usage: bench/plot_serve.py RESULTS.jsonl OUT.svg"""
import json, math, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
summ = [r for r in rows if r.get('summary')]
guests = [g for g in ['hello', 'json', 'template'] if any(r['guest'] == g for r in summ)]
sets = ['defaults', 'wasmtime', 'stock']
names = {'defaults': 'pool defaults', 'wasmtime': 'Wasmtime-like', 'stock': 'stock wasm2c'}
colors = {'defaults': '#1f77b4', 'wasmtime': '#ff7f0e', 'stock': '#888888'}
val = {(r['guest'], r['setup']): r for r in summ}

W, H, top, bottom = 1000, 440, 50, 90
panels = [(60, 470), (560, 970)]
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{W/2}" y="20" text-anchor="middle" font-size="14">wpool serve under wrk '
       f'(loopback, keep-alive), medians over rounds</text>']


def axis(x0, x1, lo, hi, ticks, fmt, title):
    def y(v):
        return top + (H - top - bottom) * (1 - (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)))
    out.append(f'<text x="{(x0+x1)/2}" y="{top-12}" text-anchor="middle">{title}</text>')
    for t in ticks:
        if lo <= t <= hi:
            out.append(f'<line x1="{x0}" x2="{x1}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#ddd"/>'
                       f'<text x="{x0-6}" y="{y(t)+4:.1f}" text-anchor="end">{fmt(t)}</text>')
    return y


# Left: requests/s relative to stock.
x0, x1 = panels[0]
ratios = [val[g, s]['vs_stock'] for g in guests for s in sets if (g, s) in val]
lo, hi = 0.5, max(max(ratios) * 1.4, 2)
y = axis(x0, x1, lo, hi, [0.5, 1, 1.5, 2, 3, 5, 10, 20, 50], lambda t: f'{t:g}x',
         'requests/s relative to stock (log)')
gw = (x1 - x0) / len(guests)
bw = gw * 0.8 / len(sets)
for gi, g in enumerate(guests):
    gx = x0 + gi * gw + gw * 0.1
    for si, s in enumerate(sets):
        r = val.get((g, s))
        if not r:
            continue
        v = r['vs_stock']
        x = gx + si * bw
        out.append(f'<rect x="{x:.1f}" y="{min(y(v), y(1)):.1f}" width="{bw-2:.1f}" '
                   f'height="{max(abs(y(1)-y(v)), 1):.1f}" fill="{colors[s]}"><title>{g} {names[s]}: '
                   f'{r["median_requests_per_s"]:.0f}/s, {v:.2f}x</title></rect>'
                   f'<text x="{x+bw/2-1:.1f}" y="{min(y(v), y(1))-3:.1f}" text-anchor="middle" '
                   f'font-size="10">{v:.2f}</text>')
    out.append(f'<text x="{gx + gw*0.4:.1f}" y="{H-bottom+16}" text-anchor="middle">{g}</text>')

# Right: latency p50 (light) and p99 (dark), ms.
x0, x1 = panels[1]
lat = [val[g, s][k] / 1000 for g in guests for s in sets if (g, s) in val
       for k in ('median_p50_us', 'median_p99_us')]
lo, hi = min(lat) / 1.5, max(lat) * 1.5
y = axis(x0, x1, lo, hi, [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100], lambda t: f'{t:g} ms',
         'latency p50 (pale part) and p99 (whole bar), ms (log)')
for gi, g in enumerate(guests):
    gx = x0 + gi * gw + gw * 0.1
    for si, s in enumerate(sets):
        r = val.get((g, s))
        if not r:
            continue
        x = gx + si * bw
        for k, fill in (('median_p99_us', colors[s]), ('median_p50_us', 'white')):
            v = r[k] / 1000
            # p50 whitens the lower part of the p99 bar.
            out.append(f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{bw-2:.1f}" height="{H-bottom-y(v):.1f}" '
                       f'fill="{fill}" fill-opacity="{0.55 if fill == "white" else 1}"><title>{g} {names[s]} '
                       f'{k[7:10]}: {v:.2f} ms</title></rect>')
    out.append(f'<text x="{gx + gw*0.4:.1f}" y="{H-bottom+16}" text-anchor="middle">{g}</text>')

for si, s in enumerate(sets):
    out.append(f'<rect x="{60 + si*200}" y="{H-40}" width="12" height="12" fill="{colors[s]}"/>'
               f'<text x="{60 + si*200 + 16}" y="{H-30}">{names[s]}</text>')
out.append('</svg>')
open(sys.argv[2], 'w').write('\n'.join(out) + '\n')
