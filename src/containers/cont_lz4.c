/* SPDX-License-Identifier: MIT */
/*
 * LZ4 frame files (lz4, liblz4's frame format): one or more frames, skippable frames passed over. One pass
 * at open decodes every block once (block sizes are known only by decoding), checks the header, block and
 * content checksums (XXH32) and the content size, and saves restart points at block starts. Blocks are
 * independent by default (lz4's -BI): a point needs nothing more. Linked blocks (-BD) refer to the 64 KiB
 * before them: a point then keeps that window, like a deflate point. The legacy format (lz4 -l) is refused.
 * Facts: docs/formats/containers.md "LZ4".
 */
#include <inttypes.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "bytes.h"
#include "container_kinds.h"
#include "zstream.h"

#define LZ4_HIST 65536u              /* the window of linked blocks */
#define LZ4_INDEP_SPACING (1u << 20) /* independent blocks: points are cheap */
#define LZ4_MAX_FRAMES (1u << 20)
#define LZ4F_FLG_INDEP 0x20
#define LZ4F_FLG_BLOCK_SUM 0x10
#define LZ4F_FLG_CSIZE 0x08
#define LZ4F_FLG_CONTENT_SUM 0x04
#define LZ4F_FLG_DICTID 0x01

struct lz4_frame {
    uint64_t data; /* offset of the first block header */
    uint64_t out;  /* decoded offset of the frame's first byte */
    uint8_t flg;
    uint32_t bmax; /* Block Maximum Size */
};

struct lz4_src {
    const struct r2d_bytesrc *in;
    const char *name;
    struct lz4_frame *fr;
    size_t nfr, cap;
    int linked;    /* some frame links its blocks */
    uint32_t bmax; /* the largest Block Maximum Size */
    struct r2d_zstream *zs;
    size_t cur;       /* frame being decoded */
    uint64_t next;    /* offset of the next block header; 0 after the frame's EndMark */
    uint64_t cur_out; /* decoded offset of blk[0] */
    uint8_t *blk, *cblk;
    size_t blk_len, blk_pos;
    uint8_t hist[LZ4_HIST]; /* linked blocks: the last bytes before blk, hist_len of them */
    size_t hist_len;
};

/* --- XXH32 (the xxHash specification, v0.1.1) --- */

#define XXH_P1 0x9E3779B1u
#define XXH_P2 0x85EBCA77u
#define XXH_P3 0xC2B2AE3Du
#define XXH_P4 0x27D4EB2Fu
#define XXH_P5 0x165667B1u

struct xxh32 {
    uint32_t v[4];
    uint64_t total;
    uint8_t buf[16];
    size_t have;
};

static uint32_t
xxh_rotl(uint32_t x, unsigned r)
{
    return (x << r) | (x >> (32 - r));
}

static uint32_t
xxh_round(uint32_t acc, uint32_t lane)
{
    return xxh_rotl(acc + lane * XXH_P2, 13) * XXH_P1;
}

static void
xxh32_init(struct xxh32 *h)
{
    *h = (struct xxh32){.v = {XXH_P1 + XXH_P2, XXH_P2, 0, 0u - XXH_P1}};
}

static void
xxh32_update(struct xxh32 *h, const uint8_t *p, size_t n)
{
    h->total += n;
    while (n > 0) {
        const size_t k = 16 - h->have < n ? 16 - h->have : n;

        if (h->have == 0 && n >= 16) {
            for (int i = 0; i < 4; i++)
                h->v[i] = xxh_round(h->v[i], r2d_le32(p + 4 * i));
            p += 16;
            n -= 16;
            continue;
        }
        memcpy(h->buf + h->have, p, k);
        h->have += k;
        p += k;
        n -= k;
        if (h->have == 16) {
            for (int i = 0; i < 4; i++)
                h->v[i] = xxh_round(h->v[i], r2d_le32(h->buf + 4 * i));
            h->have = 0;
        }
    }
}

static uint32_t
xxh32_digest(const struct xxh32 *h)
{
    uint32_t acc = h->total >= 16 ? xxh_rotl(h->v[0], 1) + xxh_rotl(h->v[1], 7) + xxh_rotl(h->v[2], 12) +
                                        xxh_rotl(h->v[3], 18)
                                  : XXH_P5;
    size_t i = 0;

    acc += (uint32_t)h->total;
    for (; i + 4 <= h->have; i += 4)
        acc = xxh_rotl(acc + r2d_le32(h->buf + i) * XXH_P3, 17) * XXH_P4;
    for (; i < h->have; i++)
        acc = xxh_rotl(acc + h->buf[i] * XXH_P5, 11) * XXH_P1;
    acc ^= acc >> 15;
    acc *= XXH_P2;
    acc ^= acc >> 13;
    acc *= XXH_P3;
    acc ^= acc >> 16;
    return acc;
}

static uint32_t
xxh32(const uint8_t *p, size_t n)
{
    struct xxh32 h;

    xxh32_init(&h);
    xxh32_update(&h, p, n);
    return xxh32_digest(&h);
}

/* --- frames and blocks --- */

static void
lz4_free(struct lz4_src *z)
{
    if (!z)
        return;
    r2d_zstream_free(z->zs);
    free(z->fr);
    free(z->blk);
    free(z->cblk);
    free(z);
}

/* The frame descriptor at off: flags, block size, content size; *end just past it. */
static int
lz4_descriptor(struct r2d_ctx *ctx, struct lz4_src *z, uint64_t off, struct lz4_frame *f, uint64_t *csize,
               uint64_t *end)
{
    uint8_t d[19];
    const uint64_t size = r2d_bytesrc_size(z->in);
    size_t n = 7, k = 6;
    int rc;

    R2D_CHECK(size - off < 7, ctx, R2D_ETRUNC, "%s: offset 0x%" PRIx64 ": LZ4 frame header cut short",
              z->name, off);
    if ((rc = r2d_bytesrc_read(ctx, z->in, off, d, 7, "LZ4 frame header")) != 0)
        return rc;
    f->flg = d[4];
    n += (f->flg & LZ4F_FLG_CSIZE ? 8 : 0) + (f->flg & LZ4F_FLG_DICTID ? 4 : 0);
    R2D_CHECK((f->flg >> 6) != 1 || (f->flg & 0x02) || (d[5] & 0x8f) || (d[5] >> 4) < 4, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": bad LZ4 frame descriptor (FLG 0x%02x, BD 0x%02x)", z->name, off,
              d[4], d[5]);
    R2D_CHECK(f->flg & LZ4F_FLG_DICTID, ctx, R2D_EUNSUPPORTED,
              "%s: offset 0x%" PRIx64 ": LZ4 frame needs a dictionary (DictID): not supported", z->name, off);
    R2D_CHECK(size - off < n, ctx, R2D_ETRUNC, "%s: offset 0x%" PRIx64 ": LZ4 frame header cut short",
              z->name, off);
    if ((rc = r2d_bytesrc_read(ctx, z->in, off, d, n, "LZ4 frame header")) != 0)
        return rc;
    *csize = f->flg & LZ4F_FLG_CSIZE ? r2d_le64(d + 6) : UINT64_MAX;
    k = n - 1 - 4; /* the descriptor: FLG up to the byte before HC */
    R2D_CHECK(((xxh32(d + 4, k) >> 8) & 0xff) != d[n - 1], ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": LZ4 frame header checksum mismatch", z->name, off);
    f->bmax = 1u << (8 + 2 * (d[5] >> 4));
    *end = off + n;
    return 0;
}

/*
 * Decode the block whose header is at z->next into blk (blk_len bytes); *end_mark when it is the frame's
 * EndMark. check: verify the block checksum (the pass does; reads too, it costs little).
 */
static int
lz4_block(struct r2d_ctx *ctx, struct lz4_src *z, int *end_mark)
{
    const struct lz4_frame *f = &z->fr[z->cur];
    const uint64_t size = r2d_bytesrc_size(z->in), at = z->next;
    const int sum = (f->flg & LZ4F_FLG_BLOCK_SUM) != 0;
    uint8_t h[4], *src;
    uint32_t bsize, clen;
    int rc;

    R2D_CHECK(size - at < 4, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": LZ4 frame ends without its EndMark (file truncated?)", z->name, at);
    if ((rc = r2d_bytesrc_read(ctx, z->in, at, h, 4, "LZ4 block header")) != 0)
        return rc;
    bsize = r2d_le32(h);
    *end_mark = bsize == 0;
    if (*end_mark)
        return 0;
    clen = bsize & 0x7fffffffu;
    R2D_CHECK(clen > f->bmax, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": LZ4 block of 0x%" PRIx32 " bytes exceeds the frame's 0x%" PRIx32,
              z->name, at, clen, f->bmax);
    R2D_CHECK(size - at - 4 < (uint64_t)clen + (sum ? 4 : 0), ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": LZ4 block of 0x%" PRIx32 " bytes runs past end of file", z->name, at,
              clen);
    /* A stored block is read where it is served from: random memory is mostly stored blocks. */
    src = bsize & 0x80000000u ? z->blk : z->cblk;
    if ((rc = r2d_bytesrc_read(ctx, z->in, at + 4, src, clen + (sum ? 4 : 0), "LZ4 block")) != 0)
        return rc;
    R2D_CHECK(sum && xxh32(src, clen) != r2d_le32(src + clen), ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": LZ4 block checksum mismatch", z->name, at);
    if (bsize & 0x80000000u) {
        z->blk_len = clen;
    } else {
        const int n =
            f->flg & LZ4F_FLG_INDEP
                ? LZ4_decompress_safe((const char *)z->cblk, (char *)z->blk, (int)clen, (int)f->bmax)
                : LZ4_decompress_safe_usingDict((const char *)z->cblk, (char *)z->blk, (int)clen,
                                                (int)f->bmax, (const char *)z->hist, (int)z->hist_len);

        R2D_CHECK(n < 0, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": corrupt LZ4 block at decoded offset 0x%" PRIx64, z->name, at,
                  z->cur_out);
        z->blk_len = (size_t)n;
    }
    z->next = at + 4 + clen + (sum ? 4 : 0);
    return 0;
}

/* After a block of linked data: the window now ends with it. */
static void
lz4_history(struct lz4_src *z)
{
    if (!z->linked)
        return;
    if (z->blk_len >= LZ4_HIST) {
        memcpy(z->hist, z->blk + z->blk_len - LZ4_HIST, LZ4_HIST);
        z->hist_len = LZ4_HIST;
        return;
    }
    if (z->hist_len + z->blk_len > LZ4_HIST) {
        const size_t drop = z->hist_len + z->blk_len - LZ4_HIST;

        memmove(z->hist, z->hist + drop, z->hist_len - drop);
        z->hist_len -= drop;
    }
    memcpy(z->hist + z->hist_len, z->blk, z->blk_len);
    z->hist_len += z->blk_len;
}

static int
lz4_push(struct r2d_ctx *ctx, struct lz4_src *z, const struct lz4_frame *f)
{
    R2D_CHECK(z->nfr >= LZ4_MAX_FRAMES, ctx, R2D_EUNSUPPORTED, "%s: more than %u LZ4 frames", z->name,
              LZ4_MAX_FRAMES);
    if (r2d_grow(ctx, &z->fr, &z->cap, z->nfr + 1, sizeof(*z->fr), "the LZ4 frame table"))
        return r2d_err_prefix(ctx, R2D_ENOMEM, "%s", z->name);
    z->fr[z->nfr++] = *f;
    if (f->bmax > z->bmax) {
        uint8_t *b = realloc(z->blk, f->bmax + 4), *c = b ? realloc(z->cblk, f->bmax + 4) : NULL;

        if (b)
            z->blk = b;
        if (c)
            z->cblk = c;
        if (!b || !c)
            return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for LZ4 blocks", z->name);
        z->bmax = f->bmax;
    }
    z->linked |= !(f->flg & LZ4F_FLG_INDEP);
    return 0;
}

/* A restart point before the block at z->next, with the window when blocks are linked. */
static int
lz4_point(struct r2d_ctx *ctx, struct lz4_src *z)
{
    struct r2d_zpoint pt = {.out = z->cur_out, .in = z->next, .aux = (uint32_t)z->cur};

    if (!(z->fr[z->cur].flg & LZ4F_FLG_INDEP) && z->hist_len) {
        if (!(pt.data = malloc(z->hist_len)))
            return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the LZ4 index", z->name);
        memcpy(pt.data, z->hist, z->hist_len);
        pt.data_len = z->hist_len;
    }
    return r2d_zstream_add_point(ctx, z->zs, &pt);
}

/* The pass over one frame's blocks: decode, check, index. */
static int
lz4_scan_frame(struct r2d_ctx *ctx, struct lz4_src *z, uint64_t csize)
{
    const struct lz4_frame *f = &z->fr[z->cur];
    struct xxh32 h;
    uint8_t sum[4];
    int end = 0, rc = 0;

    xxh32_init(&h);
    z->hist_len = 0;
    while (!rc && !end) {
        if (r2d_zstream_point_count(z->zs) == 0 || r2d_zstream_point_due(z->zs, z->cur_out))
            rc = lz4_point(ctx, z);
        if (!rc && r2d_cancelled(ctx))
            rc = r2d_err(ctx, R2D_ECANCELED, "%s: cancelled while indexing", z->name);
        if (!rc)
            rc = lz4_block(ctx, z, &end);
        if (!rc && !end) {
            xxh32_update(&h, z->blk, z->blk_len);
            lz4_history(z);
            z->cur_out += z->blk_len;
        }
    }
    if (rc)
        return rc;
    z->next += 4; /* the EndMark */
    R2D_CHECK(csize != UINT64_MAX && csize != z->cur_out - f->out, ctx, R2D_EFORMAT,
              "%s: LZ4 frame %zu holds 0x%" PRIx64 " bytes, its header says 0x%" PRIx64, z->name, z->cur,
              z->cur_out - f->out, csize);
    if (f->flg & LZ4F_FLG_CONTENT_SUM) {
        R2D_CHECK(r2d_bytesrc_size(z->in) - z->next < 4, ctx, R2D_ETRUNC,
                  "%s: offset 0x%" PRIx64 ": LZ4 frame ends without its content checksum", z->name, z->next);
        if ((rc = r2d_bytesrc_read(ctx, z->in, z->next, sum, 4, "LZ4 content checksum")) != 0)
            return rc;
        R2D_CHECK(r2d_le32(sum) != xxh32_digest(&h), ctx, R2D_EFORMAT,
                  "%s: LZ4 frame %zu: content checksum mismatch (stored %08" PRIx32 ", data %08" PRIx32 ")",
                  z->name, z->cur, r2d_le32(sum), xxh32_digest(&h));
        z->next += 4;
    }
    return 0;
}

/* The pass: every frame, in order; skippable frames are passed over. */
static int
lz4_scan(struct r2d_ctx *ctx, struct lz4_src *z)
{
    const uint64_t size = r2d_bytesrc_size(z->in);
    uint64_t off = 0;
    int rc = 0;

    while (!rc && off < size) {
        uint8_t m[8];
        struct lz4_frame f = {.out = z->cur_out};
        uint64_t csize = UINT64_MAX;

        R2D_CHECK(size - off < 8, ctx, R2D_ETRUNC,
                  "%s: offset 0x%" PRIx64 ": 0x%" PRIx64 " bytes are no LZ4 frame", z->name, off, size - off);
        if ((rc = r2d_bytesrc_read(ctx, z->in, off, m, 8, "LZ4 frame magic")) != 0)
            break;
        if ((r2d_le32(m) & 0xfffffff0u) == R2D_SKIPPABLE_MAGIC) {
            R2D_CHECK(r2d_le32(m + 4) > size - off - 8, ctx, R2D_ETRUNC,
                      "%s: offset 0x%" PRIx64 ": skippable frame runs past end of file", z->name, off);
            off += 8 + (uint64_t)r2d_le32(m + 4);
            continue;
        }
        R2D_CHECK(r2d_le32(m) == R2D_LZ4_LEGACY_MAGIC, ctx, R2D_EUNSUPPORTED,
                  "%s: offset 0x%" PRIx64
                  ": LZ4 legacy format (lz4 -l) is not supported: recompress without -l",
                  z->name, off);
        R2D_CHECK(r2d_le32(m) != R2D_LZ4_MAGIC, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": not an LZ4 frame (magic 0x%08" PRIx32 ")", z->name, off,
                  r2d_le32(m));
        rc = lz4_descriptor(ctx, z, off, &f, &csize, &f.data);
        if (!rc)
            rc = lz4_push(ctx, z, &f);
        if (!rc) {
            z->cur = z->nfr - 1;
            z->next = f.data;
            rc = lz4_scan_frame(ctx, z, csize);
            off = z->next;
        }
    }
    return rc;
}

/* --- reads --- */

static int
lz4_restart(struct r2d_ctx *ctx, void *codec, const struct r2d_zpoint *pt)
{
    struct lz4_src *z = codec;

    (void)ctx;
    z->cur = pt->aux;
    z->next = pt->in;
    z->cur_out = pt->out;
    z->blk_len = z->blk_pos = 0;
    if (pt->data_len)
        memcpy(z->hist, pt->data, pt->data_len);
    z->hist_len = pt->data_len;
    return 0;
}

static int
lz4_decode(struct r2d_ctx *ctx, void *codec, uint8_t *dst, size_t n)
{
    struct lz4_src *z = codec;

    while (n > 0) {
        size_t k;

        if (z->blk_pos == z->blk_len) {
            int end = 0, rc;

            lz4_history(z);
            z->cur_out += z->blk_len;
            z->blk_len = z->blk_pos = 0;
            rc = lz4_block(ctx, z, &end);
            if (!rc && end) {
                /* The next frame's first block (the pass checked the EndMark, checksum and header). */
                R2D_CHECK(z->cur + 1 >= z->nfr, ctx, R2D_EFORMAT,
                          "%s: the LZ4 frames end before decoded offset 0x%" PRIx64, z->name, z->cur_out);
                z->cur++;
                z->next = z->fr[z->cur].data;
                z->hist_len = 0;
            }
            if (rc)
                return rc;
            continue;
        }
        k = z->blk_len - z->blk_pos < n ? z->blk_len - z->blk_pos : n;
        memcpy(dst, z->blk + z->blk_pos, k);
        z->blk_pos += k;
        dst += k;
        n -= k;
    }
    return 0;
}

static const struct r2d_zstream_ops lz4_zstream_ops = {
    .restart = lz4_restart,
    .decode = lz4_decode,
};

static int
lz4_read(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, uint64_t off, void *buf, size_t len, const char *what)
{
    const struct lz4_src *z = r2d_bytesrc_priv(bs);

    (void)what;
    return r2d_zstream_read(ctx, z->zs, off, buf, len);
}

static void
lz4_close(struct r2d_bytesrc *bs)
{
    lz4_free(r2d_bytesrc_priv(bs));
}

static const struct r2d_bytesrc_ops lz4_ops = {
    .kind = "lz4",
    .read = lz4_read,
    .close = lz4_close,
};

static int
lz4_describe(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, const struct lz4_src *z)
{
    size_t sums = 0;
    char v[240];
    int rc;

    for (size_t i = 0; i < z->nfr; i++)
        sums += (z->fr[i].flg & LZ4F_FLG_CONTENT_SUM) != 0;
    snprintf(v, sizeof(v),
             "LZ4 %s blocks (max %" PRIu32 " KiB) in %zu frame(s): %zu restart points, %zu KiB index",
             z->linked ? "linked" : "independent", z->bmax >> 10, z->nfr, r2d_zstream_point_count(z->zs),
             (r2d_zstream_index_bytes(z->zs) + 1023) / 1024);
    rc = r2d_bytesrc_set_how(ctx, bs, v);
    snprintf(v, sizeof(v), "content checksum (XXH32) in %zu of %zu frames, verified while indexing", sums,
             z->nfr);
    if (!rc)
        rc = r2d_bytesrc_add_note(ctx, bs, "checks", v);
    return rc;
}

static int
lz4_open(struct r2d_ctx *ctx, struct r2d_bytesrc *below, const struct r2d_container_opts *opts,
         struct r2d_bytesrc **out)
{
    struct lz4_src *z = calloc(1, sizeof(*z));
    char *name = r2d_container_name(below, "lz4");
    int rc;

    (void)opts; /* the pass checks every checksum anyway */
    *out = NULL;
    if (!z || !name) {
        free(z);
        free(name);
        r2d_bytesrc_close(below);
        return r2d_err(ctx, R2D_ENOMEM, "out of memory");
    }
    z->in = below;
    z->name = r2d_bytesrc_name(below);
    rc = r2d_zstream_new(ctx, name, &lz4_zstream_ops, z, LZ4_INDEP_SPACING, &z->zs);
    if (!rc)
        rc = lz4_scan(ctx, z);
    if (!rc && z->nfr == 0)
        rc = r2d_err(ctx, R2D_EFORMAT, "%s: no LZ4 frame", z->name);
    if (rc) {
        lz4_free(z);
        free(name);
        r2d_bytesrc_close(below);
        return rc;
    }
    r2d_zstream_set_size(z->zs, z->cur_out);
    rc = r2d_bytesrc_new_layer(ctx, &lz4_ops, z, below, name, z->cur_out, out);
    free(name);
    if (!rc)
        rc = lz4_describe(ctx, *out, z);
    if (rc) {
        r2d_bytesrc_close(*out);
        *out = NULL;
    }
    return rc;
}

const struct r2d_container_kind r2d_container_lz4 = {
    .name = "lz4",
    .summary = "LZ4 frames (lz4), independent or linked blocks: block index",
    .probe = r2d_probe_lz4,
    .open = lz4_open,
};
