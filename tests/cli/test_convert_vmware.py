# SPDX-License-Identifier: MIT
"""VMware suspend and snapshot state from the fixture factory: a .vmss with its .vmem (same name, another name
found alone in the directory, or named with --vmem) and a .vmsn holding the memory, with each header magic,
both register encodings, one to four vCPUs and memory above 4 GiB. Each converts to a crash dump whose header
equals the ground truth, whose pages equal the same machine's QEMU ELF core (written by the factory in the same
pass) except the reported patches, and whose per-processor CONTEXTs hold each vCPU's registers. Corrupt state
files (tags or blocks past their group, overlapping regions, regions past the .vmem, a missing .vmem) fail with
one line naming the file and leave no output."""
import json
import mmap
import os
import shutil
import struct

import r2dtest as t

CASES = [
    # name, isf, seed, cpus, factory options, state file, run with --vmem
    ("split-1cpu-bed2bed2", t.ISF_19041, 1, 1, ["--vmware-magic", "bed2bed2"], "vmss", False),
    ("vmsn-4cpu-bed0bed0", t.ISF_22000, 2, 4, ["--vmware-magic", "bed0bed0", "--vmware-cpu", "values"], "vmsn",
     False),
    ("other-name-above4g-bad1bad1", t.ISF_17763, 3, 2,
     ["--vmware-magic", "bad1bad1", "--vmem-name", "other-name.vmem", "--above-4g", "64"], "vmss", True),
    ("split-4cpu-above4g-bed3bed3", t.ISF_7601, 4, 4,
     ["--vmware-magic", "bed3bed3", "--vmware-cpu", "values", "--above-4g", "32"], "vmss", False),
    ("vmsn-above4g-bed2bed0", t.ISF_19041, 5, 2, ["--vmware-magic", "bed2bed0", "--above-4g", "16"], "vmsn",
     False),
    ("split-bed1bed1", t.ISF_19041, 6, 1, ["--vmware-magic", "bed1bed1", "--vmware-cpu", "values"], "vmss", False),
    ("vmsn-bad2bad2", t.ISF_22000, 7, 2, ["--vmware-magic", "bad2bad2"], "vmsn", False),
]

CTX_RIP, CTX_RSP, CTX_SEGCS, CTX_MXCSR, CTX_FLTSAVE_MXCSR = 0xF8, 0x98, 0x38, 0x34, 0x118


# ---- an independent reader of the state file (docs/formats/vmware.md), used to check and to corrupt ----

def read_state(path):
    """{'magic', 'groups': [(name, off, size, entry_off)], 'tags': {group: [tag dict]}} for memory and cpu."""
    with open(path, "rb") as f:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    magic, _, n = struct.unpack_from("<III", data, 0)
    width = 4 if magic & 0xF == 0 else 8
    groups, tags = [], {}
    for i in range(n):
        e = 12 + 80 * i
        name = data[e:e + 64].split(b"\0")[0].decode()
        off, size = struct.unpack_from("<QQ", data, e + 64)
        groups.append((name, off, size, e))
        if name not in ("memory", "cpu"):
            continue
        pos, lst = off, []
        while pos < off + size:
            head, = struct.unpack_from("<H", data, pos)
            if head == 0:
                break
            nl, ni, vs = head >> 8, head >> 6 & 3, head & 0x3F
            tname = data[pos + 2:pos + 2 + nl].decode()
            idx = struct.unpack_from("<%dI" % ni, data, pos + 2 + nl)
            p = pos + 2 + nl + 4 * ni
            tag = {"name": tname, "idx": idx, "off": pos, "value_off": p}
            if vs >= 62:
                ln = struct.unpack_from("<I" if width == 4 else "<Q", data, p)[0]
                pad, = struct.unpack_from("<H", data, p + 2 * width)
                tag.update(block=True, size_off=p, data_off=p + 2 * width + 2 + pad, len=ln)
                pos = p + 2 * width + 2 + pad + ln
            else:
                tag.update(block=False, len=vs, value=int.from_bytes(data[p:p + vs], "little"))
                pos = p + vs
            lst.append(tag)
        tags[name] = lst
    data.close()
    return {"magic": magic, "width": width, "groups": groups, "tags": tags}


def find_tag(state, group, name, idx=None):
    for tg in state["tags"][group]:
        if tg["name"] == name and (idx is None or tg["idx"] == tuple(idx)):
            return tg
    raise KeyError((group, name, idx))


def regions(state):
    count = find_tag(state, "memory", "regionsCount")["value"]
    get = lambda n, i: find_tag(state, "memory", n, (i,))["value"]
    return [(get("regionPPN", i) * t.PAGE, get("regionSize", i) * t.PAGE, get("regionPageNum", i) * t.PAGE)
            for i in range(count)]


def patch(path, off, fmt, value):
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(struct.pack(fmt, value))


# ---- conversions ----

def check_contexts(dump, truth, name):
    with open(dump.path, "rb") as f:
        for cpu in truth["cpus"]:
            data = b""
            for pg in cpu["context_pages"]:
                pfn = pg["pa"] // t.PAGE
                if not t.check(pfn in dump.page_offsets, "%s: CONTEXT page of processor %d is in the dump"
                               % (name, cpu["processor"])):
                    return
                data += dump.read_page(f, pfn)[pg["pa"] % t.PAGE:pg["pa"] % t.PAGE + pg["len"]]
            regs, n = cpu["regs"], cpu["processor"]
            t.check(struct.unpack_from("<Q", data, CTX_RIP)[0] == regs["rip"], "%s: processor %d CONTEXT.Rip" % (name, n))
            t.check(struct.unpack_from("<Q", data, CTX_RSP)[0] == regs["rsp"], "%s: processor %d CONTEXT.Rsp" % (name, n))
            t.check(struct.unpack_from("<H", data, CTX_SEGCS)[0] == regs["cs"], "%s: processor %d CONTEXT.SegCs" % (name, n))
            t.check(struct.unpack_from("<I", data, CTX_MXCSR)[0] == struct.unpack_from("<I", data, CTX_FLTSAVE_MXCSR)[0]
                    == 0x1F80, "%s: processor %d MxCsr copies agree" % (name, n))
            if n == 0:
                t.check(dump.fields["rip"] == regs["rip"], "%s: header ContextRecord is processor 0's (Rip)" % name)


def check_dump(work, truth, name, out, report):
    with open(report) as f:
        rep = json.load(f)
    dump = t.Dump(out)
    t.check_header(dump, truth, name)
    t.check(dump.fields["dump_type"] == 1, "%s: DumpType 1" % name)
    t.check(set(dump.page_offsets) == t.true_pfns(truth["runs"]), "%s: dump pages are exactly the RAM runs" % name)
    compared, problems = t.verify_pages(dump, t.Source(os.path.join(work, truth["formats"]["elf"]), "elf"),
                                        rep["plan"]["patches"])
    t.check(not problems, "%s: every page equals the QEMU ELF of the same machine except patches: %s"
            % (name, problems[:5]))
    kdbg = t.kdbg_pages_plain(dump, truth)
    t.check(kdbg is not None and kdbg.hex() == truth["kdbg"]["decoded_hex"], "%s: KDBG reads back decoded" % name)
    check_contexts(dump, truth, name)
    t.check(rep["input"]["format"] == "vmware", "%s: the report names the vmware format" % name)
    return rep


def convert_case(name, isf, seed, cpus, extra, kind, with_vmem):
    work = t.workdir("convert_vmware-" + name)
    truth = t.make_fixture(work, isf=isf, seed=seed, cpus=cpus, formats="elf," + kind, extra=extra)
    src = os.path.join(work, truth["formats"][kind])
    state = read_state(src)
    want_magic = [extra[i + 1] for i in range(len(extra)) if extra[i] == "--vmware-magic"][0]
    t.check("%08x" % state["magic"] == want_magic, "%s: the factory wrote magic %s" % (name, want_magic))
    t.check([(p, n) for p, n, _ in regions(state)] == [(r["pa"], r["len"]) for r in truth["runs"]],
            "%s: the state file's regions are the machine's RAM runs" % name)
    args = ["--pdb", os.path.join(work, truth["pdb"]["path"])]
    if with_vmem:
        args += ["--vmem", os.path.join(work, truth["formats"]["vmem"])]
    out, report = os.path.join(work, "memory.dmp"), os.path.join(work, "report.json")
    p = t.raw2dmp(*args, "--report", report, src, out, check_rc=0)
    if not t.check(p.returncode == 0, "%s: conversion succeeds" % name):
        return
    rep = check_dump(work, truth, name, out, report)
    files = {r.get("file") for r in rep["input"]["runs"]}
    if kind == "vmss":
        t.check(files == {os.path.join(work, truth["formats"]["vmem"])},
                "%s: every run is read from the .vmem: %r" % (name, files))
    else:
        t.check(files == {None}, "%s: every run is read from the .vmsn itself: %r" % (name, files))
    notes = rep["input"]["notes"]
    t.check(notes.get("vmware.vcpus", "").startswith("%d with registers" % cpus),
            "%s: --report lists %d vCPUs: %r" % (name, cpus, notes.get("vmware.vcpus")))
    t.check(len(rep["input"]["cpus"]) == cpus, "%s: %d CPU states" % (name, cpus))
    if with_vmem:
        # The same .vmem is found alone in the directory when its name differs; a warning says so.
        out2 = os.path.join(work, "auto.dmp")
        p = t.raw2dmp("--pdb", os.path.join(work, truth["pdb"]["path"]), src, out2, check_rc=0)
        t.check(p.returncode == 0 and "the only .vmem" in p.stderr,
                "%s: the only .vmem in the directory is used, with a warning: %r" % (name, p.stderr))
        t.check(os.path.exists(out2) and open(out2, "rb").read() == open(out, "rb").read(),
                "%s: the same dump without --vmem" % name)
    info_case(work, truth, name, src, cpus, kind)


def info_case(work, truth, name, src, cpus, kind):
    p = t.raw2dmp("--info", "--json", "--pdb", os.path.join(work, truth["pdb"]["path"]), src, check_rc=0)
    if not t.check(p.returncode == 0, "%s: --info" % name):
        return
    notes = json.loads(p.stdout)["input"]["notes"]
    t.check("memory at" in notes.get("vmware.groups", "") and "cpu at" in notes.get("vmware.groups", ""),
            "%s: --info lists the groups: %r" % (name, notes.get("vmware.groups")))
    t.check("regionPPN x%d" % len(truth["runs"]) in notes.get("vmware.memory.tags", ""),
            "%s: --info lists the memory tags understood: %r" % (name, notes.get("vmware.memory.tags")))
    t.check(all("vmware.region.%d" % i in notes for i in range(len(truth["runs"]))), "%s: --info lists the regions" % name)
    t.check(all("vmware.vcpu.%d" % i in notes for i in range(cpus)), "%s: --info lists the vCPUs" % name)
    for i, cpu in enumerate(truth["cpus"]):
        t.check("CR3 0x%x," % cpu["regs"]["cr3"] in notes.get("vmware.vcpu.%d" % i, ""),
                "%s: vCPU %d's CR3 in --info" % (name, i))
    t.check(("embedded" in notes.get("vmware.memory", "")) == (kind == "vmsn"),
            "%s: --info says where the memory is: %r" % (name, notes.get("vmware.memory")))


# ---- refusals ----

def error_lines(stderr):
    return [l for l in stderr.splitlines() if l.strip() and "warning:" not in l]


def refused(name, args, path, outdir, want):
    out = os.path.join(outdir, "out.dmp")
    p = t.raw2dmp("--offline", *args, path, out)
    lines = error_lines(p.stderr)
    t.check(p.returncode == 1, "%s: exit code 1 (got %d)" % (name, p.returncode))
    ok = t.check(len(lines) == 1 and lines[0].startswith("raw2dmp: ") and path in lines[0] and want in lines[0],
                 "%s: one error line naming %s and saying %r: %r" % (name, path, want, p.stderr))
    t.check(not os.path.exists(out) and not [n for n in os.listdir(outdir) if n.endswith(".part")],
            "%s: no output left" % name)
    if not ok:
        print("   stderr:", p.stderr[-600:])


def fresh(work, fx, name, files):
    d = os.path.join(work, name)
    os.makedirs(d)
    for src, dst in files:
        shutil.copyfile(os.path.join(fx, src), os.path.join(d, dst))
    return d


def corrupt_cases(work):
    fx = os.path.join(work, "fx")
    truth = t.make_fixture(fx, seed=11, cpus=2, formats="vmss,vmsn", extra=["--mem-mib", "16", "--above-4g", "8"])
    pdb = ["--pdb", os.path.join(fx, truth["pdb"]["path"])]
    vmss, vmem = "memory.vmss", "memory.vmem"
    st = read_state(os.path.join(fx, vmss))

    d = fresh(work, fx, "missing", [(vmss, vmss)])
    refused("missing .vmem", pdb, os.path.join(d, vmss), d, "no .vmem is beside it")
    d = fresh(work, fx, "two", [(vmss, vmss), (vmem, "a.vmem"), (vmem, "b.vmem")])
    refused("two other .vmem files", pdb, os.path.join(d, vmss), d, "holds 2 .vmem files")
    d = fresh(work, fx, "short", [(vmss, vmss)])
    with open(os.path.join(fx, vmem), "rb") as f, open(os.path.join(d, vmem), "wb") as g:
        g.write(f.read(os.path.getsize(os.path.join(fx, vmem)) // 2))
    refused("regions past the .vmem", pdb, os.path.join(d, vmss), d, "lies past the end of")
    d = fresh(work, fx, "named", [(vmss, vmss), (vmem, vmem)])
    refused("--vmem that does not exist", pdb + ["--vmem", os.path.join(d, "nope.vmem")], os.path.join(d, vmss), d,
            "cannot open")

    def corrupted(case, edits, want, state=vmss, extra=()):
        d = fresh(work, fx, case, [(state, state), (vmem, vmem)])
        for off, fmt, value in edits:
            patch(os.path.join(d, state), off, fmt, value)
        refused(case, pdb + list(extra), os.path.join(d, state), d, want)

    r0 = find_tag(st, "memory", "regionPPN", (0,))
    r1 = find_tag(st, "memory", "regionPPN", (1,))
    pg1 = find_tag(st, "memory", "regionPageNum", (1,))
    corrupted("overlapping regions", [(r1["value_off"], "<I", r0["value"] + 1)], "overlap")
    corrupted("regions sharing file pages", [(pg1["value_off"], "<I", 0)], "share file pages")
    cnt = find_tag(st, "memory", "regionsCount")
    corrupted("regionsCount past the table", [(cnt["value_off"], "<I", 5)], "lacks regionPPN")
    gp = find_tag(st, "cpu", "gpregs", (0,))
    corrupted("block length past its group", [(gp["size_off"], "<Q", 0xFFFFFFFF)], "runs past the end of group cpu")
    cpu_entry = [g for g in st["groups"] if g[0] == "cpu"][0]
    corrupted("group size cutting a tag", [(cpu_entry[3] + 72, "<Q", cpu_entry[2] - 5)], "runs past the end of group cpu")
    corrupted("group past the end of the file", [(cpu_entry[3] + 72, "<Q", 1 << 40)], "runs past end of file")
    num = find_tag(st, "cpu", "cpu:numVCPUs")
    corrupted("registers of a vCPU past cpu:numVCPUs", [(num["value_off"], "<I", 1)], "cpu:numVCPUs is 1")
    corrupted("a tag without a name", [(r0["off"], "<H", 0x0004)], "has no name")
    corrupted("magic", [(0, "<I", 0xBED4BED4)], "not a VMware checkpoint magic", extra=["--input-format", "vmware"])

    sn = read_state(os.path.join(fx, "memory.vmsn"))
    mem = find_tag(sn, "memory", "Memory", (0, 0))
    d = fresh(work, fx, "vmsn-vmem", [("memory.vmsn", "memory.vmsn"), (vmem, vmem)])
    refused("--vmem with embedded memory", pdb + ["--vmem", os.path.join(d, vmem)], os.path.join(d, "memory.vmsn"), d,
            "does not apply")
    corrupted("compressed Memory block", [(mem["off"], "<H", (6 << 8) | (2 << 6) | 62)], "compressed block",
              state="memory.vmsn")
    d = fresh(work, fx, "vmsn-cut", [])
    with open(os.path.join(fx, "memory.vmsn"), "rb") as f, open(os.path.join(d, "memory.vmsn"), "wb") as g:
        g.write(f.read(mem["data_off"] + 0x3000))
    refused("a .vmsn cut inside its memory", pdb, os.path.join(d, "memory.vmsn"), d, "runs past end of file")

    # A .vmem given alone is a raw image, with a warning that its layout is guessed.
    p = t.raw2dmp("--info", "--offline", os.path.join(fx, vmem))
    t.check("a VMware memory file read without its state file" in p.stderr and "guess" in p.stderr,
            "a .vmem given as input warns that the layout is guessed: %r" % p.stderr[-400:])


def main():
    for case in CASES:
        convert_case(*case)
        t.done()
    corrupt_cases(t.workdir("convert_vmware-corrupt"))
    t.finish()


if __name__ == "__main__":
    main()
