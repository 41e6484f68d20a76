# SPDX-License-Identifier: MIT
"""raw2dmp --info describes each fixture container exactly: the runs and CPU states equal the ground
truth, the chosen format is named with its reason, and the engine's findings (DTB, kernel base, KDBG)
equal the truth. Also: bad command lines exit 2 with a one-line message."""
import json
import os

import r2dtest as t

work = t.workdir("info_fixtures")
truth = t.make_fixture(work, seed=31, cpus=3, formats="elf,raw,lime", extra=["--lime-compress"])
pdb = os.path.join(work, truth["pdb"]["path"])
files = dict(truth["formats"])


def info(path, *extra):
    p = t.raw2dmp("--info", "--json", "--pdb", pdb, *extra, path, check_rc=0)
    t.check(p.returncode == 0, "--info %s succeeds" % path)
    return json.loads(p.stdout) if p.returncode == 0 else None


truth_runs = [(r["pa"], r["len"]) for r in truth["runs"]]
for fmt, fname in sorted(files.items()):
    path = os.path.join(work, fname)
    j = info(path)
    if j is None:
        continue
    inp = j["input"]
    want_format = {"elf": "elf", "raw": "raw", "lime": "lime", "lime_z": "lime"}[fmt]
    t.check(inp["format"] == want_format, "%s: format %s (got %s)" % (fmt, want_format, inp["format"]))
    t.check(inp["format_reason"].startswith("auto: " + want_format), "%s: reason given: %s" % (fmt, inp["format_reason"]))
    runs = [(int(r["pa"], 16), int(r["length"], 16)) for r in inp["runs"]]
    if fmt == "raw":
        t.check(runs == [(0, os.path.getsize(path))], "raw: one run over the whole file")
    else:
        t.check(runs == truth_runs, "%s: runs equal the truth: %s" % (fmt, runs))
    if fmt == "elf":
        t.check(len(inp["cpus"]) == len(truth["cpus"]), "elf: one CPU state per vCPU")
        for got, want in zip(inp["cpus"], sorted(truth["cpus"], key=lambda c: c["note_index"])):
            r = want["regs"]
            for key in ("rip", "rsp", "cr3", "gs_base", "idt_base", "gdt_base"):
                t.check(int(got[key], 16) == r[key], "elf: CPU %d %s" % (want["note_index"], key))
            t.check(int(got["kernel_gs_base"], 16) == r["kernel_gs_base"], "elf: CPU %d kernel_gs_base" % want["note_index"])
            t.check(got["cs"] == r["cs"], "elf: CPU %d cs" % want["note_index"])
    else:
        t.check(inp["cpus"] == [], "%s: no CPU states" % fmt)
    a = j.get("analysis", {})
    t.check("analysis_error" not in j, "%s: analysis completes: %s" % (fmt, j.get("analysis_error")))
    t.check(int(a.get("kernel", {}).get("base", "0"), 16) == truth["kernel_base"], "%s: kernel base" % fmt)
    t.check(int(a.get("system_dtb", "0"), 16) == truth["dtb"], "%s: system DTB" % fmt)
    t.check(int(a.get("kdbg", {}).get("va", "0"), 16) == truth["kdbg"]["va"], "%s: KDBG VA" % fmt)
    t.check(a.get("kdbg", {}).get("mode") == "decoded", "%s: KDBG decoded" % fmt)

# The text form names the same things.
p = t.raw2dmp("--info", "--pdb", pdb, os.path.join(work, files["elf"]), check_rc=0)
labels = [l.split()[0] for l in p.stdout.splitlines() if l and not l.startswith(" ")]
t.check(p.returncode == 0 and labels[:7] == ["Input", "Format", "OS", "Paging", "Kernel", "Symbols", "System"]
        and "KDBG" in labels and "Conversion" in labels, "text --info starts with the summary: %r" % p.stdout)
t.check("Format      elf, detected (confidence" in p.stdout, "text --info: the format and why: %r" % p.stdout)

# Bad command lines: exit 2, a message naming the problem, a hint.
src = os.path.join(work, files["elf"])
for args, needle in [(["--no-such-option", src, "o.dmp"], "raw2dmp: unknown option '--no-such-option'"),
                     (["--dtb", "x12", src, "o.dmp"], "--dtb: not a number: 'x12'"),
                     (["--dtb", "0x", src, "o.dmp"], "--dtb: not a number: '0x'"),
                     (["--dtb", " 1000", src, "o.dmp"], "--dtb: not a number: ' 1000'"),
                     (["--dtb", "-1", src, "o.dmp"], "--dtb: not a number: '-1'"),
                     (["--kernel-base", "fffff805``ec800000", src, "o.dmp"], "--kernel-base: not a number"),
                     (["--kernel-base", "fffff805ec800000`", src, "o.dmp"], "--kernel-base: not a number"),
                     (["--kernel-base", "1fffff805ec800000", src, "o.dmp"], "more than 64 bits"),
                     (["--bugcheck", "0n4294967296", src, "o.dmp"], "--bugcheck: not a 32-bit number"),
                     (["--bugcheck", "0t17", src, "o.dmp"], "--bugcheck: not a 32-bit number"),
                     (["--batch", "m.jsonl", "-j", "+2"], "--jobs: expected 1 to 256, not '+2'"),
                     (["--batch", "m.jsonl", "-j", "0x2"], "--jobs: expected 1 to 256, not '0x2'"),
                     (["--dump-type", "partial", src, "o.dmp"], "--dump-type"),
                     ([src], "INPUT and OUTPUT"),
                     (["--info", src, "extra"], "--info"),
                     (["--pdb", pdb, "--symbols", "x.json", src, "o.dmp"], "--pdb and --symbols"),
                     (["--input-format", "nosuch", src, "o.dmp"], "nosuch")]:
    p = t.raw2dmp(*args)
    t.check(p.returncode == 2, "usage %s: exit 2 (got %d)" % (args[0], p.returncode))
    t.check(needle in p.stderr and "--help" in p.stderr, "usage %s: message names it: %r" % (args[0], p.stderr))
    t.check(not os.path.exists("o.dmp"), "usage %s: nothing written" % args[0])
p = t.raw2dmp("--help")
t.check(p.returncode == 0 and "usage: raw2dmp" in p.stdout and p.stderr == "", "--help on stdout, exit 0")
p = t.raw2dmp("--version")
t.check(p.returncode == 0 and p.stdout.startswith("raw2dmp "), "--version")
p = t.raw2dmp("--list-formats")
for name in ("elf", "lime", "raw", "crashdump", "kdump", "savevm", "libvirt-save"):
    t.check(any(line.split()[0] == name for line in p.stdout.splitlines() if line.strip()), "--list-formats lists %s" % name)
t.finish()
