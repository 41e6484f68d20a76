/* SPDX-License-Identifier: MIT */
/* DUMP_HEADER64, its PHYSICAL_MEMORY_DESCRIPTOR64 and the DumpType 5 bitmap header as named offsets. */
#ifndef R2D_WINTYPES_DUMP_HEADER64_H
#define R2D_WINTYPES_DUMP_HEADER64_H

#include <stdint.h>

/*
 * DUMP_HEADER64: offsets from the start of the file (docs/formats/windows-layouts.md section 1; what the
 * writer puts in each field: docs/formats/crashdump.md).
 */
#define R2D_DH64_SIZE 0x2000
#define R2D_DH64_SIGNATURE 0x45474150u                    /* 'PAGE', also the fill of fields never set */
#define R2D_DH64_VALID_DUMP 0x34365544u                   /* 'DU64' */
#define R2D_DH64_PAGE_FILL64 UINT64_C(0x4547415045474150) /* a u64 field still holding the 'PAGE' fill */
#define R2D_DH64_DTB_MASK UINT64_C(0x000ffffffffff000)    /* genuine headers carry low (PCID) bits */
#define R2D_DH64_MACHINE_AMD64 0x8664u                    /* MachineImageType of x64 */
#define R2D_DH64_DUMP_TYPE_FULL 1u                        /* run based */
#define R2D_DH64_DUMP_TYPE_BITMAP 5u                      /* BITMAP_FULL */

#define R2D_DH64_OFF_SIGNATURE 0x000              /* u32 */
#define R2D_DH64_OFF_VALID_DUMP 0x004             /* u32 */
#define R2D_DH64_OFF_MAJOR_VERSION 0x008          /* u32, 0xf on free builds */
#define R2D_DH64_OFF_MINOR_VERSION 0x00c          /* u32, the build number */
#define R2D_DH64_OFF_DTB 0x010                    /* u64 DirectoryTableBase */
#define R2D_DH64_OFF_PFN_DATABASE 0x018           /* u64 */
#define R2D_DH64_OFF_PS_LOADED_MODULE_LIST 0x020  /* u64 */
#define R2D_DH64_OFF_PS_ACTIVE_PROCESS_HEAD 0x028 /* u64 */
#define R2D_DH64_OFF_MACHINE_TYPE 0x030           /* u32 MachineImageType */
#define R2D_DH64_OFF_NUMBER_PROCESSORS 0x034      /* u32 */
#define R2D_DH64_OFF_BUGCHECK_CODE 0x038          /* u32 */
#define R2D_DH64_OFF_PAD_03C 0x03c                /* u32 */
#define R2D_DH64_OFF_BUGCHECK_PARAMS 0x040        /* u64 BugCheckParameter1..4 */
#define R2D_DH64_BUGCHECK_PARAM_COUNT 4
#define R2D_DH64_OFF_VERSION_USER 0x060 /* char[32] */
#define R2D_DH64_VERSION_USER_SIZE 32
#define R2D_DH64_OFF_KDBG 0x080 /* u64 KdDebuggerDataBlock */
#define R2D_DH64_OFF_PMD 0x088  /* PhysicalMemoryBlockBuffer: a PHYSICAL_MEMORY_DESCRIPTOR64 */
#define R2D_DH64_PMD_SIZE 700
#define R2D_DH64_OFF_PAD_344 0x344 /* u32 */
#define R2D_DH64_OFF_CONTEXT 0x348 /* ContextRecord: an AMD64 CONTEXT (context_amd64.h) first */
#define R2D_DH64_CONTEXT_FIELD_SIZE 3000
#define R2D_DH64_OFF_EXCEPTION 0xf00 /* EXCEPTION_RECORD64 */
#define R2D_DH64_EXCEPTION_SIZE 0x98
#define R2D_DH64_OFF_DUMP_TYPE 0xf98      /* u32 */
#define R2D_DH64_OFF_PAD_F9C 0xf9c        /* u32 */
#define R2D_DH64_OFF_REQUIRED_SPACE 0xfa0 /* u64 RequiredDumpSpace: the file size */
#define R2D_DH64_OFF_SYSTEM_TIME 0xfa8    /* u64 FILETIME */
#define R2D_DH64_OFF_COMMENT 0xfb0        /* char[128], NUL-terminated */
#define R2D_DH64_COMMENT_SIZE 128
#define R2D_DH64_OFF_SYSTEM_UPTIME 0x1030   /* u64, 100 ns units */
#define R2D_DH64_OFF_MINIDUMP_FIELDS 0x1038 /* u32 */
#define R2D_DH64_OFF_SECONDARY_STATE 0x103c /* u32 SecondaryDataState */
#define R2D_DH64_OFF_PRODUCT_TYPE 0x1040    /* u32 */
#define R2D_DH64_OFF_SUITE_MASK 0x1044      /* u32 */
#define R2D_DH64_OFF_WRITER_STATUS 0x1048   /* u32 */
#define R2D_DH64_OFF_UNUSED1 0x104c         /* u8 */
#define R2D_DH64_OFF_KD_SECONDARY 0x104d    /* u8 KdSecondaryVersion */
#define R2D_DH64_OFF_UNUSED2 0x104e         /* u16 */
#define R2D_DH64_OFF_ATTRIBUTES 0x1050      /* u32 */
#define R2D_DH64_OFF_BOOT_ID 0x1054         /* u32 */
#define R2D_DH64_OFF_RESERVED 0x1058        /* up to R2D_DH64_SIZE */
/* What follows the header: DumpType 1 pages back to back, or DumpType 5's bitmap header. */
#define R2D_DH64_OFF_DATA R2D_DH64_SIZE
#define R2D_DH64_OFF_BITMAP R2D_DH64_SIZE

/*
 * PHYSICAL_MEMORY_DESCRIPTOR64, relative to the descriptor (windows-layouts.md section 2). The kernel's
 * own MmPhysicalMemoryBlock has this layout too.
 */
#define R2D_PMD64_OFF_NUMBER_OF_RUNS 0x00  /* u32, then a u32 pad */
#define R2D_PMD64_OFF_NUMBER_OF_PAGES 0x08 /* u64, the runs' sum */
#define R2D_PMD64_OFF_RUN0 0x10
#define R2D_PMD64_RUN_SIZE 0x10
#define R2D_PMD64_RUN_OFF_BASE_PAGE 0x00  /* u64 PFN */
#define R2D_PMD64_RUN_OFF_PAGE_COUNT 0x08 /* u64 */

/* The descriptor's fields at their offsets in the header. */
#define R2D_DH64_OFF_NUMBER_OF_RUNS (R2D_DH64_OFF_PMD + R2D_PMD64_OFF_NUMBER_OF_RUNS)
#define R2D_DH64_OFF_PMD_PAD (R2D_DH64_OFF_PMD + 0x04)
#define R2D_DH64_OFF_NUMBER_OF_PAGES (R2D_DH64_OFF_PMD + R2D_PMD64_OFF_NUMBER_OF_PAGES)
#define R2D_DH64_OFF_RUN0 (R2D_DH64_OFF_PMD + R2D_PMD64_OFF_RUN0)

/* Whole runs in the 700-byte buffer: writers never write more (42). */
#define R2D_DH64_MAX_RUNS ((R2D_DH64_PMD_SIZE - R2D_PMD64_OFF_RUN0) / R2D_PMD64_RUN_SIZE)
/* Runs that fit before ContextRecord (43, QEMU's Run[43]): as many as a reader can take. */
#define R2D_DH64_MAX_RUNS_AREA ((R2D_DH64_OFF_CONTEXT - R2D_DH64_OFF_RUN0) / R2D_PMD64_RUN_SIZE)

/* DumpType 5 bitmap header, relative to R2D_DH64_OFF_BITMAP (windows-layouts.md section 3). */
#define R2D_BMP64_SIG_FULL 0x504d4446u    /* 'FDMP' */
#define R2D_BMP64_SIG_SUMMARY 0x504d4453u /* 'SDMP' */
#define R2D_BMP64_VALID_DUMP 0x504d5544u  /* 'DUMP' */
#define R2D_BMP64_OFF_SIGNATURE 0x00      /* u32 */
#define R2D_BMP64_OFF_VALID_DUMP 0x04     /* u32; 0x08..0x1f read by no reader */
#define R2D_BMP64_OFF_FIRST_PAGE 0x20     /* u64, absolute file offset of the first stored page */
#define R2D_BMP64_OFF_PAGES 0x28          /* u64, set bits = pages stored */
#define R2D_BMP64_OFF_BITS 0x30           /* u64, bits = PFN span; the bitmap follows, LSB first */
#define R2D_BMP64_SIZE 0x38
/* Our bound on the bits, not Windows': 2^40 PFNs is the 52-bit physical address width of x86-64. */
#define R2D_BMP64_MAX_BITS (UINT64_C(1) << 40)

/* Neighbouring fields meet exactly: a mistyped offset or size breaks one of these. */
_Static_assert(R2D_DH64_OFF_PMD + R2D_DH64_PMD_SIZE == R2D_DH64_OFF_PAD_344, "DUMP_HEADER64 descriptor");
_Static_assert(R2D_DH64_OFF_PAD_344 + 4 == R2D_DH64_OFF_CONTEXT, "DUMP_HEADER64 ContextRecord");
_Static_assert(R2D_DH64_OFF_CONTEXT + R2D_DH64_CONTEXT_FIELD_SIZE == R2D_DH64_OFF_EXCEPTION,
               "DUMP_HEADER64 Exception");
_Static_assert(R2D_DH64_OFF_EXCEPTION + R2D_DH64_EXCEPTION_SIZE == R2D_DH64_OFF_DUMP_TYPE,
               "DUMP_HEADER64 DumpType");
_Static_assert(R2D_DH64_OFF_COMMENT + R2D_DH64_COMMENT_SIZE == R2D_DH64_OFF_SYSTEM_UPTIME,
               "DUMP_HEADER64 SystemUpTime");
_Static_assert(R2D_DH64_OFF_BUGCHECK_PARAMS + 8 * R2D_DH64_BUGCHECK_PARAM_COUNT == R2D_DH64_OFF_VERSION_USER,
               "DUMP_HEADER64 VersionUser");
_Static_assert(R2D_DH64_OFF_VERSION_USER + R2D_DH64_VERSION_USER_SIZE == R2D_DH64_OFF_KDBG,
               "DUMP_HEADER64 KDBG");
_Static_assert(R2D_DH64_OFF_RUN0 + R2D_DH64_MAX_RUNS_AREA * R2D_PMD64_RUN_SIZE == R2D_DH64_OFF_CONTEXT,
               "43 runs end exactly at ContextRecord");
_Static_assert(R2D_DH64_MAX_RUNS == 42, "42 whole runs in the 700-byte descriptor");

#endif
