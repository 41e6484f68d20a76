/* SPDX-License-Identifier: MIT */
/* The _KDDEBUGGER_DATA64 layout as a table (docs/reference/kdbg.md 2): each field and where it comes from. */
#ifndef R2D_ENGINE_KDBG_FIELDS_H
#define R2D_ENGINE_KDBG_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "kdbg_header.h"

enum r2d_kdbg_kind {
    R2D_KF_SYMBOL,  /* u64: kernel base + RVA of a symbol */
    R2D_KF_OFFSET,  /* u16/u32: offset of a (nested) field of a type */
    R2D_KF_SIZEOF,  /* u16: size of a type */
    R2D_KF_VALUE,   /* a value derived otherwise (KernBase, MmPageSize, PteBase, IA64-only zeros, padding) */
    R2D_KF_HEADER,  /* DBGKD_DEBUG_DATA_HEADER64: List links (KdVersionBlock), OwnerTag, Size (the build) */
    R2D_KF_IMAGE,   /* not in symbols or types; copied from the image's own block when it is usable */
    R2D_KF_UNKNOWN, /* not derivable at all: left 0 */
};

struct r2d_kdbg_field {
    uint16_t offset;
    uint8_t width;          /* bytes: 1, 2, 4 or 8 */
    uint8_t kind;           /* enum r2d_kdbg_kind */
    const char *name;       /* the field's name in _KDDEBUGGER_DATA64 */
    const char *source;     /* symbol name, or type name */
    const char *path;       /* field path inside source for R2D_KF_OFFSET */
};

extern const struct r2d_kdbg_field r2d_kdbg_fields[];
extern const size_t r2d_kdbg_field_count;
/*
 * The member path to read for an R2D_KF_OFFSET field: the x86 _KPCR names its members differently
 * (SelfPcr, Prcb for the pointer, PrcbData for the contained KPRCB, where x64 has Self, CurrentPrcb, Prcb).
 */
const char *r2d_kdbg_field_path(const struct r2d_kdbg_field *f, int x86);

/*
 * The table runs in offset order and covers every byte of the largest known layout (R2D_KDBG_SIZE_1809)
 * without overlap; r2d_kdbg_rebuild fills the entries that end within the block's Size.
 */

/*
 * Offsets of the fields the converter itself reads, by their Windows names (docs/reference/kdbg.md section 2); the table
 * states them through these names. The header (List, OwnerTag, Size) and KernBase: kdbg_header.h.
 */
#define R2D_KDBG_OFF_PS_LOADED_MODULE_LIST 0x48
#define R2D_KDBG_OFF_PS_ACTIVE_PROCESS_HEAD 0x50
#define R2D_KDBG_OFF_KI_BUGCHECK_DATA 0x88
#define R2D_KDBG_OFF_MM_PFN_DATABASE 0xc0
#define R2D_KDBG_OFF_KI_PROCESSOR_BLOCK 0x218
#define R2D_KDBG_OFF_MM_PHYSICAL_MEMORY_BLOCK 0x270
#define R2D_KDBG_OFF_OFFSET_PRCB_PROC_STATE_CONTEXT 0x2bc
#define R2D_KDBG_OFF_OFFSET_PRCB_NUMBER 0x2be
#define R2D_KDBG_OFF_OFFSET_PCR_CONTAINED_PRCB 0x2e6
#define R2D_KDBG_OFF_OFFSET_PRCB_CONTEXT 0x338

#endif
