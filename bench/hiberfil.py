#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Decoding throughput of the hibernation-file reader (issue 17): every page of a 1 GiB Windows 10 layout
hiberfil.sys, Xpress LZ77 and Xpress Huffman, read through the library with its second decoding thread, alone
(pthread_create made to fail by a preload) and on one CPU.

Makes once, cached under --work: a memory image of 16-page sets, a quarter zero, a quarter random (stored,
as Windows stores what does not shrink), half text-like sets drawn from a pool of TEXT_POOL distinct ones
(tests/fixtures/xca.py is pure Python, ~0.6 s per 64 KiB: the pool keeps making the file to about a minute;
the reader decodes every set anew whatever its content, so repetition does not flatter it); the image as
hiberfil.sys through the fixture factory's writer (tests/fixtures/writer_hiberfil.py), checked to read back
as the image. Then, warm cache, bench/decode.py's measurement: --runs rounds in rotating order, a disturbed
run repeated, medians as a Markdown table (the same columns as decode.py's). Numbers only.

    bench/hiberfil.py --build BUILD [--mib 1024] [--runs 3] [--retries 3] [--work /tmp/raw2dmp-bench/hiberfil]

BUILD: a meson build dir with tests (tests/formats/libvirt/imgcmp). Python 3 standard library only.
"""

import argparse
import os
import random
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'fixtures'))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'cli'))
import decode as dec  # noqa: E402
import writer_hiberfil as wh  # noqa: E402
from bench_kdump import WORDS  # noqa: E402  (decode.py put tests/formats/libvirt on the path)

PAGE = 4096
SET = 16 * PAGE
TEXT_POOL = 48


def make_raw(path, mib, seed=17):
    rnd = random.Random(seed)
    pool = [b''.join(rnd.choice(WORDS) for _ in range(SET // 4))[:SET] for _ in range(TEXT_POOL)]
    with open(path, 'wb') as f:
        for _ in range(mib * (1 << 20) // SET):
            kind = rnd.random()
            f.write(bytes(SET) if kind < 0.25 else rnd.randbytes(SET) if kind < 0.5 else rnd.choice(pool))


def make_hiber(raw, path, method):
    size = os.path.getsize(raw)
    sink = wh.Win10Sink(path, [(0, size)], None, wh.Compressor(method), 'HIBR', 19041, 0)
    with open(raw, 'rb') as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            sink.data(chunk)
    sink.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', required=True)
    ap.add_argument('--mib', type=int, default=1024)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--retries', type=int, default=3)
    ap.add_argument('--work', default='/tmp/raw2dmp-bench/hiberfil')
    a = ap.parse_args()
    imgcmp = os.path.join(a.build, 'tests', 'formats', 'libvirt', 'imgcmp')
    os.makedirs(a.work, exist_ok=True)
    raw = dec.cached(os.path.join(a.work, 'mem-%d.raw' % a.mib), lambda t: make_raw(t, a.mib), 'synthetic memory')
    made = {}
    for method in ('lz77', 'huffman'):
        made[method] = dec.cached(os.path.join(a.work, 'hiberfil-%d-%s.sys' % (a.mib, method)),
                                  lambda t, m=method: make_hiber(raw, t, m), 'hiberfil.sys, ' + method,
                                  dec.same_memory(imgcmp, raw))
    nothread = dec.nothread_lib(a.work)
    dec.warm([raw] + list(made.values()))
    dec.log('machine: %s; load average %s; cores free now: %.2f' % (
        dec.machine(), ' '.join('%.2f' % x for x in os.getloadavg()), dec.cores_free()))
    print('| input | MiB | decoder | wall s | read s | CPU s | CPU/wall | memory MiB/s | vs ours alone | '
          'vs reference | others CPU s |')
    print('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    for method, path in made.items():
        ours = [imgcmp, '--time', path]
        group = [(method, 'imgcmp --time (ours, 2 threads)', ours, False, 'ours')]
        if nothread:
            group.append((method, 'ours, decoding alone', ['env', 'LD_PRELOAD=' + nothread] + ours, False,
                          'single'))
        if shutil.which('taskset'):
            group.append((method, 'ours, taskset -c 0 (one CPU)', ['taskset', '-c', '0'] + ours, False, 'onecpu'))
        group.append((method, 'cat of the raw image', ['cat', raw], True, 'ref'))
        for row in dec.measure(group, a.runs, a.retries, a.mib):
            print(dec.ROW % row)
    dec.log('load average after: %s' % ' '.join('%.2f' % x for x in os.getloadavg()))


if __name__ == '__main__':
    main()
