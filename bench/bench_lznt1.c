/* SPDX-License-Identifier: MIT */
/*
 * LZNT1 decoding throughput: bench_lznt1 FILE SIZE [RUNS] decodes FILE (one LZNT1 stream of SIZE decoded
 * bytes, e.g. from tests/fixtures/lznt1.py) RUNS times (default 21) with r2d_lznt1_decode and prints the median,
 * fastest and slowest decoded MB/s, and memcpy's over the same output for scale. Time is the process's CPU
 * time, steadier than wall time on a shared machine. Numbers for docs/performance.md (bench/zdmp.py runs
 * it); nothing passes or fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lznt1.h"

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    FILE *f = argc >= 3 ? fopen(argv[1], "rb") : NULL;
    const size_t out_len = argc >= 3 ? strtoull(argv[2], NULL, 0) : 0;
    const int runs = argc >= 4 ? atoi(argv[3]) : 21;
    uint8_t *in, *out, *copy;
    double *mbs, *cps;
    long in_len;
    struct r2d_codec_result res;

    if (!f || runs < 1 || fseek(f, 0, SEEK_END) != 0 || (in_len = ftell(f)) <= 0) {
        fprintf(stderr, "usage: bench_lznt1 FILE DECODED_SIZE [RUNS]\n");
        return 2;
    }
    rewind(f);
    in = malloc((size_t)in_len);
    out = malloc(out_len);
    copy = malloc(out_len);
    mbs = calloc((size_t)runs, sizeof(*mbs));
    cps = calloc((size_t)runs, sizeof(*cps));
    if (!in || !out || !copy || !mbs || !cps || fread(in, 1, (size_t)in_len, f) != (size_t)in_len)
        return 2;
    fclose(f);
    for (int r = 0; r < runs; r++) {
        double t0 = now();

        if (r2d_lznt1_decode(in, (size_t)in_len, out, out_len, &res) != 0 || res.produced != out_len) {
            fprintf(stderr, "bench_lznt1: decode failed: %s\n", res.why ? res.why : "short output");
            return 1;
        }
        mbs[r] = (double)out_len / (now() - t0) / 1e6;
        t0 = now();
        memcpy(copy, out, out_len);
        cps[r] = (double)out_len / (now() - t0) / 1e6;
    }
    qsort(mbs, (size_t)runs, sizeof(*mbs), cmp);
    qsort(cps, (size_t)runs, sizeof(*cps), cmp);
    printf("lznt1 %zu -> %zu bytes, %d runs: median %.0f MB/s of CPU time (range %.0f-%.0f); memcpy median %.0f MB/s\n",
           (size_t)in_len, out_len, runs, mbs[runs / 2], mbs[0], mbs[runs - 1], cps[runs / 2]);
    free(in);
    free(out);
    free(copy);
    free(mbs);
    free(cps);
    return 0;
}
