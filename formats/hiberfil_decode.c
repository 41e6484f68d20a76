/* SPDX-License-Identifier: MIT */
/*
 * The hibernation decoding source: page sets decoded on demand (Xpress LZ77, Xpress Huffman or stored), a
 * small cache of decoded sets for partial reads, and a second thread that decodes half of the whole sets of
 * every long read straight into the caller's buffer, so both cores work on a conversion's sequential pass.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "hiberfil_priv.h"
#include "xpress.h"

int
r2d_hib_decode_set(struct r2d_ctx *ctx, const struct hib_file *h, struct hib_decoder *dec, size_t i, uint8_t *dst)
{
    const struct hib_set *s = &h->sets[i];
    const size_t out = (size_t)s->pages * HIB_PAGE;
    struct r2d_codec_result res = {0};
    int rc;

    if (s->method == HIB_STORED)
        return r2d_bytesrc_read(ctx, h->in, s->off, dst, out, "stored page set");
    if (dec->ccap < s->csize) {
        uint8_t *b = realloc(dec->cbuf, s->csize);

        if (!b)
            return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for a compressed page set", h->path);
        dec->cbuf = b;
        dec->ccap = s->csize;
    }
    rc = r2d_bytesrc_read(ctx, h->in, s->off, dec->cbuf, s->csize, "compressed page set");
    if (rc)
        return rc;
    rc = s->method == HIB_HUFFMAN ? r2d_xpress_huffman_decode(dec->cbuf, s->csize, dst, out, &res)
                                  : r2d_xpress_lz77_decode(dec->cbuf, s->csize, dst, out, &res);
    R2D_CHECK(rc, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": page set %zu (%s, 0x%" PRIx32 " bytes for %u pages) does not decode: %s "
              "(input byte 0x%zx, 0x%zx of 0x%zx bytes out)",
              h->path, s->off, i, s->method == HIB_HUFFMAN ? "Xpress Huffman" : "Xpress LZ77", s->csize,
              (unsigned)s->pages, res.why ? res.why : "corrupt stream", res.consumed, res.produced, out);
    return 0;
}

/* The set holding source page idx (the sets cover the source pages in order, without gaps). */
static size_t
hib_find(const struct hib_file *h, uint64_t idx)
{
    return r2d_find_last_le(h->sets, h->nsets, sizeof(*h->sets), offsetof(struct hib_set, first),
                            sizeof(uint64_t), idx);
}

/* Set i through the cache of decoded sets (caller's thread only). */
static int
hib_cached(struct r2d_ctx *ctx, struct hib_file *h, size_t i, const uint8_t **out)
{
    const size_t stride = (size_t)h->max_pages * HIB_PAGE;
    unsigned slot;
    int rc;

    for (slot = 0; slot < HIB_CACHE_SETS; slot++)
        if (h->cache_set[slot] == i) {
            *out = h->cache + slot * stride;
            return 0;
        }
    slot = h->cache_next;
    h->cache_next = (h->cache_next + 1) % HIB_CACHE_SETS;
    h->cache_set[slot] = SIZE_MAX;
    rc = r2d_hib_decode_set(ctx, h, &h->dec, i, h->cache + slot * stride);
    if (rc)
        return rc;
    h->cache_set[slot] = i;
    *out = h->cache + slot * stride;
    return 0;
}

/* Whole sets [first, first + count) into dst, in order. */
static int
hib_decode_range(struct r2d_ctx *ctx, void *owner, void *state, uint64_t first, uint64_t count, uint8_t *dst)
{
    const struct hib_file *h = owner;
    struct hib_decoder *dec = state;
    int rc = 0;

    for (uint64_t i = first; !rc && i < first + count; i++) {
        rc = r2d_hib_decode_set(ctx, h, dec, i, dst);
        dst += (size_t)h->sets[i].pages * HIB_PAGE;
    }
    return rc;
}

/* Whole sets [first, first + count) into dst: the second half by the helper while this thread does the first. */
static int
hib_decode_sets(struct r2d_ctx *ctx, struct hib_file *h, size_t first, size_t count, uint8_t *dst)
{
    const size_t mine = count / 2;
    const uint64_t mine_pages = h->sets[first + mine].first - h->sets[first].first;

    if (count < HIB_PARALLEL_MIN)
        return hib_decode_range(ctx, h, &h->dec, first, count, dst);
    if (!h->helper.decode)
        r2d_decode_helper_init(&h->helper, hib_decode_range, h, &h->wdec);
    return r2d_decode_helper_split(ctx, &h->helper, &h->dec, first, count, mine, dst, dst + mine_pages * HIB_PAGE);
}

/* How many sets from i on lie whole inside [off, off + len) of the source (off at set i's start). */
static size_t
hib_whole_sets(const struct hib_file *h, size_t i, size_t len)
{
    const uint64_t pages = len / HIB_PAGE;
    size_t n = 0;

    while (i + n < h->nsets && h->sets[i + n].first + h->sets[i + n].pages - h->sets[i].first <= pages)
        n++;
    return n;
}

static int
hib_src_read(struct r2d_ctx *ctx, void *src, uint64_t off, void *buf, size_t len)
{
    struct hib_file *h = src;
    uint8_t *p = buf;

    R2D_CHECK(off / HIB_PAGE >= h->npages || len > (h->npages - off / HIB_PAGE) * HIB_PAGE, ctx, R2D_EINVAL,
              "%s: source bytes 0x%" PRIx64 "+0x%zx requested but the file holds %" PRIu64 " pages", h->path, off,
              len, h->npages);
    while (len > 0) {
        const size_t i = hib_find(h, off / HIB_PAGE);
        const uint64_t base = h->sets[i].first * HIB_PAGE, in = off - base;
        const size_t whole = in == 0 ? hib_whole_sets(h, i, len) : 0;
        const uint8_t *set;
        size_t n;
        int rc;

        if (whole > 0) {
            const uint64_t bytes = (h->sets[i + whole - 1].first + h->sets[i + whole - 1].pages) * HIB_PAGE - base;

            rc = hib_decode_sets(ctx, h, i, whole, p);
            n = (size_t)bytes;
        } else {
            const uint64_t avail = (uint64_t)h->sets[i].pages * HIB_PAGE - in;

            rc = hib_cached(ctx, h, i, &set);
            n = avail < len ? (size_t)avail : len;
            if (!rc)
                memcpy(p, set + in, n);
        }
        if (rc)
            return rc;
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

static void
hib_src_free(void *src)
{
    struct hib_file *h = src;

    if (!h)
        return;
    r2d_decode_helper_stop(&h->helper);
    free(h->wdec.cbuf);
    free(h->dec.cbuf);
    free(h->sets);
    free(h->cache);
    free(h);
}

const struct r2d_source_ops r2d_hib_source_ops = {
    .name = "hibernation page sets",
    .read = hib_src_read,
    .free = hib_src_free,
};
