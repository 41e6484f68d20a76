/* SPDX-License-Identifier: MIT */
/*
 * gzip files (RFC 1952; gzip, pigz), one member or several concatenated, read through the deflate index
 * (inflate_index.h): one pass at open inflates everything, checks each member's CRC-32 and length, and
 * saves restart points. Facts: docs/formats/containers.md "gzip".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "container_kinds.h"
#include "inflate_index.h"

static int
gzip_read(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, uint64_t off, void *buf, size_t len, const char *what)
{
    (void)what;
    return r2d_inflate_read(ctx, r2d_bytesrc_priv(bs), off, buf, len);
}

static void
gzip_close(struct r2d_bytesrc *bs)
{
    r2d_inflate_free(r2d_bytesrc_priv(bs));
}

static const struct r2d_bytesrc_ops gzip_ops = {
    .kind = "gzip",
    .read = gzip_read,
    .close = gzip_close,
};

/* How it is read, the members and the CRC-32 (checked by the pass, whatever --verify-container says). */
static int
gzip_describe(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, const struct r2d_inflate_info *info)
{
    struct r2d_bytesrc_digest d = {.alg = "crc32", .state = R2D_DIGEST_MATCHED, .how = "while indexing"};
    uint8_t crc[4] = {(uint8_t)(info->crc >> 24), (uint8_t)(info->crc >> 16), (uint8_t)(info->crc >> 8),
                      (uint8_t)info->crc};
    char v[200];
    int rc;

    snprintf(v, sizeof(v),
             "deflate index: %zu restart points, one per %" PRIu64 " MiB, %zu KiB (window %u KiB); "
             "0x%" PRIx64 " bytes inflate to 0x%" PRIx64,
             info->points, info->spacing >> 20, (info->index_bytes + 1023) / 1024, info->window / 1024,
             info->in_end, info->out_size);
    rc = r2d_bytesrc_set_how(ctx, bs, v);
    snprintf(v, sizeof(v), "%u%s", info->members,
             info->members > 1 ? " (each CRC-32 and length checked)" : "");
    if (!rc)
        rc = r2d_bytesrc_add_note(ctx, bs, "members", v);
    if (!rc && info->members == 1) {
        r2d_container_hex(crc, sizeof(crc), d.hex);
        rc = r2d_bytesrc_add_digest(ctx, bs, &d, NULL);
    }
    return rc;
}

static int
gzip_open(struct r2d_ctx *ctx, struct r2d_bytesrc *below, const struct r2d_container_opts *opts,
          struct r2d_bytesrc **out)
{
    const struct r2d_inflate_params p = {
        .in = below,
        .name = r2d_bytesrc_name(below),
        .what = "gzip data",
        .in_start = 0,
        .in_end = r2d_bytesrc_size(below),
        .wrap = R2D_INFLATE_GZIP,
    };
    struct r2d_inflate_info info;
    struct r2d_inflate *z;
    char *name;
    int rc;

    (void)opts; /* the pass checks every CRC-32 anyway */
    *out = NULL;
    rc = r2d_inflate_open(ctx, &p, &z);
    if (rc) {
        r2d_bytesrc_close(below);
        return rc;
    }
    r2d_inflate_get_info(z, &info);
    if (!(name = r2d_container_name(below, "gzip"))) {
        r2d_inflate_free(z);
        r2d_bytesrc_close(below);
        return r2d_err(ctx, R2D_ENOMEM, "out of memory");
    }
    rc = r2d_bytesrc_new_layer(ctx, &gzip_ops, z, below, name, info.out_size, out);
    free(name);
    if (!rc)
        rc = gzip_describe(ctx, *out, &info);
    if (rc) {
        r2d_bytesrc_close(*out);
        *out = NULL;
    }
    return rc;
}

const struct r2d_container_kind r2d_container_gzip = {
    .name = "gzip",
    .summary = "gzip (RFC 1952; gzip, pigz), one or more members: deflate index",
    .probe = r2d_probe_gzip,
    .open = gzip_open,
};
