/* SPDX-License-Identifier: MIT */
/*
 * The crash dump reader on hand-made files: what genuine writers produce (PAGE fill, WinDbg's unaligned
 * FirstPage, PCID bits in the DTB, QEMU's 43rd run) opens; hostile headers fail with one message and
 * never crash.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cdtest.h"
#include "bytes.h"
#include "raw2dmp/ctx.h"
#include "image.h"

#define PAGE 4096u
#define HDR 0x2000u

struct fixture {
    struct r2d_ctx *ctx;
    char *dir;
    char *path;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->ctx = r2d_ctx_new();
    f->dir = cdtest_mkdtemp();
    f->path = cdtest_path(f->dir, "in.dmp");
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    r2d_ctx_free(f->ctx);
    cdtest_rmdir(f->dir);
    free(f->path);
    free(f);
    return 0;
}

/* A PAGE-filled DUMP_HEADER64 with the fields a reader needs, followed by room for data. */
static uint8_t *
make_header(size_t total, uint32_t dump_type)
{
    uint8_t *d = calloc(1, total);

    assert_non_null(d);
    for (size_t i = 0; i < HDR && i < total; i++)
        d[i] = (uint8_t) "PAGE"[i & 3];
    memcpy(d, "PAGEDU64", 8);
    r2d_put_le32(d + 0x8, 15);
    r2d_put_le32(d + 0xc, 18362);
    r2d_put_le64(d + 0x10, 0x6d4002); /* PCID bits, as in a genuine 18362 dump */
    r2d_put_le32(d + 0x30, 0x8664);
    r2d_put_le32(d + 0xf98, dump_type);
    r2d_put_le32(d + 0x348 + 0x30, 0x10001f);
    r2d_put_le64(d + 0x348 + 0xf8, 0xfffff80000001000);
    return d;
}

static void
set_runs(uint8_t *d, uint32_t n, const uint64_t *base, const uint64_t *count)
{
    uint64_t sum = 0;

    r2d_put_le32(d + 0x88, n);
    r2d_put_le32(d + 0x8c, 0);
    for (uint32_t i = 0; i < n; i++) {
        r2d_put_le64(d + 0x98 + 16 * i, base[i]);
        r2d_put_le64(d + 0xa0 + 16 * i, count[i]);
        sum += count[i];
    }
    r2d_put_le64(d + 0x90, sum);
}

/* Fill page i of the data with its own index, so offsets can be checked. */
static void
mark_pages(uint8_t *d, size_t first, size_t n)
{
    for (size_t i = 0; i < n; i++)
        memset(d + first + i * PAGE, (int)(0x40 + i), PAGE);
}

static int
open_file(struct fixture *f, const uint8_t *d, size_t len, const char *format, struct r2d_image **img)
{
    cdtest_write_file(f->path, d, len);
    *img = NULL;
    return r2d_format_open(f->ctx, f->path, format, img);
}

static void
expect_error(struct fixture *f, const uint8_t *d, size_t len, int code, const char *text)
{
    struct r2d_image *img;
    const int rc = open_file(f, d, len, "auto", &img);

    if (rc != code)
        fail_msg("rc %d (%s), want %d", rc, r2d_errmsg(f->ctx), code);
    assert_null(img);
    if (text && !strstr(r2d_errmsg(f->ctx), text))
        fail_msg("message '%s' lacks '%s'", r2d_errmsg(f->ctx), text);
    assert_non_null(strstr(r2d_errmsg(f->ctx), f->path));
}

static void
full_dump_runs_are_back_to_back_from_0x2000(void **state)
{
    struct fixture *f = *state;
    const uint64_t base[] = {1, 0x10, 0x100}, count[] = {2, 1, 3};
    const size_t len = HDR + 6 * PAGE;
    uint8_t *d = make_header(len, 1);
    struct r2d_image *img;
    uint8_t page[PAGE];

    set_runs(d, 3, base, count);
    mark_pages(d, HDR, 6);
    assert_int_equal(open_file(f, d, len, "auto", &img), 0);
    assert_string_equal(r2d_image_format_name(img), "crashdump");
    assert_int_equal(r2d_image_run_count(img), 3);
    assert_int_equal(r2d_image_read(f->ctx, img, 0x2000, page, PAGE, R2D_HOLE_ERROR), 0);
    assert_int_equal(page[0], 0x41);
    assert_int_equal(r2d_image_read(f->ctx, img, 0x10000, page, PAGE, R2D_HOLE_ERROR), 0);
    assert_int_equal(page[0], 0x42);
    assert_int_equal(r2d_image_read(f->ctx, img, 0x102000, page, PAGE, R2D_HOLE_ERROR), 0);
    assert_int_equal(page[0], 0x45);
    assert_int_equal(r2d_image_read(f->ctx, img, 0x3000, page, PAGE, R2D_HOLE_ERROR), R2D_EHOLE);
    /* DTB masked; PAGE fill where nothing was set. */
    assert_string_equal(cdtest_note(img, "dump.dtb"), "0x6d4000");
    assert_string_equal(cdtest_note(img, "dump.dtb_raw"), "0x6d4002");
    assert_string_equal(cdtest_note(img, "dump.secondary_data_state"), "0x45474150");
    assert_string_equal(cdtest_note(img, "dump.minor_version"), "18362");
    assert_string_equal(cdtest_note(img, "dump.header_runs"), "3");
    assert_string_equal(cdtest_note(img, "dump.header_pages"), "6");
    assert_int_equal(strlen(cdtest_note(img, "dump.comment")), 128);
    assert_int_equal(r2d_image_cpu_count(img), 1);
    assert_int_equal(r2d_image_cpu(img, 0)->cr3, 0x6d4000);
    assert_int_equal(r2d_image_cpu(img, 0)->rip, 0xfffff80000001000);
    r2d_image_free(img);
    free(d);
}

static void
a_43rd_run_fits_before_the_context(void **state)
{
    struct fixture *f = *state;
    uint64_t base[43], count[43];
    const size_t len = HDR + 43 * PAGE;
    uint8_t *d = make_header(len, 1);
    struct r2d_image *img;

    for (int i = 0; i < 43; i++) {
        base[i] = 2 * (uint64_t)i;
        count[i] = 1;
    }
    set_runs(d, 43, base, count);
    r2d_put_le32(d + 0x348 + 0x30, 0x10001f); /* the 43rd run ends at 0x348 exactly */
    assert_int_equal(open_file(f, d, len, "crashdump", &img), 0);
    assert_int_equal(r2d_image_run_count(img), 43);
    r2d_image_free(img);
    r2d_put_le32(d + 0x88, 44);
    expect_error(f, d, len, R2D_EFORMAT, "NumberOfRuns 44");
    free(d);
}

static void
no_cpu_without_an_amd64_context(void **state)
{
    struct fixture *f = *state;
    const uint64_t base[] = {0}, count[] = {1};
    const size_t len = HDR + PAGE;
    uint8_t *d = make_header(len, 1);
    struct r2d_image *img;

    set_runs(d, 1, base, count);
    memcpy(d + 0x348 + 0x30, "PAGE", 4);
    assert_int_equal(open_file(f, d, len, "auto", &img), 0);
    assert_int_equal(r2d_image_cpu_count(img), 0);
    r2d_image_free(img);
    free(d);
}

/* WinDbg writes FirstPage = 0x2038 + cBits / 8, not page-aligned. */
static void
bitmap_dump_with_unaligned_first_page(void **state)
{
    struct fixture *f = *state;
    const uint64_t bits = 0x40, first = 0x2038 + bits / 8;
    const size_t len = first + 5 * PAGE;
    uint8_t *d = make_header(len, 5);
    struct r2d_image *img;
    uint8_t page[PAGE];

    memcpy(d + 0x2000, "FDMPDUMP", 8);
    r2d_put_le64(d + 0x2020, first);
    r2d_put_le64(d + 0x2028, 5);
    r2d_put_le64(d + 0x2030, bits);
    d[0x2038] = 0x06;     /* PFN 1, 2 */
    d[0x2038 + 4] = 0x01; /* PFN 32 */
    d[0x2038 + 7] = 0xc0; /* PFN 62, 63 */
    mark_pages(d, first, 5);
    assert_int_equal(open_file(f, d, len, "auto", &img), 0);
    assert_string_equal(r2d_image_format_name(img), "crashdump");
    assert_int_equal(r2d_image_run_count(img), 3);
    assert_int_equal(r2d_image_read(f->ctx, img, 1 * PAGE, page, PAGE, R2D_HOLE_ERROR), 0);
    assert_int_equal(page[0], 0x40);
    assert_int_equal(r2d_image_read(f->ctx, img, 2 * PAGE, page, PAGE, R2D_HOLE_ERROR), 0);
    assert_int_equal(page[0], 0x41);
    assert_int_equal(r2d_image_read(f->ctx, img, 32 * PAGE, page, PAGE, R2D_HOLE_ERROR), 0);
    assert_int_equal(page[0], 0x42);
    assert_int_equal(r2d_image_read(f->ctx, img, 63 * PAGE, page, PAGE, R2D_HOLE_ERROR), 0);
    assert_int_equal(page[0], 0x44);
    assert_int_equal(r2d_image_read(f->ctx, img, 0, page, PAGE, R2D_HOLE_ERROR), R2D_EHOLE);
    assert_string_equal(cdtest_note(img, "dump.bitmap_first_page"), "0x2040");
    assert_string_equal(cdtest_note(img, "dump.bitmap_pages"), "5");
    assert_string_equal(cdtest_note(img, "dump.bitmap_bits"), "64");
    r2d_image_free(img);
    free(d);
}

static void
hostile_headers(void **state)
{
    struct fixture *f = *state;
    const uint64_t base[] = {0, 0x100}, count[] = {1, 4};
    const size_t len = HDR + 5 * PAGE;
    uint8_t *d = make_header(len, 1);
    uint8_t *e = malloc(len);

    assert_non_null(e);
    set_runs(d, 2, base, count);
    /* Truncated header. */
    cdtest_write_file(f->path, d, 0x1000);
    {
        struct r2d_image *img = NULL;

        assert_int_equal(r2d_format_open(f->ctx, f->path, "auto", &img), R2D_ETRUNC);
        assert_non_null(strstr(r2d_errmsg(f->ctx), "DUMP_HEADER64"));
    }
    /* PAGE fill left in the run table. */
    memcpy(e, d, len);
    for (int i = 0; i < 4; i++)
        r2d_put_le32(e + 0x88 + 4 * i, 0x45474150); /* 'PAGE' */
    expect_error(f, e, len, R2D_EFORMAT, "'PAGE' fill");
    /* Runs past the end of the file. */
    expect_error(f, d, len - PAGE, R2D_ETRUNC, "run 1");
    /* Huge NumberOfRuns. */
    memcpy(e, d, len);
    r2d_put_le32(e + 0x88, 0x7fffffff);
    expect_error(f, e, len, R2D_EFORMAT, "NumberOfRuns");
    /* No runs. */
    r2d_put_le32(e + 0x88, 0);
    expect_error(f, e, len, R2D_EFORMAT, "no runs");
    /* A run whose page count wraps. */
    memcpy(e, d, len);
    r2d_put_le64(e + 0xa0 + 16, UINT64_MAX);
    expect_error(f, e, len, R2D_EFORMAT, "run 1");
    /* Runs out of order overlap. */
    memcpy(e, d, len);
    r2d_put_le64(e + 0x98 + 16, 0);
    expect_error(f, e, len, R2D_EFORMAT, "overlap");
    /* DumpType 2 and 4. */
    memcpy(e, d, len);
    r2d_put_le32(e + 0xf98, 2);
    expect_error(f, e, len, R2D_EUNSUPPORTED, "DumpType 2 is not supported (only 1 and 5)");
    r2d_put_le32(e + 0xf98, 4);
    expect_error(f, e, len, R2D_EUNSUPPORTED, "DumpType 4");
    /* 'PAGEDUMP' goes to the 32-bit reader (test_crashdump32.c), which reads no run table here. */
    memcpy(e, d, len);
    memcpy(e + 4, "DUMP", 4);
    r2d_put_le32(e + 0xf88, 1);
    expect_error(f, e, len, R2D_EFORMAT, "run table");
    free(e);
    free(d);
}

static uint8_t *
make_bitmap(size_t len, uint64_t first, uint64_t pages, uint64_t bits)
{
    uint8_t *d = make_header(len, 5);

    memcpy(d + 0x2000, "FDMPDUMP", 8);
    r2d_put_le64(d + 0x2020, first);
    r2d_put_le64(d + 0x2028, pages);
    r2d_put_le64(d + 0x2030, bits);
    return d;
}

static void
hostile_bitmaps(void **state)
{
    struct fixture *f = *state;
    const size_t len = 0x3000 + 2 * PAGE;
    uint8_t *d;

    /* cBits absurdly large. */
    d = make_bitmap(len, 0x3000, 2, UINT64_C(1) << 62);
    expect_error(f, d, len, R2D_EFORMAT, "bits");
    free(d);
    /* cBits within our bound but the bitmap runs past the file. */
    d = make_bitmap(len, 0x3000, 2, UINT64_C(1) << 30);
    expect_error(f, d, len, R2D_ETRUNC, "bitmap");
    free(d);
    /* cBits zero. */
    d = make_bitmap(len, 0x3000, 0, 0);
    expect_error(f, d, len, R2D_EFORMAT, "bitmap");
    free(d);
    /* FirstPage past the end of the file. */
    d = make_bitmap(len, UINT64_C(0x7fffffffffff0000), 2, 64);
    expect_error(f, d, len, R2D_ETRUNC, "FirstPage");
    free(d);
    /* FirstPage inside the bitmap. */
    d = make_bitmap(len, 0x2038, 2, 64);
    expect_error(f, d, len, R2D_EFORMAT, "FirstPage");
    free(d);
    /* More set bits than pages in the file. */
    d = make_bitmap(len, 0x3000, 2, 64);
    memset(d + 0x2038, 0xff, 8);
    expect_error(f, d, len, R2D_ETRUNC, "end of file");
    free(d);
    /* A bitmap of alternating bits, far more than the file holds. */
    d = make_bitmap(0x3000 + 2 * PAGE, 0x3000, 2, 0x7000);
    memset(d + 0x2038, 0x55, 0x7000 / 8);
    expect_error(f, d, 0x3000 + 2 * PAGE, R2D_ETRUNC, "end of file");
    free(d);
    /* Bad signature. */
    d = make_bitmap(len, 0x3000, 2, 64);
    memcpy(d + 0x2000, "XDMP", 4);
    expect_error(f, d, len, R2D_EFORMAT, "FDMP");
    free(d);
    /* Header only: no bitmap header. */
    d = make_bitmap(len, 0x3000, 2, 64);
    expect_error(f, d, 0x2010, R2D_ETRUNC, "bitmap header");
    free(d);
}

/* Random corruption of valid full and bitmap dumps: any result but a crash (ASan/UBSan watch). */
static void
random_corruption_never_crashes(void **state)
{
    struct fixture *f = *state;
    const uint64_t base[] = {0, 0x100}, count[] = {1, 4};
    const size_t len = 0x3000 + 5 * PAGE;
    uint8_t *full = make_header(len, 1), *bmp = make_bitmap(len, 0x3000, 5, 64), *e = malloc(len);
    uint8_t rnd[16];

    assert_non_null(e);
    set_runs(full, 2, base, count);
    bmp[0x2038] = 0x1f;
    for (int iter = 0; iter < 3000; iter++) {
        const uint8_t *src = iter & 1 ? bmp : full;
        struct r2d_image *img = NULL;
        int rc;

        memcpy(e, src, len);
        cdtest_random(rnd, sizeof(rnd), (uint64_t)iter * 7919 + 1);
        for (int k = 0; k < 4; k++) {
            /* Hit the fields that matter most often: the run table, DumpType, the bitmap header. */
            static const unsigned hot[] = {0x88,  0x90,   0x98,   0xa0,   0xa8,   0xb0,
                                           0xf98, 0x2020, 0x2028, 0x2030, 0x2038, 0x4};
            const unsigned at = (rnd[k] & 1) ? hot[rnd[4 + k] % 12] + (rnd[8 + k] & 7)
                                             : (unsigned)(r2d_le32(rnd + 4 * (k & 3)) % 0x2040);

            e[at] = rnd[12 + k];
        }
        rc = open_file(f, e,
                       (size_t)(0x2000 + (rnd[3] % 8) * 0x800 + (iter % 3 == 0 ? 0 : len - 0x2000 - 0x3800)),
                       "auto", &img);
        if (rc == 0) {
            uint8_t page[PAGE];

            for (size_t i = 0; i < r2d_image_run_count(img) && i < 8; i++)
                (void)r2d_image_read(f->ctx, img, r2d_image_run(img, i)->pa, page, PAGE, R2D_HOLE_ZERO);
        }
        r2d_image_free(img);
    }
    free(e);
    free(bmp);
    free(full);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(full_dump_runs_are_back_to_back_from_0x2000, setup, teardown),
        cmocka_unit_test_setup_teardown(a_43rd_run_fits_before_the_context, setup, teardown),
        cmocka_unit_test_setup_teardown(no_cpu_without_an_amd64_context, setup, teardown),
        cmocka_unit_test_setup_teardown(bitmap_dump_with_unaligned_first_page, setup, teardown),
        cmocka_unit_test_setup_teardown(hostile_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(hostile_bitmaps, setup, teardown),
        cmocka_unit_test_setup_teardown(random_corruption_never_crashes, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
