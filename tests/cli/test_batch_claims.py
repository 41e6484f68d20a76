# SPDX-License-Identifier: MIT
"""Batch items are claimed with OUTPUT.lock: two batch processes over one manifest convert every item exactly
once between them (the other process reports it "busy" or skips it), and --batch-status sees all done; the
stale-lock rule: a lock of this host whose process is dead is taken over, a live one is respected, another
host's lock is respected until it is 24 hours old or --break-stale-locks is given, a lock whose contents
cannot be read is judged by its age; a held lock is left untouched and nothing is written for its item."""
import json
import os
import socket
import subprocess
import time

import r2dtest as t


def run(*args):
    return subprocess.run([t.RAW2DMP] + [str(a) for a in args], capture_output=True, text=True, timeout=600)


def lines(text):
    return [json.loads(l) for l in text.splitlines()]


def two_processes(work, elf, pdb):
    d = os.path.join(work, "two")
    os.makedirs(d)
    m = os.path.join(d, "m.jsonl")
    n = 8
    with open(m, "w") as f:
        for i in range(n):
            f.write(json.dumps({"input": elf, "output": os.path.join(d, "o%d.dmp" % i), "pdb": pdb}) + "\n")
    res = os.path.join(d, "results")
    procs = [subprocess.Popen([t.RAW2DMP, "--batch", m, "--results", res, "-q"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    got = [r for o, _ in outs for r in lines(o)]
    ok = {}
    for r in got:
        if r["status"] == "ok":
            ok[r["output"]] = ok.get(r["output"], 0) + 1
    t.check(sorted(ok.values()) == [1] * n, "two processes: every item converted exactly once: %s" % ok)
    t.check(all(r["status"] in ("ok", "busy", "skipped") for r in got),
            "two processes: the others are busy or skipped: %s" % [r["status"] for r in got])
    busy = [r for r in got if r["status"] == "busy"]
    t.check(all(r["exit"] == 1 and "another process is converting it" in r["error"] and ".lock: locked by " in r["error"]
                for r in busy), "busy lines say who holds the item: %s" % busy[:1])
    for p, (o, e) in zip(procs, outs):
        want = 1 if any(r["status"] == "busy" for r in lines(o)) else 0
        t.check(p.returncode == want, "a process exits %d when it left busy items to the other: %d %r" % (want, p.returncode, e))
    t.check(not [x for x in os.listdir(d) if x.endswith(".lock") or ".stale." in x], "no lock files left: %s" % os.listdir(d))
    p = run("--batch-status", m, "--results", res)
    t.check(p.returncode == 0 and all(s["state"] == "done" for s in lines(p.stdout)),
            "batch-status over both processes' results: all done: %r" % p.stderr)
    with open(os.path.join(d, "o0.dmp"), "rb") as a, open(os.path.join(d, "o%d.dmp" % (n - 1)), "rb") as b:
        t.check(a.read() == b.read(), "the outputs are whole (identical conversions of one input)")


def write_lock(path, host, pid, started, token="00000000deadbeef"):
    with open(path, "w") as f:
        f.write("raw2dmp-lock 1\nhost=%s\npid=%d\nstarted=%d\ntoken=%s\n" % (host, pid, started, token))


def stale_rules(work, elf, pdb):
    d = os.path.join(work, "stale")
    os.makedirs(d)
    host = socket.gethostname()
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid is free now (and not reused this quickly)
    now = int(time.time())
    cases = [
        # (name, lock writer, extra options, expect converted, text on stderr)
        ("this host, dead pid", lambda p: write_lock(p, host, dead.pid, now), [], True, "breaking a stale lock"),
        ("this host, live pid", lambda p: write_lock(p, host, os.getpid(), now), [], False, "locked by %s pid %d" % (host, os.getpid())),
        ("other host, fresh", lambda p: write_lock(p, "elsewhere.example", 4242, now - 3600), [], False, "locked by elsewhere.example pid 4242"),
        ("other host, --break-stale-locks", lambda p: write_lock(p, "elsewhere.example", 4242, now), ["--break-stale-locks"], True, "breaking a stale lock (elsewhere.example pid 4242"),
        ("other host, 25 hours old", lambda p: write_lock(p, "elsewhere.example", 4242, now - 25 * 3600), [], True, "breaking a stale lock"),
        ("this host, live pid, 25 hours old", lambda p: write_lock(p, host, os.getpid(), now - 25 * 3600), [], True, "breaking a stale lock"),
        ("unreadable, fresh", lambda p: open(p, "w").write("garbage"), ["--break-stale-locks"], False, "holder unknown"),
        ("unreadable, 25 hours old", lambda p: (open(p, "w").write("garbage"), os.utime(p, (now - 90000, now - 90000))), [], True, "breaking a stale lock (unknown holder"),
    ]
    for i, (name, make, extra, converted, text) in enumerate(cases):
        out = os.path.join(d, "s%d.dmp" % i)
        make(out + ".lock")
        with open(out + ".lock") as f:
            before = f.read()
        p = subprocess.run([t.RAW2DMP, "--batch", "-", "--pdb", pdb] + extra, capture_output=True, text=True,
                           input=json.dumps({"input": elf, "output": out}) + "\n", timeout=600)
        r = lines(p.stdout)
        if converted:
            t.check(p.returncode == 0 and r[0]["status"] == "ok" and os.path.exists(out) and not os.path.exists(out + ".lock"),
                    "%s: converted, lock gone: %d %r" % (name, p.returncode, p.stderr))
        else:
            t.check(p.returncode == 1 and r[0]["status"] == "busy" and not os.path.exists(out) and
                    not os.path.exists(out + ".report.json"), "%s: busy, nothing written: %d %r" % (name, p.returncode, p.stderr))
            with open(out + ".lock") as f:
                t.check(f.read() == before, "%s: the holder's lock is untouched" % name)
            t.check("busy in another process" in p.stderr, "%s: the summary counts it busy" % name)
        t.check(text in p.stderr, "%s: stderr says %r: %r" % (name, text, p.stderr))
        t.check(not [x for x in os.listdir(d) if ".stale." in x], "%s: nothing left aside" % name)


work = t.workdir("batch_claims")
truth = t.make_fixture(os.path.join(work, "fx"), seed=3, cpus=2, formats="elf", extra=["--mem-mib", "16"])
elf, pdb = os.path.join(work, "fx", "memory.elf"), os.path.join(work, "fx", truth["pdb"]["path"])
two_processes(work, elf, pdb)
stale_rules(work, elf, pdb)
t.finish()
