/* SPDX-License-Identifier: MIT */
/* x64 translation over a raw image whose page tables are written by the test, entry by entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mmu.h"
#include "bytes.h"
#include "format.h"
#include "image.h"

#define MEM_SIZE (8u << 20)
#define PML4 0x1000u
#define PDPT 0x2000u
#define PD 0x3000u
#define PT 0x4000u
#define P 0x1u
#define RW 0x2u
#define PS 0x80u

struct fixture {
    char path[64];
    uint8_t *mem;
    struct r2d_ctx *ctx;
    struct r2d_image *img;
    struct r2d_mmu mmu;
};

static void
pte(uint8_t *mem, uint64_t table, unsigned idx, uint64_t value)
{
    r2d_put_le64(mem + table + 8 * idx, value);
}

/*
 * dtb 0x1000
 * PML4[0]     -> PDPT 0x2000
 * PML4[0x1ff] -> PDPT 0x2000          kernel half, same tables (VA 0xffffff80'00000000)
 * PDPT[0]     -> PD 0x3000
 * PDPT[1]     -> 1 GiB page at 0       (PS): VA 0x40000000 + x = x
 * PD[0]       -> PT 0x4000
 * PD[1]       -> 2 MiB page at 0x400000 (PS, PAT bit 12 set: must be ignored)
 * PT[5]       -> 0x100000, PT[6] -> 0x7000 (virtual neighbours, physically apart), PT[7] not present
 */
static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    FILE *fp;

    f->mem = calloc(1, MEM_SIZE);
    pte(f->mem, PML4, 0, PDPT | P | RW);
    pte(f->mem, PML4, 0x1ff, PDPT | P | RW);
    pte(f->mem, PDPT, 0, PD | P | RW);
    pte(f->mem, PDPT, 1, 0 | P | RW | PS);
    pte(f->mem, PD, 0, PT | P | RW);
    pte(f->mem, PD, 1, 0x400000 | 0x1000 | P | RW | PS);
    pte(f->mem, PT, 5, 0x100000 | P);
    pte(f->mem, PT, 6, 0x7000 | P);
    for (unsigned i = 0; i < 4096; i++) {
        f->mem[0x100000 + i] = (uint8_t)i;
        f->mem[0x7000 + i] = (uint8_t)(0x80 + i);
    }
    snprintf(f->path, sizeof(f->path), "/tmp/r2d-mmu-%d.raw", (int)getpid());
    fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(f->mem, 1, MEM_SIZE, fp), MEM_SIZE);
    fclose(fp);
    f->ctx = r2d_ctx_new();
    assert_int_equal(r2d_format_open(f->ctx, f->path, "raw", &f->img), 0);
    r2d_mmu_init(&f->mmu, f->ctx, f->img, R2D_PAGING_X64, PML4 | 0x5 /* PCID bits are masked */);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    r2d_image_free(f->img);
    r2d_ctx_free(f->ctx);
    unlink(f->path);
    free(f->mem);
    free(f);
    return 0;
}

static void
test_4k_page_translates(void **state)
{
    struct fixture *f = *state;
    uint64_t pa, size;

    assert_int_equal(r2d_mmu_translate(&f->mmu, 0x5123, &pa, &size), 0);
    assert_int_equal(pa, 0x100123);
    assert_int_equal(size, 0x1000);
}

static void
test_2m_page_ignores_pat_bit(void **state)
{
    struct fixture *f = *state;
    uint64_t pa, size;

    assert_int_equal(r2d_mmu_translate(&f->mmu, 0x200000 + 0x12345, &pa, &size), 0);
    assert_int_equal(pa, 0x400000 + 0x12345);
    assert_int_equal(size, 0x200000);
}

static void
test_1g_page_translates(void **state)
{
    struct fixture *f = *state;
    uint64_t pa, size;

    assert_int_equal(r2d_mmu_translate(&f->mmu, 0x40000000 + 0x7abc, &pa, &size), 0);
    assert_int_equal(pa, 0x7abc);
    assert_int_equal(size, 0x40000000);
}

static void
test_kernel_half_is_sign_extended(void **state)
{
    struct fixture *f = *state;
    uint64_t pa;

    assert_int_equal(r2d_mmu_translate(&f->mmu, 0xffffff8000005010ull, &pa, NULL), 0);
    assert_int_equal(pa, 0x100010);
}

static void
test_non_canonical_address_is_refused(void **state)
{
    struct fixture *f = *state;
    uint64_t pa;

    assert_int_equal(r2d_mmu_translate(&f->mmu, 0x0000800000000000ull, &pa, NULL), R2D_ENOVA);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "not canonical"));
    assert_false(r2d_mmu_canonical(&f->mmu, 0xfff0800000000000ull));
    assert_true(r2d_mmu_canonical(&f->mmu, 0xffff800000000000ull));
}

static void
test_not_present_entry_names_level(void **state)
{
    struct fixture *f = *state;
    uint64_t pa;

    assert_int_equal(r2d_mmu_translate(&f->mmu, 0x7000, &pa, NULL), R2D_ENOVA);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "PT entry 7"));
    assert_int_equal(r2d_mmu_translate(&f->mmu, 0x0000008000000000ull, &pa, NULL), R2D_ENOVA);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "PML4 entry 1"));
}

static void
test_read_spanning_pages_translates_each(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[32];

    /* 16 bytes at the end of VA page 5 (PA 0x100ff0) then 16 at the start of VA page 6 (PA 0x7000). */
    assert_int_equal(r2d_mmu_read(&f->mmu, 0x5ff0, buf, sizeof(buf)), 0);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(buf[i], (uint8_t)(0xff0 + i));
        assert_int_equal(buf[16 + i], (uint8_t)(0x80 + i));
    }
}

static void
test_read_into_unmapped_page_fails(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[32];

    assert_int_equal(r2d_mmu_read(&f->mmu, 0x6ff0, buf, sizeof(buf)), R2D_ENOVA);
}

static void
test_table_outside_image_is_a_hole(void **state)
{
    struct fixture *f = *state;
    struct r2d_mmu far;
    uint64_t pa;

    r2d_mmu_init(&far, f->ctx, f->img, R2D_PAGING_X64, 0x40000000);
    assert_int_equal(r2d_mmu_translate(&far, 0x1000, &pa, NULL), R2D_EHOLE);
}

struct walk_count {
    unsigned leaves;
    uint64_t first_va;
};

static int
count_leaf(void *arg, uint64_t va, uint64_t pa, uint64_t size)
{
    struct walk_count *w = arg;

    if (w->leaves++ == 0)
        w->first_va = va;
    return 0;
}

static void
test_walk_is_bounded_and_ordered(void **state)
{
    struct fixture *f = *state;
    struct walk_count w = {0, 0};

    /* Kernel half: PML4[0x1ff] -> the same PDPT: PT[5], PT[6], the 2 MiB page and the 1 GiB page. */
    assert_int_equal(r2d_mmu_walk(&f->mmu, 0xffff800000000000ull, UINT64_MAX, 1000, count_leaf, &w), 0);
    assert_int_equal(w.leaves, 4);
    assert_int_equal(w.first_va, 0xffffff8000005000ull);
    w.leaves = 0;
    /* A budget of 3 visits stops early without error. */
    assert_int_equal(r2d_mmu_walk(&f->mmu, 0xffff800000000000ull, UINT64_MAX, 3, count_leaf, &w), 0);
    assert_true(w.leaves < 4);
}

static void
test_walk_skips_tables_outside_image_without_error(void **state)
{
    struct fixture *f = *state;
    struct walk_count w = {0, 0};

    /* PD[2] points far past the 8 MiB image: the walk skips it and leaves no message behind. */
    r2d_put_le64(f->mem + PD + 8 * 2, 0x7ff000000ull | P | RW);
    {
        FILE *fp = fopen(f->path, "r+b");

        assert_non_null(fp);
        assert_int_equal(fseek(fp, PD + 8 * 2, SEEK_SET), 0);
        assert_int_equal(fwrite(f->mem + PD + 8 * 2, 1, 8, fp), 8);
        fclose(fp);
    }
    assert_int_equal(r2d_mmu_walk(&f->mmu, 0, 0x40000000ull, 1000, count_leaf, &w), 0);
    assert_int_equal(w.leaves, 3); /* PT[5], PT[6] and the 2 MiB page */
    assert_string_equal(r2d_errmsg(f->ctx), "");
}

static void
test_self_map_slot_and_base(void **state)
{
    struct fixture *f = *state;
    struct r2d_mmu selfmap;
    unsigned slot = 0;
    FILE *fp;

    /* No kernel-half entry of the PML4 points at the PML4 itself yet. */
    assert_int_equal(r2d_mmu_self_map_slots(&f->mmu, &slot), 0);
    /* A self-map at slot 0x1ed (Windows 10's classic 0xFFFFF6FB'7DBED000 tables start at slot 0x1ed). */
    r2d_put_le64(f->mem + PML4 + 8 * 0x1ed, PML4 | P | RW);
    fp = fopen(f->path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, PML4 + 8 * 0x1ed, SEEK_SET), 0);
    assert_int_equal(fwrite(f->mem + PML4 + 8 * 0x1ed, 1, 8, fp), 8);
    fclose(fp);
    r2d_image_free(f->img);
    assert_int_equal(r2d_format_open(f->ctx, f->path, "raw", &f->img), 0);
    r2d_mmu_init(&selfmap, f->ctx, f->img, R2D_PAGING_X64, PML4);
    assert_int_equal(r2d_mmu_self_map_slots(&selfmap, &slot), 1);
    assert_int_equal(slot, 0x1ed);
    /* The PTE base of that slot: slot << 39, sign-extended from bit 47. */
    assert_true(r2d_mmu_self_map_base(&selfmap, slot) == 0xfffff68000000000ull);
    assert_true(r2d_mmu_self_map_base(&selfmap, 0x100) == 0xffff800000000000ull);
    assert_int_equal(r2d_mmu_pointer_size(&selfmap), 8);
    assert_string_equal(r2d_mmu_mode_name(&selfmap), "x64 4-level");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_4k_page_translates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_2m_page_ignores_pat_bit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_1g_page_translates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kernel_half_is_sign_extended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_canonical_address_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_present_entry_names_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_spanning_pages_translates_each, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_into_unmapped_page_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_outside_image_is_a_hole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_is_bounded_and_ordered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_skips_tables_outside_image_without_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_map_slot_and_base, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
