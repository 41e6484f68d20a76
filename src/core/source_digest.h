/* SPDX-License-Identifier: MIT */
/*
 * The digests of the input file (SHA-256 and the others asked for), made from the bytes the writer reads
 * anyway. The writer hands over what it
 * read, in its own order; whatever it did not read from the file (headers, notes, padding between runs,
 * pages it read through a decoder or patched) is read here when the cursor reaches it, so the digests are
 * sha256sum's (md5sum's, sha1sum's) answer and each byte the writer copied is read once. Not thread-safe:
 * output.c calls it from one thread at a time.
 */
#ifndef R2D_CORE_SOURCE_DIGEST_H
#define R2D_CORE_SOURCE_DIGEST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "digests.h"

struct source_digest {
    const struct r2d_ctx *ctx; /* only to poll the cancel flag */
    atomic_int halt;           /* set from another thread: stop reading, the digest is not wanted */
    int fd;
    uint64_t size; /* the file's size when the conversion began: the digest covers exactly these bytes */
    uint64_t next; /* [0, next) is hashed */
    struct r2d_digests md;
    uint8_t *buf;            /* for the bytes read here */
    uint64_t ext_lo, ext_hi; /* [ext_lo, ext_hi) of the file is all data (ext_data) or all hole */
    int ext_data;
    int err; /* errno of a failed read, or one of the SOURCE_DIGEST_E* below */
    uint64_t err_off;
    int done; /* finished: hex or err is final */
    struct r2d_digest_hex hex;
};

#define SOURCE_DIGEST_ESHORT (-1)  /* the file ended before size */
#define SOURCE_DIGEST_ESTOP (-2)   /* interrupted */
#define SOURCE_DIGEST_ECRYPTO (-3) /* OpenSSL or memory */

/*
 * Set up the digests kinds (R2D_HASH_* bits) of fd (size bytes). Returns 0, or -1 (out of memory, an
 * algorithm unavailable): the digests are then missing.
 */
int r2d_source_digest_init(struct source_digest *sd, const struct r2d_ctx *ctx, int fd, uint64_t size,
                           unsigned kinds);
/*
 * The writer read len bytes at file offset off (data NULL: a hole of the file, len zero bytes). Bytes
 * before off not handed over yet are read from the file first; bytes already hashed are skipped.
 */
void r2d_source_digest_take(struct source_digest *sd, uint64_t off, const uint8_t *data, uint64_t len);
/* Read and hash the rest of the file, then finalise. */
void r2d_source_digest_finish(struct source_digest *sd);
/* Give up (a failed conversion): safe to call from another thread while take or finish runs. */
void r2d_source_digest_halt(struct source_digest *sd);
/* After finish: the hex digests, or all "" and why they are missing in why. */
void r2d_source_digest_result(const struct source_digest *sd, struct r2d_digest_hex *hex, char *why,
                              size_t why_len);
void r2d_source_digest_free(struct source_digest *sd);

#endif
