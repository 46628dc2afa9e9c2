#!/bin/sh
# Build the installed static library: every object linked into one
# relocatable object whose hidden-visibility symbols (the library's
# internals: heap_free, index_init, error_set, ...) become local, so that
# libwpool.a exports only wpool_* names and never clashes with a runtime's
# own functions. The shared library hides them through visibility alone.
# usage: scripts/localize_archive.sh OUT.a OBJECT...
set -eu
out=$1
shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
rm -f "$out"
ld -r -o "$dir/wpool.o" "$@"
objcopy --localize-hidden "$dir/wpool.o"
ar rcs "$out" "$dir/wpool.o"
