# SPDX-License-Identifier: MIT
"""raw2dmp --info on 32-bit Windows fixtures (XP non-PAE, 7 non-PAE and PAE, 10 PAE; ELF EM_386, raw,
LiME): the paging mode and why, the DTB, the kernel base (sign-extended, as the KD structures hold it),
the KDBG and how it was obtained, and, with registers, which processor each vCPU is, all against the
fixture's truth.json. Exit 77 without the LLVM toolchain the fixture factory needs."""
import json
import os
import shutil

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
        t.check(kbase == sx(truth["kernel_base"]), "%s: kernel base 0x%x (got 0x%x)" % (what, sx(truth["kernel_base"]), kbase))
        t.check(a.get("kernel", {}).get("pdb_name", "").lower() == truth["pdb"]["name"].lower(),
                "%s: kernel PDB %s" % (what, truth["pdb"]["name"]))
        kd = a.get("kdbg", {})
        t.check(int(kd.get("va", "0"), 16) == sx(truth["kdbg"]["va"]), "%s: KDBG VA" % what)
        want_mode = "decoded" if truth["kdbg"]["mode"] == "encoded" else "plain"
        t.check(kd.get("mode") == want_mode, "%s: KDBG %s (got %s: %s)" % (what, want_mode, kd.get("mode"), kd.get("why")))
        t.check(a.get("processors") == truth["header"]["number_processors"], "%s: processors" % what)
        if fmt == "elf":
            got = {m["cpu"]: m.get("processor") for m in a.get("cpu_matches", [])}
            want = {c["note_index"]: c["processor"] for c in truth["cpus"]}
            t.check(got == want, "%s: vCPU -> processor %s (got %s)" % (what, want, got))
            ctx = {m["cpu"]: int(m.get("context_va", "0"), 16) for m in a.get("cpu_matches", [])}
            want_ctx = {c["note_index"]: sx(c["context_va"]) for c in truth["cpus"]}
            t.check(ctx == want_ctx, "%s: CONTEXT addresses %s (got %s)" % (what, want_ctx, ctx))
    # The text form says the mode and why.
    p = t.raw2dmp("--info", "--pdb", pdb, os.path.join(work, truth["formats"]["elf"]), check_rc=0)
    lines = [l for l in p.stdout.splitlines() if l.startswith("Paging")]
    t.check(len(lines) == 1 and lines[0].split(None, 1)[1].startswith(mode + ", 32-bit pointers; "),
            "%s: text --info says '%s, 32-bit pointers; ...': %s" % (name, mode, lines))

t.finish()
