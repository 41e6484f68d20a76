#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Regenerate the small seed corpora in fuzz/corpus/<target>/ from a fixture-factory directory.

    python3 tests/fixtures/mkfixture.py --isf tests/data/isf/606FF669409B00F7FC8C61A9C1670129-1.json.xz \
        --out /tmp/fx --mem-mib 16 --format elf,raw,lime --lime-compress
    python3 tests/fixtures/mkfixture.py --isf tests/data/isf/606FF669409B00F7FC8C61A9C1670129-1.json.xz \
        --out /tmp/fx --mem-mib 16 --cpus 1 --format vbox,xen,elf_nonotes     # the same directory, once more
    raw2dmp --pdb /tmp/fx/ntkrnlmp.pdb --dump-type full   --hash none /tmp/fx/memory.elf /tmp/fx/mem-full.dmp
    raw2dmp --pdb /tmp/fx/ntkrnlmp.pdb --dump-type bitmap --hash none /tmp/fx/memory.elf /tmp/fx/mem-bitmap.dmp
    python3 fuzz/make_corpus.py /tmp/fx [SYMFIXTURE_PDB]

Every seed is a few KiB: headers of the real files with their sizes rewritten to match the cut, so each
seed still opens (the fuzzer starts from valid structures, not from truncation errors).
"""
import json
import lzma
import os
import struct
import sys
import tempfile
import zlib

PAGE = 4096
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def small_elf(path, keep=2 * PAGE):
    """The fixture ELF's header, program headers and notes, each PT_LOAD cut to keep bytes."""
    with open(path, "rb") as f:
        data = f.read()
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phnum, = struct.unpack_from("<H", data, 0x38)
    loads = []
    end = phoff + 56 * phnum   # the notes' end, or the program headers' when there are no notes
    for i in range(phnum):
        o = phoff + 56 * i
        ptype, = struct.unpack_from("<I", data, o)
        off, = struct.unpack_from("<Q", data, o + 8)
        filesz, = struct.unpack_from("<Q", data, o + 0x20)
        if ptype == 4:
            end = max(end, off + filesz)
        if ptype == 1:
            loads.append(i)
    out = bytearray(data[:end])
    for i in loads[:4]:
        o = phoff + 56 * i
        off, = struct.unpack_from("<Q", data, o + 8)
        filesz, = struct.unpack_from("<Q", data, o + 0x20)
        n = min(filesz, keep)
        struct.pack_into("<Q", out, o + 8, len(out))
        struct.pack_into("<QQ", out, o + 0x20, n, n)
        out += data[off:off + n]
    for i in loads[4:]:  # drop the rest: p_type PT_NULL
        struct.pack_into("<I", out, phoff + 56 * i, 0)
    return bytes(out)


def small_lime(path, keep=PAGE, ranges=3):
    out = bytearray()
    with open(path, "rb") as f:
        for _ in range(ranges):
            hdr = f.read(32)
            if len(hdr) < 32:
                break
            magic, ver, s, e, _ = struct.unpack("<IIQQQ", hdr)
            n = min(e - s + 1, keep)
            out += struct.pack("<IIQQQ", magic, ver, s, s + n - 1, 0) + f.read(n)
            f.seek(e - s + 1 - n, 1)
    return bytes(out)


def small_dumps(full, bitmap):
    out = {}
    with open(full, "rb") as f:
        h = bytearray(f.read(0x2000))
        page = f.read(PAGE)
    base, = struct.unpack_from("<Q", h, 0x98)
    struct.pack_into("<IIQ", h, 0x88, 1, 0, 1)      # one run of one page
    struct.pack_into("<QQ", h, 0x98, base + 1, 1)
    struct.pack_into("<Q", h, 0xFA0, 0x2000 + PAGE)  # RequiredDumpSpace
    out["full.dmp"] = bytes(h) + page
    with open(bitmap, "rb") as f:
        h = bytearray(f.read(0x2000))
        bh = bytearray(f.read(0x38))
        first, present, bits = struct.unpack_from("<QQQ", bh, 0x20)
        f.seek(first)
        pages = f.read(2 * PAGE)
    bits = 128
    bmp = bytearray(16)
    bmp[0] = 0x05  # pages 0 and 2
    first = 0x3000
    struct.pack_into("<QQQ", bh, 0x20, first, 2, bits)
    body = bytes(h) + bytes(bh) + bytes(bmp)
    body += b"\0" * (first - len(body)) + pages
    struct.pack_into("<Q", h, 0xFA0, len(body))
    out["bitmap.dmp"] = bytes(h) + body[0x2000:]
    return out


def small_isf(isf_xz):
    with lzma.open(isf_xz) as f:
        t = json.load(f)
    keep_syms = ["KdDebuggerDataBlock", "KdpDataBlockEncoded", "KiWaitNever", "KiWaitAlways",
                 "KiProcessorBlock", "PsInitialSystemProcess", "KeNumberProcessors"]
    small = {
        "metadata": t.get("metadata", {}),
        "base_types": t.get("base_types", {}),
        "symbols": {k: t["symbols"][k] for k in keep_syms if k in t["symbols"]},
        "user_types": {},
        "enums": {},
    }
    for ty, fields in [("_KPRCB", ["Number", "Context", "ProcessorState"]), ("_KPCR", ["Prcb"]),
                       ("_EPROCESS", ["Pcb"]), ("_KPROCESS", ["DirectoryTableBase"])]:
        if ty in t["user_types"]:
            u = dict(t["user_types"][ty])
            u["fields"] = {k: v for k, v in u["fields"].items() if k in fields}
            small["user_types"][ty] = u
    text = json.dumps(small, separators=(",", ":")).encode()
    return text, lzma.compress(text, format=lzma.FORMAT_XZ, preset=1)


def discover_seed_x86(pae):
    """A synthetic 32-bit machine in 12 pages: non-PAE (PDE 0x300 self-map) or PAE (a PDPT whose top
    directory maps the four at 0xC0600000) tables mapping KUSER_SHARED_DATA (NT 6.1) at 0xFFDF0000 and a
    PE32 kernel at 0x80000000 whose RSDS names ntkrpamp.pdb; header flags 64 (32-bit) and 128 (PAE)."""
    kbase = 0x80000000
    mem = bytearray(12 * PAGE)
    d = lambda pa, v: struct.pack_into("<I", mem, pa, v)
    q = lambda pa, v: struct.pack_into("<Q", mem, pa, v)
    if pae:
        cr3 = 0x1020
        for i in range(4):                      # PDPT at 0x1020 -> PD0-PD3 at 0x2000-0x5000
            q(cr3 + 8 * i, (0x2000 + 0x1000 * i) | 1)
            q(0x5000 + 8 * i, (0x2000 + 0x1000 * i) | 3)
        q(0x5000 + 8 * 0x1FE, 0x6000 | 3)       # 0xFFC00000 -> PT
        q(0x6000 + 8 * 0x1F0, 0x7000 | 1)       # 0xFFDF0000 -> KUSER
        q(0x4000, 0x8000 | 3)                   # 0x80000000 -> PT
        q(0x8000, 0x9000 | 3)
    else:
        cr3 = 0x1000
        d(0x1000 + 4 * 0x300, 0x1000 | 3)
        d(0x1000 + 4 * 0x3FF, 0x6000 | 3)
        d(0x6000 + 4 * 0x1F0, 0x7000 | 1)
        d(0x1000 + 4 * 0x200, 0x8000 | 3)
        d(0x8000, 0x9000 | 3)
    struct.pack_into("<II", mem, 0x7000 + 0x26C, 6, 1)
    pe = 0x9000
    mem[pe:pe + 2] = b"MZ"
    struct.pack_into("<I", mem, pe + 0x3C, 0x80)
    o = pe + 0x80
    mem[o:o + 4] = b"PE\0\0"
    struct.pack_into("<HH", mem, o + 4, 0x14C, 1)
    struct.pack_into("<H", mem, o + 0x14, 0xE0)
    struct.pack_into("<H", mem, o + 0x18, 0x10B)
    struct.pack_into("<I", mem, o + 0x18 + 0x38, 0x1000)
    struct.pack_into("<I", mem, o + 0x18 + 0x5C, 16)
    struct.pack_into("<II", mem, o + 0x18 + 0x60 + 8 * 6, 0x400, 28)  # debug directory
    mem[o + 0xF8:o + 0x100] = b".text\0\0\0"
    struct.pack_into("<IIII", mem, pe + 0x400 + 0x0C, 2, 0x40, 0x500, 0x500)
    mem[pe + 0x500:pe + 0x504] = b"RSDS"
    mem[pe + 0x504:pe + 0x514] = bytes(range(16))
    struct.pack_into("<I", mem, pe + 0x514, 1)
    mem[pe + 0x518:pe + 0x525] = b"ntkrpamp.pdb\0"
    hdr = bytearray(0x58)
    struct.pack_into("<QQQQQ", hdr, 0, cr3, 0xFFDFF000, 0xFFDFF000, kbase + 0x800, kbase + 0x100)
    hdr[0x28] = 64 | (128 if pae else 0)
    struct.pack_into("<QQ", hdr, 0x30, 0, kbase)
    struct.pack_into("<IIIIII", hdr, 0x40, 0x600, 0x680, 0x690, 0x6A0, 0x6B0, 1)
    return bytes(hdr) + bytes(mem)


def discover_seed(truth):
    """A synthetic machine in 11 pages: PML4 (self-mapped) mapping KUSER_SHARED_DATA (NT 10.0) and a kernel
    PE at 0xfffff80000000000 whose RSDS names ntkrnlmp.pdb, with a plain KDBG on its second page."""
    kbase = 0xFFFFF80000000000
    mem = bytearray(11 * PAGE)
    q = lambda pa, v: struct.pack_into("<Q", mem, pa, v)
    q(0x1000 + 8 * 0x1ED, 0x1000 | 3)      # self-map
    q(0x1000 + 8 * 0x1EF, 0x3000 | 3)      # KUSER_SHARED_DATA half
    q(0x1000 + 8 * 0x1F0, 0x2000 | 3)      # kernel
    q(0x3000, 0x4000 | 3)
    q(0x4000, 0x5000 | 3)
    q(0x5000, 0x6000 | 3)
    struct.pack_into("<II", mem, 0x6000 + 0x26C, 10, 0)
    q(0x2000, 0x7000 | 3)
    q(0x7000, 0x8000 | 3)
    q(0x8000, 0x9000 | 3)
    q(0x8008, 0xA000 | 3)
    pe = 0x9000
    mem[pe:pe + 2] = b"MZ"
    struct.pack_into("<I", mem, pe + 0x3C, 0x80)
    o = pe + 0x80
    mem[o:o + 4] = b"PE\0\0"
    struct.pack_into("<HH", mem, o + 4, 0x8664, 1)
    struct.pack_into("<H", mem, o + 0x14, 0xF0)
    struct.pack_into("<H", mem, o + 0x18, 0x20B)
    struct.pack_into("<I", mem, o + 0x18 + 0x38, 0x2000)
    struct.pack_into("<I", mem, o + 0x18 + 0x6C, 16)
    struct.pack_into("<II", mem, o + 0x18 + 0x70 + 8 * 6, 0x400, 28)  # debug directory
    mem[o + 0x108:o + 0x110] = b".text\0\0\0"
    struct.pack_into("<II", mem, o + 0x110, 0x2000, 0x1000)
    struct.pack_into("<IIII", mem, pe + 0x400 + 0x0C, 2, 0x40, 0x500, 0x500)  # CodeView, size, rva
    mem[pe + 0x500:pe + 0x504] = b"RSDS"
    mem[pe + 0x504:pe + 0x514] = bytes(range(16))
    struct.pack_into("<I", mem, pe + 0x514, 1)
    mem[pe + 0x518:pe + 0x525] = b"ntkrnlmp.pdb\0"
    kd = 0xA000 + 0x100
    struct.pack_into("<QQ", mem, kd, kbase + 0x1100, kbase + 0x1100)
    mem[kd + 0x10:kd + 0x14] = b"KDBG"
    struct.pack_into("<I", mem, kd + 0x14, 0x380)
    struct.pack_into("<Q", mem, kd + 0x18, kbase)
    hdr = bytearray(0x58)
    struct.pack_into("<QQQQQ", hdr, 0, 0x1000, kbase + 0x3000, kbase + 0x3000, kbase + 0x10, kbase + 0x1000)
    hdr[0x28] = 0
    struct.pack_into("<QQ", hdr, 0x30, 0, kbase)
    struct.pack_into("<IIIIII", hdr, 0x40, 0x1100, 0x1080, 0x1090, 0x10A0, 0x10B0, 1)
    return bytes(hdr) + bytes(mem)


def vmware_seeds(truth):
    """State files from the factory's VMware writer over four pages of memory and the fixture's registers: a
    .vmss (its .vmem is not a seed: the fuzz target sees the state file only), a .vmsn with 32-bit block sizes
    and one register value per tag, and a .vmsn without regions."""
    sys.path.insert(0, os.path.join(SRC, "tests", "fixtures"))
    import writer_vmware as wv
    regs = [c["regs"] for c in truth["cpus"]]
    out = {}
    for name, split, magic, style, flat, runs in [
            ("split.vmss", True, "bed2bed2", "blocks", False, [(0, 2 * PAGE), (0x100000, PAGE), (1 << 32, PAGE)]),
            ("embedded-bed0bed0.vmsn", False, "bed0bed0", "values", False, [(0, 2 * PAGE), (1 << 32, PAGE)]),
            ("embedded-flat.vmsn", False, "bad1bad1", "blocks", True, [(0, 2 * PAGE), (0x3000, PAGE)])]:
        with tempfile.TemporaryDirectory() as d:
            state = os.path.join(d, name)
            sink = wv.VmwareSink(state, os.path.join(d, "m.vmem") if split else None, runs, regs,
                                 magic=wv.MAGICS[magic], cpu_style=style, flat=flat)
            for pa, n in runs:
                sink.run(pa, n)
                sink.data(bytes((pa >> 12) + i & 0xFF for i in range(n)))
            sink.close()
            with open(state, "rb") as f:
                out[name] = f.read()
    return out


def small_vbox(path, keep=PAGE):
    """The factory VirtualBox core (--format vbox): header, program headers, the VBCORE and VBCPU notes, each
    RAM PT_LOAD cut to keep bytes (offsets rewritten); the MMIO ones stay as written, without data."""
    with open(path, "rb") as f:
        data = f.read(1 << 20)
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phnum, = struct.unpack_from("<H", data, 0x38)
    phdrs = [struct.unpack_from("<IIQQQQQQ", data, phoff + 56 * i) for i in range(phnum)]
    note = next(p for p in phdrs if p[0] == 4)
    out = bytearray(data[:note[2] + note[5]])
    with open(path, "rb") as f:
        for i, (ptype, _fl, off, _va, pa, filesz, memsz, _al) in enumerate(phdrs):
            if ptype != 1 or filesz == 0:
                continue
            f.seek(off)
            struct.pack_into("<QQQQ", out, phoff + 56 * i + 8, len(out), 0, pa, min(filesz, keep))
            struct.pack_into("<Q", out, phoff + 56 * i + 0x28, min(memsz, keep))
            out += f.read(min(filesz, keep))
    return bytes(out)


def small_xen(path, keep=3):
    """The factory Xen dump-core (--format xen) with only its first keep pages and the padding page: headers,
    notes, vCPU contexts and shared info as written, .xen_pages/.xen_pfn/.shstrtab moved and resized."""
    with open(path, "rb") as f:
        data = f.read()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shnum, shstrndx = struct.unpack_from("<HH", data, 0x3C)
    sh = lambda i: struct.unpack_from("<IIQQQQIIQQ", data, shoff + 64 * i)
    strtab = data[sh(shstrndx)[4]:sh(shstrndx)[4] + sh(shstrndx)[5]]
    idx = {strtab[sh(i)[0]:strtab.index(b"\0", sh(i)[0])].decode(): i for i in range(shnum)}
    pages_off, pages_size = sh(idx[".xen_pages"])[4:6]
    pfn_off, pfn_size = sh(idx[".xen_pfn"])[4:6]
    pfns = [struct.unpack_from("<Q", data, pfn_off + 8 * i)[0] for i in range(pfn_size // 8)]
    chosen = list(range(keep)) + [i for i, p in enumerate(pfns) if p == (1 << 64) - 1][:1]
    out = bytearray(data[:pages_off])
    for i in chosen:
        out += data[pages_off + PAGE * i:pages_off + PAGE * (i + 1)]
    new_pfn = len(out)
    out += b"".join(struct.pack("<Q", pfns[i]) for i in chosen)
    new_str = len(out)
    out += strtab
    for name, off, size in ((".xen_pages", pages_off, PAGE * len(chosen)), (".xen_pfn", new_pfn, 8 * len(chosen)),
                            (".shstrtab", new_str, len(strtab))):
        struct.pack_into("<QQ", out, shoff + 64 * idx[name] + 0x18, off, size)
    notes_off = sh(idx[".note.Xen"])[4]
    struct.pack_into("<Q", out, notes_off + 16 + 16 + 0x10, len(chosen))   # the header note's page count
    return bytes(out)


def main():
    fx = sys.argv[1]
    if os.path.exists(os.path.join(fx, "memory-vbox.core")):
        put("fuzz_vbox", "fixture-head.core", small_vbox(os.path.join(fx, "memory-vbox.core")))
    if os.path.exists(os.path.join(fx, "memory-xen.core")):
        put("fuzz_xen", "fixture-pages.core", small_xen(os.path.join(fx, "memory-xen.core")))
    if os.path.exists(os.path.join(fx, "memory-nonotes.elf")):
        put("fuzz_qemu_elf", "no-notes.elf", small_elf(os.path.join(fx, "memory-nonotes.elf")))
    put("fuzz_qemu_elf", "fixture-head.elf", small_elf(os.path.join(fx, "memory.elf")))
    with open(os.path.join(fx, "memory.raw"), "rb") as f:
        put("fuzz_raw", "first-pages.raw", f.read(2 * PAGE))
    lime = small_lime(os.path.join(fx, "memory.lime"))
    put("fuzz_lime", "three-ranges.lime", lime)
    z = zlib.compressobj(6, zlib.DEFLATED, 11)  # LiME compress=1: windowBits 11, CMF 0x38
    put("fuzz_lime", "three-ranges.lime.z", z.compress(lime) + z.flush())
    for name, data in small_dumps(os.path.join(fx, "mem-full.dmp"), os.path.join(fx, "mem-bitmap.dmp")).items():
        put("fuzz_crashdump", name, data)
    with open(os.path.join(fx, "ntoskrnl.exe"), "rb") as f:
        put("fuzz_pe", "ntoskrnl.exe", f.read())
    kd = os.path.join(SRC, "tests", "data", "qemu", "seabios-32M-dump-guest-memory-z.kdump")
    if os.path.exists(kd):
        with open(kd, "rb") as f:
            put("fuzz_kdump", "seabios-head.kdump", f.read(24 * 1024))
    with open(os.path.join(fx, "truth.json")) as f:
        truth = json.load(f)
    put("fuzz_discover", "synthetic-machine.bin", discover_seed(truth))
    put("fuzz_discover", "synthetic-x86.bin", discover_seed_x86(False))
    put("fuzz_discover", "synthetic-x86-pae.bin", discover_seed_x86(True))
    for name, data in vmware_seeds(truth).items():
        put("fuzz_vmware", name, data)
    text, xz = small_isf(os.path.join(SRC, "tests", "data", "isf", truth["isf"] if "/" not in truth["isf"]
                                      else os.path.basename(truth["isf"])))
    put("fuzz_isf", "small.json", text)
    put("fuzz_isf", "small.json.xz", xz)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "rb") as f:
            put("fuzz_pdb", os.path.basename(sys.argv[2]), f.read())
    with open(os.path.join(fx, "ntkrnlmp.pdb"), "rb") as f:
        put("fuzz_pdb", "fixture-ntkrnlmp.pdb", f.read())


if __name__ == "__main__":
    main()
