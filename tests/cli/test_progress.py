# SPDX-License-Identifier: MIT
"""The progress line and the closing line on a terminal (issue 12, section 5), through script(1)'s pty.

- Every frame reads "NN%  DONE / TOTAL  elapsed H:MM:SS", and once the rate means something (a second of
  writing and 1% done) "NN%  DONE / TOTAL  R MiB/s  elapsed H:MM:SS  ETA H:MM:SS": never an ETA without a
  rate, never one on the first frame (drawn as writing starts), percentages never going back.
- When the dump is complete the line is erased and the screen ends with the one closing line: output, dump
  type, size in binary units, pages, elapsed, rate, the output's SHA-256 prefix -- the report's values.
- -q prints nothing; --no-progress prints the closing line alone.
No check depends on timing: how many frames appear, and whether any has a rate, does.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess

import r2dtest as t

UNIT = r"[\d.]+ (?:B|KiB|MiB|GiB|TiB)"
HMS = r"\d+:\d\d:\d\d"
FRAME = re.compile(r"^\s*(\d+)%%  (%s) / (%s)(?:  [\d.]+ MiB/s  elapsed %s  ETA %s|  elapsed %s)$"
                   % (UNIT, UNIT, HMS, HMS, HMS))
CLOSING = re.compile(r"^raw2dmp: out\.dmp: (full|bitmap) dump, (%s), (\d+) pages, ([\d.]+ s|%s), [\d.]+ MiB/s, "
                     r"sha256 ([0-9a-f]{16})$" % (UNIT, HMS))


def on_terminal(work, args):
    """Run raw2dmp on a pseudo-terminal; returns (exit code, bytes the terminal received)."""
    cmd = " ".join("'%s'" % a for a in [t.RAW2DMP] + args)
    p = subprocess.run(["script", "-q", "-e", "-c", cmd, "/dev/null"], cwd=work, capture_output=True,
                       timeout=600, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def screen(raw):
    """What a terminal shows after raw: carriage return, erase to end of line (ESC [ K), newline."""
    lines, cur, col = [], [], 0
    i = 0
    while i < len(raw):
        if raw.startswith("\033[K", i):
            del cur[col:]
            i += 3
            continue
        c = raw[i]
        i += 1
        if c == "\r":
            col = 0
        elif c == "\n":
            lines.append("".join(cur))
            cur, col = [], 0
        else:
            if col < len(cur):
                cur[col] = c
            else:
                cur.append(c)
            col += 1
    if cur:
        lines.append("".join(cur))
    return [l for l in lines if l.strip()]


def human(n):
    v, units = n / 1024.0, ["KiB", "MiB", "GiB", "TiB"]
    while v >= 1024 and len(units) > 1:
        v, units = v / 1024.0, units[1:]
    return "%.1f %s" % (v, units[0])


def progress(work, truth):
    pdb = os.path.join(work, truth["pdb"]["path"])
    elf = os.path.join(work, truth["formats"]["elf"])
    rc, raw = on_terminal(work, ["--pdb", pdb, "--report", "out.json", elf, "out.dmp"])
    if not t.check(rc == 0, "conversion on a terminal: exit %d: %r" % (rc, raw[-400:])):
        return
    frames = [seg.split("\033[K")[0] for seg in raw.split("\r") if "\033[K" in seg and "%" in seg.split("\033[K")[0]]
    t.check(frames, "a progress line is drawn on a terminal: %r" % raw[:300])
    bad = [f for f in frames if not FRAME.match(f)]
    t.check(not bad, "every frame has percent, bytes done/total, elapsed and (with a rate) an h:mm:ss ETA: %r" % bad[:3])
    t.check(frames and "ETA" not in frames[0] and "MiB/s" not in frames[0],
            "no rate or ETA on the first frame: %r" % frames[:1])
    pct = [int(FRAME.match(f).group(1)) for f in frames if FRAME.match(f)]
    t.check(pct == sorted(pct), "percentages never go back: %s" % pct)
    shown = screen(raw)
    with open(os.path.join(work, "out.json")) as f:
        rep = json.load(f)
    m = CLOSING.match(shown[-1]) if shown else None
    t.check(len(shown) == 1 and m, "the progress line is erased; the screen holds the closing line alone: %r" % shown)
    t.check("\r\033[Kraw2dmp: out.dmp: " in raw, "the line is erased right before the closing line")
    if m:
        out = rep["output"]
        t.check(m.group(1) == ("full" if out["dump_type"] == 1 else "bitmap") and m.group(2) == human(out["size"])
                and int(m.group(3)) == out["pages"] and out["sha256"].startswith(m.group(5)),
                "closing line: type, size, pages and SHA-256 prefix are the report's: %r" % shown[-1])
        with open(os.path.join(work, "out.dmp"), "rb") as f:
            t.check(hashlib.sha256(f.read()).hexdigest().startswith(m.group(5)), "closing line: the dump's SHA-256")
    print("captured on the terminal:\n" + "\n".join(repr(f) for f in frames[:6]) + "\n" + "\n".join(shown))

    os.unlink(os.path.join(work, "out.dmp"))
    rc, raw = on_terminal(work, ["-q", "--pdb", pdb, elf, "out.dmp"])
    t.check(rc == 0 and raw.strip() == "", "-q on a terminal: nothing at all: %r" % raw[-300:])
    os.unlink(os.path.join(work, "out.dmp"))
    rc, raw = on_terminal(work, ["--no-progress", "--pdb", pdb, elf, "out.dmp"])
    t.check(rc == 0 and "%" not in raw and len(screen(raw)) == 1 and CLOSING.match(screen(raw)[0]),
            "--no-progress: the closing line alone: %r" % raw[-300:])


if not shutil.which("script"):
    print("script(1) not found (util-linux): skipped")
    raise SystemExit(77)
work = t.workdir("progress")
progress(work, t.make_fixture(work, formats="elf", extra=["--mem-mib", "64"]))
t.finish()
