/* SPDX-License-Identifier: MIT */
/*
 * The crash dump writer, checked by our own reader: every page of the output against the source with the
 * plan's patches applied by hand, every header field through the reader's notes, the bitmap bit by bit,
 * and the safe-output rules (existing outputs, disk full, cancellation, SHA-256).
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "cdtest.h"
#include "bytes.h"
#include "crashdump.h"
#include "format.h"
#include "output.h"

#define PAGE 4096u
#define RAW_PAGES 0x1400u /* 20 MiB source: crosses the writer's 8 MiB chunks */

struct fixture {
    struct r2d_ctx *ctx;
    char *dir;
    char *raw_path;
    char *out_path;
    struct r2d_image *img;
    struct r2d_plan *plan;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    uint8_t *raw = malloc((size_t)RAW_PAGES * PAGE);

    assert_non_null(f);
    assert_non_null(raw);
    f->ctx = r2d_ctx_new();
    f->dir = cdtest_mkdtemp();
    f->raw_path = cdtest_path(f->dir, "mem.raw");
    f->out_path = cdtest_path(f->dir, "mem.dmp");
    cdtest_random(raw, (size_t)RAW_PAGES * PAGE, 0x5eed);
    cdtest_write_file(f->raw_path, raw, (size_t)RAW_PAGES * PAGE);
    free(raw);
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
    free(f);
    return 0;
}

/* Distinctive values in every header field the plan carries. */
static void
fill_header(struct r2d_plan *plan)
{
    struct r2d_header_values *h = r2d_plan_header(plan);
    uint8_t *c = h->context;

    h->major_version = 15;
    h->minor_version = 19041;
    h->dtb = 0x1ad000;
    h->pfn_database = 0xfffff8047c6fc500;
    h->ps_loaded_module_list = 0xfffff8047c62a390;
    h->ps_active_process_head = 0xfffff8047c61e200;
    h->machine_image_type = 0x8664;
    h->number_processors = 16;
    h->bugcheck_code = 0x161;
    h->bugcheck_params[0] = 0x1111;
    h->bugcheck_params[1] = 0x2222;
    h->bugcheck_params[2] = 0x3333;
    h->bugcheck_params[3] = 0xffffffffffff4444;
    h->kdbg_va = 0xfffff8047c600b20;
    h->system_time = 0x01d707f23dbb3399;
    h->system_uptime = 0x23bc1e9;
    h->product_type = 1;
    h->suite_mask = 0x110;
    h->kd_secondary_version = 2;
    snprintf(h->comment, sizeof(h->comment), "raw2dmp test: from raw");
    memset(c, 0, R2D_CONTEXT_SIZE);
    r2d_put_le32(c + 0x30, 0x10001f);
    r2d_put_le32(c + 0x34, 0x1f80);
    r2d_put_le32(c + 0x118, 0x1f80);
    r2d_put_le16(c + 0x38, 0x10);
    r2d_put_le16(c + 0x3a, 0x2b);
    r2d_put_le16(c + 0x3c, 0x2b);
    r2d_put_le16(c + 0x3e, 0x53);
    r2d_put_le16(c + 0x40, 0x2b);
    r2d_put_le16(c + 0x42, 0x18);
    r2d_put_le32(c + 0x44, 0x246);
    for (int i = 0; i < 16; i++)
        r2d_put_le64(c + 0x78 + 8 * i, 0x1000 + (uint64_t)i); /* Rax, Rcx, ..., R15 */
    r2d_put_le64(c + 0xf8, 0xfffff8047ba01234);
    memset(h->exception, 0, R2D_EXCEPTION_SIZE);
}

static void
add_patch(struct fixture *f, uint64_t pa, uint32_t len, const char *why)
{
    uint8_t bytes[64];

    assert_true(len <= sizeof(bytes));
    for (uint32_t i = 0; i < len; i++)
        bytes[i] = (uint8_t)(0xa0 + i + pa);
    assert_int_equal(r2d_plan_add_patch(f->ctx, f->plan, f->img, pa, bytes, len, 0, why), 0);
}

/*
 * Ranges [0, 0x100), [0x200, 0x1200) (crossing an 8 MiB chunk at 0xa00000) and [0x13f0, 0x1500), whose
 * last 0x100 pages lie beyond the 0x1400-page file. Patches: two in one page, both sides of the chunk
 * boundary, the first bytes of a range, the last bytes of a range, one in a hole page.
 */
static void
build_plan(struct fixture *f)
{
    fill_header(f->plan);
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 0x13f0, 0x110), 0);
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 0, 0x100), 0);
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 0x200, 0x1000), 0);
    add_patch(f, 0x10010, 8, "two in one page (1)");
    add_patch(f, 0x10800, 16, "two in one page (2)");
    add_patch(f, 0x9ffff0, 16, "ends at a chunk boundary");
    add_patch(f, 0xa00000, 16, "starts at a chunk boundary");
    add_patch(f, 0x200000, 4, "first bytes of a range");
    add_patch(f, 0x11ffffc, 4, "last bytes of a range");
    add_patch(f, 0x1450000, 32, "in a hole page");
}

/* The expected bytes of physical page pfn: the source (zeros past its end) with the patches applied by hand.
 */
static void
expected_page(const struct fixture *f, const uint8_t *raw, size_t raw_len, uint64_t pfn, uint8_t *out)
{
    const uint64_t pa = pfn * PAGE;

    memset(out, 0, PAGE);
    if (pa < raw_len)
        memcpy(out, raw + pa, raw_len - pa < PAGE ? raw_len - pa : PAGE);
    for (size_t i = 0; i < r2d_plan_patch_count(f->plan); i++) {
        const struct r2d_patch *p = r2d_plan_patch(f->plan, i);

        if (p->pa / PAGE == pfn)
            memcpy(out + (p->pa % PAGE), p->after, p->len);
    }
}

static void
assert_note(const struct r2d_image *img, const char *key, const char *want)
{
    const char *v = cdtest_note(img, key);

    if (!v || strcmp(v, want) != 0)
        fail_msg("note %s: got '%s', want '%s'", key, v ? v : "(missing)", want);
}

static void
assert_note_u64(const struct r2d_image *img, const char *key, uint64_t want, int hex)
{
    char buf[32];

    snprintf(buf, sizeof(buf), hex ? "0x%" PRIx64 : "%" PRIu64, want);
    assert_note(img, key, buf);
}

/* Header fields through the reader's notes, against the plan. */
static void
check_notes(const struct fixture *f, const struct r2d_image *out, uint32_t dump_type, uint64_t size)
{
    const struct r2d_header_values *h = r2d_plan_header_const(f->plan);

    assert_note_u64(out, "dump.major_version", h->major_version, 0);
    assert_note_u64(out, "dump.minor_version", h->minor_version, 0);
    assert_note_u64(out, "dump.dtb", h->dtb, 1);
    assert_note_u64(out, "dump.pfn_database", h->pfn_database, 1);
    assert_note_u64(out, "dump.ps_loaded_module_list", h->ps_loaded_module_list, 1);
    assert_note_u64(out, "dump.ps_active_process_head", h->ps_active_process_head, 1);
    assert_note_u64(out, "dump.machine_image_type", h->machine_image_type, 1);
    assert_note_u64(out, "dump.number_processors", h->number_processors, 0);
    assert_note_u64(out, "dump.bugcheck_code", h->bugcheck_code, 1);
    assert_note_u64(out, "dump.bugcheck_parameter1", h->bugcheck_params[0], 1);
    assert_note_u64(out, "dump.bugcheck_parameter2", h->bugcheck_params[1], 1);
    assert_note_u64(out, "dump.bugcheck_parameter3", h->bugcheck_params[2], 1);
    assert_note_u64(out, "dump.bugcheck_parameter4", h->bugcheck_params[3], 1);
    assert_note_u64(out, "dump.kdbg_va", h->kdbg_va, 1);
    assert_note_u64(out, "dump.dump_type", dump_type, 0);
    assert_note_u64(out, "dump.required_dump_space", size, 1);
    assert_note_u64(out, "dump.system_time", h->system_time, 1);
    assert_note_u64(out, "dump.system_uptime", h->system_uptime, 1);
    assert_note(out, "dump.comment", h->comment);
    assert_note_u64(out, "dump.product_type", h->product_type, 0);
    assert_note_u64(out, "dump.suite_mask", h->suite_mask, 1);
    assert_note(out, "dump.kd_secondary_version", "2");
    assert_note(out, "dump.secondary_data_state", "0x0");
    assert_note(out, "dump.context_flags", "0x10001f");
    assert_note(out, "dump.mxcsr", "0x1f80");
    assert_note(out, "dump.fltsave_mxcsr", "0x1f80");
    assert_note(out, "dump.seg_cs", "0x10");
    assert_note(out, "dump.rip", "0xfffff8047ba01234");
    assert_note(out, "dump.rsp", "0x1004");
}

static void
check_cpu(const struct r2d_image *out)
{
    const struct r2d_cpu_state *cpu;

    assert_int_equal(r2d_image_cpu_count(out), 1);
    cpu = r2d_image_cpu(out, 0);
    assert_int_equal(cpu->rax, 0x1000);
    assert_int_equal(cpu->rcx, 0x1001);
    assert_int_equal(cpu->rdx, 0x1002);
    assert_int_equal(cpu->rbx, 0x1003);
    assert_int_equal(cpu->rsp, 0x1004);
    assert_int_equal(cpu->rbp, 0x1005);
    assert_int_equal(cpu->rsi, 0x1006);
    assert_int_equal(cpu->rdi, 0x1007);
    assert_int_equal(cpu->r8, 0x1008);
    assert_int_equal(cpu->r15, 0x100f);
    assert_int_equal(cpu->rip, 0xfffff8047ba01234);
    assert_int_equal(cpu->rflags, 0x246);
    assert_int_equal(cpu->cs.selector, 0x10);
    assert_int_equal(cpu->ss.selector, 0x18);
    assert_int_equal(cpu->fs.selector, 0x53);
    assert_int_equal(cpu->gs.selector, 0x2b);
    assert_int_equal(cpu->cr3, 0x1ad000);
}

/* Bytes of the header no field claims keep Windows' 'PAGE' fill; the named fields are what we set. */
static void
check_raw_header(const uint8_t *d, uint64_t size, uint32_t dump_type)
{
    assert_memory_equal(d, "PAGEDU64", 8);
    assert_int_equal(r2d_le32(d + 0xf98), dump_type);
    assert_int_equal(r2d_le64(d + 0xfa0), size);
    assert_int_equal(r2d_le32(d + 0x103c), 0); /* SecondaryDataState */
    assert_int_equal(d[0x104c], 0);            /* Unused1 */
    assert_int_equal(d[0x104d], 2);            /* KdSecondaryVersion, never 0x41 */
    assert_int_equal(r2d_le32(d + 0x1038), 0); /* MiniDumpFields */
    assert_int_equal(r2d_le32(d + 0x1048), 0); /* WriterStatus */
    assert_int_equal(r2d_le32(d + 0x3c), 0);
    assert_int_equal(r2d_le32(d + 0x8c), 0);
    assert_int_equal(r2d_le32(d + 0x344), 0);
    for (unsigned i = 0x60; i < 0x80; i++)
        assert_int_equal(d[i], 0); /* VersionUser */
    for (unsigned i = 0x348 + 0x4d0; i < 0xf00; i++)
        assert_int_equal(d[i], 0); /* rest of ContextRecord */
    for (unsigned i = 0x1058; i < 0x2000; i++)
        assert_int_equal(d[i], (uint8_t) "PAGE"[i & 3]);
    for (uint32_t i = r2d_le32(d + 0x88); i < 42; i++) /* unused run slots */
        for (unsigned j = 0; j < 16; j++)
            assert_int_equal(d[0x98 + 16 * i + j], 0);
}

/* Re-open path with "auto": the reader must be chosen, and every planned page must match. */
static void
verify_output(struct fixture *f, const struct r2d_write_result *res)
{
    size_t raw_len, out_len;
    uint8_t *raw = cdtest_read_file(f->raw_path, &raw_len);
    uint8_t *dmp = cdtest_read_file(f->out_path, &out_len);
    uint8_t want[PAGE], got[PAGE];
    struct r2d_image *out = NULL;
    struct stat st;
    uint64_t pages = 0;

    assert_int_equal(stat(f->out_path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, res->size);
    assert_int_equal(st.st_mode & 0007, 0); /* others get nothing */
    assert_int_equal(r2d_format_open(f->ctx, f->out_path, "auto", &out), 0);
    assert_string_equal(r2d_image_format_name(out), "crashdump");
    assert_int_equal(r2d_image_total_bytes(out), r2d_plan_page_count(f->plan) * PAGE);
    for (size_t k = 0; k < r2d_plan_range_count(f->plan); k++) {
        const struct r2d_page_range *g = r2d_plan_range(f->plan, k);

        for (uint64_t pfn = g->base_page; pfn < g->base_page + g->page_count; pfn++, pages++) {
            expected_page(f, raw, raw_len, pfn, want);
            assert_int_equal(r2d_image_read(f->ctx, out, pfn * PAGE, got, PAGE, R2D_HOLE_ERROR), 0);
            if (memcmp(want, got, PAGE) != 0)
                fail_msg("page 0x%" PRIx64 " differs", pfn);
        }
    }
    assert_int_equal(pages, res->pages); /* with the total above: nothing outside the plan */
    check_notes(f, out, res->dump_type, res->size);
    check_cpu(out);
    check_raw_header(dmp, res->size, res->dump_type);
    assert_int_equal(cdtest_count_entries(f->dir, ".part"), 0);
    r2d_image_free(out);
    free(raw);
    free(dmp);
}

static void
sha256_file(const char *path, char hex[65])
{
    size_t len;
    uint8_t *d = cdtest_read_file(path, &len);
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned n = 0;

    assert_int_equal(EVP_Digest(d, len, md, &n, EVP_sha256(), NULL), 1);
    for (unsigned i = 0; i < n; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
    free(d);
}

struct progress {
    uint64_t last, total, calls;
    int monotonic;
};

static void
on_progress(void *arg, uint64_t done, uint64_t total)
{
    struct progress *p = arg;

    if (done < p->last || done > total)
        p->monotonic = 0;
    p->last = done;
    p->total = total;
    p->calls++;
}

static void
full_dump_every_page_matches(void **state, enum r2d_hash_kind hash)
{
    struct fixture *f = *state;
    struct r2d_write_result res;
    struct progress prog = {.monotonic = 1};
    char want[65];

    build_plan(f);
    r2d_ctx_set_progress(f->ctx, on_progress, &prog);
    assert_int_equal(r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, 0, hash, &res), 0);
    assert_int_equal(res.dump_type, 1);
    assert_int_equal(res.header_runs, 3);
    assert_int_equal(res.pages, 0x100 + 0x1000 + 0x110);
    assert_int_equal(res.hole_pages, 0x100);
    assert_int_equal(res.patched_bytes, 8 + 16 + 16 + 16 + 4 + 4 + 32);
    assert_int_equal(res.size, 0x2000 + (uint64_t)res.pages * PAGE);
    assert_true(prog.monotonic);
    assert_int_equal(prog.last, res.size);
    assert_int_equal(prog.total, res.size);
    assert_true(prog.calls > 3);
    verify_output(f, &res);
    if (hash == R2D_HASH_SHA256) {
        sha256_file(f->out_path, want);
        assert_string_equal(res.digests.hex[0], want);
    } else {
        assert_string_equal(res.digests.hex[0], "");
    }
}

static void
full_dump_copy_path_every_page_matches(void **state)
{
    full_dump_every_page_matches(state, R2D_HASH_NONE);
}

static void
full_dump_hashed_every_page_matches_and_digest_is_right(void **state)
{
    full_dump_every_page_matches(state, R2D_HASH_SHA256);
}

/* 50 ranges with gaps of varied size (some of them one page), one big gap. */
static void
build_fragmented_plan(struct fixture *f)
{
    uint64_t base = 3;

    fill_header(f->plan);
    for (int i = 0; i < 50; i++) {
        const uint64_t count = 1 + (uint64_t)(i * 7 % 13);

        assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, base, count), 0);
        base += count + 1 + (uint64_t)(i * 5 % 11) + (i == 30 ? 0x800 : 0);
    }
    assert_int_equal(r2d_plan_range_count(f->plan), 50);
    add_patch(f, 3 * PAGE + 100, 20, "first range");
    add_patch(f, 3 * PAGE + 200, 20, "first range again");
}

static int
plan_has(const struct r2d_plan *plan, uint64_t pfn)
{
    for (size_t k = 0; k < r2d_plan_range_count(plan); k++) {
        const struct r2d_page_range *g = r2d_plan_range(plan, k);

        if (pfn >= g->base_page && pfn < g->base_page + g->page_count)
            return 1;
    }
    return 0;
}

/* The bitmap, bit by bit, and the merged header cover. */
static void
check_bitmap(struct fixture *f, const struct r2d_write_result *res)
{
    size_t len;
    uint8_t *d = cdtest_read_file(f->out_path, &len);
    const struct r2d_page_range *last = r2d_plan_range(f->plan, r2d_plan_range_count(f->plan) - 1);
    const uint64_t max_pfn = last->base_page + last->page_count - 1;
    const uint64_t bits = r2d_le64(d + 0x2030), first = r2d_le64(d + 0x2020);
    const uint32_t nruns = r2d_le32(d + 0x88);
    uint64_t set = 0, sum = 0, min_kept_gap = UINT64_MAX, max_merged_gap = 0;

    assert_memory_equal(d + 0x2000, "FDMPDUMP", 8);
    for (unsigned i = 0x2008; i < 0x2020; i++)
        assert_int_equal(d[i], 0);
    assert_int_equal(bits, (max_pfn + 1 + 63) / 64 * 64);
    assert_int_equal(first, (0x2038 + bits / 8 + 0xfff) & ~(uint64_t)0xfff);
    for (uint64_t i = 0x2038 + bits / 8; i < first; i++)
        assert_int_equal(d[i], 0);
    for (uint64_t pfn = 0; pfn < bits; pfn++) {
        const int bit = (d[0x2038 + pfn / 8] >> (pfn % 8)) & 1;

        if (bit != plan_has(f->plan, pfn))
            fail_msg("bitmap bit for PFN 0x%" PRIx64 " is %d", pfn, bit);
        set += (uint64_t)bit;
    }
    assert_int_equal(set, r2d_plan_page_count(f->plan));
    assert_int_equal(r2d_le64(d + 0x2028), set);
    assert_int_equal(len, first + set * PAGE);
    assert_int_equal(res->size, len);
    /* Header runs: at most 42, ascending, covering every range, merging only the smallest gaps. */
    assert_true(nruns <= 42);
    assert_int_equal(nruns, res->header_runs);
    assert_int_equal(nruns, r2d_plan_range_count(f->plan) > 42 ? 42 : r2d_plan_range_count(f->plan));
    for (uint32_t i = 0; i < nruns; i++) {
        const uint64_t b = r2d_le64(d + 0x98 + 16 * i), c = r2d_le64(d + 0xa0 + 16 * i);

        assert_true(c > 0);
        if (i > 0) {
            const uint64_t pb = r2d_le64(d + 0x98 + 16 * (i - 1)), pc = r2d_le64(d + 0xa0 + 16 * (i - 1));

            assert_true(pb + pc < b);
            if (b - (pb + pc) < min_kept_gap)
                min_kept_gap = b - (pb + pc);
        }
        sum += c;
    }
    assert_int_equal(r2d_le64(d + 0x90), sum);
    for (size_t k = 0; k < r2d_plan_range_count(f->plan); k++) {
        const struct r2d_page_range *g = r2d_plan_range(f->plan, k);
        int inside = 0;

        for (uint32_t i = 0; i < nruns; i++) {
            const uint64_t b = r2d_le64(d + 0x98 + 16 * i), c = r2d_le64(d + 0xa0 + 16 * i);

            if (g->base_page >= b && g->base_page + g->page_count <= b + c)
                inside = 1;
            /* A gap between ranges k and k + 1 inside one header run was merged. */
            if (k + 1 < r2d_plan_range_count(f->plan) && g->base_page >= b &&
                r2d_plan_range(f->plan, k + 1)->base_page < b + c) {
                const uint64_t gap =
                    r2d_plan_range(f->plan, k + 1)->base_page - (g->base_page + g->page_count);

                if (gap > max_merged_gap)
                    max_merged_gap = gap;
            }
        }
        assert_true(inside);
    }
    assert_true(max_merged_gap <= min_kept_gap);
    free(d);
}

static void
many_ranges_give_a_bitmap_dump(void **state)
{
    struct fixture *f = *state;
    struct r2d_write_result res;

    build_fragmented_plan(f);
    assert_int_equal(r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, 0, R2D_HASH_NONE, &res), 0);
    assert_int_equal(res.dump_type, 5);
    assert_int_equal(res.header_runs, 42);
    check_bitmap(f, &res);
    verify_output(f, &res);
}

static void
forced_bitmap_with_few_ranges_and_hash(void **state)
{
    struct fixture *f = *state;
    struct r2d_write_result res;
    char want[65];

    build_plan(f);
    r2d_plan_set_dump_type(f->plan, R2D_DUMP_BITMAP);
    assert_int_equal(r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, 0, R2D_HASH_SHA256, &res), 0);
    assert_int_equal(res.dump_type, 5);
    assert_int_equal(res.header_runs, 3);
    assert_int_equal(res.hole_pages, 0x100);
    check_bitmap(f, &res);
    verify_output(f, &res);
    sha256_file(f->out_path, want);
    assert_string_equal(res.digests.hex[0], want);
}

static void
forced_full_dump_with_43_ranges_is_refused(void **state)
{
    struct fixture *f = *state;
    struct r2d_write_result res;

    fill_header(f->plan);
    for (uint64_t i = 0; i < 43; i++)
        assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 2 * i, 1), 0);
    r2d_plan_set_dump_type(f->plan, R2D_DUMP_FULL);
    assert_int_equal(r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, 0, R2D_HASH_NONE, &res),
                     R2D_EINVAL);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "at most 42 runs"));
    assert_non_null(strstr(r2d_errmsg(f->ctx), "43 ranges"));
    assert_int_equal(cdtest_count_entries(f->dir, "mem.dmp"), 0);
    /* 42 ranges fit. */
    r2d_plan_clear_ranges(f->plan);
    for (uint64_t i = 0; i < 42; i++)
        assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 2 * i, 1), 0);
    assert_int_equal(r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, 0, R2D_HASH_NONE, &res), 0);
    assert_int_equal(res.header_runs, 42);
    verify_output(f, &res);
}

static void
existing_output_is_kept_without_force_and_replaced_with_it(void **state)
{
    struct fixture *f = *state;
    struct r2d_write_result res;
    size_t len;
    uint8_t *d;

    build_plan(f);
    cdtest_write_file(f->out_path, "precious", 8);
    assert_int_equal(r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, 0, R2D_HASH_NONE, &res),
                     R2D_EEXIST);
    assert_non_null(strstr(r2d_errmsg(f->ctx), f->out_path));
    d = cdtest_read_file(f->out_path, &len);
    assert_int_equal(len, 8);
    assert_memory_equal(d, "precious", 8);
    free(d);
    assert_int_equal(cdtest_count_entries(f->dir, ".part"), 0);
    assert_int_equal(r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, 1, R2D_HASH_NONE, &res), 0);
    verify_output(f, &res);
}

/* In a child limited to 1 MiB files (SIGXFSZ ignored): the write must fail with R2D_ENOSPC. */
static int
disk_full_child(struct fixture *f, enum r2d_hash_kind hash)
{
    const struct rlimit lim = {1u << 20, 1u << 20};
    struct r2d_write_result res;
    int rc;

    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
        return 10;
    rc = r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, 0, hash, &res);
    if (rc != R2D_ENOSPC) {
        fprintf(stderr, "rc %d: %s\n", rc, r2d_errmsg(f->ctx));
        return 11;
    }
    if (!strstr(r2d_errmsg(f->ctx), f->out_path) || !strstr(r2d_errmsg(f->ctx), "disk full")) {
        fprintf(stderr, "message: %s\n", r2d_errmsg(f->ctx));
        return 12;
    }
    return 0;
}

static void
disk_full_leaves_nothing(void **state)
{
    struct fixture *f = *state;

    build_plan(f);
    for (int hash = 0; hash <= 1; hash++) {
        int status;
        const pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0)
            _exit(disk_full_child(f, hash ? R2D_HASH_SHA256 : R2D_HASH_NONE));
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_int_equal(cdtest_count_entries(f->dir, ".part"), 0);
        assert_int_equal(cdtest_count_entries(f->dir, "mem.dmp"), 0);
    }
}

struct cancel_after {
    volatile sig_atomic_t flag;
    int calls, after;
};

static void
on_progress_cancel(void *arg, uint64_t done, uint64_t total)
{
    struct cancel_after *c = arg;

    if (++c->calls >= c->after)
        c->flag = 1;
}

static void
cancel_mid_write_leaves_nothing(void **state)
{
    struct fixture *f = *state;
    struct r2d_write_result res;

    build_plan(f);
    for (int hash = 0; hash <= 1; hash++) {
        struct cancel_after c = {.flag = 0, .after = 3};

        r2d_ctx_set_cancel_flag(f->ctx, &c.flag);
        r2d_ctx_set_progress(f->ctx, on_progress_cancel, &c);
        assert_int_equal(r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, 0,
                                             hash ? R2D_HASH_SHA256 : R2D_HASH_NONE, &res),
                         R2D_ECANCELED);
        assert_string_equal(r2d_errmsg(f->ctx), "interrupted");
        assert_int_equal(c.calls, 3);
        assert_int_equal(cdtest_count_entries(f->dir, ".part"), 0);
        assert_int_equal(cdtest_count_entries(f->dir, "mem.dmp"), 0);
    }
    r2d_ctx_set_cancel_flag(f->ctx, NULL);
    r2d_ctx_set_progress(f->ctx, NULL, NULL);
}

static void
patch_outside_the_ranges_is_refused(void **state)
{
    struct fixture *f = *state;
    struct r2d_write_result res;

    build_plan(f);
    add_patch(f, 0x150 * PAGE, 4, "nowhere");
    assert_int_equal(r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, 0, R2D_HASH_NONE, &res),
                     R2D_EINVAL);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "nowhere"));
    assert_int_equal(cdtest_count_entries(f->dir, "mem.dmp"), 0);
}

static void
mismatched_mxcsr_and_empty_plan_are_refused(void **state)
{
    struct fixture *f = *state;
    struct r2d_write_result res;

    fill_header(f->plan);
    assert_int_equal(r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, 0, R2D_HASH_NONE, &res),
                     R2D_EINVAL);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "no pages"));
    assert_int_equal(r2d_plan_add_range(f->ctx, f->plan, 0, 1), 0);
    r2d_put_le32(r2d_plan_header(f->plan)->context + 0x118, 0x1f81);
    assert_int_equal(r2d_crashdump_write(f->ctx, f->img, f->plan, f->out_path, 0, R2D_HASH_NONE, &res),
                     R2D_EINVAL);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "MxCsr"));
    assert_int_equal(cdtest_count_entries(f->dir, "mem.dmp"), 0);
    assert_int_equal(cdtest_count_entries(f->dir, ".part"), 0);
}

static void
output_layer_rules(void **state)
{
    struct fixture *f = *state;
    struct r2d_output *o = NULL;
    char *sub = cdtest_path(f->dir, "sub");
    char *slash = cdtest_path(f->dir, "sub/");
    struct r2d_digest_hex hex;
    size_t len;
    uint8_t *d;

    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(r2d_output_open(f->ctx, sub, 1, R2D_HASH_NONE, &o), R2D_EINVAL);
    assert_null(o);
    assert_int_equal(r2d_output_open(f->ctx, slash, 1, R2D_HASH_NONE, &o), R2D_EINVAL);
    assert_int_equal(rmdir(sub), 0);
    /* pwrite is refused while hashing; allowed (within what was written) otherwise. */
    assert_int_equal(r2d_output_open(f->ctx, f->out_path, 0, R2D_HASH_SHA256, &o), 0);
    assert_int_equal(r2d_output_write(f->ctx, o, "abcd", 4), 0);
    assert_int_equal(r2d_output_pwrite(f->ctx, o, 0, "x", 1), R2D_EINVAL);
    r2d_output_abort(o);
    assert_int_equal(cdtest_count_entries(f->dir, ".part"), 0);
    assert_int_equal(r2d_output_open(f->ctx, f->out_path, 0, R2D_HASH_NONE, &o), 0);
    assert_int_equal(cdtest_count_entries(f->dir, ".mem.dmp."), 1);
    assert_int_equal(r2d_output_write(f->ctx, o, "abcd", 4), 0);
    assert_int_equal(r2d_output_copy(f->ctx, o, r2d_bytesrc_fd(r2d_image_input(f->img)), f->raw_path, 8, 4), 0);
    assert_int_equal(r2d_output_pwrite(f->ctx, o, 1, "XY", 2), 0);
    assert_int_equal(r2d_output_pwrite(f->ctx, o, 7, "XY", 2), R2D_EINVAL);
    assert_int_equal(r2d_output_size(o), 8);
    /* An output that appears meanwhile is not replaced at commit. */
    cdtest_write_file(f->out_path, "late", 4);
    assert_int_equal(r2d_output_commit(f->ctx, o, &hex), R2D_EEXIST);
    d = cdtest_read_file(f->out_path, &len);
    assert_int_equal(len, 4);
    free(d);
    assert_int_equal(cdtest_count_entries(f->dir, ".part"), 0);
    unlink(f->out_path);
    /* Copy past the input's end is a truncation error. */
    assert_int_equal(r2d_output_open(f->ctx, f->out_path, 0, R2D_HASH_NONE, &o), 0);
    assert_int_equal(
        r2d_output_copy(f->ctx, o, r2d_bytesrc_fd(r2d_image_input(f->img)), f->raw_path, (uint64_t)RAW_PAGES * PAGE - 2, 4),
        R2D_ETRUNC);
    r2d_output_abort(o);
    assert_int_equal(cdtest_count_entries(f->dir, ".part"), 0);
    r2d_output_abort(NULL);
    free(sub);
    free(slash);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(full_dump_copy_path_every_page_matches, setup, teardown),
        cmocka_unit_test_setup_teardown(full_dump_hashed_every_page_matches_and_digest_is_right, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(many_ranges_give_a_bitmap_dump, setup, teardown),
        cmocka_unit_test_setup_teardown(forced_bitmap_with_few_ranges_and_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(forced_full_dump_with_43_ranges_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(existing_output_is_kept_without_force_and_replaced_with_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(disk_full_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_mid_write_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(patch_outside_the_ranges_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(mismatched_mxcsr_and_empty_plan_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(output_layer_rules, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
