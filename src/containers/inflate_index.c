/* SPDX-License-Identifier: MIT */
/*
 * The deflate index: one inflate pass that checks the stream and saves restart points, and reads that
 * restart from them (inflate_index.h). Each point costs one window (2^windowBits bytes: 2 KiB for LiME's
 * windowBits 11, 32 KiB for gzip and ZIP) per spacing inflated bytes: 8 MiB per GiB at gzip's window and
 * the default 4 MiB spacing; the zstream thins the index past its bound.
 */
#include <inttypes.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "inflate_index.h"
#include "zstream.h"

#define ZLIB_HDR_SIZE 2
#define ZLIB_CM_DEFLATE 8
#define ZLIB_FLG_FDICT 0x20
#define INFL_WIN_MAX 32768u
#define INFL_IN_CHUNK (256u << 10)   /* compressed bytes read at a time */
#define INFL_PROBE_ARENA (48u << 10) /* zlib's inflate state (~7 KiB) plus a window of up to 32 KiB */
#define INFL_POINT_MEMBER 2u         /* restart with the gzip wrapper: a member starts here */

struct r2d_inflate {
    const struct r2d_bytesrc *in;
    char *name, *what;
    const char *kind; /* "zlib", "gzip", "deflate": names the stream in messages */
    enum r2d_inflate_wrap wrap;
    uint64_t in_start, in_end, max_out;
    unsigned wsize;
    unsigned members;
    uint32_t crc;
    uint64_t out_size;
    struct r2d_zstream *zs;
    z_stream strm; /* never moved: zlib keeps a pointer to it */
    int strm_init;
    uint64_t cur_out; /* inflated offset of the next byte strm produces, for messages */
    uint64_t in_next; /* offset of the next compressed byte to load into in[] */
    uint8_t in_buf[INFL_IN_CHUNK];
};

/* --- probing (pure) --- */

static int
infl_zlib_header_ok(const uint8_t *p)
{
    return (p[0] & 0x0F) == ZLIB_CM_DEFLATE && (p[0] >> 4) <= 7 && ((unsigned)p[0] * 256 + p[1]) % 31 == 0 &&
           !(p[1] & ZLIB_FLG_FDICT);
}

/* A bump allocator on the caller's stack so that probing allocates nothing. */
struct infl_arena {
    uint8_t *base;
    size_t used, cap;
};

static voidpf
infl_arena_alloc(voidpf opaque, uInt items, uInt size)
{
    struct infl_arena *a = opaque;
    const size_t n = ((size_t)items * size + 15) & ~(size_t)15;

    if (n > a->cap - a->used)
        return Z_NULL;
    a->used += n;
    return a->base + a->used - n;
}

static void
infl_arena_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    (void)p;
}

size_t
r2d_inflate_probe_zlib(const uint8_t *head, size_t len, uint8_t *out, size_t want)
{
    alignas(16) uint8_t mem[INFL_PROBE_ARENA];
    struct infl_arena arena = {.base = mem, .cap = sizeof(mem)};
    z_stream zs;
    size_t got;

    if (len < ZLIB_HDR_SIZE || !infl_zlib_header_ok(head))
        return 0;
    memset(&zs, 0, sizeof(zs));
    zs.zalloc = infl_arena_alloc;
    zs.zfree = infl_arena_free;
    zs.opaque = &arena;
    if (inflateInit2(&zs, 0) != Z_OK) /* 0: the window size the header declares */
        return 0;
    zs.next_in = (Bytef *)head;
    zs.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)want;
    (void)inflate(&zs, Z_SYNC_FLUSH);
    got = want - zs.avail_out;
    inflateEnd(&zs);
    return got;
}

/* --- the pass and the reads --- */

static int
infl_err(struct r2d_ctx *ctx, struct r2d_inflate *z, int zret, const char *msg)
{
    const uint64_t at = z->in_next - z->strm.avail_in;

    if (zret == Z_MEM_ERROR)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for zlib", z->name);
    return r2d_err(ctx, R2D_EFORMAT,
                   "%s: compressed offset 0x%" PRIx64 ": corrupt %s (%s) at inflated offset 0x%" PRIx64,
                   z->name, at, z->what, msg ? msg : "zlib error", z->cur_out);
}

/*
 * Refill the input buffer when empty. With nothing left, inflate may still finish (raw deflate's last block
 * ends within bytes it has taken): *starved says so, and a call that then makes no progress is truncation.
 */
static int
infl_feed(struct r2d_ctx *ctx, struct r2d_inflate *z, int *starved)
{
    size_t n;
    int rc;

    *starved = 0;
    if (z->strm.avail_in > 0)
        return 0;
    if (z->in_next >= z->in_end) {
        *starved = 1;
        return 0;
    }
    n = z->in_end - z->in_next < INFL_IN_CHUNK ? (size_t)(z->in_end - z->in_next) : INFL_IN_CHUNK;
    rc = r2d_bytesrc_read(ctx, z->in, z->in_next, z->in_buf, n, z->what);
    if (rc)
        return rc;
    z->strm.next_in = z->in_buf;
    z->strm.avail_in = (uInt)n;
    z->in_next += n;
    return 0;
}

static int
infl_truncated(struct r2d_ctx *ctx, const struct r2d_inflate *z)
{
    return r2d_err(ctx, R2D_ETRUNC,
                   "%s: offset 0x%" PRIx64
                   ": %s stream ends without its end marker (file truncated?) at inflated "
                   "offset 0x%" PRIx64,
                   z->name, z->in_end, z->kind, z->cur_out);
}

/* A point at out; ring holds the last INFL_WIN_MAX inflated bytes, byte k at ring[k % INFL_WIN_MAX]. */
static int
infl_add_point(struct r2d_ctx *ctx, struct r2d_inflate *z, uint64_t in, int bits, uint32_t flags,
               const uint8_t *ring)
{
    const unsigned wlen = (flags & INFL_POINT_MEMBER) ? 0
                          : z->cur_out < z->wsize     ? (unsigned)z->cur_out
                                                      : z->wsize;
    struct r2d_zpoint pt = {
        .out = z->cur_out, .in = in, .aux = (uint32_t)bits, .flags = flags, .data_len = wlen};

    if (wlen) {
        const size_t start = (size_t)((z->cur_out - wlen) % INFL_WIN_MAX);
        const size_t first = INFL_WIN_MAX - start < wlen ? INFL_WIN_MAX - start : wlen;

        if (!(pt.data = malloc(wlen)))
            return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the inflate index", z->name);
        memcpy(pt.data, ring + start, first);
        memcpy(pt.data + first, ring, wlen - first);
    }
    return r2d_zstream_add_point(ctx, z->zs, &pt);
}

/* After a gzip member: another member, or the end of the data. Returns 1 when a member follows. */
static int
infl_next_member(struct r2d_ctx *ctx, struct r2d_inflate *z, int *rc)
{
    const uint64_t at = z->in_next - z->strm.avail_in;
    uint8_t magic[2];

    *rc = 0;
    if (z->wrap != R2D_INFLATE_GZIP || z->in_end - at < 2)
        return 0;
    if (z->strm.avail_in >= 2)
        memcpy(magic, z->strm.next_in, 2);
    else if ((*rc = r2d_bytesrc_read(ctx, z->in, at, magic, 2, z->what)) != 0)
        return 0;
    if (magic[0] != 0x1f || magic[1] != 0x8b)
        return 0;
    if (inflateReset(&z->strm) != Z_OK) {
        *rc = infl_err(ctx, z, Z_STREAM_ERROR, "cannot reset");
        return 0;
    }
    z->members++;
    *rc = infl_add_point(ctx, z, at, 0, R2D_ZPOINT_PINNED | INFL_POINT_MEMBER, NULL);
    return !*rc;
}

/* One inflate step of the pass into the ring; hands the output to the sink and the CRC. */
static int
infl_pass_step(struct r2d_ctx *ctx, struct r2d_inflate *z, const struct r2d_inflate_params *p, uint8_t *ring,
               int *zret, int *sink_rc, char *sink_msg, size_t sink_len)
{
    const size_t at = (size_t)(z->cur_out % INFL_WIN_MAX);
    size_t produced;
    int starved, rc = infl_feed(ctx, z, &starved);

    if (!rc && r2d_cancelled(ctx))
        rc = r2d_err(ctx, R2D_ECANCELED, "%s: cancelled while inflating", z->name);
    if (rc)
        return rc;
    z->strm.next_out = ring + at;
    z->strm.avail_out = INFL_WIN_MAX - (uInt)at;
    *zret = inflate(&z->strm, Z_BLOCK);
    produced = INFL_WIN_MAX - at - z->strm.avail_out;
    if (starved && *zret == Z_BUF_ERROR)
        return infl_truncated(ctx, z);
    if (p->want_crc)
        z->crc = (uint32_t)crc32(z->crc, ring + at, (uInt)produced);
    if (p->sink && !*sink_rc && (*sink_rc = p->sink(ctx, p->sink_arg, ring + at, produced)) != 0)
        snprintf(sink_msg, sink_len, "%s", r2d_errmsg(ctx));
    z->cur_out += produced;
    R2D_CHECK(z->max_out && z->cur_out > z->max_out, ctx, R2D_EFORMAT,
              "%s: %s inflates to more than its declared 0x%" PRIx64 " bytes (a decompression bomb?)",
              z->name, z->what, z->max_out);
    return 0;
}

/*
 * The pass: inflate everything once, checking the wrapper's trailers, and save a point at a block boundary
 * (zlib's Z_BLOCK: data_type 128 just after a block's end code, 64 when that was the last block) whenever
 * the spacing has passed.
 */
static int
infl_pass(struct r2d_ctx *ctx, struct r2d_inflate *z, const struct r2d_inflate_params *p)
{
    uint8_t *ring = malloc(INFL_WIN_MAX);
    int rc = 0, zret = Z_OK, sink_rc = 0;
    char sink_msg[1024];

    if (!ring)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for inflating", z->name);
    for (;;) {
        rc = infl_pass_step(ctx, z, p, ring, &zret, &sink_rc, sink_msg, sizeof(sink_msg));
        if (rc)
            break;
        if (zret == Z_STREAM_END) {
            if (infl_next_member(ctx, z, &rc))
                continue;
            break;
        }
        if (zret != Z_OK && zret != Z_BUF_ERROR) {
            rc = infl_err(ctx, z, zret, z->strm.msg);
            break;
        }
        if ((z->strm.data_type & 128) && !(z->strm.data_type & 64) &&
            r2d_zstream_point_due(z->zs, z->cur_out))
            rc = infl_add_point(ctx, z, z->in_next - z->strm.avail_in, z->strm.data_type & 7, 0, ring);
        if (rc)
            break;
    }
    free(ring);
    if (rc)
        return rc;
    if (sink_rc)
        return r2d_err(ctx, sink_rc, "%s", sink_msg);
    z->out_size = z->cur_out;
    R2D_CHECK(z->in_next - z->strm.avail_in != z->in_end, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": 0x%" PRIx64 " bytes after the end of the %s stream", z->name,
              z->in_next - z->strm.avail_in, z->in_end - (z->in_next - z->strm.avail_in), z->kind);
    if (z->wrap == R2D_INFLATE_GZIP && z->members == 1 && !p->want_crc)
        z->crc = (uint32_t)z->strm.adler; /* zlib keeps the gzip member's CRC-32 there */
    return 0;
}

static int
infl_restart(struct r2d_ctx *ctx, void *codec, const struct r2d_zpoint *pt)
{
    struct r2d_inflate *z = codec;
    int zret;

    if (pt->flags & INFL_POINT_MEMBER) {
        zret = inflateReset2(&z->strm, 15 + 16);
    } else {
        zret = inflateReset2(&z->strm, -15);
        if (zret == Z_OK && pt->aux) {
            uint8_t byte;
            const int rc = r2d_bytesrc_read(ctx, z->in, pt->in - 1, &byte, 1, z->what);

            if (rc)
                return rc;
            zret = inflatePrime(&z->strm, (int)pt->aux, byte >> (8 - pt->aux));
        }
        if (zret == Z_OK && pt->data_len)
            zret = inflateSetDictionary(&z->strm, pt->data, (uInt)pt->data_len);
    }
    z->strm.avail_in = 0;
    z->in_next = pt->in;
    z->cur_out = pt->out;
    return zret == Z_OK ? 0 : infl_err(ctx, z, zret, z->strm.msg);
}

/* The end of a gzip member inside a read: go on at the next member's point, which is at cur_out. */
static int
infl_cross_member(struct r2d_ctx *ctx, struct r2d_inflate *z)
{
    for (size_t i = 0; i < r2d_zstream_point_count(z->zs); i++) {
        const struct r2d_zpoint *pt = r2d_zstream_point(z->zs, i);

        if (pt->out == z->cur_out && (pt->flags & INFL_POINT_MEMBER))
            return infl_restart(ctx, z, pt);
        if (pt->out > z->cur_out)
            break;
    }
    return infl_err(ctx, z, Z_DATA_ERROR, "the deflate data ends early");
}

static int
infl_decode(struct r2d_ctx *ctx, void *codec, uint8_t *dst, size_t n)
{
    struct r2d_inflate *z = codec;

    while (n > 0) {
        const uInt want = n > (1u << 30) ? (1u << 30) : (uInt)n;
        int starved, rc = infl_feed(ctx, z, &starved), zret;
        size_t produced;

        if (rc)
            return rc;
        z->strm.next_out = dst;
        z->strm.avail_out = want;
        zret = inflate(&z->strm, Z_NO_FLUSH);
        produced = want - z->strm.avail_out;
        if (starved && zret == Z_BUF_ERROR)
            return infl_truncated(ctx, z);
        z->cur_out += produced;
        dst += produced;
        n -= produced;
        if (zret == Z_STREAM_END && n > 0 && (rc = infl_cross_member(ctx, z)) != 0)
            return rc;
        if (zret != Z_OK && zret != Z_STREAM_END && zret != Z_BUF_ERROR)
            return infl_err(ctx, z, zret, z->strm.msg);
    }
    return 0;
}

static const struct r2d_zstream_ops infl_zstream_ops = {
    .restart = infl_restart,
    .decode = infl_decode,
};

void
r2d_inflate_free(struct r2d_inflate *z)
{
    if (!z)
        return;
    if (z->strm_init)
        inflateEnd(&z->strm);
    r2d_zstream_free(z->zs);
    free(z->name);
    free(z->what);
    free(z);
}

/* The first point and the decoder for the pass, by wrapper. */
static int
infl_start(struct r2d_ctx *ctx, struct r2d_inflate *z)
{
    uint8_t hdr[ZLIB_HDR_SIZE];
    int bits = -15, rc;
    uint64_t first = z->in_start;
    uint32_t flags = 0;

    z->wsize = INFL_WIN_MAX;
    if (z->wrap == R2D_INFLATE_ZLIB) {
        R2D_CHECK(z->in_end - z->in_start < ZLIB_HDR_SIZE, ctx, R2D_ETRUNC, "%s: no room for a zlib header",
                  z->name);
        rc = r2d_bytesrc_read(ctx, z->in, z->in_start, hdr, sizeof(hdr), z->what);
        if (rc)
            return rc;
        R2D_CHECK(!infl_zlib_header_ok(hdr), ctx, R2D_EFORMAT, "%s: offset 0x%" PRIx64 ": not a zlib header",
                  z->name, z->in_start);
        z->wsize = 1u << ((hdr[0] >> 4) + 8);
        bits = 0;               /* the window size the header declares; larger distances are errors */
        first += ZLIB_HDR_SIZE; /* raw restarts begin after the header */
    } else if (z->wrap == R2D_INFLATE_GZIP) {
        bits = 15 + 16;
        flags = R2D_ZPOINT_PINNED | INFL_POINT_MEMBER;
        z->members = 1;
    }
    if (inflateInit2(&z->strm, bits) != Z_OK)
        return r2d_err(ctx, R2D_ENOMEM, "%s: cannot initialise zlib", z->name);
    z->strm_init = 1;
    z->in_next = z->in_start;
    return infl_add_point(ctx, z, first, 0, flags, NULL);
}

int
r2d_inflate_open(struct r2d_ctx *ctx, const struct r2d_inflate_params *p, struct r2d_inflate **out)
{
    struct r2d_inflate *z = calloc(1, sizeof(*z));
    static const char *const kinds[] = {"deflate", "zlib", "gzip"};
    int rc;

    *out = NULL;
    if (!z || !(z->name = strdup(p->name)) || !(z->what = strdup(p->what))) {
        if (z)
            free(z->name);
        free(z);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", p->name);
    }
    z->in = p->in;
    z->kind = kinds[p->wrap];
    z->wrap = p->wrap;
    z->in_start = p->in_start;
    z->in_end = p->in_end;
    z->max_out = p->max_out;
    rc = r2d_zstream_new(ctx, p->name, &infl_zstream_ops, z, p->spacing, &z->zs);
    if (!rc)
        rc = infl_start(ctx, z);
    if (!rc)
        rc = infl_pass(ctx, z, p);
    if (rc) {
        r2d_inflate_free(z);
        return rc;
    }
    r2d_zstream_set_size(z->zs, z->out_size);
    *out = z;
    return 0;
}

int
r2d_inflate_read(struct r2d_ctx *ctx, struct r2d_inflate *z, uint64_t off, void *buf, size_t len)
{
    return r2d_zstream_read(ctx, z->zs, off, buf, len);
}

void
r2d_inflate_get_info(const struct r2d_inflate *z, struct r2d_inflate_info *info)
{
    *info = (struct r2d_inflate_info){
        .window = z->wsize,
        .in_end = z->in_end,
        .out_size = z->out_size,
        .points = r2d_zstream_point_count(z->zs),
        .index_bytes = r2d_zstream_index_bytes(z->zs),
        .spacing = r2d_zstream_spacing(z->zs),
        .members = z->members,
        .crc = z->crc,
    };
}
