/* SPDX-License-Identifier: MIT */
/*
 * xz files (one or more streams, liblzma): the index at each stream's end (lzma_file_info_decoder reads them
 * all without decoding any data) lists the blocks with their compressed and uncompressed offsets; each
 * block is a restart point, decoded from its header with lzma_block_decoder. A file of one block (xz's
 * default without -T or --block-size) is read sequentially: a read before the decoder's position starts
 * the block again, which the zstream's chunk cache makes rare. Each block's check (CRC-32, CRC-64, SHA-256)
 * is verified when the block is decoded to its end; --verify-container decodes them all at open.
 * Facts: docs/formats/containers.md "xz".
 */
#include <inttypes.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container_kinds.h"
#include "zstream.h"

#define XZ_IN_CHUNK (256u << 10)
#define XZ_INDEX_MEM_MAX (64u << 20)  /* liblzma memory for the indexes: ~16 bytes per block */
#define XZ_BLOCK_MEM_MAX (512u << 20) /* a block's decoder (mostly the LZMA2 dictionary) */

struct xz_src {
    const struct r2d_bytesrc *in;
    const char *name; /* the file's, for messages */
    lzma_index *idx;
    struct r2d_zstream *zs;
    lzma_stream strm;
    int strm_init;
    lzma_filter filters[LZMA_FILTERS_MAX + 1];
    lzma_block block;         /* the decoder keeps a pointer to it (and updates it) while it runs */
    lzma_index_iter it;       /* the block being decoded */
    int in_block;             /* strm decodes it; 0: between blocks */
    uint64_t in_next, in_end; /* compressed bytes of the block not yet loaded */
    uint64_t blk_left;        /* its bytes not yet produced */
    uint64_t cur_out;
    uint8_t in_buf[XZ_IN_CHUNK];
};

static const char *
xz_strerror(lzma_ret r)
{
    switch (r) {
    case LZMA_MEM_ERROR:
        return "out of memory";
    case LZMA_MEMLIMIT_ERROR:
        return "memory limit reached";
    case LZMA_FORMAT_ERROR:
        return "not the xz format";
    case LZMA_OPTIONS_ERROR:
        return "unsupported options";
    case LZMA_DATA_ERROR:
        return "corrupt data";
    case LZMA_BUF_ERROR:
        return "data ends early";
    case LZMA_PROG_ERROR:
        return "invalid arguments";
    default:
        return "liblzma error";
    }
}

static void
xz_free_filters(struct xz_src *x)
{
    for (size_t i = 0; i < LZMA_FILTERS_MAX && x->filters[i].id != LZMA_VLI_UNKNOWN; i++) {
        free(x->filters[i].options);
        x->filters[i].options = NULL;
    }
    x->filters[0].id = LZMA_VLI_UNKNOWN;
}

static void
xz_free(struct xz_src *x)
{
    if (!x)
        return;
    if (x->strm_init)
        lzma_end(&x->strm);
    xz_free_filters(x);
    if (x->idx)
        lzma_index_end(x->idx, NULL);
    r2d_zstream_free(x->zs);
    free(x);
}

/* Read the indexes of every stream: liblzma asks for the footer, then seeks (LZMA_SEEK_NEEDED). */
static int
xz_read_index(struct r2d_ctx *ctx, struct xz_src *x)
{
    const uint64_t size = r2d_bytesrc_size(x->in);
    lzma_stream s = LZMA_STREAM_INIT;
    uint64_t pos = 0;
    lzma_ret r = lzma_file_info_decoder(&s, &x->idx, XZ_INDEX_MEM_MAX, size);
    int rc = 0;

    while (r == LZMA_OK) {
        if (s.avail_in == 0 && pos < size) {
            const size_t n = size - pos < XZ_IN_CHUNK ? (size_t)(size - pos) : XZ_IN_CHUNK;

            if ((rc = r2d_bytesrc_read(ctx, x->in, pos, x->in_buf, n, "xz index")) != 0)
                break;
            s.next_in = x->in_buf;
            s.avail_in = n;
            pos += n;
        }
        r = lzma_code(&s, pos < size || s.avail_in ? LZMA_RUN : LZMA_FINISH);
        if (r == LZMA_SEEK_NEEDED) {
            pos = s.seek_pos;
            s.avail_in = 0;
            r = LZMA_OK;
        }
    }
    lzma_end(&s);
    if (rc)
        return rc;
    R2D_CHECK(r == LZMA_MEM_ERROR, ctx, R2D_ENOMEM, "%s: out of memory for the xz index", x->name);
    R2D_CHECK(r == LZMA_MEMLIMIT_ERROR, ctx, R2D_EUNSUPPORTED,
              "%s: the xz index needs more than %u MiB (too many blocks)", x->name, XZ_INDEX_MEM_MAX >> 20);
    R2D_CHECK(r != LZMA_STREAM_END, ctx, r == LZMA_BUF_ERROR ? R2D_ETRUNC : R2D_EFORMAT,
              "%s: cannot read the xz index (%s%s)", x->name, xz_strerror(r),
              r == LZMA_BUF_ERROR || r == LZMA_DATA_ERROR ? ": file truncated or damaged?" : "");
    return 0;
}

static int
xz_err(struct r2d_ctx *ctx, struct xz_src *x, lzma_ret r)
{
    if (r == LZMA_MEM_ERROR)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for liblzma", x->name);
    return r2d_err(
        ctx, r == LZMA_OPTIONS_ERROR ? R2D_EUNSUPPORTED : R2D_EFORMAT,
        "%s: compressed offset 0x%" PRIx64 ": xz block %" PRIu64 ": %s at decoded offset 0x%" PRIx64, x->name,
        x->in_next - x->strm.avail_in, (uint64_t)x->it.block.number_in_file, xz_strerror(r), x->cur_out);
}

/* Start decoding the block x->it points at: decode its header, check what it needs, set up the decoder. */
static int
xz_block_start(struct r2d_ctx *ctx, struct xz_src *x)
{
    const uint64_t at = x->it.block.compressed_file_offset;
    uint8_t hdr[LZMA_BLOCK_HEADER_SIZE_MAX];
    lzma_block *b = &x->block;
    uint64_t mem;
    lzma_ret r;
    int rc;

    xz_free_filters(x);
    *b = (lzma_block){.version = 1, .check = x->it.stream.flags->check, .filters = x->filters};
    x->in_block = 0;
    x->in_next = at;
    rc = r2d_bytesrc_read(ctx, x->in, at, hdr, 1, "xz block header");
    if (rc)
        return rc;
    b->header_size = lzma_block_header_size_decode(hdr[0]);
    rc = r2d_bytesrc_read(ctx, x->in, at, hdr, b->header_size, "xz block header");
    if (rc)
        return rc;
    r = lzma_block_header_decode(b, NULL, hdr);
    if (r == LZMA_OK)
        r = lzma_block_compressed_size(b, x->it.block.unpadded_size);
    if (r != LZMA_OK)
        return xz_err(ctx, x, r);
    mem = lzma_raw_decoder_memusage(x->filters);
    R2D_CHECK(mem > XZ_BLOCK_MEM_MAX, ctx, R2D_EUNSUPPORTED,
              "%s: offset 0x%" PRIx64 ": xz block %" PRIu64 " needs %" PRIu64
              " MiB to decode (more than %u MiB)",
              x->name, at, (uint64_t)x->it.block.number_in_file, mem >> 20, XZ_BLOCK_MEM_MAX >> 20);
    r = lzma_block_decoder(&x->strm, b);
    if (r != LZMA_OK)
        return xz_err(ctx, x, r);
    x->strm_init = 1;
    x->strm.avail_in = 0;
    x->in_next = at + b->header_size;
    x->in_end = at + x->it.block.total_size;
    x->blk_left = x->it.block.uncompressed_size;
    x->cur_out = x->it.block.uncompressed_file_offset;
    x->in_block = 1;
    return 0;
}

/* Run the decoder into dst (n bytes; n = 0 finishes the block: padding and check). */
static int
xz_code(struct r2d_ctx *ctx, struct xz_src *x, uint8_t *dst, size_t n, size_t *produced, lzma_ret *ret)
{
    uint8_t spare[16];

    if (x->strm.avail_in == 0 && x->in_next < x->in_end) {
        const size_t k =
            x->in_end - x->in_next < XZ_IN_CHUNK ? (size_t)(x->in_end - x->in_next) : XZ_IN_CHUNK;
        const int rc = r2d_bytesrc_read(ctx, x->in, x->in_next, x->in_buf, k, "xz block data");

        if (rc)
            return rc;
        x->strm.next_in = x->in_buf;
        x->strm.avail_in = k;
        x->in_next += k;
    }
    /* Finishing, anything the block still produces lands in spare and makes it longer than its index entry.
     */
    x->strm.next_out = n ? dst : spare;
    x->strm.avail_out = n ? n : sizeof(spare);
    *ret = lzma_code(&x->strm, x->in_next < x->in_end || x->strm.avail_in ? LZMA_RUN : LZMA_FINISH);
    *produced = (n ? n : sizeof(spare)) - x->strm.avail_out;
    if (*ret != LZMA_OK && *ret != LZMA_STREAM_END)
        return xz_err(ctx, x, *ret);
    R2D_CHECK(*produced > x->blk_left || (*ret == LZMA_STREAM_END && *produced < x->blk_left), ctx,
              R2D_EFORMAT,
              "%s: xz block %" PRIu64 " decodes to a size other than its index entry's 0x%" PRIx64 " bytes",
              x->name, (uint64_t)x->it.block.number_in_file, (uint64_t)x->it.block.uncompressed_size);
    x->blk_left -= *produced;
    x->cur_out += *produced;
    return 0;
}

/* Decode the rest of the block's container (padding, check): verifies the check. */
static int
xz_block_finish(struct r2d_ctx *ctx, struct xz_src *x)
{
    lzma_ret r = LZMA_OK;

    while (r != LZMA_STREAM_END) {
        size_t produced;
        const int rc = xz_code(ctx, x, NULL, 0, &produced, &r);

        if (rc)
            return rc;
    }
    x->in_block = 0;
    return 0;
}

static int
xz_restart(struct r2d_ctx *ctx, void *codec, const struct r2d_zpoint *pt)
{
    struct xz_src *x = codec;

    lzma_index_iter_init(&x->it, x->idx);
    R2D_CHECK(lzma_index_iter_locate(&x->it, pt->out), ctx, R2D_EFORMAT,
              "%s: decoded offset 0x%" PRIx64 " is in no xz block", x->name, pt->out);
    return xz_block_start(ctx, x);
}

static int
xz_decode(struct r2d_ctx *ctx, void *codec, uint8_t *dst, size_t n)
{
    struct xz_src *x = codec;

    while (n > 0) {
        size_t produced;
        lzma_ret r;
        int rc = 0;

        if (x->blk_left == 0) {
            /* The block is done: its check, then the next block with data. */
            if (x->in_block)
                rc = xz_block_finish(ctx, x);
            while (!rc && x->blk_left == 0) {
                R2D_CHECK(lzma_index_iter_next(&x->it, LZMA_INDEX_ITER_BLOCK), ctx, R2D_EFORMAT,
                          "%s: the xz blocks end before decoded offset 0x%" PRIx64, x->name, x->cur_out);
                rc = xz_block_start(ctx, x);
            }
            if (rc)
                return rc;
        }
        rc = xz_code(ctx, x, dst, n < x->blk_left ? n : (size_t)x->blk_left, &produced, &r);
        if (rc)
            return rc;
        dst += produced;
        n -= produced;
    }
    return 0;
}

static const struct r2d_zstream_ops xz_zstream_ops = {
    .restart = xz_restart,
    .decode = xz_decode,
};

/* One point per block with data (the first at 0). */
static int
xz_index_points(struct r2d_ctx *ctx, struct xz_src *x, uint64_t *blocks)
{
    lzma_index_iter it;
    uint64_t last = 0;
    int rc = 0;

    *blocks = 0;
    lzma_index_iter_init(&it, x->idx);
    rc = r2d_zstream_add_point(ctx, x->zs, &(struct r2d_zpoint){.out = 0});
    while (!rc && !lzma_index_iter_next(&it, LZMA_INDEX_ITER_BLOCK)) {
        const uint64_t out = it.block.uncompressed_file_offset;

        ++*blocks;
        if (out > last && it.block.uncompressed_size > 0) {
            rc = r2d_zstream_add_point(
                ctx, x->zs, &(struct r2d_zpoint){.out = out, .in = it.block.compressed_file_offset});
            last = out;
        }
    }
    return rc;
}

static const char *
xz_check_name(uint32_t checks)
{
    if (checks & (1u << LZMA_CHECK_SHA256))
        return "SHA-256";
    if (checks & (1u << LZMA_CHECK_CRC64))
        return "CRC-64";
    if (checks & (1u << LZMA_CHECK_CRC32))
        return "CRC-32";
    return "none";
}

/* Decode every block to its end: every check verified. */
static int
xz_verify(struct r2d_ctx *ctx, struct xz_src *x, uint64_t size)
{
    uint8_t *buf = malloc(R2D_ZSTREAM_CHUNK);
    int rc =
        buf ? xz_restart(ctx, x, r2d_zstream_point(x->zs, 0)) : r2d_err(ctx, R2D_ENOMEM, "out of memory");

    for (uint64_t done = 0; !rc && done < size;) {
        const size_t n = size - done < R2D_ZSTREAM_CHUNK ? (size_t)(size - done) : R2D_ZSTREAM_CHUNK;

        rc = r2d_cancelled(ctx) ? r2d_err(ctx, R2D_ECANCELED, "%s: cancelled while verifying", x->name)
                                : xz_decode(ctx, x, buf, n);
        done += n;
    }
    if (!rc && x->in_block)
        rc = xz_block_finish(ctx, x);
    free(buf);
    return rc;
}

static int
xz_describe(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, struct xz_src *x, uint64_t blocks, int verified)
{
    const uint32_t checks = lzma_index_checks(x->idx);
    char v[240];
    int rc;

    if (blocks > 1)
        snprintf(v, sizeof(v),
                 "xz block index: %" PRIu64 " blocks in %" PRIu64 " stream(s), %zu restart points", blocks,
                 (uint64_t)lzma_index_stream_count(x->idx), r2d_zstream_point_count(x->zs));
    else
        snprintf(v, sizeof(v),
                 "xz: one block, read sequentially (a read behind the decoder restarts the "
                 "block; xz -T0 or --block-size makes seekable blocks)");
    rc = r2d_bytesrc_set_how(ctx, bs, v);
    snprintf(v, sizeof(v), "%s per block, %s", xz_check_name(checks),
             verified ? "all verified (--verify-container)" : "verified when a block is decoded to its end");
    if (!rc)
        rc = r2d_bytesrc_add_note(ctx, bs, "checks", v);
    return rc;
}

static int
xz_read(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, uint64_t off, void *buf, size_t len, const char *what)
{
    const struct xz_src *x = r2d_bytesrc_priv(bs);

    (void)what;
    return r2d_zstream_read(ctx, x->zs, off, buf, len);
}

static void
xz_close(struct r2d_bytesrc *bs)
{
    xz_free(r2d_bytesrc_priv(bs));
}

static const struct r2d_bytesrc_ops xz_ops = {
    .kind = "xz",
    .read = xz_read,
    .close = xz_close,
};

static int
xz_open(struct r2d_ctx *ctx, struct r2d_bytesrc *below, const struct r2d_container_opts *opts,
        struct r2d_bytesrc **out)
{
    struct xz_src *x = calloc(1, sizeof(*x));
    uint64_t blocks = 0, size = 0;
    char *name = r2d_container_name(below, "xz");
    int rc;

    *out = NULL;
    if (!x || !name) {
        free(x);
        free(name);
        r2d_bytesrc_close(below);
        return r2d_err(ctx, R2D_ENOMEM, "out of memory");
    }
    x->in = below;
    x->name = r2d_bytesrc_name(below);
    x->filters[0].id = LZMA_VLI_UNKNOWN;
    x->strm = (lzma_stream)LZMA_STREAM_INIT;
    rc = xz_read_index(ctx, x);
    if (!rc)
        rc = r2d_zstream_new(ctx, name, &xz_zstream_ops, x, 1, &x->zs);
    if (!rc)
        rc = xz_index_points(ctx, x, &blocks);
    if (!rc) {
        size = lzma_index_uncompressed_size(x->idx);
        r2d_zstream_set_size(x->zs, size);
        if (opts->verify)
            rc = xz_verify(ctx, x, size);
    }
    if (rc) {
        xz_free(x);
        free(name);
        r2d_bytesrc_close(below);
        return rc;
    }
    rc = r2d_bytesrc_new_layer(ctx, &xz_ops, x, below, name, size, out);
    free(name);
    if (!rc)
        rc = xz_describe(ctx, *out, x, blocks, opts->verify);
    if (rc) {
        r2d_bytesrc_close(*out);
        *out = NULL;
    }
    return rc;
}

const struct r2d_container_kind r2d_container_xz = {
    .name = "xz",
    .summary = "xz (liblzma), one or more streams: block index, one restart point per block",
    .probe = r2d_probe_xz,
    .open = xz_open,
};
