# SPDX-License-Identifier: MIT
"""Helpers shared by the libvirt/QEMU-core tests: paths from meson's environment, checks, running the tools,
and independent parsers (ELF PT_LOADs and QEMU notes, kdump header offsets) written here from the format
descriptions, not from the C code under test."""
import json
import lzma
import os
import shutil
import struct
import subprocess
import sys

SRC = os.environ.get('R2D_SOURCE_ROOT', os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD = os.environ.get('R2D_BUILD_ROOT', os.path.join(SRC, 'build'))
RAW2DMP = os.environ.get('RAW2DMP', os.path.join(BUILD, 'src', 'cli', 'raw2dmp'))
IMGCMP = os.environ.get('R2D_IMGCMP', os.path.join(BUILD, 'tests', 'formats', 'libvirt', 'imgcmp'))
MKKDUMP = os.environ.get('R2D_MKKDUMP')
KDFBENCH = os.environ.get('R2D_KDFBENCH')
QEMU_DATA = os.path.join(SRC, 'tests', 'data', 'qemu')
SAMPLE_KDUMP = os.path.join(QEMU_DATA, 'seabios-32M-dump-guest-memory-z.kdump')
SAMPLE_ELF_XZ = os.path.join(QEMU_DATA, 'seabios-32M-dump-guest-memory.elf.xz')
PAGE = 4096

# One set of checks for every integration test: the same FAIL lines and the same closing line.
sys.path.insert(0, os.path.join(SRC, 'tests', 'cli'))
import r2dtest  # noqa: E402
from r2dtest import check, done, failures, finish  # noqa: E402,F401


def workdir(name):
    return r2dtest.workdir(name, os.path.join(BUILD, 'tests-work', 'libvirt'))


def run(cmd, timeout=600):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout)


def info(path, *extra):
    """raw2dmp --info --json PATH: the 'input' object, or None (the failure is printed)."""
    p = run([RAW2DMP, '--info', '--json'] + list(extra) + [path])
    if p.returncode != 0 and not p.stdout.strip().startswith('{'):
        print('raw2dmp --info failed:', p.stderr.strip())
        return None
    return json.loads(p.stdout)['input']


def one_line_error(p, prog):
    """The process failed cleanly: nonzero exit, no sanitizer report, exactly one line 'prog: ...' on stderr."""
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    bad = 'Sanitizer' in p.stderr or 'runtime error' in p.stderr or p.returncode < 0
    return p.returncode not in (0,) and not bad and len(lines) == 1 and lines[0].startswith(prog + ': ')


def unxz(src, dst):
    with lzma.open(src) as f, open(dst, 'wb') as out:
        shutil.copyfileobj(f, out, 1 << 20)
    return dst


# ---- ELF cores as QEMU writes them (docs/formats/elf.md F1-F3) ----

def elf_loads_and_notes(path):
    """(loads, notes): loads = [(paddr, filesz, offset)], notes = [(name, type, desc)]; ELF64 LE only."""
    with open(path, 'rb') as f:
        eh = f.read(64)
        assert eh[:4] == b'\x7fELF' and eh[4] == 2 and eh[5] == 1
        phoff, = struct.unpack_from('<Q', eh, 0x20)
        phnum, = struct.unpack_from('<H', eh, 0x38)
        f.seek(phoff)
        ph = f.read(56 * phnum)
        loads, notes = [], []
        for i in range(phnum):
            typ, _, off, _, paddr, filesz, _ = struct.unpack_from('<IIQQQQQ', ph, 56 * i)
            if typ == 1 and filesz:
                loads.append((paddr, filesz, off))
            elif typ == 4:
                f.seek(off)
                notes += parse_notes(f.read(filesz))
    return sorted(loads), notes


def parse_notes(b):
    out, pos = [], 0
    while pos + 12 <= len(b):
        namesz, descsz, typ = struct.unpack_from('<III', b, pos)
        if namesz == 0 and descsz == 0:
            break
        name = b[pos + 12:pos + 12 + namesz].rstrip(b'\0').decode('ascii', 'replace')
        d = pos + 12 + ((namesz + 3) & ~3)
        out.append((name, typ, b[d:d + descsz]))
        pos = d + ((descsz + 3) & ~3)
    return out


def qemu_cpu(desc):
    """The registers raw2dmp --info --json prints, from a QEMUCPUState (docs/formats/elf.md F3)."""
    q = lambda o: struct.unpack_from('<Q', desc, o)[0]
    return {'rip': q(0x88), 'rsp': q(0x38), 'rflags': q(0x90), 'cr0': q(0x188), 'cr3': q(0x1a0),
            'cr4': q(0x1a8), 'gs_base': q(0x108), 'idt_base': q(0x180), 'gdt_base': q(0x168)}


def json_cpu(c):
    return {k: int(c[k], 16) for k in ('rip', 'rsp', 'rflags', 'cr0', 'cr3', 'cr4', 'gs_base', 'idt_base',
                                        'gdt_base')}


# ---- kdump (docs/formats/kdump.md F2-F4) ----

def kdump_layout(path):
    """Offsets of an assembled kdump: dict with bs, sub_blocks, bitmap_blocks, bitmap1, bitmap2, desc."""
    with open(path, 'rb') as f:
        h = f.read(0x1d0)
    assert h[:8] == b'KDUMP   '
    bs, sub, bmb = struct.unpack_from('<III', h, 0x1ac)
    half = bmb // 2 * bs
    return {'bs': bs, 'sub_blocks': sub, 'bitmap_blocks': bmb, 'bitmap1': (1 + sub) * bs,
            'bitmap2': (1 + sub) * bs + half, 'desc': (1 + sub + bmb) * bs}


def export(path, raw, fmt='auto'):
    """Pages of path (through the library) written at their physical addresses into raw; returns the runs."""
    p = run([IMGCMP, '--export', raw, '-a', fmt, path])
    if p.returncode != 0:
        print('imgcmp --export failed:', p.stderr.strip())
        return None
    return [tuple(int(x, 16) for x in l.split()[1:]) for l in p.stdout.splitlines() if l.startswith('run ')]


def read_at(path, off, n):
    with open(path, 'rb') as f:
        f.seek(off)
        return f.read(n)


# ---- a real QEMU, driven over QMP (paused guest: memory content from -device loader) ----

class Qemu:
    """qemu-system-x86_64 -S with a QMP socket; cmd() sends one command and returns its 'return' value."""

    def __init__(self, work, machine='pc', mem='64M', loaders=(), extra=()):
        import socket
        import time
        self.sock_path = os.path.join(work, 'qmp.sock')
        if os.path.exists(self.sock_path):
            os.unlink(self.sock_path)
        argv = ['qemu-system-x86_64', '-machine', machine, '-accel', 'tcg', '-m', mem, '-nographic',
                '-nodefaults', '-S', '-qmp', 'unix:%s,server=on,wait=off' % self.sock_path] + list(extra)
        for path, pa in loaders:
            argv += ['-device', 'loader,file=%s,addr=0x%x,force-raw=on' % (path, pa)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        for _ in range(300):
            if os.path.exists(self.sock_path):
                break
            if self.proc.poll() is not None:
                raise RuntimeError('qemu exited: %s' % self.proc.stderr.read().decode(errors='replace'))
            time.sleep(0.05)
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(120)
        self.s.connect(self.sock_path)
        self.f = self.s.makefile('rw')
        json.loads(self.f.readline())
        self.cmd('qmp_capabilities')

    def cmd(self, name, **args):
        self.f.write(json.dumps({'execute': name, 'arguments': args}) + '\n')
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if 'return' in r:
                return r['return']
            if 'error' in r:
                raise RuntimeError('%s: %s' % (name, r['error']))

    def migrate_to(self, path, timeout=300):
        import shlex
        import time
        self.cmd('migrate', uri='exec:cat > %s' % shlex.quote(path))
        t0 = time.time()
        while time.time() - t0 < timeout:
            st = self.cmd('query-migrate').get('status')
            if st == 'completed':
                return
            if st in ('failed', 'cancelled'):
                raise RuntimeError('migration %s' % st)
            time.sleep(0.1)
        raise RuntimeError('migration timed out')

    def close(self):
        try:
            self.cmd('quit')
        except Exception:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def have_qemu():
    return shutil.which('qemu-system-x86_64') is not None


def migration_stream(work, name='guest.savevm'):
    """A real QEMU migration stream of a 16 MiB pc guest (exit 77 when QEMU is missing)."""
    if not have_qemu():
        print('qemu-system-x86_64 not installed')
        sys.exit(77)
    path = os.path.join(work, name)
    q = Qemu(work, machine='pc', mem='16M')
    try:
        q.migrate_to(path)
    finally:
        q.close()
    return path


def peek(path, pa, fmt='auto'):
    p = run([IMGCMP, '--peek', '0x%x' % pa, '-a', fmt, path])
    return p.stdout.strip() if p.returncode == 0 else None


def libvirt_save_wrap(stream, out, xml=b'<domain type="qemu"><name>r2dtest</name></domain>\n', version=2,
                      compressed=0, magic=b'LibvirtQemudSave', pad=4096):
    """A libvirt save image around a QEMU stream (libvirt src/qemu/qemu_saveimage.h virQEMUSaveHeader,
    little-endian as written on x86): magic, version, data_len, was_running, compressed, cookieOffset,
    14 unused u32, then the XML NUL-padded to data_len, then the stream."""
    data = xml + b'\0' * pad
    hdr = magic + struct.pack('<IIIII', version, len(data), 1, compressed, 0) + bytes(56)
    with open(out, 'wb') as f, open(stream, 'rb') as s:
        f.write(hdr + data)
        shutil.copyfileobj(s, f, 1 << 20)
    return out


ISF_19041 = os.path.join(SRC, 'tests', 'data', 'isf', '606FF669409B00F7FC8C61A9C1670129-1.json.xz')


def fixture_qemu(work, cpus=2, mib=64):
    """A fixture guest (tests/fixtures/mkfixture.py) booted by tests/cli/qemu/run_qemu.py into long mode; returns the
    run_qemu output directory (memory.elf, memory.kdump, memory.savevm, rom.bin) or None (failure recorded).
    The fixture itself is in work/fx (chunks/chunks.json lists the RAM chunks run_qemu loaded)."""
    fx, out = os.path.join(work, 'fx'), os.path.join(work, 'qemu')
    cache = os.path.join(BUILD, 'tests-work', 'fixture-cache')
    os.makedirs(cache, exist_ok=True)
    p = run([sys.executable, os.path.join(SRC, 'tests', 'fixtures', 'mkfixture.py'), '--isf', ISF_19041, '--out', fx,
             '--layout', 'qemu', '--identity-low', '--cpus', str(cpus), '--mem-mib', str(mib), '--format', 'raw',
             '--cache', cache], timeout=900)
    if not check(p.returncode == 0, 'mkfixture: %s' % p.stderr[-2000:]):
        return None
    stub = os.path.join(BUILD, 'tests', 'cli', 'qemu', 'bootstub.bin')
    p = run([sys.executable, os.path.join(SRC, 'tests', 'cli', 'qemu', 'run_qemu.py'), '--fixture', fx, '--out', out,
             '--formats', 'elf,kdump,savevm'] + (['--stub', stub] if os.path.exists(stub) else []), timeout=900)
    if not check(p.returncode == 0, 'run_qemu: %s' % p.stderr[-2000:]):
        return None
    return out
