/* SPDX-License-Identifier: MIT */
/*
 * The AFF4 reader's turtle subset (formats/aff4_turtle.c) on hostile text, then the lookups the volume
 * makes (typed numbers, rdf:type walks, the stored hashes of each typed object: formats/aff4_hash.c). Whole volumes go through fuzz_aff4 (the registry's target).
 */
#include <stdlib.h>
#include <string.h>

#include "aff4.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct r2d_ctx *ctx = fuzz_ctx();
    struct r2d_aff4_graph g = {0};
    /* an exact-size copy: a read past the end is an ASan report */
    char *text = malloc(size ? size : 1);
    const struct r2d_aff4_triple *x;
    struct r2d_aff4_hash h[R2D_AFF4_HASHES_MAX];
    size_t at = 0, nh;
    uint64_t v;
    int found;

    (void)fuzz_file_set; /* fuzz_util.h's file helper: this target parses text in memory */
    if (!text)
        return 0;
    memcpy(text, data, size);
    if (r2d_aff4_turtle_parse(ctx, "fuzz.turtle", text, size, &g) != 0)
        fuzz_touch_errmsg(ctx);
    while ((x = r2d_aff4_graph_next(&g, NULL, R2D_RDF_TYPE, &at)) != NULL) {
        if (r2d_aff4_graph_u64(ctx, "fuzz", &g, x->s, R2D_AFF4_NS "size", &v, &found))
            fuzz_touch_errmsg(ctx);
        fuzz_log_discard(NULL, 0, x->o);
        fuzz_log_discard(NULL, 0, x->dtype ? x->dtype : "");
        if (r2d_aff4_hashes(ctx, "fuzz", &g, x->s, h, R2D_AFF4_HASHES_MAX, &nh) != 0)
            fuzz_touch_errmsg(ctx);
        else
            for (size_t i = 0; i < nh; i++)
                fuzz_log_discard(NULL, 0, h[i].hex);
    }
    r2d_aff4_graph_free(&g);
    free(text);
    return 0;
}
