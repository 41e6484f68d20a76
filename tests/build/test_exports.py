# SPDX-License-Identifier: MIT
"""The public API is one list. libraw2dmp.so must export exactly the functions include/raw2dmp/raw2dmp.sym
lists; the public headers must declare exactly those, each marked R2D_API (a public declaration without
it would not be exported and a program using it would fail to link); docs/api.md must describe each.

usage: test_exports.py LIBRARY SYMFILE DOC HEADER...
Exit 77 when nm is missing; 1 with one line per disagreement."""
import os
import re
import shutil
import subprocess
import sys

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def read_list(path):
    names = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                names.append(line)
    return names


def exported(lib):
    """Every symbol the shared library defines in its dynamic table, with its nm type letter."""
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2].split("@")[0]] = parts[1]
    return syms


def declarations(header):
    """(name, has R2D_API) for each function declared in a header: the text without comments and
    preprocessor lines, cut into statements at ';' and '}'."""
    with open(header, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"^\s*#.*?(?<!\\)$", " ", text, flags=re.M | re.S)
    decls = []
    for stmt in re.split(r"[;{}]", text):
        m = re.search(r"\b(r2d_\w+)\s*\(", stmt)
        if m and not re.match(r"\s*typedef\b", stmt):
            decls.append((m.group(1), re.match(r"\s*R2D_API\b", stmt) is not None))
    return decls


def main():
    if len(sys.argv) < 5:
        print(__doc__)
        sys.exit(99)
    lib, symfile, doc, *headers = [os.path.normpath(a) for a in sys.argv[1:]]
    if not shutil.which("nm"):
        print("SKIP: nm (binutils) not found")
        sys.exit(77)

    listed = read_list(symfile)
    check(len(listed) == len(set(listed)), "%s: a name is listed twice" % symfile)
    listed = set(listed)

    syms = exported(lib)
    print("%s exports %d symbols; %s lists %d" % (lib, len(syms), symfile, len(listed)))
    for name in sorted(set(syms) - listed):
        check(False, "%s exports %s, which %s does not list" % (lib, name, symfile))
    for name in sorted(listed - set(syms)):
        check(False, "%s lists %s, which %s does not export" % (symfile, name, lib))
    for name in sorted(listed & set(syms)):
        check(syms[name] in "TW", "%s: %s is exported as nm type %s, not a function" % (lib, name, syms[name]))

    declared = {}
    for h in headers:
        for name, marked in declarations(h):
            check(marked, "%s: %s is declared without R2D_API" % (h, name))
            check(name not in declared, "%s: %s is declared again (first in %s)" % (h, name, declared.get(name)))
            declared[name] = h
    for name in sorted(set(declared) - listed):
        check(False, "%s declares %s, which %s does not list" % (declared[name], name, symfile))
    for name in sorted(listed - set(declared)):
        check(False, "%s lists %s, which no public header declares" % (symfile, name))

    with open(doc, encoding="utf-8") as f:
        described = set(re.findall(r"\b(r2d_\w+)\s*\(", f.read()))
    for name in sorted(listed - described):
        check(False, "%s does not describe %s() (name it with its parentheses)" % (doc, name))

    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed: %d functions exported, declared, listed and documented" % len(listed))


if __name__ == "__main__":
    main()
