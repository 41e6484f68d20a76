/* SPDX-License-Identifier: MIT */
/*
 * Xpress decoder throughput: decodes every unit of a unit file (see bench/xpress.py, which writes them with
 * the fixture factory's encoders) again and again, one thread, and prints the output rate of each of --runs
 * runs and their median, in MB/s (10^6 bytes of decoded output a second), both per second of the thread's
 * CPU time (the decoder's own speed, steady on a shared machine) and per second of wall time. It checks
 * every unit decodes to its stated size, nothing about time (docs/performance.md holds the numbers).
 *
 *     bench_xpress [--runs N] [--seconds S] lz77|huffman UNIT_FILE
 *
 * A unit file is a sequence of units, each u32 output size, u32 stream size (little-endian), the stream:
 * independent streams of up to 64 KiB, like a hibernation file's compressed page sets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bytes.h"
#include "xpress.h"

#define BENCH_MAX_RUNS 99

typedef int (*bench_decode_fn)(const uint8_t *, size_t, uint8_t *, size_t, struct r2d_codec_result *);

static double
bench_now(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *
bench_load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n)) != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    if (f)
        fclose(f);
    return buf;
}

/* One pass over every unit; returns the bytes produced, or 0 when a unit does not decode. */
static size_t
bench_pass(bench_decode_fn decode, const uint8_t *file, size_t len, uint8_t *out, size_t out_cap)
{
    size_t total = 0;
    struct r2d_codec_result res;

    for (size_t off = 0; len - off >= 8;) {
        const size_t size = r2d_le32(file + off), slen = r2d_le32(file + off + 4);

        if (size > out_cap || slen > len - off - 8 ||
            decode(file + off + 8, slen, out, size, &res) != 0) {
            fprintf(stderr, "bench_xpress: unit at offset %zu: %s\n", off, size > out_cap ? "too big" :
                    slen > len - off - 8 ? "cut" : res.why);
            return 0;
        }
        total += size;
        off += 8 + slen;
    }
    return total;
}

static int
bench_cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    int runs = 5, argi = 1;
    double seconds = 0.5, rate[BENCH_MAX_RUNS], wall[BENCH_MAX_RUNS];
    static uint8_t out[1 << 20];
    size_t len, bytes = 0;
    uint8_t *file;
    bench_decode_fn decode;

    for (; argi + 1 < argc && strncmp(argv[argi], "--", 2) == 0; argi += 2) {
        if (strcmp(argv[argi], "--runs") == 0)
            runs = atoi(argv[argi + 1]);
        else if (strcmp(argv[argi], "--seconds") == 0)
            seconds = atof(argv[argi + 1]);
    }
    if (argc - argi != 2 || runs < 1 || runs > BENCH_MAX_RUNS || seconds <= 0) {
        fprintf(stderr, "usage: bench_xpress [--runs N] [--seconds S] lz77|huffman UNIT_FILE\n");
        return 2;
    }
    decode = strcmp(argv[argi], "huffman") == 0 ? r2d_xpress_huffman_decode : r2d_xpress_lz77_decode;
    if ((file = bench_load(argv[argi + 1], &len)) == NULL) {
        fprintf(stderr, "bench_xpress: %s: cannot read\n", argv[argi + 1]);
        return 1;
    }
    for (int r = 0; r < runs; r++) {
        const double t0 = bench_now(CLOCK_THREAD_CPUTIME_ID), w0 = bench_now(CLOCK_MONOTONIC);
        double t;

        bytes = 0;
        do {
            const size_t n = bench_pass(decode, file, len, out, sizeof(out));

            if (n == 0)
                return 1;
            bytes += n;
        } while ((t = bench_now(CLOCK_THREAD_CPUTIME_ID) - t0) < seconds);
        rate[r] = (double)bytes / t / 1e6;
        wall[r] = (double)bytes / (bench_now(CLOCK_MONOTONIC) - w0) / 1e6;
        printf("run %d: %.1f MB/s CPU, %.1f MB/s wall\n", r + 1, rate[r], wall[r]);
    }
    qsort(rate, (size_t)runs, sizeof(rate[0]), bench_cmp);
    qsort(wall, (size_t)runs, sizeof(wall[0]), bench_cmp);
    printf("%s %s: median %.1f MB/s CPU (min %.1f, max %.1f), %.1f MB/s wall (min %.1f, max %.1f), %d runs\n",
           argv[argi], argv[argi + 1], rate[runs / 2], rate[0], rate[runs - 1], wall[runs / 2], wall[0],
           wall[runs - 1], runs);
    free(file);
    return 0;
}
