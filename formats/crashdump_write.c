/* SPDX-License-Identifier: MIT */
/*
 * Writing Windows kernel crash dumps: DUMP_HEADER64 ('PAGEDU64') or, for a 32-bit guest (the plan's
 * MachineImageType 0x14c), DUMP_HEADER32 ('PAGEDUMP'), then the pages of the plan's ranges streamed from
 * the image with the plan's patches overlaid -- run based (DumpType 1) or with a bitmap (DumpType 5).
 * What is written: docs/formats/crashdump.md; layouts: docs/formats/windows-layouts.md.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "context_amd64.h"
#include "context_x86.h"
#include "crashdump.h"
#include "dump_header32.h"
#include "dump_header64.h"
#include "format.h"

/*
 * Layouts: src/wintypes/. The plan's buffers (src/core/plan.h, below the layouts) must match the fields they
 * are copied into.
 */
_Static_assert(R2D_CONTEXT_SIZE == R2D_CTX64_SIZE && R2D_CONTEXT_SIZE <= R2D_DH64_CONTEXT_FIELD_SIZE,
               "the plan's CONTEXT is an AMD64 CONTEXT");
_Static_assert(R2D_EXCEPTION_SIZE == R2D_DH64_EXCEPTION_SIZE, "the plan's exception record");
_Static_assert(R2D_COMMENT_SIZE == R2D_DH64_COMMENT_SIZE, "the plan's comment");
_Static_assert(R2D_DUMP_FULL == R2D_DH64_DUMP_TYPE_FULL && R2D_DUMP_BITMAP == R2D_DH64_DUMP_TYPE_BITMAP,
               "enum r2d_dump_type holds DumpType values");
_Static_assert(R2D_DH32_DUMP_TYPE_FULL == R2D_DUMP_FULL && R2D_DH32_DUMP_TYPE_BITMAP == R2D_DUMP_BITMAP,
               "the same DumpType values in the 32-bit header");
_Static_assert(R2D_CTX86_SIZE <= R2D_CONTEXT_SIZE && R2D_CTX86_SIZE <= R2D_DH32_CONTEXT_FIELD_SIZE,
               "an x86 CONTEXT fits the plan's buffer and DUMP_HEADER32's ContextRecord");
_Static_assert(R2D_DH32_MAX_RUNS >= R2D_DH64_MAX_RUNS, "the run buffer holds either header's runs");

/* LeechCore refuses FirstPage above 16 MiB (docs/formats/crashdump.md F8): warn past it. */
#define BMP_LEECHCORE_MAX_FIRST_PAGE (UINT64_C(16) << 20)

#define CDW_CHUNK (8u << 20)            /* buffered read/patch/write chunk, also the bitmap chunk */
#define CDW_COPY_PIECE (64u << 20)      /* copy_file_range pieces between progress reports */
#define CDW_MAX_PFN (UINT64_C(1) << 52) /* PFN << 12 must fit 64 bits */
#define CDW_MAX_PFN32 (UINT64_C(1) << 32) /* DUMP_HEADER32 runs and bitmap hold u32 PFNs */

/* What differs between the two headers. */
struct cdw_layout {
    int is32;
    uint32_t header_size; /* 0x2000 / 0x1000: data or bitmap header from there */
    uint32_t max_runs;    /* 42 / 86 runs in PhysicalMemoryBlockBuffer */
    uint32_t bmp_size;    /* the bitmap header before the bits */
    uint64_t max_pfn, max_bits;
};

static const struct cdw_layout cdw_layout64 = {0, R2D_DH64_SIZE, R2D_DH64_MAX_RUNS, R2D_BMP64_SIZE, CDW_MAX_PFN,
                                               R2D_BMP64_MAX_BITS};
static const struct cdw_layout cdw_layout32 = {1, R2D_DH32_SIZE, R2D_DH32_MAX_RUNS, R2D_BMP32_SIZE, CDW_MAX_PFN32,
                                               R2D_BMP32_MAX_BITS};

struct cdw_state {
    struct r2d_ctx *ctx;
    const struct r2d_image *img;
    const struct r2d_plan *plan;
    const struct cdw_layout *lay;
    struct r2d_output *out;
    int hash;
    uint8_t *buf;          /* CDW_CHUNK bytes */
    uint64_t total;        /* final file size */
    uint64_t header_pages; /* NumberOfPages of the header's run table */
    uint32_t dump_type;
    uint32_t nruns; /* header runs */
    struct r2d_page_range runs[R2D_DH32_MAX_RUNS];
    uint64_t bmp_bits, bmp_first_page;
    size_t patch_cursor;
};

/* Index of the first image run ending after pa (run count when none). */
static size_t
cdw_first_run_after(const struct r2d_image *img, uint64_t pa)
{
    size_t lo = 0, hi = r2d_image_run_count(img);

    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        const struct r2d_run *r = r2d_image_run(img, mid);

        if (r->pa + r->len <= pa)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Pages of the plan that no image run touches at all: they are written as zeros. */
static uint64_t
cdw_count_hole_pages(const struct r2d_image *img, const struct r2d_plan *plan)
{
    uint64_t touched = 0, last = 0;
    int have_last = 0;

    for (size_t k = 0; k < r2d_plan_range_count(plan); k++) {
        const struct r2d_page_range *g = r2d_plan_range(plan, k);
        const uint64_t rs = g->base_page << R2D_PAGE_SHIFT, re = (g->base_page + g->page_count)
                                                                 << R2D_PAGE_SHIFT;

        for (size_t i = cdw_first_run_after(img, rs); i < r2d_image_run_count(img); i++) {
            const struct r2d_run *r = r2d_image_run(img, i);
            const uint64_t s = r->pa > rs ? r->pa : rs;
            const uint64_t e = r->pa + r->len < re ? r->pa + r->len : re;
            uint64_t fp, lp;

            if (r->pa >= re)
                break;
            fp = s >> R2D_PAGE_SHIFT;
            lp = (e - 1) >> R2D_PAGE_SHIFT;
            if (have_last && fp <= last)
                fp = last + 1; /* two runs sharing one partial page count it once */
            if (fp <= lp) {
                touched += lp - fp + 1;
                last = lp;
                have_last = 1;
            }
        }
    }
    return r2d_plan_page_count(plan) - touched;
}

/* True when physical page pfn is in one of the plan's (sorted, merged) ranges. */
static int
cdw_plan_has_page(const struct r2d_plan *plan, uint64_t pfn)
{
    size_t lo = 0, hi = r2d_plan_range_count(plan);

    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        const struct r2d_page_range *g = r2d_plan_range(plan, mid);

        if (pfn < g->base_page)
            hi = mid;
        else if (pfn - g->base_page >= g->page_count)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

/* Every patch must land in a written page: the report lists them all as applied. */
static int
cdw_check_patches(struct r2d_ctx *ctx, const struct r2d_plan *plan, uint64_t *patched_bytes)
{
    *patched_bytes = 0;
    for (size_t i = 0; i < r2d_plan_patch_count(plan); i++) {
        const struct r2d_patch *p = r2d_plan_patch(plan, i);

        R2D_CHECK(!cdw_plan_has_page(plan, p->pa >> R2D_PAGE_SHIFT), ctx, R2D_EINVAL,
                  "patch '%s' at physical 0x%" PRIx64 " lies outside the pages to be written", p->reason,
                  p->pa);
        *patched_bytes += p->len;
    }
    return 0;
}

/*
 * The header run table for a bitmap dump: a cover of the ranges by at most max_runs (42, or 86 in the
 * 32-bit header) runs. Keeping the largest gaps as separators merges exactly the smallest ones; the bitmap
 * stays the authority.
 */
static void
cdw_merged_cover(struct cdw_state *st)
{
    const size_t n = r2d_plan_range_count(st->plan);
    const size_t max_keep = st->lay->max_runs - 1;
    size_t keep[R2D_DH32_MAX_RUNS - 1]; /* indices i: the gap between range i and i + 1 is kept */
    uint64_t keep_gap[R2D_DH32_MAX_RUNS - 1];
    size_t nkeep = 0, start = 0;

    for (size_t i = 0; i + 1 < n; i++) {
        const struct r2d_page_range *a = r2d_plan_range(st->plan, i), *b = r2d_plan_range(st->plan, i + 1);
        const uint64_t gap = b->base_page - (a->base_page + a->page_count);
        size_t pos;

        if (nkeep == max_keep && gap <= keep_gap[nkeep - 1])
            continue; /* on equal gaps the earlier one stays a separator: deterministic */
        if (nkeep < max_keep)
            nkeep++;
        for (pos = nkeep - 1; pos > 0 && keep_gap[pos - 1] < gap; pos--) {
            keep_gap[pos] = keep_gap[pos - 1];
            keep[pos] = keep[pos - 1];
        }
        keep_gap[pos] = gap;
        keep[pos] = i;
    }
    /* Separators in address order. */
    for (size_t i = 1; i < nkeep; i++)
        for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            const size_t t = keep[j];

            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    st->nruns = 0;
    for (size_t k = 0; k <= nkeep; k++) {
        const size_t end = k < nkeep ? keep[k] : n - 1; /* last range of this run */
        const struct r2d_page_range *a = r2d_plan_range(st->plan, start), *b = r2d_plan_range(st->plan, end);

        st->runs[st->nruns].base_page = a->base_page;
        st->runs[st->nruns].page_count = b->base_page + b->page_count - a->base_page;
        st->nruns++;
        start = end + 1;
    }
}

/* Choose the dump type, the header runs and the file layout; everything the header needs. */
static int
cdw_layout(struct cdw_state *st)
{
    struct r2d_ctx *ctx = st->ctx;
    const struct cdw_layout *lay = st->lay;
    const size_t n = r2d_plan_range_count(st->plan);
    const uint64_t pages = r2d_plan_page_count(st->plan);
    const enum r2d_dump_type want = r2d_plan_dump_type(st->plan);
    const struct r2d_page_range *last;

    R2D_CHECK(n == 0 || pages == 0, ctx, R2D_EINVAL, "crash dump: the plan has no pages to write");
    last = r2d_plan_range(st->plan, n - 1);
    R2D_CHECK(last->base_page + last->page_count > lay->max_pfn, ctx, R2D_EINVAL,
              "crash dump: page range 0x%" PRIx64 "+0x%" PRIx64 " lies beyond %s", last->base_page,
              last->page_count, lay->is32 ? "the 32-bit page numbers of a 32-bit dump" : "52-bit physical addresses");
    if (want == R2D_DUMP_AUTO)
        st->dump_type = n <= lay->max_runs ? R2D_DUMP_FULL : R2D_DUMP_BITMAP;
    else if (want == R2D_DUMP_FULL || want == R2D_DUMP_BITMAP)
        st->dump_type = want;
    else
        return r2d_err(ctx, R2D_EINVAL, "crash dump: DumpType %d cannot be written (only 1 and 5)",
                       (int)want);
    /*
     * A full dump with more ranges than the header holds is refused rather than merged: merging would claim
     * gap pages (often MMIO holes) as zero-filled RAM. The engine may bridge small gaps in the plan itself.
     */
    R2D_CHECK(st->dump_type == R2D_DUMP_FULL && n > lay->max_runs, ctx, R2D_EINVAL,
              "crash dump: DumpType 1 holds at most %" PRIu32 " runs in its %s header but the plan has %zu "
              "ranges; write a bitmap dump (DumpType 5) instead",
              lay->max_runs, lay->is32 ? "32-bit" : "64-bit", n);
    if (n <= lay->max_runs) {
        st->nruns = (uint32_t)n;
        for (size_t i = 0; i < n; i++)
            st->runs[i] = *r2d_plan_range(st->plan, i);
    } else {
        cdw_merged_cover(st);
    }
    st->header_pages = 0;
    for (uint32_t i = 0; i < st->nruns; i++)
        st->header_pages += st->runs[i].page_count;
    if (st->dump_type == R2D_DUMP_FULL) {
        st->total = lay->header_size + pages * R2D_PAGE_SIZE;
        return 0;
    }
    st->bmp_bits = (last->base_page + last->page_count + 63) & ~UINT64_C(63);
    R2D_CHECK(st->bmp_bits > lay->max_bits, ctx, R2D_EINVAL,
              "crash dump: bitmap of 0x%" PRIx64 " bits exceeds the maximum 0x%" PRIx64, st->bmp_bits,
              lay->max_bits);
    st->bmp_first_page = (lay->header_size + lay->bmp_size + st->bmp_bits / 8 + R2D_PAGE_SIZE - 1) &
                         ~(uint64_t)(R2D_PAGE_SIZE - 1);
    if (st->bmp_first_page > BMP_LEECHCORE_MAX_FIRST_PAGE)
        r2d_log(ctx, R2D_LOG_WARN,
                "bitmap dump: first page at 0x%" PRIx64 " is past 16 MiB; LeechCore/MemProcFS "
                "refuse such files",
                st->bmp_first_page);
    st->total = st->bmp_first_page + pages * R2D_PAGE_SIZE;
    R2D_CHECK(lay->is32 && pages > UINT32_MAX, ctx, R2D_EINVAL,
              "crash dump: 0x%" PRIx64 " pages do not fit the 32-bit bitmap header", pages);
    return 0;
}

static void
cdw_fill_page(uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t) "PAGE"[i & 3];
}

/* DUMP_HEADER64: 'PAGE' fill, then every field of the table set explicitly. */
static int
cdw_build_header(struct cdw_state *st, uint8_t *h)
{
    const struct r2d_header_values *v = r2d_plan_header_const(st->plan);
    const uint32_t mxcsr = r2d_le32(v->context + R2D_CTX64_OFF_MXCSR);
    const uint32_t flt_mxcsr = r2d_le32(v->context + R2D_CTX64_OFF_FLTSAVE_MXCSR);
    const uint64_t dtb = v->dtb & R2D_DH64_DTB_MASK;
    size_t clen;

    R2D_CHECK(mxcsr != flt_mxcsr, st->ctx, R2D_EINVAL,
              "crash dump: CONTEXT MxCsr 0x%" PRIx32 " differs from FltSave.MxCsr 0x%" PRIx32
              " (kdmp-parser refuses such dumps)",
              mxcsr, flt_mxcsr);
    if (dtb != v->dtb)
        r2d_log(st->ctx, R2D_LOG_INFO, "crash dump: DTB 0x%" PRIx64 " written masked as 0x%" PRIx64, v->dtb,
                dtb);
    cdw_fill_page(h, R2D_DH64_SIZE);
    r2d_put_le32(h + R2D_DH64_OFF_SIGNATURE, R2D_DH64_SIGNATURE);
    r2d_put_le32(h + R2D_DH64_OFF_VALID_DUMP, R2D_DH64_VALID_DUMP);
    r2d_put_le32(h + R2D_DH64_OFF_MAJOR_VERSION, v->major_version);
    r2d_put_le32(h + R2D_DH64_OFF_MINOR_VERSION, v->minor_version);
    r2d_put_le64(h + R2D_DH64_OFF_DTB, dtb);
    r2d_put_le64(h + R2D_DH64_OFF_PFN_DATABASE, v->pfn_database);
    r2d_put_le64(h + R2D_DH64_OFF_PS_LOADED_MODULE_LIST, v->ps_loaded_module_list);
    r2d_put_le64(h + R2D_DH64_OFF_PS_ACTIVE_PROCESS_HEAD, v->ps_active_process_head);
    r2d_put_le32(h + R2D_DH64_OFF_MACHINE_TYPE, v->machine_image_type);
    r2d_put_le32(h + R2D_DH64_OFF_NUMBER_PROCESSORS, v->number_processors);
    r2d_put_le32(h + R2D_DH64_OFF_BUGCHECK_CODE, v->bugcheck_code);
    r2d_put_le32(h + R2D_DH64_OFF_PAD_03C, 0);
    for (int i = 0; i < R2D_DH64_BUGCHECK_PARAM_COUNT; i++)
        r2d_put_le64(h + R2D_DH64_OFF_BUGCHECK_PARAMS + 8 * i, v->bugcheck_params[i]);
    memset(h + R2D_DH64_OFF_VERSION_USER, 0, R2D_DH64_VERSION_USER_SIZE);
    r2d_put_le64(h + R2D_DH64_OFF_KDBG, v->kdbg_va);
    /* The whole descriptor, unused run slots included, is zero before the runs go in. */
    memset(h + R2D_DH64_OFF_PMD, 0, R2D_DH64_PMD_SIZE);
    r2d_put_le32(h + R2D_DH64_OFF_NUMBER_OF_RUNS, st->nruns);
    r2d_put_le32(h + R2D_DH64_OFF_PMD_PAD, 0);
    r2d_put_le64(h + R2D_DH64_OFF_NUMBER_OF_PAGES, st->header_pages);
    for (uint32_t i = 0; i < st->nruns; i++) {
        r2d_put_le64(h + R2D_DH64_OFF_RUN0 + R2D_PMD64_RUN_SIZE * i, st->runs[i].base_page);
        r2d_put_le64(h + R2D_DH64_OFF_RUN0 + R2D_PMD64_RUN_SIZE * i + R2D_PMD64_RUN_OFF_PAGE_COUNT,
                     st->runs[i].page_count);
    }
    r2d_put_le32(h + R2D_DH64_OFF_PAD_344, 0);
    /* ContextRecord: the CONTEXT, then the rest of the 3000-byte field zeroed. */
    memcpy(h + R2D_DH64_OFF_CONTEXT, v->context, R2D_CONTEXT_SIZE);
    memset(h + R2D_DH64_OFF_CONTEXT + R2D_CONTEXT_SIZE, 0, R2D_DH64_CONTEXT_FIELD_SIZE - R2D_CONTEXT_SIZE);
    memcpy(h + R2D_DH64_OFF_EXCEPTION, v->exception, R2D_EXCEPTION_SIZE);
    r2d_put_le32(h + R2D_DH64_OFF_DUMP_TYPE, st->dump_type);
    r2d_put_le32(h + R2D_DH64_OFF_PAD_F9C, 0);
    r2d_put_le64(h + R2D_DH64_OFF_REQUIRED_SPACE, st->total);
    r2d_put_le64(h + R2D_DH64_OFF_SYSTEM_TIME, v->system_time);
    clen = strnlen(v->comment, R2D_COMMENT_SIZE - 1); /* always NUL-terminated */
    memset(h + R2D_DH64_OFF_COMMENT, 0, R2D_COMMENT_SIZE);
    memcpy(h + R2D_DH64_OFF_COMMENT, v->comment, clen);
    r2d_put_le64(h + R2D_DH64_OFF_SYSTEM_UPTIME, v->system_uptime);
    r2d_put_le32(h + R2D_DH64_OFF_MINIDUMP_FIELDS, 0);
    r2d_put_le32(h + R2D_DH64_OFF_SECONDARY_STATE, 0);
    r2d_put_le32(h + R2D_DH64_OFF_PRODUCT_TYPE, v->product_type);
    r2d_put_le32(h + R2D_DH64_OFF_SUITE_MASK, v->suite_mask);
    r2d_put_le32(h + R2D_DH64_OFF_WRITER_STATUS, 0);
    h[R2D_DH64_OFF_UNUSED1] = 0;
    h[R2D_DH64_OFF_KD_SECONDARY] = v->kd_secondary_version;
    r2d_put_le16(h + R2D_DH64_OFF_UNUSED2, 0);
    r2d_put_le32(h + R2D_DH64_OFF_ATTRIBUTES, 0);
    r2d_put_le32(h + R2D_DH64_OFF_BOOT_ID, 0);
    /* From R2D_DH64_OFF_RESERVED on, the 'PAGE' fill stays, as in Windows' own dumps. */
    return 0;
}

/* The plan's EXCEPTION_RECORD64 as an EXCEPTION_RECORD32: addresses and parameters cut to 32 bits. */
static void
cdw_exception32(const uint8_t *x64, uint8_t *x32)
{
    uint32_t nparams = r2d_le32(x64 + 0x18);

    memset(x32, 0, R2D_DH32_EXCEPTION_SIZE);
    if (nparams > R2D_EXR32_MAX_PARAMETERS)
        nparams = R2D_EXR32_MAX_PARAMETERS;
    r2d_put_le32(x32 + R2D_EXR32_OFF_CODE, r2d_le32(x64));
    r2d_put_le32(x32 + R2D_EXR32_OFF_FLAGS, r2d_le32(x64 + 4));
    r2d_put_le32(x32 + R2D_EXR32_OFF_RECORD, (uint32_t)r2d_le64(x64 + 8));
    r2d_put_le32(x32 + R2D_EXR32_OFF_ADDRESS, (uint32_t)r2d_le64(x64 + 0x10));
    r2d_put_le32(x32 + R2D_EXR32_OFF_NUMBER_PARAMETERS, nparams);
    for (uint32_t i = 0; i < nparams; i++)
        r2d_put_le32(x32 + R2D_EXR32_OFF_INFORMATION + 4 * i, (uint32_t)r2d_le64(x64 + 0x20 + 8 * i));
}

/* A 64-bit value of the plan that a 32-bit header field must hold: anything wider is the engine's bug. */
static int
cdw_u32(struct r2d_ctx *ctx, uint64_t v, const char *field, uint32_t *out)
{
    R2D_CHECK(v > UINT32_MAX, ctx, R2D_EINVAL,
              "crash dump: %s 0x%" PRIx64 " does not fit the 32-bit header of a 32-bit guest's dump", field, v);
    *out = (uint32_t)v;
    return 0;
}

/* The pointer-sized fields of DUMP_HEADER32, each checked to fit 32 bits. */
static int
cdw_header32_pointers(struct cdw_state *st, const struct r2d_header_values *v, uint8_t *h)
{
    const struct {
        uint64_t value;
        unsigned off;
        const char *name;
    } f[] = {{v->dtb, R2D_DH32_OFF_DTB, "DirectoryTableBase"},
             {v->pfn_database, R2D_DH32_OFF_PFN_DATABASE, "PfnDataBase"},
             {v->ps_loaded_module_list, R2D_DH32_OFF_PS_LOADED_MODULE_LIST, "PsLoadedModuleList"},
             {v->ps_active_process_head, R2D_DH32_OFF_PS_ACTIVE_PROCESS_HEAD, "PsActiveProcessHead"},
             {v->kdbg_va, R2D_DH32_OFF_KDBG, "KdDebuggerDataBlock"},
             {v->bugcheck_params[0], R2D_DH32_OFF_BUGCHECK_PARAMS, "BugCheckParameter1"},
             {v->bugcheck_params[1], R2D_DH32_OFF_BUGCHECK_PARAMS + 4, "BugCheckParameter2"},
             {v->bugcheck_params[2], R2D_DH32_OFF_BUGCHECK_PARAMS + 8, "BugCheckParameter3"},
             {v->bugcheck_params[3], R2D_DH32_OFF_BUGCHECK_PARAMS + 12, "BugCheckParameter4"}};

    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        uint32_t x = 0;
        int rc = cdw_u32(st->ctx, f[i].value, f[i].name, &x);

        if (rc)
            return rc;
        r2d_put_le32(h + f[i].off, x);
    }
    return 0;
}

/* DUMP_HEADER32 ('PAGEDUMP'): 'PAGE' fill, then every field set explicitly; the reserved areas stay 'PAGE'. */
static int
cdw_build_header32(struct cdw_state *st, uint8_t *h)
{
    const struct r2d_header_values *v = r2d_plan_header_const(st->plan);
    size_t clen;
    int rc;

    cdw_fill_page(h, R2D_DH32_SIZE);
    r2d_put_le32(h + R2D_DH32_OFF_SIGNATURE, R2D_DH32_SIGNATURE);
    r2d_put_le32(h + R2D_DH32_OFF_VALID_DUMP, R2D_DH32_VALID_DUMP);
    r2d_put_le32(h + R2D_DH32_OFF_MAJOR_VERSION, v->major_version);
    r2d_put_le32(h + R2D_DH32_OFF_MINOR_VERSION, v->minor_version);
    if ((rc = cdw_header32_pointers(st, v, h)) != 0)
        return rc;
    r2d_put_le32(h + R2D_DH32_OFF_MACHINE_TYPE, v->machine_image_type);
    r2d_put_le32(h + R2D_DH32_OFF_NUMBER_PROCESSORS, v->number_processors);
    r2d_put_le32(h + R2D_DH32_OFF_BUGCHECK_CODE, v->bugcheck_code);
    memset(h + R2D_DH32_OFF_VERSION_USER, 0, R2D_DH32_VERSION_USER_SIZE);
    h[R2D_DH32_OFF_PAE_ENABLED] = v->pae_enabled ? 1 : 0;
    h[R2D_DH32_OFF_KD_SECONDARY] = v->kd_secondary_version;
    r2d_put_le16(h + R2D_DH32_OFF_KD_SECONDARY + 1, 0);
    memset(h + R2D_DH32_OFF_PMD, 0, R2D_DH32_PMD_SIZE);
    r2d_put_le32(h + R2D_DH32_OFF_PMD + R2D_PMD32_OFF_NUMBER_OF_RUNS, st->nruns);
    r2d_put_le32(h + R2D_DH32_OFF_PMD + R2D_PMD32_OFF_NUMBER_OF_PAGES, (uint32_t)st->header_pages);
    for (uint32_t i = 0; i < st->nruns; i++) {
        uint8_t *r = h + R2D_DH32_OFF_PMD + R2D_PMD32_OFF_RUN0 + R2D_PMD32_RUN_SIZE * i;

        r2d_put_le32(r + R2D_PMD32_RUN_OFF_BASE_PAGE, (uint32_t)st->runs[i].base_page);
        r2d_put_le32(r + R2D_PMD32_RUN_OFF_PAGE_COUNT, (uint32_t)st->runs[i].page_count);
    }
    memset(h + R2D_DH32_OFF_CONTEXT, 0, R2D_DH32_CONTEXT_FIELD_SIZE);
    memcpy(h + R2D_DH32_OFF_CONTEXT, v->context, R2D_CTX86_SIZE);
    cdw_exception32(v->exception, h + R2D_DH32_OFF_EXCEPTION);
    clen = strnlen(v->comment, R2D_COMMENT_SIZE - 1);
    memset(h + R2D_DH32_OFF_COMMENT, 0, R2D_DH32_COMMENT_SIZE);
    memcpy(h + R2D_DH32_OFF_COMMENT, v->comment, clen);
    r2d_put_le32(h + R2D_DH32_OFF_ATTRIBUTES, 0);
    r2d_put_le32(h + R2D_DH32_OFF_BOOT_ID, 0);
    r2d_put_le32(h + R2D_DH32_OFF_DUMP_TYPE, st->dump_type);
    r2d_put_le32(h + R2D_DH32_OFF_MINIDUMP_FIELDS, 0);
    r2d_put_le32(h + R2D_DH32_OFF_SECONDARY_STATE, 0);
    r2d_put_le32(h + R2D_DH32_OFF_PRODUCT_TYPE, v->product_type);
    r2d_put_le32(h + R2D_DH32_OFF_SUITE_MASK, v->suite_mask);
    r2d_put_le32(h + R2D_DH32_OFF_WRITER_STATUS, 0);
    r2d_put_le64(h + R2D_DH32_OFF_REQUIRED_SPACE, st->total);
    r2d_put_le64(h + R2D_DH32_OFF_SYSTEM_UPTIME, v->system_uptime);
    r2d_put_le64(h + R2D_DH32_OFF_SYSTEM_TIME, v->system_time);
    return 0;
}

/* Set bits [from, to) of a bitmap buffer whose bit 0 is PFN base (LSB first within each byte). */
static void
cdw_set_bits(uint8_t *bm, uint64_t from, uint64_t to)
{
    while (from < to && (from & 7)) {
        bm[from >> 3] |= (uint8_t)(1u << (from & 7));
        from++;
    }
    if (to - from >= 8) {
        memset(bm + (from >> 3), 0xff, (size_t)((to - from) >> 3));
        from += (to - from) & ~UINT64_C(7);
    }
    while (from < to) {
        bm[from >> 3] |= (uint8_t)(1u << (from & 7));
        from++;
    }
}

/* The bitmap header, the bitmap (built chunk by chunk from the ranges) and zero padding to FirstPage. */
static int
cdw_write_bitmap(struct cdw_state *st)
{
    const uint64_t bytes = st->bmp_bits / 8;
    const uint64_t chunk_bits = (uint64_t)CDW_CHUNK * 8;
    size_t k = 0;
    uint64_t pad;
    int rc;

    memset(st->buf, 0, st->lay->bmp_size);
    if (st->lay->is32) {
        /* cdw_layout bounded bits, pages and the first page offset to 32 bits */
        r2d_put_le32(st->buf + R2D_BMP32_OFF_SIGNATURE, R2D_BMP64_SIG_FULL);
        r2d_put_le32(st->buf + R2D_BMP32_OFF_VALID_DUMP, R2D_BMP64_VALID_DUMP);
        r2d_put_le32(st->buf + R2D_BMP32_OFF_HEADER_SIZE, (uint32_t)st->bmp_first_page);
        r2d_put_le32(st->buf + R2D_BMP32_OFF_BITS, (uint32_t)st->bmp_bits);
        r2d_put_le32(st->buf + R2D_BMP32_OFF_PAGES, (uint32_t)r2d_plan_page_count(st->plan));
        r2d_put_le32(st->buf + R2D_BMP32_OFF_SIZE_OF_BITMAP, (uint32_t)st->bmp_bits);
    } else {
        r2d_put_le32(st->buf + R2D_BMP64_OFF_SIGNATURE, R2D_BMP64_SIG_FULL);
        r2d_put_le32(st->buf + R2D_BMP64_OFF_VALID_DUMP, R2D_BMP64_VALID_DUMP);
        r2d_put_le64(st->buf + R2D_BMP64_OFF_FIRST_PAGE, st->bmp_first_page);
        r2d_put_le64(st->buf + R2D_BMP64_OFF_PAGES, r2d_plan_page_count(st->plan));
        r2d_put_le64(st->buf + R2D_BMP64_OFF_BITS, st->bmp_bits);
    }
    rc = r2d_output_write(st->ctx, st->out, st->buf, st->lay->bmp_size);
    for (uint64_t b0 = 0; !rc && b0 < st->bmp_bits; b0 += chunk_bits) {
        const uint64_t b1 = st->bmp_bits - b0 < chunk_bits ? st->bmp_bits : b0 + chunk_bits;

        memset(st->buf, 0, (size_t)((b1 - b0) / 8));
        /* Ranges are sorted: resume at the first one that may reach this chunk. */
        for (; k < r2d_plan_range_count(st->plan); k++) {
            const struct r2d_page_range *g = r2d_plan_range(st->plan, k);
            const uint64_t s = g->base_page > b0 ? g->base_page : b0;
            const uint64_t e = g->base_page + g->page_count < b1 ? g->base_page + g->page_count : b1;

            if (g->base_page >= b1)
                break;
            if (s < e)
                cdw_set_bits(st->buf, s - b0, e - b0);
            if (g->base_page + g->page_count > b1)
                break; /* continues in the next chunk */
        }
        rc = r2d_output_write(st->ctx, st->out, st->buf, (size_t)((b1 - b0) / 8));
    }
    pad = st->bmp_first_page - (st->lay->header_size + st->lay->bmp_size + bytes);
    if (!rc && pad) {
        memset(st->buf, 0, (size_t)pad); /* pad < one page */
        rc = r2d_output_write(st->ctx, st->out, st->buf, (size_t)pad);
    }
    return rc;
}

/* Read [pa, pa + n) of the image (holes as zeros), overlay the patches, append. */
static int
cdw_write_buffered(struct cdw_state *st, uint64_t pa, size_t n)
{
    int rc = r2d_image_read(st->ctx, st->img, pa, st->buf, n, R2D_HOLE_ZERO);

    if (rc)
        return rc;
    r2d_plan_apply(st->plan, pa, st->buf, n, &st->patch_cursor);
    return r2d_output_write(st->ctx, st->out, st->buf, n);
}

/* The first patch ending after pa, or NULL. Patches are sorted and disjoint. */
static const struct r2d_patch *
cdw_next_patch(const struct r2d_plan *plan, uint64_t pa)
{
    size_t lo = 0, hi = r2d_plan_patch_count(plan);

    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        const struct r2d_patch *p = r2d_plan_patch(plan, mid);

        if (p->pa + p->len <= pa)
            lo = mid + 1;
        else
            hi = mid;
    }
    return r2d_plan_patch(plan, lo);
}

/*
 * Stream physical [pa, end) piece by piece, in both hash modes alike:
 *  - a page that a patch touches goes through the buffer (read, overlay, append);
 *  - otherwise a slice of a file run is handed to r2d_output_copy (copy_file_range, or the hashing
 *    ring; input holes stay holes), a gap between runs becomes zeros without I/O (r2d_output_zero), and a
 *    run with a decoding source is read through the buffer in CDW_CHUNK pieces.
 */
static int
cdw_write_range(struct cdw_state *st, uint64_t pa, uint64_t end)
{
    const struct r2d_image *img = st->img;

    while (pa < end) {
        const size_t i = cdw_first_run_after(img, pa);
        const struct r2d_run *r = i < r2d_image_run_count(img) ? r2d_image_run(img, i) : NULL;
        const int inside = r && r->pa <= pa;
        const struct r2d_patch *p = cdw_next_patch(st->plan, pa);
        uint64_t seg_end = end, n;
        int rc;

        if (inside && r->pa + r->len < seg_end)
            seg_end = r->pa + r->len;
        else if (!inside && r && r->pa < seg_end)
            seg_end = r->pa; /* a hole up to the next run */
        if (p && p->pa <= pa) {
            /* A patch covers pa: the rest of this page goes through the buffer. */
            const uint64_t page_end = (pa | (R2D_PAGE_SIZE - 1)) + 1;

            n = (page_end < seg_end ? page_end : seg_end) - pa;
            rc = cdw_write_buffered(st, pa, (size_t)n);
        } else {
            /* Clean up to the page of the next patch (never less than one byte: p->pa > pa). */
            uint64_t clean_end = seg_end;

            if (p && p->pa < seg_end)
                clean_end = (p->pa & ~(uint64_t)(R2D_PAGE_SIZE - 1)) > pa
                                ? p->pa & ~(uint64_t)(R2D_PAGE_SIZE - 1)
                                : p->pa;
            n = clean_end - pa;
            if (inside && !r->ops && r2d_bytesrc_fd(r->bytes) >= 0) {
                /* A slice of a plain file: copied by the kernel, holes kept. */
                if (n > CDW_COPY_PIECE)
                    n = CDW_COPY_PIECE;
                rc = r2d_output_copy(st->ctx, st->out, r2d_bytesrc_fd(r->bytes), r2d_bytesrc_name(r->bytes),
                                     r->off + (pa - r->pa), n);
            } else if (!inside) {
                if (n > CDW_COPY_PIECE)
                    n = CDW_COPY_PIECE;
                rc = r2d_output_zero(st->ctx, st->out, n);
            } else {
                if (n > CDW_CHUNK)
                    n = CDW_CHUNK;
                rc = cdw_write_buffered(st, pa, (size_t)n);
            }
        }
        if (rc)
            return rc;
        pa += n;
        r2d_progress(st->ctx, r2d_output_size(st->out), st->total);
    }
    return 0;
}

static int
cdw_stream(struct cdw_state *st)
{
    uint8_t *h = st->buf;
    int rc = st->lay->is32 ? cdw_build_header32(st, h) : cdw_build_header(st, h);

    if (!rc)
        rc = r2d_output_write(st->ctx, st->out, h, st->lay->header_size);
    if (!rc && st->dump_type == R2D_DUMP_BITMAP)
        rc = cdw_write_bitmap(st);
    if (rc)
        return rc;
    r2d_progress(st->ctx, r2d_output_size(st->out), st->total);
    for (size_t k = 0; k < r2d_plan_range_count(st->plan); k++) {
        const struct r2d_page_range *g = r2d_plan_range(st->plan, k);

        rc = cdw_write_range(st, g->base_page << R2D_PAGE_SHIFT,
                             (g->base_page + g->page_count) << R2D_PAGE_SHIFT);
        if (rc)
            return rc;
    }
    R2D_CHECK(r2d_output_size(st->out) != st->total, st->ctx, R2D_EIO,
              "crash dump: internal error: wrote 0x%" PRIx64 " bytes but the header says 0x%" PRIx64,
              r2d_output_size(st->out), st->total);
    return 0;
}

/*
 * Hash the input file alongside the output. When every run is a slice of the file the digest follows the
 * copies and reuses their reads; runs read through a decoder, and any input inside a container, leave it
 * to read the whole file on disk itself: the digest is of the container file, never of decoded bytes.
 */
static int
cdw_hash_source(struct cdw_state *st)
{
    const struct r2d_bytesrc *input = r2d_image_input(st->img);
    const struct r2d_bytesrc *file = r2d_bytesrc_base(input);
    int follow = file == input;

    for (size_t i = 0; i < r2d_image_run_count(st->img); i++)
        if (r2d_image_run(st->img, i)->bytes != input)
            follow = 0;
    return r2d_output_hash_source(st->ctx, st->out, r2d_bytesrc_fd(file), r2d_bytesrc_size(file), follow);
}

int
r2d_crashdump_stage(struct r2d_ctx *ctx, const struct r2d_image *img, const struct r2d_plan *plan,
                    const char *path, unsigned flags, unsigned hash, struct r2d_write_result *res,
                    struct r2d_output **staged)
{
    struct cdw_state st = {.ctx = ctx, .img = img, .plan = plan, .hash = hash != R2D_HASH_NONE};

    st.lay = r2d_plan_header_const(plan)->machine_image_type == R2D_DH32_MACHINE_I386 ? &cdw_layout32
                                                                                     : &cdw_layout64;
    uint64_t patched = 0;
    double t0, t1;
    int rc;

    memset(res, 0, sizeof(*res));
    res->synced = !(flags & R2D_OUTPUT_NO_SYNC);
    rc = cdw_layout(&st);
    if (!rc)
        rc = cdw_check_patches(ctx, plan, &patched);
    if (rc)
        return rc;
    r2d_log(ctx, R2D_LOG_INFO,
            "%s: DumpType %" PRIu32 ", %zu ranges, %" PRIu32 " header runs, 0x%" PRIx64 " pages, 0x%" PRIx64
            " bytes",
            path, st.dump_type, r2d_plan_range_count(plan), st.nruns, r2d_plan_page_count(plan), st.total);
    if (!(st.buf = r2d_alloc_io(CDW_CHUNK)))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the write buffer", path);
    rc = r2d_output_open(ctx, path, flags, hash, &st.out);
    t0 = r2d_now();
    if (!rc && st.hash)
        rc = cdw_hash_source(&st);
    if (!rc)
        rc = cdw_stream(&st);
    if (!rc && st.hash) {
        t1 = r2d_now();
        r2d_output_source_digest(st.out, &res->source_digests, res->source_error, sizeof(res->source_error));
        res->source_wait_s = r2d_now() - t1;
        res->source_hash_s = r2d_now() - t0;
    }
    if (!rc)
        rc = r2d_output_finish(ctx, st.out, &res->digests);
    res->write_s = r2d_now() - t0;
    free(st.buf);
    if (rc) {
        r2d_output_abort(st.out);
        return rc;
    }
    *staged = st.out;
    res->size = st.total;
    res->dump_type = st.dump_type;
    res->header_runs = st.nruns;
    res->pages = r2d_plan_page_count(plan);
    res->hole_pages = cdw_count_hole_pages(img, plan);
    res->patched_bytes = patched;
    return 0;
}

int
r2d_crashdump_write(struct r2d_ctx *ctx, const struct r2d_image *img, const struct r2d_plan *plan,
                    const char *path, unsigned flags, unsigned hash, struct r2d_write_result *res)
{
    struct r2d_output *staged = NULL;
    int rc = r2d_crashdump_stage(ctx, img, plan, path, flags, hash, res, &staged);

    if (!rc && (rc = r2d_output_commit(ctx, staged, NULL)) != 0)
        r2d_digest_hex_clear(&res->digests);
    return rc;
}
