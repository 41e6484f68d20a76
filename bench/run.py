#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""raw2dmp benchmark: conversion against cp, peak memory, sparse inputs, the symbol stage.

Generates (once, cached) multi-GiB fixtures with the fixture factory, then runs, alternately (the order
rotating every round) and with `sync` before each timed run so that one run's writeback does not land on
the next: raw2dmp with each hash mode (sha256, the default; sha256,sha1,md5; none), to a fresh output and
replacing an existing one (--force over the previous run's dump), and with --no-sync; `cp --reflink=never`
(which, like elf2dmp, only fills the page cache) and the durable copy `cp --reflink=never IN OUT && sync
OUT` (raw2dmp fsyncs its output by default). Warm page cache and -- when /proc/sys/vm/drop_caches is
writable -- cold. Prints the median wall time with its min-max, the median CPU time (user + system), peak
RSS and the ratios to cp and to the durable copy, as a Markdown table for docs/performance.md, with the
machine, the file system and its mount options, and the load average. Numbers only: nothing here passes or
fails on timing.

    bench/run.py --raw2dmp BUILD/src/cli/raw2dmp [--sizes 1,4,16] [--runs 3] [--cache warm,cold]
                 [--work /tmp/raw2dmp-bench] [--symbols BUILD/bench/bench_symbols] [--clean]

Sizes are GiB of guest RAM: 1 and 4 are random-filled (every page data), 16 and above zero-filled (sparse
ELF and raw files: their holes cost cp and raw2dmp no reads). Python 3 standard library only.
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FACTORY = os.path.join(ROOT, 'tests', 'fixtures', 'mkfixture.py')
ISF = os.path.join(ROOT, 'tests', 'data', 'isf', '606FF669409B00F7FC8C61A9C1670129-1.json.xz')
DROP_CACHES = '/proc/sys/vm/drop_caches'
GIB = 1 << 30


def log(msg):
    print('bench: ' + msg, file=sys.stderr, flush=True)


def fixture(work, gib):
    """The fixture directory for gib GiB of RAM, generated on first use."""
    fill = 'random' if gib < 16 else 'zero'
    out = os.path.join(work, 'fx-%d-%s' % (gib * 1024, fill))
    if os.path.exists(os.path.join(out, 'truth.json')):
        return out, fill
    need = 2 * gib * GIB if fill == 'random' else 64 << 20
    free = shutil.disk_usage(work).free
    if free < need + 2 * gib * GIB + (4 << 30):
        sys.exit('bench: %s: %.1f GiB free, not enough for a %d GiB %s fixture and its outputs'
                 % (work, free / GIB, gib, fill))
    log('generating %s (%d GiB, %s fill; once)' % (out, gib, fill))
    subprocess.run([sys.executable, FACTORY, '--isf', ISF, '--out', out, '--mem-mib', str(gib * 1024),
                    '--fill', fill, '--format', 'elf,raw', '--cache', os.path.join(work, 'cache')],
                   check=True, stdout=subprocess.DEVNULL)
    return out, fill


def can_drop_caches():
    try:
        with open(DROP_CACHES, 'w') as f:
            f.write('3\n')
        return True
    except OSError:
        return False


def drop_caches():
    os.sync()
    with open(DROP_CACHES, 'w') as f:
        f.write('3\n')


def warm(path):
    """Read path once so that it is in the page cache (holes read as zeros, quickly)."""
    with open(path, 'rb', buffering=0) as f:
        while f.read(16 << 20):
            pass


def run(argv, work):
    """Run argv; return wall seconds, CPU seconds (user + system, children included), peak RSS in KiB.

    Peak RSS comes from GNU time when it is installed: the kernel charges the parent's resident set at fork
    to a child's ru_maxrss until it execs, so wait4 on a child of this (large) Python process overstates it;
    time(1) is small. Wall time is measured here around the whole run either way.
    """
    stats = os.path.join(work, 'time.txt')
    timer = ['/usr/bin/time', '-f', '%U %S %M', '-o', stats] if os.access('/usr/bin/time', os.X_OK) else []
    t0 = time.monotonic()
    p = subprocess.Popen(timer + argv, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit('bench: %s failed with exit status %d' % (' '.join(argv), code))
    if timer:
        with open(stats) as f:
            user, system, rss = f.read().split()[-3:]
        return wall, float(user) + float(system), int(rss)
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


CP = 'cp --reflink=never'
CP_SYNC = 'cp + sync FILE'


def tools(raw2dmp, fx, inp, out):
    """(name, argv, replace): replace runs over an existing output (the previous run's), the others over
    none."""
    pdb = os.path.join(fx, 'ntkrnlmp.pdb')
    conv = [raw2dmp, '-q', '--force', '--pdb', pdb, '--offline']
    return [
        ('raw2dmp (sha256)', conv + ['--hash', 'sha256', inp, out], False),
        ('raw2dmp (sha256), replacing', conv + ['--hash', 'sha256', inp, out], True),
        ('raw2dmp --hash sha256,sha1,md5', conv + ['--hash', 'sha256,sha1,md5', inp, out], False),
        ('raw2dmp --hash none', conv + ['--hash', 'none', inp, out], False),
        ('raw2dmp --hash none, replacing', conv + ['--hash', 'none', inp, out], True),
        ('raw2dmp --no-sync (sha256)', conv + ['--no-sync', inp, out], False),
        ('raw2dmp --no-sync --hash none', conv + ['--no-sync', '--hash', 'none', inp, out], False),
        (CP, ['cp', '--reflink=never', inp, out], False),
        (CP_SYNC, ['sh', '-c', 'cp --reflink=never "$0" "$1" && sync "$1"', inp, out], False),
    ]


def measure(raw2dmp, fx, inp, cache, runs, work):
    """Alternate the tools runs times (rotating the order); return {tool: [(wall, cpu, rss), ...]}."""
    out = os.path.join(work, 'out.bin')
    cases = tools(raw2dmp, fx, inp, out)
    res = {name: [] for name, _, _ in cases}
    if cache == 'warm':
        warm(inp)
    for i in range(runs):
        order = cases[i % len(cases):] + cases[:i % len(cases)]
        for name, argv, replace in order:
            if replace and not os.path.exists(out):
                run(cases[0][1], work)  # an output to replace: a dump, as a re-run would find
            elif not replace and os.path.exists(out):
                os.unlink(out)  # freeing it (and its discards) is not the next run's cost
            if cache == 'cold':
                drop_caches()
            else:
                os.sync()  # the previous run's dirty pages must not slow this one down
            res[name].append(run(argv, work))
    if os.path.exists(out):
        os.unlink(out)
    os.sync()
    return res


def med(xs):
    return statistics.median(xs)


def machine():
    model = cores = '?'
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name') and model == '?':
                model = line.split(':', 1)[1].strip()
    cores = os.cpu_count()
    with open('/proc/meminfo') as f:
        mem = int(f.readline().split()[1]) / (1 << 20)
    sha_ni = 'sha_ni' in open('/proc/cpuinfo').read()
    return '%s, %s CPUs, %.1f GiB RAM, SHA-NI %s, %s %s' % (model, cores, mem, 'yes' if sha_ni else 'no',
                                                            platform.system(), platform.release())


def filesystem(path):
    try:
        r = subprocess.run(['findmnt', '-no', 'SOURCE,FSTYPE,OPTIONS', '-T', path], capture_output=True,
                           text=True)
        return r.stdout.strip() or '?'
    except OSError:
        return '?'


def bench_convert(args):
    os.makedirs(args.work, exist_ok=True)
    caches = args.cache.split(',')
    if 'cold' in caches and not can_drop_caches():
        log('cannot write %s: cold-cache runs skipped' % DROP_CACHES)
        caches = [c for c in caches if c != 'cold']
    rows = []
    load0 = os.getloadavg()
    for gib in [int(s) for s in args.sizes.split(',')]:
        fx, fill = fixture(args.work, gib)
        for kind in args.inputs.split(','):
            inp = os.path.join(fx, 'memory.' + kind)
            size = os.path.getsize(inp)
            for cache in caches:
                if gib >= 16 and cache == 'cold' and not args.cold_sparse:
                    continue  # a sparse file has almost nothing to read: cold equals warm
                log('%s (%.2f GiB, %s), %s cache, %d runs' % (inp, size / GIB, fill, cache, args.runs))
                res = measure(args.raw2dmp, fx, inp, cache, args.runs, args.work)
                cp_wall = med([r[0] for r in res[CP]])
                cps_wall = med([r[0] for r in res[CP_SYNC]])
                for name, rs in res.items():
                    walls = [r[0] for r in rs]
                    wall = med(walls)
                    rows.append(('%s %d GiB %s' % (kind, gib, fill), cache, name, wall, min(walls), max(walls),
                                 med([r[1] for r in rs]), med([r[2] for r in rs]) / 1024,
                                 wall / cp_wall, wall / cps_wall, len(rs)))
                    print(ROW % rows[-1][:10], flush=True)
    load1 = os.getloadavg()
    print()
    print('Machine: %s; %s at %s' % (machine(), filesystem(args.work), args.work))
    print('Load average (1 min) before %.2f, after %.2f; medians of %d alternating runs, sync before each'
          % (load0[0], load1[0], args.runs))
    print()
    print('| input | cache | command | wall s | wall min-max | CPU s | peak RSS MiB | / cp | / cp+sync |')
    print('|---|---|---|---:|---:|---:|---:|---:|---:|')
    for r in rows:
        print(ROW % r[:10])
    if args.clean:
        for gib in [int(s) for s in args.sizes.split(',')]:
            shutil.rmtree(fixture_dir_name(args.work, gib), ignore_errors=True)


ROW = '| %s | %s | %s | %.2f | %.2f-%.2f | %.2f | %.1f | %.2f | %.2f |'


def fixture_dir_name(work, gib):
    return os.path.join(work, 'fx-%d-%s' % (gib * 1024, 'random' if gib < 16 else 'zero'))


def bench_symbols(args):
    big = os.path.join(args.work, 'bigpdb')
    if not os.path.exists(os.path.join(big, 'big.pdb')):
        log('building the large PDB in %s (once)' % big)
        subprocess.run([sys.executable, os.path.join(HERE, 'mkbigpdb.py'), '--out', big], check=True)
    times, cpus = [], []
    out = ''
    for _ in range(args.runs):
        r = subprocess.run([args.symbols, os.path.join(big, 'big.pdb'), os.path.join(big, 'names.txt')],
                           capture_output=True, text=True, check=True)
        out = r.stdout
        times.append(float(out.split('total_ms=')[1].split()[0]))
        cpus.append(float(out.split('cpu_ms=')[1].split()[0]))
    print(out.strip())
    print('symbol stage: median wall %.1f ms, CPU %.1f ms over %d runs (wall %s), PDB %.1f MB, load %.2f'
          % (med(times), med(cpus), len(times), ', '.join('%.1f' % t for t in times),
             os.path.getsize(os.path.join(big, 'big.pdb')) / 1e6, os.getloadavg()[0]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--raw2dmp', help='the raw2dmp program to measure')
    ap.add_argument('--symbols', help='the bench_symbols program (symbol stage benchmark)')
    ap.add_argument('--work', default=os.environ.get('R2D_BENCH_DIR', '/tmp/raw2dmp-bench'),
                    help='fixture cache and scratch directory (default /tmp/raw2dmp-bench)')
    ap.add_argument('--sizes', default='1,4,16', help='GiB of RAM per fixture (default 1,4,16)')
    ap.add_argument('--inputs', default='elf,raw', help='input files of each fixture (default elf,raw)')
    ap.add_argument('--cache', default='warm,cold', help='warm, cold or both (default warm,cold)')
    ap.add_argument('--cold-sparse', action='store_true', help='also run the sparse fixtures cold')
    ap.add_argument('--runs', type=int, default=7, help='alternating runs per case (default 7)')
    ap.add_argument('--clean', action='store_true', help='remove the fixtures afterwards')
    args = ap.parse_args()
    if not args.raw2dmp and not args.symbols:
        ap.error('give --raw2dmp, --symbols or both')
    if args.symbols:
        bench_symbols(args)
    if args.raw2dmp:
        bench_convert(args)


if __name__ == '__main__':
    main()
