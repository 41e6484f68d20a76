/* SPDX-License-Identifier: MIT */
/* Writing Windows 64-bit kernel crash dumps (full, DumpType 1; bitmap, DumpType 5) from an image and a plan. */
#ifndef RAW2DMP_CRASHDUMP_H
#define RAW2DMP_CRASHDUMP_H

#include <stdint.h>

#include "diag.h"
#include "image.h"
#include "output.h"
#include "plan.h"

struct r2d_write_result {
    uint64_t size;          /* bytes in the output file (== RequiredDumpSpace) */
    uint32_t dump_type;     /* 1 or 5 as written */
    uint32_t header_runs;   /* runs in the header's PHYSICAL_MEMORY_DESCRIPTOR64 */
    uint64_t pages;         /* pages written */
    uint64_t hole_pages;    /* pages of the plan no image run covered (written as zeros) */
    uint64_t patched_bytes; /* bytes overlaid by patches */
    double write_s;         /* from opening the output until it was complete (digests final, synced) */
    /* The output's digests, and the input file's made while streaming ("" when not computed or failed). */
    struct r2d_digest_hex digests, source_digests;
    char source_error[160]; /* why source_digests are missing when hashing was on */
    double source_hash_s;   /* from the start of the write until the input digests were final */
    double source_wait_s;   /* how long the input digests took after the dump was written */
    int synced;             /* the output was fsynced (flags lacked R2D_OUTPUT_NO_SYNC) */
};

/**
 * Stream img's pages selected by plan's ranges into a crash dump at path, applying the plan's patches.
 * The dump type is the plan's, or (R2D_DUMP_AUTO) full when the ranges fit 42 header runs, else bitmap.
 * Written to a temporary file and renamed when complete; on any failure nothing is left at path. flags are
 * r2d_output_open's (R2D_OUTPUT_FORCE, R2D_OUTPUT_NO_SYNC).
 */
int r2d_crashdump_write(struct r2d_ctx *ctx, const struct r2d_image *img, const struct r2d_plan *plan,
                        const char *path, unsigned flags, unsigned hash, struct r2d_write_result *res);
/**
 * Like r2d_crashdump_write, but stop before the rename: on success *staged is the complete (and, unless
 * R2D_OUTPUT_NO_SYNC, durable) temporary (res filled, digests included), for the caller to put in place with
 * r2d_output_commit or r2d_output_commit_pair, or to remove with r2d_output_abort. On failure nothing is left
 * and *staged is untouched.
 */
int r2d_crashdump_stage(struct r2d_ctx *ctx, const struct r2d_image *img, const struct r2d_plan *plan,
                        const char *path, unsigned flags, unsigned hash, struct r2d_write_result *res,
                        struct r2d_output **staged);

#endif
