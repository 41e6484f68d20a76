/* SPDX-License-Identifier: MIT */
/* Snappy chunks of AFF4 ImageStreams (raw snappy blocks, as c-aff4 and pyaff4 write them), with libsnappy. */
#include <snappy-c.h>

#include "aff4.h"

int
r2d_aff4_snappy(struct r2d_ctx *ctx, const char *what, const uint8_t *src, size_t slen, uint8_t *dst,
                size_t cap, size_t *out)
{
    size_t n = 0;

    /* The announced length first: it must fit before anything is decoded. */
    R2D_CHECK(snappy_uncompressed_length((const char *)src, slen, &n) != SNAPPY_OK, ctx, R2D_EFORMAT,
              "%s: snappy data has no valid length preamble", what);
    R2D_CHECK(n > cap, ctx, R2D_EFORMAT, "%s: snappy data announces 0x%zx bytes, more than a chunk (0x%zx)",
              what, n, cap);
    R2D_CHECK(snappy_uncompress((const char *)src, slen, (char *)dst, &n) != SNAPPY_OK, ctx, R2D_EFORMAT,
              "%s: snappy data does not decode", what);
    *out = n;
    return 0;
}
