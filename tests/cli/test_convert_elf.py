# SPDX-License-Identifier: MIT
"""QEMU ELF cores from the fixture factory convert to crash dumps whose header equals the ground truth,
whose every page equals the source except the reported patches, whose KDBG reads back decoded, and whose
per-processor CONTEXTs hold each vCPU's registers."""
import json
import lzma
import os
import struct

import r2dtest as t

CASES = [
    # isf, seed, cpus, extra factory options
    (t.ISF_19041, 1, 2, []),
    (t.ISF_22000, 2, 4, ["--user-mode-cpu"]),
    (t.ISF_17763, 3, 1, []),
    (t.ISF_7601, 4, 2, []),
    (t.ISF_19041, 5, 3, ["--kdbg", "plain-flagged"]),
]

CTX_RIP, CTX_RSP, CTX_SEGCS, CTX_MXCSR, CTX_FLTSAVE_MXCSR = 0xF8, 0x98, 0x38, 0x34, 0x118


def check_contexts(dump, truth, name):
    with open(dump.path, "rb") as f:
        for cpu in truth["cpus"]:
            data = b""
            for pg in cpu["context_pages"]:
                pfn = pg["pa"] // t.PAGE
                if not t.check(pfn in dump.page_offsets, "%s: CONTEXT page of processor %d is in the dump" % (name, cpu["processor"])):
                    return
                data += dump.read_page(f, pfn)[pg["pa"] % t.PAGE:pg["pa"] % t.PAGE + pg["len"]]
            regs = cpu["regs"]
            t.check(struct.unpack_from("<Q", data, CTX_RIP)[0] == regs["rip"], "%s: processor %d CONTEXT.Rip" % (name, cpu["processor"]))
            t.check(struct.unpack_from("<Q", data, CTX_RSP)[0] == regs["rsp"], "%s: processor %d CONTEXT.Rsp" % (name, cpu["processor"]))
            t.check(struct.unpack_from("<H", data, CTX_SEGCS)[0] == regs["cs"], "%s: processor %d CONTEXT.SegCs" % (name, cpu["processor"]))
            t.check(struct.unpack_from("<I", data, CTX_MXCSR)[0] == struct.unpack_from("<I", data, CTX_FLTSAVE_MXCSR)[0] == 0x1F80,
                    "%s: processor %d MxCsr copies agree" % (name, cpu["processor"]))
            if cpu["processor"] == 0:
                t.check(dump.fields["rip"] == regs["rip"], "%s: header ContextRecord is processor 0's (Rip)" % name)


def convert_case(isf, seed, cpus, extra):
    name = "%s-seed%d-cpus%d" % (isf[:8], seed, cpus)
    work = t.workdir("convert_elf-" + name)
    truth = t.make_fixture(work, isf=isf, seed=seed, cpus=cpus, formats="elf", extra=extra)
    src = os.path.join(work, truth["formats"]["elf"])
    out = os.path.join(work, "memory.dmp")
    report = os.path.join(work, "report.json")
    p = t.raw2dmp("--pdb", os.path.join(work, truth["pdb"]["path"]), "--report", report, src, out, check_rc=0)
    if not t.check(p.returncode == 0, "%s: conversion succeeds" % name):
        return
    with open(report) as f:
        rep = json.load(f)
    dump = t.Dump(out)
    t.check_header(dump, truth, name)
    t.check(dump.fields["dump_type"] == 1, "%s: DumpType 1" % name)
    t.check(dump.fields["required_dump_space"] == dump.size == dump.data_end,
            "%s: RequiredDumpSpace equals the file size" % name)
    t.check(len(dump.header_runs) <= 42, "%s: at most 42 runs" % name)
    t.check(set(dump.page_offsets) == t.true_pfns(truth["runs"]), "%s: dump pages are exactly the RAM runs" % name)
    t.check("raw2dmp" in dump.comment, "%s: comment names raw2dmp" % name)
    compared, problems = t.verify_pages(dump, t.Source(src, "elf"), rep["plan"]["patches"])
    t.check(not problems, "%s: every page equals the source except patches: %s" % (name, problems[:5]))
    kdbg = t.kdbg_pages_plain(dump, truth)
    t.check(kdbg is not None and kdbg.hex() == truth["kdbg"]["decoded_hex"], "%s: KDBG reads back decoded" % name)
    flag_pfn = truth["kdbg"]["flag_pa"] // t.PAGE
    with open(out, "rb") as f:
        flag = dump.read_page(f, flag_pfn)[truth["kdbg"]["flag_pa"] % t.PAGE]
    if truth["kdbg"]["mode"] == "encoded":
        t.check(flag == 0, "%s: KdpDataBlockEncoded cleared" % name)
        reasons = [p["reason"] for p in rep["plan"]["patches"]]
        t.check(any("KdpDataBlockEncoded" in r for r in reasons), "%s: flag patch reported" % name)
        t.check(any("KDBG decoded" in r for r in reasons), "%s: KDBG patch reported" % name)
    else:
        t.check(flag == truth["kdbg"]["flag_value"], "%s: flag untouched for a plain block" % name)
    check_contexts(dump, truth, name)

    # Our own reader agrees with the independent one.
    p = t.raw2dmp("--info", "--json", "--offline", "--pdb", os.path.join(work, truth["pdb"]["path"]), out, check_rc=0)
    if t.check(p.returncode == 0, "%s: --info on the dump" % name):
        info = json.loads(p.stdout)
        notes = info["input"]["notes"]
        t.check(info.get("dump_kdbg", {}).get("owner_tag_ok") is True,
                "%s: --info reads a decoded KDBG through the header DTB" % name)
        t.check(int(notes["dump.minor_version"], 0) == truth["header"]["minor_version"], "%s: --info minor version" % name)
        t.check(int(notes["dump.kdbg_va"], 0) == truth["header"]["kdbg_va"], "%s: --info KDBG VA" % name)

    # An existing output is never replaced without --force.
    before = os.stat(out).st_mtime_ns
    p = t.raw2dmp("--pdb", os.path.join(work, truth["pdb"]["path"]), src, out)
    t.check(p.returncode == 1 and "exists" in p.stderr, "%s: existing output refused: %s" % (name, p.stderr.strip()))
    t.check(os.stat(out).st_mtime_ns == before, "%s: existing output untouched" % name)
    p = t.raw2dmp("--force", "--pdb", os.path.join(work, truth["pdb"]["path"]), src, out, check_rc=0)
    t.check(p.returncode == 0, "%s: --force replaces" % name)


def seabios_em386():
    work = t.workdir("convert_elf-seabios")
    src = os.path.join(work, "seabios.elf")
    with lzma.open(os.path.join(t.SRC, "tests", "data", "qemu", "seabios-32M-dump-guest-memory.elf.xz")) as f, \
            open(src, "wb") as o:
        o.write(f.read())
    out = os.path.join(work, "out.dmp")
    p = t.raw2dmp(src, out)
    # An EM_386 core is read (32-bit guests convert); this one holds SeaBIOS in real mode, no Windows.
    t.check(p.returncode == 1, "seabios EM_386 ELF: exit code 1 (got %d)" % p.returncode)
    t.check(p.stderr.count("\n") == 1 and src in p.stderr,
            "seabios EM_386 ELF: one clear line naming the file: %r" % p.stderr)
    t.check(not os.path.exists(out), "seabios EM_386 ELF: no output left")
    t.check(not [n for n in os.listdir(work) if n.endswith(".part")], "seabios: no temporary left")


for case in CASES:
    convert_case(*case)
    t.done()
seabios_em386()
t.finish()
