#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""DumpIt .zdmp conversion and LZNT1 decoding, for docs/performance.md. Numbers only: nothing passes or fails.

Generates (once, cached under --work) --mib MiB raw fixtures, random-filled and zero-filled, converts each to
a crash dump with raw2dmp, and writes that dump as a .zdmp of 2 MiB blocks with the fixture factory's writer
(random pages are stored blocks, as DumpIt stores what LZNT1 cannot shrink; zero pages are LZNT1 blocks).
Then, --runs times in alternating order: raw2dmp converting the .dmp (the same dump, bare) and the .zdmp;
medians and ranges of wall time, CPU time and peak RSS, with the load average around the runs. Last, with
--bench-lznt1, the codec alone: 4 MiB of this machine's shared libraries (real code and data, about 2:1),
encoded once by tests/fixtures/lznt1.py, decoded 21 times by bench_lznt1.

    bench/zdmp.py --raw2dmp build-rel/src/cli/raw2dmp [--bench-lznt1 build-rel/bench/bench_lznt1]
                  [--mib 1024] [--runs 5] [--work DIR]
"""

import argparse
import glob
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))
import lznt1  # noqa: E402
import writer_zdmp  # noqa: E402

FACTORY = os.path.join(ROOT, "tests", "fixtures", "mkfixture.py")
ISF = os.path.join(ROOT, "tests", "data", "isf", "606FF669409B00F7FC8C61A9C1670129-1.json.xz")


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def prepare(work, mib, fill, exe):
    out = os.path.join(work, "zdmp-%d-%s" % (mib, fill))
    if not os.path.exists(os.path.join(out, "truth.json")):
        log("generating a %d MiB %s-filled fixture in %s (once)" % (mib, fill, out))
        subprocess.run([sys.executable, FACTORY, "--isf", ISF, "--out", out, "--mem-mib", str(mib), "--format", "raw",
                        "--fill", fill, "--cache", os.path.join(work, "cache")], check=True, stdout=subprocess.DEVNULL)
    dmp, zdmp = os.path.join(out, "memory.dmp"), os.path.join(out, "memory.zdmp")
    if not os.path.exists(dmp):
        subprocess.run([exe, "-q", "--offline", "--pdb", "ntkrnlmp.pdb", "memory.raw", "memory.dmp"], cwd=out, check=True)
    if not os.path.exists(zdmp):
        t0 = time.monotonic()
        blocks, stored = writer_zdmp.write_zdmp(dmp, zdmp + ".tmp")
        os.rename(zdmp + ".tmp", zdmp)
        log("%s: %d blocks, %d stored, written in %.0f s" % (zdmp, blocks, stored, time.monotonic() - t0))
    return out


def timed(cmd, cwd):
    """(wall s, cpu s, peak RSS MiB) of cmd (a list)."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%U %S %M"] + cmd, cwd=cwd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("bench: failed (%d): %s\n%s" % (p.returncode, cmd, p.stderr[-2000:]))
    u, s, m = p.stderr.strip().splitlines()[-1].split()
    return wall, float(u) + float(s), int(m) / 1024


def convert(exe, fx, runs):
    res = {"memory.dmp": [], "memory.zdmp": []}
    loads = [os.getloadavg()[0]]
    for r in range(runs):
        order = ["memory.dmp", "memory.zdmp"] if r % 2 == 0 else ["memory.zdmp", "memory.dmp"]
        for f in order:
            res[f].append(timed([exe, "-q", "--offline", "--force", "--pdb", "ntkrnlmp.pdb", f, "out.dmp"], fx))
            subprocess.run(["sync"])
        loads.append(os.getloadavg()[0])
        log("run %d: dmp %.2f s, zdmp %.2f s" % (r + 1, res["memory.dmp"][-1][0], res["memory.zdmp"][-1][0]))
    os.unlink(os.path.join(fx, "out.dmp"))
    return res, loads


def codec(work, tool):
    raw, enc = os.path.join(work, "lznt1-sample.bin"), os.path.join(work, "lznt1-sample.lznt1")
    if not os.path.exists(enc):
        data = bytearray()
        for f in sorted(glob.glob("/usr/lib/x86_64-linux-gnu/*.so*")):
            if os.path.isfile(f) and not os.path.islink(f):
                with open(f, "rb") as fh:
                    data += fh.read()
            if len(data) >= 4 << 20:
                break
        data = bytes(data[:4 << 20])
        log("encoding 4 MiB of shared libraries with tests/fixtures/lznt1.py (once; about a minute)")
        with open(raw, "wb") as f:
            f.write(data)
        with open(enc + ".tmp", "wb") as f:
            f.write(lznt1.compress(data))
        os.rename(enc + ".tmp", enc)
    p = subprocess.run([tool, enc, str(os.path.getsize(raw)), "21"], capture_output=True, text=True, check=True)
    return p.stdout.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw2dmp", required=True)
    ap.add_argument("--bench-lznt1")
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--fill", default="random,zero")
    ap.add_argument("--work", default=os.environ.get("R2D_BENCH_DIR", "/tmp/raw2dmp-bench"))
    a = ap.parse_args()
    exe = os.path.abspath(a.raw2dmp)
    os.makedirs(a.work, exist_ok=True)
    med = lambda xs, i: statistics.median(x[i] for x in xs)
    rng = lambda xs, i: "%.2f-%.2f" % (min(x[i] for x in xs), max(x[i] for x in xs))
    rows = []
    for fill in a.fill.split(","):
        fx = prepare(a.work, a.mib, fill, exe)
        res, loads = convert(exe, fx, a.runs)
        for f in ("memory.dmp", "memory.zdmp"):
            x = res[f]
            rows.append("| %s, %s | %d | %.2f (%s) | %.2f | %.0f | %.1f-%.1f |"
                        % (fill, f.split(".")[1], os.path.getsize(os.path.join(fx, f)) >> 20, med(x, 0), rng(x, 0),
                           med(x, 1), med(x, 2), min(loads), max(loads)))
    print("| input | file MiB | raw2dmp wall s (range) | CPU s | peak RSS MiB | load average |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    if a.bench_lznt1:
        print()
        print(codec(a.work, a.bench_lznt1))


if __name__ == "__main__":
    main()
