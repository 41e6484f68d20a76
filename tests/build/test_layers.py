# SPDX-License-Identifier: MIT
"""The layers stay layered (docs/design.md, docs/api.md). Lowest first: core and the header-only Windows
layouts (wintypes); then containers, arch and symbols, each using only core, and formats, using core,
containers and the layouts; then engine, which may use them all. The CLI and the public headers stand apart: the
CLI uses only the public headers (and the exported functions, which its link checks), the public headers
only each other.

Two checks:
- symbols: every symbol a layer's static library leaves undefined and some layer defines must be defined
  in that layer or one it may use (nm -u / nm --defined-only on the libraries meson built);
- includes: every #include "..." in a layer's directory names one of its own headers, a header of a layer
  it may use, a public header (raw2dmp/...) or the generated r2d_config.h and r2d_revision.h.

usage: test_layers.py SOURCE_ROOT LAYER=LIBRARY...
Exit 77 when nm is missing; 1 with one line per violation."""
import os
import re
import shutil
import subprocess
import sys

# layer -> (directory under the source root, layers it may use besides itself)
LAYERS = {
    "core": ("src/core", []),
    "wintypes": ("src/wintypes", []),
    "codecs": ("src/codecs", ["core"]),
    "containers": ("src/containers", ["core", "codecs"]),
    "arch": ("src/arch", ["core"]),
    "symbols": ("src/symbols", ["core"]),
    "formats": ("formats", ["core", "codecs", "containers", "wintypes"]),
    "engine": ("src/engine", ["core", "wintypes", "codecs", "containers", "arch", "symbols", "formats"]),
    "cli": ("src/cli", []),
}
# Layers without a library of their own: the CLI (a program) and the Windows layouts (headers only).
NO_LIBRARY = {"cli", "wintypes"}
PUBLIC_DIR = "include/raw2dmp"
GENERATED = {"r2d_config.h", "r2d_revision.h"}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def nm_names(args, lib):
    out = subprocess.run(["nm"] + args + [lib], check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        # "addr T name" for definitions, "U name" for undefined symbols; "file.o:" headers are skipped.
        if len(parts) >= 2 and not line.endswith(":"):
            names.add(parts[-1])
    return names


def check_symbols(libs):
    defined = {layer: nm_names(["-g", "--defined-only"], lib) for layer, lib in libs.items()}
    owner = {}
    for layer, names in defined.items():
        for name in names:
            check(name not in owner, "%s is defined in both %s and %s" % (name, owner.get(name), layer))
            owner[name] = layer
    for layer, lib in libs.items():
        allowed = {layer} | set(LAYERS[layer][1])
        undefined = nm_names(["-u"], lib)
        ours = sorted(n for n in undefined if n in owner)
        for name in ours:
            check(owner[name] in allowed,
                  "%s layer (%s) uses %s, defined in the %s layer, which it may not use"
                  % (layer, os.path.basename(lib), name, owner[name]))
        print("%-8s defines %4d global symbols, uses %3d of the other layers'" %
              (layer, len(defined[layer]), sum(1 for n in ours if owner[n] != layer)))


def headers_of(root):
    """header file name -> layer ('public' for include/raw2dmp)."""
    owner = {}
    dirs = [(layer, d) for layer, (d, _) in LAYERS.items()] + [("public", PUBLIC_DIR)]
    for layer, d in dirs:
        for name in os.listdir(os.path.join(root, d)):
            if name.endswith(".h"):
                check(name not in owner, "header name %s is in both %s and %s" % (name, owner.get(name), layer))
                owner[name] = layer
    return owner


def dir_layer(root, path):
    """The layer whose directory holds path (relative to root), for an include spelled with a path."""
    d = os.path.dirname(os.path.normpath(path))
    for layer, (ld, _) in list(LAYERS.items()) + [("public", (PUBLIC_DIR, []))]:
        if d == ld and os.path.exists(os.path.join(root, path)):
            return layer
    return None


def includes(path):
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            m = re.match(r'\s*#\s*include\s*"([^"]+)"', line)
            if m:
                yield lineno, m.group(1)


def check_includes(root):
    owner = headers_of(root)
    count = 0
    units = [(layer, d, set(uses)) for layer, (d, uses) in LAYERS.items()] + [("public", PUBLIC_DIR, set())]
    for layer, d, uses in units:
        for name in sorted(os.listdir(os.path.join(root, d))):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(d, name)
            for lineno, inc in includes(os.path.join(root, path)):
                count += 1
                if inc.startswith("raw2dmp/"):
                    check(os.path.basename(inc) in owner and owner[os.path.basename(inc)] == "public"
                          and inc.count("/") == 1, "%s:%d: no public header %s" % (path, lineno, inc))
                    continue
                if inc in GENERATED and layer != "public":
                    continue
                to = owner.get(inc) if "/" not in inc else dir_layer(root, os.path.join(d, inc))
                if to is None:
                    check(False, "%s:%d: \"%s\" is no header of a layer (a path or an unknown file)"
                          % (path, lineno, inc))
                elif layer == "public":
                    check(False, "%s:%d: a public header includes the %s header %s" % (path, lineno, to, inc))
                else:
                    check(to == layer or to in uses, "%s:%d: the %s layer includes %s of the %s layer"
                          % (path, lineno, layer, inc, to))
    print("%d #include \"...\" lines checked" % count)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(99)
    root = os.path.normpath(sys.argv[1])
    libs = {layer: os.path.normpath(lib) for layer, lib in (a.split("=", 1) for a in sys.argv[2:])}
    missing = set(LAYERS) - NO_LIBRARY - set(libs)
    if missing:
        print("no library given for layer(s) %s" % ", ".join(sorted(missing)))
        sys.exit(99)
    if not shutil.which("nm"):
        print("SKIP: nm (binutils) not found")
        sys.exit(77)
    check_symbols(libs)
    check_includes(root)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
