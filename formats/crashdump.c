/* SPDX-License-Identifier: MIT */
/*
 * Reading Windows kernel crash dumps as an input format: PAGEDU64 here, PAGEDUMP (32-bit) in crashdump32.c.
 * DumpType 1 (run table in the header, pages back to back from 0x2000) and DumpType 5 (bitmap at 0x2000).
 * Every header field becomes a "dump.*" note; the header's CONTEXT becomes CPU 0. What is accepted:
 * docs/formats/crashdump.md.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context_amd64.h"
#include "dump_header32.h"
#include "dump_header64.h"
#include "crashdump_read.h"

/* Layouts: src/wintypes/ (docs/formats/windows-layouts.md). */
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
    const uint32_t n = r2d_le32(h + R2D_DH64_OFF_NUMBER_OF_RUNS);
    uint64_t sum = 0, next = 0;

    if (n == 0 || n > R2D_DH64_MAX_RUNS_AREA)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint64_t base = r2d_le64(h + R2D_DH64_OFF_RUN0 + R2D_PMD64_RUN_SIZE * i);
        const uint64_t count =
            r2d_le64(h + R2D_DH64_OFF_RUN0 + R2D_PMD64_RUN_SIZE * i + R2D_PMD64_RUN_OFF_PAGE_COUNT);

        if (base < next || count > (file_size >> 12) || base + count < base)
            return 0;
        sum += count;
        next = base + count;
    }
    return sum == r2d_le64(h + R2D_DH64_OFF_NUMBER_OF_PAGES) && sum <= (file_size - R2D_DH64_OFF_DATA) >> 12;
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

    if (len < 8 || r2d_le32(head + R2D_DH64_OFF_SIGNATURE) != R2D_DH64_SIGNATURE)
        return R2D_PROBE_NO;
    if (r2d_le32(head + R2D_DH64_OFF_VALID_DUMP) == R2D_DH32_VALID_DUMP)
        return r2d_crashdump32_probe(head, len, file_size, why);
    if (r2d_le32(head + R2D_DH64_OFF_VALID_DUMP) != R2D_DH64_VALID_DUMP)
        return R2D_PROBE_NO;
    *why = "PAGEDU64 signature";
    if (len < R2D_DH64_SIZE || file_size < R2D_DH64_SIZE)
        return R2D_PROBE_MAGIC;
    type = r2d_le32(head + R2D_DH64_OFF_DUMP_TYPE);
    if (type == R2D_DH64_DUMP_TYPE_FULL && crashdump_probe_runs(head, file_size)) {
        *why = "PAGEDU64, DumpType 1, run table consistent with the file size";
        return R2D_PROBE_SURE;
    }
    if (type == R2D_DH64_DUMP_TYPE_BITMAP && len >= R2D_DH64_OFF_BITMAP + R2D_BMP64_SIZE) {
        const uint8_t *b = head + R2D_DH64_OFF_BITMAP;
        const uint32_t sig = r2d_le32(b + R2D_BMP64_OFF_SIGNATURE);

        if ((sig == R2D_BMP64_SIG_FULL || sig == R2D_BMP64_SIG_SUMMARY) &&
            r2d_le32(b + R2D_BMP64_OFF_VALID_DUMP) == R2D_BMP64_VALID_DUMP &&
            r2d_le64(b + R2D_BMP64_OFF_FIRST_PAGE) <= file_size) {
            *why = "PAGEDU64, DumpType 5, bitmap header present";
            return R2D_PROBE_SURE;
        }
    } else if (type == R2D_DH64_DUMP_TYPE_BITMAP && file_size >= R2D_DH64_OFF_BITMAP + R2D_BMP64_SIZE) {
        *why = "PAGEDU64, DumpType 5 (bitmap header beyond the probed bytes)";
        return R2D_PROBE_SURE;
    }
    return R2D_PROBE_MAGIC;
}

/* A numeric note: CD_HEX as "0x..." (addresses, values), CD_DEC in decimal (counts, versions). */
int
r2d_crashdump_note(struct r2d_ctx *ctx, struct r2d_image *img, const char *key, int hex, uint64_t v)
{
    char buf[32];

    if (hex)
        snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
    else
        snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return r2d_image_add_note(ctx, img, key, buf);
}

/* The comment (128 bytes at c) as text: up to the first NUL, non-printable bytes shown as '?'. */
int
r2d_crashdump_note_comment(struct r2d_ctx *ctx, struct r2d_image *img, const uint8_t *c128)
{
    char text[R2D_DH64_COMMENT_SIZE + 1];
    size_t n = 0;

    for (; n < R2D_DH64_COMMENT_SIZE && c128[n]; n++) {
        const uint8_t c = c128[n];

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
    const uint8_t *c = h + R2D_DH64_OFF_CONTEXT;
    const struct {
        const char *key;
        int hex;
        uint64_t v;
    } f[] = {
        {"dump.major_version", CD_DEC, r2d_le32(h + R2D_DH64_OFF_MAJOR_VERSION)},
        {"dump.minor_version", CD_DEC, r2d_le32(h + R2D_DH64_OFF_MINOR_VERSION)},
        {"dump.dtb", CD_HEX, r2d_le64(h + R2D_DH64_OFF_DTB) & R2D_DH64_DTB_MASK},
        {"dump.dtb_raw", CD_HEX, r2d_le64(h + R2D_DH64_OFF_DTB)},
        {"dump.pfn_database", CD_HEX, r2d_le64(h + R2D_DH64_OFF_PFN_DATABASE)},
        {"dump.ps_loaded_module_list", CD_HEX, r2d_le64(h + R2D_DH64_OFF_PS_LOADED_MODULE_LIST)},
        {"dump.ps_active_process_head", CD_HEX, r2d_le64(h + R2D_DH64_OFF_PS_ACTIVE_PROCESS_HEAD)},
        {"dump.machine_image_type", CD_HEX, r2d_le32(h + R2D_DH64_OFF_MACHINE_TYPE)},
        {"dump.number_processors", CD_DEC, r2d_le32(h + R2D_DH64_OFF_NUMBER_PROCESSORS)},
        {"dump.bugcheck_code", CD_HEX, r2d_le32(h + R2D_DH64_OFF_BUGCHECK_CODE)},
        {"dump.bugcheck_parameter1", CD_HEX, r2d_le64(h + R2D_DH64_OFF_BUGCHECK_PARAMS)},
        {"dump.bugcheck_parameter2", CD_HEX, r2d_le64(h + R2D_DH64_OFF_BUGCHECK_PARAMS + 8)},
        {"dump.bugcheck_parameter3", CD_HEX, r2d_le64(h + R2D_DH64_OFF_BUGCHECK_PARAMS + 16)},
        {"dump.bugcheck_parameter4", CD_HEX, r2d_le64(h + R2D_DH64_OFF_BUGCHECK_PARAMS + 24)},
        {"dump.kdbg_va", CD_HEX, r2d_le64(h + R2D_DH64_OFF_KDBG)},
        {"dump.dump_type", CD_DEC, r2d_le32(h + R2D_DH64_OFF_DUMP_TYPE)},
        {"dump.required_dump_space", CD_HEX, r2d_le64(h + R2D_DH64_OFF_REQUIRED_SPACE)},
        {"dump.system_time", CD_HEX, r2d_le64(h + R2D_DH64_OFF_SYSTEM_TIME)},
        {"dump.system_uptime", CD_HEX, r2d_le64(h + R2D_DH64_OFF_SYSTEM_UPTIME)},
        {"dump.product_type", CD_DEC, r2d_le32(h + R2D_DH64_OFF_PRODUCT_TYPE)},
        {"dump.suite_mask", CD_HEX, r2d_le32(h + R2D_DH64_OFF_SUITE_MASK)},
        {"dump.kd_secondary_version", CD_DEC, h[R2D_DH64_OFF_KD_SECONDARY]},
        {"dump.secondary_data_state", CD_HEX, r2d_le32(h + R2D_DH64_OFF_SECONDARY_STATE)},
        {"dump.context_flags", CD_HEX, r2d_le32(c + R2D_CTX64_OFF_CONTEXT_FLAGS)},
        {"dump.mxcsr", CD_HEX, r2d_le32(c + R2D_CTX64_OFF_MXCSR)},
        {"dump.fltsave_mxcsr", CD_HEX, r2d_le32(c + R2D_CTX64_OFF_FLTSAVE_MXCSR)},
        {"dump.seg_cs", CD_HEX, r2d_le16(c + R2D_CTX64_OFF_SEG_CS)},
        {"dump.rip", CD_HEX, r2d_le64(c + R2D_CTX64_OFF_RIP)},
        {"dump.rsp", CD_HEX, r2d_le64(c + R2D_CTX64_OFF_RSP)},
        {"dump.header_runs", CD_DEC, r2d_le32(h + R2D_DH64_OFF_NUMBER_OF_RUNS)},
        {"dump.header_pages", CD_DEC, r2d_le64(h + R2D_DH64_OFF_NUMBER_OF_PAGES)},
    };
    int rc = 0;

    const struct r2d_image_props props = {.have_dump_header = 1,
                                          .dump_dtb = r2d_le64(h + R2D_DH64_OFF_DTB) & R2D_DH64_DTB_MASK,
                                          .dump_kdbg_va = r2d_le64(h + R2D_DH64_OFF_KDBG)};

    r2d_image_set_props(img, &props);
    for (size_t i = 0; !rc && i < sizeof(f) / sizeof(f[0]); i++)
        rc = r2d_crashdump_note(ctx, img, f[i].key, f[i].hex, f[i].v);
    return rc ? rc : r2d_crashdump_note_comment(ctx, img, h + R2D_DH64_OFF_COMMENT);
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
    const uint8_t *c = h + R2D_DH64_OFF_CONTEXT;
    const uint32_t flags = r2d_le32(c + R2D_CTX64_OFF_CONTEXT_FLAGS);
    struct r2d_cpu_state cpu;

    if (!(flags & R2D_CTX64_FLAG_AMD64) || flags == R2D_DH64_SIGNATURE)
        return 0;
    memset(&cpu, 0, sizeof(cpu));
    cpu.flags = R2D_CPU_LONG_MODE;
    cpu.rax = r2d_le64(c + R2D_CTX64_OFF_RAX);
    cpu.rcx = r2d_le64(c + R2D_CTX64_OFF_RCX);
    cpu.rdx = r2d_le64(c + R2D_CTX64_OFF_RDX);
    cpu.rbx = r2d_le64(c + R2D_CTX64_OFF_RBX);
    cpu.rsp = r2d_le64(c + R2D_CTX64_OFF_RSP);
    cpu.rbp = r2d_le64(c + R2D_CTX64_OFF_RBP);
    cpu.rsi = r2d_le64(c + R2D_CTX64_OFF_RSI);
    cpu.rdi = r2d_le64(c + R2D_CTX64_OFF_RDI);
    cpu.r8 = r2d_le64(c + R2D_CTX64_OFF_R8);
    cpu.r9 = r2d_le64(c + R2D_CTX64_OFF_R9);
    cpu.r10 = r2d_le64(c + R2D_CTX64_OFF_R10);
    cpu.r11 = r2d_le64(c + R2D_CTX64_OFF_R11);
    cpu.r12 = r2d_le64(c + R2D_CTX64_OFF_R12);
    cpu.r13 = r2d_le64(c + R2D_CTX64_OFF_R13);
    cpu.r14 = r2d_le64(c + R2D_CTX64_OFF_R14);
    cpu.r15 = r2d_le64(c + R2D_CTX64_OFF_R15);
    cpu.rip = r2d_le64(c + R2D_CTX64_OFF_RIP);
    cpu.rflags = r2d_le32(c + R2D_CTX64_OFF_EFLAGS);
    crashdump_segment(&cpu.cs, c, R2D_CTX64_OFF_SEG_CS);
    crashdump_segment(&cpu.ds, c, R2D_CTX64_OFF_SEG_DS);
    crashdump_segment(&cpu.es, c, R2D_CTX64_OFF_SEG_ES);
    crashdump_segment(&cpu.fs, c, R2D_CTX64_OFF_SEG_FS);
    crashdump_segment(&cpu.gs, c, R2D_CTX64_OFF_SEG_GS);
    crashdump_segment(&cpu.ss, c, R2D_CTX64_OFF_SEG_SS);
    cpu.cr3 = r2d_le64(h + R2D_DH64_OFF_DTB) & R2D_DH64_DTB_MASK;
    return r2d_image_add_cpu(ctx, img, &cpu);
}

/* DumpType 1: one file run per header run, pages back to back from 0x2000. */
static int
crashdump_open_runs(struct r2d_ctx *ctx, struct r2d_image *img, const uint8_t *h)
{
    const char *path = r2d_image_path(img);
    const uint64_t size = r2d_image_file_size(img);
    const uint32_t n = r2d_le32(h + R2D_DH64_OFF_NUMBER_OF_RUNS);
    const uint64_t declared = r2d_le64(h + R2D_DH64_OFF_NUMBER_OF_PAGES);
    uint64_t off = R2D_DH64_OFF_DATA, sum = 0;

    R2D_CHECK(n == R2D_DH64_SIGNATURE || declared == R2D_DH64_PAGE_FILL64, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: run table holds 'PAGE' fill (never written)", path,
              R2D_DH64_OFF_NUMBER_OF_RUNS);
    R2D_CHECK(n == 0, ctx, R2D_EFORMAT, "%s: offset 0x%x: run table has no runs", path,
              R2D_DH64_OFF_NUMBER_OF_RUNS);
    R2D_CHECK(n > R2D_DH64_MAX_RUNS_AREA, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: NumberOfRuns %" PRIu32 " exceeds the %d the header can hold", path,
              R2D_DH64_OFF_NUMBER_OF_RUNS, n, R2D_DH64_MAX_RUNS_AREA);
    for (uint32_t i = 0; i < n; i++) {
        const unsigned at = R2D_DH64_OFF_RUN0 + R2D_PMD64_RUN_SIZE * i;
        const uint64_t base = r2d_le64(h + at), count = r2d_le64(h + at + R2D_PMD64_RUN_OFF_PAGE_COUNT);
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
                "%s: offset 0x%x: NumberOfPages 0x%" PRIx64 " differs from the runs' sum 0x%" PRIx64
                "; the runs are used",
                path, R2D_DH64_OFF_NUMBER_OF_PAGES, declared, sum);
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

/*
 * The bits of a bitmap at file offset bm_off (bits of them, PFN 0 first), pages from file offset first: one
 * file run per maximal stretch of set bits. *set_bits receives the count.
 */
int
r2d_crashdump_bitmap_runs(struct r2d_ctx *ctx, struct r2d_image *img, uint64_t bm_off, uint64_t bits,
                          uint64_t first, uint64_t *set_bits)
{
    const char *path = r2d_image_path(img);
    const uint64_t size = r2d_image_file_size(img);
    const uint64_t bytes = (bits + 7) / 8;
    struct crashdump_scan s = {0};
    uint8_t *buf;
    int rc = 0;

    if (!(buf = r2d_alloc_io(BMP_CHUNK)))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the bitmap", path);
    s.next_off = first;
    for (uint64_t done = 0; !rc && done < bytes; done += BMP_CHUNK) {
        const size_t n = bytes - done < BMP_CHUNK ? (size_t)(bytes - done) : BMP_CHUNK;
        const uint64_t pfn0 = done * 8;
        const uint64_t nbits = bits - pfn0 < (uint64_t)n * 8 ? bits - pfn0 : (uint64_t)n * 8;

        rc = r2d_image_pread(ctx, img, bm_off + done, buf, n, "bitmap");
        if (!rc)
            rc = crashdump_scan_chunk(ctx, img, &s, buf, pfn0, nbits);
        /* A stretch already longer than the rest of the file fails now, not after scanning all of it. */
        if (!rc && (s.next_off > size || s.run_pages > (size - s.next_off) / R2D_PAGE_SIZE))
            rc = crashdump_flush_stretch(ctx, img, &s);
    }
    free(buf);
    if (!rc)
        rc = crashdump_flush_stretch(ctx, img, &s);
    *set_bits = s.set_bits;
    return rc;
}

/* DumpType 5: bitmap header at 0x2000, one file run per maximal stretch of set bits. */
static int
crashdump_open_bitmap(struct r2d_ctx *ctx, struct r2d_image *img)
{
    const char *path = r2d_image_path(img);
    const uint64_t size = r2d_image_file_size(img);
    uint8_t b[R2D_BMP64_SIZE];
    uint64_t first, pages, bits, bytes, set_bits = 0;
    int rc = r2d_image_pread(ctx, img, R2D_DH64_OFF_BITMAP, b, sizeof(b), "bitmap header");

    if (rc)
        return rc;
    R2D_CHECK((r2d_le32(b + R2D_BMP64_OFF_SIGNATURE) != R2D_BMP64_SIG_FULL &&
               r2d_le32(b + R2D_BMP64_OFF_SIGNATURE) != R2D_BMP64_SIG_SUMMARY) ||
                  r2d_le32(b + R2D_BMP64_OFF_VALID_DUMP) != R2D_BMP64_VALID_DUMP,
              ctx, R2D_EFORMAT,
              "%s: offset 0x%x: no FDMP/SDMP + DUMP bitmap header (0x%08" PRIx32 " 0x%08" PRIx32 ")", path,
              R2D_DH64_OFF_BITMAP, r2d_le32(b + R2D_BMP64_OFF_SIGNATURE),
              r2d_le32(b + R2D_BMP64_OFF_VALID_DUMP));
    first = r2d_le64(b + R2D_BMP64_OFF_FIRST_PAGE);
    pages = r2d_le64(b + R2D_BMP64_OFF_PAGES);
    bits = r2d_le64(b + R2D_BMP64_OFF_BITS);
    R2D_CHECK(bits == 0 || bits > R2D_BMP64_MAX_BITS, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: bitmap of 0x%" PRIx64 " bits (limit 0x%" PRIx64 ")", path,
              R2D_DH64_OFF_BITMAP + R2D_BMP64_OFF_BITS, bits, R2D_BMP64_MAX_BITS);
    bytes = (bits + 7) / 8;
    R2D_CHECK(bytes > size - (R2D_DH64_OFF_BITMAP + R2D_BMP64_SIZE), ctx, R2D_ETRUNC,
              "%s: offset 0x%x: bitmap of 0x%" PRIx64 " bytes runs past end of file (size 0x%" PRIx64 ")",
              path, R2D_DH64_OFF_BITMAP + R2D_BMP64_SIZE, bytes, size);
    /* FirstPage need not be page-aligned: WinDbg writes 0x2038 + cBits / 8. */
    R2D_CHECK(first < R2D_DH64_OFF_BITMAP + R2D_BMP64_SIZE + bytes, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: FirstPage 0x%" PRIx64 " lies inside the bitmap (ends at 0x%" PRIx64 ")", path,
              R2D_DH64_OFF_BITMAP + R2D_BMP64_OFF_FIRST_PAGE, first,
              R2D_DH64_OFF_BITMAP + R2D_BMP64_SIZE + bytes);
    R2D_CHECK(first > size, ctx, R2D_ETRUNC,
              "%s: offset 0x%x: FirstPage 0x%" PRIx64 " lies past end of file (size 0x%" PRIx64 ")", path,
              R2D_DH64_OFF_BITMAP + R2D_BMP64_OFF_FIRST_PAGE, first, size);
    rc = r2d_crashdump_bitmap_runs(ctx, img, R2D_DH64_OFF_BITMAP + R2D_BMP64_SIZE, bits, first, &set_bits);
    if (rc)
        return rc;
    if (set_bits != pages)
        r2d_log(ctx, R2D_LOG_WARN,
                "%s: offset 0x%x: bitmap header says 0x%" PRIx64 " pages but 0x%" PRIx64
                " bits are set; the bitmap is used",
                path, R2D_DH64_OFF_BITMAP + R2D_BMP64_OFF_PAGES, pages, set_bits);
    rc = r2d_crashdump_note(ctx, img, "dump.bitmap_first_page", CD_HEX, first);
    if (!rc)
        rc = r2d_crashdump_note(ctx, img, "dump.bitmap_pages", CD_DEC, pages);
    if (!rc)
        rc = r2d_crashdump_note(ctx, img, "dump.bitmap_bits", CD_DEC, bits);
    return rc;
}

static int
crashdump_open(struct r2d_ctx *ctx, struct r2d_image *img)
{
    const char *path = r2d_image_path(img);
    uint8_t *h;
    uint32_t type;
    int rc;

    if (!(h = malloc(R2D_DH64_SIZE)))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", path);
    rc = r2d_image_pread(ctx, img, 0, h, 8, "crash dump signature");
    if (!rc && r2d_le32(h + R2D_DH64_OFF_SIGNATURE) == R2D_DH64_SIGNATURE &&
        r2d_le32(h + R2D_DH64_OFF_VALID_DUMP) == R2D_DH32_VALID_DUMP) {
        free(h);
        return r2d_crashdump32_open(ctx, img);
    } else if (!rc && (r2d_le32(h + R2D_DH64_OFF_SIGNATURE) != R2D_DH64_SIGNATURE ||
                     r2d_le32(h + R2D_DH64_OFF_VALID_DUMP) != R2D_DH64_VALID_DUMP))
        rc = r2d_err(ctx, R2D_EFORMAT, "%s: offset 0x0: no PAGEDU64 signature", path);
    if (!rc)
        rc = r2d_image_pread(ctx, img, 0, h, R2D_DH64_SIZE, "DUMP_HEADER64");
    if (rc) {
        free(h);
        return rc;
    }
    type = r2d_le32(h + R2D_DH64_OFF_DUMP_TYPE);
    if (type == R2D_DH64_DUMP_TYPE_FULL)
        rc = crashdump_open_runs(ctx, img, h);
    else if (type == R2D_DH64_DUMP_TYPE_BITMAP)
        rc = crashdump_open_bitmap(ctx, img);
    else
        rc = r2d_err(ctx, R2D_EUNSUPPORTED,
                     "%s: offset 0x%x: DumpType %" PRIu32 " is not supported (only 1 and 5)", path,
                     R2D_DH64_OFF_DUMP_TYPE, type);
    if (!rc)
        rc = crashdump_add_notes(ctx, img, h);
    if (!rc)
        rc = crashdump_add_cpu(ctx, img, h);
    free(h);
    return rc;
}

const struct r2d_format r2d_format_crashdump = {
    .name = "crashdump",
    .summary = "Windows kernel crash dump (PAGEDU64, 32-bit PAGEDUMP), full (DumpType 1) or bitmap (DumpType 5)",
    .probe_bytes = R2D_DH64_OFF_BITMAP + R2D_BMP64_SIZE,
    .probe = crashdump_probe,
    .open = crashdump_open,
};
