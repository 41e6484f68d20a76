# SPDX-License-Identifier: MIT
"""Every truncation of every input refuses cleanly. Each fixture (factory ELF, LiME, compressed LiME, raw, a
VirtualBox core, a Xen dump-core; a crash dump written by raw2dmp read back with --info; the fixture PDB
given with --pdb) is cut at each structural boundary and at 20 random points, and raw2dmp must answer with
one error line on stderr naming the file, exit code 1, and leave neither an output nor a temporary
(.*.part) in the output directory.

Expectations per format:
- ELF, VirtualBox and Xen cores, compressed LiME, crash dump, PDB: any cut short of the full file is an
  error.
- LiME: a cut inside a header or inside a range's data is an error; a cut exactly between two ranges leaves a
  valid LiME file of fewer ranges, which converts (exit 0) or fails for lack of the kernel (exit 1).
- raw: a raw image cut short is a valid raw image of less memory: it converts (exit 0, a complete dump) or
  fails with one error line naming the file (the kernel or its page tables are gone).
- hiberfil.sys (Windows 7 and 10 layouts): any cut before the last page set's last byte is an error.
- VMware: any cut of a .vmss or a .vmsn, and any cut of a .vmem short of its last region, is an error naming
  the state file.
"""
import os
import random
import struct

import r2dtest as t

RANDOM_CUTS = 20


def leftovers(d):
    return [n for n in os.listdir(d) if n.endswith(".part") or n == "out.dmp"]


def error_lines(stderr):
    """The lines that are not warnings (raw2dmp prints warnings on the way to an error)."""
    return [l for l in stderr.splitlines() if l.strip() and not l.startswith("raw2dmp: warning")
            and "warning:" not in l]


def check_refused(name, p, path, outdir, allow_success=False):
    lines = error_lines(p.stderr)
    if allow_success and p.returncode == 0:
        t.check(os.path.exists(os.path.join(outdir, "out.dmp")), "%s: success leaves the dump" % name)
        t.check(not [n for n in os.listdir(outdir) if n.endswith(".part")], "%s: no temporary left" % name)
        with open(os.path.join(outdir, "out.dmp"), "rb") as f:
            t.check(f.read(8) == b"PAGEDU64", "%s: the dump starts with PAGEDU64" % name)
        os.unlink(os.path.join(outdir, "out.dmp"))
        return
    ok = t.check(p.returncode == 1, "%s: exit code 1 (got %d)" % (name, p.returncode))
    ok &= t.check(len(lines) == 1, "%s: exactly one error line (got %r)" % (name, p.stderr[-600:]))
    if lines:
        ok &= t.check(lines[0].startswith("raw2dmp: ") and path in lines[0],
                      "%s: the error names the file %s: %r" % (name, path, lines[0]))
    ok &= t.check(not leftovers(outdir), "%s: nothing left in the output directory: %r" % (name, leftovers(outdir)))
    if not ok:
        print("   stderr:", p.stderr[-600:])
    for n in leftovers(outdir):
        os.unlink(os.path.join(outdir, n))


def cut_file(src, dst, n):
    with open(src, "rb") as f, open(dst, "wb") as g:
        g.write(f.read(n))


def random_points(size, seed):
    r = random.Random(seed)
    return sorted(r.randrange(1, size) for _ in range(RANDOM_CUTS))


def elf_points(path):
    with open(path, "rb") as f:
        data = f.read(1 << 20)
        size = f.seek(0, 2)
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phnum, = struct.unpack_from("<H", data, 0x38)
    pts = {0, 1, 4, 16, 20, 63, 64, phoff, phoff + 28, phoff + 56 * phnum - 1, phoff + 56 * phnum}
    for i in range(phnum):
        o = phoff + 56 * i
        ptype, = struct.unpack_from("<I", data, o)
        off, = struct.unpack_from("<Q", data, o + 8)
        filesz, = struct.unpack_from("<Q", data, o + 0x20)
        pts.add(o + 56)
        if ptype == 4:  # each note header and descriptor
            pos = off
            while pos + 12 <= off + filesz:
                namesz, descsz = struct.unpack_from("<II", data, pos)
                desc = pos + 12 + ((namesz + 3) & ~3)
                pts.update({pos, pos + 6, pos + 12, desc, desc + descsz // 2})
                pos = desc + ((descsz + 3) & ~3)
        elif ptype == 1 and filesz:
            pts.update({off, off + filesz // 2, off + filesz - 1})
    return sorted(p for p in pts if p < size), size


def lime_points(path):
    """(cuts that must fail, cuts at a range boundary)."""
    bad, boundary = set(), set()
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        pos = 0
        while pos + 32 <= size:
            f.seek(pos)
            _, _, s, e, _ = struct.unpack("<IIQQQ", f.read(32))
            n = e - s + 1
            bad.update({pos + 1, pos + 8, pos + 16, pos + 31, pos + 32, pos + 32 + n // 2, pos + 32 + n - 1})
            if pos:
                boundary.add(pos)
            pos += 32 + n
    return sorted(p for p in bad if p < size), sorted(boundary), size


def check_elf(work, fx):
    src = os.path.join(fx, "memory.elf")
    pts, size = elf_points(src)
    pts = sorted(set(pts) | set(random_points(size, 1)))
    cut = os.path.join(work, "cut.elf")
    for n in pts:
        cut_file(src, cut, n)
        p = t.raw2dmp("--offline", "--pdb", os.path.join(fx, "ntkrnlmp.pdb"), cut, os.path.join(work, "out.dmp"))
        check_refused("elf cut at 0x%x" % n, p, cut, work)
    return len(pts)


def check_lime(work, fx):
    src = os.path.join(fx, "memory.lime")
    bad, boundary, size = lime_points(src)
    rnd = set(random_points(size, 2))
    cut = os.path.join(work, "cut.lime")
    count = 0
    for n in sorted(set(bad) | rnd | set(boundary)):
        cut_file(src, cut, n)
        p = t.raw2dmp("--offline", "--pdb", os.path.join(fx, "ntkrnlmp.pdb"), "--input-format", "lime", cut,
                      os.path.join(work, "out.dmp"))
        check_refused("lime cut at 0x%x" % n, p, cut, work, allow_success=n in boundary)
        count += 1
    return count


def check_lime_z(work, fx):
    src = os.path.join(fx, "memory.lime.z")
    size = os.path.getsize(src)
    pts = {1, 2, 3, 64, size // 4, size // 2, size - 5, size - 4, size - 1} | set(random_points(size, 3))
    cut = os.path.join(work, "cut.lime.z")
    for n in sorted(pts):
        cut_file(src, cut, n)
        p = t.raw2dmp("--offline", "--pdb", os.path.join(fx, "ntkrnlmp.pdb"), "--input-format", "lime", cut,
                      os.path.join(work, "out.dmp"))
        check_refused("compressed lime cut at 0x%x" % n, p, cut, work)
    return len(pts)


def check_raw(work, fx, truth):
    src = os.path.join(fx, "memory.raw")
    size = os.path.getsize(src)
    pts = {1, 4096, 0x9F000, 0x100000, truth["dtb"], truth["dtb"] + 0x800, size // 2, size - 4096, size - 1}
    pts |= set(random_points(size, 4))
    cut = os.path.join(work, "cut.raw")
    for n in sorted(p for p in pts if 0 < p < size):
        cut_file(src, cut, n)
        p = t.raw2dmp("--offline", "--pdb", os.path.join(fx, "ntkrnlmp.pdb"), "--input-format", "raw", cut,
                      os.path.join(work, "out.dmp"))
        check_refused("raw cut at 0x%x" % n, p, cut, work, allow_success=True)
    return len(pts)


def check_dumps(work, fx):
    count = 0
    for kind in ["full", "bitmap"]:
        dump = os.path.join(work, "whole-%s.dmp" % kind)
        p = t.raw2dmp("--offline", "--pdb", os.path.join(fx, "ntkrnlmp.pdb"), "--dump-type", kind, "--hash", "none",
                      os.path.join(fx, "memory.elf"), dump, check_rc=0)
        if not t.check(p.returncode == 0, "%s dump written" % kind):
            continue
        size = os.path.getsize(dump)
        pts = {1, 8, 0x88, 0x98, 0xF98, 0x1000, 0x1FFF, 0x2000, 0x2001, 0x2038, 0x2040, 0x3000, size // 2,
               size - 1} | set(random_points(size, 5))
        cut = os.path.join(work, "cut-%s.dmp" % kind)
        for n in sorted(p for p in pts if p < size):
            cut_file(dump, cut, n)
            # Declared: a 1-byte cut no longer looks like a dump and would be described as a raw image.
            p = t.raw2dmp("--info", "--offline", "--input-format", "crashdump", cut)
            check_refused("%s crash dump cut at 0x%x (--info)" % (kind, n), p, cut, work)
            count += 1
        os.unlink(dump)
    return count


def pdb_points(path):
    with open(path, "rb") as f:
        data = f.read()
    bs, _, nblocks, dirbytes, _, mapaddr = struct.unpack_from("<IIIIII", data, 0x20)
    pts = {1, 0x1F, 0x20, 0x38, bs, 2 * bs, mapaddr * bs, mapaddr * bs + 4}
    nmap = (dirbytes + bs - 1) // bs
    dblocks = struct.unpack_from("<%dI" % nmap, data, mapaddr * bs)
    d = b"".join(data[b * bs:(b + 1) * bs] for b in dblocks)[:dirbytes]
    pts.update(b * bs for b in dblocks)
    nstreams, = struct.unpack_from("<I", d, 0)
    sizes = struct.unpack_from("<%dI" % nstreams, d, 4)
    pos = 4 + 4 * nstreams
    for s in sizes:
        if s == 0xFFFFFFFF:
            continue
        n = (s + bs - 1) // bs
        blocks = struct.unpack_from("<%dI" % n, d, pos)
        pos += 4 * n
        if blocks:
            pts.update({blocks[0] * bs, blocks[0] * bs + min(s, bs) // 2})
    return sorted(p for p in pts if p < len(data)), len(data)


def check_pdb(work, fx):
    src = os.path.join(fx, "ntkrnlmp.pdb")
    pts, size = pdb_points(src)
    pts = sorted(set(pts) | set(random_points(size, 6)))
    cut = os.path.join(work, "cut.pdb")
    for n in pts:
        cut_file(src, cut, n)
        p = t.raw2dmp("--offline", "--pdb", cut, os.path.join(fx, "memory.elf"), os.path.join(work, "out.dmp"))
        check_refused("pdb cut at 0x%x" % n, p, cut, work)
    return len(pts)


def xen_points(path):
    """Section headers, each note, the vCPU contexts, .xen_pages, .xen_pfn and .shstrtab (last in the file)."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
        size = f.seek(0, 2)
    shoff, = struct.unpack_from("<Q", head, 0x28)
    shnum, = struct.unpack_from("<H", head, 0x3C)
    pts = {1, 16, 63, 64, shoff + 30, shoff + 64 * shnum - 1, shoff + 64 * shnum}
    for i in range(shnum):
        stype, = struct.unpack_from("<I", head, shoff + 64 * i + 4)
        off, sz = struct.unpack_from("<QQ", head, shoff + 64 * i + 0x18)
        pts.update({off, off + sz // 2, off + sz - 1})
        if stype == 7:  # .note.Xen: each note header and descriptor
            pos = off
            while pos + 16 <= off + sz:
                descsz, = struct.unpack_from("<I", head, pos + 4)
                pts.update({pos + 6, pos + 16 + descsz // 2})
                pos += 16 + ((descsz + 3) & ~3)
    return sorted(p for p in pts if 0 < p < size), size


def check_vbox_xen(work):
    """VirtualBox cores (ELF program headers and notes) and Xen dump-core files (sections, the string table
    last): every cut short of the full file is an error."""
    fx = t.workdir("bad_input-fixture-vbox-xen")
    t.make_fixture(fx, formats="vbox,xen", extra=["--mem-mib", "16"])
    count = 0
    for name, points, seed in (("memory-vbox.core", elf_points, 7), ("memory-xen.core", xen_points, 8)):
        src = os.path.join(fx, name)
        pts, size = points(src)
        cut = os.path.join(work, "cut-" + name)
        for n in sorted(set(pts) | set(random_points(size, seed))):
            cut_file(src, cut, n)
            p = t.raw2dmp("--offline", "--pdb", os.path.join(fx, "ntkrnlmp.pdb"), cut, os.path.join(work, "out.dmp"))
            check_refused("%s cut at 0x%x" % (name, n), p, cut, work)
            count += 1
        os.unlink(cut)
    t.done(fx)
    return count


def hiber_points(info):
    """Header, processor-state page, the first and last page sets' headers and data, each Windows 7 table;
    all short of the end of the last set (the page padding after it is not needed)."""
    sets = info["sets"]
    end = sets[-1]["offset"] + sets[-1]["size"] + 32 + 8 * 16
    pts = {1, 4, 0x20, 0x3FF, 4096, 2 * 4096 + 0x100}
    for s in sets[:3] + sets[-3:]:
        pts.update({s["offset"], s["offset"] + 3, s["offset"] + 13, s["offset"] + 40 + s["size"] // 2})
    for tab in info.get("tables", [])[:3]:
        pts.update({tab["page"] * 4096 + 4, tab["page"] * 4096 + 20})
    return sorted(p for p in pts if p < end), end


def check_hiberfil(work):
    """Windows 7 and Windows 10 hibernation files: every cut before the end of the last page set is an error
    (a set's data, a table or a header cut short)."""
    fx = t.workdir("bad_input-fixture-hiberfil")
    truth = t.make_fixture(fx, formats="hiber7,hiber10", extra=["--mem-mib", "16", "--fill", "zero"])
    count = 0
    for key, seed in (("hiber7", 9), ("hiber10", 10)):
        src = os.path.join(fx, truth["formats"][key])
        pts, end = hiber_points(truth["hiberfil"][key])
        last = truth["hiberfil"][key]["sets"][-1]
        end = min(end, last["offset"] + last["size"])      # before the last set's final byte at the latest
        cut = os.path.join(work, "cut-" + truth["formats"][key])
        for n in sorted(set(p for p in pts if p < end) | set(random_points(end, seed))):
            cut_file(src, cut, n)
            p = t.raw2dmp("--offline", "--pdb", os.path.join(fx, "ntkrnlmp.pdb"), cut, os.path.join(work, "out.dmp"))
            check_refused("%s cut at 0x%x" % (key, n), p, cut, work)
            count += 1
        os.unlink(cut)
    t.done(fx)
    return count


def main():
    fx = t.workdir("bad_input-fixture")
    work = t.workdir("bad_input")
    truth = t.make_fixture(fx, formats="elf,raw,lime", extra=["--mem-mib", "16", "--lime-compress"])
    counts = {
        "elf": check_elf(work, fx),
        "lime": check_lime(work, fx),
        "lime.z": check_lime_z(work, fx),
        "raw": check_raw(work, fx, truth),
        "crashdump": check_dumps(work, fx),
        "pdb": check_pdb(work, fx),
        "vbox, xen": check_vbox_xen(work),
    }
    counts["vmware"] = check_vmware(work)
    counts["hiberfil"] = check_hiberfil(work)
    print("cuts tried:", counts)
    check_many_cpus(work)
    t.finish()


def vmware_points(path):
    """Each group entry, each tag of the memory and cpu groups and each block's size fields."""
    import mmap
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    magic, _, n = struct.unpack_from("<III", data, 0)
    width = 4 if magic & 0xF == 0 else 8
    pts = {1, 4, 8, 11, 12}
    for i in range(n):
        e = 12 + 80 * i
        off, gsize = struct.unpack_from("<QQ", data, e + 64)
        pts.update({e, e + 64, e + 79, off, off + gsize // 2, off + gsize - 1})
        pos = off
        while data[e:e + 6] in (b"memory", b"cpu\0\0\0") and pos < off + gsize:
            head, = struct.unpack_from("<H", data, pos)
            if head == 0:
                break
            p = pos + 2 + (head >> 8) + 4 * (head >> 6 & 3)
            pts.update({pos + 1, pos + 2, p})
            if head & 0x3F >= 62:
                ln = struct.unpack_from("<I" if width == 4 else "<Q", data, p)[0]
                pad, = struct.unpack_from("<H", data, p + 2 * width)
                pts.update({p + width, p + 2 * width + 1, p + 2 * width + 2 + pad + ln // 2})
                p += 2 * width + 2 + pad + ln
            else:
                p += head & 0x3F
            pos = p
    data.close()
    return sorted(p for p in pts if 0 < p < size)


def check_vmware(work):
    """Cuts of a .vmss (its .vmem whole), of the .vmem (the .vmss whole) and of a .vmsn."""
    import shutil
    fx = t.workdir("bad_input-vmware-fixture")
    t.make_fixture(fx, formats="vmss,vmsn", extra=["--mem-mib", "16", "--above-4g", "8"])
    pdb = ["--offline", "--pdb", os.path.join(fx, "ntkrnlmp.pdb")]
    d = os.path.join(work, "vmware")
    os.makedirs(d)
    count = 0
    for name in ["memory.vmss", "memory.vmsn"]:
        src = os.path.join(fx, name)
        shutil.copyfile(os.path.join(fx, "memory.vmem"), os.path.join(d, "cut.vmem"))
        cut = os.path.join(d, "cut" + name[-5:])
        for n in sorted(set(vmware_points(src)) | set(random_points(os.path.getsize(src), 7))):
            cut_file(src, cut, n)
            p = t.raw2dmp(*pdb, "--input-format", "vmware", cut, os.path.join(d, "out.dmp"))
            check_refused("%s cut at 0x%x" % (name, n), p, cut, d)
            count += 1
        os.unlink(cut)
    shutil.copyfile(os.path.join(fx, "memory.vmss"), os.path.join(d, "cut.vmss"))
    size = os.path.getsize(os.path.join(fx, "memory.vmem"))
    for n in sorted({1, 4096, 0x9F000, size // 2, size - 4096, size - 1} | set(random_points(size, 8))):
        cut_file(os.path.join(fx, "memory.vmem"), os.path.join(d, "cut.vmem"), n)
        p = t.raw2dmp(*pdb, os.path.join(d, "cut.vmss"), os.path.join(d, "out.dmp"))
        check_refused("memory.vmem cut at 0x%x" % n, p, os.path.join(d, "cut.vmss"), d)
        count += 1
    return count


def check_many_cpus(work):
    """fuzz/FINDINGS.md F1: an ELF declaring 1000 CPUs whose IDT handlers and RIPs point at distinct
    places with no kernel must fail with one line, not scan 64 MiB per CPU (it took minutes before the
    scan-down budget). The subprocess timeout only guards against a hang; it is not a speed assertion."""
    import lzma
    src = os.path.join(work, "many-cpus.elf")
    with lzma.open(os.path.join(t.SRC, "fuzz", "findings", "discover_cli", "1000-cpus-distinct-rips.elf.xz")) as f, \
            open(src, "wb") as o:
        o.write(f.read())
    out = os.path.join(work, "many-cpus.dmp")
    p = t.raw2dmp("--offline", src, out, timeout=300)
    t.check(p.returncode == 1 and p.stderr.count("\n") == 1 and "no Windows kernel" in p.stderr,
            "1000-CPU hostile ELF: one clear line: %r" % p.stderr)
    t.check(not os.path.exists(out), "1000-CPU hostile ELF: no output")


if __name__ == "__main__":
    main()
