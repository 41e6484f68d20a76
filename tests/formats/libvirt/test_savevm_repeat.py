#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Pages sent more than once (iterative migration, `virsh dump --live`): the last record of a page wins.
A real paused-QEMU stream gets an extra 'ram' PART section inserted before its END, which sends pages again:
data over zero pages, a fill byte over data, zero over data sent earlier in the same section, partly
overlapping runs. The expected memory is computed here with an independent parser of the RAM records; every
page read through raw2dmp must match it, and the runs must stay one run over pc.ram."""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lvtest as T

PAGE = 4096
PAGE_F, ZERO_F, EOS_F, CONT_F, MEMSIZE_F = 0x08, 0x02, 0x10, 0x20, 0x04


class Stream:
    """The RAM records of a QEMU 7.2 stream (docs/formats/savevm.md F2): pc.ram contents and where
    the END section of 'ram' starts."""

    def __init__(self, b):
        self.b = b
        self.ram = {}  # page -> bytes
        pos = 8
        if b[pos] == 7:
            pos += 5 + struct.unpack_from('>I', b, pos + 1)[0]
        block = None
        while True:
            typ = b[pos]
            if typ in (1, 4):
                sid, = struct.unpack_from('>I', b, pos + 1)
                l = b[pos + 5]
                name = b[pos + 6:pos + 6 + l]
                assert name == b'ram', name
                self.ram_id = sid
                pos += 6 + l + 8
            elif typ in (2, 3):
                if typ == 3:
                    self.end_at = pos
                    return
                pos += 5
            else:
                raise ValueError('unexpected section 0x%x at 0x%x' % (typ, pos))
            while True:
                word, = struct.unpack_from('>Q', b, pos)
                pos += 8
                flags, off = word & 0xfff, word & ~0xfff
                if flags == EOS_F:
                    break
                if flags == MEMSIZE_F:
                    total = off
                    while total:
                        l = b[pos]
                        total -= struct.unpack_from('>Q', b, pos + 1 + l)[0]
                        pos += 1 + l + 8
                    continue
                if not flags & CONT_F:
                    l = b[pos]
                    block = b[pos + 1:pos + 1 + l]
                    pos += 1 + l
                if flags & PAGE_F:
                    data = b[pos:pos + PAGE]
                    pos += PAGE
                else:
                    data = bytes([b[pos]]) * PAGE
                    pos += 1
                if block == b'pc.ram':
                    self.ram[off // PAGE] = data
            if b[pos] == 0x7e:
                pos += 5


def record(page, flags, data, first):
    out = struct.pack('>Q', page * PAGE | flags | (0 if first else CONT_F))
    if first:
        out += bytes([6]) + b'pc.ram'
    return out + data


def main():
    work = T.workdir('savevm_repeat')
    orig = T.migration_stream(work)
    b = open(orig, 'rb').read()
    s = Stream(b)
    want = dict(s.ram)
    recs, first = [], True

    def send(page, data):
        nonlocal first
        if data == bytes([data[0]]) * PAGE:
            recs.append(record(page, ZERO_F, data[:1], first))
        else:
            recs.append(record(page, PAGE_F, data, first))
        first = False
        want[page] = data

    for p in range(100, 120):                       # data over zero pages
        send(p, (b'%05d-' % p) * (PAGE // 6) + b'xxxx')
    for p in range(110, 115):                       # zero again over data sent just before
        send(p, bytes(PAGE))
    send(7, b'\x5a' * PAGE)                         # a non-zero fill byte
    for p in list(range(300, 310)) + [2, 3, 200]:   # out of order, isolated pages
        send(p, os.urandom(PAGE))
    for p in range(305, 308):                       # partly over the run before
        send(p, b'\xff' * PAGE)
    part = b'\x02' + struct.pack('>I', s.ram_id) + b''.join(recs) + struct.pack('>Q', EOS_F)
    part += b'\x7e' + struct.pack('>I', s.ram_id)
    rep = os.path.join(work, 'repeat.savevm')
    with open(rep, 'wb') as f:
        f.write(b[:s.end_at] + part + b[s.end_at:])
    inp = T.info(rep)
    T.check(inp and inp['runs'] == [{'pa': '0x0', 'length': '0x1000000', 'source': 'migration stream pages'}],
            'one run over pc.ram: %s' % (inp and inp['runs']))
    T.check(inp and 'for pages sent again' in inp['notes']['savevm.pages'] and
            ' (0 for pages sent again)' not in inp['notes']['savevm.pages'],
            'the note counts the repeats: %s' % (inp and inp['notes']['savevm.pages']))
    print(inp and inp['notes']['savevm.pages'])
    raw = os.path.join(work, 'repeat.raw')
    T.export(rep, raw)
    got = open(raw, 'rb').read()
    bad = [p for p in range(4096) if got[p * PAGE:(p + 1) * PAGE] != want.get(p, bytes(PAGE))]
    T.check(not bad, 'every page is its last record: %d differ, first %s' % (len(bad), [hex(p) for p in bad[:8]]))
    T.check(len(inp['cpus']) == 1 if inp else False, 'the device sections after the extra part still decode')
    T.finish()


if __name__ == '__main__':
    main()
