#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Symbol store search and download against a local, misbehaving symbol server (127.0.0.1 only).

    test_symserver.py [--no-curl] SYMFIND SYMSERVER_PY FIXTURE_PDB OTHER_PDB LLVM_PDBUTIL

--no-curl: raw2dmp was built without libcurl; check that local searches work and downloads fail clearly.

FIXTURE_PDB and OTHER_PDB are built by the LLVM toolchain from symfixture.c; their GUID/age come from
`llvm-pdbutil dump -summary` (independent of our PDB reader). Exit 77 when the toolchain was missing.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request

FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)


def pdb_key(pdbutil, pdb):
    out = subprocess.run([pdbutil, "dump", "-summary", pdb], check=True, capture_output=True, text=True).stdout
    guid = re.search(r"GUID: \{([0-9A-Fa-f-]+)\}", out).group(1).replace("-", "").upper()
    age = int(re.search(r"Age: (\d+)", out).group(1))
    return guid, age


def all_files(top):
    found = []
    for d, _, files in os.walk(top):
        found += [os.path.join(d, f) for f in files]
    return sorted(found)


class Env:
    def __init__(self, args):
        self.symfind, self.server_py, self.pdb, self.other, self.pdbutil = [os.path.abspath(a) for a in args]
        self.tmp = tempfile.mkdtemp(prefix="r2d-symsrv-")
        self.work = os.path.join(self.tmp, "work")  # the working directory of every run: must stay empty
        self.home = os.path.join(self.tmp, "home")
        self.serve = os.path.join(self.tmp, "serve")
        for d in (self.work, self.home, self.serve):
            os.makedirs(d)
        self.guid, self.age = pdb_key(self.pdbutil, self.pdb)
        self.other_guid, _ = pdb_key(self.pdbutil, self.other)
        self.key = "%s%X" % (self.guid, self.age)
        self.name = "symfixture.pdb"
        with open(self.pdb, "rb") as f:
            self.bytes = f.read()
        dst = os.path.join(self.serve, self.name, self.key)
        os.makedirs(dst)
        shutil.copy(self.pdb, os.path.join(dst, self.name))
        self.env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        self.env.update(HOME=self.home, XDG_CACHE_HOME=os.path.join(self.home, "xdg"),
                        NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
                        R2D_DOWNLOAD_TIMEOUT="3", R2D_DOWNLOAD_RETRIES="0")
        self.default_store = os.path.join(self.home, "xdg", "raw2dmp", "symbols")
        self.proc = subprocess.Popen([sys.executable, self.server_py, self.serve, "--mismatch", self.other],
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        self.base = "http://127.0.0.1:%d" % self.port

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def stats(self):
        with urllib.request.urlopen(self.base + "/_stats", timeout=10) as r:
            return json.load(r)

    def run(self, sympath, offline=False, name=None, guid=None, age=None, env=None):
        cmd = [self.symfind] + (["--offline"] if offline else [])
        cmd += [sympath, name if name is not None else self.name, guid or self.guid, str(age or self.age)]
        e = dict(self.env, **(env or {}))
        p = subprocess.run(cmd, cwd=self.work, env=e, capture_output=True, text=True, timeout=120)
        out = dict(line.split(" ", 1) for line in p.stdout.splitlines() if " " in line)
        err = [line for line in p.stderr.splitlines() if not line.startswith("log: ")]
        return p.returncode, out, "\n".join(err), p.stderr

    def store_path(self, store, key=None):
        return os.path.join(store, self.name, key or self.key, self.name)


def no_leftovers(env, store, what):
    check(all_files(store) == [] if os.path.isdir(store) else True, what + ": nothing left in " + store)


def main():
    args = sys.argv[1:]
    no_curl = bool(args) and args[0] == "--no-curl"
    if no_curl:
        args = args[1:]
    if len(args) != 5 or not all(args) or not os.path.exists(args[2]):
        print("skip: the LLVM toolchain (clang, lld-link, llvm-pdbutil) was not found at build time")
        return 77
    t = Env(args)
    try:
        if no_curl:
            cases_without_curl(t)
        else:
            cases(t)
    finally:
        check(os.listdir(t.work) == [], "the working directory stays empty")
        t.close()
    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        return 1
    return 0


def cases(t):
    store = os.path.join(t.tmp, "store")
    ok = t.base + "/ok"

    # Offline with an empty cache: a clear message, nothing created.
    rc, out, err, _ = t.run("srv*%s*%s" % (store, ok), offline=True)
    check(rc == 1 and "not there" in err and "--pdb" in err and "offline" in err and store in err,
          "offline, empty cache: fails naming where it looked (%s)" % err)
    check(not os.path.exists(store), "offline: creates nothing")

    # Download into an empty store.
    rc, out, err, log = t.run("srv*%s*%s" % (store, ok))
    final = t.store_path(store)
    check(rc == 0 and out.get("path") == final, "download: found at %s (%s)" % (out.get("path"), err))
    check(out.get("origin") == "%s/%s/%s/%s" % (ok, t.name, t.key, t.name), "download: origin is the URL")
    check(os.path.isfile(final) and open(final, "rb").read() == t.bytes, "download: stored bytes are the PDB")
    check(all_files(store) == [final], "download: only the PDB in the store")
    if rc != 0:
        print(log)

    # Second run, offline: found in the store without the network.
    before = t.stats().get("ok", 0)
    rc, out, err, _ = t.run("srv*%s*%s" % (store, ok), offline=True)
    check(rc == 0 and out.get("path") == final, "offline second run: found in the store (%s)" % err)
    check(out.get("origin", "").startswith("cache:"), "offline second run: origin says cache")
    rc, out, err, _ = t.run("srv*%s*%s" % (store, ok))
    check(rc == 0 and t.stats().get("ok", 0) == before, "online second run: no request when the store has it")

    # The default downstream store (srv*URL), and a store found by a lowercase key.
    rc, out, err, _ = t.run("srv*" + ok)
    check(rc == 0 and out.get("path") == t.store_path(t.default_store),
          "srv*URL downloads into the default cache $XDG_CACHE_HOME/raw2dmp/symbols (%s)" % err)
    lower = os.path.join(t.tmp, "lower")
    os.makedirs(os.path.join(lower, t.name, t.key.lower()))
    shutil.copy(t.pdb, t.store_path(lower, t.key.lower()))
    rc, out, err, _ = t.run(lower, offline=True)
    check(rc == 0 and out.get("path") == t.store_path(lower, t.key.lower()), "a store with a lowercase key")

    # A plain directory with the PDB directly in it; one with a mismatching PDB is skipped with a reason.
    plain = os.path.join(t.tmp, "plain")
    bad = os.path.join(t.tmp, "badplain")
    os.makedirs(plain)
    os.makedirs(bad)
    shutil.copy(t.pdb, os.path.join(plain, t.name))
    shutil.copy(t.other, os.path.join(bad, t.name))
    rc, out, err, log = t.run("%s;%s" % (bad, plain), offline=True)
    check(rc == 0 and out.get("path") == os.path.join(plain, t.name), "plain directory: <dir>/<name> (%s)" % err)
    check("skipping %s/%s" % (bad, t.name) in log and t.other_guid in log,
          "a mismatching PDB is skipped with an INFO line naming its GUID")
    rc, out, err, _ = t.run(bad, offline=True)
    check(rc == 1 and t.other_guid in err and t.key in err, "only a mismatching PDB: refused, both ids named")

    # cache*DIR: a file found further right is copied into DIR; downloads for srv*URL go there.
    cache = os.path.join(t.tmp, "cache")
    rc, out, err, _ = t.run("cache*%s;%s" % (cache, plain), offline=True)
    check(rc == 0 and os.path.isfile(t.store_path(cache)) and open(t.store_path(cache), "rb").read() == t.bytes,
          "cache*DIR: a file found in a directory to the right is copied in (%s)" % err)
    cache2 = os.path.join(t.tmp, "cache2")
    shutil.rmtree(t.default_store)
    rc, out, err, _ = t.run("cache*%s;srv*%s" % (cache2, ok))
    check(rc == 0 and out.get("path") == t.store_path(cache2) and not os.path.exists(t.default_store),
          "cache*DIR;srv*URL: the download goes into DIR, not the default cache (%s)" % err)

    # Redirects are followed.
    red = os.path.join(t.tmp, "red")
    rc, out, err, _ = t.run("srv*%s*%s/redirect" % (red, t.base))
    check(rc == 0 and open(t.store_path(red), "rb").read() == t.bytes, "302 redirect: followed (%s)" % err)

    failures = [
        ("404", "HTTP 404", {}),
        ("trunc", "cut short", {}),
        ("slow", "timed out", {"R2D_DOWNLOAD_TIMEOUT": "2"}),
        ("loop", "edirect", {}),
        ("huge", "limit", {}),
        ("500", "HTTP 500", {"R2D_DOWNLOAD_RETRIES": "1"}),
        ("mismatch", t.other_guid, {}),
        ("unknown-mode", "HTTP 400", {}),
    ]
    for mode, needle, extra in failures:
        d = os.path.join(t.tmp, "fail-" + mode)
        rc, out, err, log = t.run("srv*%s*%s/%s" % (d, t.base, mode), env=extra)
        check(rc == 1 and needle in err and "--pdb" in err, "%s: clear error (%s)" % (mode, err))
        no_leftovers(t, d, mode)
    check(t.stats().get("500") == 2, "500: retried once (R2D_DOWNLOAD_RETRIES=1)")
    rc, out, err, _ = t.run("srv*%s/fail-x*%s/404" % (t.tmp, t.base))
    check("R2D_ENOTFOUND" in err, "404 only: status R2D_ENOTFOUND")
    rc, out, err, _ = t.run("srv*%s/fail-y*%s/500" % (t.tmp, t.base))
    check("R2D_ENETWORK" in err, "500: status R2D_ENETWORK")

    # A 404 on the first server, then a working one: found.
    two = os.path.join(t.tmp, "two")
    rc, out, err, _ = t.run("srv*%s*%s/404*%s" % (two, t.base, ok))
    check(rc == 0 and out.get("path") == t.store_path(two), "404 then a good server: found (%s)" % err)

    # Hostile names from kernel memory: refused before any request or file.
    before = sum(t.stats().values())
    for name in ["../x.pdb", "/abs.pdb", "a\\b.pdb", "x" * 300, "", "..", "a\x01b.pdb"]:
        d = os.path.join(t.tmp, "hostile")
        rc, out, err, _ = t.run("srv*%s*%s" % (d, ok), name=name)
        check(rc == 1 and "unsafe" in err and not os.path.exists(d), "hostile name %r refused" % name[:20])
    check(sum(t.stats().values()) == before, "hostile names: no request reached the server")


def cases_without_curl(t):
    store = os.path.join(t.tmp, "store")
    rc, out, err, _ = t.run("srv*%s*%s/ok" % (store, t.base))
    check(rc == 1 and "built without libcurl" in err and "--pdb" in err and "R2D_ENOTFOUND" in err,
          "no libcurl: download refused (%s)" % err)
    check(not os.path.exists(store), "no libcurl: the store is not even created")
    check(sum(t.stats().values()) == 0, "no libcurl: no request reached the server")
    plain = os.path.join(t.tmp, "plain")
    os.makedirs(plain)
    shutil.copy(t.pdb, os.path.join(plain, t.name))
    rc, out, err, _ = t.run("srv*%s*%s/ok;%s" % (store, t.base, plain))
    check(rc == 0 and out.get("path") == os.path.join(plain, t.name), "no libcurl: local directories still work")


if __name__ == "__main__":
    sys.exit(main())
