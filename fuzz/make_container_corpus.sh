#!/bin/sh
# SPDX-License-Identifier: MIT
# Regenerate the container targets' seed corpora (fuzz/corpus/fuzz_container_<kind>/) with the real tools:
# gzip, xz, zstd, lz4, zip (Info-ZIP) and ewfacquirestream (ewf-tools) on 48 KiB of zeros, text and noise;
# .zdmp with the fixture factory's writer, and the LZNT1 target's seeds (fuzz/corpus/fuzz_lznt1/).
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
# DumpIt .zdmp has no producer in Debian: the fixture factory's writer (16 KiB blocks, one set decoding short),
# and the LZNT1 decoder's target gets the encoder's streams behind the two bytes giving the output's size.
fixtures="$here/../tests/fixtures"
python3 "$fixtures/writer_zdmp.py" --block-size 16384 "$tmp/mem.raw" "$tmp/blocks.zdmp" > /dev/null
python3 "$fixtures/writer_zdmp.py" --block-size 16384 --trim-zeros "$tmp/mem.raw" "$tmp/short.zdmp" > /dev/null
out zdmp three-blocks.zdmp < "$tmp/blocks.zdmp"
out zdmp short-blocks.zdmp < "$tmp/short.zdmp"
python3 - "$fixtures" "$tmp/mem.raw" "$here/corpus/fuzz_lznt1" <<'PY'
import os, struct, sys
sys.path.insert(0, sys.argv[1])
import lznt1
data = open(sys.argv[2], "rb").read()
os.makedirs(sys.argv[3], exist_ok=True)
xca = bytes.fromhex("38 b0 88 46 23 20 00 20 47 20 41 00 10 a2 47 01 a0 45 20 44 00 08 45 01 50 79 00 c0 45 20 05 24"
                    " 13 88 05 b4 02 4a 44 ef 03 58 02 8c 09 16 01 48 45 00 be 00 9e 00 04 01 18 90 00")  # [MS-XCA] 3.3
seeds = {"xca-3.3": (4096, xca), "zeros": (16384, lznt1.compress(data[:16384])),
         "text": (16384, lznt1.compress(data[16384:32768])), "noise": (4096, lznt1.compress(data[32768:36864])),
         "end-mark": (8192, lznt1.compress(data[16380:20000], end_mark=True))}
for name, (cap, enc) in seeds.items():
    with open(os.path.join(sys.argv[3], name), "wb") as f:
        f.write(struct.pack("<H", cap - 1) + enc)
PY
