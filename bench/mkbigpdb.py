#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Build a large kernel-like PE + PDB for the symbol-stage benchmark (bench/bench_symbols.c).

The fixture factory's synthetic kernel (real structure layouts from an ISF, the globals the engine looks up)
plus filler: --structs structures of --fields fields each (scalars, arrays, pointers and embedded earlier
structures, so nested field paths exist), one global of each, and --globals more globals, with functions
that carry line and local-variable records as a real kernel's modules do. Built with clang
--target=x86_64-pc-windows-msvc -gcodeview and lld-link /debug. Writes big.exe, big.pdb and names.txt (the
extra lookups bench_symbols makes besides the KDBG field table: 'sym NAME', 'size TYPE', 'field TYPE PATH').
"""

import argparse
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'fixtures'))
import fixture_kernel  # noqa: E402

ISF = os.path.join(ROOT, 'tests', 'data', 'isf', '606FF669409B00F7FC8C61A9C1670129-1.json.xz')
LEAVES = 100  # the first structures embed no others
SCALARS = ['unsigned char', 'unsigned short', 'unsigned int', 'unsigned long long', 'long long', 'void *']

# What the engine asks besides the KDBG table (contexts.c, discover.c, plan_build.c and friends).
ENGINE_LOOKUPS = [
    'sym KdDebuggerDataBlock', 'sym KdpDataBlockEncoded', 'sym KiWaitNever', 'sym KiWaitAlways',
    'sym KdVersionBlock', 'sym KiProcessorBlock', 'sym KeNumberProcessors', 'sym PsInitialSystemProcess',
    'sym PsActiveProcessHead', 'sym PsLoadedModuleList', 'sym KdCopyDataBlock', 'sym KiSystemStartup',
    'field _KPCR Prcb', 'field _KPCR Self', 'field _KPRCB Number', 'field _KPRCB Context',
    'field _KPRCB ProcessorState.ContextFrame', 'field _EPROCESS Pcb.DirectoryTableBase',
    'field _EPROCESS ActiveProcessLinks', 'field _EPROCESS ImageFileName', 'field _EPROCESS UniqueProcessId',
    'field _KUSER_SHARED_DATA NtBuildNumber', 'field _KUSER_SHARED_DATA NtMajorVersion',
    'size _CONTEXT', 'size _KPRCB', 'size _KPCR', 'size _EPROCESS',
]


def filler(nstructs, nfields, nglobals, nfuncs, rng):
    out = ['', '/* ---- benchmark filler ---- */']
    lookups = []
    for i in range(nstructs):
        fields = []
        for k in range(nfields):
            name = 'Member%02d%s' % (k, rng.choice(['Count', 'Flags', 'Links', 'Address', 'State', 'Lock']))
            r = rng.random()
            if i >= LEAVES and r < 0.15:
                j = rng.randrange(LEAVES)  # only leaves are embedded: sizes stay small
                fields.append('    struct BenchType%04d %s;' % (j, name))
                if rng.random() < 0.02 and k > 0:  # member 0 is replaced below
                    lookups.append('field BenchType%04d %s.Member00' % (i, name))
            elif i > 0 and r < 0.3:
                fields.append('    struct BenchType%04d *%s;' % (rng.randrange(i), name))
            elif r < 0.4:
                fields.append('    %s %s[%d];' % (rng.choice(SCALARS[:4]), name, rng.randrange(2, 33)))
            else:
                fields.append('    %s %s;' % (rng.choice(SCALARS), name))
        # Every structure's first member has a known name, for the nested lookups above.
        fields[0] = '    unsigned int Member00;'
        out.append('struct BenchType%04d {\n%s\n};' % (i, '\n'.join(fields)))
        out.append('struct BenchType%04d BenchInstance%04d;' % (i, i))
        if rng.random() < 0.05:
            lookups.append('size BenchType%04d' % i)
            lookups.append('field BenchType%04d %s' % (i, fields[-1].split()[-1].split('[')[0].strip(';*')))
    for g in range(nglobals):
        t = rng.choice(SCALARS[:4])
        out.append('%s BenchGlobal%05dInSomeKernelComponent[%d];' % (t, g, rng.randrange(1, 9)))
        if g % 200 == 0:
            lookups.append('sym BenchGlobal%05dInSomeKernelComponent' % g)
    for f in range(nfuncs):
        a, b = rng.randrange(nglobals), rng.randrange(nstructs)
        out.append('unsigned long long BenchRoutine%05d(struct BenchType%04d *p, unsigned long long x)\n{\n'
                   '    unsigned long long acc = x ^ BenchGlobal%05dInSomeKernelComponent[0];\n'
                   '    for (int i = 0; i < 3; i++)\n        acc += (unsigned long long)p->Member00 * i;\n'
                   '    return acc;\n}' % (f, b, a))
        if f % 500 == 0:
            lookups.append('sym BenchRoutine%05d' % f)
    return '\n'.join(out) + '\n', lookups


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--out', required=True)
    ap.add_argument('--structs', type=int, default=3000)
    ap.add_argument('--fields', type=int, default=48)
    ap.add_argument('--globals', type=int, default=40000)
    ap.add_argument('--functions', type=int, default=45000)
    ap.add_argument('--seed', type=int, default=1)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    source, _ = fixture_kernel.generate_c(fixture_kernel.load_isf(ISF))
    source = source.replace('R2D_KDBG_PAD', '0x10')
    extra, lookups = filler(args.structs, args.fields, args.globals, args.functions, random.Random(args.seed))
    with open(os.path.join(args.out, 'big.c'), 'w') as f:
        f.write(source + extra)
    with open(os.path.join(args.out, 'names.txt'), 'w') as f:
        f.write('\n'.join(ENGINE_LOOKUPS + lookups) + '\n')
    clang, lld = fixture_kernel.tool('clang'), fixture_kernel.tool('lld-link')
    if not clang or not lld:
        sys.exit('mkbigpdb: clang and lld-link are needed')
    subprocess.run([clang, '--target=x86_64-pc-windows-msvc', '-std=c11', '-g', '-gcodeview', '-O0',
                    '-fno-stack-protector', '-ffreestanding', '-Wno-unused-function', '-c', 'big.c',
                    '-o', 'big.obj'], cwd=args.out, check=True)
    subprocess.run([lld, '/dll', '/noentry', '/nodefaultlib', '/machine:x64', '/debug', '/pdb:big.pdb',
                    '/out:big.exe', '/Brepro', 'big.obj'], cwd=args.out, check=True)
    print('mkbigpdb: %s/big.pdb: %.1f MB, %d extra lookups'
          % (args.out, os.path.getsize(os.path.join(args.out, 'big.pdb')) / 1e6, len(ENGINE_LOOKUPS + lookups)))


if __name__ == '__main__':
    main()
