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
        cmocka_unit_test_setup_teardown(test_patch_crossing_a_page_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlapping_patches_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patches_keep_source_bytes_and_apply_exactly, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
