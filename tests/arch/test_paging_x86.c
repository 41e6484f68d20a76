/* SPDX-License-Identifier: MIT */
/*
 * 32-bit x86 paging through the arch layer, on hand-built tables in a raw image: without PAE (4-byte entries,
 * 4 MiB pages with PSE-36 high bits, the 0xC0000000 self-map) and with PAE (a 32-byte aligned PDPT, 8-byte
 * entries, 2 MiB pages, NX and PAT bits that are not address bits).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bytes.h"
#include "format.h"
#include "image.h"
#include "mmu.h"

#define MEM_SIZE (8u << 20)
#define P 0x1u
#define RW 0x2u
#define PS 0x80u

struct fixture {
    char path[64];
    uint8_t *mem;
    struct r2d_ctx *ctx;
    struct r2d_image *img;
};

static void
put32(uint8_t *mem, uint64_t table, unsigned idx, uint32_t v)
{
    r2d_put_le32(mem + table + 4 * idx, v);
}

static void
put64(uint8_t *mem, uint64_t table, unsigned idx, uint64_t v)
{
    r2d_put_le64(mem + table + 8 * idx, v);
}

/*
 * Non-PAE, PD at 0x1000: PD[0] -> PT 0x2000 (PT[5] -> 0x100000), PD[1] -> 4 MiB page at 0x400000,
 * PD[2] -> 4 MiB page at 0x1'00800000 (PSE-36: entry bit 13 is physical bit 32), PD[0x300] -> the PD itself.
 * PAE, PDPT at 0x3020: PDPT[0] -> PD 0x4000, PDPT[3] -> PD 0x6000; PD 0x4000: [0] -> PT 0x5000,
 * [1] -> 2 MiB page at 0x200000 with the PAT bit; PD 0x6000: [0] -> PT 0x5000; PT 0x5000: [5] -> 0x100000 NX.
 */
static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    FILE *fp;

    f->mem = calloc(1, MEM_SIZE);
    put32(f->mem, 0x1000, 0, 0x2000 | P | RW);
    put32(f->mem, 0x2000, 5, 0x100000 | P);
    put32(f->mem, 0x1000, 1, 0x400000 | P | RW | PS);
    put32(f->mem, 0x1000, 2, 0x00800000 | 1u << 13 | P | RW | PS);
    put32(f->mem, 0x1000, 0x300, 0x1000 | P | RW);
    put64(f->mem, 0x3020, 0, 0x4000 | P);
    put64(f->mem, 0x3020, 3, 0x6000 | P);
    put64(f->mem, 0x4000, 0, 0x5000 | P | RW);
    put64(f->mem, 0x4000, 1, 0x200000 | 0x1000 | P | RW | PS);
    put64(f->mem, 0x6000, 0, 0x5000 | P | RW);
    put64(f->mem, 0x5000, 5, 0x100000 | P | 1ull << 63);
    for (unsigned i = 0; i < 4096; i++)
        f->mem[0x100000 + i] = (uint8_t)(i * 3);
    snprintf(f->path, sizeof(f->path), "/tmp/r2d-x86-%d.raw", (int)getpid());
    fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(f->mem, 1, MEM_SIZE, fp), MEM_SIZE);
    fclose(fp);
    f->ctx = r2d_ctx_new();
    assert_int_equal(r2d_format_open(f->ctx, f->path, "raw", &f->img), 0);
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
expect(const struct r2d_mmu *mmu, uint64_t va, uint64_t want_pa, uint64_t want_size)
{
    uint64_t pa = 0, size = 0;

    assert_int_equal(r2d_mmu_translate(mmu, va, &pa, &size), 0);
    assert_true(pa == want_pa);
    assert_true(size == want_size);
}

static void
test_x86_translates_4k_4m_and_pse36(void **state)
{
    struct fixture *f = *state;
    struct r2d_mmu mmu;
    uint64_t pa;
    uint8_t b[4];

    r2d_mmu_init(&mmu, f->ctx, f->img, R2D_PAGING_X86, 0x1000 | 0x18 /* PCD/PWT bits are masked */);
    assert_string_equal(r2d_mmu_mode_name(&mmu), "x86");
    assert_int_equal(r2d_mmu_pointer_size(&mmu), 4);
    expect(&mmu, 0x5123, 0x100123, 0x1000);
    expect(&mmu, 0x412345, 0x412345, 0x400000);
    expect(&mmu, 0x800010, 0x100800010ull, 0x400000);
    assert_int_equal(r2d_mmu_read(&mmu, 0x5001, b, sizeof(b)), 0);
    assert_int_equal(b[0], 3);
    assert_int_equal(b[3], 12);
    /* Not present at the PD, then at the PT; and an address past 32 bits is not an x86 address. */
    assert_int_equal(r2d_mmu_translate(&mmu, 0x10000000, &pa, NULL), R2D_ENOVA);
    assert_int_equal(r2d_mmu_translate(&mmu, 0x6000, &pa, NULL), R2D_ENOVA);
    assert_false(r2d_mmu_canonical(&mmu, 0x100000000ull));
    assert_true(r2d_mmu_canonical(&mmu, 0xffffffffull));
}

static void
test_x86_self_map_is_0xc0000000(void **state)
{
    struct fixture *f = *state;
    struct r2d_mmu mmu;
    unsigned slot = 0;

    r2d_mmu_init(&mmu, f->ctx, f->img, R2D_PAGING_X86, 0x1000);
    assert_int_equal(r2d_mmu_self_map_slots(&mmu, &slot), 1);
    assert_int_equal(slot, 0x300);
    assert_true(r2d_mmu_self_map_base(&mmu, slot) == 0xc0000000ull);
    /* Through the self-map, the PD's own entries appear at 0xC0300000 + 4 * index. */
    expect(&mmu, 0xc0300000ull + 4 * 0x300, 0x1000 + 4 * 0x300, 0x1000);
}

static void
test_pae_translates_through_an_unaligned_pdpt(void **state)
{
    struct fixture *f = *state;
    struct r2d_mmu mmu;
    uint64_t pa;

    r2d_mmu_init(&mmu, f->ctx, f->img, R2D_PAGING_X86_PAE, 0x3020);
    assert_string_equal(r2d_mmu_mode_name(&mmu), "x86 PAE");
    expect(&mmu, 0x5abc, 0x100abc, 0x1000);          /* NX (bit 63) is not an address bit */
    expect(&mmu, 0x234567, 0x234567, 0x200000);      /* PAT (bit 12) of a 2 MiB entry either */
    expect(&mmu, 0xc0005004ull, 0x100004, 0x1000);   /* PDPT[3]: the kernel quarter */
    assert_int_equal(r2d_mmu_translate(&mmu, 0x40000000, &pa, NULL), R2D_ENOVA); /* PDPT[1] not present */
    /* The sign-extended form Windows' 64-bit structures hold is the same address; other high bits are not. */
    assert_true(r2d_mmu_canonical(&mmu, 0xffffffffc0000000ull));
    expect(&mmu, 0xffffffffc0005004ull, 0x100004, 0x1000);
    assert_false(r2d_mmu_canonical(&mmu, 0xffffffff40000000ull));
    assert_false(r2d_mmu_canonical(&mmu, 0x00000001c0000000ull));
    assert_int_equal(r2d_mmu_translate(&mmu, 0xffffffff40005000ull, &pa, NULL), R2D_ENOVA);
}

struct walk_count {
    unsigned leaves;
    uint64_t last_va, last_pa, last_size;
};

static int
count_leaf(void *arg, uint64_t va, uint64_t pa, uint64_t size)
{
    struct walk_count *w = arg;

    w->leaves++;
    w->last_va = va;
    w->last_pa = pa;
    w->last_size = size;
    return 0;
}

static void
test_walks_visit_32_bit_addresses(void **state)
{
    struct fixture *f = *state;
    struct r2d_mmu mmu;
    struct walk_count w = {0};

    r2d_mmu_init(&mmu, f->ctx, f->img, R2D_PAGING_X86_PAE, 0x3020);
    assert_int_equal(r2d_mmu_walk(&mmu, 0xc0000000ull, 0x100000000ull, 1000, count_leaf, &w), 0);
    assert_int_equal(w.leaves, 1);
    assert_true(w.last_va == 0xc0005000ull && w.last_pa == 0x100000 && w.last_size == 0x1000);
    memset(&w, 0, sizeof(w));
    r2d_mmu_init(&mmu, f->ctx, f->img, R2D_PAGING_X86, 0x1000);
    assert_int_equal(r2d_mmu_walk(&mmu, 0, 0xc0000000ull, 1000, count_leaf, &w), 0);
    assert_int_equal(w.leaves, 3); /* PT[5], the 4 MiB page at 0x400000, the PSE-36 page */
    assert_true(w.last_va == 0x800000 && w.last_pa == 0x100800000ull && w.last_size == 0x400000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_x86_translates_4k_4m_and_pse36, setup, teardown),
        cmocka_unit_test_setup_teardown(test_x86_self_map_is_0xc0000000, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pae_translates_through_an_unaligned_pdpt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walks_visit_32_bit_addresses, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
