#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hostile kdump files: cut at the header, a bitmap, the descriptors, mid-page; descriptors with a bad
offset, size or compression flag; corrupt compressed data; impossible header fields; flattened streams cut
short, with overlapping records or a bad header. Each must fail with one clear line naming the problem (no
crash: run this suite in an ASan+UBSan build too). Opening errors come from raw2dmp --info; page errors from
imgcmp --time, which reads every page."""
import os
import shutil
import struct
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lvtest as T
from flat2plain import flat2plain


def variant(work, base, name, patches=(), cut=None):
    """A copy of base with bytes patched ({offset: bytes}) and/or cut to cut bytes."""
    path = os.path.join(work, name)
    shutil.copyfile(base, path)
    with open(path, 'r+b') as f:
        for off, data in patches:
            f.seek(off)
            f.write(data)
        if cut is not None:
            f.truncate(cut)
    return path


def expect_fail(path, needle, when='open', extra=()):
    name = os.path.basename(path)
    if when == 'open':
        p = T.run([T.RAW2DMP, '--info'] + list(extra) + [path])
        prog = 'raw2dmp'
    else:
        p = T.run([T.IMGCMP, '--time', path])
        prog = 'imgcmp'
    ok = T.check(T.one_line_error(p, prog), '%s: one clean error line from %s (rc %d): %r' %
                 (name, prog, p.returncode, p.stderr[-800:]))
    if ok:
        T.check(needle in p.stderr, '%s: message %r mentions %r' % (name, p.stderr.strip(), needle))
        print('%-22s %s' % (name, p.stderr.strip()))


def main():
    work = T.workdir('kdump_bad')
    plain = os.path.join(work, 'plain.kdump')
    flat2plain(T.SAMPLE_KDUMP, plain)
    L = T.kdump_layout(plain)
    size = os.path.getsize(plain)
    desc = L['desc']
    with open(plain, 'rb') as f:
        f.seek(desc)
        d0 = f.read(24 * 64)
    # Find a zlib-compressed page and the first raw (non-zero-page) descriptor.
    descs = [struct.unpack_from('<QIIQ', d0, 24 * i) for i in range(64)]
    zi = next(i for i, d in enumerate(descs) if d[2] == 1)
    zoff = descs[zi][0]
    dz = desc + 24 * zi

    V = lambda name, **kw: variant(work, plain, name, **kw)
    expect_fail(V('cut-header', cut=0x100), 'kdump header of 0x1d0 bytes runs past end of file')
    expect_fail(V('cut-subheader', cut=0x1d0), 'runs past end of the file')
    expect_fail(V('cut-bitmap', cut=L['bitmap1'] + 100), 'kdump bitmap 1')
    expect_fail(V('cut-bitmap2', cut=L['bitmap2'] + 100), 'kdump bitmap 2')
    expect_fail(V('cut-descriptors', cut=desc + 24 * 100 + 5), 'page descriptors of 24 bytes run past end')
    expect_fail(V('cut-mid-page', cut=zoff + 10), 'outside the page data', when='read')
    expect_fail(V('desc-offset', patches=[(dz, struct.pack('<Q', 0x10))]), 'points at 0x10', when='read')
    expect_fail(V('desc-offset-big', patches=[(dz, struct.pack('<Q', 1 << 62))]), 'outside the page data',
                when='read')
    expect_fail(V('desc-size', patches=[(dz + 8, struct.pack('<I', 0x2000))]), 'has size 0x2000', when='read')
    expect_fail(V('desc-size0', patches=[(dz + 8, struct.pack('<I', 0))]), 'has size 0x0', when='read')
    # Descriptor 200 lies in the second half of the first 1 MiB read: decoded by the second thread.
    expect_fail(V('desc-size-worker', patches=[(desc + 24 * 200 + 8, struct.pack('<I', 0x2000))]),
                'page descriptor 200 has size 0x2000', when='read')
    expect_fail(V('desc-two-flags', patches=[(dz + 12, struct.pack('<I', 3))]), 'has flags 0x3', when='read')
    expect_fail(V('desc-unknown-flag', patches=[(dz + 12, struct.pack('<I', 0x101))]), 'has flags 0x101',
                when='read')
    expect_fail(V('desc-zstd', patches=[(dz + 12, struct.pack('<I', 0x20))]), 'zstd-compressed page',
                when='read')
    expect_fail(V('zlib-corrupt', patches=[(zoff + 2, b'\xff' * 16)]), 'does not decode', when='read')
    expect_fail(V('lzo-flag-on-zlib', patches=[(dz + 12, struct.pack('<I', 2))]), 'LZO page', when='read')
    expect_fail(V('snappy-flag-on-zlib', patches=[(dz + 12, struct.pack('<I', 4))]), 'snappy page',
                when='read')
    expect_fail(V('block-size', patches=[(0x1ac, struct.pack('<I', 0x800))]), 'block_size 0x800')
    expect_fail(V('bitmap-odd', patches=[(0x1b4, struct.pack('<I', 63))]), 'bitmap_blocks 63')
    expect_fail(V('max-mapnr', patches=[(0x1000 + 0x60, struct.pack('<Q', 1 << 40))]), 'does not fit bitmaps')
    expect_fail(V('incomplete', patches=[(0x1a8, struct.pack('<I', 0x9))]), 'incomplete')
    expect_fail(V('note-size', patches=[(0x1000 + 0x38, struct.pack('<Q', 1 << 40))]), 'kdump note_size')
    with open(plain, 'rb') as f:
        f.seek(0x1000 + 0x30)
        note_off, note_size = struct.unpack('<QQ', f.read(16))
        f.seek(note_off)
        notes = f.read(note_size)
    pos = 0
    while notes[pos + 12:pos + 16] != b'QEMU':  # walk to the QEMU note: its descriptor starts with the version
        namesz, descsz = struct.unpack_from('<II', notes, pos)
        pos += 12 + (namesz + 3 & ~3) + (descsz + 3 & ~3)
    expect_fail(V('note-version', patches=[(note_off + pos + 20, struct.pack('<I', 7))]),
                'QEMU CPU state version 7')
    expect_fail(V('note-short', patches=[(note_off + pos + 4, struct.pack('<I', 0x100))]),
                'QEMU CPU state note of 0x100 bytes, need at least 0x1b0')
    expect_fail(V('note-past-end', patches=[(0x1000 + 0x68 + 4, struct.pack('<I', 0x10000))]),
                'runs past the end of the kdump note area')
    expect_fail(V('signature', patches=[(0, b'KDUMX   ')]), "no 'KDUMP   ' signature", extra=['-f', 'kdump'])

    # Flattened streams.
    flat = T.SAMPLE_KDUMP
    fsize = os.path.getsize(flat)
    F = lambda name, **kw: variant(work, flat, name, **kw)
    expect_fail(F('flat-cut-head', cut=0x800), 'flattened header of 0x1000 bytes runs past end of file')
    expect_fail(F('flat-cut-record', cut=4096 + 16 + 0x100), 'flattened record of 0x1d0 bytes runs past end')
    expect_fail(F('flat-no-end', cut=fsize - 16), 'without its end marker')
    expect_fail(F('flat-cut-mid', cut=fsize // 2), 'runs past end of file')
    expect_fail(F('flat-type', patches=[(16, struct.pack('>q', 2))]), 'flattened header type 2')
    expect_fail(F('flat-bad-size', patches=[(4096 + 8, struct.pack('>q', -5))]), 'invalid offset')
    # Second record (the sub-header, real offset 0x1000) moved onto the first (the header at 0).
    expect_fail(F('flat-overlap', patches=[(4096 + 16 + 0x1d0, struct.pack('>q', 0x100))]), 'records overlap')
    T.finish()


if __name__ == '__main__':
    main()
