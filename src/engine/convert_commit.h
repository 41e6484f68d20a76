/* SPDX-License-Identifier: MIT */
/* Putting a conversion's dump and its report in place together: both, or neither. */
#ifndef R2D_ENGINE_CONVERT_COMMIT_H
#define R2D_ENGINE_CONVERT_COMMIT_H

#include <jansson.h>

#include "output.h"

/**
 * Put the staged dump (r2d_crashdump_stage) at output, with report written to report_path when that is not
 * NULL. dump is consumed in every case. Returns 0, or the failure with its message in ctx; then nothing is
 * left at output or at report_path. *report_tried is 0 when the report was not attempted, or when the dump
 * failed to go in place first (the caller may then write a report documenting that failure); 1 when the
 * report was written, or failed itself (a second attempt would fail alike).
 */
int r2d_convert_commit(struct r2d_ctx *ctx, struct r2d_output *dump, const char *output, json_t *report,
                       const char *report_path, unsigned flags, int *report_tried);

#endif
