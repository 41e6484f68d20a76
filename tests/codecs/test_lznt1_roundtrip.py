# SPDX-License-Identifier: MIT
"""LZNT1 round trips: data encoded by the fixture factory's encoder (tests/fixtures/lznt1.py) decodes to
itself through the C decoder (src/codecs/lznt1.c, driven by the lznt1_decode program given as argv[1]).
The encoder is checked on its own first: a separate, straightforward decoder written here from [MS-XCA] 2.5
decodes Microsoft's published example (3.3) and every encoded case, so a bug the encoder and the C decoder
shared would still show. Damaged streams (bytes flipped, cut short) must fail or decode to something, never
crash, and a stream decoded into too small an output fails."""
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("R2D_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "fixtures"))
import lznt1  # noqa: E402

TOOL = sys.argv[1]
failures = []

# [MS-XCA] 3.3: the string with its terminating NUL (142 bytes) and its 59-byte LZNT1 form.
XCA_TEXT = (b"F# F# G A A G F# E D D E F# F# E E F# F# G A A G F# E D D E F# E D D E E F# D E F# G F# D E F# G "
            b"F# E D E A F# F# G A A G F# E D D E F# E D D\0")
XCA_LZNT1 = bytes.fromhex(
    "38 b0 88 46 23 20 00 20 47 20 41 00 10 a2 47 01 a0 45 20 44 00 08 45 01 50 79 00 c0 45 20 05 24"
    " 13 88 05 b4 02 4a 44 ef 03 58 02 8c 09 16 01 48 45 00 be 00 9e 00 04 01 18 90 00")


def check(cond, what):
    print("%s: %s" % ("ok" if cond else "FAIL", what))
    if not cond:
        failures.append(what)


def plain_decode(data):
    """[MS-XCA] 2.5 read literally: chunk by chunk, token by token, one byte at a time."""
    out = bytearray()
    i = 0
    while i + 2 <= len(data):
        hdr = data[i] | data[i + 1] << 8
        i += 2
        if hdr == 0:
            break
        assert (hdr >> 12) & 7 == 3, "signature"
        size = (hdr & 0xFFF) + 1
        body = data[i:i + size]
        assert len(body) == size, "chunk cut short"
        i += size
        if len(out) % 4096:
            out += bytes(4096 - len(out) % 4096)
        start = len(out)
        if not hdr & 0x8000:
            out += body
            continue
        j = 0
        while j < len(body):
            flags = body[j]
            j += 1
            for bit in range(8):
                if j >= len(body):
                    break
                if not flags >> bit & 1:
                    out.append(body[j])
                    j += 1
                    continue
                tok = body[j] | body[j + 1] << 8
                j += 2
                dbits, lbits = lznt1.split(len(out) - start)
                length = (tok & ((1 << lbits) - 1)) + 3
                disp = (tok >> lbits) + 1
                assert disp <= len(out) - start, "match before the chunk"
                for _ in range(length):
                    out.append(out[-disp])
                assert len(out) - start <= 4096, "chunk too long"
    return bytes(out)


def c_decode(data, cap):
    p = subprocess.run([TOOL, str(cap)], input=data, capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace").strip()


def cases():
    rng = random.Random(16)
    text = b"The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. "
    noise = bytes(rng.getrandbits(8) for _ in range(9000))
    table = b"".join((0x8000000012345067 + (i << 12)).to_bytes(8, "little") for i in range(1024))
    yield "empty", b""
    yield "one byte", b"x"
    yield "MS-XCA example text", XCA_TEXT
    yield "zeros, 64 KiB", bytes(65536)
    yield "ones, 4097 bytes", b"\xff" * 4097
    yield "text, 20 KiB", (text * 300)[:20000]
    yield "random, 9000 bytes", noise
    yield "page-table-like, 8 KiB", table
    for period in (1, 2, 3, 7, 16, 17, 33, 255, 1000):
        yield "period %d" % period, (bytes(rng.getrandbits(8) for _ in range(period)) * (8200 // period + 1))[:8200]
    mixed = bytearray()
    for k in range(40):
        kind = rng.randrange(4)
        n = rng.randrange(1, 3000)
        mixed += [bytes(n), text * (n // len(text) + 1), noise, table][kind][:n]
    yield "mixed, %d bytes" % len(mixed), bytes(mixed)
    # Long matches at each point where the offset/length split changes (16, 32, ... 2048 bytes in).
    for edge in (16, 17, 32, 33, 64, 128, 256, 512, 1024, 2048, 2049):
        head = bytes(rng.getrandbits(8) for _ in range(edge))
        yield "repeat after %d bytes" % edge, (head + head[:edge // 2 + 3] * 40)[:4096]


def main():
    check(plain_decode(XCA_LZNT1) == XCA_TEXT, "the plain decoder decodes the [MS-XCA] 3.3 example")
    rc, out, err = c_decode(XCA_LZNT1, 4096)
    check(rc == 0 and out == XCA_TEXT, "the C decoder decodes the [MS-XCA] 3.3 example (%s)" % err)
    check(plain_decode(lznt1.compress(XCA_TEXT)) == XCA_TEXT, "the encoder's form of the example decodes back")
    rng = random.Random(7)
    for name, data in cases():
        enc = lznt1.compress(data)
        check(plain_decode(enc) == data, "%s: the encoder's output decodes with the plain decoder" % name)
        rc, out, err = c_decode(enc, len(data))
        check(rc == 0 and out == data, "%s: round trip through the C decoder (%d -> %d bytes; %s)"
              % (name, len(data), len(enc), err))
        rc, out, err = c_decode(lznt1.compress(data, end_mark=True) + b"garbage", len(data) + 4096)
        check(rc == 0 and out == data, "%s: the end mark stops decoding (%s)" % (name, err))
        if len(data) > 1:
            # Too little room: an error, or (full at a chunk boundary) a stop short of the input's end.
            rc, out, err = c_decode(enc, len(data) - 1)
            check((rc == 1 and "past the end of the output" in err)
                  or (rc == 0 and int(err.split()[1]) < len(enc) and len(out) == len(data) - 1),
                  "%s: one byte too little room does not pass for the whole stream: %s" % (name, err))
        for _ in range(8 if enc else 0):
            bad = bytearray(enc)
            at = rng.randrange(len(bad))
            bad[at] ^= 1 << rng.randrange(8)
            rc, out, err = c_decode(bytes(bad), len(data) + 8192)
            check(rc in (0, 1) and len(out) <= len(data) + 8192, "%s: flipped bit at %d: no crash (rc %d)" % (name, at, rc))
        if len(enc) > 2:
            rc, out, err = c_decode(enc[:rng.randrange(1, len(enc))], len(data))
            check(rc == 1, "%s: cut short fails: %s" % (name, err))
    # Real matches: compressible data must shrink (the encoder is not storing everything).
    check(len(lznt1.compress(bytes(65536))) < 65536 // 20, "zeros compress well")
    check(len(lznt1.compress(b"abc" * 3000)) < 9000 // 5, "repeated text compresses")
    check(any(h & 0x8000 for h in [lznt1.compress(XCA_TEXT)[0] | lznt1.compress(XCA_TEXT)[1] << 8]),
          "the example text is compressed, not stored")
    print("%d failures" % len(failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
