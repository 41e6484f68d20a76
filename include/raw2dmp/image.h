/* SPDX-License-Identifier: MIT */
/* The sparse physical image: sorted runs of physical memory plus CPU states, whatever the input format. */
#ifndef RAW2DMP_IMAGE_H
#define RAW2DMP_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "raw2dmp/ctx.h"

#define R2D_PAGE_SIZE 4096u
#define R2D_PAGE_SHIFT 12

struct r2d_image;
struct r2d_source_ops;

/*
 * One run of physical memory [pa, pa + len). Runs in an image are sorted by pa and never overlap. A run
 * need not be page-aligned (QEMU ELF PT_LOADs may start or end mid-page); the writer pads partial pages.
 */
struct r2d_run {
    uint64_t pa;
    uint64_t len;
    /* Where the bytes come from: a slice of the input file (ops == NULL) ... */
    uint64_t file_off;
    /* ... or a decoding source, read at src_off (kdump pages, migration streams, inflated LiME). */
    const struct r2d_source_ops *ops;
    uint64_t src_off;
};

/* A segment register or descriptor-table register as QEMU records it. */
struct r2d_segment {
    uint32_t selector;
    uint32_t limit;
    uint32_t flags;
    uint64_t base;
};

enum r2d_cpu_flags {
    R2D_CPU_HAVE_KGSBASE = 1u << 0, /* kernel_gs_base is valid (QEMUCPUState size >= 0x1b8) */
    R2D_CPU_LONG_MODE = 1u << 1,    /* the CPU was in 64-bit mode */
};

/* The registers an input format recorded for one virtual CPU, in the order the file lists them. */
struct r2d_cpu_state {
    uint32_t flags;
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags;
    struct r2d_segment cs, ds, es, fs, gs, ss, ldt, tr, gdt, idt;
    uint64_t cr0, cr2, cr3, cr4;
    uint64_t kernel_gs_base;
};

/* What to do when a physical read touches an address no run covers. */
enum r2d_hole_policy {
    R2D_HOLE_ERROR, /* fail with R2D_EHOLE naming the address */
    R2D_HOLE_ZERO,  /* read zeros */
};

/** Free an image, closing its input file and freeing its decoding source; NULL is a no-op. */
R2D_API void r2d_image_free(struct r2d_image *img);

R2D_API const char *r2d_image_path(const struct r2d_image *img);
R2D_API const char *r2d_image_format_name(const struct r2d_image *img);
R2D_API uint64_t r2d_image_file_size(const struct r2d_image *img);
R2D_API size_t r2d_image_run_count(const struct r2d_image *img);
/** Run i (0 <= i < run count), sorted by physical address. */
R2D_API const struct r2d_run *r2d_image_run(const struct r2d_image *img, size_t i);
/** Total bytes covered by runs. */
R2D_API uint64_t r2d_image_total_bytes(const struct r2d_image *img);
R2D_API size_t r2d_image_cpu_count(const struct r2d_image *img);
R2D_API const struct r2d_cpu_state *r2d_image_cpu(const struct r2d_image *img, size_t i);
/** Number of key/value notes the format attached (e.g. "elf.machine" = "EM_X86_64"). */
R2D_API size_t r2d_image_note_count(const struct r2d_image *img);
R2D_API void r2d_image_note(const struct r2d_image *img, size_t i, const char **key, const char **value);

/**
 * Read len bytes of physical memory at pa into buf, across run boundaries. Bytes no run covers are an
 * R2D_EHOLE error (message names the address) or zeros, as the caller chooses.
 */
R2D_API int r2d_image_read(struct r2d_ctx *ctx, const struct r2d_image *img, uint64_t pa, void *buf,
                           size_t len, enum r2d_hole_policy holes);
/** True when every byte of [pa, pa + len) is covered by a run. */
R2D_API int r2d_image_covers(const struct r2d_image *img, uint64_t pa, uint64_t len);

/**
 * Open path read-only with the named format, or with "auto" (the most confident probe wins; a tie at
 * the top is an error naming both). The choice and the reason are logged at R2D_LOG_INFO and can be
 * read back with r2d_image_probe_reason().
 */
R2D_API int r2d_image_open(struct r2d_ctx *ctx, const char *path, const char *format, struct r2d_image **out);
R2D_API const char *r2d_image_probe_reason(const struct r2d_image *img);

#endif
