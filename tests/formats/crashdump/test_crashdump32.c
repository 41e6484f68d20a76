/* SPDX-License-Identifier: MIT */
/*
 * 32-bit crash dumps (PAGEDUMP, DUMP_HEADER32): the writer's output checked field by field at the offsets
 * the public declarations give (written here as literals, not through dump_header32.h, so a wrong constant
 * there fails), every page against the source, the reader of our own output, the bitmap form, the 86-run
 * limit, and hostile headers for the reader.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cdtest.h"
#include "bytes.h"
#include "crashdump.h"
#include "format.h"

#define PAGE 4096u
#define RAW_PAGES 0x400u /* 4 MiB source */

struct fixture {
    struct r2d_ctx *ctx;
    char *dir, *raw_path, *out_path, *bad_path;
    uint8_t *raw;
    struct r2d_image *img;
    struct r2d_plan *plan;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->raw = malloc((size_t)RAW_PAGES * PAGE);
    assert_non_null(f->raw);
    f->ctx = r2d_ctx_new();
    f->dir = cdtest_mkdtemp();
    f->raw_path = cdtest_path(f->dir, "mem.raw");
    f->out_path = cdtest_path(f->dir, "mem.dmp");
    f->bad_path = cdtest_path(f->dir, "bad.dmp");
    cdtest_random(f->raw, (size_t)RAW_PAGES * PAGE, 0x32);
    cdtest_write_file(f->raw_path, f->raw, (size_t)RAW_PAGES * PAGE);
    assert_int_equal(r2d_format_open(f->ctx, f->raw_path, "raw", &f->img), 0);
    f->plan = r2d_plan_new();
    assert_non_null(f->plan);
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
    cdtest_rmdir(f->dir);
    free(f->raw_path);
    free(f->out_path);
    free(f->bad_path);
    free(f->raw);
    free(f);
    return 0;
}

/* A 32-bit guest's header values: PAE DTB not page aligned, sign-free 32-bit kernel addresses. */
static void
fill_header32(struct r2d_plan *plan)
{
    struct r2d_header_values *h = r2d_plan_header(plan);
    uint8_t *c = h->context;

    h->major_version = 15;
    h->minor_version = 19041;
    h->dtb = 0x2f9ca0;
    h->pfn_database = 0x8137a0f0;
    h->ps_loaded_module_list = 0x8137a0e4;
    h->ps_active_process_head = 0x8137a0dc;
    h->machine_image_type = 0x14c;
    h->number_processors = 4;
    h->bugcheck_code = 0x161;
    h->bugcheck_params[0] = 0x11;
    h->bugcheck_params[1] = 0x22;
    h->bugcheck_params[2] = 0x33;
    h->bugcheck_params[3] = 0xffff4444;
    h->kdbg_va = 0x81379d20;
    h->system_time = 0x01d7000000001234;
    h->system_uptime = 0xe689e45f32;
    h->product_type = 1;
    h->suite_mask = 0x110;
    h->kd_secondary_version = 0;
    h->pae_enabled = 1;
    snprintf(h->comment, sizeof(h->comment), "raw2dmp test: 32-bit");
    memset(c, 0, R2D_CONTEXT_SIZE);
    r2d_put_le32(c + 0x00, 0x1000f);    /* CONTEXT_i386 | control | integer | segments */
    r2d_put_le32(c + 0x8c, 0);          /* SegGs */
    r2d_put_le32(c + 0x90, 0x30);       /* SegFs */
    r2d_put_le32(c + 0x94, 0x23);       /* SegEs */
    r2d_put_le32(c + 0x98, 0x23);       /* SegDs */
    for (int i = 0; i < 6; i++)         /* Edi, Esi, Ebx, Edx, Ecx, Eax */
        r2d_put_le32(c + 0x9c + 4 * i, 0x100 + (uint32_t)i);
    r2d_put_le32(c + 0xb4, 0x106);      /* Ebp */
    r2d_put_le32(c + 0xb8, 0x8137c000); /* Eip */
    r2d_put_le32(c + 0xbc, 0x08);       /* SegCs */
    r2d_put_le32(c + 0xc0, 0x202);      /* EFlags */
    r2d_put_le32(c + 0xc4, 0x8a5ffe00); /* Esp */
    r2d_put_le32(c + 0xc8, 0x10);       /* SegSs */
    memset(h->exception, 0, R2D_EXCEPTION_SIZE);
    r2d_put_le32(h->exception, 0x80000003);            /* ExceptionCode */
    r2d_put_le64(h->exception + 0x10, 0x8137c000);     /* ExceptionAddress */
    r2d_put_le32(h->exception + 0x18, 2);              /* NumberParameters */
    r2d_put_le64(h->exception + 0x20, 0x1234);
    r2d_put_le64(h->exception + 0x28, 0x81000000);
}

/* Ranges [0, 0x9f), [0x100, 0x300), [0x3f0, 0x410) (the last 0x10 pages beyond the source). */
static void
build_plan(struct fixture *f)
{
    const uint8_t patch[8] = {1, 2, 3, 4, 5, 6, 7, 8};

    fill_header32(f->plan);
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 0, 0x9f), 0);
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 0x100, 0x200), 0);
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 0x3f0, 0x20), 0);
    assert_int_equal(r2d_plan_add_patch(f->ctx, f->plan, f->img, 0x150ffc, patch, 4, 0x80001ffc, "CPU 0 CONTEXT"),
                     0);
    assert_int_equal(r2d_plan_add_patch(f->ctx, f->plan, f->img, 0x151000, patch + 4, 4, 0x80002000, "CPU 0 CONTEXT"),
                     0);
}

static void
expected_page(const struct fixture *f, uint64_t pfn, uint8_t *out)
{
    memset(out, 0, PAGE);
    if (pfn < RAW_PAGES)
        memcpy(out, f->raw + pfn * PAGE, PAGE);
    for (size_t i = 0; i < r2d_plan_patch_count(f->plan); i++) {
        const struct r2d_patch *p = r2d_plan_patch(f->plan, i);

        if (p->pa / PAGE == pfn)
            memcpy(out + p->pa % PAGE, p->after, p->len);
    }
}

/* Every field at the offset Microsoft's ntiodump.h, Bin2Dmp's dmp.h and Volatility 2's _DMP_HEADER give. */
static void
check_raw_header32(const uint8_t *d, uint64_t size, uint32_t dump_type)
{
    assert_memory_equal(d, "PAGEDUMP", 8);
    assert_int_equal(r2d_le32(d + 0x08), 15);
    assert_int_equal(r2d_le32(d + 0x0c), 19041);
    assert_int_equal(r2d_le32(d + 0x10), 0x2f9ca0);
    assert_int_equal(r2d_le32(d + 0x14), 0x8137a0f0);
    assert_int_equal(r2d_le32(d + 0x18), 0x8137a0e4);
    assert_int_equal(r2d_le32(d + 0x1c), 0x8137a0dc);
    assert_int_equal(r2d_le32(d + 0x20), 0x14c);
    assert_int_equal(r2d_le32(d + 0x24), 4);
    assert_int_equal(r2d_le32(d + 0x28), 0x161);
    assert_int_equal(r2d_le32(d + 0x2c), 0x11);
    assert_int_equal(r2d_le32(d + 0x38), 0xffff4444);
    for (int i = 0; i < 32; i++)
        assert_int_equal(d[0x3c + i], 0); /* VersionUser */
    assert_int_equal(d[0x5c], 1);         /* PaeEnabled */
    assert_int_equal(d[0x5d], 0);         /* KdSecondaryVersion */
    assert_int_equal(r2d_le32(d + 0x60), 0x81379d20);
    /* ContextRecord at 0x320: the x86 CONTEXT, then zeros to 0x7d0 */
    assert_int_equal(r2d_le32(d + 0x320), 0x1000f);
    assert_int_equal(r2d_le32(d + 0x320 + 0xb8), 0x8137c000);
    assert_int_equal(r2d_le32(d + 0x320 + 0xc4), 0x8a5ffe00);
    for (unsigned i = 0x320 + 0x2cc; i < 0x7d0; i++)
        assert_int_equal(d[i], 0);
    /* EXCEPTION_RECORD32 at 0x7d0 */
    assert_int_equal(r2d_le32(d + 0x7d0), 0x80000003);
    assert_int_equal(r2d_le32(d + 0x7dc), 0x8137c000);
    assert_int_equal(r2d_le32(d + 0x7e0), 2);
    assert_int_equal(r2d_le32(d + 0x7e4), 0x1234);
    assert_int_equal(r2d_le32(d + 0x7e8), 0x81000000);
    assert_string_equal((const char *)d + 0x820, "raw2dmp test: 32-bit");
    assert_int_equal(r2d_le32(d + 0xf88), dump_type);
    assert_int_equal(r2d_le32(d + 0xf8c), 0);
    assert_int_equal(r2d_le32(d + 0xf90), 0);
    assert_int_equal(r2d_le32(d + 0xf94), 1);
    assert_int_equal(r2d_le32(d + 0xf98), 0x110);
    assert_int_equal(r2d_le64(d + 0xfa0), size);
    assert_int_equal(r2d_le64(d + 0xfb8), 0xe689e45f32);
    assert_int_equal(r2d_le64(d + 0xfc0), 0x01d7000000001234);
    assert_memory_equal(d + 0xfc8, "PAGEPAGE", 8); /* _reserved3 keeps the fill */
}

static void
check_reader(struct fixture *f, uint64_t size, const char *dump_type)
{
    struct r2d_image *out = NULL;
    const struct r2d_cpu_state *cpu;
    uint8_t want[PAGE], got[PAGE];
    char buf[32];

    if (r2d_format_open(f->ctx, f->out_path, "auto", &out))
        fail_msg("%s", r2d_errmsg(f->ctx));
    assert_string_equal(r2d_image_format_name(out), "crashdump");
    assert_string_equal(cdtest_note(out, "dump.dump_type"), dump_type);
    assert_string_equal(cdtest_note(out, "dump.pae_enabled"), "1");
    assert_string_equal(cdtest_note(out, "dump.machine_image_type"), "0x14c");
    assert_string_equal(cdtest_note(out, "dump.dtb"), "0x2f9ca0");
    assert_string_equal(cdtest_note(out, "dump.kdbg_va"), "0x81379d20");
    assert_string_equal(cdtest_note(out, "dump.eip"), "0x8137c000");
    snprintf(buf, sizeof(buf), "0x%" PRIx64, size);
    assert_string_equal(cdtest_note(out, "dump.required_dump_space"), buf);
    assert_true(r2d_image_props(out)->dump_is32 && r2d_image_props(out)->dump_pae);
    assert_int_equal(r2d_image_cpu_count(out), 1);
    cpu = r2d_image_cpu(out, 0);
    assert_int_equal(cpu->flags & R2D_CPU_LONG_MODE, 0);
    assert_int_equal(cpu->rip, 0x8137c000);
    assert_int_equal(cpu->rax, 0x105);
    assert_int_equal(cpu->rdi, 0x100);
    assert_int_equal(cpu->fs.selector, 0x30);
    assert_int_equal(cpu->cr3, 0x2f9ca0);
    for (size_t k = 0; k < r2d_plan_range_count(f->plan); k++) {
        const struct r2d_page_range *g = r2d_plan_range(f->plan, k);

        for (uint64_t p = g->base_page; p < g->base_page + g->page_count; p++) {
            expected_page(f, p, want);
            assert_int_equal(r2d_image_read(f->ctx, out, p * PAGE, got, PAGE, R2D_HOLE_ERROR), 0);
            if (memcmp(want, got, PAGE) != 0)
                fail_msg("page 0x%" PRIx64 " differs", p);
        }
    }
    assert_int_equal(r2d_image_covers(out, 0x9f000, 1), 0);
    r2d_image_free(out);
}

static void
full_pagedump_fields_pages_and_reader(void **state)
{
    struct fixture *f = *state;
    struct r2d_write_result res;
    uint8_t *d;
    size_t len;

    build_plan(f);
    if (r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, R2D_OUTPUT_NO_SYNC, R2D_HASH_NONE, &res))
        fail_msg("%s", r2d_errmsg(f->ctx));
    assert_int_equal(res.dump_type, 1);
    assert_int_equal(res.header_runs, 3);
    assert_int_equal(res.size, 0x1000 + (0x9f + 0x200 + 0x20) * (uint64_t)PAGE);
    d = cdtest_read_file(f->out_path, &len);
    assert_int_equal(len, res.size);
    check_raw_header32(d, res.size, 1);
    /* PHYSICAL_MEMORY_DESCRIPTOR32 at 0x64: u32 runs, u32 pages, {u32 base, u32 count} */
    assert_int_equal(r2d_le32(d + 0x64), 3);
    assert_int_equal(r2d_le32(d + 0x68), 0x9f + 0x200 + 0x20);
    assert_int_equal(r2d_le32(d + 0x6c), 0);
    assert_int_equal(r2d_le32(d + 0x70), 0x9f);
    assert_int_equal(r2d_le32(d + 0x74), 0x100);
    assert_int_equal(r2d_le32(d + 0x78), 0x200);
    assert_int_equal(r2d_le32(d + 0x7c), 0x3f0);
    assert_int_equal(r2d_le32(d + 0x80), 0x20);
    assert_int_equal(r2d_le32(d + 0x84), 0); /* unused run slots zero */
    /* data from 0x1000: page 0x100 is the 0x9f-th page */
    assert_memory_equal(d + 0x1000, f->raw, PAGE);
    assert_memory_equal(d + 0x1000 + 0x9f * PAGE, f->raw + 0x100 * PAGE, PAGE);
    free(d);
    check_reader(f, res.size, "1");
}

/* Forced bitmap, and more than 86 ranges (auto: bitmap; forced full: refused). */
static void
bitmap_pagedump_and_the_86_run_limit(void **state)
{
    struct fixture *f = *state;
    struct r2d_write_result res;
    uint8_t *d;
    size_t len;

    build_plan(f);
    r2d_plan_set_dump_type(f->plan, R2D_DUMP_BITMAP);
    if (r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, R2D_OUTPUT_NO_SYNC, R2D_HASH_NONE, &res))
        fail_msg("%s", r2d_errmsg(f->ctx));
    assert_int_equal(res.dump_type, 5);
    d = cdtest_read_file(f->out_path, &len);
    check_raw_header32(d, res.size, 5);
    /* SUMMARY_DUMP32 at 0x1000: FDMP, DUMP, options, HeaderSize, BitmapSize, Pages, SizeOfBitMap, 0 */
    assert_memory_equal(d + 0x1000, "FDMPDUMP", 8);
    assert_int_equal(r2d_le32(d + 0x100c), 0x2000);
    assert_int_equal(r2d_le32(d + 0x1010), 0x440);
    assert_int_equal(r2d_le32(d + 0x1014), 0x9f + 0x200 + 0x20);
    assert_int_equal(r2d_le32(d + 0x1018), 0x440);
    assert_int_equal(d[0x1020 + 0x13], 0x7f); /* PFN 0x98..0x9e set, 0x9f clear */
    assert_int_equal(d[0x1020 + 0x14], 0);
    assert_int_equal(res.size, 0x2000 + (0x9f + 0x200 + 0x20) * (uint64_t)PAGE);
    free(d);
    check_reader(f, res.size, "5");
    remove(f->out_path);

    /* 90 one-page ranges */
    r2d_plan_free(f->plan);
    f->plan = r2d_plan_new();
    fill_header32(f->plan);
    for (uint64_t i = 0; i < 90; i++)
        assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 2 * i, 1), 0);
    if (r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, R2D_OUTPUT_NO_SYNC, R2D_HASH_NONE, &res))
        fail_msg("%s", r2d_errmsg(f->ctx));
    assert_int_equal(res.dump_type, 5);
    assert_int_equal(res.header_runs, 86);
    remove(f->out_path);
    r2d_plan_set_dump_type(f->plan, R2D_DUMP_FULL);
    assert_int_equal(r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, R2D_OUTPUT_NO_SYNC, R2D_HASH_NONE,
                                         &res),
                     R2D_EINVAL);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "at most 86 runs"));
}

static void
values_wider_than_32_bits_are_refused(void **state)
{
    struct fixture *f = *state;
    struct r2d_write_result res;

    build_plan(f);
    r2d_plan_header(f->plan)->kdbg_va = 0xffffffff81379d20; /* sign-extended, not cut */
    assert_int_equal(r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, R2D_OUTPUT_NO_SYNC, R2D_HASH_NONE,
                                         &res),
                     R2D_EINVAL);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "KdDebuggerDataBlock"));
    assert_int_equal(access(f->out_path, F_OK), -1);
    r2d_plan_header(f->plan)->kdbg_va = 0x81379d20;
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, UINT64_C(1) << 32, 1), 0);
    assert_int_equal(r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, R2D_OUTPUT_NO_SYNC, R2D_HASH_NONE,
                                         &res),
                     R2D_EINVAL);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "32-bit"));
}

static void
expect_open_error(struct fixture *f, const uint8_t *d, size_t len, int code, const char *text)
{
    struct r2d_image *img = NULL;
    int rc;

    cdtest_write_file(f->bad_path, d, len);
    rc = r2d_format_open(f->ctx, f->bad_path, "crashdump", &img);
    if (rc != code)
        fail_msg("rc %d (%s), want %d (%s)", rc, r2d_errmsg(f->ctx), code, text);
    assert_null(img);
    if (!strstr(r2d_errmsg(f->ctx), text))
        fail_msg("message '%s' lacks '%s'", r2d_errmsg(f->ctx), text);
    assert_non_null(strstr(r2d_errmsg(f->ctx), f->bad_path));
}

/* Hostile headers: truncation, PAGE fill, too many runs, runs past the end, lying bitmap, other types. */
static void
hostile_pagedump_headers(void **state)
{
    struct fixture *f = *state;
    struct r2d_write_result res;
    uint8_t *d, *e;
    size_t len;

    build_plan(f);
    assert_int_equal(r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, R2D_OUTPUT_NO_SYNC, R2D_HASH_NONE,
                                         &res),
                     0);
    d = cdtest_read_file(f->out_path, &len);
    assert_true(len >= 0x1000);
    /* At least a header's worth: gcc's -Warray-bounds cannot see the assertion above. */
    e = malloc(len < 0x1000 ? 0x1000 : len);
    assert_non_null(e);
    expect_open_error(f, d, 0x800, R2D_ETRUNC, "DUMP_HEADER32");
    memcpy(e, d, len);
    memcpy(e + 0x64, "PAGEPAGE", 8);
    expect_open_error(f, e, len, R2D_EFORMAT, "'PAGE' fill");
    memcpy(e, d, len);
    r2d_put_le32(e + 0x64, 87);
    expect_open_error(f, e, len, R2D_EFORMAT, "exceeds the 86");
    memcpy(e, d, len);
    r2d_put_le32(e + 0x80, 0x21);
    expect_open_error(f, e, len, R2D_ETRUNC, "runs past end of file");
    expect_open_error(f, d, len - PAGE, R2D_ETRUNC, "runs past end of file");
    memcpy(e, d, len);
    r2d_put_le32(e + 0x70, 0xffffffff);
    expect_open_error(f, e, len, R2D_ETRUNC, "run 0");
    memcpy(e, d, len);
    r2d_put_le32(e + 0xf88, 2);
    expect_open_error(f, e, len, R2D_EUNSUPPORTED, "DumpType 2");
    /* bitmap: header beyond the file, lying bit count, first page inside the bitmap */
    memcpy(e, d, len);
    r2d_put_le32(e + 0xf88, 5);
    memcpy(e + 0x1000, "FDMPDUMP", 8);
    r2d_put_le32(e + 0x100c, 0x2000);
    r2d_put_le32(e + 0x1010, 0xffffffff);
    expect_open_error(f, e, len, R2D_ETRUNC, "bitmap of");
    r2d_put_le32(e + 0x1010, 0x440);
    r2d_put_le32(e + 0x100c, 0x1040);
    expect_open_error(f, e, len, R2D_EFORMAT, "inside the bitmap");
    r2d_put_le32(e + 0x100c, 0x2000);
    memset(e + 0x1020, 0xff, 0x88); /* more set bits than pages in the file */
    expect_open_error(f, e, len, R2D_ETRUNC, "past end of file");
    memcpy(e + 0x1004, "XXXX", 4);
    expect_open_error(f, e, len, R2D_EFORMAT, "no DUMP bitmap header");
    free(e);
    free(d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(full_pagedump_fields_pages_and_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(bitmap_pagedump_and_the_86_run_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(values_wider_than_32_bits_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(hostile_pagedump_headers, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
