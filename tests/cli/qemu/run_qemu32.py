#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Make a REAL QEMU write dumps of a 32-bit fixture-factory guest (x86, PAE or not) with live registers.

    python3 tests/cli/qemu/run_qemu32.py --fixture DIR --out DIR2 [--stub PATH] [--formats elf,kdump,raw]
                                         [--qemu qemu-system-i386] [--timeout S] [--debug]

DIR: a fixture from `mkfixture.py --arch x86 --pae|--no-pae --identity-low --format raw`. Its RAM runs
are cut from memory.raw and loaded with `-device loader`; bootstub32.bin (bootstub32.S) is the BIOS and
puts every vCPU into 32-bit protected mode with the truth's CR0/CR3/CR4 (EFER.NXE for PAE), GDT, IDT,
selectors, GPRs, ESP and EFLAGS (IF cleared), parked on the fixture's `hlt` loop.

Output in DIR2: memory.elf (dump-guest-memory, EM_386), memory.kdump (kdump-zlib) when QEMU writes one
for this guest, memory.raw (pmemsave of [0, RAM)), memory.savevm (migration stream, `migrate exec:`), registers.txt, rom.bin, producer.json (QEMU version,
command line, files, formats QEMU refused, per-CPU registers QEMU reports, adjustments to the truth).
The stub writes no guest RAM. Standard library only; every wait is bounded.
"""

import argparse
import json
import os
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run_qemu import QMP, Fail, log, parse_info_registers   # noqa: E402

ROM_SIZE = 0x20000
HDR_OFF = 0xC000
MAGIC = b'R2DSTB32'
P_VALID, P_CR3, P_EFER, P_FLAGS, P_GDTR, P_IDTR = 0x00, 0x08, 0x14, 0x1C, 0x20, 0x28
P_DS, P_ESP, P_EFLAGS, P_JMP, P_GPR = 0x30, 0x38, 0x40, 0x44, 0x4C
GPRS = ('eax', 'ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp')
EFLAGS_IF = 1 << 9
EFER_NXE = 1 << 11
OUTPUT_NAMES = ('memory.elf', 'memory.kdump', 'memory.raw', 'memory.savevm', 'registers.txt', 'rom.bin', 'producer.json',
                'qemu-debug.log', 'qemu-stderr.txt')


def build_stub(explicit, workdir):
    if explicit:
        return explicit
    build_root = os.environ.get('R2D_BUILD_ROOT')
    cand = os.path.join(build_root, 'tests', 'cli', 'qemu', 'bootstub32.bin') if build_root else None
    if cand and os.path.exists(cand):
        return cand
    obj, elf, binp = (os.path.join(workdir, n) for n in ('bootstub32.o', 'bootstub32.elf', 'bootstub32.bin'))
    for cmd in (['as', '--32', '-o', obj, os.path.join(HERE, 'bootstub32.S')],
                ['ld', '-m', 'elf_i386', '-Ttext=0xE0000', '-o', elf, obj],
                ['objcopy', '-O', 'binary', '-j', '.text', elf, binp]):
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            raise Fail('building the stub failed: %s\n%s' % (' '.join(cmd), r.stdout.decode(errors='replace')))
    return binp


def plan_cpus(truth, adjustments):
    """Slot values per APIC ID: vCPU i (QEMU's CPU index = APIC ID = note order) takes truth.cpus[i]."""
    out = []
    target = truth['idt_handler_va']
    for i, c in enumerate(truth['cpus']):
        r = dict(c['regs'])
        if c.get('user_mode'):
            raise Fail('user-mode CPUs are not supported by the 32-bit stub')
        if r['eflags'] & EFLAGS_IF:
            r['eflags'] &= ~EFLAGS_IF
            adjustments.append('CPU %d: EFLAGS.IF cleared (0x%x): the hlt loop must never wake' % (i, r['eflags']))
        if r['eip'] != target:
            raise Fail('CPU %d: EIP 0x%x is not the hlt loop 0x%x' % (i, r['eip'], target))
        r['efer'] = EFER_NXE if truth['pae'] else 0
        out.append(r)
    adjustments.append('EIP of every CPU: the hlt loop at 0x%x; after hlt QEMU reports 0x%x' % (target, target + 1))
    if truth['pae']:
        adjustments.append('EFER.NXE set (PAE entries carry NX), EFER = 0x%x' % EFER_NXE)
    return out, target


def patch_rom(stub_path, cpus):
    rom = bytearray(open(stub_path, 'rb').read())
    if len(rom) != ROM_SIZE or rom[HDR_OFF:HDR_OFF + 8] != MAGIC:
        raise Fail('%s is not the R2DSTB32 stub ROM' % stub_path)
    _, _, _, max_cpus, slot_size, slots_off = struct.unpack_from('<8sIIIII', rom, HDR_OFF)
    if len(cpus) > max_cpus:
        raise Fail('%d CPUs; the stub supports %d' % (len(cpus), max_cpus))
    struct.pack_into('<I', rom, HDR_OFF + 12, len(cpus))
    for i, r in enumerate(cpus):
        o = slots_off + i * slot_size
        struct.pack_into('<IIIII', rom, o, 1, i, r['cr3'], r['cr0'], r['cr4'])
        struct.pack_into('<QI', rom, o + P_EFER, r['efer'], 4 if r['efer'] else 0)
        struct.pack_into('<HI', rom, o + P_GDTR, r['gdt_limit'], r['gdt_base'])
        struct.pack_into('<HI', rom, o + P_IDTR, r['idt_limit'], r['idt_base'])
        struct.pack_into('<HHHH', rom, o + P_DS, r['ds'], r['es'], r['fs'], r['gs'])
        struct.pack_into('<IH', rom, o + P_ESP, r['esp'], r['ss'])
        struct.pack_into('<I', rom, o + P_EFLAGS, r['eflags'])
        struct.pack_into('<IH', rom, o + P_JMP, r['eip'], r['cs'])
        struct.pack_into('<7I', rom, o + P_GPR, *[r[g] for g in GPRS])
    return bytes(rom)


def cut_chunks(fixture, truth, tmp):
    """The fixture's RAM runs as files for `-device loader` (memory.raw is padded over the holes)."""
    chunks = []
    with open(os.path.join(fixture, truth['formats']['raw']), 'rb') as f:
        for k, run in enumerate(truth['runs']):
            path = os.path.join(tmp, 'chunk%d.bin' % k)
            f.seek(run['pa'])
            with open(path, 'wb') as o:
                left = run['len']
                while left:
                    b = f.read(min(left, 1 << 22))
                    if not b:
                        raise Fail('memory.raw ends inside run %d' % k)
                    o.write(b)
                    left -= len(b)
            chunks.append((run['pa'], path))
    return chunks


def wait_parked(qmp, target, ncpus, timeout):
    deadline = time.time() + timeout
    while True:
        regs = parse_info_registers(qmp.hmp('info registers -a'))
        parked = [r for r in regs if not r['long_mode'] and target <= r.get('eip', -1) < target + 3
                  and r.get('hlt') == 1]
        if len(parked) == ncpus == len(regs):
            return
        if time.time() > deadline:
            raise Fail('not every vCPU reached the hlt loop at %#x within %gs: %s (rerun with --debug)' % (
                target, timeout, ', '.join('cpu %d EIP=%#x hlt=%s' % (r['cpu_index'], r.get('eip', 0), r.get('hlt'))
                                           for r in regs)))
        time.sleep(0.2)


def dumps(qmp, formats, out, mem_mib, produced, unavailable):
    if 'elf' in formats:
        p = os.path.join(out, 'memory.elf')
        qmp.cmd('dump-guest-memory', timeout=120, paging=False, protocol='file:' + p)
        produced['memory.elf'] = {'format': 'elf', 'size': os.path.getsize(p)}
    if 'kdump' in formats:
        p = os.path.join(out, 'memory.kdump')
        r = qmp.cmd('dump-guest-memory', timeout=120, check=False, paging=False, protocol='file:' + p,
                    format='kdump-zlib')
        if 'error' in r:
            unavailable['kdump-zlib'] = r['error'].get('desc')
            if os.path.exists(p) and os.path.getsize(p) == 0:
                os.unlink(p)
        else:
            produced['memory.kdump'] = {'format': 'kdump-zlib', 'size': os.path.getsize(p)}
    if 'raw' in formats:
        p = os.path.join(out, 'memory.raw')
        r = qmp.hmp('pmemsave 0 %d "%s"' % (mem_mib << 20, p), timeout=120)
        if r.strip():
            raise Fail('pmemsave: %s' % r.strip())
        produced['memory.raw'] = {'format': 'raw', 'size': os.path.getsize(p)}
    if 'savevm' in formats:
        p = os.path.join(out, 'memory.savevm')
        migrate(qmp, p)
        produced['memory.savevm'] = {'format': 'qemu-migration-stream', 'size': os.path.getsize(p)}


def migrate(qmp, path):
    """A migration stream into a file (what plain `virsh dump` writes), waited for until complete."""
    qmp.cmd('migrate', uri='exec:cat > %s' % shlex.quote(path))
    deadline = time.time() + 120
    while True:
        st = qmp.cmd('query-migrate')
        if st.get('status') == 'completed':
            break
        if st.get('status') in ('failed', 'cancelled') or time.time() > deadline:
            raise Fail('migration did not complete: %s' % st)
        time.sleep(0.1)
    for _ in range(100):                       # `cat` may still be flushing
        size = os.path.getsize(path)
        time.sleep(0.05)
        if size and os.path.getsize(path) == size:
            break


def run(a, formats, qemu_bin, out, tmp):
    with open(os.path.join(a.fixture, 'truth.json')) as f:
        truth = json.load(f)
    if truth.get('arch') != 'x86' or not truth.get('identity_low'):
        raise Fail('%s: need a 32-bit fixture made with --identity-low' % a.fixture)
    for name in OUTPUT_NAMES:
        if os.path.lexists(os.path.join(out, name)):
            os.unlink(os.path.join(out, name))
    adjustments = []
    cpus, target = plan_cpus(truth, adjustments)
    rom_path = os.path.join(out, 'rom.bin')
    with open(rom_path, 'wb') as f:
        f.write(patch_rom(build_stub(a.stub, tmp), cpus))
    mem_mib = truth['mem_mib']
    qmp_path = os.path.join(tmp, 'qmp.sock')
    cmd = [qemu_bin, '-machine', 'pc', '-accel', 'tcg', '-cpu', a.cpu, '-m', str(mem_mib), '-smp', str(len(cpus)),
           '-nographic', '-nodefaults', '-no-reboot', '-bios', rom_path, '-S',
           '-qmp', 'unix:%s,server=on,wait=off' % qmp_path]
    for base, path in cut_chunks(a.fixture, truth, tmp):
        cmd += ['-device', 'loader,file=%s,addr=%#x,force-raw=on' % (path, base)]
    if a.debug:
        cmd += ['-d', 'int,cpu_reset,guest_errors', '-D', os.path.join(out, 'qemu-debug.log')]
    log('starting: ' + ' '.join(shlex.quote(c) for c in cmd))
    errf = open(os.path.join(out, 'qemu-stderr.txt'), 'wb')
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=errf, stderr=errf)
    produced, unavailable = {}, {}
    try:
        qmp = QMP(qmp_path, time.time() + 30, proc)
        version = qmp.cmd('query-version')
        qmp.cmd('cont')
        wait_parked(qmp, target, len(cpus), a.timeout)
        qmp.cmd('stop')
        reg_text = qmp.hmp('info registers -a')
        with open(os.path.join(out, 'registers.txt'), 'w') as f:
            f.write(reg_text)
        dumps(qmp, formats, out, mem_mib, produced, unavailable)
        qmp.cmd('quit', check=False)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        errf.close()
    producer = {'producer': os.path.basename(qemu_bin), 'qemu_version': version, 'command_line': cmd,
                'cpu_model': a.cpu, 'mem_mib': mem_mib, 'ncpus': len(cpus), 'fixture': os.path.abspath(a.fixture),
                'hlt_loop_va': target, 'files': produced, 'formats_unavailable': unavailable,
                'cpus': parse_info_registers(reg_text), 'adjustments': adjustments}
    with open(os.path.join(out, 'producer.json'), 'w') as f:
        json.dump(producer, f, indent=1)
    log('done: %s in %s%s' % (', '.join(sorted(produced)), out,
                              (' (unavailable: %s)' % unavailable) if unavailable else ''))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--fixture', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--stub')
    ap.add_argument('--formats', default='elf,kdump,raw,savevm')
    ap.add_argument('--timeout', type=float, default=60.0)
    ap.add_argument('--qemu', default=os.environ.get('QEMU_SYSTEM_I386', 'qemu-system-i386'))
    ap.add_argument('--cpu', default='max')
    ap.add_argument('--debug', action='store_true')
    a = ap.parse_args()
    formats = [f for f in a.formats.split(',') if f]
    if set(formats) - {'elf', 'kdump', 'raw', 'savevm'}:
        log('formats: elf, kdump, raw, savevm')
        return 2
    qemu_bin = shutil.which(a.qemu)
    if not qemu_bin:
        log('%s is not installed' % a.qemu)
        return 3
    os.makedirs(a.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='r2d-qemu32-')
    try:
        return run(a, formats, qemu_bin, os.path.abspath(a.out), tmp)
    except (Fail, OSError, ValueError, KeyError) as e:
        log('FAILED: %s%s' % ('' if isinstance(e, Fail) else type(e).__name__ + ': ', e))
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
