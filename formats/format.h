/* SPDX-License-Identifier: MIT */
/*
 * Everything a format module in formats/ needs: the ops table it exports, and (through image.h, bytesrc.h
 * and bytes.h) the calls that build an image from its input. A format reads its container and describes
 * physical memory as runs; it never copies page data and never allocates per page.
 */
#ifndef R2D_FORMATS_FORMAT_H
#define R2D_FORMATS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "bytesrc.h"
#include "container.h"
#include "image.h"
#include "io.h"
#include "diag.h"

/* Probe confidences. */
#define R2D_PROBE_NO 0
#define R2D_PROBE_FALLBACK 1 /* raw: anything is a raw image */
#define R2D_PROBE_MAGIC 50   /* magic matches */
#define R2D_PROBE_SURE 100   /* magic and header fields agree */

/* The most of a file's head any probe asks for (the crash dump's bitmap header is the largest). */
#define R2D_PROBE_MAX_BYTES 16384u

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
     * Describe the input as runs and CPU states: img was created over the input (r2d_image_input) opened
     * read-only; open adds runs, CPUs, notes and properties and returns 0, or an error with the message set.
     * The caller frees img on failure and finishes it (sorts, checks) on success.
     */
    int (*open)(struct r2d_ctx *ctx, struct r2d_image *img);
};

/* The registry (formats/registry.c): NULL-terminated, in --list-formats order. */
extern const struct r2d_format *const r2d_formats[];
/* A format by name, case-insensitively; NULL when unknown. */
const struct r2d_format *r2d_format_find(const char *name);

/*
 * What the caller knows about an input beyond its path and format (from struct r2d_options). Container
 * hints steer the unwrapping; the companion and verify_container are handed to the image before the format's
 * open, which reads them back (r2d_image_hint_companion, r2d_image_hint_verify). Formats that have no use for
 * a hint ignore it.
 */
struct r2d_open_hints {
    const char *companion; /* the memory file of a state file (--vmem), relative to the working directory */
    const char *member;    /* --member: the ZIP member holding the image */
    int no_containers;     /* --container none: probe the formats on the file itself */
    int verify_container;  /* --verify-container: check the containers' (and AFF4's) stored digests at open */
};

/**
 * Open path read-only with the named format, or with "auto" (the most confident probe wins; a tie at
 * the top is an error naming both). Containers (src/containers) are unwrapped first, unless the hints say
 * otherwise (hints may be NULL: the defaults), and the format is probed on what they decode. The choice and
 * the reason are logged at R2D_LOG_INFO and can be read back with r2d_image_probe_reason().
 */
int r2d_format_open(struct r2d_ctx *ctx, const char *path, const char *format, struct r2d_image **out);
int r2d_format_open_hints(struct r2d_ctx *ctx, const char *path, const char *format,
                          const struct r2d_open_hints *hints, struct r2d_image **out);
/** The same over a byte source already open (owned by the image from now on, or closed on failure). */
int r2d_format_open_bytes(struct r2d_ctx *ctx, struct r2d_bytesrc *input, const char *format,
                          const struct r2d_open_hints *hints, struct r2d_image **out);
/**
 * The same with another list of formats (NULL-terminated), for tests of the probing rules; no container is
 * unwrapped.
 */
int r2d_format_open_from(struct r2d_ctx *ctx, const struct r2d_format *const *list, struct r2d_bytesrc *input,
                         const char *format, struct r2d_image **out);

#endif
