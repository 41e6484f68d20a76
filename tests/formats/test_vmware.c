/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the VMware state-file reader (formats/vmware*.c): state files are built here tag by tag
 * (docs/formats/vmware.md), with the memory inside them or in a .vmem beside them.
 */
#include "fmt_testutil.h"

#include "format.h"
#include "image.h"

#define PG 4096u

/* A state file under construction: groups are appended, then the table is written in front. */
struct vmb {
    struct fmt_buf b;
    size_t pos;       /* end of the last group */
    uint32_t ngroups; /* the table has room for 4 */
    unsigned width;   /* block size fields */
};

static void
vmb_start(struct vmb *v, uint32_t magic)
{
    memset(v, 0, sizeof(*v));
    v->width = (magic & 0xF) == 0 ? 4 : 8;
    r2d_put_le32(fmt_buf_at(&v->b, 0, 4), magic);
    r2d_put_le32(fmt_buf_at(&v->b, 4, 4), 8);
    v->pos = 12 + 4 * 80;
}

static void
vmb_bytes(struct vmb *v, const void *p, size_t n)
{
    memcpy(fmt_buf_at(&v->b, v->pos, n), p, n);
    v->pos += n;
}

static void
vmb_head(struct vmb *v, const char *name, const uint32_t *idx, unsigned nidx, unsigned vsize)
{
    uint8_t h[2];

    r2d_put_le16(h, (uint16_t)(strlen(name) << 8 | nidx << 6 | vsize));
    vmb_bytes(v, h, 2);
    vmb_bytes(v, name, strlen(name));
    for (unsigned i = 0; i < nidx; i++) {
        uint8_t x[4];

        r2d_put_le32(x, idx[i]);
        vmb_bytes(v, x, 4);
    }
}

/* A value tag of n bytes holding x little-endian. */
static void
vmb_value(struct vmb *v, const char *name, const uint32_t *idx, unsigned nidx, uint64_t x, unsigned n)
{
    uint8_t b[8];

    vmb_head(v, name, idx, nidx, n);
    for (unsigned i = 0; i < n; i++)
        b[i] = (uint8_t)(x >> 8 * i);
    vmb_bytes(v, b, n);
}

static void
vmb_block(struct vmb *v, const char *name, const uint32_t *idx, unsigned nidx, const void *data, size_t len,
          unsigned pad)
{
    uint8_t s[18] = {0};

    vmb_head(v, name, idx, nidx, 63);
    if (v->width == 4) {
        r2d_put_le32(s, (uint32_t)len);
        r2d_put_le32(s + 4, (uint32_t)len);
    } else {
        r2d_put_le64(s, len);
        r2d_put_le64(s + 8, len);
    }
    r2d_put_le16(s + 2 * v->width, (uint16_t)pad);
    vmb_bytes(v, s, 2 * v->width + 2);
    fmt_buf_at(&v->b, v->pos, pad);
    v->pos += pad;
    vmb_bytes(v, data, len);
}

/* Close the group that started at start: terminator (unless omitted) and its table entry. */
static void
vmb_group(struct vmb *v, const char *name, size_t start, int terminate)
{
    uint8_t *e = fmt_buf_at(&v->b, 12 + 80 * v->ngroups, 80);

    if (terminate)
        vmb_bytes(v, "\0\0", 2);
    memset(e, 0, 64);
    memcpy(e, name, strlen(name));
    r2d_put_le64(e + 64, start);
    r2d_put_le64(e + 72, v->pos - start);
    v->ngroups++;
    r2d_put_le32(fmt_buf_at(&v->b, 8, 4), v->ngroups);
}

static uint8_t
pat(uint64_t off)
{
    return (uint8_t)(off * 131 + (off >> 12) * 7 + 1);
}

/* The memory group: regions (ppn, page, pages) and, when data is given, the Memory block holding it. */
static void
vmb_memory(struct vmb *v, const uint64_t (*r)[3], uint32_t n, const uint8_t *data, size_t len, int terminate)
{
    const size_t start = v->pos;
    const uint32_t zz[2] = {0, 0};

    vmb_value(v, "regionsCount", NULL, 0, n, 4);
    for (uint32_t i = 0; i < n; i++) {
        vmb_value(v, "regionPPN", &i, 1, r[i][0], 4); /* value widths vary: 4, 8, 2 bytes */
        vmb_value(v, "regionPageNum", &i, 1, r[i][1], 8);
        vmb_value(v, "regionSize", &i, 1, r[i][2], 2);
    }
    if (data)
        vmb_block(v, "Memory", zz, 2, data, len, 5);
    vmb_group(v, "memory", start, terminate);
}

static const uint64_t two_regions[2][3] = {{0, 0, 1}, {0x100000, 1, 2}}; /* page 0; 4 GiB + 2 pages */

static uint8_t *
memory_bytes(size_t len)
{
    uint8_t *m = malloc(len);

    assert_non_null(m);
    for (size_t i = 0; i < len; i++)
        m[i] = pat(i);
    return m;
}

static void
check_two_regions(struct fmt_test *t, struct r2d_image *img)
{
    uint8_t buf[3 * PG];

    assert_int_equal(r2d_image_run_count(img), 2);
    assert_int_equal(r2d_image_run(img, 0)->pa, 0);
    assert_int_equal(r2d_image_run(img, 0)->len, PG);
    assert_int_equal(r2d_image_run(img, 1)->pa, 0x100000000ull);
    assert_int_equal(r2d_image_run(img, 1)->len, 2 * PG);
    assert_int_equal(r2d_image_read(t->ctx, img, 0, buf, PG, R2D_HOLE_ERROR), 0);
    assert_int_equal(r2d_image_read(t->ctx, img, 0x100000000ull, buf + PG, 2 * PG, R2D_HOLE_ERROR), 0);
    for (size_t i = 0; i < sizeof(buf); i++)
        if (buf[i] != pat(i))
            fail_msg("memory byte 0x%zx: 0x%02x, expected 0x%02x", i, buf[i], pat(i));
}

static struct r2d_image *
open_ok(struct fmt_test *t, const char *path, const char *companion)
{
    const struct r2d_open_hints h = {.companion = companion};
    struct r2d_image *img = NULL;

    if (r2d_format_open_hints(t->ctx, path, "auto", &h, &img))
        fail_msg("open %s: %s", path, r2d_errmsg(t->ctx));
    assert_string_equal(r2d_image_format_name(img), "vmware");
    return img;
}

static void
both_block_size_widths_read_embedded_memory(void **state)
{
    struct fmt_test *t = *state;
    const uint32_t magics[] = {0xbed0bed0u, 0xbed2bed0u, 0xbed2bed2u, 0xbed3bed3u, 0xbad1bad1u};
    uint8_t *m = memory_bytes(3 * PG);

    for (size_t k = 0; k < sizeof(magics) / sizeof(magics[0]); k++) {
        struct vmb v;
        struct r2d_image *img;

        vmb_start(&v, magics[k]);
        vmb_memory(&v, two_regions, 2, m, 3 * PG, 1);
        img = open_ok(t, fmt_test_write(t, "e.vmsn", v.b.p, v.pos), NULL);
        check_two_regions(t, img);
        assert_true(r2d_image_run(img, 0)->bytes == r2d_image_input(img));
        r2d_image_free(img);
        free(v.b.p);
    }
    free(m);
}

static void
a_group_without_terminator_ends_at_its_size(void **state)
{
    struct fmt_test *t = *state;
    uint8_t *m = memory_bytes(3 * PG);
    struct vmb v;
    struct r2d_image *img;

    vmb_start(&v, 0xbed2bed2u);
    vmb_memory(&v, two_regions, 2, m, 3 * PG, 0);
    img = open_ok(t, fmt_test_write(t, "e.vmsn", v.b.p, v.pos), NULL);
    check_two_regions(t, img);
    r2d_image_free(img);
    /* One byte less and the Memory block crosses the group's end. */
    r2d_put_le64(v.b.p + 12 + 72, r2d_le64(v.b.p + 12 + 72) - 1);
    img = NULL;
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "e.vmsn", v.b.p, v.pos), "vmware", &img),
                     R2D_ETRUNC);
    assert_msg_has(t->ctx, "tag Memory[0][0]: block of 0x3000 bytes");
    assert_msg_has(t->ctx, "runs past the end of group memory");
    free(v.b.p);
    free(m);
}

/* A .vmss (regions only) named name, and its memory as vmem_name when given. */
static void
write_split(struct fmt_test *t, const char *name, const char *vmem_name)
{
    uint8_t *m = memory_bytes(3 * PG);
    struct vmb v;

    vmb_start(&v, 0xbed2bed2u);
    vmb_memory(&v, two_regions, 2, NULL, 0, 1);
    fmt_test_write(t, name, v.b.p, v.pos);
    if (vmem_name)
        fmt_test_write(t, vmem_name, m, 3 * PG);
    free(v.b.p);
    free(m);
}

static const char *
run_file(const struct r2d_image *img)
{
    const char *n = r2d_bytesrc_name(r2d_image_run(img, 0)->bytes), *s = strrchr(n, '/');

    return s ? s + 1 : n;
}

static void
the_vmem_is_found_by_name_then_alone_else_refused(void **state)
{
    struct fmt_test *t = *state;
    struct r2d_image *img = NULL;
    char path[600], other[600];

    write_split(t, "guest.vmss", "guest.vmem");
    write_split(t, "x.vmss", "other.vmem");
    snprintf(path, sizeof(path), "%s/guest.vmss", t->dir);
    img = open_ok(t, path, NULL);
    assert_string_equal(run_file(img), "guest.vmem"); /* same name wins over other.vmem */
    check_two_regions(t, img);
    r2d_image_free(img);
    snprintf(path, sizeof(path), "%s/guest.vmem", t->dir);
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof(path), "%s/guest.vmss", t->dir);
    img = open_ok(t, path, NULL);
    assert_string_equal(run_file(img), "other.vmem"); /* the only one */
    r2d_image_free(img);
    write_split(t, "y.vmss", "third.vmem");
    img = NULL;
    assert_int_equal(r2d_format_open(t->ctx, path, "auto", &img), R2D_ENOTFOUND);
    assert_msg_has(t->ctx, "guest.vmem does not exist and its directory holds 2 .vmem files");
    snprintf(other, sizeof(other), "%s/third.vmem", t->dir);
    img = open_ok(t, path, other); /* --vmem settles it */
    assert_string_equal(run_file(img), "third.vmem");
    r2d_image_free(img);
    unlink(other);
    snprintf(other, sizeof(other), "%s/other.vmem", t->dir);
    unlink(other);
    assert_int_equal(r2d_format_open(t->ctx, path, "auto", &img), R2D_ENOTFOUND);
    assert_msg_has(t->ctx, "no .vmem is beside it (tried guest.vmem");
}

static void
regions_must_fit_the_memory_and_not_overlap(void **state)
{
    struct fmt_test *t = *state;
    const uint64_t overlap[2][3] = {{0, 0, 2}, {1, 2, 1}}, shared[2][3] = {{0, 0, 2}, {4, 1, 1}};
    const uint64_t past[2][3] = {{0, 0, 1}, {0x100, 1, 3}}, empty[1][3] = {{0, 0, 0}};
    uint8_t *m = memory_bytes(3 * PG);
    struct {
        const uint64_t (*r)[3];
        uint32_t n;
        int rc;
        const char *msg;
    } cases[] = {
        {overlap, 2, R2D_EFORMAT, "memory regions 0 and 1 overlap: guest pages 0x0-0x1 and 0x1-0x1"},
        {shared, 2, R2D_EFORMAT, "memory regions 0 and 1 share file pages"},
        {past, 2, R2D_ETRUNC, "memory region 1 (file pages 0x1-0x3) lies past the end of"},
        {empty, 1, R2D_EFORMAT, "memory region 0: 0x0 pages"},
    };

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct r2d_image *img = NULL;
        struct vmb v;

        vmb_start(&v, 0xbed2bed2u);
        vmb_memory(&v, cases[k].r, cases[k].n, m, 3 * PG, 1);
        assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "r.vmsn", v.b.p, v.pos), "auto", &img),
                         cases[k].rc);
        assert_msg_has(t->ctx, cases[k].msg);
        free(v.b.p);
    }
    free(m);
}

static void
registers_come_from_blocks_and_from_values(void **state)
{
    struct fmt_test *t = *state;
    const uint32_t c0 = 0, c1 = 1, numv = 2;
    uint8_t gp[128], cr[72], idtr[10];
    uint8_t *m = memory_bytes(3 * PG);
    struct r2d_image *img;
    const struct r2d_cpu_state *a, *b;
    struct vmb v;
    size_t start;

    for (int i = 0; i < 16; i++)
        r2d_put_le64(gp + 8 * i, 0x1000 + (uint64_t)i); /* RAX RCX RDX RBX RBP RSP RSI RDI R8.. */
    for (int i = 0; i < 9; i++)
        r2d_put_le64(cr + 8 * i, i == 0 ? 0x80050033 : i == 3 ? 0x1aa000 : i == 4 ? 0x350ef8 : 0);
    r2d_put_le16(idtr, 0xfff);
    r2d_put_le64(idtr + 2, 0xfffff80000001000ull);
    vmb_start(&v, 0xbed2bed2u);
    start = v.pos;
    vmb_value(&v, "cpu:numVCPUs", NULL, 0, numv, 4);
    vmb_block(&v, "gpregs", &c0, 1, gp, sizeof(gp), 0);
    vmb_block(&v, "CR64", &c0, 1, cr, sizeof(cr), 0);
    vmb_block(&v, "IDTR", &c0, 1, idtr, sizeof(idtr), 0);
    {
        const uint32_t s5[2] = {1, 5}, s1[2] = {1, 1}, cr3[2] = {1, 3}, i1[2] = {1, 1}, i2[2] = {1, 2};

        vmb_value(&v, "rsp", &c1, 1, 0xffffd00000001000ull, 8);
        vmb_value(&v, "rip", &c1, 1, 0x401000, 8);
        vmb_value(&v, "CR64", cr3, 2, 0x2bb000, 8);
        vmb_value(&v, "IDTR", i1, 2, 0x00002000, 4);
        vmb_value(&v, "IDTR", i2, 2, 0xfffff800, 4);
        vmb_value(&v, "S", s1, 2, 0x33, 2);
        vmb_value(&v, "S.base64", s5, 2, 0xfffff80000100000ull, 8);
    }
    vmb_group(&v, "cpu", start, 1);
    vmb_memory(&v, two_regions, 2, m, 3 * PG, 1);
    img = open_ok(t, fmt_test_write(t, "c.vmsn", v.b.p, v.pos), NULL);
    assert_int_equal(r2d_image_cpu_count(img), 2);
    a = r2d_image_cpu(img, 0);
    b = r2d_image_cpu(img, 1);
    assert_int_equal(a->rax, 0x1000);
    assert_int_equal(a->rbp, 0x1004);
    assert_int_equal(a->rsp, 0x1005);
    assert_int_equal(a->r15, 0x100f);
    assert_int_equal(a->cr3, 0x1aa000);
    assert_int_equal(a->idt.base, 0xfffff80000001000ull);
    assert_int_equal(a->idt.limit, 0xfff);
    assert_int_equal(a->flags & R2D_CPU_LONG_MODE, 0); /* nothing above 4 GiB: cannot tell */
    assert_int_equal(b->rsp, 0xffffd00000001000ull);
    assert_int_equal(b->cr3, 0x2bb000);
    assert_int_equal(b->idt.base, 0xfffff80000002000ull);
    assert_int_equal(b->cs.selector, 0x33);
    assert_int_equal(b->gs.base, 0xfffff80000100000ull);
    assert_int_equal(b->flags & R2D_CPU_HAVE_KGSBASE, 0);
    r2d_image_free(img);
    /* Registers of a vCPU past cpu:numVCPUs are an error. */
    r2d_put_le32(v.b.p + start + 2 + strlen("cpu:numVCPUs"), 1);
    img = NULL;
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "c.vmsn", v.b.p, v.pos), "auto", &img),
                     R2D_EFORMAT);
    assert_msg_has(t->ctx, "registers of vCPU 1 but cpu:numVCPUs is 1");
    free(v.b.p);
    free(m);
}

static void
probe_answers(void **state)
{
    const struct r2d_format *f = r2d_format_find("vmware");
    uint8_t h[12] = {0};
    const char *why = NULL;

    (void)state;
    assert_non_null(f);
    r2d_put_le32(h, 0xbed2bed2u);
    r2d_put_le32(h + 8, 3);
    assert_int_equal(f->probe(h, sizeof(h), 12 + 3 * 80, &why), R2D_PROBE_SURE);
    assert_int_equal(f->probe(h, sizeof(h), 100, &why), R2D_PROBE_MAGIC); /* the table does not fit */
    assert_int_equal(f->probe(h, 8, 100, &why), R2D_PROBE_NO);
    r2d_put_le32(h, 0xbed4bed4u);
    assert_int_equal(f->probe(h, sizeof(h), 1000, &why), R2D_PROBE_NO);
}

static void
random_corruption_never_crashes(void **state)
{
    struct fmt_test *t = *state;
    uint8_t *m = memory_bytes(3 * PG);
    uint64_t seed = 1;
    struct vmb v;

    vmb_start(&v, 0xbed0bed0u);
    vmb_memory(&v, two_regions, 2, m, 3 * PG, 1);
    for (int i = 0; i < 1000; i++) {
        uint8_t *copy = malloc(v.pos);
        struct r2d_image *img = NULL;
        uint8_t buf[64];

        assert_non_null(copy);
        memcpy(copy, v.b.p, v.pos);
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        copy[(seed >> 33) % 0x1c0] ^= (uint8_t)(1u << ((seed >> 20) % 8)); /* header, table and tags */
        if (r2d_format_open(t->ctx, fmt_test_write(t, "f.vmsn", copy, v.pos), "vmware", &img) == 0) {
            (void)r2d_image_read(t->ctx, img, 0, buf, sizeof(buf), R2D_HOLE_ZERO);
            r2d_image_free(img);
        }
        free(copy);
    }
    free(v.b.p);
    free(m);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fmt_test_setup, fmt_test_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(both_block_size_widths_read_embedded_memory),
        T(a_group_without_terminator_ends_at_its_size),
        T(the_vmem_is_found_by_name_then_alone_else_refused),
        T(regions_must_fit_the_memory_and_not_overlap),
        T(registers_come_from_blocks_and_from_values),
        T(probe_answers),
        T(random_corruption_never_crashes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
