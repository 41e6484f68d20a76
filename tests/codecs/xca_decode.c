/* SPDX-License-Identifier: MIT */
/*
 * Test helper: `xca_decode lz77|huffman OUT_SIZE < stream > data` runs one Xpress decoder on stdin, so the
 * Python tests can put the fixture factory's encoders (tests/fixtures/xca.py) against the C decoders.
 * Exit 0 with the data on stdout; 1 with "xca_decode: <why> at input offset N" on stderr; 2 on bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xpress.h"

static unsigned char *
read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0, got;
    unsigned char *buf = malloc(cap);

    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *bigger = realloc(buf, cap * 2);

            if (!bigger)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    *len = n;
    return buf;
}

int
main(int argc, char **argv)
{
    int (*decode)(const uint8_t *, size_t, uint8_t *, size_t, struct r2d_codec_result *);
    struct r2d_codec_result res;
    unsigned char *in, *out;
    size_t in_len, out_size;
    char *end;
    int rc;

    if (argc != 3 || (strcmp(argv[1], "lz77") != 0 && strcmp(argv[1], "huffman") != 0)) {
        fprintf(stderr, "usage: xca_decode lz77|huffman OUT_SIZE < stream > data\n");
        return 2;
    }
    decode = strcmp(argv[1], "lz77") == 0 ? r2d_xpress_lz77_decode : r2d_xpress_huffman_decode;
    errno = 0;
    out_size = strtoull(argv[2], &end, 0);
    if (errno || *end || end == argv[2]) {
        fprintf(stderr, "xca_decode: OUT_SIZE: not a number: '%s'\n", argv[2]);
        return 2;
    }
    in = read_all(stdin, &in_len);
    out = malloc(out_size ? out_size : 1);
    if (!in || !out) {
        fprintf(stderr, "xca_decode: out of memory\n");
        return 1;
    }
    rc = decode(in, in_len, out, out_size, &res);
    if (rc != 0)
        fprintf(stderr, "xca_decode: %s at input offset %zu (%zu bytes produced)\n", res.why, res.consumed,
                res.produced);
    else if (fwrite(out, 1, out_size, stdout) != out_size)
        rc = 1;
    free(in);
    free(out);
    return rc ? 1 : 0;
}
