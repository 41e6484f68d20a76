/* SPDX-License-Identifier: MIT */
/*
 * LiME (Linux Memory Extractor) "lime" format: {32-byte range header, range data} repeated, plain or with the
 * whole stream zlib-deflated (compress=1). Facts: docs/formats/lime.md F1-F4 (504ensicsLabs
 * LiME src/lime.h, src/main.c, src/deflate.c; Volatility 2/3 and LeechCore readers).
 *
 * The compressed variant is read through a decoding source, the deflate index of src/containers
 * (inflate_index.h): one sequential inflate pass at open finds the range headers and saves a restart point
 * every LIME_Z_SPACING inflated bytes (at a deflate block boundary, with the window). A read restarts at the
 * nearest point at or below it, so it costs at most about LIME_Z_SPACING bytes of inflate plus the block it
 * lands in; a read that continues where the previous one ended reuses the live inflate stream. The index
 * costs one window (2^CINFO+8 bytes: 2 KiB for LiME's windowBits 11, at most 32 KiB) per LIME_Z_SPACING
 * inflated bytes: 512 KiB per GiB of memory with LiME's 2 KiB window.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "format.h"
#include "inflate_index.h"
#include "io.h"

#define LIME_MAGIC 0x4C694D45u /* on disk 45 4D 69 4C, "EMiL" */
#define LIME_VERSION 1
#define LIME_HDR_SIZE 32
#define LIME_OFF_MAGIC 0x00   /* u32 */
#define LIME_OFF_VERSION 0x04 /* u32, 1 */
#define LIME_OFF_S_ADDR 0x08  /* u64, first physical address */
#define LIME_OFF_E_ADDR 0x10  /* u64, last physical address, inclusive */

#define LIME_Z_SPACING (4u << 20) /* inflated bytes between restart points */
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

/*
 * Headers are read through a window: after a small range the next header is near, so LIME_HDR_WINDOW bytes
 * are read at once (a file of a million one-page ranges: 65,000 reads instead of a million); after a large
 * one only the header itself.
 */
#define LIME_HDR_WINDOW (128u << 10)

struct lime_hdr_window {
    uint8_t *buf; /* page aligned (r2d_alloc_io): the kernel copies into it several times faster */
    uint64_t at;
    size_t len;
    int near; /* the previous range was small: the next header is probably in a window read from here */
};

static int
lime_read_hdr(struct r2d_ctx *ctx, struct r2d_image *img, struct lime_hdr_window *w, uint64_t off,
              uint64_t size, uint8_t *hdr)
{
    if (off < w->at || off - w->at + LIME_HDR_SIZE > w->len) {
        size_t n = w->near ? LIME_HDR_WINDOW : LIME_HDR_SIZE;
        int rc;

        if (n > size - off)
            n = (size_t)(size - off);
        w->len = 0;
        rc = r2d_image_pread(ctx, img, off, w->buf, n, "LiME range header");
        if (rc)
            return rc;
        w->at = off;
        w->len = n;
    }
    memcpy(hdr, w->buf + (off - w->at), LIME_HDR_SIZE);
    return 0;
}

/* Walk the headers from offset 0 to the end of the file (or an all-zero header). */
static int
lime_scan_plain(struct r2d_ctx *ctx, struct r2d_image *img, struct lime_ranges *rs, struct lime_hdr_window *w,
                uint64_t size)
{
    const char *path = r2d_image_path(img);
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
        rc = lime_read_hdr(ctx, img, w, off, size, hdr);
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
        w->near = r.len < LIME_HDR_WINDOW / 2;
        off = r.data_off + r.len;
    }
    return 0;
}

static int
lime_open_plain(struct r2d_ctx *ctx, struct r2d_image *img, struct lime_ranges *rs)
{
    struct lime_hdr_window w = {.buf = r2d_alloc_io(LIME_HDR_WINDOW)};
    int rc;

    if (!w.buf)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", r2d_image_path(img));
    rc = lime_scan_plain(ctx, img, rs, &w, r2d_image_file_size(img));
    free(w.buf);
    return rc ? rc : lime_finish(ctx, img, rs, "offset", 0);
}

/* --- zlib-compressed LiME (compress=1) --- */

/* True when head is a zlib stream whose inflated start is a LiME v1 header. */
static int
lime_probe_zlib(const uint8_t *head, size_t len)
{
    uint8_t out[LIME_HDR_SIZE];
    const size_t got = r2d_inflate_probe_zlib(head, len, out, sizeof(out));

    return got >= 8 && r2d_le32(out + LIME_OFF_MAGIC) == LIME_MAGIC &&
           r2d_le32(out + LIME_OFF_VERSION) == LIME_VERSION;
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

/* The inflate pass hands every inflated byte to the range-header parser. */
struct lime_zsink {
    struct lime_scan sc;
    struct lime_ranges *rs;
    const char *path;
};

static int
lime_zsink(struct r2d_ctx *ctx, void *arg, const uint8_t *p, size_t n)
{
    struct lime_zsink *s = arg;

    return lime_scan_bytes(ctx, s->path, &s->sc, s->rs, p, n);
}

static int
lime_zread(struct r2d_ctx *ctx, void *src, uint64_t off, void *buf, size_t len)
{
    return r2d_inflate_read(ctx, src, off, buf, len);
}

static void
lime_zfree(void *src)
{
    r2d_inflate_free(src);
}

static const struct r2d_source_ops lime_zsrc_ops = {
    .name = "inflated LiME (zlib)",
    .read = lime_zread,
    .free = lime_zfree,
};

/*
 * One inflate pass (src/containers/inflate_index.c) checks the stream and its Adler-32, parses the range
 * headers on the way and saves restart points; the runs are then read through the index.
 */
static int
lime_open_zlib(struct r2d_ctx *ctx, struct r2d_image *img, struct lime_ranges *rs)
{
    const char *path = r2d_image_path(img);
    struct lime_zsink sink = {.rs = rs, .path = path};
    const struct r2d_inflate_params p = {
        .in = r2d_image_input(img),
        .name = path,
        .what = "zlib-compressed LiME data",
        .in_start = 0,
        .in_end = r2d_image_file_size(img),
        .wrap = R2D_INFLATE_ZLIB,
        .spacing = LIME_Z_SPACING,
        .sink = lime_zsink,
        .sink_arg = &sink,
    };
    struct r2d_inflate_info info;
    struct r2d_inflate *z;
    char v[256];
    int rc = r2d_inflate_open(ctx, &p, &z);

    if (rc)
        return rc;
    rc = lime_scan_end(ctx, path, &sink.sc, rs);
    if (rc) {
        r2d_inflate_free(z);
        return rc;
    }
    r2d_inflate_get_info(z, &info);
    snprintf(v, sizeof(v),
             "zlib (window %u bytes): 0x%" PRIx64 " bytes inflate to 0x%" PRIx64 "; %zu restart "
             "points, %zu KiB index",
             info.window, info.in_end, info.out_size, info.points, (info.index_bytes + 1023) / 1024);
    rc = r2d_image_set_source(ctx, img, &lime_zsrc_ops, z); /* img owns z from here */
    if (!rc)
        rc = r2d_image_add_note(ctx, img, "lime.compression", v);
    r2d_log(ctx, R2D_LOG_INFO, "%s: LiME %s", path, v);
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
        rc = lime_open_zlib(ctx, img, &rs);
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
