/* SPDX-License-Identifier: MIT */
/*
 * PE32+ and PE32 headers, debug directory and CodeView RSDS parsing (r2d_pe_parse) over hostile guest
 * memory. The input becomes up to 512 pages of virtual memory, mapped by page tables the target builds in
 * front of it: at the x64 kernel's usual base through 4-level tables (parsed as a PE32+), and at 0x80000000
 * through x86 non-PAE tables (parsed as a PE32); pages past the input are not mapped, so reads run into
 * unmapped space.
 */
#include <string.h>

#include "format.h"
#include "fuzz_util.h"
#include "mmu.h"
#include "pe.h"
#include "image.h"

#define FUZZ_PE_BASE UINT64_C(0xfffff80000000000) /* PML4 slot 0x1f0, PDPT 0, PD 0, PT 0.. */
#define FUZZ_PE_BASE_X86 UINT64_C(0xffffffff80000000) /* PD 0x200, PT 0.. (sign-extended, as the engine keeps it) */
#define FUZZ_PE_TABLES 6 /* PML4, PDPT, PD, PT at physical 0..0x3fff; x86 PD, PT at 0x4000..0x5fff */
#define FUZZ_PE_MAX_PAGES 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void
put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void
fuzz_pe_parse(struct r2d_ctx *ctx, const struct r2d_mmu *mmu, uint64_t base)
{
    struct r2d_pe pe;

    if (r2d_pe_parse(mmu, base, &pe) == 0) {
        fuzz_log_discard(NULL, 0, pe.export_name);
        if (pe.have_rsds) {
            fuzz_log_discard(NULL, 0, pe.pdb.name);
            (void)r2d_pe_is_kernel_pdb(pe.pdb.name);
        }
        for (unsigned i = 0; i < pe.nsections; i++)
            fuzz_log_discard(NULL, 0, pe.sections[i].name);
    } else {
        fuzz_touch_errmsg(ctx);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_file file;
    static uint8_t phys[(FUZZ_PE_TABLES + FUZZ_PE_MAX_PAGES) * R2D_PAGE_SIZE];
    struct r2d_ctx *ctx = fuzz_ctx();
    const size_t take = size < FUZZ_PE_MAX_PAGES * R2D_PAGE_SIZE ? size : FUZZ_PE_MAX_PAGES * R2D_PAGE_SIZE;
    const size_t pages = (take + R2D_PAGE_SIZE - 1) / R2D_PAGE_SIZE;
    const size_t total = (FUZZ_PE_TABLES + pages) * R2D_PAGE_SIZE;
    struct r2d_image *img = NULL;
    struct r2d_mmu mmu;

    if (size == 0)
        return 0;
    memset(phys, 0, total);
    put_le64(phys + 8 * 0x1f0, 0x1000 | 3);           /* PML4[0x1f0] -> PDPT */
    put_le64(phys + 0x1000, 0x2000 | 3);              /* PDPT[0] -> PD */
    put_le64(phys + 0x2000, 0x3000 | 3);              /* PD[0] -> PT */
    put_le32(phys + 0x4000 + 4 * 0x200, 0x5000 | 3);  /* x86 PD[0x200] -> PT (4-byte entries) */
    for (size_t i = 0; i < pages; i++) {              /* PT[i] -> the input's page i, in both tables */
        put_le64(phys + 0x3000 + 8 * i, (FUZZ_PE_TABLES + i) * R2D_PAGE_SIZE | 3);
        put_le32(phys + 0x5000 + 4 * i, (uint32_t)((FUZZ_PE_TABLES + i) * R2D_PAGE_SIZE) | 3);
    }
    memcpy(phys + FUZZ_PE_TABLES * R2D_PAGE_SIZE, data, take);

    if (r2d_format_open(ctx, fuzz_file_set(&file, phys, total), "raw", &img) != 0)
        abort(); /* a raw image of at least 5 pages always opens */
    r2d_mmu_init(&mmu, ctx, img, R2D_PAGING_X64, 0);
    fuzz_pe_parse(ctx, &mmu, FUZZ_PE_BASE);
    r2d_mmu_init(&mmu, ctx, img, R2D_PAGING_X86, 0x4000);
    fuzz_pe_parse(ctx, &mmu, FUZZ_PE_BASE_X86);
    r2d_image_free(img);
    return 0;
}
