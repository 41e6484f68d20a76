/* SPDX-License-Identifier: MIT */
/*
 * Random access to deflate data (RFC 1951) in a byte source, bare or in a zlib (RFC 1950) or gzip (RFC 1952)
 * wrapper: gzip files, deflated ZIP members, compressed LiME. One sequential inflate pass at open checks the
 * whole stream (the wrapper's Adler-32 or CRC-32 and length, a ZIP member's declared size) and saves a
 * restart point every spacing inflated bytes at a deflate block boundary: the compressed offset, the bits of
 * the previous byte still unused, and the window (the last 2^windowBits inflated bytes), which zlib's
 * inflatePrime and inflateSetDictionary take back. Reads go through a zstream (zstream.h).
 */
#ifndef R2D_CONTAINERS_INFLATE_INDEX_H
#define R2D_CONTAINERS_INFLATE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "bytesrc.h"

enum r2d_inflate_wrap {
    R2D_INFLATE_RAW,  /* bare deflate (a ZIP member) */
    R2D_INFLATE_ZLIB, /* zlib header and Adler-32 (LiME compress=1) */
    R2D_INFLATE_GZIP, /* one or more gzip members, each with CRC-32 and ISIZE */
};

struct r2d_inflate_params {
    const struct r2d_bytesrc *in; /* the compressed bytes; must outlive the index */
    const char *name;             /* the stream's name in messages (copied) */
    const char *what;             /* what the data is, in messages: "gzip data" */
    uint64_t in_start, in_end;    /* the compressed bytes; the stream must end exactly at in_end */
    enum r2d_inflate_wrap wrap;
    uint64_t max_out; /* more inflated bytes is an error (a ZIP's declared size); 0: no bound */
    uint64_t spacing; /* inflated bytes between restart points (0: the zstream default) */
    int want_crc;     /* compute the CRC-32 of the inflated bytes (raw data has no trailer) */
    /*
     * Sees every inflated byte of the pass, in order (LiME parses its range headers). An error it returns is
     * reported only if the stream itself inflates cleanly: corrupt compressed data explains it better.
     */
    int (*sink)(struct r2d_ctx *ctx, void *arg, const uint8_t *p, size_t n);
    void *sink_arg;
};

struct r2d_inflate_info {
    unsigned window;   /* window bytes kept per point */
    uint64_t in_end;   /* just past the deflate data */
    uint64_t out_size; /* inflated bytes */
    size_t points;
    size_t index_bytes;
    uint64_t spacing; /* after any thinning */
    unsigned members; /* gzip members */
    uint32_t crc;     /* with want_crc, or the CRC-32 of a single gzip member */
};

struct r2d_inflate;

/** Inflate the whole stream once, checking it and building the index. */
int r2d_inflate_open(struct r2d_ctx *ctx, const struct r2d_inflate_params *p, struct r2d_inflate **out);
/** Read len inflated bytes at off (off + len <= the inflated size, else R2D_EINVAL). */
int r2d_inflate_read(struct r2d_ctx *ctx, struct r2d_inflate *z, uint64_t off, void *buf, size_t len);
void r2d_inflate_get_info(const struct r2d_inflate *z, struct r2d_inflate_info *info);
void r2d_inflate_free(struct r2d_inflate *z);

/**
 * When head starts with a zlib header (RFC 1950), inflate its start into out (at most want bytes) and return
 * how many bytes came out; 0 when it is no zlib stream. Pure: no allocation (zlib works in a stack arena),
 * for format probes.
 */
size_t r2d_inflate_probe_zlib(const uint8_t *head, size_t len, uint8_t *out, size_t want);

#endif
