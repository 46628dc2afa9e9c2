#!/usr/bin/env python3
"""The house's floors, executed: src/ has no circle among its files, in
#include lines or in cross-file calls (nm over the library's objects), and
no file over 400 lines. A unit is a file stem: x.c with its x.h.
One vocabulary in src/: no libc assert (the checks are util/debug.h's, by
debug level) and no __atomic_ builtins (fields shared between threads are
C11 _Atomic); the clock read only in the files util/clock.h names; mappings
chosen only in memory/ (pool/ and index/ name no mmap flag, protection or
advice, and call no mapping system call: memory/pages.h names operations).
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

# One vocabulary: the project's own checks and C11 atomics.
def code_only(text):
    """The text with comments and string literals blanked (line numbers
    kept); #include lines stay."""
    return re.sub(r'/\*.*?\*/|//[^\n]*|(?<!#include )"(?:\\.|[^"\\\n])*"',
                  lambda m: re.sub(r'[^\n]', ' ', m.group(0)), text, flags=re.S)

vocabulary = [
    (re.compile(r'(?<![A-Za-z0-9_])assert\s*\(|#\s*include\s*<assert\.h>'),
     'libc assert: use debug_assert / debug_assert_expensive (util/debug.h)'),
    (re.compile(r'__atomic_\w+'),
     '__atomic_ builtin: declare the field _Atomic and use <stdatomic.h>'),
]
clock_h = os.path.join(src, 'util', 'clock.h')
readers = re.search(r'Readers:([^\n]*)', open(clock_h).read())
readers = set(readers.group(1).split()) if readers else set()
if not readers:
    failures.append('util/clock.h names no readers ("Readers: a.c b.c")')
vocabulary.append((re.compile(r'\bclock_now_ns\s*\(|\bclock_gettime\s*\('),
                   'reads the clock: only the files util/clock.h names may'))
mapping = (re.compile(r'\b(MAP|PROT|MADV)_[A-Z_]+\b|\bos_(mmap|munmap|unmap_whole|mprotect|'
                      r'madvise|process_madvise)\s*\(|<sys/mman\.h>'),
           'chooses a mapping outside memory/: call an operation of memory/pages.h')
vocabulary.append(mapping)
for f in sorted(files):
    rel = os.path.relpath(f, src)
    code = code_only(open(f).read())
    for pattern, why in vocabulary:
        if why.startswith('reads the clock') and (rel in readers or f == clock_h):
            continue
        if pattern is mapping[0] and not rel.startswith(('pool/', 'index/')):
            continue
        for m in pattern.finditer(code):
            line = code.count('\n', 0, m.start()) + 1
            failures.append('%s:%d: %s' % (os.path.relpath(f, src), line, why))

# Cross-file calls: who defines what each object uses.
defs, uses = {}, {}
for name in os.listdir(objdir):
    if not name.endswith('.o'):
        continue
    u = name[:-len('.c.o')].replace('_', '/', 1)
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
