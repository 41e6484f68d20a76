# SPDX-License-Identifier: MIT
"""Evidence and symbol safety, end to end through the raw2dmp program:
- the input is only read: byte-identical (SHA-256) with unchanged mtime/ctime after --info and a conversion;
- an input of mode 0400 converts, also for an unprivileged user (when the test runs as root);
- an existing output is never replaced without --force (content and inode unchanged);
- disk full (a small tmpfs when root) and RLIMIT_FSIZE give one error naming the output, exit 1, and leave no
  temporary; the RLIMIT_FSIZE case is run with SIGXFSZ ignored and with its default disposition;
- SIGINT and SIGTERM while writing exit 130 and leave neither the output nor the temporary;
- a PDB name taken from the image (the kernel's RSDS record patched in a copy of the ELF) never makes a path
  outside the symbol cache, and a GUID that does not match the PDB is refused unless --force-symbols.
"""
import hashlib
import os
import pwd
import resource
import shutil
import signal
import struct
import subprocess
import tempfile
import time

import r2dtest as t


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(path):
    st = os.stat(path)
    return digest(path), st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode


def error_lines(stderr):
    return [l for l in stderr.splitlines() if l.strip() and "warning" not in l]


def temporaries(d):
    return [n for n in os.listdir(d) if n.endswith(".part")]


def one_error(name, p, must_name, rc=1):
    lines = error_lines(p.stderr)
    t.check(p.returncode == rc, "%s: exit code %d (got %d)" % (name, rc, p.returncode))
    ok = t.check(len(lines) == 1 and must_name in lines[0],
                 "%s: one error line naming %s (got %r)" % (name, must_name, p.stderr[-500:]))
    return lines[0] if ok else ""


def check_read_only(work, fx):
    src, pdb = os.path.join(fx, "memory.elf"), os.path.join(fx, "ntkrnlmp.pdb")
    before = fingerprint(src), fingerprint(pdb)
    time.sleep(0.02)  # a write would move mtime/ctime past the recorded values
    p = t.raw2dmp("--info", "--offline", "--pdb", pdb, src)
    t.check(p.returncode == 0, "--info succeeds")
    out = os.path.join(work, "ro.dmp")
    p = t.raw2dmp("--offline", "--pdb", pdb, "--report", os.path.join(work, "ro.json"), src, out, check_rc=0)
    t.check(p.returncode == 0, "conversion succeeds")
    after = fingerprint(src), fingerprint(pdb)
    t.check(before[0] == after[0], "input ELF unchanged: SHA-256, mtime, ctime, inode, mode")
    t.check(before[1] == after[1], "PDB unchanged: SHA-256, mtime, ctime, inode, mode")
    os.unlink(out)


def as_nobody():
    """argv prefix running a command as nobody, or None."""
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        return None
    if shutil.which("setpriv"):
        return ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid, "--clear-groups"], pw
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--"], pw
    return None


def check_mode_0400(work, fx):
    d = os.path.join(work, "ro-input")
    os.makedirs(d)
    src = os.path.join(d, "memory.elf")
    shutil.copy(os.path.join(fx, "memory.elf"), src)
    os.chmod(src, 0o400)
    p = t.raw2dmp("--offline", "--pdb", os.path.join(fx, "ntkrnlmp.pdb"), src, os.path.join(d, "out.dmp"),
                  check_rc=0)
    t.check(p.returncode == 0, "input of mode 0400 converts")

    who = as_nobody()
    if not who:
        print("SKIP part: not root or no setpriv/runuser: the unprivileged-user run is not done")
        return
    prefix, pw = who
    top = tempfile.mkdtemp(prefix="r2d-evidence-")
    try:
        os.chmod(top, 0o755)
        nd = os.path.join(top, "nobody")
        os.makedirs(nd)
        os.chown(nd, pw.pw_uid, pw.pw_gid)
        for name in ["memory.elf", "ntkrnlmp.pdb"]:
            shutil.copy(os.path.join(fx, name), os.path.join(nd, name))
            os.chown(os.path.join(nd, name), pw.pw_uid, pw.pw_gid)
            os.chmod(os.path.join(nd, name), 0o400)
        env = dict(os.environ, HOME=nd)
        env.pop("_NT_SYMBOL_PATH", None)
        cmd = prefix + [t.RAW2DMP, "--offline", "--pdb", os.path.join(nd, "ntkrnlmp.pdb"),
                        os.path.join(nd, "memory.elf"), os.path.join(nd, "out.dmp")]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        if not t.check(p.returncode == 0, "nobody converts its own 0400 input (rc %d)" % p.returncode):
            print("stderr:", p.stderr[-800:])
        t.check(os.path.exists(os.path.join(nd, "out.dmp")), "nobody's output exists")
        # A root-owned 0400 input is unreadable for nobody: one clear error, nothing written.
        theirs = os.path.join(top, "root-only.elf")
        shutil.copy(os.path.join(fx, "memory.elf"), theirs)
        os.chmod(theirs, 0o400)
        cmd = prefix + [t.RAW2DMP, "--offline", "--pdb", os.path.join(nd, "ntkrnlmp.pdb"), theirs,
                        os.path.join(nd, "other.dmp")]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        one_error("nobody opening a root-only input", p, theirs)
        t.check(not os.path.exists(os.path.join(nd, "other.dmp")) and not temporaries(nd),
                "nothing written after the permission error")
    finally:
        shutil.rmtree(top, ignore_errors=True)


def check_no_overwrite(work, fx):
    d = os.path.join(work, "exists")
    os.makedirs(d)
    out = os.path.join(d, "out.dmp")
    with open(out, "wb") as f:
        f.write(b"precious evidence, not a dump\n")
    before = fingerprint(out)
    p = t.raw2dmp("--offline", "--pdb", os.path.join(fx, "ntkrnlmp.pdb"), os.path.join(fx, "memory.elf"), out)
    one_error("existing output without --force", p, out)
    t.check(fingerprint(out) == before, "existing output untouched (content, times, inode)")
    t.check(not temporaries(d), "no temporary left after refusing to overwrite")
    p = t.raw2dmp("--offline", "--force", "--pdb", os.path.join(fx, "ntkrnlmp.pdb"), os.path.join(fx, "memory.elf"),
                  out, check_rc=0)
    t.check(p.returncode == 0, "--force replaces the output")
    with open(out, "rb") as f:
        t.check(f.read(8) == b"PAGEDU64", "the replaced output is a dump")


def run_limited(args, ignore_xfsz, limit):
    def pre():
        if ignore_xfsz:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        else:
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return subprocess.run([t.RAW2DMP] + args, capture_output=True, text=True, preexec_fn=pre, timeout=600)


def check_disk_full(work, fx):
    args = ["--offline", "--pdb", os.path.join(fx, "ntkrnlmp.pdb"), os.path.join(fx, "memory.elf")]
    mnt = os.path.join(work, "tmpfs")
    os.makedirs(mnt)
    mounted = False
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "none", mnt],
                                 capture_output=True).returncode == 0
    if mounted:
        try:
            out = os.path.join(mnt, "out.dmp")
            p = t.raw2dmp(*(args + [out]))
            line = one_error("disk full on an 8 MiB tmpfs", p, out)
            t.check("disk full" in line or "No space" in line, "the error says the disk is full: %r" % line)
            t.check(os.listdir(mnt) == [], "tmpfs empty after the failure: %r" % os.listdir(mnt))
        finally:
            subprocess.run(["umount", mnt])
    else:
        print("SKIP part: cannot mount a tmpfs (not root or not permitted)")

    for ignore in (True, False):
        d = os.path.join(work, "fsize-%s" % ("ignored" if ignore else "default"))
        os.makedirs(d)
        out = os.path.join(d, "out.dmp")
        p = run_limited(args + [out], ignore, 4 << 20)
        name = "RLIMIT_FSIZE 4 MiB (SIGXFSZ %s)" % ("ignored" if ignore else "default disposition")
        if p.returncode < 0:
            t.check(False, "%s: raw2dmp killed by signal %d instead of failing cleanly" % (name, -p.returncode))
        else:
            line = one_error(name, p, out)
            t.check("disk full" in line or "too large" in line, "%s: the error says why: %r" % (name, line))
        t.check(os.listdir(d) == [], "%s: nothing left in the output directory: %r" % (name, os.listdir(d)))


def check_signals(work):
    fx = os.path.join(work, "big")
    t.make_fixture(fx, formats="elf", extra=["--mem-mib", "512", "--fill", "zero"])
    for sig in (signal.SIGINT, signal.SIGTERM):
        d = os.path.join(work, "sig-%d" % sig)
        os.makedirs(d)
        out = os.path.join(d, "out.dmp")
        proc = subprocess.Popen([t.RAW2DMP, "--offline", "--hash", "sha256", "--pdb",
                                 os.path.join(fx, "ntkrnlmp.pdb"), os.path.join(fx, "memory.elf"), out],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while not temporaries(d) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.002)
        seen = bool(temporaries(d))
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        name = signal.Signals(sig).name
        if not t.check(seen, "%s: the temporary appeared before the conversion ended" % name):
            continue
        t.check(proc.returncode == 130, "%s: exit code 130 (got %d; %r)" % (name, proc.returncode, err[-300:]))
        t.check(os.listdir(d) == [], "%s: neither output nor temporary left: %r" % (name, os.listdir(d)))


# IMAGE_DEBUG_DIRECTORY.Type = CODEVIEW, SizeOfData = 0x18 + len("ntkrnlmp.pdb") + 1.
DEBUG_CV_37 = struct.pack("<II", 2, 0x18 + 13)


def rsds_offsets(data):
    offs, pos = [], data.find(b"RSDS")
    while pos >= 0:
        if data[pos + 0x18:pos + 0x18 + 12].lower() == b"ntkrnlmp.pdb":
            offs.append(pos)
        pos = data.find(b"RSDS", pos + 1)
    return offs


def tree(d):
    out = set()
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(root, n), d))
    return out


def check_hostile_pdb_names(work, fx):
    with open(os.path.join(fx, "memory.elf"), "rb") as f:
        data = f.read()
    offs = rsds_offsets(data)
    if not t.check(offs, "the fixture ELF holds the kernel's RSDS record"):
        return
    passwd = digest("/etc/passwd") if os.path.exists("/etc/passwd") else None
    names = {"dotdot": b"../../evil.pdb\0", "dotdot-backslash": b"..\\..\\evil.pdb\0", "absolute": b"/etc/passwd\0",
             "long": b"A" * 600 + b".pdb\0", "ntkrnlmp-dotdot": b"ntkrnlmp.pdb/../../evil.pdb\0"}
    for label, name in names.items():
        d = os.path.join(work, "name-" + label)
        cache = os.path.join(d, "deep", "er", "cache")
        os.makedirs(cache)
        patched = bytearray(data)
        for o in offs:
            patched[o + 0x18:o + 0x18 + len(name)] = name
        # The debug directory entry bounds the record (SizeOfData): widen it so the whole name is read.
        pos = patched.find(DEBUG_CV_37)
        while pos >= 0:
            struct.pack_into("<I", patched, pos + 4, 0x18 + len(name))
            pos = patched.find(DEBUG_CV_37, pos + 1)
        src = os.path.join(d, "memory.elf")
        with open(src, "wb") as f:
            f.write(patched)
        before = tree(d)
        for sympath in ["srv*%s" % cache, "srv*%s*http://127.0.0.1:9" % cache, "cache*%s;%s" % (cache, fx)]:
            p = t.raw2dmp("--symbol-path", sympath, src, os.path.join(d, "out.dmp"), timeout=120)
            one_error("RSDS name %s, symbol path %s" % (label, sympath), p, src)
            t.check(tree(d) == before, "RSDS name %s: nothing created (%r)" % (label, tree(d) - before))
            t.check(os.listdir(cache) == [], "RSDS name %s: the cache stays empty" % label)
        for where in [os.path.join(d, "deep", "evil.pdb"), os.path.join(d, "evil.pdb"), os.path.join(work, "evil.pdb")]:
            t.check(not os.path.exists(where), "no %s" % where)
    if passwd:
        t.check(digest("/etc/passwd") == passwd, "/etc/passwd unchanged")


def check_guid_mismatch(work, fx):
    with open(os.path.join(fx, "memory.elf"), "rb") as f:
        data = bytearray(f.read())
    for o in rsds_offsets(data):
        data[o + 4] ^= 0xFF  # first GUID byte
    d = os.path.join(work, "guid")
    os.makedirs(d)
    src = os.path.join(d, "memory.elf")
    with open(src, "wb") as f:
        f.write(data)
    out = os.path.join(d, "out.dmp")
    p = t.raw2dmp("--offline", "--pdb", os.path.join(fx, "ntkrnlmp.pdb"), src, out)
    line = one_error("PDB GUID does not match the image", p, "ntkrnlmp.pdb")
    t.check("wants" in line or "match" in line or "GUID" in line, "the mismatch is named: %r" % line)
    t.check(not os.path.exists(out) and not temporaries(d), "nothing written after the mismatch")
    p = t.raw2dmp("--offline", "--force-symbols", "--pdb", os.path.join(fx, "ntkrnlmp.pdb"), src, out, check_rc=0)
    t.check(p.returncode == 0, "--force-symbols accepts the mismatching PDB")
    t.check("warning" in p.stderr.lower(), "--force-symbols warns about the mismatch: %r" % p.stderr[-300:])


def main():
    work = t.workdir("evidence")
    fx = os.path.join(work, "fx")
    t.make_fixture(fx, formats="elf", extra=["--mem-mib", "16"])
    check_read_only(work, fx)
    check_mode_0400(work, fx)
    check_no_overwrite(work, fx)
    check_disk_full(work, fx)
    check_hostile_pdb_names(work, fx)
    check_guid_mismatch(work, fx)
    check_signals(work)
    t.finish()


if __name__ == "__main__":
    main()
