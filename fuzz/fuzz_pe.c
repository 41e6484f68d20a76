/* SPDX-License-Identifier: MIT */
/*
 * PE32+ headers, debug directory and CodeView RSDS parsing (r2d_pe_parse) over hostile guest memory. The
 * input becomes up to 512 pages of virtual memory at the kernel's usual base, mapped by page tables the
 * target builds in front of it; pages past the input are not mapped, so reads run into unmapped space.
 */
#include <string.h>

#include "format.h"
#include "fuzz_util.h"
#include "mmu.h"
#include "pe.h"
#include "image.h"

#define FUZZ_PE_BASE UINT64_C(0xfffff80000000000) /* PML4 slot 0x1f0, PDPT 0, PD 0, PT 0.. */
#define FUZZ_PE_TABLES 4                            /* PML4, PDPT, PD, PT at physical 0..0x3fff */
#define FUZZ_PE_MAX_PAGES 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
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
    struct r2d_pe pe;

    if (size == 0)
        return 0;
    memset(phys, 0, total);
    put_le64(phys + 8 * 0x1f0, 0x1000 | 3);           /* PML4[0x1f0] -> PDPT */
    put_le64(phys + 0x1000, 0x2000 | 3);              /* PDPT[0] -> PD */
    put_le64(phys + 0x2000, 0x3000 | 3);              /* PD[0] -> PT */
    for (size_t i = 0; i < pages; i++)                /* PT[i] -> the input's page i */
        put_le64(phys + 0x3000 + 8 * i, (FUZZ_PE_TABLES + i) * R2D_PAGE_SIZE | 3);
    memcpy(phys + FUZZ_PE_TABLES * R2D_PAGE_SIZE, data, take);

    if (r2d_format_open(ctx, fuzz_file_set(&file, phys, total), "raw", &img) != 0)
        abort(); /* a raw image of at least 5 pages always opens */
    r2d_mmu_init(&mmu, ctx, img, R2D_PAGING_X64, 0);
    if (r2d_pe_parse(&mmu, FUZZ_PE_BASE, &pe) == 0) {
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
    r2d_image_free(img);
    return 0;
}
