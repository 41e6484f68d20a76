/* SPDX-License-Identifier: MIT */
/*
 * The assembled kdump file, read directly or, for QEMU's and makedumpfile -F's flattened stream, through an
 * index of its {offset, size} records (docs/formats/kdump.md F1), with read-ahead windows for the decoders.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "kdump_priv.h"

/* Index of the last record starting at or below off, or nrecs when none. */
static size_t
kdump_find_rec(const struct kdump_file *k, uint64_t off)
{
    return R2D_FIND_LAST_LE(k->recs, k->nrecs, struct kdump_rec, real_off, off);
}

/* Read [off, off + len) of the assembled file. Bytes no flattened record wrote read as zeros, like the
 * sparse file makedumpfile -R would create. */
int
r2d_kdump_read_real(struct r2d_ctx *ctx, const struct kdump_file *k, uint64_t off, void *buf, size_t len,
                const char *what)
{
    uint8_t *p = buf;

    R2D_CHECK(off > k->real_size || len > k->real_size - off, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": %s of 0x%zx bytes runs past end of the %s (size 0x%" PRIx64 ")",
              k->path, off, what, len, k->recs ? "assembled dump" : "file", k->real_size);
    if (!k->recs)
        return r2d_bytesrc_read(ctx, k->in, off, buf, len, what);
    while (len > 0) {
        const size_t i = kdump_find_rec(k, off);
        const struct kdump_rec *r = i < k->nrecs ? &k->recs[i] : NULL;
        size_t n;

        if (r && off - r->real_off < r->len) {
            const uint64_t delta = off - r->real_off;
            int rc;

            n = r->len - delta < len ? (size_t)(r->len - delta) : len;
            rc = r2d_bytesrc_read(ctx, k->in, r->flat_off + delta, p, n, what);
            if (rc)
                return rc;
        } else { /* a gap up to the next record (record 0 when off is below all of them) */
            const size_t next = r ? i + 1 : 0;

            n = len;
            if (next < k->nrecs && k->recs[next].real_off - off < len)
                n = (size_t)(k->recs[next].real_off - off);
            memset(p, 0, n);
        }
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

/*
 * A pointer to len bytes (len <= KDUMP_MAX_BLOCK) of the assembled file at off. Reads moving forward go
 * through a 1 MiB read-ahead window; a read behind the window (QEMU's shared zero page, stored once before
 * all other data) goes to a one-block side buffer that keeps it, so the window is never refilled backwards.
 */
int
r2d_kdump_window_get(struct r2d_ctx *ctx, const struct kdump_file *k, struct kdump_decoder *dec,
                 struct kdump_window *w, uint64_t off, size_t len, const char *what, const uint8_t **out)
{
    struct kdump_window *dst = w;
    uint64_t want;
    int rc;

    if (w->buf && off >= w->off && off - w->off <= w->len && len <= w->len - (off - w->off)) {
        *out = w->buf + (off - w->off);
        return 0;
    }
    if (w->buf && off < w->off) {
        dst = &dec->back;
        if (dst->buf && off == dst->off && len <= dst->len) {
            *out = dst->buf;
            return 0;
        }
    }
    R2D_CHECK(off > k->real_size || len > k->real_size - off, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": %s of 0x%zx bytes runs past end of the %s (size 0x%" PRIx64 ")",
              k->path, off, what, len, k->recs ? "assembled dump" : "file", k->real_size);
    if (!dst->buf && !(dst->buf = r2d_alloc_io(dst == w ? KDUMP_WINDOW : KDUMP_MAX_BLOCK)))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the read-ahead buffer", k->path);
    want = dst == w ? (k->real_size - off < KDUMP_WINDOW ? k->real_size - off : KDUMP_WINDOW) : len;
    dst->len = 0;
    rc = r2d_kdump_read_real(ctx, k, off, dst->buf, (size_t)want, what);
    if (rc)
        return rc;
    dst->off = off;
    dst->len = (size_t)want;
    *out = dst->buf;
    return 0;
}

static int
kdump_rec_cmp(const void *a, const void *b)
{
    const struct kdump_rec *x = a, *y = b;

    return x->real_off < y->real_off ? -1 : x->real_off > y->real_off;
}

static int
kdump_push_rec(struct r2d_ctx *ctx, struct kdump_file *k, size_t *cap, const struct kdump_rec *r)
{
    if (r2d_grow(ctx, &k->recs, cap, k->nrecs + 1, sizeof(*k->recs), "the flattened record index"))
        return r2d_err_prefix(ctx, R2D_ENOMEM, "%s", k->path);
    k->recs[k->nrecs++] = *r;
    return 0;
}

/* One pass over the flattened records: index {real range -> flattened offset}, sorted, overlaps refused. */
int
r2d_kdump_index_flat(struct r2d_ctx *ctx, struct kdump_file *k)
{
    uint64_t pos = KDUMP_FLAT_HDR_SIZE;
    size_t cap = 0;
    uint8_t h[KDUMP_FLAT_REC_SIZE];
    int rc;

    for (;;) {
        uint64_t off, size;

        R2D_CHECK(k->file_size - pos < KDUMP_FLAT_REC_SIZE, ctx, R2D_ETRUNC,
                  "%s: offset 0x%" PRIx64
                  ": flattened stream ends without its end marker (file size 0x%" PRIx64
                  "): the dump was cut short",
                  k->path, pos, k->file_size);
        rc = r2d_bytesrc_read(ctx, k->in, pos, h, sizeof(h), "flattened record header");
        if (rc)
            return rc;
        off = r2d_be64(h);
        size = r2d_be64(h + 8);
        if (off == KDUMP_FLAT_END && size == KDUMP_FLAT_END)
            break;
        R2D_CHECK(off >> 63 || size >> 63 || size > UINT64_MAX / 2 - off, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": flattened record with invalid offset 0x%" PRIx64
                  " or size 0x%" PRIx64,
                  k->path, pos, off, size);
        pos += KDUMP_FLAT_REC_SIZE;
        R2D_CHECK(size > k->file_size - pos, ctx, R2D_ETRUNC,
                  "%s: offset 0x%" PRIx64 ": flattened record of 0x%" PRIx64
                  " bytes runs past end of file (size 0x%" PRIx64 ")",
                  k->path, pos, size, k->file_size);
        if (size > 0) {
            const struct kdump_rec r = {.real_off = off, .len = size, .flat_off = pos};

            rc = kdump_push_rec(ctx, k, &cap, &r);
            if (rc)
                return rc;
            if (off + size > k->real_size)
                k->real_size = off + size;
        }
        pos += size;
    }
    if (pos + KDUMP_FLAT_REC_SIZE < k->file_size)
        r2d_log(ctx, R2D_LOG_WARN, "%s: 0x%" PRIx64 " bytes after the flattened end marker are ignored",
                k->path, k->file_size - pos - KDUMP_FLAT_REC_SIZE);
    R2D_CHECK(k->nrecs == 0, ctx, R2D_EFORMAT, "%s: flattened stream holds no data records", k->path);
    /* Order by real offset; records of equal offset keep stream order (qsort is not stable: flat_off is). */
    qsort(k->recs, k->nrecs, sizeof(*k->recs), kdump_rec_cmp);
    for (size_t i = 1; i < k->nrecs; i++) {
        const struct kdump_rec *a = &k->recs[i - 1], *b = &k->recs[i];

        R2D_CHECK(b->real_off - a->real_off < a->len, ctx, R2D_EUNSUPPORTED,
                  "%s: offset 0x%" PRIx64 ": flattened records overlap (dump offsets 0x%" PRIx64 "-0x%" PRIx64
                  " and 0x%" PRIx64 "-0x%" PRIx64
                  "); reassemble with 'makedumpfile -R' and convert the result",
                  k->path, b->flat_off - KDUMP_FLAT_REC_SIZE, a->real_off, a->real_off + a->len - 1,
                  b->real_off, b->real_off + b->len - 1);
    }
    return 0;
}
