/* SPDX-License-Identifier: MIT */
/*
 * The LZNT1 decoder (src/codecs/lznt1.c) on hostile streams. The first two bytes choose the output's size
 * (0..64 KiB), the rest is the stream; the output is a heap buffer of exactly that size, so a write past it is
 * an ASan report. The result must keep its promises (consumed within the input, produced within the output, a
 * reason on failure), and a stream that decoded must decode the same again into exactly what it produced.
 */
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "lznt1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct r2d_codec_result res, again;
    size_t cap;
    uint8_t *out, *out2;
    int rc;

    if (size < 2)
        return 0;
    cap = ((size_t)data[0] | (size_t)data[1] << 8) + 1;
    data += 2;
    size -= 2;
    out = malloc(cap);
    if (!out)
        return 0;
    rc = r2d_lznt1_decode(data, size, out, cap, &res);
    if (res.consumed > size || res.produced > cap || (rc != 0) != (res.why != NULL) ||
        (rc != 0 && rc != R2D_EFORMAT))
        abort();
    if (rc == 0 && res.produced > 0) {
        out2 = malloc(res.produced);
        if (out2) {
            /* Decoding stops at the same place when the room ends exactly where the data did. */
            rc = r2d_lznt1_decode(data, res.consumed, out2, res.produced, &again);
            if (rc != 0 || again.produced != res.produced || memcmp(out, out2, res.produced) != 0)
                abort();
            free(out2);
        }
    }
    free(out);
    return 0;
}
