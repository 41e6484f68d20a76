/* SPDX-License-Identifier: MIT */
/*
 * A set of message digests computed together (--hash sha256,sha1,md5): one EVP context per algorithm, fed
 * the same bytes. Every digest is libcrypto's; nothing here hashes by itself.
 */
#ifndef R2D_CORE_DIGESTS_H
#define R2D_CORE_DIGESTS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "diag.h"
#include "raw2dmp/types.h"

/* The algorithms, in the order reports list them. Index i is bit r2d_digest_bit(i) of enum r2d_hash_kind. */
#define R2D_DIGEST_KINDS 3
#define R2D_DIGEST_HEX_MAX 65 /* the longest (SHA-256) as hex, with its NUL */

/* One hex string per algorithm, "" for the ones not computed. */
struct r2d_digest_hex {
    char hex[R2D_DIGEST_KINDS][R2D_DIGEST_HEX_MAX];
};

struct r2d_digests {
    unsigned kinds; /* R2D_HASH_* bits; 0 = nothing is computed */
    EVP_MD_CTX *md[R2D_DIGEST_KINDS];
};

/* "sha256", "sha1", "md5" for index i < R2D_DIGEST_KINDS. */
const char *r2d_digest_name(unsigned i);
/* The enum r2d_hash_kind bit of index i. */
unsigned r2d_digest_bit(unsigned i);
/* The bits of every algorithm this build knows, for checking a caller's set. */
unsigned r2d_digest_all(void);

/* Set up the contexts for kinds (0 is allowed). Returns 0, or -1 (out of memory, algorithm unavailable). */
int r2d_digests_init(struct r2d_digests *d, unsigned kinds);
/* Feed len bytes to every digest of the set. Returns 0, or -1 when libcrypto fails. */
int r2d_digests_update(struct r2d_digests *d, const void *p, size_t len);
/* Feed len zero bytes (a hole) from a static buffer: no read, no resident memory. 0 or -1. */
int r2d_digests_zeros(struct r2d_digests *d, uint64_t len);
/* Finalise every digest into out (the others ""). Returns 0 or -1. The set can only be freed afterwards. */
int r2d_digests_final(struct r2d_digests *d, struct r2d_digest_hex *out);
void r2d_digests_free(struct r2d_digests *d);
/* Empty every string of h. */
void r2d_digest_hex_clear(struct r2d_digest_hex *h);

/*
 * Digest a whole file (a symbol file the report names) in constant memory. *size receives the bytes
 * hashed. Returns 0, or an error naming path (R2D_EIO, R2D_ENOMEM).
 */
int r2d_digest_file(struct r2d_ctx *ctx, const char *path, unsigned kinds, struct r2d_digest_hex *out,
                    uint64_t *size);
/*
 * The same over an open descriptor, read from where it stands to its end (path names it in messages). The
 * context's cancel flag, and *stop when not NULL (set by another thread), end it with R2D_ECANCELED.
 */
int r2d_digest_fd(struct r2d_ctx *ctx, int fd, const char *path, unsigned kinds, const atomic_int *stop,
                  struct r2d_digest_hex *out, uint64_t *size);

#endif
