/* SPDX-License-Identifier: MIT */
/*
 * lznt1_decode CAPACITY < in > out: r2d_lznt1_decode over stdin with an output of CAPACITY bytes. Exit 0 and
 * the decoded bytes on stdout; exit 1 and "why at consumed produced" on stderr when the stream is corrupt; the
 * consumed count goes to stderr in both cases ("consumed N"). Only tests/codecs/test_lznt1_roundtrip.py uses it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "lznt1.h"

int
main(int argc, char **argv)
{
    size_t cap, len = 0, room = 1 << 16;
    uint8_t *in = malloc(room), *out;
    struct r2d_codec_result res;
    size_t k;
    int rc;

    if (argc != 2 || !in)
        return 2;
    cap = strtoull(argv[1], NULL, 0);
    while ((k = fread(in + len, 1, room - len, stdin)) > 0) {
        len += k;
        if (len == room && !(in = realloc(in, room *= 2)))
            return 2;
    }
    if (!(out = malloc(cap ? cap : 1)))
        return 2;
    rc = r2d_lznt1_decode(in, len, out, cap, &res);
    fprintf(stderr, "consumed %zu produced %zu%s%s\n", res.consumed, res.produced, rc ? ": " : "",
            rc ? res.why : "");
    if (!rc && fwrite(out, 1, res.produced, stdout) != res.produced)
        return 2;
    free(in);
    free(out);
    return rc ? 1 : 0;
}
