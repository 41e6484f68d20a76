/* SPDX-License-Identifier: MIT */
/*
 * imgcmp: compare two inputs through the library, page by page; or time reading every page of one; or export
 * one as a sparse raw file plus its run list, for comparisons written in Python; or print a few bytes.
 *
 * - imgcmp [-a FMT] [-b FMT] [--ignore START-END ...] A B: every page covered by either input must be covered
 *   alike and hold the same bytes, except pages inside the ignored physical ranges [START, END).
 * - imgcmp --time [-a FMT] A: read every page of A in 1 MiB requests; print pages, seconds, MiB/s.
 * - imgcmp --export RAW [-a FMT] A: write A's bytes at their physical addresses into RAW; print the runs.
 * - imgcmp --peek PA [-a FMT] A: print the 32 bytes at physical address PA in hex (a hole is an error).
 *
 * Exit 0 equal / done, 1 different, 2 usage, 99 an input could not be opened or read (message on stderr).
 */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "raw2dmp/ctx.h"
#include "format.h"
#include "image.h"

#define IMGCMP_PAGE 4096u
#define IMGCMP_CHUNK (1u << 20)
#define IMGCMP_MAX_REPORTS 20
#define IMGCMP_MAX_IGNORE 8

struct imgcmp_ignore {
    uint64_t start[IMGCMP_MAX_IGNORE], end[IMGCMP_MAX_IGNORE];
    int n;
};

static int
imgcmp_ignored(const struct imgcmp_ignore *ig, uint64_t pa)
{
    for (int i = 0; i < ig->n; i++)
        if (pa >= ig->start[i] && pa < ig->end[i])
            return 1;
    return 0;
}

/* Coverage of one page: 0 none, 1 partial, 2 full. */
static int
imgcmp_cover(const struct r2d_image *img, uint64_t pa)
{
    if (r2d_image_covers(img, pa, IMGCMP_PAGE))
        return 2;
    for (size_t i = 0; i < r2d_image_run_count(img); i++) {
        const struct r2d_run *r = r2d_image_run(img, i);

        if (r->pa < pa + IMGCMP_PAGE && pa < r->pa + r->len)
            return 1;
    }
    return 0;
}

/* The next page-aligned address at or above pa covered by a run of img, or UINT64_MAX. */
static uint64_t
imgcmp_next(const struct r2d_image *img, uint64_t pa)
{
    uint64_t best = UINT64_MAX;

    for (size_t i = 0; i < r2d_image_run_count(img); i++) {
        const struct r2d_run *r = r2d_image_run(img, i);
        const uint64_t first = r->pa & ~(uint64_t)(IMGCMP_PAGE - 1), end = r->pa + r->len;

        if (end <= pa)
            continue;
        if (first >= pa) {
            if (first < best)
                best = first;
        } else {
            best = pa & ~(uint64_t)(IMGCMP_PAGE - 1);
            break;
        }
    }
    return best;
}

static int
imgcmp_compare(struct r2d_ctx *ctx, const struct r2d_image *a, const struct r2d_image *b,
               const struct imgcmp_ignore *ig)
{
    static uint8_t pa_buf[IMGCMP_PAGE], pb_buf[IMGCMP_PAGE];
    uint64_t pages = 0, diffs = 0, ignored = 0, pa = 0;

    for (;;) {
        const uint64_t na = imgcmp_next(a, pa), nb = imgcmp_next(b, pa);
        int ca, cb;

        pa = na < nb ? na : nb;
        if (pa == UINT64_MAX)
            break;
        ca = imgcmp_cover(a, pa);
        cb = imgcmp_cover(b, pa);
        pages++;
        if (imgcmp_ignored(ig, pa)) {
            ignored++;
        } else if (ca != cb) {
            if (diffs++ < IMGCMP_MAX_REPORTS)
                printf("page 0x%" PRIx64 ": coverage differs (A %s, B %s)\n", pa,
                       ca == 2 ? "full"
                       : ca    ? "partial"
                               : "hole",
                       cb == 2 ? "full"
                       : cb    ? "partial"
                               : "hole");
        } else if (r2d_image_read(ctx, a, pa, pa_buf, IMGCMP_PAGE, R2D_HOLE_ZERO) ||
                   r2d_image_read(ctx, b, pa, pb_buf, IMGCMP_PAGE, R2D_HOLE_ZERO)) {
            fprintf(stderr, "imgcmp: %s\n", r2d_errmsg(ctx));
            return 99;
        } else if (memcmp(pa_buf, pb_buf, IMGCMP_PAGE) != 0) {
            size_t off = 0;

            while (pa_buf[off] == pb_buf[off])
                off++;
            if (diffs++ < IMGCMP_MAX_REPORTS)
                printf("page 0x%" PRIx64 ": bytes differ from +0x%zx (A %02x, B %02x)\n", pa, off,
                       pa_buf[off], pb_buf[off]);
        }
        if (pa > UINT64_MAX - IMGCMP_PAGE)
            break;
        pa += IMGCMP_PAGE;
    }
    printf("%" PRIu64 " pages compared (%" PRIu64 " ignored), %" PRIu64 " differ; runs A %zu (0x%" PRIx64
           " bytes), B %zu (0x%" PRIx64 " bytes)\n",
           pages, ignored, diffs, r2d_image_run_count(a), r2d_image_total_bytes(a), r2d_image_run_count(b),
           r2d_image_total_bytes(b));
    return diffs ? 1 : 0;
}

/* Read every byte of every run in 1 MiB requests (as the writer does); optionally write it to out_fd. */
static int
imgcmp_read_all(struct r2d_ctx *ctx, const struct r2d_image *a, int out_fd)
{
    uint8_t *buf = r2d_alloc_io(IMGCMP_CHUNK);
    const double t0 = r2d_now();
    uint64_t total = 0;

    if (!buf)
        return 99;
    for (size_t i = 0; i < r2d_image_run_count(a); i++) {
        const struct r2d_run *r = r2d_image_run(a, i);

        if (out_fd >= 0)
            printf("run 0x%" PRIx64 " 0x%" PRIx64 "\n", r->pa, r->len);
        for (uint64_t done = 0; done < r->len;) {
            const size_t n = r->len - done < IMGCMP_CHUNK ? (size_t)(r->len - done) : IMGCMP_CHUNK;

            if (r2d_image_read(ctx, a, r->pa + done, buf, n, R2D_HOLE_ERROR)) {
                fprintf(stderr, "imgcmp: %s\n", r2d_errmsg(ctx));
                free(buf);
                return 99;
            }
            if (out_fd >= 0 && pwrite(out_fd, buf, n, (off_t)(r->pa + done)) != (ssize_t)n) {
                perror("imgcmp: export");
                free(buf);
                return 99;
            }
            done += n;
            total += n;
        }
    }
    if (out_fd < 0) {
        const double s = r2d_now() - t0;

        printf("%" PRIu64 " pages in %.3f s, %.1f MiB/s\n", total / IMGCMP_PAGE, s,
               s > 0 ? (double)total / (1 << 20) / s : 0.0);
    }
    free(buf);
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {{"time", no_argument, NULL, 't'},
                                         {"export", required_argument, NULL, 'e'},
                                         {"ignore", required_argument, NULL, 'i'},
                                         {"peek", required_argument, NULL, 'p'},
                                         {NULL, 0, NULL, 0}};
    struct imgcmp_ignore ig = {.n = 0};
    const char *fa = "auto", *fb = "auto", *export = NULL;
    int timing = 0, peek = 0, c, rc;
    uint64_t peek_pa = 0;
    struct r2d_image *a = NULL, *b = NULL;
    struct r2d_ctx *ctx = r2d_ctx_new();

    while ((c = getopt_long(argc, argv, "a:b:", opts, NULL)) != -1) {
        if (c == 'a')
            fa = optarg;
        else if (c == 'b')
            fb = optarg;
        else if (c == 't')
            timing = 1;
        else if (c == 'e')
            export = optarg;
        else if (c == 'p' && sscanf(optarg, "%" SCNx64, &peek_pa) == 1)
            peek = 1;
        else if (c == 'i' && ig.n < IMGCMP_MAX_IGNORE &&
                 sscanf(optarg, "%" SCNx64 "-%" SCNx64, &ig.start[ig.n], &ig.end[ig.n]) == 2)
            ig.n++;
        else
            return 2;
    }
    if (!ctx || argc - optind != (timing || export || peek ? 1 : 2)) {
        fprintf(stderr,
                "usage: imgcmp [-a FMT] [-b FMT] A B | --time [-a FMT] A | --export RAW [-a FMT] A\n");
        return 2;
    }
    if (r2d_format_open(ctx, argv[optind], fa, &a) ||
        (argc - optind == 2 && r2d_format_open(ctx, argv[optind + 1], fb, &b))) {
        fprintf(stderr, "imgcmp: %s\n", r2d_errmsg(ctx));
        r2d_image_free(a);
        r2d_ctx_free(ctx);
        return 99;
    }
    if (export) {
        const int fd = open(export, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        rc = fd < 0 ? 99 : imgcmp_read_all(ctx, a, fd);
        if (fd >= 0)
            close(fd);
    } else if (peek) {
        uint8_t bytes[32];

        rc = r2d_image_read(ctx, a, peek_pa, bytes, sizeof(bytes), R2D_HOLE_ERROR) ? 99 : 0;
        if (rc)
            fprintf(stderr, "imgcmp: %s\n", r2d_errmsg(ctx));
        for (size_t i = 0; !rc && i < sizeof(bytes); i++)
            printf("%02x%s", bytes[i], i + 1 < sizeof(bytes) ? "" : "\n");
    } else if (timing) {
        rc = imgcmp_read_all(ctx, a, -1);
    } else {
        rc = imgcmp_compare(ctx, a, b, &ig);
    }
    r2d_image_free(a);
    r2d_image_free(b);
    r2d_ctx_free(ctx);
    return rc;
}
