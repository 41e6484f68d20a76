#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Real QEMU 7.2 output of one guest, read through raw2dmp (suite slow):
(a) run_qemu.py boots a fixture guest in long mode and writes memory.elf, memory.kdump (kdump-zlib,
    flattened) and memory.savevm (migrate exec:cat): the kdump and the migration stream must hold every page
    of the ELF (the stream's pc.ram excepted where the ELF shows ROMs: the isa-bios shadow [0xc0000, 0x100000)
    and the BIOS below 4 GiB) and the same CPU registers; the same stream wrapped as a libvirt save image too.
(b) paused 4 GiB guests (-machine pc and q35) with markers loaded at the last page below the RAM split and the
    first and last pages above 4 GiB: reading the migration stream must find them where QEMU put them
    (i440fx: split 0xc0000000; q35: split 0x80000000)."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lvtest as T

ROM_RANGES = ['--ignore', '0xc0000-0x100000', '--ignore', '0xfffc0000-0x100000000']


def cpus(path):
    inp = T.info(path)
    return inp['cpus'] if inp else None


def fixture_guest(work):
    out = T.fixture_qemu(work)
    if not out:
        return
    elf, kdump, savevm = (os.path.join(out, 'memory.' + x) for x in ('elf', 'kdump', 'savevm'))
    want = cpus(elf)
    T.check(want and all(c['long_mode'] for c in want), 'ELF CPUs are in long mode')
    for name, path, extra in (('kdump', kdump, []), ('savevm', savevm, ROM_RANGES)):
        p = T.run([T.IMGCMP] + extra + [path, elf])
        print(name, 'vs ELF:', p.stdout.strip().splitlines()[-1:] if p.stdout else p.stderr.strip())
        T.check(p.returncode == 0, '%s: every page equals the ELF: %s %s' % (name, p.stdout[-1500:], p.stderr))
        T.check(cpus(path) == want, '%s: CPU registers equal the ELF\'s: %s' % (name, cpus(path)))
    wrapped = T.libvirt_save_wrap(savevm, os.path.join(work, 'wrapped.save'))
    inp = T.info(wrapped)
    T.check(inp and inp['format'] == 'libvirt-save', 'libvirt save image: chosen format %s' % (inp and inp['format']))
    T.check(inp and inp['notes'].get('libvirt.domain') == 'r2dtest', 'libvirt save image: domain name note')
    p = T.run([T.IMGCMP, wrapped, savevm])
    T.check(p.returncode == 0, 'libvirt save image reads as its stream: %s %s' % (p.stdout[-500:], p.stderr))


def split_guest(work, machine, split):
    """4 GiB paused guest: markers at split - 4 KiB, at 4 GiB and at the last page above 4 GiB."""
    above = 4 * 2**30 - split
    marks = {split - 4096: b'below-split', 2**32: b'first-above-4G', 2**32 + above - 4096: b'last-above-4G'}
    loaders = []
    for pa, text in marks.items():
        path = os.path.join(work, 'mark-%x.bin' % pa)
        with open(path, 'wb') as f:
            f.write(text.ljust(32, b'.'))
        loaders.append((path, pa))
    stream = os.path.join(work, machine + '.savevm')
    q = T.Qemu(work, machine=machine, mem='4G', loaders=loaders)
    try:
        q.migrate_to(stream)
    finally:
        q.close()
    inp = T.info(stream)
    if not T.check(inp is not None, '%s: 4 GiB stream opens' % machine):
        return stream
    runs = [(int(r['pa'], 16), int(r['length'], 16)) for r in inp['runs']]
    T.check(runs == [(0, split), (2**32, above)], '%s: runs %s split at 0x%x' % (machine, [tuple(map(hex, r)) for r in runs],
                                                                              split))
    print(machine, inp['notes']['savevm.ram_split'])
    for pa, text in marks.items():
        got = T.peek(stream, pa)
        T.check(got == text.ljust(32, b'.').hex(), '%s: marker %r at 0x%x (got %s)' % (machine, text, pa, got))
    return stream


def main():
    if not T.have_qemu():
        print('qemu-system-x86_64 not installed')
        sys.exit(77)
    work = T.workdir('qemu_cores')
    fixture_guest(work)
    split_guest(work, 'pc', 0xC0000000)
    split_guest(work, 'q35', 0x80000000)
    T.finish()


if __name__ == '__main__':
    main()
