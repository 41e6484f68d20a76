/* SPDX-License-Identifier: MIT */
/*
 * The chunk codecs of AFF4 ImageStreams, by the IRI aff4:compressionMethod names (docs/formats/aff4.md A5):
 * zlib (RFC 1950 stream) and raw deflate (RFC 1951) through zlib, snappy and LZ4 blocks through their own
 * files (aff4_snappy*.c, aff4_lz4*.c), and stored chunks.
 */
#include <inttypes.h>
#include <string.h>
#include <zlib.h>

#include "aff4.h"

static const struct {
    const char *iri;
    enum r2d_aff4_codec codec;
} aff4_codecs[] = {
    {"https://www.ietf.org/rfc/rfc1950.txt", R2D_AFF4_ZLIB},
    {"https://tools.ietf.org/html/rfc1951", R2D_AFF4_DEFLATE},
    {"http://code.google.com/p/snappy/", R2D_AFF4_SNAPPY},
    {"https://code.google.com/p/snappy/", R2D_AFF4_SNAPPY},
    {"https://github.com/google/snappy", R2D_AFF4_SNAPPY},
    {"https://code.google.com/p/lz4/", R2D_AFF4_LZ4},
    {"http://code.google.com/p/lz4/", R2D_AFF4_LZ4},
    {R2D_AFF4_NS "NullCompressor", R2D_AFF4_STORED},
    {R2D_AFF4_LEGACY_NS "nullCompressor", R2D_AFF4_STORED},
};

int
r2d_aff4_codec_from_iri(struct r2d_ctx *ctx, const char *where, const char *iri, enum r2d_aff4_codec *c)
{
    for (size_t i = 0; i < sizeof(aff4_codecs) / sizeof(aff4_codecs[0]); i++)
        if (strcmp(iri, aff4_codecs[i].iri) == 0) {
            *c = aff4_codecs[i].codec;
            return 0;
        }
    return r2d_err(ctx, R2D_EUNSUPPORTED, "%s: compression method <%.200s> is not supported", where, iri);
}

const char *
r2d_aff4_codec_name(enum r2d_aff4_codec c)
{
    static const char *const names[] = {"stored", "zlib", "deflate", "snappy", "lz4"};

    return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

/* zlib (wrap 15) or raw deflate (-15): the whole input must be one complete stream. */
static int
aff4_inflate(struct r2d_ctx *ctx, const char *what, int wbits, const uint8_t *src, size_t slen, uint8_t *dst,
             size_t cap, size_t *out)
{
    z_stream z = {0};
    int zr;

    R2D_CHECK(inflateInit2(&z, wbits) != Z_OK, ctx, R2D_ENOMEM, "out of memory for zlib");
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)slen;
    z.next_out = dst;
    z.avail_out = (uInt)cap;
    zr = inflate(&z, Z_FINISH);
    *out = cap - z.avail_out;
    inflateEnd(&z);
    R2D_CHECK(zr != Z_STREAM_END, ctx, R2D_EFORMAT, "%s: %s data does not decode (%s)", what,
              wbits > 0 ? "zlib" : "deflate",
              zr == Z_BUF_ERROR && z.avail_out == 0 ? "more than a chunk"
              : z.msg                               ? z.msg
                                                    : "truncated");
    return 0;
}

int
r2d_aff4_decode(struct r2d_ctx *ctx, const char *what, enum r2d_aff4_codec c, const uint8_t *src, size_t slen,
                uint8_t *dst, size_t cap, size_t *out)
{
    switch (c) {
    case R2D_AFF4_ZLIB:
        return aff4_inflate(ctx, what, 15, src, slen, dst, cap, out);
    case R2D_AFF4_DEFLATE:
        return aff4_inflate(ctx, what, -15, src, slen, dst, cap, out);
    case R2D_AFF4_SNAPPY:
        return r2d_aff4_snappy(ctx, what, src, slen, dst, cap, out);
    case R2D_AFF4_LZ4:
        return r2d_aff4_lz4(ctx, what, src, slen, dst, cap, out);
    case R2D_AFF4_STORED:
        break;
    }
    R2D_CHECK(slen > cap, ctx, R2D_EFORMAT, "%s: stored chunk of 0x%zx bytes, more than a chunk", what, slen);
    memcpy(dst, src, slen);
    *out = slen;
    return 0;
}
