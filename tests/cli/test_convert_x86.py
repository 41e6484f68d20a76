# SPDX-License-Identifier: MIT
"""32-bit Windows guests end to end: for each 32-bit layout (XP non-PAE, 7 non-PAE and PAE, 10 PAE) the
factory's ELF (EM_386), raw and LiME images convert to PAGEDUMP dumps whose every header field equals
truth.json, whose every page equals the source except the reported patches, whose KDBG reads back decoded,
and whose per-processor x86 CONTEXTs hold each vCPU's registers (ELF; raw and LiME have none). The dump is
read by the independent reader in r2dtest.py (Dump32) and by raw2dmp --info."""
import json
import os
import struct
import subprocess
import sys

import r2dtest as t

ISF32 = os.path.join(t.SRC, "tests", "data", "isf32")
CASES = [
    # name, isf, --pae/--no-pae, cpus, seed, extra factory options, hypervisor formats of the same guest
    ("xp-nopae", "32962337F0F646388B39535CD8DD70E8-2.json.xz", "--no-pae", 2, 1, ["--saved-context", "all"],
     ("vmsn", "xen")),
    ("w7-nopae", "vol2-win7_sp1_x86.json.xz", "--no-pae", 2, 2, ["--vmware-cpu", "values"], ("vmss", "vbox")),
    ("w7-pae", "vol2-win7_sp1_x86.json.xz", "--pae", 3, 3, ["--user-mode-cpu", "--saved-context", "some"],
     ("vbox", "xen")),
    ("w10-pae", "vol2-win10_x86_19041.json.xz", "--pae", 4, 4, ["--saved-context", "all"], ("vmss", "vbox", "xen")),
    # PAE reaches RAM above 4 GiB: the CONTEXT areas live there, the ELF is ELFCLASS64, PFNs pass 2^20
    ("w10-pae-4g", "vol2-win10_x86_19041.json.xz", "--pae", 2, 5, ["--above-4g", "16", "--kdbg", "plain",
     "--vmware-magic", "bed0bed0"], ("vmsn", "vbox", "xen")),
]
FORMATS = ("elf", "raw", "lime")
# VMware, VirtualBox and Xen state of the same guest carry registers (64-bit slots, long mode off); their pages
# are checked against the raw image of the same machine, written in the same pass.
REGISTER_FORMATS = ("elf", "vmss", "vmsn", "vbox", "xen")
# x86 CONTEXT offsets (context_x86.h; Microsoft's CONTEXT (x86 32-bit) member order)
C_FLAGS, C_EDI, C_ESI, C_EBX, C_EDX, C_ECX, C_EAX, C_EBP, C_EIP, C_CS, C_EFL, C_ESP, C_SS = (
    0x0, 0x9C, 0xA0, 0xA4, 0xA8, 0xAC, 0xB0, 0xB4, 0xB8, 0xBC, 0xC0, 0xC4, 0xC8)
C_GS, C_FS, C_ES, C_DS = 0x8C, 0x90, 0x94, 0x98


def make_fixture32(work, isf, pae, cpus, seed, extra, more=()):
    cache = os.path.join(t.BUILD, "tests-work", "fixture-cache")
    os.makedirs(cache, exist_ok=True)
    cmd = [sys.executable, os.path.join(t.SRC, "tests", "fixtures", "mkfixture.py"), "--arch", "x86", pae,
           "--isf", os.path.join(ISF32, isf), "--out", work, "--seed", str(seed), "--cpus", str(cpus),
           "--format", ",".join(FORMATS + tuple(more)), "--cache", cache] + extra
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(work, "truth.json")) as f:
        return json.load(f)


def read_va(dump, f, pages):
    data = b""
    for pg in pages:
        pfn = pg["pa"] // t.PAGE
        if pfn not in dump.page_offsets:
            return None
        data += dump.read_page(f, pfn)[pg["pa"] % t.PAGE:pg["pa"] % t.PAGE + pg["len"]]
    return data


def check_contexts(dump, truth, name, fmt, stderr):
    """Each processor's CONTEXT (KPRCB.Context on 7/10, KPRCB.ProcessorState.ContextFrame on XP) holds its
    vCPU's registers; the header's ContextRecord is processor 0's. Xen's HVM context records no GDTR: a vCPU
    in user mode (FS holds its TEB, not its KPCR) cannot be matched to its processor, and the warning says so."""
    u32 = lambda b, o: struct.unpack_from("<I", b, o)[0]
    with open(dump.path, "rb") as f:
        for cpu in truth["cpus"]:
            j, r = cpu["processor"], cpu["regs"]
            if fmt == "xen" and cpu["user_mode"]:
                t.check("CPU %d: no KiProcessorBlock entry matches its GDT[0x30] base 0x0; its registers are not "
                        "written" % cpu["note_index"] in stderr, "%s: the user-mode vCPU is named as unmatched" % name)
                continue
            data = read_va(dump, f, cpu["context_pages"])
            if not t.check(data is not None, "%s: processor %d CONTEXT pages are in the dump" % (name, j)):
                continue
            want = {C_EIP: r["eip"], C_ESP: r["esp"], C_EBP: r["ebp"], C_EAX: r["eax"], C_EBX: r["ebx"],
                    C_ECX: r["ecx"], C_EDX: r["edx"], C_ESI: r["esi"], C_EDI: r["edi"], C_EFL: r["eflags"],
                    C_CS: r["cs"], C_SS: r["ss"], C_DS: r["ds"], C_ES: r["es"], C_FS: r["fs"], C_GS: r["gs"]}
            bad = ["+0x%x: 0x%x != 0x%x" % (o, u32(data, o), v) for o, v in want.items() if u32(data, o) != v]
            t.check(not bad, "%s: processor %d CONTEXT (%s) equals its registers: %s" % (name, j, cpu["context_where"], bad))
            t.check(u32(data, C_FLAGS) & 0x10000, "%s: processor %d ContextFlags has CONTEXT_i386" % (name, j))
            if j == 0:
                t.check(dump.context["eip"] == r["eip"] and dump.context["esp"] == r["esp"],
                        "%s: header ContextRecord is processor 0's" % name)


def check_saved(dump, truth, name):
    """No registers (raw, LiME): a processor whose saved ProcessorState.ContextFrame is a kernel-mode frame
    gets it as its CONTEXT; processor 0 without one gets a minimal CONTEXT (kernel selectors only)."""
    u32 = lambda b, o: struct.unpack_from("<I", b, o)[0]
    with open(dump.path, "rb") as f:
        for cpu in truth["cpus"]:
            j, saved = cpu["processor"], cpu.get("saved_context")
            data = read_va(dump, f, cpu["context_pages"])
            if saved and saved["plausible"]:
                got = {"eip": u32(data, C_EIP), "esp": u32(data, C_ESP), "ebp": u32(data, C_EBP),
                       "eax": u32(data, C_EAX), "cs": u32(data, C_CS), "ss": u32(data, C_SS)}
                t.check(all(got[k] == saved[k] for k in got), "%s: processor %d CONTEXT is its saved frame: %s"
                        % (name, j, {k: hex(v) for k, v in got.items()}))
            elif j == 0:
                t.check(u32(data, C_CS) == 0x08 and u32(data, C_SS) == 0x10 and u32(data, C_FS) == 0x30 and
                        u32(data, C_EIP) == 0 and u32(data, C_FLAGS) == 0x10004,
                        "%s: processor 0 has a minimal CONTEXT (kernel selectors only)" % name)


def convert_one(name, work, truth, fmt, src=None, key=None):
    src = src or os.path.join(work, truth["formats"][fmt])
    if fmt in FORMATS and src == os.path.join(work, truth["formats"][fmt]):
        page_src = t.Source(src, fmt)
    else:
        page_src = t.Source(os.path.join(work, truth["formats"]["raw"]), "raw")
    out = os.path.join(work, "memory-%s.dmp" % (key or fmt))
    report = os.path.join(work, "report-%s.json" % (key or fmt))
    p = t.raw2dmp("--pdb", os.path.join(work, truth["pdb"]["path"]), "--report", report, src, out, check_rc=0)
    if not t.check(p.returncode == 0, "%s: conversion succeeds" % name):
        return
    with open(report) as f:
        rep = json.load(f)
    dump = t.Dump32(out)
    for key, want in truth["header"].items():
        t.check(dump.fields.get(key) == want, "%s: header %s = %r (want %r)" % (name, key, dump.fields.get(key), want))
    t.check(dump.fields["dump_type"] == 1, "%s: DumpType 1" % name)
    t.check(dump.fields["required_dump_space"] == dump.size == dump.data_end,
            "%s: RequiredDumpSpace equals the file size" % name)
    t.check(set(dump.page_offsets) == t.true_pfns(truth["runs"]), "%s: dump pages are exactly the RAM runs" % name)
    t.check("raw2dmp" in dump.comment, "%s: comment names raw2dmp" % name)
    compared, problems = t.verify_pages(dump, page_src, rep["plan"]["patches"])
    t.check(compared > 0 and not problems, "%s: every page equals the source except patches: %s" % (name, problems[:5]))
    with open(out, "rb") as f:
        kdbg = read_va(dump, f, truth["kdbg"]["pages"])
    t.check(kdbg is not None and kdbg.hex() == truth["kdbg"]["decoded_hex"], "%s: KDBG reads back decoded" % name)
    if fmt in REGISTER_FORMATS:
        t.check(rep["input"]["cpus"] and not any(c["long_mode"] for c in rep["input"]["cpus"]),
                "%s: the vCPUs are read, none in long mode" % name)
        check_contexts(dump, truth, name, fmt, p.stderr)
    else:
        reasons = [p["reason"] for p in rep["plan"]["patches"]]
        t.check(not any(r.startswith("processor") and "CONTEXT" in r and "saved" not in r and "minimal" not in r
                        for r in reasons), "%s: no register CONTEXT without registers" % name)
        check_saved(dump, truth, name)
    p = t.raw2dmp("--info", "--json", "--offline", "--pdb", os.path.join(work, truth["pdb"]["path"]), out, check_rc=0)
    if t.check(p.returncode == 0, "%s: --info on the dump" % name):
        notes = json.loads(p.stdout)["input"]["notes"]
        t.check(int(notes["dump.kdbg_va"], 0) == truth["header"]["kdbg_va"], "%s: --info KDBG VA" % name)
        t.check(int(notes["dump.pae_enabled"]) == truth["header"]["pae_enabled"], "%s: --info PaeEnabled" % name)
    os.unlink(out)


def convert_case(name, isf, pae, cpus, seed, extra, more):
    work = t.workdir("convert_x86-" + name)
    truth = make_fixture32(work, isf, pae, cpus, seed, extra, more)
    for fmt in FORMATS + more:
        convert_one("%s/%s" % (name, fmt), work, truth, fmt)
    # The bitmap form of the same dump reads back with the same pages.
    out = os.path.join(work, "bitmap.dmp")
    p = t.raw2dmp("--pdb", os.path.join(work, truth["pdb"]["path"]), "--dump-type", "bitmap",
                  os.path.join(work, truth["formats"]["elf"]), out, check_rc=0)
    if t.check(p.returncode == 0, "%s: bitmap conversion succeeds" % name):
        dump = t.Dump32(out)
        t.check(dump.fields["dump_type"] == 5 and set(dump.page_offsets) == t.true_pfns(truth["runs"]),
                "%s: bitmap dump holds exactly the RAM pages" % name)
        t.check(dump.fields["required_dump_space"] == dump.size, "%s: bitmap RequiredDumpSpace" % name)
    if name == "w7-pae":
        convert_zipped(name, work, truth)
    dump_as_input(name, work, truth)
    t.done(work)


DH32_COMMENT, DH32_COMMENT_SIZE = 0x820, 128


def dump_as_input(name, work, truth):
    """Our own PAGEDUMP as input: its paging mode comes from the header's PaeEnabled (a CONTEXT has no CR0 or
    CR4), and converting it again gives the same file apart from the comment (docs/formats/crashdump.md,
    "32-bit dumps": the comment names the input format)."""
    pdb = os.path.join(work, truth["pdb"]["path"])
    first, second = os.path.join(work, "first.dmp"), os.path.join(work, "second.dmp")
    p = t.raw2dmp("--pdb", pdb, os.path.join(work, truth["formats"]["elf"]), first, check_rc=0)
    if not t.check(p.returncode == 0, "%s/dmp: first conversion" % name):
        return
    p = t.raw2dmp("--info", "--json", "--offline", "--pdb", pdb, first, check_rc=0)
    if t.check(p.returncode == 0, "%s/dmp: --info on the dump" % name):
        an = json.loads(p.stdout)["analysis"]
        mode = "x86 PAE" if truth["pae"] else "x86"
        t.check(an["paging"]["mode"] == mode and
                an["paging"]["how"] == "%s: from the dump header's PaeEnabled (%d)" % (mode, truth["pae"]),
                "%s/dmp: paging mode from the header's PaeEnabled: %r" % (name, an["paging"]))
        t.check(int(an["dtb"], 16) == truth["dtb"], "%s/dmp: DTB 0x%x" % (name, truth["dtb"]))
    p = t.raw2dmp("--pdb", pdb, first, second, check_rc=0)
    if not t.check(p.returncode == 0, "%s/dmp: dmp -> dmp conversion" % name):
        return
    with open(first, "rb") as f:
        a = f.read()
    with open(second, "rb") as f:
        b = f.read()
    end = DH32_COMMENT + DH32_COMMENT_SIZE
    t.check(len(a) == len(b) and a[:DH32_COMMENT] == b[:DH32_COMMENT] and a[end:] == b[end:],
            "%s/dmp: the re-converted dump equals the first but for the comment" % name)
    t.check(b"from crashdump" in b[DH32_COMMENT:DH32_COMMENT + DH32_COMMENT_SIZE],
            "%s/dmp: the comment names the dump input" % name)
    os.unlink(first)
    os.unlink(second)


def convert_zipped(name, work, truth):
    """Containers are format-agnostic: the raw image of a 32-bit guest inside a ZIP (deflate) converts to the
    same dump as the raw image itself."""
    import zipfile
    zpath = os.path.join(work, "memory.zip")
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.write(os.path.join(work, truth["formats"]["raw"]), "memory.raw")
    convert_one("%s/zip" % name, work, truth, "raw", src=zpath, key="zip")


for case in CASES:
    convert_case(*case)
t.finish()
