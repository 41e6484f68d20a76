/* SPDX-License-Identifier: MIT */
/*
 * The AFF4 reader's turtle subset (formats/aff4_turtle.c) on hostile text, then the lookups the volume
 * makes (typed numbers, rdf:type walks). Whole volumes go through fuzz_aff4 (the registry's target).
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
    size_t at = 0;
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
    }
    r2d_aff4_graph_free(&g);
    free(text);
    return 0;
}
