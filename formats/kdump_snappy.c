/* SPDX-License-Identifier: MIT */
/* Snappy pages of kdump-compressed files (makedumpfile -p, QEMU kdump-snappy), decoded with libsnappy. */
#include <inttypes.h>

#include <snappy-c.h>

#include "kdump_codec.h"

int
r2d_kdump_snappy_available(void)
{
    return 1;
}

int
r2d_kdump_snappy_decode(struct r2d_ctx *ctx, const char *path, uint64_t off, const uint8_t *src, size_t slen,
                        uint8_t *dst, size_t dlen)
{
    size_t out = 0;
    snappy_status st = snappy_uncompressed_length((const char *)src, slen, &out);

    /* Check the announced length first: snappy_uncompress fails, but only after trying, when it is larger. */
    R2D_CHECK(st != SNAPPY_OK, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": snappy page of 0x%zx bytes has no valid length preamble", path, off,
              slen);
    R2D_CHECK(out != dlen, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": snappy page announces 0x%zx bytes, expected the block size 0x%zx",
              path, off, out, dlen);
    st = snappy_uncompress((const char *)src, slen, (char *)dst, &out);
    R2D_CHECK(st != SNAPPY_OK || out != dlen, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": snappy page of 0x%zx bytes does not decode (snappy status %d)", path,
              off, slen, (int)st);
    return 0;
}
