# SPDX-License-Identifier: MIT
"""Helpers shared by the integration tests: run the fixture factory and raw2dmp, and read crash dumps and
memory images with parsers written here, independently of the C code under test."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("R2D_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("R2D_BUILD_ROOT", os.path.join(SRC, "build"))
RAW2DMP = os.environ.get("RAW2DMP", os.path.join(BUILD, "src", "cli", "raw2dmp"))
ISF_DIR = os.path.join(SRC, "tests", "data", "isf")
PAGE = 4096

ISF_19041 = "606FF669409B00F7FC8C61A9C1670129-1.json.xz"
ISF_22000 = "0CE4A95C0CD782A7596B034D8648E585-1.json.xz"
ISF_17763 = "1D4090613BF97F9B9529992E20E93897-1.json.xz"
ISF_7601 = "339E74133576439CBCDF7E0229DA3773-1.json.xz"
ALL_ISFS = [ISF_19041, ISF_22000, ISF_17763, ISF_7601]

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def finish():
    done()
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


# Work directories hold multi-hundred-MiB images; the whole suite would leave gigabytes per build (a CI
# machine ran out of disk). Each one is removed once its checks are over, unless one of them failed since
# it was made (its files are what a developer needs to see) or R2D_KEEP_WORK is set.
_work_dirs = {}


def workdir(name, root=None):
    d = os.path.join(root or os.path.join(BUILD, "tests-work"), name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    _work_dirs[d] = len(failures)
    return d


def done(d=None):
    """The checks that use work directory D (default: every one made so far) are over: remove the
    directories in which no check failed."""
    for w in [d] if d else list(_work_dirs):
        before = _work_dirs.pop(w, None)
        if before is not None and before == len(failures) and not os.environ.get("R2D_KEEP_WORK"):
            shutil.rmtree(w, ignore_errors=True)


def make_fixture(out, isf=ISF_19041, seed=1, cpus=2, formats="elf", extra=()):
    cache = os.path.join(BUILD, "tests-work", "fixture-cache")
    os.makedirs(cache, exist_ok=True)
    cmd = [sys.executable, os.path.join(SRC, "tests", "fixtures", "mkfixture.py"), "--isf",
           os.path.join(ISF_DIR, isf), "--out", out, "--seed", str(seed), "--cpus", str(cpus),
           "--format", formats, "--cache", cache] + list(extra)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "truth.json")) as f:
        return json.load(f)


def raw2dmp(*args, check_rc=None, timeout=600):
    t0 = time.monotonic()
    p = subprocess.run([RAW2DMP] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    if os.environ.get("R2D_TIME_CALLS"):
        print("%.2f s: raw2dmp %s" % (time.monotonic() - t0, " ".join(str(a) for a in args)), flush=True)
    if check_rc is not None and p.returncode != check_rc:
        print("command:", [RAW2DMP] + list(args))
        print("stdout:", p.stdout[-3000:])
        print("stderr:", p.stderr[-3000:])
    return p


# ---- crash dump reader (independent of formats/crashdump.c) ----

class Dump:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.hdr = f.read(0x2000)
            f.seek(0, 2)
            self.size = f.tell()
        h = self.hdr
        assert h[0:8] == b"PAGEDU64", "not a 64-bit crash dump"
        u32 = lambda o: struct.unpack_from("<I", h, o)[0]
        u64 = lambda o: struct.unpack_from("<Q", h, o)[0]
        self.fields = {
            "major_version": u32(0x8), "minor_version": u32(0xC), "dtb": u64(0x10), "pfn_database": u64(0x18),
            "ps_loaded_module_list": u64(0x20), "ps_active_process_head": u64(0x28),
            "machine_image_type": u32(0x30), "number_processors": u32(0x34), "bugcheck_code": u32(0x38),
            "kdbg_va": u64(0x80), "dump_type": u32(0xF98), "required_dump_space": u64(0xFA0),
            "system_time": u64(0xFA8), "system_uptime": u64(0x1030), "product_type": u32(0x1040),
            "suite_mask": u32(0x1044), "kd_secondary_version": h[0x104D],
            "mxcsr": u32(0x348 + 0x34), "fltsave_mxcsr": u32(0x348 + 0x118),
            "context_flags": u32(0x348 + 0x30), "seg_cs": struct.unpack_from("<H", h, 0x348 + 0x38)[0],
            "rip": u64(0x348 + 0xF8),
        }
        self.comment = h[0xFB0:0x1030].split(b"\0")[0].decode("ascii", "replace")
        nruns = u32(0x88)
        self.header_runs = [(u64(0x98 + 16 * i), u64(0xA0 + 16 * i)) for i in range(min(nruns, 42))]
        self.header_pages = u64(0x90)
        self.page_offsets = {}   # pfn -> file offset
        if self.fields["dump_type"] == 1:
            off = 0x2000
            for base, count in self.header_runs:
                for k in range(count):
                    self.page_offsets[base + k] = off
                    off += PAGE
            self.data_end = off
        elif self.fields["dump_type"] == 5:
            with open(path, "rb") as f:
                f.seek(0x2000)
                bh = f.read(0x38)
                assert bh[0:4] in (b"FDMP", b"SDMP") and bh[4:8] == b"DUMP"
                first, present, bits = struct.unpack_from("<QQQ", bh, 0x20)
                bitmap = f.read((bits + 7) // 8)
            off = first
            for pfn in range(bits):
                if bitmap[pfn >> 3] >> (pfn & 7) & 1:
                    self.page_offsets[pfn] = off
                    off += PAGE
            self.bitmap = (first, present, bits)
            self.data_end = off
        else:
            raise AssertionError("unexpected DumpType %d" % self.fields["dump_type"])

    def read_page(self, f, pfn):
        f.seek(self.page_offsets[pfn])
        return f.read(PAGE)


class Dump32:
    """A 32-bit crash dump (PAGEDUMP): DUMP_HEADER32 at the offsets of the public declarations (Microsoft's
    ntiodump.h, Bin2Dmp's dmp.h, Volatility 2's _DMP_HEADER), pages from 0x1000 (DumpType 1) or after the
    SUMMARY_DUMP32-shaped bitmap header at 0x1000 (DumpType 5)."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.hdr = h = f.read(0x1000)
            f.seek(0, 2)
            self.size = f.tell()
        assert h[0:8] == b"PAGEDUMP", "not a 32-bit crash dump"
        u32 = lambda o: struct.unpack_from("<I", h, o)[0]
        u64 = lambda o: struct.unpack_from("<Q", h, o)[0]
        nruns = u32(0x64)
        runs = [(u32(0x6C + 8 * i), u32(0x70 + 8 * i)) for i in range(min(nruns, 86))]
        self.header_runs = runs
        self.fields = {
            "signature": h[0:4].decode(), "valid_dump": h[4:8].decode(),
            "major_version": u32(0x8), "minor_version": u32(0xC), "dtb": u32(0x10), "pfn_database": u32(0x14),
            "ps_loaded_module_list": u32(0x18), "ps_active_process_head": u32(0x1C),
            "machine_image_type": u32(0x20), "number_processors": u32(0x24), "bugcheck_code": u32(0x28),
            "bugcheck_params": [u32(0x2C + 4 * i) for i in range(4)], "pae_enabled": h[0x5C],
            "kd_secondary_version": h[0x5D], "kdbg_va": u32(0x60),
            "physical_memory_block": {"number_of_runs": nruns, "number_of_pages": u32(0x68),
                                      "runs": [{"base_page": b, "page_count": c} for b, c in runs]},
            "dump_type": u32(0xF88), "product_type": u32(0xF94), "suite_mask": u32(0xF98),
            "required_dump_space": u64(0xFA0), "system_uptime": u64(0xFB8), "system_time": u64(0xFC0),
        }
        c = 0x320     # x86 CONTEXT
        self.context = {"context_flags": u32(c), "eip": u32(c + 0xB8), "esp": u32(c + 0xC4),
                        "cs": u32(c + 0xBC), "eax": u32(c + 0xB0), "ebp": u32(c + 0xB4)}
        self.comment = h[0x820:0x8A0].split(b"\0")[0].decode("ascii", "replace")
        self.page_offsets = {}
        if self.fields["dump_type"] == 1:
            off = 0x1000
            for base, count in runs:
                for k in range(count):
                    self.page_offsets[base + k] = off
                    off += PAGE
            self.data_end = off
        elif self.fields["dump_type"] == 5:
            with open(path, "rb") as f:
                f.seek(0x1000)
                bh = f.read(0x20)
                assert bh[4:8] == b"DUMP"
                _, _, _, first, bits, present = struct.unpack_from("<IIIIII", bh, 0)
                bitmap = f.read((bits + 7) // 8)
            off = first
            for pfn in range(bits):
                if bitmap[pfn >> 3] >> (pfn & 7) & 1:
                    self.page_offsets[pfn] = off
                    off += PAGE
            self.bitmap = (first, present, bits)
            self.data_end = off
        else:
            raise AssertionError("unexpected DumpType %d" % self.fields["dump_type"])

    def read_page(self, f, pfn):
        f.seek(self.page_offsets[pfn])
        return f.read(PAGE)


# ---- source readers (independent of formats/*.c) ----

def source_segments(path, fmt):
    """List of (pa, length, file_offset) for an image file."""
    segs = []
    with open(path, "rb") as f:
        if fmt == "elf":
            eh = f.read(64)
            elf32 = eh[4] == 1
            if elf32:   # ELFCLASS32 (an i386 guest's core below 4 GiB)
                phoff, = struct.unpack_from("<I", eh, 0x1C)
                phentsize, phnum = struct.unpack_from("<HH", eh, 0x2A)
            else:
                phoff, = struct.unpack_from("<Q", eh, 0x20)
                phentsize, phnum = struct.unpack_from("<HH", eh, 0x36)
            f.seek(phoff)
            for i in range(phnum):
                ph = f.read(phentsize)
                ptype, = struct.unpack_from("<I", ph, 0)
                if ptype == 1 and elf32:
                    off, vaddr, paddr, filesz = struct.unpack_from("<IIII", ph, 4)
                    segs.append((paddr, filesz, off))
                elif ptype == 1:
                    off, vaddr, paddr, filesz = struct.unpack_from("<QQQQ", ph, 8)
                    segs.append((paddr, filesz, off))
        elif fmt == "raw":
            f.seek(0, 2)
            segs.append((0, f.tell(), 0))
        elif fmt == "lime":
            f.seek(0, 2)
            end = f.tell()
            pos = 0
            while pos + 32 <= end:
                f.seek(pos)
                magic, ver, s, e, _ = struct.unpack("<IIQQQ", f.read(32))
                assert magic == 0x4C694D45
                segs.append((s, e - s + 1, pos + 32))
                pos += 32 + e - s + 1
    return sorted(segs)


class Source:
    def __init__(self, path, fmt):
        self.f = open(path, "rb")
        self.segs = source_segments(path, fmt)

    def read(self, pa, length):
        out = bytearray(length)
        for spa, slen, soff in self.segs:
            lo, hi = max(pa, spa), min(pa + length, spa + slen)
            if lo < hi:
                self.f.seek(soff + lo - spa)
                out[lo - pa:hi - pa] = self.f.read(hi - lo)
        return bytes(out)


def verify_pages(dump, source, patches):
    """Every page of the dump equals the source page with the report's patches applied. Returns
    (pages compared, list of problems)."""
    by_page = {}
    for p in patches:
        pa = int(p["pa"], 16)
        by_page.setdefault(pa // PAGE, []).append((pa % PAGE, p))
    problems = []
    covered = set()
    with open(dump.path, "rb") as f:
        for pfn in sorted(dump.page_offsets):
            got = dump.read_page(f, pfn)
            want = bytearray(source.read(pfn * PAGE, PAGE))
            for off, p in by_page.get(pfn, []):
                n = p["length"]
                chunk = got[off:off + n]
                import hashlib
                if hashlib.sha256(chunk).hexdigest() != p["sha256_after"]:
                    problems.append("patch %s at 0x%x: dump bytes do not hash to sha256_after" % (p["reason"], pfn * PAGE + off))
                if hashlib.sha256(bytes(want[off:off + n])).hexdigest() != p["sha256_before"]:
                    problems.append("patch %s at 0x%x: source bytes do not hash to sha256_before" % (p["reason"], pfn * PAGE + off))
                want[off:off + n] = chunk
                covered.add(p["pa"])
            if bytes(want) != got:
                first = next(i for i in range(PAGE) if want[i] != got[i])
                problems.append("page 0x%x differs from the source at +0x%x (not a listed patch)" % (pfn * PAGE, first))
                if len(problems) > 20:
                    break
    for p in patches:
        if p["pa"] not in covered:
            problems.append("patch %s at %s is not inside the dump's pages" % (p["reason"], p["pa"]))
    return len(dump.page_offsets), problems


def check_header(dump, truth, name):
    """Every DUMP_HEADER64 field the ground truth names has the expected value."""
    for key, want in truth["header"].items():
        check(dump.fields.get(key) == want, "%s: header %s = %r (want %r)" % (name, key, dump.fields.get(key), want))


def true_pfns(runs):
    pfns = set()
    for r in runs:
        pa, ln = r["pa"], r["len"]
        pfns.update(range(pa // PAGE, (pa + ln + PAGE - 1) // PAGE))
    return pfns


def kdbg_pages_plain(dump, truth):
    """The KDBG as the dump holds it, read page by page through the truth's VA->PA list."""
    out = b""
    with open(dump.path, "rb") as f:
        for pg in truth["kdbg"]["pages"]:
            pfn, off = pg["pa"] // PAGE, pg["pa"] % PAGE
            if pfn not in dump.page_offsets:
                return None
            out += dump.read_page(f, pfn)[off:off + pg["len"]]
    return out
