/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the core image (src/core/image.c) and of probing (formats/registry.c): physical reads,
 * holes, overlaps, coverage, probe ranking. Files are opened with fake formats defined here:
 *   "runs"  file "RUNS", u32 count, {u64 pa, u64 len, u64 file_off} x count  (probe 100)
 *   "srcs"  the same table as decoding-source runs; byte at source offset o is (o * 7 + 3) & 0xff
 *   "weak"  claims "RUNS" files with 50; "tie1"/"tie2" both claim "TIE!" with 100; "any" claims all with 1
 */
#include "fmt_testutil.h"

#include "format.h"

#define RUNS_HDR 8
#define RUNS_ENT 24

static int
fake_probe_runs(const uint8_t *h, size_t len, uint64_t size, const char **why)
{
    *why = "RUNS magic";
    return len >= 4 && memcmp(h, "RUNS", 4) == 0 ? R2D_PROBE_SURE : R2D_PROBE_NO;
}

static int
fake_probe_srcs(const uint8_t *h, size_t len, uint64_t size, const char **why)
{
    *why = "SRCS magic";
    return len >= 4 && memcmp(h, "SRCS", 4) == 0 ? R2D_PROBE_SURE : R2D_PROBE_NO;
}

static int
fake_probe_weak(const uint8_t *h, size_t len, uint64_t size, const char **why)
{
    *why = "weak guess";
    return len >= 4 && memcmp(h, "RUNS", 4) == 0 ? R2D_PROBE_MAGIC : R2D_PROBE_NO;
}

static int
fake_probe_tie(const uint8_t *h, size_t len, uint64_t size, const char **why)
{
    *why = "TIE magic";
    return len >= 4 && memcmp(h, "TIE!", 4) == 0 ? R2D_PROBE_SURE : R2D_PROBE_NO;
}

static int
fake_probe_any(const uint8_t *h, size_t len, uint64_t size, const char **why)
{
    *why = "fallback";
    return R2D_PROBE_FALLBACK;
}

static int
fake_open_table(struct r2d_ctx *ctx, struct r2d_image *img, int source)
{
    uint8_t hdr[RUNS_HDR], ent[RUNS_ENT];
    int rc = r2d_image_pread(ctx, img, 0, hdr, sizeof(hdr), "table header");

    if (rc)
        return rc;
    for (uint32_t i = 0; i < r2d_le32(hdr + 4); i++) {
        rc = r2d_image_pread(ctx, img, RUNS_HDR + (uint64_t)i * RUNS_ENT, ent, sizeof(ent), "table entry");
        if (!rc)
            rc =
                source
                    ? r2d_image_add_source_run(ctx, img, r2d_le64(ent), r2d_le64(ent + 8), r2d_le64(ent + 16))
                    : r2d_image_add_file_run(ctx, img, r2d_le64(ent), r2d_le64(ent + 8), r2d_le64(ent + 16));
        if (rc)
            return rc;
    }
    return 0;
}

static int
fake_open_runs(struct r2d_ctx *ctx, struct r2d_image *img)
{
    return fake_open_table(ctx, img, 0);
}

static int
fake_src_read(struct r2d_ctx *ctx, void *src, uint64_t off, void *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)buf)[i] = (uint8_t)((off + i) * 7 + 3);
    (*(int *)src)++;
    return 0;
}

static const struct r2d_source_ops fake_src_ops = {.name = "fake", .read = fake_src_read, .free = free};

static int
fake_open_srcs(struct r2d_ctx *ctx, struct r2d_image *img)
{
    int *calls = calloc(1, sizeof(*calls));
    int rc;

    if (!calls)
        return R2D_ENOMEM;
    rc = r2d_image_set_source(ctx, img, &fake_src_ops, calls);
    return rc ? rc : fake_open_table(ctx, img, 1);
}

static int
fake_open_nothing(struct r2d_ctx *ctx, struct r2d_image *img)
{
    return 0;
}

static const struct r2d_format fake_runs = {"runs", "test", 16, fake_probe_runs, fake_open_runs};
static const struct r2d_format fake_srcs = {"srcs", "test", 16, fake_probe_srcs, fake_open_srcs};
static const struct r2d_format fake_weak = {"weak", "test", 16, fake_probe_weak, fake_open_nothing};
static const struct r2d_format fake_tie1 = {"tie1", "test", 16, fake_probe_tie, fake_open_nothing};
static const struct r2d_format fake_tie2 = {"tie2", "test", 16, fake_probe_tie, fake_open_nothing};
static const struct r2d_format fake_any = {"any", "test", 0, fake_probe_any, fake_open_nothing};

/* The formats this test opens files with, passed to the registry's probing in place of the real list. */
static const struct r2d_format *const fake_formats[] = {&fake_weak, &fake_runs, &fake_srcs, &fake_tie1,
                                                        &fake_tie2, &fake_any,  NULL};

static int
fake_open(struct r2d_ctx *ctx, const char *path, const char *format, struct r2d_image **out)
{
    struct r2d_bytesrc *input;
    const int rc = r2d_bytesrc_open_file(ctx, path, &input);

    *out = NULL;
    return rc ? rc : r2d_format_open_from(ctx, fake_formats, input, format, out);
}

/* Data byte stored in the file for physical address pa. */
static uint8_t
pat(uint64_t pa)
{
    return (uint8_t)(pa ^ (pa >> 8) ^ 0x5a);
}

struct run_spec {
    uint64_t pa, len;
};

/* Build a RUNS/SRCS file with the runs in the given order; data follows the table, one byte of padding
 * between runs so file offsets are unaligned. */
static const char *
write_runs(struct fmt_test *t, const char *magic, const struct run_spec *runs, size_t n)
{
    struct fmt_buf b = {0};
    uint64_t off = RUNS_HDR + n * RUNS_ENT + 1;
    const char *path;

    memcpy(fmt_buf_at(&b, 0, 4), magic, 4);
    r2d_put_le32(fmt_buf_at(&b, 4, 4), (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = fmt_buf_at(&b, RUNS_HDR + i * RUNS_ENT, RUNS_ENT);
        uint8_t *d;

        r2d_put_le64(e, runs[i].pa);
        r2d_put_le64(e + 8, runs[i].len);
        r2d_put_le64(e + 16, off);
        d = fmt_buf_at(&b, off, runs[i].len + 1);
        for (uint64_t k = 0; k < runs[i].len; k++)
            d[k] = pat(runs[i].pa + k);
        off += runs[i].len + 1;
    }
    path = fmt_test_write(t, "runs.bin", b.p, b.len);
    free(b.p);
    return path;
}

static const struct run_spec two_apart[] = {{0x3000, 0x1000},
                                            {0x1000, 0x1000}}; /* out of order, hole between */

static struct r2d_image *
open_ok(struct fmt_test *t, const char *path, const char *fmt)
{
    struct r2d_image *img = NULL;
    const int rc = fake_open(t->ctx, path, fmt, &img);

    if (rc)
        fail_msg("open %s: %s", path, r2d_errmsg(t->ctx));
    return img;
}

static void
reads_cross_adjacent_run_boundaries(void **state)
{
    struct fmt_test *t = *state;
    const struct run_spec runs[] = {{0x2000, 0x1000}, {0x1000, 0x1000}, {0x3000, 0x5}};
    struct r2d_image *img = open_ok(t, write_runs(t, "RUNS", runs, 3), "auto");
    uint8_t buf[0x2005];

    assert_int_equal(r2d_image_run_count(img), 3);
    assert_int_equal(r2d_image_run(img, 0)->pa, 0x1000);
    assert_int_equal(r2d_image_run(img, 2)->pa, 0x3000);
    assert_int_equal(r2d_image_total_bytes(img), 0x2005);
    assert_int_equal(r2d_image_read(t->ctx, img, 0x1000, buf, sizeof(buf), R2D_HOLE_ERROR), 0);
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], pat(0x1000 + i));
    assert_int_equal(r2d_image_read(t->ctx, img, 0x1ffd, buf, 7, R2D_HOLE_ERROR), 0);
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(buf[i], pat(0x1ffd + i));
    r2d_image_free(img);
}

static void
read_into_a_hole_fails_naming_the_address(void **state)
{
    struct fmt_test *t = *state;
    struct r2d_image *img = open_ok(t, write_runs(t, "RUNS", two_apart, 2), "runs");
    uint8_t buf[0x200];

    assert_int_equal(r2d_image_read(t->ctx, img, 0x1f00, buf, sizeof(buf), R2D_HOLE_ERROR), R2D_EHOLE);
    assert_msg_has(t->ctx, "physical address 0x2000 is not in the image");
    assert_int_equal(r2d_image_read(t->ctx, img, 0x0, buf, 1, R2D_HOLE_ERROR), R2D_EHOLE);
    assert_msg_has(t->ctx, "0x0 is not");
    assert_int_equal(r2d_image_read(t->ctx, img, 0x4000, buf, 1, R2D_HOLE_ERROR), R2D_EHOLE);
    assert_msg_has(t->ctx, "0x4000");
    r2d_image_free(img);
}

static void
read_into_a_hole_gives_zeros_when_asked(void **state)
{
    struct fmt_test *t = *state;
    struct r2d_image *img = open_ok(t, write_runs(t, "RUNS", two_apart, 2), "runs");
    uint8_t buf[0x3200];

    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(r2d_image_read(t->ctx, img, 0x0f00, buf, sizeof(buf), R2D_HOLE_ZERO), 0);
    for (uint64_t i = 0; i < sizeof(buf); i++) {
        const uint64_t pa = 0x0f00 + i;
        const int in = (pa >= 0x1000 && pa < 0x2000) || (pa >= 0x3000 && pa < 0x4000);

        assert_int_equal(buf[i], in ? pat(pa) : 0);
    }
    r2d_image_free(img);
}

static void
read_starting_in_a_hole_and_ending_in_a_run(void **state)
{
    struct fmt_test *t = *state;
    struct r2d_image *img = open_ok(t, write_runs(t, "RUNS", two_apart, 2), "runs");
    uint8_t buf[0x200];

    assert_int_equal(r2d_image_read(t->ctx, img, 0x2f00, buf, sizeof(buf), R2D_HOLE_ERROR), R2D_EHOLE);
    assert_msg_has(t->ctx, "0x2f00");
    assert_int_equal(r2d_image_read(t->ctx, img, 0x2f00, buf, sizeof(buf), R2D_HOLE_ZERO), 0);
    for (size_t i = 0; i < 0x100; i++)
        assert_int_equal(buf[i], 0);
    for (size_t i = 0x100; i < sizeof(buf); i++)
        assert_int_equal(buf[i], pat(0x2f00 + i));
    /* below the first run too */
    assert_int_equal(r2d_image_read(t->ctx, img, 0xf80, buf, 0x100, R2D_HOLE_ZERO), 0);
    assert_int_equal(buf[0x7f], 0);
    assert_int_equal(buf[0x80], pat(0x1000));
    r2d_image_free(img);
}

static void
overlapping_runs_are_rejected(void **state)
{
    struct fmt_test *t = *state;
    const struct run_spec runs[] = {{0x3000, 0x1000}, {0x1000, 0x2001}};
    struct r2d_image *img = NULL;

    assert_int_equal(fake_open(t->ctx, write_runs(t, "RUNS", runs, 2), "runs", &img), R2D_EFORMAT);
    assert_null(img);
    assert_msg_has(t->ctx, "overlap");
    assert_msg_has(t->ctx, "0x1000-0x3000 and 0x3000-0x3fff");
}

static void
covers_answers_for_whole_ranges_only(void **state)
{
    struct fmt_test *t = *state;
    const struct run_spec runs[] = {{0x1000, 0x1000}, {0x2000, 0x800}, {0x3000, 0x1000}};
    struct r2d_image *img = open_ok(t, write_runs(t, "RUNS", runs, 3), "runs");

    assert_true(r2d_image_covers(img, 0x1000, 0x1000));
    assert_true(r2d_image_covers(img, 0x1800, 0x1000)); /* across two adjacent runs */
    assert_true(r2d_image_covers(img, 0x27ff, 1));
    assert_false(r2d_image_covers(img, 0x27ff, 2)); /* into the hole */
    assert_false(r2d_image_covers(img, 0x1000, 0x3000));
    assert_false(r2d_image_covers(img, 0xfff, 1));
    assert_false(r2d_image_covers(img, 0x4000, 1));
    assert_true(r2d_image_covers(img, 0x3fff, 1));
    assert_false(r2d_image_covers(img, 0x0, 0x10));
    r2d_image_free(img);
}

static void
file_runs_past_the_end_of_file_are_refused(void **state)
{
    struct fmt_test *t = *state;
    struct fmt_buf b = {0};
    struct r2d_image *img = NULL;

    memcpy(fmt_buf_at(&b, 0, 4), "RUNS", 4);
    r2d_put_le32(fmt_buf_at(&b, 4, 4), 1);
    r2d_put_le64(fmt_buf_at(&b, 8, 8), 0x1000);
    r2d_put_le64(fmt_buf_at(&b, 16, 8), 0x100);
    r2d_put_le64(fmt_buf_at(&b, 24, 8), 0x20);
    fmt_buf_at(&b, 32, 0x80);
    assert_int_equal(fake_open(t->ctx, fmt_test_write(t, "short.bin", b.p, b.len), "runs", &img),
                     R2D_ETRUNC);
    assert_msg_has(t->ctx, "offset 0x20: data of 0x100 bytes for physical 0x1000 runs past end of file");
    free(b.p);
}

static void
source_runs_read_through_the_source(void **state)
{
    struct fmt_test *t = *state;
    const struct run_spec runs[] = {{0x10000, 0x100}, {0x20000, 0x80}};
    struct r2d_image *img = open_ok(t, write_runs(t, "SRCS", runs, 2), "auto");
    const struct r2d_run *r = r2d_image_run(img, 1);
    uint8_t buf[0x10];

    assert_string_equal(r2d_image_format_name(img), "srcs");
    assert_non_null(r->ops);
    assert_int_equal(r2d_image_read(t->ctx, img, 0x20004, buf, sizeof(buf), R2D_HOLE_ERROR), 0);
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], (uint8_t)((r->src_off + 4 + i) * 7 + 3));
    r2d_image_free(img);
}

static void
probing_picks_the_most_confident_format_and_names_it(void **state)
{
    struct fmt_test *t = *state;
    struct r2d_image *img = open_ok(t, write_runs(t, "RUNS", two_apart, 2), "auto");

    assert_string_equal(r2d_image_format_name(img), "runs"); /* "weak" said 50, listed first */
    assert_non_null(strstr(r2d_image_probe_reason(img), "runs (confidence 100, RUNS magic)"));
    r2d_image_free(img);

    img = open_ok(t, fmt_test_write(t, "other.bin", "whatever", 8), "auto");
    assert_string_equal(r2d_image_format_name(img), "any");
    r2d_image_free(img);

    img = open_ok(t, write_runs(t, "RUNS", two_apart, 2), "weak");
    assert_non_null(strstr(r2d_image_probe_reason(img), "--input-format weak"));
    r2d_image_free(img);
}

static void
a_tie_at_the_top_is_an_error_naming_both(void **state)
{
    struct fmt_test *t = *state;
    struct r2d_image *img = NULL;

    assert_int_equal(fake_open(t->ctx, fmt_test_write(t, "tie.bin", "TIE!....", 8), "auto", &img),
                     R2D_EFORMAT);
    assert_null(img);
    assert_msg_has(t->ctx, "tie1");
    assert_msg_has(t->ctx, "tie2");
    assert_msg_has(t->ctx, "--input-format");
}

static void
an_unknown_input_format_name_is_refused(void **state)
{
    struct fmt_test *t = *state;
    struct r2d_image *img = NULL;

    assert_int_equal(fake_open(t->ctx, fmt_test_write(t, "x.bin", "x", 1), "nosuch", &img), R2D_EINVAL);
    assert_null(img);
    assert_msg_has(t->ctx, "unknown input format 'nosuch'");
}

static void
a_missing_file_is_an_io_error_naming_it(void **state)
{
    struct fmt_test *t = *state;
    struct r2d_image *img = NULL;
    char path[600];

    snprintf(path, sizeof(path), "%s/does-not-exist", t->dir);
    assert_int_equal(fake_open(t->ctx, path, "auto", &img), R2D_EIO);
    assert_msg_has(t->ctx, "does-not-exist");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reads_cross_adjacent_run_boundaries, fmt_test_setup,
                                        fmt_test_teardown),
        cmocka_unit_test_setup_teardown(read_into_a_hole_fails_naming_the_address, fmt_test_setup,
                                        fmt_test_teardown),
        cmocka_unit_test_setup_teardown(read_into_a_hole_gives_zeros_when_asked, fmt_test_setup,
                                        fmt_test_teardown),
        cmocka_unit_test_setup_teardown(read_starting_in_a_hole_and_ending_in_a_run, fmt_test_setup,
                                        fmt_test_teardown),
        cmocka_unit_test_setup_teardown(overlapping_runs_are_rejected, fmt_test_setup, fmt_test_teardown),
        cmocka_unit_test_setup_teardown(covers_answers_for_whole_ranges_only, fmt_test_setup,
                                        fmt_test_teardown),
        cmocka_unit_test_setup_teardown(file_runs_past_the_end_of_file_are_refused, fmt_test_setup,
                                        fmt_test_teardown),
        cmocka_unit_test_setup_teardown(source_runs_read_through_the_source, fmt_test_setup,
                                        fmt_test_teardown),
        cmocka_unit_test_setup_teardown(probing_picks_the_most_confident_format_and_names_it, fmt_test_setup,
                                        fmt_test_teardown),
        cmocka_unit_test_setup_teardown(a_tie_at_the_top_is_an_error_naming_both, fmt_test_setup,
                                        fmt_test_teardown),
        cmocka_unit_test_setup_teardown(an_unknown_input_format_name_is_refused, fmt_test_setup,
                                        fmt_test_teardown),
        cmocka_unit_test_setup_teardown(a_missing_file_is_an_io_error_naming_it, fmt_test_setup,
                                        fmt_test_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
