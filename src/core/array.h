/* SPDX-License-Identifier: MIT */
/* Arrays: one growth rule with overflow checks for every table that grows, one search for sorted ones. */
#ifndef R2D_CORE_ARRAY_H
#define R2D_CORE_ARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

/**
 * Make room for at least need elements of elem_size bytes. itemsp is the address of the array pointer (a
 * T ** passed as void *, so every element type goes without a cast); *cap is its capacity in elements.
 * The capacity at least doubles (from 16), so n appends cost O(n) copies in all.
 *
 * Returns 0 with *itemsp and *cap updated (the array may have moved; need <= *cap returns at once), or
 * R2D_ENOMEM with "out of memory for <what> (...)" in ctx when the allocation fails or need * elem_size
 * does not fit a size_t; the array and *cap are then unchanged. Callers that know a file name prepend it
 * with r2d_err_prefix.
 */
int r2d_grow(struct r2d_ctx *ctx, void *itemsp, size_t *cap, size_t need, size_t elem_size, const char *what);

/**
 * Binary search in n elements of elem_size bytes sorted (non-decreasing) by an unsigned key of key_size
 * bytes (4 or 8) at byte key_off of each element. Returns the index of the last element whose key is <=
 * x, or n when there is none (n == 0, or every key is above x). items may be NULL when n is 0.
 */
size_t r2d_find_last_le(const void *items, size_t n, size_t elem_size, size_t key_off, size_t key_size,
                        uint64_t x);

/* r2d_find_last_le over an array of type sorted by its member field: R2D_FIND_LAST_LE(runs, n, struct
 * r2d_run, pa, addr). */
#define R2D_FIND_LAST_LE(items, n, type, field, x)                                                           \
    r2d_find_last_le((items), (n), sizeof(type), offsetof(type, field), sizeof(((type *)0)->field), (x))

#endif
