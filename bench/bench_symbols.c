/* SPDX-License-Identifier: MIT */
/*
 * Symbol-stage benchmark: r2d_pdb_open on a large PDB, the identity check, then the lookups the engine makes
 * (every symbol, field and size of the KDBG field table, and the engine's own), then extra lookups from a
 * names file (bench/mkbigpdb.py). Prints milliseconds per step; it checks nothing about time.
 *
 *     bench_symbols BIG.pdb [NAMES.txt]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "kdbg_fields.h"
#include "pdb.h"
#include "raw2dmp/ctx.h"
#include "symbols.h"

/* CPU time of this process (user + system): less disturbed than wall time on a shared machine. */
static double
bench_cpu_ms(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static double
bench_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One line of the names file: "sym NAME", "size TYPE" or "field TYPE PATH". Returns 1 when found. */
static int
bench_lookup_line(struct r2d_ctx *ctx, const struct r2d_symbols *syms, char *line)
{
    char *kind = strtok(line, " \n"), *a = strtok(NULL, " \n"), *b = strtok(NULL, " \n");
    uint64_t v;

    if (!kind || !a)
        return 1;
    if (strcmp(kind, "sym") == 0)
        return r2d_symbols_rva(ctx, syms, a, &v) == 0;
    if (strcmp(kind, "size") == 0)
        return r2d_symbols_type_size(ctx, syms, a, &v) == 0;
    return b && r2d_symbols_field_offset(ctx, syms, a, b, &v) == 0;
}

/* The KDBG table's questions, as kdbg.c asks them when it rebuilds or verifies the block. */
static int
bench_kdbg_lookups(struct r2d_ctx *ctx, const struct r2d_symbols *syms, int *asked)
{
    int found = 0;

    *asked = 0;
    for (size_t i = 0; i < r2d_kdbg_field_count; i++) {
        const struct r2d_kdbg_field *f = &r2d_kdbg_fields[i];
        uint64_t v;

        if (f->kind == R2D_KF_SYMBOL)
            found += r2d_symbols_rva(ctx, syms, f->source, &v) == 0;
        else if (f->kind == R2D_KF_OFFSET)
            found += r2d_symbols_field_offset(ctx, syms, f->source, f->path, &v) == 0;
        else if (f->kind == R2D_KF_SIZEOF)
            found += r2d_symbols_type_size(ctx, syms, f->source, &v) == 0;
        else
            continue;
        (*asked)++;
    }
    return found;
}

int
main(int argc, char **argv)
{
    struct r2d_ctx *ctx = r2d_ctx_new();
    struct r2d_symbols *syms = NULL;
    struct r2d_pdb_stats stats;
    double t0, c0, t_open, t_kdbg, t_names, t_stats, c_names, t_again;
    int asked = 0, found, names = 0, names_found = 0;
    char line[8192];
    FILE *f;

    if (argc < 2 || !ctx) {
        fprintf(stderr, "usage: bench_symbols BIG.pdb [NAMES.txt]\n");
        return 2;
    }
    t0 = bench_now_ms();
    c0 = bench_cpu_ms();
    if (r2d_pdb_open(ctx, argv[1], &syms) != 0 || r2d_symbols_match(ctx, syms, &syms->id, 0) != 0) {
        fprintf(stderr, "bench_symbols: %s\n", r2d_errmsg(ctx));
        return 1;
    }
    t_open = bench_now_ms();
    /* The first queries load the symbol records and index the types: that is part of the stage. */
    found = bench_kdbg_lookups(ctx, syms, &asked);
    t_kdbg = bench_now_ms();
    f = argc > 2 ? fopen(argv[2], "r") : NULL;
    while (f && fgets(line, sizeof(line), f)) {
        names++;
        names_found += bench_lookup_line(ctx, syms, line);
    }
    if (f)
        fclose(f);
    t_names = bench_now_ms();
    c_names = bench_cpu_ms();
    /*
     * The KDBG table again, the index built: what a conversion's KDBG comparison with the symbols adds
     * (every conversion makes it, issue 12; the engine's steps before it have loaded the types already).
     */
    bench_kdbg_lookups(ctx, syms, &asked);
    t_again = bench_now_ms();
    if (r2d_pdb_stats(ctx, syms, &stats) != 0) {
        fprintf(stderr, "bench_symbols: %s\n", r2d_errmsg(ctx));
        return 1;
    }
    t_stats = bench_now_ms();
    printf("open_ms=%.2f kdbg_lookups_ms=%.2f (%d asked, %d found) names_ms=%.2f (%d asked, %d found) "
           "total_ms=%.2f cpu_ms=%.2f\n",
           t_open - t0, t_kdbg - t_open, asked, found, t_names - t_kdbg, names, names_found, t_names - t0,
           c_names - c0);
    printf("publics=%u symbols=%u type_records=%u (stats %.2f ms) kdbg_lookups_warm_ms=%.3f\n",
           stats.num_publics, stats.num_symbols, stats.num_type_records, t_stats - t_again, t_again - t_names);
    r2d_symbols_free(syms);
    r2d_ctx_free(ctx);
    return names_found == names ? 0 : 1;
}
