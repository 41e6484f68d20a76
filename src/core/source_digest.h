/* SPDX-License-Identifier: MIT */
/*
 * The SHA-256 of the input file, made from the bytes the writer reads anyway. The writer hands over what it
 * read, in its own order; whatever it did not read from the file (headers, notes, padding between runs,
 * pages it read through a decoder or patched) is read here when the cursor reaches it, so the digest is
 * sha256sum's answer and each byte the writer copied is read once. Not thread-safe: output.c calls it from
 * one thread at a time.
 */
#ifndef R2D_CORE_SOURCE_DIGEST_H
#define R2D_CORE_SOURCE_DIGEST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "diag.h"

struct source_digest {
    const struct r2d_ctx *ctx; /* only to poll the cancel flag */
    atomic_int halt;           /* set from another thread: stop reading, the digest is not wanted */
    int fd;
    uint64_t size; /* the file's size when the conversion began: the digest covers exactly these bytes */
    uint64_t next; /* [0, next) is hashed */
    EVP_MD_CTX *md;
    uint8_t *buf;  /* for the bytes read here */
    int err;       /* errno of a failed read, or one of the SOURCE_DIGEST_E* below */
    uint64_t err_off;
    int done;      /* finished: hex or err is final */
    char hex[65];
};

#define SOURCE_DIGEST_ESHORT (-1)   /* the file ended before size */
#define SOURCE_DIGEST_ESTOP (-2)    /* interrupted */
#define SOURCE_DIGEST_ECRYPTO (-3)  /* OpenSSL or memory */

/*
 * Feed len zero bytes (a hole) to md from a static buffer: no read, no resident memory. Returns 0, or -1
 * when OpenSSL fails. Shared with the output digest.
 */
int r2d_digest_zeros(EVP_MD_CTX *md, uint64_t len);

/* Set up for fd (size bytes). Returns 0, or -1 (out of memory or no SHA-256): the digest is then missing. */
int r2d_source_digest_init(struct source_digest *sd, const struct r2d_ctx *ctx, int fd, uint64_t size);
/*
 * The writer read len bytes at file offset off (data NULL: a hole of the file, len zero bytes). Bytes
 * before off not handed over yet are read from the file first; bytes already hashed are skipped.
 */
void r2d_source_digest_take(struct source_digest *sd, uint64_t off, const uint8_t *data, uint64_t len);
/* Read and hash the rest of the file, then finalise. */
void r2d_source_digest_finish(struct source_digest *sd);
/* Give up (a failed conversion): safe to call from another thread while take or finish runs. */
void r2d_source_digest_halt(struct source_digest *sd);
/* After finish: the hex digest, or "" and why it is missing in why. */
void r2d_source_digest_result(const struct source_digest *sd, char hex[65], char *why, size_t why_len);
void r2d_source_digest_free(struct source_digest *sd);

#endif
