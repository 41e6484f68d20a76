#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Xpress decoder throughput (bench_xpress) on memory-like data, for docs/performance.md.

Makes, once, under --work: 4 MiB of each data set, cut into independent 64 KiB units (as a hibernation file
stores its page sets), each unit encoded by the fixture factory (tests/fixtures/xca.py) as plain LZ77 and as
LZ77+Huffman. The sets: 'mix' (4 KiB pages: a third zero, a quarter text-like, a fifth random, the rest
tables of little-endian pointers with small strides), 'text' and 'random'. Then runs
`bench_xpress --runs N KIND FILE` for each and prints its lines. Numbers only, no pass/fail.

    bench/xpress.py BENCH_XPRESS [--runs 5] [--work /tmp/raw2dmp-bench/xpress]
"""
import argparse
import os
import random
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tests', 'fixtures'))
import xca  # noqa: E402

MIB = 1 << 20
UNIT = 65536


def page(rnd, kind):
    if kind == 'zero':
        return bytes(4096)
    if kind == 'text':
        words = [b'kernel', b'page', b'\\Device\\HarddiskVolume2', b'svchost.exe', b'0x', b'ntdll',
                 b'registry']
        out = bytearray()
        while len(out) < 4096:
            out += rnd.choice(words) + b' '
        return bytes(out[:4096])
    if kind == 'random':
        return rnd.randbytes(4096)
    base = 0xfffff80000000000 + rnd.randrange(1 << 30) * 16
    return b''.join(struct.pack('<Q', base + 16 * i + rnd.randrange(4)) for i in range(512))


def dataset(name):
    rnd = random.Random(name)
    if name in ('text', 'random'):
        return b''.join(page(rnd, name) for _ in range(4 * MIB // 4096))
    kinds = ['zero'] * 8 + ['text'] * 6 + ['random'] * 5 + ['pointers'] * 5
    return b''.join(page(rnd, rnd.choice(kinds)) for _ in range(4 * MIB // 4096))


def unit_file(path, data, enc):
    if os.path.exists(path):
        return
    with open(path + '.tmp', 'wb') as f:
        for off in range(0, len(data), UNIT):
            chunk = data[off:off + UNIT]
            stream = enc(chunk)
            f.write(struct.pack('<II', len(chunk), len(stream)) + stream)
    os.replace(path + '.tmp', path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('bench')
    ap.add_argument('--runs', type=int, default=5)
    bench_dir = os.environ.get('R2D_BENCH_DIR', '/tmp/raw2dmp-bench')
    ap.add_argument('--work', default=os.path.join(bench_dir, 'xpress'))
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    for name in ('mix', 'text', 'random'):
        data = dataset(name)
        for kind, enc in (('lz77', xca.lz77_compress), ('huffman', xca.huffman_compress)):
            path = os.path.join(a.work, '%s.%s' % (name, kind))
            unit_file(path, data, enc)
            print('%s: %d bytes -> %d' % (path, len(data), os.path.getsize(path)), flush=True)
            r = subprocess.run([a.bench, '--runs', str(a.runs), kind, path], check=False)
            if r.returncode != 0:
                return r.returncode
    return 0


if __name__ == '__main__':
    sys.exit(main())
