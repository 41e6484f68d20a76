/* SPDX-License-Identifier: MIT */
/*
 * Finding the page tables and the kernel (discovery.md sections 3-8): every candidate is validated, every
 * rejection is logged, every scan is bounded, and failure is an error, never a guess.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "raw2dmp/bytes.h"

#define KUSER_NT_MAJOR 0x26c
#define KUSER_NT_MINOR 0x270
#define IDT_SCAN_LIMIT (64ull << 20)      /* how far below a handler the kernel header may be */
#define KERNEL_WALK_MAX_LEAVES 4000000ull /* leaves visited when scanning the KASLR window */
#define LOW_STUB_END 0xa0000ull
#define SELFMAP_SCAN_END (64ull << 20)     /* self-map PML4 candidates are looked for below this */

/* KPCR offsets of KPRCB.KernelDirectoryTableBase observed per build family (discovery.md 3.3). */
static const uint32_t discover_kgs_dtb_offsets[] = {0x9000, 0xa000, 0x7000, 0x6000};

/* A DTB is usable when KUSER_SHARED_DATA translates and holds a Windows NT version (discovery.md 6). */
static int
discover_validate_dtb(struct r2d_analysis *a, uint64_t dtb, char *why, size_t whylen)
{
    struct r2d_mmu mmu;
    uint32_t major, minor;
    int rc;

    r2d_mmu_init(&mmu, a->ctx, a->img, dtb, 4);
    rc = r2d_mmu_read_u32(&mmu, R2D_KUSER_SHARED_DATA + KUSER_NT_MAJOR, &major);
    if (!rc)
        rc = r2d_mmu_read_u32(&mmu, R2D_KUSER_SHARED_DATA + KUSER_NT_MINOR, &minor);
    if (rc) {
        snprintf(why, whylen, "%s", r2d_errmsg(a->ctx));
        return 0;
    }
    if (!(major == 5 || major == 6 || major == 10) || minor > 3) {
        snprintf(why, whylen, "KUSER_SHARED_DATA says NT %" PRIu32 ".%" PRIu32 ", not Windows", major, minor);
        return 0;
    }
    snprintf(why, whylen, "maps KUSER_SHARED_DATA (NT %" PRIu32 ".%" PRIu32 ")", major, minor);
    return 1;
}

static int
discover_try_dtb(struct r2d_analysis *a, uint64_t dtb, const char *source)
{
    char why[512];

    dtb &= R2D_DTB_MASK;
    if (dtb == 0 || !r2d_image_covers(a->img, dtb, R2D_PAGE_SIZE)) {
        r2d_log(a->ctx, R2D_LOG_INFO, "DTB candidate 0x%" PRIx64 " from %s: rejected, page not in the image", dtb,
                source);
        return 0;
    }
    if (!discover_validate_dtb(a, dtb, why, sizeof(why))) {
        r2d_log(a->ctx, R2D_LOG_INFO, "DTB candidate 0x%" PRIx64 " from %s: rejected, %s", dtb, source, why);
        return 0;
    }
    a->dtb = dtb;
    r2d_mmu_init(&a->mmu, a->ctx, a->img, dtb, 4);
    snprintf(a->dtb_how, sizeof(a->dtb_how), "%.300s; %.600s", source, why);
    r2d_log(a->ctx, R2D_LOG_INFO, "DTB 0x%" PRIx64 " from %s", dtb, a->dtb_how);
    return 1;
}

/* With KVA shadowing a CPU in user mode runs on user tables; its KPRCB keeps the kernel CR3. */
static int
discover_dtb_from_kgs(struct r2d_analysis *a, const struct r2d_cpu_state *cpu, size_t idx)
{
    const uint64_t kpcr = (cpu->gs.base >> 63) ? cpu->gs.base : cpu->kernel_gs_base;
    char source[128];

    if (!(kpcr >> 63))
        return 0;
    for (size_t i = 0; i < r2d_image_cpu_count(a->img); i++) {
        struct r2d_mmu via;

        r2d_mmu_init(&via, a->ctx, a->img, r2d_image_cpu(a->img, i)->cr3, 4);
        for (size_t k = 0; k < sizeof(discover_kgs_dtb_offsets) / sizeof(discover_kgs_dtb_offsets[0]); k++) {
            uint64_t dtb;

            if (r2d_mmu_read_u64(&via, kpcr + discover_kgs_dtb_offsets[k], &dtb))
                continue;
            snprintf(source, sizeof(source), "CPU %zu KPCR 0x%" PRIx64 " + 0x%" PRIx32 " (KernelDirectoryTableBase)",
                     idx, kpcr, discover_kgs_dtb_offsets[k]);
            if (discover_try_dtb(a, dtb, source))
                return 1;
        }
    }
    return 0;
}

/*
 * Without registers: a PROCESSOR_START_BLOCK below 1 MiB names the PML4 (discovery.md 5.1). Physical
 * machines nearly always have it; virtual ones often do not.
 */
static int
discover_low_stub(struct r2d_analysis *a)
{
    uint8_t page[R2D_PAGE_SIZE];

    for (uint64_t pa = 0x1000; pa < LOW_STUB_END; pa += R2D_PAGE_SIZE) {
        char source[96];

        if (!r2d_image_covers(a->img, pa, R2D_PAGE_SIZE) ||
            r2d_image_read(a->ctx, a->img, pa, page, sizeof(page), R2D_HOLE_ERROR))
            continue;
        if ((r2d_le64(page) & 0xffffffffffff00ffull) != 0x00000001000600e9ull ||
            (r2d_le64(page + 0x70) & 0xfffff80000000003ull) != 0xfffff80000000000ull ||
            (r2d_le64(page + 0xa0) & 0xffffff0000000fffull) != 0)
            continue;
        snprintf(source, sizeof(source), "low stub (PROCESSOR_START_BLOCK) at physical 0x%" PRIx64, pa);
        if (discover_try_dtb(a, r2d_le64(page + 0xa0), source))
            return 1;
    }
    return 0;
}

/*
 * A PML4 that maps itself through exactly one kernel-half entry (discovery.md 4): the slot is 0x1ED before
 * Windows 10 1607 and random in 0x100-0x1FF after.
 */
static int
discover_self_map(struct r2d_analysis *a)
{
    uint8_t page[R2D_PAGE_SIZE];

    for (size_t r = 0; r < r2d_image_run_count(a->img); r++) {
        const struct r2d_run *run = r2d_image_run(a->img, r);
        uint64_t pa = (run->pa + R2D_PAGE_SIZE - 1) & ~(uint64_t)(R2D_PAGE_SIZE - 1);

        for (; pa + R2D_PAGE_SIZE <= run->pa + run->len && pa < SELFMAP_SCAN_END; pa += R2D_PAGE_SIZE) {
            unsigned self = 0, slot = 0, kernel_present = 0;
            char source[96];

            if (r2d_cancelled(a->ctx))
                return R2D_ECANCELED;
            if (r2d_image_read(a->ctx, a->img, pa, page, sizeof(page), R2D_HOLE_ERROR))
                continue;
            for (unsigned i = 0x100; i < 0x200; i++) {
                const uint64_t e = r2d_le64(page + 8 * i);

                if (!(e & R2D_PTE_PRESENT))
                    continue;
                kernel_present++;
                if ((e & R2D_PTE_FRAME) == pa) {
                    self++;
                    slot = i;
                }
            }
            if (self != 1 || kernel_present < 2)
                continue;
            snprintf(source, sizeof(source), "self-referencing PML4 at physical 0x%" PRIx64 " (slot 0x%x)", pa,
                     slot);
            if (discover_try_dtb(a, pa, source))
                return 1;
        }
    }
    return 0;
}

int
r2d_discover_dtb(struct r2d_analysis *a)
{
    const size_t ncpu = r2d_image_cpu_count(a->img);
    int rc;

    if (a->opts->have_dtb) {
        if (discover_try_dtb(a, a->opts->dtb, "--dtb"))
            return 0;
        return r2d_err(a->ctx, R2D_ENOTFOUND, "%s: --dtb 0x%" PRIx64 " does not map a Windows kernel "
                       "(KUSER_SHARED_DATA at 0x%" PRIx64 " does not translate to NT version data)",
                       r2d_image_path(a->img), a->opts->dtb, R2D_KUSER_SHARED_DATA);
    }
    /* Kernel-mode CPUs first: their CR3 maps the kernel even with KVA shadowing. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < ncpu; i++) {
            const struct r2d_cpu_state *cpu = r2d_image_cpu(a->img, i);
            const int kernel_mode = (int)(cpu->gs.base >> 63);
            char source[64];

            if ((pass == 0) != (kernel_mode == 1))
                continue;
            snprintf(source, sizeof(source), "CR3 of CPU %zu%s", i, kernel_mode ? " (in kernel mode)" : "");
            if (discover_try_dtb(a, cpu->cr3, source))
                return 0;
        }
    }
    for (size_t i = 0; i < ncpu; i++)
        if (discover_dtb_from_kgs(a, r2d_image_cpu(a->img, i), i))
            return 0;
    if (discover_low_stub(a))
        return 0;
    rc = discover_self_map(a);
    if (rc < 0)
        return rc;
    if (rc)
        return 0;
    return r2d_err(a->ctx, R2D_ENOTFOUND,
                   "%s: no page table maps a Windows kernel (tried %zu CPU CR3 value%s, the low stub below 1 MiB "
                   "and a self-map scan below 64 MiB); is this a 64-bit Windows memory image? Use --dtb to give one",
                   r2d_image_path(a->img), ncpu, ncpu == 1 ? "" : "s");
}

/* A kernel image: a PE32+ whose CodeView record names a kernel PDB. */
static int
discover_try_kernel(struct r2d_analysis *a, uint64_t base, const char *source)
{
    struct r2d_pe pe;

    if (r2d_pe_parse(&a->mmu, base, &pe))
        return 0;
    if (!pe.have_rsds || !r2d_pe_is_kernel_pdb(pe.pdb.name)) {
        r2d_log(a->ctx, R2D_LOG_DEBUG, "PE at 0x%" PRIx64 ": not the kernel (PDB '%s')", base,
                pe.have_rsds ? pe.pdb.name : "none");
        return 0;
    }
    a->pe = pe;
    a->kernel_base = base;
    snprintf(a->kernel_how, sizeof(a->kernel_how), "%.300s; PE with RSDS %.255s%s%.63s", source, pe.pdb.name,
             pe.export_name[0] ? ", exports " : "", pe.export_name);
    r2d_log(a->ctx, R2D_LOG_INFO, "kernel base 0x%" PRIx64 " from %s", base, a->kernel_how);
    return 1;
}

/* Walk down from an address inside the kernel to its MZ header, page by page, bounded. */
static int
discover_scan_down(struct r2d_analysis *a, uint64_t from, const char *what)
{
    uint64_t va = from & ~(uint64_t)(R2D_PAGE_SIZE - 1);
    const uint64_t floor = va > R2D_KASLR_FLOOR + IDT_SCAN_LIMIT ? va - IDT_SCAN_LIMIT : R2D_KASLR_FLOOR;
    char source[128];

    if (from < R2D_KASLR_FLOOR)
        return 0;
    snprintf(source, sizeof(source), "scan down from %s 0x%" PRIx64, what, from);
    for (; va >= floor; va -= R2D_PAGE_SIZE) {
        uint8_t mz[2];

        if (r2d_mmu_read(&a->mmu, va, mz, 2) || mz[0] != 'M' || mz[1] != 'Z')
            continue;
        if (discover_try_kernel(a, va, source))
            return 1;
    }
    return 0;
}

struct discover_walk {
    struct r2d_analysis *a;
    int found;
};

static int
discover_walk_leaf(void *arg, uint64_t va, uint64_t pa, uint64_t size)
{
    struct discover_walk *w = arg;

    for (uint64_t off = 0; off < size; off += R2D_PAGE_SIZE) {
        uint8_t mz[2];

        if (r2d_image_read(w->a->ctx, w->a->img, pa + off, mz, 2, R2D_HOLE_ERROR) || mz[0] != 'M' || mz[1] != 'Z')
            continue;
        if (discover_try_kernel(w->a, va + off, "page-table walk of the KASLR window")) {
            w->found = 1;
            return 1;
        }
    }
    return r2d_cancelled(w->a->ctx) ? R2D_ECANCELED : 0;
}

int
r2d_discover_kernel(struct r2d_analysis *a)
{
    struct discover_walk w = {a, 0};
    int rc;

    if (a->opts->have_kernel_base) {
        if (discover_try_kernel(a, a->opts->kernel_base, "--kernel-base"))
            return 0;
        return r2d_err(a->ctx, R2D_ENOTFOUND,
                       "%s: --kernel-base 0x%" PRIx64 " is not a Windows kernel image (no PE32+ naming ntkrnlmp.pdb)",
                       r2d_image_path(a->img), a->opts->kernel_base);
    }
    for (size_t i = 0; i < r2d_image_cpu_count(a->img); i++) {
        const struct r2d_cpu_state *cpu = r2d_image_cpu(a->img, i);
        uint8_t gate[16];
        char what[64];

        if (cpu->idt.base && !r2d_mmu_read(&a->mmu, cpu->idt.base, gate, sizeof(gate))) {
            const uint64_t handler = r2d_le16(gate) | (uint64_t)r2d_le16(gate + 6) << 16 |
                                     (uint64_t)r2d_le32(gate + 8) << 32;

            snprintf(what, sizeof(what), "CPU %zu IDT[0] handler", i);
            if (discover_scan_down(a, handler, what))
                return 0;
        }
        snprintf(what, sizeof(what), "CPU %zu RIP", i);
        if (discover_scan_down(a, cpu->rip, what))
            return 0;
    }
    rc = r2d_mmu_walk(&a->mmu, R2D_KASLR_FLOOR, R2D_KASLR_CEIL, KERNEL_WALK_MAX_LEAVES, discover_walk_leaf, &w);
    if (rc)
        return rc;
    if (w.found)
        return 0;
    return r2d_err(a->ctx, R2D_ENOTFOUND,
                   "%s: no Windows kernel image (PE naming ntkrnlmp.pdb) found through DTB 0x%" PRIx64
                   " (IDT handlers, RIPs and the KASLR window 0x%" PRIx64 "-0x%" PRIx64 " searched); use --kernel-base",
                   r2d_image_path(a->img), a->dtb, R2D_KASLR_FLOOR, R2D_KASLR_CEIL);
}

int
r2d_discover_system_dtb(struct r2d_analysis *a)
{
    uint64_t sym, eprocess, dtb_off = 0x28, dtb;
    char why[512];

    a->system_dtb = a->dtb;
    if (r2d_kernel_symbol(a, "PsInitialSystemProcess", &sym) || r2d_mmu_read_u64(&a->mmu, sym, &eprocess))
        return 0;
    /* _EPROCESS.Pcb.DirectoryTableBase: from types when the symbols have them, else 0x28 (every x64 build). */
    r2d_symbols_field_offset(a->ctx, a->syms, "_EPROCESS", "Pcb.DirectoryTableBase", &dtb_off);
    if (r2d_mmu_read_u64(&a->mmu, eprocess + dtb_off, &dtb))
        return 0;
    dtb &= R2D_DTB_MASK;
    if (dtb == a->dtb)
        return 0;
    if (!discover_validate_dtb(a, dtb, why, sizeof(why))) {
        r2d_log(a->ctx, R2D_LOG_WARN, "warning: System process DTB 0x%" PRIx64 " does not validate (%s); keeping 0x%" PRIx64,
                dtb, why, a->dtb);
        return 0;
    }
    r2d_log(a->ctx, R2D_LOG_INFO, "System process DTB 0x%" PRIx64 " replaces 0x%" PRIx64 " for the header", dtb,
            a->dtb);
    a->system_dtb = dtb;
    return 0;
}
