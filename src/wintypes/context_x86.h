/* SPDX-License-Identifier: MIT */
/* The x86 (32-bit) CONTEXT record as named offsets and its ContextFlags bits. */
#ifndef R2D_WINTYPES_CONTEXT_X86_H
#define R2D_WINTYPES_CONTEXT_X86_H

/*
 * Offsets relative to the record (docs/formats/windows-layouts.md section 6), only as far as public sources
 * state them: the member order from Microsoft's "CONTEXT (x86 32-bit)" page (winnt.h, learn.microsoft.com);
 * each offset and the size from the Vergilius Project's _CONTEXT and _FLOATING_SAVE_AREA of the x86
 * Windows 7 SP1 and 8.1 Update 1 kernels (vergiliusproject.com), which agree; the three x86 ISFs in
 * tests/data/isf32 (XP, 7, 10) give the same _CONTEXT offsets (checked by tests/fixtures/test_fixture_x86.py).
 * What DUMP_HEADER32's ContextRecord and a 32-bit guest's KPRCB CONTEXT hold (src/engine/context86.c).
 */
#define R2D_CTX86_SIZE 0x2cc

#define R2D_CTX86_OFF_CONTEXT_FLAGS 0x000 /* u32 */
#define R2D_CTX86_OFF_DR0 0x004           /* u32 each */
#define R2D_CTX86_OFF_DR1 0x008
#define R2D_CTX86_OFF_DR2 0x00c
#define R2D_CTX86_OFF_DR3 0x010
#define R2D_CTX86_OFF_DR6 0x014
#define R2D_CTX86_OFF_DR7 0x018
#define R2D_CTX86_OFF_FLOAT_SAVE 0x01c /* FLOATING_SAVE_AREA (x87 state, FNSAVE-like) */
#define R2D_CTX86_FLOAT_SAVE_SIZE 0x70
#define R2D_CTX86_OFF_SEG_GS 0x08c /* u32 each */
#define R2D_CTX86_OFF_SEG_FS 0x090
#define R2D_CTX86_OFF_SEG_ES 0x094
#define R2D_CTX86_OFF_SEG_DS 0x098
#define R2D_CTX86_OFF_EDI 0x09c /* u32 each */
#define R2D_CTX86_OFF_ESI 0x0a0
#define R2D_CTX86_OFF_EBX 0x0a4
#define R2D_CTX86_OFF_EDX 0x0a8
#define R2D_CTX86_OFF_ECX 0x0ac
#define R2D_CTX86_OFF_EAX 0x0b0
#define R2D_CTX86_OFF_EBP 0x0b4
#define R2D_CTX86_OFF_EIP 0x0b8
#define R2D_CTX86_OFF_SEG_CS 0x0bc
#define R2D_CTX86_OFF_EFLAGS 0x0c0
#define R2D_CTX86_OFF_ESP 0x0c4
#define R2D_CTX86_OFF_SEG_SS 0x0c8
/* 512 bytes; their inner layout (an FXSAVE image?) is stated by none of the sources above: not defined. */
#define R2D_CTX86_OFF_EXTENDED_REGISTERS 0x0cc
#define R2D_CTX86_EXTENDED_REGISTERS_SIZE 512

/*
 * ContextFlags bits [single: Breakpad's minidump_cpu_x86.h, which mirrors Windows' CONTEXT_i386 values;
 * not checked against a Microsoft header].
 */
#define R2D_CTX86_FLAG_I386 0x00010000u
#define R2D_CTX86_FLAG_CONTROL 0x1u
#define R2D_CTX86_FLAG_INTEGER 0x2u
#define R2D_CTX86_FLAG_SEGMENTS 0x4u
#define R2D_CTX86_FLAG_FLOATING_POINT 0x8u
#define R2D_CTX86_FLAG_DEBUG_REGISTERS 0x10u
#define R2D_CTX86_FLAG_EXTENDED_REGISTERS 0x20u

_Static_assert(R2D_CTX86_OFF_FLOAT_SAVE + R2D_CTX86_FLOAT_SAVE_SIZE == R2D_CTX86_OFF_SEG_GS,
               "x86 CONTEXT FloatSave");
_Static_assert(R2D_CTX86_OFF_SEG_SS + 4 == R2D_CTX86_OFF_EXTENDED_REGISTERS, "x86 CONTEXT ExtendedRegisters");
_Static_assert(R2D_CTX86_OFF_EXTENDED_REGISTERS + R2D_CTX86_EXTENDED_REGISTERS_SIZE == R2D_CTX86_SIZE,
               "x86 CONTEXT size");

#endif
