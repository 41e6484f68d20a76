/* SPDX-License-Identifier: MIT */
/*
 * Everything a format module in formats/ needs: the ops table it exports, the calls that build an image,
 * and bounded file reads. A format reads its container and describes physical memory as runs; it never
 * copies page data and never allocates per page.
 */
#ifndef RAW2DMP_FORMAT_H
#define RAW2DMP_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "raw2dmp/bytes.h"
#include "raw2dmp/ctx.h"
#include "raw2dmp/image.h"

/* Probe confidences. */
#define R2D_PROBE_NO 0
#define R2D_PROBE_FALLBACK 1 /* raw: anything is a raw image */
#define R2D_PROBE_MAGIC 50   /* magic matches */
#define R2D_PROBE_SURE 100   /* magic and header fields agree */

struct r2d_format {
    const char *name;    /* --input-format value, named in the report */
    const char *summary; /* one line for --list-formats */
    size_t probe_bytes;  /* how much of the file's head probe() wants (it may get less for short files) */
    /*
     * Pure: no I/O, no allocation. head holds min(probe_bytes, file_size) bytes. Returns a confidence
     * (R2D_PROBE_*); why (may be NULL) receives a static string saying what matched.
     */
    int (*probe)(const uint8_t *head, size_t len, uint64_t file_size, const char **why);
    /*
     * Describe the file as runs and CPU states: img was created by the core with the input already open
     * read-only (r2d_image_fd) and its size known; open adds runs, CPUs and notes and returns 0, or an
     * error with the message set. The core frees img on failure and finishes (sorts, checks) on success.
     */
    int (*open)(struct r2d_ctx *ctx, struct r2d_image *img);
};

/* The registry (formats/registry.c): NULL-terminated, in --list-formats order. */
R2D_API extern const struct r2d_format *const r2d_formats[];
R2D_API const struct r2d_format *r2d_format_find(const char *name);

/*
 * A decoding source for runs whose bytes are not a plain slice of the input (compressed pages, streams).
 * One source per image; the image frees it with free().
 */
struct r2d_source_ops {
    const char *name;
    /* Read len bytes at offset off of the source's own address space (r2d_run.src_off + delta). */
    int (*read)(struct r2d_ctx *ctx, void *src, uint64_t off, void *buf, size_t len);
    void (*free)(void *src);
};

/* --- building an image (format modules only) --- */
R2D_API int r2d_image_fd(const struct r2d_image *img);
/** A file slice: physical [pa, pa + len) is at input offset file_off. Bounds are checked against the file. */
R2D_API int r2d_image_add_file_run(struct r2d_ctx *ctx, struct r2d_image *img, uint64_t pa, uint64_t len,
                                   uint64_t file_off);
/** Attach the image's decoding source (owned by the image from now on, even when this fails). */
R2D_API int r2d_image_set_source(struct r2d_ctx *ctx, struct r2d_image *img, const struct r2d_source_ops *ops,
                                 void *src);
/** A run read through the source set above, at source offset src_off. */
R2D_API int r2d_image_add_source_run(struct r2d_ctx *ctx, struct r2d_image *img, uint64_t pa, uint64_t len,
                                     uint64_t src_off);
R2D_API int r2d_image_add_cpu(struct r2d_ctx *ctx, struct r2d_image *img, const struct r2d_cpu_state *cpu);
/** Attach a note (both strings copied). */
R2D_API int r2d_image_add_note(struct r2d_ctx *ctx, struct r2d_image *img, const char *key, const char *value);

/*
 * Read exactly len bytes at offset off of the image's input file. Reading past the end is R2D_ETRUNC with a
 * message "<path>: offset 0x..: <what> of 0x.. bytes runs past end of file (size 0x..)"; what names the
 * structure being read ("program header", "LiME range header").
 */
R2D_API int r2d_image_pread(struct r2d_ctx *ctx, const struct r2d_image *img, uint64_t off, void *buf,
                            size_t len, const char *what);

/*
 * A buffer for reading files into, freed with free(); NULL when out of memory. Page aligned: malloc returns
 * large blocks 16 bytes past a page boundary, and the kernel copies into such a buffer four to six times
 * slower than into an aligned one (docs/performance.md).
 */
R2D_API void *r2d_alloc_io(size_t len);

/* Read exactly len bytes at off from fd, looping on short reads; a short file is R2D_ETRUNC. */
R2D_API int r2d_pread_full(struct r2d_ctx *ctx, int fd, const char *path, uint64_t off, void *buf, size_t len,
                           const char *what);

#endif
