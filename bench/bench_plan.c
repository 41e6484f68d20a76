/* SPDX-License-Identifier: MIT */
/*
 * Plan-building benchmark: r2d_plan_add_range for n page ranges, then one query (which sees the merged list),
 * in three orders: ascending, descending and shuffled. Prints the median wall time of --runs runs per case;
 * it checks nothing about time (docs/performance.md holds the numbers).
 *
 *     bench_plan [--runs N] [--order ascending|descending|shuffled|all] [N...]   (default 10^4 10^5 10^6)
 *
 * Range i covers pages [4i, 4i + 2 + i % 3): every third range touches its successor, the others leave a
 * gap, so the merged list keeps about two thirds of the ranges and merging is exercised in every order.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plan.h"
#include "raw2dmp/ctx.h"

#define BENCH_MAX_RUNS 99

struct bench_range {
    uint64_t base, count;
};

static double
bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: a fixed, portable sequence, so every run and every build shuffles the same way. */
static uint64_t
bench_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static struct bench_range *
bench_ranges(size_t n, const char *order)
{
    struct bench_range *r = malloc(n * sizeof(*r));
    uint64_t seed = 0x9E3779B97F4A7C15ULL;

    if (!r)
        return NULL;
    for (size_t i = 0; i < n; i++)
        r[i] = (struct bench_range){4 * (uint64_t)i, 2 + i % 3};
    if (strcmp(order, "descending") == 0) {
        for (size_t i = 0; i < n / 2; i++) {
            const struct bench_range t = r[i];

            r[i] = r[n - 1 - i];
            r[n - 1 - i] = t;
        }
    } else if (strcmp(order, "shuffled") == 0) {
        for (size_t i = n; i > 1; i--) {
            const size_t j = (size_t)(bench_rand(&seed) % i);
            const struct bench_range t = r[i - 1];

            r[i - 1] = r[j];
            r[j] = t;
        }
    }
    return r;
}

/* Seconds to build one plan from r and query its merged ranges once; -1 on failure. */
static double
bench_build(struct r2d_ctx *ctx, const struct bench_range *r, size_t n, size_t *merged)
{
    struct r2d_plan *plan = r2d_plan_new();
    const double t0 = bench_now();
    double t;

    if (!plan)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (r2d_plan_add_range(ctx, plan, r[i].base, r[i].count)) {
            r2d_plan_free(plan);
            return -1;
        }
    *merged = r2d_plan_range_count(plan);
    t = bench_now() - t0;
    r2d_plan_free(plan);
    return t;
}

static int
bench_cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static int
bench_case(struct r2d_ctx *ctx, size_t n, const char *order, int runs)
{
    struct bench_range *r = bench_ranges(n, order);
    double t[BENCH_MAX_RUNS];
    size_t merged = 0;

    if (!r)
        return -1;
    for (int k = 0; k < runs; k++)
        if ((t[k] = bench_build(ctx, r, n, &merged)) < 0) {
            fprintf(stderr, "bench_plan: %s\n", r2d_errmsg(ctx));
            free(r);
            return -1;
        }
    free(r);
    qsort(t, (size_t)runs, sizeof(*t), bench_cmp_double);
    printf("%9zu ranges  %-10s  merged %9zu  median %9.4f s  (min %.4f, max %.4f, %d runs)\n", n, order,
           merged, t[runs / 2], t[0], t[runs - 1], runs);
    fflush(stdout);
    return 0;
}

int
main(int argc, char **argv)
{
    static const char *const all[] = {"ascending", "descending", "shuffled"};
    struct r2d_ctx *ctx = r2d_ctx_new();
    const char *order = "all";
    size_t sizes[32], nsizes = 0;
    int runs = 5, rc = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--order") == 0 && i + 1 < argc)
            order = argv[++i];
        else if (nsizes < sizeof(sizes) / sizeof(*sizes) && argv[i][0] >= '1' && argv[i][0] <= '9')
            sizes[nsizes++] = (size_t)strtoull(argv[i], NULL, 10);
        else {
            fputs("usage: bench_plan [--runs N] [--order ascending|descending|shuffled|all] [N...]\n", stderr);
            return 2;
        }
    }
    if (runs < 1 || runs > BENCH_MAX_RUNS || !ctx)
        return 2;
    if (nsizes == 0) {
        sizes[nsizes++] = 10000;
        sizes[nsizes++] = 100000;
        sizes[nsizes++] = 1000000;
    }
    for (size_t s = 0; s < nsizes && !rc; s++)
        for (size_t o = 0; o < sizeof(all) / sizeof(*all) && !rc; o++)
            if (strcmp(order, "all") == 0 || strcmp(order, all[o]) == 0)
                rc = bench_case(ctx, sizes[s], all[o], runs);
    r2d_ctx_free(ctx);
    return rc ? 1 : 0;
}
