# SPDX-License-Identifier: MIT
"""A real QEMU (Debian's qemu-system-x86_64, TCG) boots a factory guest into 64-bit mode on several
vCPUs and writes it out with dump-guest-memory; raw2dmp converts that ELF, taking the PDB from the
fixture's symbol store offline. The header equals the ground truth, every page equals QEMU's ELF
except the reported patches, the KDBG reads back decoded, and each processor's CONTEXT holds the
registers QEMU itself reports for the vCPU that ran it."""
import json
import os
import shutil
import struct
import subprocess
import sys

import r2dtest as t

if not shutil.which("qemu-system-x86_64"):
    print("SKIP: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    sys.exit(77)

RUN_QEMU = os.path.join(t.SRC, "tests", "cli", "qemu", "run_qemu.py")
STUB = os.path.join(t.BUILD, "tests", "cli", "qemu", "bootstub.bin")


def case(isf, cpus, seed):
    name = "qemu-%s-%dcpu" % (isf[:8], cpus)
    work = t.workdir(name)
    fx, qo = os.path.join(work, "fixture"), os.path.join(work, "qemu")
    truth = t.make_fixture(fx, isf=isf, seed=seed, cpus=cpus, formats="raw",
                           extra=["--layout", "qemu", "--identity-low", "--mem-mib", "64"])
    cmd = [sys.executable, RUN_QEMU, "--fixture", fx, "--out", qo, "--formats", "elf", "--timeout", "90"]
    if os.path.exists(STUB):
        cmd += ["--stub", STUB]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if not t.check(p.returncode == 0, "%s: QEMU produced the dump: %s" % (name, p.stdout[-2000:] + p.stderr[-2000:])):
        return
    with open(os.path.join(qo, "producer.json")) as f:
        producer = json.load(f)
    src = os.path.join(qo, "memory.elf")
    t.check(os.stat(src).st_mode & 0o777 == 0o400, "%s: QEMU wrote the ELF read-only (0400)" % name)
    out = os.path.join(work, "memory.dmp")
    report = os.path.join(work, "report.json")
    p = t.raw2dmp("--offline", "--symbol-path", os.path.join(fx, "symstore"), "--report", report, src, out,
                  check_rc=0)
    if not t.check(p.returncode == 0, "%s: conversion of QEMU's ELF succeeds" % name):
        return
    with open(report) as f:
        rep = json.load(f)
    dump = t.Dump(out)
    t.check_header(dump, truth, name)
    t.check(dump.fields["required_dump_space"] == dump.size, "%s: RequiredDumpSpace = file size" % name)
    t.check(rep["analysis"]["symbols"]["origin"].startswith("cache:") or "symstore" in rep["analysis"]["symbols"]["origin"],
            "%s: symbols came from the store: %s" % (name, rep["analysis"]["symbols"]["origin"]))
    src_pfns = set()
    for pa, ln, _ in t.source_segments(src, "elf"):
        src_pfns.update(range(pa // t.PAGE, (pa + ln + t.PAGE - 1) // t.PAGE))
    t.check(set(dump.page_offsets) == src_pfns, "%s: the dump holds exactly QEMU's memory blocks" % name)
    compared, problems = t.verify_pages(dump, t.Source(src, "elf"), rep["plan"]["patches"])
    t.check(not problems, "%s: every page equals QEMU's ELF except patches: %s" % (name, problems[:5]))
    kdbg = t.kdbg_pages_plain(dump, truth)
    t.check(kdbg is not None and kdbg.hex() == truth["kdbg"]["decoded_hex"], "%s: KDBG reads back decoded" % name)
    # Each vCPU's registers, as QEMU reports them, in the CONTEXT of the processor it ran.
    qcpus = {c["cpu_index"]: c for c in producer["cpus"]}
    with open(out, "rb") as f:
        for cpu in truth["cpus"]:
            q = qcpus[cpu["note_index"]]
            data = b""
            for pg in cpu["context_pages"]:
                data += dump.read_page(f, pg["pa"] // t.PAGE)[pg["pa"] % t.PAGE:pg["pa"] % t.PAGE + pg["len"]]
            rip, = struct.unpack_from("<Q", data, 0xF8)
            rsp, = struct.unpack_from("<Q", data, 0x98)
            rax, = struct.unpack_from("<Q", data, 0x78)
            t.check(rip == q["rip"] and rsp == q["rsp"], "%s: processor %d CONTEXT has QEMU's RIP/RSP for vCPU %d"
                    % (name, cpu["processor"], cpu["note_index"]))
            t.check(rax == q["gprs"]["rax"], "%s: processor %d CONTEXT.Rax" % (name, cpu["processor"]))
            if cpu["processor"] == 0:
                t.check(dump.fields["rip"] == q["rip"], "%s: header context is processor 0's" % name)


case(t.ISF_19041, 4, 11)
t.done()
case(t.ISF_7601, 2, 12)
t.finish()
