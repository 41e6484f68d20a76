/* SPDX-License-Identifier: MIT */
/* Built without libsnappy (meson -Dsnappy=disabled or library missing): snappy kdump pages are refused. */
#include <inttypes.h>

#include "kdump_codec.h"

int
r2d_kdump_snappy_available(void)
{
    return 0;
}

int
r2d_kdump_snappy_decode(struct r2d_ctx *ctx, const char *path, uint64_t off, const uint8_t *src, size_t slen,
                        uint8_t *dst, size_t dlen)
{
    return r2d_err(ctx, R2D_EUNSUPPORTED,
                   "%s: offset 0x%" PRIx64
                   ": snappy-compressed page: raw2dmp was built without snappy support "
                   "(libsnappy); rebuild with -Dsnappy=enabled",
                   path, off);
}
