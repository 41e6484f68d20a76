#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Decoding throughput of the kdump-compressed and migration-stream readers against single-thread tools
(issue 9): does the kdump reader's second decoding thread help, and how fast is it next to zcat?

Makes once, cached under --work: a synthetic memory image shaped like a live machine (a quarter zero pages,
a quarter random, half text-like); that image as kdump files with zlib, LZO and snappy pages (mkkdump), as
`gzip -1` and `lzop -1` files, as a zlib-compressed LiME file (LiME's compress=1: one deflate stream with
a 2 KiB window, indexed at open, then inflated again by the writer), and as a real QEMU migration stream
(a paused `-machine pc` guest whose RAM is the image, put there with `-device loader`, saved with
`migrate exec:cat`). Every kdump and the stream
are checked to read back as the image. Then, warm page cache, --runs rounds in rotating order:

  imgcmp --time FILE                our reader, every page in 1 MiB requests (two decoding threads for
                                    kdump: a request of >= 16 pages is split between them)
  ... with LD_PRELOAD=nothread.so   our reader with the parallel path off: pthread_create fails, so the
                                    reader decodes alone (built here when a C compiler exists; the path has
                                    no switch and KDUMP_PARALLEL_MIN is not #ifndef-guarded)
  taskset -c 0 imgcmp --time        our reader, both threads on one CPU (what a busy second core leaves)
  gzip -dc / lzop -dc / cat         the zcat-style single-thread reference of the same bytes; no snappy
                                    decoder command is packaged in Debian; a stream is not compressed, so
                                    its reference is a plain read
  pigz -dc                          when installed: zlib's inflate of the .gz (GNU gzip has its own, slower
                                    one) in one thread, CRC and output on helper threads

and prints medians as a Markdown table: wall s, CPU s (user + system; CPU/wall > 1: the second core was
used), MiB/s of memory delivered (image size / wall, for every row, including cat of a smaller file),
speed relative to our single-thread reader and to the reference tool (> 1: faster), and the CPU the rest
of the machine used meanwhile (a disturbed run is repeated, the quietest kept). Numbers only.

    bench/decode.py --build BUILD [--mib 1024] [--runs 3] [--retries 5] [--work /tmp/raw2dmp-bench/decode]

BUILD: a meson build dir with tests enabled (tests/formats/libvirt/imgcmp and mkkdump; mkkdump needs liblzo2 and
libsnappy). Missing tools (lzop, pigz, qemu-system-x86_64, taskset, cc) are reported and their rows left out.
Python 3 standard library only.
"""

import argparse
import gzip
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import time
import zlib

# The memory image and the QEMU driver are the libvirt tests' own (tests/formats/libvirt/).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'formats', 'libvirt'))
import lvtest  # noqa: E402
from bench_kdump import make_raw  # noqa: E402

PAGE = 4096
MIB = 1 << 20
# In a paused pc guest [0xc0000, 0x100000) reads the BIOS shadow, not pc.ram: the loader cannot fill it.
ROM_SHADOW = (0xc0000, 0x100000)
# With -machine pc, RAM above 3 GiB would be split around the PCI hole and no longer sit at 0.
QEMU_MAX_MIB = 3072
NOTHREAD_C = r'''
#include <errno.h>
#include <pthread.h>
int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *arg)
{
    (void)t; (void)a; (void)f; (void)arg;
    return EAGAIN;
}
'''
ROW = '| %s | %.0f | %s | %.2f | %s | %.2f | %.2f | %.0f | %s | %s | %.2f |'


def log(msg):
    print('decode: ' + msg, file=sys.stderr, flush=True)


def cached(path, make, what, check=None):
    """path, made by make(tmp) and checked by check(tmp) on first use: a half-made file never counts."""
    if not os.path.exists(path):
        log('making %s (%s; once)' % (path, what))
        make(path + '.part')
        if check:
            check(path + '.part')
        os.replace(path + '.part', path)
    return path


def to_file(argv, out):
    with open(out, 'wb') as f:
        subprocess.run(argv, stdout=f, check=True)


def gzip_1(raw, out):
    if shutil.which('gzip'):
        to_file(['gzip', '-1', '-c', raw], out)
    else:
        with open(raw, 'rb') as f, gzip.open(out, 'wb', compresslevel=1) as g:
            shutil.copyfileobj(f, g, MIB)


def lime_z(raw, out):
    """The image as one LiME range, deflated as a zlib stream the way LiME's compress=1 writes it (the
    kernel's deflate at level 6 with a 2 KiB window and memLevel 5, as the fixture factory's writer)."""
    size = os.path.getsize(raw)
    z = zlib.compressobj(6, zlib.DEFLATED, 11, 5)
    with open(raw, 'rb') as src, open(out, 'wb') as f:
        f.write(z.compress(struct.pack('<IIQQQ', 0x4C694D45, 1, 0, size - 1, 0)))
        while True:
            chunk = src.read(16 * MIB)
            if not chunk:
                break
            f.write(z.compress(chunk))
        f.write(z.flush())


def qemu_stream(raw, mib, out):
    """A real migration stream of a paused mib MiB pc guest whose RAM holds raw from address 0."""
    q = lvtest.Qemu(os.path.dirname(out), machine='pc', mem='%dM' % mib, loaders=[(raw, 0)])
    try:
        q.cmd('migrate-set-parameters', **{'max-bandwidth': 16 << 30})  # the default is 128 MiB/s
        q.migrate_to(out)
    finally:
        q.close()


def same_memory(imgcmp, raw, skip=None):
    """A check for cached(): the reader gives back raw's bytes through 1 MiB requests, as --time reads
    (imgcmp's own comparison reads page by page and would not reach the two-thread path)."""
    def check(path):
        out = path + '.export'
        try:
            subprocess.run([imgcmp, '--export', out, path], check=True, stdout=subprocess.DEVNULL)
            with open(out, 'rb') as a, open(raw, 'rb') as b:
                pos = 0
                while True:
                    x, y = a.read(MIB), b.read(MIB)
                    if skip and pos <= skip[0] < pos + MIB:
                        lo, hi = skip[0] - pos, skip[1] - pos
                        x, y = x[:lo] + x[hi:], y[:lo] + y[hi:]
                    if x != y:
                        sys.exit('decode: %s does not read back as %s near offset 0x%x' % (path, raw, pos))
                    if not x:
                        break
                    pos += MIB
        finally:
            if os.path.exists(out):
                os.unlink(out)
    return check


def nothread_lib(work):
    """A preload library whose pthread_create fails (None without a C compiler)."""
    cc = shutil.which('cc') or shutil.which('gcc') or shutil.which('clang')
    if not cc:
        return None
    src, lib = os.path.join(work, 'nothread.c'), os.path.join(work, 'nothread.so')
    if not os.path.exists(lib):
        with open(src, 'w') as f:
            f.write(NOTHREAD_C)
        subprocess.run([cc, '-shared', '-fPIC', '-O2', '-o', lib, src], check=True)
    return lib


def inputs(args):
    """{name: path} of every input that could be made, and notes on what could not."""
    os.makedirs(args.work, exist_ok=True)
    pre = os.path.join(args.work, 'mem-%d' % args.mib)
    raw = cached(pre + '.raw', lambda t: make_raw(t, args.mib), 'synthetic memory')
    made, notes = {'raw': raw}, []
    for codec in ('zlib', 'lzo', 'snappy'):
        made['kdump-' + codec] = cached(
            pre + '-%s.kdump' % codec,
            lambda t: subprocess.run([args.mkkdump, '-a', 'raw', '--codec', codec, raw, t], check=True,
                                     stdout=subprocess.DEVNULL),
            'mkkdump --codec ' + codec, same_memory(args.imgcmp, raw))
    made['lime-z'] = cached(pre + '.lime.z', lambda t: lime_z(raw, t), 'zlib-compressed LiME',
                            same_memory(args.imgcmp, raw))
    made['gzip'] = cached(pre + '.gz', lambda t: gzip_1(raw, t), 'gzip -1')
    if not shutil.which('gzip'):
        notes.append('gzip not installed: no zcat reference')
    if shutil.which('lzop'):
        made['lzop'] = cached(pre + '.lzo', lambda t: to_file(['lzop', '-1', '-c', raw], t), 'lzop -1')
    else:
        notes.append('lzop not installed (Debian package lzop): no single-thread LZO reference')
    if not shutil.which('pigz'):
        notes.append('pigz not installed (Debian package pigz): no zlib-library reference for the .gz')
    notes.append('no snappy decoder command in Debian (snzip is not packaged): snappy is compared with our '
                 'reader only')
    if not shutil.which('qemu-system-x86_64'):
        notes.append('qemu-system-x86_64 not installed: no migration stream')
    elif args.mib > QEMU_MAX_MIB:
        notes.append('no migration stream: a %d MiB pc guest would not hold the image at address 0'
                     % args.mib)
    else:
        try:
            made['savevm'] = cached(pre + '.savevm', lambda t: qemu_stream(raw, args.mib, t),
                                    'QEMU migration stream', same_memory(args.imgcmp, raw, ROM_SHADOW))
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            notes.append('no migration stream: QEMU failed: %s' % e)
    return made, notes


def cases(args, made, nothread):
    """Groups of (input, label, argv, output to /dev/null, role) per input. Roles: 'ours', 'single' (our
    reader decoding alone), 'onecpu' (our reader on one CPU), 'ref' (the zcat-style tool), 'extra'."""
    ref = {'kdump-zlib': ('gzip', 'gzip -dc (zcat) of the .gz', ['gzip', '-dc']),
           'lime-z': ('gzip', 'gzip -dc (zcat) of the .gz', ['gzip', '-dc']),
           'kdump-lzo': ('lzop', 'lzop -dc of the .lzo', ['lzop', '-dc']),
           'savevm': ('savevm', 'cat of the stream', ['cat']),
           'raw': ('raw', 'cat of the raw file', ['cat'])}
    groups = []
    for name in ('kdump-zlib', 'kdump-lzo', 'kdump-snappy', 'lime-z', 'savevm', 'raw'):
        if name not in made:
            continue
        ours = [args.imgcmp, '--time'] + (['-a', 'raw'] if name == 'raw' else []) + [made[name]]
        group = [(name, 'imgcmp --time (ours)', ours, False, 'ours')]
        if nothread and name.startswith('kdump'):
            group.append((name, 'ours, decoding alone (no worker thread)',
                          ['env', 'LD_PRELOAD=' + nothread] + ours, False, 'single'))
        if shutil.which('taskset'):
            group.append((name, 'ours, taskset -c 0 (one CPU)', ['taskset', '-c', '0'] + ours, False,
                          'onecpu'))
        if name in ref and ref[name][0] in made and shutil.which(ref[name][2][0]):
            src, label, argv = ref[name]
            group.append((name, label, argv + [made[src]], True, 'ref'))
        if name in ('kdump-zlib', 'lime-z') and shutil.which('pigz'):
            group.append((name, 'pigz -dc of the .gz', ['pigz', '-dc', made['gzip']], True, 'extra'))
        groups.append(group)
    return groups


def busy_seconds():
    """CPU seconds spent by the whole machine so far (user, nice, system, irq, softirq, steal)."""
    with open('/proc/stat') as f:
        t = [int(x) for x in f.readline().split()[1:]]
    return (t[0] + t[1] + t[2] + t[5] + t[6] + t[7]) / os.sysconf('SC_CLK_TCK')


def timed(argv, to_null):
    """(wall, cpu, others' cpu, imgcmp's own read seconds or None). Others' cpu is what the rest of the
    machine used meanwhile: on two CPUs another job takes the core the second decoding thread wants."""
    b0, t0 = busy_seconds(), time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL if to_null else subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out = p.stdout.read() if p.stdout else b''
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall, b1 = time.monotonic() - t0, busy_seconds()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit('decode: %s failed: %s' % (' '.join(argv), err.decode(errors='replace').strip()))
    cpu = ru.ru_utime + ru.ru_stime
    reads = float(out.split()[3]) if b' pages in ' in out else None  # imgcmp times its reads, not the open
    return wall, cpu, max(0.0, b1 - b0 - cpu), reads


def quiet_run(argv, to_null, retries):
    """timed(), repeated after a pause while others used more than a tenth of a CPU; the quietest kept."""
    best = None
    for _ in range(retries + 1):
        r = timed(argv, to_null)
        if best is None or r[2] / r[0] < best[2] / best[0]:
            best = r
        if r[2] <= 0.1 * r[0] + 0.02:
            break
        log('  disturbed (others used %.2f CPU s in %.2f s): again' % (r[2], r[0]))
        time.sleep(2)
    return best


def cores_free():
    """CPUs two busy processes get together now: their CPU time over the wall time (2.0: both cores free)."""
    spin = [sys.executable, '-c', 'for _ in range(20000000): pass']
    t0 = time.monotonic()
    cpu = 0.0
    for p in [subprocess.Popen(spin) for _ in range(2)]:
        ru = os.wait4(p.pid, 0)[2]
        cpu += ru.ru_utime + ru.ru_stime
    return cpu / (time.monotonic() - t0)


def warm(paths):
    for path in paths:
        with open(path, 'rb', buffering=0) as f:
            while f.read(16 << 20):
                pass


def machine():
    model = '?'
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    with open('/proc/meminfo') as f:
        mem = int(f.readline().split()[1]) / (1 << 20)
    return '%s, %d CPUs, %.1f GiB RAM, %s %s' % (model, os.cpu_count(), mem, platform.system(),
                                                 platform.release())


def measure(group, runs, retries, mem_mib):
    """Table rows of one input's group: runs rounds in rotating order, medians, ratios."""
    res = {c[1]: [] for c in group}
    for i in range(runs):
        for c in group[i % len(group):] + group[:i % len(group)]:
            r = quiet_run(c[2], c[3], retries)
            res[c[1]].append(r)
            log('  %-45s wall %.3f cpu %.3f others %.2f' % (c[1], r[0], r[1], r[2]))
    med = {k: [statistics.median(r[j] for r in rs) if rs[0][j] is not None else None for j in range(4)]
           for k, rs in res.items()}
    base = {c[4]: med[c[1]][0] for c in group}
    single = base.get('single', base.get('onecpu'))
    rows = []
    for name, label, argv, _, _ in group:
        wall, cpu, others, reads = med[label]
        rows.append((name, os.path.getsize(argv[-1]) / MIB, label, wall, '%.2f' % reads if reads else '',
                     cpu, cpu / wall, mem_mib / wall, '%.2f' % (single / wall) if single else '',
                     '%.2f' % (base['ref'] / wall) if 'ref' in base else '', others))
        log(ROW % rows[-1])
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build', help='meson build dir (for tests/formats/libvirt/imgcmp and mkkdump)')
    ap.add_argument('--imgcmp')
    ap.add_argument('--mkkdump')
    ap.add_argument('--mib', type=int, default=1024, help='MiB of memory (default 1024)')
    ap.add_argument('--runs', type=int, default=3, help='rounds of alternating runs (default 3)')
    ap.add_argument('--retries', type=int, default=5, help='repeats of a run disturbed by others (default 5)')
    ap.add_argument('--work', default='/tmp/raw2dmp-bench/decode', help='input cache (default %(default)s)')
    args = ap.parse_args()
    for tool in ('imgcmp', 'mkkdump'):
        if not getattr(args, tool):
            if not args.build:
                ap.error('give --build or --%s' % tool)
            setattr(args, tool, os.path.join(args.build, 'tests', 'formats', 'libvirt', tool))
        if not os.access(getattr(args, tool), os.X_OK):
            sys.exit('decode: %s not built (tests enabled? liblzo2 and libsnappy found?)'
                     % getattr(args, tool))
    made, notes = inputs(args)
    nothread = nothread_lib(args.work)
    if not nothread:
        notes.append('no C compiler: no runs of our reader with the parallel path off (taskset only)')
    if not shutil.which('taskset'):
        notes.append('taskset not installed (util-linux): no one-CPU runs of our reader')
    for n in notes:
        log(n)
    mem_mib = os.path.getsize(made['raw']) / MIB
    rows, loads, free = [], [], []
    for group in cases(args, made, nothread):
        warm(sorted({c[2][-1] for c in group}))
        loads.append(os.getloadavg()[0])
        free.append(cores_free())
        log('%s: %d cases x %d rounds (load %.2f, %.2f CPUs free)' % (group[0][0], len(group), args.runs,
                                                                     loads[-1], free[-1]))
        rows += measure(group, args.runs, args.retries, mem_mib)
    loads.append(os.getloadavg()[0])
    free.append(cores_free())
    print('Machine: %s' % machine())
    print('Load average (1 min) at the start of each input and at the end: %s'
          % ', '.join('%.2f' % x for x in loads))
    print('CPUs two busy processes got together at the same moments (2.00: both cores free; the host can '
          'take a core unseen by the load average): %s' % ', '.join('%.2f' % x for x in free))
    print('Medians of %d rounds of alternating runs, warm page cache, %d MiB of memory per input; a run '
          'during which the rest of the machine used over a tenth of a CPU was repeated (up to %d times, '
          'the quietest kept)' % (args.runs, mem_mib, args.retries))
    for n in notes:
        print('Note: ' + n)
    print()
    print('| input | file MiB | decoder | wall s | imgcmp read s | CPU s | CPU/wall | memory MiB/s | '
          '× single-thread ours | × reference | others\' CPU s |')
    print('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    for r in rows:
        print(ROW % r)


if __name__ == '__main__':
    main()
