#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kdump pages in every codec: the real QEMU kdump re-encoded by mkkdump (liblzo2, libsnappy, zlib, raw) in
the plain and the flattened layout (records out of order) must read back page for page as the original, with
the same CPU registers (written back as QEMU notes). With --exclude-zero the zero pages are excluded (bitmap 1
but not bitmap 2) and must be holes. libkdumpfile, when built, must read the plain files identically."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lvtest as T


def main():
    if not T.MKKDUMP:
        print('mkkdump not built (needs liblzo2 and libsnappy)')
        sys.exit(77)
    work = T.workdir('kdump_codecs')
    src = T.SAMPLE_KDUMP
    src_info = T.info(src)
    for codec in ('raw', 'zlib', 'lzo', 'snappy'):
        for layout in ('plain', 'flat'):
            out = os.path.join(work, '%s-%s.kdump' % (codec, layout))
            p = T.run([T.MKKDUMP, '--codec', codec] + (['--flat'] if layout == 'flat' else []) + [src, out])
            if not T.check(p.returncode == 0, 'mkkdump %s %s: %s' % (codec, layout, p.stderr.strip())):
                continue
            inp = T.info(out)
            T.check(inp and inp['format'] == 'kdump', '%s %s: read as kdump' % (codec, layout))
            T.check(inp and inp['cpus'] == src_info['cpus'], '%s %s: same CPU registers' % (codec, layout))
            want = {'raw': 'none', 'zlib': 'zlib', 'lzo': 'lzo', 'snappy': 'snappy'}[codec]
            T.check(inp and inp['notes']['kdump.compression'].startswith(want),
                    '%s %s: compression note %s' % (codec, layout, inp and inp['notes']['kdump.compression']))
            p = T.run([T.IMGCMP, src, out])
            T.check(p.returncode == 0, '%s %s: every page equal: %s%s' % (codec, layout, p.stdout, p.stderr))
            if T.KDFBENCH and layout == 'plain':
                theirs, ours = os.path.join(work, 'theirs.raw'), os.path.join(work, 'ours.raw')
                p = T.run([T.KDFBENCH, out, theirs])
                runs = T.export(out, ours)
                T.check(p.returncode == 0, '%s: libkdumpfile reads it: %s' % (codec, p.stderr.strip()))
                kruns = [tuple(int(x, 16) for x in l.split()[1:]) for l in p.stdout.splitlines()]
                T.check(kruns == runs, '%s: libkdumpfile runs %s == ours %s' % (codec, kruns, runs))
                for pa, n in runs or []:
                    T.check(T.read_at(theirs, pa, n) == T.read_at(ours, pa, n),
                            '%s: libkdumpfile and raw2dmp agree at 0x%x' % (codec, pa))
                os.unlink(theirs)
                os.unlink(ours)
            os.unlink(out)

    # Excluded pages: zero pages left out of bitmap 2 are holes; every dumped page is still equal.
    for layout in ('plain', 'flat'):
        out = os.path.join(work, 'excl-%s.kdump' % layout)
        p = T.run([T.MKKDUMP, '--codec', 'lzo', '--exclude-zero'] + (['--flat'] if layout == 'flat' else [])
                  + [src, out])
        if not T.check(p.returncode == 0, 'mkkdump --exclude-zero: %s' % p.stderr.strip()):
            continue
        inp = T.info(out)
        T.check(inp and len(inp['runs']) > 2, 'excluded %s: zero pages split the runs (%d runs)' %
                (layout, len(inp['runs']) if inp else -1))
        T.check(inp and ' 0 excluded' not in inp['notes']['kdump.pages'],
                'excluded %s: the note counts excluded pages: %s' % (layout, inp and inp['notes']['kdump.pages']))
        p = T.run([T.IMGCMP, src, out])
        lines = [l for l in p.stdout.splitlines() if l.startswith('page ')]
        T.check(p.returncode == 1 and lines and all('coverage differs (A full, B hole)' in l for l in lines),
                'excluded %s: the only differences are holes: %s' % (layout, p.stdout[-500:]))
        a, b = os.path.join(work, 'a.raw'), os.path.join(work, 'b.raw')
        T.export(src, a)
        for pa, n in T.export(out, b) or []:
            T.check(T.read_at(a, pa, n) == T.read_at(b, pa, n), 'excluded %s: run 0x%x equal' % (layout, pa))
        a_runs = T.export(src, a)
        b_runs = T.export(out, b)
        covered = set()
        for pa, n in b_runs:
            covered.update(range(pa, pa + n, T.PAGE))
        for pa, n in a_runs:
            for page in range(pa, pa + n, T.PAGE):
                if page not in covered and T.read_at(a, page, T.PAGE) != bytes(T.PAGE):
                    T.check(False, 'excluded %s: non-zero page 0x%x went missing' % (layout, page))
                    break
        for f in (a, b, out):
            os.unlink(f)
    T.finish()


if __name__ == '__main__':
    main()
