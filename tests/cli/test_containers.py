# SPDX-License-Identifier: MIT
"""Evidence containers read in place (docs/formats/containers.md), made by the real Debian tools: gzip,
pigz, xz (one block and several), zstd (one frame, split frames, pzstd), lz4 (independent and linked
blocks), zip (stored and deflate, one member and several), ewfacquirestream and ewfacquire (E01 in split
segments). The bare raw and LiME fixtures are checked fully first (header = truth, every page = the source
except listed patches, the KDBG); each container's dump must then equal the bare input's byte for byte,
its report must name the stack and give the container file's SHA-256 (sha256sum's answer, never the
decoded bytes'), and --info must show the stack. Hostile containers (corrupt, truncated, a lying ZIP, a
ZIP bomb, a missing or damaged E01 segment) fail with one line, exit 1 and no output. Exit 77 when none of
the tools is installed."""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys

import r2dtest as t

TOOLS = ["gzip", "pigz", "xz", "zstd", "pzstd", "lz4", "zip", "ewfacquirestream", "ewfacquire", "split"]
have = {tool: shutil.which(tool) is not None for tool in TOOLS}


def sh(cmd, **kw):
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def same_file(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def bare(work, truth, key, kind):
    """Convert the bare input and check it fully; its dump is the reference for the containers."""
    src = os.path.join(work, truth["formats"][key])
    out = os.path.join(work, "bare-%s.dmp" % key)
    report = os.path.join(work, "bare-%s.json" % key)
    p = t.raw2dmp("--pdb", os.path.join(work, truth["pdb"]["path"]), "--report", report, src, out, check_rc=0)
    if not t.check(p.returncode == 0, "bare %s: conversion succeeds" % key):
        return None
    with open(report) as f:
        rep = json.load(f)
    dump = t.Dump(out)
    t.check_header(dump, truth, "bare " + key)
    t.check(set(dump.page_offsets) == t.true_pfns(truth["runs"]), "bare %s: dump pages are the RAM runs" % key)
    compared, problems = t.verify_pages(dump, t.Source(src, kind), rep["plan"]["patches"])
    t.check(not problems, "bare %s: every page equals the source except patches: %s" % (key, problems[:3]))
    kdbg = t.kdbg_pages_plain(dump, truth)
    t.check(kdbg is not None and kdbg.hex() == truth["kdbg"]["decoded_hex"], "bare %s: KDBG reads back decoded" % key)
    t.check(rep["input"]["containers"] == [] and rep["input"]["stack"] == kind,
            "bare %s: no containers, stack %r" % (key, rep["input"]["stack"]))
    return out


def convert(work, truth, src, ref, stack, name, extra=()):
    """A container's dump equals the bare input's; the report names the stack and the file's digest."""
    out = os.path.join(work, name + ".dmp")
    report = os.path.join(work, name + ".json")
    p = t.raw2dmp("--pdb", os.path.join(work, truth["pdb"]["path"]), "--report", report, *extra, src, out,
                  check_rc=0)
    if not t.check(p.returncode == 0, "%s: conversion succeeds" % name):
        return None
    with open(report) as f:
        rep = json.load(f)
    t.check(same_file(out, ref), "%s: the dump equals the bare input's byte for byte" % name)
    inp = rep["input"]
    t.check(inp["stack"] == stack, "%s: stack %r (want %r)" % (name, inp["stack"], stack))
    t.check(inp["path"] == src and inp["size"] == os.path.getsize(src), "%s: path and size are the file's" % name)
    t.check(inp.get("sha256") == sha256(src), "%s: input SHA-256 is sha256sum of the container file" % name)
    t.check(all(c.get("read") for c in inp["containers"]), "%s: every layer says how it is read" % name)
    if not src.endswith(".E01"):
        files = inp.get("files", [])
        t.check(len(files) == 1 and files[0]["path"] == src and files[0]["sha256"] == inp.get("sha256")
                and files[0]["inode"] == os.stat(src).st_ino,
                "%s: input.files is the one file, with the input's digest and inode: %r" % (name, files))
    t.check(rep["schema"] == 2, "%s: report schema 2" % name)
    os.unlink(out)
    return rep


def info_stack(src, stack, name, extra=()):
    p = t.raw2dmp("--info", "--offline", *extra, src)
    t.check("stack: %s" % stack in p.stdout, "%s: --info shows the stack %r" % (name, stack))


def must_fail(work, src, name, needle, extra=()):
    out = os.path.join(work, "fail.dmp")
    p = t.raw2dmp(*extra, src, out)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    print("%s: %s" % (name, p.stderr.strip()))
    t.check(p.returncode == 1, "%s: exit code 1 (got %d)" % (name, p.returncode))
    t.check(len(lines) == 1 and needle in lines[0] and lines[0].startswith("raw2dmp: "),
            "%s: one line saying %r: %r" % (name, needle, p.stderr))
    t.check(not os.path.exists(out), "%s: no output left" % name)


def start_slow(work, truth):
    """xz is slow on random pages (~2 MB/s): its files are made in the background while the rest runs."""
    if not have["xz"]:
        return []
    raw, lime = [os.path.join(work, truth["formats"][k]) for k in ("raw", "lime")]
    jobs = [("xz -0 -c %s > %s" % (lime, os.path.join(work, "memory.lime.xz"))),
            ("xz -0 -T2 --block-size=2MiB -c %s > %s" % (raw, os.path.join(work, "memory.raw.xz")))]
    return [subprocess.Popen(j, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for j in jobs]


def compressed(work, truth, refs, slow):
    raw, lime = [os.path.join(work, truth["formats"][k]) for k in ("raw", "lime")]
    cases = []  # (tool, command, file, stack, reference)
    if have["gzip"]:
        cases.append(("gzip", "gzip -kc %s > {out}" % raw, "memory.raw.gz", "gzip -> raw", "raw"))
    if have["pigz"]:
        cases.append(("pigz", "pigz -p 2 -c %s > {out}" % lime, "memory.lime.gz", "gzip -> lime", "lime"))
    if have["zstd"]:
        cases.append(("zstd", "zstd -q -c %s > {out}" % lime, "memory.lime.zst", "zstd -> lime", "lime"))
        if have["split"]:
            cases.append(("zstd", "split -b 2M --filter='zstd -q -c' %s > {out}" % raw, "frames.raw.zst",
                          "zstd -> raw", "raw"))
    if have["pzstd"]:
        cases.append(("pzstd", "pzstd -q -p 2 -c %s > {out}" % raw, "pzstd.raw.zst", "zstd -> raw", "raw"))
    if have["lz4"]:
        cases.append(("lz4", "lz4 -q -c %s > {out}" % lime, "memory.lime.lz4", "lz4 -> lime", "lime"))
        cases.append(("lz4", "lz4 -q -BD -B4 -BX -c %s > {out}" % raw, "linked.raw.lz4", "lz4 -> raw", "raw"))
    if have["xz"]:
        cases.append(("xz", None, "memory.lime.xz", "xz -> lime", "lime"))
        cases.append(("xz", None, "memory.raw.xz", "xz -> raw", "raw"))
    for tool, cmd, fname, stack, ref in cases:
        path = os.path.join(work, fname)
        if cmd:
            sh(cmd.format(out=path), cwd=work)
        else:
            t.check(all(j.wait() == 0 for j in slow), "xz made its files")
        rep = convert(work, truth, path, refs[ref], stack, fname)
        info_stack(path, stack, fname)
        if rep and fname == "memory.raw.xz":
            t.check("blocks" in rep["input"]["containers"][0]["read"], "multi-block xz read through its block index: %r"
                    % rep["input"]["containers"][0]["read"])
        if rep and fname == "frames.raw.zst":
            t.check("frames" in rep["input"]["containers"][0]["read"], "split zstd read frame by frame: %r"
                    % rep["input"]["containers"][0]["read"])
        if rep and fname == "linked.raw.lz4":
            t.check("linked" in rep["input"]["containers"][0]["read"], "lz4 -BD read with windows: %r"
                    % rep["input"]["containers"][0]["read"])
    if have["pigz"]:
        # Two gzip members: the decoded stream is their concatenation (here a raw image twice, read as raw).
        cat = os.path.join(work, "members.gz")
        sh("pigz -c %s > %s && pigz -c %s >> %s" % (raw, cat, raw, cat))
        p = t.raw2dmp("--info", "--json", "--pdb", os.path.join(work, "ntkrnlmp.pdb"), cat)
        c = json.loads(p.stdout)["input"]["containers"][0] if p.returncode == 0 else {}
        t.check(c.get("notes", {}).get("members", "").startswith("2") and c["size"] == 2 * os.path.getsize(raw),
                "two gzip members: both read, one after the other (%s)" % p.stderr.strip())


def zipped(work, truth, refs):
    if not have["zip"]:
        print("note: zip not installed; the ZIP cases are skipped")
        return
    raw, lime = [os.path.join(work, truth["formats"][k]) for k in ("raw", "lime")]
    notes = os.path.join(work, "notes.txt")
    with open(notes, "w") as f:
        f.write("collected by the test\n")
    stored = os.path.join(work, "stored.zip")
    sh("zip -q -0 -j %s %s %s" % (stored, raw, notes))
    rep = convert(work, truth, stored, refs["raw"], "zip -> raw", "stored.zip", ("--verify-container",))
    if rep:
        c = rep["input"]["containers"][0]
        t.check(c["notes"]["member"] == "memory.raw" and "stored" in c["read"], "stored.zip: the member, a slice")
        t.check(c["digests"] and c["digests"][0]["state"] == "matched", "stored.zip: CRC-32 verified: %r" % c["digests"])
    z64 = os.path.join(work, "zip64.zip")
    sh("zip -q -fz -j %s %s" % (z64, lime))  # -fz: ZIP64 end records and extra fields
    convert(work, truth, z64, refs["lime"], "zip -> lime", "zip64.zip")
    deflated = os.path.join(work, "collection.zip")
    sh("zip -q -j %s %s %s" % (deflated, lime, notes))
    convert(work, truth, deflated, refs["lime"], "zip -> lime", "collection.zip")
    info_stack(deflated, "zip -> lime", "collection.zip")
    if have["zstd"]:
        inner = os.path.join(work, "inner.lime.zst")
        sh("zstd -q -c %s > %s" % (lime, inner))
        nested = os.path.join(work, "nested.zip")
        sh("zip -q -0 -j %s %s" % (nested, inner))
        convert(work, truth, nested, refs["lime"], "zip -> zstd -> lime", "nested.zip")
    two = os.path.join(work, "two.zip")
    sh("zip -q -j %s %s %s" % (two, raw, lime))
    must_fail(work, two, "a ZIP with two images", "choose one with --member")
    p = t.raw2dmp("--info", two)
    t.check("memory.raw" in p.stderr and "memory.lime" in p.stderr, "the error lists both candidates: %r" % p.stderr)
    convert(work, truth, two, refs["lime"], "zip -> lime", "two.zip --member", ("--member", "memory.lime"))
    must_fail(work, two, "--member naming no member", "no member named nope", ("--member", "nope"))
    must_fail(work, raw, "--member on a bare file", "not a ZIP archive", ("--member", "memory.raw"))
    lying_zips(work, deflated)
    zeros = os.path.join(work, "zeros.raw")
    with open(zeros, "wb") as f:
        f.write(bytes(1 << 20))
    small = os.path.join(work, "small.zip")
    sh("zip -q -j %s %s" % (small, zeros))
    bomb = os.path.join(work, "bomb.zip")
    patch_sizes(small, bomb, 0xfffffff0)
    must_fail(work, bomb, "a ZIP bomb's ratio", "a ZIP bomb?")


def patch_sizes(src, dst, size):
    """Copy a ZIP, declaring size as its first member's uncompressed size in both of its headers."""
    with open(src, "rb") as f:
        data = bytearray(f.read())
    lfh = data.find(b"PK\x03\x04")
    cdh = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, lfh + 22, size)
    struct.pack_into("<I", data, cdh + 24, size)
    with open(dst, "wb") as f:
        f.write(data)


def lying_zips(work, deflated):
    with open(deflated, "rb") as f:
        data = f.read()
    real = struct.unpack_from("<I", data, data.find(b"PK\x01\x02") + 24)[0]
    small = os.path.join(work, "lying-small.zip")
    patch_sizes(deflated, small, real - 4096)
    must_fail(work, small, "a ZIP member larger than declared", "inflates to more than its declared")
    big = os.path.join(work, "lying-big.zip")
    patch_sizes(deflated, big, real + 4096)
    must_fail(work, big, "a ZIP member smaller than declared", "its central directory says")


def ewf(work, truth, refs):
    if not have["ewfacquirestream"]:
        print("note: ewf-tools not installed; the EWF cases are skipped")
        return
    raw, lime = [os.path.join(work, truth["formats"][k]) for k in ("raw", "lime")]
    d = os.path.join(work, "ewf")
    os.makedirs(d)
    case = os.path.join(d, "case")
    sh("ewfacquirestream -q -t %s -S 4194304 -c deflate:fast -d sha1 -C 42 -e tester < %s" % (case, raw))
    segments = sorted(n for n in os.listdir(d) if n.startswith("case.E"))
    t.check(len(segments) >= 3, "ewfacquirestream wrote split segments: %s" % segments)
    e01 = case + ".E01"
    rep = convert(work, truth, e01, refs["raw"], "ewf -> raw", "case.E01", ("--verify-container",))
    if rep:
        c = rep["input"]["containers"][0]
        algs = {x["algorithm"]: x for x in c["digests"]}
        t.check(set(algs) == {"md5", "sha1"} and all(x["state"] == "matched" for x in algs.values()),
                "case.E01: stored MD5 and SHA-1 verified: %r" % c["digests"])
        with open(raw, "rb") as f:
            t.check(algs.get("md5", {}).get("stored") == hashlib.md5(f.read()).hexdigest(),
                    "case.E01: the stored MD5 is the raw file's")
        t.check(c["notes"].get("segments") == str(len(segments)) and c["notes"].get("case_number") == "42",
                "case.E01: segments and case number noted: %r" % c["notes"])
    info_stack(e01, "ewf -> raw", "case.E01")
    ewf_segments(work, truth, e01, [os.path.join(d, n) for n in segments])
    if have["ewfacquire"]:
        # LiME in E01: EWF keeps whole sectors, so the LiME file gets an all-zero terminator and zero padding.
        padded = os.path.join(work, "padded.lime")
        with open(lime, "rb") as f, open(padded, "wb") as o:
            shutil.copyfileobj(f, o)
            o.write(bytes(32))
            o.write(bytes(-o.tell() % 4096))
        lcase = os.path.join(d, "lime")
        sh("ewfacquire -u -q -t %s -c deflate:fast -S 8MiB %s" % (lcase, padded))
        convert(work, truth, lcase + ".E01", refs["lime"], "ewf -> lime", "lime.E01")
    # ewfacquirestream keeps whole sectors but hashes the whole stream: an unaligned input's stored MD5 is
    # not its media's, which --verify-container finds.
    odd = os.path.join(work, "odd.raw")
    with open(odd, "wb") as f:
        f.write(os.urandom((1 << 20) + 100))
    sh("ewfacquirestream -q -t %s < %s" % (os.path.join(d, "odd"), odd))
    must_fail(work, os.path.join(d, "odd.E01"), "an E01 whose stored MD5 differs from its media", "EWF MD5 mismatch",
              ("--verify-container",))
    # A damaged chunk: flip bytes in the middle of the second segment.
    e02 = case + ".E02"
    keep = e02 + ".orig"
    shutil.copyfile(e02, keep)
    with open(e02, "r+b") as f:
        f.seek(os.path.getsize(e02) // 2)
        f.write(b"\xff" * 64)
    must_fail(work, e01, "a corrupt E01 chunk", "EWF chunk checksum mismatch", ("--verify-container",))
    shutil.move(keep, e02)
    last = os.path.join(d, segments[-1])
    shutil.move(last, last + ".away")
    must_fail(work, e01, "a missing E01 segment", "a segment is missing")
    shutil.move(last + ".away", last)


def sha256sum(path, tool="sha256sum"):
    return subprocess.run([tool, path], check=True, capture_output=True, text=True).stdout.split()[0]


def ewf_segments(work, truth, e01, segments):
    """A split E01: every segment is identified and hashed in order (sha256sum, sha1sum, md5sum say
    the same), --info lists them, and none may be written: a later segment named as OUTPUT or --report,
    directly or through a link, is refused like the first, with --force too, and left unchanged."""
    out, report = os.path.join(work, "seg.dmp"), os.path.join(work, "seg.json")
    p = t.raw2dmp("--pdb", os.path.join(work, truth["pdb"]["path"]), "--report", report, "--hash",
                  "md5,sha256,sha1", e01, out, check_rc=0)
    if t.check(p.returncode == 0, "split E01 with three digests: conversion succeeds (%r)" % p.stderr[-300:]):
        with open(report) as f:
            inp = json.load(f)["input"]
        files = inp.get("files", [])
        t.check([f["path"] for f in files] == segments, "input.files are the segments in order: %r"
                % [f["path"] for f in files])
        for f in files:
            st = os.stat(f["path"])
            t.check(f["size"] == st.st_size and f["inode"] == st.st_ino and f["device"] == st.st_dev
                    and f["absolute_path"] == os.path.realpath(f["path"]),
                    "%s: size, device, inode and absolute path are the file's" % f["path"])
            for alg in ("sha256", "sha1", "md5"):
                t.check(f.get(alg) == sha256sum(f["path"], alg + "sum"),
                        "%s: %s equals %ssum" % (f["path"], alg, alg))
        t.check(inp.get("sha256") == sha256sum(e01) and inp.get("md5") == sha256sum(e01, "md5sum"),
                "split E01: input.sha256 and input.md5 stay the first segment's")
        os.unlink(out)
    p = t.raw2dmp("--info", "--offline", e01)
    for i, s in enumerate(segments):
        t.check("%d/%d: %s (" % (i + 1, len(segments), s) in p.stdout, "--info lists segment %s" % s)
    before = {s: sha256sum(s) for s in segments}
    e02, e03 = segments[1], segments[2]
    hard, sym = os.path.join(work, "hard-E03.dmp"), os.path.join(work, "sym-E02.dmp")
    os.link(e03, hard)
    os.symlink(e02, sym)
    cases = [("a later segment as OUTPUT", [e01, e02], "OUTPUT '%s' is the same file as INPUT segment '%s'" % (e02, e02)),
             ("a symbolic link to E02 as OUTPUT", [e01, sym], "OUTPUT '%s' is the same file as INPUT segment '%s'" % (sym, e02)),
             ("a hard link to E03 as OUTPUT", [e01, hard], "OUTPUT '%s' is the same file as INPUT segment '%s'" % (hard, e03)),
             ("a later segment as --report", ["--report", e03, e01, out],
              "--report '%s' is the same file as INPUT segment '%s'" % (e03, e03))]
    for name, args, needle in cases:
        for force in ((), ("--force",)):
            p = t.raw2dmp(*force, "--pdb", os.path.join(work, truth["pdb"]["path"]), *args, check_rc=0)
            lines = [l for l in p.stderr.splitlines() if l.strip()]
            label = name + (" --force" if force else "")
            t.check(p.returncode == 2 and len(lines) == 1 and needle in lines[0],
                    "%s: refused, exit 2, one line %r (got %d %r)" % (label, needle, p.returncode, lines))
            t.check(not os.path.exists(out), "%s: no output" % label)
            t.check(all(sha256sum(s) == before[s] for s in segments), "%s: every segment unchanged" % label)
    os.unlink(hard)
    os.unlink(sym)


def hostile(work):
    """Damage is found at open: by the index pass (gzip, lz4), the index or frame walk (xz, zstd, cut short),
    or by --verify-container's full decode (a corrupt xz block or zstd frame); a 4 MiB input suffices."""
    raw = os.path.join(work, "small.raw")
    with open(raw, "wb") as f:
        f.write(os.urandom(2 << 20) + bytes(2 << 20))
    verify = ("--verify-container",)

    def damaged(name, cmd, cut=None, flip=None):
        path = os.path.join(work, name)
        sh(cmd.format(src=raw, out=path))
        with open(path, "r+b") as f:
            size = os.path.getsize(path)
            if cut:
                f.truncate(size - cut)
            if flip:
                f.seek(size // 2)
                f.write(bytes(b ^ 0x5A for b in f.read(flip)))
        return path

    if have["gzip"]:
        must_fail(work, damaged("cut.raw.gz", "gzip -c {src} > {out}", cut=1000), "a truncated gzip",
                  "ends without its end marker")
        must_fail(work, damaged("bad.raw.gz", "gzip -c {src} > {out}", flip=64), "a corrupt gzip", "corrupt gzip data")
    if have["xz"]:
        must_fail(work, damaged("cut.raw.xz", "xz -0 -c {src} > {out}", cut=100), "a truncated xz", "xz index")
        must_fail(work, damaged("bad.raw.xz", "xz -0 -T2 --block-size=1MiB -c {src} > {out}", flip=64),
                  "a corrupt xz block", "xz block", verify)
    if have["zstd"]:
        must_fail(work, damaged("cut.raw.zst", "zstd -q -c {src} > {out}", cut=1000), "a truncated zstd", "past end of file")
        must_fail(work, damaged("bad.raw.zst", "zstd -q -c {src} > {out}", flip=64), "a corrupt zstd frame", "zstd",
                  verify)
    if have["lz4"]:
        must_fail(work, damaged("cut.raw.lz4", "lz4 -q -c {src} > {out}", cut=1000), "a truncated lz4", "runs past end of file")
        must_fail(work, damaged("bad.raw.lz4", "lz4 -q -c {src} > {out}", flip=64), "a corrupt lz4 frame", "LZ4")


def options(work, truth):
    raw = os.path.join(work, truth["formats"]["raw"])
    if have["gzip"]:
        gz = os.path.join(work, "opt.raw.gz")
        sh("gzip -c %s > %s" % (raw, gz))
        # Not unwrapped: the migration-stream reader claims compressed files only to say what they are.
        must_fail(work, gz, "--container none on a .gz", "gzip-compressed", ("--container", "none"))
        p = t.raw2dmp("--info", "--json", "--input-format", "raw", gz)
        j = json.loads(p.stdout) if p.returncode in (0, 4) else {}  # 4: described, analysis incomplete
        t.check(j.get("input", {}).get("stack") == "gzip -> raw", "--input-format names the format inside")
    p = t.raw2dmp("--list-formats")
    for kind in ("gzip", "xz", "zstd", "lz4", "zip", "ewf"):
        t.check(any(l.split()[:1] == [kind] for l in p.stdout.splitlines()), "--list-formats lists %s" % kind)


def main():
    if not any(have[x] for x in ("gzip", "xz", "zstd", "lz4", "zip", "ewfacquirestream")):
        print("SKIP: none of gzip, xz, zstd, lz4, zip, ewf-tools is installed")
        sys.exit(77)
    for tool, ok in sorted(have.items()):
        if not ok:
            print("note: %s not installed; its cases are skipped" % tool)
    work = t.workdir("containers")
    truth = t.make_fixture(work, isf=t.ISF_19041, seed=11, cpus=2, formats="raw,lime", extra=["--mem-mib", "16"])
    slow = start_slow(work, truth)
    refs = {"raw": bare(work, truth, "raw", "raw"), "lime": bare(work, truth, "lime", "lime")}
    if refs["raw"] and refs["lime"]:
        compressed(work, truth, refs, slow)
        zipped(work, truth, refs)
        ewf(work, truth, refs)
    for j in slow:
        j.wait()
    hostile(work)
    options(work, truth)
    t.finish()


if __name__ == "__main__":
    main()
