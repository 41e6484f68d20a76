/* SPDX-License-Identifier: MIT */
/* The dump plan from an analysis: header values, page ranges and the patch list. */
#ifndef R2D_ENGINE_PLAN_BUILD_H
#define R2D_ENGINE_PLAN_BUILD_H

#include <stdint.h>

#include "plan.h"

struct r2d_analysis;

/* Everything the writer needs. */
int r2d_build_plan(struct r2d_analysis *a, struct r2d_plan *plan);
/* Just the version part (KdVersionBlock, or KUSER_SHARED_DATA as a fallback); warnings go to plan. */
int r2d_build_plan_version(struct r2d_analysis *a, struct r2d_plan *plan);
/* Add a patch covering a virtual range page by page. */
int r2d_plan_patch_virtual(struct r2d_analysis *a, struct r2d_plan *plan, uint64_t va, const uint8_t *bytes,
                           uint32_t len, const char *reason);

#endif
