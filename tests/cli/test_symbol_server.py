# SPDX-License-Identifier: MIT
"""raw2dmp itself against a symbol server on 127.0.0.1: the fixture PDB downloads into a store in
WinDbg's layout, a second run works offline from that cache, an empty cache offline fails clearly,
404 and truncated replies fail clearly and leave neither output nor partial PDB."""
import os
import subprocess
import sys

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
finally:
    server.terminate()
    server.wait()
t.finish()
