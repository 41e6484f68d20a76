/* SPDX-License-Identifier: MIT */
/*
 * zstd files (RFC 8878; libzstd): one or more frames, with skippable frames anywhere (pzstd's, the
 * seekable format's seek table). Opening walks the frame and block headers without decoding (a frame
 * without Frame_Content_Size is decoded once to learn its size); each frame is a restart point. A file of
 * one frame (zstd's default) is read sequentially: a read behind the decoder starts the frame again, which
 * the zstream's chunk cache makes rare. Each frame's content checksum, when present, is verified when the
 * frame is decoded to its end; --verify-container decodes them all at open.
 * Facts: docs/formats/containers.md "zstd".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "array.h"
#include "bytes.h"
#include "container_kinds.h"
#include "zstream.h"

#define ZSTD_IN_CHUNK (256u << 10)
#define ZSTD_BLOCK_MAX (128u << 10) /* Block_Maximum_Size */
#define ZSTD_MAX_FRAMES (1u << 22)

struct zstd_frame {
    uint64_t in, csize; /* compressed bytes, checksum included */
    uint64_t out, dsize;
    int checksum;
};

struct zstd_src {
    const struct r2d_bytesrc *in;
    const char *name; /* the file's, for messages */
    struct zstd_frame *fr;
    size_t nfr, cap;
    struct r2d_zstream *zs;
    ZSTD_DCtx *d;
    size_t cur;               /* the frame being decoded */
    uint64_t in_next, in_end; /* its compressed bytes not yet loaded */
    uint64_t left;            /* its bytes not yet produced */
    int measuring;            /* the frame's size is unknown: learning it */
    int ended;                /* libzstd said the frame is complete (checksum verified) */
    uint64_t cur_out;
    ZSTD_inBuffer ib;
    uint8_t in_buf[ZSTD_IN_CHUNK];
};

static void
zstd_free(struct zstd_src *z)
{
    if (!z)
        return;
    ZSTD_freeDCtx(z->d);
    r2d_zstream_free(z->zs);
    free(z->fr);
    free(z);
}

/* --- the frame walk --- */

/* Frame header at off (RFC 8878 3.1.1.1): its size, and the content size when the header has one. */
static int
zstd_frame_header(struct r2d_ctx *ctx, struct zstd_src *z, uint64_t off, uint64_t avail, size_t *hsize,
                  struct zstd_frame *f, int *have_fcs)
{
    static const unsigned did_size[4] = {0, 1, 2, 4};
    uint8_t h[18];
    unsigned fhd, single, fcs_size;
    const size_t n = avail < sizeof(h) ? (size_t)avail : sizeof(h);
    int rc = r2d_bytesrc_read(ctx, z->in, off, h, n, "zstd frame header");

    if (rc)
        return rc;
    R2D_CHECK(n < 5, ctx, R2D_ETRUNC, "%s: offset 0x%" PRIx64 ": zstd frame header cut short", z->name, off);
    fhd = h[4];
    single = (fhd >> 5) & 1;
    R2D_CHECK(fhd & 0x08, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": zstd frame header's reserved bit is set", z->name, off);
    fcs_size = (fhd >> 6) == 0 ? single : 1u << (fhd >> 6);
    *hsize = 5 + !single + did_size[fhd & 3] + fcs_size;
    R2D_CHECK(*hsize > n, ctx, R2D_ETRUNC, "%s: offset 0x%" PRIx64 ": zstd frame header cut short", z->name,
              off);
    f->checksum = (fhd >> 2) & 1;
    *have_fcs = fcs_size > 0;
    f->dsize = 0;
    for (unsigned i = 0; i < fcs_size; i++)
        f->dsize |= (uint64_t)h[*hsize - fcs_size + i] << (8 * i);
    if (fcs_size == 2)
        f->dsize += 256;
    return 0;
}

/* Walk the blocks from off to the end of the frame (its checksum included); *end is just past it. */
static int
zstd_walk_blocks(struct r2d_ctx *ctx, struct zstd_src *z, uint64_t off, const struct zstd_frame *f,
                 uint64_t *end)
{
    const uint64_t size = r2d_bytesrc_size(z->in);

    for (;;) {
        uint8_t b[3];
        uint32_t hdr, bsize, type;
        int rc;

        R2D_CHECK(size - off < 3, ctx, R2D_ETRUNC,
                  "%s: offset 0x%" PRIx64 ": zstd frame ends without its last block (file truncated?)",
                  z->name, off);
        if ((rc = r2d_bytesrc_read(ctx, z->in, off, b, 3, "zstd block header")) != 0)
            return rc;
        hdr = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16;
        type = (hdr >> 1) & 3;
        bsize = hdr >> 3;
        R2D_CHECK(type == 3 || bsize > ZSTD_BLOCK_MAX, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": corrupt zstd block header (type %" PRIu32 ", size 0x%" PRIx32
                  ")",
                  z->name, off, type, bsize);
        off += 3;
        bsize = type == 1 ? 1 : bsize; /* RLE: one byte repeated */
        R2D_CHECK(size - off < bsize, ctx, R2D_ETRUNC,
                  "%s: offset 0x%" PRIx64 ": zstd block of 0x%" PRIx32 " bytes runs past end of file",
                  z->name, off - 3, bsize);
        off += bsize;
        if (hdr & 1)
            break;
    }
    if (f->checksum) {
        R2D_CHECK(size - off < 4, ctx, R2D_ETRUNC,
                  "%s: offset 0x%" PRIx64 ": zstd frame ends without its checksum (file truncated?)", z->name,
                  off);
        off += 4;
    }
    *end = off;
    return 0;
}

static int
zstd_push(struct r2d_ctx *ctx, struct zstd_src *z, const struct zstd_frame *f)
{
    R2D_CHECK(z->nfr >= ZSTD_MAX_FRAMES, ctx, R2D_EUNSUPPORTED, "%s: more than %u zstd frames", z->name,
              ZSTD_MAX_FRAMES);
    if (r2d_grow(ctx, &z->fr, &z->cap, z->nfr + 1, sizeof(*z->fr), "the zstd frame table"))
        return r2d_err_prefix(ctx, R2D_ENOMEM, "%s", z->name);
    z->fr[z->nfr++] = *f;
    return 0;
}

static int zstd_measure(struct r2d_ctx *ctx, struct zstd_src *z, size_t i);

/* Every frame of the file, in order; skippable frames are passed over. */
static int
zstd_scan(struct r2d_ctx *ctx, struct zstd_src *z)
{
    const uint64_t size = r2d_bytesrc_size(z->in);
    uint64_t off = 0, out = 0;
    int rc = 0;

    while (!rc && off < size) {
        uint8_t m[8];
        struct zstd_frame f = {.in = off, .out = out};
        size_t hsize = 0;
        int have_fcs = 0;
        uint64_t end = 0;

        R2D_CHECK(size - off < 8, ctx, R2D_ETRUNC,
                  "%s: offset 0x%" PRIx64 ": 0x%" PRIx64 " bytes are no zstd frame", z->name, off,
                  size - off);
        if ((rc = r2d_bytesrc_read(ctx, z->in, off, m, 8, "zstd frame magic")) != 0)
            break;
        if ((r2d_le32(m) & 0xfffffff0u) == R2D_SKIPPABLE_MAGIC) {
            R2D_CHECK(r2d_le32(m + 4) > size - off - 8, ctx, R2D_ETRUNC,
                      "%s: offset 0x%" PRIx64 ": skippable frame runs past end of file", z->name, off);
            off += 8 + (uint64_t)r2d_le32(m + 4);
            continue;
        }
        R2D_CHECK(r2d_le32(m) != R2D_ZSTD_MAGIC, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": not a zstd frame (magic 0x%08" PRIx32 ")", z->name, off,
                  r2d_le32(m));
        rc = zstd_frame_header(ctx, z, off, size - off, &hsize, &f, &have_fcs);
        if (!rc)
            rc = zstd_walk_blocks(ctx, z, off + hsize, &f, &end);
        if (!rc) {
            f.csize = end - off;
            rc = zstd_push(ctx, z, &f);
        }
        if (!rc && !have_fcs)
            rc = zstd_measure(ctx, z, z->nfr - 1);
        if (!rc) {
            R2D_CHECK(z->fr[z->nfr - 1].dsize > UINT64_MAX - out, ctx, R2D_EFORMAT,
                      "%s: the zstd frames add up to more than 2^64 bytes", z->name);
            out += z->fr[z->nfr - 1].dsize;
            off = end;
        }
    }
    return rc;
}

/* --- decoding --- */

static int
zstd_err(struct r2d_ctx *ctx, struct zstd_src *z, size_t ret)
{
    const ZSTD_ErrorCode e = ZSTD_getErrorCode(ret);

    return r2d_err(ctx,
                   e == ZSTD_error_memory_allocation               ? R2D_ENOMEM
                   : e == ZSTD_error_frameParameter_windowTooLarge ? R2D_EUNSUPPORTED
                                                                   : R2D_EFORMAT,
                   "%s: compressed offset 0x%" PRIx64 ": zstd frame %zu: %s at decoded offset 0x%" PRIx64,
                   z->name, z->in_next - (z->ib.size - z->ib.pos), z->cur, ZSTD_getErrorName(ret),
                   z->cur_out);
}

static int
zstd_frame_start(struct r2d_ctx *ctx, struct zstd_src *z, size_t i)
{
    const size_t r = ZSTD_DCtx_reset(z->d, ZSTD_reset_session_only);

    z->cur = i;
    z->in_next = z->fr[i].in;
    z->in_end = z->fr[i].in + z->fr[i].csize;
    z->left = z->fr[i].dsize;
    z->ended = 0;
    z->cur_out = z->fr[i].out;
    z->ib = (ZSTD_inBuffer){.src = z->in_buf, .size = 0, .pos = 0};
    return ZSTD_isError(r) ? zstd_err(ctx, z, r) : 0;
}

/* Decode into dst (n bytes; n = 0 finishes the frame: its checksum). *ret is libzstd's hint, 0 at frame end.
 */
static int
zstd_code(struct r2d_ctx *ctx, struct zstd_src *z, uint8_t *dst, size_t n, size_t *produced, size_t *ret)
{
    uint8_t spare[16];
    ZSTD_outBuffer ob = {.dst = n ? dst : spare, .size = n ? n : sizeof(spare), .pos = 0};

    int starved = 0;

    if (z->ib.pos == z->ib.size) {
        const size_t k =
            z->in_end - z->in_next < ZSTD_IN_CHUNK ? (size_t)(z->in_end - z->in_next) : ZSTD_IN_CHUNK;
        int rc;

        /* With no input left libzstd may still flush what it holds, and must then say the frame ended. */
        starved = k == 0;
        if (k && (rc = r2d_bytesrc_read(ctx, z->in, z->in_next, z->in_buf, k, "zstd data")) != 0)
            return rc;
        z->ib = (ZSTD_inBuffer){.src = z->in_buf, .size = k, .pos = 0};
        z->in_next += k;
    }
    *ret = ZSTD_decompressStream(z->d, &ob, &z->ib);
    if (ZSTD_isError(*ret))
        return zstd_err(ctx, z, *ret);
    R2D_CHECK(starved && *ret != 0 && ob.pos == 0, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64
              ": zstd frame %zu ends early (file truncated?) at decoded offset 0x%" PRIx64,
              z->name, z->in_end, z->cur, z->cur_out);
    *produced = ob.pos;
    z->ended = *ret == 0;
    R2D_CHECK(!z->measuring && (ob.pos > z->left || (*ret == 0 && z->left > ob.pos)), ctx, R2D_EFORMAT,
              "%s: zstd frame %zu decodes to a size other than the 0x%" PRIx64 " bytes its header gives",
              z->name, z->cur, z->fr[z->cur].dsize);
    z->left -= ob.pos;
    z->cur_out += ob.pos;
    return 0;
}

/* Decode what is left of the frame after its last byte: the checksum is verified on the way. */
static int
zstd_frame_finish(struct r2d_ctx *ctx, struct zstd_src *z)
{
    size_t ret, produced;

    while (!z->ended) {
        const int rc = zstd_code(ctx, z, NULL, 0, &produced, &ret);

        if (rc)
            return rc;
    }
    return 0;
}

static int
zstd_restart(struct r2d_ctx *ctx, void *codec, const struct r2d_zpoint *pt)
{
    return zstd_frame_start(ctx, codec, pt->aux);
}

static int
zstd_decode(struct r2d_ctx *ctx, void *codec, uint8_t *dst, size_t n)
{
    struct zstd_src *z = codec;

    while (n > 0) {
        size_t produced, ret;
        int rc = 0;

        while (z->left == 0) {
            rc = zstd_frame_finish(ctx, z);
            R2D_CHECK(!rc && z->cur + 1 >= z->nfr, ctx, R2D_EFORMAT,
                      "%s: the zstd frames end before decoded offset 0x%" PRIx64, z->name, z->cur_out);
            if (!rc)
                rc = zstd_frame_start(ctx, z, z->cur + 1);
            if (rc)
                return rc;
        }
        rc = zstd_code(ctx, z, dst, n < z->left ? n : (size_t)z->left, &produced, &ret);
        if (rc)
            return rc;
        dst += produced;
        n -= produced;
    }
    return 0;
}

/* A frame without Frame_Content_Size: decode it once to learn its size. */
static int
zstd_measure(struct r2d_ctx *ctx, struct zstd_src *z, size_t i)
{
    uint8_t *buf = malloc(ZSTD_BLOCK_MAX);
    size_t ret = 1, produced;
    int rc = buf ? zstd_frame_start(ctx, z, i) : r2d_err(ctx, R2D_ENOMEM, "out of memory");

    z->left = UINT64_MAX;
    z->measuring = 1;
    while (!rc && ret != 0) {
        rc = r2d_cancelled(ctx) ? r2d_err(ctx, R2D_ECANCELED, "%s: cancelled while decoding", z->name)
                                : zstd_code(ctx, z, buf, ZSTD_BLOCK_MAX, &produced, &ret);
    }
    z->measuring = 0;
    free(buf);
    if (!rc)
        z->fr[i].dsize = z->cur_out - z->fr[i].out;
    return rc;
}

static const struct r2d_zstream_ops zstd_zstream_ops = {
    .restart = zstd_restart,
    .decode = zstd_decode,
};

/* Decode every frame to its end: every checksum verified, every content size confirmed. */
static int
zstd_verify(struct r2d_ctx *ctx, struct zstd_src *z)
{
    uint8_t *buf = malloc(R2D_ZSTREAM_CHUNK);
    int rc = buf ? 0 : r2d_err(ctx, R2D_ENOMEM, "out of memory");

    for (size_t i = 0; !rc && i < z->nfr; i++) {
        rc = zstd_frame_start(ctx, z, i);
        while (!rc && z->left > 0) {
            const size_t n = z->left < R2D_ZSTREAM_CHUNK ? (size_t)z->left : R2D_ZSTREAM_CHUNK;

            rc = r2d_cancelled(ctx) ? r2d_err(ctx, R2D_ECANCELED, "%s: cancelled while verifying", z->name)
                                    : zstd_decode(ctx, z, buf, n);
        }
        if (!rc)
            rc = zstd_frame_finish(ctx, z);
    }
    free(buf);
    return rc;
}

static int
zstd_read(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, uint64_t off, void *buf, size_t len, const char *what)
{
    const struct zstd_src *z = r2d_bytesrc_priv(bs);

    (void)what;
    return r2d_zstream_read(ctx, z->zs, off, buf, len);
}

static void
zstd_close(struct r2d_bytesrc *bs)
{
    zstd_free(r2d_bytesrc_priv(bs));
}

static const struct r2d_bytesrc_ops zstd_ops = {
    .kind = "zstd",
    .read = zstd_read,
    .close = zstd_close,
};

/* One point per frame with content; the first at 0. */
static int
zstd_points(struct r2d_ctx *ctx, struct zstd_src *z, uint64_t *size)
{
    int rc = 0;

    *size = 0;
    for (size_t i = 0; !rc && i < z->nfr; i++) {
        if (z->fr[i].dsize == 0 && !(i == 0 && z->nfr == 1))
            continue;
        if (r2d_zstream_point_count(z->zs) == 0 ||
            z->fr[i].out > r2d_zstream_point(z->zs, r2d_zstream_point_count(z->zs) - 1)->out)
            rc = r2d_zstream_add_point(
                ctx, z->zs, &(struct r2d_zpoint){.out = z->fr[i].out, .in = z->fr[i].in, .aux = (uint32_t)i});
        *size = z->fr[i].out + z->fr[i].dsize;
    }
    return rc;
}

static int
zstd_describe(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, const struct zstd_src *z, int verified)
{
    size_t sums = 0;
    char v[240];
    int rc;

    for (size_t i = 0; i < z->nfr; i++)
        sums += z->fr[i].checksum;
    if (z->nfr > 1)
        snprintf(v, sizeof(v), "zstd frames: %zu frames, %zu restart points", z->nfr,
                 r2d_zstream_point_count(z->zs));
    else
        snprintf(v, sizeof(v),
                 "zstd: one frame, read sequentially (a read behind the decoder restarts the "
                 "frame; pzstd or split --filter=zstd make seekable frames)");
    rc = r2d_bytesrc_set_how(ctx, bs, v);
    snprintf(v, sizeof(v), "content checksum (XXH64) in %zu of %zu frames, %s", sums, z->nfr,
             verified ? "all verified (--verify-container)" : "verified when a frame is decoded to its end");
    if (!rc)
        rc = r2d_bytesrc_add_note(ctx, bs, "checks", v);
    return rc;
}

static int
zstd_setup(struct r2d_ctx *ctx, struct zstd_src *z, const char *name, int verify, uint64_t *size)
{
    int rc;

    if (!(z->d = ZSTD_createDCtx()))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for libzstd", z->name);
    rc = zstd_scan(ctx, z);
    R2D_CHECK(!rc && z->nfr == 0, ctx, R2D_EFORMAT, "%s: no zstd frame", z->name);
    if (!rc)
        rc = r2d_zstream_new(ctx, name, &zstd_zstream_ops, z, 1, &z->zs);
    if (!rc)
        rc = zstd_points(ctx, z, size);
    if (!rc) {
        r2d_zstream_set_size(z->zs, *size);
        if (verify)
            rc = zstd_verify(ctx, z);
    }
    return rc;
}

static int
zstd_open(struct r2d_ctx *ctx, struct r2d_bytesrc *below, const struct r2d_container_opts *opts,
          struct r2d_bytesrc **out)
{
    struct zstd_src *z = calloc(1, sizeof(*z));
    char *name = r2d_container_name(below, "zstd");
    uint64_t size = 0;
    int rc;

    *out = NULL;
    if (!z || !name) {
        free(z);
        free(name);
        r2d_bytesrc_close(below);
        return r2d_err(ctx, R2D_ENOMEM, "out of memory");
    }
    z->in = below;
    z->name = r2d_bytesrc_name(below);
    rc = zstd_setup(ctx, z, name, opts->verify, &size);
    if (rc) {
        zstd_free(z);
        free(name);
        r2d_bytesrc_close(below);
        return rc;
    }
    rc = r2d_bytesrc_new_layer(ctx, &zstd_ops, z, below, name, size, out);
    free(name);
    if (!rc)
        rc = zstd_describe(ctx, *out, z, opts->verify);
    if (rc) {
        r2d_bytesrc_close(*out);
        *out = NULL;
    }
    return rc;
}

const struct r2d_container_kind r2d_container_zstd = {
    .name = "zstd",
    .summary = "zstd (RFC 8878; zstd, pzstd), one or more frames: one restart point per frame",
    .probe = r2d_probe_zstd,
    .open = zstd_open,
};
