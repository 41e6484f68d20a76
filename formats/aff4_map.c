/* SPDX-License-Identifier: MIT */
/*
 * AFF4 Map streams: the "<map>/map" member lists (mapped offset, length, target offset, target id) entries,
 * the "<map>/idx" member the targets' IRIs one per line. For a memory image the mapped offsets are physical
 * addresses, so the entries become the image's runs. Facts: docs/formats/aff4.md A7.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "aff4.h"
#include "array.h"
#include "bytes.h"

static int
map_cmp(const void *a, const void *b)
{
    const struct r2d_aff4_run *x = a, *y = b;

    return x->pa < y->pa ? -1 : x->pa > y->pa;
}

int
r2d_aff4_map_entries(struct r2d_ctx *ctx, const char *what, const uint8_t *map, size_t len, uint64_t map_size,
                     uint32_t ntargets, struct r2d_aff4_run **out, size_t *n)
{
    const size_t count = len / R2D_AFF4_MAP_ENTRY;
    struct r2d_aff4_run *r;
    size_t k = 0;

    *out = NULL;
    *n = 0;
    R2D_CHECK(len % R2D_AFF4_MAP_ENTRY != 0, ctx, R2D_EFORMAT,
              "%s: %zu bytes is not a whole number of %u-byte map entries", what, len, R2D_AFF4_MAP_ENTRY);
    R2D_CHECK(count > R2D_AFF4_MAP_ENTRIES_MAX, ctx, R2D_EUNSUPPORTED,
              "%s: %zu map entries, more than the %u read", what, count, R2D_AFF4_MAP_ENTRIES_MAX);
    R2D_CHECK(!(r = malloc((count ? count : 1) * sizeof(*r))), ctx, R2D_ENOMEM,
              "out of memory for %zu map entries", count);
    for (size_t i = 0; i < count; i++) {
        const uint8_t *e = map + i * R2D_AFF4_MAP_ENTRY;
        const struct r2d_aff4_run x = {
            .pa = r2d_le64(e), .len = r2d_le64(e + 8), .off = r2d_le64(e + 16), .stream = r2d_le32(e + 24)};
        /* empty entries (pyaff4 drops them too) are not checked further */
        const char *bad = x.stream >= ntargets ? "names no target in the idx list"
                          : x.len && (x.pa > map_size || x.len > map_size - x.pa)
                              ? "runs past the map's aff4:size"
                          : x.off + x.len < x.off ? "target range wraps around"
                                                  : NULL;

        if (bad) {
            free(r);
            return r2d_err(ctx, R2D_EFORMAT,
                           "%s: entry %zu (0x%" PRIx64 "+0x%" PRIx64 " -> target %" PRIu32 " at 0x%" PRIx64
                           ") %s",
                           what, i, x.pa, x.len, x.stream, x.off, bad);
        }
        if (x.len)
            r[k++] = x;
    }
    qsort(r, k, sizeof(*r), map_cmp);
    for (size_t i = 1; i < k; i++)
        if (r[i].pa < r[i - 1].pa + r[i - 1].len) {
            const int rc =
                r2d_err(ctx, R2D_EFORMAT,
                        "%s: map entries 0x%" PRIx64 "+0x%" PRIx64 " and 0x%" PRIx64 "+0x%" PRIx64 " overlap",
                        what, r[i - 1].pa, r[i - 1].len, r[i].pa, r[i].len);

            free(r);
            return rc;
        }
    *out = r;
    *n = k;
    return 0;
}

int
r2d_aff4_map_compose(struct r2d_ctx *ctx, const struct r2d_aff4_run *e, const struct r2d_aff4_run *sub,
                     size_t nsub, struct r2d_aff4_run **out, size_t *n, size_t *cap)
{
    const uint64_t lo = e->off, hi = e->off + e->len; /* checked not to wrap by r2d_aff4_map_entries */

    for (size_t i = 0; i < nsub; i++) {
        const uint64_t s = sub[i].pa > lo ? sub[i].pa : lo;
        const uint64_t t = sub[i].pa + sub[i].len < hi ? sub[i].pa + sub[i].len : hi;
        int rc;

        if (s >= t)
            continue;
        rc = r2d_grow(ctx, out, cap, *n + 1, sizeof(**out), "AFF4 map runs");
        if (rc)
            return rc;
        (*out)[(*n)++] = (struct r2d_aff4_run){.pa = e->pa + (s - lo),
                                               .len = t - s,
                                               .off = sub[i].off + (s - sub[i].pa),
                                               .stream = sub[i].stream};
    }
    return 0;
}
