/* SPDX-License-Identifier: MIT */
/*
 * The kdump decoding source: pages decoded by descriptor (raw, zlib, LZO, snappy), a small direct-mapped cache,
 * and a second thread that decodes half of every long read so both cores work on zlib.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "kdump_codec.h"
#include "kdump_priv.h"

/*
 * One zlib page into exactly bs bytes. A z_stream kept for the whole file and reset per page: uncompress()
 * would allocate and free a 40 KiB inflate state for every page, which costs more than the inflating.
 */
static int
kdump_inflate(struct r2d_ctx *ctx, const struct kdump_file *k, struct kdump_decoder *dec, uint64_t idx,
              uint64_t off, const uint8_t *src, uint32_t size, uint8_t *dst)
{
    z_stream *z = &dec->zs;
    int zrc;

    if (!dec->zs_ready) {
        memset(z, 0, sizeof(*z));
        R2D_CHECK(inflateInit(z) != Z_OK, ctx, R2D_ENOMEM, "%s: cannot initialise zlib", k->path);
        dec->zs_ready = 1;
    } else {
        R2D_CHECK(inflateReset(z) != Z_OK, ctx, R2D_EFORMAT, "%s: cannot reset zlib", k->path);
    }
    z->next_in = (Bytef *)(uintptr_t)src;
    z->avail_in = size;
    z->next_out = dst;
    z->avail_out = k->bs;
    zrc = inflate(z, Z_FINISH);
    R2D_CHECK(zrc != Z_STREAM_END || z->avail_out != 0, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": zlib page %" PRIu64 " of 0x%" PRIx32
              " bytes does not decode to one 0x%" PRIx32 "-byte block (zlib %d, 0x%" PRIx32 " bytes)",
              k->path, off, idx, size, k->bs, zrc, k->bs - z->avail_out);
    return 0;
}

/* Decode page idx (the idx-th dumped page) into dst (bs bytes). */
static int
kdump_decode(struct r2d_ctx *ctx, const struct kdump_file *k, struct kdump_decoder *dec, uint64_t idx,
             uint8_t *dst)
{
    const uint64_t doff = k->desc_off + idx * KDUMP_DESC_SIZE;
    const uint8_t *d = NULL, *src = NULL; /* set when r2d_kdump_window_get succeeds; gcc -O3 cannot tell */
    uint64_t off;
    uint32_t size, flags, codec;
    int rc = r2d_kdump_window_get(ctx, k, dec, &dec->dwin, doff, KDUMP_DESC_SIZE, "kdump page descriptor", &d);

    if (rc)
        return rc;
    off = r2d_le64(d);
    size = r2d_le32(d + KDUMP_DESC_OFF_SIZE);
    flags = r2d_le32(d + KDUMP_DESC_OFF_FLAGS);
    codec = flags & KDUMP_CODECS;
    R2D_CHECK(flags & ~KDUMP_CODECS || (codec & (codec - 1)), ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": page descriptor %" PRIu64 " has flags 0x%" PRIx32
              " (want none or exactly one of zlib 0x1, lzo 0x2, snappy 0x4, zstd 0x20)",
              k->path, doff, idx, flags);
    R2D_CHECK(size == 0 || size > k->bs || (codec == 0 && size != k->bs), ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": page descriptor %" PRIu64 " has size 0x%" PRIx32
              " (block size 0x%" PRIx32 ", %s)",
              k->path, doff, idx, size, k->bs, codec ? "compressed" : "stored raw");
    R2D_CHECK(off < k->data_off || off > k->real_size || size > k->real_size - off, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": page descriptor %" PRIu64 " points at 0x%" PRIx64 " (0x%" PRIx32
              " bytes), outside the page data 0x%" PRIx64 "-0x%" PRIx64,
              k->path, doff, idx, off, size, k->data_off, k->real_size);
    rc = r2d_kdump_window_get(ctx, k, dec, &dec->pwin, off, size, "kdump page data", &src);
    if (rc)
        return rc;
    if (codec == 0) {
        memcpy(dst, src, k->bs);
    } else if (codec == KDUMP_ZLIB) {
        return kdump_inflate(ctx, k, dec, idx, off, src, size, dst);
    } else if (codec == KDUMP_LZO) {
        return r2d_kdump_lzo_decode(ctx, k->path, off, src, size, dst, k->bs);
    } else if (codec == KDUMP_SNAPPY) {
        return r2d_kdump_snappy_decode(ctx, k->path, off, src, size, dst, k->bs);
    } else {
        return r2d_err(ctx, R2D_EUNSUPPORTED,
                       "%s: offset 0x%" PRIx64 ": zstd-compressed page (makedumpfile -z): not supported; "
                       "re-save the dump with 'makedumpfile -c' (zlib)",
                       k->path, off);
    }
    return 0;
}

/* Page idx through the cache of decoded pages. */
static int
kdump_cached(struct r2d_ctx *ctx, struct kdump_file *k, uint64_t idx, const uint8_t **out)
{
    const size_t slot = (size_t)(idx % KDUMP_CACHE_PAGES);
    uint8_t *page = k->cache + slot * k->bs;
    int rc;

    if (k->cache_idx[slot] != idx) {
        k->cache_idx[slot] = UINT64_MAX;
        rc = kdump_decode(ctx, k, &k->dec, idx, page);
        if (rc)
            return rc;
        k->cache_idx[slot] = idx;
    }
    *out = page;
    return 0;
}

void
r2d_kdump_decoder_free(struct kdump_decoder *dec)
{
    if (dec->zs_ready)
        inflateEnd(&dec->zs);
    free(dec->dwin.buf);
    free(dec->pwin.buf);
    free(dec->back.buf);
}

/* Pages [first, first + count) into dst, in order. */
static int
kdump_decode_range(struct r2d_ctx *ctx, void *owner, void *state, uint64_t first, uint64_t count, uint8_t *dst)
{
    const struct kdump_file *k = owner;
    struct kdump_decoder *dec = state;
    int rc = 0;

    for (uint64_t i = 0; !rc && i < count; i++)
        rc = kdump_decode(ctx, k, dec, first + i, dst + i * k->bs);
    return rc;
}

/*
 * Whole pages [first, first + count) into dst: long ranges are split between this thread (first half) and
 * the helper (second half), so zlib keeps two cores busy; short ones are decoded here.
 */
static int
kdump_decode_pages(struct r2d_ctx *ctx, struct kdump_file *k, uint64_t first, uint64_t count, uint8_t *dst)
{
    const uint64_t mine = count / 2;

    if (count < KDUMP_PARALLEL_MIN)
        return kdump_decode_range(ctx, k, &k->dec, first, count, dst);
    if (!k->helper.decode)
        r2d_decode_helper_init(&k->helper, kdump_decode_range, k, &k->wdec);
    return r2d_decode_helper_split(ctx, &k->helper, &k->dec, first, count, mine, dst, dst + mine * k->bs);
}

static int
kdump_src_read(struct r2d_ctx *ctx, void *src, uint64_t off, void *buf, size_t len)
{
    struct kdump_file *k = src;
    uint8_t *p = buf;

    while (len > 0) {
        const uint64_t idx = off / k->bs;
        const size_t in = (size_t)(off % k->bs), n = k->bs - in < len ? k->bs - in : len;
        const uint8_t *page;
        int rc;

        R2D_CHECK(idx >= k->ndesc || (in == 0 && len / k->bs > k->ndesc - idx), ctx, R2D_EINVAL,
                  "%s: page %" PRIu64 " requested but the dump holds %" PRIu64 " pages", k->path, idx,
                  k->ndesc);
        if (n == k->bs) { /* whole pages: decode straight into the caller's buffer */
            const uint64_t count = len / k->bs;

            rc = kdump_decode_pages(ctx, k, idx, count, p);
            if (rc)
                return rc;
            p += count * k->bs;
            off += count * k->bs;
            len -= (size_t)(count * k->bs);
            continue;
        }
        rc = kdump_cached(ctx, k, idx, &page);
        if (rc)
            return rc;
        memcpy(p, page + in, n);
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

static void
kdump_src_free(void *src)
{
    struct kdump_file *k = src;

    if (!k)
        return;
    r2d_decode_helper_stop(&k->helper);
    r2d_kdump_decoder_free(&k->wdec);
    r2d_kdump_decoder_free(&k->dec);
    free(k->recs);
    free(k->cache);
    free(k);
}

const struct r2d_source_ops r2d_kdump_source_ops = {
    .name = "kdump pages",
    .read = kdump_src_read,
    .free = kdump_src_free,
};
