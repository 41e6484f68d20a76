/* SPDX-License-Identifier: MIT */
/* x64 virtual-to-physical translation over an image (4-level, 2 MiB and 1 GiB pages; 5-level with LA57). */
#ifndef R2D_ENGINE_MMU_H
#define R2D_ENGINE_MMU_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

#define R2D_PTE_PRESENT 0x1ull
#define R2D_PTE_PS 0x80ull
#define R2D_PTE_FRAME 0x000ffffffffff000ull
#define R2D_DTB_MASK 0x000ffffffffff000ull

struct r2d_mmu {
    struct r2d_ctx *ctx;
    const struct r2d_image *img;
    uint64_t dtb;   /* physical address of the top-level table, low bits masked */
    int levels;     /* 4, or 5 with LA57 */
};

void r2d_mmu_init(struct r2d_mmu *mmu, struct r2d_ctx *ctx, const struct r2d_image *img, uint64_t dtb,
                  int levels);

/* True when va is canonical for the paging mode. */
int r2d_mmu_canonical(const struct r2d_mmu *mmu, uint64_t va);

/*
 * Translate va. Returns 0 with *pa and *page_size (4 KiB, 2 MiB or 1 GiB), R2D_ENOVA when an entry is not
 * present or the address is not canonical, R2D_EHOLE when a table lies outside the image. Messages name the
 * address and the level.
 */
int r2d_mmu_translate(const struct r2d_mmu *mmu, uint64_t va, uint64_t *pa, uint64_t *page_size);

/* Read len bytes at va, translating every page separately (structures may straddle pages). */
int r2d_mmu_read(const struct r2d_mmu *mmu, uint64_t va, void *buf, size_t len);
int r2d_mmu_read_u64(const struct r2d_mmu *mmu, uint64_t va, uint64_t *out);
int r2d_mmu_read_u32(const struct r2d_mmu *mmu, uint64_t va, uint32_t *out);

/*
 * Call fn for every present leaf mapping in [va_start, va_end) in ascending order: va, pa, size. fn returns
 * 0 to continue, 1 to stop (r2d_mmu_walk then returns 0), or a negative status to abort with it. Tables
 * outside the image are skipped; the walk visits at most max_leaves leaves (a bound against hostile tables
 * that map every slot).
 */
typedef int (*r2d_mmu_leaf_fn)(void *arg, uint64_t va, uint64_t pa, uint64_t size);
int r2d_mmu_walk(const struct r2d_mmu *mmu, uint64_t va_start, uint64_t va_end, uint64_t max_leaves,
                 r2d_mmu_leaf_fn fn, void *arg);

#endif
