# SPDX-License-Identifier: MIT
"""raw2dmp --info on 32-bit Windows fixtures (XP non-PAE, 7 non-PAE and PAE, 10 PAE; ELF EM_386, raw,
LiME): the paging mode and why, the DTB, the kernel base (sign-extended, as the KD structures hold it),
the KDBG and how it was obtained, and, with registers, which processor each vCPU is, all against the
fixture's truth.json. Exit 77 without the LLVM toolchain the fixture factory needs."""
import json
import os
import shutil
import struct

import r2dtest as t

ISF32 = os.path.join(t.SRC, "tests", "data", "isf32")
CASES = [  # (name, isf, pae, cpus, extra mkfixture options)
    ("xp", "32962337F0F646388B39535CD8DD70E8-2.json.xz", False, 1, []),
    ("w7", "vol2-win7_sp1_x86.json.xz", False, 2, []),
    ("w7pae", "vol2-win7_sp1_x86.json.xz", True, 3, ["--user-mode-cpu"]),
    ("w10pae", "vol2-win10_x86_19041.json.xz", True, 2, []),
]

if not (shutil.which("clang") and shutil.which("lld-link")):
    print("SKIP: clang and lld-link are needed to build the 32-bit fixture kernels")
    raise SystemExit(77)


def sx(va):
    """The sign-extended form of a 32-bit kernel VA."""
    va &= 0xFFFFFFFF
    return va | 0xFFFFFFFF00000000 if va & 0x80000000 else va


def make(name, isf, pae, cpus, extra):
    out = t.workdir("info_x86-" + name)
    opts = ["--arch", "x86", "--pae" if pae else "--no-pae"] + extra
    return out, t.make_fixture(out, isf=os.path.join(ISF32, isf), seed=7, cpus=cpus, formats="elf,raw,lime",
                               extra=opts)


for name, isf, pae, cpus, extra in CASES:
    work, truth = make(name, isf, pae, cpus, extra)
    pdb = os.path.join(work, truth["pdb"]["path"])
    mode = "x86 PAE" if pae else "x86"
    for fmt, fname in sorted(truth["formats"].items()):
        what = "%s %s" % (name, fmt)
        p = t.raw2dmp("--info", "--json", "--pdb", pdb, os.path.join(work, fname), check_rc=0)
        if not t.check(p.returncode == 0, "%s: --info succeeds" % what):
            continue
        j = json.loads(p.stdout)
        a = j.get("analysis", {})
        t.check("analysis_error" not in j, "%s: analysis completes: %s" % (what, j.get("analysis_error")))
        paging = a.get("paging", {})
        t.check(paging.get("mode") == mode and paging.get("pointer_size") == 4,
                "%s: paging %s with 4-byte pointers: %s" % (what, mode, paging))
        if fmt == "elf":
            want = "CR4.PAE set" if pae else "CR4.PAE clear"
            t.check(want in paging.get("how", ""), "%s: mode from the registers (%s): %s" % (what, want, paging))
        else:
            want = "0xC0600000" if pae else "0xC0300000"
            t.check("no registers" in paging.get("how", "") and want in paging.get("how", ""),
                    "%s: mode found by the %s self-map: %s" % (what, want, paging))
        t.check(int(a.get("system_dtb", "0"), 16) == truth["dtb"],
                "%s: System DTB 0x%x (got %s)" % (what, truth["dtb"], a.get("system_dtb")))
        kbase = int(a.get("kernel", {}).get("base", "0"), 16)
        t.check(kbase == sx(truth["kernel_base"]),
                "%s: kernel base 0x%x (got 0x%x)" % (what, sx(truth["kernel_base"]), kbase))
        t.check(a.get("kernel", {}).get("pdb_name", "").lower() == truth["pdb"]["name"].lower(),
                "%s: kernel PDB %s" % (what, truth["pdb"]["name"]))
        kd = a.get("kdbg", {})
        t.check(int(kd.get("va", "0"), 16) == sx(truth["kdbg"]["va"]), "%s: KDBG VA" % what)
        want_mode = "decoded" if truth["kdbg"]["mode"] == "encoded" else "plain"
        t.check(kd.get("mode") == want_mode,
                "%s: KDBG %s (got %s: %s)" % (what, want_mode, kd.get("mode"), kd.get("why")))
        t.check(a.get("processors") == truth["header"]["number_processors"], "%s: processors" % what)
        if fmt == "elf":
            got = {m["cpu"]: m.get("processor") for m in a.get("cpu_matches", [])}
            want = {c["note_index"]: c["processor"] for c in truth["cpus"]}
            t.check(got == want, "%s: vCPU -> processor %s (got %s)" % (what, want, got))
            ctx = {m["cpu"]: int(m.get("context_va", "0"), 16) for m in a.get("cpu_matches", [])}
            want_ctx = {c["note_index"]: sx(c["context_va"]) for c in truth["cpus"]}
            t.check(ctx == want_ctx, "%s: CONTEXT addresses %s (got %s)" % (what, want_ctx, ctx))
    # --rebuild-kdbg builds the 32-bit block from the symbols: sign-extended pointers, the 32-bit list links
    # in the first qword and zeros in the second, PaeEnabled, the x86 Size of the build, PteBase 0xC0000000.
    p = t.raw2dmp("--info", "--json", "--rebuild-kdbg", "--pdb", pdb, os.path.join(work, truth["formats"]["raw"]),
                  check_rc=0)
    if t.check(p.returncode == 0, "%s: --info --rebuild-kdbg succeeds" % name):
        kd = json.loads(p.stdout)["analysis"]["kdbg"]
        b = bytes.fromhex(kd["bytes"].replace(" ", ""))
        u64 = lambda o: struct.unpack_from("<Q", b, o)[0]
        size = {2600: 0x290, 7601: 0x340, 19041: 0x380}[truth["build"]]
        base = truth["kernel_base"]
        t.check(kd["mode"] == "rebuilt" and len(b) == size,
                "%s: rebuilt, Size 0x%x (got %s)" % (name, size, kd["size"]))
        t.check(u64(0x18) == sx(base), "%s: rebuilt KernBase" % name)
        for off, sym in ((0x48, "PsLoadedModuleList"), (0x50, "PsActiveProcessHead"), (0x218, "KiProcessorBlock")):
            t.check(u64(off) == sx(base + truth["symbols"][sym]), "%s: rebuilt %s 0x%x (got 0x%x)"
                    % (name, sym, sx(base + truth["symbols"][sym]), u64(off)))
        t.check(u64(0) & 0xFFFFFFFF != 0 and u64(8) == 0, "%s: 32-bit List links in the first qword, 0 in the "
                "second: 0x%x 0x%x" % (name, u64(0), u64(8)))
        t.check(struct.unpack_from("<H", b, 0x36)[0] == (1 if pae else 0), "%s: PaeEnabled" % name)
        if size > 0x338:
            t.check(struct.unpack_from("<H", b, 0x338)[0] == truth["layouts"]["_KPRCB.Context"],
                    "%s: OffsetPrcbContext" % name)
        if size > 0x360:
            t.check(u64(0x360) == 0xFFFFFFFFC0000000, "%s: PteBase 0xC0000000 (got 0x%x)" % (name, u64(0x360)))
    # The text form says the mode and why.
    p = t.raw2dmp("--info", "--pdb", pdb, os.path.join(work, truth["formats"]["elf"]), check_rc=0)
    lines = [l for l in p.stdout.splitlines() if l.startswith("Paging")]
    t.check(len(lines) == 1 and lines[0].split(None, 1)[1].startswith(mode + ", 32-bit pointers; "),
            "%s: text --info says '%s, 32-bit pointers; ...': %s" % (name, mode, lines))

t.finish()
