/* SPDX-License-Identifier: MIT */
/*
 * 32-bit x86 paging (Intel SDM vol. 3, sections 4.3 and 4.4): without PAE, two levels of 4-byte entries with
 * 4 MiB large pages (CR4.PSE, whose PSE-36 bits 13-20 carry physical bits 32-39); with PAE, a 4-entry PDPT
 * (CR3 bits 31:5, 32-byte aligned) above two levels of 8-byte entries with 2 MiB large pages. Windows runs
 * 32-bit kernels in either mode (ntoskrnl / ntkrnlpa); Windows 8 and later always use PAE.
 */
#include "mmu.h"
#include "paging.h"

static uint64_t
x86_frame(uint64_t e, unsigned level, int leaf)
{
    if (leaf && level == 1) /* 4 MiB page: bits 31:22, and bits 39:32 from entry bits 20:13 */
        return (e & 0xffc00000u) | ((e & 0x001fe000u) << 19);
    return e & 0xfffff000u;
}

static uint64_t
x86_pae_frame(uint64_t e, unsigned level, int leaf)
{
    const uint64_t frame = e & R2D_X64_PTE_FRAME; /* bits 51:12, as on x64; bit 63 is NX */

    if (leaf && level == 1) /* 2 MiB page: the PAT bit (12) is not an address bit */
        return frame & ~((UINT64_C(1) << 21) - 1);
    return frame;
}

const struct r2d_paging_mode r2d_paging_x86 = {
    .name = "x86",
    .levels = 2,
    .entry_size = 4,
    .va_bits = 32,
    .sign_extended = 0,
    .pointer_size = 4,
    .dtb_mask = 0xfffff000u,
    .level = {{"PT", 12, 10, 0}, {"PD", 22, 10, 1}},
    .frame = x86_frame,
};

const struct r2d_paging_mode r2d_paging_x86_pae = {
    .name = "x86 PAE",
    .levels = 3,
    .entry_size = 8,
    .va_bits = 32,
    .sign_extended = 0,
    .pointer_size = 4,
    .dtb_mask = 0xffffffe0u,
    .level = {{"PT", 12, 9, 0}, {"PD", 21, 9, 1}, {"PDPT", 30, 2, 0}},
    .frame = x86_pae_frame,
};
