/* SPDX-License-Identifier: MIT */
/*
 * The optional page codecs of kdump-compressed files. Each codec is one file chosen by Meson: kdump_lzo.c
 * (liblzo2) or kdump_lzo_none.c, kdump_snappy.c (libsnappy) or kdump_snappy_none.c. zlib is always there and
 * stays in kdump.c.
 */
#ifndef R2D_FORMATS_KDUMP_CODEC_H
#define R2D_FORMATS_KDUMP_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

/** 1 when this build can decode LZO1X pages, else 0. */
int r2d_kdump_lzo_available(void);
/**
 * Decode one LZO1X page: src holds slen bytes read at file offset off of path (for messages); dst receives
 * exactly dlen bytes. A stream that is corrupt, or decodes to any other length, is R2D_EFORMAT; a build
 * without liblzo2 answers R2D_EUNSUPPORTED.
 */
int r2d_kdump_lzo_decode(struct r2d_ctx *ctx, const char *path, uint64_t off, const uint8_t *src, size_t slen,
                         uint8_t *dst, size_t dlen);

/** 1 when this build can decode snappy pages, else 0. */
int r2d_kdump_snappy_available(void);
/** Decode one snappy page; contract as r2d_kdump_lzo_decode (R2D_EUNSUPPORTED without libsnappy). */
int r2d_kdump_snappy_decode(struct r2d_ctx *ctx, const char *path, uint64_t off, const uint8_t *src,
                            size_t slen, uint8_t *dst, size_t dlen);

#endif
