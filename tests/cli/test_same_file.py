# SPDX-License-Identifier: MIT
"""Evidence can never be destroyed by its own conversion (issue 12): INPUT, OUTPUT and the report are three
different files, compared by identity, not spelling.
- OUTPUT or --report naming the input, each other or the PDB -- as the same path, "./x", "dir/../x", a hard
  link, a symbolic link, a bind mount -- is a usage error (exit 2, also with --force): one line naming both
  paths and their roles, the input's SHA-256 unchanged, no output, no temporary;
- OUTPUT or --report "-" is refused (exit 2);
- the report's and the output's directories are checked before any work (missing, read-only: exit 1 naming
  "report" or "output", before even the input is read); a dangling symbolic link as OUTPUT is refused;
- a report that cannot be written at the end (its file system full; a file or directory put in its place
  while converting) leaves no OUTPUT either, and an OUTPUT that --force would have replaced is left as it was;
- --batch checks every item's files against every other item's (and the manifest) before converting any.
What the report's own rename failing after the dump's (the dump is then removed again) looks like is tested
in tests/core/test_output_pair.c: no program run can fail that rename at the right moment.
"""
import errno
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import threading

import r2dtest as t

work = t.workdir("same_file")
fx = os.path.join(work, "fx")
truth = t.make_fixture(fx, formats="elf", extra=["--mem-mib", "16"])
SRC_ELF = os.path.join(fx, "memory.elf")
PDB = os.path.join(fx, "ntkrnlmp.pdb")
BASE = ["--offline", "--pdb", PDB]
ROOT = os.geteuid() == 0
_cases = {}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def case_dir(label):
    """A fresh directory holding m.elf (a copy of the fixture) and an empty sub/; the working directory of
    the run, so that relative spellings mean what they say."""
    d = os.path.join(work, "%02d-%s" % (len(_cases), "".join(c if c.isalnum() else "-" for c in label)[:40]))
    os.makedirs(os.path.join(d, "sub"))
    shutil.copy(SRC_ELF, os.path.join(d, "m.elf"))
    _cases[d] = len(t.failures)
    return d


def case_done(d):
    """Remove a case's directory (16 MiB each) once its checks passed; keep it for a look when one failed."""
    if _cases.get(d) == len(t.failures):
        shutil.rmtree(d, ignore_errors=True)


def run(d, args, env=None, stdin=None):
    return subprocess.run([t.RAW2DMP] + [str(a) for a in args], cwd=d, capture_output=True, text=True,
                          timeout=600, env=env, input=stdin)


def temporaries(d):
    return [os.path.join(r, n) for r, _, ns in os.walk(d) for n in ns if n.endswith(".part")]


def refused(name, d, p, rc, must_name, absent=(), keep=("m.elf",), digests=None):
    """The run exited rc with one error line holding every string of must_name; the files in keep still
    have their SHA-256 (digests: path -> digest, default: the fixture's for m.elf); nothing in absent
    exists; no temporary is left anywhere under d."""
    lines = [l for l in p.stderr.splitlines() if l.strip() and "warning" not in l]
    t.check(p.returncode == rc, "%s: exit code %d (got %d: %r)" % (name, rc, p.returncode, p.stderr[-400:]))
    t.check(len(lines) == 1 and all(s in lines[0] for s in must_name),
            "%s: one error line naming %r (got %r)" % (name, must_name, lines))
    want = digests or {"m.elf": SRC_DIGEST}
    for k in keep:
        t.check(sha256(os.path.join(d, k)) == want[k], "%s: %s unchanged (SHA-256)" % (name, k))
    for a in absent:
        t.check(not os.path.lexists(os.path.join(d, a)), "%s: no %s left" % (name, a))
    t.check(not temporaries(d), "%s: no temporary left: %r" % (name, temporaries(d)))
    return lines[0] if lines else ""


def sh(*cmd):
    return subprocess.run(list(cmd), capture_output=True).returncode == 0


SRC_DIGEST = sha256(SRC_ELF)


# ---- one conversion: OUTPUT, --report and the input by identity ----

def prep_links(d):
    os.link(os.path.join(d, "m.elf"), os.path.join(d, "hard.elf"))
    os.symlink("m.elf", os.path.join(d, "sym.elf"))
    os.symlink("../m.elf", os.path.join(d, "sub", "up.elf"))
    shutil.copy(PDB, os.path.join(d, "k.pdb"))


# (label, arguments after the base options, strings the one line must hold, files that must not appear)
SINGLE = [
    ("same path", ["m.elf", "m.elf"], ["OUTPUT 'm.elf' is the same file as INPUT 'm.elf'"], []),
    ("./ spelling", ["m.elf", "./m.elf"], ["OUTPUT './m.elf' is the same file as INPUT 'm.elf'"], []),
    ("dir/../ spelling", ["m.elf", "sub/../m.elf"], ["OUTPUT 'sub/../m.elf' is the same file as INPUT 'm.elf'"],
     []),
    ("hard link as OUTPUT", ["m.elf", "hard.elf"], ["OUTPUT 'hard.elf' is the same file as INPUT 'm.elf'"], []),
    ("symbolic link as OUTPUT", ["m.elf", "sym.elf"], ["OUTPUT 'sym.elf' is the same file as INPUT 'm.elf'"],
     []),
    ("link chain as OUTPUT", ["m.elf", "sub/up.elf"], ["OUTPUT 'sub/up.elf'", "INPUT 'm.elf'"], []),
    ("input through a link, OUTPUT its target", ["sym.elf", "m.elf"],
     ["OUTPUT 'm.elf' is the same file as INPUT 'sym.elf'"], []),
    ("symbolic link as --report", ["--report", "sym.elf", "m.elf", "out.dmp"],
     ["--report 'sym.elf' is the same file as INPUT 'm.elf'"], ["out.dmp"]),
    ("hard link as --report", ["--report", "hard.elf", "m.elf", "out.dmp"],
     ["--report 'hard.elf' is the same file as INPUT 'm.elf'"], ["out.dmp"]),
    ("--report is INPUT", ["--report", "m.elf", "m.elf", "out.dmp"],
     ["--report 'm.elf' is the same file as INPUT 'm.elf'"], ["out.dmp"]),
    ("--report is OUTPUT", ["--report", "out.dmp", "m.elf", "out.dmp"],
     ["--report 'out.dmp' is the same file as OUTPUT 'out.dmp'"], ["out.dmp"]),
    ("--report is OUTPUT, spelled otherwise", ["--report", "./sub/../out.dmp", "m.elf", "out.dmp"],
     ["--report './sub/../out.dmp' is the same file as OUTPUT 'out.dmp'"], ["out.dmp"]),
    ("OUTPUT is the PDB", ["--pdb", "k.pdb", "m.elf", "./k.pdb"],
     ["OUTPUT './k.pdb' is the same file as --pdb 'k.pdb'"], []),
]


def single_cases():
    for label, args, must, absent in SINGLE:
        for force in ([], ["--force"]):
            name = "%s%s" % (label, " --force" if force else "")
            d = case_dir(name)
            prep_links(d)
            pdb_digest = sha256(os.path.join(d, "k.pdb"))
            p = run(d, BASE + force + args)
            refused(name, d, p, 2, must, absent, keep=("m.elf", "hard.elf", "k.pdb"),
                    digests={"m.elf": SRC_DIGEST, "hard.elf": SRC_DIGEST, "k.pdb": pdb_digest})
            link = os.path.join(d, "sym.elf")
            t.check(os.path.islink(link) and os.readlink(link) == "m.elf", "%s: the link is untouched" % name)
            case_done(d)


def bind_mount_case():
    """The same file through a bind mount: another path, another mount, one inode."""
    if not ROOT:
        print("SKIP part: bind mount (not root)")
        return
    d = case_dir("bind mount")
    view = os.path.join(d, "view")
    os.makedirs(view)
    if not sh("mount", "--bind", d, view):
        print("SKIP part: bind mount not permitted")
        return
    try:
        for force in ([], ["--force"]):
            p = run(d, BASE + force + ["m.elf", "view/m.elf"])
            refused("bind-mounted OUTPUT%s" % (" --force" if force else ""), d, p, 2,
                    ["OUTPUT 'view/m.elf' is the same file as INPUT 'm.elf'"])
    finally:
        sh("umount", view)
    case_done(d)


def stdout_cases():
    for force in ([], ["--force"]):
        d = case_dir("stdout")
        p = run(d, BASE + force + ["m.elf", "-"])
        refused("OUTPUT -%s" % (" --force" if force else ""), d, p, 2, ["OUTPUT '-'", "standard output"], ["-"])
        p = run(d, BASE + force + ["--report", "-", "m.elf", "out.dmp"])
        refused("--report -%s" % (" --force" if force else ""), d, p, 2, ["--report '-'", "standard output"],
                ["-", "out.dmp"])
        case_done(d)


# ---- directories and targets, checked before any work ----

def directory_cases():
    d = case_dir("directories")
    with open(os.path.join(d, "junk.bin"), "wb") as f:
        f.write(b"not a memory image\n" * 100)
    # Missing directories. The input is junk: had the conversion started, its error would be the input's.
    p = run(d, BASE + ["--report", "nodir/r.json", "junk.bin", "out.dmp"])
    refused("missing report directory", d, p, 1,
            ["nodir/r.json: cannot use the report directory 'nodir': No such file or directory"], ["out.dmp"])
    p = run(d, BASE + ["junk.bin", "nodir/out.dmp"])
    refused("missing output directory", d, p, 1, ["nodir/out.dmp: cannot use the output directory 'nodir'"])
    p = run(d, BASE + ["--report", "m.elf/r.json", "junk.bin", "out.dmp"])
    refused("report directory is a file", d, p, 1, ["the report directory 'm.elf' is not a directory"],
            ["out.dmp"])
    p = run(d, BASE + ["--force", "--report", "sub", "junk.bin", "out.dmp"])
    refused("report is a directory", d, p, 1, ["sub: the report is a directory"], ["out.dmp"])
    # A dangling link as OUTPUT: replaced by the rename, it would not put the dump where it points.
    os.symlink("nowhere.dmp", os.path.join(d, "dangling.dmp"))
    for force in ([], ["--force"]):
        p = run(d, BASE + force + ["m.elf", "dangling.dmp"])
        refused("dangling link as OUTPUT%s" % (" --force" if force else ""), d, p, 1,
                ["dangling.dmp: the output is a dangling symbolic link (to 'nowhere.dmp')"], ["nowhere.dmp"])
        link = os.path.join(d, "dangling.dmp")
        t.check(os.path.islink(link) and os.readlink(link) == "nowhere.dmp", "the dangling link is untouched")
    case_done(d)


def read_only_dir(path):
    """Make path unwritable for raw2dmp: a read-only bind mount for root (permissions do not bind root),
    mode 0555 otherwise. Returns an undo function, or None."""
    if not ROOT:
        os.chmod(path, 0o555)
        return lambda: os.chmod(path, 0o755)
    if sh("mount", "--bind", path, path) and sh("mount", "-o", "remount,bind,ro", path):
        return lambda: sh("umount", path)
    sh("umount", path)
    return None


def read_only_cases():
    d = case_dir("read-only directories")
    with open(os.path.join(d, "junk.bin"), "wb") as f:
        f.write(b"not a memory image\n" * 100)
    ro = os.path.join(d, "ro")
    os.makedirs(ro)
    undo = read_only_dir(ro)
    if not undo:
        print("SKIP part: cannot make a read-only directory (root without mount)")
        return
    why = "Read-only file system" if ROOT else "Permission denied"
    try:
        p = run(d, BASE + ["--report", "ro/r.json", "junk.bin", "out.dmp"])
        refused("read-only report directory", d, p, 1,
                ["ro/r.json: cannot write in the report directory 'ro': " + why], ["out.dmp"])
        p = run(d, BASE + ["--force", "--report", "r.json", "junk.bin", "ro/out.dmp"])
        refused("read-only output directory", d, p, 1,
                ["ro/out.dmp: cannot write in the output directory 'ro': " + why], ["r.json"])
    finally:
        undo()
    case_done(d)


# ---- the report failing at the end: no dump without its report ----

def full_report_fs_case():
    """The report's file system is full: known only when the report is written, after the whole dump."""
    if not ROOT:
        print("SKIP part: full file system for the report (not root: no tmpfs)")
        return
    d = case_dir("report file system full")
    full = os.path.join(d, "full")
    os.makedirs(full)
    if not sh("mount", "-t", "tmpfs", "-o", "size=64k", "none", full):
        print("SKIP part: cannot mount a tmpfs")
        return
    try:
        try:
            with open(os.path.join(full, "filler"), "wb") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        except OSError as e:
            t.check(e.errno == errno.ENOSPC, "the tmpfs fills up (%s)" % e)
        p = run(d, BASE + ["--report", "full/r.json", "m.elf", "out.dmp"])
        line = refused("report on a full file system", d, p, 1,
                       ["full/r.json", "No space left on device", "out.dmp not kept"], ["out.dmp", "full/r.json"])
        # --force with an earlier OUTPUT: the dump never went in place, so the old file is as it was.
        old = os.path.join(d, "out.dmp")
        with open(old, "w") as f:
            f.write("an earlier dump\n")
        ino = os.stat(old).st_ino
        p = run(d, BASE + ["--force", "--report", "full/r.json", "m.elf", "out.dmp"])
        refused("report on a full file system --force", d, p, 1, ["full/r.json", "out.dmp not kept"],
                ["full/r.json"])
        with open(old, "rb") as f:
            t.check(f.read() == b"an earlier dump\n" and os.stat(old).st_ino == ino,
                    "--force: the earlier OUTPUT is left as it was when the report fails")
        print("report on a full file system:", line)
    finally:
        sh("umount", full)
    case_done(d)


class Hooked(http.server.BaseHTTPRequestHandler):
    """Serves the fixture's symbol store; runs the server's hook on the first request, i.e. during the
    conversion, after raw2dmp checked its targets and before it writes anything."""

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        if self.server.hook:
            hook, self.server.hook = self.server.hook, None
            hook()
        path = os.path.normpath(os.path.join(self.server.root, self.path.lstrip("/")))
        if not path.startswith(self.server.root + os.sep) or not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(path, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


def late_report_cases():
    """Something takes the report's place while converting (another process, a mistake): found only when
    the report is written. The dump is complete by then and must not be kept."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooked)
    server.root = os.path.join(fx, "symstore")
    server.hook = None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, R2D_DOWNLOAD_TIMEOUT="10", R2D_DOWNLOAD_RETRIES="0", HOME=work, XDG_CACHE_HOME=work)
    env.pop("_NT_SYMBOL_PATH", None)
    url = "http://127.0.0.1:%d" % server.server_address[1]
    try:
        d = case_dir("report appears while converting")
        sym = ["--symbol-path", "srv*%s*%s" % (os.path.join(d, "cache1"), url)]
        # Sanity: the same run without interference converts, and writes both.
        p = run(d, ["--symbol-path", "srv*%s*%s" % (os.path.join(d, "cache0"), url), "--report", "ok.json",
                    "m.elf", "ok.dmp"], env=env)
        if not t.check(p.returncode == 0, "download run converts: %r" % p.stderr[-400:]):
            return
        with open(os.path.join(d, "ok.json")) as f:
            t.check(json.load(f)["output"]["sha256"] == sha256(os.path.join(d, "ok.dmp")),
                    "the report holds the dump's SHA-256")
        rep = os.path.join(d, "r.json")
        server.hook = lambda: write_text(rep, "someone else's report\n")
        p = run(d, sym + ["--report", "r.json", "m.elf", "out.dmp"], env=env)
        t.check(server.hook is None, "the hook ran during the conversion")
        refused("report appeared while converting", d, p, 1,
                ["r.json: report exists", "out.dmp not kept"], ["out.dmp"])
        with open(rep, "rb") as f:
            t.check(f.read() == b"someone else's report\n", "the report that appeared is not replaced")
        os.unlink(rep)

        # --force, an earlier OUTPUT, and a directory put where the report goes.
        old = os.path.join(d, "out.dmp")
        with open(old, "w") as f:
            f.write("an earlier dump\n")
        ino = os.stat(old).st_ino
        server.hook = lambda: os.mkdir(rep)
        sym = ["--symbol-path", "srv*%s*%s" % (os.path.join(d, "cache2"), url)]
        p = run(d, sym + ["--force", "--report", "r.json", "m.elf", "out.dmp"], env=env)
        t.check(server.hook is None, "the hook ran during the --force conversion")
        refused("directory in the report's place --force", d, p, 1,
                ["r.json: the report is a directory", "out.dmp not kept"])
        with open(old, "rb") as f:
            t.check(f.read() == b"an earlier dump\n" and os.stat(old).st_ino == ino,
                    "--force: the earlier OUTPUT is left as it was when the report cannot be written")
        t.check(os.path.isdir(rep) and not os.listdir(rep), "the directory in the way is untouched")
        case_done(d)
    finally:
        server.shutdown()


# ---- --batch: every item against every other, before any conversion ----

def batch(d, lines, *extra):
    with open(os.path.join(d, "m.jsonl"), "w") as f:
        for l in lines:
            f.write(json.dumps(l) + "\n")
    return run(d, BASE + list(extra) + ["--batch", "m.jsonl"])


BATCH = [
    ("two outputs, two spellings", [{"input": "m.elf", "output": "a.dmp"}, {"input": "m.elf", "output": "./a.dmp"}],
     ["line 2 output './a.dmp' is the same file as line 1 output 'a.dmp'"]),
    ("an output is another item's input (hard link)",
     [{"input": "m.elf", "output": "a.dmp"}, {"input": "m.elf", "output": "hard.elf"}],
     ["line 2 output 'hard.elf' is the same file as line 1 input 'm.elf'"]),
    ("an output is another item's input (symbolic link)",
     [{"input": "sym.elf", "output": "a.dmp"}, {"input": "m.elf", "output": "b.dmp"},
      {"input": "m.elf", "output": "sub/../m.elf"}],
     ["line 3 output 'sub/../m.elf' is the same file as line 1 input 'sym.elf'"]),
    ("a report is another item's output", [{"input": "m.elf", "output": "a.dmp"},
                                           {"input": "m.elf", "output": "b.dmp", "report": "sub/../a.dmp"}],
     ["line 2 report 'sub/../a.dmp' is the same file as line 1 output 'a.dmp'"]),
    ("a report is another item's default report", [{"input": "m.elf", "output": "a.dmp"},
                                                   {"input": "m.elf", "output": "b.dmp",
                                                    "report": "./a.dmp.report.json"}],
     ["line 2 report './a.dmp.report.json' is the same file as line 1 report 'a.dmp.report.json'"]),
    ("an item's own output is its input", [{"input": "m.elf", "output": "a.dmp"},
                                           {"input": "m.elf", "output": "sym.elf"}],
     ["line 2 output 'sym.elf' is the same file as line 1 input 'm.elf'"]),
    ("an item's own report is its input", [{"input": "m.elf", "output": "a.dmp", "report": "hard.elf"}],
     ["line 1 report 'hard.elf' is the same file as line 1 input 'm.elf'"]),
    ("an output is the manifest", [{"input": "m.elf", "output": "a.dmp"}, {"input": "m.elf", "output": "m.jsonl"}],
     ["line 2 output 'm.jsonl' is the same file as MANIFEST 'm.jsonl'"]),
    ("an output is -", [{"input": "m.elf", "output": "a.dmp"}, {"input": "m.elf", "output": "-"}],
     ["m.jsonl:2:", "\"output\" '-'", "standard output"]),
]


def batch_cases():
    for label, lines, must in BATCH:
        for force in ([], ["--force"]):
            name = "batch: %s%s" % (label, " --force" if force else "")
            d = case_dir(name)
            prep_links(d)
            p = batch(d, lines, *force)
            refused(name, d, p, 2, must, ["a.dmp", "b.dmp", "a.dmp.report.json", "-"],
                    keep=("m.elf", "hard.elf"), digests={"m.elf": SRC_DIGEST, "hard.elf": SRC_DIGEST})
            t.check(p.stdout == "", "%s: no item ran (no result line)" % name)
            case_done(d)
    # Two items reading one input (by two spellings) is fine: only written files clash.
    d = case_dir("batch: one input, two items")
    p = batch(d, [{"input": "m.elf", "output": "a.dmp"}, {"input": "./m.elf", "output": "b.dmp"}], "-q")
    t.check(p.returncode == 0 and p.stdout.count('"status":"ok"') == 2,
            "two items reading one input both convert: %r %r" % (p.stdout, p.stderr))
    t.check(sha256(os.path.join(d, "a.dmp")) == sha256(os.path.join(d, "b.dmp")), "and give the same dump")
    t.check(sha256(os.path.join(d, "m.elf")) == SRC_DIGEST, "the shared input is unchanged")
    case_done(d)


def sanity_case():
    """The checks do not get in the way of a normal conversion with everything in one directory."""
    d = case_dir("normal conversion")
    p = run(d, BASE + ["--report", "m.json", "m.elf", "m.dmp"])
    t.check(p.returncode == 0, "a conversion beside its input converts: %r" % p.stderr[-400:])
    with open(os.path.join(d, "m.json")) as f:
        rep = json.load(f)
    t.check(rep["result"] == "ok" and rep["output"]["sha256"] == sha256(os.path.join(d, "m.dmp")),
            "its report records the dump's SHA-256")
    t.check(rep["input"]["sha256"] == SRC_DIGEST == sha256(os.path.join(d, "m.elf")),
            "its report records the input's SHA-256, which is unchanged")
    p = run(d, BASE + ["--force", "--report", "m.json", "m.elf", "m.dmp"])
    t.check(p.returncode == 0, "--force replaces both: %r" % p.stderr[-400:])
    t.check(not temporaries(d), "no temporary left")
    case_done(d)


sanity_case()
single_cases()
bind_mount_case()
stdout_cases()
directory_cases()
read_only_cases()
full_report_fs_case()
late_report_cases()
batch_cases()
t.finish()
