# SPDX-License-Identifier: MIT
"""--rebuild-kdbg, --verify-kdbg and ISF-only symbols on fixtures from the factory.

- A KDBG that is zeroed, random, or has a forged OwnerTag makes a plain conversion fail with one line that
  suggests --rebuild-kdbg (and no output); with --rebuild-kdbg the block in the dump equals the factory's
  block field by field, wherever the rebuild says it derived the field; the rest is listed as underived.
- A plain block (the Windows 7 style) rebuilt from symbols equals the factory's block in every byte except
  the fields the rebuild lists, and verifies (exit 0).
- A tampered block (one pointer changed) makes --verify-kdbg exit 3 naming the field and both values, and
  the dump is still written; --info shows the verification. Without --verify-kdbg the same comparison is
  made: the conversion succeeds with one warning naming the field and both values, and the report lists
  it; an unusable block (converted with --rebuild-kdbg) is recorded as unverifiable, with one warning.
- An ISF describing the fixture's kernel (its RVAs from truth.json, its layouts from the real ISF the
  fixture copied them from) converts to the same dump, byte for byte, as the fixture's PDB.

The field table below is written from docs/reference/kdbg.md section 2, independently of
src/engine/kdbg_fields.c.
"""
import json
import lzma
import os
import shutil
import struct
import zipfile

import r2dtest as t

# _KDDEBUGGER_DATA64 (docs/reference/kdbg.md section 2): (name, offset, width). Pointer fields run in 8-byte
# steps from 0x38 to 0x290; u16 offsets and sizes follow.
POINTERS_038 = [
    "KiCallUserMode", "KeUserCallbackDispatcher", "PsLoadedModuleList", "PsActiveProcessHead", "PspCidTable",
    "ExpSystemResourcesList", "ExpPagedPoolDescriptor", "ExpNumberOfPagedPools", "KeTimeIncrement",
    "KeBugCheckCallbackListHead", "KiBugcheckData", "IopErrorLogListHead", "ObpRootDirectoryObject",
    "ObpTypeObjectType", "MmSystemCacheStart", "MmSystemCacheEnd", "MmSystemCacheWs", "MmPfnDatabase",
    "MmSystemPtesStart", "MmSystemPtesEnd", "MmSubsectionBase", "MmNumberOfPagingFiles", "MmLowestPhysicalPage",
    "MmHighestPhysicalPage", "MmNumberOfPhysicalPages", "MmMaximumNonPagedPoolInBytes", "MmNonPagedSystemStart",
    "MmNonPagedPoolStart", "MmNonPagedPoolEnd", "MmPagedPoolStart", "MmPagedPoolEnd", "MmPagedPoolInformation",
    "MmPageSize", "MmSizeOfPagedPoolInBytes", "MmTotalCommitLimit", "MmTotalCommittedPages", "MmSharedCommit",
    "MmDriverCommit", "MmProcessCommit", "MmPagedPoolCommit", "MmExtendedCommit", "MmZeroedPageListHead",
    "MmFreePageListHead", "MmStandbyPageListHead", "MmModifiedPageListHead", "MmModifiedNoWritePageListHead",
    "MmAvailablePages", "MmResidentAvailablePages", "PoolTrackTable", "NonPagedPoolDescriptor",
    "MmHighestUserAddress", "MmSystemRangeStart", "MmUserProbeAddress", "KdPrintCircularBuffer",
    "KdPrintCircularBufferEnd", "KdPrintWritePointer", "KdPrintRolloverCount", "MmLoadedUserImageList",
    "NtBuildLab", "KiNormalSystemCall", "KiProcessorBlock", "MmUnloadedDrivers", "MmLastUnloadedDriver",
    "MmTriageActionTaken", "MmSpecialPoolTag", "KernelVerifier", "MmVerifierData", "MmAllocatedNonPagedPool",
    "MmPeakCommitment", "MmTotalCommitLimitMaximum", "CmNtCSDVersion", "MmPhysicalMemoryBlock", "MmSessionBase",
    "MmSessionSize", "MmSystemParentTablePage", "MmVirtualTranslationBase",
]
U16_298 = [
    "OffsetKThreadNextProcessor", "OffsetKThreadTeb", "OffsetKThreadKernelStack", "OffsetKThreadInitialStack",
    "OffsetKThreadApcProcess", "OffsetKThreadState", "OffsetKThreadBStore", "OffsetKThreadBStoreLimit",
    "SizeEProcess", "OffsetEprocessPeb", "OffsetEprocessParentCID", "OffsetEprocessDirectoryTableBase",
    "SizePrcb", "OffsetPrcbDpcRoutine", "OffsetPrcbCurrentThread", "OffsetPrcbMhz", "OffsetPrcbCpuType",
    "OffsetPrcbVendorString", "OffsetPrcbProcStateContext", "OffsetPrcbNumber", "SizeEThread",
]
U16_2E0 = [
    "SizePcr", "OffsetPcrSelfPcr", "OffsetPcrCurrentPrcb", "OffsetPcrContainedPrcb", "OffsetPcrInitialBStore",
    "OffsetPcrBStoreLimit", "OffsetPcrInitialStack", "OffsetPcrStackLimit", "OffsetPrcbPcrPage",
    "OffsetPrcbProcStateSpecialReg",
]
GDT = ["GdtR0Code", "GdtR0Data", "GdtR0Pcr", "GdtR3Code", "GdtR3Data", "GdtR3Teb", "GdtLdt", "GdtTss",
       "Gdt64R3CmCode", "Gdt64R3CmTeb"]
P_308 = ["IopNumTriageDumpDataBlocks", "IopTriageDumpDataBlocks", "VfCrashDataBlock", "MmBadPagesDetected",
         "MmZeroedPageSingleBitErrorsDetected", "EtwpDebuggerData"]


def kdbg_table():
    f = [("List.Flink", 0x0, 8), ("List.Blink", 0x8, 8), ("OwnerTag", 0x10, 4), ("Size", 0x14, 4),
         ("KernBase", 0x18, 8), ("BreakpointWithStatus", 0x20, 8), ("SavedContext", 0x28, 8),
         ("ThCallbackStack", 0x30, 2), ("NextCallback", 0x32, 2), ("FramePointer", 0x34, 2),
         ("PaeEnabled", 0x36, 2)]
    f += [(n, 0x38 + 8 * i, 8) for i, n in enumerate(POINTERS_038)]
    f += [(n, 0x298 + 2 * i, 2) for i, n in enumerate(U16_298)]
    f += [("L1tfHighPhysicalBitIndex", 0x2C2, 1), ("L1tfSwizzleBitIndex", 0x2C3, 1), ("Padding0", 0x2C4, 4),
          ("KdPrintCircularBufferPtr", 0x2C8, 8), ("KdPrintBufferSize", 0x2D0, 8), ("KeLoaderBlock", 0x2D8, 8)]
    f += [(n, 0x2E0 + 2 * i, 2) for i, n in enumerate(U16_2E0)]
    f += [(n, 0x2F4 + 2 * i, 2) for i, n in enumerate(GDT)]
    f += [(n, 0x308 + 8 * i, 8) for i, n in enumerate(P_308)]
    f += [("OffsetPrcbContext", 0x338, 2), ("OffsetPrcbMaxBreakpoints", 0x33A, 2),
          ("OffsetPrcbMaxWatchpoints", 0x33C, 2), ("Padding", 0x33E, 2),
          ("OffsetKThreadStackLimit", 0x340, 4), ("OffsetKThreadStackBase", 0x344, 4),
          ("OffsetKThreadQueueListEntry", 0x348, 4), ("OffsetEThreadIrpList", 0x34C, 4),
          ("OffsetPrcbIdleThread", 0x350, 2), ("OffsetPrcbNormalDpcState", 0x352, 2),
          ("OffsetPrcbDpcStack", 0x354, 2), ("OffsetPrcbIsrStack", 0x356, 2), ("SizeKDPC_STACK_FRAME", 0x358, 2),
          ("OffsetKPriQueueThreadListHead", 0x35A, 2), ("OffsetKThreadWaitReason", 0x35C, 2),
          ("Padding", 0x35E, 2), ("PteBase", 0x360, 8), ("RetpolineStubFunctionTable", 0x368, 8),
          ("RetpolineStubFunctionTableSize", 0x370, 4), ("RetpolineStubOffset", 0x374, 4),
          ("RetpolineStubSize", 0x378, 4), ("OffsetEProcessMmHotPatchContext", 0x37C, 2), ("Padding", 0x37E, 2)]
    return f


TABLE = kdbg_table()
NAMES = {n for n, _, _ in TABLE}
# The table itself: in order, no gap, no overlap, ends at 0x380 (the largest Size in
# docs/reference/kdbg.md section 3).
_end = 0
for _n, _o, _w in TABLE:
    assert _o == _end, "test table: %s at 0x%x, expected 0x%x" % (_n, _o, _end)
    _end = _o + _w
assert _end == 0x380
assert dict((n, o) for n, o, _ in TABLE)["KiProcessorBlock"] == 0x218
assert dict((n, o) for n, o, _ in TABLE)["MmPhysicalMemoryBlock"] == 0x270
assert dict((n, o) for n, o, _ in TABLE)["SizePrcb"] == 0x2B0


def field(blob, off, width):
    return int.from_bytes(blob[off:off + width], "little")


def check_rebuilt_block(name, blob, truth, underived, image_usable):
    """blob: the KDBG as the dump holds it. Compare with the factory's block field by field."""
    want = bytes.fromhex(truth["kdbg"]["decoded_hex"])
    size = truth["kdbg"]["size"]
    if not t.check(blob is not None and len(blob) == size, "%s: KDBG pages in the dump" % name):
        return
    t.check(field(blob, 0x14, 4) == size, "%s: Size 0x%x (build %d)" % (name, size, truth["build"]))
    unknown = set(underived) - NAMES
    t.check(not unknown, "%s: underived names are KDBG fields: %s" % (name, sorted(unknown)))
    compared = 0
    for fname, off, width in TABLE:
        if off + width > size:
            continue
        got, exp = field(blob, off, width), field(want, off, width)
        if fname in underived:
            # Not derived: left 0 (List links: the block itself); the factory could not know it either,
            # except the GDT selectors, which only a usable image block gives.
            fallback = truth["kdbg"]["va"] if fname.startswith("List.") else 0
            t.check(got == fallback, "%s: underived %s left 0x%x (got 0x%x)" % (name, fname, fallback, got))
            t.check(exp == 0 or (fname in GDT and not image_usable),
                    "%s: %s underived although the fixture defines it (0x%x)" % (name, fname, exp))
        else:
            compared += 1
            t.check(got == exp, "%s: %s (+0x%x) = 0x%x (want 0x%x)" % (name, fname, off, got, exp))
    t.check(compared >= 60, "%s: %d fields compared" % (name, compared))
    for g in GDT:
        t.check((g in underived) == (not image_usable),
                "%s: %s %s" % (name, g, "copied from the image" if image_usable else "underived"))
    if image_usable:
        t.check(blob == want, "%s: rebuilt block equals the genuine one byte for byte" % name)


def convert(work, truth, out, *opts):
    report = out + ".report.json"
    for p in (out, report):
        if os.path.exists(p):
            os.unlink(p)
    p = t.raw2dmp(*opts, "--report", report, os.path.join(work, truth["formats"]["elf"]), out)
    rep = None
    if os.path.exists(report):
        with open(report) as f:
            rep = json.load(f)
    return p, rep


def check_flag(name, dump, truth, rep):
    kd = truth["kdbg"]
    with open(dump.path, "rb") as f:
        flag = dump.read_page(f, kd["flag_pa"] // t.PAGE)[kd["flag_pa"] % t.PAGE]
    if kd["flag_value"]:
        t.check(flag == 0, "%s: KdpDataBlockEncoded cleared" % name)
    else:
        t.check(flag == 0 and not any("KdpDataBlockEncoded" in p["reason"] for p in rep["plan"]["patches"]),
                "%s: KdpDataBlockEncoded untouched" % name)


def rebuild_case(isf, mode, seed):
    name = "%s-%s" % (isf[:8], mode)
    work = t.workdir("rebuild_kdbg-" + name)
    truth = t.make_fixture(work, isf=isf, seed=seed, cpus=2, formats="elf", extra=["--kdbg", mode])
    pdb = os.path.join(work, truth["pdb"]["path"])
    out = os.path.join(work, "memory.dmp")
    image_usable = mode == "plain"

    if not image_usable:
        p, _ = convert(work, truth, out, "--pdb", pdb)
        t.check(p.returncode == 1,
                "%s: without --rebuild-kdbg the conversion fails (exit %d)" % (name, p.returncode))
        t.check(p.stderr.count("\n") == 1 and "--rebuild-kdbg" in p.stderr and "KDBG" in p.stderr,
                "%s: one line suggesting --rebuild-kdbg: %r" % (name, p.stderr))
        t.check(not os.path.exists(out) and not [n for n in os.listdir(work) if n.endswith(".part")],
                "%s: no output left" % name)

    p, rep = convert(work, truth, out, "--pdb", pdb, "--rebuild-kdbg")
    if not t.check(p.returncode == 0 and rep, "%s: --rebuild-kdbg converts: %s" % (name, p.stderr.strip())):
        return truth, work
    v = rep.get("kdbg_verification", {})
    if image_usable:
        t.check(v.get("result") == "matches" and v.get("requested") is False,
                "%s: the rebuilt block matches the image's: %s" % (name, v))
    else:
        # Nothing to compare with: said once, recorded, and no failure since nobody asked for verification.
        t.check(v.get("result") == "unverifiable" and v.get("requested") is False and v.get("error"),
                "%s: the image's unusable block is recorded as unverifiable: %s" % (name, v))
        t.check(sum("KDBG not compared with the symbols" in l for l in p.stderr.splitlines()) == 1,
                "%s: one warning that the KDBG was not compared: %r" % (name, p.stderr))
    kd = rep["analysis"]["kdbg"]
    t.check(kd["mode"] == "rebuilt", "%s: report says rebuilt" % name)
    underived = kd.get("underived", [])
    dump = t.Dump(out)
    t.check(dump.fields["kdbg_va"] == truth["kdbg"]["va"], "%s: header KdDebuggerDataBlock" % name)
    check_rebuilt_block(name, t.kdbg_pages_plain(dump, truth), truth, underived, image_usable)
    t.check(bytes.fromhex(kd["bytes"]) == t.kdbg_pages_plain(dump, truth),
            "%s: report bytes = dump bytes" % name)
    check_flag(name, dump, truth, rep)
    _, problems = t.verify_pages(dump, t.Source(os.path.join(work, truth["formats"]["elf"]), "elf"),
                                 rep["plan"]["patches"])
    t.check(not problems, "%s: every page equals the source except patches: %s" % (name, problems[:5]))

    if image_usable:
        # A genuine block verifies: exit 0, "matches".
        vout = os.path.join(work, "verified.dmp")
        p, rep = convert(work, truth, vout, "--pdb", pdb, "--verify-kdbg")
        t.check(p.returncode == 0 and rep and rep["kdbg_verification"]["result"] == "matches",
                "%s: --verify-kdbg on a genuine block exits 0: %s" % (name, p.stderr.strip()))
    return truth, work


def tampered_case(isf, seed):
    name = "%s-tampered" % isf[:8]
    work = t.workdir("rebuild_kdbg-" + name)
    truth = t.make_fixture(work, isf=isf, seed=seed, cpus=2, formats="elf", extra=["--kdbg", "tampered"])
    pdb = os.path.join(work, truth["pdb"]["path"])
    src = os.path.join(work, truth["formats"]["elf"])
    out = os.path.join(work, "memory.dmp")
    tf = truth["kdbg"]["tampered_field"]
    p, rep = convert(work, truth, out, "--pdb", pdb, "--verify-kdbg")
    t.check(p.returncode == 3,
            "%s: --verify-kdbg exits 3 (got %d: %s)" % (name, p.returncode, p.stderr.strip()))
    last = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
    t.check("PsLoadedModuleList" in last and ("0x%x" % tf["image"]) in last and ("0x%x" % tf["original"]) in last,
            "%s: the error names the field with image and symbol values: %r" % (name, last))
    t.check(os.path.exists(out), "%s: the dump is still written" % name)
    if rep:
        v = rep.get("kdbg_verification", {})
        diffs = v.get("differences", [])
        t.check(v.get("result") == "differs" and len(diffs) == 1 and diffs[0]["field"] == "PsLoadedModuleList"
                and int(diffs[0]["offset"], 16) == tf["offset"] and int(diffs[0]["image"], 16) == tf["image"]
                and int(diffs[0]["symbols"], 16) == tf["original"],
                "%s: report lists exactly the tampered field: %s" % (name, diffs))
    # The dump carries the image's block as decoded (the tampered value), not a silent repair.
    dump = t.Dump(out)
    blob = t.kdbg_pages_plain(dump, truth)
    t.check(blob is not None and field(blob, tf["offset"], 8) == tf["image"],
            "%s: dump keeps the image's block" % name)

    # Without --verify-kdbg the comparison is made all the same (issue 12): the conversion succeeds with
    # one warning naming the field and both values, and the report lists the difference.
    p, rep = convert(work, truth, out, "--pdb", pdb)
    warn = [l for l in p.stderr.splitlines() if "KDBG" in l]
    t.check(p.returncode == 0 and os.path.exists(out),
            "%s: a tampered block converts without --verify-kdbg (exit %d: %s)" % (name, p.returncode, p.stderr))
    t.check(len(warn) == 1 and "PsLoadedModuleList (+0x%x)" % tf["offset"] in warn[0]
            and "image 0x%x" % tf["image"] in warn[0] and "symbols 0x%x" % tf["original"] in warn[0],
            "%s: one warning naming the field with both values: %r" % (name, p.stderr))
    v = (rep or {}).get("kdbg_verification", {})
    diffs = v.get("differences", [])
    t.check(v.get("requested") is False and v.get("result") == "differs" and len(diffs) == 1
            and diffs[0]["field"] == "PsLoadedModuleList" and int(diffs[0]["image"], 16) == tf["image"]
            and int(diffs[0]["symbols"], 16) == tf["original"] and rep.get("result") == "ok",
            "%s: the report lists the difference of a conversion that was not asked to verify: %s" % (name, v))

    # --info shows the verification, in text and in JSON, without an option.
    p = t.raw2dmp("--pdb", pdb, "--info", src)
    kdbg = [l for l in p.stdout.splitlines() if l.startswith("KDBG ")]
    diff = "  PsLoadedModuleList (+0x%x): image 0x%x, symbols 0x%x" % (tf["offset"], tf["image"], tf["original"])
    t.check(p.returncode == 0 and len(kdbg) == 1 and "1 field differs from the symbols" in kdbg[0]
            and (" " * 12 + diff) in p.stdout.splitlines(),
            "%s: --info shows the verification, naming the field: %r %s" % (name, p.stdout, p.stderr))
    p = t.raw2dmp("--pdb", pdb, "--info", "--json", src)
    if t.check(p.returncode == 0, "%s: --info --json" % name):
        v = json.loads(p.stdout).get("kdbg_verification", {})
        t.check(v.get("result") == "differs", "%s: --info --json verification result: %s" % (name, v))


def write_fixture_isf(work, truth):
    """A Volatility 3 style ISF of the fixture's kernel: GUID/age and RVAs from truth.json, layouts from the
    real ISF the fixture copied them from."""
    with lzma.open(os.path.join(t.ISF_DIR, os.path.basename(truth["isf"]))) as f:
        real = json.load(f)
    isf = {
        "metadata": {"format": "6.1.0", "producer": {"name": "raw2dmp-test", "version": "1"},
                     "windows": {"pdb": {"GUID": truth["pdb"]["guid"], "age": truth["pdb"]["age"],
                                         "database": truth["pdb"]["name"], "machine_type": 34404}}},
        "symbols": {n: {"address": rva} for n, rva in truth["symbols"].items()},
        "user_types": real["user_types"],
        "base_types": real["base_types"],
        "enums": real.get("enums", {}),
    }
    path = os.path.join(work, "fixture_isf.json.xz")
    with lzma.open(path, "wt") as f:
        json.dump(isf, f)
    return path


def isf_only_case(truth, work, name, *opts):
    """The same conversion with the fixture's PDB and with an ISF alone gives the same dump, byte for byte."""
    isf = write_fixture_isf(work, truth)
    pdb = os.path.join(work, truth["pdb"]["path"])
    a, b = os.path.join(work, "pdb.dmp"), os.path.join(work, "isf.dmp")
    pa, ra = convert(work, truth, a, "--pdb", pdb, *opts)
    pb, rb = convert(work, truth, b, "--symbols", isf, *opts)
    if not t.check(pa.returncode == 0 and pb.returncode == 0,
                   "%s: PDB and ISF-only conversions succeed: %s | %s" % (name, pa.stderr.strip(), pb.stderr.strip())):
        return
    t.check(rb["analysis"]["symbols"]["kind"] == "isf" and ra["analysis"]["symbols"]["kind"] == "pdb",
            "%s: the symbol kinds are as asked" % name)
    t.check(ra["analysis"]["kdbg"].get("underived") == rb["analysis"]["kdbg"].get("underived"),
            "%s: same underived fields" % name)
    with open(a, "rb") as fa, open(b, "rb") as fb:
        da, db = fa.read(), fb.read()
    # The header comment does not name the symbol source, so no byte is excluded.
    first = next((i for i in range(min(len(da), len(db))) if da[i] != db[i]), None)
    t.check(len(da) == len(db) and first is None,
            "%s: ISF-only dump equals the PDB dump byte for byte (sizes %d/%d, first difference at %s)"
            % (name, len(da), len(db), hex(first) if first is not None else "-"))


def va_to_pa(src, dtb, va):
    """A 4-level x64 walk over the source image (4 KiB, 2 MiB and 1 GiB pages)."""
    table = dtb
    for level, shift in enumerate((39, 30, 21, 12)):
        e = struct.unpack("<Q", src.read(table + ((va >> shift) & 0x1FF) * 8, 8))[0]
        assert e & 1, "VA 0x%x not mapped at level %d" % (va, level)
        if level in (1, 2) and e & 0x80:
            return (e & 0x000FFFFFFFFFF000 & ~((1 << shift) - 1)) | (va & ((1 << shift) - 1))
        table = e & 0x000FFFFFFFFFF000
    return table | (va & 0xFFF)


def patch_elf(path, src, truth, writes):
    """Write {va: bytes} into a copy of the fixture's ELF core (page by page, through the page tables)."""
    with open(path, "r+b") as f:
        for va, data in writes.items():
            for i, b in enumerate(data):
                pa = va_to_pa(src, truth["dtb"], va + i)
                seg = next(s for s in src.segs if s[0] <= pa < s[0] + s[1])
                f.seek(seg[2] + pa - seg[0])
                f.write(bytes([b]))


def list_links_case(truth, work):
    """The header links follow the list KdVersionBlock.DebuggerDataList heads (the factory's kernel heads it
    with the block itself): one entry, two entries, and a list that does not lead to the block."""
    import shutil
    kdbg = truth["kdbg"]["va"]
    base = truth["kernel_base"]
    head = base + truth["symbols"]["MmSystemCacheWs"]      # a 0x100-byte array in .data, free to reuse
    other = head + 0x40
    vb = truth["kd_version_block"]["va"]
    q = lambda *v: struct.pack("<%dQ" % len(v), *v)
    cases = [
        ("one entry", {vb + 0x20: q(head), head: q(kdbg, kdbg)}, (head, head), True),
        ("two entries", {vb + 0x20: q(head), head: q(other, kdbg), other: q(kdbg, head)}, (head, other), True),
        ("list without the block", {vb + 0x20: q(head), head: q(head, head)}, (kdbg, kdbg), False),
    ]
    orig = os.path.join(work, truth["formats"]["elf"])
    for what, writes, (flink, blink), derived in cases:
        name = "%s-zeroed list %s" % (truth["isf_guid"][:8], what)
        src_path = os.path.join(work, "list.elf")
        shutil.copyfile(orig, src_path)
        patch_elf(src_path, t.Source(orig, "elf"), truth, writes)
        out, report = os.path.join(work, "list.dmp"), os.path.join(work, "list.report.json")
        for p in (out, report):
            if os.path.exists(p):
                os.unlink(p)
        p = t.raw2dmp("--pdb", os.path.join(work, truth["pdb"]["path"]), "--rebuild-kdbg", "--report", report,
                      src_path, out)
        if not t.check(p.returncode == 0, "%s: converts: %s" % (name, p.stderr.strip())):
            continue
        with open(report) as f:
            underived = json.load(f)["analysis"]["kdbg"].get("underived", [])
        blob = t.kdbg_pages_plain(t.Dump(out), truth)
        got = (field(blob, 0, 8), field(blob, 8, 8))
        t.check(got == (flink, blink),
                "%s: Flink/Blink = 0x%x/0x%x (want 0x%x/0x%x)" % (name, got[0], got[1], flink, blink))
        t.check(("List.Flink" in underived) == (not derived) and ("List.Blink" in underived) == (not derived),
                "%s: links %s" % (name, "derived" if derived else "listed as underived"))


SEEDS = {t.ISF_19041: 21, t.ISF_22000: 22, t.ISF_17763: 23, t.ISF_7601: 24}
for isf in t.ALL_ISFS:
    for mode in ("zeroed", "garbage", "forged", "plain"):
        truth, work = rebuild_case(isf, mode, SEEDS[isf])
        if mode == "zeroed":
            isf_only_case(truth, work, "%s-zeroed ISF-only" % isf[:8], "--rebuild-kdbg")
            if isf == t.ISF_19041:
                list_links_case(truth, work)
        t.done()
for isf in (t.ISF_19041, t.ISF_7601):
    tampered_case(isf, SEEDS[isf] + 10)
    t.done()



def pack_case(truth, work):
    """--symbols names a Volatility 3 symbol directory or a windows.zip pack holding the fixture's table among
    the real ones: the right table is picked and the dump equals the one made with the table itself."""
    isf = write_fixture_isf(work, truth)
    stem = "%s-%d" % (truth["pdb"]["guid"].upper(), truth["pdb"]["age"])
    vol = os.path.join(work, "vol3-symbols")
    pdbdir = os.path.join(vol, "windows", "ntkrnlmp.pdb")
    os.makedirs(pdbdir, exist_ok=True)
    for real in t.ALL_ISFS:
        shutil.copy(os.path.join(t.ISF_DIR, real), pdbdir)
    shutil.copy(isf, os.path.join(pdbdir, stem + ".json.xz"))
    pack = os.path.join(work, "windows.zip")
    with zipfile.ZipFile(pack, "w") as z:
        for f in sorted(os.listdir(pdbdir)):
            z.write(os.path.join(pdbdir, f), "windows/ntkrnlmp.pdb/" + f)
    ref = os.path.join(work, "isf.dmp")
    pr, _ = convert(work, truth, ref, "--symbols", isf)
    for what, path, origin in (("directory", vol, os.path.join(pdbdir, stem + ".json.xz")),
                               ("zip", pack, pack + ":windows/ntkrnlmp.pdb/" + stem + ".json.xz")):
        out = os.path.join(work, "pack-%s.dmp" % what)
        p, rep = convert(work, truth, out, "--symbols", path)
        if not t.check(pr.returncode == 0 and p.returncode == 0, "--symbols %s: converts: %s" % (what, p.stderr.strip())):
            continue
        t.check(rep["analysis"]["symbols"]["origin"] == origin,
                "--symbols %s: the fixture's table is picked: %s" % (what, rep["analysis"]["symbols"]["origin"]))
        with open(ref, "rb") as fa, open(out, "rb") as fb:
            t.check(fa.read() == fb.read(), "--symbols %s: the dump equals the one made with the table itself" % what)
    # A pack without the kernel's table: the failure names the file to get.
    os.unlink(os.path.join(pdbdir, stem + ".json.xz"))
    p, _ = convert(work, truth, os.path.join(work, "missing.dmp"), "--symbols", vol)
    t.check(p.returncode == 1 and ("ntkrnlmp.pdb/%s.json.xz" % stem) in p.stderr,
            "--symbols directory without the table: exit 1 naming it: %r" % p.stderr)


# ISF-only without a rebuild: the default encoded block decodes the same way with either symbol source.
_work = t.workdir("rebuild_kdbg-isf-encoded")
_truth = t.make_fixture(_work, isf=t.ISF_22000, seed=31, cpus=2, formats="elf")
isf_only_case(_truth, _work, "0CE4A95C-encoded ISF-only")
pack_case(_truth, _work)
t.finish()
