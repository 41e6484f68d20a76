/* SPDX-License-Identifier: MIT */
/* Random access to a decoded stream through restart points and a small chunk cache. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "array.h"
#include "zstream.h"

struct zstream_slot {
    uint64_t chunk; /* decoded offset / R2D_ZSTREAM_CHUNK */
    uint64_t used;  /* clock value of the last use; 0: empty */
    uint8_t *buf;
};

/*
 * Cached chunks live in their own mappings, so that a released one goes back to the system at once (glibc
 * serves 1 MiB blocks from its heap once some have been freed, and keeps them).
 */
static uint8_t *
zstream_buf_new(void)
{
    void *p = mmap(NULL, R2D_ZSTREAM_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

static void
zstream_buf_free(uint8_t *buf)
{
    if (buf)
        munmap(buf, R2D_ZSTREAM_CHUNK);
}

struct r2d_zstream {
    char *name;
    const struct r2d_zstream_ops *ops;
    void *codec;
    uint64_t spacing;
    uint64_t size;
    int sized;
    struct r2d_zpoint *pts;
    size_t npts, cap;
    size_t index_bytes;
    int live; /* the decoder stands at cur */
    uint64_t cur;
    uint64_t clock;
    uint64_t restarts;
    uint64_t streamed; /* 1 + the last chunk decoded straight to the reader (0: none yet) */
    struct zstream_slot slot[R2D_ZSTREAM_SLOTS];
};

int
r2d_zstream_new(struct r2d_ctx *ctx, const char *name, const struct r2d_zstream_ops *ops, void *codec,
                uint64_t spacing, struct r2d_zstream **out)
{
    struct r2d_zstream *zs = calloc(1, sizeof(*zs));

    *out = NULL;
    if (!zs || !(zs->name = strdup(name))) {
        free(zs);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", name);
    }
    zs->ops = ops;
    zs->codec = codec;
    zs->spacing = spacing ? spacing : R2D_ZSTREAM_SPACING;
    *out = zs;
    return 0;
}

void
r2d_zstream_free(struct r2d_zstream *zs)
{
    if (!zs)
        return;
    for (size_t i = 0; i < zs->npts; i++)
        free(zs->pts[i].data);
    for (size_t i = 0; i < R2D_ZSTREAM_SLOTS; i++)
        zstream_buf_free(zs->slot[i].buf);
    free(zs->pts);
    free(zs->name);
    free(zs);
}

int
r2d_zstream_point_due(const struct r2d_zstream *zs, uint64_t out)
{
    return zs->npts == 0 || out - zs->pts[zs->npts - 1].out >= zs->spacing;
}

/* Drop every other unpinned point (the first stays: reads start there) and double the spacing. */
static void
zstream_thin(struct r2d_zstream *zs)
{
    size_t kept = 1, odd = 0;

    for (size_t i = 1; i < zs->npts; i++) {
        struct r2d_zpoint *p = &zs->pts[i];

        if (!(p->flags & R2D_ZPOINT_PINNED) && (odd ^= 1)) {
            zs->index_bytes -= p->data_len + sizeof(*p);
            free(p->data);
            continue;
        }
        zs->pts[kept++] = *p;
    }
    zs->npts = kept;
    zs->spacing *= 2;
}

int
r2d_zstream_add_point(struct r2d_ctx *ctx, struct r2d_zstream *zs, const struct r2d_zpoint *pt)
{
    if (r2d_grow(ctx, &zs->pts, &zs->cap, zs->npts + 1, sizeof(*zs->pts), "the restart index")) {
        free(pt->data);
        return r2d_err_prefix(ctx, R2D_ENOMEM, "%s", zs->name);
    }
    zs->pts[zs->npts++] = *pt;
    zs->index_bytes += pt->data_len + sizeof(*pt);
    if (zs->index_bytes > R2D_ZSTREAM_INDEX_MAX)
        zstream_thin(zs);
    return 0;
}

void
r2d_zstream_set_size(struct r2d_zstream *zs, uint64_t size)
{
    zs->size = size;
    zs->sized = 1;
    zs->live = 0;
}

uint64_t
r2d_zstream_size(const struct r2d_zstream *zs)
{
    return zs->size;
}

size_t
r2d_zstream_point_count(const struct r2d_zstream *zs)
{
    return zs->npts;
}

const struct r2d_zpoint *
r2d_zstream_point(const struct r2d_zstream *zs, size_t i)
{
    return &zs->pts[i];
}

size_t
r2d_zstream_index_bytes(const struct r2d_zstream *zs)
{
    return zs->index_bytes;
}

uint64_t
r2d_zstream_spacing(const struct r2d_zstream *zs)
{
    return zs->spacing;
}

void
r2d_zstream_drop_live(struct r2d_zstream *zs)
{
    zs->live = 0;
}

/* The last point at or below off; point 0 is at 0. */
static size_t
zstream_find(const struct r2d_zstream *zs, uint64_t off)
{
    const size_t i = R2D_FIND_LAST_LE(zs->pts, zs->npts, struct r2d_zpoint, out, off);

    return i < zs->npts ? i : 0;
}

/* Decode exactly n bytes at the decoder's position, skipping (into buf) when it stands before start. */
static int
zstream_decode_at(struct r2d_ctx *ctx, struct r2d_zstream *zs, uint64_t start, uint8_t *buf, size_t n)
{
    const size_t lo = zstream_find(zs, start);
    int rc = 0;

    /* Go on from where the decoder stands when that is at or before start and no closer point lies between.
     */
    if (!zs->live || zs->cur > start || zs->pts[lo].out > zs->cur) {
        zs->live = 0;
        r2d_log(ctx, R2D_LOG_TRACE, "%s: restart at decoded offset 0x%" PRIx64 " for 0x%" PRIx64, zs->name,
                zs->pts[lo].out, start);
        zs->restarts++;
        rc = zs->ops->restart(ctx, zs->codec, &zs->pts[lo]);
        if (rc)
            return rc;
        zs->cur = zs->pts[lo].out;
        zs->live = 1;
    }
    while (!rc && zs->cur < start) {
        const uint64_t gap = start - zs->cur;
        const size_t k = gap < R2D_ZSTREAM_CHUNK ? (size_t)gap : R2D_ZSTREAM_CHUNK;

        if (r2d_cancelled(ctx))
            rc = r2d_err(ctx, R2D_ECANCELED, "%s: cancelled while decoding", zs->name);
        else if (!(rc = zs->ops->decode(ctx, zs->codec, buf, k)))
            zs->cur += k;
    }
    if (!rc && !(rc = zs->ops->decode(ctx, zs->codec, buf, n)))
        zs->cur += n;
    if (rc)
        zs->live = 0;
    return rc;
}

/* The slot holding chunk c, decoding it into the least recently used slot when no slot has it. */
static int
zstream_chunk(struct r2d_ctx *ctx, struct r2d_zstream *zs, uint64_t c, const uint8_t **data)
{
    struct zstream_slot *victim = &zs->slot[0];
    const uint64_t start = c * R2D_ZSTREAM_CHUNK;
    const size_t n = zs->size - start < R2D_ZSTREAM_CHUNK ? (size_t)(zs->size - start) : R2D_ZSTREAM_CHUNK;
    int rc;

    zs->clock++;
    for (size_t i = 0; i < R2D_ZSTREAM_SLOTS; i++) {
        struct zstream_slot *s = &zs->slot[i];

        if (s->used && s->chunk == c) {
            s->used = zs->clock;
            *data = s->buf;
            return 0;
        }
        if (s->used < victim->used)
            victim = s;
    }
    if (!victim->buf && !(victim->buf = zstream_buf_new()))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the decoded-chunk cache", zs->name);
    victim->used = 0; /* empty until it holds the whole chunk */
    rc = zstream_decode_at(ctx, zs, start, victim->buf, n);
    if (rc)
        return rc;
    victim->chunk = c;
    victim->used = zs->clock;
    *data = victim->buf;
    return 0;
}

/* True when chunk c is cached. */
static int
zstream_cached(const struct r2d_zstream *zs, uint64_t c)
{
    for (size_t i = 0; i < R2D_ZSTREAM_SLOTS; i++)
        if (zs->slot[i].used && zs->slot[i].chunk == c)
            return 1;
    return 0;
}

/*
 * Whole chunks were decoded straight to the caller, one after the other: the reads are streaming (the
 * writer), and chunks the cache has not served for a while (the analysis's working set) will not be asked
 * for again. Each streamed chunk ages the cache by R2D_ZSTREAM_STREAM_AGE uses, so a few MiB into the stream
 * the old chunks are released, before the writer's ring and buffer have grown: the peak is the analysis's
 * cache or the writer's buffers, not both.
 */
static void
zstream_release_stale(struct r2d_zstream *zs)
{
    zs->clock += R2D_ZSTREAM_STREAM_AGE;
    for (size_t i = 0; i < R2D_ZSTREAM_SLOTS; i++) {
        struct zstream_slot *s = &zs->slot[i];

        if (s->buf && zs->clock - s->used > R2D_ZSTREAM_SLOTS) {
            zstream_buf_free(s->buf);
            s->buf = NULL;
            s->used = 0;
        }
    }
}

int
r2d_zstream_read(struct r2d_ctx *ctx, struct r2d_zstream *zs, uint64_t off, void *buf, size_t len)
{
    uint8_t *dst = buf;

    R2D_CHECK(!zs->sized || off > zs->size || len > zs->size - off, ctx, R2D_EINVAL,
              "%s: decoded offset 0x%" PRIx64 ": read of 0x%zx bytes past the decoded data (0x%" PRIx64
              " bytes)",
              zs->name, off, len, zs->size);
    while (len > 0) {
        const uint64_t c = off / R2D_ZSTREAM_CHUNK;
        const size_t at = (size_t)(off % R2D_ZSTREAM_CHUNK);
        const size_t n = R2D_ZSTREAM_CHUNK - at < len ? R2D_ZSTREAM_CHUNK - at : len;
        const uint8_t *data = NULL;
        int rc;

        if (at == 0 && n == R2D_ZSTREAM_CHUNK && !zstream_cached(zs, c)) {
            /* A whole chunk nobody has read (the writer's stream): decoded straight into the caller's buffer. */
            rc = zstream_decode_at(ctx, zs, off, dst, n);
            /* Two neighbours in a row is the writer streaming, not a scan's 2 MiB reads at page offsets. */
            if (zs->streamed == c)
                zstream_release_stale(zs);
            zs->streamed = c + 1;
        } else if (!(rc = zstream_chunk(ctx, zs, c, &data))) {
            memcpy(dst, data + at, n);
        }
        if (rc)
            return rc;
        dst += n;
        off += n;
        len -= n;
    }
    return 0;
}
