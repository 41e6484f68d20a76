/* SPDX-License-Identifier: MIT */
/*
 * Random access to a decoded stream (gzip, xz, zstd, lz4, deflated ZIP members, compressed LiME) through
 * restart points: places where a codec can start decoding again (a deflate block boundary with its window,
 * an xz block, a zstd frame). A read restarts at the last point at or below it and decodes forward; a read
 * that continues where the decoder stands goes on without a restart. Decoded bytes pass through a small
 * cache of aligned chunks, so the scattered small reads of the analysis (page tables, the kernel's headers)
 * decode each chunk once while it stays cached. The cache is sized for the analysis's working set (page
 * tables, the kernel, its data structures): with 8 MiB a 32 MiB xz image of 3 MiB blocks restarted 41
 * times during the analysis, with 32 MiB 12 times. Once the reads stream (whole chunks decoded straight into
 * the reader's buffer: the writer), chunks left unused for a while are released (docs/performance.md). A
 * stream with a single restart point (one xz block, one zstd frame) can only decode forward: a read behind
 * the decoder decodes everything before it again.
 *
 * The index is bounded: past R2D_ZSTREAM_INDEX_MAX bytes of points (mostly deflate windows), every other
 * point that is not pinned is dropped and the spacing the codec asks for doubles, so a read costs at most
 * about two spacings of decoding whatever the stream's size.
 */
#ifndef R2D_CONTAINERS_ZSTREAM_H
#define R2D_CONTAINERS_ZSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define R2D_ZSTREAM_CHUNK (1u << 20)      /* cached decoded bytes per slot, aligned */
#define R2D_ZSTREAM_SLOTS 32              /* 32 MiB of decoded chunks */
#define R2D_ZSTREAM_STREAM_AGE 8          /* cache uses a chunk decoded straight to the reader counts as */
#define R2D_ZSTREAM_INDEX_MAX (32u << 20) /* bytes of restart points before thinning */
#define R2D_ZSTREAM_SPACING (4u << 20)    /* default decoded bytes between points */

/* A restart point; in, aux and data mean what the codec says. */
struct r2d_zpoint {
    uint64_t out; /* decoded offset */
    uint64_t in;  /* compressed offset (in the source below) */
    uint32_t aux; /* codec's: bits of a partial byte, a block or frame number */
    uint32_t flags;
    uint8_t *data; /* codec's, malloc'd (a window), freed with the point */
    size_t data_len;
};

#define R2D_ZPOINT_PINNED 1u /* never dropped when thinning (a gzip member's start) */

struct r2d_zstream_ops {
    /* Put the decoder at point pt (the next byte it produces is decoded offset pt->out). */
    int (*restart)(struct r2d_ctx *ctx, void *codec, const struct r2d_zpoint *pt);
    /* Decode exactly n bytes from where the decoder stands into dst. */
    int (*decode)(struct r2d_ctx *ctx, void *codec, uint8_t *dst, size_t n);
};

struct r2d_zstream;

/**
 * A stream named name (for messages; copied) decoded by codec through ops. spacing: decoded bytes between
 * points the codec is asked to save (0: R2D_ZSTREAM_SPACING).
 */
int r2d_zstream_new(struct r2d_ctx *ctx, const char *name, const struct r2d_zstream_ops *ops, void *codec,
                    uint64_t spacing, struct r2d_zstream **out);
void r2d_zstream_free(struct r2d_zstream *zs);

/** True when a point at decoded offset out is due (the spacing since the last point has passed). */
int r2d_zstream_point_due(const struct r2d_zstream *zs, uint64_t out);
/**
 * Append a point (offsets ascending, the first at 0). pt->data, if any, is owned by the stream from now on,
 * also on failure. May thin the index.
 */
int r2d_zstream_add_point(struct r2d_ctx *ctx, struct r2d_zstream *zs, const struct r2d_zpoint *pt);
/** The decoded size, once the index is complete; reads before this fail. */
void r2d_zstream_set_size(struct r2d_zstream *zs, uint64_t size);
uint64_t r2d_zstream_size(const struct r2d_zstream *zs);
size_t r2d_zstream_point_count(const struct r2d_zstream *zs);
const struct r2d_zpoint *r2d_zstream_point(const struct r2d_zstream *zs, size_t i);
/** Bytes the index holds (points and their data). */
size_t r2d_zstream_index_bytes(const struct r2d_zstream *zs);
uint64_t r2d_zstream_spacing(const struct r2d_zstream *zs);
/** The decoder's state is unknown (a failed decode): the next read restarts. */
void r2d_zstream_drop_live(struct r2d_zstream *zs);

/** Read len decoded bytes at off; the caller has checked off + len <= size. */
int r2d_zstream_read(struct r2d_ctx *ctx, struct r2d_zstream *zs, uint64_t off, void *buf, size_t len);

#endif
