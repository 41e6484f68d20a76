# SPDX-License-Identifier: MIT
"""For each real ISF in tests/data/isf, build a fixture kernel (its layouts copied from that ISF, compiled by
clang into a PDB by lld-link) and check with `typecheck` that our PDB reader and our ISF reader give the same
size and offset for every type and field the KDBG rebuild uses."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
import r2dtest as t  # noqa: E402

if len(sys.argv) != 2:
    print("usage: test_typecheck.py TYPECHECK")
    sys.exit(99)
TYPECHECK = sys.argv[1]
for tool in ("clang", "lld-link", "llvm-pdbutil"):
    if not shutil.which(tool):
        print("skip: %s not found (the fixture factory needs the LLVM toolchain)" % tool)
        sys.exit(77)

for isf in t.ALL_ISFS:
    name = isf[:8]
    work = t.workdir("kdbg_typecheck-" + name)
    truth = t.make_fixture(work, isf=isf, seed=11, cpus=1, formats="elf")
    p = subprocess.run([TYPECHECK, os.path.join(work, truth["pdb"]["path"]), os.path.join(t.ISF_DIR, isf)],
                       capture_output=True, text=True, timeout=300)
    print("== %s (build %d)" % (name, truth["build"]))
    print(p.stdout, end="")
    print(p.stderr, end="")
    t.check(p.returncode == 0, "%s: PDB and ISF agree on every type and field the rebuild uses (exit %d)"
            % (name, p.returncode))
    # The fields converters consume must be among those compared (docs/reference/kdbg.md section 2).
    for field in ("SizePrcb", "OffsetPrcbProcStateContext", "OffsetPrcbNumber", "OffsetPcrContainedPrcb",
                  "OffsetPrcbContext"):
        t.check(("same %s " % field) in p.stdout, "%s: %s compared" % (name, field))
    t.done(work)
t.finish()
