#!/bin/sh
# SPDX-License-Identifier: MIT
# Regenerate the container targets' seed corpora (fuzz/corpus/fuzz_container_<kind>/) with the real tools:
# gzip, xz, zstd, lz4, zip (Info-ZIP) and ewfacquirestream (ewf-tools) on 48 KiB of zeros, text and noise.
# Every seed is a few KiB to a few tens of KiB. Usage: sh fuzz/make_container_corpus.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -c "
import random, sys
random.seed(16)
data = bytes(16384) + (b'the quick brown fox jumps over the lazy dog ' * 373)[:16384] + bytes(random.getrandbits(8) for _ in range(16384))
sys.stdout.buffer.write(data)" > "$tmp/mem.raw"
out() { d="$here/corpus/fuzz_container_$1"; mkdir -p "$d"; cat > "$d/$2"; }
gzip -9 -c "$tmp/mem.raw" | out gzip one-member.gz
{ head -c 20000 "$tmp/mem.raw" | gzip -c; tail -c +20001 "$tmp/mem.raw" | gzip -c; } | out gzip two-members.gz
xz -0 -c "$tmp/mem.raw" | out xz one-block.xz
xz -0 -T1 --block-size=16KiB -c "$tmp/mem.raw" | out xz three-blocks.xz
zstd -q -c "$tmp/mem.raw" | out zstd one-frame.zst
split -b 16384 --filter='zstd -q -c' "$tmp/mem.raw" | out zstd three-frames.zst
lz4 -q -B4 -BX -c "$tmp/mem.raw" | out lz4 independent-checksums.lz4
lz4 -q -B4 -BD -c "$tmp/mem.raw" | out lz4 linked.lz4
(cd "$tmp" && zip -q -0 stored.zip mem.raw && zip -q deflate.zip mem.raw && cp mem.raw other.raw &&
 zip -q two.zip mem.raw other.raw)
out zip stored.zip < "$tmp/stored.zip"
out zip deflate.zip < "$tmp/deflate.zip"
out zip two-members.zip < "$tmp/two.zip"
head -c 32768 "$tmp/mem.raw" | ewfacquirestream -q -t "$tmp/case" -c deflate:fast -d sha1 > /dev/null
out ewf case.E01 < "$tmp/case.E01"
