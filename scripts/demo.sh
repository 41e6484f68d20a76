#!/bin/sh
# Build raw2dmp and convert the bundled sample image (a synthetic Windows 10 19041 guest as a QEMU ELF
# core) with its bundled PDB, offline, then describe the resulting crash dump.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
sh "$top/scripts/setup-deps.sh"
[ -f "$build/build.ninja" ] || meson setup "$build" "$top" >/dev/null
ninja -C "$build" src/cli/raw2dmp >/dev/null
work="$build/demo"
rm -rf "$work" && mkdir -p "$work"
xz -dc "$top/tests/data/sample/memory.elf.xz" > "$work/memory.elf"
raw2dmp="$build/src/cli/raw2dmp"
set -x
"$raw2dmp" -v --offline --symbol-path "$top/tests/data/sample/symstore" --report "$work/report.json" \
    "$work/memory.elf" "$work/memory.dmp"
"$raw2dmp" --info --offline --symbol-path "$top/tests/data/sample/symstore" "$work/memory.dmp"
