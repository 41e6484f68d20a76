/* SPDX-License-Identifier: MIT */
/*
 * The hibernation decoding source: page sets decoded on demand (Xpress LZ77, Xpress Huffman or stored), a
 * small cache of decoded sets for partial reads, and a second thread that decodes half of the whole sets of
 * every long read straight into the caller's buffer, so both cores work on a conversion's sequential pass.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "hiberfil_priv.h"
#include "xpress.h"

#define HIB_WORKER_NONE 0
#define HIB_WORKER_ON 1
#define HIB_WORKER_OFF 2

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
hib_decode_range(struct r2d_ctx *ctx, const struct hib_file *h, struct hib_decoder *dec, size_t first,
                 size_t count, uint8_t *dst)
{
    int rc = 0;

    for (size_t i = first; !rc && i < first + count; i++) {
        rc = r2d_hib_decode_set(ctx, h, dec, i, dst);
        dst += (size_t)h->sets[i].pages * HIB_PAGE;
    }
    return rc;
}

static void *
hib_worker_main(void *arg)
{
    struct hib_file *h = arg;
    struct hib_worker *w = &h->worker;
    int rc;

    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->busy && !w->stop)
            pthread_cond_wait(&w->wake, &w->lock);
        if (w->stop)
            break;
        pthread_mutex_unlock(&w->lock);
        rc = hib_decode_range(w->ctx, h, &w->dec, w->first, w->count, w->dst);
        pthread_mutex_lock(&w->lock);
        w->rc = rc;
        w->busy = 0;
        pthread_cond_signal(&w->done);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Start the worker on first use; HIB_WORKER_OFF (decode alone) when anything fails. */
static int
hib_worker_ready(struct hib_file *h)
{
    struct hib_worker *w = &h->worker;

    if (w->state != HIB_WORKER_NONE)
        return w->state == HIB_WORKER_ON;
    w->state = HIB_WORKER_OFF;
    if (!(w->ctx = r2d_ctx_new()))
        return 0;
    r2d_ctx_set_verbosity(w->ctx, R2D_LOG_ERROR);
    if (pthread_mutex_init(&w->lock, NULL) != 0)
        return 0;
    if (pthread_cond_init(&w->wake, NULL) != 0 || pthread_cond_init(&w->done, NULL) != 0 ||
        pthread_create(&w->thread, NULL, hib_worker_main, h) != 0) {
        pthread_mutex_destroy(&w->lock);
        return 0;
    }
    w->state = HIB_WORKER_ON;
    return 1;
}

/* Whole sets [first, first + count) into dst: the second half by the worker while this thread does the first. */
static int
hib_decode_sets(struct r2d_ctx *ctx, struct hib_file *h, size_t first, size_t count, uint8_t *dst)
{
    struct hib_worker *w = &h->worker;
    const size_t mine = count / 2;
    uint64_t mine_pages;
    int rc, wrc;

    if (count < HIB_PARALLEL_MIN || !hib_worker_ready(h))
        return hib_decode_range(ctx, h, &h->dec, first, count, dst);
    mine_pages = h->sets[first + mine].first - h->sets[first].first;
    pthread_mutex_lock(&w->lock);
    w->first = first + mine;
    w->count = count - mine;
    w->dst = dst + mine_pages * HIB_PAGE;
    w->busy = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    rc = hib_decode_range(ctx, h, &h->dec, first, mine, dst);
    pthread_mutex_lock(&w->lock); /* the worker writes into dst: always wait for it */
    while (w->busy)
        pthread_cond_wait(&w->done, &w->lock);
    wrc = w->rc;
    pthread_mutex_unlock(&w->lock);
    if (!rc && wrc)
        rc = r2d_err(ctx, wrc, "%s", r2d_errmsg(w->ctx));
    return rc;
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
    struct hib_worker *w;

    if (!h)
        return;
    w = &h->worker;
    if (w->state == HIB_WORKER_ON) {
        pthread_mutex_lock(&w->lock);
        w->stop = 1;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
        pthread_cond_destroy(&w->wake);
        pthread_cond_destroy(&w->done);
        pthread_mutex_destroy(&w->lock);
    }
    r2d_ctx_free(w->ctx);
    free(w->dec.cbuf);
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
