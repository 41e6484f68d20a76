#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Seeds for fuzz_aff4 (small AFF4 volumes from tests/fixtures/writer_aff4.py) and fuzz_aff4_turtle.

Usage: python3 fuzz/make_aff4_corpus.py   (from the source tree; rewrites fuzz/corpus/fuzz_aff4/*.aff4)
Three runs of one to three pages (zeros, a pattern, noise), chunks of 1 KiB, two chunks per bevy, in every
codec this Python can write, plus the pre-standard index with escaped member names, and a volume storing
aff4:hash statements (the map's and the stream's) and a block hash.
"""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fixtures"))
import writer_aff4 as wa  # noqa: E402


def main():
    out = os.path.join(HERE, "corpus", "fuzz_aff4")
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(16)
    runs = [(0x0, 0x1000), (0x3000, 0x3000), (0x10000, 0x2000)]
    mem = {0x0: bytes(0x1000), 0x3000: bytes(range(256)) * 48, 0x10000: bytes(rnd.getrandbits(8) for _ in range(0x2000))}
    cases = [(c, dict(codec=c)) for c in wa.available()] + [("legacy", dict(codec="zlib", legacy=True, escaped=True))]
    cases.append(("hashes", dict(codec="zlib", hashes=[("map", "sha1"), ("map", "blockMapHash"), ("stream", "md5")])))
    for name, kw in cases:
        sink = wa.Aff4Sink(os.path.join(out, "%s.aff4" % name), runs, chunk_size=1024, per_bevy=2,
                           pmem={"CR3": 0x1aa000, "KernBase": 0xfffff80000000000}, **kw)
        for pa, n in runs:
            sink.run(pa, n)
            sink.data(mem[pa])
        sink.close()


if __name__ == "__main__":
    main()
