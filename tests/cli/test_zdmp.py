# SPDX-License-Identifier: MIT
"""DumpIt .zdmp files read in place (docs/formats/zdmp.md). DumpIt has no Debian build, so the fixture
factory's writer (tests/fixtures/writer_zdmp.py, LZNT1 from tests/fixtures/lznt1.py) makes them from a crash
dump the program wrote from a raw fixture (checked fully first: header, every page, the KDBG). A separate
reader here, written from the layout with its own LZNT1 decoder, must get the dump back byte for byte, so the
fixture is right independently of src/. Then: the .zdmp converts to exactly the dump the .dmp itself converts
to, with the stack "zdmp -> crashdump", the file's SHA-256 and the layer's metadata in the report; --info shows
the stack; --verify-container checks every block. Hostile files (cut short, lying sizes, a corrupt LZNT1 chunk,
a bad CRC-32, an unknown version) fail with one line naming the file, exit 1 and no output."""
import json
import os
import struct
import sys
import zlib

import r2dtest as t
import test_containers as tc

sys.path.insert(0, os.path.join(t.SRC, "tests", "fixtures"))
import writer_zdmp  # noqa: E402


def plain_lznt1(data):
    """[MS-XCA] 2.5, one byte at a time; short chunks followed by more are padded to 4096."""
    out = bytearray()
    i = 0
    while i + 2 <= len(data):
        hdr = data[i] | data[i + 1] << 8
        i += 2
        if hdr == 0:
            break
        size = (hdr & 0xFFF) + 1
        body = data[i:i + size]
        i += size
        out += bytes(-len(out) % 4096)
        if not hdr & 0x8000:
            out += body
            continue
        start, j = len(out), 0
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
                lbits = 16 - max(4, (len(out) - start - 1).bit_length())
                disp = (tok >> lbits) + 1
                for _ in range((tok & ((1 << lbits) - 1)) + 3):
                    out.append(out[-disp])
    return bytes(out)


def plain_zdmp(path):
    """The decoded stream of a .zdmp, read from the documented layout without src/ or writer_zdmp."""
    with open(path, "rb") as f:
        data = f.read()
    magic, version, size, bsize, dtype, fmt = struct.unpack_from("<4sIQIHH", data, 0)
    assert (magic, version, dtype, fmt) == (b"ZDMP", 0x100, 1, 2)
    out = bytearray()
    off = 0x1000
    while len(out) < size:
        sig, n, crc = struct.unpack_from("<4sII", data, off)
        payload = data[off + 12:off + 12 + n]
        assert sig == b"ZBLK" and len(payload) == n and zlib.crc32(payload) == crc
        blk = payload if n == bsize else plain_lznt1(payload)
        out += (blk + bytes(bsize - len(blk)))[:min(bsize, size - len(out))]
        off += 12 + n
    assert off == len(data)
    return bytes(out)


def hostile(work, dump):
    small = os.path.join(work, "small.zdmp")
    writer_zdmp.write_zdmp(dump, small, 1 << 16)
    with open(small, "rb") as f:
        good = f.read()
    size = struct.unpack_from("<Q", good, 8)[0]

    def variant(name, data):
        path = os.path.join(work, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def patched(name, at, fmt, value):
        data = bytearray(good)
        struct.pack_into(fmt, data, at, value)
        return variant(name, bytes(data))

    tc.must_fail(work, variant("cut.zdmp", good[:-1000]), "a .zdmp cut short", "runs past end of file")
    tc.must_fail(work, variant("headless.zdmp", good[:0x1000 - 100]), "a .zdmp cut inside its header",
                 "too short for a .zdmp file")
    tc.must_fail(work, variant("extra.zdmp", good + bytes(100)), "bytes after the last block", "follow the last")
    tc.must_fail(work, patched("bigger.zdmp", 8, "<Q", size + (1 << 16)), "a decoded size larger than the blocks",
                 "the file ends before block")
    tc.must_fail(work, patched("huge.zdmp", 8, "<Q", 1 << 50), "an impossible decoded size", "can hold")
    tc.must_fail(work, patched("smaller.zdmp", 8, "<Q", size - (1 << 16)), "a decoded size smaller than the blocks",
                 "follow the last")
    tc.must_fail(work, patched("version.zdmp", 4, "<I", 0x200), "an unknown version", "only version 0x0100")
    tc.must_fail(work, patched("encrypted.zdmp", 20, "<H", 2), "an encrypted .zdmp", "only 1 (compressed)")
    tc.must_fail(work, patched("bsize.zdmp", 16, "<I", 1000), "an odd block size", "block size 0x3e8")
    tc.must_fail(work, patched("blocksig.zdmp", 0x1000, "<4s", b"ZBLX"), "a block without its signature",
                 "no ZBLK signature")
    tc.must_fail(work, patched("lying.zdmp", 0x1004, "<I", 0x20000), "a block larger than the block size",
                 "says it stores 0x20000 bytes")
    # A compressed block whose bytes are damaged: first with its CRC-32 left alone, then made to match, so
    # that the LZNT1 decoder meets the damage.
    data = bytearray(good)
    off, k = 0x1000, 0
    while True:
        n = struct.unpack_from("<I", data, off + 4)[0]
        if n < 1 << 16 and data[off + 13] & 0x80:    # an LZNT1 block whose first chunk is compressed
            break
        off += 12 + n
        k += 1
    data[off + 13] = (data[off + 13] & 0x8F) | 0x50   # chunk signature 5
    tc.must_fail(work, variant("crc.zdmp", bytes(data)), "a block whose CRC-32 fails", "CRC-32 mismatch")
    struct.pack_into("<I", data, off + 8, zlib.crc32(bytes(data[off + 12:off + 12 + n])))
    tc.must_fail(work, variant("lznt1.zdmp", bytes(data)), "a corrupt LZNT1 chunk (block %d)" % k,
                 "corrupt LZNT1 data")
    tc.must_fail(work, variant("lznt1v.zdmp", bytes(data)), "a corrupt LZNT1 chunk, --verify-container",
                 "signature 3", ("--verify-container",))


def main():
    work = t.workdir("zdmp")
    truth = t.make_fixture(work, isf=t.ISF_19041, seed=16, cpus=2, formats="raw", extra=["--mem-mib", "16"])
    bare = tc.bare(work, truth, "raw", "raw")
    if not bare:
        t.finish()
    pdb = os.path.join(work, truth["pdb"]["path"])
    # The dump as input: what the .zdmp must convert to.
    direct = os.path.join(work, "direct.dmp")
    p = t.raw2dmp("--pdb", pdb, bare, direct, check_rc=0)
    t.check(p.returncode == 0, "the bare dump converts as a crash dump")
    with open(bare, "rb") as f:
        dump_bytes = f.read()
    for bsize, trim in ((1 << 16, True), (2 << 20, False), (1 << 12, False)):
        name = "b%dk%s.zdmp" % (bsize >> 10, "-trim" if trim else "")
        path = os.path.join(work, name)
        blocks, stored = writer_zdmp.write_zdmp(bare, path, bsize, trim)
        t.check(blocks == -(-len(dump_bytes) // bsize) and stored < blocks,
                "%s: %d blocks, %d stored, the rest LZNT1" % (name, blocks, stored))
        t.check(plain_zdmp(path) == dump_bytes, "%s: a separate reader gets the dump back byte for byte" % name)
        rep = tc.convert(work, truth, path, direct, "zdmp -> crashdump", name)
        if rep:
            c = rep["input"]["containers"][0]
            t.check(c["kind"] == "zdmp" and c["size"] == len(dump_bytes) and "%d blocks" % blocks in c["read"]
                    and "LZNT1" in c["notes"]["header"] and "CRC-32" in c["notes"]["checks"],
                    "%s: the layer's metadata: %r" % (name, c))
        tc.info_stack(path, "zdmp -> crashdump", name)
    verified = os.path.join(work, "b64k-trim.zdmp")
    rep = tc.convert(work, truth, verified, direct, "zdmp -> crashdump", "verified", ("--verify-container",))
    t.check(rep is not None and "all verified" in rep["input"]["containers"][0]["notes"]["checks"],
            "--verify-container checks every block")
    p = t.raw2dmp("--info", "--json", "--offline", verified)
    j = json.loads(p.stdout) if p.stdout.startswith("{") else {}
    t.check(j.get("input", {}).get("stack") == "zdmp -> crashdump", "--info --json gives the stack")
    hostile(work, bare)
    p = t.raw2dmp("--list-formats")
    t.check(any(line.split()[:1] == ["zdmp"] for line in p.stdout.splitlines()), "--list-formats lists zdmp")
    t.finish()


if __name__ == "__main__":
    main()
