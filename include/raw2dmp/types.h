/* SPDX-License-Identifier: MIT */
/* Small value types shared by the options and the library's internals. */
#ifndef RAW2DMP_TYPES_H
#define RAW2DMP_TYPES_H

enum r2d_dump_type {
    R2D_DUMP_AUTO = 0,   /* full when the ranges fit the header, else bitmap */
    R2D_DUMP_FULL = 1,   /* run based */
    R2D_DUMP_BITMAP = 5, /* BITMAP_FULL */
};

/*
 * Digests of the input and the output file (--hash): a bit set, so that r2d_options.hash may ask for
 * several, computed in the same streaming pass (R2D_HASH_SHA256 | R2D_HASH_MD5). R2D_HASH_NONE: none.
 */
enum r2d_hash_kind {
    R2D_HASH_NONE = 0,
    R2D_HASH_SHA256 = 1 << 0,
    R2D_HASH_SHA1 = 1 << 1,
    R2D_HASH_MD5 = 1 << 2,
};

#endif
