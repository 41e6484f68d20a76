/* SPDX-License-Identifier: MIT */
/* Built without libsnappy: snappy AFF4 chunks are refused with what to rebuild. */
#include "aff4.h"

int
r2d_aff4_snappy(struct r2d_ctx *ctx, const char *what, const uint8_t *src, size_t slen, uint8_t *dst,
                size_t cap, size_t *out)
{
    (void)src, (void)slen, (void)dst, (void)cap;
    *out = 0;
    return r2d_err(
        ctx, R2D_EUNSUPPORTED,
        "%s: snappy-compressed chunk: raw2dmp was built without snappy support (libsnappy); rebuild "
        "with -Dsnappy=enabled",
        what);
}
