/* SPDX-License-Identifier: MIT */
/*
 * One input format under fuzzing (FUZZ_FORMAT_VAR, set by fuzz/meson.build): every probe on the input's head,
 * then an open with that format, then reads of what the image describes (runs, CPUs, notes), so decoding
 * sources (inflated LiME, compressed kdump pages) are exercised too.
 */
#include <string.h>

#include "fuzz_util.h"
#include "format.h"
#include "image.h"

#ifndef FUZZ_FORMAT_VAR
#error "FUZZ_FORMAT_VAR must name an input format's struct r2d_format"
#endif

extern const struct r2d_format FUZZ_FORMAT_VAR;

#define FUZZ_READ_MAX (256u << 10) /* bytes read back per input, across all runs */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_probe_all(const uint8_t *data, size_t size)
{
    for (size_t i = 0; r2d_formats[i]; i++) {
        const struct r2d_format *f = r2d_formats[i];
        const size_t len = size < f->probe_bytes ? size : f->probe_bytes;
        const char *why = NULL;
        uint8_t *copy = malloc(len ? len : 1); /* exact size, so ASan sees any read past len */

        if (!copy)
            abort();
        memcpy(copy, data, len);
        if (f->probe)
            (void)f->probe(copy, len, size, &why);
        free(copy);
    }
}

static void
fuzz_read_back(struct r2d_ctx *ctx, const struct r2d_image *img)
{
    static uint8_t buf[64u << 10];
    size_t budget = FUZZ_READ_MAX;
    const char *k, *v;

    for (size_t i = 0; i < r2d_image_run_count(img) && budget > 0; i++) {
        const struct r2d_run *r = r2d_image_run(img, i);
        const size_t n = r->len < sizeof(buf) ? (size_t)r->len : sizeof(buf);
        const size_t take = n < budget ? n : budget;

        /* The start of the run, its last bytes, and across its end into whatever follows. */
        if (r2d_image_read(ctx, img, r->pa, buf, take, R2D_HOLE_ERROR))
            fuzz_touch_errmsg(ctx);
        if (r->len >= 16 && r2d_image_read(ctx, img, r->pa + r->len - 16, buf, 16, R2D_HOLE_ERROR))
            fuzz_touch_errmsg(ctx);
        (void)r2d_image_read(ctx, img, r->pa + r->len - 1, buf, 2, R2D_HOLE_ZERO);
        (void)r2d_image_covers(img, r->pa, r->len);
        budget -= take;
    }
    for (size_t i = 0; i < r2d_image_cpu_count(img); i++)
        (void)r2d_image_cpu(img, i)->cr3;
    for (size_t i = 0; i < r2d_image_note_count(img); i++) {
        r2d_image_note(img, i, &k, &v);
        fuzz_log_discard(NULL, 0, k);
        fuzz_log_discard(NULL, 0, v);
    }
    (void)r2d_image_total_bytes(img);
    fuzz_log_discard(NULL, 0, r2d_image_probe_reason(img));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_file file;
    struct r2d_ctx *ctx = fuzz_ctx();
    struct r2d_image *img = NULL;
    const char *path;

    fuzz_probe_all(data, size);
    path = fuzz_file_set(&file, data, size);
    if (r2d_format_open(ctx, path, FUZZ_FORMAT_VAR.name, &img) == 0) {
        fuzz_read_back(ctx, img);
        r2d_image_free(img);
    } else {
        fuzz_touch_errmsg(ctx);
    }
    return 0;
}
