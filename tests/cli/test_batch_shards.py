# SPDX-License-Identifier: MIT
"""Sharded batches: --shard K/N deals the items round-robin (every item in exactly one shard), the shard comes
from Slurm's or Kubernetes' environment when not given and the result lines say which; a manifest on
standard input is never split; --results DIR keeps one file per process and --batch-status merges them into
done / failed (why) / missing with exit codes 0 / 1 / 4."""
import json
import os
import subprocess

import r2dtest as t

SCHED_VARS = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_COUNT",
              "JOB_COMPLETION_INDEX")


def run(*args, env=None, stdin=None):
    e = {k: v for k, v in os.environ.items() if k not in SCHED_VARS}
    e.update(env or {})
    return subprocess.run([t.RAW2DMP] + [str(a) for a in args], capture_output=True, text=True, env=e,
                          input=stdin, timeout=600)


def lines(p):
    return [json.loads(l) for l in p.stdout.splitlines()]


def manifest(d, items):
    path = os.path.join(d, "manifest.jsonl")
    with open(path, "w") as f:
        for i, it in enumerate(items):
            f.write(json.dumps(it) + "\n")
            if i == 2:
                f.write("\n")  # blank lines are not items: they shift line numbers, not shards
    return path


def shards(work, elf, pdb):
    d = os.path.join(work, "shards")
    os.makedirs(d)
    items = [{"input": elf, "output": os.path.join(d, "o%d.dmp" % i)} for i in range(7)]
    m = manifest(d, items)
    res = os.path.join(d, "results")
    seen = {}
    for k in range(3):
        p = run("--batch", m, "--shard", "%d/3" % k, "--results", res, "--pdb", pdb, "-j", 2)
        got = lines(p)
        t.check(p.returncode == 0, "--shard %d/3: exit 0: %s" % (k, p.stderr))
        t.check(sorted(os.path.basename(r["output"]) for r in got) == ["o%d.dmp" % i for i in range(k, 7, 3)],
                "--shard %d/3: items %d, %d+3 ... (round-robin): %s" % (k, k, k, [r["output"] for r in got]))
        t.check(all(r["shard"] == "%d/3" % k and r["shard_from"] == "--shard %d/3" % k and r["host"] and r["pid"]
                    and r["finished"].endswith("Z") for r in got), "--shard %d/3: result lines say so: %s" % (k, got[:1]))
        t.check("shard %d/3 (from --shard %d/3): %d of 7 items" % (k, k, len(got)) in p.stderr,
                "--shard %d/3: stderr names the shard: %r" % (k, p.stderr))
        for r in got:
            seen[r["output"]] = seen.get(r["output"], 0) + 1
    t.check(sorted(seen.values()) == [1] * 7, "every item converted by exactly one shard: %s" % seen)
    files = sorted(os.listdir(res))
    t.check(len(files) == 3 and all(f.startswith("shard-%d-of-3." % k) and f.endswith(".jsonl")
                                    for k, f in enumerate(files)), "one results file per shard process: %s" % files)
    p = run("--batch-status", m, "--results", res)
    st = lines(p)
    t.check(p.returncode == 0 and len(st) == 7 and all(s["state"] == "done" for s in st),
            "batch-status: all done, exit 0: %d %r" % (p.returncode, p.stderr))
    t.check("7 items: 7 done, 0 failed, 0 missing" in p.stderr, "batch-status summary: %r" % p.stderr)
    t.check([s["line"] for s in st] == [1, 2, 3, 5, 6, 7, 8], "batch-status: manifest order, line numbers")

    # A re-run of shard 1 skips (a second file for it); an output removed is missing; a failure is failed.
    p = run("--batch", m, "--shard", "1/3", "--results", res, "--pdb", pdb)
    t.check(p.returncode == 0 and all(r["status"] == "skipped" for r in lines(p)), "re-run of a shard skips")
    t.check(len(os.listdir(res)) == 4, "a re-run writes a file of its own")
    os.unlink(os.path.join(d, "o4.dmp"))
    p = run("--batch-status", m, "--results", res, "-q")
    st = {s["output"].rsplit("/", 1)[1]: s for s in lines(p)}
    t.check(p.returncode == 4 and st["o4.dmp"]["state"] == "missing" and "output is gone" in st["o4.dmp"]["error"],
            "batch-status: a done item whose output is gone is missing, exit 4: %d %s" % (p.returncode, st["o4.dmp"]))
    t.check(p.stderr == "", "batch-status -q: nothing on stderr: %r" % p.stderr)
    os.unlink(os.path.join(d, "o4.dmp.report.json"))
    items[4]["input"] = os.path.join(d, "absent.elf")
    m = manifest(d, items)
    p = run("--batch", m, "--shard", "1/3", "--results", res, "--pdb", pdb)
    t.check(p.returncode == 1, "shard with a failing item exits 1")
    with open(os.path.join(res, "broken.jsonl"), "w") as f:
        f.write('{"line": 6, "input": "x"\n')  # a line cut short (a crashed writer) is skipped
    p = run("--batch-status", m, "--results", res)
    st = {s["output"].rsplit("/", 1)[1]: s for s in lines(p)}
    t.check(p.returncode == 1 and st["o4.dmp"]["state"] == "failed" and "absent.elf" in st["o4.dmp"]["error"],
            "batch-status: failed with the reason, exit 1: %d %s" % (p.returncode, st["o4.dmp"]))
    t.check("manifest.jsonl:6: failed: " in p.stderr and "1 failed, 0 missing (some result lines were unreadable"
            in p.stderr, "batch-status names the failed line and the unreadable record: %r" % p.stderr)
    t.check(st["o1.dmp"]["state"] == "done", "records of the old manifest line 2 still match it")
    items[1]["output"] = os.path.join(d, "renamed.dmp")
    m = manifest(d, items)
    st = {s["line"]: s for s in lines(run("--batch-status", m, "--results", res))}
    t.check(st[2]["state"] == "missing", "a record about another output for the same line is not this item's")
    t.check(run("--batch-status", m, "--results", os.path.join(d, "none")).returncode == 2,
            "batch-status: a results directory that does not exist is exit 2")


def environment(work, elf, pdb):
    d = os.path.join(work, "env")
    os.makedirs(d)
    m = manifest(d, [{"input": elf, "output": os.path.join(d, "e%d.dmp" % i), "pdb": pdb} for i in range(5)])
    cases = [
        ({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "4",
          "SLURM_ARRAY_TASK_COUNT": "4"}, [], "2/4", "SLURM_ARRAY_TASK_ID=3 of SLURM_ARRAY_TASK_MIN..MAX=1..4", [2]),
        ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "1",
          "SLURM_ARRAY_TASK_COUNT": "1"}, ["--shard-count", "2"], "1/2", "SLURM_ARRAY_TASK_ID=1, --shard-count 2",
         [1, 3]),
        ({"JOB_COMPLETION_INDEX": "0"}, ["--shard-count", "2"], "0/2", "JOB_COMPLETION_INDEX=0, --shard-count 2",
         [0, 2, 4]),
        ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "3"}, ["--shard", "none"],
         "0/1", "--shard none", [0, 1, 2, 3, 4]),
    ]
    for env, extra, shard, frm, want in cases:
        for n in os.listdir(d):
            if n.startswith("e"):
                os.unlink(os.path.join(d, n))
        p = run("--batch", m, *extra, env=env)
        got = lines(p)
        t.check(p.returncode == 0 and sorted(int(r["output"][-5]) for r in got) == want,
                "%s %s: items %s: %s %r" % (env, extra, want, [r["output"] for r in got], p.stderr))
        t.check(all(r["shard"] == shard and r["shard_from"] == frm for r in got),
                "%s: result lines name the shard and its source: %s" % (shard, got[:1]))
    bad = [
        ({"SLURM_ARRAY_TASK_ID": "42", "SLURM_ARRAY_TASK_MIN": "7", "SLURM_ARRAY_TASK_MAX": "42",
          "SLURM_ARRAY_TASK_COUNT": "2"}, [], "not one range of indexes"),
        ({"SLURM_ARRAY_TASK_ID": "5"}, [], "needs SLURM_ARRAY_TASK_MIN and _MAX"),
        ({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "9"},
         ["--shard-count", "4"], "not below --shard-count 4"),
        ({"JOB_COMPLETION_INDEX": "2"}, [], "needs --shard-count"),
        ({}, ["--shard-count", "3"], "--shard-count needs SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX"),
        ({}, ["--shard", "3/3"], "0 <= K < N"),
        ({}, ["--shard", "1"], "expected K/N"),
        ({}, ["--shard", "0/2", "--shard-count", "2"], "--shard-count is for"),
    ]
    for env, extra, why in bad:
        p = run("--batch", m, *extra, env=env)
        t.check(p.returncode == 2 and why in p.stderr and p.stdout == "", "%s %s: exit 2, %r: %r" % (env, extra, why, p.stderr))
    t.check(run("--shard", "0/2", elf, os.path.join(d, "x.dmp")).returncode == 2, "--shard without --batch: exit 2")
    t.check(run("--batch-status", m).returncode == 2, "--batch-status without --results: exit 2")
    # A manifest on standard input is a piece already chosen: never split by the environment.
    line = json.dumps({"input": elf, "output": os.path.join(d, "stdin.dmp"), "pdb": pdb}) + "\n"
    p = run("--batch", "-", stdin=line, env={"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1",
                                             "SLURM_ARRAY_TASK_MAX": "4"})
    got = lines(p)
    t.check(p.returncode == 0 and len(got) == 1 and got[0]["status"] == "ok" and got[0]["shard"] == "0/1",
            "manifest on stdin inside a Slurm array: converted whole: %r %r" % (p.stdout, p.stderr))


work = t.workdir("batch_shards")
truth = t.make_fixture(os.path.join(work, "fx"), seed=3, cpus=2, formats="elf", extra=["--mem-mib", "16"])
elf, pdb = os.path.join(work, "fx", "memory.elf"), os.path.join(work, "fx", truth["pdb"]["path"])
shards(work, elf, pdb)
environment(work, elf, pdb)
t.finish()
