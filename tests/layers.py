#!/usr/bin/env python3
"""The house's floors, executed: a source directory has no circle among its
files, in #include lines or in cross-file calls (nm over the objects built
from it), and no file over 400 lines. A unit is a file stem: x.c with its
x.h. An object is matched to its source by meson's naming (dir/x.c is
dir_x.c.o); an object of no source in the directory is reported and
skipped (a stale object of a removed file in an incremental build); a
directory with no object at all is an error.
The library (a directory with util/clock.h) also keeps one vocabulary: no
libc assert (the checks are util/debug.h's, by debug level) and no
__atomic_ builtins (fields shared between threads are C11 _Atomic); the
clock read only in the files util/clock.h names; mappings chosen only in
memory/ (pool/ and index/ name no mmap flag, protection or advice, and call
no mapping system call: memory/pages.h names operations). Every other
directory (runtime/, server/) keeps the first rule: its checks are
src/util/debug.h's too, at the same levels.
usage: layers.py SRC_DIR OBJECT_DIR [SRC_DIR OBJECT_DIR ...]
e.g.   layers.py src build/src/libwpool_internal.a.p runtime build/runtime/libwrt.a.p"""
import collections, os, re, subprocess, sys

MAX_LINES = 400


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


def vocabulary_failures(src, files, library=True):
    """The library's one vocabulary (see the top of this file); outside the
    library, its checks only (no libc assert)."""
    failures = []

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
    readers, clock_h, mapping = set(), None, (None, None)
    if library:
        clock_h = os.path.join(src, 'util', 'clock.h')
        readers = re.search(r'Readers:([^\n]*)', open(clock_h).read())
        readers = set(readers.group(1).split()) if readers else set()
        if not readers:
            failures.append('util/clock.h names no readers ("Readers: a.c b.c")')
        vocabulary.append((re.compile(r'\bclock_now_ns\s*\(|\bclock_gettime\s*\('),
                           'reads the clock: only the files util/clock.h names may'))
        mapping = (re.compile(r'\b(MAP|PROT|MADV)_[A-Z_]+\b|\bos_(mmap|munmap|unmap_whole|'
                              r'mprotect|madvise|process_madvise)\s*\(|<sys/mman\.h>'),
                   'chooses a mapping outside memory/: call an operation of memory/pages.h')
        vocabulary.append(mapping)
    else:
        vocabulary = vocabulary[:1]
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
    return failures


def check(src, objdir):
    """Print the call graph of SRC; return its failures."""
    failures = []

    def unit(path):
        return os.path.splitext(os.path.relpath(path, src))[0]

    files = []
    for root, _, names in os.walk(src):
        files += [os.path.join(root, n) for n in names if n.endswith(('.c', '.h'))]

    # Sizes and includes.
    inc = collections.defaultdict(set)
    for f in files:
        text = open(f, errors='replace').read()
        lines = text.count('\n')
        if lines > MAX_LINES:
            failures.append('%s has %d lines (more than %d)' % (os.path.relpath(f, src), lines,
                                                                MAX_LINES))
        for m in re.finditer(r'^#include "([^"]+)"', text, re.M):
            target = os.path.join(src, m.group(1))
            if not os.path.exists(target):
                target = os.path.join(os.path.dirname(f), m.group(1))
            if os.path.exists(target) and unit(target) != unit(f):
                inc[unit(f)].add(unit(target))
        inc[unit(f)]
    for c in cycles(inc):
        failures.append('include circle: ' + ' -> '.join(c))
    failures += vocabulary_failures(src, files, os.path.exists(os.path.join(src, 'util', 'clock.h')))

    # Cross-file calls: who defines what each object uses.
    by_object = {os.path.relpath(f, src).replace(os.sep, '_') + '.o': unit(f)
                 for f in files if f.endswith('.c')}
    defs, uses = {}, {}
    for name in sorted(os.listdir(objdir)):
        if not name.endswith('.o'):
            continue
        if name not in by_object:
            print('note: object %s has no source in %s (stale): skipped' % (name, src))
            continue
        u = by_object[name]
        out = subprocess.run(['nm', os.path.join(objdir, name)], check=True,
                             capture_output=True, text=True).stdout
        d, us = set(), set()
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in 'TDBRCV':
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
    if not defs:
        failures.append('no objects of %s found in %s' % (src, objdir))

    print('== %s (%d objects)' % (src, len(defs)))
    for u in sorted(calls):
        print('%-18s -> %s' % (u, ' '.join(sorted(calls[u]))))
    return failures


def main(args):
    if not args or len(args) % 2:
        sys.exit(__doc__)
    failures = []
    for src, objdir in zip(args[0::2], args[1::2]):
        failures += check(src, objdir)
    for f in failures:
        print('FAIL: ' + f)
    sys.exit(1 if failures else 0)


main(sys.argv[1:])
