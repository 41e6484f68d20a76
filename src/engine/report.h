/* SPDX-License-Identifier: MIT */
/* Describing a conversion or an analysis as JSON: the report (--report) and --info share one model. */
#ifndef R2D_ENGINE_REPORT_H
#define R2D_ENGINE_REPORT_H

#include <jansson.h>

#include "analysis.h"
#include "crashdump.h"

#define R2D_REPORT_SCHEMA 2

/* The input: path, size, format and why, runs, CPU states, notes. */
json_t *r2d_report_image(const struct r2d_image *img);
/* The same; without lists, the run table is left out (a conversion without --report never shows it). */
json_t *r2d_report_image_lists(const struct r2d_image *img, int lists);
/* What the engine found so far (DTB, kernel, symbols, KDBG, processors); steps not reached are absent. */
json_t *r2d_report_analysis(const struct r2d_analysis *a);
/* The plan: header values, ranges, patches (with SHA-256 of before/after bytes), warnings. */
json_t *r2d_report_plan(const struct r2d_plan *plan);
/* The same; without lists, the page ranges are left out. */
json_t *r2d_report_plan_lists(const struct r2d_plan *plan, int lists);
/* Hex string of a 64-bit value ("0x..."), the form every address takes in reports. */
json_t *r2d_json_hex(uint64_t v);
/* Write obj to path atomically (temporary file, rename). */
int r2d_report_write(struct r2d_ctx *ctx, json_t *obj, const char *path, unsigned flags);
/* Write obj to a finished temporary for path, not yet in place (r2d_output_finish); *staged on success. */
int r2d_report_stage(struct r2d_ctx *ctx, json_t *obj, const char *path, unsigned flags,
                     struct r2d_output **staged);

#endif
