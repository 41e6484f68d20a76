/* SPDX-License-Identifier: MIT */
/* x64 long mode with 4-level paging: 4 KiB pages, 2 MiB (PD) and 1 GiB (PDPT) large pages (Intel SDM vol. 3,
 * section 4.5; docs/reference/discovery.md section 1). */
#include "mmu.h"
#include "paging.h"

static uint64_t
x64_frame(uint64_t e, unsigned level, int leaf)
{
    const uint64_t frame = e & R2D_X64_PTE_FRAME;

    /* A large page's frame excludes the PAT bit (bit 12): masking to the page size drops it. */
    if (leaf && level > 0)
        return frame & ~((UINT64_C(1) << (12 + 9 * level)) - 1);
    return frame;
}

const struct r2d_paging_mode r2d_paging_x64 = {
    .name = "x64 4-level",
    .levels = 4,
    .entry_size = 8,
    .va_bits = 48,
    .sign_extended = 1,
    .pointer_size = 8,
    .dtb_mask = R2D_X64_DTB_MASK,
    .level = {{"PT", 12, 9, 0}, {"PD", 21, 9, 1}, {"PDPT", 30, 9, 1}, {"PML4", 39, 9, 0}},
    .frame = x64_frame,
};
