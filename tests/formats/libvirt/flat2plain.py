#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Reassemble a flattened kdump stream (makedumpfile -F, QEMU dump-guest-memory -z) into the plain
diskdump layout, as 'makedumpfile -R' does: every {BE offset, BE size} record is written at its offset.
Written from the format description in docs/formats/kdump.md F1; a test helper only."""
import struct
import sys


def flat2plain(src, dst):
    with open(src, 'rb') as f, open(dst, 'wb') as out:
        head = f.read(4096)
        if head[:12] != b'makedumpfile':
            raise SystemExit('%s: not a flattened kdump' % src)
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                raise SystemExit('%s: no end marker' % src)
            off, size = struct.unpack('>qq', rec)
            if off == -1 and size == -1:
                return
            data = f.read(size)
            if len(data) != size:
                raise SystemExit('%s: record cut short' % src)
            out.seek(off)
            out.write(data)


if __name__ == '__main__':
    if len(sys.argv) != 3:
        raise SystemExit('usage: flat2plain.py FLAT PLAIN')
    flat2plain(sys.argv[1], sys.argv[2])
