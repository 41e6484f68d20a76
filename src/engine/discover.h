/* SPDX-License-Identifier: MIT */
/*
 * Discovery: the page tables (discover_dtb.c) and the kernel image (discover_kernel.c), from registers where
 * the input has them and by bounded scans where it does not (docs/reference/discovery.md).
 */
#ifndef R2D_ENGINE_DISCOVER_H
#define R2D_ENGINE_DISCOVER_H

#include <stdint.h>

#define R2D_KUSER_SHARED_DATA UINT64_C(0xfffff78000000000)
#define R2D_KASLR_FLOOR UINT64_C(0xfffff80000000000)
#define R2D_KASLR_CEIL UINT64_C(0xfffff80800000000)

/* A page-table base that validated, ranked by discovery (highest score first). */
#define R2D_DTB_MAX_CANDIDATES 16
struct r2d_dtb_candidate {
    uint64_t pa;
    int score;
    char how[384];   /* where it was found and which tests it passed */
};

struct r2d_analysis;

int r2d_discover_dtb(struct r2d_analysis *a);
/* Translate through validated candidate i from now on (the kernel search falls back along the ranking). */
void r2d_discover_use_candidate(struct r2d_analysis *a, unsigned i);
int r2d_discover_kernel(struct r2d_analysis *a);
/* After symbols are loaded: switch to the System process DTB when it differs and validates. */
int r2d_discover_system_dtb(struct r2d_analysis *a);

#endif
