/* SPDX-License-Identifier: MIT */
/*
 * Finding the kernel image through a validated DTB (docs/reference/discovery.md sections 7-8). Bounds, per DTB
 * candidate: from a hint (low-stub entry point, IDT handler, RIP) at most 64 MiB of VA down, 2 MiB boundaries
 * first; then the mappings of the KASLR window 0xFFFFF800'00000000-0xFFFFF808'00000000: 2 MiB-aligned VAs
 * first, then every page, each pass visiting at most KERNEL_WALK_MAX_LEAVES tables and leaves and
 * KERNEL_WALK_MAX_PAGES pages. A kernel is accepted only as a PE32+ whose CodeView record names a kernel PDB.
 * A 32-bit guest (x86, x86 PAE) has no KASLR window: its hints and walk cover the system half
 * 0x80000000-0xFFFFFFFF, and the kernel must be a PE32 for i386 (0x14c) naming a 32-bit kernel PDB.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "analysis.h"
#include "bytes.h"

#define LARGE_PAGE (2ull << 20)
#define IDT_SCAN_LIMIT (64ull << 20)      /* how far below a hint the kernel header may be */
#define KERNEL_WALK_MAX_LEAVES 1000000ull /* tables + leaves per walk of the KASLR window */
#define KERNEL_WALK_MAX_PAGES 1000000ull  /* pages whose first bytes a walk reads */
#define X86_WALK_START 0x80000000ull      /* the walk takes zero-extended 32-bit VAs */
#define X86_WALK_END 0x100000000ull

/* The lowest VA the kernel image may have: the KASLR window's floor on x64, the system half's on x86. */
static uint64_t
discover_kernel_floor(const struct r2d_analysis *a)
{
    return r2d_analysis_is_x86(a) ? R2D_X86_SYSTEM_FLOOR : R2D_KASLR_FLOOR;
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
    a->kernel_base = r2d_analysis_va(a, base);
    snprintf(a->kernel_how, sizeof(a->kernel_how), "%.300s; PE with RSDS %.255s%s%.63s", source, pe.pdb.name,
             pe.export_name[0] ? ", exports " : "", pe.export_name);
    r2d_log(a->ctx, R2D_LOG_INFO, "kernel base 0x%" PRIx64 " from %s", base, a->kernel_how);
    return 1;
}

static int
discover_mz_at(struct r2d_analysis *a, uint64_t va)
{
    uint8_t mz[2];

    return r2d_mmu_read(&a->mmu, va, mz, 2) == 0 && mz[0] == 'M' && mz[1] == 'Z';
}

/*
 * Walk down from an address inside the kernel to its MZ header, bounded: 2 MiB boundaries first (modern
 * kernels are loaded on one), then every page (Windows 7's are page-aligned).
 */
/*
 * What the scan-downs of one DTB candidate may still do. Every CPU's IDT handler and RIP is a hint, but
 * real CPUs share their handlers: a 2 MiB window already scanned is not scanned again, and all hints
 * share one page budget, so an input declaring thousands of CPUs cannot multiply the work.
 */
#define SCAN_DOWN_MAX_PAGES (4 * (IDT_SCAN_LIMIT / R2D_PAGE_SIZE))
#define SCAN_DOWN_MAX_WINDOWS 64

struct discover_scan_budget {
    uint64_t pages;
    uint64_t windows[SCAN_DOWN_MAX_WINDOWS];
    unsigned nwindows;
};

static int
discover_scan_down(struct r2d_analysis *a, struct discover_scan_budget *b, uint64_t from, const char *what)
{
    const uint64_t lowest = discover_kernel_floor(a);
    uint64_t floor, top, window;
    char source[128];

    from = r2d_analysis_va(a, from);
    if (from < lowest)
        return 0;
    top = from & ~(uint64_t)(R2D_PAGE_SIZE - 1);
    floor = top > lowest + IDT_SCAN_LIMIT ? top - IDT_SCAN_LIMIT : lowest;
    window = from & ~(LARGE_PAGE - 1);
    for (unsigned i = 0; i < b->nwindows; i++)
        if (b->windows[i] == window)
            return 0;
    if (b->nwindows < SCAN_DOWN_MAX_WINDOWS)
        b->windows[b->nwindows++] = window;
    snprintf(source, sizeof(source), "scan down from %s 0x%" PRIx64, what, from);
    for (uint64_t va = window; va >= floor && b->pages > 0; va -= LARGE_PAGE, b->pages--)
        if (discover_mz_at(a, va) && discover_try_kernel(a, va, source))
            return 1;
    for (uint64_t va = top; va >= floor && b->pages > 0; va -= R2D_PAGE_SIZE) {
        if (r2d_cancelled(a->ctx))
            return R2D_ECANCELED;
        if (!(va & (LARGE_PAGE - 1)))
            continue;
        b->pages--;
        if (discover_mz_at(a, va) && discover_try_kernel(a, va, source))
            return 1;
    }
    return 0;
}

struct discover_walk {
    struct r2d_analysis *a;
    int aligned_only; /* pass 1: 2 MiB-aligned VAs only */
    uint64_t pages;   /* page budget left */
    int found;
};

static const char *
discover_walk_what(const struct discover_walk *w)
{
    if (r2d_analysis_is_x86(w->a))
        return w->aligned_only ? "page-table walk of the system half (2 MiB-aligned)"
                               : "page-table walk of the system half";
    return w->aligned_only ? "page-table walk of the KASLR window (2 MiB-aligned)"
                           : "page-table walk of the KASLR window";
}

static int
discover_walk_leaf(void *arg, uint64_t va, uint64_t pa, uint64_t size)
{
    struct discover_walk *w = arg;
    const uint64_t step = w->aligned_only && size > R2D_PAGE_SIZE ? LARGE_PAGE : R2D_PAGE_SIZE;

    if (w->aligned_only && (va & (LARGE_PAGE - 1)))
        return 0;
    for (uint64_t off = 0; off < size; off += step) {
        uint8_t mz[2];

        if (w->pages == 0)
            return 1;
        w->pages--;
        if (r2d_image_read(w->a->ctx, w->a->img, pa + off, mz, 2, R2D_HOLE_ERROR) || mz[0] != 'M' || mz[1] != 'Z')
            continue;
        if (discover_try_kernel(w->a, r2d_analysis_va(w->a, va + off), discover_walk_what(w))) {
            w->found = 1;
            return 1;
        }
    }
    return r2d_cancelled(w->a->ctx) ? R2D_ECANCELED : 0;
}

/* Every kernel search through the current DTB. Returns 1 when found, 0 when not, or a negative status. */
static int
discover_kernel_here(struct r2d_analysis *a)
{
    struct discover_scan_budget budget = {.pages = SCAN_DOWN_MAX_PAGES};
    const uint64_t hint = r2d_image_props(a->img)->hint_kernel_base;
    int rc;

    /* What the acquisition tool recorded (WinPmem's KernBase) is tried first, and still validated. */
    if (hint && discover_mz_at(a, hint) && discover_try_kernel(a, hint, "the kernel base the input records"))
        return 1;
    for (size_t i = 0; i < r2d_image_cpu_count(a->img); i++) {
        const struct r2d_cpu_state *cpu = r2d_image_cpu(a->img, i);
        uint8_t gate[16];
        char what[64];

        if (cpu->idt.base && !r2d_mmu_read(&a->mmu, r2d_analysis_va(a, cpu->idt.base), gate,
                                           r2d_analysis_is_x86(a) ? 8 : sizeof(gate))) {
            /* A 32-bit interrupt gate is 8 bytes: offset 15:0 at 0, 31:16 at 6; x64 adds 63:32 at 8. */
            const uint64_t handler = r2d_le16(gate) | (uint64_t)r2d_le16(gate + 6) << 16 |
                                     (r2d_analysis_is_x86(a) ? 0 : (uint64_t)r2d_le32(gate + 8) << 32);

            snprintf(what, sizeof(what), "CPU %zu IDT[0] handler", i);
            if ((rc = discover_scan_down(a, &budget, handler, what)) != 0)
                return rc;
        }
        snprintf(what, sizeof(what), "CPU %zu %s", i, r2d_analysis_is_x86(a) ? "EIP" : "RIP");
        if ((rc = discover_scan_down(a, &budget, cpu->rip, what)) != 0)
            return rc;
    }
    if (a->kernel_hint &&
        (rc = discover_scan_down(a, &budget, a->kernel_hint, "the low stub's kernel entry point")) != 0)
        return rc;
    for (int pass = 0; pass < 2; pass++) {
        struct discover_walk w = {a, pass == 0, KERNEL_WALK_MAX_PAGES, 0};
        const int x86 = r2d_analysis_is_x86(a);

        rc = r2d_mmu_walk(&a->mmu, x86 ? X86_WALK_START : R2D_KASLR_FLOOR, x86 ? X86_WALK_END : R2D_KASLR_CEIL,
                          KERNEL_WALK_MAX_LEAVES, discover_walk_leaf, &w);
        if (rc)
            return rc;
        if (w.found)
            return 1;
    }
    return 0;
}

int
r2d_discover_kernel(struct r2d_analysis *a)
{
    const unsigned ncands = a->ndtb_cands ? a->ndtb_cands : 1;
    int rc;

    if (a->opts->have_kernel_base) {
        if (discover_try_kernel(a, a->opts->kernel_base, "--kernel-base"))
            return 0;
        return r2d_err(a->ctx, R2D_ENOTFOUND,
                       "%s: --kernel-base 0x%" PRIx64 " is not a Windows kernel image (no %s naming a kernel PDB "
                       "such as %s)", r2d_image_path(a->img), a->opts->kernel_base,
                       r2d_analysis_is_x86(a) ? "PE32" : "PE32+",
                       r2d_analysis_is_x86(a) ? "ntkrnlpa.pdb" : "ntkrnlmp.pdb");
    }
    /* A candidate that maps KUSER_SHARED_DATA but no kernel is not the one: fall back along the ranking. */
    for (unsigned i = 0; i < ncands; i++) {
        if (i > 0) {
            r2d_log(a->ctx, R2D_LOG_INFO, "no kernel through DTB 0x%" PRIx64 "; trying candidate 0x%" PRIx64
                    " (%s)", a->dtb, a->dtb_cands[i].pa, a->dtb_cands[i].how);
            r2d_discover_use_candidate(a, i);
        }
        rc = discover_kernel_here(a);
        if (rc < 0)
            return rc;
        if (rc > 0)
            return 0;
    }
    if (r2d_analysis_is_x86(a))
        return r2d_err(a->ctx, R2D_ENOTFOUND,
                       "%s: no 32-bit Windows kernel image (PE32 naming ntkrnlpa.pdb, ntkrpamp.pdb, ntoskrnl.pdb or "
                       "ntkrnlmp.pdb) found through %u DTB candidate%s (IDT handlers, EIPs and the system half "
                       "0x80000000-0xFFFFFFFF searched); use --kernel-base", r2d_image_path(a->img), ncands,
                       ncands == 1 ? "" : "s");
    return r2d_err(a->ctx, R2D_ENOTFOUND,
                   "%s: no Windows kernel image (PE naming ntkrnlmp.pdb) found through %u DTB candidate%s (IDT "
                   "handlers, RIPs, the low-stub hint and the KASLR window 0x%" PRIx64 "-0x%" PRIx64
                   " searched); use --kernel-base", r2d_image_path(a->img), ncands, ncands == 1 ? "" : "s",
                   R2D_KASLR_FLOOR, R2D_KASLR_CEIL);
}

