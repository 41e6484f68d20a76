#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Make a REAL qemu-system-x86_64 write dumps of a fixture-factory guest with live x64 registers.

    python3 tests/cli/qemu/run_qemu.py --fixture DIR --out DIR2 [--stub PATH]
                                   [--formats elf,kdump,raw,savevm] [--timeout S] [--debug]

DIR is a fixture from tests/fixtures/mkfixture.py (--layout qemu --identity-low): DIR/truth.json and
DIR/chunks/chunks.json. The fixture's RAM is loaded with `-device loader`; bootstub.bin (this
directory) is the BIOS and puts every vCPU into long mode with the truth's CR3, GDT, IDT, selectors,
FS/GS/kernel-GS bases, GPRs, RSP and RFLAGS (IF cleared), parked on the fixture's `hlt` loop.

Output in DIR2:
    memory.elf            dump-guest-memory (paging off)
    memory.kdump          dump-guest-memory format kdump-zlib (QEMU's flattened kdump stream)
    memory.kdump-lzo/-snappy   only if this QEMU supports them (Debian's 7.2 does not)
    memory.raw            HMP pmemsave of [0, RAM size): a padded raw image
    memory.savevm         migration stream (migrate "exec:cat > FILE")
    registers.txt         HMP `info registers -a` after the guest was stopped
    rom.bin               the patched stub ROM that was used
    producer.json         QEMU version, command line, files, per-CPU registers seen by QEMU
                          (HMP and gdbstub), adjustments made to the truth, warnings

The stub writes no guest RAM (APs check in through IPIs), so every fixture RAM page must come
out unchanged unless the CPU itself sets Accessed bits (warned about below).
Only the Python standard library is used. Every wait is bounded; on failure QEMU is killed and the
program exits non-zero with a message on stderr.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- stub ROM layout (must match bootstub.S) ----
ROM_SIZE = 0x20000
ROM_BASE = 0xE0000
HDR_OFF = 0xC000
MAGIC = b'R2DSTUB1'
P_VALID, P_APICID, P_CR3, P_CR0, P_CR4 = 0x00, 0x04, 0x08, 0x10, 0x18
P_GDTR, P_IDTR = 0x20, 0x30
P_FS_BASE, P_GS_BASE, P_KGS_BASE = 0x40, 0x48, 0x50
P_DS, P_ES, P_FS, P_GS = 0x58, 0x5A, 0x5C, 0x5E
P_FLAGS, P_IRET, P_GPR, P_EFER = 0x60, 0x68, 0x90, 0x108
GPR_ORDER = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp',
             'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15']
EFER_VALUE = 0xD01          # SCE | LME | LMA | NXE, what Windows x64 runs with

CR0_PE, CR0_PG = 1, 1 << 31
CR4_PAE, CR4_PCIDE, CR4_LA57, CR4_SMEP, CR4_SMAP = 1 << 5, 1 << 17, 1 << 12, 1 << 20, 1 << 21
# CR4 bits TCG accepts with `-cpu max` in QEMU 7.2 (checked here: a fixture CR4 of 0x350ef8 loads):
# VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT UMIP FSGSBASE PCIDE OSXSAVE SMEP SMAP PKE.
# Never LA57 (cannot change in long mode), VMXE/SMXE (no such features under TCG).
CR4_ALLOWED = {
    'max': 0x7FF | (1 << 11) | (1 << 16) | (1 << 17) | (1 << 18) | (1 << 20) | (1 << 21) | (1 << 22),
    'qemu64': 0x7FF,
}
RFLAGS_IF = 1 << 9
OUTPUT_NAMES = ('memory.elf', 'memory.kdump', 'memory.kdump-lzo', 'memory.kdump-snappy', 'memory.raw',
                'memory.savevm', 'registers.txt', 'rom.bin', 'producer.json', 'qemu-debug.log', 'qemu-stderr.txt')


class Fail(Exception):
    pass


def log(msg):
    print('run_qemu: ' + msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------
# fixture memory (for checking the page-table paths and GDT descriptors the stub will use)

class FixtureMemory:
    def __init__(self, fixture_dir):
        cdir = os.path.join(fixture_dir, 'chunks')
        with open(os.path.join(cdir, 'chunks.json')) as f:
            chunks = json.load(f)
        self.chunks = []
        for c in chunks:
            path = os.path.join(cdir, c['file'])
            size = os.path.getsize(path)
            if size != c['len']:
                raise Fail('%s: %d bytes, chunks.json says %d' % (path, size, c['len']))
            self.chunks.append((int(c['pa']), int(c['len']), path))
        self.chunks.sort()
        self._files = {}

    def read(self, pa, n):
        for base, length, path in self.chunks:
            if base <= pa and pa + n <= base + length:
                f = self._files.get(path)
                if f is None:
                    f = self._files[path] = open(path, 'rb')
                f.seek(pa - base)
                return f.read(n)
        return None

    def q(self, pa):
        b = self.read(pa, 8)
        return None if b is None else struct.unpack('<Q', b)[0]

    def end(self):
        return max(b + n for b, n, _ in self.chunks)

    def walk(self, cr3, va, la57=False):
        """4-level walk. Returns (pa or None, [(level, entry_pa, entry)], problem or None)."""
        path = []
        table = cr3 & 0x000FFFFFFFFFF000
        levels = [(39, 'PML4E'), (30, 'PDPTE'), (21, 'PDE'), (12, 'PTE')]
        if la57:
            levels.insert(0, (48, 'PML5E'))
        for shift, name in levels:
            epa = table + ((va >> shift) & 511) * 8
            e = self.q(epa)
            if e is None:
                return None, path, '%s at PA %#x is not in fixture RAM' % (name, epa)
            path.append((name, epa, e))
            if not e & 1:
                return None, path, '%s at PA %#x = %#x is not present' % (name, epa, e)
            if shift in (30, 21) and e & 0x80:
                mask = (1 << shift) - 1
                return (e & 0x000FFFFFFFFFF000 & ~mask) | (va & mask), path, None
            table = e & 0x000FFFFFFFFFF000
        return table | (va & 0xFFF), path, None


def check_path(mem, cr3, va, what, need_exec, supervisor_only, warnings, la57=False):
    pa, path, problem = mem.walk(cr3, va, la57)
    if problem:
        raise Fail('%s: VA %#x does not translate under CR3 %#x: %s' % (what, va, cr3, problem))
    for name, epa, e in path:
        if need_exec and e >> 63:
            raise Fail('%s: VA %#x: %s at PA %#x = %#x has NX set; the page must be executable'
                       % (what, va, name, epa, e))
        if supervisor_only and e & 4:
            warnings.append('%s: VA %#x: %s at PA %#x = %#x is a user (U/S=1) entry while CR4 has '
                            'SMEP/SMAP; SMEP/SMAP were dropped from CR4' % (what, va, name, epa, e))
            return pa, True
        if not e & 0x20 and not any(' at PA %#x ' % epa in w for w in warnings):
            warnings.append('%s: VA %#x: %s at PA %#x = %#x has Accessed clear: the CPU will set it, '
                            'so that page-table page will differ from the fixture' % (what, va, name, epa, e))
    return pa, False


def descriptor(mem, cr3, gdt_base, gdt_limit, sel):
    idx = sel & ~7
    if sel & 4:
        return None, 'selector %#x refers to the LDT' % sel
    if idx + 7 > gdt_limit:
        return None, 'selector %#x is beyond the GDT limit %#x' % (sel, gdt_limit)
    pa, _, problem = mem.walk(cr3, gdt_base + idx)
    if problem:
        return None, 'GDT entry for %#x: %s' % (sel, problem)
    d = mem.q(pa)
    if d is None:
        return None, 'GDT entry for %#x at PA %#x is not in fixture RAM' % (sel, pa)
    return d, None


def check_selector(mem, cr3, gdt_base, gdt_limit, sel, kind):
    """kind: 'code64', 'stack', 'data'. Returns (ok, message, descriptor)."""
    if sel & ~3 == 0:
        return True, None, 0
    d, problem = descriptor(mem, cr3, gdt_base, gdt_limit, sel)
    if problem:
        return False, problem, None
    access = (d >> 40) & 0xFF
    flags = (d >> 52) & 0xF
    present, dpl, s, typ = access >> 7, (access >> 5) & 3, (access >> 4) & 1, access & 0xF
    rpl = sel & 3
    if not present or not s:
        return False, 'descriptor %#018x for %#x is not a present code/data descriptor' % (d, sel), d
    if kind == 'code64':
        if not typ & 8 or not flags & 2 or flags & 4 or dpl != 0:
            return False, ('descriptor %#018x for CS %#x is not a DPL0 64-bit code descriptor (L=1, D=0); '
                           'expected e.g. 0x00209B0000000000' % (d, sel)), d
    elif kind == 'stack':
        if typ & 8 or not typ & 2 or dpl != rpl:
            return False, ('descriptor %#018x for SS %#x is not a writable data descriptor with DPL=RPL; '
                           'expected e.g. 0x00CF93000000FFFF' % (d, sel)), d
    else:
        if (typ & 8 and not typ & 2) or dpl < rpl:
            return False, ('descriptor %#018x for data selector %#x is not readable or has DPL < RPL %d; '
                           'expected e.g. 0x00CFF3000000FFFF' % (d, sel, rpl)), d
    if not typ & 1:
        return True, 'descriptor %#018x for %#x has Accessed clear: the CPU will set it, so the GDT page will differ' % (d, sel), d
    return True, None, d


# ------------------------------------------------------------------------------------------------
# stub ROM

def find_or_build_stub(explicit, workdir):
    if explicit:
        if not os.path.exists(explicit):
            raise Fail('stub %s does not exist' % explicit)
        return explicit
    build_root = os.environ.get('R2D_BUILD_ROOT')
    if build_root:
        cand = os.path.join(build_root, 'tests', 'cli', 'qemu', 'bootstub.bin')
        if os.path.exists(cand):
            return cand
    src = os.path.join(HERE, 'bootstub.S')
    obj, elf, binp = (os.path.join(workdir, n) for n in ('bootstub.o', 'bootstub.elf', 'bootstub.bin'))
    for cmd in (['as', '--64', '-o', obj, src],
                ['ld', '-m', 'elf_x86_64', '-Ttext=0xE0000', '-o', elf, obj],
                ['objcopy', '-O', 'binary', '-j', '.text', elf, binp]):
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            raise Fail('building the stub failed: %s\n%s' % (' '.join(cmd), r.stdout.decode(errors='replace')))
    return binp


def u16(v):
    return v & 0xFFFF


def plan_cpus(truth, mem, cpu_model, warnings, adjustments):
    """Per-CPU slot values, checked against the fixture. Returns list of (apic_id, values)."""
    cpus = truth.get('cpus') or []
    if not cpus:
        raise Fail('truth.json has no "cpus"')
    target = truth.get('idt_handler_va')
    out = []
    seen = set()
    for pos, c in enumerate(cpus):
        apic = c.get('note_index', pos)
        if apic in seen:
            raise Fail('two truth CPUs with note_index %d' % apic)
        seen.add(apic)
        r = c['regs']
        name = 'cpu %d' % apic
        v = {}
        cr3 = r['cr3']
        cr4_truth = r.get('cr4', CR4_PAE)
        cr4 = (cr4_truth | CR4_PAE) & CR4_ALLOWED[cpu_model]
        cr0_truth = r.get('cr0', 0x80050033)
        cr0 = cr0_truth | CR0_PE | CR0_PG
        rip = r.get('rip', target)
        if target is None:
            target = rip
        if rip != target:
            adjustments.append('%s: RIP %#x replaced by idt_handler_va %#x (the hlt loop)' % (name, rip, target))
            rip = target

        # paths the stub uses after `mov cr3`: its own code/slots in the ROM alias, the hlt loop
        need_sup = bool(cr4 & (CR4_SMEP | CR4_SMAP))
        dropped_smep = False
        for va in range(0xE0000, 0x100000, 0x1000):
            pa, user = check_path(mem, cr3, va, '%s identity map (stub ROM alias)' % name, True, need_sup, warnings)
            if pa != va:
                raise Fail('%s: VA %#x maps to PA %#x under CR3 %#x; the fixture must identity-map '
                           'VA [0, 2 MiB) onto PA [0, 2 MiB) (--identity-low)' % (name, va, pa, cr3))
            if user:
                dropped_smep = True
                break
        pa, user = check_path(mem, cr3, rip, '%s hlt loop' % name, True, need_sup, warnings)
        dropped_smep = dropped_smep or user
        if dropped_smep:
            cr4 &= ~(CR4_SMEP | CR4_SMAP)
        code = mem.read(pa, 3)
        if code != b'\xf4\xeb\xfd':
            raise Fail('%s: bytes at RIP %#x (PA %#x) are %s, expected F4 EB FD (hlt; jmp $-3)'
                       % (name, rip, pa, code.hex() if code else 'absent'))
        if cr4 != cr4_truth:
            adjustments.append('%s: CR4 %#x loaded as %#x (bits this QEMU/-cpu %s cannot take, or PAE forced)'
                               % (name, cr4_truth, cr4, cpu_model))
        if cr0 != cr0_truth:
            adjustments.append('%s: CR0 %#x loaded as %#x (PE|PG forced)' % (name, cr0_truth, cr0))
        if cr3 >> 63 and not cr4 & CR4_PCIDE:
            adjustments.append('%s: CR3 bit 63 cleared (no PCIDE)' % name)
            cr3 &= ~(1 << 63)

        gdt_base, gdt_limit = r['gdt_base'], r['gdt_limit']
        sels = {}
        for reg, kind in (('cs', 'code64'), ('ss', 'stack'), ('ds', 'data'), ('es', 'data'),
                          ('fs', 'data'), ('gs', 'data')):
            sel = r.get(reg, {'cs': 0x10, 'ss': 0x18}.get(reg, 0))
            ok, msg, _ = check_selector(mem, cr3, gdt_base, gdt_limit, sel, kind)
            if not ok:
                if reg == 'cs':
                    raise Fail('%s: CS %#x cannot be loaded from the fixture GDT at %#x: %s' % (name, sel, gdt_base, msg))
                adjustments.append('%s: %s %#x replaced by the null selector: %s' % (name, reg.upper(), sel, msg))
                sel = 0
            elif msg:
                warnings.append('%s: %s' % (name, msg))
            sels[reg] = sel

        rflags = r.get('rflags', 0x2)
        if rflags & RFLAGS_IF:
            adjustments.append('%s: RFLAGS %#x loaded as %#x (IF cleared so hlt never wakes)'
                               % (name, rflags, (rflags & ~RFLAGS_IF) | 2))
        rflags = (rflags & ~RFLAGS_IF & ~(1 << 8) & 0x3C7FD7) | 2   # no IF/TF/VM/RF; reserved bit 1 set

        v.update(apic=apic, cr3=cr3, cr0=cr0, cr4=cr4, efer=EFER_VALUE,
                 gdt_base=gdt_base, gdt_limit=gdt_limit, idt_base=r['idt_base'], idt_limit=r['idt_limit'],
                 fs_base=r.get('fs_base', 0), gs_base=r['gs_base'], kernel_gs_base=r.get('kernel_gs_base', 0),
                 rip=rip, rsp=r['rsp'], rflags=rflags, sels=sels,
                 gprs=[r.get(g, 0) for g in GPR_ORDER])
        out.append(v)
    return sorted(out, key=lambda v: v['apic']), target


def patch_rom(stub_path, cpus):
    rom = bytearray(open(stub_path, 'rb').read())
    if len(rom) != ROM_SIZE or rom[HDR_OFF:HDR_OFF + 8] != MAGIC:
        raise Fail('%s is not the R2DSTUB1 stub ROM (size %d)' % (stub_path, len(rom)))
    _, _, _, max_cpus, slot_size, slots_off = struct.unpack_from('<8sIIIII', rom, HDR_OFF)
    ncpus = max(c['apic'] for c in cpus) + 1
    if ncpus > max_cpus:
        raise Fail('%d CPUs; the stub supports %d' % (ncpus, max_cpus))
    struct.pack_into('<I', rom, HDR_OFF + 12, ncpus)
    for c in cpus:
        o = slots_off + c['apic'] * slot_size
        struct.pack_into('<II', rom, o + P_VALID, 1, c['apic'])
        struct.pack_into('<QQQ', rom, o + P_CR3, c['cr3'], c['cr0'], c['cr4'])
        struct.pack_into('<HQ', rom, o + P_GDTR, u16(c['gdt_limit']), c['gdt_base'])
        struct.pack_into('<HQ', rom, o + P_IDTR, u16(c['idt_limit']), c['idt_base'])
        struct.pack_into('<QQQ', rom, o + P_FS_BASE, c['fs_base'], c['gs_base'], c['kernel_gs_base'])
        s = c['sels']
        struct.pack_into('<HHHH', rom, o + P_DS, s['ds'], s['es'], s['fs'], s['gs'])
        struct.pack_into('<Q', rom, o + P_FLAGS, 1 | 2 | 4)
        struct.pack_into('<QQQQQ', rom, o + P_IRET, c['rip'], s['cs'], c['rflags'], c['rsp'], s['ss'])
        struct.pack_into('<15Q', rom, o + P_GPR, *[g & 0xFFFFFFFFFFFFFFFF for g in c['gprs']])
        struct.pack_into('<Q', rom, o + P_EFER, c['efer'])
    return bytes(rom), ncpus


# ------------------------------------------------------------------------------------------------
# QMP and gdbstub clients

class QMP:
    def __init__(self, path, deadline, proc):
        self.proc = proc
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(1.0)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if proc.poll() is not None:
                    raise Fail('QEMU exited (status %s) before its QMP socket opened' % proc.returncode)
                if time.time() > deadline:
                    raise Fail('QMP socket %s did not open in time' % path)
                time.sleep(0.05)
        self.buf = b''
        self.events = []
        greeting = self._read(deadline)
        if 'QMP' not in greeting:
            raise Fail('unexpected QMP greeting %r' % greeting)
        self.greeting = greeting
        self.cmd('qmp_capabilities', timeout=10)

    def exit_reason(self):
        try:
            status = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return 'QEMU is still running'
        return ('QEMU exited with status %s (with -no-reboot a triple fault ends QEMU: a vCPU faulted in the '
                'stub; rerun with --debug and read qemu-debug.log)' % status)

    def _read(self, deadline):
        while b'\n' not in self.buf:
            if time.time() > deadline:
                raise Fail('timed out waiting for QMP')
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                if self.proc.poll() is not None:
                    raise Fail(self.exit_reason())
                continue
            if not data:
                raise Fail('QMP connection closed; ' + self.exit_reason())
            self.buf += data
        line, self.buf = self.buf.split(b'\n', 1)
        return json.loads(line)

    def cmd(self, name, timeout=30, check=True, **args):
        msg = {'execute': name}
        if args:
            msg['arguments'] = args
        try:
            self.sock.sendall(json.dumps(msg).encode() + b'\n')
        except OSError as e:
            raise Fail('QMP %s: %s; %s' % (name, e, self.exit_reason()))
        deadline = time.time() + timeout
        while True:
            r = self._read(deadline)
            if 'event' in r:
                self.events.append(r)
                continue
            if 'error' in r:
                if check:
                    raise Fail('QMP %s failed: %s' % (name, r['error'].get('desc', r['error'])))
                return r
            return r['return'] if check else r

    def hmp(self, line, timeout=30):
        return self.cmd('human-monitor-command', timeout=timeout, **{'command-line': line})


class GDBStub:
    """Just enough of the GDB remote protocol to read named registers of every vCPU."""

    def __init__(self, path, deadline):
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(5.0)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.time() > deadline:
                    raise Fail('gdbstub socket did not open')
                time.sleep(0.05)
        self.buf = b''

    def _getc(self):
        if not self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise Fail('gdbstub closed the connection')
            self.buf = data
        c, self.buf = self.buf[:1], self.buf[1:]
        return c

    def request(self, payload):
        body = payload.encode()
        pkt = b'$' + body + b'#' + ('%02x' % (sum(body) & 0xFF)).encode()
        self.sock.sendall(pkt)
        while True:
            c = self._getc()
            if c == b'$':
                break
        data = b''
        while True:
            c = self._getc()
            if c == b'#':
                break
            data += c
        self._getc()
        self._getc()
        self.sock.sendall(b'+')
        # run-length decoding ("x*n")
        out = bytearray()
        i = 0
        while i < len(data):
            if data[i:i + 1] == b'*' and out:
                out += out[-1:] * (data[i + 1] - 29)
                i += 2
            else:
                out += data[i:i + 1]
                i += 1
        return out.decode('latin-1')

    def xfer(self, annex):
        text, off = '', 0
        while True:
            r = self.request('qXfer:features:read:%s:%x,%x' % (annex, off, 0x3000))
            if not r or r[0] not in 'ml':
                raise Fail('gdbstub: cannot read %s: %r' % (annex, r))
            text += r[1:]
            off += len(r) - 1
            if r[0] == 'l':
                return text

    def registers(self):
        """{register name: regnum} from the target description."""
        target = self.xfer('target.xml')
        names = []
        docs = [target]
        for inc in re.findall(r'<xi:include href="([^"]+)"', target):
            docs.append(self.xfer(inc))
        regnum = 0
        regs = {}
        for doc in docs:
            doc = re.sub(r'<!--.*?-->', '', doc, flags=re.S)
            for m in re.finditer(r'<reg ([^>]*)/?>', doc):
                attrs = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
                if 'regnum' in attrs:
                    regnum = int(attrs['regnum'])
                regs[attrs['name']] = (regnum, int(attrs['bitsize']))
                names.append(attrs['name'])
                regnum += 1
        return regs

    def threads(self):
        out = []
        r = self.request('qfThreadInfo')
        while r.startswith('m'):
            out += r[1:].split(',')
            r = self.request('qsThreadInfo')
        return out

    def read(self, tid, regnum):
        if self.request('Hg' + tid) != 'OK':
            raise Fail('gdbstub: cannot select thread %s' % tid)
        r = self.request('p%x' % regnum)
        if not r or r.startswith('E'):
            return None
        return int.from_bytes(bytes.fromhex(r), 'little')


# ------------------------------------------------------------------------------------------------
# `info registers -a` parsing

def parse_info_registers(text):
    cpus = []
    for block in re.split(r'^CPU#', text, flags=re.M)[1:]:
        idx = int(block.split('\n', 1)[0].strip().split()[0])
        d = {'cpu_index': idx}
        for key, val in re.findall(r'\b(RIP|EIP|RSP|ESP|RFL|EFL|CR0|CR2|CR3|CR4|EFER|RAX|RBX|RCX|RDX|RSI|RDI|RBP|'
                                   r'R8 |R9 |R10|R11|R12|R13|R14|R15|HLT|CPL)=([0-9a-fA-F]+)', block):
            d[key.strip().lower()] = int(val, 16)
        for seg in ('ES', 'CS', 'SS', 'DS', 'FS', 'GS', 'LDT', 'TR'):
            m = re.search(r'^%s\s*=([0-9a-f]{4}) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)' % seg, block, re.M)
            if m:
                d[seg.lower()] = int(m.group(1), 16)
                d[seg.lower() + '_base'] = int(m.group(2), 16)
        for tab in ('GDT', 'IDT'):
            m = re.search(r'^%s=\s+([0-9a-f]+) ([0-9a-f]+)' % tab, block, re.M)
            if m:
                d[tab.lower() + '_base'] = int(m.group(1), 16)
                d[tab.lower() + '_limit'] = int(m.group(2), 16)
        d['long_mode'] = 'RIP=' in block
        cpus.append(d)
    return cpus


# ------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--fixture', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--stub', help='bootstub.bin (default: $R2D_BUILD_ROOT/tests/cli/qemu/bootstub.bin, else built here)')
    ap.add_argument('--formats', default='elf,kdump,raw,savevm')
    ap.add_argument('--timeout', type=float, default=60.0, help='seconds for the guest to reach its hlt loops')
    ap.add_argument('--qemu', default=os.environ.get('QEMU_SYSTEM_X86_64', 'qemu-system-x86_64'))
    ap.add_argument('--cpu', default='max', choices=sorted(CR4_ALLOWED), help='QEMU -cpu model')
    ap.add_argument('--mem-mib', type=int, help='guest RAM (default: truth.json mem_mib, else from the chunks)')
    ap.add_argument('--debug', action='store_true', help='QEMU -d int,cpu_reset,guest_errors into OUT/qemu-debug.log')
    a = ap.parse_args()
    formats = [f for f in a.formats.split(',') if f]
    bad = set(formats) - {'elf', 'kdump', 'raw', 'savevm'}
    if bad:
        log('unknown format(s): %s' % ', '.join(sorted(bad)))
        return 2
    qemu_bin = shutil.which(a.qemu)
    if not qemu_bin:
        log('%s is not installed' % a.qemu)
        return 3
    os.makedirs(a.out, exist_ok=True)
    out = os.path.abspath(a.out)
    tmp = tempfile.mkdtemp(prefix='r2d-qemu-')
    try:
        return run(a, formats, qemu_bin, out, tmp)
    except (Fail, OSError, ValueError, KeyError) as e:
        log('FAILED: %s%s' % ('' if isinstance(e, Fail) else type(e).__name__ + ': ', e))
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(a, formats, qemu_bin, out, tmp):
    with open(os.path.join(a.fixture, 'truth.json')) as f:
        truth = json.load(f)
    mem = FixtureMemory(a.fixture)
    mem_mib = a.mem_mib or truth.get('mem_mib') or -(-mem.end() // (1 << 20))
    # QEMU creates its dump files with mode 0400: remove old ones first, or a rerun could not open them
    for name in OUTPUT_NAMES:
        p = os.path.join(out, name)
        if os.path.lexists(p):
            os.unlink(p)
    warnings, adjustments = [], []
    cpus, target = plan_cpus(truth, mem, a.cpu, warnings, adjustments)
    stub = find_or_build_stub(a.stub, tmp)
    rom, ncpus = patch_rom(stub, cpus)
    rom_path = os.path.join(out, 'rom.bin')
    with open(rom_path, 'wb') as f:
        f.write(rom)
    for w in warnings:
        log('warning: ' + w)
    for adj in adjustments:
        log('adjusted: ' + adj)

    qmp_path = os.path.join(tmp, 'qmp.sock')
    gdb_path = os.path.join(tmp, 'gdb.sock')
    cmd = [qemu_bin, '-machine', 'pc', '-accel', 'tcg', '-cpu', a.cpu, '-m', str(mem_mib),
           '-smp', str(ncpus), '-nographic', '-nodefaults', '-no-reboot', '-bios', rom_path, '-S',
           '-qmp', 'unix:%s,server=on,wait=off' % qmp_path,
           '-gdb', 'unix:%s,server=on,wait=off' % gdb_path]
    for base, length, path in mem.chunks:
        cmd += ['-device', 'loader,file=%s,addr=%#x,force-raw=on' % (os.path.abspath(path), base)]
    if a.debug:
        cmd += ['-d', 'int,cpu_reset,guest_errors', '-D', os.path.join(out, 'qemu-debug.log')]
    log('starting: ' + ' '.join(shlex.quote(c) for c in cmd))
    stderr_path = os.path.join(out, 'qemu-stderr.txt')
    errf = open(stderr_path, 'wb')
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=errf, stderr=errf)
    produced, unavailable = {}, {}
    try:
        qmp = QMP(qmp_path, time.time() + 30, proc)
        version = qmp.cmd('query-version')
        caps = qmp.cmd('query-dump-guest-memory-capability')
        qmp.cmd('cont')

        # wait for every vCPU to sit on the hlt of the fixture's loop
        deadline = time.time() + a.timeout
        while True:
            regs = parse_info_registers(qmp.hmp('info registers -a'))
            parked = [r for r in regs if r.get('long_mode') and target <= r.get('rip', -1) < target + 3
                      and r.get('hlt') == 1]
            if len(parked) == ncpus and len(regs) == ncpus:
                break
            if time.time() > deadline:
                states = ', '.join('cpu %d %s=%#x hlt=%s' % (r['cpu_index'], 'RIP' if r['long_mode'] else 'EIP',
                                                             r.get('rip', r.get('eip', 0)), r.get('hlt'))
                                   for r in regs)
                raise Fail('not every vCPU reached the hlt loop at %#x within %gs: %s (rerun with --debug)'
                           % (target, a.timeout, states))
            time.sleep(0.2)
        qmp.cmd('stop')
        reg_text = qmp.hmp('info registers -a')
        with open(os.path.join(out, 'registers.txt'), 'w') as f:
            f.write(reg_text)
        final = parse_info_registers(reg_text)
        cpus_fast = qmp.cmd('query-cpus-fast')

        # kernel_gs_base (not shown by `info registers`) and friends from the gdbstub
        gdb_regs, gdb_error = {}, None
        try:
            gdb = GDBStub(gdb_path, time.time() + 10)
            names = gdb.registers()
            for i, tid in enumerate(gdb.threads()):
                vals = {}
                for n in ('rip', 'rsp', 'eflags', 'fs_base', 'gs_base', 'k_gs_base', 'cr0', 'cr3', 'cr4', 'efer'):
                    if n in names:
                        vals[n] = gdb.read(tid, names[n][0])
                gdb_regs[i] = vals
            gdb.sock.close()
        except (Fail, OSError, ValueError) as e:
            gdb_error = str(e)
            log('warning: gdbstub: %s' % e)
        if qmp.cmd('query-status')['status'] != 'paused':
            qmp.cmd('stop')

        def file_rec(name, kind):
            p = os.path.join(out, name)
            produced[name] = {'format': kind, 'size': os.path.getsize(p)}

        if 'elf' in formats:
            p = os.path.join(out, 'memory.elf')
            qmp.cmd('dump-guest-memory', timeout=120, paging=False, protocol='file:' + p)
            file_rec('memory.elf', 'elf')
        if 'kdump' in formats:
            for fmt, name in (('kdump-zlib', 'memory.kdump'), ('kdump-lzo', 'memory.kdump-lzo'),
                              ('kdump-snappy', 'memory.kdump-snappy')):
                p = os.path.join(out, name)
                r = qmp.cmd('dump-guest-memory', timeout=120, check=False, paging=False,
                            protocol='file:' + p, format=fmt)
                if 'error' in r:
                    unavailable[fmt] = r['error'].get('desc')
                    if os.path.exists(p) and os.path.getsize(p) == 0:
                        os.unlink(p)
                    if fmt == 'kdump-zlib':
                        raise Fail('kdump-zlib dump failed: %s' % unavailable[fmt])
                else:
                    file_rec(name, fmt)
        if 'raw' in formats:
            p = os.path.join(out, 'memory.raw')
            r = qmp.hmp('pmemsave 0 %d "%s"' % (mem_mib << 20, p), timeout=120)
            if r.strip():
                raise Fail('pmemsave: %s' % r.strip())
            file_rec('memory.raw', 'raw')
        if 'savevm' in formats:
            p = os.path.join(out, 'memory.savevm')
            qmp.cmd('migrate', uri='exec:cat > %s' % shlex.quote(p))
            deadline = time.time() + 120
            while True:
                st = qmp.cmd('query-migrate')
                if st.get('status') == 'completed':
                    break
                if st.get('status') in ('failed', 'cancelled'):
                    raise Fail('migration %s: %s' % (st['status'], st.get('error-desc', '')))
                if time.time() > deadline:
                    raise Fail('migration did not complete in time: %s' % st)
                time.sleep(0.1)
            # `cat` may still be flushing after QEMU reports completion
            for _ in range(100):
                s1 = os.path.getsize(p)
                time.sleep(0.05)
                if os.path.getsize(p) == s1 and s1 > 0:
                    break
            file_rec('memory.savevm', 'qemu-migration-stream')
        qmp.cmd('quit', check=False)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            raise Fail('QEMU did not quit')
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        errf.close()

    cpu_report = []
    for r in final:
        i = r['cpu_index']
        g = gdb_regs.get(i, {})
        cpu_report.append({
            'cpu_index': i, 'apic_id': i,
            'rip': r.get('rip'), 'rsp': r.get('rsp'), 'rflags': r.get('rfl'), 'halted': r.get('hlt') == 1,
            'cr0': r.get('cr0'), 'cr3': r.get('cr3'), 'cr4': r.get('cr4'), 'efer': r.get('efer'),
            'cs': r.get('cs'), 'ss': r.get('ss'), 'ds': r.get('ds'), 'es': r.get('es'), 'fs': r.get('fs'),
            'gs': r.get('gs'), 'fs_base': r.get('fs_base'), 'gs_base': r.get('gs_base'),
            'kernel_gs_base': g.get('k_gs_base'),
            'idt_base': r.get('idt_base'), 'idt_limit': r.get('idt_limit'),
            'gdt_base': r.get('gdt_base'), 'gdt_limit': r.get('gdt_limit'),
            'gprs': {k: r.get(k) for k in GPR_ORDER},
            'gdbstub': g,
        })
    producer = {
        'producer': 'qemu-system-x86_64',
        'qemu_version': version,
        'qemu_binary': qemu_bin,
        'command_line': cmd,
        'cpu_model': a.cpu,
        'mem_mib': mem_mib,
        'ncpus': ncpus,
        'fixture': os.path.abspath(a.fixture),
        'hlt_loop_va': target,
        'files': produced,
        'formats_unavailable': unavailable,
        'dump_capability': caps,
        'scratch_ram': [],
        'scratch_note': 'the stub writes no guest RAM; APs check in with IPIs to the BSP (vectors 0x20+APIC ID '
                        'stay pending in its IRR)',
        'cpus': cpu_report,
        'query_cpus_fast': cpus_fast,
        'gdbstub_error': gdb_error,
        'adjustments': adjustments,
        'warnings': warnings,
        'qmp_events': [e['event'] for e in qmp.events],
    }
    with open(os.path.join(out, 'producer.json'), 'w') as f:
        json.dump(producer, f, indent=1)
    log('done: %s in %s%s' % (', '.join(sorted(produced)), out,
                              (' (unavailable: %s)' % ', '.join(sorted(unavailable))) if unavailable else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
