/* SPDX-License-Identifier: MIT */
/*
 * The body of the Xpress decoder fuzz targets (fuzz_xpress_lz77.c, fuzz_xpress_huffman.c). The input's first
 * 3 bytes give the output size (little-endian, low 18 bits: up to 256 KiB, past a 64 KiB Huffman block and
 * the 16-bit length escape, yet small enough for thousands of runs a second), the rest is the stream. Besides
 * ASan's watch on the exactly sized output buffer, the target checks the decoder's contract: a failure says
 * why, positions stay in bounds, success fills the output, and a larger output gives the same bytes.
 */
#ifndef R2D_FUZZ_FUZZ_XPRESS_H
#define R2D_FUZZ_FUZZ_XPRESS_H

#include <stdlib.h>
#include <string.h>

#include "xpress.h"

#define FUZZ_XPRESS_HEAD 3
#define FUZZ_XPRESS_CAP_MASK 0x3ffff

typedef int (*fuzz_xpress_fn)(const uint8_t *, size_t, uint8_t *, size_t, struct r2d_codec_result *);

static void
fuzz_xpress_check(int rc, const struct r2d_codec_result *res, size_t in_len, size_t cap)
{
    if (res->produced > cap || res->consumed > in_len)
        abort();
    if (rc == 0 && (res->why != NULL || res->produced != cap))
        abort();
    if (rc != 0 && res->why == NULL)
        abort();
}

static int
fuzz_xpress_run(fuzz_xpress_fn decode, const uint8_t *data, size_t size)
{
    struct r2d_codec_result res, res2;
    size_t cap, cap2;
    uint8_t *out, *out2;
    int rc, rc2;

    if (size < FUZZ_XPRESS_HEAD)
        return 0;
    cap = ((size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16) & FUZZ_XPRESS_CAP_MASK;
    cap2 = cap + 1 + data[0] % 4096;
    data += FUZZ_XPRESS_HEAD;
    size -= FUZZ_XPRESS_HEAD;
    out = malloc(cap ? cap : 1);
    out2 = malloc(cap2);
    if (!out || !out2)
        abort();
    rc = decode(data, size, out, cap, &res);
    fuzz_xpress_check(rc, &res, size, cap);
    rc2 = decode(data, size, out2, cap2, &res2);
    fuzz_xpress_check(rc2, &res2, size, cap2);
    if (rc == 0 && res2.produced >= cap && memcmp(out, out2, cap) != 0)
        abort();
    free(out);
    free(out2);
    return 0;
}

#endif
