/* SPDX-License-Identifier: MIT */
/* DUMP_HEADER32 (32-bit and PAE kernel crash dumps, 'PAGEDUMP') and its PHYSICAL_MEMORY_DESCRIPTOR32. */
#ifndef R2D_WINTYPES_DUMP_HEADER32_H
#define R2D_WINTYPES_DUMP_HEADER32_H

#include <stdint.h>

/*
 * Offsets from the start of the file (docs/formats/windows-layouts.md section 4, docs/formats/crashdump.md
 * "PAGEDUMP"). Confirmed by three public sources that agree field by field: the DUMP_HEADER32 declarations
 * of Microsoft's ntiodump.h (reserved-area sizes 700/1200/1768/4/16/56, pack 4), of Bin2Dmp's dmp.h and the
 * _DMP_HEADER vtype of Volatility 2's crashdump overlay (every offset below). KdSecondaryVersion at 0x05d
 * is in Bin2Dmp and Volatility 2 (ntiodump.h's older copy has Spare3[3] there); Attributes and BootId are
 * named by the reference set only (the other sources call 0x8a0.. reserved): raw2dmp writes them zero.
 * No genuine 32-bit dump has been checked byte for byte.
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
#define R2D_DH32_OFF_DATA R2D_DH32_SIZE /* DumpType 1: the pages of the runs back to back */
#define R2D_DH32_OFF_BITMAP R2D_DH32_SIZE
#define R2D_DH32_DUMP_TYPE_FULL 1u
#define R2D_DH32_DUMP_TYPE_BITMAP 5u

/*
 * The bitmap header after DUMP_HEADER32, in SUMMARY_DUMP32's shape (ntiodump.h: Signature, ValidDump,
 * DumpOptions, HeaderSize = file offset of the first page, BitmapSize = bits, Pages = bits set, then an
 * on-disk RTL_BITMAP {SizeOfBitMap, reserved, bits}). Written for DumpType 5 with 'FDMP' as the 64-bit
 * bitmap form has it; that a 32-bit Windows writes DumpType 5 this way is not confirmed by a genuine file.
 */
#define R2D_BMP32_OFF_SIGNATURE 0x00    /* u32 'FDMP' */
#define R2D_BMP32_OFF_VALID_DUMP 0x04   /* u32 'DUMP' */
#define R2D_BMP32_OFF_DUMP_OPTIONS 0x08 /* u32 */
#define R2D_BMP32_OFF_HEADER_SIZE 0x0c  /* u32, absolute file offset of the first stored page */
#define R2D_BMP32_OFF_BITS 0x10         /* u32 BitmapSize: PFN span in bits */
#define R2D_BMP32_OFF_PAGES 0x14        /* u32: set bits = pages stored */
#define R2D_BMP32_OFF_SIZE_OF_BITMAP 0x18 /* u32, = BitmapSize */
#define R2D_BMP32_OFF_RESERVED 0x1c     /* u32 */
#define R2D_BMP32_SIZE 0x20             /* the bits follow, LSB first */
#define R2D_BMP32_MAX_BITS (UINT64_C(1) << 32)

/* EXCEPTION_RECORD32 (0x50 bytes) at R2D_DH32_OFF_EXCEPTION. */
#define R2D_EXR32_OFF_CODE 0x00
#define R2D_EXR32_OFF_FLAGS 0x04
#define R2D_EXR32_OFF_RECORD 0x08
#define R2D_EXR32_OFF_ADDRESS 0x0c
#define R2D_EXR32_OFF_NUMBER_PARAMETERS 0x10
#define R2D_EXR32_OFF_INFORMATION 0x14 /* u32[15] */
#define R2D_EXR32_MAX_PARAMETERS 15

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
_Static_assert(R2D_DH32_OFF_ATTRIBUTES + 1768 == R2D_DH32_OFF_DUMP_TYPE, "DUMP_HEADER32 _reserved0[1768]");
_Static_assert(R2D_DH32_OFF_SYSTEM_TIME + 8 + 56 == R2D_DH32_SIZE, "DUMP_HEADER32 _reserved3[56]");
_Static_assert(R2D_EXR32_OFF_INFORMATION + 4 * R2D_EXR32_MAX_PARAMETERS == R2D_DH32_EXCEPTION_SIZE,
               "EXCEPTION_RECORD32 size");

#endif
