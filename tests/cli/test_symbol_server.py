# SPDX-License-Identifier: MIT
"""raw2dmp itself against a symbol server on 127.0.0.1: the fixture PDB downloads into a store in
WinDbg's layout, a second run works offline from that cache, an empty cache offline fails clearly,
404 and truncated replies fail clearly and leave neither output nor partial PDB; eight conversions at once
needing the PDB in one shared cache download it once (the server counts the requests): one holds the cache
entry's lock, the others wait and use the stored file; a lock left by a dead process is broken."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import r2dtest as t

work = t.workdir("symbol_server")
fx = os.path.join(work, "fixture")
truth = t.make_fixture(fx, seed=21, cpus=2, formats="elf")
src = os.path.join(fx, "memory.elf")
key = truth["pdb"]["guid"] + "%X" % truth["pdb"]["age"]
server = subprocess.Popen([sys.executable, os.path.join(t.SRC, "tests", "symbols", "symserver.py"),
                           os.path.join(fx, "symstore")], stdout=subprocess.PIPE, text=True)
env = dict(os.environ, R2D_DOWNLOAD_TIMEOUT="5", R2D_DOWNLOAD_RETRIES="0", HOME=work, XDG_CACHE_HOME=work)
try:
    port = int(server.stdout.readline())
    url = "http://127.0.0.1:%d" % port

    def run(cache, mode, *extra):
        out = os.path.join(work, "out-%s.dmp" % mode)
        if os.path.exists(out):
            os.unlink(out)
        p = subprocess.run([t.RAW2DMP, "--symbol-path", "srv*%s*%s/%s" % (cache, url, mode)] + list(extra) +
                           [src, out], capture_output=True, text=True, env=env, timeout=120)
        return p, out

    cache = os.path.join(work, "cache")
    p, out = run(cache, "ok")
    t.check(p.returncode == 0, "download from the server converts: %s" % p.stderr)
    cached = os.path.join(cache, "ntkrnlmp.pdb", key, "ntkrnlmp.pdb")
    t.check(os.path.exists(cached), "the PDB is cached in store layout at %s" % cached)
    with open(cached, "rb") as a, open(os.path.join(fx, "ntkrnlmp.pdb"), "rb") as b:
        t.check(a.read() == b.read(), "the cached PDB is byte-identical")

    p, out = run(cache, "404", "--offline")
    t.check(p.returncode == 0, "second run offline uses the cache: %s" % p.stderr)

    empty = os.path.join(work, "empty-cache")
    p, out = run(empty, "ok", "--offline")
    t.check(p.returncode == 1 and p.stderr.count("\n") == 1 and "offline" in p.stderr,
            "offline with an empty cache fails with one clear line: %r" % p.stderr)
    t.check(not os.path.exists(out), "no output after the offline failure")

    for mode in ("404", "trunc"):
        c = os.path.join(work, "cache-" + mode)
        p, out = run(c, mode)
        t.check(p.returncode == 1 and p.stderr.count("\n") == 1, "%s reply: one-line error: %r" % (mode, p.stderr))
        t.check(not os.path.exists(out), "%s reply: no output file" % mode)
        left = [os.path.join(d, n) for d, _, ns in os.walk(c) for n in ns] if os.path.exists(c) else []
        t.check(not left, "%s reply: nothing left in the cache: %s" % (mode, left))
    # Eight conversions at once, one shared cache: one request reaches the server (it answers after 2 s, so
    # all eight are asking at the same time), the others wait for the entry's lock and use the stored file.
    shared = os.path.join(work, "shared-cache")
    procs = []
    for i in range(8):
        out = os.path.join(work, "eight-%d.dmp" % i)
        procs.append(subprocess.Popen([t.RAW2DMP, "-v", "--symbol-path", "srv*%s*%s/delay" % (shared, url), src, out],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    t.check(all(rc == 0 for rc, _ in results), "eight conversions sharing a cache: all succeed: %s" %
            [e[-300:] for rc, e in results if rc])
    stats = json.loads(urllib.request.urlopen(url + "/_stats").read())
    t.check(stats.get("delay") == 1, "eight conversions sharing a cache: one download (server saw %s)" % stats)
    waited = sum("waiting for another download of ntkrnlmp.pdb" in e for _, e in results)
    t.check(waited >= 1, "the others waited for the lock (%d said so)" % waited)
    t.check(sum("stored %s/delay/" % url in e for _, e in results) == 1, "one process stored the download")
    entry = os.path.join(shared, "ntkrnlmp.pdb", key)
    t.check(sorted(os.listdir(entry)) == ["ntkrnlmp.pdb"], "only the PDB is left in the entry: %s" % os.listdir(entry))
    with open(os.path.join(entry, "ntkrnlmp.pdb"), "rb") as a, open(os.path.join(fx, "ntkrnlmp.pdb"), "rb") as b:
        t.check(a.read() == b.read(), "the shared cache holds the PDB byte for byte")

    # A lock left by a process that died (this host, dead pid) does not block: it is broken and the PDB fetched.
    c = os.path.join(work, "cache-stale")
    os.makedirs(os.path.join(c, "ntkrnlmp.pdb", key))
    dead = subprocess.Popen(["true"])
    dead.wait()
    with open(os.path.join(c, "ntkrnlmp.pdb", key, ".ntkrnlmp.pdb.lock"), "w") as f:
        f.write("raw2dmp-lock 1\nhost=%s\npid=%d\nstarted=%d\ntoken=0123456789abcdef\n" % (socket.gethostname(), dead.pid, time.time()))
    p, out = run(c, "ok")
    t.check(p.returncode == 0 and "breaking a stale lock" in p.stderr, "a dead process's cache lock is broken: %r" % p.stderr)
    t.check(sorted(os.listdir(os.path.join(c, "ntkrnlmp.pdb", key))) == ["ntkrnlmp.pdb"], "stale lock: only the PDB left")
finally:
    server.terminate()
    server.wait()
t.finish()
