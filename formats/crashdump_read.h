/* SPDX-License-Identifier: MIT */
/* What the 64-bit (crashdump.c) and 32-bit (crashdump32.c) crash-dump readers share. */
#ifndef R2D_FORMATS_CRASHDUMP_READ_H
#define R2D_FORMATS_CRASHDUMP_READ_H

#include <stdint.h>

#include "format.h"

#define CD_DEC 0
#define CD_HEX 1

/* A numeric "dump.*" note: CD_HEX as "0x..." (addresses, values), CD_DEC in decimal (counts, versions). */
int r2d_crashdump_note(struct r2d_ctx *ctx, struct r2d_image *img, const char *key, int hex, uint64_t v);
/* "dump.comment" from the 128-byte Comment field at c128. */
int r2d_crashdump_note_comment(struct r2d_ctx *ctx, struct r2d_image *img, const uint8_t *c128);
/*
 * File runs from a dump bitmap: bits bits at file offset bm_off (PFN 0 first, LSB first), the pages of the
 * set bits back to back from file offset first. Runs past the end of the file are an error.
 */
int r2d_crashdump_bitmap_runs(struct r2d_ctx *ctx, struct r2d_image *img, uint64_t bm_off, uint64_t bits,
                              uint64_t first, uint64_t *set_bits);

/* PAGEDUMP (DUMP_HEADER32) probe and open, entered when the first 8 bytes are 'PAGEDUMP'. */
int r2d_crashdump32_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why);
int r2d_crashdump32_open(struct r2d_ctx *ctx, struct r2d_image *img);

#endif
