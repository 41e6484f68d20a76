#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write what llvm-pdbutil says about a PDB as plain lines test_pdb.c can read.

Usage: pdb_truth.py LLVM-PDBUTIL PDB OUTPUT

The independent truth for the PDB reader is LLVM's own PDB dumper, not our reader. Lines (numbers decimal
unless 0x-prefixed):
    guid <32 hex digits: the 16 GUID bytes in RSDS order>
    info_age <n>            PDB info stream age            (dump -summary)
    dbi_age <n>             DBI stream age                 (pdb2yaml -dbi-stream)
    types <n>               number of TPI records          (dump -types)
    publics <n>             number of S_PUB32 records      (dump -publics)
    public <name> 0x<rva>   section VA + offset            (dump -publics, dump -section-headers)
    global <name> 0x<rva>   S_GDATA32 / S_LDATA32          (dump -globals)
    type <name> <size>      first struct/union definition of each name
    member <type> <name> <offset>   its members, LF_INDEX continuations followed
    bitfield <type> <name> <bit offset> <bits>
    msize <type> <name> <bytes>     members of array or pointer type
    index 0x<field list> 0x<continuation>   every LF_INDEX
"""
import re
import subprocess
import sys
import uuid


def run(tool, *args):
    return subprocess.run([tool, *args], check=True, capture_output=True, text=True).stdout


def records(text):
    """Split `dump -types` output into (index, kind, header line, body lines)."""
    out, cur = [], None
    for line in text.splitlines():
        m = re.match(r"\s*0x([0-9A-F]+) \| (LF_\w+) \[size = \d+\](.*)$", line)
        if m:
            cur = (int(m.group(1), 16), m.group(2), m.group(3), [])
            out.append(cur)
        elif cur is not None:
            cur[3].append(line)
    return out


def main():
    tool, pdb, output = sys.argv[1:4]
    lines = []

    summary = run(tool, "dump", "-summary", pdb)
    guid = re.search(r"GUID: \{([0-9A-Fa-f-]+)\}", summary).group(1)
    lines.append("guid " + uuid.UUID(guid).bytes_le.hex().upper())
    lines.append("info_age %d" % int(re.search(r"\n\s*Age: (\d+)", summary).group(1)))

    yaml = run(tool, "pdb2yaml", "-dbi-stream", pdb)
    dbi = yaml[yaml.index("DbiStream:"):]
    lines.append("dbi_age %d" % int(re.search(r"\n\s*Age:\s+(\d+)", dbi).group(1)))

    sections = [int(v, 16) for v in re.findall(r"^\s*([0-9A-F]+) virtual address$",
                                               run(tool, "dump", "-section-headers", pdb), re.M)]

    def rva(seg, off):
        return sections[seg - 1] + off if 1 <= seg <= len(sections) else None

    pubs = re.findall(r"S_PUB32 \[size = \d+\] `([^`]+)`\n.*addr = (\d+):(\d+)",
                      run(tool, "dump", "-publics", pdb))
    lines.append("publics %d" % len(pubs))
    for name, seg, off in pubs:
        if rva(int(seg), int(off)) is not None:
            lines.append("public %s 0x%x" % (name, rva(int(seg), int(off))))
    for name, seg, off in re.findall(r"S_[GL]DATA32 \[size = \d+\] `([^`]+)`\n.*addr = (\d+):(\d+)",
                                     run(tool, "dump", "-globals", pdb)):
        if rva(int(seg), int(off)) is not None:
            lines.append("global %s 0x%x" % (name, rva(int(seg), int(off))))

    text = run(tool, "dump", "-types", pdb)
    lines.append("types %d" % int(re.search(r"Showing (\d+) records", text).group(1)))
    recs = {r[0]: r for r in records(text)}

    def fields(fl):
        seen = set()
        while fl is not None and fl not in seen:
            seen.add(fl)
            nxt = None
            for line in recs[fl][3]:
                m = re.match(r"\s*- LF_MEMBER \[name = `([^`]*)`, Type = 0x([0-9A-F]+).*, offset = (\d+),",
                             line)
                if m:
                    yield m.group(1), int(m.group(2), 16), int(m.group(3))
                m = re.match(r"\s*- LF_INDEX continuation = 0x([0-9A-F]+)", line)
                if m:
                    nxt = int(m.group(1), 16)
                    lines.append("index 0x%x 0x%x" % (fl, nxt))
            fl = nxt

    done = set()
    for ti, kind, head, body in sorted(recs.values()):
        if kind not in ("LF_STRUCTURE", "LF_CLASS", "LF_UNION"):
            continue
        name = re.search(r"`([^`]*)`", head).group(1)
        info = " ".join(body)
        if "forward ref" in info or name in done:
            continue
        done.add(name)
        lines.append("type %s %d" % (name, int(re.search(r"sizeof (\d+)", info).group(1))))
        m = re.search(r"field list: 0x([0-9A-F]+)", info)
        for mname, mtype, moff in fields(int(m.group(1), 16) if m else None):
            lines.append("member %s %s %d" % (name, mname, moff))
            if mtype in recs:
                mk, mbody = recs[mtype][1], " ".join(recs[mtype][3])
                if mk == "LF_BITFIELD":
                    b = re.search(r"bit offset = (\d+), # bits = (\d+)", mbody)
                    lines.append("bitfield %s %s %s %s" % (name, mname, b.group(1), b.group(2)))
                elif mk == "LF_ARRAY":
                    lines.append("msize %s %s %s" % (name, mname, re.search(r"size: (\d+)", mbody).group(1)))
                elif mk == "LF_POINTER" and "kind = ptr64" in mbody:
                    lines.append("msize %s %s 8" % (name, mname))

    with open(output, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
