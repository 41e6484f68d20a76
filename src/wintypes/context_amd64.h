/* SPDX-License-Identifier: MIT */
/* The AMD64 CONTEXT record (x64 Windows) as named offsets, its ContextFlags bits and the kernel selectors. */
#ifndef R2D_WINTYPES_CONTEXT_AMD64_H
#define R2D_WINTYPES_CONTEXT_AMD64_H

/*
 * Offsets relative to the record (docs/formats/windows-layouts.md section 5). The same 0x4d0 bytes sit at
 * DUMP_HEADER64's ContextRecord and at *(KPRCB + OffsetPrcbContext) for every processor.
 */
#define R2D_CTX64_SIZE 0x4d0 /* every x64 build 7601-22000 */

#define R2D_CTX64_OFF_P1_HOME 0x000       /* u64 P1Home..P6Home */
#define R2D_CTX64_OFF_CONTEXT_FLAGS 0x030 /* u32 */
#define R2D_CTX64_OFF_MXCSR 0x034         /* u32; kept equal to R2D_CTX64_OFF_FLTSAVE_MXCSR */
#define R2D_CTX64_OFF_SEG_CS 0x038        /* u16 each */
#define R2D_CTX64_OFF_SEG_DS 0x03a
#define R2D_CTX64_OFF_SEG_ES 0x03c
#define R2D_CTX64_OFF_SEG_FS 0x03e
#define R2D_CTX64_OFF_SEG_GS 0x040
#define R2D_CTX64_OFF_SEG_SS 0x042
#define R2D_CTX64_OFF_EFLAGS 0x044 /* u32 */
#define R2D_CTX64_OFF_DR0 0x048    /* u64 each */
#define R2D_CTX64_OFF_DR1 0x050
#define R2D_CTX64_OFF_DR2 0x058
#define R2D_CTX64_OFF_DR3 0x060
#define R2D_CTX64_OFF_DR6 0x068
#define R2D_CTX64_OFF_DR7 0x070
/* The sixteen general registers are consecutive u64s in this (not numeric) order. */
#define R2D_CTX64_OFF_RAX 0x078
#define R2D_CTX64_OFF_RCX 0x080
#define R2D_CTX64_OFF_RDX 0x088
#define R2D_CTX64_OFF_RBX 0x090
#define R2D_CTX64_OFF_RSP 0x098
#define R2D_CTX64_OFF_RBP 0x0a0
#define R2D_CTX64_OFF_RSI 0x0a8
#define R2D_CTX64_OFF_RDI 0x0b0
#define R2D_CTX64_OFF_R8 0x0b8
#define R2D_CTX64_OFF_R9 0x0c0
#define R2D_CTX64_OFF_R10 0x0c8
#define R2D_CTX64_OFF_R11 0x0d0
#define R2D_CTX64_OFF_R12 0x0d8
#define R2D_CTX64_OFF_R13 0x0e0
#define R2D_CTX64_OFF_R14 0x0e8
#define R2D_CTX64_OFF_R15 0x0f0
#define R2D_CTX64_OFF_RIP 0x0f8
#define R2D_CTX64_OFF_FLTSAVE 0x100 /* XMM_SAVE_AREA32, 0x200 bytes */
#define R2D_CTX64_FLTSAVE_SIZE 0x200
#define R2D_CTX64_OFF_FLTSAVE_MXCSR (R2D_CTX64_OFF_FLTSAVE + 0x18)   /* u32 */
#define R2D_CTX64_OFF_FLOAT_REGISTERS (R2D_CTX64_OFF_FLTSAVE + 0x20) /* 8 x 16 bytes */
#define R2D_CTX64_OFF_XMM0 (R2D_CTX64_OFF_FLTSAVE + 0xa0)            /* Xmm0..Xmm15, 16 bytes each */
#define R2D_CTX64_OFF_VECTOR_REGISTER 0x300                          /* 26 x 16 bytes */
#define R2D_CTX64_OFF_VECTOR_CONTROL 0x4a0                           /* u64 */
#define R2D_CTX64_OFF_DEBUG_CONTROL 0x4a8                            /* u64 */
#define R2D_CTX64_OFF_LAST_BRANCH_TO_RIP 0x4b0                       /* u64 */
#define R2D_CTX64_OFF_LAST_BRANCH_FROM_RIP 0x4b8                     /* u64 */
#define R2D_CTX64_OFF_LAST_EXCEPTION_TO_RIP 0x4c0                    /* u64 */
#define R2D_CTX64_OFF_LAST_EXCEPTION_FROM_RIP 0x4c8                  /* u64 */

/* ContextFlags: the architecture bit plus one bit per part of the record that is filled. */
#define R2D_CTX64_FLAG_AMD64 0x00100000u
#define R2D_CTX64_FLAG_CONTROL 0x1u
#define R2D_CTX64_FLAG_INTEGER 0x2u
#define R2D_CTX64_FLAG_SEGMENTS 0x4u
#define R2D_CTX64_FLAG_FLOATING_POINT 0x8u
#define R2D_CTX64_FLAG_DEBUG_REGISTERS 0x10u

/* MXCSR after processor reset: what writers put in both copies when the real value is unknown. */
#define R2D_CTX64_MXCSR_RESET 0x1f80u

/* Selectors of x64 Windows in kernel mode (DS, ES and GS share the user data selector). */
#define R2D_CTX64_SEL_CS 0x10u
#define R2D_CTX64_SEL_SS 0x18u
#define R2D_CTX64_SEL_DS 0x2bu
#define R2D_CTX64_SEL_FS 0x53u

_Static_assert(R2D_CTX64_OFF_R15 - R2D_CTX64_OFF_RAX == 15 * 8 && R2D_CTX64_OFF_R15 + 8 == R2D_CTX64_OFF_RIP,
               "CONTEXT general registers");
_Static_assert(R2D_CTX64_OFF_RIP + 8 == R2D_CTX64_OFF_FLTSAVE, "CONTEXT FltSave");
_Static_assert(R2D_CTX64_OFF_FLTSAVE + R2D_CTX64_FLTSAVE_SIZE == R2D_CTX64_OFF_VECTOR_REGISTER,
               "CONTEXT VectorRegister");
_Static_assert(R2D_CTX64_OFF_VECTOR_REGISTER + 26 * 16 == R2D_CTX64_OFF_VECTOR_CONTROL,
               "CONTEXT VectorControl");
_Static_assert(R2D_CTX64_OFF_LAST_EXCEPTION_FROM_RIP + 8 == R2D_CTX64_SIZE, "CONTEXT size");

#endif
