# SPDX-License-Identifier: MIT
"""The report is a chain-of-custody record (issue 12, section 3).

- A report validates against the schema below, written from docs/report-schema.md (schema 2): every
  documented key of the custody parts is there with its documented type, and they hold no undocumented key;
  every key named here is named in the document too.
- The values are the truth, found here independently: argv exactly as given (relative paths, an option
  after the operands, which getopt reorders), the working directory, absolute paths through a symbolic
  link, host and user, times in order, the input's size and mtime, the symbol file's path and SHA-256,
  the build's revision and features as `raw2dmp --version` prints them.
- `--hash sha256,md5,sha1` digests of input and output equal sha256sum, md5sum and sha1sum; the options
  record the list in a fixed order; `--hash md5` alone records only MD5; bad lists are usage errors.
- Batch re-runs skip finished items by every recorded digest: with `--hash md5` only, a changed output is
  caught by its MD5, and the result lines carry the digests asked for.
Python standard library only.
"""
import calendar
import hashlib
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import time

import r2dtest as t

DOC = os.path.join(t.SRC, "docs", "report-schema.md")

# ---- a small JSON-schema-like checker ----
# A spec is a type name ("str", "int", "num", "bool", "hex", "utc", "utc_ns", "abs", "sha256", "sha1",
# "md5"), the same with "?" (null allowed), a list [spec] (an array of spec) or a dict: an object whose keys
# are all required unless they end in "?"; a dict with "*": True may hold other keys (parts of the report
# this test does not own).
HEX = {"sha256": 64, "sha1": 40, "md5": 32}
UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UTC_NS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


def conforms(value, spec, where, errors):
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            errors.append("%s: not an object" % where)
            return
        for key, sub in spec.items():
            if key == "*":
                continue
            name, optional = key.rstrip("?"), key.endswith("?")
            if name not in value:
                if not optional:
                    errors.append("%s.%s: missing" % (where, name))
                continue
            conforms(value[name], sub, "%s.%s" % (where, name), errors)
        if not spec.get("*"):
            extra = set(value) - {k.rstrip("?") for k in spec}
            if extra:
                errors.append("%s: undocumented keys %s" % (where, sorted(extra)))
        return
    if isinstance(spec, list):
        if not isinstance(value, list):
            errors.append("%s: not an array" % where)
            return
        for i, v in enumerate(value):
            conforms(v, spec[0], "%s[%d]" % (where, i), errors)
        return
    if spec.endswith("?"):
        if value is None:
            return
        spec = spec[:-1]
    ok = {
        "str": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "num": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "hex": lambda v: isinstance(v, str) and re.fullmatch(r"0x[0-9a-f]+", v) is not None,
        "utc": lambda v: isinstance(v, str) and UTC.match(v) is not None,
        "utc_ns": lambda v: isinstance(v, str) and UTC_NS.match(v) is not None,
        "abs": lambda v: isinstance(v, str) and v.startswith("/"),
    }.get(spec) or (lambda v: isinstance(v, str) and re.fullmatch("[0-9a-f]{%d}" % HEX[spec], v) is not None)
    if not ok(value):
        errors.append("%s: %r is not %s" % (where, value, spec))


FILE_DIGESTS = {"sha256": "sha256?", "sha1": "sha1?", "md5": "md5?"}
SCHEMA = {
    "schema": "int", "raw2dmp": "str", "started": "utc", "finished": "utc", "elapsed_s": "num",
    "result": "str", "error?": "str",
    "tool": {"name": "str", "version": "str", "revision": "str",
             "features": {"curl": "bool", "lzo": "bool", "snappy": "bool"}, "libcrypto": "str"},
    "invocation": {"argv": ["str"], "cwd": "abs", "host": "str?",
                   "user": {"name": "str?", "uid": "int", "euid?": "int"}, "pid": "int"},
    "options": {"*": True, "hash": "str", "pdb": "str?"},
    "input": dict({"*": True, "path": "str", "absolute_path": "abs", "size": "int", "mtime": "utc_ns",
                   "digest_error?": "str"}, **FILE_DIGESTS),
    "report": {"path": "str", "absolute_path": "abs"},
    "kdbg_verification": {"requested": "bool", "result": "str", "fields_compared?": "int",
                          "differences?": [{"field": "str", "offset": "hex", "image": "hex", "symbols": "hex"}],
                          "error?": "str", "seconds": "num"},
    "analysis": {"*": True, "symbols": {"kind": "str", "origin": "str", "how": "str",
                                        "file": dict({"path": "str", "absolute_path": "abs", "size": "int",
                                                      "mtime": "utc_ns", "digest_error?": "str"},
                                                     **{k + "?": v[:-1] for k, v in FILE_DIGESTS.items()})}},
    "plan": {"*": True},
    "output": dict({"path": "str", "absolute_path": "abs", "size": "int", "dump_type": "int",
                    "header_runs": "int", "pages": "int", "hole_pages": "int", "synced": "bool"},
                   **FILE_DIGESTS),
    "timings": {"*": True, "total_s": "num"},
}


def schema_keys(spec, prefix=""):
    for key, sub in spec.items():
        if key == "*":
            continue
        name = key.rstrip("?")
        yield name
        if isinstance(sub, dict):
            yield from schema_keys(sub, name + ".")
        elif isinstance(sub, list) and isinstance(sub[0], dict):
            yield from schema_keys(sub[0], name + "[].")


def documented():
    """Every name in backquotes in a table row of the schema document (keys, and sub-keys described in a
    row's meaning)."""
    with open(DOC) as f:
        rows = [l for l in f if l.startswith("| `")]
    names = set()
    for row in rows:
        for tok in re.findall(r"`([^`]+)`", row):
            names.update(re.split(r"[.\[\]/ ]+", tok))
    return names


def check_schema(rep, what):
    errors = []
    conforms(rep, SCHEMA, "report", errors)
    t.check(not errors, "%s: the report conforms to the documented schema: %s" % (what, errors[:8]))
    missing = set(schema_keys(SCHEMA)) - documented()
    t.check(not missing, "every key this test checks is documented in docs/report-schema.md: %s" % sorted(missing))


# ---- the truth, found independently ----

def file_digests(path):
    """sha256sum, sha1sum and md5sum of path, from coreutils when present (else hashlib)."""
    out = {}
    for name in ("sha256", "sha1", "md5"):
        tool = shutil.which(name + "sum")
        if tool:
            out[name] = subprocess.run([tool, path], capture_output=True, text=True, check=True).stdout.split()[0]
        else:
            h = hashlib.new(name)
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            out[name] = h.hexdigest()
    return out


def run(args, cwd):
    return subprocess.run([t.RAW2DMP] + args, capture_output=True, text=True, cwd=cwd, timeout=600)


def utc(s):
    return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))


def custody(work, truth):
    pdb = os.path.join(work, truth["pdb"]["path"])
    os.symlink(truth["formats"]["elf"], os.path.join(work, "evidence.elf"))  # a relative link to the image
    # Relative names, and --report after the operands: getopt_long moves it, the report must not.
    args = ["--hash", "sha256,md5,sha1", "--pdb", os.path.relpath(pdb, work), "evidence.elf", "out.dmp",
            "--report", "out.json"]
    before = time.time()
    p = run(args, work)
    after = time.time()
    if not t.check(p.returncode == 0, "convert with --hash sha256,md5,sha1: %s" % p.stderr):
        return None
    with open(os.path.join(work, "out.json")) as f:
        rep = json.load(f)
    check_schema(rep, "three digests")
    t.check(rep["schema"] == 2, "schema 2")

    inv = rep["invocation"]
    t.check(inv["argv"] == [t.RAW2DMP] + args, "argv exactly as given: %s" % inv["argv"])
    t.check(inv["cwd"] == os.path.realpath(work), "cwd: %s" % inv["cwd"])
    t.check(inv["host"] == socket.gethostname(), "host: %s" % inv["host"])
    t.check(inv["user"]["uid"] == os.getuid() and inv["user"]["name"] == pwd.getpwuid(os.getuid()).pw_name,
            "user: %s" % inv["user"])
    t.check(before - 1 <= utc(rep["started"]) <= utc(rep["finished"]) <= after + 1,
            "started <= finished, both within the run: %s %s" % (rep["started"], rep["finished"]))
    t.check(0 <= rep["elapsed_s"] <= after - before + 0.5 and rep["elapsed_s"] == rep["timings"]["total_s"],
            "elapsed_s %s is the run's" % rep["elapsed_s"])

    elf = os.path.join(work, truth["formats"]["elf"])
    st = os.stat(elf)
    inp, out = rep["input"], rep["output"]
    t.check(inp["path"] == "evidence.elf" and inp["absolute_path"] == os.path.realpath(elf),
            "input: path as given, absolute path through the link: %s" % inp["absolute_path"])
    ns = st.st_mtime_ns
    t.check(inp["size"] == st.st_size and inp["mtime"] == time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9))
            + ".%09dZ" % (ns % 10**9), "input: size and mtime %s" % inp["mtime"])
    t.check(out["path"] == "out.dmp" and out["absolute_path"] == os.path.join(os.path.realpath(work), "out.dmp"),
            "output: absolute path %s" % out["absolute_path"])
    t.check(rep["report"] == {"path": "out.json", "absolute_path": os.path.join(os.path.realpath(work), "out.json")},
            "report: its own path: %s" % rep["report"])
    want_in, want_out = file_digests(elf), file_digests(os.path.join(work, "out.dmp"))
    for name in ("sha256", "sha1", "md5"):
        t.check(inp[name] == want_in[name], "input %s equals %ssum" % (name, name))
        t.check(out[name] == want_out[name], "output %s equals %ssum" % (name, name))
    t.check(rep["options"]["hash"] == "sha256,sha1,md5", "options.hash in the fixed order: %s" % rep["options"]["hash"])

    f = rep["analysis"]["symbols"]["file"]
    t.check(f["absolute_path"] == os.path.realpath(pdb) and f["size"] == os.path.getsize(pdb)
            and f["sha256"] == file_digests(pdb)["sha256"] and f["md5"] == file_digests(pdb)["md5"],
            "symbol file: path, size and digests: %s" % f)

    tool = rep["tool"]
    v = subprocess.run([t.RAW2DMP, "--version"], capture_output=True, text=True)
    t.check(v.returncode == 0 and ("revision %s\n" % tool["revision"]) in v.stdout
            and tool["libcrypto"] in v.stdout, "--version prints the report's revision and libcrypto: %r" % v.stdout)
    feats = re.search(r"^features (.*)$", v.stdout, re.M)
    t.check(feats and {w[1:]: w[0] == "+" for w in feats.group(1).split()} == tool["features"],
            "--version features equal the report's: %s" % tool["features"])
    git = subprocess.run(["git", "-C", t.SRC, "describe", "--always", "--dirty"], capture_output=True, text=True)
    if git.returncode == 0:
        # Built from this tree: the same commit (the tree may have been edited since the build).
        t.check(tool["revision"].replace("-dirty", "") == git.stdout.strip().replace("-dirty", ""),
                "revision %s is the tree's %s" % (tool["revision"], git.stdout.strip()))
    return rep


def one_digest(work, truth):
    pdb = os.path.join(work, truth["pdb"]["path"])
    elf = os.path.join(work, truth["formats"]["elf"])
    p = run(["-q", "--hash", "MD5", "--pdb", pdb, "--report", "md5.json", elf, "md5.dmp"], work)
    if t.check(p.returncode == 0, "--hash MD5 converts: %s" % p.stderr):
        with open(os.path.join(work, "md5.json")) as f:
            rep = json.load(f)
        check_schema(rep, "MD5 only")
        want = file_digests(os.path.join(work, "md5.dmp"))["md5"]
        t.check(rep["output"]["md5"] == want and rep["output"]["sha256"] is None and rep["output"]["sha1"] is None
                and rep["input"]["md5"] == file_digests(elf)["md5"] and rep["options"]["hash"] == "md5",
                "--hash md5: only MD5, of both files")
        t.check("sha256" not in rep["analysis"]["symbols"]["file"] and "md5" in rep["analysis"]["symbols"]["file"],
                "--hash md5: the symbol file's MD5 only")
    for bad in ("sha256,none", "crc32", "sha256,", ""):
        p = run(["--hash", bad, "--pdb", pdb, elf, "bad.dmp"], work)
        t.check(p.returncode == 2 and "--hash" in p.stderr and not os.path.exists(os.path.join(work, "bad.dmp")),
                "--hash %r is a usage error: %r" % (bad, p.stderr))
    p = run(["-q", "--hash", "none", "--pdb", pdb, "--report", "none.json", elf, "none.dmp"], work)
    if t.check(p.returncode == 0, "--hash none converts"):
        with open(os.path.join(work, "none.json")) as f:
            rep = json.load(f)
        check_schema(rep, "no digest")
        t.check(all(rep[o][k] is None for o in ("input", "output") for k in ("sha256", "sha1", "md5"))
                and "sha256" not in rep["analysis"]["symbols"]["file"], "--hash none: no digest anywhere")


def batch(work, truth):
    """Skip checks compare every recorded digest; the result lines carry the digests asked for."""
    pdb = os.path.join(work, truth["pdb"]["path"])
    elf = os.path.join(work, truth["formats"]["elf"])
    manifest = os.path.join(work, "m.jsonl")
    with open(manifest, "w") as f:
        f.write(json.dumps({"input": elf, "output": "b1.dmp"}) + "\n")
        f.write(json.dumps({"input": elf, "output": "b2.dmp", "hash": "md5,sha1"}) + "\n")
    res = lambda p: {json.loads(l)["output"]: json.loads(l) for l in p.stdout.splitlines()}
    p = run(["-q", "--batch", manifest, "--hash", "md5", "--pdb", pdb], work)
    r = res(p)
    t.check(p.returncode == 0 and sorted(r) == ["b1.dmp", "b2.dmp"], "batch with digest lists: %s" % p.stderr)
    d1, d2 = file_digests(os.path.join(work, "b1.dmp")), file_digests(os.path.join(work, "b2.dmp"))
    t.check(r["b1.dmp"].get("output_md5") == d1["md5"] and r["b1.dmp"]["output_sha256"] is None,
            "batch: --hash md5 item reports its MD5 only: %s" % r["b1.dmp"])
    t.check(r["b2.dmp"].get("output_md5") == d2["md5"] and r["b2.dmp"].get("output_sha1") == d2["sha1"],
            "batch: per-item hash list: %s" % r["b2.dmp"])
    p = run(["-q", "--batch", manifest, "--hash", "md5", "--pdb", pdb], work)
    r = res(p)
    t.check(p.returncode == 0 and all(v["status"] == "skipped" for v in r.values())
            and r["b2.dmp"].get("output_sha1") == d2["sha1"], "batch re-run skips by MD5/SHA-1: %s" % r)
    with open(os.path.join(work, "b1.dmp"), "r+b") as f:  # same size, one byte changed
        f.seek(0x3000)
        b = f.read(1)
        f.seek(0x3000)
        f.write(bytes([b[0] ^ 0xFF]))
    p = run(["-q", "--batch", manifest, "--hash", "md5", "--pdb", pdb], work)
    r = res(p)
    t.check(r["b1.dmp"]["status"] == "failed" and "md5 differs" in r["b1.dmp"]["error"]
            and r["b2.dmp"]["status"] == "skipped", "batch: a changed output is caught by its MD5: %s" % r["b1.dmp"])


work = t.workdir("custody")
truth = t.make_fixture(work, formats="elf", extra=["--mem-mib", "16"])
custody(work, truth)
one_digest(work, truth)
batch(work, truth)
t.finish()
