#!/usr/bin/env python3
"""The markdown table of bench/peer_bench's JSON lines (docs/performance.md):
per guest, requests per second and CPU per request of the pool, V8 with a
fresh instance per request, V8 with one instance restored per request, and
the stock runtime, with the pool's ratios; then the geometric means and the
load average.
usage: peer_table.py RESULTS.jsonl"""
import json
import math
import sys


def main(path):
    rows, inputs, summary = {}, {}, None
    for line in open(path):
        d = json.loads(line)
        if d.get('summary'):
            summary = d
        elif 'setting' in d:
            rows.setdefault(d['guest'], {})[d['setting']] = d
        elif d.get('input_bytes'):
            inputs[d['guest']] = d['input_bytes']
    print('| guest | pool | V8, fresh instance | V8, restored instance | stock |')
    print('| --- | --- | --- | --- | --- |')
    logs = {'fresh': [], 'restore': [], 'stock': [], 'cpu': []}
    for guest, s in rows.items():
        pool = s['pool']

        def cell(name):
            if name not in s:
                return 'n/a'
            o = s[name]
            return '%s/s, %.1f us CPU (pool %.2fx, CPU %.2fx)' % (
                format(round(o['requests_per_s']), ','), o['cpu_us_per_request'],
                pool['requests_per_s'] / o['requests_per_s'],
                pool['cpu_us_per_request'] / o['cpu_us_per_request'])
        size = inputs.get(guest, 0)
        name = ('%s (%.0f KiB)' % (guest, size / 1024) if size >= 1024
                else '%s (%d B)' % (guest, size) if size else guest)
        print('| %s | %s/s, %.1f us CPU | %s | %s | %s |' % (
            name, format(round(pool['requests_per_s']), ','), pool['cpu_us_per_request'],
            cell('v8-fresh'), cell('v8-restore'), cell('stock')))
        if guest != 'instantiate+free' and 'v8-restore' in s:
            logs['fresh'].append(math.log(pool['requests_per_s'] / s['v8-fresh']['requests_per_s']))
            logs['restore'].append(math.log(pool['requests_per_s'] / s['v8-restore']['requests_per_s']))
            logs['cpu'].append(math.log(pool['cpu_us_per_request'] / s['v8-restore']['cpu_us_per_request']))
        if guest != 'instantiate+free':
            logs['stock'].append(math.log(pool['requests_per_s'] / s['stock']['requests_per_s']))
    g = {k: math.exp(sum(v) / len(v)) if v else float('nan') for k, v in logs.items()}
    print()
    print('Geometric means over the guests: pool / V8 fresh %.2fx, pool / V8 restored %.2fx, '
          'pool / stock %.2fx (requests per second); pool CPU / V8 restored CPU %.2f.' %
          (g['fresh'], g['restore'], g['stock'], g['cpu']))
    if summary:
        print('Load average %.2f at the start, %.2f at the end, %d CPUs.' %
              (summary['loadavg_start'], summary['loadavg_end'], summary['ncpu']))


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
