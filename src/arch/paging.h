/* SPDX-License-Identifier: MIT */
/*
 * How one paging mode is walked, as data: the generic walker in mmu.c reads these descriptors, so a new mode
 * (x86 PAE, x86 without PAE, x64 with LA57) is a table and a frame function, not another walker. Private to
 * the arch layer.
 */
#ifndef R2D_ARCH_PAGING_H
#define R2D_ARCH_PAGING_H

#include <stdint.h>

#define R2D_PAGING_MAX_LEVELS 5

struct r2d_paging_level {
    const char *name;  /* "PML4", "PD", ...: named in messages */
    unsigned shift;    /* address bits below this level's index */
    unsigned bits;     /* index bits taken from the address */
    int large;         /* an entry with PS set maps a page of 1 << shift bytes here */
};

struct r2d_paging_mode {
    const char *name;        /* "x64 4-level" */
    unsigned levels;         /* table levels; level[levels - 1] is the top */
    unsigned entry_size;     /* 8, or 4 for x86 without PAE */
    unsigned va_bits;        /* width of a virtual address */
    int sign_extended;       /* canonical addresses repeat bit va_bits - 1 upwards (x64) */
    unsigned pointer_size;   /* bytes of a pointer in the guest */
    uint64_t dtb_mask;       /* bits of CR3 that address the top table */
    struct r2d_paging_level level[R2D_PAGING_MAX_LEVELS]; /* level[0] is the page table */
    /* Physical address of what entry e at level maps: the next table, or a page of size 1 << shift. */
    uint64_t (*frame)(uint64_t e, unsigned level, int leaf);
};

/* Present and page-size bits are the same in every x86 paging mode. */
#define R2D_PAGING_PRESENT 0x1u
#define R2D_PAGING_PS 0x80u

extern const struct r2d_paging_mode r2d_paging_x64;
extern const struct r2d_paging_mode r2d_paging_x86;
extern const struct r2d_paging_mode r2d_paging_x86_pae;

#endif
