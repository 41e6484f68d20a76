#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Decoding throughput of the kdump-compressed and migration-stream readers against single-thread tools
(issue 9): does the kdump reader's second decoding thread help, and how fast is it next to zcat?

Builds once, cached under --work: a synthetic memory image shaped like a live machine (a quarter zero pages,
a quarter random, half text-like), that image as kdump files with zlib, LZO and snappy pages (mkkdump), as
`gzip -1` and `lzop -1` files of the same bytes, and as a real QEMU migration stream (a paused `-machine pc`
guest whose RAM is the image, loaded with `-device loader`, saved with `migrate exec:cat`). Then runs, warm
page cache, alternating and rotating the order, --runs times each:

  - imgcmp --time FILE            our reader, every page in 1 MiB requests (two decoding threads for kdump)
  - taskset -c 0 imgcmp --time    the same reader confined to one CPU: the single-thread baseline (the
                                  parallel path has no switch; KDUMP_PARALLEL_MIN is not #ifndef-guarded)
  - gzip -dc / lzop -dc / cat     the zcat-style single-thread reference of the same bytes (no snappy tool
                                  exists in Debian; a stream is not compressed, so its reference is a read)

and prints medians as a Markdown table: wall s, CPU s (user + system), CPU/wall (> 1: the second core is
in use), MiB/s of memory delivered (image size / wall, for every row), and speed relative to the one-CPU
reader and to the reference tool (> 1: faster). Numbers only: nothing passes or fails on timing.

    bench/decode.py --build BUILD [--mib 1024] [--runs 3] [--work /tmp/raw2dmp-bench/decode]

BUILD is a meson build dir with tests enabled (tests/libvirt/imgcmp and mkkdump; mkkdump needs liblzo2 and
libsnappy). Missing tools (lzop, qemu-system-x86_64, taskset) are reported and their rows left out.
Python 3 standard library only.
"""

import argparse
import gzip
import json
import os
import platform
import random
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import time

PAGE = 4096
MIB = 1 << 20
# Words of kernel-ish text: pages cut from a long run of them compress about 3-4x, like code and strings.
WORDS = [b'kernel', b'process', b'thread', b'\x00\x00\x00\x00', b'\xff\xff\xf8\x03', b'Windows',
         b'\\Device\\HarddiskVolume3', b'ntoskrnl.exe', b'  ', b'\x01\x00\x00\x00\x00\x00\x00\x00']
# In a paused pc guest [0xc0000, 0x100000) reads the BIOS shadow, not pc.ram: the loader cannot fill it.
ROM_SHADOW = (0xc0000, 0x100000)
ROW = '| %s | %.0f | %s | %.2f | %s | %.2f | %.2f | %.0f | %s | %s | %.2f |'


def log(msg):
    print('decode: ' + msg, file=sys.stderr, flush=True)


def make_raw(path, mib, seed=7):
    rnd = random.Random(seed)
    text = b''.join(rnd.choice(WORDS) for _ in range(200000))
    with open(path + '.tmp', 'wb') as f:
        for _ in range(mib * MIB // PAGE):
            kind = rnd.random()
            if kind < 0.25:
                f.write(bytes(PAGE))
            elif kind < 0.5:
                f.write(rnd.randbytes(PAGE))
            else:
                at = rnd.randrange(len(text) - PAGE)
                f.write(text[at:at + PAGE])
    os.replace(path + '.tmp', path)


def cached(path, make, what, check=None):
    """path, made by make(tmp) and checked by check(tmp) on first use: a half-made file never counts."""
    if not os.path.exists(path):
        log('making %s (%s; once)' % (path, what))
        make(path + '.part')
        if check:
            check(path + '.part')
        os.replace(path + '.part', path)
    return path


def shell_to(argv, out):
    with open(out, 'wb') as f:
        subprocess.run(argv, stdout=f, check=True)


def gzip_1(raw, out):
    if shutil.which('gzip'):
        shell_to(['gzip', '-1', '-c', raw], out)
    else:
        with open(raw, 'rb') as f, gzip.open(out, 'wb', compresslevel=1) as g:
            shutil.copyfileobj(f, g, MIB)


def qmp(f, name, **args):
    f.write(json.dumps({'execute': name, 'arguments': args}) + '\n')
    f.flush()
    while True:
        r = json.loads(f.readline())
        if 'return' in r:
            return r['return']
        if 'error' in r:
            raise RuntimeError('%s: %s' % (name, r['error']))


def qemu_stream(raw, mib, out):
    """A real migration stream of a paused mib MiB pc guest whose RAM holds raw (below the PCI hole)."""
    work = os.path.dirname(out)
    sock = os.path.join(work, 'qmp.sock')
    if os.path.exists(sock):
        os.unlink(sock)
    argv = ['qemu-system-x86_64', '-machine', 'pc', '-accel', 'tcg', '-m', '%dM' % mib, '-nographic',
            '-nodefaults', '-S', '-qmp', 'unix:%s,server=on,wait=off' % sock,
            '-device', 'loader,file=%s,addr=0,force-raw=on' % raw]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            if os.path.exists(sock) or proc.poll() is not None:
                break
            time.sleep(0.05)
        if proc.poll() is not None:
            raise RuntimeError('qemu exited: %s' % proc.stderr.read().decode(errors='replace').strip())
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(300)
        s.connect(sock)
        f = s.makefile('rw')
        f.readline()
        qmp(f, 'qmp_capabilities')
        qmp(f, 'migrate-set-parameters', **{'max-bandwidth': 16 << 30})  # the default caps it at 128 MiB/s
        qmp(f, 'migrate', uri='exec:cat > %s' % shlex.quote(out))
        while True:
            st = qmp(f, 'query-migrate').get('status')
            if st == 'completed':
                break
            if st in ('failed', 'cancelled'):
                raise RuntimeError('migration ' + st)
            time.sleep(0.1)
        qmp(f, 'quit')
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def same_memory(imgcmp, raw, skip=None):
    """A check for cached(): the reader gives back raw's bytes, through the same 1 MiB requests as --time
    (imgcmp's page-by-page comparison would not reach the two-thread path). skip: a range QEMU fills itself."""
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


def inputs(args):
    """{name: path} of every input that could be made, plus notes on what could not."""
    os.makedirs(args.work, exist_ok=True)
    pre = os.path.join(args.work, 'mem-%d' % args.mib)
    raw = cached(pre + '.raw', lambda t: make_raw(t, args.mib), 'synthetic memory')
    made, notes = {'raw': raw}, []
    for codec in ('zlib', 'lzo', 'snappy'):
        made['kdump-' + codec] = cached(
            pre + '-%s.kdump' % codec, lambda t: subprocess.run([args.mkkdump, '-a', 'raw', '--codec', codec, raw, t],
                                                             check=True, stdout=subprocess.DEVNULL),
            'mkkdump --codec ' + codec, same_memory(args.imgcmp, raw))
    made['gzip'] = cached(pre + '.gz', lambda t: gzip_1(raw, t), 'gzip -1')
    if shutil.which('lzop'):
        made['lzop'] = cached(pre + '.lzo', lambda t: shell_to(['lzop', '-1', '-c', raw], t), 'lzop -1')
    else:
        notes.append('lzop not installed (Debian package lzop): no single-thread LZO reference')
    notes.append('no snappy command-line decoder in Debian (snzip is not packaged): snappy is compared '
                 'with our reader on one CPU only')
    if not shutil.which('qemu-system-x86_64'):
        notes.append('qemu-system-x86_64 not installed: no migration stream')
        return made, notes
    try:
        made['savevm'] = cached(pre + '.savevm', lambda t: qemu_stream(raw, args.mib, t), 'QEMU migration stream',
                                same_memory(args.imgcmp, raw, ROM_SHADOW))
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        notes.append('no migration stream: QEMU failed: %s' % e)
    return made, notes


def busy_seconds():
    """CPU seconds spent by everything on the machine so far (user, nice, system, irq, softirq, steal)."""
    with open('/proc/stat') as f:
        t = [int(x) for x in f.readline().split()[1:]]
    return (t[0] + t[1] + t[2] + t[5] + t[6] + t[7]) / os.sysconf('SC_CLK_TCK')


def timed(argv, to_null):
    """(wall, cpu, others' cpu, imgcmp's own read seconds or None) for argv; a decoder's output goes to
    /dev/null. Others' cpu is what the rest of the machine used meanwhile: another job on a two-CPU machine
    takes the core the second decoding thread wants."""
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
    """timed(), again (after a pause) while others used more than a tenth of a CPU: keep the quietest."""
    best = None
    for attempt in range(retries + 1):
        r = timed(argv, to_null)
        if best is None or r[2] / r[0] < best[2] / best[0]:
            best = r
        if r[2] <= 0.1 * r[0] + 0.02:
            break
        time.sleep(2)
    return best


def cores_free():
    """How many CPUs two busy processes get now (2.0 on an idle two-CPU machine)."""
    spin = [sys.executable, '-c', 'for _ in range(8000000): pass']
    t0 = time.monotonic()
    subprocess.run(spin, check=True)
    one = time.monotonic() - t0
    t0 = time.monotonic()
    ps = [subprocess.Popen(spin) for _ in range(2)]
    for p in ps:
        p.wait()
    return 2 * one / (time.monotonic() - t0)


def cases(args, made):
    """(input, label, argv, output to /dev/null, role): role 'one' is the one-CPU reader, 'ref' the tool."""
    one = ['taskset', '-c', '0'] if shutil.which('taskset') else None
    ref = {'kdump-zlib': ('gzip', 'gzip -dc (zcat) of .gz', ['gzip', '-dc']),
           'kdump-lzo': ('lzop', 'lzop -dc of .lzo', ['lzop', '-dc']),
           'savevm': ('savevm', 'cat of the stream', ['cat']),
           'raw': ('raw', 'cat of the raw file', ['cat'])}
    out = []
    for name in ('kdump-zlib', 'kdump-lzo', 'kdump-snappy', 'savevm', 'raw'):
        if name not in made:
            continue
        fmt = ['-a', 'raw'] if name == 'raw' else []
        group = [(name, 'imgcmp --time (ours, 2 threads allowed)', [args.imgcmp, '--time'] + fmt + [made[name]],
                  False, 'ours')]
        if one:
            group.append((name, 'taskset -c 0 imgcmp --time (ours, 1 CPU)', one + group[0][2], False, 'one'))
        if name in ref and ref[name][0] in made and shutil.which(ref[name][2][0]):
            src, label, argv = ref[name]
            group.append((name, label, argv + [made[src]], True, 'ref'))
        out.append(group)
    return out


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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build', help='meson build dir (for tests/libvirt/imgcmp and mkkdump)')
    ap.add_argument('--imgcmp')
    ap.add_argument('--mkkdump')
    ap.add_argument('--mib', type=int, default=1024, help='MiB of memory (default 1024)')
    ap.add_argument('--runs', type=int, default=3, help='alternating runs per case (default 3)')
    ap.add_argument('--retries', type=int, default=5, help='repeats of a run disturbed by others (default 5)')
    ap.add_argument('--work', default='/tmp/raw2dmp-bench/decode', help='input cache (default %(default)s)')
    args = ap.parse_args()
    for tool in ('imgcmp', 'mkkdump'):
        if not getattr(args, tool):
            if not args.build:
                ap.error('give --build or --%s' % tool)
            setattr(args, tool, os.path.join(args.build, 'tests', 'libvirt', tool))
        if not os.access(getattr(args, tool), os.X_OK):
            sys.exit('decode: %s not built (tests enabled? liblzo2 and libsnappy found?)' % getattr(args, tool))
    made, notes = inputs(args)
    if not shutil.which('taskset'):
        notes.append('taskset not installed (util-linux): no one-CPU runs of our reader')
    for n in notes:
        log(n)
    mem_mib = os.path.getsize(made['raw']) / MIB
    rows, loads, free = [], [], [cores_free()]
    for group in cases(args, made):
        name = group[0][0]
        warm(sorted({c[2][-1] for c in group}))
        res = {c[1]: [] for c in group}
        loads.append(os.getloadavg()[0])
        log('%s: %d cases x %d runs (load %.2f)' % (name, len(group), args.runs, loads[-1]))
        for i in range(args.runs):
            for c in group[i % len(group):] + group[:i % len(group)]:
                res[c[1]].append(quiet_run(c[2], c[3], args.retries))
        med = {label: [statistics.median(r[k] for r in rs) if rs[0][k] is not None else None for k in range(4)]
               for label, rs in res.items()}
        base = {c[4]: med[c[1]][0] for c in group}
        for _, label, argv, _, role in group:
            wall, cpu, others, reads = med[label]
            rows.append((name, os.path.getsize(argv[-1]) / MIB, label, wall, '%.2f' % reads if reads else '',
                         cpu, cpu / wall, mem_mib / wall,
                         '%.2f' % (base['one'] / wall) if 'one' in base else '',
                         '%.2f' % (base['ref'] / wall) if 'ref' in base else '', others))
            log(ROW % rows[-1])
    loads.append(os.getloadavg()[0])
    free.append(cores_free())
    print('Machine: %s' % machine())
    print('Load average (1 min) at the start of each input and at the end: %s; two busy processes got %.2f '
          'CPUs before and %.2f after' % (', '.join('%.2f' % l for l in loads), free[0], free[1]))
    print('Medians of %d alternating runs, warm page cache, %d MiB of memory per input; a run during which '
          'the rest of the machine used over a tenth of a CPU was repeated (up to %d times, the quietest kept)'
          % (args.runs, mem_mib, args.retries))
    for n in notes:
        print('Note: ' + n)
    print()
    print('| input | file MiB | decoder | wall s | imgcmp read s | CPU s | CPU/wall | memory MiB/s | '
          '× 1-CPU reader | × reference | others\' CPU s |')
    print('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    for r in rows:
        print(ROW % r)


if __name__ == '__main__':
    main()
