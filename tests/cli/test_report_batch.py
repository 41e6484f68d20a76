# SPDX-License-Identifier: MIT
"""The forensic workflow: the --report JSON equals the fixture's ground truth and carries the SHA-256 of the
input and the output as sha256sum computes them; the same input gives a byte-identical dump (also with
--hash none, whose writer copies with copy_file_range); --batch converts the good items of a mixed manifest,
reports the bad ones, skips finished items on a re-run and retries only the failed ones, the same with -j 2;
-q is silent on success; the progress line appears only with --progress when stderr is not a terminal."""
import hashlib
import json
import os
import shutil
import struct
import subprocess

import r2dtest as t

KDBG_REASON, FLAG_REASON, CONTEXT_SIZE = "KDBG decoded", "KdpDataBlockEncoded cleared", 0x4D0


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run(*args, stdin=None, perturb=None, one_cpu=False):
    env = dict(os.environ)
    if perturb is not None:
        env["MALLOC_PERTURB_"] = str(perturb)  # uninitialised heap bytes differ between the two runs
    # One CPU: the writer hashes both digests on its own thread instead of helper threads.
    pin = (lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})) if one_cpu else None
    return subprocess.run([t.RAW2DMP] + [str(a) for a in args], capture_output=True, text=True, input=stdin,
                          timeout=600, env=env, preexec_fn=pin)


def sparse_copy(src, dst):
    """dst: src with every all-zero 64 KiB block left as a hole (the padding and free pages of the image)."""
    with open(src, "rb") as f, open(dst, "wb") as o:
        for block in iter(lambda: f.read(1 << 16), b""):
            if block.count(0) == len(block):
                o.seek(len(block), os.SEEK_CUR)
            else:
                o.write(block)
        o.truncate()


def reversed_elf(src, dst):
    """dst: src with its PT_LOAD segments stored in the file in reverse order (program headers updated), so
    that the writer, going up in physical address, reads the file from its end backwards."""
    with open(src, "rb") as f:
        data = f.read()
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads = []
    for i in range(phnum):
        ph = phoff + i * phentsize
        if struct.unpack_from("<I", data, ph)[0] == 1:  # PT_LOAD
            loads.append((struct.unpack_from("<Q", data, ph + 8)[0], struct.unpack_from("<Q", data, ph + 0x20)[0], ph))
    loads.sort()
    out = bytearray(data[:loads[0][0]])
    for off, size, ph in reversed(loads):
        struct.pack_into("<Q", out, ph + 8, len(out))
        out += data[off:off + size]
    with open(dst, "wb") as f:
        f.write(out)
    return len(loads)


def digests(work, truth, pdb):
    """The input digest is made from the writer's own reads plus what they skip (ELF headers and notes, LiME
    range headers, raw padding, patched pages, holes), or by reading the whole file when the runs are
    decoded (compressed LiME): each way it must be sha256sum's answer, with helper threads and without."""
    sparse = os.path.join(work, "sparse.raw")
    sparse_copy(os.path.join(work, truth["formats"]["raw"]), sparse)
    t.check(os.stat(sparse).st_blocks * 512 < os.path.getsize(sparse), "the sparse raw copy has holes")
    cases = [(fmt, os.path.join(work, truth["formats"][fmt])) for fmt in ("raw", "lime", "lime_z")]
    cases.append(("sparse raw", sparse))
    rev = os.path.join(work, "reversed.elf")
    t.check(reversed_elf(os.path.join(work, truth["formats"]["elf"]), rev) > 1, "the fixture ELF has several PT_LOADs")
    cases.append(("ELF with PT_LOADs stored in reverse", rev))
    for name, s in cases + [("elf", os.path.join(work, truth["formats"]["elf"]))]:
        for one_cpu in (False, True):
            tag = "%s%s" % (name, " on one CPU" if one_cpu else "")
            o, r = os.path.join(work, "digest.dmp"), os.path.join(work, "digest.json")
            p = run("-q", "--force", "--pdb", pdb, "--report", r, s, o, one_cpu=one_cpu)
            if t.check(p.returncode == 0, "%s: convert: %s" % (tag, p.stderr)):
                with open(r) as f:
                    rep = json.load(f)
                t.check(rep["input"].get("sha256") == sha256(s) and rep["output"]["sha256"] == sha256(o),
                        "%s: input and output SHA-256 equal sha256sum (%s)" % (tag, rep["input"].get("sha256_error")))


def check_report(rep, truth, src, out, pdb):
    an = rep.get("analysis", {})
    t.check(rep.get("schema") == 2 and rep.get("result") == "ok", "report: schema 2, result ok")
    t.check(rep["options"]["pdb"] == pdb and rep["options"]["hash"] == "sha256" and rep["options"]["dump_type"] == "auto",
            "report: options echoed (%s)" % rep["options"])
    t.check(rep["input"]["path"] == src and rep["input"]["size"] == os.path.getsize(src), "report: input path and size")
    t.check(rep["input"]["format"] == "elf" and "elf" in rep["input"]["format_reason"], "report: format and why")
    t.check(int(an["dtb"], 16) == truth["dtb"] and an["dtb_how"], "report: DTB and how it was found")
    t.check(int(an["kernel"]["base"], 16) == truth["kernel_base"] and an["kernel"]["how"], "report: kernel base and how")
    t.check(an["kernel"]["pdb_guid"] == truth["pdb"]["guid"] and an["kernel"]["pdb_age"] == truth["pdb"]["age"],
            "report: PDB GUID/age")
    t.check(an["version"]["build"] == truth["build"], "report: build")
    t.check(an["symbols"]["kind"] == "pdb" and an["symbols"]["origin"] == pdb, "report: where the symbols came from")
    t.check(an["kdbg"]["mode"] == ("decoded" if truth["kdbg"]["mode"] == "encoded" else "plain"), "report: KDBG mode")
    t.check(rep["kdbg_verification"]["result"] == "not_requested", "report: verification not requested")
    runs = [(int(r["pa"], 16), int(r["length"], 16)) for r in rep["input"]["runs"]]
    t.check(runs == [(r["pa"], r["len"]) for r in truth["runs"]], "report: run table %s" % runs)
    patches = rep["plan"]["patches"]
    t.check(patches, "report: patch list not empty")
    kdbg = sorted((int(p["pa"], 16), p["length"]) for p in patches if p["reason"] == KDBG_REASON)
    t.check(kdbg == sorted((pg["pa"], pg["len"]) for pg in truth["kdbg"]["pages"]),
            "report: KDBG patches cover the block's pages: %s" % kdbg)
    flag = [p for p in patches if p["reason"] == FLAG_REASON]
    t.check(len(flag) == 1 and flag[0]["length"] == 1 and int(flag[0]["pa"], 16) == truth["kdbg"]["flag_pa"],
            "report: one 1-byte KdpDataBlockEncoded patch at the flag")
    for cpu in truth["cpus"]:
        n = sum(p["length"] for p in patches if p["reason"] == "processor %d CONTEXT" % cpu["processor"])
        t.check(n == CONTEXT_SIZE, "report: processor %d CONTEXT patches total 0x%x bytes" % (cpu["processor"], n))
    for p in patches:
        t.check(len(p["sha256_before"]) == 64 and len(p["sha256_after"]) == 64, "report: patch hashes present")
    t.check(rep["output"]["path"] == out and rep["output"]["size"] == os.path.getsize(out), "report: output path, size")
    t.check(isinstance(rep["plan"]["warnings"], list), "report: warnings list")
    for k in ("analysis_s", "write_s", "input_hash_s", "input_hash_wait_s", "total_s"):
        t.check(isinstance(rep["timings"].get(k), float), "report: timings.%s" % k)
    t.check(rep["started"].endswith("Z"), "report: start time in UTC")


def single(work, truth):
    src = os.path.join(work, truth["formats"]["elf"])
    pdb = os.path.join(work, truth["pdb"]["path"])
    out, rep_path = os.path.join(work, "a.dmp"), os.path.join(work, "a.json")
    p = run("-q", "--pdb", pdb, "--report", rep_path, src, out, perturb=0x5A)
    t.check(p.returncode == 0, "convert with --report: %s" % p.stderr)
    t.check(p.stderr == "", "-q: nothing on stderr for a good conversion: %r" % p.stderr)
    with open(rep_path) as f:
        rep = json.load(f)
    check_report(rep, truth, src, out, pdb)
    t.check(rep["input"]["sha256"] == sha256(src), "input SHA-256 equals sha256sum")
    t.check(rep["output"]["sha256"] == sha256(out), "output SHA-256 equals sha256sum")

    # Other containers: their headers and holes are hashed too (the whole file, not only the runs).
    digests(work, truth, pdb)

    # Determinism: same input and options, byte-identical dump; --hash none writes the same bytes.
    out2 = os.path.join(work, "b.dmp")
    t.check(run("-q", "--pdb", pdb, src, out2, perturb=0xA5).returncode == 0, "second conversion")
    with open(out, "rb") as f1, open(out2, "rb") as f2:
        t.check(f1.read() == f2.read(), "determinism: two conversions are byte-identical")
    os.unlink(out2)
    p = run("-q", "--hash", "none", "--pdb", pdb, "--report", rep_path, "--force", src, out2)
    t.check(p.returncode == 0 and sha256(out2) == sha256(out), "determinism: --hash none writes the same bytes")
    with open(rep_path) as f:
        rep = json.load(f)
    t.check(rep["input"]["sha256"] is None and rep["output"]["sha256"] is None, "--hash none: no digests")

    # --verify-kdbg records its result.
    p = run("-q", "--verify-kdbg", "--force", "--pdb", pdb, "--report", rep_path, src, out2)
    with open(rep_path) as f:
        rep = json.load(f)
    t.check(p.returncode == 0 and rep["kdbg_verification"]["result"] == "matches",
            "--verify-kdbg: result recorded (%s)" % rep.get("kdbg_verification"))

    # A report that exists is refused before any work, and nothing is written.
    p = run("--pdb", pdb, "--report", rep_path, src, os.path.join(work, "c.dmp"))
    t.check(p.returncode == 1 and "report exists" in p.stderr and not os.path.exists(os.path.join(work, "c.dmp")),
            "existing report refused up front: %r" % p.stderr)

    # Progress: absent when stderr is not a terminal, present with --progress, absent with -q.
    os.unlink(out2)
    p = run("--pdb", pdb, src, out2)
    t.check(p.returncode == 0 and "MiB/s" not in p.stderr and "\r" not in p.stderr, "no progress when not a terminal")
    os.unlink(out2)
    p = run("--progress", "--pdb", pdb, src, out2)
    t.check(p.returncode == 0 and "MiB/s" in p.stderr and "ETA" in p.stderr, "progress with --progress: %r" % p.stderr[-200:])


def batch_dir(work, truth, name):
    d = os.path.join(work, name)
    os.makedirs(d)
    elf = os.path.join(work, truth["formats"]["elf"])
    with open(elf, "rb") as f, open(os.path.join(d, "trunc.elf"), "wb") as o:
        o.write(f.read(100000))
    with open(os.path.join(d, "exists.dmp"), "w") as f:
        f.write("not a dump\n")
    items = [
        {"input": elf, "output": os.path.join(d, "good.dmp")},
        {"input": os.path.join(d, "trunc.elf"), "output": os.path.join(d, "trunc.dmp")},
        {"input": os.path.join(d, "late.elf"), "output": os.path.join(d, "late.dmp")},
        {"input": os.path.join(work, truth["formats"]["raw"]), "output": os.path.join(d, "exists.dmp")},
        {"input": os.path.join(work, truth["formats"]["lime"]), "output": os.path.join(d, "lime.dmp"),
         "report": os.path.join(d, "lime.json"), "input_format": "lime", "dump_type": "bitmap"},
    ]
    manifest = os.path.join(d, "manifest.jsonl")
    with open(manifest, "w") as f:
        for i, it in enumerate(items):
            f.write(json.dumps(it) + "\n")
            if i == 1:
                f.write("\n")  # blank lines are allowed
    return d, manifest, elf


def results(p):
    return {json.loads(l)["output"].rsplit("/", 1)[1]: json.loads(l) for l in p.stdout.splitlines()}


def batch(work, truth, jobs):
    name = "batch-j%d" % jobs
    d, manifest, elf = batch_dir(work, truth, name)
    pdb = os.path.join(work, truth["pdb"]["path"])
    p = run("--batch", manifest, "-j", jobs, "--pdb", pdb, "--offline")
    t.check(p.returncode == 1, "%s: exit 1 when an item failed (got %d): %s" % (name, p.returncode, p.stderr))
    r = results(p)
    t.check(sorted(r) == ["exists.dmp", "good.dmp", "late.dmp", "lime.dmp", "trunc.dmp"], "%s: one line per item" % name)
    for ok in ("good.dmp", "lime.dmp"):
        t.check(r[ok]["status"] == "ok" and r[ok]["exit"] == 0 and r[ok]["output_sha256"] == sha256(os.path.join(d, ok)),
                "%s: %s converted, digest equals sha256sum" % (name, ok))
    t.check(os.path.exists(os.path.join(d, "good.dmp.report.json")) and os.path.exists(os.path.join(d, "lime.json")),
            "%s: reports at the default and the given path" % name)
    with open(os.path.join(d, "lime.json")) as f:
        t.check(json.load(f)["output"]["dump_type"] == 5, "%s: per-item dump_type applied" % name)
    t.check(r["trunc.dmp"]["status"] == "failed" and r["trunc.dmp"]["exit"] == 1 and "past end of file" in r["trunc.dmp"]["error"],
            "%s: truncated input fails: %s" % (name, r["trunc.dmp"]))
    t.check(r["late.dmp"]["status"] == "failed" and "late.elf" in r["late.dmp"]["error"], "%s: missing input fails" % name)
    t.check(r["exists.dmp"]["status"] == "failed" and "exists" in r["exists.dmp"]["error"], "%s: existing output refused" % name)
    with open(os.path.join(d, "exists.dmp")) as f:
        t.check(f.read() == "not a dump\n", "%s: existing output untouched" % name)
    t.check("trunc.elf" in p.stderr and "late.elf" in p.stderr and "manifest.jsonl:2:" in p.stderr,
            "%s: errors on stderr name the manifest line: %r" % (name, p.stderr[-1500:]))
    t.check(not [n for n in os.listdir(d) if n.endswith(".part")], "%s: no temporary files left" % name)

    # Re-run: finished items are skipped (not rewritten), failed ones retried; the missing input now exists.
    before = {n: os.stat(os.path.join(d, n)).st_mtime_ns for n in ("good.dmp", "lime.dmp")}
    shutil.copyfile(elf, os.path.join(d, "late.elf"))
    p = run("--batch", manifest, "-j", jobs, "--pdb", pdb, "--offline")
    r2 = results(p)
    t.check(p.returncode == 1, "%s: re-run exits 1 (the truncated and existing items still fail)" % name)
    for ok in ("good.dmp", "lime.dmp"):
        t.check(r2[ok]["status"] == "skipped" and r2[ok]["output_sha256"] == r[ok]["output_sha256"],
                "%s: re-run skips %s: %s" % (name, ok, r2[ok]))
        t.check(os.stat(os.path.join(d, ok)).st_mtime_ns == before[ok], "%s: %s not rewritten" % (name, ok))
    t.check(r2["late.dmp"]["status"] == "ok", "%s: failed item retried and converted: %s" % (name, r2["late.dmp"]))
    t.check(r2["trunc.dmp"]["status"] == "failed", "%s: truncated item retried, fails again" % name)

    # Changed options or a changed output are not "finished": refused without force.
    p = run("--batch", manifest, "-j", jobs, "--pdb", pdb, "--offline", "--rebuild-kdbg")
    r3 = results(p)
    t.check(r3["good.dmp"]["status"] == "failed" and "rebuild_kdbg differs" in r3["good.dmp"]["error"],
            "%s: different options are not skipped: %s" % (name, r3["good.dmp"].get("error")))
    with open(os.path.join(d, "good.dmp"), "r+b") as f:
        f.seek(0x3000)
        f.write(b"X")
    p = run("--batch", manifest, "-j", jobs, "--pdb", pdb, "--offline")
    r4 = results(p)
    t.check(r4["good.dmp"]["status"] == "failed" and "SHA-256 differs" in r4["good.dmp"]["error"],
            "%s: a modified output is not skipped: %s" % (name, r4["good.dmp"].get("error")))
    return {k: (v["status"], v["exit"], v["output_sha256"]) for k, v in r.items()}


def batch_edges(work, truth):
    d = os.path.join(work, "batch-edges")
    os.makedirs(d)
    pdb = os.path.join(work, truth["pdb"]["path"])
    elf = os.path.join(work, truth["formats"]["elf"])
    bad = os.path.join(d, "bad.jsonl")
    with open(bad, "w") as f:
        f.write(json.dumps({"input": elf, "output": os.path.join(d, "x.dmp")}) + "\n")
        f.write('{"input": "a", "output": "b", "no_such_option": 1}\n')
    p = run("--batch", bad, "--pdb", pdb)
    t.check(p.returncode == 2 and "bad.jsonl:2:" in p.stderr and "no_such_option" in p.stderr and p.stdout == "",
            "unknown key: manifest rejected with exit 2: %r" % p.stderr)
    t.check(not os.path.exists(os.path.join(d, "x.dmp")), "rejected manifest: nothing converted")
    with open(bad, "w") as f:
        f.write("{not json\n")
    t.check(run("--batch", bad).returncode == 2, "invalid JSON: exit 2")
    t.check(run("--batch", os.path.join(d, "none.jsonl")).returncode == 2, "missing manifest: exit 2")
    with open(bad, "w") as f:
        f.write(json.dumps({"input": elf, "output": "same.dmp"}) + "\n" + json.dumps({"input": elf, "output": "same.dmp"}) + "\n")
    p = run("--batch", bad)
    t.check(p.returncode == 2 and "also written by line 1" in p.stderr, "duplicate output: exit 2: %r" % p.stderr)
    t.check(run("-j", "2", elf, os.path.join(d, "y.dmp")).returncode == 2, "--jobs without --batch is bad usage")
    # One line on standard input (a Slurm array task), -q: only the result line, nothing on stderr.
    line = json.dumps({"input": elf, "output": os.path.join(d, "one.dmp"), "pdb": pdb}) + "\n"
    p = run("--batch", "-", "-q", stdin=line)
    r = [json.loads(l) for l in p.stdout.splitlines()]
    t.check(p.returncode == 0 and len(r) == 1 and r[0]["status"] == "ok" and p.stderr == "",
            "manifest on stdin with -q: %r %r" % (p.stdout, p.stderr))
    # With --progress the batch line shows the item count.
    line = json.dumps({"input": elf, "output": os.path.join(d, "two.dmp"), "pdb": pdb}) + "\n"
    p = run("--batch", "-", "--progress", stdin=line)
    t.check(p.returncode == 0 and "[0/1]" in p.stderr and "MiB/s" in p.stderr, "batch progress with --progress: %r" % p.stderr)


work = t.workdir("report_batch")
truth = t.make_fixture(work, isf=t.ISF_19041, seed=7, cpus=2, formats="elf,raw,lime", extra=["--lime-compress"])
single(work, truth)
j1 = batch(work, truth, 1)
j2 = batch(work, truth, 2)
t.check({k: v[:2] for k, v in j1.items()} == {k: v[:2] for k, v in j2.items()}, "-j 2 gives the same results as -j 1")
t.check(j1["good.dmp"][2] == j2["good.dmp"][2] and j1["lime.dmp"][2] == j2["lime.dmp"][2],
        "-j 2 writes the same bytes as -j 1")
batch_edges(work, truth)
t.finish()
