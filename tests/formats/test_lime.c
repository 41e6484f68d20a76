/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the LiME reader (formats/lime.c), plain and zlib-compressed (compress=1, which LiME writes
 * with windowBits 11 and memLevel 5: CMF 0x38). Inputs are built here from a list of ranges.
 */
#include "fmt_testutil.h"

#include <zlib.h>

#include "format.h"
#include "image.h"

#define HDR 32

struct range {
    uint64_t first, last; /* inclusive, as in the header */
};

/* Data byte at physical address pa: compressible but not trivial (runs of zeros, text-like and noisy). */
static uint8_t
pat(uint64_t pa)
{
    const uint64_t page = pa >> 12;

    if (page % 5 == 0)
        return 0;
    if (page % 5 == 1)
        return (uint8_t) "the quick brown fox jumps over the lazy dog "[pa % 44];
    pa = pa * 0x9E3779B97F4A7C15ull;
    return (uint8_t)(pa >> 56);
}

static void
put_header(struct fmt_buf *b, size_t off, uint32_t magic, uint32_t version, uint64_t first, uint64_t last)
{
    uint8_t *h = fmt_buf_at(b, off, HDR);

    r2d_put_le32(h, magic);
    r2d_put_le32(h + 4, version);
    r2d_put_le64(h + 8, first);
    r2d_put_le64(h + 16, last);
    r2d_put_le64(h + 24, 0);
}

/* A LiME file with the ranges in the order given; hdr_off receives each header's offset. */
static struct fmt_buf
build_lime(const struct range *r, size_t n, size_t *hdr_off)
{
    struct fmt_buf b = {0};
    size_t off = 0;

    for (size_t i = 0; i < n; i++) {
        const uint64_t len = r[i].last - r[i].first + 1;
        uint8_t *d;

        if (hdr_off)
            hdr_off[i] = off;
        put_header(&b, off, 0x4C694D45u, 1, r[i].first, r[i].last);
        d = fmt_buf_at(&b, off + HDR, len);
        for (uint64_t k = 0; k < len; k++)
            d[k] = pat(r[i].first + k);
        off += HDR + len;
    }
    return b;
}

/* Compress the whole stream like LiME's deflate.c does (zlib wrapper, window 2^wbits, memLevel 5). */
static struct fmt_buf
zcompress(const struct fmt_buf *in, int wbits)
{
    struct fmt_buf out = {0};
    z_stream zs = {0};

    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, wbits, 5, Z_DEFAULT_STRATEGY), Z_OK);
    fmt_buf_at(&out, 0, deflateBound(&zs, in->len));
    zs.next_in = in->p;
    zs.avail_in = (uInt)in->len;
    zs.next_out = out.p;
    zs.avail_out = (uInt)out.len;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static struct r2d_image *
open_ok(struct fmt_test *t, const char *path, const char *fmt)
{
    struct r2d_image *img = NULL;

    if (r2d_format_open(t->ctx, path, fmt, &img))
        fail_msg("open %s: %s", path, r2d_errmsg(t->ctx));
    return img;
}

/* Every byte of [pa, pa + len) as the ranges say (zeros in holes). */
static void
check_read(struct fmt_test *t, struct r2d_image *img, const struct range *r, size_t n, uint64_t pa,
           size_t len)
{
    uint8_t *buf = malloc(len ? len : 1);

    assert_non_null(buf);
    if (r2d_image_read(t->ctx, img, pa, buf, len, R2D_HOLE_ZERO))
        fail_msg("read 0x%" PRIx64 "+0x%zx: %s", pa, len, r2d_errmsg(t->ctx));
    for (size_t k = 0; k < len; k++) {
        uint8_t want = 0;

        for (size_t i = 0; i < n; i++)
            if (pa + k >= r[i].first && pa + k <= r[i].last)
                want = pat(pa + k);
        if (buf[k] != want)
            fail_msg("byte at 0x%" PRIx64 ": 0x%02x, expected 0x%02x", pa + k, buf[k], want);
    }
    free(buf);
}

static const struct range in_order[] = {{0x0, 0x9efff}, {0x100000, 0x17ffff}, {0x200000, 0x2000ff}};
static const struct range out_of_order[] = {{0x200000, 0x2000ff}, {0x0, 0x9efff}, {0x100003, 0x101ffe}};

static void
ranges_in_order_with_gaps_read_back(void **state)
{
    struct fmt_test *t = *state;
    struct fmt_buf b = build_lime(in_order, 3, NULL);
    struct r2d_image *img = open_ok(t, fmt_test_write(t, "m.lime", b.p, b.len), "auto");
    uint8_t x;

    assert_string_equal(r2d_image_format_name(img), "lime");
    assert_int_equal(r2d_image_run_count(img), 3);
    assert_int_equal(r2d_image_run(img, 1)->pa, 0x100000);
    assert_int_equal(r2d_image_run(img, 1)->len, 0x80000);
    assert_int_equal(r2d_image_run(img, 1)->off, HDR + 0x9f000 + HDR);
    check_read(t, img, in_order, 3, 0x9e000, 0x63000); /* across the gap */
    check_read(t, img, in_order, 3, 0x200000, 0x100);
    assert_int_equal(r2d_image_read(t->ctx, img, 0x9f000, &x, 1, R2D_HOLE_ERROR), R2D_EHOLE);
    r2d_image_free(img);
    free(b.p);
}

static void
ranges_out_of_order_are_sorted(void **state)
{
    struct fmt_test *t = *state;
    struct fmt_buf b = build_lime(out_of_order, 3, NULL);
    struct r2d_image *img = open_ok(t, fmt_test_write(t, "m.lime", b.p, b.len), "lime");
    const char *k, *v;

    assert_int_equal(r2d_image_run_count(img), 3);
    assert_int_equal(r2d_image_run(img, 0)->pa, 0);
    assert_int_equal(r2d_image_run(img, 1)->pa, 0x100003); /* unaligned start and end kept */
    assert_int_equal(r2d_image_run(img, 1)->len, 0x1ffc);
    check_read(t, img, out_of_order, 3, 0x100000, 0x2100);
    r2d_image_note(img, 0, &k, &v);
    assert_string_equal(k, "lime.ranges");
    assert_non_null(strstr(v, "sorted"));
    r2d_image_free(img);
    free(b.p);
}

static void
bad_magic_in_the_second_header_names_its_offset(void **state)
{
    struct fmt_test *t = *state;
    size_t off[3];
    struct fmt_buf b = build_lime(in_order, 3, off);
    struct r2d_image *img = NULL;
    char want[800];

    r2d_put_le32(b.p + off[1], 0x4C694D46u);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "m.lime", b.p, b.len), "auto", &img),
                     R2D_EFORMAT);
    assert_null(img);
    snprintf(want, sizeof(want), "%s: offset 0x%zx: LiME range header has magic 0x4c694d46", t->path, off[1]);
    assert_msg_has(t->ctx, want);
    r2d_put_le32(b.p + off[1], 0x4C694D45u);
    r2d_put_le32(b.p + off[1] + 4, 2);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "m.lime", b.p, b.len), "auto", &img),
                     R2D_EUNSUPPORTED);
    assert_msg_has(t->ctx, "version 2");
    free(b.p);
}

static void
end_below_start_is_refused(void **state)
{
    struct fmt_test *t = *state;
    size_t off[3];
    struct fmt_buf b = build_lime(in_order, 3, off);
    struct r2d_image *img = NULL;
    char want[160];

    r2d_put_le64(b.p + off[2] + 16, 0x1fffff);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "m.lime", b.p, b.len), "lime", &img),
                     R2D_EFORMAT);
    snprintf(want, sizeof(want), "offset 0x%zx: LiME range end 0x1fffff is below its start 0x200000", off[2]);
    assert_msg_has(t->ctx, want);
    /* 0 .. 2^64-1 cannot be a length */
    r2d_put_le64(b.p + off[2] + 8, 0);
    r2d_put_le64(b.p + off[2] + 16, UINT64_MAX);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "m.lime", b.p, b.len), "lime", &img),
                     R2D_EFORMAT);
    assert_msg_has(t->ctx, "whole 64-bit space");
    free(b.p);
}

static void
a_range_past_end_of_file_is_refused(void **state)
{
    struct fmt_test *t = *state;
    size_t off[3];
    struct fmt_buf b = build_lime(in_order, 3, off);
    struct r2d_image *img = NULL;
    char want[800];

    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "m.lime", b.p, b.len - 1), "lime", &img),
                     R2D_ETRUNC);
    snprintf(want, sizeof(want),
             "%s: offset 0x%zx: LiME range 0x200000-0x2000ff (0x100 bytes) runs past end of "
             "file (size 0x%zx)",
             t->path, off[2], b.len - 1);
    assert_msg_has(t->ctx, want);
    /* a huge range whose end would wrap a naive sum */
    r2d_put_le64(b.p + off[2] + 16, UINT64_MAX - 1);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "m.lime", b.p, b.len), "lime", &img),
                     R2D_ETRUNC);
    free(b.p);
}

static void
trailing_bytes_and_terminators(void **state)
{
    struct fmt_test *t = *state;
    struct fmt_buf b = build_lime(in_order, 3, NULL);
    const size_t end = b.len;
    struct r2d_image *img = NULL;

    /* shorter than a header: an error */
    fmt_buf_at(&b, end, 7);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "m.lime", b.p, b.len), "lime", &img),
                     R2D_ETRUNC);
    assert_msg_has(t->ctx, "7 trailing bytes are too short for a LiME range header");
    /* an all-zero header: the end (LeechCore writes one) */
    fmt_buf_at(&b, end, HDR);
    b.len = end + HDR;
    img = open_ok(t, fmt_test_write(t, "m.lime", b.p, b.len), "lime");
    assert_int_equal(r2d_image_run_count(img), 3);
    r2d_image_free(img);
    /* garbage of a header's size: an error naming the offset */
    memset(b.p + end, 0x41, HDR);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "m.lime", b.p, b.len), "lime", &img),
                     R2D_EFORMAT);
    assert_msg_has(t->ctx, "magic 0x41414141");
    free(b.p);
}

static void
overlapping_ranges_are_refused_naming_both_headers(void **state)
{
    struct fmt_test *t = *state;
    const struct range r[] = {{0x1000, 0x2fff}, {0x2000, 0x2fff}};
    size_t off[2];
    struct fmt_buf b = build_lime(r, 2, off);
    struct r2d_image *img = NULL;
    char want[800];

    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "m.lime", b.p, b.len), "lime", &img),
                     R2D_EFORMAT);
    snprintf(want, sizeof(want),
             "physical 0x1000-0x2fff (header at offset 0x0) and 0x2000-0x2fff (header at "
             "offset 0x%zx)",
             off[1]);
    assert_msg_has(t->ctx, want);
    free(b.p);
}

static void
empty_and_foreign_files_are_refused(void **state)
{
    struct fmt_test *t = *state;
    struct r2d_image *img = NULL;

    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "e.lime", "", 0), "lime", &img), R2D_EFORMAT);
    assert_msg_has(t->ctx, "empty file");
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "e.lime", "hello world", 11), "lime", &img),
                     R2D_EFORMAT);
    assert_msg_has(t->ctx, "no LiME magic");
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "e.lime", "EMiL", 4), "lime", &img),
                     R2D_ETRUNC);
}

/* A stream of 24 MiB of ranges so the index has several restart points. */
static const struct range big[] = {{0x0, 0x9ffff},
                                   {0x100000, 0xbfffff},
                                   {0x1000000, 0x17fffff},
                                   {0x100000000ull, 0x1007fffffull},
                                   {0x200000123ull, 0x200001122ull}};

static void
zlib_variant_reads_back_identically(void **state)
{
    struct fmt_test *t = *state;
    struct fmt_buf plain = build_lime(big, 5, NULL);
    struct fmt_buf z = zcompress(&plain, 11);
    struct r2d_image *img;
    uint8_t *all;
    uint64_t seed = 42;

    assert_int_equal(z.p[0], 0x38); /* LiME's CMF */
    img = open_ok(t, fmt_test_write(t, "m.lime.z", z.p, z.len), "auto");
    assert_string_equal(r2d_image_format_name(img), "lime");
    assert_non_null(strstr(r2d_image_probe_reason(img), "zlib"));
    assert_int_equal(r2d_image_run_count(img), 5);
    assert_non_null(r2d_image_run(img, 0)->ops);
    /* sequential: every run in 1 MiB chunks, byte-identical to the plain file's data */
    all = malloc(1 << 20);
    assert_non_null(all);
    for (size_t i = 0; i < r2d_image_run_count(img); i++) {
        const struct r2d_run *r = r2d_image_run(img, i);

        for (uint64_t done = 0; done < r->len;) {
            const size_t n = r->len - done < (1 << 20) ? (size_t)(r->len - done) : (1 << 20);

            if (r2d_image_read(t->ctx, img, r->pa + done, all, n, R2D_HOLE_ERROR))
                fail_msg("%s", r2d_errmsg(t->ctx));
            for (size_t k = 0; k < n; k++)
                if (all[k] != pat(r->pa + done + k))
                    fail_msg("sequential byte at 0x%" PRIx64, r->pa + done + k);
            done += n;
        }
    }
    /* random reads at many offsets, backwards and forwards, some across runs and holes */
    for (int i = 0; i < 400; i++) {
        const struct range *r;
        uint64_t pa;
        size_t len;

        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        r = &big[(seed >> 33) % 5];
        pa = r->first + (seed >> 13) % (r->last - r->first + 1);
        len = 1 + (size_t)((seed >> 40) % 70000);
        check_read(t, img, big, 5, pa, len);
    }
    free(all);
    r2d_image_free(img);
    free(z.p);
    free(plain.p);
}

static void
zlib_with_a_32k_window_works_too(void **state)
{
    struct fmt_test *t = *state;
    struct fmt_buf plain = build_lime(out_of_order, 3, NULL);
    struct fmt_buf z = zcompress(&plain, 15);
    struct r2d_image *img;

    assert_int_equal(z.p[0], 0x78);
    img = open_ok(t, fmt_test_write(t, "m.lime.z", z.p, z.len), "auto");
    check_read(t, img, out_of_order, 3, 0, 0x210000);
    check_read(t, img, out_of_order, 3, 0x100000, 0x3000);
    r2d_image_free(img);
    free(z.p);
    free(plain.p);
}

static void
corrupt_compressed_data_names_the_compressed_offset(void **state)
{
    struct fmt_test *t = *state;
    struct fmt_buf plain = build_lime(big, 5, NULL);
    struct fmt_buf z = zcompress(&plain, 11);
    struct r2d_image *img = NULL;
    int rc;

    for (size_t k = z.len / 2; k < z.len / 2 + 64; k++)
        z.p[k] ^= 0x5a;
    rc = r2d_format_open(t->ctx, fmt_test_write(t, "m.lime.z", z.p, z.len), "lime", &img);
    assert_true(rc == R2D_EFORMAT || rc == R2D_ETRUNC);
    assert_null(img);
    assert_msg_has(t->ctx, t->path);
    if (rc == R2D_EFORMAT)
        assert_msg_has(t->ctx, "compressed offset 0x");
    print_message("corrupt stream: %s\n", r2d_errmsg(t->ctx));
    for (size_t k = z.len / 2; k < z.len / 2 + 64; k++)
        z.p[k] ^= 0x5a;
    /* truncated stream */
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "m.lime.z", z.p, z.len - 100), "lime", &img),
                     R2D_ETRUNC);
    assert_msg_has(t->ctx, "zlib stream ends without its end marker");
    /* bytes after the stream */
    fmt_buf_at(&z, z.len, 3);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "m.lime.z", z.p, z.len), "lime", &img),
                     R2D_EFORMAT);
    assert_msg_has(t->ctx, "0x3 bytes after the end of the zlib stream");
    free(z.p);
    free(plain.p);
}

static void
zlib_variant_with_a_bad_header_inside(void **state)
{
    struct fmt_test *t = *state;
    size_t off[3];
    struct fmt_buf plain = build_lime(in_order, 3, off);
    struct fmt_buf z;
    struct r2d_image *img = NULL;
    char want[120];

    r2d_put_le32(plain.p + off[1], 0x12345678);
    z = zcompress(&plain, 11);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "m.lime.z", z.p, z.len), "auto", &img),
                     R2D_EFORMAT);
    snprintf(want, sizeof(want), "inflated offset 0x%zx: LiME range header has magic 0x12345678", off[1]);
    assert_msg_has(t->ctx, want);
    free(z.p);
    /* a range cut short by the end of the inflated data */
    r2d_put_le32(plain.p + off[1], 0x4C694D45u);
    plain.len -= 5;
    z = zcompress(&plain, 11);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "m.lime.z", z.p, z.len), "auto", &img),
                     R2D_ETRUNC);
    assert_msg_has(t->ctx, "runs past the end of the inflated data");
    free(z.p);
    free(plain.p);
}

static void
probe_answers_for_plain_compressed_and_foreign_heads(void **state)
{
    const struct r2d_format *f = r2d_format_find("lime");
    struct fmt_buf plain = build_lime(in_order, 1, NULL);
    struct fmt_buf z = zcompress(&plain, 11);
    const char *why = NULL;
    uint8_t junk[64] = {0x78, 0x9c}; /* a zlib header, but not LiME inside */

    (void)state;
    assert_int_equal(f->probe(plain.p, 64, plain.len, &why), R2D_PROBE_SURE);
    assert_int_equal(f->probe(plain.p, 4, plain.len, &why), R2D_PROBE_MAGIC);
    assert_int_equal(f->probe(z.p, z.len < 4096 ? z.len : 4096, z.len, &why), R2D_PROBE_SURE);
    assert_int_equal(f->probe(z.p, 2, z.len, &why), R2D_PROBE_NO);
    assert_int_equal(f->probe(junk, sizeof(junk), sizeof(junk), &why), R2D_PROBE_NO);
    free(z.p);
    z = (struct fmt_buf){0};
    {
        struct fmt_buf other = {0};

        memcpy(fmt_buf_at(&other, 0, 12), "not lime....", 12);
        z = zcompress(&other, 15);
        assert_int_equal(f->probe(z.p, z.len, z.len, &why), R2D_PROBE_NO);
        free(other.p);
    }
    free(z.p);
    free(plain.p);
}

/* Flipped bits anywhere in a small plain or compressed file: an image or an error, never a crash. */
static void
random_corruption_never_crashes(void **state)
{
    struct fmt_test *t = *state;
    const struct range r[] = {{0x1000, 0x1fff}, {0x0, 0x7ff}, {0x3000, 0x3fff}};
    struct fmt_buf plain = build_lime(r, 3, NULL);
    struct fmt_buf z = zcompress(&plain, 11);
    uint8_t *copy = malloc(plain.len);
    uint64_t seed = 99;

    assert_non_null(copy);
    for (int i = 0; i < 2000; i++) {
        const struct fmt_buf *src = i % 2 ? &z : &plain;
        struct r2d_image *img = NULL;
        uint8_t buf[0x100];

        memcpy(copy, src->p, src->len);
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        copy[(seed >> 33) % (i % 2 ? src->len : 200)] ^= (uint8_t)(1u << ((seed >> 20) % 8));
        if (r2d_format_open(t->ctx, fmt_test_write(t, "f.lime", copy, src->len), "lime", &img) == 0) {
            (void)r2d_image_read(t->ctx, img, 0x1f80, buf, sizeof(buf), R2D_HOLE_ZERO);
            r2d_image_free(img);
        }
    }
    free(copy);
    free(z.p);
    free(plain.p);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fmt_test_setup, fmt_test_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(ranges_in_order_with_gaps_read_back),
        T(ranges_out_of_order_are_sorted),
        T(bad_magic_in_the_second_header_names_its_offset),
        T(end_below_start_is_refused),
        T(a_range_past_end_of_file_is_refused),
        T(trailing_bytes_and_terminators),
        T(overlapping_ranges_are_refused_naming_both_headers),
        T(empty_and_foreign_files_are_refused),
        T(zlib_variant_reads_back_identically),
        T(zlib_with_a_32k_window_works_too),
        T(corrupt_compressed_data_names_the_compressed_offset),
        T(zlib_variant_with_a_bad_header_inside),
        T(probe_answers_for_plain_compressed_and_foreign_heads),
        T(random_corruption_never_crashes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
