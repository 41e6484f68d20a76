#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Real QEMU, 32-bit guests: Debian's qemu-system-i386 runs bootstub32 on a PAE (Windows 10) and a non-PAE
(Windows 7) fixture with several vCPUs in 32-bit protected mode with paging, writes dump-guest-memory
(EM_386) and kdump cores, a migration stream (4-byte target_ulong CPU state) and a pmemsave raw image;
each converts to a PAGEDUMP dump. Checked with parsers
written here and in r2dtest.py: the core's class/machine/notes, the notes' registers against QEMU's
`info registers`, the guest's page tables walked in the core, the dump header against truth.json, every
page against the core except reported patches, the KDBG decoded, each processor's CONTEXT against its
vCPU's note. Exit 77 when QEMU or binutils are missing."""

import json
import os
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..'))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'fixtures'))
import r2dtest as t                      # noqa: E402
from test_fixture_x86 import Elf, Walk   # noqa: E402

ISF32 = os.path.join(t.SRC, 'tests', 'data', 'isf32')
CASES = [  # name, isf, paging option, cpus, seed
    ('w10-pae', 'vol2-win10_x86_19041.json.xz', '--pae', 3, 11),
    ('w7-nopae', 'vol2-win7_sp1_x86.json.xz', '--no-pae', 2, 12),
]
QEMU = os.environ.get('QEMU_SYSTEM_I386', 'qemu-system-i386')


def qemu_note_regs(desc):
    """QEMUCPUState version 1 (target/i386/arch_dump.c): the fields a 32-bit CONTEXT holds."""
    g = struct.unpack_from('<18Q', desc, 8)
    seg = lambda i: struct.unpack_from('<I', desc, 0x98 + 24 * i)[0]
    return {'eax': g[0], 'ebx': g[1], 'ecx': g[2], 'edx': g[3], 'esi': g[4], 'edi': g[5], 'esp': g[6],
            'ebp': g[7], 'eip': g[16], 'eflags': g[17], 'cs': seg(0), 'ds': seg(1), 'es': seg(2), 'fs': seg(3),
            'gs': seg(4), 'ss': seg(5), 'fs_base': struct.unpack_from('<Q', desc, 0xE0 + 16)[0],
            'cr0': struct.unpack_from('<Q', desc, 0x188)[0], 'cr3': struct.unpack_from('<Q', desc, 0x1A0)[0],
            'cr4': struct.unpack_from('<Q', desc, 0x1A8)[0]}


def check_core(name, out, truth, producer):
    e = Elf(os.path.join(out, 'memory.elf'))
    n = len(truth['cpus'])
    t.check(e.machine == 3, '%s: real QEMU core is EM_386' % name)
    # QEMU picks ELFCLASS64 when a block ends above 4 GiB - 1: the pc machine's BIOS ROM ends at 4 GiB
    t.check(e.cls == 64, '%s: ELFCLASS64 (the BIOS block ends at 4 GiB)' % name)
    t.check([x[0] for x in e.notes] == [b'CORE'] * n + [b'QEMU'] * n, '%s: CORE then QEMU notes per vCPU' % name)
    regs = [qemu_note_regs(e.notes[n + i][2]) for i in range(n)]
    for i, (r, q, c) in enumerate(zip(regs, producer['cpus'], truth['cpus'])):
        pr = e.notes[i][2]
        t.check(len(pr) == 144 and struct.unpack_from('<I', pr, 24)[0] == i + 1, '%s: i386 prstatus %d' % (name, i))
        t.check(struct.unpack_from('<I', pr, 72 + 12 * 4)[0] == r['eip'] == q['eip'] == truth['idt_handler_va'] + 1,
                '%s: vCPU %d parked after the hlt (prstatus, QEMU note and info registers agree)' % (name, i))
        t.check(r['cr3'] == truth['dtb'] and bool(r['cr4'] & 0x20) == truth['pae'] and r['cr0'] >> 31,
                '%s: vCPU %d CR3 = DTB, CR4.PAE as the fixture, paging on' % (name, i))
        t.check(r['fs_base'] == c['kpcr_va'] and r['esp'] == c['regs']['esp'] and r['eax'] == c['regs']['eax'],
                '%s: vCPU %d FS base = its KPCR, ESP and EAX as planned' % (name, i))
    w = Walk(e, truth['dtb'], truth['pae'])
    mz = w.read(truth['kernel_base'], 2)
    t.check(mz == b'MZ', '%s: the kernel reads through the guest page tables in the core' % name)
    t.check(w.v2p(0xFFDF0000) == truth['kuser_shared_data_pa'], '%s: KUSER_SHARED_DATA maps' % name)
    return regs


def check_contexts(name, dump, truth, regs):
    u32 = lambda b, o: struct.unpack_from('<I', b, o)[0]
    offs = {'eip': 0xB8, 'esp': 0xC4, 'ebp': 0xB4, 'eax': 0xB0, 'ebx': 0xA4, 'ecx': 0xAC, 'edx': 0xA8, 'esi': 0xA0,
            'edi': 0x9C, 'eflags': 0xC0, 'cs': 0xBC, 'ss': 0xC8, 'ds': 0x98, 'es': 0x94, 'fs': 0x90, 'gs': 0x8C}
    with open(dump.path, 'rb') as f:
        for c, r in zip(truth['cpus'], regs):
            data = b''
            for pg in c['context_pages']:
                data += dump.read_page(f, pg['pa'] // t.PAGE)[pg['pa'] % t.PAGE:pg['pa'] % t.PAGE + pg['len']]
            bad = [k for k, o in offs.items() if u32(data, o) != r[k] & 0xFFFFFFFF]
            t.check(not bad, '%s: processor %d CONTEXT equals its vCPU note (%s differ)' % (name, c['processor'], bad))


def convert(name, work, out, truth, fmt, regs):
    src = os.path.join(out, 'memory.' + fmt)
    dmp = os.path.join(work, 'q-%s.dmp' % fmt)
    rep = os.path.join(work, 'q-%s.json' % fmt)
    p = t.raw2dmp('--pdb', os.path.join(work, 'fx', truth['pdb']['path']), '--report', rep, src, dmp, check_rc=0)
    if not t.check(p.returncode == 0, '%s/%s: real QEMU output converts' % (name, fmt)):
        return
    dump = t.Dump32(dmp)
    skip = {'physical_memory_block'}          # QEMU's blocks: RAM up to 0xC0000, option ROMs, the BIOS
    for key, want in truth['header'].items():
        if key not in skip:
            t.check(dump.fields.get(key) == want, '%s/%s: header %s = %r (want %r)' % (name, fmt, key,
                                                                                         dump.fields.get(key), want))
    with open(rep) as f:
        patches = json.load(f)['plan']['patches']
    if fmt == 'elf':
        compared, problems = t.verify_pages(dump, t.Source(src, 'elf'), patches)
        t.check(compared > 0 and not problems, '%s/elf: every page equals the core except patches: %s' % (name, problems[:3]))
    with open(dmp, 'rb') as f:
        kdbg = b''.join(dump.read_page(f, pg['pa'] // t.PAGE)[pg['pa'] % t.PAGE:pg['pa'] % t.PAGE + pg['len']]
                        for pg in truth['kdbg']['pages'])
    t.check(kdbg.hex() == truth['kdbg']['decoded_hex'], '%s/%s: KDBG reads back decoded' % (name, fmt))
    if fmt != 'raw':
        check_contexts('%s/%s' % (name, fmt), dump, truth, regs)


def main():
    if not shutil.which(QEMU) or not all(shutil.which(x) for x in ('as', 'ld', 'objcopy', 'clang', 'lld-link')):
        print('%s, binutils or LLVM missing' % QEMU)
        return 77
    for name, isf, paging, cpus, seed in CASES:
        work = t.workdir('qemu_x86-' + name)
        fx, out = os.path.join(work, 'fx'), os.path.join(work, 'out')
        cache = os.path.join(t.BUILD, 'tests-work', 'fixture-cache')
        os.makedirs(cache, exist_ok=True)
        subprocess.run([sys.executable, os.path.join(t.SRC, 'tests', 'fixtures', 'mkfixture.py'), '--arch', 'x86',
                        paging, '--isf', os.path.join(ISF32, isf), '--out', fx, '--cpus', str(cpus), '--seed',
                        str(seed), '--identity-low', '--format', 'raw', '--cache', cache],
                       check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(fx, 'truth.json')) as f:
            truth = json.load(f)
        r = subprocess.run([sys.executable, os.path.join(HERE, 'run_qemu32.py'), '--fixture', fx, '--out', out,
                            '--qemu', QEMU], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
        if not t.check(r.returncode == 0, '%s: run_qemu32 succeeds: %s' % (name, r.stdout[-2000:])):
            continue
        with open(os.path.join(out, 'producer.json')) as f:
            producer = json.load(f)
        regs = check_core(name, out, truth, producer)
        for fmt in ('elf', 'kdump', 'savevm', 'raw'):
            if 'memory.' + fmt not in producer['files']:
                t.check(False, '%s: QEMU wrote no %s: %s' % (name, fmt, producer['formats_unavailable']))
                continue
            convert(name, work, out, truth, fmt, regs)
        t.done(work)
    t.finish()


if __name__ == '__main__':
    sys.exit(main())
