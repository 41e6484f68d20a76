/* SPDX-License-Identifier: MIT */
/* The input file's digests from the writer's own reads (see source_digest.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hex.h"
#include "io.h"

#include "source_digest.h"

/* Bytes read here at a time: small enough to still be in the CPU cache when hashed. */
#define SOURCE_DIGEST_BUF (256u << 10)

int
r2d_source_digest_init(struct source_digest *sd, const struct r2d_ctx *ctx, int fd, uint64_t size,
                       unsigned kinds)
{
    memset(sd, 0, sizeof(*sd));
    atomic_init(&sd->halt, 0);
    sd->ctx = ctx;
    sd->fd = fd;
    sd->size = size;
    sd->buf = r2d_alloc_io(SOURCE_DIGEST_BUF);
    if (!sd->buf || r2d_digests_init(&sd->md, kinds) != 0) {
        r2d_source_digest_free(sd);
        return -1;
    }
    return 0;
}

static void
source_digest_update(struct source_digest *sd, const uint8_t *data, uint64_t len)
{
    if (sd->err || len == 0)
        return;
    if ((data ? r2d_digests_update(&sd->md, data, (size_t)len) : r2d_digests_zeros(&sd->md, len)) != 0) {
        sd->err = SOURCE_DIGEST_ECRYPTO;
        sd->err_off = sd->next;
        return;
    }
    sd->next += len;
}

/* Read and hash the file from the cursor up to end (holes from memory). */
static void
source_digest_fill(struct source_digest *sd, uint64_t end)
{
    while (!sd->err && sd->next < end) {
        uint64_t lim;
        size_t want;
        ssize_t n;

        if (atomic_load(&sd->halt) || r2d_cancelled(sd->ctx)) {
            sd->err = SOURCE_DIGEST_ESTOP;
            break;
        }
        /* The extent is kept across calls: the gaps between many small runs (LiME headers) ask no lseek. */
        if (sd->next < sd->ext_lo || sd->next >= sd->ext_hi) {
            r2d_file_extent(sd->fd, sd->next, sd->size, &sd->ext_data, &sd->ext_hi);
            sd->ext_lo = sd->next;
        }
        lim = sd->ext_hi < end ? sd->ext_hi : end;
        want = lim - sd->next < SOURCE_DIGEST_BUF ? (size_t)(lim - sd->next) : SOURCE_DIGEST_BUF;
        if (!sd->ext_data) {
            source_digest_update(sd, NULL, want);
            continue;
        }
        n = pread(sd->fd, sd->buf, want, (off_t)sd->next);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            sd->err = n < 0 ? errno : SOURCE_DIGEST_ESHORT;
            break;
        }
        source_digest_update(sd, sd->buf, (uint64_t)n);
    }
    if (sd->err && !sd->err_off)
        sd->err_off = sd->next;
}

void
r2d_source_digest_take(struct source_digest *sd, uint64_t off, const uint8_t *data, uint64_t len)
{
    uint64_t end = off + len;

    if (sd->done || sd->err)
        return;
    if (atomic_load(&sd->halt)) {
        sd->err = SOURCE_DIGEST_ESTOP;
        return;
    }
    /* Bytes past the size the file had at the start are not part of the digest. */
    if (end > sd->size)
        end = sd->size;
    if (off > sd->next)
        source_digest_fill(sd, off < end ? off : end);
    if (sd->err || end <= sd->next)
        return;
    source_digest_update(sd, data ? data + (sd->next - off) : NULL, end - sd->next);
}

void
r2d_source_digest_finish(struct source_digest *sd)
{
    if (sd->done)
        return;
    source_digest_fill(sd, sd->size);
    if (!sd->err && r2d_digests_final(&sd->md, &sd->hex) != 0)
        sd->err = SOURCE_DIGEST_ECRYPTO;
    sd->done = 1;
}

void
r2d_source_digest_halt(struct source_digest *sd)
{
    atomic_store(&sd->halt, 1);
}

void
r2d_source_digest_result(const struct source_digest *sd, struct r2d_digest_hex *hex, char *why,
                         size_t why_len)
{
    r2d_digest_hex_clear(hex);
    if (why_len)
        why[0] = '\0';
    if (sd->done && !sd->err) {
        *hex = sd->hex;
    } else if (sd->err > 0) {
        snprintf(why, why_len, "offset 0x%" PRIx64 ": read failed: %s", sd->err_off, strerror(sd->err));
    } else if (sd->err == SOURCE_DIGEST_ESHORT) {
        snprintf(why, why_len, "offset 0x%" PRIx64 ": file ended early (size at open 0x%" PRIx64 ")",
                 sd->err_off, sd->size);
    } else if (sd->err == SOURCE_DIGEST_ESTOP) {
        snprintf(why, why_len, "interrupted");
    } else if (sd->err == SOURCE_DIGEST_ECRYPTO) {
        snprintf(why, why_len, "digest setup or memory failed");
    } else {
        snprintf(why, why_len, "not computed");
    }
}

void
r2d_source_digest_free(struct source_digest *sd)
{
    r2d_digests_free(&sd->md);
    free(sd->buf);
    sd->buf = NULL;
}
