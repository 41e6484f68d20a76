/* SPDX-License-Identifier: MIT */
/*
 * DumpIt .zdmp files (Comae/Magnet DumpIt's compressed crash dumps): a 4 KiB file header, then a chain of
 * blocks, each a 12-byte header ("ZBLK", stored size, CRC-32) and an LZNT1 stream (src/codecs/lznt1.c) of
 * one block of the decoded crash dump; a block whose stored size equals the block size is stored as it is.
 * The file has no block table, so opening walks the chain once, reading the block headers only, and saves a
 * restart point per block (the zstream thins them past its bound); blocks are decoded on demand through the
 * zstream's chunk cache, each checked against its CRC-32. The decoded stream is the crash dump, which the
 * crash-dump reader takes. The layout's sources disagree on details: the reader refuses what none of them
 * explains rather than guess. Facts and their confidence: docs/formats/zdmp.md.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bytes.h"
#include "container_kinds.h"
#include "lznt1.h"
#include "zstream.h"

#define ZDMP_DATA_START 0x1000u /* blocks start after the 4 KiB file header */
#define ZDMP_FILE_HDR 24u
#define ZDMP_BLOCK_HDR 12u
#define ZDMP_VERSION 0x0100u
#define ZDMP_TYPE_COMPRESSION 1u
#define ZDMP_FORMAT_LZNT1 2u /* COMPRESSION_FORMAT_LZNT1 */
#define ZDMP_BLOCK_MIN 4096u
#define ZDMP_BLOCK_MAX (64u << 20) /* our bound: DumpIt writes 2 MiB blocks */
#define ZDMP_MAX_BLOCKS (UINT64_C(1) << 32)

static const uint8_t zdmp_magic[4] = {'Z', 'D', 'M', 'P'};
static const uint8_t zblk_magic[4] = {'Z', 'B', 'L', 'K'};

struct zdmp_src {
    const struct r2d_bytesrc *in;
    const char *name; /* the file's, for messages */
    uint64_t size;    /* decoded bytes: the header's FileSize */
    uint32_t bsize;
    uint64_t nblocks, stored;
    struct r2d_zstream *zs;
    /* the decoder */
    uint64_t blk;        /* the next block to load, or the one in dbuf when have */
    uint64_t next_in;    /* file offset of block blk's header (of the next one when have) */
    uint32_t pos, len;   /* read position in dbuf, bytes of the block exposed */
    int have;
    uint8_t *cbuf, *dbuf; /* a block's stored payload; a decoded block */
};

int
r2d_probe_zdmp(const uint8_t *head, size_t len, uint64_t size, const char **why)
{
    (void)size;
    /* The magic and a small version number (0x0100 is the one known; open says when it is another) */
    if (len < ZDMP_FILE_HDR || memcmp(head, zdmp_magic, 4) != 0 || r2d_le32(head + 4) > 0xffff)
        return 0;
    *why = "DumpIt .zdmp header ZDMP";
    return 1;
}

static void
zdmp_free(struct zdmp_src *z)
{
    if (!z)
        return;
    r2d_zstream_free(z->zs);
    free(z->cbuf);
    free(z->dbuf);
    free(z);
}

/* --- the header and the block walk --- */

static int
zdmp_header(struct r2d_ctx *ctx, struct zdmp_src *z)
{
    const uint64_t fsize = r2d_bytesrc_size(z->in);
    uint8_t h[ZDMP_FILE_HDR];
    uint32_t version, type, format;
    int rc;

    R2D_CHECK(fsize < ZDMP_DATA_START + ZDMP_BLOCK_HDR, ctx, R2D_ETRUNC,
              "%s: 0x%" PRIx64 " bytes: too short for a .zdmp file (its blocks start at 0x1000)", z->name, fsize);
    if ((rc = r2d_bytesrc_read(ctx, z->in, 0, h, sizeof(h), ".zdmp header")) != 0)
        return rc;
    version = r2d_le32(h + 4);
    z->size = r2d_le64(h + 8);
    z->bsize = r2d_le32(h + 16);
    type = r2d_le16(h + 20);
    format = r2d_le16(h + 22);
    R2D_CHECK(version != ZDMP_VERSION, ctx, R2D_EUNSUPPORTED,
              "%s: .zdmp version 0x%" PRIx32 ": only version 0x0100 is known", z->name, version);
    R2D_CHECK(type != ZDMP_TYPE_COMPRESSION, ctx, R2D_EUNSUPPORTED,
              "%s: .zdmp data type %" PRIu32 ": only 1 (compressed) is known (2 is encrypted)", z->name, type);
    R2D_CHECK(format != ZDMP_FORMAT_LZNT1, ctx, R2D_EUNSUPPORTED,
              "%s: .zdmp compression format %" PRIu32 ": only 2 (LZNT1) is known", z->name, format);
    R2D_CHECK(z->bsize < ZDMP_BLOCK_MIN || z->bsize > ZDMP_BLOCK_MAX || z->bsize % ZDMP_BLOCK_MIN, ctx,
              R2D_EFORMAT, "%s: .zdmp block size 0x%" PRIx32 " is not a multiple of 4 KiB up to 64 MiB", z->name,
              z->bsize);
    R2D_CHECK(z->size == 0, ctx, R2D_EFORMAT, "%s: .zdmp header gives a decoded size of 0", z->name);
    z->nblocks = z->size / z->bsize + (z->size % z->bsize != 0);
    /* Each block takes at least its header and one byte: a lying size is caught before the walk. */
    R2D_CHECK(z->nblocks > ZDMP_MAX_BLOCKS || z->nblocks > (fsize - ZDMP_DATA_START) / (ZDMP_BLOCK_HDR + 1), ctx,
              R2D_EFORMAT,
              "%s: .zdmp header gives a decoded size of 0x%" PRIx64 " (%" PRIu64 " blocks of 0x%" PRIx32
              "), more than a file of 0x%" PRIx64 " bytes can hold",
              z->name, z->size, z->nblocks, z->bsize, fsize);
    return 0;
}

/* Block i's header at off: its stored size, checked against the block size and the file. */
static int
zdmp_block_header(struct r2d_ctx *ctx, const struct zdmp_src *z, uint64_t i, uint64_t off, uint32_t *csize,
                  uint32_t *crc)
{
    const uint64_t fsize = r2d_bytesrc_size(z->in);
    uint8_t h[ZDMP_BLOCK_HDR];
    int rc;

    R2D_CHECK(fsize - off < ZDMP_BLOCK_HDR, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": the file ends before block %" PRIu64 " of %" PRIu64
              " (file truncated?)",
              z->name, off, i, z->nblocks);
    if ((rc = r2d_bytesrc_read(ctx, z->in, off, h, sizeof(h), ".zdmp block header")) != 0)
        return rc;
    R2D_CHECK(memcmp(h, zblk_magic, 4) != 0, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": block %" PRIu64 " has no ZBLK signature", z->name, off, i);
    *csize = r2d_le32(h + 4);
    *crc = r2d_le32(h + 8);
    R2D_CHECK(*csize == 0 || *csize > z->bsize, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": block %" PRIu64 " says it stores 0x%" PRIx32
              " bytes (the block size is 0x%" PRIx32 ")",
              z->name, off, i, *csize, z->bsize);
    R2D_CHECK(fsize - off - ZDMP_BLOCK_HDR < *csize, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": block %" PRIu64 " of 0x%" PRIx32
              " bytes runs past end of file (file truncated?)",
              z->name, off, i, *csize);
    return 0;
}

/* The one pass: every block header in turn, a restart point where one is due, the file's end checked. */
static int
zdmp_walk(struct r2d_ctx *ctx, struct zdmp_src *z)
{
    uint64_t off = ZDMP_DATA_START;
    int rc = 0;

    for (uint64_t i = 0; !rc && i < z->nblocks; i++) {
        const uint64_t out = i * z->bsize;
        uint32_t csize = 0, crc = 0;

        if ((i & 0xfff) == 0 && r2d_cancelled(ctx))
            return r2d_err(ctx, R2D_ECANCELED, "%s: cancelled while indexing", z->name);
        if ((rc = zdmp_block_header(ctx, z, i, off, &csize, &crc)) != 0)
            break;
        z->stored += csize == z->bsize;
        if (r2d_zstream_point_due(z->zs, out))
            rc = r2d_zstream_add_point(ctx, z->zs, &(struct r2d_zpoint){.out = out, .in = off});
        off += ZDMP_BLOCK_HDR + (uint64_t)csize;
    }
    R2D_CHECK(!rc && off != r2d_bytesrc_size(z->in), ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": 0x%" PRIx64 " bytes follow the last of the %" PRIu64
              " blocks the header's decoded size (0x%" PRIx64 ") needs",
              z->name, off, r2d_bytesrc_size(z->in) - off, z->nblocks, z->size);
    return rc;
}

/* --- decoding --- */

/* The LZNT1 payload of block i in cbuf (n bytes) into out (the block size): short blocks end in zeros. */
static int
zdmp_inflate(struct r2d_ctx *ctx, const struct zdmp_src *z, uint64_t i, uint64_t off, uint32_t n, uint8_t *out)
{
    struct r2d_codec_result res;
    const int rc = r2d_lznt1_decode(z->cbuf, n, out, z->bsize, &res);

    R2D_CHECK(rc, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": block %" PRIu64 ": corrupt LZNT1 data at byte 0x%zx of 0x%" PRIx32
              ": %s",
              z->name, off, i, res.consumed, n, res.why);
    R2D_CHECK(res.consumed != n, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": block %" PRIu64 ": LZNT1 data goes on after 0x%zx bytes decode to %s",
              z->name, off, i, res.consumed, res.produced == z->bsize ? "the block size" : "its end mark");
    R2D_CHECK(res.produced == 0, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": block %" PRIu64 ": LZNT1 data decodes to nothing", z->name, off, i);
    memset(out + res.produced, 0, z->bsize - res.produced);
    return 0;
}

/* Load block z->blk (at z->next_in) decoded into out (room for the block size); next_in moves past it. */
static int
zdmp_load(struct r2d_ctx *ctx, struct zdmp_src *z, uint8_t *out)
{
    const uint64_t off = z->next_in, i = z->blk;
    uint32_t csize = 0, crc = 0, got;
    uint8_t *payload;
    int rc;

    R2D_CHECK(i >= z->nblocks, ctx, R2D_EFORMAT, "%s: read past the last .zdmp block", z->name);
    if ((rc = zdmp_block_header(ctx, z, i, off, &csize, &crc)) != 0)
        return rc;
    /* A stored block is its own decoded form: read straight into place. */
    payload = csize == z->bsize ? out : z->cbuf;
    if ((rc = r2d_bytesrc_read(ctx, z->in, off + ZDMP_BLOCK_HDR, payload, csize, ".zdmp block")) != 0)
        return rc;
    got = (uint32_t)crc32(0, payload, csize);
    R2D_CHECK(got != crc, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": block %" PRIu64 ": CRC-32 mismatch (stored %08" PRIx32
              ", data %08" PRIx32 ")",
              z->name, off, i, crc, got);
    if (payload != out && (rc = zdmp_inflate(ctx, z, i, off, csize, out)) != 0)
        return rc;
    z->next_in = off + ZDMP_BLOCK_HDR + csize;
    z->blk = i + 1;
    return 0;
}

static int
zdmp_restart(struct r2d_ctx *ctx, void *codec, const struct r2d_zpoint *pt)
{
    struct zdmp_src *z = codec;

    (void)ctx;
    z->blk = pt->out / z->bsize;
    z->next_in = pt->in;
    z->have = 0;
    return 0;
}

static int
zdmp_decode(struct r2d_ctx *ctx, void *codec, uint8_t *dst, size_t n)
{
    struct zdmp_src *z = codec;

    while (n > 0) {
        size_t k;
        int rc;

        if (!z->have || z->pos == z->len) {
            const uint64_t left = z->size - z->blk * z->bsize;

            z->len = left < z->bsize ? (uint32_t)left : z->bsize;
            z->pos = 0;
            z->have = 0;
            /* A whole block wanted: decoded in place, without the copy. */
            if (n >= z->bsize) {
                if ((rc = zdmp_load(ctx, z, dst)) != 0)
                    return rc;
                dst += z->bsize;
                n -= z->bsize;
                continue;
            }
            if ((rc = zdmp_load(ctx, z, z->dbuf)) != 0)
                return rc;
            z->have = 1;
        }
        k = z->len - z->pos < n ? z->len - z->pos : n;
        memcpy(dst, z->dbuf + z->pos, k);
        z->pos += (uint32_t)k;
        dst += k;
        n -= k;
    }
    return 0;
}

static const struct r2d_zstream_ops zdmp_zstream_ops = {
    .restart = zdmp_restart,
    .decode = zdmp_decode,
};

/* --verify-container: every block decoded once (CRC-32 and LZNT1), in file order. */
static int
zdmp_verify(struct r2d_ctx *ctx, struct zdmp_src *z)
{
    int rc = zdmp_restart(ctx, z, r2d_zstream_point(z->zs, 0));

    for (uint64_t i = 0; !rc && i < z->nblocks; i++)
        rc = r2d_cancelled(ctx) ? r2d_err(ctx, R2D_ECANCELED, "%s: cancelled while verifying", z->name)
                                : zdmp_load(ctx, z, z->dbuf);
    z->have = 0;
    return rc;
}

/* --- the byte source --- */

static int
zdmp_read(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, uint64_t off, void *buf, size_t len, const char *what)
{
    const struct zdmp_src *z = r2d_bytesrc_priv(bs);

    (void)what;
    return r2d_zstream_read(ctx, z->zs, off, buf, len);
}

static void
zdmp_close(struct r2d_bytesrc *bs)
{
    zdmp_free(r2d_bytesrc_priv(bs));
}

static const struct r2d_bytesrc_ops zdmp_ops = {
    .kind = "zdmp",
    .read = zdmp_read,
    .close = zdmp_close,
};

static int
zdmp_describe(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, const struct zdmp_src *z, int verified)
{
    char v[240];
    int rc;

    snprintf(v, sizeof(v),
             "zdmp block chain: %" PRIu64 " blocks of %" PRIu32 " KiB (%" PRIu64
             " stored, the rest LZNT1), %zu restart points",
             z->nblocks, z->bsize >> 10, z->stored, r2d_zstream_point_count(z->zs));
    rc = r2d_bytesrc_set_how(ctx, bs, v);
    snprintf(v, sizeof(v), "version 0x0100, data type 1 (compressed), format 2 (LZNT1), block size 0x%" PRIx32,
             z->bsize);
    if (!rc)
        rc = r2d_bytesrc_add_note(ctx, bs, "header", v);
    snprintf(v, sizeof(v), "CRC-32 of each block, %s",
             verified ? "all verified (--verify-container)" : "verified when the block is decoded");
    if (!rc)
        rc = r2d_bytesrc_add_note(ctx, bs, "checks", v);
    return rc;
}

static int
zdmp_setup(struct r2d_ctx *ctx, struct zdmp_src *z, const char *name, int verify)
{
    int rc = zdmp_header(ctx, z);

    if (!rc && (!(z->cbuf = malloc(z->bsize)) || !(z->dbuf = malloc(z->bsize))))
        rc = r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for .zdmp blocks of 0x%" PRIx32 " bytes", z->name,
                     z->bsize);
    if (!rc)
        rc = r2d_zstream_new(ctx, name, &zdmp_zstream_ops, z, z->bsize, &z->zs);
    if (!rc)
        rc = zdmp_walk(ctx, z);
    if (!rc) {
        r2d_zstream_set_size(z->zs, z->size);
        if (verify)
            rc = zdmp_verify(ctx, z);
    }
    return rc;
}

static int
zdmp_open(struct r2d_ctx *ctx, struct r2d_bytesrc *below, const struct r2d_container_opts *opts,
          struct r2d_bytesrc **out)
{
    struct zdmp_src *z = calloc(1, sizeof(*z));
    char *name = r2d_container_name(below, "zdmp");
    int rc;

    *out = NULL;
    if (!z || !name) {
        free(z);
        free(name);
        r2d_bytesrc_close(below);
        return r2d_err(ctx, R2D_ENOMEM, "out of memory");
    }
    z->in = below;
    z->name = r2d_bytesrc_name(below);
    rc = zdmp_setup(ctx, z, name, opts->verify);
    if (rc) {
        zdmp_free(z);
        free(name);
        r2d_bytesrc_close(below);
        return rc;
    }
    rc = r2d_bytesrc_new_layer(ctx, &zdmp_ops, z, below, name, z->size, out);
    free(name);
    if (!rc)
        rc = zdmp_describe(ctx, *out, z, opts->verify);
    if (rc) {
        r2d_bytesrc_close(*out);
        *out = NULL;
    }
    return rc;
}

const struct r2d_container_kind r2d_container_zdmp = {
    .name = "zdmp",
    .summary = "DumpIt .zdmp (Comae/Magnet): LZNT1 blocks of a crash dump, one restart point per block",
    .probe = r2d_probe_zdmp,
    .open = zdmp_open,
};
