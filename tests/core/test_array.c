/* SPDX-License-Identifier: MIT */
/* The array helpers: growth with overflow checks, the sorted-array search, hex digits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "array.h"
#include "hex.h"

struct elem {
    uint32_t tag;
    uint64_t key;
};

static void
test_grow_keeps_contents_and_at_least_doubles(void **state)
{
    struct r2d_ctx *ctx = r2d_ctx_new();
    uint64_t *v = NULL;
    size_t cap = 0, n = 0, reallocs = 0;

    (void)state;
    for (uint64_t i = 0; i < 100000; i++) {
        const size_t before = cap;

        assert_int_equal(r2d_grow(ctx, &v, &cap, n + 1, sizeof(*v), "numbers"), 0);
        assert_true(cap >= n + 1);
        if (cap != before) {
            assert_true(before == 0 ? cap == 16 : cap >= 2 * before);
            reallocs++;
        }
        v[n++] = i * 7;
    }
    assert_true(reallocs <= 14); /* 16 << 13 > 100000: doubling, not one step per append */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(v[i], i * 7);
    /* Room already there: nothing moves. */
    {
        uint64_t *same = v;
        const size_t c = cap;

        assert_int_equal(r2d_grow(ctx, &v, &cap, cap, sizeof(*v), "numbers"), 0);
        assert_ptr_equal(v, same);
        assert_int_equal(cap, c);
    }
    /* A jump past double goes straight to what is needed. */
    assert_int_equal(r2d_grow(ctx, &v, &cap, 5 * cap + 3, sizeof(*v), "numbers"), 0);
    assert_true(cap >= n * 5);
    assert_int_equal(v[n - 1], (n - 1) * 7);
    free(v);
    r2d_ctx_free(ctx);
}

static void
test_grow_refuses_a_size_that_overflows_and_keeps_the_array(void **state)
{
    struct r2d_ctx *ctx = r2d_ctx_new();
    struct elem *v = NULL;
    size_t cap = 0;

    (void)state;
    assert_int_equal(r2d_grow(ctx, &v, &cap, 3, sizeof(*v), "things"), 0);
    v[2].key = 42;
    assert_int_equal(r2d_grow(ctx, &v, &cap, SIZE_MAX / sizeof(*v) + 1, sizeof(*v), "the things table"),
                     R2D_ENOMEM);
    assert_non_null(strstr(r2d_errmsg(ctx), "out of memory for the things table"));
    assert_int_equal(cap, 16);
    assert_int_equal(v[2].key, 42);
    free(v);
    r2d_ctx_free(ctx);
}

static void
test_find_last_le_finds_the_last_key_at_or_below(void **state)
{
    const struct elem v[] = {{0, 10}, {1, 20}, {2, 20}, {3, 30}, {4, UINT64_MAX}};
    const size_t n = sizeof(v) / sizeof(*v);

    (void)state;
    assert_int_equal(R2D_FIND_LAST_LE(v, n, struct elem, key, 9), n);  /* below all: none */
    assert_int_equal(R2D_FIND_LAST_LE(v, n, struct elem, key, 10), 0); /* equal to the first */
    assert_int_equal(R2D_FIND_LAST_LE(v, n, struct elem, key, 19), 0);
    assert_int_equal(R2D_FIND_LAST_LE(v, n, struct elem, key, 20), 2); /* equal keys: the last of them */
    assert_int_equal(R2D_FIND_LAST_LE(v, n, struct elem, key, 29), 2);
    assert_int_equal(R2D_FIND_LAST_LE(v, n, struct elem, key, 30), 3);
    assert_int_equal(R2D_FIND_LAST_LE(v, n, struct elem, key, UINT64_MAX - 1), 3);
    assert_int_equal(R2D_FIND_LAST_LE(v, n, struct elem, key, UINT64_MAX), 4);
    assert_int_equal(R2D_FIND_LAST_LE(v, 1, struct elem, key, 5), 1);
    assert_int_equal(R2D_FIND_LAST_LE(v, 1, struct elem, key, 500), 0);
    assert_int_equal(R2D_FIND_LAST_LE((const struct elem *)NULL, 0, struct elem, key, 5), 0); /* empty */
    /* A 32-bit key, at offset 0 and in a plain array. */
    assert_int_equal(R2D_FIND_LAST_LE(v, n, struct elem, tag, 2), 2);
    {
        const uint32_t from[] = {0x1000, 0x2000, 0xffffffffu};

        assert_int_equal(r2d_find_last_le(from, 3, sizeof(*from), 0, sizeof(*from), 0xfff), 3);
        assert_int_equal(r2d_find_last_le(from, 3, sizeof(*from), 0, sizeof(*from), 0x1fff), 0);
        assert_int_equal(r2d_find_last_le(from, 3, sizeof(*from), 0, sizeof(*from), 0xffffffffu), 2);
        /* Keys are compared as unsigned 64-bit numbers: a 32-bit key is never sign-extended. */
        assert_int_equal(r2d_find_last_le(from, 3, sizeof(*from), 0, sizeof(*from), UINT64_MAX), 2);
    }
}

/* Every index agrees with a linear scan, for every length up to 64 with runs of equal keys. */
static void
test_find_last_le_agrees_with_a_linear_scan(void **state)
{
    uint64_t keys[64];

    (void)state;
    for (size_t n = 0; n <= 64; n++) {
        for (size_t i = 0; i < n; i++)
            keys[i] = 2 * (i / 3); /* 0 0 0 2 2 2 4 ... */
        for (uint64_t x = 0; x < 2 * 64; x++) {
            size_t want = n;

            for (size_t i = 0; i < n; i++)
                if (keys[i] <= x)
                    want = i;
            assert_int_equal(r2d_find_last_le(keys, n, sizeof(*keys), 0, sizeof(*keys), x), want);
        }
    }
}

static void
test_hex_writes_lowercase_digits_and_a_nul(void **state)
{
    const uint8_t bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof(bytes) + 2];

    (void)state;
    memset(out, 'X', sizeof(out));
    assert_ptr_equal(r2d_hex(out, bytes, sizeof(bytes)), out);
    assert_string_equal(out, "00017f80abff");
    assert_int_equal(out[2 * sizeof(bytes) + 1], 'X'); /* exactly 2n + 1 bytes written */
    assert_string_equal(r2d_hex(out, bytes, 0), "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_keeps_contents_and_at_least_doubles),
        cmocka_unit_test(test_grow_refuses_a_size_that_overflows_and_keeps_the_array),
        cmocka_unit_test(test_find_last_le_finds_the_last_key_at_or_below),
        cmocka_unit_test(test_find_last_le_agrees_with_a_linear_scan),
        cmocka_unit_test(test_hex_writes_lowercase_digits_and_a_nul),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
