/* SPDX-License-Identifier: MIT */
/* The Xpress plain LZ77 decoder on hostile streams (the checks are in fuzz_xpress.h). */
#include "fuzz_xpress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_xpress_run(r2d_xpress_lz77_decode, data, size);
}
