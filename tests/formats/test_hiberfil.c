/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the hibernation file reader (formats/hiberfil*.c): probe, header and layout detection (read
 * from the file, never asked), the Windows 8+ compression sets and the Windows 7 memory-range tables with
 * their Xpress blocks, the processor state page, and hostile tables. Inputs are built here from
 * docs/formats/hibernation.md, independently of the reader.
 */
#include "cdtest.h"
#include "fmt_testutil.h"

#include "format.h"
#include "image.h"

#define PAGE 4096u

static uint8_t
pat(uint64_t pa)
{
    return (uint8_t)(pa * 13 ^ (pa >> 12) ^ 0x5a);
}

static void
fill_page(uint8_t *p, uint64_t pfn)
{
    for (unsigned i = 0; i < PAGE; i++)
        p[i] = pat(pfn * PAGE + i);
}

/* PO_MEMORY_IMAGE page: signature, LengthSelf, PageSize. */
static void
put_header(struct fmt_buf *b, const char *sig, uint32_t length)
{
    uint8_t *h = fmt_buf_at(b, 0, PAGE);

    memcpy(h, sig, 4);
    r2d_put_le32(h + 0x0C, length);
    r2d_put_le32(h + 0x18, PAGE);
}

/* A Windows 8+ compression set of stored pages at off: descriptors {pfn, n}; returns the next offset. */
static size_t
put_set8(struct fmt_buf *b, size_t off, const uint64_t (*descs)[2], unsigned nd)
{
    uint32_t pages = 0;
    size_t p;

    for (unsigned i = 0; i < nd; i++)
        pages += (uint32_t)descs[i][1];
    r2d_put_le32(fmt_buf_at(b, off, 4), nd | (pages * PAGE) << 8);
    for (unsigned i = 0; i < nd; i++)
        r2d_put_le64(fmt_buf_at(b, off + 4 + 8 * i, 8), descs[i][0] << 4 | (descs[i][1] - 1));
    p = off + 4 + 8 * nd;
    for (unsigned i = 0; i < nd; i++)
        for (uint64_t k = 0; k < descs[i][1]; k++, p += PAGE)
            fill_page(fmt_buf_at(b, p, PAGE), descs[i][0] + k);
    return p;
}

/*
 * A Windows 10 (LengthSelf 0x3e0) file: boot set at page 3 = pfn 0x10-0x11 and 0x40 (one set, two
 * descriptors); kernel set at page 8 = pfn 0x100-0x10f, then 0x110-0x113.
 */
static void
build_win10(struct fmt_buf *b)
{
    static const uint64_t boot[][2] = {{0x10, 2}, {0x40, 1}};
    static const uint64_t k1[][2] = {{0x100, 16}};
    static const uint64_t k2[][2] = {{0x110, 4}};
    uint8_t *h;
    size_t off;

    put_header(b, "HIBR", 0x3E0);
    h = b->p;
    r2d_put_le64(h + 0x58, 3);     /* NumPagesForLoader */
    r2d_put_le64(h + 0x68, 3);     /* FirstBootRestorePage */
    r2d_put_le64(h + 0x70, 8);     /* FirstKernelRestorePage */
    r2d_put_le64(h + 0x230, 20);   /* KernelPagesProcessed */
    put_set8(b, 3 * PAGE, boot, 2);
    off = put_set8(b, 8 * PAGE, k1, 1);
    put_set8(b, off, k2, 1);
}

static struct r2d_image *
open_buf(struct fmt_test *t, struct fmt_buf *b, const char *fmt)
{
    struct r2d_image *img = NULL;

    if (r2d_format_open(t->ctx, fmt_test_write(t, "hiberfil.sys", b->p, b->len), fmt, &img))
        fail_msg("open failed: %s", r2d_errmsg(t->ctx));
    return img;
}

static void
check_pages(struct fmt_test *t, struct r2d_image *img, uint64_t pfn, uint64_t n)
{
    uint8_t *got = malloc(n * PAGE), *want = malloc(n * PAGE);

    assert_non_null(got);
    assert_non_null(want);
    for (uint64_t k = 0; k < n; k++)
        fill_page(want + k * PAGE, pfn + k);
    if (r2d_image_read(t->ctx, img, pfn * PAGE, got, n * PAGE, R2D_HOLE_ERROR))
        fail_msg("read 0x%" PRIx64 ": %s", pfn, r2d_errmsg(t->ctx));
    assert_memory_equal(got, want, n * PAGE);
    /* a read that starts and ends inside a page goes through the cache */
    assert_int_equal(r2d_image_read(t->ctx, img, pfn * PAGE + 100, got, 300, R2D_HOLE_ERROR), 0);
    assert_memory_equal(got, want + 100, 300);
    free(got);
    free(want);
}

static void
test_probe(void **state)
{
    const struct r2d_format *f = r2d_format_find("hiberfil");
    uint8_t head[0x20] = {0};
    const char *why = NULL;

    (void)state;
    assert_non_null(f);
    memcpy(head, "wake", 4);
    r2d_put_le32(head + 0x0C, 0x448);
    r2d_put_le32(head + 0x18, PAGE);
    assert_int_equal(f->probe(head, sizeof(head), 1 << 20, &why), R2D_PROBE_SURE);
    r2d_put_le32(head + 0x0C, 0x777);
    assert_int_equal(f->probe(head, sizeof(head), 1 << 20, &why), R2D_PROBE_MAGIC);
    memcpy(head, "RSTR", 4);
    assert_int_equal(f->probe(head, sizeof(head), 1 << 20, &why), R2D_PROBE_MAGIC);
    memcpy(head, "HIBX", 4);
    assert_int_equal(f->probe(head, sizeof(head), 1 << 20, &why), R2D_PROBE_NO);
}

static void
test_win10_stored(void **state)
{
    struct fmt_test *t = *state;
    struct fmt_buf b = {0};
    struct r2d_image *img;

    build_win10(&b);
    img = open_buf(t, &b, "auto");
    assert_string_equal(r2d_image_format_name(img), "hiberfil");
    assert_int_equal(r2d_image_total_bytes(img), 23 * PAGE);
    check_pages(t, img, 0x10, 2);
    check_pages(t, img, 0x40, 1);
    check_pages(t, img, 0x100, 20);
    assert_non_null(strstr(cdtest_note(img, "hiber.layout"), "0x3e0"));
    assert_non_null(strstr(cdtest_note(img, "hiber.windows"), "19045"));
    assert_string_equal(cdtest_note(img, "hiber.pages"), "23 in 3 page sets");
    assert_int_equal(r2d_image_cpu_count(img), 0);
    assert_non_null(strstr(cdtest_note(img, "hiber.cpu_state"), "none"));
    r2d_image_free(img);
    free(b.p);
}

/* [MS-XCA] plain LZ77 by hand: literal 'A', then one match (distance 1) of 4095 bytes: 11 bytes for a page. */
static const uint8_t lz77_page_of_a[] = {0x00, 0x00, 0x00, 0x40, 'A', 0x07, 0x00, 0x0F, 0xFF, 0xFC, 0x0F};

static void
test_win10_lz77(void **state)
{
    struct fmt_test *t = *state;
    struct fmt_buf b = {0};
    struct r2d_image *img;
    uint8_t got[PAGE], want[PAGE];

    put_header(&b, "HIBR", 0x448);
    r2d_put_le64(b.p + 0x58, 1);
    r2d_put_le64(b.p + 0x68, 3);
    r2d_put_le64(b.p + 0x70, 3);
    r2d_put_le32(fmt_buf_at(&b, 3 * PAGE, 4), 1u | (uint32_t)sizeof(lz77_page_of_a) << 8);
    r2d_put_le64(fmt_buf_at(&b, 3 * PAGE + 4, 8), 0x77u << 4);
    memcpy(fmt_buf_at(&b, 3 * PAGE + 12, sizeof(lz77_page_of_a)), lz77_page_of_a, sizeof(lz77_page_of_a));
    fmt_buf_at(&b, 4 * PAGE, PAGE); /* the kernel set page inside the file, with no pages */
    img = open_buf(t, &b, "hiberfil");
    assert_int_equal(r2d_image_read(t->ctx, img, 0x77 * PAGE, got, PAGE, R2D_HOLE_ERROR), 0);
    memset(want, 'A', sizeof(want));
    assert_memory_equal(got, want, PAGE);
    assert_non_null(strstr(cdtest_note(img, "hiber.compression"), "Xpress LZ77 1 sets"));
    r2d_image_free(img);
    /* the same set one byte short: found when the page is read */
    r2d_put_le32(b.p + 3 * PAGE, 1u | (uint32_t)(sizeof(lz77_page_of_a) - 1) << 8);
    img = open_buf(t, &b, "hiberfil");
    assert_int_not_equal(r2d_image_read(t->ctx, img, 0x77 * PAGE, got, PAGE, R2D_HOLE_ERROR), 0);
    assert_msg_has(t->ctx, "does not decode");
    r2d_image_free(img);
    free(b.p);
}

/* Windows 7: table at page 3 with ranges 0x20-0x32 and 0x80-0x81, 19 pages in two stored Xpress blocks. */
static void
build_win7(struct fmt_buf *b)
{
    static const uint64_t ranges[][2] = {{0x20, 0x32}, {0x80, 0x81}};
    uint64_t pfns[19];
    size_t off = 4 * PAGE;
    unsigned n = 0;

    put_header(b, "hibr", 0x128);
    r2d_put_le64(b->p + 0x60, 3);
    r2d_put_le64(fmt_buf_at(b, 3 * PAGE, 8), 0);
    r2d_put_le32(fmt_buf_at(b, 3 * PAGE + 8, 4), 2);
    for (unsigned i = 0; i < 2; i++) {
        r2d_put_le64(fmt_buf_at(b, 3 * PAGE + 16 + 16 * i, 8), ranges[i][0]);
        r2d_put_le64(fmt_buf_at(b, 3 * PAGE + 24 + 16 * i, 8), ranges[i][1]);
        for (uint64_t p = ranges[i][0]; p < ranges[i][1]; p++)
            pfns[n++] = p;
    }
    for (unsigned first = 0; first < n; first += 16) {
        const unsigned cnt = n - first < 16 ? n - first : 16;

        memcpy(fmt_buf_at(b, off, 8), "\x81\x81xpress", 8);
        r2d_put_le32(fmt_buf_at(b, off + 8, 4), (cnt - 1) | (cnt * PAGE - 1) << 10);
        off += 32;
        for (unsigned k = 0; k < cnt; k++, off += PAGE)
            fill_page(fmt_buf_at(b, off, PAGE), pfns[first + k]);
    }
}

static void
test_win7(void **state)
{
    struct fmt_test *t = *state;
    struct fmt_buf b = {0};
    struct r2d_image *img;

    build_win7(&b);
    img = open_buf(t, &b, "auto");
    assert_int_equal(r2d_image_total_bytes(img), 19 * PAGE);
    check_pages(t, img, 0x20, 18);
    check_pages(t, img, 0x80, 1);
    assert_non_null(strstr(cdtest_note(img, "hiber.layout"), "Windows 7"));
    assert_non_null(strstr(cdtest_note(img, "hiber.signature"), "hibr"));
    r2d_image_free(img);
    free(b.p);
}

static void
test_cpu_state(void **state)
{
    struct fmt_test *t = *state;
    struct fmt_buf b = {0};
    struct r2d_image *img;
    const struct r2d_cpu_state *c;
    uint8_t *p;

    build_win10(&b);
    p = b.p + 2 * PAGE;
    r2d_put_le64(p + 0x10, 0x1ab000);                    /* CR3 */
    r2d_put_le64(p + 0x58, 0xfffff80000001000ull);      /* GDTR base */
    r2d_put_le64(p + 0xA8, 0xfffff80000002000ull);      /* MsrGsBase */
    r2d_put_le32(p + 0xF0 + 0x30, 0x10001F);             /* ContextFlags */
    r2d_put_le16(p + 0xF0 + 0x38, 0x10);                 /* SegCs */
    r2d_put_le64(p + 0xF0 + 0x98, 0xfffff80000003000ull); /* Rsp */
    r2d_put_le64(p + 0xF0 + 0xF8, 0xfffff80000004000ull); /* Rip */
    img = open_buf(t, &b, "hiberfil");
    assert_int_equal(r2d_image_cpu_count(img), 1);
    c = r2d_image_cpu(img, 0);
    assert_int_equal(c->cr3, 0x1ab000);
    assert_int_equal(c->gdt.base, 0xfffff80000001000ull);
    assert_int_equal(c->gs.base, 0xfffff80000002000ull);
    assert_int_equal(c->cs.selector, 0x10);
    assert_int_equal(c->rsp, 0xfffff80000003000ull);
    assert_int_equal(c->rip, 0xfffff80000004000ull);
    assert_true(c->flags & R2D_CPU_LONG_MODE);
    r2d_image_free(img);
    free(b.p);
}

/* Ten sets of sixteen stored pages from frame 0x1000; with garbled, set 8 is 4 KiB of 0xff as Xpress LZ77. */
static void
build_ten_sets(struct fmt_buf *b, int garbled)
{
    size_t off = 3 * PAGE;

    put_header(b, "HIBR", 0x3E0);
    r2d_put_le64(b->p + 0x68, 3);
    r2d_put_le64(b->p + 0x70, 3);
    r2d_put_le64(b->p + 0x230, 160);
    for (unsigned i = 0; i < 10; i++) {
        const uint64_t d[][2] = {{0x1000 + 16 * i, 16}};

        if (garbled && i == 8) {
            r2d_put_le32(fmt_buf_at(b, off, 4), 1u | 0x1000u << 8);
            r2d_put_le64(fmt_buf_at(b, off + 4, 8), d[0][0] << 4 | 15);
            memset(fmt_buf_at(b, off + 12, 0x1000), 0xff, 0x1000);
            off += 12 + 0x1000;
        } else {
            off = put_set8(b, off, d, 1);
        }
    }
}

/*
 * The ten sets read in one request: the whole sets are shared between the caller and the worker thread; a
 * set in the worker's half that does not decode (every token a match before the start) fails the read with
 * its own message.
 */
static void
test_parallel_read(void **state)
{
    struct fmt_test *t = *state;
    struct fmt_buf b = {0}, g = {0};
    struct r2d_image *img;
    uint8_t *got = malloc(160 * PAGE);

    assert_non_null(got);
    build_ten_sets(&b, 0);
    img = open_buf(t, &b, "hiberfil");
    check_pages(t, img, 0x1000, 160);
    r2d_image_free(img);
    build_ten_sets(&g, 1);
    img = open_buf(t, &g, "hiberfil");
    assert_int_not_equal(r2d_image_read(t->ctx, img, 0x1000 * PAGE, got, 160 * PAGE, R2D_HOLE_ERROR), 0);
    assert_msg_has(t->ctx, "does not decode");
    assert_msg_has(t->ctx, "hiberfil.sys");
    r2d_image_free(img);
    free(got);
    free(b.p);
    free(g.p);
}

static void
expect_fail(struct fmt_test *t, struct fmt_buf *b, const char *needle)
{
    struct r2d_image *img = NULL;

    assert_int_not_equal(r2d_format_open(t->ctx, fmt_test_write(t, "bad.sys", b->p, b->len), "hiberfil", &img), 0);
    assert_null(img);
    assert_msg_has(t->ctx, needle);
    assert_msg_has(t->ctx, "bad.sys");
}

static void
test_header_refusals(void **state)
{
    struct fmt_test *t = *state;
    struct fmt_buf b = {0};

    fmt_buf_at(&b, 0, 3 * PAGE);
    expect_fail(t, &b, "holds no hibernation image");
    put_header(&b, "HIBR", 0x1234);
    expect_fail(t, &b, "length 0x1234");
    put_header(&b, "HIBR", 0x340);
    expect_fail(t, &b, "32-bit");
    put_header(&b, "HIBR", 0x3E0);
    r2d_put_le32(b.p + 0x18, 0x2000);
    expect_fail(t, &b, "page size 0x2000");
    memcpy(b.p, "ABCD", 4);
    expect_fail(t, &b, "signature");
    b.len = 100;
    expect_fail(t, &b, "runs past end of file");
    free(b.p);
}

static void
test_hostile_win10(void **state)
{
    struct fmt_test *t = *state;
    struct fmt_buf b = {0};
    size_t len;

    build_win10(&b);
    len = b.len;
    /* a frame past 2^40 */
    r2d_put_le64(b.p + 3 * PAGE + 4, (UINT64_C(1) << 40) << 4 | 1);
    expect_fail(t, &b, "52-bit");
    free(b.p);
    memset(&b, 0, sizeof(b));
    build_win10(&b);
    /* compressed size reaching past the end of the file */
    r2d_put_le32(b.p + 8 * PAGE, 1u | 0x3FF000u << 8);
    expect_fail(t, &b, "runs past end of file");
    /* no descriptors */
    r2d_put_le32(b.p + 8 * PAGE, 0x10000u << 8);
    expect_fail(t, &b, "lists no pages");
    /* a compressed set bigger than its pages */
    r2d_put_le32(b.p + 8 * PAGE, 1u | 0x10001u << 8);
    expect_fail(t, &b, "cannot decode");
    free(b.p);
    memset(&b, 0, sizeof(b));
    build_win10(&b);
    /* the kernel set repeating the boot set's frames */
    r2d_put_le64(b.p + 8 * PAGE + 4, 0x10ull << 4 | 15);
    expect_fail(t, &b, "overlap");
    /* the file cut inside the last set */
    r2d_put_le64(b.p + 8 * PAGE + 4, 0x100ull << 4 | 15);
    b.len = len - 10;
    expect_fail(t, &b, "runs past end of file");
    /* restore sets past the end */
    b.len = len;
    r2d_put_le64(b.p + 0x70, 0x100000);
    expect_fail(t, &b, "past end of file");
    free(b.p);
}

static void
test_hostile_win7(void **state)
{
    struct fmt_test *t = *state;
    struct fmt_buf b = {0};

    build_win7(&b);
    r2d_put_le32(b.p + 3 * PAGE + 8, 300);
    expect_fail(t, &b, "300 ranges");
    r2d_put_le32(b.p + 3 * PAGE + 8, 2);
    r2d_put_le64(b.p + 3 * PAGE + 24, 0x10); /* EndPage below StartPage */
    expect_fail(t, &b, "reversed");
    r2d_put_le64(b.p + 3 * PAGE + 24, 0x32);
    r2d_put_le64(b.p + 3 * PAGE, 3); /* NextTable: itself */
    expect_fail(t, &b, "links back");
    r2d_put_le64(b.p + 3 * PAGE, 0);
    memcpy(b.p + 4 * PAGE, "\x81\x81xpresZ", 8);
    expect_fail(t, &b, "Xpress block signature");
    memcpy(b.p + 4 * PAGE, "\x81\x81xpress", 8);
    r2d_put_le64(b.p + 0x60, 0x4000);
    expect_fail(t, &b, "past end of file");
    free(b.p);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fmt_test_setup, fmt_test_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe), T(test_win10_stored), T(test_win10_lz77),   T(test_win7),
        T(test_cpu_state),            T(test_header_refusals), T(test_hostile_win10), T(test_hostile_win7),
        T(test_parallel_read),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
