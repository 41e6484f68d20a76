#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Regenerate the seeds of fuzz_xpress_lz77 and fuzz_xpress_huffman: `python3 fuzz/make_xpress_corpus.py`.

Each seed is the target's input form: the output size in 3 little-endian bytes, then a stream from the
fixture factory's encoders (tests/fixtures/xca.py; its first seeds are [MS-XCA]'s own examples, which the
encoders reproduce byte for byte): text, a zero run long enough for every length escape, noise, page mixes.
"""
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tests', 'fixtures'))
import xca  # noqa: E402


def inputs():
    rnd = random.Random(7)
    text = b'hiberfil.sys keeps the pages of the machine; the quick brown fox jumps. '
    return {
        'spec_alphabet': b'abcdefghijklmnopqrstuvwxyz',
        'spec_abc300': b'abc' * 100,
        'text_4k': (text * 60)[:4096],
        'zeros_70000': bytes(70000),
        'noise_1k': rnd.randbytes(1024),
        'pages_mix': bytes(4096) + (text * 60)[:4096] + rnd.randbytes(512) * 8 + bytes(range(256)) * 16,
        'two_blocks': (text * 1000)[:65536 + 300],
    }


def main():
    for kind, enc in (('lz77', xca.lz77_compress), ('huffman', xca.huffman_compress)):
        d = os.path.join(HERE, 'corpus', 'fuzz_xpress_' + kind)
        os.makedirs(d, exist_ok=True)
        for name, data in inputs().items():
            with open(os.path.join(d, name), 'wb') as f:
                f.write(struct.pack('<I', len(data))[:3] + enc(data))


if __name__ == '__main__':
    main()
