/* SPDX-License-Identifier: MIT */
/* PE32+ (x64) and PE32 (x86) images in guest memory: headers, sections, exports name, CodeView RSDS
 * (docs/reference/symbols.md 1). */
#ifndef R2D_ENGINE_PE_H
#define R2D_ENGINE_PE_H

#include <stdint.h>

#include "mmu.h"
#include "symbols.h"

#define R2D_PE_MAX_SECTIONS 96

struct r2d_pe_section {
    char name[9];
    uint32_t va;    /* RVA */
    uint32_t vsize;
};

struct r2d_pe {
    uint64_t base;
    uint16_t machine;
    uint32_t timestamp;
    uint32_t size_of_image;
    unsigned nsections;
    struct r2d_pe_section sections[R2D_PE_MAX_SECTIONS];
    int have_rsds;
    struct r2d_pdb_id pdb;   /* from the CodeView RSDS record */
    char export_name[64];    /* "" when the export directory is absent or unreadable */
};

/*
 * Parse the PE image at virtual address base through mmu. Requires MZ, e_lfanew <= 0x800, PE\0\0, and for
 * the mmu's pointer size machine 0x8664 with a PE32+ optional header (8) or 0x14c with a PE32 one (4); walks
 * every debug directory entry for a CodeView RSDS record. Pages
 * that do not translate leave the corresponding parts empty (have_rsds 0, export_name ""), they are not
 * errors. Returns R2D_EFORMAT (message says what is missing) when base is not such an image.
 */
int r2d_pe_parse(const struct r2d_mmu *mmu, uint64_t base, struct r2d_pe *pe);

/* True when name (a PDB file name) is one of the Windows kernel PDB names, case-insensitively. */
int r2d_pe_is_kernel_pdb(const char *name);

#endif
