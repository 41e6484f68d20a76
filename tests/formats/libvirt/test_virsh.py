#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Real libvirt (Debian 12: libvirt 9.0, QEMU 7.2) in session mode, as an unprivileged user (r2dtest, created
when missing and we are root): a transient domain boots the fixture guest with the stub ROM of
tests/cli/qemu/run_qemu.py (-bios and -device loader through <qemu:commandline>), parks its vCPUs in long mode,
and virsh writes `dump --memory-only --format elf`, `dump --memory-only --format kdump-zlib`, a plain
`dump` (migration stream) and `save`. Each must open in raw2dmp with the same CPU registers and the same pages
(the streams' pc.ram excepted where the ELF shows ROMs), and each converts to a crash dump with the fixture's
PDB. Needs: virsh, libvirtd, qemu-system-x86_64 and root (or an existing r2dtest user); else exit 77."""
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import lvtest as T

USER = 'r2dtest'
ROMS = ['--ignore', '0xc0000-0x100000', '--ignore', '0xfffc0000-0x100000000']

DOMAIN = """<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{name}</name>
  <memory unit='MiB'>{mib}</memory>
  <vcpu>{cpus}</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <cpu mode='maximum' migratable='off'/>
  <devices><emulator>{qemu}</emulator><memballoon model='none'/></devices>
  <qemu:commandline>
    <qemu:arg value='-bios'/><qemu:arg value='{rom}'/>
{loaders}  </qemu:commandline>
</domain>
"""


def virsh(*args, timeout=300):
    cmd = ['runuser', '-u', USER, '--', 'env', 'HOME=' + pwd.getpwnam(USER).pw_dir, 'virsh', '-c',
           'qemu:///session'] + list(args)
    return T.run(cmd, timeout=timeout)


def need():
    for tool in ('virsh', 'libvirtd', 'qemu-system-x86_64', 'runuser'):
        if not shutil.which(tool) and not os.path.exists('/usr/sbin/' + tool):
            return '%s not installed (Debian: libvirt-clients, libvirt-daemon, libvirt-daemon-driver-qemu)' % tool
    try:
        pwd.getpwnam(USER)
    except KeyError:
        if os.geteuid() != 0:
            return 'user %s missing and not root to create it' % USER
        subprocess.run(['useradd', '-m', USER], check=True)
    if os.geteuid() != 0:
        return 'runuser needs root'
    return None


def main():
    why = need()
    if why:
        print('skipped:', why)
        sys.exit(77)
    work = T.workdir('virsh')
    out = T.fixture_qemu(work)
    if not out:
        T.finish()
    # Everything the unprivileged user reads or writes lives in a world-traversable directory of its own.
    d = tempfile.mkdtemp(prefix='r2d-virsh-')
    os.chmod(d, 0o755)
    shutil.chown(d, user=USER)
    name = 'r2dtest-%d' % os.getpid()
    try:
        shutil.copy(os.path.join(out, 'rom.bin'), d)
        loaders = ''
        for chunk in sorted(os.listdir(os.path.join(work, 'fx', 'chunks'))):
            if chunk.startswith('chunk_') and chunk.endswith('.bin'):
                shutil.copy(os.path.join(work, 'fx', 'chunks', chunk), d)
                pa = int(chunk[6:-4], 16)
                loaders += ("    <qemu:arg value='-device'/><qemu:arg value='loader,file=%s,addr=0x%x,"
                            "force-raw=on'/>\n" % (os.path.join(d, chunk), pa))
        for f in os.listdir(d):
            os.chmod(os.path.join(d, f), 0o644)
        xml = os.path.join(d, 'domain.xml')
        with open(xml, 'w') as f:
            f.write(DOMAIN.format(name=name, mib=64, cpus=2, qemu=shutil.which('qemu-system-x86_64'),
                                  rom=os.path.join(d, 'rom.bin'), loaders=loaders))
        p = virsh('create', xml)
        if not T.check(p.returncode == 0, 'virsh create: %s' % p.stderr.strip()):
            T.finish()
        time.sleep(3)  # the stub enters long mode and halts within milliseconds; the halted guest writes nothing
        files = {k: os.path.join(d, 'mem.' + k) for k in ('elf', 'kdump', 'dump', 'save')}
        for args in (['dump', name, files['elf'], '--memory-only', '--format', 'elf'],
                     ['dump', name, files['kdump'], '--memory-only', '--format', 'kdump-zlib'],
                     ['dump', name, files['dump']],
                     ['save', name, files['save']]):
            p = virsh(*args)
            T.check(p.returncode == 0, 'virsh %s: %s' % (' '.join(args[:1] + args[3:]), p.stderr.strip()))
        want = {'elf': 'elf', 'kdump': 'kdump', 'dump': 'savevm', 'save': 'libvirt-save'}
        ref = T.info(files['elf'])
        T.check(ref and ref['cpus'] and all(c['long_mode'] for c in ref['cpus']), 'virsh ELF: CPUs in long mode')
        for k, path in files.items():
            inp = T.info(path)
            if not T.check(inp is not None, '%s: raw2dmp reads it' % k):
                continue
            T.check(inp['format'] == want[k], '%s: format %s' % (k, inp['format']))
            T.check(ref and inp['cpus'] == ref['cpus'], '%s: CPU registers equal the ELF' % k)
            p = T.run([T.IMGCMP] + (ROMS if k in ('dump', 'save') else []) + [path, files['elf']])
            T.check(p.returncode == 0, '%s: pages equal the ELF: %s %s' % (k, p.stdout[-600:], p.stderr))
            print('%-6s %s | %s' % (k, inp['format'], p.stdout.strip().splitlines()[-1] if p.stdout else ''))
            if k != 'elf':
                dmp = os.path.join(work, k + '.dmp')
                p = T.run([T.RAW2DMP, '--offline', '--pdb', os.path.join(work, 'fx', 'ntkrnlmp.pdb'), '--force',
                           path, dmp])
                T.check(p.returncode == 0, '%s: converts to a crash dump: %s' % (k, p.stderr.strip()))
                print('       ', p.stderr.strip().splitlines()[-1] if p.stderr.strip() else '')
    finally:
        virsh('destroy', name)
        shutil.rmtree(d, ignore_errors=True)
    T.finish()


if __name__ == '__main__':
    main()
