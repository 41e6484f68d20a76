# SPDX-License-Identifier: MIT
"""The exact standard error (and exit code) of the mistakes people make most, so that messages do not drift:
a missing input, an existing output, OUTPUT being INPUT, no symbols offline (converting and --info), the
wrong PDB or symbol table, an unknown or ambiguous option, an option without its argument, -f given the
input file, a missing OUTPUT, an unknown bug check name. Each runs in a scratch directory on the bundled
sample (tests/data/sample), with relative paths as a user types them and LC_ALL=C. A change of wording is a
change of this file.

Also the habits around them: --bugcheck by name reaches the header, format names in any case, and
--list-formats aligned with the build's optional features."""
import os
import shutil
import subprocess

import r2dtest as t

SAMPLE = os.path.join(t.SRC, "tests", "data", "sample")
KEY = "BEF0B0B5376A7EC64C4C44205044422E1"
NO_SYMBOLS = ("symbols for ntkrnlmp.pdb BEF0B0B5376A7EC64C4C44205044422E/1: no PDB ntkrnlmp.pdb with key %s: "
              "looked in empty (not there); offline: use --pdb FILE or --symbols FILE.json[.xz], or allow "
              "downloads (no --offline)" % KEY)
HELP = "try 'raw2dmp --help'\n"

work = t.workdir("transcripts")
subprocess.run("xz -dc '%s' > '%s'" % (os.path.join(SAMPLE, "memory.elf.xz"), os.path.join(work, "m.elf")),
               shell=True, check=True)
shutil.copytree(os.path.join(SAMPLE, "symstore"), os.path.join(work, "symstore"))
os.makedirs(os.path.join(work, "empty"))
with open(os.path.join(work, "exists.dmp"), "wb") as f:
    f.write(b"an earlier dump")
shutil.copy(os.path.join(t.ISF_DIR, t.ISF_19041), os.path.join(work, "other.json.xz"))
ENV = dict(os.environ, LC_ALL="C")
ENV.pop("_NT_SYMBOL_PATH", None)


def run(*args):
    return subprocess.run([t.RAW2DMP] + list(args), cwd=work, env=ENV, capture_output=True, text=True, timeout=300)


def transcript(name, args, rc, stderr):
    before = sorted(os.listdir(work))
    p = run(*args)
    t.check(p.returncode == rc, "%s: exit %d (got %d)" % (name, rc, p.returncode))
    if not t.check(p.stderr == stderr, "%s: standard error is exactly the transcript" % name):
        print("   raw2dmp %s\n   want: %r\n   got:  %r" % (" ".join(args), stderr, p.stderr))
    t.check(sorted(os.listdir(work)) == before, "%s: nothing created or removed" % name)
    return p


ST = ["--offline", "--symbol-path", "symstore"]
transcript("missing input", ST + ["missing.elf", "out.dmp"], 1,
           "raw2dmp: missing.elf: cannot open input: No such file or directory\n")
transcript("existing output", ST + ["m.elf", "exists.dmp"], 1,
           "raw2dmp: exists.dmp: output exists (use --force to replace it)\n")
transcript("same file", ST + ["--force", "m.elf", "./m.elf"], 2,
           "raw2dmp: OUTPUT './m.elf' is the same file as INPUT 'm.elf'\n")
transcript("offline without symbols", ["--offline", "--symbol-path", "empty", "m.elf", "out.dmp"], 1,
           "raw2dmp: m.elf: %s\n" % NO_SYMBOLS)
p = transcript("--info offline without symbols", ["--info", "--offline", "--symbol-path", "empty", "m.elf"], 4,
               "raw2dmp: warning: m.elf: description incomplete (symbols): %s\n" % NO_SYMBOLS)
url = "https://msdl.microsoft.com/download/symbols/ntkrnlmp.pdb/%s/ntkrnlmp.pdb" % KEY
t.check(p.stdout.startswith("Input       m.elf (") and (" " * 12 + url) in p.stdout.splitlines(),
        "--info without symbols: still the summary, with the URL of the PDB: %r" % p.stdout)
transcript("wrong symbol table", ["--offline", "--symbols", "other.json.xz", "m.elf", "out.dmp"], 1,
           "raw2dmp: symbols other.json.xz are 606FF669409B00F7FC8C61A9C16701291, the kernel wants %s\n" % KEY)
transcript("unknown option", ["--no-such-option", "m.elf", "out.dmp"], 2,
           "raw2dmp: unknown option '--no-such-option'\n" + HELP)
transcript("unknown short option", ["-x", "m.elf", "out.dmp"], 2, "raw2dmp: unknown option '-x'\n" + HELP)
transcript("ambiguous option", ["--sym", "x", "m.elf", "out.dmp"], 2,
           "raw2dmp: ambiguous option '--sym': --symbols, --symbol-path\n" + HELP)
transcript("option without its argument", ["m.elf", "out.dmp", "--report"], 2,
           "raw2dmp: option '--report' needs an argument\n" + HELP)
transcript("flag given a value", ["--offline=yes", "m.elf", "out.dmp"], 2,
           "raw2dmp: option '--offline' takes no argument\n" + HELP)
transcript("-f given the input", ["-f", "m.elf", "out.dmp"], 2,
           "raw2dmp: -f 'm.elf': a file, but -f is --input-format, a format name (see --list-formats); the "
           "input goes last\n" + HELP)
transcript("missing OUTPUT", ["m.elf"], 2, "raw2dmp: expected INPUT and OUTPUT\n" + HELP)
transcript("unknown bug check name", ["--bugcheck", "MANUALY_INITIATED_CRASH", "m.elf", "out.dmp"], 2,
           "raw2dmp: --bugcheck: unknown bug check name 'MANUALY_INITIATED_CRASH' (see raw2dmp(1); or give "
           "the code)\n" + HELP)

# The wrong PDB: the fixture factory's kernel PDB (another GUID) for the sample's kernel.
fx = os.path.join(work, "fx")
truth = t.make_fixture(fx, isf=t.ISF_22000, seed=3, cpus=1, formats="elf")
shutil.copy(os.path.join(fx, truth["pdb"]["path"]), os.path.join(work, "wrong.pdb"))
shutil.rmtree(fx)
wrong = "%s%X" % (truth["pdb"]["guid"].upper(), truth["pdb"]["age"])
transcript("wrong PDB", ["--offline", "--pdb", "wrong.pdb", "m.elf", "out.dmp"], 1,
           "raw2dmp: symbols wrong.pdb are %s, the kernel wants %s\n" % (wrong, KEY))

# Bug checks by name reach the header; names and format names in any case.
p = run(*ST, "--bugcheck", "manually_initiated_crash", "-f", "ELF", "--dump-type", "FULL", "m.elf", "named.dmp")
if t.check(p.returncode == 0, "--bugcheck by name, -f ELF, --dump-type FULL: converts: %s" % p.stderr):
    d = t.Dump(os.path.join(work, "named.dmp"))
    t.check(d.fields["bugcheck_code"] == 0xE2 and d.fields["dump_type"] == 1,
            "MANUALLY_INITIATED_CRASH is 0xE2 in the header (got 0x%x)" % d.fields["bugcheck_code"])
    os.unlink(os.path.join(work, "named.dmp"))
p = run(*ST, "--info", "m.elf", "--bugcheck", "LIVE_SYSTEM_DUMP")
t.check(p.returncode == 0 and "bug check 0x161 (LIVE_SYSTEM_DUMP)" in p.stdout, "--info names the bug check")

# --list-formats: one column for the descriptions, then the optional features with yes/no.
p = run("--list-formats")
lines = [l for l in p.stdout.splitlines() if l.strip()]
head = lines.index("optional features of this build:") if "optional features of this build:" in lines else -1
if t.check(p.returncode == 0 and head > 0, "--list-formats lists formats, then features: %r" % p.stdout):
    conts = next((i for i, l in enumerate(lines) if l.startswith("containers, read in place")), head)
    formats, features = lines[:conts], lines[head + 1:]
    names = [l.split()[0] for l in formats]
    t.check(names == ["elf", "vbox", "xen", "lime", "crashdump", "kdump", "savevm", "libvirt-save", "vmware", "hiberfil",
                     "aff4",
                     "raw"],
            "every format: %s" % names)
    cols = {len(l) - len(l[len(l.split()[0]):].lstrip()) for l in formats + features}
    t.check(len(cols) == 1, "descriptions start in one column: %s" % cols)
    t.check(sorted(l.split()[0] for l in features) == ["curl", "lzo", "snappy"]
            and all(l.split()[1] in ("yes", "no") for l in features), "features with yes/no: %r" % features)
t.finish()
