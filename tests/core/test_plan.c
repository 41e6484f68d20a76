/* SPDX-License-Identifier: MIT */
/* The plan's page ranges merge, and its patches are page-bounded, disjoint and overlaid exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "format.h"
#include "image.h"
#include "plan.h"

struct fixture {
    char path[64];
    struct r2d_ctx *ctx;
    struct r2d_image *img;
    struct r2d_plan *plan;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    uint8_t page[4096];
    FILE *fp;

    snprintf(f->path, sizeof(f->path), "/tmp/r2d-plan-%d.raw", (int)getpid());
    fp = fopen(f->path, "wb");
    for (int p = 0; p < 4; p++) {
        memset(page, 0x10 + p, sizeof(page));
        fwrite(page, 1, sizeof(page), fp);
    }
    fclose(fp);
    f->ctx = r2d_ctx_new();
    assert_int_equal(r2d_format_open(f->ctx, f->path, "raw", &f->img), 0);
    f->plan = r2d_plan_new();
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    r2d_plan_free(f->plan);
    r2d_image_free(f->img);
    r2d_ctx_free(f->ctx);
    unlink(f->path);
    free(f);
    return 0;
}

static void
test_ranges_merge_when_touching_or_overlapping(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 10, 5), 0);  /* 10-14 */
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 0, 2), 0);   /* 0-1 */
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 15, 1), 0);  /* touches 10-14 */
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 30, 2), 0);
    assert_int_equal(r2d_plan_range_count(f->plan), 3);
    assert_int_equal(r2d_plan_range(f->plan, 1)->base_page, 10);
    assert_int_equal(r2d_plan_range(f->plan, 1)->page_count, 6);
    /* One range swallowing two. */
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 1, 40), 0);
    assert_int_equal(r2d_plan_range_count(f->plan), 1);
    assert_int_equal(r2d_plan_range(f->plan, 0)->base_page, 0);
    assert_int_equal(r2d_plan_range(f->plan, 0)->page_count, 41);
    assert_int_equal(r2d_plan_page_count(f->plan), 41);
}

/* Adds after a query land in the sorted list; adds out of order after ascending ones are merged too. */
static void
test_ranges_added_after_a_query_are_merged(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 10, 5), 0);
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 12, 5), 0);  /* ascending, overlaps: 10-16 */
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 17, 1), 0);  /* ascending, touches: 10-17 */
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 20, 1), 0);  /* ascending, after a gap */
    assert_int_equal(r2d_plan_range_count(f->plan), 2);
    assert_int_equal(r2d_plan_range(f->plan, 0)->page_count, 8);
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 0, 10), 0);  /* before everything, touches 10 */
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 19, 1), 0);  /* between, touches 20 */
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 40, 3), 0);
    assert_int_equal(r2d_plan_range_count(f->plan), 3);
    assert_int_equal(r2d_plan_range(f->plan, 0)->base_page, 0);
    assert_int_equal(r2d_plan_range(f->plan, 0)->page_count, 18);
    assert_int_equal(r2d_plan_range(f->plan, 1)->base_page, 19);
    assert_int_equal(r2d_plan_range(f->plan, 1)->page_count, 2);
    assert_int_equal(r2d_plan_range(f->plan, 2)->base_page, 40);
    assert_null(r2d_plan_range(f->plan, 3));
    assert_int_equal(r2d_plan_page_count(f->plan), 23);
    /* A range that wraps the page numbers is refused and changes nothing. */
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, UINT64_MAX - 1, 3), R2D_EINVAL);
    assert_int_equal(r2d_plan_range_count(f->plan), 3);
    r2d_plan_clear_ranges(f->plan);
    assert_int_equal(r2d_plan_range_count(f->plan), 0);
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 5, 1), 0);
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 3, 1), 0);
    assert_int_equal(r2d_plan_range_count(f->plan), 2);
    assert_int_equal(r2d_plan_range(f->plan, 0)->base_page, 3);
}

#define MANY_RANGES 1000000u
#define MANY_PAGES (1u << 23) /* the page space the ranges fall in: 8 Mi pages, a 1 MiB bitmap */

static uint64_t
many_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/*
 * Ranges of every kind: mostly short ones at random places (disjoint or overlapping by chance), some
 * starting exactly where the previous one ends (touching), some inside the previous one (overlapping), a
 * few long ones swallowing many.
 */
static void
many_ranges(struct r2d_page_range *r, size_t n)
{
    uint64_t seed = 0x2545F4914F6CDD1DULL;

    for (size_t i = 0; i < n; i++) {
        const unsigned kind = (unsigned)(many_rand(&seed) % 100);
        uint64_t base = many_rand(&seed) % MANY_PAGES, count = 1 + many_rand(&seed) % 8;

        if (kind < 10 && i > 0)
            base = r[i - 1].base_page + r[i - 1].page_count;
        else if (kind < 19 && i > 0)
            base = r[i - 1].base_page + many_rand(&seed) % r[i - 1].page_count;
        else if (kind == 19)
            count = 1 + many_rand(&seed) % 2048;
        if (base >= MANY_PAGES)
            base = MANY_PAGES - 1;
        if (count > MANY_PAGES - base)
            count = MANY_PAGES - base;
        r[i] = (struct r2d_page_range){base, count};
    }
}

/* The plan's ranges must be exactly the maximal runs of set bits of the bitmap (touching ranges merge). */
static void
check_against_bitmap(const struct r2d_plan *plan, const uint8_t *bits)
{
    size_t k = 0;
    uint64_t pages = 0, p = 0;

    while (p < MANY_PAGES) {
        uint64_t q;

        if (!(bits[p / 8] >> (p % 8) & 1)) {
            p++;
            continue;
        }
        for (q = p; q < MANY_PAGES && bits[q / 8] >> (q % 8) & 1; q++)
            ;
        assert_true(k < r2d_plan_range_count(plan));
        assert_int_equal(r2d_plan_range(plan, k)->base_page, p);
        assert_int_equal(r2d_plan_range(plan, k)->page_count, q - p);
        pages += q - p;
        k++;
        p = q;
    }
    assert_int_equal(r2d_plan_range_count(plan), k);
    assert_int_equal(r2d_plan_page_count(plan), pages);
    assert_true(k > 50000); /* the mix leaves many separate ranges: merging did not swallow everything */
}

static void
many_mark(uint8_t *bits, const struct r2d_page_range *r)
{
    for (uint64_t p = r->base_page; p < r->base_page + r->page_count; p++)
        bits[p / 8] |= (uint8_t)(1u << (p % 8));
}

static int
many_cmp(const void *a, const void *b)
{
    const struct r2d_page_range *x = a, *y = b;

    return x->base_page < y->base_page ? -1 : x->base_page > y->base_page;
}

/*
 * A million ranges: the first fifth in ascending order (merged as they come), the rest shuffled, with a
 * query half-way. The result is compared with a bitmap of every page added, computed independently.
 */
static void
test_a_million_ranges_in_any_order_merge_exactly(void **state)
{
    struct fixture *f = *state;
    struct r2d_page_range *r = malloc(MANY_RANGES * sizeof(*r));
    uint8_t *bits = calloc(MANY_PAGES / 8, 1);
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    const size_t sorted = MANY_RANGES / 5, half = MANY_RANGES / 2;

    assert_non_null(r);
    assert_non_null(bits);
    many_ranges(r, MANY_RANGES);
    qsort(r, sorted, sizeof(*r), many_cmp);
    for (size_t i = MANY_RANGES - 1; i > sorted; i--) { /* Fisher-Yates over r[sorted, MANY_RANGES) */
        const size_t j = sorted + (size_t)(many_rand(&seed) % (i - sorted + 1));
        const struct r2d_page_range t = r[i];

        r[i] = r[j];
        r[j] = t;
    }
    for (size_t i = 0; i < MANY_RANGES; i++) {
        assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, r[i].base_page, r[i].page_count), 0);
        many_mark(bits, &r[i]);
        if (i + 1 == half)
            check_against_bitmap(f->plan, bits);
    }
    check_against_bitmap(f->plan, bits);
    free(bits);
    free(r);
}

static void
test_patch_crossing_a_page_is_refused(void **state)
{
    struct fixture *f = *state;
    const uint8_t b[8] = {0};

    assert_int_equal(r2d_plan_add_patch(f->ctx, f->plan, f->img, 0x0ffc, b, 8, 0, "x"), R2D_EINVAL);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "crosses a page"));
}

static void
test_overlapping_patches_are_refused(void **state)
{
    struct fixture *f = *state;
    const uint8_t b[16] = {0};

    assert_int_equal(r2d_plan_add_patch(f->ctx, f->plan, f->img, 0x1010, b, 16, 0, "first"), 0);
    assert_int_equal(r2d_plan_add_patch(f->ctx, f->plan, f->img, 0x1008, b, 9, 0, "second"), R2D_EINVAL);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "overlaps patch 'first'"));
    assert_int_equal(r2d_plan_add_patch(f->ctx, f->plan, f->img, 0x101f, b, 1, 0, "third"), R2D_EINVAL);
    assert_int_equal(r2d_plan_add_patch(f->ctx, f->plan, f->img, 0x1020, b, 1, 0, "adjacent"), 0);
    assert_int_equal(r2d_plan_patch_count(f->plan), 2);
}

static void
test_patches_keep_source_bytes_and_apply_exactly(void **state)
{
    struct fixture *f = *state;
    const uint8_t a[4] = {1, 2, 3, 4}, b[2] = {9, 9};
    uint8_t buf[0x2000];
    size_t cursor = 0;

    assert_int_equal(r2d_plan_add_patch(f->ctx, f->plan, f->img, 0x2ffe, b, 2, 0xfffff80000002ffeull, "b"), 0);
    assert_int_equal(r2d_plan_add_patch(f->ctx, f->plan, f->img, 0x1000, a, 4, 0, "a"), 0);
    /* Sorted by address; the replaced bytes come from the image (page 1 = 0x11, page 2 = 0x12). */
    assert_int_equal(r2d_plan_patch(f->plan, 0)->pa, 0x1000);
    assert_int_equal(r2d_plan_patch(f->plan, 0)->before[0], 0x11);
    assert_int_equal(r2d_plan_patch(f->plan, 1)->before[1], 0x12);
    memset(buf, 0xee, sizeof(buf));
    /* A buffer starting mid-patch gets only the overlapping tail. */
    r2d_plan_apply(f->plan, 0x1002, buf, sizeof(buf), &cursor);
    assert_int_equal(buf[0], 3);
    assert_int_equal(buf[1], 4);
    assert_int_equal(buf[2], 0xee);
    assert_int_equal(buf[0x2ffe - 0x1002], 9);
    assert_int_equal(buf[0x2fff - 0x1002], 9);
    /* Applying a range before both patches after the cursor moved on still works (restart). */
    memset(buf, 0xee, 8);
    r2d_plan_apply(f->plan, 0x0ffc, buf, 8, &cursor);
    assert_int_equal(buf[3], 0xee);
    assert_int_equal(buf[4], 1);
    assert_int_equal(buf[7], 4);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ranges_merge_when_touching_or_overlapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranges_added_after_a_query_are_merged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_million_ranges_in_any_order_merge_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patch_crossing_a_page_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlapping_patches_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patches_keep_source_bytes_and_apply_exactly, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
