/* SPDX-License-Identifier: MIT */
/*
 * The arch layer: virtual-to-physical translation over an image, for the paging mode the caller names.
 * Discovery asks "translate this VA with this DTB"; only this layer knows how a mode's tables look.
 * Modes: x64 4-level, x86 with PAE and without (the engine picks one per page-table base it finds). 5-level
 * paging is a descriptor still to add (src/arch/paging.h).
 */
#ifndef R2D_ARCH_MMU_H
#define R2D_ARCH_MMU_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

enum r2d_paging {
    R2D_PAGING_X64 = 0, /* long mode, 4-level (CR4.LA57 clear) */
    R2D_PAGING_X86,     /* 32-bit, 2-level, 4 KiB and 4 MiB pages (CR4.PAE clear) */
    R2D_PAGING_X86_PAE, /* 32-bit with PAE, 3-level, 4 KiB and 2 MiB pages */
};

/* x64 entry bits, for discovery's checks of a candidate top-level table. */
#define R2D_X64_PTE_PRESENT 0x1ull
#define R2D_X64_PTE_PS 0x80ull
#define R2D_X64_PTE_FRAME 0x000ffffffffff000ull
#define R2D_X64_DTB_MASK 0x000ffffffffff000ull

struct r2d_paging_mode;

struct r2d_mmu {
    struct r2d_ctx *ctx;
    const struct r2d_image *img;
    const struct r2d_paging_mode *mode;
    uint64_t dtb; /* physical address of the top-level table, low bits masked for the mode */
};

void r2d_mmu_init(struct r2d_mmu *mmu, struct r2d_ctx *ctx, const struct r2d_image *img,
                  enum r2d_paging paging, uint64_t dtb);

/* "x64 4-level", for reports. */
const char *r2d_mmu_mode_name(const struct r2d_mmu *mmu);
/* Bytes of a guest pointer (8 on x64). */
unsigned r2d_mmu_pointer_size(const struct r2d_mmu *mmu);
/* The bits of a CR3 value that address the top table in this mode. */
uint64_t r2d_paging_dtb_mask(enum r2d_paging paging);

/* True when va is canonical for the paging mode; a 32-bit mode takes va below 4 GiB or its sign extension. */
int r2d_mmu_canonical(const struct r2d_mmu *mmu, uint64_t va);

/*
 * The virtual base of the page tables when entry slot of the top-level table maps that table itself (the
 * self-map Windows places at a random slot; nt!MmPteBase).
 */
uint64_t r2d_mmu_self_map_base(const struct r2d_mmu *mmu, unsigned slot);
/*
 * How many kernel-half entries of the top-level table map the table itself (0 when the table is outside the
 * image); *slot receives the last one's index.
 */
unsigned r2d_mmu_self_map_slots(const struct r2d_mmu *mmu, unsigned *slot);

/*
 * Translate va. Returns 0 with *pa and *page_size (4 KiB, 2 MiB or 1 GiB on x64), R2D_ENOVA when an entry is
 * not present or the address is not canonical, R2D_EHOLE when a table lies outside the image. Messages name
 * the address and the level.
 */
int r2d_mmu_translate(const struct r2d_mmu *mmu, uint64_t va, uint64_t *pa, uint64_t *page_size);

/* Read len bytes at va, translating every page separately (structures may straddle pages). */
int r2d_mmu_read(const struct r2d_mmu *mmu, uint64_t va, void *buf, size_t len);
int r2d_mmu_read_u64(const struct r2d_mmu *mmu, uint64_t va, uint64_t *out);
int r2d_mmu_read_u32(const struct r2d_mmu *mmu, uint64_t va, uint32_t *out);

/*
 * Call fn for every present leaf mapping in [va_start, va_end) in ascending order: va, pa, size. fn returns
 * 0 to continue, 1 to stop (r2d_mmu_walk then returns 0), or a negative status to abort with it. Tables
 * outside the image are skipped; the walk visits at most max_leaves leaves and tables (a bound against
 * hostile tables that map every slot).
 */
typedef int (*r2d_mmu_leaf_fn)(void *arg, uint64_t va, uint64_t pa, uint64_t size);
int r2d_mmu_walk(const struct r2d_mmu *mmu, uint64_t va_start, uint64_t va_end, uint64_t max_leaves,
                 r2d_mmu_leaf_fn fn, void *arg);

#endif
