#!/usr/bin/env python3
"""The house's floors, executed: src/ (and server/) has no circle among its files, in
#include lines or in cross-file calls (nm over the library's objects), and
no file over 400 lines. A unit is a file stem: x.c with its x.h.
usage: layers.py SRC_DIR OBJECT_DIR"""
import collections, os, re, subprocess, sys

src, objdir = sys.argv[1], sys.argv[2]
failures = []

def unit(path):
    rel = os.path.relpath(path, src)
    return os.path.splitext(rel)[0]

files = []
for root, _, names in os.walk(src):
    files += [os.path.join(root, n) for n in names if n.endswith(('.c', '.h'))]

def cycles(graph):
    found, state = [], {}
    def visit(n, stack):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif not state.get(m):
                visit(m, stack)
        stack.pop()
        state[n] = 2
    for n in sorted(graph):
        if not state.get(n):
            visit(n, [])
    return found

# Includes.
inc = collections.defaultdict(set)
for f in files:
    text = open(f).read()
    lines = text.count('\n')
    if lines > 400:
        failures.append('%s has %d lines (more than 400)' % (os.path.relpath(f, src), lines))
    for m in re.finditer(r'^#include "([^"]+)"', text, re.M):
        target = os.path.join(src, m.group(1))
        if os.path.exists(target) and unit(target) != unit(f):
            inc[unit(f)].add(unit(target))
    inc[unit(f)]
for c in cycles(inc):
    failures.append('include circle: ' + ' -> '.join(c))

# Cross-file calls: who defines what each object uses. meson names an
# object by its source's path with '/' as '_' (pool/slot.c: pool_slot.c.o).
by_object = {unit(f).replace(os.sep, '_'): unit(f) for f in files}
defs, uses = {}, {}
for name in os.listdir(objdir):
    if not name.endswith('.o'):
        continue
    u = by_object.get(name[:-len('.c.o')])
    if u is None:
        continue  # a stale object: its source was renamed or removed
    out = subprocess.run(['nm', os.path.join(objdir, name)], check=True,
                         capture_output=True, text=True).stdout
    d, us = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in 'TDBRC':
            d.add(parts[2])
        elif len(parts) == 2 and parts[0] == 'U':
            us.add(parts[1])
    defs[u], uses[u] = d, us
owner = {s: u for u, ds in defs.items() for s in ds}
calls = collections.defaultdict(set)
for u, us in uses.items():
    calls[u]
    for s in us:
        if s in owner and owner[s] != u:
            calls[u].add(owner[s])
for c in cycles(calls):
    failures.append('call circle: ' + ' -> '.join(c))
if len(defs) < 10:
    failures.append('only %d objects found in %s' % (len(defs), objdir))

for u in sorted(calls):
    print('%-18s -> %s' % (u, ' '.join(sorted(calls[u]))))
for f in failures:
    print('FAIL: ' + f)
sys.exit(1 if failures else 0)
