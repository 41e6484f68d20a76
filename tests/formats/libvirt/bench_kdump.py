#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Time reading every page of a kdump-compressed file: raw2dmp's reader (imgcmp --time) against
libkdumpfile (kdfbench), for docs/formats/kdump.md. The memory is synthetic but shaped like a live
machine's: a quarter zero pages, a quarter random (incompressible), half text-like (zlib ~3-4x).

    bench_kdump.py [--mib N ...] [--dir DIR] [--codec zlib|lzo|snappy]
Needs R2D_IMGCMP and R2D_MKKDUMP (meson sets them); R2D_KDFBENCH is optional."""
import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile

PAGE = 4096
WORDS = [b'kernel', b'process', b'thread', b'\x00\x00\x00\x00', b'\xff\xff\xf8\x03', b'Windows',
         b'\\Device\\HarddiskVolume3', b'ntoskrnl.exe', b'  ', b'\x01\x00\x00\x00\x00\x00\x00\x00']


def make_raw(path, mib, seed=7):
    rnd = random.Random(seed)
    text = b''.join(rnd.choice(WORDS) for _ in range(200000))
    with open(path, 'wb') as f:
        for _ in range(mib * 256):
            kind = rnd.random()
            if kind < 0.25:
                page = bytes(PAGE)
            elif kind < 0.5:
                page = rnd.randbytes(PAGE)
            else:
                at = rnd.randrange(len(text) - PAGE)
                page = text[at:at + PAGE]
            f.write(page)


def run(cmd):
    """Run cmd; return its output and the CPU seconds (user + system) it used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return out, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--mib', type=int, nargs='+', default=[64])
    ap.add_argument('--dir')
    ap.add_argument('--codec', default='zlib')
    a = ap.parse_args()
    imgcmp, mkkdump = os.environ.get('R2D_IMGCMP'), os.environ.get('R2D_MKKDUMP')
    kdf = os.environ.get('R2D_KDFBENCH')
    if not imgcmp or not mkkdump:
        print('R2D_IMGCMP / R2D_MKKDUMP not set (needs liblzo2 and libsnappy)')
        return 77
    with tempfile.TemporaryDirectory(dir=a.dir) as d:
        for mib in a.mib:
            raw = os.path.join(d, 'mem%d.raw' % mib)
            make_raw(raw, mib)
            for layout in ('plain', 'flat'):
                dump = os.path.join(d, 'mem%d-%s.kdump' % (mib, layout))
                run([mkkdump, '-a', 'raw', '--codec', a.codec] + (['--flat'] if layout == 'flat' else [])
                    + [raw, dump])
                size = os.path.getsize(dump) / (1 << 20)
                subprocess.run(['cat', dump], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
                ours, cpu = run([imgcmp, '--time', dump])
                print('%5d MiB %s %-5s (%.0f MiB file): raw2dmp      %s, CPU %.3f s' % (mib, a.codec, layout,
                                                                                       size, ours, cpu))
                if kdf and layout == 'plain':
                    theirs, cpu = run([kdf, dump])
                    print('%5d MiB %s %-5s (%.0f MiB file): libkdumpfile %s, CPU %.3f s' % (mib, a.codec, layout,
                                                                                           size, theirs, cpu))
                sys.stdout.flush()
                os.unlink(dump)
            os.unlink(raw)
    return 0


if __name__ == '__main__':
    sys.exit(main())
