#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""raw2dmp scale benchmark: many-range inputs and a huge sparse image, end to end (issue 14).

Generates, in a temporary directory that is deleted afterwards (unless --keep):
- LiME files of n ranges: the fixture factory's 32 MiB zero-filled Windows image as its two RAM ranges, then
  n - 2 one-page ranges above it, one page apart (so no two touch), each with its own 32-byte header
  (n = 10^6: a 4 GiB file, every page of it allocated);
- kdump files whose bitmap has n stretches: the same kind of LiME file re-encoded by
  tests/formats/libvirt/mkkdump (zlib; the zero pages share one stored page, so the file is the bitmaps
  and 24 bytes of descriptor per page);
- a sparse raw image of --sparse-gib GiB (default 64): the factory's zero-filled image, a few hundred KiB
  of data in a file of 64 GiB of holes.
Each is converted with `--hash none` (`--no-sync` too unless --sync; the sparse image both ways) to a fresh
output, --runs times, `sync` before each run; then once more with --report for the phase timings
(timings.analysis_s / write_s) and the peak RSS a report costs. Prints a Markdown table: median wall time
with min-max, CPU (user + system), peak RSS (GNU time), the per-range cost, and the load average before and
after. Numbers only: nothing here passes or fails on timing.

    bench/scale.py --raw2dmp BUILD/src/cli/raw2dmp --mkkdump BUILD/tests/formats/libvirt/mkkdump
                   [--lime 10000,100000,1000000] [--kdump 5000,50000,500000] [--sparse-gib 64]
                   [--runs 3] [--work /tmp] [--cache DIR] [--keep] [--sync]

Python 3 standard library only.
"""

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FACTORY = os.path.join(ROOT, 'tests', 'fixtures', 'mkfixture.py')
ISF = os.path.join(ROOT, 'tests', 'data', 'isf', '606FF669409B00F7FC8C61A9C1670129-1.json.xz')
PAGE = 4096
LIME = struct.Struct('<IIQQQ')
LIME_MAGIC = 0x4C694D45
EXTRA_BASE = 64 << 20  # the one-page ranges start above the fixture's 32 MiB of RAM


def log(msg):
    print('scale: ' + msg, file=sys.stderr, flush=True)


def load():
    with open('/proc/loadavg') as f:
        return ' '.join(f.read().split()[:3])


def fixture(work, cache, mib):
    out = os.path.join(work, 'fx-%d' % mib)
    log('fixture: %d MiB zero-filled raw image' % mib)
    subprocess.run([sys.executable, FACTORY, '--isf', ISF, '--out', out, '--mem-mib', str(mib), '--fill', 'zero',
                    '--format', 'raw', '--cache', cache], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, 'truth.json')) as f:
        runs = [(r['pa'], r['len']) for r in json.load(f)['runs']]
    return out, runs


def write_lime(raw, runs, n, path):
    """The fixture's RAM ranges, then n - len(runs) one-page ranges of zeros, one page apart."""
    with open(raw, 'rb') as src, open(path, 'wb') as f:
        for pa, ln in runs:
            f.write(LIME.pack(LIME_MAGIC, 1, pa, pa + ln - 1, 0))
            src.seek(pa)
            f.write(src.read(ln))
        buf = bytearray()
        page = bytes(PAGE)
        for i in range(n - len(runs)):
            pa = EXTRA_BASE + 2 * i * PAGE
            buf += LIME.pack(LIME_MAGIC, 1, pa, pa + PAGE - 1, 0)
            buf += page
            if len(buf) >= 16 << 20:
                f.write(buf)
                buf = bytearray()
        f.write(buf)


def timed(argv, stats):
    os.sync()
    t0 = time.monotonic()
    subprocess.run(['/usr/bin/time', '-f', '%U %S %M', '-o', stats] + argv, check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    with open(stats) as f:
        user, system, rss = f.read().split()[-3:]
    return wall, float(user) + float(system), int(rss) / 1024.0


def measure(args, work, pdb, inp, sync):
    out = os.path.join(work, 'out.dmp')
    report = os.path.join(work, 'report.json')
    stats = os.path.join(work, 'time.txt')
    conv = [args.raw2dmp, '-q', '--force', '--hash', 'none', '--pdb', pdb, '--offline']
    if not sync:
        conv.append('--no-sync')
    rows = []
    for _ in range(args.runs):
        rows.append(timed(conv + [inp, out], stats))
        out_size = os.path.getsize(out)
        os.unlink(out)  # every run writes a fresh output
    _, _, rss_rep = timed(conv + ['--report', report, inp, out], stats)
    with open(report) as f:
        rep = json.load(f)
    os.unlink(out)
    os.unlink(report)
    walls = [r[0] for r in rows]
    return {
        'wall': statistics.median(walls), 'lo': min(walls), 'hi': max(walls),
        'cpu': statistics.median(r[1] for r in rows), 'rss': max(r[2] for r in rows), 'rss_report': rss_rep,
        'analysis': rep['timings'].get('analysis_s', 0.0), 'write': rep['timings'].get('write_s', 0.0),
        'runs': len(rep['input']['runs']), 'in_size': os.path.getsize(inp), 'out_size': out_size,
        'in_alloc': os.stat(inp).st_blocks * 512,
    }


def row(name, n, m, sync):
    per = '%.1f' % (m['wall'] / n * 1e6) if n else ''
    return ('| %s | %s | %s | %.2f GiB (%.2f on disk) | %.2f GiB | %.2f (%.2f-%.2f) | %.2f | %.2f / %.2f | %s | '
            '%.0f | %.0f |' % (name, '{:,}'.format(m['runs']), 'fsync' if sync else '--no-sync',
                               m['in_size'] / 2**30, m['in_alloc'] / 2**30, m['out_size'] / 2**30, m['wall'],
                               m['lo'], m['hi'], m['cpu'], m['analysis'], m['write'], per, m['rss'],
                               m['rss_report']))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--raw2dmp', required=True)
    ap.add_argument('--mkkdump', required=True)
    ap.add_argument('--lime', default='10000,100000,1000000')
    ap.add_argument('--kdump', default='5000,50000,500000')
    ap.add_argument('--sparse-gib', type=int, default=64)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--work', default=None, help='parent of the temporary directory (default: $TMPDIR)')
    ap.add_argument('--cache', default=None, help='fixture kernel build cache (default: inside the work dir)')
    ap.add_argument('--keep', action='store_true', help='keep the generated inputs')
    ap.add_argument('--sync', action='store_true', help='many-range inputs with fsync, not --no-sync')
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix='raw2dmp-scale-', dir=args.work)
    lines = []
    try:
        cache = args.cache or os.path.join(work, 'cache')
        load0 = load()
        fx, runs = fixture(work, cache, 32)
        raw, pdb = os.path.join(fx, 'memory.raw'), os.path.join(fx, 'ntkrnlmp.pdb')
        sync = args.sync
        for n in [int(x) for x in args.lime.split(',') if x]:
            path = os.path.join(work, 'n%d.lime' % n)
            log('LiME, %d ranges' % n)
            write_lime(raw, runs, n, path)
            lines.append(row('LiME', n, measure(args, work, pdb, path, sync), sync))
            os.unlink(path)
        for n in [int(x) for x in args.kdump.split(',') if x]:
            lime = os.path.join(work, 'k%d.lime' % n)
            path = os.path.join(work, 'n%d.kdump' % n)
            log('kdump (zlib), %d stretches' % n)
            write_lime(raw, runs, n, lime)
            subprocess.run([args.mkkdump, '--codec', 'zlib', lime, path], check=True)
            os.unlink(lime)
            lines.append(row('kdump (zlib)', n, measure(args, work, pdb, path, sync), sync))
            os.unlink(path)
        if args.sparse_gib:
            sfx, _ = fixture(work, cache, args.sparse_gib * 1024)
            path = os.path.join(sfx, 'memory.raw')
            for s in (False, True):
                log('sparse raw, %d GiB, %s' % (args.sparse_gib, 'fsync' if s else '--no-sync'))
                lines.append(row('raw, %d GiB sparse' % args.sparse_gib, 0,
                                 measure(args, work, os.path.join(sfx, 'ntkrnlmp.pdb'), path, s), s))
        load1 = load()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print('load average before: %s; after: %s; %d runs each (median, min-max); commit %s' % (
        load0, load1, args.runs,
        subprocess.run(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD'], capture_output=True,
                       text=True).stdout.strip()))
    print()
    print('| input | runs | durability | input | output | wall s (min-max) | CPU s | analysis / write s '
          '(--report run) | µs per run | peak RSS MiB | with --report MiB |')
    print('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    for line in lines:
        print(line)


if __name__ == '__main__':
    main()
