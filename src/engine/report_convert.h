/* SPDX-License-Identifier: MIT */
/* Report parts of a conversion (and of --info) as a whole, beside the per-step objects of report.h. */
#ifndef R2D_ENGINE_REPORT_CONVERT_H
#define R2D_ENGINE_REPORT_CONVERT_H

#include <jansson.h>

#include "analysis.h"
#include "crashdump.h"

/* A new report: schema, tool, start time (UTC), invocation and the options. */
json_t *r2d_report_new(const struct r2d_options *opts);
/* "finished" (UTC, now) and "elapsed_s" (monotonic, the caller's measure) of the report. */
void r2d_report_finished(json_t *report, double elapsed_s);
/*
 * Compare the image's KDBG with the symbols and record "kdbg_verification" in report; the differences are
 * logged as one warning. *differences gets their number (1 when unverifiable). Returns 0 or the error that
 * made verification impossible. (--info's form: the comparison as if asked for.)
 */
int r2d_report_verify_kdbg(struct r2d_analysis *a, json_t *report, int *differences);
/*
 * A conversion's comparison, made whether asked for or not (requested: --verify-kdbg). The differences are
 * one warning saying what the dump holds; a block that cannot be compared is a warning too. Only when
 * requested do they count: *differences (1 when unverifiable) and the status as r2d_report_verify_kdbg;
 * otherwise *differences is 0 and the result 0.
 */
int r2d_report_check_kdbg(struct r2d_analysis *a, json_t *report, int requested, int *differences);
/* The one-line R2D_EVERIFY error naming the first of differences recorded in report. */
int r2d_report_verify_error(struct r2d_ctx *ctx, const char *input, json_t *report, int differences);
/*
 * Record the input's digests, made by the writer while it streamed (or why there are none), and the time
 * they took. Missing input digests are a warning, not a failed conversion: the dump itself is complete.
 */
void r2d_report_input_digest(struct r2d_ctx *ctx, const char *input, const struct r2d_write_result *res,
                             json_t *in_json, json_t *timings);
/* The report's "output" object: what the writer says it wrote. */
json_t *r2d_report_output(const char *path, const struct r2d_write_result *res);
/* "result" (and "error" with the context's message) for status rc. */
void r2d_report_result(struct r2d_ctx *ctx, json_t *report, int rc);

#endif
