/* SPDX-License-Identifier: MIT */
/* DUMP_HEADER32 (32-bit and PAE kernel crash dumps, 'PAGEDUMP') and its PHYSICAL_MEMORY_DESCRIPTOR32. */
#ifndef R2D_WINTYPES_DUMP_HEADER32_H
#define R2D_WINTYPES_DUMP_HEADER32_H

/*
 * Offsets from the start of the file as the reference set states them (docs/formats/windows-layouts.md
 * section 4). Unconfirmed: raw2dmp neither reads nor writes this header yet and no genuine 32-bit dump
 * has been checked; only the signatures, DumpType and MachineImageType positions are tested by several
 * readers. The assertions at the end check that the fields tile the header, nothing more.
 */
#define R2D_DH32_SIZE 0x1000
#define R2D_DH32_SIGNATURE 0x45474150u  /* 'PAGE' */
#define R2D_DH32_VALID_DUMP 0x504d5544u /* 'DUMP' */
#define R2D_DH32_MACHINE_I386 0x14cu    /* MachineImageType */

#define R2D_DH32_OFF_SIGNATURE 0x000              /* u32 */
#define R2D_DH32_OFF_VALID_DUMP 0x004             /* u32 */
#define R2D_DH32_OFF_MAJOR_VERSION 0x008          /* u32 */
#define R2D_DH32_OFF_MINOR_VERSION 0x00c          /* u32 */
#define R2D_DH32_OFF_DTB 0x010                    /* u32 DirectoryTableBase */
#define R2D_DH32_OFF_PFN_DATABASE 0x014           /* u32 */
#define R2D_DH32_OFF_PS_LOADED_MODULE_LIST 0x018  /* u32 */
#define R2D_DH32_OFF_PS_ACTIVE_PROCESS_HEAD 0x01c /* u32 */
#define R2D_DH32_OFF_MACHINE_TYPE 0x020           /* u32 MachineImageType */
#define R2D_DH32_OFF_NUMBER_PROCESSORS 0x024      /* u32 */
#define R2D_DH32_OFF_BUGCHECK_CODE 0x028          /* u32 */
#define R2D_DH32_OFF_BUGCHECK_PARAMS 0x02c        /* u32 BugCheckParameter1..4 */
#define R2D_DH32_BUGCHECK_PARAM_COUNT 4
#define R2D_DH32_OFF_VERSION_USER 0x03c /* char[32] */
#define R2D_DH32_VERSION_USER_SIZE 32
#define R2D_DH32_OFF_PAE_ENABLED 0x05c  /* u8; must match the guest's paging mode */
#define R2D_DH32_OFF_KD_SECONDARY 0x05d /* u8 KdSecondaryVersion; 0x05e-0x05f unnamed */
#define R2D_DH32_OFF_KDBG 0x060         /* u32 KdDebuggerDataBlock */
#define R2D_DH32_OFF_PMD 0x064          /* PhysicalMemoryBlockBuffer: a PHYSICAL_MEMORY_DESCRIPTOR32 */
#define R2D_DH32_PMD_SIZE 700
#define R2D_DH32_OFF_CONTEXT 0x320 /* ContextRecord: an x86 CONTEXT (context_x86.h) first */
#define R2D_DH32_CONTEXT_FIELD_SIZE 1200
#define R2D_DH32_OFF_EXCEPTION 0x7d0 /* EXCEPTION_RECORD32 */
#define R2D_DH32_EXCEPTION_SIZE 0x50
#define R2D_DH32_OFF_COMMENT 0x820 /* char[128] */
#define R2D_DH32_COMMENT_SIZE 128
#define R2D_DH32_OFF_ATTRIBUTES 0x8a0      /* u32 */
#define R2D_DH32_OFF_BOOT_ID 0x8a4         /* u32; 0x8a8-0xf87 unnamed */
#define R2D_DH32_OFF_DUMP_TYPE 0xf88       /* u32 */
#define R2D_DH32_OFF_MINIDUMP_FIELDS 0xf8c /* u32 */
#define R2D_DH32_OFF_SECONDARY_STATE 0xf90 /* u32 SecondaryDataState */
#define R2D_DH32_OFF_PRODUCT_TYPE 0xf94    /* u32 */
#define R2D_DH32_OFF_SUITE_MASK 0xf98      /* u32 */
#define R2D_DH32_OFF_WRITER_STATUS 0xf9c   /* u32 */
#define R2D_DH32_OFF_REQUIRED_SPACE 0xfa0  /* u64 RequiredDumpSpace; 0xfa8-0xfb7 unnamed */
#define R2D_DH32_OFF_SYSTEM_UPTIME 0xfb8   /* u64 */
#define R2D_DH32_OFF_SYSTEM_TIME 0xfc0     /* u64; 0xfc8-0xfff unnamed */
/* DumpType 1 pages back to back, or the DumpType 5 bitmap header (32-bit layout not described). */
#define R2D_DH32_OFF_DATA R2D_DH32_SIZE

/* PHYSICAL_MEMORY_DESCRIPTOR32, relative to the descriptor. */
#define R2D_PMD32_OFF_NUMBER_OF_RUNS 0x00  /* u32 */
#define R2D_PMD32_OFF_NUMBER_OF_PAGES 0x04 /* u32 */
#define R2D_PMD32_OFF_RUN0 0x08
#define R2D_PMD32_RUN_SIZE 0x08
#define R2D_PMD32_RUN_OFF_BASE_PAGE 0x00  /* u32 PFN */
#define R2D_PMD32_RUN_OFF_PAGE_COUNT 0x04 /* u32 */
#define R2D_DH32_MAX_RUNS ((R2D_DH32_PMD_SIZE - R2D_PMD32_OFF_RUN0) / R2D_PMD32_RUN_SIZE)

_Static_assert(R2D_DH32_OFF_BUGCHECK_PARAMS + 4 * R2D_DH32_BUGCHECK_PARAM_COUNT == R2D_DH32_OFF_VERSION_USER,
               "DUMP_HEADER32 VersionUser");
_Static_assert(R2D_DH32_OFF_VERSION_USER + R2D_DH32_VERSION_USER_SIZE == R2D_DH32_OFF_PAE_ENABLED,
               "DUMP_HEADER32 PaeEnabled");
_Static_assert(R2D_DH32_OFF_PMD + R2D_DH32_PMD_SIZE == R2D_DH32_OFF_CONTEXT, "DUMP_HEADER32 ContextRecord");
_Static_assert(R2D_DH32_OFF_CONTEXT + R2D_DH32_CONTEXT_FIELD_SIZE == R2D_DH32_OFF_EXCEPTION,
               "DUMP_HEADER32 Exception");
_Static_assert(R2D_DH32_OFF_EXCEPTION + R2D_DH32_EXCEPTION_SIZE == R2D_DH32_OFF_COMMENT,
               "DUMP_HEADER32 Comment");
_Static_assert(R2D_DH32_OFF_COMMENT + R2D_DH32_COMMENT_SIZE == R2D_DH32_OFF_ATTRIBUTES,
               "DUMP_HEADER32 Attributes");
_Static_assert(R2D_DH32_MAX_RUNS == 86, "86 whole runs in the 700-byte descriptor");

#endif
