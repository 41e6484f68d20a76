/* SPDX-License-Identifier: MIT */
/* A set of libcrypto digests fed the same bytes (see digests.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"

#include "digests.h"

/* Holes are hashed from this. Never written: its pages stay the kernel's zero page, costing no memory. */
static const uint8_t digests_zero_buf[256u << 10];

/*
 * With more than one algorithm, a buffer is fed to them in pieces of this size, each piece to every
 * algorithm in turn, so that it is still in the CPU's cache for the second and third.
 */
#define DIGESTS_PIECE (64u << 10)
#define DIGESTS_FILE_BUF (1u << 20)

static const struct {
    const char *name;
    const EVP_MD *(*md)(void);
    unsigned bit;
} digests_algos[R2D_DIGEST_KINDS] = {
    {"sha256", EVP_sha256, R2D_HASH_SHA256},
    {"sha1", EVP_sha1, R2D_HASH_SHA1},
    {"md5", EVP_md5, R2D_HASH_MD5},
};

const char *
r2d_digest_name(unsigned i)
{
    return i < R2D_DIGEST_KINDS ? digests_algos[i].name : "?";
}

unsigned
r2d_digest_bit(unsigned i)
{
    return i < R2D_DIGEST_KINDS ? digests_algos[i].bit : 0;
}

unsigned
r2d_digest_all(void)
{
    unsigned all = 0;

    for (unsigned i = 0; i < R2D_DIGEST_KINDS; i++)
        all |= digests_algos[i].bit;
    return all;
}

void
r2d_digest_hex_clear(struct r2d_digest_hex *h)
{
    for (unsigned i = 0; i < R2D_DIGEST_KINDS; i++)
        h->hex[i][0] = '\0';
}

int
r2d_digests_init(struct r2d_digests *d, unsigned kinds)
{
    memset(d, 0, sizeof(*d));
    d->kinds = kinds;
    for (unsigned i = 0; i < R2D_DIGEST_KINDS; i++) {
        if (!(kinds & digests_algos[i].bit))
            continue;
        d->md[i] = EVP_MD_CTX_new();
        if (!d->md[i] || EVP_DigestInit_ex(d->md[i], digests_algos[i].md(), NULL) != 1) {
            r2d_digests_free(d);
            return -1;
        }
    }
    return 0;
}

/* Feed one piece to every digest of the set. */
static int
digests_feed(struct r2d_digests *d, const uint8_t *p, size_t len)
{
    for (unsigned i = 0; i < R2D_DIGEST_KINDS; i++)
        if (d->md[i] && EVP_DigestUpdate(d->md[i], p, len) != 1)
            return -1;
    return 0;
}

int
r2d_digests_update(struct r2d_digests *d, const void *p, size_t len)
{
    const uint8_t *b = p;
    int n = 0;

    for (unsigned i = 0; i < R2D_DIGEST_KINDS; i++)
        n += d->md[i] != NULL;
    if (n <= 1)
        return digests_feed(d, b, len);
    while (len > 0) {
        const size_t k = len > DIGESTS_PIECE ? DIGESTS_PIECE : len;

        if (digests_feed(d, b, k))
            return -1;
        b += k;
        len -= k;
    }
    return 0;
}

int
r2d_digests_zeros(struct r2d_digests *d, uint64_t len)
{
    while (len > 0) {
        const size_t n = len > sizeof(digests_zero_buf) ? sizeof(digests_zero_buf) : (size_t)len;

        if (digests_feed(d, digests_zero_buf, n))
            return -1;
        len -= n;
    }
    return 0;
}

int
r2d_digests_final(struct r2d_digests *d, struct r2d_digest_hex *out)
{
    static const char digits[] = "0123456789abcdef";

    r2d_digest_hex_clear(out);
    for (unsigned i = 0; i < R2D_DIGEST_KINDS; i++) {
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned len = 0;

        if (!d->md[i])
            continue;
        if (EVP_DigestFinal_ex(d->md[i], md, &len) != 1 || 2 * len >= R2D_DIGEST_HEX_MAX) {
            r2d_digest_hex_clear(out);
            return -1;
        }
        for (unsigned j = 0; j < len; j++) {
            out->hex[i][2 * j] = digits[md[j] >> 4];
            out->hex[i][2 * j + 1] = digits[md[j] & 15];
        }
        out->hex[i][2 * len] = '\0';
    }
    return 0;
}

void
r2d_digests_free(struct r2d_digests *d)
{
    for (unsigned i = 0; i < R2D_DIGEST_KINDS; i++) {
        EVP_MD_CTX_free(d->md[i]);
        d->md[i] = NULL;
    }
}

int
r2d_digest_fd(struct r2d_ctx *ctx, int fd, const char *path, unsigned kinds, const atomic_int *stop,
              struct r2d_digest_hex *out, uint64_t *size)
{
    struct r2d_digests d;
    uint8_t *buf = r2d_alloc_io(DIGESTS_FILE_BUF);
    int rc = 0;

    *size = 0;
    r2d_digest_hex_clear(out);
    if (!buf || r2d_digests_init(&d, kinds) != 0) {
        free(buf);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for its digest", path);
    }
    for (;;) {
        ssize_t n;

        if (r2d_cancelled(ctx) || (stop && atomic_load(stop))) {
            rc = r2d_err(ctx, R2D_ECANCELED, "%s: interrupted while hashing", path);
            break;
        }
        n = read(fd, buf, DIGESTS_FILE_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = r2d_err_errno(ctx, "%s: offset 0x%" PRIx64 ": read failed while hashing", path, *size);
            break;
        }
        if (n == 0)
            break;
        if (r2d_digests_update(&d, buf, (size_t)n) != 0) {
            rc = r2d_err(ctx, R2D_EIO, "%s: digest update failed", path);
            break;
        }
        *size += (uint64_t)n;
    }
    if (!rc && r2d_digests_final(&d, out) != 0)
        rc = r2d_err(ctx, R2D_EIO, "%s: digest final failed", path);
    r2d_digests_free(&d);
    free(buf);
    return rc;
}

int
r2d_digest_file(struct r2d_ctx *ctx, const char *path, unsigned kinds, struct r2d_digest_hex *out,
                uint64_t *size)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    int rc;

    *size = 0;
    r2d_digest_hex_clear(out);
    if (fd < 0)
        return r2d_err_errno(ctx, "%s: cannot open to hash it", path);
    rc = r2d_digest_fd(ctx, fd, path, kinds, NULL, out, size);
    close(fd);
    return rc;
}
