#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Round trips: the fixture factory's Xpress encoders (tests/fixtures/xca.py) against the C decoders.

First the encoders reproduce [MS-XCA]'s four published examples byte for byte (so they write the format the
specification does, not merely one our decoder agrees with); then varied data (random, zeros, text, a mix of
4 KiB pages, sizes across the 64 KiB block boundary and long enough for every length escape) is encoded both
ways and decoded by xca_decode (tests/codecs/xca_decode.c), which must give back the data exactly, and
cut streams must fail. Usage: test_xca_roundtrip.py PATH_TO_XCA_DECODE
"""

import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures'))
import xca  # noqa: E402

# [MS-XCA] section 3 (Examples), as printed there.
SPEC_LZ77 = [
    (b'abcdefghijklmnopqrstuvwxyz',
     '3f 00 00 00 61 62 63 64 65 66 67 68 69 6a 6b 6c 6d 6e 6f 70 71 72 73 74 75 76 77 78 79 7a'),
    (b'abc' * 100, 'ff ff ff 1f 61 62 63 17 00 0f ff 26 01'),
]
# Section 3.2: 256-byte table (nonzero bytes at their offsets), then the bit stream.
SPEC_HUFFMAN = [
    (b'abcdefghijklmnopqrstuvwxyz', {48: 0x50, **{i: 0x55 for i in range(49, 59)}, 59: 0x45, 60: 0x44,
                                     61: 0x04, 128: 0x04},
     'd8 52 3e d7 94 11 5b e9 19 5f f9 d6 7c df 8d 04 00 00 00 00'),
    (b'abc' * 100, {48: 0x30, 49: 0x23, 128: 0x02, 143: 0x20}, 'a8 dc 00 00 ff 26 01'),
]


def spec_huffman_bytes(table, bits):
    t = bytearray(256)
    for at, b in table.items():
        t[at] = b
    return bytes(t) + bytes.fromhex(bits)


def decode(tool, kind, stream, size):
    return subprocess.run([tool, kind, str(size)], input=stream, capture_output=True, check=False)


def datasets():
    rnd = random.Random(17)
    text = b'The quick brown fox jumps over the lazy dog; hiberfil.sys holds the pages. '
    page_kinds = [bytes(4096), (text * 60)[:4096], bytes(rnd.getrandbits(8) for _ in range(4096)),
                  bytes(range(256)) * 16, (b'\x00\x00\x00\x00\xff\xff\xff\xff' * 512)]
    mix = b''.join(page_kinds[rnd.randrange(len(page_kinds))] for _ in range(40))
    out = {'empty': b'', 'one': b'x', 'page_text': (text * 60)[:4096], 'zeros_64k': bytes(65536),
           'text_64k+1': (text * 900)[:65537], 'random_4k': bytes(rnd.getrandbits(8) for _ in range(4096)),
           'random_65537': rnd.randbytes(65537), 'zeros_200000': bytes(200000),
           'text_200000': (text * 3000)[:200000], 'page_mix': mix,
           'random_200000': rnd.randbytes(200000)}
    # Runs of every length around the escapes' edges (7, 15+7, 255+15+7 and 65536), with distinct breaks.
    runs = bytearray()
    for n in (3, 9, 10, 11, 24, 25, 26, 279, 280, 281, 65538, 65539, 65540, 70000):
        runs += bytes([n & 0xff]) + b'q' * n
    out['escape_edges'] = bytes(runs)
    return out


def check_spec(failures):
    for data, hexstr in SPEC_LZ77:
        if xca.lz77_compress(data) != bytes.fromhex(hexstr):
            failures.append('lz77_compress does not reproduce [MS-XCA] 3.1 for %r...' % data[:6])
    for data, table, bits in SPEC_HUFFMAN:
        if xca.huffman_compress(data) != spec_huffman_bytes(table, bits):
            failures.append('huffman_compress does not reproduce [MS-XCA] 3.2 for %r...' % data[:6])


def check_roundtrips(tool, failures):
    for name, data in datasets().items():
        for kind, enc in (('lz77', xca.lz77_compress), ('huffman', xca.huffman_compress)):
            stream = enc(data)
            r = decode(tool, kind, stream, len(data))
            if r.returncode != 0 or r.stdout != data:
                failures.append('%s %s: exit %d, %s' % (kind, name, r.returncode, r.stderr.decode().strip()))
                continue
            print('ok %-8s %-14s %7d -> %7d bytes' % (kind, name, len(data), len(stream)))
            if data and len(stream) > 8:  # a stream cut in half no longer holds all the data
                r = decode(tool, kind, stream[:len(stream) // 2], len(data))
                if r.returncode != 1 or b'xca_decode: ' not in r.stderr:
                    failures.append('%s %s: half stream exit %d' % (kind, name, r.returncode))


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 99
    failures = []
    check_spec(failures)
    check_roundtrips(sys.argv[1], failures)
    for f in failures:
        print('FAIL', f)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
