/* SPDX-License-Identifier: MIT */
/*
 * Byte sources: what a format reads its input from. A byte source is a named, sized, random-access stream
 * of bytes: a plain file or block device, or a decoded container (EWF, gzip, a ZIP member: src/containers)
 * stacked on the byte source it decodes, which it owns. Formats never see file descriptors; the writer asks
 * for one (r2d_bytesrc_fd) only to copy a plain file's bytes in the kernel, and the input digest is made of
 * the file at the bottom of the stack (r2d_bytesrc_base), never of decoded bytes.
 */
#ifndef R2D_CORE_BYTESRC_H
#define R2D_CORE_BYTESRC_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

struct r2d_bytesrc;

/* What a kind of byte source implements. read and close are required, extent is optional. */
struct r2d_bytesrc_ops {
    const char *kind; /* "file"; named in --info and the report */
    /* Read exactly len bytes at off; the caller has checked off + len <= size. what names them for errors. */
    int (*read)(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, uint64_t off, void *buf, size_t len,
                const char *what);
    /*
     * Is off data or a hole, and where does that extent end (capped at end)? Sources that know nothing of
     * holes leave extent NULL and everything is data.
     */
    void (*extent)(struct r2d_bytesrc *bs, uint64_t off, uint64_t end, int *is_data, uint64_t *ext_end);
    void (*close)(struct r2d_bytesrc *bs);
};

/**
 * Create a byte source of size bytes named name (copied), read through ops with private state priv. fd is
 * the descriptor of a file whose bytes are the source's bytes at the same offsets, or -1. On failure
 * ops->close is still called, so the caller never frees priv itself.
 */
int r2d_bytesrc_new(struct r2d_ctx *ctx, const struct r2d_bytesrc_ops *ops, void *priv, const char *name,
                    uint64_t size, int fd, struct r2d_bytesrc **out);
/**
 * Open a regular file or block device read-only (evidence is never opened for writing). R2D_EINVAL for
 * other kinds of file (a directory, a pipe: formats need random access).
 */
int r2d_bytesrc_open_file(struct r2d_ctx *ctx, const char *path, struct r2d_bytesrc **out);
/**
 * Open a companion file of base (a .vmem beside a .vmss): name is taken relative to the directory of base's
 * name unless it is absolute.
 */
int r2d_bytesrc_open_companion(struct r2d_ctx *ctx, const struct r2d_bytesrc *base, const char *name,
                               struct r2d_bytesrc **out);
/* Called with each name found by r2d_bytesrc_list_companions; a non-zero return stops the listing. */
typedef int (*r2d_companion_fn)(void *arg, const char *name);
/**
 * Call fn(arg, name) for each regular file in the directory of base's name whose name ends in suffix (ASCII
 * case-insensitively), in no particular order; names are relative to that directory. Returns 0, fn's non-zero
 * return, or R2D_EIO (message set) when the directory cannot be read.
 */
int r2d_bytesrc_list_companions(struct r2d_ctx *ctx, const struct r2d_bytesrc *base, const char *suffix,
                                r2d_companion_fn fn, void *arg);
/**
 * Like r2d_bytesrc_new for a source decoding below (a container layer): it owns below from now on, also
 * when this fails, and closes it after its own close. It has no descriptor.
 */
int r2d_bytesrc_new_layer(struct r2d_ctx *ctx, const struct r2d_bytesrc_ops *ops, void *priv,
                          struct r2d_bytesrc *below, const char *name, uint64_t size,
                          struct r2d_bytesrc **out);
/** Close and free, then the source below it, if any; NULL is a no-op. */
void r2d_bytesrc_close(struct r2d_bytesrc *bs);

/**
 * Read exactly len bytes at off. Past the end is R2D_ETRUNC with "<name>: offset 0x..: <what> of 0x..
 * bytes runs past end of file (size 0x..)"; what names the structure being read ("program header").
 */
int r2d_bytesrc_read(struct r2d_ctx *ctx, const struct r2d_bytesrc *bs, uint64_t off, void *buf, size_t len,
                     const char *what);
/** Data or hole at off (see the ops); a source without hole information answers "data up to end". */
void r2d_bytesrc_extent(const struct r2d_bytesrc *bs, uint64_t off, uint64_t end, int *is_data,
                        uint64_t *ext_end);

const char *r2d_bytesrc_name(const struct r2d_bytesrc *bs);
const char *r2d_bytesrc_kind(const struct r2d_bytesrc *bs);
uint64_t r2d_bytesrc_size(const struct r2d_bytesrc *bs);
/** The descriptor of a plain file whose offsets are the source's, for copy_file_range and digests; or -1. */
int r2d_bytesrc_fd(const struct r2d_bytesrc *bs);
/** The private state given to r2d_bytesrc_new. */
void *r2d_bytesrc_priv(const struct r2d_bytesrc *bs);
/** The source a container layer decodes, or NULL for a plain file. */
const struct r2d_bytesrc *r2d_bytesrc_below(const struct r2d_bytesrc *bs);
/** The bottom of the stack: the file on disk whose digest is the input's (bs itself when plain). */
const struct r2d_bytesrc *r2d_bytesrc_base(const struct r2d_bytesrc *bs);

/*
 * --- the files on disk a layer reads by name besides the one below it (a split EWF image's segments) ---
 * The input's files are the list of the one layer of the stack that has one (its first entry is the base
 * file itself), else just the base file: the report identifies and hashes each, and no output may be one.
 */

/** Append path (copied) to the layer's list of files read, in the order the layer reads them. */
int r2d_bytesrc_add_file(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, const char *path);
size_t r2d_bytesrc_file_count(const struct r2d_bytesrc *bs);
/** Entry i of the list, or NULL past its end. */
const char *r2d_bytesrc_file(const struct r2d_bytesrc *bs, size_t i);
/** The outermost layer of the stack from bs down that lists files, or NULL when none does. */
const struct r2d_bytesrc *r2d_bytesrc_files_owner(const struct r2d_bytesrc *bs);

/* --- what a container layer says about itself (--info and the report's "containers") --- */

/* A digest the container stores of its decoded data (EWF's MD5, a ZIP member's CRC-32). */
enum r2d_digest_state {
    R2D_DIGEST_UNCHECKED, /* reported, not compared (see --verify-container) */
    R2D_DIGEST_MATCHED,   /* compared with the data read: equal (a mismatch is an error, never a state) */
};

struct r2d_bytesrc_digest {
    char alg[16];  /* "md5", "sha1", "crc32", "xxh32" ... */
    char hex[129]; /* as stored, lowercase hex */
    enum r2d_digest_state state;
    const char *how; /* static: how it was checked ("while indexing", "--verify-container"), or NULL */
};

/** How the layer reads what is below it ("deflate, 12 restart points"); copied. */
int r2d_bytesrc_set_how(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, const char *how);
/** NULL when never set. */
const char *r2d_bytesrc_how(const struct r2d_bytesrc *bs);
/** Attach a note (both strings copied), e.g. "segments" = "3 (case.E01 .. case.E03)". */
int r2d_bytesrc_add_note(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, const char *key, const char *value);
size_t r2d_bytesrc_note_count(const struct r2d_bytesrc *bs);
void r2d_bytesrc_note(const struct r2d_bytesrc *bs, size_t i, const char **key, const char **value);
/** Record a stored digest; the index of the new entry goes to *index (may be NULL). */
int r2d_bytesrc_add_digest(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, const struct r2d_bytesrc_digest *d,
                           size_t *index);
size_t r2d_bytesrc_digest_count(const struct r2d_bytesrc *bs);
const struct r2d_bytesrc_digest *r2d_bytesrc_digest(const struct r2d_bytesrc *bs, size_t i);
/** Mark digest i as checked, and how (static string). */
void r2d_bytesrc_digest_checked(struct r2d_bytesrc *bs, size_t i, const char *how);

#endif
