# SPDX-License-Identifier: MIT
"""Windows hibernation files from the fixture factory (writer_hiberfil.py), in the Windows 7 and Windows 10/11
layouts, compressed with Xpress LZ77 and Xpress Huffman, with and without processor state, convert to crash
dumps that pass the other formats' checks: header fields equal the ground truth, the dump's pages are exactly
the RAM runs and each equals the same page of the factory's raw image (memory.raw, written in the same pass)
except the reported patches, the KDBG reads back decoded, processor 0's CONTEXT holds the saved registers (or,
without processor state, the register-free rules apply). Auto-probing picks the reader; --info shows the
signature, layout, Windows version, page count and compression; a zeroed header, an unknown layout and
hostile tables fail with one line, exit 1 and no output."""
import json
import os
import struct

import r2dtest as t
import test_convert_vbox_xen as vx

CASES = [
    # name, isf, seed, cpus, extra factory options, (win7 expected, win10 expected) compression words
    ("lz77", t.ISF_19041, 1, 1, ["--fill", "zero", "--hiber-compress", "lz77"], ("Xpress LZ77", "Xpress LZ77")),
    ("huffman", t.ISF_22000, 2, 2, ["--fill", "zero", "--hiber-compress", "huffman", "--hiber-signature", "wake"],
     ("Xpress LZ77", "Xpress Huffman")),
    ("nostate", t.ISF_19041, 3, 2, ["--fill", "zero", "--hiber-compress", "mixed", "--hiber-no-state",
                                    "--saved-context", "all"], ("Xpress LZ77", "Xpress Huffman")),
    ("random7601", t.ISF_7601, 4, 2, ["--mem-mib", "64", "--above-4g", "32", "--pci-hole"], ("stored", "stored")),
]
LAYOUTS = {"hiber7": ("0x128", "Windows 7"), "hiber10": (None, "Windows 10")}


def check_processor0(dump, truth, name):
    """The saved processor state is processor 0's: its CONTEXT holds those registers; the header's too."""
    cpu = next(c for c in truth["cpus"] if c["processor"] == 0)
    regs = cpu["regs"]
    with open(dump.path, "rb") as f:
        data = vx.read_context(dump, f, cpu)
    if not t.check(data is not None, "%s: processor 0 CONTEXT page in the dump" % name):
        return
    u = lambda fmt, o: struct.unpack_from(fmt, data, o)[0]
    t.check(u("<Q", vx.CTX_RIP) == regs["rip"] and u("<Q", vx.CTX_RSP) == regs["rsp"],
            "%s: processor 0 CONTEXT Rip/Rsp are the saved state's" % name)
    t.check(u("<H", vx.CTX_SEGCS) == regs["cs"] and u("<H", vx.CTX_SEGSS) == regs["ss"],
            "%s: processor 0 CONTEXT SegCs/SegSs" % name)
    t.check(dump.fields["rip"] == regs["rip"], "%s: header ContextRecord is processor 0's (Rip)" % name)


def convert(work, truth, key):
    name = "%s %s" % (os.path.basename(work), key)
    src = os.path.join(work, truth["formats"][key])
    out = os.path.join(work, key + ".dmp")
    report = os.path.join(work, key + ".json")
    p = t.raw2dmp("-v", "--pdb", os.path.join(work, truth["pdb"]["path"]), "--report", report, src, out, check_rc=0)
    if not t.check(p.returncode == 0, "%s: conversion succeeds" % name):
        return None, None
    with open(report) as f:
        rep = json.load(f)
    dump = t.Dump(out)
    t.check(rep["input"]["format"] == "hiberfil", "%s: auto-probing chose hiberfil: %r" % (name, rep["input"]["format"]))
    t.check_header(dump, truth, name)
    t.check(dump.fields["dump_type"] == 1, "%s: DumpType 1" % name)
    t.check(set(dump.page_offsets) == t.true_pfns(truth["runs"]), "%s: dump pages are exactly the RAM runs" % name)
    compared, problems = t.verify_pages(dump, t.Source(os.path.join(work, truth["formats"]["raw"]), "raw"),
                                        rep["plan"]["patches"])
    t.check(compared > 0 and not problems, "%s: every page equals the source except patches: %s" % (name, problems[:5]))
    kdbg = t.kdbg_pages_plain(dump, truth)
    t.check(kdbg is not None and kdbg.hex() == truth["kdbg"]["decoded_hex"], "%s: KDBG reads back decoded" % name)
    t.check(rep["analysis"]["kernel"]["base"] == hex(truth["kernel_base"]), "%s: kernel base" % name)
    return dump, rep


def check_info(work, truth, key, compression):
    name = "%s %s --info" % (os.path.basename(work), key)
    path = os.path.join(work, truth["formats"][key])
    p = t.raw2dmp("--info", "--offline", "--pdb", os.path.join(work, truth["pdb"]["path"]), path)
    sig = truth["options"].get("hiber_signature", "HIBR")
    info = truth["hiberfil"][key]
    want = ["Hibernation signature", "page sets", compression, LAYOUTS[key][1] if key == "hiber7" else "Windows 1",
            "header length 0x%x" % info["length_self"]]
    for w in want:
        t.check(w in p.stdout, "%s: the summary shows %r: %r" % (name, w, p.stdout[:900]))
    pages = sum(s["pages"] for s in info["sets"])
    t.check("pages: %d in %d page sets" % (pages, len(info["sets"])) in p.stdout,
            "%s: page and set counts (%d in %d)" % (name, pages, len(info["sets"])))
    t.check(sig in p.stdout.split("Hibernation signature ", 1)[-1][:8], "%s: signature %s shown" % (name, sig))


def convert_case(label, isf, seed, cpus, extra, compression):
    work = t.workdir("convert_hiberfil-%s" % label)
    truth = t.make_fixture(work, isf=isf, seed=seed, cpus=cpus, formats="raw,hiber7,hiber10", extra=extra)
    truth["options"]["hiber_signature"] = extra[extra.index("--hiber-signature") + 1] if "--hiber-signature" in extra \
        else "HIBR"
    state = "--hiber-no-state" not in extra
    for key, comp in zip(("hiber7", "hiber10"), compression):
        name = "%s %s" % (os.path.basename(work), key)
        dump, rep = convert(work, truth, key)
        if dump and state:
            check_processor0(dump, truth, name)
            t.check("CR3 of CPU" in rep["analysis"]["dtb_how"], "%s: DTB from the saved CR3: %s"
                    % (name, rep["analysis"]["dtb_how"]))
        elif dump:
            vx.check_registerless_contexts(dump, truth, rep, name)
        check_info(work, truth, key, comp)
        for n in (key + ".dmp",):
            if os.path.exists(os.path.join(work, n)):
                os.unlink(os.path.join(work, n))
    return work, truth


# ---- refusals

def refusals(work, truth):
    d = t.workdir("convert_hiberfil-bad")
    w10 = os.path.join(work, truth["formats"]["hiber10"])
    w7 = os.path.join(work, truth["formats"]["hiber7"])
    i10, i7 = truth["hiberfil"]["hiber10"], truth["hiberfil"]["hiber7"]
    size10 = os.path.getsize(w10)
    # Windows clears the header after resume: a named input format gets the reason
    vx.must_fail(vx.patched(w10, os.path.join(d, "zeroed.sys"), {0: bytes(4096)}), "zeroed header",
                 "holds no hibernation image", ("--input-format", "hiberfil"))
    vx.must_fail(vx.patched(w10, os.path.join(d, "unknown.sys"), {0x0C: struct.pack("<I", 0x3F0)}), "unknown layout",
                 "length 0x3f0")
    vx.must_fail(vx.patched(w10, os.path.join(d, "x86.sys"), {0x0C: struct.pack("<I", 0x310)}), "32-bit layout",
                 "32-bit")
    s1 = i10["sets"][1]
    # a frame past 2^40
    vx.must_fail(vx.patched(w10, os.path.join(d, "pfn.sys"), {s1["offset"] + 4: struct.pack("<Q", (1 << 44) | 0xF)}),
                 "frame past 2^40", "52-bit")
    # a compressed size past the end of the file (the last set's)
    last = i10["sets"][-1]
    word = struct.pack("<I", 1 | (0x3FFFFF << 8))
    vx.must_fail(vx.patched(w10, os.path.join(d, "size.sys"), {last["offset"]: word}), "set size past EOF",
                 "runs past end of file")
    # two sets giving the same frames: overlapping runs
    with open(w10, "rb") as f:
        f.seek(i10["sets"][0]["offset"] + 4)
        first_desc = f.read(8)
    vx.must_fail(vx.patched(w10, os.path.join(d, "overlap.sys"), {s1["offset"] + 4: first_desc}), "overlapping pages",
                 "overlap")
    # a set that does not decode to its pages: found while converting
    comp = next(s for s in i10["sets"] if s["method"] != "stored" and s["size"] > 64)
    vx.must_fail(vx.patched(w10, os.path.join(d, "garbled.sys"), {comp["offset"] + 4 + 8 + 2: b"\xff" * 48}),
                 "garbled set", "garbled.sys")
    # Windows 7: a table that links to itself, a block without its signature
    tab = i7["tables"][0]["page"] * 4096
    vx.must_fail(vx.patched(w7, os.path.join(d, "loop7.sys"), {tab: struct.pack("<Q", i7["tables"][0]["page"])}),
                 "Windows 7 table loop", "links back")
    vx.must_fail(vx.patched(w7, os.path.join(d, "magic7.sys"), {i7["sets"][3]["offset"]: b"XXXXXXXX"}),
                 "Windows 7 block signature", "Xpress block signature")
    # cuts: header, inside the boot set, inside the kernel set
    for cut in (100, i10["first_boot"] * 4096 + 6, size10 - 4096 * 2 + 10):
        vx.must_fail(vx.patched(w10, os.path.join(d, "cut.sys"), {}, cut), "hiberfil cut at 0x%x" % cut, "cut.sys")
    t.done(d)


first = None
for case in CASES:
    work, truth = convert_case(*case)
    if first:
        t.done(work)
    first = first or (work, truth)
refusals(*first)
t.finish()
