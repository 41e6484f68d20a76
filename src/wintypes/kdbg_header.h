/* SPDX-License-Identifier: MIT */
/* The KDBG's header (DBGKD_DEBUG_DATA_HEADER64) and KernBase as named offsets; the block's sizes. */
#ifndef R2D_WINTYPES_KDBG_HEADER_H
#define R2D_WINTYPES_KDBG_HEADER_H

/*
 * Offsets relative to the block at nt!KdDebuggerDataBlock (docs/formats/windows-layouts.md section 8). The
 * rest of _KDDEBUGGER_DATA64 is the field table in src/engine/kdbg_fields.c.
 */
#define R2D_KDBG_OFF_FLINK 0x00     /* u64 List.Flink */
#define R2D_KDBG_OFF_BLINK 0x08     /* u64 List.Blink */
#define R2D_KDBG_OFF_OWNER_TAG 0x10 /* u32, R2D_KDBG_TAG */
#define R2D_KDBG_OFF_SIZE 0x14      /* u32, the whole block including the header */
#define R2D_KDBG_HEADER_SIZE 0x18
#define R2D_KDBG_OFF_KERNBASE 0x18 /* u64, the first field after the header */
#define R2D_KDBG_TAG 0x4742444bu   /* 'KDBG' */

/* Size as Windows sets it, by version (the layout grew at the end). */
#define R2D_KDBG_SIZE_XP 0x290    /* XP (docs/reference/kdbg.md section 3) */
#define R2D_KDBG_SIZE_2003 0x318  /* Server 2003 and XP x64 */
#define R2D_KDBG_SIZE_VISTA 0x330 /* Vista / 2008 (0x328 on early builds) */
#define R2D_KDBG_SIZE_WIN7 0x340  /* 7 / 2008 R2: ends after OffsetPrcbContext */
#define R2D_KDBG_SIZE_WIN8 0x360 /* 8, 8.1 and 10 before 1607 */
#define R2D_KDBG_SIZE_1607 0x368 /* adds PteBase */
#define R2D_KDBG_SIZE_1809 0x380 /* 1809 and later: the largest layout we know */

/* Our bounds on a Size read from memory, not Windows': XP's block is the smallest, MemProcFS caps at 0x800.
 */
#define R2D_KDBG_MIN_SIZE 0x290
#define R2D_KDBG_MAX_SIZE 0x800

#endif
