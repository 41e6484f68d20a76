# SPDX-License-Identifier: MIT
"""--symbols with a Volatility 3 symbol directory or a windows.zip pack: the table of the wanted GUID/age is
picked among the real tables of tests/data/isf laid out as Volatility's packs are
(windows/ntkrnlmp.pdb/<GUID>-<age>.json.xz), in a directory, a ZIP made by Python's zipfile, a directory
holding windows.zip, and with plain .json members; a table not in the pack is R2D_ENOTFOUND naming the file.

usage: test_isf_pack.py ISFPICK"""
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

SRC = os.environ.get("R2D_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
ISF_DIR = os.path.join(SRC, "tests", "data", "isf")
GUIDS = ["606FF669409B00F7FC8C61A9C1670129", "0CE4A95C0CD782A7596B034D8648E585",
         "1D4090613BF97F9B9529992E20E93897", "339E74133576439CBCDF7E0229DA3773"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def pick(path, guid, age=1, name="ntkrnlmp.pdb"):
    p = subprocess.run([sys.argv[1], path, name, guid, str(age)], capture_output=True, text=True)
    got = dict(line.split(" ", 1) for line in p.stdout.splitlines() if " " in line)
    return p.returncode, got, p.stderr.strip()


def expect_pick(path, guid, member_end, what):
    rc, got, err = pick(path, guid)
    if check(rc == 0, "%s: %s found (%s)" % (what, guid, err)):
        check(got.get("guid") == guid and got.get("age") == "1", "%s: the table opened is %s-1: %r" % (what, guid, got))
        check(got.get("origin", "").endswith(member_end), "%s: origin %r ends with %s" % (what, got.get("origin"), member_end))


work = tempfile.mkdtemp(prefix="isfpack.")
try:
    # A symbol directory as Volatility 3 keeps it: symbols/windows/ntkrnlmp.pdb/<GUID>-<age>.json.xz.
    vol = os.path.join(work, "symbols")
    pdbdir = os.path.join(vol, "windows", "ntkrnlmp.pdb")
    os.makedirs(pdbdir)
    for g in GUIDS:
        shutil.copy(os.path.join(ISF_DIR, g + "-1.json.xz"), pdbdir)
    for root in (vol, os.path.join(vol, "windows"), pdbdir):
        for g in GUIDS:
            expect_pick(root, g, "ntkrnlmp.pdb/%s-1.json.xz" % g, "directory %s" % os.path.relpath(root, work))
    # The GUID in lower case in the request, the PDB directory in another case on disk.
    os.rename(pdbdir, os.path.join(vol, "windows", "NTKRNLMP.PDB"))
    rc, got, err = pick(vol, GUIDS[0].lower())
    check(rc == 0 and got.get("guid") == GUIDS[0], "directory: names compared without regard to case: %s" % err)
    os.rename(os.path.join(vol, "windows", "NTKRNLMP.PDB"), pdbdir)

    # windows.zip as Volatility 3 distributes it, made by zipfile (members stored: the tables are xz already).
    pack = os.path.join(work, "windows.zip")
    with zipfile.ZipFile(pack, "w") as z:
        z.writestr("windows/", b"")
        z.writestr("windows/ntkrnlmp.pdb/", b"")
        for g in GUIDS:
            z.write(os.path.join(ISF_DIR, g + "-1.json.xz"), "windows/ntkrnlmp.pdb/%s-1.json.xz" % g)
    for g in GUIDS:
        expect_pick(pack, g, "windows.zip:windows/ntkrnlmp.pdb/%s-1.json.xz" % g, "zip")
    # A Volatility 3 symbols directory that holds the pack rather than its contents.
    holder = os.path.join(work, "holder")
    os.makedirs(holder)
    shutil.copy(pack, holder)
    expect_pick(holder, GUIDS[2], "windows.zip:windows/ntkrnlmp.pdb/%s-1.json.xz" % GUIDS[2], "directory with windows.zip")

    # Plain JSON members, deflated, with a decoy of another name beside them.
    plain = os.path.join(work, "plain.zip")
    with zipfile.ZipFile(plain, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with lzma.open(os.path.join(ISF_DIR, GUIDS[3] + "-1.json.xz")) as f:
            z.writestr("windows/ntkrnlmp.pdb/%s-1.json" % GUIDS[3], f.read())
        z.writestr("windows/ntoskrnl.pdb/%s-1.json" % GUIDS[0], b"{}")
    expect_pick(plain, GUIDS[3], "plain.zip:windows/ntkrnlmp.pdb/%s-1.json" % GUIDS[3], "zip of plain .json")

    # Not there: another age, another GUID, another PDB name. One line naming the wanted file.
    for path in (vol, pack):
        for guid, age, name in ((GUIDS[0], 2, "ntkrnlmp.pdb"), ("00" * 16, 1, "ntkrnlmp.pdb"),
                                (GUIDS[0], 1, "ntkrpamp.pdb")):
            rc, got, err = pick(path, guid, age, name)
            want = "%s/%s-%d.json.xz" % (name, guid.upper(), age)
            check(rc == 1 and err.startswith("error R2D_ENOTFOUND: ") and want in err and "\n" not in err,
                  "%s: %s missing is R2D_ENOTFOUND naming it: %r" % (os.path.basename(path), want, err))
    # A file that only looks like a ZIP, and an empty directory.
    bad = os.path.join(work, "bad.zip")
    with open(bad, "wb") as f:
        f.write(b"PK\x03\x04" + b"\0" * 60)
    rc, got, err = pick(bad, GUIDS[0])
    check(rc == 1 and "bad.zip" in err and "R2D_EFORMAT" in err, "broken ZIP: R2D_EFORMAT naming it: %r" % err)
    os.makedirs(os.path.join(work, "empty"))
    rc, got, err = pick(os.path.join(work, "empty"), GUIDS[0])
    check(rc == 1 and "R2D_ENOTFOUND" in err and "windows.zip" in err, "empty directory: where it looked: %r" % err)
    # Nothing was written into the packs or beside them.
    check(sorted(os.listdir(holder)) == ["windows.zip"], "nothing extracted beside the pack")
finally:
    if not failures:
        shutil.rmtree(work, ignore_errors=True)

if failures:
    print("%d check(s) failed (work directory %s)" % (len(failures), work))
    sys.exit(1)
print("all checks passed")
