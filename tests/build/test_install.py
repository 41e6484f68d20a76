# SPDX-License-Identifier: MIT
"""What `meson install` puts on a machine is usable, and is all it puts there. The build is installed into a
temporary DESTDIR; the installed tree must hold exactly the program, the shared library, the public headers
(the files of include/raw2dmp/*.h, nothing private), raw2dmp.pc and the man page. Then a small C program is
compiled against the installed tree with only `pkg-config --cflags --libs raw2dmp` (PKG_CONFIG_PATH and
PKG_CONFIG_SYSROOT_DIR pointing into DESTDIR) and run with LD_LIBRARY_PATH: it must load the installed
library, list the formats, write the options as JSON, and get one error line naming the file from
r2d_convert on a missing input. The installed program must run too.

usage: test_install.py --build-root DIR --source-root DIR --meson PROG --cc "CC ARGS" --sanitize VALUE
                       --prefix P --bindir D --libdir D --includedir D --mandir D
Exit 77 when meson, pkg-config or the C compiler is missing; 1 with one line per failed check."""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

failures = []

PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raw2dmp/raw2dmp.h>

/* The file this process loaded libraw2dmp from, as the kernel mapped it. */
static void
print_library(void)
{
    char line[4096];
    FILE *f = fopen("/proc/self/maps", "r");

    while (f && fgets(line, sizeof(line), f)) {
        char *p = strchr(line, '/');
        if (p && strstr(p, "/libraw2dmp.so")) {
            printf("library %s", p);
            break;
        }
    }
    if (f)
        fclose(f);
}

int
main(int argc, char **argv)
{
    struct r2d_options opts;
    struct r2d_ctx *ctx = r2d_ctx_new();
    char *json;
    int rc;

    if (argc != 3 || !ctx)
        return 2;
    printf("version %s\n", r2d_version());
    print_library();
    for (size_t i = 0; i < r2d_format_count(); i++) {
        const char *name, *summary;
        if (r2d_format_describe(i, &name, &summary) != 0)
            return 3;
        printf("format %s\n", name);
    }
    printf("known lime %d nosuch %d\n", r2d_format_known("lime"), r2d_format_known("nosuch"));
    r2d_options_init(&opts);
    json = r2d_options_json(&opts);
    printf("options %s\n", json ? json : "NULL");
    free(json);
    rc = r2d_convert(ctx, &opts, argv[1], argv[2]);
    printf("convert %d %s\n", rc, r2d_status_name(rc));
    printf("error %s\n", r2d_errmsg(ctx));
    r2d_ctx_free(ctx);
    return 0;
}
"""


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def run(cmd, env=None, what=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if not check(p.returncode == 0, "%s: exit %d" % (what or " ".join(cmd), p.returncode)):
        print(p.stdout[-2000:], p.stderr[-2000:])
    return p


def sanitize_flags(value):
    """-Db_sanitize as meson prints it ("address,undefined", or a list in newer meson) to -fsanitize=..."""
    names = [n.strip(" '\"[]") for n in value.split(",")]
    names = [n for n in names if n and n != "none"]
    return ["-fsanitize=" + ",".join(names)] if names else []


def installed_files(destdir):
    found = set()
    for d, _, files in os.walk(destdir):
        for f in files:
            found.add(os.path.relpath(os.path.join(d, f), destdir))
    return found


def expected_files(a, headers):
    def under(d, *names):
        return os.path.join(os.path.join(a.prefix, d).lstrip("/"), *names)

    libs = {under(a.libdir, n) for n in ("libraw2dmp.so", "libraw2dmp.so.0", "libraw2dmp.so." + a.version)}
    return libs | {under(a.bindir, "raw2dmp"), under(a.libdir, "pkgconfig", "raw2dmp.pc"),
                   under(a.mandir, "man1", "raw2dmp.1")} | {under(a.includedir, "raw2dmp", h) for h in headers}


def check_tree(a, destdir):
    headers = sorted(n for n in os.listdir(os.path.join(a.source_root, "include", "raw2dmp")) if n.endswith(".h"))
    want, got = expected_files(a, headers), installed_files(destdir)
    for f in sorted(got - want):
        check(False, "installed but not part of the public installation: %s" % f)
    for f in sorted(want - got):
        check(False, "not installed: %s" % f)
    print("installed %d files (%d public headers)" % (len(got), len(headers)))


def build_client(a, destdir, work):
    libdir = os.path.join(destdir, os.path.join(a.prefix, a.libdir).lstrip("/"))
    env = dict(os.environ)
    env["PKG_CONFIG_PATH"] = os.pathsep.join(filter(None, [os.path.join(libdir, "pkgconfig"),
                                                           env.get("PKG_CONFIG_PATH")]))
    env["PKG_CONFIG_SYSROOT_DIR"] = destdir
    flags = run(["pkg-config", "--cflags", "--libs", "raw2dmp"], env=env).stdout.split()
    check(any(f.startswith("-I" + destdir) for f in flags), "pkg-config's -I points into DESTDIR: %s" % flags)
    check(any(f.startswith("-L" + destdir) for f in flags), "pkg-config's -L points into DESTDIR: %s" % flags)
    src, exe = os.path.join(work, "client.c"), os.path.join(work, "client")
    with open(src, "w") as f:
        f.write(PROGRAM)
    # The headers must be warning-free for a strict C11 user.
    run(shlex.split(a.cc) + ["-std=c11", "-Wall", "-Wextra", "-Werror", "-Wstrict-prototypes"] +
        sanitize_flags(a.sanitize) + [src, "-o", exe] + flags, what="compiling a client with pkg-config")
    return exe, libdir


def check_client(exe, libdir, destdir, work):
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    missing, out = os.path.join(work, "no-such-image.elf"), os.path.join(work, "out.dmp")
    p = run([exe, missing, out], env=env, what="the client")
    lines = p.stdout.splitlines()
    print("\n".join("   " + l for l in lines))
    field = {}
    for line in lines:
        k, _, v = line.partition(" ")
        field.setdefault(k, []).append(v)
    check(field.get("library", [""])[0].startswith(destdir), "the client loaded the installed library: %s"
          % field.get("library"))
    formats = field.get("format", [])
    check(len(formats) >= 5 and {"elf", "lime", "raw"} <= set(formats), "the formats are listed: %s" % formats)
    check(field.get("known") == ["lime 1 nosuch 0"], "r2d_format_known: %s" % field.get("known"))
    try:
        opts = json.loads(field.get("options", ["null"])[0])
    except ValueError:
        opts = None
    check(isinstance(opts, dict) and opts.get("input_format") == "auto" and opts.get("hash") == "sha256"
          and opts.get("dtb", 0) is None, "r2d_options_json gives the defaults: %s" % field.get("options"))
    conv = field.get("convert", ["0 ok"])[0].split()
    check(int(conv[0]) < 0 and conv[1] == "R2D_EIO", "r2d_convert fails with R2D_EIO: %s" % conv)
    err = field.get("error", [""])[0]
    check(missing in err and "No such file" in err, "the error names the missing file: %r" % err)
    check(not os.path.exists(out), "no output is left")


def check_program(a, destdir, libdir):
    exe = os.path.join(destdir, os.path.join(a.prefix, a.bindir).lstrip("/"), "raw2dmp")
    p = run([exe, "--list-formats"], env=dict(os.environ, LD_LIBRARY_PATH=libdir), what="installed raw2dmp")
    check("lime" in p.stdout, "the installed program lists the formats")


def main():
    ap = argparse.ArgumentParser()
    for opt in ("build-root", "source-root", "meson", "cc", "sanitize", "prefix", "bindir", "libdir",
                "includedir", "mandir", "version"):
        ap.add_argument("--" + opt, required=True)
    a = ap.parse_args()
    for tool in (shlex.split(a.meson)[0], "pkg-config", shlex.split(a.cc)[0]):
        if not shutil.which(tool):
            print("SKIP: %s not found" % tool)
            sys.exit(77)
    work = tempfile.mkdtemp(prefix="r2d-install-")
    destdir = os.path.join(work, "destdir")
    run(shlex.split(a.meson) + ["install", "-C", a.build_root, "--destdir", destdir, "--no-rebuild", "--quiet"],
        what="meson install --destdir")
    if not failures:
        check_tree(a, destdir)
        exe, libdir = build_client(a, destdir, work)
        if not failures:
            check_client(exe, libdir, destdir, work)
        check_program(a, destdir, libdir)
    if failures:
        print("%d check(s) failed; the tree is kept in %s" % (len(failures), work))
        sys.exit(1)
    shutil.rmtree(work)
    print("all checks passed")


if __name__ == "__main__":
    main()
