/* SPDX-License-Identifier: MIT */
/*
 * Reading 32-bit Windows kernel crash dumps (PAGEDUMP, DUMP_HEADER32, 0x1000 bytes): DumpType 1 (up to 86
 * runs of u32 PFNs in the header, pages back to back from 0x1000) and DumpType 5 (SUMMARY_DUMP32-shaped
 * bitmap header at 0x1000). Every header field becomes a "dump.*" note, PaeEnabled included; the header's
 * x86 CONTEXT becomes CPU 0 (not in long mode). Layouts: src/wintypes/dump_header32.h, context_x86.h;
 * what is accepted: docs/formats/crashdump.md ("PAGEDUMP").
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "context_x86.h"
#include "crashdump_read.h"
#include "dump_header32.h"

#define DH32_PAGE_FILL 0x45474150u /* 'PAGE': a field never written */

static int
cd32_probe_runs(const uint8_t *h, uint64_t file_size)
{
    const uint8_t *pmd = h + R2D_DH32_OFF_PMD;
    const uint32_t n = r2d_le32(pmd + R2D_PMD32_OFF_NUMBER_OF_RUNS);
    uint64_t sum = 0, next = 0;

    if (n == 0 || n > R2D_DH32_MAX_RUNS)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = pmd + R2D_PMD32_OFF_RUN0 + R2D_PMD32_RUN_SIZE * i;
        const uint64_t base = r2d_le32(r + R2D_PMD32_RUN_OFF_BASE_PAGE);
        const uint64_t count = r2d_le32(r + R2D_PMD32_RUN_OFF_PAGE_COUNT);

        if (base < next)
            return 0;
        sum += count;
        next = base + count;
    }
    return sum == r2d_le32(pmd + R2D_PMD32_OFF_NUMBER_OF_PAGES) && sum <= (file_size - R2D_DH32_SIZE) >> 12;
}

int
r2d_crashdump32_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why)
{
    uint32_t type;

    *why = "PAGEDUMP signature (32-bit crash dump)";
    if (len < R2D_DH32_SIZE || file_size < R2D_DH32_SIZE)
        return R2D_PROBE_MAGIC;
    type = r2d_le32(head + R2D_DH32_OFF_DUMP_TYPE);
    if (type == R2D_DH32_DUMP_TYPE_FULL && cd32_probe_runs(head, file_size)) {
        *why = "PAGEDUMP, DumpType 1, run table consistent with the file size";
        return R2D_PROBE_SURE;
    }
    if (type == R2D_DH32_DUMP_TYPE_BITMAP && len >= R2D_DH32_OFF_BITMAP + R2D_BMP32_SIZE &&
        r2d_le32(head + R2D_DH32_OFF_BITMAP + R2D_BMP32_OFF_VALID_DUMP) == R2D_DH32_VALID_DUMP) {
        *why = "PAGEDUMP, DumpType 5, bitmap header present";
        return R2D_PROBE_SURE;
    }
    return R2D_PROBE_MAGIC;
}

/* DumpType 1: one file run per header run (u32 PFN, u32 count), pages back to back from 0x1000. */
static int
cd32_open_runs(struct r2d_ctx *ctx, struct r2d_image *img, const uint8_t *h)
{
    const char *path = r2d_image_path(img);
    const uint64_t size = r2d_image_file_size(img);
    const uint8_t *pmd = h + R2D_DH32_OFF_PMD;
    const uint32_t n = r2d_le32(pmd + R2D_PMD32_OFF_NUMBER_OF_RUNS);
    const uint32_t declared = r2d_le32(pmd + R2D_PMD32_OFF_NUMBER_OF_PAGES);
    uint64_t off = R2D_DH32_OFF_DATA, sum = 0;

    R2D_CHECK(n == DH32_PAGE_FILL || declared == DH32_PAGE_FILL, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: run table holds 'PAGE' fill (never written)", path, R2D_DH32_OFF_PMD);
    R2D_CHECK(n == 0, ctx, R2D_EFORMAT, "%s: offset 0x%x: run table has no runs", path, R2D_DH32_OFF_PMD);
    R2D_CHECK(n > R2D_DH32_MAX_RUNS, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: NumberOfRuns %" PRIu32 " exceeds the %d the 32-bit header can hold", path,
              R2D_DH32_OFF_PMD, n, (int)R2D_DH32_MAX_RUNS);
    for (uint32_t i = 0; i < n; i++) {
        const unsigned at = R2D_DH32_OFF_PMD + R2D_PMD32_OFF_RUN0 + R2D_PMD32_RUN_SIZE * i;
        const uint64_t base = r2d_le32(h + at), count = r2d_le32(h + at + R2D_PMD32_RUN_OFF_PAGE_COUNT);
        int rc;

        R2D_CHECK(count > (size - off) / R2D_PAGE_SIZE, ctx, R2D_ETRUNC,
                  "%s: offset 0x%" PRIx64 ": run %" PRIu32 " (PFN 0x%" PRIx64 ", 0x%" PRIx64
                  " pages) runs past end of file (size 0x%" PRIx64 ")",
                  path, off, i, base, count, size);
        if ((rc = r2d_image_add_file_run(ctx, img, base << R2D_PAGE_SHIFT, count << R2D_PAGE_SHIFT, off)))
            return rc;
        off += count * R2D_PAGE_SIZE;
        sum += count;
    }
    if (sum != declared)
        r2d_log(ctx, R2D_LOG_WARN,
                "%s: offset 0x%x: NumberOfPages 0x%" PRIx32 " differs from the runs' sum 0x%" PRIx64
                "; the runs are used",
                path, R2D_DH32_OFF_PMD + R2D_PMD32_OFF_NUMBER_OF_PAGES, declared, sum);
    return 0;
}

/* DumpType 5: the 32-bit bitmap header at 0x1000, the bits from 0x1020, pages from HeaderSize. */
static int
cd32_open_bitmap(struct r2d_ctx *ctx, struct r2d_image *img, const uint8_t *h)
{
    const char *path = r2d_image_path(img);
    const uint64_t size = r2d_image_file_size(img);
    const uint8_t *b = h + R2D_DH32_OFF_BITMAP;
    const uint64_t first = r2d_le32(b + R2D_BMP32_OFF_HEADER_SIZE);
    const uint64_t bits = r2d_le32(b + R2D_BMP32_OFF_BITS), pages = r2d_le32(b + R2D_BMP32_OFF_PAGES);
    const uint64_t bm_off = R2D_DH32_OFF_BITMAP + R2D_BMP32_SIZE, bytes = (bits + 7) / 8;
    uint64_t set_bits = 0;
    int rc;

    R2D_CHECK(r2d_le32(b + R2D_BMP32_OFF_VALID_DUMP) != R2D_DH32_VALID_DUMP, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: no DUMP bitmap header (0x%08" PRIx32 ")", path,
              R2D_DH32_OFF_BITMAP + R2D_BMP32_OFF_VALID_DUMP, r2d_le32(b + R2D_BMP32_OFF_VALID_DUMP));
    R2D_CHECK(bits == 0, ctx, R2D_EFORMAT, "%s: offset 0x%x: bitmap of 0 bits", path,
              R2D_DH32_OFF_BITMAP + R2D_BMP32_OFF_BITS);
    R2D_CHECK(bytes > size - bm_off, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": bitmap of 0x%" PRIx64 " bytes runs past end of file (size 0x%" PRIx64
              ")",
              path, bm_off, bytes, size);
    R2D_CHECK(first < bm_off + bytes || first > size, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: first page offset 0x%" PRIx64 " lies inside the bitmap or past end of file", path,
              R2D_DH32_OFF_BITMAP + R2D_BMP32_OFF_HEADER_SIZE, first);
    rc = r2d_crashdump_bitmap_runs(ctx, img, bm_off, bits, first, &set_bits);
    if (rc)
        return rc;
    if (set_bits != pages)
        r2d_log(ctx, R2D_LOG_WARN,
                "%s: offset 0x%x: bitmap header says 0x%" PRIx64 " pages but 0x%" PRIx64
                " bits are set; the bitmap is used",
                path, R2D_DH32_OFF_BITMAP + R2D_BMP32_OFF_PAGES, pages, set_bits);
    rc = r2d_crashdump_note(ctx, img, "dump.bitmap_first_page", CD_HEX, first);
    if (!rc)
        rc = r2d_crashdump_note(ctx, img, "dump.bitmap_pages", CD_DEC, pages);
    return rc ? rc : r2d_crashdump_note(ctx, img, "dump.bitmap_bits", CD_DEC, bits);
}

/* Every DUMP_HEADER32 field as a "dump.<field>" note, the keys of the 64-bit reader plus pae_enabled. */
static int
cd32_add_notes(struct r2d_ctx *ctx, struct r2d_image *img, const uint8_t *h)
{
    const uint8_t *c = h + R2D_DH32_OFF_CONTEXT, *pmd = h + R2D_DH32_OFF_PMD;
    const struct {
        const char *key;
        int hex;
        uint64_t v;
    } f[] = {
        {"dump.major_version", CD_DEC, r2d_le32(h + R2D_DH32_OFF_MAJOR_VERSION)},
        {"dump.minor_version", CD_DEC, r2d_le32(h + R2D_DH32_OFF_MINOR_VERSION)},
        {"dump.dtb", CD_HEX, r2d_le32(h + R2D_DH32_OFF_DTB)},
        {"dump.pfn_database", CD_HEX, r2d_le32(h + R2D_DH32_OFF_PFN_DATABASE)},
        {"dump.ps_loaded_module_list", CD_HEX, r2d_le32(h + R2D_DH32_OFF_PS_LOADED_MODULE_LIST)},
        {"dump.ps_active_process_head", CD_HEX, r2d_le32(h + R2D_DH32_OFF_PS_ACTIVE_PROCESS_HEAD)},
        {"dump.machine_image_type", CD_HEX, r2d_le32(h + R2D_DH32_OFF_MACHINE_TYPE)},
        {"dump.number_processors", CD_DEC, r2d_le32(h + R2D_DH32_OFF_NUMBER_PROCESSORS)},
        {"dump.bugcheck_code", CD_HEX, r2d_le32(h + R2D_DH32_OFF_BUGCHECK_CODE)},
        {"dump.bugcheck_parameter1", CD_HEX, r2d_le32(h + R2D_DH32_OFF_BUGCHECK_PARAMS)},
        {"dump.bugcheck_parameter2", CD_HEX, r2d_le32(h + R2D_DH32_OFF_BUGCHECK_PARAMS + 4)},
        {"dump.bugcheck_parameter3", CD_HEX, r2d_le32(h + R2D_DH32_OFF_BUGCHECK_PARAMS + 8)},
        {"dump.bugcheck_parameter4", CD_HEX, r2d_le32(h + R2D_DH32_OFF_BUGCHECK_PARAMS + 12)},
        {"dump.pae_enabled", CD_DEC, h[R2D_DH32_OFF_PAE_ENABLED]},
        {"dump.kdbg_va", CD_HEX, r2d_le32(h + R2D_DH32_OFF_KDBG)},
        {"dump.dump_type", CD_DEC, r2d_le32(h + R2D_DH32_OFF_DUMP_TYPE)},
        {"dump.required_dump_space", CD_HEX, r2d_le64(h + R2D_DH32_OFF_REQUIRED_SPACE)},
        {"dump.system_time", CD_HEX, r2d_le64(h + R2D_DH32_OFF_SYSTEM_TIME)},
        {"dump.system_uptime", CD_HEX, r2d_le64(h + R2D_DH32_OFF_SYSTEM_UPTIME)},
        {"dump.product_type", CD_DEC, r2d_le32(h + R2D_DH32_OFF_PRODUCT_TYPE)},
        {"dump.suite_mask", CD_HEX, r2d_le32(h + R2D_DH32_OFF_SUITE_MASK)},
        {"dump.kd_secondary_version", CD_DEC, h[R2D_DH32_OFF_KD_SECONDARY]},
        {"dump.secondary_data_state", CD_HEX, r2d_le32(h + R2D_DH32_OFF_SECONDARY_STATE)},
        {"dump.context_flags", CD_HEX, r2d_le32(c + R2D_CTX86_OFF_CONTEXT_FLAGS)},
        {"dump.seg_cs", CD_HEX, r2d_le32(c + R2D_CTX86_OFF_SEG_CS)},
        {"dump.eip", CD_HEX, r2d_le32(c + R2D_CTX86_OFF_EIP)},
        {"dump.esp", CD_HEX, r2d_le32(c + R2D_CTX86_OFF_ESP)},
        {"dump.header_runs", CD_DEC, r2d_le32(pmd + R2D_PMD32_OFF_NUMBER_OF_RUNS)},
        {"dump.header_pages", CD_DEC, r2d_le32(pmd + R2D_PMD32_OFF_NUMBER_OF_PAGES)},
    };
    const struct r2d_image_props props = {.have_dump_header = 1,
                                          .dump_dtb = r2d_le32(h + R2D_DH32_OFF_DTB),
                                          .dump_kdbg_va = r2d_le32(h + R2D_DH32_OFF_KDBG),
                                          .dump_is32 = 1,
                                          .dump_pae = h[R2D_DH32_OFF_PAE_ENABLED] != 0};
    int rc = 0;

    r2d_image_set_props(img, &props);
    for (size_t i = 0; !rc && i < sizeof(f) / sizeof(f[0]); i++)
        rc = r2d_crashdump_note(ctx, img, f[i].key, f[i].hex, f[i].v);
    return rc ? rc : r2d_crashdump_note_comment(ctx, img, h + R2D_DH32_OFF_COMMENT);
}

/* CPU 0 from the header's x86 CONTEXT, when ContextFlags carries CONTEXT_i386. */
static int
cd32_add_cpu(struct r2d_ctx *ctx, struct r2d_image *img, const uint8_t *h)
{
    const uint8_t *c = h + R2D_DH32_OFF_CONTEXT;
    const uint32_t flags = r2d_le32(c + R2D_CTX86_OFF_CONTEXT_FLAGS);
    struct r2d_cpu_state cpu;

    if (!(flags & R2D_CTX86_FLAG_I386) || flags == DH32_PAGE_FILL)
        return 0;
    memset(&cpu, 0, sizeof(cpu));
    cpu.rax = r2d_le32(c + R2D_CTX86_OFF_EAX);
    cpu.rcx = r2d_le32(c + R2D_CTX86_OFF_ECX);
    cpu.rdx = r2d_le32(c + R2D_CTX86_OFF_EDX);
    cpu.rbx = r2d_le32(c + R2D_CTX86_OFF_EBX);
    cpu.rsp = r2d_le32(c + R2D_CTX86_OFF_ESP);
    cpu.rbp = r2d_le32(c + R2D_CTX86_OFF_EBP);
    cpu.rsi = r2d_le32(c + R2D_CTX86_OFF_ESI);
    cpu.rdi = r2d_le32(c + R2D_CTX86_OFF_EDI);
    cpu.rip = r2d_le32(c + R2D_CTX86_OFF_EIP);
    cpu.rflags = r2d_le32(c + R2D_CTX86_OFF_EFLAGS);
    cpu.cs.selector = r2d_le32(c + R2D_CTX86_OFF_SEG_CS) & 0xffff;
    cpu.ds.selector = r2d_le32(c + R2D_CTX86_OFF_SEG_DS) & 0xffff;
    cpu.es.selector = r2d_le32(c + R2D_CTX86_OFF_SEG_ES) & 0xffff;
    cpu.fs.selector = r2d_le32(c + R2D_CTX86_OFF_SEG_FS) & 0xffff;
    cpu.gs.selector = r2d_le32(c + R2D_CTX86_OFF_SEG_GS) & 0xffff;
    cpu.ss.selector = r2d_le32(c + R2D_CTX86_OFF_SEG_SS) & 0xffff;
    /* CR0/CR4 are not in a CONTEXT: the paging mode is the header's PaeEnabled (image props dump_pae). */
    cpu.cr3 = r2d_le32(h + R2D_DH32_OFF_DTB);
    return r2d_image_add_cpu(ctx, img, &cpu);
}

int
r2d_crashdump32_open(struct r2d_ctx *ctx, struct r2d_image *img)
{
    const char *path = r2d_image_path(img);
    uint8_t *h = malloc(R2D_DH32_OFF_BITMAP + R2D_BMP32_SIZE);
    uint32_t type;
    int rc;

    if (!h)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", path);
    rc = r2d_image_pread(ctx, img, 0, h, R2D_DH32_SIZE, "DUMP_HEADER32");
    type = rc ? 0 : r2d_le32(h + R2D_DH32_OFF_DUMP_TYPE);
    if (!rc && type == R2D_DH32_DUMP_TYPE_FULL)
        rc = cd32_open_runs(ctx, img, h);
    else if (!rc && type == R2D_DH32_DUMP_TYPE_BITMAP) {
        rc = r2d_image_pread(ctx, img, R2D_DH32_OFF_BITMAP, h + R2D_DH32_OFF_BITMAP, R2D_BMP32_SIZE,
                             "bitmap header");
        if (!rc)
            rc = cd32_open_bitmap(ctx, img, h);
    } else if (!rc)
        rc = r2d_err(ctx, R2D_EUNSUPPORTED,
                     "%s: offset 0x%x: DumpType %" PRIu32 " of a 32-bit dump is not supported (only 1 and 5)",
                     path, R2D_DH32_OFF_DUMP_TYPE, type);
    if (!rc)
        rc = cd32_add_notes(ctx, img, h);
    if (!rc)
        rc = cd32_add_cpu(ctx, img, h);
    free(h);
    return rc;
}
