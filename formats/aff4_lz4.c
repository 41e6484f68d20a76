/* SPDX-License-Identifier: MIT */
/* LZ4 chunks of AFF4 ImageStreams (LZ4 blocks without a frame, as c-aff4 writes them), with liblz4. */
#include <lz4.h>

#include "aff4.h"

int
r2d_aff4_lz4(struct r2d_ctx *ctx, const char *what, const uint8_t *src, size_t slen, uint8_t *dst, size_t cap,
             size_t *out)
{
    const int n = slen <= (size_t)LZ4_MAX_INPUT_SIZE && cap <= (size_t)LZ4_MAX_INPUT_SIZE
                      ? LZ4_decompress_safe((const char *)src, (char *)dst, (int)slen, (int)cap)
                      : -1;

    R2D_CHECK(n < 0, ctx, R2D_EFORMAT, "%s: LZ4 block does not decode (or decodes past a chunk)", what);
    *out = (size_t)n;
    return 0;
}
