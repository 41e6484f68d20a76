/* SPDX-License-Identifier: MIT */
/*
 * A 32-bit kernel through the engine: a PE32 (i386) and its PDB built by clang --target=i686-pc-windows-msvc
 * and lld-link /machine:x86 /debug (pe32/kernel32.c), loaded at 0x80400000 into a raw image with x86 non-PAE
 * page tables and KUSER_SHARED_DATA. Checked: the PE32 parse (machine, RSDS naming ntkrnlpa.pdb, exports
 * name), the x86 PDB (machine 0x14c, 4-byte pointers, the _KPCR/_KPRCB offsets kernel32.c pins, symbol RVAs
 * agreeing with the linker's own relocated pointer), discovery end to end (mode, DTB, sign-extended kernel
 * base), the KDBG decoded with the 32-bit formula; and PE32 headers that lie.
 *
 * Usage: test_pe32 NTKRNLPA.DLL NTKRNLPA.PDB
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
#include "kdbg_header.h"

#define MEM_SIZE (4u << 20)
#define PD_PA 0x1000u
#define PT_KERNEL_PA 0x2000u
#define PT_TOP_PA 0x3000u
#define KUSER_PA 0x4000u
#define IMAGE_PA 0x100000u
#define BASE 0x80400000u
#define KDBG_SIZE 0x360u

static const char *dll_path, *pdb_path;

struct fixture {
    char path[64];
    uint8_t *mem;
    uint8_t *dll;
    size_t dll_len;
    uint32_t size_of_image;
    uint32_t lfanew;
    struct r2d_ctx *ctx;
    struct r2d_image *img;
    struct r2d_options opts;
    struct r2d_analysis a;
};

static uint8_t *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc((size_t)n);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* The DLL laid out as the loader would: headers, then each section at its RVA (read here, not by pe.c). */
static void
load_image(struct fixture *f)
{
    const uint8_t *d = f->dll;
    const uint32_t lfanew = r2d_le32(d + 0x3c);
    const unsigned nsec = r2d_le16(d + lfanew + 6), optsz = r2d_le16(d + lfanew + 0x14);
    const uint32_t hdrs = r2d_le32(d + lfanew + 0x18 + 0x3c);

    f->lfanew = lfanew;
    f->size_of_image = r2d_le32(d + lfanew + 0x18 + 0x38);
    assert_true(f->size_of_image <= MEM_SIZE - IMAGE_PA);
    memcpy(f->mem + IMAGE_PA, d, hdrs);
    for (unsigned i = 0; i < nsec; i++) {
        const uint8_t *s = d + lfanew + 0x18 + optsz + 40u * i;
        const uint32_t va = r2d_le32(s + 12), raw = r2d_le32(s + 16), ptr = r2d_le32(s + 20);

        if (raw)
            memcpy(f->mem + IMAGE_PA + va, d + ptr, raw);
    }
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->mem = calloc(1, MEM_SIZE);
    assert_non_null(f->mem);
    f->dll = read_file(dll_path, &f->dll_len);
    load_image(f);
    /* PD 0x201 maps 0x80400000.. page by page; PD 0x3ff holds KUSER at 0xFFDF0000; PD 0x300 the self-map. */
    r2d_put_le32(f->mem + PD_PA + 4 * 0x201, PT_KERNEL_PA | 3);
    for (uint32_t p = 0; p < (f->size_of_image + 0xfff) / 0x1000; p++)
        r2d_put_le32(f->mem + PT_KERNEL_PA + 4 * p, (IMAGE_PA + 0x1000 * p) | 3);
    r2d_put_le32(f->mem + PD_PA + 4 * 0x3ff, PT_TOP_PA | 3);
    r2d_put_le32(f->mem + PT_TOP_PA + 4 * ((0xffdf0000u >> 12) & 0x3ff), KUSER_PA | 1);
    r2d_put_le32(f->mem + PD_PA + 4 * 0x300, PD_PA | 3);
    r2d_put_le32(f->mem + PD_PA + 4 * 0x200, 0x400000u | 0x83); /* one more system-half entry */
    r2d_put_le32(f->mem + KUSER_PA + 0x26c, 6);
    r2d_put_le32(f->mem + KUSER_PA + 0x270, 1);
    snprintf(f->path, sizeof(f->path), "/tmp/r2d-pe32-%d.raw", (int)getpid());
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
    free(f->dll);
    free(f->mem);
    free(f);
    return 0;
}

static void
open_image(struct fixture *f)
{
    FILE *fp = fopen(f->path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(f->mem, 1, MEM_SIZE, fp), MEM_SIZE);
    fclose(fp);
    assert_int_equal(r2d_format_open(f->ctx, f->path, "raw", &f->img), 0);
    r2d_analysis_init(&f->a, f->ctx, &f->opts, f->img);
    r2d_analysis_set_mode(&f->a, R2D_PAGING_X86, PD_PA);
}

static uint32_t
rva_of(struct fixture *f, struct r2d_symbols *syms, const char *name)
{
    uint64_t rva = 0;

    assert_int_equal(r2d_symbols_rva(f->ctx, syms, name, &rva), 0);
    assert_true(rva > 0 && rva < f->size_of_image);
    return (uint32_t)rva;
}

static uint64_t
field(struct fixture *f, struct r2d_symbols *syms, const char *type, const char *path)
{
    uint64_t off = UINT64_MAX;

    assert_int_equal(r2d_symbols_field_offset(f->ctx, syms, type, path, &off), 0);
    return off;
}

static void
test_pe32_parses(void **state)
{
    struct fixture *f = *state;
    struct r2d_symbols *syms = NULL;
    struct r2d_pe pe;

    open_image(f);
    assert_int_equal(r2d_pe_parse(&f->a.mmu, BASE, &pe), 0);
    assert_int_equal(pe.machine, 0x14c);
    assert_int_equal(pe.size_of_image, f->size_of_image);
    assert_true(pe.have_rsds);
    assert_string_equal(pe.pdb.name, "ntkrnlpa.pdb");
    assert_true(r2d_pe_is_kernel_pdb(pe.pdb.name));
    assert_string_equal(pe.export_name, "ntkrnlpa.dll");
    assert_true(pe.nsections >= 2);
    /* The RSDS record names the PDB lld-link wrote: same GUID and age. */
    assert_int_equal(r2d_pdb_open(f->ctx, pdb_path, &syms), 0);
    assert_int_equal(r2d_symbols_match(f->ctx, syms, &pe.pdb, 0), 0);
    r2d_symbols_free(syms);
}

static void
test_x86_pdb_types_and_symbols(void **state)
{
    struct fixture *f = *state;
    struct r2d_symbols *syms = NULL;
    uint64_t size = 0;
    uint32_t blk, pcr, image_base;

    assert_int_equal(r2d_pdb_open(f->ctx, pdb_path, &syms), 0);
    assert_int_equal(syms->machine, 0x14c);
    assert_int_equal(field(f, syms, "_KPCR", "SelfPcr"), 0x1c);
    assert_int_equal(field(f, syms, "_KPCR", "Prcb"), 0x20);
    assert_int_equal(field(f, syms, "_KPCR", "PrcbData"), 0x120);
    assert_int_equal(field(f, syms, "_KPRCB", "ProcessorState.ContextFrame"), 0x18);
    assert_int_equal(field(f, syms, "_KPRCB", "Number"), 0x3cc);
    assert_int_equal(field(f, syms, "_KPRCB", "Context"), 0x3d0);
    assert_int_equal(r2d_symbols_type_size(f->ctx, syms, "_CONTEXT", &size), 0);
    assert_int_equal(size, 0x2cc);
    /* Pointers are 4 bytes: _KPRCB ends with a pointer at 0x3d0. */
    assert_int_equal(r2d_symbols_type_size(f->ctx, syms, "_KPRCB", &size), 0);
    assert_int_equal(size, 0x3d4);
    /* Decorated publics (_KiProcessorBlock) answer by their C names, at the RVAs the linker used: the
     * relocated initialiser KiProcessorBlock[0] = &KiInitialPcr.PrcbData says so independently. */
    blk = rva_of(f, syms, "KiProcessorBlock");
    pcr = rva_of(f, syms, "KiInitialPcr");
    image_base = r2d_le32(f->dll + f->lfanew + 0x18 + 0x1c);
    assert_int_equal(r2d_le32(f->mem + IMAGE_PA + blk), image_base + pcr + 0x120);
    assert_int_equal(r2d_le32(f->mem + IMAGE_PA + rva_of(f, syms, "KiWaitNever")), 0x91a3d4c7u);
    r2d_symbols_free(syms);
}

/* The 32-bit encoding written out here, independently of kdbg.c. */
static uint32_t
encode32(uint32_t plain, uint32_t wn, uint32_t wa, uint32_t salt)
{
    uint32_t t = plain ^ wa;
    const unsigned n = wn & 31;

    t = (t >> 24) | ((t >> 8) & 0xff00u) | ((t << 8) & 0xff0000u) | (t << 24);
    t ^= salt;
    t = n ? (t >> n) | (t << (32 - n)) : t;
    return t ^ wn;
}

/* Encode the block at KdDebuggerDataBlock with the given salt, then run discovery, symbols and the KDBG. */
static void
kdbg_round_trip(struct fixture *f, int salt_is_block, const char *why)
{
    struct r2d_symbols *syms = NULL;
    uint8_t plain[KDBG_SIZE];
    uint32_t kdbg, flag;

    /* An encoded KDBG naming the kernel at its sign-extended base, salted with &KdpDataBlockEncoded. */
    assert_int_equal(r2d_pdb_open(f->ctx, pdb_path, &syms), 0);
    kdbg = rva_of(f, syms, "KdDebuggerDataBlock");
    flag = rva_of(f, syms, "KdpDataBlockEncoded");
    r2d_symbols_free(syms);
    memset(plain, 0, sizeof(plain));
    r2d_put_le32(plain + R2D_KDBG_OFF_OWNER_TAG, R2D_KDBG_TAG);
    r2d_put_le32(plain + R2D_KDBG_OFF_SIZE, KDBG_SIZE);
    r2d_put_le64(plain + R2D_KDBG_OFF_KERNBASE, 0xffffffff00000000ull | BASE);
    for (uint32_t i = 0; i < KDBG_SIZE; i += 4)
        r2d_put_le32(f->mem + IMAGE_PA + kdbg + i,
                     encode32(r2d_le32(plain + i), 0x91a3d4c7u, 0x5b6a7988u, BASE + (salt_is_block ? kdbg : flag)));
    f->opts.pdb_path = pdb_path;
    open_image(f);
    assert_int_equal(r2d_discover_dtb(&f->a), 0);
    assert_int_equal(f->a.paging, R2D_PAGING_X86);
    assert_int_equal(f->a.dtb, PD_PA);
    assert_int_equal(r2d_discover_kernel(&f->a), 0);
    assert_true(f->a.kernel_base == (0xffffffff00000000ull | BASE));
    assert_int_equal(r2d_load_kernel_symbols(&f->a), 0);
    assert_int_equal(r2d_kdbg_locate(&f->a), 0);
    assert_int_equal(f->a.kdbg.mode, R2D_KDBG_DECODED);
    assert_non_null(strstr(f->a.kdbg.why, why));
    assert_int_equal(f->a.kdbg.size, KDBG_SIZE);
    assert_memory_equal(f->a.kdbg.bytes, plain, KDBG_SIZE);
}

static void
test_discovery_and_kdbg_end_to_end(void **state)
{
    kdbg_round_trip(*state, 0, "salted with &KdpDataBlockEncoded");
}

/* Microsoft's kddebug.cpp salts with the block's own address: decoded too, and said so. */
static void
test_kdbg_salted_with_its_own_address(void **state)
{
    kdbg_round_trip(*state, 1, "salted with the block's address");
}

/* Patch the image's headers, parse, and return the result. */
static int
parse_patched(struct fixture *f, uint32_t off, const void *bytes, size_t n, struct r2d_pe *pe)
{
    memcpy(f->mem + IMAGE_PA + off, bytes, n);
    open_image(f);
    return r2d_pe_parse(&f->a.mmu, BASE, pe);
}

static void
test_lying_pe32_headers(void **state)
{
    struct fixture *f = *state;
    const uint32_t opt = f->lfanew + 0x18;
    const uint8_t amd64[2] = {0x64, 0x86}, magic64[2] = {0x0b, 0x02}, big_lfanew[4] = {0xfc, 0x0f, 0, 0};
    const uint8_t small_opt[2] = {0x40, 0}, all_dirs[4] = {0xff, 0xff, 0xff, 0xff};
    uint8_t saved[0x400];
    struct r2d_pe pe;

    memcpy(saved, f->mem + IMAGE_PA, sizeof(saved));
    assert_int_equal(parse_patched(f, f->lfanew + 4, amd64, 2, &pe), R2D_EFORMAT);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "not i386"));
    r2d_image_free(f->img);
    memcpy(f->mem + IMAGE_PA, saved, sizeof(saved));
    assert_int_equal(parse_patched(f, opt, magic64, 2, &pe), R2D_EFORMAT);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "PE32 optional header"));
    r2d_image_free(f->img);
    memcpy(f->mem + IMAGE_PA, saved, sizeof(saved));
    assert_int_equal(parse_patched(f, 0x3c, big_lfanew, 4, &pe), R2D_EFORMAT);
    r2d_image_free(f->img);
    /* An optional header too short to hold the debug directory: parsed, but no RSDS is read from it. */
    memcpy(f->mem + IMAGE_PA, saved, sizeof(saved));
    assert_int_equal(parse_patched(f, f->lfanew + 0x14, small_opt, 2, &pe), 0);
    assert_false(pe.have_rsds);
    r2d_image_free(f->img);
    /* NumberOfRvaAndSizes and the debug directory's size say 4 GiB: bounded, the record is still found. */
    memcpy(f->mem + IMAGE_PA, saved, sizeof(saved));
    memcpy(f->mem + IMAGE_PA + opt + 0x5c, all_dirs, 4);
    assert_int_equal(parse_patched(f, opt + 0x60 + 8 * 6 + 4, all_dirs, 4, &pe), 0);
    assert_true(pe.have_rsds);
    r2d_image_free(f->img);
    /* The debug directory points past the mapped image: no RSDS, no error. */
    memcpy(f->mem + IMAGE_PA, saved, sizeof(saved));
    assert_int_equal(parse_patched(f, opt + 0x60 + 8 * 6, "\x00\x00\x70\x00", 4, &pe), 0);
    assert_false(pe.have_rsds);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pe32_parses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_x86_pdb_types_and_symbols, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discovery_and_kdbg_end_to_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kdbg_salted_with_its_own_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lying_pe32_headers, setup, teardown),
    };

    if (argc != 3) {
        fprintf(stderr, "usage: %s NTKRNLPA.DLL NTKRNLPA.PDB\n", argv[0]);
        return 2;
    }
    dll_path = argv[1];
    pdb_path = argv[2];
    return cmocka_run_group_tests(tests, NULL, NULL);
}
