/* SPDX-License-Identifier: MIT */
/*
 * ELF notes as QEMU writes them (dump-guest-memory: ELF PT_NOTE, kdump sub-header note area): walks the
 * notes and turns every "QEMU" note (QEMUCPUState version 1) into a CPU of the image.
 * Facts: docs/formats/elf.md F2-F3.
 */
#ifndef R2D_FORMATS_QEMU_NOTES_H
#define R2D_FORMATS_QEMU_NOTES_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"

/* What a note area held, for the caller's report. */
struct r2d_qemu_notes {
    unsigned qemu;     /* "QEMU" notes, each added as a CPU */
    unsigned prstatus; /* "CORE" NT_PRSTATUS notes (registers without CR3: counted, not used) */
    unsigned other;    /* anything else (VMCOREINFO, ...) */
};

/* How the caller knows whether the CPUs were in 64-bit mode. */
enum r2d_qemu_long_mode {
    R2D_QEMU_LM_NO = 0,     /* not long mode (ELF e_machine EM_386) */
    R2D_QEMU_LM_YES = 1,    /* long mode (ELF e_machine EM_X86_64) */
    R2D_QEMU_LM_FROM_CS = 2 /* per CPU from the L bit of the CS descriptor flags (kdump: no e_machine) */
};

/**
 * Decode one "QEMU" note's descriptor (d, descsz bytes, at file offset off) as QEMUCPUState version 1 and add
 * it to img as a CPU. Shorter than 0x1b0 bytes, a size field below 0x1b0 or a version other than 1 is an
 * error naming the offset; kernel_gs_base is taken only when both descsz and the size field reach 0x1b8.
 */
int r2d_qemu_cpu_decode(struct r2d_ctx *ctx, struct r2d_image *img, uint64_t off, const uint8_t *d,
                        uint32_t descsz, enum r2d_qemu_long_mode long_mode);

/**
 * Walk len bytes of ELF notes (notes, read from file offset file_off of the image's input; what names the
 * area in messages, e.g. "kdump note area") and add one CPU to img per "QEMU" note, in order. Zero padding
 * after the last note is accepted. A note running past the area, a QEMU note shorter than 0x1b0 bytes or of
 * a version other than 1 is an error with the offset; counts (may be NULL) receives the tally.
 */
int r2d_qemu_notes_parse(struct r2d_ctx *ctx, struct r2d_image *img, const uint8_t *notes, size_t len,
                         uint64_t file_off, const char *what, enum r2d_qemu_long_mode long_mode,
                         struct r2d_qemu_notes *counts);

#endif
