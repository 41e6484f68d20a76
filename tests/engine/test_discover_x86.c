/* SPDX-License-Identifier: MIT */
/*
 * Page-table discovery for 32-bit guests on hand-built memory (docs/reference/discovery.md 4.4): the paging
 * mode from CR0/CR4/long mode, the non-PAE self-map (PDE 0x300), the PAE self-map (PD 3 entries 0-3 map the
 * four directories at 0xC0600000) found without registers, each accepted only when KUSER_SHARED_DATA at
 * 0xFFDF0000 holds an NT version; and hostile tables: a directory that maps itself everywhere, entries past
 * the image, PDPT entries with reserved bits.
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

#include "analysis.h"
#include "bytes.h"
#include "format.h"
#include "image.h"

#define MEM_SIZE (8u << 20)
#define P 0x1u
#define RW 0x2u
#define US 0x4u
#define PS 0x80u

/* The layout every image shares: KUSER_SHARED_DATA's page and one page of kernel code. */
#define KUSER_PA 0x41000u
#define NONPAE_PD 0x39000u
#define NONPAE_PT_TOP 0x3a000u  /* PT for 0xFFC00000-0xFFFFFFFF */
#define NONPAE_PT_USER 0x3b000u /* PT for 0x7FC00000-0x7FFFFFFF */
#define PAE_PDPT 0x31a020u      /* 32-byte aligned inside a page, as Windows places it */
#define PAE_PD0 0x320000u       /* PD0-PD3 at 0x320000 + i * 0x1000 */
#define PAE_PT_TOP 0x324000u    /* PT for 0xFFC00000-0xFFDFFFFF */
#define PAE_PT_USER 0x325000u   /* PT for 0x7FE00000-0x7FFFFFFF */

struct fixture {
    char path[64];
    uint8_t *mem;
    struct r2d_ctx *ctx;
    struct r2d_image *img;
    struct r2d_options opts;
    struct r2d_analysis a;
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

static void
kuser(uint8_t *mem, uint32_t major, uint32_t minor)
{
    r2d_put_le32(mem + KUSER_PA + 0x26c, major);
    r2d_put_le32(mem + KUSER_PA + 0x270, minor);
    r2d_put_le32(mem + KUSER_PA + 0x2b4, 0x7ffeffffu);
}

/* Non-PAE: PD at NONPAE_PD mapping itself at PDE 0x300, KUSER at 0xFFDF0000 and 0x7FFE0000, 4 MiB kernel
 * pages at 0x80000000-0x8FFFFFFF (system-half tables a Windows PD has). */
static void
build_nonpae(uint8_t *mem, int self_map)
{
    if (self_map)
        put32(mem, NONPAE_PD, 0x300, NONPAE_PD | P | RW);
    for (unsigned i = 0; i < 4; i++)
        put32(mem, NONPAE_PD, 0x200 + i, (0x400000u * (i + 1)) | P | RW | PS);
    put32(mem, NONPAE_PD, 0x3ff, NONPAE_PT_TOP | P | RW);
    put32(mem, NONPAE_PT_TOP, (0xffdf0000u >> 12) & 0x3ff, KUSER_PA | P);
    put32(mem, NONPAE_PD, 0x1ff, NONPAE_PT_USER | P | RW | US);
    put32(mem, NONPAE_PT_USER, (0x7ffe0000u >> 12) & 0x3ff, KUSER_PA | P | US);
}

/* PAE: PDPT naming PD0-PD3, PD3[0..3] = PD0-PD3 (the 0xC0600000 self-map), KUSER mapped. */
static void
build_pae(uint8_t *mem, uint64_t pdpt_flags)
{
    for (unsigned i = 0; i < 4; i++) {
        put64(mem, PAE_PDPT, i, (PAE_PD0 + 0x1000u * i) | P | pdpt_flags);
        put64(mem, PAE_PD0 + 0x3000u, i, (PAE_PD0 + 0x1000u * i) | P | RW);
    }
    put64(mem, PAE_PD0 + 0x2000u, 0, 0x400000u | P | RW | PS); /* kernel 2 MiB page at 0x80000000 */
    put64(mem, PAE_PD0 + 0x3000u, (0xffdf0000u >> 21) & 0x1ff, PAE_PT_TOP | P | RW);
    put64(mem, PAE_PT_TOP, (0xffdf0000u >> 12) & 0x1ff, KUSER_PA | P | 1ull << 63);
    put64(mem, PAE_PD0 + 0x1000u, (0x7ffe0000u >> 21) & 0x1ff, PAE_PT_USER | P | RW | US);
    put64(mem, PAE_PT_USER, (0x7ffe0000u >> 12) & 0x1ff, KUSER_PA | P | US);
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->mem = calloc(1, MEM_SIZE);
    assert_non_null(f->mem);
    snprintf(f->path, sizeof(f->path), "/tmp/r2d-discx86-%d.raw", (int)getpid());
    f->ctx = r2d_ctx_new();
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    r2d_analysis_free(&f->a);
    r2d_image_free(f->img);
    r2d_ctx_free(f->ctx);
    unlink(f->path);
    free(f->mem);
    free(f);
    return 0;
}

/* Write the memory as a raw image, open it and prepare an analysis over it. */
static void
open_image(struct fixture *f)
{
    FILE *fp = fopen(f->path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(f->mem, 1, MEM_SIZE, fp), MEM_SIZE);
    fclose(fp);
    assert_int_equal(r2d_format_open(f->ctx, f->path, "raw", &f->img), 0);
    r2d_analysis_init(&f->a, f->ctx, &f->opts, f->img);
}

static void
add_cpu(struct fixture *f, uint64_t cr0, uint64_t cr3, uint64_t cr4, uint32_t flags)
{
    struct r2d_cpu_state cpu;

    memset(&cpu, 0, sizeof(cpu));
    cpu.cr0 = cr0;
    cpu.cr3 = cr3;
    cpu.cr4 = cr4;
    cpu.flags = flags;
    cpu.cs.selector = 8; /* CPL 0 */
    assert_int_equal(r2d_image_add_cpu(f->ctx, f->img, &cpu), 0);
}

static void
test_cpu_paging_bits(void **state)
{
    struct r2d_cpu_state cpu;
    enum r2d_paging p = R2D_PAGING_X64;
    char why[128];

    (void)state;
    memset(&cpu, 0, sizeof(cpu));
    assert_int_equal(r2d_cpu_paging(&cpu, &p, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "CR0.PG is clear"));
    cpu.cr0 = 0x80000011u;
    assert_int_equal(r2d_cpu_paging(&cpu, &p, why, sizeof(why)), 1);
    assert_int_equal(p, R2D_PAGING_X86);
    cpu.cr4 = 0x20;
    assert_int_equal(r2d_cpu_paging(&cpu, &p, why, sizeof(why)), 1);
    assert_int_equal(p, R2D_PAGING_X86_PAE);
    assert_non_null(strstr(why, "CR4.PAE set"));
    cpu.flags = R2D_CPU_LONG_MODE;
    assert_int_equal(r2d_cpu_paging(&cpu, &p, why, sizeof(why)), 1);
    assert_int_equal(p, R2D_PAGING_X64);
}

static void
test_nonpae_self_map_found_without_registers(void **state)
{
    struct fixture *f = *state;
    uint64_t pa = 0;

    build_nonpae(f->mem, 1);
    kuser(f->mem, 5, 1);
    open_image(f);
    assert_int_equal(r2d_discover_dtb(&f->a), 0);
    assert_int_equal(f->a.dtb, NONPAE_PD);
    assert_int_equal(f->a.paging, R2D_PAGING_X86);
    assert_int_equal(f->a.ptr_size, 4);
    assert_true(r2d_analysis_is_x86(&f->a));
    assert_int_equal(r2d_analysis_machine(&f->a), 0x14c);
    assert_non_null(strstr(f->a.paging_how, "0xC0300000"));
    assert_non_null(strstr(f->a.dtb_how, "also at user VA"));
    /* The sign-extended and the plain 32-bit forms translate alike. */
    assert_int_equal(r2d_mmu_translate(&f->a.mmu, R2D_KUSER_SHARED_DATA_X86, &pa, NULL), 0);
    assert_int_equal(pa, KUSER_PA);
    assert_int_equal(r2d_mmu_translate(&f->a.mmu, 0xffdf0000u, &pa, NULL), 0);
    assert_int_equal(pa, KUSER_PA);
}

static void
test_pae_self_map_found_without_registers(void **state)
{
    struct fixture *f = *state;

    build_pae(f->mem, 0);
    kuser(f->mem, 10, 0);
    open_image(f);
    assert_int_equal(r2d_discover_dtb(&f->a), 0);
    assert_int_equal(f->a.dtb, PAE_PDPT);
    assert_int_equal(f->a.paging, R2D_PAGING_X86_PAE);
    assert_int_equal(f->a.ptr_size, 4);
    assert_non_null(strstr(f->a.paging_how, "x86 PAE"));
    assert_non_null(strstr(f->a.dtb_how, "PAE PDPT at physical 0x31a020"));
}

static void
test_mode_from_registers(void **state)
{
    struct fixture *f = *state;

    build_pae(f->mem, 0);
    kuser(f->mem, 6, 1);
    open_image(f);
    add_cpu(f, 0x80000011u, PAE_PDPT | 0x18 /* PWT/PCD */, 0x20, 0);
    assert_int_equal(r2d_discover_dtb(&f->a), 0);
    assert_int_equal(f->a.paging, R2D_PAGING_X86_PAE);
    assert_int_equal(f->a.dtb, PAE_PDPT);
    assert_non_null(strstr(f->a.paging_how, "CR4.PAE set"));
    assert_non_null(strstr(f->a.dtb_how, "CR3 of CPU 0"));
}

static void
test_registers_name_the_wrong_mode(void **state)
{
    struct fixture *f = *state;

    /* A non-PAE directory, but the CPU claims PAE: its CR3 does not validate, and the scan finds the PD. */
    build_nonpae(f->mem, 1);
    kuser(f->mem, 6, 1);
    open_image(f);
    add_cpu(f, 0x80000011u, NONPAE_PD, 0x20, 0);
    assert_int_equal(r2d_discover_dtb(&f->a), 0);
    assert_int_equal(f->a.paging, R2D_PAGING_X86);
    assert_non_null(strstr(f->a.dtb_how, "self-mapping x86 page directory"));
}

static void
test_dtb_option_tries_each_mode(void **state)
{
    struct fixture *f = *state;

    build_pae(f->mem, 0);
    kuser(f->mem, 10, 0);
    f->opts.have_dtb = 1;
    f->opts.dtb = PAE_PDPT;
    open_image(f);
    assert_int_equal(r2d_discover_dtb(&f->a), 0);
    assert_int_equal(f->a.paging, R2D_PAGING_X86_PAE);
    assert_non_null(strstr(f->a.paging_how, "tried x64, then x86 PAE"));
}

static void
test_no_nt_version_is_rejected(void **state)
{
    struct fixture *f = *state;

    build_nonpae(f->mem, 1);
    kuser(f->mem, 4, 0); /* NT 4 is not a version raw2dmp accepts */
    open_image(f);
    assert_int_equal(r2d_discover_dtb(&f->a), R2D_ENOTFOUND);
    assert_int_equal(f->a.ndtb_cands, 0);
}

static void
test_directory_mapping_itself_everywhere(void **state)
{
    struct fixture *f = *state;

    /* Every PDE points at the PD itself: every walk loops back, KUSER reads the PD's own entries. */
    for (unsigned i = 0; i < 1024; i++)
        put32(f->mem, NONPAE_PD, i, NONPAE_PD | P | RW);
    open_image(f);
    assert_int_equal(r2d_discover_dtb(&f->a), R2D_ENOTFOUND);
}

static void
test_entries_past_the_image(void **state)
{
    struct fixture *f = *state;

    /* The self-map is right, but the table for KUSER lies past the end of RAM. */
    build_nonpae(f->mem, 1);
    put32(f->mem, NONPAE_PD, 0x3ff, 0xf0000000u | P | RW);
    kuser(f->mem, 6, 1);
    open_image(f);
    assert_int_equal(r2d_discover_dtb(&f->a), R2D_ENOTFOUND);
}

static void
test_pdpt_with_reserved_bits_is_not_a_pdpt(void **state)
{
    struct fixture *f = *state;

    /* RW (bit 1) is reserved in a PAE PDPT entry: no PDPT is found, and no x86 PD either. */
    build_pae(f->mem, RW);
    kuser(f->mem, 10, 0);
    open_image(f);
    assert_int_equal(r2d_discover_dtb(&f->a), R2D_ENOTFOUND);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_paging_bits),
        cmocka_unit_test_setup_teardown(test_nonpae_self_map_found_without_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pae_self_map_found_without_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode_from_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registers_name_the_wrong_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dtb_option_tries_each_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_nt_version_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_mapping_itself_everywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entries_past_the_image, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pdpt_with_reserved_bits_is_not_a_pdpt, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
