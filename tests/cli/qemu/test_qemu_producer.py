#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A REAL qemu-system-x86_64 dumps a fixture-factory guest whose vCPUs sit in long mode.

For 2 and 4 vCPUs: build a fixture (tests/fixtures/mkfixture.py --layout qemu --identity-low),
run tests/cli/qemu/run_qemu.py on it, then check the files QEMU wrote with parsers written here
(independent of raw2dmp):
  * memory.elf: ELF64 core, EM_X86_64, 2*N notes (N CORE + N QEMU); each QEMUCPUState
    (matched to the truth CPU by note index = APIC ID) has the truth's CR3 (masked), GPRs, RSP,
    GS base, kernel GS base, IDT/GDT base and selectors, and RIP on the fixture's hlt loop;
    every fixture RAM page is byte-identical in the ELF (the stub writes no guest RAM).
  * memory.raw: 64 MiB, every fixture RAM page identical.
  * memory.kdump: QEMU's flattened makedumpfile stream; memory.savevm: a QEVM stream.
  * producer.json: QEMU's own view (HMP `info registers`, gdbstub) agrees with the truth.
Exit 77 only when qemu-system-x86_64 is not installed.

Manual use: test_qemu_producer.py [--fixture DIR --out DIR2]   (check one existing fixture)
"""

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get('R2D_SOURCE_ROOT') or os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD = os.environ.get('R2D_BUILD_ROOT')
ISF = os.path.join(SRC, 'tests', 'data', 'isf', '606FF669409B00F7FC8C61A9C1670129-1.json.xz')
FACTORY = os.path.join(SRC, 'tests', 'fixtures', 'mkfixture.py')
RUN_QEMU = os.path.join(SRC, 'tests', 'cli', 'qemu', 'run_qemu.py')
PAGE = 4096
CR3_MASK = 0x000FFFFFFFFFF000

failures = []


def fail(msg):
    failures.append(msg)
    print('FAIL: ' + msg, flush=True)


def note(msg):
    print(msg, flush=True)


# ---- ELF core parser (independent of raw2dmp) ----

class Elf:
    def __init__(self, path):
        self.f = open(path, 'rb')
        self.size = os.path.getsize(path)
        h = self.f.read(64)
        if h[:4] != b'\x7fELF':
            raise ValueError('not an ELF file')
        if h[4] != 2 or h[5] != 1:
            raise ValueError('not ELFCLASS64 little-endian (class %d data %d)' % (h[4], h[5]))
        (self.e_type, self.e_machine, _, _, self.e_phoff, _, _, _, self.e_phentsize,
         self.e_phnum) = struct.unpack_from('<HHIQQQIHHH', h, 16)
        if self.e_phentsize != 56 or self.e_phoff + 56 * self.e_phnum > self.size:
            raise ValueError('bad program header table')
        self.loads, self.notes = [], []
        for i in range(self.e_phnum):
            self.f.seek(self.e_phoff + 56 * i)
            p_type, _, off, _, paddr, filesz, memsz, _ = struct.unpack('<IIQQQQQQ', self.f.read(56))
            if p_type == 1:
                self.loads.append((paddr, filesz, off))
            elif p_type == 4:
                self.f.seek(off)
                self.notes += self._notes(self.f.read(filesz))
        self.loads.sort()

    @staticmethod
    def _notes(data):
        out, o = [], 0
        while o + 12 <= len(data):
            namesz, descsz, ntype = struct.unpack_from('<III', data, o)
            o += 12
            name = data[o:o + namesz].rstrip(b'\0').decode('latin-1')
            o += (namesz + 3) & ~3
            desc = data[o:o + descsz]
            o += (descsz + 3) & ~3
            out.append((name, ntype, desc))
        return out

    def read(self, pa, n):
        for base, filesz, off in self.loads:
            if base <= pa and pa + n <= base + filesz:
                self.f.seek(off + pa - base)
                return self.f.read(n)
        return None


def qemu_cpu_state(desc):
    q = lambda off: struct.unpack_from('<Q', desc, off)[0]
    size = struct.unpack_from('<I', desc, 4)[0]
    gpr_off = {'rax': 0x08, 'rbx': 0x10, 'rcx': 0x18, 'rdx': 0x20, 'rsi': 0x28, 'rdi': 0x30, 'rsp': 0x38,
               'rbp': 0x40}
    for i in range(8, 16):
        gpr_off['r%d' % i] = 0x48 + 8 * (i - 8)
    s = {k: q(v) for k, v in gpr_off.items()}
    s.update(version=struct.unpack_from('<I', desc, 0)[0], size=size, rip=q(0x88), rflags=q(0x90))
    for i, seg in enumerate(('cs', 'ds', 'es', 'fs', 'gs', 'ss', 'ldt', 'tr', 'gdt', 'idt')):
        o = 0x98 + 24 * i
        sel, limit = struct.unpack_from('<II', desc, o)
        s[seg] = sel
        s[seg + '_limit'] = limit
        s[seg + '_base'] = q(o + 16)
    s.update(cr0=q(0x188), cr3=q(0x1A0), cr4=q(0x1A8))
    s['kernel_gs_base'] = q(0x1B0) if size >= 0x1B8 and len(desc) >= 0x1B8 else None
    return s


# ---- checks ----

def fixture_pages(fixture):
    cdir = os.path.join(fixture, 'chunks')
    with open(os.path.join(cdir, 'chunks.json')) as f:
        for c in json.load(f):
            with open(os.path.join(cdir, c['file']), 'rb') as cf:
                pa = int(c['pa'])
                while True:
                    data = cf.read(1 << 20)
                    if not data:
                        break
                    for o in range(0, len(data), PAGE):
                        yield pa + o, data[o:o + PAGE]
                    pa += len(data)


def compare_pages(fixture, read, what):
    bad = []
    n = 0
    for pa, data in fixture_pages(fixture):
        n += 1
        got = read(pa, len(data))
        if got != data:
            bad.append(pa)
    if bad:
        fail('%s: %d of %d fixture pages differ or are missing, first at PA %s'
             % (what, len(bad), n, ', '.join('%#x' % p for p in bad[:8])))
    else:
        note('  %s: all %d fixture pages identical' % (what, n))


def check(fixture, out, ncpus_expected=None):
    with open(os.path.join(fixture, 'truth.json')) as f:
        truth = json.load(f)
    with open(os.path.join(out, 'producer.json')) as f:
        producer = json.load(f)
    cpus = truth['cpus']
    n = len(cpus)
    if ncpus_expected is not None and n != ncpus_expected:
        fail('truth has %d CPUs, asked the factory for %d' % (n, ncpus_expected))
    hlt = truth['idt_handler_va']
    adjusted = ' '.join(producer.get('adjustments', []))
    for w in producer.get('warnings', []):
        note('  producer warning: ' + w)
    for adj in producer.get('adjustments', []):
        note('  producer adjustment: ' + adj)

    elf = Elf(os.path.join(out, 'memory.elf'))
    if elf.e_type != 4:
        fail('ELF e_type %d, expected ET_CORE' % elf.e_type)
    if elf.e_machine != 62:
        fail('ELF e_machine %d, expected EM_X86_64 (62): CPU 0 not in long mode?' % elf.e_machine)
    core = [d for name, t, d in elf.notes if name == 'CORE' and t == 1]
    qemu = [d for name, t, d in elf.notes if name == 'QEMU']
    if len(core) != n or len(qemu) != n or len(elf.notes) != 2 * n:
        fail('ELF notes: %d in all, %d CORE, %d QEMU; expected %d + %d'
             % (len(elf.notes), len(core), len(qemu), n, n))
    for c in cpus:
        idx = c.get('note_index', cpus.index(c))
        r = c['regs']
        if idx >= len(qemu):
            continue
        s = qemu_cpu_state(qemu[idx])
        where = 'cpu %d (QEMU note %d)' % (c.get('processor', idx), idx)
        if s['version'] != 1 or s['size'] < 0x1B8:
            fail('%s: QEMUCPUState version %d size %#x' % (where, s['version'], s['size']))
        if s['cr3'] & CR3_MASK != r['cr3'] & CR3_MASK:
            fail('%s: CR3 %#x, truth %#x' % (where, s['cr3'], r['cr3']))
        if not hlt <= s['rip'] < hlt + 3:
            fail('%s: RIP %#x not on the hlt loop at %#x' % (where, s['rip'], hlt))
        for k in ('gs_base', 'kernel_gs_base', 'idt_base', 'gdt_base', 'fs_base', 'rsp',
                  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13',
                  'r14', 'r15'):
            if k in r and s[k] != r[k]:
                fail('%s: %s %#x, truth %#x' % (where, k, s[k], r[k]))
        for k in ('idt_limit', 'gdt_limit'):
            if k in r and s[k] != r[k]:
                fail('%s: %s %#x, truth %#x' % (where, k, s[k], r[k]))
        for k in ('cs', 'ss', 'ds', 'es', 'fs', 'gs'):
            if k in r and s[k] != r[k]:
                msg = '%s: %s %#x, truth %#x' % (where, k.upper(), s[k], r[k])
                if '%s: %s ' % ('cpu %d' % idx, k.upper()) in adjusted:
                    note('  (documented adjustment) ' + msg)
                else:
                    fail(msg)
        if 'cr4' in r and s['cr4'] != r['cr4']:
            note('  %s: CR4 %#x, truth %#x (see producer adjustments)' % (where, s['cr4'], r['cr4']))
        # CORE note: pr_pid = cpu index + 1, rip in user_regs_struct
        if idx < len(core):
            d = core[idx]
            if struct.unpack_from('<I', d, 0x20)[0] != idx + 1:
                fail('%s: PRSTATUS pr_pid %d' % (where, struct.unpack_from('<I', d, 0x20)[0]))
            if struct.unpack_from('<Q', d, 0x70 + 16 * 8)[0] != s['rip']:
                fail('%s: PRSTATUS rip differs from QEMUCPUState rip' % where)
        # QEMU's own view: HMP info registers + gdbstub
        pc = [p for p in producer['cpus'] if p['cpu_index'] == idx]
        if not pc:
            fail('%s: missing from producer.json' % where)
            continue
        pc = pc[0]
        for k, v in (('cr3', r['cr3']), ('gs_base', r['gs_base']), ('kernel_gs_base', r.get('kernel_gs_base')),
                     ('idt_base', r['idt_base'])):
            if v is not None and (pc.get(k) or 0) & (CR3_MASK if k == 'cr3' else ~0) != v & (CR3_MASK if k == 'cr3' else ~0):
                fail('%s: QEMU reports %s %s, truth %#x' % (where, k, pc.get(k), v))
        if not pc.get('halted') or not hlt <= (pc.get('rip') or 0) < hlt + 3:
            fail('%s: QEMU reports rip %s halted %s' % (where, pc.get('rip'), pc.get('halted')))
    note('  ELF: %d PT_LOADs %s' % (len(elf.loads), ', '.join('[%#x, %#x)' % (b, b + s) for b, s, _ in elf.loads)))
    compare_pages(fixture, elf.read, 'memory.elf')

    raw_path = os.path.join(out, 'memory.raw')
    if os.path.getsize(raw_path) != producer['mem_mib'] << 20:
        fail('memory.raw is %d bytes, expected %d' % (os.path.getsize(raw_path), producer['mem_mib'] << 20))
    with open(raw_path, 'rb') as rf:
        def raw_read(pa, k):
            rf.seek(pa)
            return rf.read(k)
        compare_pages(fixture, raw_read, 'memory.raw')

    with open(os.path.join(out, 'memory.kdump'), 'rb') as f:
        if f.read(16) != b'makedumpfile\0\0\0\0':
            fail('memory.kdump does not start with the flattened-format signature')
    with open(os.path.join(out, 'memory.savevm'), 'rb') as f:
        if f.read(8) != b'QEVM\0\0\0\x03':
            fail('memory.savevm does not start with QEVM version 3')
    for fmt in ('kdump-lzo', 'kdump-snappy'):
        if fmt in producer.get('formats_unavailable', {}):
            note('  %s: %s' % (fmt, producer['formats_unavailable'][fmt]))


def run(cmd, what, timeout):
    note('$ ' + ' '.join(cmd))
    t = time.time()
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired:
        fail('%s timed out after %ds' % (what, timeout))
        return False
    out = r.stdout.decode(errors='replace')
    if r.returncode != 0:
        fail('%s exited with %d:\n%s' % (what, r.returncode, out))
        return False
    note('  %s took %.1fs' % (what, time.time() - t))
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--fixture', help='check this existing fixture instead of building 2- and 4-CPU ones')
    ap.add_argument('--out', help='with --fixture: an existing run_qemu.py output directory')
    a = ap.parse_args()
    if not shutil.which('qemu-system-x86_64'):
        print('SKIP: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)')
        return 77
    if a.fixture and a.out:
        check(a.fixture, a.out)
        return 1 if failures else 0

    stub = []
    if BUILD and os.path.exists(os.path.join(BUILD, 'tests', 'cli', 'qemu', 'bootstub.bin')):
        stub = ['--stub', os.path.join(BUILD, 'tests', 'cli', 'qemu', 'bootstub.bin')]
    if not os.path.exists(FACTORY):
        fail('the fixture factory %s does not exist' % FACTORY)
        return 1
    tmp = tempfile.mkdtemp(prefix='r2d-qemu-test-')
    try:
        for n in (2, 4):
            note('== %d vCPUs' % n)
            fx = os.path.join(tmp, 'fixture-%d' % n)
            qo = os.path.join(tmp, 'qemu-%d' % n)
            if not run([sys.executable, FACTORY, '--isf', ISF, '--out', fx, '--layout', 'qemu', '--identity-low',
                        '--cpus', str(n), '--mem-mib', '64', '--format', 'elf,raw'], 'mkfixture.py', 300):
                continue
            if not run([sys.executable, RUN_QEMU, '--fixture', fx, '--out', qo, '--timeout', '60'] + stub,
                       'run_qemu.py', 240):
                continue
            check(fx, qo, n)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print('%d failure(s)' % len(failures))
        return 1
    print('OK')
    return 0


if __name__ == '__main__':
    sys.exit(main())
