/* SPDX-License-Identifier: MIT */
/*
 * Evidence containers: files that hold a memory image in another form (compressed, in a ZIP, in EWF
 * segments). A container kind recognises itself by its head (a pure probe, like a format's) and opens as a
 * byte source (bytesrc.h) that decodes the byte source below it; the registry of formats unwraps containers
 * until none claims the head, so stacks (a LiME file in a zstd file, a raw image in a ZIP) probe like bare
 * files. docs/formats/containers.md says what each kind reads and how.
 */
#ifndef R2D_CONTAINERS_CONTAINER_H
#define R2D_CONTAINERS_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

#include "bytesrc.h"

#define R2D_CONTAINER_PROBE_MAX 64u /* the most of a head any container probe asks for */
#define R2D_CONTAINER_MAX_DEPTH 4   /* containers unwrapped at most: deeper stacks are refused */

/* What the user asked of containers (--member, --verify-container). */
struct r2d_container_opts {
    const char *member; /* the ZIP member to read; NULL: the one memory image candidate */
    int verify;         /* compare stored digests with the data (a full read at open) */
};

struct r2d_container_kind {
    const char *name;    /* "gzip": named in --info, the report and --list-formats */
    const char *summary; /* one line */
    /*
     * Pure: no I/O, no allocation. head holds min(R2D_CONTAINER_PROBE_MAX, size) bytes. Returns 1 when the
     * head is this kind's magic; why (may be NULL) receives a static string saying what matched.
     */
    int (*probe)(const uint8_t *head, size_t len, uint64_t size, const char **why);
    /*
     * Open a byte source decoding below, which it owns from now on (closed on failure too). It names itself,
     * says how it reads (r2d_bytesrc_set_how), records stored digests and notes, and with opts->verify
     * checks the digests against the data.
     */
    int (*open)(struct r2d_ctx *ctx, struct r2d_bytesrc *below, const struct r2d_container_opts *opts,
                struct r2d_bytesrc **out);
};

/* The kinds, NULL-terminated, in probing order. */
extern const struct r2d_container_kind *const r2d_containers[];

/** The kind whose probe claims head, or NULL; *why says what matched. */
const struct r2d_container_kind *r2d_container_probe(const uint8_t *head, size_t len, uint64_t size,
                                                     const char **why);
/**
 * Unwrap *bs: while a container claims its head, open it over *bs (which the new layer then owns). On
 * success *bs is the innermost decoded source (or the same one when no container claims it); on failure
 * the whole stack is closed and *bs is NULL.
 */
int r2d_container_unwrap(struct r2d_ctx *ctx, struct r2d_bytesrc **bs, const struct r2d_container_opts *opts);

/* "gzip -> zip" for the stack above the file (outermost first), into buf; "" for a plain file. */
void r2d_container_stack(const struct r2d_bytesrc *top, char *buf, size_t len);

/**
 * The segment files of the split EWF image path would be (case.E01: case.E01, case.E02 ... as libewf finds
 * them), before anything is opened, so that the evidence checks can protect each. *n = 0 and *names NULL
 * when the name is not an EWF first segment, when libewf finds nothing, or in a build without libewf.
 * Free with r2d_container_segments_free.
 */
void r2d_container_segments(const char *path, char ***names, int *n);
void r2d_container_segments_free(char **names, int n);

/* --- for the kinds --- */

/** The decoded source's name: "<below's name>[<what>]", malloc'd; NULL when out of memory. */
char *r2d_container_name(const struct r2d_bytesrc *below, const char *what);
/** Lowercase hex of n bytes into hex (2n + 1 bytes). */
void r2d_container_hex(const uint8_t *p, size_t n, char *hex);

#endif
