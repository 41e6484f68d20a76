/* SPDX-License-Identifier: MIT */
/*
 * The dump plan: everything a writer needs besides the image. Header values, the page ranges to write, and
 * the patch list -- byte overlays (decoded KDBG, cleared flag, CPU contexts) applied while streaming. The
 * source image is never modified; every changed byte is a patch and every patch is reported.
 */
#ifndef RAW2DMP_PLAN_H
#define RAW2DMP_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "diag.h"
#include "raw2dmp/types.h"

#define R2D_CONTEXT_SIZE 0x4d0   /* AMD64 CONTEXT, every x64 build 7601-22000 */
#define R2D_EXCEPTION_SIZE 0x98  /* EXCEPTION_RECORD64 */
#define R2D_COMMENT_SIZE 128

/* A change to the output relative to the source memory. */
struct r2d_patch {
    uint64_t pa;
    uint32_t len;
    uint64_t va;         /* virtual address the patch was meant for (0 when not applicable) */
    uint8_t *after;      /* the bytes written (owned by the plan) */
    uint8_t *before;     /* the source bytes they replace (zeros where the source has a hole) */
    char reason[96];     /* "KDBG decoded", "KdpDataBlockEncoded cleared", "CPU 1 CONTEXT" */
};

/* Physical pages [base_page, base_page + page_count). */
struct r2d_page_range {
    uint64_t base_page;
    uint64_t page_count;
};

/* Values of DUMP_HEADER64 (docs/formats/crashdump.md F2); the writer sets every other byte itself. */
struct r2d_header_values {
    uint32_t major_version;
    uint32_t minor_version;
    uint64_t dtb;
    uint64_t pfn_database;
    uint64_t ps_loaded_module_list;
    uint64_t ps_active_process_head;
    uint32_t machine_image_type;
    uint32_t number_processors;
    uint32_t bugcheck_code;
    uint64_t bugcheck_params[4];
    uint64_t kdbg_va;
    uint8_t context[R2D_CONTEXT_SIZE];
    uint8_t exception[R2D_EXCEPTION_SIZE];
    uint64_t system_time;
    uint64_t system_uptime;
    uint32_t product_type;
    uint32_t suite_mask;
    uint8_t kd_secondary_version;
    /*
     * 32-bit guests (machine_image_type 0x14c): the dump is a DUMP_HEADER32 ('PAGEDUMP'); context holds an
     * x86 CONTEXT (0x2cc bytes) and PaeEnabled says whether the guest ran with PAE paging.
     */
    uint8_t pae_enabled;
    char comment[R2D_COMMENT_SIZE];
};

struct r2d_plan;

/** A new, empty plan; NULL when out of memory. */
struct r2d_plan *r2d_plan_new(void);
void r2d_plan_free(struct r2d_plan *plan);

/** The header values; the caller fills them in place. */
struct r2d_header_values *r2d_plan_header(struct r2d_plan *plan);
const struct r2d_header_values *r2d_plan_header_const(const struct r2d_plan *plan);

void r2d_plan_set_dump_type(struct r2d_plan *plan, enum r2d_dump_type type);
enum r2d_dump_type r2d_plan_dump_type(const struct r2d_plan *plan);

/**
 * Add physical pages to write. Ranges may be added in any order; touching or overlapping ranges are
 * merged. Pages the image does not cover are written as zeros (and counted by the writer).
 * Ascending adds merge as they come; others are kept and sorted once, by the next range query, so n adds
 * cost O(n log n) in any order. That query sorts in place although the plan is const: a plan is not
 * shared between threads before one range query has followed the last add.
 */
int r2d_plan_add_range(struct r2d_ctx *ctx, struct r2d_plan *plan, uint64_t base_page,
                               uint64_t page_count);
/** Add the page-rounded cover of every run of img. */
int r2d_plan_add_image_runs(struct r2d_ctx *ctx, struct r2d_plan *plan, const struct r2d_image *img);
/** Forget all ranges (e.g. to replace a padded raw file's single run by the kernel's true runs). */
void r2d_plan_clear_ranges(struct r2d_plan *plan);
/* The merged ranges, sorted by base page, disjoint and not touching. A range pointer stays valid until the
 * next add or clear. */
size_t r2d_plan_range_count(const struct r2d_plan *plan);
const struct r2d_page_range *r2d_plan_range(const struct r2d_plan *plan, size_t i);
uint64_t r2d_plan_page_count(const struct r2d_plan *plan);

/**
 * Overlay len bytes at physical address pa. The patch must lie inside one page (callers split a virtual
 * range page by page, since consecutive virtual pages need not be physically adjacent) and must not
 * overlap an earlier patch. The replaced bytes are read from img for the report.
 */
int r2d_plan_add_patch(struct r2d_ctx *ctx, struct r2d_plan *plan, const struct r2d_image *img,
                               uint64_t pa, const void *bytes, uint32_t len, uint64_t va, const char *reason);
size_t r2d_plan_patch_count(const struct r2d_plan *plan);
/** Patches sorted by physical address. */
const struct r2d_patch *r2d_plan_patch(const struct r2d_plan *plan, size_t i);
/**
 * Apply every patch overlapping [pa, pa + len) to buf, which holds the source bytes of that range.
 * *cursor is a hint for sequential use (start at 0).
 */
void r2d_plan_apply(const struct r2d_plan *plan, uint64_t pa, uint8_t *buf, size_t len, size_t *cursor);

/* A warning line for the report ("KiProcessorBlock[3] is 0; CPU 3 context not written"). */
int r2d_plan_add_warning(struct r2d_ctx *ctx, struct r2d_plan *plan, const char *fmt, ...)
    R2D_PRINTF(3, 4);
size_t r2d_plan_warning_count(const struct r2d_plan *plan);
const char *r2d_plan_warning(const struct r2d_plan *plan, size_t i);

/**
 * A fact for the report, as a key and a formatted value ("padding_pages_dropped" = "49152"). Setting a key
 * again replaces its value. Facts keep the order they were first set in. R2D_ENOMEM on allocation failure.
 */
int r2d_plan_add_fact(struct r2d_ctx *ctx, struct r2d_plan *plan, const char *key, const char *fmt, ...)
    R2D_PRINTF(4, 5);
size_t r2d_plan_fact_count(const struct r2d_plan *plan);
/** Fact i (0 <= i < count); *key and *value stay owned by the plan. Returns 0, or R2D_EINVAL out of range. */
int r2d_plan_fact(const struct r2d_plan *plan, size_t i, const char **key, const char **value);

#endif
