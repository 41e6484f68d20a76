/* SPDX-License-Identifier: MIT */
/*
 * Reading Windows 64-bit kernel crash dumps (PAGEDU64) as an input format: DumpType 1 (run table in the
 * header, pages back to back from 0x2000) and DumpType 5 (bitmap at 0x2000). Every header field becomes a
 * "dump.*" note; the header's CONTEXT becomes CPU 0. What is accepted: docs/formats/crashdump.md.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

/* DUMP_HEADER64 (docs/formats/crashdump.md F2). */
#define CD_HEADER_SIZE 0x2000
#define CD_OFF_SIGNATURE 0x000           /* u32 'PAGE' */
#define CD_OFF_VALID_DUMP 0x004          /* u32 'DU64' (64-bit) or 'DUMP' (32-bit) */
#define CD_OFF_MAJOR_VERSION 0x008       /* u32 */
#define CD_OFF_MINOR_VERSION 0x00c       /* u32 */
#define CD_OFF_DTB 0x010                 /* u64 */
#define CD_OFF_PFN_DATABASE 0x018        /* u64 */
#define CD_OFF_PS_LOADED_MODULES 0x020   /* u64 */
#define CD_OFF_PS_ACTIVE_PROCESSES 0x028 /* u64 */
#define CD_OFF_MACHINE_TYPE 0x030        /* u32 */
#define CD_OFF_NUMBER_PROCESSORS 0x034   /* u32 */
#define CD_OFF_BUGCHECK_CODE 0x038       /* u32 */
#define CD_OFF_BUGCHECK_PARAMS 0x040     /* 4 x u64 */
#define CD_OFF_KDBG 0x080                /* u64 */
#define CD_OFF_PMD_RUNS 0x088            /* u32 NumberOfRuns */
#define CD_OFF_PMD_PAGES 0x090           /* u64 NumberOfPages */
#define CD_OFF_PMD_RUN0 0x098            /* runs: u64 BasePage, u64 PageCount */
#define CD_PMD_RUN_SIZE 16
#define CD_OFF_CONTEXT 0x348        /* AMD64 CONTEXT */
#define CD_OFF_DUMP_TYPE 0xf98      /* u32 */
#define CD_OFF_REQUIRED_SPACE 0xfa0 /* u64 */
#define CD_OFF_SYSTEM_TIME 0xfa8    /* u64 */
#define CD_OFF_COMMENT 0xfb0        /* 128 bytes */
#define CD_COMMENT_SIZE 128
#define CD_OFF_SYSTEM_UPTIME 0x1030   /* u64 */
#define CD_OFF_SECONDARY_STATE 0x103c /* u32 */
#define CD_OFF_PRODUCT_TYPE 0x1040    /* u32 */
#define CD_OFF_SUITE_MASK 0x1044      /* u32 */
#define CD_OFF_KD_SECONDARY 0x104d    /* u8 */
/*
 * Runs the descriptor area can hold before ContextRecord: 0x98 + 16 * 43 = 0x348. Writers stop at 42
 * (the 700-byte buffer); QEMU's 704-byte union declares 43, and a 43rd run still clobbers nothing.
 */
#define CD_MAX_RUNS 43

#define CD_SIGNATURE 0x45474150u    /* 'PAGE' */
#define CD_VALID_DUMP64 0x34365544u /* 'DU64' */
#define CD_VALID_DUMP32 0x504d5544u /* 'DUMP' */
#define CD_PAGE_FILL64 UINT64_C(0x4547415045474150)
#define CD_DTB_MASK UINT64_C(0x000FFFFFFFFFF000)
#define CD_DATA_OFF 0x2000 /* DumpType 1: first page */

/* AMD64 CONTEXT (docs/formats/crashdump.md F4), offsets inside the record. */
#define CTX_OFF_CONTEXT_FLAGS 0x30 /* u32 */
#define CTX_OFF_MXCSR 0x34         /* u32 */
#define CTX_OFF_SEG_CS 0x38        /* u16, then Ds Es Fs Gs Ss */
#define CTX_OFF_SEG_DS 0x3a
#define CTX_OFF_SEG_ES 0x3c
#define CTX_OFF_SEG_FS 0x3e
#define CTX_OFF_SEG_GS 0x40
#define CTX_OFF_SEG_SS 0x42
#define CTX_OFF_EFLAGS 0x44 /* u32 */
#define CTX_OFF_RAX 0x78    /* u64 Rax Rcx Rdx Rbx Rsp Rbp Rsi Rdi R8..R15 */
#define CTX_OFF_RIP 0xf8
#define CTX_OFF_FLTSAVE_MXCSR 0x118 /* u32 */
#define CTX_AMD64 0x00100000u

/* Bitmap header at 0x2000 (section 7). */
#define BMP_OFF 0x2000
#define BMP_OFF_SIGNATURE 0x00
#define BMP_OFF_VALID_DUMP 0x04
#define BMP_OFF_FIRST_PAGE 0x20
#define BMP_OFF_PAGES 0x28
#define BMP_OFF_BITS 0x30
#define BMP_HEADER_SIZE 0x38
#define BMP_SIG_FULL 0x504d4446u    /* 'FDMP' */
#define BMP_SIG_SUMMARY 0x504d4453u /* 'SDMP' */
#define BMP_VALID_DUMP 0x504d5544u  /* 'DUMP' */
/* Our documented bound on cBits: 2^40 PFNs, the 52-bit physical address width of x86-64. */
#define BMP_MAX_BITS (UINT64_C(1) << 40)
#define BMP_CHUNK (1u << 20) /* bitmap bytes read at a time */

/* A run being collected from the bitmap. */
struct crashdump_scan {
    uint64_t next_off;  /* file offset of the next present page */
    uint64_t run_pfn;   /* first PFN of the open stretch */
    uint64_t run_pages; /* 0: no open stretch */
    uint64_t set_bits;
};

static int
crashdump_probe_runs(const uint8_t *h, uint64_t file_size)
{
    const uint32_t n = r2d_le32(h + CD_OFF_PMD_RUNS);
    uint64_t sum = 0, next = 0;

    if (n == 0 || n > CD_MAX_RUNS)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint64_t base = r2d_le64(h + CD_OFF_PMD_RUN0 + CD_PMD_RUN_SIZE * i);
        const uint64_t count = r2d_le64(h + CD_OFF_PMD_RUN0 + CD_PMD_RUN_SIZE * i + 8);

        if (base < next || count > (file_size >> 12) || base + count < base)
            return 0;
        sum += count;
        next = base + count;
    }
    return sum == r2d_le64(h + CD_OFF_PMD_PAGES) && sum <= (file_size - CD_DATA_OFF) >> 12;
}

/*
 * 100: 'PAGEDU64' and a consistent run table (type 1) or bitmap header (type 5; checked when the core
 * hands over enough bytes, else the file must at least hold it). 50: the magic alone, including 32-bit
 * 'PAGEDUMP', so that open() can say what is wrong.
 */
static int
crashdump_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why)
{
    uint32_t type;

    if (len < 8 || r2d_le32(head + CD_OFF_SIGNATURE) != CD_SIGNATURE)
        return R2D_PROBE_NO;
    if (r2d_le32(head + CD_OFF_VALID_DUMP) == CD_VALID_DUMP32) {
        *why = "PAGEDUMP signature (32-bit crash dump)";
        return R2D_PROBE_MAGIC;
    }
    if (r2d_le32(head + CD_OFF_VALID_DUMP) != CD_VALID_DUMP64)
        return R2D_PROBE_NO;
    *why = "PAGEDU64 signature";
    if (len < CD_HEADER_SIZE || file_size < CD_HEADER_SIZE)
        return R2D_PROBE_MAGIC;
    type = r2d_le32(head + CD_OFF_DUMP_TYPE);
    if (type == 1 && crashdump_probe_runs(head, file_size)) {
        *why = "PAGEDU64, DumpType 1, run table consistent with the file size";
        return R2D_PROBE_SURE;
    }
    if (type == 5 && len >= BMP_OFF + BMP_HEADER_SIZE) {
        const uint8_t *b = head + BMP_OFF;
        const uint32_t sig = r2d_le32(b + BMP_OFF_SIGNATURE);

        if ((sig == BMP_SIG_FULL || sig == BMP_SIG_SUMMARY) &&
            r2d_le32(b + BMP_OFF_VALID_DUMP) == BMP_VALID_DUMP &&
            r2d_le64(b + BMP_OFF_FIRST_PAGE) <= file_size) {
            *why = "PAGEDU64, DumpType 5, bitmap header present";
            return R2D_PROBE_SURE;
        }
    } else if (type == 5 && file_size >= BMP_OFF + BMP_HEADER_SIZE) {
        *why = "PAGEDU64, DumpType 5 (bitmap header beyond the probed bytes)";
        return R2D_PROBE_SURE;
    }
    return R2D_PROBE_MAGIC;
}

#define CD_DEC 0
#define CD_HEX 1

/* A numeric note: CD_HEX as "0x..." (addresses, values), CD_DEC in decimal (counts, versions). */
static int
crashdump_note(struct r2d_ctx *ctx, struct r2d_image *img, const char *key, int hex, uint64_t v)
{
    char buf[32];

    if (hex)
        snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
    else
        snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return r2d_image_add_note(ctx, img, key, buf);
}

/* The comment as text: up to the first NUL, non-printable bytes shown as '?'. */
static int
crashdump_note_comment(struct r2d_ctx *ctx, struct r2d_image *img, const uint8_t *h)
{
    char text[CD_COMMENT_SIZE + 1];
    size_t n = 0;

    for (; n < CD_COMMENT_SIZE && h[CD_OFF_COMMENT + n]; n++) {
        const uint8_t c = h[CD_OFF_COMMENT + n];

        text[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    text[n] = '\0';
    return r2d_image_add_note(ctx, img, "dump.comment", text);
}

/* Every DUMP_HEADER64 field as a "dump.<field>" note: addresses and values hex, counts and versions decimal.
 */
static int
crashdump_add_notes(struct r2d_ctx *ctx, struct r2d_image *img, const uint8_t *h)
{
    const uint8_t *c = h + CD_OFF_CONTEXT;
    const struct {
        const char *key;
        int hex;
        uint64_t v;
    } f[] = {
        {"dump.major_version", CD_DEC, r2d_le32(h + CD_OFF_MAJOR_VERSION)},
        {"dump.minor_version", CD_DEC, r2d_le32(h + CD_OFF_MINOR_VERSION)},
        {"dump.dtb", CD_HEX, r2d_le64(h + CD_OFF_DTB) & CD_DTB_MASK},
        {"dump.dtb_raw", CD_HEX, r2d_le64(h + CD_OFF_DTB)},
        {"dump.pfn_database", CD_HEX, r2d_le64(h + CD_OFF_PFN_DATABASE)},
        {"dump.ps_loaded_module_list", CD_HEX, r2d_le64(h + CD_OFF_PS_LOADED_MODULES)},
        {"dump.ps_active_process_head", CD_HEX, r2d_le64(h + CD_OFF_PS_ACTIVE_PROCESSES)},
        {"dump.machine_image_type", CD_HEX, r2d_le32(h + CD_OFF_MACHINE_TYPE)},
        {"dump.number_processors", CD_DEC, r2d_le32(h + CD_OFF_NUMBER_PROCESSORS)},
        {"dump.bugcheck_code", CD_HEX, r2d_le32(h + CD_OFF_BUGCHECK_CODE)},
        {"dump.bugcheck_parameter1", CD_HEX, r2d_le64(h + CD_OFF_BUGCHECK_PARAMS)},
        {"dump.bugcheck_parameter2", CD_HEX, r2d_le64(h + CD_OFF_BUGCHECK_PARAMS + 8)},
        {"dump.bugcheck_parameter3", CD_HEX, r2d_le64(h + CD_OFF_BUGCHECK_PARAMS + 16)},
        {"dump.bugcheck_parameter4", CD_HEX, r2d_le64(h + CD_OFF_BUGCHECK_PARAMS + 24)},
        {"dump.kdbg_va", CD_HEX, r2d_le64(h + CD_OFF_KDBG)},
        {"dump.dump_type", CD_DEC, r2d_le32(h + CD_OFF_DUMP_TYPE)},
        {"dump.required_dump_space", CD_HEX, r2d_le64(h + CD_OFF_REQUIRED_SPACE)},
        {"dump.system_time", CD_HEX, r2d_le64(h + CD_OFF_SYSTEM_TIME)},
        {"dump.system_uptime", CD_HEX, r2d_le64(h + CD_OFF_SYSTEM_UPTIME)},
        {"dump.product_type", CD_DEC, r2d_le32(h + CD_OFF_PRODUCT_TYPE)},
        {"dump.suite_mask", CD_HEX, r2d_le32(h + CD_OFF_SUITE_MASK)},
        {"dump.kd_secondary_version", CD_DEC, h[CD_OFF_KD_SECONDARY]},
        {"dump.secondary_data_state", CD_HEX, r2d_le32(h + CD_OFF_SECONDARY_STATE)},
        {"dump.context_flags", CD_HEX, r2d_le32(c + CTX_OFF_CONTEXT_FLAGS)},
        {"dump.mxcsr", CD_HEX, r2d_le32(c + CTX_OFF_MXCSR)},
        {"dump.fltsave_mxcsr", CD_HEX, r2d_le32(c + CTX_OFF_FLTSAVE_MXCSR)},
        {"dump.seg_cs", CD_HEX, r2d_le16(c + CTX_OFF_SEG_CS)},
        {"dump.rip", CD_HEX, r2d_le64(c + CTX_OFF_RIP)},
        {"dump.rsp", CD_HEX, r2d_le64(c + CTX_OFF_RAX + 4 * 8)},
        {"dump.header_runs", CD_DEC, r2d_le32(h + CD_OFF_PMD_RUNS)},
        {"dump.header_pages", CD_DEC, r2d_le64(h + CD_OFF_PMD_PAGES)},
    };
    int rc = 0;

    const struct r2d_image_props props = {.have_dump_header = 1,
                                          .dump_dtb = r2d_le64(h + CD_OFF_DTB) & CD_DTB_MASK,
                                          .dump_kdbg_va = r2d_le64(h + CD_OFF_KDBG)};

    r2d_image_set_props(img, &props);
    for (size_t i = 0; !rc && i < sizeof(f) / sizeof(f[0]); i++)
        rc = crashdump_note(ctx, img, f[i].key, f[i].hex, f[i].v);
    return rc ? rc : crashdump_note_comment(ctx, img, h);
}

static void
crashdump_segment(struct r2d_segment *s, const uint8_t *c, unsigned off)
{
    s->selector = r2d_le16(c + off);
}

/* CPU 0 from the header's CONTEXT, when ContextFlags says it is an AMD64 context. */
static int
crashdump_add_cpu(struct r2d_ctx *ctx, struct r2d_image *img, const uint8_t *h)
{
    const uint8_t *c = h + CD_OFF_CONTEXT;
    const uint32_t flags = r2d_le32(c + CTX_OFF_CONTEXT_FLAGS);
    struct r2d_cpu_state cpu;

    if (!(flags & CTX_AMD64) || flags == CD_SIGNATURE)
        return 0;
    memset(&cpu, 0, sizeof(cpu));
    cpu.flags = R2D_CPU_LONG_MODE;
    cpu.rax = r2d_le64(c + CTX_OFF_RAX + 0 * 8);
    cpu.rcx = r2d_le64(c + CTX_OFF_RAX + 1 * 8);
    cpu.rdx = r2d_le64(c + CTX_OFF_RAX + 2 * 8);
    cpu.rbx = r2d_le64(c + CTX_OFF_RAX + 3 * 8);
    cpu.rsp = r2d_le64(c + CTX_OFF_RAX + 4 * 8);
    cpu.rbp = r2d_le64(c + CTX_OFF_RAX + 5 * 8);
    cpu.rsi = r2d_le64(c + CTX_OFF_RAX + 6 * 8);
    cpu.rdi = r2d_le64(c + CTX_OFF_RAX + 7 * 8);
    cpu.r8 = r2d_le64(c + CTX_OFF_RAX + 8 * 8);
    cpu.r9 = r2d_le64(c + CTX_OFF_RAX + 9 * 8);
    cpu.r10 = r2d_le64(c + CTX_OFF_RAX + 10 * 8);
    cpu.r11 = r2d_le64(c + CTX_OFF_RAX + 11 * 8);
    cpu.r12 = r2d_le64(c + CTX_OFF_RAX + 12 * 8);
    cpu.r13 = r2d_le64(c + CTX_OFF_RAX + 13 * 8);
    cpu.r14 = r2d_le64(c + CTX_OFF_RAX + 14 * 8);
    cpu.r15 = r2d_le64(c + CTX_OFF_RAX + 15 * 8);
    cpu.rip = r2d_le64(c + CTX_OFF_RIP);
    cpu.rflags = r2d_le32(c + CTX_OFF_EFLAGS);
    crashdump_segment(&cpu.cs, c, CTX_OFF_SEG_CS);
    crashdump_segment(&cpu.ds, c, CTX_OFF_SEG_DS);
    crashdump_segment(&cpu.es, c, CTX_OFF_SEG_ES);
    crashdump_segment(&cpu.fs, c, CTX_OFF_SEG_FS);
    crashdump_segment(&cpu.gs, c, CTX_OFF_SEG_GS);
    crashdump_segment(&cpu.ss, c, CTX_OFF_SEG_SS);
    cpu.cr3 = r2d_le64(h + CD_OFF_DTB) & CD_DTB_MASK;
    return r2d_image_add_cpu(ctx, img, &cpu);
}

/* DumpType 1: one file run per header run, pages back to back from 0x2000. */
static int
crashdump_open_runs(struct r2d_ctx *ctx, struct r2d_image *img, const uint8_t *h)
{
    const char *path = r2d_image_path(img);
    const uint64_t size = r2d_image_file_size(img);
    const uint32_t n = r2d_le32(h + CD_OFF_PMD_RUNS);
    const uint64_t declared = r2d_le64(h + CD_OFF_PMD_PAGES);
    uint64_t off = CD_DATA_OFF, sum = 0;

    R2D_CHECK(n == CD_SIGNATURE || declared == CD_PAGE_FILL64, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: run table holds 'PAGE' fill (never written)", path, CD_OFF_PMD_RUNS);
    R2D_CHECK(n == 0, ctx, R2D_EFORMAT, "%s: offset 0x%x: run table has no runs", path, CD_OFF_PMD_RUNS);
    R2D_CHECK(n > CD_MAX_RUNS, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: NumberOfRuns %" PRIu32 " exceeds the %d the header can hold", path,
              CD_OFF_PMD_RUNS, n, CD_MAX_RUNS);
    for (uint32_t i = 0; i < n; i++) {
        const unsigned at = CD_OFF_PMD_RUN0 + CD_PMD_RUN_SIZE * i;
        const uint64_t base = r2d_le64(h + at), count = r2d_le64(h + at + 8);
        int rc;

        R2D_CHECK(base >= (UINT64_C(1) << 52) || count > (UINT64_C(1) << 52) - base, ctx, R2D_EFORMAT,
                  "%s: offset 0x%x: run %" PRIu32 " (PFN 0x%" PRIx64 ", 0x%" PRIx64
                  " pages) lies beyond 64-bit physical addresses",
                  path, at, i, base, count);
        R2D_CHECK(count > (size - off) / R2D_PAGE_SIZE, ctx, R2D_ETRUNC,
                  "%s: offset 0x%" PRIx64 ": run %" PRIu32 " (PFN 0x%" PRIx64 ", 0x%" PRIx64
                  " pages) runs past end of file (size 0x%" PRIx64 ")",
                  path, off, i, base, count, size);
        rc = r2d_image_add_file_run(ctx, img, base << R2D_PAGE_SHIFT, count << R2D_PAGE_SHIFT, off);
        if (rc)
            return rc;
        off += count * R2D_PAGE_SIZE;
        sum += count;
    }
    if (sum != declared)
        r2d_log(ctx, R2D_LOG_WARN,
                "warning: %s: offset 0x%x: NumberOfPages 0x%" PRIx64 " differs from the runs' sum 0x%" PRIx64
                "; the runs are used",
                path, CD_OFF_PMD_PAGES, declared, sum);
    return 0;
}

/* Close the open stretch of set bits as one file run. */
static int
crashdump_flush_stretch(struct r2d_ctx *ctx, struct r2d_image *img, struct crashdump_scan *s)
{
    const uint64_t size = r2d_image_file_size(img);
    int rc;

    if (s->run_pages == 0)
        return 0;
    R2D_CHECK(s->next_off > size || s->run_pages > (size - s->next_off) / R2D_PAGE_SIZE, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": pages of PFN 0x%" PRIx64 "-0x%" PRIx64
              " run past end of file (size 0x%" PRIx64 ")",
              r2d_image_path(img), s->next_off, s->run_pfn, s->run_pfn + s->run_pages - 1, size);
    rc = r2d_image_add_file_run(ctx, img, s->run_pfn << R2D_PAGE_SHIFT, s->run_pages << R2D_PAGE_SHIFT,
                                s->next_off);
    s->next_off += s->run_pages * R2D_PAGE_SIZE;
    s->run_pages = 0;
    return rc;
}

/* Feed bits [pfn0, pfn0 + nbits) of a bitmap chunk (LSB first) into the stretch collector. */
static int
crashdump_scan_chunk(struct r2d_ctx *ctx, struct r2d_image *img, struct crashdump_scan *s, const uint8_t *bm,
                     uint64_t pfn0, uint64_t nbits)
{
    for (uint64_t i = 0; i < nbits;) {
        const int set = (bm[i >> 3] >> (i & 7)) & 1;
        int rc;

        /* Whole bytes of zeros or ones at once: fragmented bitmaps stay cheap, full ones fast. */
        if ((i & 7) == 0 && nbits - i >= 8 && (bm[i >> 3] == 0 || bm[i >> 3] == 0xff)) {
            if (bm[i >> 3] == 0xff) {
                if (s->run_pages == 0)
                    s->run_pfn = pfn0 + i;
                s->run_pages += 8;
                s->set_bits += 8;
            } else if ((rc = crashdump_flush_stretch(ctx, img, s)) != 0) {
                return rc;
            }
            i += 8;
            continue;
        }
        if (set) {
            if (s->run_pages == 0)
                s->run_pfn = pfn0 + i;
            s->run_pages++;
            s->set_bits++;
        } else if ((rc = crashdump_flush_stretch(ctx, img, s)) != 0) {
            return rc;
        }
        i++;
    }
    return 0;
}

/* DumpType 5: bitmap header at 0x2000, one file run per maximal stretch of set bits. */
static int
crashdump_open_bitmap(struct r2d_ctx *ctx, struct r2d_image *img)
{
    const char *path = r2d_image_path(img);
    const uint64_t size = r2d_image_file_size(img);
    uint8_t b[BMP_HEADER_SIZE];
    struct crashdump_scan s = {0};
    uint64_t first, pages, bits, bytes;
    uint8_t *buf;
    int rc = r2d_image_pread(ctx, img, BMP_OFF, b, sizeof(b), "bitmap header");

    if (rc)
        return rc;
    R2D_CHECK((r2d_le32(b + BMP_OFF_SIGNATURE) != BMP_SIG_FULL &&
               r2d_le32(b + BMP_OFF_SIGNATURE) != BMP_SIG_SUMMARY) ||
                  r2d_le32(b + BMP_OFF_VALID_DUMP) != BMP_VALID_DUMP,
              ctx, R2D_EFORMAT,
              "%s: offset 0x%x: no FDMP/SDMP + DUMP bitmap header (0x%08" PRIx32 " 0x%08" PRIx32 ")", path,
              BMP_OFF, r2d_le32(b + BMP_OFF_SIGNATURE), r2d_le32(b + BMP_OFF_VALID_DUMP));
    first = r2d_le64(b + BMP_OFF_FIRST_PAGE);
    pages = r2d_le64(b + BMP_OFF_PAGES);
    bits = r2d_le64(b + BMP_OFF_BITS);
    R2D_CHECK(bits == 0 || bits > BMP_MAX_BITS, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: bitmap of 0x%" PRIx64 " bits (limit 0x%" PRIx64 ")", path,
              BMP_OFF + BMP_OFF_BITS, bits, BMP_MAX_BITS);
    bytes = (bits + 7) / 8;
    R2D_CHECK(bytes > size - (BMP_OFF + BMP_HEADER_SIZE), ctx, R2D_ETRUNC,
              "%s: offset 0x%x: bitmap of 0x%" PRIx64 " bytes runs past end of file (size 0x%" PRIx64 ")",
              path, BMP_OFF + BMP_HEADER_SIZE, bytes, size);
    /* FirstPage need not be page-aligned: WinDbg writes 0x2038 + cBits / 8. */
    R2D_CHECK(first < BMP_OFF + BMP_HEADER_SIZE + bytes, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: FirstPage 0x%" PRIx64 " lies inside the bitmap (ends at 0x%" PRIx64 ")", path,
              BMP_OFF + BMP_OFF_FIRST_PAGE, first, BMP_OFF + BMP_HEADER_SIZE + bytes);
    R2D_CHECK(first > size, ctx, R2D_ETRUNC,
              "%s: offset 0x%x: FirstPage 0x%" PRIx64 " lies past end of file (size 0x%" PRIx64 ")", path,
              BMP_OFF + BMP_OFF_FIRST_PAGE, first, size);
    if (!(buf = r2d_alloc_io(BMP_CHUNK)))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the bitmap", path);
    s.next_off = first;
    for (uint64_t done = 0; !rc && done < bytes; done += BMP_CHUNK) {
        const size_t n = bytes - done < BMP_CHUNK ? (size_t)(bytes - done) : BMP_CHUNK;
        const uint64_t pfn0 = done * 8;
        const uint64_t nbits = bits - pfn0 < (uint64_t)n * 8 ? bits - pfn0 : (uint64_t)n * 8;

        rc = r2d_image_pread(ctx, img, BMP_OFF + BMP_HEADER_SIZE + done, buf, n, "bitmap");
        if (!rc)
            rc = crashdump_scan_chunk(ctx, img, &s, buf, pfn0, nbits);
        /* A stretch already longer than the rest of the file fails now, not after scanning all of it. */
        if (!rc && (s.next_off > size || s.run_pages > (size - s.next_off) / R2D_PAGE_SIZE))
            rc = crashdump_flush_stretch(ctx, img, &s);
    }
    free(buf);
    if (!rc)
        rc = crashdump_flush_stretch(ctx, img, &s);
    if (rc)
        return rc;
    if (s.set_bits != pages)
        r2d_log(ctx, R2D_LOG_WARN,
                "warning: %s: offset 0x%x: bitmap header says 0x%" PRIx64 " pages but 0x%" PRIx64
                " bits are set; the bitmap is used",
                path, BMP_OFF + BMP_OFF_PAGES, pages, s.set_bits);
    rc = crashdump_note(ctx, img, "dump.bitmap_first_page", CD_HEX, first);
    if (!rc)
        rc = crashdump_note(ctx, img, "dump.bitmap_pages", CD_DEC, pages);
    if (!rc)
        rc = crashdump_note(ctx, img, "dump.bitmap_bits", CD_DEC, bits);
    return rc;
}

static int
crashdump_open(struct r2d_ctx *ctx, struct r2d_image *img)
{
    const char *path = r2d_image_path(img);
    uint8_t *h;
    uint32_t type;
    int rc;

    if (!(h = malloc(CD_HEADER_SIZE)))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", path);
    rc = r2d_image_pread(ctx, img, 0, h, 8, "crash dump signature");
    if (!rc && r2d_le32(h + CD_OFF_SIGNATURE) == CD_SIGNATURE &&
        r2d_le32(h + CD_OFF_VALID_DUMP) == CD_VALID_DUMP32)
        rc = r2d_err(ctx, R2D_EUNSUPPORTED, "%s: offset 0x0: 32-bit crash dumps are not supported yet", path);
    else if (!rc && (r2d_le32(h + CD_OFF_SIGNATURE) != CD_SIGNATURE ||
                     r2d_le32(h + CD_OFF_VALID_DUMP) != CD_VALID_DUMP64))
        rc = r2d_err(ctx, R2D_EFORMAT, "%s: offset 0x0: no PAGEDU64 signature", path);
    if (!rc)
        rc = r2d_image_pread(ctx, img, 0, h, CD_HEADER_SIZE, "DUMP_HEADER64");
    if (rc) {
        free(h);
        return rc;
    }
    type = r2d_le32(h + CD_OFF_DUMP_TYPE);
    if (type == 1)
        rc = crashdump_open_runs(ctx, img, h);
    else if (type == 5)
        rc = crashdump_open_bitmap(ctx, img);
    else
        rc = r2d_err(ctx, R2D_EUNSUPPORTED,
                     "%s: offset 0x%x: DumpType %" PRIu32 " is not supported (only 1 and 5)", path,
                     CD_OFF_DUMP_TYPE, type);
    if (!rc)
        rc = crashdump_add_notes(ctx, img, h);
    if (!rc)
        rc = crashdump_add_cpu(ctx, img, h);
    free(h);
    return rc;
}

const struct r2d_format r2d_format_crashdump = {
    .name = "crashdump",
    .summary = "Windows 64-bit kernel crash dump (PAGEDU64), full (DumpType 1) or bitmap (DumpType 5)",
    .probe_bytes = BMP_OFF + BMP_HEADER_SIZE,
    .probe = crashdump_probe,
    .open = crashdump_open,
};
