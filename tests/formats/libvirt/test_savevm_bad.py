#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hostile QEMU migration streams and libvirt save images: cut in the header or mid-RAM, an unknown section
type, XBZRLE / compressed / unknown RAM flags, a page outside its block or for an unknown block, an unknown
machine type with more than 2 GiB of RAM, compressed files, incomplete or compressed libvirt save images.
Each must fail with one clear line (no crash: run in an ASan+UBSan build too). Two damaged but usable streams
(no VMDESCRIPTION; cut inside the device sections) must still give all the memory, without CPU registers.
The stream comes from a real, paused QEMU (16 MiB guest)."""
import gzip
import lzma
import os
import shutil
import struct
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lvtest as T


def variant(work, base, name, patches=(), cut=None, data=None):
    path = os.path.join(work, name)
    if data is not None:
        with open(path, 'wb') as f:
            f.write(data)
        return path
    shutil.copyfile(base, path)
    with open(path, 'r+b') as f:
        for off, b in patches:
            f.seek(off)
            f.write(b)
        if cut is not None:
            f.truncate(cut)
    return path


def expect_fail(path, needle, extra=()):
    name = os.path.basename(path)
    p = T.run([T.RAW2DMP, '--info'] + list(extra) + [path])
    if T.check(T.one_line_error(p, 'raw2dmp'), '%s: one clean error line (rc %d): %r' % (name, p.returncode,
                                                                                         p.stderr[-800:])):
        T.check(needle in p.stderr, '%s: message %r mentions %r' % (name, p.stderr.strip(), needle))
        print('%-20s %s' % (name, p.stderr.strip()))


def walk(b):
    """Offsets in a QEMU 7.2 stream: configuration name, MEM_SIZE record, pc.ram length, first PART record."""
    o = {}
    pos = 8
    assert b[pos] == 7
    n, = struct.unpack_from('>I', b, pos + 1)
    o['machine'] = (pos + 5, n)
    pos += 5 + n
    assert b[pos] == 1
    idlen = b[pos + 5]
    pos += 6 + idlen + 8
    o['mem_size'] = pos
    total, = struct.unpack_from('>Q', b, pos)
    total &= ~0xfff
    pos += 8
    while total:
        l = b[pos]
        name = b[pos + 1:pos + 1 + l]
        length, = struct.unpack_from('>Q', b, pos + 1 + l)
        if name == b'pc.ram':
            o['ram_len'] = pos + 1 + l
        pos += 1 + l + 8
        total -= length
    assert struct.unpack_from('>Q', b, pos)[0] == 0x10  # EOS
    pos += 8
    assert b[pos] == 0x7e
    pos += 5
    assert b[pos] == 2  # SECTION_PART
    o['part'] = pos
    o['record'] = pos + 5
    return o


def main():
    work = T.workdir('savevm_bad')
    stream = T.migration_stream(work)
    b = open(stream, 'rb').read()
    o = walk(b)
    inp = T.info(stream)
    T.check(inp and inp['format'] == 'savevm' and inp['runs'] == [{'pa': '0x0', 'length': '0x1000000',
                                                                    'source': 'migration stream pages'}],
            'the real stream reads: %s' % (inp and inp['runs']))
    T.check(inp and len(inp['cpus']) == 1, 'one CPU decoded')
    rec = o['record']
    word, = struct.unpack_from('>Q', b, rec)
    V = lambda name, **kw: variant(work, stream, name, **kw)

    expect_fail(V('cut-header', cut=6), 'QEMU stream header of 0x8 bytes runs past end of file', ['-f', 'savevm'])
    expect_fail(V('cut-ram', cut=len(b) // 3), 'the stream was cut short')
    expect_fail(V('cut-mem-size', cut=o['mem_size'] + 20), 'the stream was cut short')
    expect_fail(V('section-type', patches=[(o['part'], b'\x09')]), 'unknown section type 0x09')
    expect_fail(V('xbzrle', patches=[(rec, struct.pack('>Q', (word & ~0xfff) | 0x40))]), 'XBZRLE')
    expect_fail(V('compress-page', patches=[(rec, struct.pack('>Q', (word & ~0xfff) | 0x100))]), 'compressed page')
    expect_fail(V('hook', patches=[(rec, struct.pack('>Q', (word & ~0xfff) | 0x80))]), 'RDMA hook')
    expect_fail(V('ram-flags', patches=[(rec, struct.pack('>Q', (word & ~0xfff) | 0x28 | 0x02))]),
                'unknown combination of RAM record flags')
    expect_fail(V('page-outside', patches=[(rec, struct.pack('>Q', (1 << 40) | (word & 0xfff)))]),
                'is outside block')
    if not word & 0x20:  # the first record names its block: rename it
        expect_fail(V('unknown-block', patches=[(rec + 9, b'XX')]), 'not in the MEM_SIZE list')
    expect_fail(V('version', patches=[(4, struct.pack('>I', 2))]), 'QEMU stream version 2, only version 3')
    # pc.ram grown to 3 GiB (total grown alike): an unknown machine type cannot be split.
    grow = 3 * 2**30 - 16 * 2**20
    total, = struct.unpack_from('>Q', b, o['mem_size'])
    mpos, mlen = o['machine']
    big = [(o['mem_size'], struct.pack('>Q', total + grow)), (o['ram_len'], struct.pack('>Q', 3 * 2**30))]
    expect_fail(V('machine-unknown', patches=big + [(mpos, b'xx')]), "machine type 'xx-i440fx-7.2'")
    inp = T.info(V('machine-3g', patches=big))
    T.check(inp and inp['runs'][0]['length'] == '0x1000000', '3 GiB pc.ram with 16 MiB sent: the rest is a hole')

    # A stream piped through gzip or xz is read in place (src/containers); cut short, it fails as cut short.
    inp = T.info(V('gzip', data=gzip.compress(b)))
    T.check(inp and inp['stack'] == 'gzip -> savevm', 'a gzip-compressed stream is read in place: %r'
            % (inp and inp['stack']))
    expect_fail(V('xz', data=lzma.compress(b[:1 << 16])), 'cut short')
    expect_fail(V('xz-none', data=lzma.compress(b[:1 << 16])), 'xz-compressed', ('--container', 'none'))
    expect_fail(V('bzip2', data=b'BZh91AY&SY' + bytes(100)), 'bzip2-compressed')
    expect_fail(T.libvirt_save_wrap(stream, os.path.join(work, 'partial.save'), magic=b'LibvirtQemudPart'),
                'incomplete save image')
    expect_fail(T.libvirt_save_wrap(stream, os.path.join(work, 'xz.save'), compressed=3), 'xz-compressed')
    expect_fail(T.libvirt_save_wrap(stream, os.path.join(work, 'version.save'), version=7), 'version 7')
    big_xml = T.libvirt_save_wrap(stream, os.path.join(work, 'datalen.save'))
    with open(big_xml, 'r+b') as f:
        f.seek(0x14)
        f.write(struct.pack('<I', 0x7fffffff))
    expect_fail(big_xml, 'runs past end of file')
    expect_fail(variant(work, T.libvirt_save_wrap(stream, os.path.join(work, 'ok.save')), 'cut.save', cut=200),
                'domain XML of 0x1032 bytes runs past end of file')

    # Usable despite damage: no VMDESCRIPTION (cut after QEMU_VM_EOF), cut inside the device sections.
    vd = b.rfind(b'\x06' + struct.pack('>I', len(b) - b.rfind(b'{"page_size"')) + b'{"page_size"')
    timer = b.find(b'\x05timer')
    for name, kw in (('no-vmdesc', {'cut': vd}), ('cut-devices', {'cut': timer + 40}),
                     ('unknown-device', {'patches': [(timer + 5, b'x')]})):
        path = V(name, **kw)
        p = T.run([T.RAW2DMP, '--info', '--json', path])
        inp = T.info(path)
        T.check(inp and inp['runs'] == [{'pa': '0x0', 'length': '0x1000000', 'source': 'migration stream pages'}],
                '%s: all memory still there: %s %s' % (name, inp and inp['runs'], p.stderr))
        T.check(inp and inp['cpus'] == [] and inp['notes']['savevm.cpu_state'].startswith('not decoded'),
                '%s: no CPUs, note says why: %s' % (name, inp and inp['notes'].get('savevm.cpu_state')))
        print('%-20s cpu_state: %s' % (name, inp and inp['notes'].get('savevm.cpu_state')))
        pc = T.run([T.IMGCMP, path, stream])
        T.check(pc.returncode == 0, '%s: pages equal the intact stream: %s' % (name, pc.stdout[-300:]))
    T.finish()


if __name__ == '__main__':
    main()
