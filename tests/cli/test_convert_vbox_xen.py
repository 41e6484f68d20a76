# SPDX-License-Identifier: MIT
"""VirtualBox cores (VBoxManage debugvm dumpvmcore), Xen dump-core files of HVM guests (xl dump-core) and ELF
cores with no notes, from the fixture factory (writer_vbox_xen.py), convert to crash dumps that pass the QEMU
ELF checks: header fields equal the ground truth, every page equals the source (read here with independent
parsers) except the reported patches, the KDBG reads back decoded, and each processor's CONTEXT holds its
vCPU's registers; the ELF without notes passes the register-free checks of the raw and LiME tests instead.
Auto-probing picks each reader, --info shows the format and the vCPUs, and truncated or corrupt files (notes
past the end, a PFN table shorter than .xen_pages, duplicate frames, ...) fail with one line, exit 1 and no
output."""
import json
import os
import shutil
import struct

import r2dtest as t

CASES = [
    # isf, seed, cpus, extra factory options
    (t.ISF_19041, 1, 1, []),
    (t.ISF_22000, 2, 2, ["--user-mode-cpu", "--saved-context", "all"]),
    (t.ISF_7601, 4, 2, ["--mem-mib", "64", "--above-4g", "32", "--pci-hole"]),
]
FORMATS = {"vbox": "vbox", "xen": "xen", "elf_nonotes": "elf"}   # fixture key -> expected --info format

CTX_FLAGS, CTX_MXCSR, CTX_SEGCS, CTX_SEGSS, CTX_RSP, CTX_RIP, CTX_FLTSAVE_MXCSR = 0x30, 0x34, 0x38, 0x42, 0x98, 0xF8, 0x118
PFN_INVALID = (1 << 64) - 1


# ---- independent readers of the sources

def xen_sections(data_head, f):
    """{name: (offset, size, entsize)} of a Xen dump-core file (ELF64 section headers, names from .shstrtab)."""
    shoff, = struct.unpack_from("<Q", data_head, 0x28)
    shnum, shstrndx = struct.unpack_from("<HH", data_head, 0x3C)
    f.seek(shoff)
    raw = f.read(64 * shnum)
    shdrs = [struct.unpack_from("<IIQQQQIIQQ", raw, 64 * i) for i in range(shnum)]
    f.seek(shdrs[shstrndx][4])
    strtab = f.read(shdrs[shstrndx][5])
    out = {}
    for name, _type, _fl, _addr, off, size, _l, _i, _al, ent in shdrs:
        out[strtab[name:strtab.index(b"\0", name)].decode()] = (off, size, ent)
    return out


class XenSource(t.Source):
    """Page i of .xen_pages is guest frame .xen_pfn[i]; frame ~0 is padding."""

    def __init__(self, path):
        self.f = open(path, "rb")
        secs = xen_sections(self.f.read(64), self.f)
        pages_off = secs[".xen_pages"][0]
        off, size, _ = secs[".xen_pfn"]
        self.f.seek(off)
        pfns = struct.unpack("<%dQ" % (size // 8), self.f.read(size))
        segs = []
        for i, pfn in enumerate(pfns):
            if pfn == PFN_INVALID:
                continue
            pa, off = pfn * t.PAGE, pages_off + i * t.PAGE
            if segs and segs[-1][0] + segs[-1][1] == pa and segs[-1][2] + segs[-1][1] == off:
                segs[-1][1] += t.PAGE              # consecutive pages of consecutive frames: one segment
            else:
                segs.append([pa, t.PAGE, off])
        self.segs = sorted(tuple(x) for x in segs)


def source_for(key, path):
    return XenSource(path) if key == "xen" else t.Source(path, "elf")   # VirtualBox: PT_LOADs, as any ELF


# ---- checks

def read_context(dump, f, cpu):
    data = b""
    for pg in cpu["context_pages"]:
        pfn = pg["pa"] // t.PAGE
        if pfn not in dump.page_offsets:
            return None
        data += dump.read_page(f, pfn)[pg["pa"] % t.PAGE:pg["pa"] % t.PAGE + pg["len"]]
    return data


def check_register_contexts(dump, truth, name):
    """Each processor's KPRCB.Context holds its vCPU's registers; the header context is processor 0's."""
    with open(dump.path, "rb") as f:
        for cpu in truth["cpus"]:
            j, regs = cpu["processor"], cpu["regs"]
            data = read_context(dump, f, cpu)
            if not t.check(data is not None, "%s: processor %d CONTEXT page in the dump" % (name, j)):
                continue
            u = lambda fmt, o: struct.unpack_from(fmt, data, o)[0]
            t.check(u("<Q", CTX_RIP) == regs["rip"] and u("<Q", CTX_RSP) == regs["rsp"],
                    "%s: processor %d CONTEXT Rip/Rsp are its vCPU's" % (name, j))
            t.check(u("<H", CTX_SEGCS) == regs["cs"] and u("<H", CTX_SEGSS) == regs["ss"],
                    "%s: processor %d CONTEXT SegCs/SegSs" % (name, j))
            t.check(u("<I", CTX_MXCSR) == u("<I", CTX_FLTSAVE_MXCSR) == 0x1F80, "%s: processor %d MxCsr copies" % (name, j))
            if j == 0:
                t.check(dump.fields["rip"] == regs["rip"], "%s: header ContextRecord is processor 0's (Rip)" % name)


def check_registerless_contexts(dump, truth, rep, name):
    """The raw/LiME rules: saved frames where plausible, else processor 0 minimal; the report says so."""
    facts = rep["plan"].get("facts", {})
    t.check("no CPU registers" in facts.get("contexts", ""), "%s: the report says the contexts had no registers: %r"
            % (name, facts.get("contexts")))
    reasons = [p["reason"] for p in rep["plan"]["patches"]]
    with open(dump.path, "rb") as f:
        for cpu in truth["cpus"]:
            j, saved = cpu["processor"], cpu.get("saved_context")
            data = read_context(dump, f, cpu)
            if not t.check(data is not None, "%s: processor %d CONTEXT page in the dump" % (name, j)):
                continue
            u = lambda fmt, o: struct.unpack_from(fmt, data, o)[0]
            if saved and saved["plausible"]:
                t.check(u("<Q", CTX_RIP) == saved["rip"] and u("<Q", CTX_RSP) == saved["rsp"],
                        "%s: processor %d CONTEXT is its saved frame" % (name, j))
                t.check(any(r.startswith("processor %d CONTEXT (saved" % j) for r in reasons),
                        "%s: processor %d saved-context patch reported" % (name, j))
            elif j == 0:
                t.check(u("<H", CTX_SEGCS) == 0x10 and u("<Q", CTX_RIP) == 0, "%s: processor 0 minimal CONTEXT" % name)
                t.check("processor 0 CONTEXT (minimal)" in reasons, "%s: minimal context patch reported" % name)


def convert(work, truth, key):
    """Convert one container; returns (dump, report, stderr) or Nones."""
    name = "%s %s" % (os.path.basename(work), key)
    src = os.path.join(work, truth["formats"][key])
    out = os.path.join(work, key + ".dmp")
    report = os.path.join(work, key + ".json")
    p = t.raw2dmp("-v", "--pdb", os.path.join(work, truth["pdb"]["path"]), "--report", report, src, out, check_rc=0)
    if not t.check(p.returncode == 0, "%s: conversion succeeds" % name):
        return None, None, p.stderr
    with open(report) as f:
        rep = json.load(f)
    dump = t.Dump(out)
    t.check(rep["input"]["format"] == FORMATS[key], "%s: auto-probing chose %s: %r" % (name, FORMATS[key],
                                                                                       rep["input"]["format"]))
    t.check_header(dump, truth, name)
    t.check(dump.fields["dump_type"] == 1, "%s: DumpType 1" % name)
    t.check(dump.fields["required_dump_space"] == dump.size == dump.data_end, "%s: RequiredDumpSpace = file size" % name)
    t.check(set(dump.page_offsets) == t.true_pfns(truth["runs"]), "%s: dump pages are exactly the RAM runs" % name)
    compared, problems = t.verify_pages(dump, source_for(key, src), rep["plan"]["patches"])
    t.check(compared > 0 and not problems, "%s: every page equals the source except patches: %s" % (name, problems[:5]))
    kdbg = t.kdbg_pages_plain(dump, truth)
    t.check(kdbg is not None and kdbg.hex() == truth["kdbg"]["decoded_hex"], "%s: KDBG reads back decoded" % name)
    t.check(rep["analysis"]["kernel"]["base"] == hex(truth["kernel_base"]), "%s: kernel base" % name)
    return dump, rep, p.stderr


def check_info(work, truth, key):
    """--info names the format and lists the vCPUs with their registers, in the file's order."""
    name = "%s %s --info" % (os.path.basename(work), key)
    p = t.raw2dmp("--info", "--json", "--offline", os.path.join(work, truth["formats"][key]))
    try:
        info = json.loads(p.stdout)["input"]
    except ValueError:
        t.check(False, "%s: JSON output: %r" % (name, p.stdout[-300:] + p.stderr[-300:]))
        return
    t.check(info["format"] == FORMATS[key], "%s: format %s" % (name, info["format"]))
    want = [] if key == "elf_nonotes" else [c["regs"] for c in truth["cpus"]]
    t.check(len(info["cpus"]) == len(want), "%s: %d vCPUs (want %d)" % (name, len(info["cpus"]), len(want)))
    for k, (got, regs) in enumerate(zip(info["cpus"], want)):
        t.check(int(got["rip"], 16) == regs["rip"] and int(got["cr3"], 16) == regs["cr3"] and
                int(got["gs_base"], 16) == regs["gs_base"] and int(got["kernel_gs_base"], 16) == regs["kernel_gs_base"],
                "%s: vCPU %d registers (RIP, CR3, GS base, kernel GS base): %r" % (name, k, got))
    if key == "vbox":
        t.check(info["notes"].get("vbox.format_version") == "0x00010006", "%s: format version noted" % name)
        t.check("0xa0000-0xbffff" in info["notes"].get("vbox.mmio_skipped", ""), "%s: MMIO ranges listed" % name)
    if key == "xen":
        t.check("HVM" in info["notes"].get("xen.guest", ""), "%s: HVM guest noted" % name)
        t.check("1 padding pages" in info["notes"].get("xen.pages", ""), "%s: padding page noted" % name)


def convert_case(isf, seed, cpus, extra):
    work = t.workdir("convert_vbox_xen-%s-seed%d-cpus%d" % (isf[:8], seed, cpus))
    truth = t.make_fixture(work, isf=isf, seed=seed, cpus=cpus, formats="vbox,xen,elf_nonotes", extra=extra)
    for key in ("vbox", "xen"):
        dump, rep, _ = convert(work, truth, key)
        if dump:
            check_register_contexts(dump, truth, "%s %s" % (os.path.basename(work), key))
            t.check("CR3 of CPU" in rep["analysis"]["dtb_how"], "%s %s: DTB from a vCPU's CR3: %s"
                    % (work, key, rep["analysis"]["dtb_how"]))
        check_info(work, truth, key)
    dump, rep, stderr = convert(work, truth, "elf_nonotes")
    if dump:
        name = "%s elf_nonotes" % os.path.basename(work)
        check_registerless_contexts(dump, truth, rep, name)
        t.check("self-referencing PML4" in rep["analysis"]["dtb_how"], "%s: DTB found without registers: %s"
                % (name, rep["analysis"]["dtb_how"]))
        t.check("cross-checked" in rep["plan"]["facts"].get("ram_source", ""), "%s: runs cross-checked" % name)
        warn = [l for l in stderr.splitlines() if "no CPU register notes" in l]
        t.check(len(warn) == 1 and "warning" in warn[0] and "without registers" in warn[0],
                "%s: one warning says the registers are missing: %r" % (name, warn))
    check_info(work, truth, "elf_nonotes")
    for key in ("vbox", "xen", "elf_nonotes"):
        for n in (key + ".dmp",):
            if os.path.exists(os.path.join(work, n)):
                os.unlink(os.path.join(work, n))
    return work, truth


# ---- refusals

def must_fail(path, name, needle, args=()):
    out = os.path.join(os.path.dirname(path), "fail.dmp")
    p = t.raw2dmp(*args, path, out)
    lines = [l for l in p.stderr.splitlines() if l.strip() and "warning:" not in l]
    ok = t.check(p.returncode == 1, "%s: exit code 1 (got %d)" % (name, p.returncode))
    ok &= t.check(len(lines) == 1 and path in lines[0] and needle in lines[0],
                  "%s: one error line naming the file and saying %r: %r" % (name, needle, p.stderr[-500:]))
    ok &= t.check(not os.path.exists(out), "%s: no output left" % name)
    ok &= t.check(not [n for n in os.listdir(os.path.dirname(path)) if n.endswith(".part")], "%s: no temporary" % name)
    return ok


def patched(src, dst, edits, size=None):
    """Copy src to dst (sparse-friendly), cut to size, apply {offset: bytes} edits."""
    with open(src, "rb") as f, open(dst, "wb") as g:
        shutil.copyfileobj(f, g)
        if size is not None:
            g.truncate(size)
        for off, b in edits.items():
            g.seek(off)
            g.write(b)
    return dst


def vbox_layout(path):
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    phoff, = struct.unpack_from("<Q", head, 0x20)
    phnum, = struct.unpack_from("<H", head, 0x38)
    phdrs = [struct.unpack_from("<IIQQQQQQ", head, phoff + 56 * i) for i in range(phnum)]
    note = next(p for p in phdrs if p[0] == 4)
    loads = [(i, p) for i, p in enumerate(phdrs) if p[0] == 1 and p[5]]   # RAM ranges: (index, header)
    return phoff, phnum, note, loads


def vbox_refusals(work, truth):
    src = os.path.join(work, truth["formats"]["vbox"])
    d = t.workdir("convert_vbox_xen-bad-vbox")
    phoff, phnum, note, loads = vbox_layout(src)
    note_off, note_size = note[2], note[5]
    # truncations at every structure: ELF header, program headers, note headers, descriptor, CPU note, data
    cuts = [1, 40, phoff + 20, phoff + 56 * phnum - 4, note_off + 6, note_off + 30, note_off + 60,
            note_off + note_size - 8, loads[0][1][2] + 100, loads[-1][1][2] + loads[-1][1][5] - 1]
    for cut in cuts:
        must_fail(patched(src, os.path.join(d, "cut.core"), {}, cut), "VirtualBox core cut at 0x%x" % cut,
                  "cut.core")
    # the PT_NOTE reaching past the end of the file
    big = struct.pack("<Q", 1 << 40)
    must_fail(patched(src, os.path.join(d, "notes.core"), {phoff + 0x20: big, phoff + 0x28: big}),
              "VirtualBox PT_NOTE past the end", "runs past end of file")
    # a CPU note whose size runs past its segment
    cpu_note = note_off + 12 + 8 + 24
    must_fail(patched(src, os.path.join(d, "cpunote.core"), {cpu_note + 4: struct.pack("<I", 0x100000)}),
              "VBCPU note past its segment", "runs past the end of PT_NOTE segment 0")
    # the descriptor counts a CPU too many
    ncpus_off = note_off + 12 + 8 + 0x14
    must_fail(patched(src, os.path.join(d, "ncpus.core"), {ncpus_off: struct.pack("<I", len(truth["cpus"]) + 1)}),
              "descriptor CPU count", "VBCPU notes")
    # two RAM ranges at one physical address
    second, first_pa = loads[1][0], loads[0][1][4]
    must_fail(patched(src, os.path.join(d, "overlap.core"), {phoff + 56 * second + 0x18: struct.pack("<Q", first_pa)}),
              "overlapping PT_LOADs", "overlap")
    # read as QEMU's ELF, a VirtualBox core says which reader it needs
    must_fail(src, "--input-format elf on a VirtualBox core", "--input-format vbox", ("--input-format", "elf"))
    # an unknown format version: converted without registers, with a warning
    old = patched(src, os.path.join(d, "old.core"), {note_off + 12 + 8 + 4: struct.pack("<I", 0x00010000)})
    out = os.path.join(d, "old.dmp")
    p = t.raw2dmp("--pdb", os.path.join(work, truth["pdb"]["path"]), old, out)
    t.check(p.returncode == 0 and os.path.exists(out), "VirtualBox format 0x00010000: converted: %s" % p.stderr[-400:])
    t.check("0x00010000" in p.stderr and "without registers" in p.stderr,
            "VirtualBox format 0x00010000: a warning says the CPU notes are not decoded: %r" % p.stderr[-400:])
    t.done(d)


def xen_refusals(work, truth):
    src = os.path.join(work, truth["formats"]["xen"])
    d = t.workdir("convert_vbox_xen-bad-xen")
    with open(src, "rb") as f:
        head = f.read(64)
        secs = xen_sections(head, f)
    shoff, = struct.unpack_from("<Q", head, 0x28)
    names = list(secs)   # in section header order, the null section first
    pages_off, pages_size, _ = secs[".xen_pages"]
    pfn_off, pfn_size, _ = secs[".xen_pfn"]
    cuts = [1, 60, shoff + 64 * 2 + 10, secs[".note.Xen"][0] + 20, secs[".note.Xen"][0] + 40,
            secs[".xen_prstatus"][0] + 0x300, pages_off + 5000, pfn_off + 12, pfn_off + pfn_size + 3]
    for cut in cuts:
        must_fail(patched(src, os.path.join(d, "cut.core"), {}, cut), "Xen core cut at 0x%x" % cut, "cut.core")
    shdr = lambda name: shoff + 64 * names.index(name)
    # a PFN table shorter than .xen_pages
    must_fail(patched(src, os.path.join(d, "short.core"), {shdr(".xen_pfn") + 0x20: struct.pack("<Q", pfn_size - 16)}),
              "PFN table shorter than .xen_pages", "shorter than .xen_pages")
    # two pages claiming one frame
    with open(src, "rb") as f:
        f.seek(pfn_off + 8 * 3)
        frame3 = f.read(8)
    must_fail(patched(src, os.path.join(d, "dup.core"), {pfn_off + 8 * 7: frame3}), "duplicate PFNs",
              "both give frame 0x%x" % struct.unpack("<Q", frame3)[0])
    # the notes reaching past the end of the file
    must_fail(patched(src, os.path.join(d, "notes.core"), {shdr(".note.Xen") + 0x20: struct.pack("<Q", 1 << 40)}),
              "Xen notes past the end", "runs past end of file")
    # a PV guest's file
    hdr_magic = secs[".note.Xen"][0] + 16 + 16
    must_fail(patched(src, os.path.join(d, "pv.core"), {hdr_magic: struct.pack("<Q", 0xF00FEBED)}),
              "PV guest", "paravirtualised")
    # the header counting a vCPU more than .xen_prstatus holds
    must_fail(patched(src, os.path.join(d, "vcpus.core"), {hdr_magic + 8: struct.pack("<Q", len(truth["cpus"]) + 1)}),
              "vCPU count", ".xen_prstatus")
    t.done(d)


if __name__ == "__main__":          # the checks above are shared with test_convert_hiberfil.py
    first = None
    for case in CASES:
        work, truth = convert_case(*case)
        if first:
            t.done(work)
        first = first or (work, truth)
    vbox_refusals(*first)
    xen_refusals(*first)
    t.finish()
