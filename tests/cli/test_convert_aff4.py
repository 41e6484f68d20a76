# SPDX-License-Identifier: MIT
"""AFF4 volumes (docs/formats/aff4.md) as WinPmem writes them, from tests/fixtures/writer_aff4.py. A second
reader here, with the standard library only (zipfile, a few regular expressions for the turtle, zlib, struct),
first confirms that each volume holds the source memory. The bare raw image is converted and checked fully
(header = truth, every page = the source except listed patches, the KDBG); each AFF4 volume's dump must then
equal it byte for byte (the header's comment, which names the input, aside), its report must say "aff4" with
no container, and --info -v must show the volume, the stream and WinPmem's CR3 and kernel base, which the
discovery tries first (wrong ones, in one variant, are rejected and the dump is the same). Variants:
zlib (the fixture factory's), deflate in many small bevies, stored, the pre-standard index with escaped member
names and a padded last chunk, the map's data as one stored member (pyaff4's uncompressed form), snappy and
LZ4 (python3-snappy / python3-lz4). Hostile volumes (a corrupt
chunk, a lying bevy index, a map cycle, overlapping or past-size map entries, a missing bevy, a blank node
in the turtle, the volume cut at seven points) fail with one line, exit 1 and no output. Stored hashes
(aff4:hash on the map and its stream, of each algorithm, and a block hash raw2dmp cannot check) are shown by
--info and the report, match with --verify-container, and a wrong one fails it."""
import hashlib
import json
import os
import re
import struct
import sys
import zipfile
import zlib

import r2dtest as t

sys.path.insert(0, os.path.join(t.SRC, "tests", "fixtures"))
import writer_aff4 as wa  # noqa: E402

COMMENT = (0xFB0, 0xFB0 + 128)  # DUMP_HEADER64.Comment: names the input file


# ---- the second reader ----

def turtle_objects(text):
    """{subject: {predicate-local-name: [objects]}} for the simple statements writers emit."""
    prefixes = dict(re.findall(r"@prefix\s+(\w*):\s*<([^>]*)>\s*\.", text))
    out = {}
    for subj, body in re.findall(r"^<([^>]+)>\s*(.*?)\s\.\s*$", text, re.S | re.M):
        props = out.setdefault(subj, {})
        for part in re.split(r"\s;\s", body):
            m = re.match(r"\s*(\S+)\s+(.*)", part, re.S)
            if not m:
                continue
            pred, objs = m.groups()
            pred = pred.split(":", 1)[1] if ":" in pred else pred
            for o in re.findall(r'"((?:[^"\\]|\\.)*)"(?:\^\^\S+)?|<([^>]*)>|(\w*:\S+)|(\d+)', objs):
                v = o[0] or o[1] or o[3] or o[2]
                if o[2]:
                    p, local = o[2].split(":", 1)
                    v = prefixes.get(p, p + ":") + local.rstrip(",")
                props.setdefault(pred, []).append(v)
    return out


def read_volume(path):
    """The memory an AFF4 volume holds: [(pa, bytes)] from its map over its ImageStream."""
    z = zipfile.ZipFile(path)
    volume = z.read("container.description").decode()
    objs = turtle_objects(z.read("information.turtle").decode())

    def member(urn):
        return urn[len(volume) + 1:] if urn.startswith(volume + "/") else urn.replace("aff4://", "aff4%3A%2F%2F")

    def stream(urn):
        if urn not in objs:                                   # a stored member holding the bytes
            return z.read(member(urn))
        o = objs[urn]
        size = int(o["size"][0])
        chunk = int((o.get("chunkSize") or o["chunk_size"])[0])
        per = int((o.get("chunksInSegment") or o["chunks_per_segment"])[0])
        iri = (o.get("compressionMethod") or o["compression"])[0]
        codec = {v: k for k, v in wa.CODEC_IRIS.items()}[iri]
        data = bytearray()
        for b in range((size + chunk * per - 1) // (chunk * per)):
            bevy = z.read("%s/%08d" % (member(urn), b))
            names = set(z.namelist())
            if "%s/%08d.index" % (member(urn), b) in names:
                idx = z.read("%s/%08d.index" % (member(urn), b))
                ents = [struct.unpack_from("<QI", idx, i) for i in range(0, len(idx), 12)]
            else:
                offs = [struct.unpack_from("<I", z.read("%s/%08d/index" % (member(urn), b)), i)[0]
                        for i in range(0, len(z.read("%s/%08d/index" % (member(urn), b))), 4)]
                ents = [(o, (offs + [len(bevy)])[i + 1] - o) for i, o in enumerate(offs)]
            for off, n in ents:
                c = bevy[off:off + n]
                if n == chunk or codec == "stored":
                    data += c
                elif codec == "zlib":
                    data += zlib.decompress(c)
                elif codec == "deflate":
                    data += zlib.decompress(c, -15)
                elif codec == "snappy":
                    data += wa._debian_module("snappy").decompress(c)
                else:
                    data += wa._debian_module("lz4.block").decompress(c, uncompressed_size=chunk)
        return bytes(data[:size])

    maps = [s for s, o in objs.items() if AFF4_MAP in o.get("a", [])]
    m = maps[0]
    targets = z.read(member(m) + "/idx").decode().splitlines()
    raw = z.read(member(m) + "/map")
    streams = {}
    runs = []
    for i in range(0, len(raw), 28):
        pa, n, off, tid = struct.unpack_from("<QQQI", raw, i)
        if targets[tid] not in streams:
            streams[targets[tid]] = stream(targets[tid])
        runs.append((pa, streams[targets[tid]][off:off + n]))
    return sorted(runs)


AFF4_MAP = "http://aff4.org/Schema#Map"


def second_reader_agrees(path, raw_path, truth, name):
    runs = read_volume(path)
    ok = [(pa, len(b)) for pa, b in runs] == [(r["pa"], r["len"]) for r in truth["runs"]]
    with open(raw_path, "rb") as f:
        for pa, b in runs:
            f.seek(pa)
            ok = ok and f.read(len(b)) == b
    t.check(ok, "%s: the second reader finds the source memory's runs and bytes in the volume" % name)


# ---- conversions ----

def masked(path):
    with open(path, "rb") as f:
        d = bytearray(f.read())
    d[COMMENT[0]:COMMENT[1]] = bytes(COMMENT[1] - COMMENT[0])
    return bytes(d)


def bare_raw(work, truth):
    src = os.path.join(work, truth["formats"]["raw"])
    out, report = os.path.join(work, "bare-raw.dmp"), os.path.join(work, "bare-raw.json")
    p = t.raw2dmp("--pdb", os.path.join(work, truth["pdb"]["path"]), "--report", report, src, out, check_rc=0)
    if not t.check(p.returncode == 0, "bare raw: conversion succeeds"):
        return None
    with open(report) as f:
        rep = json.load(f)
    dump = t.Dump(out)
    t.check_header(dump, truth, "bare raw")
    t.check(set(dump.page_offsets) == t.true_pfns(truth["runs"]), "bare raw: dump pages are the RAM runs")
    compared, problems = t.verify_pages(dump, t.Source(src, "raw"), rep["plan"]["patches"])
    t.check(not problems, "bare raw: every page equals the source except patches: %s" % problems[:3])
    kdbg = t.kdbg_pages_plain(dump, truth)
    t.check(kdbg is not None and kdbg.hex() == truth["kdbg"]["decoded_hex"], "bare raw: KDBG reads back decoded")
    return masked(out)


def convert(work, truth, src, ref, name):
    out, report = os.path.join(work, name + ".dmp"), os.path.join(work, name + ".json")
    p = t.raw2dmp("--pdb", os.path.join(work, truth["pdb"]["path"]), "--report", report, src, out, check_rc=0)
    if not t.check(p.returncode == 0, "%s: conversion succeeds: %s" % (name, p.stderr.strip()[-300:])):
        return
    with open(report) as f:
        rep = json.load(f)
    t.check(masked(out) == ref, "%s: the dump equals the bare raw image's (comment aside)" % name)
    inp = rep["input"]
    t.check(inp["format"] == "aff4" and inp["containers"] == [] and inp["stack"] == "aff4",
            "%s: report says format aff4, no container (%r, %r)" % (name, inp["format"], inp["stack"]))
    dump = t.Dump(out)
    t.check(set(dump.page_offsets) == t.true_pfns(truth["runs"]), "%s: dump pages are the map's runs" % name)
    os.unlink(out)


def info(work, truth, src):
    p = t.raw2dmp("--info", "--offline", "--pdb", os.path.join(work, truth["pdb"]["path"]), src)
    t.check(re.search(r"^AFF4\s+<aff4://[^>]+/PhysicalMemory> \(aff4:Map, category memory/physical\), 2 runs$",
                      p.stdout, re.M) is not None, "--info: the AFF4 map line")
    t.check("WinPmem recorded CR3 0x%x, kernel base 0x%x" % (truth["cpus"][0]["regs"]["cr3"], truth["kernel_base"])
            in p.stdout, "--info: WinPmem's recorded CR3 and kernel base")
    p = t.raw2dmp("--info", "-v", "--offline", "--pdb", os.path.join(work, truth["pdb"]["path"]), src)
    out = p.stdout
    t.check(re.search(r"^Format\s+aff4", out, re.M) is not None, "--info: format aff4")
    t.check("aff4.cr3: 0x%x" % truth["cpus"][0]["regs"]["cr3"] in out, "--info -v: WinPmem's CR3")
    t.check("aff4.kernel_base: 0x%x" % truth["kernel_base"] in out, "--info -v: WinPmem's kernel base")
    t.check(re.search(r"aff4\.stream0: <aff4://[^>]+/PhysicalMemory/data>: 0x[0-9a-f]+ bytes, zlib chunks", out)
            is not None, "--info -v: the ImageStream, its size and codec")
    t.check("category memory/physical" in out, "--info -v: the map and its category")
    # "DTB 0x... (paging mode and why) from the CR3 the input records; ..."
    t.check(re.search(r"^.*DTB 0x%x \(.*\) from the CR3 the input records" % truth["dtb"], p.stderr, re.M) is not None,
            "-v: the DTB comes from WinPmem's CR3")
    t.check("kernel base 0x%x from the kernel base the input records" % truth["kernel_base"] in p.stderr,
            "-v: the kernel base comes from WinPmem's KernBase")


def variants(work, truth, ref):
    raw = os.path.join(work, truth["formats"]["raw"])
    runs = [(r["pa"], r["len"]) for r in truth["runs"]]
    cases = [("deflate-small-bevies", dict(codec="deflate", chunk_size=4096, per_bevy=64)),
             ("stored", dict(codec="stored", chunk_size=65536, per_bevy=16)),
             # WinPmem's hints wrong here: rejected by validation, the discovery finds the real ones
             ("legacy-escaped-padded-wrong-hints", dict(codec="zlib", legacy=True, escaped=True, pad_last=True,
                                                        chunk_size=12288,
                                                        pmem={"CR3": 0x1000, "KernBase": 0xfffff80000000000}))]
    cases.append(("zip-segment", dict(segment=True)))   # pyaff4's uncompressed map data: one stored member
    have = wa.available()
    for codec in ("snappy", "lz4"):
        if codec in have:
            cases.append((codec, dict(codec=codec, chunk_size=32768, per_bevy=256)))
        else:
            print("note: python3-%s missing: no %s volume made (scripts/setup-deps.sh installs it)" % (codec, codec))
    for name, kw in cases:
        path = os.path.join(work, "memory-%s.aff4" % name)
        wa.from_raw(raw, runs, path, **kw)
        second_reader_agrees(path, raw, truth, name)
        convert(work, truth, path, ref, name)
        os.unlink(path)


def must_fail(work, truth, src, name, needle, *args):
    out = os.path.join(work, "fail.dmp")
    p = t.raw2dmp("--pdb", os.path.join(work, truth["pdb"]["path"]), *args, src, out)
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    print("%s: %s" % (name, p.stderr.strip()))
    t.check(p.returncode == 1, "%s: exit code 1 (got %d)" % (name, p.returncode))
    t.check(len(lines) == 1 and needle in lines[0] and lines[0].startswith("raw2dmp: "),
            "%s: one line saying %r: %r" % (name, needle, p.stderr))
    t.check(not os.path.exists(out), "%s: no output left" % name)


def hostile(work, truth):
    raw = os.path.join(work, truth["formats"]["raw"])
    runs = [(r["pa"], r["len"]) for r in truth["runs"]]
    cases = [("corrupt_chunk", "does not decode"), ("index_past_end", "runs past the bevy"),
             ("map_cycle", "reads itself"), ("map_overlap", "overlap"), ("map_past_size", "past the map's aff4:size"),
             ("missing_bevy", "no member"), ("bad_turtle", "blank nodes")]
    for mutate, needle in cases:
        path = os.path.join(work, "hostile-%s.aff4" % mutate)
        wa.from_raw(raw, runs, path, codec="zlib", chunk_size=4096, per_bevy=256, mutate=mutate)
        must_fail(work, truth, path, mutate, needle)
    # Cuts: inside container.description, the first bevy, the last members, the central directory, the end
    # record; a cut volume has lost its end record, whatever else it keeps.
    good = os.path.join(work, truth["formats"]["aff4"])
    size = os.path.getsize(good)
    with zipfile.ZipFile(good) as z:
        infos = z.infolist()
    points = {20, infos[2].header_offset + 100, infos[-1].header_offset + 10, size // 2, size - 200, size - 22,
              size - 1}
    cut = os.path.join(work, "truncated.aff4")
    for n in sorted(points):
        with open(good, "rb") as f, open(cut, "wb") as g:
            g.write(f.read(n))
        must_fail(work, truth, cut, "truncated at 0x%x" % n, "truncated.aff4")


# ---- stored hashes ----

HASHES = [("map", "sha1"), ("map", "md5"), ("map", "blake2b"), ("map", "blockMapHash"), ("stream", "sha256"),
          ("stream", "sha512")]


def map_sha1(path):
    """The second reader's SHA-1 of the map's bytes: runs at their addresses, zeros between, up to aff4:size."""
    with zipfile.ZipFile(path) as z:
        objs = turtle_objects(z.read("information.turtle").decode())
    size = int(next(o for o in objs.values() if AFF4_MAP in o.get("a", []))["size"][0])
    h, at = hashlib.sha1(), 0
    for pa, b in read_volume(path):
        h.update(bytes(pa - at))
        h.update(b)
        at = pa + len(b)
    h.update(bytes(size - at))
    return h.hexdigest()


def report_digests(work, truth, src, name, *args):
    out, report = os.path.join(work, name + ".dmp"), os.path.join(work, name + ".json")
    p = t.raw2dmp("--pdb", os.path.join(work, truth["pdb"]["path"]), "--report", report, *args, src, out,
                  check_rc=0)
    if not t.check(p.returncode == 0, "%s: conversion succeeds: %s" % (name, p.stderr.strip()[-300:])):
        return None, None
    with open(report) as f:
        rep = json.load(f)
    dump = masked(out)
    os.unlink(out)
    return rep["input"]["format_digests"], dump


def hashes(work, truth, ref):
    raw = os.path.join(work, truth["formats"]["raw"])
    runs = [(r["pa"], r["len"]) for r in truth["runs"]]
    path = os.path.join(work, "hashes.aff4")
    sink = wa.from_raw(raw, runs, path, hashes=HASHES)
    stored = {(o, a): v for o in ("map", "stream") for a, v in sink.stored_hashes(o)}
    t.check(map_sha1(path) == stored[("map", "sha1")],
            "hashes: the second reader's SHA-1 of the map's bytes is the one the writer stored")
    want = {(sink.map_urn if o == "map" else sink.stream_urn, "aff4:blockMapHash" if a == "blockMapHash" else
             "aff4:hash", "sha512" if a == "blockMapHash" else a, v) for (o, a), v in stored.items()}

    # --info: every stored hash, as text and JSON
    p = t.raw2dmp("--info", "--offline", "--pdb", os.path.join(work, truth["pdb"]["path"]), path)
    for (o, a), v in stored.items():
        t.check(re.search(r"^(Stored hash|)\s+\S+ %s of <[^>]+> \(aff4:\w+\)$" % v, p.stdout, re.M) is not None,
                "--info: the %s's stored %s" % (o, a))
    t.check(re.search(r"^\s+unchecked: a hash of the chunks' block hashes", p.stdout, re.M) is not None,
            "--info: the block hash is unchecked, and why")
    p = t.raw2dmp("--info", "--json", "--offline", "--pdb", os.path.join(work, truth["pdb"]["path"]), path)
    got = json.loads(p.stdout)["input"]["format_digests"] if p.returncode == 0 else []
    t.check({(d["object"], d["statement"], d["algorithm"], d["stored"]) for d in got} == want and
            all(d["state"] == "unchecked" for d in got), "--info --json: the stored hashes, unchecked: %r" % got)

    # a conversion without --verify-container reports them unchecked; with it, the linear ones match
    got, dump = report_digests(work, truth, path, "hashes-unchecked")
    t.check(got is not None and len(got) == len(HASHES) and all(d["state"] == "unchecked" for d in got),
            "hashes: without --verify-container every stored hash is unchecked: %r" % got)
    got, dump = report_digests(work, truth, path, "hashes-verified", "--verify-container")
    t.check(dump == ref, "hashes: --verify-container: the dump equals the bare raw image's")
    for d in got or []:
        block = d["statement"] == "aff4:blockMapHash"
        t.check(d["state"] == ("unchecked" if block else "matched") and
                d.get("checked") == (None if block else "--verify-container") and
                bool(d.get("note")) == block,
                "hashes: --verify-container: %s %s of %s is %s" % (d["statement"], d["algorithm"], d["object"],
                                                                  d["state"]))
    os.unlink(path)

    # one wrong stored hash: unchecked it converts; --verify-container fails with one line and no output
    path = os.path.join(work, "wrong-hash.aff4")
    wa.from_raw(raw, runs, path, hashes=HASHES, mutate="wrong_hash")
    got, dump = report_digests(work, truth, path, "wrong-unchecked")
    t.check(dump == ref, "wrong hash: without --verify-container the conversion is the same")
    must_fail(work, truth, path, "wrong hash, --verify-container", "aff4:hash (sha1) of <%s> does not match its data"
              % sink.map_urn, "--verify-container")
    # the stream's hash alone wrong: the map's match, the stream's does not
    wa.from_raw(raw, runs, path, hashes=[("stream", "md5"), ("map", "sha1")], mutate="wrong_hash")
    must_fail(work, truth, path, "wrong stream hash, --verify-container",
              "aff4:hash (md5) of <%s> does not match its data" % sink.stream_urn, "--verify-container")
    os.unlink(path)


def main():
    work = t.workdir("convert_aff4")
    truth = t.make_fixture(work, isf=t.ISF_19041, seed=16, cpus=2, formats="raw,aff4", extra=["--mem-mib", "16"])
    aff4 = os.path.join(work, truth["formats"]["aff4"])
    second_reader_agrees(aff4, os.path.join(work, truth["formats"]["raw"]), truth, "fixture (zlib)")
    ref = bare_raw(work, truth)
    if ref:
        convert(work, truth, aff4, ref, "fixture-zlib")
        info(work, truth, aff4)
        variants(work, truth, ref)
        hashes(work, truth, ref)
    hostile(work, truth)
    t.finish()


if __name__ == "__main__":
    main()
