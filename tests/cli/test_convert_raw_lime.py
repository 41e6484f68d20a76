# SPDX-License-Identifier: MIT
"""Inputs without CPU registers: raw padded images and LiME (plain and compressed) from the fixture factory,
and a real QEMU pmemsave. raw2dmp finds the page tables (low stub or self-referencing PML4) and the kernel
with no registers, writes a dump whose header equals the ground truth and whose every page equals the
source except the reported patches; for raw the dump holds exactly the kernel's RAM runs
(MmPhysicalMemoryBlock), not the padded file. Processors get their saved ProcessorState.ContextFrame when
it is plausible, else processor 0 a minimal context, and the report says which. Wrong --dtb and images with
no Windows kernel fail with one line, quickly, leaving no output."""
import json
import lzma
import os
import shutil
import struct
import subprocess
import sys
import time
import zlib

import r2dtest as t

CASES = [
    # isf, seed, cpus, extra factory options
    (t.ISF_19041, 1, 2, ["--lime-compress"]),
    (t.ISF_22000, 2, 4, ["--low-stub", "--saved-context", "all"]),
    (t.ISF_17763, 3, 1, ["--mem-mib", "64", "--above-4g", "32", "--pci-hole", "--saved-context", "all"]),
    (t.ISF_7601, 4, 2, ["--saved-context", "some", "--lime-compress"]),          # self-map slot 0x1ED
    (t.ISF_7601, 5, 3, ["--low-stub", "--mem-mib", "64", "--above-4g", "32", "--pci-hole"]),
    (t.ISF_19041, 6, 3, ["--mem-mib", "64", "--above-4g", "32", "--pci-hole", "--lime-compress",
                         "--saved-context", "some"]),
]

CTX_FLAGS, CTX_MXCSR, CTX_SEGCS, CTX_SEGSS, CTX_RSP, CTX_RIP, CTX_FLTSAVE_MXCSR = 0x30, 0x34, 0x38, 0x42, 0x98, 0xF8, 0x118


def inflate_lime(path, out):
    """memory.lime.z is one zlib stream (windowBits 11); inflate it for the independent reader."""
    d = zlib.decompressobj()
    with open(path, "rb") as f, open(out, "wb") as o:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            o.write(d.decompress(chunk))
        o.write(d.flush())
    return out


def read_context(dump, f, cpu):
    data = b""
    for pg in cpu["context_pages"]:
        pfn = pg["pa"] // t.PAGE
        if pfn not in dump.page_offsets:
            return None
        data += dump.read_page(f, pfn)[pg["pa"] % t.PAGE:pg["pa"] % t.PAGE + pg["len"]]
    return data


def check_contexts(dump, truth, rep, name):
    """Saved frames where plausible, processor 0 minimal otherwise; the header follows processor 0."""
    facts = rep["plan"].get("facts", {})
    t.check("no CPU registers" in facts.get("contexts", ""), "%s: the report says where contexts came from: %r"
            % (name, facts.get("contexts")))
    reasons = [p["reason"] for p in rep["plan"]["patches"]]
    with open(dump.path, "rb") as f:
        for cpu in truth["cpus"]:
            j = cpu["processor"]
            saved = cpu.get("saved_context")
            data = read_context(dump, f, cpu)
            if not t.check(data is not None, "%s: processor %d CONTEXT page in the dump" % (name, j)):
                continue
            u16 = lambda o: struct.unpack_from("<H", data, o)[0]
            u32 = lambda o: struct.unpack_from("<I", data, o)[0]
            u64 = lambda o: struct.unpack_from("<Q", data, o)[0]
            if saved and saved["plausible"]:
                t.check(u64(CTX_RIP) == saved["rip"] and u64(CTX_RSP) == saved["rsp"],
                        "%s: processor %d CONTEXT holds its saved frame (Rip/Rsp)" % (name, j))
                t.check(u16(CTX_SEGCS) == 0x10 and u16(CTX_SEGSS) == 0x18, "%s: processor %d selectors" % (name, j))
                t.check(u32(CTX_MXCSR) == u32(CTX_FLTSAVE_MXCSR) == saved["mxcsr"], "%s: processor %d MxCsr" % (name, j))
                t.check(any(r.startswith("processor %d CONTEXT (saved" % j) for r in reasons),
                        "%s: processor %d saved-context patch reported" % (name, j))
                if j == 0:
                    t.check(dump.fields["rip"] == saved["rip"], "%s: header context is processor 0's saved frame" % name)
            elif j == 0:
                t.check(u16(CTX_SEGCS) == 0x10 and u16(CTX_SEGSS) == 0x18 and u64(CTX_RIP) == 0,
                        "%s: processor 0 gets a minimal CONTEXT" % name)
                t.check(u32(CTX_MXCSR) == u32(CTX_FLTSAVE_MXCSR) == 0x1F80, "%s: minimal MxCsr copies agree" % name)
                t.check("processor 0 CONTEXT (minimal)" in reasons, "%s: minimal context patch reported" % name)
                t.check(any("minimal CONTEXT" in w for w in rep["plan"]["warnings"]),
                        "%s: the minimal context is a warning" % name)
                t.check(dump.fields["rip"] == 0 and dump.fields["seg_cs"] == 0x10 and
                        dump.fields["mxcsr"] == dump.fields["fltsave_mxcsr"] == 0x1F80,
                        "%s: header context is the minimal one" % name)
            else:
                t.check(not any(r.startswith("processor %d CONTEXT" % j) for r in reasons),
                        "%s: processor %d (no plausible saved frame) is left alone" % (name, j))


def convert_one(work, truth, fmt, src, source, name, extra=()):
    out = os.path.join(work, "memory-%s.dmp" % fmt)
    report = os.path.join(work, "report-%s.json" % fmt)
    p = t.raw2dmp("-v", "--pdb", os.path.join(work, truth["pdb"]["path"]), "--report", report, *extra, src, out,
                  check_rc=0)
    if not t.check(p.returncode == 0, "%s: conversion succeeds" % name):
        return None, None
    with open(report) as f:
        rep = json.load(f)
    dump = t.Dump(out)
    t.check_header(dump, truth, name)
    t.check(dump.fields["required_dump_space"] == dump.size == dump.data_end, "%s: RequiredDumpSpace = file size" % name)
    t.check(set(dump.page_offsets) == t.true_pfns(truth["runs"]), "%s: dump pages are exactly the RAM runs" % name)
    compared, problems = t.verify_pages(dump, source, rep["plan"]["patches"])
    t.check(not problems, "%s: every page equals the source except patches: %s" % (name, problems[:5]))
    kdbg = t.kdbg_pages_plain(dump, truth)
    if "--rebuild-kdbg" not in extra:
        t.check(kdbg is not None and kdbg.hex() == truth["kdbg"]["decoded_hex"], "%s: KDBG reads back decoded" % name)
    how = rep["analysis"]["dtb_how"]
    if truth["low_stub"]:
        t.check("low stub" in how, "%s: DTB from the low stub: %s" % (name, how))
        t.check("low stub" in rep["analysis"]["kernel"]["how"] or "2 MiB" in rep["analysis"]["kernel"]["how"],
                "%s: kernel found from the entry-point hint: %s" % (name, rep["analysis"]["kernel"]["how"]))
    else:
        t.check("self-referencing PML4" in how and "slot 0x%x" % truth["self_map_slot"] in how,
                "%s: DTB from the self-map (slot 0x%x): %s" % (name, truth["self_map_slot"], how))
    t.check("DTB 0x" in p.stderr and "candidate" in p.stderr, "%s: -v logs the DTB choice" % name)
    t.check(rep["analysis"]["kernel"]["base"] == hex(truth["kernel_base"]), "%s: kernel base" % name)
    facts = rep["plan"].get("facts", {})
    t.check(facts.get("ram_pages_missing") == "0", "%s: no RAM missing: %r" % (name, facts))
    if fmt == "raw":
        file_pages = (os.path.getsize(src) + t.PAGE - 1) // t.PAGE
        want = file_pages - len(t.true_pfns(truth["runs"]))
        t.check(facts.get("padding_pages_dropped") == str(want),
                "%s: report says %s padding pages dropped (want %d)" % (name, facts.get("padding_pages_dropped"), want))
        t.check("MmPhysicalMemoryBlock" in facts.get("ram_source", ""), "%s: RAM runs from the kernel" % name)
    else:
        t.check("cross-checked" in facts.get("ram_source", ""), "%s: container runs cross-checked" % name)
    return dump, rep


def convert_case(isf, seed, cpus, extra):
    name = "%s-seed%d-cpus%d" % (isf[:8], seed, cpus)
    work = t.workdir("convert_raw_lime-" + name)
    truth = t.make_fixture(work, isf=isf, seed=seed, cpus=cpus, formats="raw,lime", extra=extra)
    sources = [("raw", "raw"), ("lime", "lime")]
    if "lime_z" in truth["formats"]:
        sources.append(("lime_z", "lime"))
    for key, kind in sources:
        src = os.path.join(work, truth["formats"][key])
        plain = inflate_lime(src, os.path.join(work, "inflated.lime")) if key == "lime_z" else src
        dump, rep = convert_one(work, truth, key, src, t.Source(plain, kind), "%s %s" % (name, key))
        if dump:
            check_contexts(dump, truth, rep, "%s %s" % (name, key))
    return work, truth


def lime_options(work, truth):
    """--input-format lime names the format; --rebuild-kdbg works without registers too."""
    src = os.path.join(work, truth["formats"]["lime"])
    source = t.Source(src, "lime")
    convert_one(work, truth, "lime-named", src, source, "--input-format lime", ("--input-format", "lime"))
    dump, rep = convert_one(work, truth, "lime-rebuilt", src, source, "--rebuild-kdbg on LiME", ("--rebuild-kdbg",))
    if rep:
        t.check(rep["analysis"]["kdbg"]["mode"] == "rebuilt", "--rebuild-kdbg on LiME: KDBG rebuilt")
        t.check(rep["analysis"]["kdbg"]["va"] == hex(truth["kdbg"]["va"]), "--rebuild-kdbg on LiME: KDBG VA")


def short_raw(work, truth):
    """A raw file shorter than RAM: the kernel's runs are still written; the missing tail is zeros and said."""
    src = os.path.join(work, truth["formats"]["raw"])
    short = os.path.join(work, "short.raw")
    size = os.path.getsize(src) - 16 * t.PAGE
    with open(src, "rb") as f, open(short, "wb") as o:
        shutil.copyfileobj(f, o)
        o.truncate(size)
    out = os.path.join(work, "short.dmp")
    report = os.path.join(work, "short.json")
    p = t.raw2dmp("--pdb", os.path.join(work, truth["pdb"]["path"]), "--report", report, short, out, check_rc=0)
    if not t.check(p.returncode == 0, "short raw: conversion succeeds"):
        return
    with open(report) as f:
        rep = json.load(f)
    dump = t.Dump(out)
    t.check(set(dump.page_offsets) == t.true_pfns(truth["runs"]), "short raw: dump pages are the kernel's RAM runs")
    t.check(rep["plan"]["facts"].get("ram_pages_missing") == "16", "short raw: 16 pages missing reported: %r"
            % rep["plan"]["facts"])
    t.check(any("lacks 16 pages" in w for w in rep["plan"]["warnings"]), "short raw: a warning with the count")
    compared, problems = t.verify_pages(dump, t.Source(short, "raw"), rep["plan"]["patches"])
    t.check(not problems, "short raw: pages equal the file, the missing tail zeros: %s" % problems[:3])


def fallback(work, truth):
    """The best-ranked PML4 (the System's) loses its kernel mapping: the search falls back to the next one."""
    src = os.path.join(work, truth["formats"]["raw"])
    broken = os.path.join(work, "fallback.raw")
    shutil.copyfile(src, broken)
    with open(broken, "r+b") as f:
        f.seek(truth["dtb"] + 8 * ((truth["kernel_base"] >> 39) & 0x1FF))
        f.write(bytes(8))
    out = os.path.join(work, "fallback.dmp")
    report = os.path.join(work, "fallback.json")
    p = t.raw2dmp("-v", "--pdb", os.path.join(work, truth["pdb"]["path"]), "--report", report, broken, out,
                  check_rc=0)
    if not t.check(p.returncode == 0, "fallback: conversion succeeds"):
        return
    with open(report) as f:
        rep = json.load(f)
    t.check("no kernel through DTB 0x%x" % truth["dtb"] in p.stderr, "fallback: -v says the first DTB had no kernel")
    t.check(rep["analysis"]["dtb"] in [hex(x["dtb"]) for x in truth["processes"][1:]],
            "fallback: a process's PML4 was used: %s" % rep["analysis"]["dtb"])
    t.check(rep["analysis"]["kernel"]["base"] == hex(truth["kernel_base"]), "fallback: kernel found")
    os.unlink(broken)


def must_fail(args, src, name, needle):
    out = os.path.join(os.path.dirname(src), "fail.dmp")
    t0 = time.monotonic()
    p = t.raw2dmp(*args, src, out)
    secs = time.monotonic() - t0
    print("%s: failed in %.2f s: %s" % (name, secs, p.stderr.strip()))
    t.check(p.returncode == 1, "%s: exit code 1 (got %d)" % (name, p.returncode))
    t.check(p.stderr.count("\n") == 1 and needle in p.stderr and src in p.stderr,
            "%s: one clear line naming the file: %r" % (name, p.stderr))
    t.check(not os.path.exists(out), "%s: no output left" % name)
    t.check(not [n for n in os.listdir(os.path.dirname(src)) if n.endswith(".part")], "%s: no temporary left" % name)


def failures(work, truth):
    src = os.path.join(work, truth["formats"]["raw"])
    must_fail(["--pdb", os.path.join(work, truth["pdb"]["path"]), "--dtb", "0x1000"], src, "wrong --dtb",
              "--dtb 0x1000")
    fw = t.workdir("convert_raw_lime-nokernel")
    rnd = os.path.join(fw, "random.raw")
    with open(rnd, "wb") as f:
        f.write(os.urandom(32 << 20))
    must_fail([], rnd, "32 MiB of random bytes as raw", "no page table maps a Windows kernel")
    # SeaBIOS's memory (a real QEMU guest that never ran Windows) laid out as a padded raw image.
    elf = os.path.join(fw, "seabios.elf")
    with lzma.open(os.path.join(t.SRC, "tests", "data", "qemu", "seabios-32M-dump-guest-memory.elf.xz")) as f, \
            open(elf, "wb") as o:
        o.write(f.read())
    raw = os.path.join(fw, "seabios.raw")
    with open(elf, "rb") as f, open(raw, "wb") as o:
        for pa, ln, off in t.source_segments(elf, "elf"):
            f.seek(off)
            o.seek(pa)
            o.write(f.read(ln))
    os.unlink(elf)
    must_fail(["--input-format", "raw"], raw, "SeaBIOS memory as raw", "no page table maps a Windows kernel")


def qemu_pmemsave():
    if not shutil.which("qemu-system-x86_64"):
        print("note: qemu-system-x86_64 not installed; the real-QEMU pmemsave case is skipped")
        return
    name = "qemu-pmemsave"
    work = t.workdir("convert_raw_lime-" + name)
    fx, qo = os.path.join(work, "fixture"), os.path.join(work, "qemu")
    truth = t.make_fixture(fx, isf=t.ISF_19041, seed=21, cpus=2, formats="raw",
                           extra=["--layout", "qemu", "--identity-low", "--mem-mib", "64"])
    cmd = [sys.executable, os.path.join(t.SRC, "tests", "cli", "qemu", "run_qemu.py"), "--fixture", fx, "--out", qo,
           "--formats", "raw,elf", "--timeout", "90"]
    stub = os.path.join(t.BUILD, "tests", "cli", "qemu", "bootstub.bin")
    if os.path.exists(stub):
        cmd += ["--stub", stub]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if not t.check(p.returncode == 0, "%s: QEMU produced the files: %s" % (name, p.stdout[-2000:] + p.stderr[-2000:])):
        return
    src, elf = os.path.join(qo, "memory.raw"), os.path.join(qo, "memory.elf")
    t.check(os.path.getsize(src) == 64 << 20, "%s: pmemsave wrote 64 MiB" % name)
    out = os.path.join(work, "memory.dmp")
    report = os.path.join(work, "report.json")
    p = t.raw2dmp("--offline", "--symbol-path", os.path.join(fx, "symstore"), "--report", report, src, out, check_rc=0)
    if not t.check(p.returncode == 0, "%s: conversion of QEMU's raw file succeeds" % name):
        return
    with open(report) as f:
        rep = json.load(f)
    dump = t.Dump(out)
    t.check_header(dump, truth, name)
    t.check(set(dump.page_offsets) == t.true_pfns(truth["runs"]),
            "%s: the dump holds the kernel's RAM runs, not the 64 MiB file" % name)
    t.check(rep["plan"]["facts"].get("padding_pages_dropped") == str((64 << 8) - len(t.true_pfns(truth["runs"]))),
            "%s: padding pages dropped reported: %r" % (name, rep["plan"]["facts"]))
    compared, problems = t.verify_pages(dump, t.Source(src, "raw"), rep["plan"]["patches"])
    t.check(not problems, "%s: every page equals QEMU's raw file except patches: %s" % (name, problems[:5]))
    compared, problems = t.verify_pages(dump, t.Source(elf, "elf"), rep["plan"]["patches"])
    t.check(not problems, "%s: every page equals QEMU's own ELF of the same moment: %s" % (name, problems[:5]))
    kdbg = t.kdbg_pages_plain(dump, truth)
    t.check(kdbg is not None and kdbg.hex() == truth["kdbg"]["decoded_hex"], "%s: KDBG reads back decoded" % name)


first = None
for case in CASES:
    work, truth = convert_case(*case)
    if first:
        t.done(work)
    first = first or (work, truth)
lime_options(*first)
short_raw(*first)
fallback(*first)
failures(*first)
qemu_pmemsave()
t.finish()
