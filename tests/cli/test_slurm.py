# SPDX-License-Identifier: MIT
"""raw2dmp under a real Slurm: a one-node cluster (munged, slurmctld, slurmd as this test's own processes in a
temporary directory, slurmcluster.py) runs `sbatch --array=0-3` over one manifest. Each task takes its shard
from SLURM_ARRAY_TASK_ID by itself; every output passes the dump checks (header fields from the fixture's
truth, every page equal to the source with the report's patches); --batch-status merges the four tasks'
result files (all done, exit 0); the PDB, which every task needs, was downloaded once from the local symbol
server into the shared cache. Then one task of a second array is cancelled (scancel) while its first item
waits for a slow symbol server; --batch-status reports its items failed and missing, and the re-submitted
array converts only those two, skipping (not rewriting) the six that were done.

Exit 77 only when the daemons cannot run here (not installed, not root, or one fails to start: the reason
is printed)."""
import json
import os
import subprocess
import sys
import time
import urllib.request

import r2dtest as t
from slurmcluster import SlurmCluster, Unavailable

TASKS, ITEMS = 4, 8
WAIT = 100  # seconds for an array to finish (it takes a few; ASan builds are slower)


def write_manifest(d, fx, truth, symbol_path=None):
    items = []
    for i in range(ITEMS):
        fmt = ("elf", "raw")[i % 2]
        it = {"input": os.path.join(fx, truth["formats"][fmt]), "output": os.path.join(d, "out%d.dmp" % i)}
        items.append((it, fmt))
    m = os.path.join(d, "manifest.jsonl")
    with open(m, "w") as f:
        for it, _ in items:
            f.write(json.dumps(it) + "\n")
    return m, items


def job_script(d, name, manifest, results, symbol_path):
    """The batch script users write (docs/cluster.md): no index arithmetic, the shard comes from Slurm."""
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n")
        f.write('echo "sanitizers: ASAN_OPTIONS=${ASAN_OPTIONS-} UBSAN_OPTIONS=${UBSAN_OPTIONS-}"\n')
        f.write("exec '%s' --batch '%s' --results '%s' --symbol-path '%s' -j 1\n" % (t.RAW2DMP, manifest, results,
                                                                                 symbol_path))
    os.chmod(path, 0o755)
    return path


def task_states(c, job):
    """Array index -> (JobState, ExitCode) from scontrol (slurmctld keeps finished jobs for MinJobAge)."""
    p = c.run(["scontrol", "-o", "show", "job", job], check=False)
    out = {}
    for line in p.stdout.splitlines():
        f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        if "ArrayTaskId" in f:
            out[f["ArrayTaskId"]] = (f.get("JobState"), f.get("ExitCode"))
    return out


def check_outputs(items, truth, what):
    for it, fmt in items:
        name = "%s %s" % (what, os.path.basename(it["output"]))
        try:
            dump = t.Dump(it["output"])
        except (OSError, AssertionError) as e:
            t.check(False, "%s: a crash dump: %s" % (name, e))
            continue
        t.check_header(dump, truth, name)
        with open(it["output"] + ".report.json") as f:
            rep = json.load(f)
        n, problems = t.verify_pages(dump, t.Source(it["input"], fmt), rep["plan"]["patches"])
        t.check(n > 0 and not problems, "%s: %d pages equal the source with the patches: %s" % (name, n, problems[:3]))
        t.check(rep["analysis"]["symbols"]["kind"] == "pdb", "%s: converted with the downloaded PDB" % name)


def results_lines(d):
    out = []
    for n in sorted(os.listdir(d)):
        with open(os.path.join(d, n)) as f:
            out += [json.loads(l) for l in f]
    return out


def stats(url):
    return json.loads(urllib.request.urlopen(url + "/_stats", timeout=10).read())


def status(manifest, results):
    p = subprocess.run([t.RAW2DMP, "--batch-status", manifest, "--results", results], capture_output=True,
                       text=True, timeout=60)
    return p, {s["line"] - 1: s for s in map(json.loads, p.stdout.splitlines())}


def array_once(c, work, fx, truth, url):
    d = os.path.join(work, "array")
    os.makedirs(os.path.join(d, "logs"))
    m, items = write_manifest(d, fx, truth)
    res, cache = os.path.join(d, "results"), os.path.join(work, "shared-cache")
    script = job_script(d, "job.sh", m, res, "srv*%s*%s/delay" % (cache, url))
    t0 = time.monotonic()
    job = c.sbatch(["--array=0-%d" % (TASKS - 1), "--output=%s/logs/%%a.log" % d, "--chdir=%s" % d, script])
    finished = c.wait(job, WAIT)
    print("array of %d tasks over %d items: %.1f s" % (TASKS, ITEMS, time.monotonic() - t0), flush=True)
    if not t.check(finished, "sbatch --array=0-%d finishes within %d s:\n%s" % (TASKS - 1, WAIT, c.logs())):
        return
    states = task_states(c, job)
    t.check(sorted(states) == [str(i) for i in range(TASKS)] and
            all(s == ("COMPLETED", "0:0") for s in states.values()),
            "every array task completed with exit 0: %s" % states)
    check_outputs(items, truth, "array")
    # The sanitizer settings of an ASan run reach the jobs (sbatch exports the submitter's environment).
    want = "sanitizers: ASAN_OPTIONS=%s UBSAN_OPTIONS=%s" % (os.environ.get("ASAN_OPTIONS", ""),
                                                           os.environ.get("UBSAN_OPTIONS", ""))
    for k in range(TASKS):
        with open(os.path.join(d, "logs", "%d.log" % k)) as f:
            log = f.read()
        t.check(log.startswith(want + "\n"), "task %d ran with the test's sanitizer settings: %r" % (k, log[:300]))
    lines = results_lines(res)
    t.check(sorted(l["line"] for l in lines) == list(range(1, ITEMS + 1)) and all(l["status"] == "ok" for l in lines),
            "each item converted once, by one task: %s" % [(l["line"], l["status"]) for l in lines])
    for l in lines:
        k = (l["line"] - 1) % TASKS
        t.check(l["shard"] == "%d/%d" % (k, TASKS) and l["shard_from"] == "SLURM_ARRAY_TASK_ID=%d of "
                "SLURM_ARRAY_TASK_MIN..MAX=0..%d" % (k, TASKS - 1), "line %d: shard from Slurm's environment: %s %s"
                % (l["line"], l["shard"], l["shard_from"]))
    t.check(len(os.listdir(res)) == TASKS, "one results file per task: %s" % os.listdir(res))
    p, st = status(m, res)
    t.check(p.returncode == 0 and len(st) == ITEMS and all(s["state"] == "done" for s in st.values()),
            "batch-status: all %d done, exit 0: %d %r" % (ITEMS, p.returncode, p.stderr))
    t.check(stats(url).get("delay") == 1, "the PDB was downloaded once for %d tasks: server saw %s" % (TASKS, stats(url)))


def cancel_and_resubmit(c, work, fx, truth, url):
    d = os.path.join(work, "resubmit")
    os.makedirs(os.path.join(d, "logs"))
    m, items = write_manifest(d, fx, truth)
    res, cache = os.path.join(d, "results"), os.path.join(work, "shared-cache")
    # Task 1 has a cache of its own and a server that sends one byte a second: its first item is still
    # fetching the PDB when it is cancelled. The other tasks use the shared cache, which has the PDB.
    script = os.path.join(d, "job.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\nsp='srv*%s*%s/ok'\n" % (cache, url))
        f.write("[ \"$SLURM_ARRAY_TASK_ID\" = 1 ] && sp='srv*%s/slow-cache*%s/slow'\n" % (d, url))
        f.write("exec '%s' --batch '%s' --results '%s' --symbol-path \"$sp\" -j 1\n" % (t.RAW2DMP, m, res))
    os.chmod(script, 0o755)
    job = c.sbatch(["--array=0-%d" % (TASKS - 1), "--output=%s/logs/%%a.log" % d, "--chdir=%s" % d, script])
    end = time.monotonic() + WAIT
    while stats(url).get("slow", 0) < 1 and time.monotonic() < end:
        time.sleep(0.2)
    t.check(stats(url).get("slow", 0) >= 1, "task 1 is fetching from the slow server")
    c.run(["scancel", "%s_1" % job])
    t.check(c.wait(job, WAIT), "the array ends after scancel of task 1:\n%s" % c.logs())
    states = task_states(c, job)
    t.check(states.get("1", ("",))[0] == "CANCELLED" and all(states.get(str(i)) == ("COMPLETED", "0:0") for i in (0, 2, 3)),
            "task 1 cancelled, the others completed: %s" % states)
    with open(os.path.join(d, "logs", "1.log")) as f:
        log = f.read()
    p, st = status(m, res)
    t.check(p.returncode == 1, "batch-status after the cancelled task: exit 1: %d %r" % (p.returncode, p.stderr))
    t.check(st[1]["state"] in ("failed", "missing") and st[5]["state"] == "missing",
            "task 1's items: the interrupted one failed or missing, the next missing: %s / %s (log: %s)" % (st[1], st[5], log[-400:]))
    t.check([k for k, s in st.items() if s["state"] == "done"] == [0, 2, 3, 4, 6, 7], "the other six done: %s" %
            {k: s["state"] for k, s in st.items()})
    t.check(not os.path.exists(items[1][0]["output"]) and not os.path.exists(items[1][0]["output"] + ".report.json"),
            "the interrupted item left no output and no report")
    t.check(not os.path.exists(items[1][0]["output"] + ".lock"), "the cancelled task released its claim (SIGTERM)")
    done_mtime = {i: os.stat(items[i][0]["output"]).st_mtime_ns for i in (0, 2, 3, 4, 6, 7)}

    # Re-submit the same array with every task on the shared cache.
    with open(script, "w") as f:
        f.write("#!/bin/sh\nexec '%s' --batch '%s' --results '%s' --symbol-path 'srv*%s*%s/ok' -j 1\n" % (
            t.RAW2DMP, m, res, cache, url))
    before = set(os.listdir(res))
    job = c.sbatch(["--array=0-%d" % (TASKS - 1), "--output=%s/logs/again-%%a.log" % d, "--chdir=%s" % d, script])
    t.check(c.wait(job, WAIT), "the re-submitted array finishes:\n%s" % c.logs())
    states = task_states(c, job)
    t.check(all(s == ("COMPLETED", "0:0") for s in states.values()) and len(states) == TASKS,
            "re-submitted: every task completed: %s" % states)
    new = set(os.listdir(res)) - before
    t.check(len(new) == TASKS, "re-submitted: a results file per task: %s" % sorted(new))
    again = {}
    for n in new:
        with open(os.path.join(res, n)) as f:
            for rec in map(json.loads, f):
                again[rec["line"] - 1] = rec["status"]
    t.check(again == {0: "skipped", 1: "ok", 2: "skipped", 3: "skipped", 4: "skipped", 5: "ok", 6: "skipped",
                      7: "skipped"}, "the re-submitted array converts only the two missing items: %s" % again)
    t.check(all(os.stat(items[i][0]["output"]).st_mtime_ns == done_mtime[i] for i in done_mtime),
            "the six done outputs were not rewritten")
    check_outputs(items, truth, "re-submitted")
    p, st = status(m, res)
    t.check(p.returncode == 0 and all(s["state"] == "done" for s in st.values()),
            "batch-status after the re-submission: all done, exit 0: %d %r" % (p.returncode, p.stderr))


def main():
    work = t.workdir("slurm")
    try:
        SlurmCluster(work).preflight()  # before any work: tools installed, root
    except Unavailable as e:
        print("SKIP: a one-node Slurm cluster cannot run here: %s" % e)
        sys.exit(77)
    fx = os.path.join(work, "fx")
    truth = t.make_fixture(fx, seed=5, cpus=2, formats="elf,raw", extra=["--mem-mib", "16"])
    server = subprocess.Popen([sys.executable, os.path.join(t.SRC, "tests", "symbols", "symserver.py"),
                               os.path.join(fx, "symstore")], stdout=subprocess.PIPE, text=True)
    os.environ.update(R2D_DOWNLOAD_TIMEOUT="60", R2D_DOWNLOAD_RETRIES="0")  # inherited by the jobs (sbatch --export=ALL)
    t0 = time.monotonic()
    try:
        url = "http://127.0.0.1:%d" % int(server.stdout.readline())
        with SlurmCluster(work) as c:
            print("cluster up in %.1f s (node %s)" % (time.monotonic() - t0, c.host), flush=True)
            array_once(c, work, fx, truth, url)
            cancel_and_resubmit(c, work, fx, truth, url)
    except Unavailable as e:
        print("SKIP: a one-node Slurm cluster cannot run here: %s" % e)
        sys.exit(77)
    finally:
        server.terminate()
        server.wait()
        print("slurm test: %.1f s" % (time.monotonic() - t0), flush=True)
    t.finish()


main()
