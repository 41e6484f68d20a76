/* SPDX-License-Identifier: MIT */
/*
 * LiME (Linux Memory Extractor) "lime" format: {32-byte range header, range data} repeated, plain or with the
 * whole stream zlib-deflated (compress=1). Facts: docs/formats/lime.md F1-F4 (504ensicsLabs
 * LiME src/lime.h, src/main.c, src/deflate.c; Volatility 2/3 and LeechCore readers).
 *
 * The compressed variant is read through a decoding source: one sequential inflate pass at open finds the
 * range headers and saves a restart point every LIME_Z_SPACING inflated bytes (at a deflate block boundary:
 * the compressed offset, the bits of the previous byte still unused, and the last window-size bytes of
 * output). A read restarts at the nearest point at or below it, so it costs at most about LIME_Z_SPACING
 * bytes of inflate plus the block it lands in; a read that continues where the previous one ended reuses
 * the live inflate stream. The index costs one window (2^CINFO+8 bytes: 2 KiB for LiME's windowBits 11,
 * at most 32 KiB) per LIME_Z_SPACING inflated bytes: 512 KiB per GiB of memory with LiME's 2 KiB window.
 */
#include <inttypes.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "array.h"
#include "format.h"

#define LIME_MAGIC 0x4C694D45u /* on disk 45 4D 69 4C, "EMiL" */
#define LIME_VERSION 1
#define LIME_HDR_SIZE 32
#define LIME_OFF_MAGIC 0x00   /* u32 */
#define LIME_OFF_VERSION 0x04 /* u32, 1 */
#define LIME_OFF_S_ADDR 0x08  /* u64, first physical address */
#define LIME_OFF_E_ADDR 0x10  /* u64, last physical address, inclusive */

/* zlib stream header (RFC 1950): CMF = CINFO << 4 | CM, FLG with FCHECK and FDICT. */
#define ZLIB_HDR_SIZE 2
#define ZLIB_CM_DEFLATE 8
#define ZLIB_FLG_FDICT 0x20
#define LIME_Z_WIN_MAX 32768u
#define LIME_Z_SPACING (4u << 20)      /* inflated bytes between restart points */
#define LIME_Z_IN_CHUNK (256u << 10)   /* compressed bytes read at a time */
#define LIME_Z_SCRATCH (64u << 10)     /* inflated bytes discarded at a time when seeking forward */
#define LIME_Z_PROBE_ARENA (48u << 10) /* zlib's inflate state (~7 KiB) plus a window of up to 32 KiB */
#define LIME_PROBE_BYTES 4096
#define LIME_MAX_RANGES (1u << 20) /* ranges in one file */

struct lime_range {
    uint64_t pa, len;
    uint64_t hdr_off;  /* offset of the header: file offset, or inflated offset when compressed */
    uint64_t data_off; /* same space as hdr_off */
};

struct lime_ranges {
    struct lime_range *r;
    size_t n, cap;
    int terminated; /* an all-zero header ended the list */
    uint64_t term_off;
    uint64_t after_term; /* bytes after that header, ignored */
};

/* A place where inflate can start again (zlib's inflatePrime + inflateSetDictionary). */
struct lime_zpoint {
    uint64_t out; /* inflated offset */
    uint64_t in;  /* file offset of the first compressed byte not yet consumed */
    int bits;     /* 0-7 high bits of the byte at in - 1 that still belong to the stream */
    unsigned wlen;
    uint8_t *window; /* the wlen inflated bytes before out */
};

/* The decoding source of a compressed LiME file; its address space is the inflated stream. */
struct lime_zsrc {
    const struct r2d_bytesrc *input;
    char *path;
    uint64_t file_size;
    unsigned wsize;    /* window size declared by the zlib header */
    uint64_t out_size; /* inflated bytes in the stream */
    uint64_t in_end;   /* file offset just past the deflate data */
    struct lime_zpoint *pts;
    size_t npts, cap_pts;
    z_stream zs; /* raw inflate used by reads; never moved (zlib keeps a pointer to it) */
    int zs_init, live;
    uint64_t cur_out; /* inflated offset of the next byte zs produces, when live */
    uint64_t in_next; /* file offset of the next byte to load into in[] */
    uint8_t in[LIME_Z_IN_CHUNK];
    uint8_t scratch[LIME_Z_SCRATCH];
};

/* The first pass's parser state over the inflated stream. */
struct lime_scan {
    uint64_t pos;  /* inflated offset of the next byte */
    uint64_t skip; /* bytes of the current range's data still to pass */
    uint8_t hdr[LIME_HDR_SIZE];
    size_t have;
    uint64_t hdr_off;
};

/* --- range headers, shared by the plain and the compressed variant --- */

/*
 * Decode one header read at off (where: "offset" or "inflated offset"). Returns 0 for a range, 1 for an
 * all-zero header (a terminator, as LeechCore writes), or an error.
 */
static int
lime_parse_header(struct r2d_ctx *ctx, const char *path, const char *where, uint64_t off, const uint8_t *hdr,
                  struct lime_range *out)
{
    const uint32_t magic = r2d_le32(hdr + LIME_OFF_MAGIC);
    const uint32_t version = r2d_le32(hdr + LIME_OFF_VERSION);
    const uint64_t first = r2d_le64(hdr + LIME_OFF_S_ADDR);
    const uint64_t last = r2d_le64(hdr + LIME_OFF_E_ADDR);
    int zero = 1;

    for (size_t i = 0; i < LIME_HDR_SIZE; i++)
        zero &= hdr[i] == 0;
    if (zero)
        return 1;
    R2D_CHECK(magic != LIME_MAGIC, ctx, R2D_EFORMAT,
              "%s: %s 0x%" PRIx64 ": LiME range header has magic 0x%08" PRIx32 ", expected 0x%08x", path,
              where, off, magic, LIME_MAGIC);
    R2D_CHECK(version != LIME_VERSION, ctx, R2D_EUNSUPPORTED,
              "%s: %s 0x%" PRIx64 ": LiME range header version %" PRIu32 ", only version 1 is known", path,
              where, off, version);
    R2D_CHECK(last < first, ctx, R2D_EFORMAT,
              "%s: %s 0x%" PRIx64 ": LiME range end 0x%" PRIx64 " is below its start 0x%" PRIx64, path, where,
              off, last, first);
    R2D_CHECK(last - first == UINT64_MAX, ctx, R2D_EFORMAT,
              "%s: %s 0x%" PRIx64 ": LiME range 0x%" PRIx64 "-0x%" PRIx64 " covers the whole 64-bit space",
              path, where, off, first, last);
    out->pa = first;
    out->len = last - first + 1;
    out->hdr_off = off;
    out->data_off = off + LIME_HDR_SIZE;
    return 0;
}

static int
lime_push(struct r2d_ctx *ctx, const char *path, struct lime_ranges *rs, const struct lime_range *r)
{
    /* A deflate stream repeating one 33-byte header+data unit would otherwise grow the table ~1000x faster
     * than the file (LiME writes one range per System RAM region: tens, not millions). */
    R2D_CHECK(rs->n >= LIME_MAX_RANGES, ctx, R2D_EFORMAT,
              "%s: more than %u LiME ranges (range at physical 0x%" PRIx64 "): not a memory map", path,
              LIME_MAX_RANGES, r->pa);
    if (r2d_grow(ctx, &rs->r, &rs->cap, rs->n + 1, sizeof(*rs->r), "the LiME range table"))
        return r2d_err_prefix(ctx, R2D_ENOMEM, "%s", path);
    rs->r[rs->n++] = *r;
    return 0;
}

static int
lime_range_cmp(const void *a, const void *b)
{
    const struct lime_range *x = a, *y = b;

    if (x->pa != y->pa)
        return x->pa < y->pa ? -1 : 1;
    return x->hdr_off < y->hdr_off ? -1 : x->hdr_off > y->hdr_off;
}

/* Sort, refuse overlaps naming both headers, add the runs and the report notes. */
static int
lime_finish(struct r2d_ctx *ctx, struct r2d_image *img, struct lime_ranges *rs, const char *where, int source)
{
    const char *path = r2d_image_path(img);
    int ascending = 1;
    char v[160];
    int rc = 0;

    R2D_CHECK(rs->n == 0, ctx, R2D_EFORMAT, "%s: %s 0x0: no LiME range before the end of the data", path,
              where);
    for (size_t i = 1; i < rs->n; i++)
        ascending &= rs->r[i - 1].pa < rs->r[i].pa;
    qsort(rs->r, rs->n, sizeof(*rs->r), lime_range_cmp);
    for (size_t i = 1; i < rs->n; i++) {
        const struct lime_range *a = &rs->r[i - 1], *b = &rs->r[i];

        R2D_CHECK(b->pa - a->pa < a->len, ctx, R2D_EFORMAT,
                  "%s: LiME ranges overlap: physical 0x%" PRIx64 "-0x%" PRIx64 " (header at %s 0x%" PRIx64
                  ") and 0x%" PRIx64 "-0x%" PRIx64 " (header at %s 0x%" PRIx64 ")",
                  path, a->pa, a->pa + a->len - 1, where, a->hdr_off, b->pa, b->pa + b->len - 1, where,
                  b->hdr_off);
    }
    for (size_t i = 0; !rc && i < rs->n; i++)
        rc = source ? r2d_image_add_source_run(ctx, img, rs->r[i].pa, rs->r[i].len, rs->r[i].data_off)
                    : r2d_image_add_file_run(ctx, img, rs->r[i].pa, rs->r[i].len, rs->r[i].data_off);
    snprintf(v, sizeof(v), "%zu (%s)", rs->n, ascending ? "ascending" : "not in ascending order; sorted");
    if (!rc)
        rc = r2d_image_add_note(ctx, img, "lime.ranges", v);
    if (!rc && rs->terminated) {
        snprintf(v, sizeof(v), "all-zero header at %s 0x%" PRIx64 ", 0x%" PRIx64 " bytes after it ignored",
                 where, rs->term_off, rs->after_term);
        rc = r2d_image_add_note(ctx, img, "lime.terminator", v);
    }
    if (!rc && rs->terminated && rs->after_term)
        r2d_log(ctx, R2D_LOG_WARN,
                "%s: ignoring 0x%" PRIx64 " bytes after the all-zero LiME header at %s 0x%" PRIx64, path,
                rs->after_term, where, rs->term_off);
    return rc;
}

/* --- plain LiME --- */

static int
lime_open_plain(struct r2d_ctx *ctx, struct r2d_image *img, struct lime_ranges *rs)
{
    const char *path = r2d_image_path(img);
    const uint64_t size = r2d_image_file_size(img);
    uint64_t off = 0;

    while (off < size) {
        uint8_t hdr[LIME_HDR_SIZE];
        struct lime_range r;
        int rc;

        R2D_CHECK(size - off < LIME_HDR_SIZE, ctx, R2D_ETRUNC,
                  "%s: offset 0x%" PRIx64 ": %" PRIu64
                  " trailing bytes are too short for a LiME range header "
                  "(0x%x bytes)",
                  path, off, size - off, LIME_HDR_SIZE);
        rc = r2d_image_pread(ctx, img, off, hdr, sizeof(hdr), "LiME range header");
        if (rc)
            return rc;
        rc = lime_parse_header(ctx, path, "offset", off, hdr, &r);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            rs->terminated = 1;
            rs->term_off = off;
            rs->after_term = size - off - LIME_HDR_SIZE;
            break;
        }
        R2D_CHECK(r.len > size - r.data_off, ctx, R2D_ETRUNC,
                  "%s: offset 0x%" PRIx64 ": LiME range 0x%" PRIx64 "-0x%" PRIx64 " (0x%" PRIx64
                  " bytes) runs "
                  "past end of file (size 0x%" PRIx64 ")",
                  path, off, r.pa, r.pa + r.len - 1, r.len, size);
        rc = lime_push(ctx, path, rs, &r);
        if (rc)
            return rc;
        off = r.data_off + r.len;
    }
    return lime_finish(ctx, img, rs, "offset", 0);
}

/* --- zlib-compressed LiME (compress=1) --- */

static int
lime_zlib_header_ok(const uint8_t *p)
{
    return (p[0] & 0x0F) == ZLIB_CM_DEFLATE && (p[0] >> 4) <= 7 && ((unsigned)p[0] * 256 + p[1]) % 31 == 0 &&
           !(p[1] & ZLIB_FLG_FDICT);
}

/* A bump allocator on the caller's stack so that probing allocates nothing. */
struct lime_arena {
    uint8_t *base;
    size_t used, cap;
};

static voidpf
lime_arena_alloc(voidpf opaque, uInt items, uInt size)
{
    struct lime_arena *a = opaque;
    const size_t n = ((size_t)items * size + 15) & ~(size_t)15;

    if (n > a->cap - a->used)
        return Z_NULL;
    a->used += n;
    return a->base + a->used - n;
}

static void
lime_arena_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    (void)p;
}

/* True when head is a zlib stream whose inflated start is a LiME v1 header. */
static int
lime_probe_zlib(const uint8_t *head, size_t len)
{
    alignas(16) uint8_t mem[LIME_Z_PROBE_ARENA];
    struct lime_arena arena = {.base = mem, .cap = sizeof(mem)};
    uint8_t out[LIME_HDR_SIZE];
    z_stream zs;
    int ok;

    if (len < ZLIB_HDR_SIZE || !lime_zlib_header_ok(head))
        return 0;
    memset(&zs, 0, sizeof(zs));
    zs.zalloc = lime_arena_alloc;
    zs.zfree = lime_arena_free;
    zs.opaque = &arena;
    if (inflateInit2(&zs, 0) != Z_OK) /* 0: the window size the header declares */
        return 0;
    zs.next_in = (Bytef *)head;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = sizeof(out);
    (void)inflate(&zs, Z_SYNC_FLUSH);
    ok = sizeof(out) - zs.avail_out >= 8 && r2d_le32(out + LIME_OFF_MAGIC) == LIME_MAGIC &&
         r2d_le32(out + LIME_OFF_VERSION) == LIME_VERSION;
    inflateEnd(&zs);
    return ok;
}

static void
lime_zsrc_free(void *p)
{
    struct lime_zsrc *src = p;

    if (!src)
        return;
    if (src->zs_init)
        inflateEnd(&src->zs);
    for (size_t i = 0; i < src->npts; i++)
        free(src->pts[i].window);
    free(src->pts);
    free(src->path);
    free(src);
}

static int
lime_zerr(struct r2d_ctx *ctx, struct lime_zsrc *src, int zret, const char *msg, uint64_t out)
{
    const uint64_t at = src->in_next - src->zs.avail_in;

    src->live = 0;
    if (zret == Z_MEM_ERROR)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for zlib", src->path);
    return r2d_err(ctx, R2D_EFORMAT,
                   "%s: compressed offset 0x%" PRIx64 ": corrupt zlib-compressed LiME data "
                   "(%s) at inflated offset 0x%" PRIx64,
                   src->path, at, msg ? msg : "zlib error", out);
}

/* Refill the input buffer when empty; running out of file before the stream ends is truncation. */
static int
lime_zfeed(struct r2d_ctx *ctx, struct lime_zsrc *src, uint64_t out)
{
    size_t n;
    int rc;

    if (src->zs.avail_in > 0)
        return 0;
    if (src->in_next >= src->file_size) {
        src->live = 0;
        return r2d_err(ctx, R2D_ETRUNC,
                       "%s: offset 0x%" PRIx64 ": zlib stream ends without its end marker "
                       "(file truncated?) at inflated offset 0x%" PRIx64,
                       src->path, src->file_size, out);
    }
    n = src->file_size - src->in_next < LIME_Z_IN_CHUNK ? (size_t)(src->file_size - src->in_next)
                                                        : LIME_Z_IN_CHUNK;
    rc = r2d_bytesrc_read(ctx, src->input, src->in_next, src->in, n, "compressed LiME data");
    if (rc) {
        src->live = 0;
        return rc;
    }
    src->zs.next_in = src->in;
    src->zs.avail_in = (uInt)n;
    src->in_next += n;
    return 0;
}

static int
lime_zadd_point(struct r2d_ctx *ctx, struct lime_zsrc *src, uint64_t out, uint64_t in, int bits,
                const uint8_t *ring)
{
    struct lime_zpoint *pt;
    const unsigned wlen = out < src->wsize ? (unsigned)out : src->wsize;

    if (r2d_grow(ctx, &src->pts, &src->cap_pts, src->npts + 1, sizeof(*src->pts), "the inflate index"))
        return r2d_err_prefix(ctx, R2D_ENOMEM, "%s", src->path);
    pt = &src->pts[src->npts];
    *pt = (struct lime_zpoint){.out = out, .in = in, .bits = bits, .wlen = wlen};
    if (wlen) {
        /* ring holds the last LIME_Z_WIN_MAX inflated bytes, byte k at ring[k % LIME_Z_WIN_MAX] */
        const size_t start = (size_t)((out - wlen) % LIME_Z_WIN_MAX);
        const size_t first = LIME_Z_WIN_MAX - start < wlen ? LIME_Z_WIN_MAX - start : wlen;

        pt->window = malloc(wlen);
        if (!pt->window)
            return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the inflate index", src->path);
        memcpy(pt->window, ring + start, first);
        memcpy(pt->window + first, ring, wlen - first);
    }
    src->npts++;
    return 0;
}

/* Feed n freshly inflated bytes to the range-header parser. */
static int
lime_scan_bytes(struct r2d_ctx *ctx, const char *path, struct lime_scan *sc, struct lime_ranges *rs,
                const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t t;

        if (sc->skip > 0 || rs->terminated) {
            t = rs->terminated || sc->skip > n ? n : (size_t)sc->skip;
            if (rs->terminated)
                rs->after_term += t;
            else
                sc->skip -= t;
        } else {
            struct lime_range r;
            int rc;

            if (sc->have == 0)
                sc->hdr_off = sc->pos;
            t = LIME_HDR_SIZE - sc->have < n ? LIME_HDR_SIZE - sc->have : n;
            memcpy(sc->hdr + sc->have, p, t);
            sc->have += t;
            if (sc->have == LIME_HDR_SIZE) {
                sc->have = 0;
                rc = lime_parse_header(ctx, path, "inflated offset", sc->hdr_off, sc->hdr, &r);
                if (rc < 0)
                    return rc;
                if (rc == 1) {
                    rs->terminated = 1;
                    rs->term_off = sc->hdr_off;
                } else {
                    rc = lime_push(ctx, path, rs, &r);
                    if (rc)
                        return rc;
                    sc->skip = r.len;
                }
            }
        }
        p += t;
        n -= t;
        sc->pos += t;
    }
    return 0;
}

/* What the inflated stream must look like at its end: no range cut short, no partial header. */
static int
lime_scan_end(struct r2d_ctx *ctx, const char *path, const struct lime_scan *sc, const struct lime_ranges *rs)
{
    if (sc->skip > 0) {
        const struct lime_range *r = &rs->r[rs->n - 1];

        return r2d_err(ctx, R2D_ETRUNC,
                       "%s: inflated offset 0x%" PRIx64 ": LiME range 0x%" PRIx64 "-0x%" PRIx64 " (0x%" PRIx64
                       " bytes) runs past the end of the inflated data (0x%" PRIx64 " bytes)",
                       path, r->hdr_off, r->pa, r->pa + r->len - 1, r->len, sc->pos);
    }
    R2D_CHECK(sc->have > 0, ctx, R2D_ETRUNC,
              "%s: inflated offset 0x%" PRIx64 ": %zu trailing bytes are too short for a LiME range header "
              "(0x%x bytes)",
              path, sc->hdr_off, sc->have, LIME_HDR_SIZE);
    return 0;
}

/*
 * The first pass: inflate the whole stream once with the zlib wrapper (checking the Adler-32 trailer), parse
 * the range headers on the way and save restart points at block boundaries (zlib's Z_BLOCK). When a header
 * is bad the stream is still inflated to its end: corrupt compressed data is the better explanation, and
 * wins if zlib finds it.
 */
static int
lime_zscan(struct r2d_ctx *ctx, struct lime_zsrc *src, struct lime_ranges *rs)
{
    struct lime_scan sc = {0};
    uint8_t *ring = malloc(LIME_Z_WIN_MAX);
    z_stream *zs = &src->zs;
    uint64_t out = 0, last_pt = 0;
    int rc, zret, parse_rc = 0;
    char parse_msg[1024];

    if (!ring)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for inflating", src->path);
    memset(zs, 0, sizeof(*zs));
    zret = inflateInit2(zs, 0); /* 0: the window size the header declares; larger distances are errors */
    if (zret != Z_OK) {
        free(ring);
        return r2d_err(ctx, R2D_ENOMEM, "%s: cannot initialise zlib (%d)", src->path, zret);
    }
    src->zs_init = 1;
    src->in_next = 0;
    rc = lime_zadd_point(ctx, src, 0, ZLIB_HDR_SIZE, 0, ring); /* raw deflate starts after the header */
    for (;;) {
        const size_t at = (size_t)(out % LIME_Z_WIN_MAX);
        size_t produced;

        if (!rc)
            rc = lime_zfeed(ctx, src, out);
        if (!rc && r2d_cancelled(ctx))
            rc = r2d_err(ctx, R2D_ECANCELED, "%s: cancelled while inflating", src->path);
        if (rc)
            break;
        zs->next_out = ring + at;
        zs->avail_out = LIME_Z_WIN_MAX - (uInt)at;
        zret = inflate(zs, Z_BLOCK);
        produced = LIME_Z_WIN_MAX - at - zs->avail_out;
        if (!parse_rc && (parse_rc = lime_scan_bytes(ctx, src->path, &sc, rs, ring + at, produced)) != 0)
            snprintf(parse_msg, sizeof(parse_msg), "%s", r2d_errmsg(ctx));
        out += produced;
        if (zret == Z_STREAM_END)
            break;
        if (zret != Z_OK && zret != Z_BUF_ERROR) {
            rc = lime_zerr(ctx, src, zret, zs->msg, out);
            break;
        }
        /* 128: stopped just after a block's end code; 64: that was the last block (nothing to restart). */
        if ((zs->data_type & 128) && !(zs->data_type & 64) && out - last_pt >= LIME_Z_SPACING) {
            rc = lime_zadd_point(ctx, src, out, src->in_next - zs->avail_in, zs->data_type & 7, ring);
            last_pt = out;
        }
    }
    free(ring);
    if (rc)
        return rc;
    if (parse_rc)
        return r2d_err(ctx, parse_rc, "%s", parse_msg);
    src->out_size = out;
    src->in_end = src->in_next - zs->avail_in;
    R2D_CHECK(src->in_end != src->file_size, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": 0x%" PRIx64 " bytes after the end of the zlib stream", src->path,
              src->in_end, src->file_size - src->in_end);
    src->live = 0; /* reads use raw inflate from a restart point */
    return lime_scan_end(ctx, src->path, &sc, rs);
}

/* Put the read stream at restart point i. */
static int
lime_zrestart(struct r2d_ctx *ctx, struct lime_zsrc *src, size_t i)
{
    const struct lime_zpoint *pt = &src->pts[i];
    int zret = inflateReset2(&src->zs, -15);

    if (zret == Z_OK && pt->bits) {
        uint8_t byte;
        const int rc = r2d_bytesrc_read(ctx, src->input, pt->in - 1, &byte, 1, "compressed LiME data");

        if (rc)
            return rc;
        zret = inflatePrime(&src->zs, pt->bits, byte >> (8 - pt->bits));
    }
    if (zret == Z_OK && pt->wlen)
        zret = inflateSetDictionary(&src->zs, pt->window, pt->wlen);
    src->zs.avail_in = 0;
    src->in_next = pt->in;
    src->cur_out = pt->out;
    if (zret != Z_OK)
        return lime_zerr(ctx, src, zret, src->zs.msg, pt->out);
    src->live = 1;
    return 0;
}

/* Inflate exactly n bytes into dst from the live stream. */
static int
lime_zinflate(struct r2d_ctx *ctx, struct lime_zsrc *src, uint8_t *dst, size_t n)
{
    while (n > 0) {
        const uInt want = n > (1u << 30) ? (1u << 30) : (uInt)n;
        int rc = lime_zfeed(ctx, src, src->cur_out), zret;
        size_t produced;

        if (rc)
            return rc;
        src->zs.next_out = dst;
        src->zs.avail_out = want;
        zret = inflate(&src->zs, Z_NO_FLUSH);
        produced = want - src->zs.avail_out;
        src->cur_out += produced;
        dst += produced;
        n -= produced;
        if (zret == Z_STREAM_END && n > 0)
            return lime_zerr(ctx, src, zret, "the deflate data ends early", src->cur_out);
        if (zret != Z_OK && zret != Z_STREAM_END && zret != Z_BUF_ERROR)
            return lime_zerr(ctx, src, zret, src->zs.msg, src->cur_out);
    }
    return 0;
}

static int
lime_zread(struct r2d_ctx *ctx, void *p, uint64_t off, void *buf, size_t len)
{
    struct lime_zsrc *src = p;
    size_t pt;
    int rc = 0;

    R2D_CHECK(off > src->out_size || len > src->out_size - off, ctx, R2D_EINVAL,
              "%s: inflated offset 0x%" PRIx64 ": read of 0x%zx bytes past the inflated data (0x%" PRIx64
              " bytes)",
              src->path, off, len, src->out_size);
    if (len == 0)
        return 0;
    /* The last point at or below off: there is one, since point 0 is at 0. */
    pt = R2D_FIND_LAST_LE(src->pts, src->npts, struct lime_zpoint, out, off);
    /* Continue the live stream when it is at or before off and no closer point lies in between. */
    if (!src->live || src->cur_out > off || src->pts[pt].out > src->cur_out)
        rc = lime_zrestart(ctx, src, pt);
    while (!rc && src->cur_out < off) {
        const uint64_t gap = off - src->cur_out;

        rc = lime_zinflate(ctx, src, src->scratch, gap < LIME_Z_SCRATCH ? (size_t)gap : LIME_Z_SCRATCH);
    }
    return rc ? rc : lime_zinflate(ctx, src, buf, len);
}

static const struct r2d_source_ops lime_zsrc_ops = {
    .name = "inflated LiME (zlib)",
    .read = lime_zread,
    .free = lime_zsrc_free,
};

static int
lime_open_zlib(struct r2d_ctx *ctx, struct r2d_image *img, struct lime_ranges *rs, const uint8_t *zhdr)
{
    struct lime_zsrc *src = calloc(1, sizeof(*src));
    char v[256];
    int rc;

    if (!src || !(src->path = strdup(r2d_image_path(img)))) {
        free(src);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", r2d_image_path(img));
    }
    src->input = r2d_image_input(img);
    src->file_size = r2d_image_file_size(img);
    src->wsize = 1u << ((zhdr[0] >> 4) + 8);
    rc = lime_zscan(ctx, src, rs);
    if (rc) {
        lime_zsrc_free(src);
        return rc;
    }
    snprintf(v, sizeof(v),
             "zlib (window %u bytes): 0x%" PRIx64 " bytes inflate to 0x%" PRIx64 "; %zu restart "
             "points, %zu KiB index",
             src->wsize, src->in_end, src->out_size, src->npts,
             (src->npts * (sizeof(struct lime_zpoint) + src->wsize) + 1023) / 1024);
    rc = r2d_image_set_source(ctx, img, &lime_zsrc_ops, src); /* img owns src from here */
    if (!rc)
        rc = r2d_image_add_note(ctx, img, "lime.compression", v);
    r2d_log(ctx, R2D_LOG_INFO, "%s: LiME %s", r2d_image_path(img), v);
    return rc ? rc : lime_finish(ctx, img, rs, "inflated offset", 1);
}

static int
lime_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why)
{
    if (len >= 4 && r2d_le32(head + LIME_OFF_MAGIC) == LIME_MAGIC) {
        if (len >= LIME_HDR_SIZE && r2d_le32(head + LIME_OFF_VERSION) == LIME_VERSION &&
            r2d_le64(head + LIME_OFF_E_ADDR) >= r2d_le64(head + LIME_OFF_S_ADDR)) {
            *why = "LiME magic, version 1, valid first range";
            return R2D_PROBE_SURE;
        }
        *why = "LiME magic only";
        return R2D_PROBE_MAGIC;
    }
    if (lime_probe_zlib(head, len)) {
        *why = "zlib stream whose inflated start is a LiME v1 header (compress=1)";
        return R2D_PROBE_SURE;
    }
    return R2D_PROBE_NO;
}

static int
lime_open(struct r2d_ctx *ctx, struct r2d_image *img)
{
    const char *path = r2d_image_path(img);
    const uint64_t size = r2d_image_file_size(img);
    uint8_t head[LIME_PROBE_BYTES];
    const size_t hlen = size < sizeof(head) ? (size_t)size : sizeof(head);
    struct lime_ranges rs = {0};
    int rc;

    R2D_CHECK(size == 0, ctx, R2D_EFORMAT, "%s: empty file, no LiME range header", path);
    rc = r2d_image_pread(ctx, img, 0, head, hlen, "file header");
    if (rc)
        return rc;
    if (hlen >= 4 && r2d_le32(head) == LIME_MAGIC)
        rc = lime_open_plain(ctx, img, &rs);
    else if (lime_probe_zlib(head, hlen))
        rc = lime_open_zlib(ctx, img, &rs, head);
    else
        rc = r2d_err(ctx, R2D_EFORMAT,
                     "%s: offset 0x0: no LiME magic (0x%08x) and not a zlib-compressed LiME "
                     "stream",
                     path, LIME_MAGIC);
    if (!rc && r2d_image_run_count(img) == 0)
        rc = r2d_err(ctx, R2D_EFORMAT, "%s: no LiME range", path);
    free(rs.r);
    return rc;
}

const struct r2d_format r2d_format_lime = {
    .name = "lime",
    .summary = "LiME format=lime (range headers + data), plain or zlib-compressed (compress=1)",
    .probe_bytes = LIME_PROBE_BYTES,
    .probe = lime_probe,
    .open = lime_open,
};
