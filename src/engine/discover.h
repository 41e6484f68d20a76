/* SPDX-License-Identifier: MIT */
/*
 * Discovery: the page tables (discover_dtb.c) and the kernel image (discover_kernel.c), from registers where
 * the input has them and by bounded scans where it does not (docs/reference/discovery.md).
 */
#ifndef R2D_ENGINE_DISCOVER_H
#define R2D_ENGINE_DISCOVER_H

#include <stddef.h>
#include <stdint.h>

#include "mmu.h"

#define R2D_KUSER_SHARED_DATA UINT64_C(0xfffff78000000000)
/* 32-bit Windows: KUSER_SHARED_DATA at 0xFFDF0000, held sign-extended as Windows' 64-bit fields hold it. */
#define R2D_KUSER_SHARED_DATA_X86 UINT64_C(0xffffffffffdf0000)
#define R2D_KASLR_FLOOR UINT64_C(0xfffff80000000000)
#define R2D_KASLR_CEIL UINT64_C(0xfffff80800000000)
/* 32-bit Windows: the system half, 0x80000000 up (3 GiB user space, /3GB, is not supported by the scans). */
#define R2D_X86_SYSTEM_FLOOR UINT64_C(0xffffffff80000000)

/* A page-table base that validated, ranked by discovery (highest score first). */
#define R2D_DTB_MAX_CANDIDATES 16
struct r2d_dtb_candidate {
    uint64_t pa;
    enum r2d_paging paging; /* the mode it validated in */
    int score;
    char how[384];          /* where it was found and which tests it passed */
    char mode_how[160];     /* why that paging mode */
};

struct r2d_analysis;
struct r2d_image;
struct r2d_cpu_state;

/* KUSER_SHARED_DATA's kernel VA in a paging mode (sign-extended for the 32-bit modes). */
uint64_t r2d_kuser_va(enum r2d_paging paging);
/*
 * The paging mode a CPU's registers say it ran in: long mode (the format's flag, from EFER.LMA or CS.L) is
 * x64; else CR0.PG with CR4.PAE is x86 PAE, CR0.PG alone x86. Returns 0 (no mode) when paging was off.
 * why (may be NULL) says which bits decided.
 */
int r2d_cpu_paging(const struct r2d_cpu_state *cpu, enum r2d_paging *paging, char *why, size_t whylen);

int r2d_discover_dtb(struct r2d_analysis *a);

/* Shared by the x64 scans (discover_dtb.c) and the 32-bit ones (discover_dtb_x86.c). */
typedef int (*r2d_discover_page_fn)(struct r2d_analysis *a, uint64_t pa, const uint8_t *page, void *arg);
/* Scan windows of physical memory (bounded, in Vol3's preferred order); fn sees every whole page read. */
int r2d_discover_scan_windows(struct r2d_analysis *a, uint8_t *buf, r2d_discover_page_fn fn, void *arg,
                              uint64_t *scanned);
/* 1 when KUSER_SHARED_DATA translates through dtb in the paging mode and holds an NT version. */
int r2d_discover_validate(struct r2d_analysis *a, enum r2d_paging paging, uint64_t dtb, char *why, size_t whylen,
                          int *bonus);
void r2d_discover_add(struct r2d_analysis *a, uint64_t pa, enum r2d_paging paging, int score, const char *how,
                      const char *mode_how);
/* Without registers and when no x64 table validated: PAE then non-PAE self-maps (discover_dtb_x86.c). */
int r2d_discover_scan_x86(struct r2d_analysis *a, uint8_t *buf, uint64_t *scanned);
/* Translate through validated candidate i from now on (the kernel search falls back along the ranking). */
void r2d_discover_use_candidate(struct r2d_analysis *a, unsigned i);
int r2d_discover_kernel(struct r2d_analysis *a);
/* After symbols are loaded: switch to the System process DTB when it differs and validates. */
int r2d_discover_system_dtb(struct r2d_analysis *a);

#endif
