/* SPDX-License-Identifier: MIT */
/* LZO1X pages of kdump-compressed files (makedumpfile -l, QEMU kdump-lzo), decoded with liblzo2. */
#include <inttypes.h>

#include <lzo/lzo1x.h>

#include "kdump_codec.h"

int
r2d_kdump_lzo_available(void)
{
    return 1;
}

int
r2d_kdump_lzo_decode(struct r2d_ctx *ctx, const char *path, uint64_t off, const uint8_t *src, size_t slen,
                     uint8_t *dst, size_t dlen)
{
    lzo_uint out = dlen;
    int rc;

    /* lzo_init() only checks that the library matches its header; it is cheap and has no state to share. */
    R2D_CHECK(lzo_init() != LZO_E_OK, ctx, R2D_EUNSUPPORTED, "%s: liblzo2 failed to initialise", path);
    /* The _safe decoder never writes past dst + dlen and never reads past src + slen. */
    rc = lzo1x_decompress_safe(src, slen, dst, &out, NULL);
    R2D_CHECK(rc != LZO_E_OK, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": LZO page of 0x%zx bytes does not decode (liblzo2 error %d)", path,
              off, slen, rc);
    R2D_CHECK(out != dlen, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": LZO page decodes to 0x%zx bytes, expected the block size 0x%zx",
              path, off, (size_t)out, dlen);
    return 0;
}
