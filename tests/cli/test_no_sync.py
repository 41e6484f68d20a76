# SPDX-License-Identifier: MIT
"""--no-sync, end to end: the option (and the batch manifest key no_sync) is accepted, the dump has the
same bytes as a durable conversion, the report records it (options.no_sync, output.synced), no temporary
is left, and -- when strace is installed -- the durable run calls fsync and the --no-sync run none. Not a
timing test: what --no-sync saves is measured by bench/run.py."""
import hashlib
import json
import os
import shutil
import subprocess

import r2dtest as t


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def report(path):
    with open(path) as f:
        return json.load(f)


def convert(d, base, name, *extra):
    out, rep = os.path.join(d, name + ".dmp"), os.path.join(d, name + ".json")
    p = t.raw2dmp(*(base + list(extra) + ["--report", rep, base_input[0], out]))
    t.check(p.returncode == 0, "%s converts: %r" % (name, p.stderr[-400:]))
    return out, rep


def fsync_calls(base, out, *extra):
    """The fsync/fdatasync calls of a conversion, counted by strace."""
    log = out + ".strace"
    cmd = ["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync,sync_file_range", "-o", log, t.RAW2DMP]
    # LeakSanitizer cannot run under ptrace: an ASan build would fail at exit under strace.
    env = dict(os.environ, ASAN_OPTIONS=(os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":"))
    subprocess.run(cmd + base + list(extra) + [base_input[0], out], capture_output=True, check=True, env=env)
    with open(log) as f:
        lines = [l for l in f if "fsync(" in l or "fdatasync(" in l]
    os.unlink(log)
    return len(lines)


work = t.workdir("no_sync")
truth = t.make_fixture(work)
base_input = [os.path.join(work, truth["formats"]["elf"])]
pdb = os.path.join(work, "ntkrnlmp.pdb")
base = ["--offline", "--pdb", pdb]

durable, durable_rep = convert(work, base, "durable")
fast, fast_rep = convert(work, base, "fast", "--no-sync")
t.check(sha256(durable) == sha256(fast), "--no-sync writes the same bytes")
r0, r1 = report(durable_rep), report(fast_rep)
t.check(r0["options"]["no_sync"] is False and r0["output"]["synced"] is True,
        "a durable conversion's report says so: %r %r" % (r0["options"].get("no_sync"), r0["output"].get("synced")))
t.check(r1["options"]["no_sync"] is True and r1["output"]["synced"] is False,
        "the --no-sync report says the output was not synced")
t.check(r1["output"]["sha256"] == sha256(fast), "its digest is the file's")
nohash, _ = convert(work, base, "nohash", "--no-sync", "--hash", "none")
t.check(sha256(nohash) == sha256(durable), "--no-sync --hash none (copy_file_range) writes the same bytes")
again, _ = convert(work, base + ["--force"], "nohash", "--no-sync", "--hash", "none")
t.check(sha256(again) == sha256(durable), "--no-sync --force replaces the output with the same bytes")
t.check(not [n for n in os.listdir(work) if n.endswith(".part")], "no temporary left")

manifest = os.path.join(work, "m.jsonl")
with open(manifest, "w") as f:
    f.write(json.dumps({"input": base_input[0], "output": os.path.join(work, "b.dmp"),
                        "report": os.path.join(work, "b.json"), "no_sync": True}) + "\n")
p = t.raw2dmp("--batch", manifest, *base)
t.check(p.returncode == 0, "a manifest item with no_sync converts: %r" % p.stderr[-400:])
if p.returncode == 0:
    rb = report(os.path.join(work, "b.json"))
    t.check(rb["options"]["no_sync"] is True and rb["output"]["synced"] is False, "the item's report records it")
    t.check(sha256(os.path.join(work, "b.dmp")) == sha256(durable), "and the same bytes")

if shutil.which("strace"):
    t.check(fsync_calls(base, os.path.join(work, "s1.dmp")) > 0, "a durable conversion calls fsync")
    t.check(fsync_calls(base, os.path.join(work, "s2.dmp"), "--no-sync") == 0, "--no-sync calls no fsync")
else:
    print("strace not installed: fsync calls not counted")
t.finish()
