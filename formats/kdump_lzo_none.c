/* SPDX-License-Identifier: MIT */
/* Built without liblzo2 (meson -Dlzo=disabled or library missing): LZO kdump pages are refused clearly. */
#include <inttypes.h>

#include "kdump_codec.h"

int
r2d_kdump_lzo_available(void)
{
    return 0;
}

int
r2d_kdump_lzo_decode(struct r2d_ctx *ctx, const char *path, uint64_t off, const uint8_t *src, size_t slen,
                     uint8_t *dst, size_t dlen)
{
    return r2d_err(ctx, R2D_EUNSUPPORTED,
                   "%s: offset 0x%" PRIx64 ": LZO-compressed page: raw2dmp was built without LZO support "
                   "(liblzo2); rebuild with -Dlzo=enabled",
                   path, off);
}
