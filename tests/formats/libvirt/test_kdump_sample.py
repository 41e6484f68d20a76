#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The real QEMU 7.2 kdump (dump-guest-memory -z, flattened) of the SeaBIOS guest, and the same file
reassembled into the plain diskdump layout, read through raw2dmp's kdump reader: every page equals the
PT_LOADs of the ELF QEMU wrote of the same guest (that ELF is EM_386, which raw2dmp refuses to convert, so it
is parsed here), the runs equal the PT_LOADs, and the CPU registers equal the ELF's QEMU note. When
libkdumpfile is there (kdfbench), it must read the plain file identically."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lvtest as T
from flat2plain import flat2plain

BDA_TICKS = 0x46c


def compare_with_elf(name, path, loads, notes, work):
    inp = T.info(path)
    if not T.check(inp is not None, '%s: --info works' % name):
        return
    T.check(inp['format'] == 'kdump', '%s: chosen format is kdump (got %s)' % (name, inp['format']))
    raw = os.path.join(work, name + '.raw')
    runs = T.export(path, raw)
    want = [(pa, n) for pa, n, _ in loads]
    T.check(runs == want, '%s: runs %s equal the ELF PT_LOADs %s' % (name, runs, want))
    elf = os.path.join(work, 'guest.elf')
    for pa, n, off in loads:
        for at in range(0, n, 1 << 20):
            k = min(1 << 20, n - at)
            got, want = T.read_at(raw, pa + at, k), T.read_at(elf, off + at, k)
            if pa + at <= BDA_TICKS < pa + at + k:
                # QEMU wrote the two files one after the other while SeaBIOS ran: the BIOS timer tick count
                # (BDA 0x46c, u32) is the one thing that moved between them.
                i = BDA_TICKS - pa - at
                got, want = got[:i] + got[i + 4:], want[:i] + want[i + 4:]
            if got != want:
                T.check(False, '%s: bytes at physical 0x%x differ from the ELF' % (name, pa + at))
                break
    qemu = [T.qemu_cpu(d) for nm, _, d in notes if nm == 'QEMU']
    got = [T.json_cpu(c) for c in inp['cpus']]
    T.check(got == qemu, '%s: CPU registers %s equal the ELF QEMU notes %s' % (name, got, qemu))
    T.check(all(c['long_mode'] is False for c in inp['cpus']), '%s: real-mode CPU is not long mode' % name)
    return raw


def main():
    work = T.workdir('kdump_sample')
    elf = T.unxz(T.SAMPLE_ELF_XZ, os.path.join(work, 'guest.elf'))
    loads, notes = T.elf_loads_and_notes(elf)
    plain = os.path.join(work, 'plain.kdump')
    flat2plain(T.SAMPLE_KDUMP, plain)
    compare_with_elf('flattened', T.SAMPLE_KDUMP, loads, notes, work)
    ours = compare_with_elf('plain', plain, loads, notes, work)
    p = T.run([T.IMGCMP, T.SAMPLE_KDUMP, plain])
    T.check(p.returncode == 0, 'flattened and plain read alike: %s %s' % (p.stdout.strip(), p.stderr.strip()))
    if T.KDFBENCH and ours:
        theirs = os.path.join(work, 'libkdumpfile.raw')
        p = T.run([T.KDFBENCH, plain, theirs])
        runs = [tuple(int(x, 16) for x in l.split()[1:]) for l in p.stdout.splitlines()]
        T.check(p.returncode == 0, 'libkdumpfile reads the plain file: %s' % p.stderr.strip())
        T.check(runs == [(pa, n) for pa, n, _ in loads], 'libkdumpfile sees the same pages: %s' % runs)
        for pa, n, _ in loads:
            T.check(T.read_at(theirs, pa, n) == T.read_at(ours, pa, n),
                    'libkdumpfile and raw2dmp agree at 0x%x' % pa)
    else:
        print('libkdumpfile (kdfbench) not built: independent reader comparison skipped')
    T.finish()


if __name__ == '__main__':
    main()
