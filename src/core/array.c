/* SPDX-License-Identifier: MIT */
/* Growing tables and searching sorted ones (array.h). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"

#define ARRAY_MIN_CAP 16u

int
r2d_grow(struct r2d_ctx *ctx, void *itemsp, size_t *cap, size_t need, size_t elem_size, const char *what)
{
    void *items, *grown;
    size_t ncap;

    assert(elem_size > 0);
    if (need <= *cap)
        return 0;
    if (need > SIZE_MAX / elem_size)
        return r2d_err(ctx, R2D_ENOMEM, "out of memory for %s (%zu entries of %zu bytes exceed the address "
                       "space)", what, need, elem_size);
    ncap = *cap > ARRAY_MIN_CAP ? *cap : ARRAY_MIN_CAP;
    while (ncap < need)
        ncap = ncap <= SIZE_MAX / 2 ? ncap * 2 : need;
    if (ncap > SIZE_MAX / elem_size)
        ncap = need;
    /* The pointer is copied as bytes: *itemsp is a T *, which must not be accessed as a void *. */
    memcpy(&items, itemsp, sizeof(items));
    grown = realloc(items, ncap * elem_size);
    if (!grown && ncap > need) /* doubling may ask for far more than is needed: try the exact size */
        grown = realloc(items, (ncap = need) * elem_size);
    if (!grown)
        return r2d_err(ctx, R2D_ENOMEM, "out of memory for %s (%zu entries of %zu bytes)", what, ncap,
                       elem_size);
    memcpy(itemsp, &grown, sizeof(grown));
    *cap = ncap;
    return 0;
}

static uint64_t
array_key(const unsigned char *p, size_t key_size)
{
    uint32_t k32;
    uint64_t k64;

    if (key_size == sizeof(k32)) {
        memcpy(&k32, p, sizeof(k32));
        return k32;
    }
    memcpy(&k64, p, sizeof(k64));
    return k64;
}

size_t
r2d_find_last_le(const void *items, size_t n, size_t elem_size, size_t key_off, size_t key_size, uint64_t x)
{
    const unsigned char *keys;
    size_t lo = 0, hi = n;

    assert(key_size == sizeof(uint32_t) || key_size == sizeof(uint64_t));
    if (n == 0)
        return 0;
    keys = (const unsigned char *)items + key_off;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;

        if (array_key(keys + mid * elem_size, key_size) <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? n : lo - 1;
}
