#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""raw2dmp on evidence containers against the reference tool that decompresses the same file.

Generates (once, cached) a random-filled fixture of --mib MiB of RAM (raw) with the fixture factory and
containers of it made by the real tools: gzip (pigz), xz in blocks (xz -T2), zstd (one frame) and pzstd
(frames), lz4, a deflated ZIP member and an E01 (ewfacquirestream). Then, --runs times, alternately and
rotating the order: raw2dmp converting each container (--hash sha256, the default: the container file is
hashed too), the reference tool decompressing it to /dev/null (zcat, xz -dc, zstd -dc, lz4 -dc, unzip -p,
ewfexport to stdout), and raw2dmp converting the bare raw file. Prints medians and ranges (wall, CPU, peak
RSS) as a Markdown table for docs/performance.md; the target is "not slower than the tool plus a plain
conversion". Numbers only: nothing passes or fails.

    bench/containers.py --raw2dmp build-rel/src/cli/raw2dmp [--mib 1024] [--runs 3] [--work DIR]

Random fill is the codecs' worst ratio (about 1:1): xz and zstd store most blocks raw, so their decoders
copy rather than decode; real memory compresses 2-4x and decodes slower per output byte. Python 3
standard library, GNU time.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FACTORY = os.path.join(ROOT, "tests", "fixtures", "mkfixture.py")
ISF = os.path.join(ROOT, "tests", "data", "isf", "606FF669409B00F7FC8C61A9C1670129-1.json.xz")

# WinPmem-style volume of the raw image, 32 KiB chunks deflated at level 1 (tests/fixtures/writer_aff4.py)
AFF4_MAKE = ("%s -c \"import json, sys; sys.path.insert(0, '%s'); import writer_aff4 as w; "
             "t = json.load(open('truth.json')); "
             "w.from_raw('memory.raw', [(r['pa'], r['len']) for r in t['runs']], 'memory.aff4', codec='deflate')\""
             % (sys.executable, os.path.join(ROOT, "tests", "fixtures")))

# name, file, command making it (in the fixture directory), reference command (file appended; a fifth
# element names another file for it)
CONTAINERS = [
    ("gzip (pigz)", "memory.raw.gz", "pigz -p 2 -c memory.raw > memory.raw.gz", "zcat"),
    ("xz, blocks", "memory.raw.xz", "xz -0 -T2 -c memory.raw > memory.raw.xz", "xz -dc"),
    ("zstd, one frame", "memory.raw.zst", "zstd -q -T2 -c memory.raw > memory.raw.zst", "zstd -q -dc"),
    ("zstd, frames (pzstd)", "frames.raw.zst", "pzstd -q -p 2 -c memory.raw > frames.raw.zst", "zstd -q -dc"),
    ("lz4", "memory.raw.lz4", "lz4 -q -c memory.raw > memory.raw.lz4", "lz4 -q -dc"),
    ("zip (deflate)", "memory.zip", "zip -q -1 memory.zip memory.raw", "unzip -p"),
    ("E01 (deflate fast)", "case.E01", "ewfacquirestream -q -t case -c deflate:fast < memory.raw", "ewfexport -q -u -t - -f raw"),
    # No Debian tool reads AFF4: the reference is unzip -p of the same memory deflated at the same level (the
    # ZIP above), so the row compares chunked deflate read in place with deflate decompressed by unzip.
    ("AFF4 (deflate chunks)", "memory.aff4", AFF4_MAKE, "unzip -p", "memory.zip"),
]


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def prepare(work, mib, only=None, fill="random"):
    out = os.path.join(work, "containers-%d%s" % (mib, "" if fill == "random" else "-" + fill))
    if not os.path.exists(os.path.join(out, "truth.json")):
        log("generating a %d MiB %s-filled fixture in %s (once)" % (mib, fill, out))
        subprocess.run([sys.executable, FACTORY, "--isf", ISF, "--out", out, "--mem-mib", str(mib), "--format", "raw",
                        "--fill", fill, "--cache", os.path.join(work, "cache")], check=True, stdout=subprocess.DEVNULL)
    for name, f, make, *_ in CONTAINERS:
        if only and f not in only:
            continue
        if not os.path.exists(os.path.join(out, f)):
            tool = make.split()[0]
            if not shutil.which(tool):
                log("%s: %s not installed, skipped" % (name, tool))
                continue
            log("making %s (once): %s" % (f, make))
            t0 = time.monotonic()
            subprocess.run(make, shell=True, check=True, cwd=out, stdout=subprocess.DEVNULL)
            log("  %.0f s" % (time.monotonic() - t0))
    return out


def timed(cmd, cwd, stdout=subprocess.DEVNULL):
    """(wall s, cpu s, peak RSS MiB) of cmd, a shell command line."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "sh", "-c", cmd], cwd=cwd, stdout=stdout,
                       stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("bench: failed (%d): %s\n%s" % (p.returncode, cmd, p.stderr[-2000:]))
    u, s, m = p.stderr.strip().splitlines()[-1].split()
    return wall, float(u) + float(s), int(m) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw2dmp", required=True)
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default=os.environ.get("R2D_BENCH_DIR", "/tmp/raw2dmp-bench"))
    ap.add_argument("--fill", choices=("random", "zero"), default="random",
                    help="the fixture's RAM: random (codecs store it) or zero (codecs squeeze it)")
    ap.add_argument("--only", help="comma-separated container files to run (e.g. memory.aff4,memory.zip)")
    a = ap.parse_args()
    exe = os.path.abspath(a.raw2dmp)
    os.makedirs(a.work, exist_ok=True)
    only = a.only.split(",") if a.only else None
    if only:  # and the files their reference tools read
        only += [c[4] for c in CONTAINERS if c[1] in only and len(c) > 4]
    fx = prepare(a.work, a.mib, only, a.fill)
    cases = [c for c in CONTAINERS if os.path.exists(os.path.join(fx, c[1])) and
             (not a.only or c[1] in a.only.split(","))]  # noqa: E131
    conv = "%s -q --offline --force --pdb ntkrnlmp.pdb %%s out.dmp" % exe
    res = {("bare", "raw2dmp"): []}
    for name, *_ in cases:
        res[(name, "raw2dmp")] = []
        res[(name, "tool")] = []
    for r in range(a.runs):
        order = cases[r % len(cases):] + cases[:r % len(cases)]
        res[("bare", "raw2dmp")].append(timed(conv % "memory.raw", fx))
        for name, f, _, ref, *rf in order:
            pair = [("raw2dmp", conv % f), ("tool", "%s %s > /dev/null" % (ref, rf[0] if rf else f))]
            for what, cmd in (pair if r % 2 == 0 else pair[::-1]):
                res[(name, what)].append(timed(cmd, fx))
                subprocess.run(["sync"])
            log("run %d: %s: raw2dmp %.2f s, tool %.2f s" % (r + 1, name, res[(name, "raw2dmp")][-1][0],
                                                              res[(name, "tool")][-1][0]))
    os.unlink(os.path.join(fx, "out.dmp"))
    med = lambda xs, i: statistics.median(x[i] for x in xs)
    rng = lambda xs, i: "%.2f-%.2f" % (min(x[i] for x in xs), max(x[i] for x in xs))
    bare = res[("bare", "raw2dmp")]
    print("| container | file MiB | raw2dmp wall s (range) | CPU s | RSS MiB | tool wall s (range) | tool + bare conversion s | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    print("| (bare raw) | %d | %.2f (%s) | %.2f | %.0f | | | |" % (a.mib, med(bare, 0), rng(bare, 0), med(bare, 1), med(bare, 2)))
    for name, f, _, ref, *rf in cases:
        x, y = res[(name, "raw2dmp")], res[(name, "tool")]
        target = med(y, 0) + med(bare, 0)
        print("| %s | %d | %.2f (%s) | %.2f | %.0f | %.2f (%s) `%s` | %.2f | %.2f |"
              % (name, os.path.getsize(os.path.join(fx, f)) >> 20, med(x, 0), rng(x, 0), med(x, 1), med(x, 2),
                 med(y, 0), rng(y, 0), ref.split()[0], target, med(x, 0) / target))


if __name__ == "__main__":
    main()
