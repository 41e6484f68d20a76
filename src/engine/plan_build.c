/* SPDX-License-Identifier: MIT */
/*
 * From what the engine learnt to a dump plan: every header value taken from the guest
 * (docs/formats/crashdump.md F2), and every byte we change recorded as a patch.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "plan_build.h"
#include "kdbg_fields.h"
#include "bytes.h"
#include "dump_header32.h"
#include "dump_header64.h"
#include "kd_version_block.h"

#define KUSER_INTERRUPT_TIME 0x08
#define KUSER_SYSTEM_TIME 0x14
#define KUSER_NT_BUILD_NUMBER 0x260
#define KUSER_NT_PRODUCT_TYPE 0x264
#define KUSER_SUITE_MASK 0x2d0
#define BUGCHECK_LIVE_SYSTEM_DUMP 0x161u
/*
 * MmPhysicalMemoryBlock points at a descriptor in the PHYSICAL_MEMORY_DESCRIPTOR64 layout (R2D_PMD64_*), or on
 * a 32-bit kernel the PHYSICAL_MEMORY_DESCRIPTOR32 one (R2D_PMD32_*: u32 counts and PFNs).
 */
#define PMD_MAX_RUNS 0x80    /* MemProcFS's bound */
#define PMD_MAX_PFN (1ull << 40) /* 52-bit physical addresses */

struct plan_pmd {
    uint64_t va;
    uint32_t nruns;
    uint64_t npages;
    uint64_t base[PMD_MAX_RUNS], count[PMD_MAX_RUNS];
};

int
r2d_plan_patch_virtual(struct r2d_analysis *a, struct r2d_plan *plan, uint64_t va, const uint8_t *bytes,
                       uint32_t len, const char *reason)
{
    /* Consecutive virtual pages need not be physically adjacent: one patch per page. */
    while (len > 0) {
        const uint32_t in_page = R2D_PAGE_SIZE - (uint32_t)(va & (R2D_PAGE_SIZE - 1));
        const uint32_t n = in_page < len ? in_page : len;
        uint64_t pa;
        int rc = r2d_mmu_translate(&a->mmu, va, &pa, NULL);

        if (!rc && !r2d_image_covers(a->img, pa, n))
            rc = r2d_err(a->ctx, R2D_EHOLE, "%s: physical 0x%" PRIx64 " (virtual 0x%" PRIx64 ") is not in the image",
                         r2d_image_path(a->img), pa, va);
        if (!rc)
            rc = r2d_plan_add_patch(a->ctx, plan, a->img, pa, bytes, n, va, reason);
        if (rc)
            return rc;
        va += n;
        bytes += n;
        len -= n;
    }
    return 0;
}

/* A KSYSTEM_TIME is consistent when High1Time == High2Time (the writer updates them around LowPart). */
static int
plan_read_ksystem_time(struct r2d_analysis *a, uint64_t va, uint64_t *out)
{
    uint8_t b[12];

    if (r2d_mmu_read(&a->mmu, va, b, sizeof(b)) || r2d_le32(b + 4) != r2d_le32(b + 8))
        return 0;
    *out = (uint64_t)r2d_le32(b + 4) << 32 | r2d_le32(b);
    return 1;
}

static int
plan_version(struct r2d_analysis *a, struct r2d_plan *plan)
{
    uint8_t vb[R2D_KVB_SIZE];
    uint64_t va;

    if (r2d_kernel_symbol(a, "KdVersionBlock", &va) == 0 && r2d_mmu_read(&a->mmu, va, vb, sizeof(vb)) == 0) {
        a->major_version = r2d_le16(vb + R2D_KVB_OFF_MAJOR_VERSION);
        a->minor_version = r2d_le16(vb + R2D_KVB_OFF_MINOR_VERSION);
        a->kd_secondary_version = vb[R2D_KVB_OFF_KD_SECONDARY];
        a->machine_type = r2d_le16(vb + R2D_KVB_OFF_MACHINE_TYPE);
        a->have_version = 1;
        if (r2d_le64(vb + R2D_KVB_OFF_KERNBASE) != a->kernel_base)
            return r2d_plan_add_warning(a->ctx, plan, "KdVersionBlock.KernBase 0x%" PRIx64 " differs from the kernel "
                                        "base 0x%" PRIx64,
                                        r2d_le64(vb + R2D_KVB_OFF_KERNBASE), a->kernel_base);
        return 0;
    }
    /* Fall back to KUSER_SHARED_DATA's build number (absent before Windows 10). */
    {
        uint32_t build = 0;

        r2d_mmu_read_u32(&a->mmu, r2d_kuser_va(a->paging) + KUSER_NT_BUILD_NUMBER, &build);
        a->major_version = R2D_KVB_MAJOR_FREE_BUILD;
        a->minor_version = (uint16_t)build;
        /* x86 kernels report KdSecondaryVersion 0 (KD_SECONDARY_VERSION_DEFAULT) */
        a->kd_secondary_version = r2d_analysis_is_x86(a) ? 0 : R2D_KVB_KD_SECONDARY_AMD64_CONTEXT;
        a->machine_type = r2d_analysis_machine(a);
        return r2d_plan_add_warning(a->ctx, plan, "KdVersionBlock unreadable; version %u.%u taken from "
                                    "KUSER_SHARED_DATA", a->major_version, a->minor_version);
    }
}

/* Read a kernel list head or pointer from the KDBG when it has it, else from the symbol. */
static uint64_t
plan_kdbg_ptr(struct r2d_analysis *a, uint16_t off, const char *sym)
{
    uint64_t va = 0;

    if (a->kdbg.size >= off + 8u && r2d_le64(a->kdbg.bytes + off))
        return r2d_le64(a->kdbg.bytes + off);
    r2d_kernel_symbol(a, sym, &va);
    return va;
}

static void
plan_bugcheck(struct r2d_analysis *a, struct r2d_header_values *h)
{
    const uint64_t va = plan_kdbg_ptr(a, R2D_KDBG_OFF_KI_BUGCHECK_DATA, "KiBugCheckData");
    const unsigned w = a->ptr_size == 4 ? 4 : 8; /* ULONG_PTR KiBugCheckData[5]: code, then 4 parameters */
    uint8_t b[40];

    h->bugcheck_code = BUGCHECK_LIVE_SYSTEM_DUMP;
    if (va && r2d_mmu_read(&a->mmu, va, b, 5 * w) == 0 && r2d_le32(b) != 0) {
        h->bugcheck_code = r2d_le32(b);
        for (unsigned i = 0; i < 4; i++)
            h->bugcheck_params[i] = w == 4 ? r2d_le32(b + 4 + 4 * i) : r2d_le64(b + 8 + 8 * i);
    }
    if (a->opts->have_bugcheck) {
        h->bugcheck_code = a->opts->bugcheck_code;
        memset(h->bugcheck_params, 0, sizeof(h->bugcheck_params));
    }
}

static void
plan_header_context(struct r2d_analysis *a, struct r2d_header_values *h)
{
    const size_t ncpu = r2d_image_cpu_count(a->img);
    char why[512];

    /* No registers: the same choice as for processor 0's KPRCB.Context (contexts.c). */
    if (ncpu == 0) {
        if (!r2d_context_saved(a, 0, h->context, why, sizeof(why)))
            r2d_context_fallback(a, h->context);
        return;
    }

    for (size_t i = 0; i < ncpu && i < a->ncpus; i++)
        if (a->cpus[i].processor == 0) {
            r2d_context_for_cpu(a, r2d_image_cpu(a->img, i), h->context);
            return;
        }
    /* The first vCPU when it ran in the guest's own mode (long mode for x64, not for x86). */
    if ((r2d_image_cpu(a->img, 0)->flags & R2D_CPU_LONG_MODE ? 0 : 1) == r2d_analysis_is_x86(a))
        r2d_context_for_cpu(a, r2d_image_cpu(a->img, 0), h->context);
    else
        r2d_context_fallback(a, h->context);
}

/*
 * The kernel's own list of RAM runs, validated as MemProcFS does: 0 < NumberOfRuns <= 0x80, runs non-empty,
 * ascending and disjoint, below 2^52, summing to NumberOfPages; and it must hold the page tables we use.
 * Returns 1 when usable; else 0 with why filled.
 */
static int
plan_read_pmd(struct r2d_analysis *a, struct plan_pmd *m, char *why, size_t whylen)
{
    const uint64_t var = plan_kdbg_ptr(a, R2D_KDBG_OFF_MM_PHYSICAL_MEMORY_BLOCK, "MmPhysicalMemoryBlock");
    const int x86 = r2d_analysis_is_x86(a);
    const unsigned run0 = x86 ? R2D_PMD32_OFF_RUN0 : R2D_PMD64_OFF_RUN0;
    const unsigned runsz = x86 ? R2D_PMD32_RUN_SIZE : R2D_PMD64_RUN_SIZE;
    uint8_t hdr[R2D_PMD64_OFF_RUN0], runs[PMD_MAX_RUNS * R2D_PMD64_RUN_SIZE];
    uint64_t sum = 0, prev_end = 0;
    int dtb_inside = 0;

    if (var == 0 || r2d_read_ptr(a, var, &m->va) || r2d_mmu_read(&a->mmu, m->va, hdr, run0)) {
        snprintf(why, whylen, "%s", var ? r2d_errmsg(a->ctx) : "no MmPhysicalMemoryBlock symbol");
        return 0;
    }
    m->nruns = r2d_le32(hdr + (x86 ? R2D_PMD32_OFF_NUMBER_OF_RUNS : R2D_PMD64_OFF_NUMBER_OF_RUNS));
    m->npages = x86 ? r2d_le32(hdr + R2D_PMD32_OFF_NUMBER_OF_PAGES) : r2d_le64(hdr + R2D_PMD64_OFF_NUMBER_OF_PAGES);
    if (m->nruns == 0 || m->nruns > PMD_MAX_RUNS) {
        snprintf(why, whylen, "NumberOfRuns %" PRIu32 " at 0x%" PRIx64 " is not in 1..%u", m->nruns, m->va,
                 PMD_MAX_RUNS);
        return 0;
    }
    if (r2d_mmu_read(&a->mmu, m->va + run0, runs, (size_t)m->nruns * runsz)) {
        snprintf(why, whylen, "%s", r2d_errmsg(a->ctx));
        return 0;
    }
    for (uint32_t i = 0; i < m->nruns; i++) {
        m->base[i] = x86 ? r2d_le32(runs + runsz * i) : r2d_le64(runs + runsz * i);
        m->count[i] = x86 ? r2d_le32(runs + runsz * i + R2D_PMD32_RUN_OFF_PAGE_COUNT)
                          : r2d_le64(runs + runsz * i + R2D_PMD64_RUN_OFF_PAGE_COUNT);
        if (m->count[i] == 0 || m->base[i] < prev_end || m->base[i] >= PMD_MAX_PFN ||
            m->count[i] > PMD_MAX_PFN - m->base[i]) {
            snprintf(why, whylen, "run %" PRIu32 " (BasePage 0x%" PRIx64 ", PageCount 0x%" PRIx64 ") is empty, "
                     "out of order or out of range", i, m->base[i], m->count[i]);
            return 0;
        }
        prev_end = m->base[i] + m->count[i];
        sum += m->count[i];
        dtb_inside |= (a->dtb >> R2D_PAGE_SHIFT) >= m->base[i] && (a->dtb >> R2D_PAGE_SHIFT) < prev_end;
    }
    if (sum != m->npages) {
        snprintf(why, whylen, "its runs hold 0x%" PRIx64 " pages, NumberOfPages says 0x%" PRIx64, sum, m->npages);
        return 0;
    }
    if (!dtb_inside) {
        snprintf(why, whylen, "its runs do not include the page tables at 0x%" PRIx64, a->dtb);
        return 0;
    }
    return 1;
}

/* Pages of the kernel's runs that the image covers (a partial page counts, as the writer pads it). */
static uint64_t
plan_pmd_covered(const struct r2d_image *img, const struct plan_pmd *m, uint64_t *first_missing)
{
    uint64_t covered = 0;

    *first_missing = UINT64_MAX;
    for (uint32_t i = 0; i < m->nruns; i++) {
        uint64_t next = m->base[i];   /* first page of this kernel run not yet known to be covered */

        for (size_t r = 0; r < r2d_image_run_count(img); r++) {
            const struct r2d_run *run = r2d_image_run(img, r);
            const uint64_t first = run->pa >> R2D_PAGE_SHIFT, last = (run->pa + run->len - 1) >> R2D_PAGE_SHIFT;
            const uint64_t lo = first > m->base[i] ? first : m->base[i];
            const uint64_t hi = last + 1 < m->base[i] + m->count[i] ? last + 1 : m->base[i] + m->count[i];

            if (lo >= hi)
                continue;
            if (lo > next && next < *first_missing)
                *first_missing = next;
            covered += hi - lo;
            next = hi;
        }
        if (next < m->base[i] + m->count[i] && next < *first_missing)
            *first_missing = next;
    }
    return covered;
}

/*
 * The pages to write. A raw padded file says nothing about where RAM is: use the kernel's runs, so MMIO
 * holes and padding are left out like in a genuine dump. Other containers' runs are what was captured:
 * keep them, and say which RAM the kernel knows of that the capture lacks (docs/reference/discovery.md 11).
 */
static int
plan_ranges(struct r2d_analysis *a, struct r2d_plan *plan)
{
    const int raw = r2d_image_props(a->img)->runs_include_padding;
    struct plan_pmd *m = malloc(sizeof(*m));
    uint64_t covered, missing, first_missing, image_pages;
    char why[512];
    int rc;

    if (!m)
        return r2d_err(a->ctx, R2D_ENOMEM, "out of memory for the kernel's memory runs");
    rc = r2d_plan_add_image_runs(a->ctx, plan, a->img);
    if (rc)
        goto out;
    image_pages = r2d_plan_page_count(plan);
    if (!plan_read_pmd(a, m, why, sizeof(why))) {
        rc = r2d_plan_add_fact(a->ctx, plan, "ram_source", "%s", raw ? "the whole file (no usable kernel map)"
                                                                    : "the container's runs, not cross-checked");
        if (!rc)
            rc = r2d_plan_add_warning(a->ctx, plan, "MmPhysicalMemoryBlock unusable (%s); %s", why,
                                      raw ? "the whole file is written as one run, holes and padding included"
                                          : "the captured RAM cannot be cross-checked");
        goto out;
    }
    covered = plan_pmd_covered(a->img, m, &first_missing);
    missing = m->npages - covered;
    rc = r2d_plan_add_fact(a->ctx, plan, "kernel_ram", "MmPhysicalMemoryBlock at 0x%" PRIx64 ": %" PRIu32
                           " runs, %" PRIu64 " pages", m->va, m->nruns, m->npages);
    if (!rc && raw) {
        r2d_plan_clear_ranges(plan);
        for (uint32_t i = 0; i < m->nruns && !rc; i++)
            rc = r2d_plan_add_range(a->ctx, plan, m->base[i], m->count[i]);
        if (!rc)
            rc = r2d_plan_add_fact(a->ctx, plan, "ram_source", "MmPhysicalMemoryBlock (the kernel's RAM runs)");
        if (!rc)
            rc = r2d_plan_add_fact(a->ctx, plan, "padding_pages_dropped", "%" PRIu64, image_pages - covered);
        r2d_log(a->ctx, R2D_LOG_INFO, "raw image: %" PRIu32 " RAM runs from MmPhysicalMemoryBlock; %" PRIu64
                " padding pages of the file left out", m->nruns, image_pages - covered);
    } else if (!rc) {
        rc = r2d_plan_add_fact(a->ctx, plan, "ram_source", "the container's runs, cross-checked with "
                               "MmPhysicalMemoryBlock");
    }
    if (!rc)
        rc = r2d_plan_add_fact(a->ctx, plan, "ram_pages_missing", "%" PRIu64, missing);
    if (!rc && missing)
        rc = r2d_plan_add_warning(a->ctx, plan, "the input lacks %" PRIu64 " page%s of the RAM the kernel reports "
                                  "(MmPhysicalMemoryBlock), the first at physical 0x%" PRIx64 "; %s", missing,
                                  missing == 1 ? "" : "s", first_missing << R2D_PAGE_SHIFT,
                                  raw ? "they are written as zeros" : "they are not in the dump");
out:
    free(m);
    return rc;
}

static const char *
plan_kdbg_mode_name(enum r2d_kdbg_mode mode)
{
    switch (mode) {
    case R2D_KDBG_PLAIN: return "plain";
    case R2D_KDBG_DECODED: return "decoded";
    case R2D_KDBG_REBUILT: return "rebuilt";
    default: return "none";
    }
}

static int
plan_kdbg_patches(struct r2d_analysis *a, struct r2d_plan *plan)
{
    struct r2d_kdbg *k = &a->kdbg;
    static const uint8_t zero = 0;
    int rc = 0;

    if (k->mode == R2D_KDBG_DECODED || k->mode == R2D_KDBG_REBUILT) {
        rc = r2d_plan_patch_virtual(a, plan, k->va, k->bytes, k->size,
                                    k->mode == R2D_KDBG_DECODED ? "KDBG decoded" : "KDBG rebuilt from symbols");
        /* The flag says "encoded"; the block in the dump no longer is (docs/reference/kdbg.md section 6). */
        if (!rc && k->have_flag && k->flag != 0)
            rc = r2d_plan_patch_virtual(a, plan, k->flag_va, &zero, 1, "KdpDataBlockEncoded cleared");
    }
    return rc;
}

/*
 * A 32-bit guest's header: the analysis keeps kernel VAs sign-extended as the KDBG holds them, DUMP_HEADER32
 * holds their low 32 bits; PaeEnabled must match the paging mode (readers choose their walker by it), and
 * the header is always the 32-bit one, whatever KdVersionBlock.MachineType says.
 */
static void
plan_header32(struct r2d_analysis *a, struct r2d_header_values *h)
{
    uint64_t *const va[] = {&h->pfn_database, &h->ps_loaded_module_list, &h->ps_active_process_head, &h->kdbg_va,
                            &h->bugcheck_params[0], &h->bugcheck_params[1], &h->bugcheck_params[2],
                            &h->bugcheck_params[3], &h->dtb};

    for (size_t i = 0; i < sizeof(va) / sizeof(va[0]); i++)
        *va[i] &= UINT32_MAX;
    h->machine_image_type = R2D_DH32_MACHINE_I386;
    h->pae_enabled = a->paging == R2D_PAGING_X86_PAE;
}

int
r2d_build_plan_version(struct r2d_analysis *a, struct r2d_plan *plan)
{
    return plan_version(a, plan);
}

int
r2d_build_plan(struct r2d_analysis *a, struct r2d_plan *plan)
{
    struct r2d_header_values *h = r2d_plan_header(plan);
    const uint64_t kuser = r2d_kuser_va(a->paging); /* the same layout at 0xFFDF0000 on x86 */
    int rc;

    rc = plan_version(a, plan);
    if (rc)
        return rc;
    h->major_version = a->major_version;
    h->minor_version = a->minor_version;
    h->kd_secondary_version = a->kd_secondary_version;
    h->machine_image_type = a->machine_type ? a->machine_type : r2d_analysis_machine(a);
    h->dtb = a->system_dtb;
    h->kdbg_va = a->kdbg.va;
    h->pfn_database = plan_kdbg_ptr(a, R2D_KDBG_OFF_MM_PFN_DATABASE, "MmPfnDatabase");
    h->ps_loaded_module_list = plan_kdbg_ptr(a, R2D_KDBG_OFF_PS_LOADED_MODULE_LIST, "PsLoadedModuleList");
    h->ps_active_process_head = plan_kdbg_ptr(a, R2D_KDBG_OFF_PS_ACTIVE_PROCESS_HEAD, "PsActiveProcessHead");
    h->number_processors = a->nprocessors;
    plan_bugcheck(a, h);
    plan_header_context(a, h);
    if (r2d_analysis_is_x86(a))
        plan_header32(a, h);
    if (!plan_read_ksystem_time(a, kuser + KUSER_SYSTEM_TIME, &h->system_time))
        r2d_plan_add_warning(a->ctx, plan, "KUSER_SHARED_DATA.SystemTime unreadable or torn; SystemTime left 0");
    if (!plan_read_ksystem_time(a, kuser + KUSER_INTERRUPT_TIME, &h->system_uptime))
        r2d_plan_add_warning(a->ctx, plan, "KUSER_SHARED_DATA.InterruptTime unreadable or torn; SystemUpTime left 0");
    r2d_mmu_read_u32(&a->mmu, kuser + KUSER_NT_PRODUCT_TYPE, &h->product_type);
    r2d_mmu_read_u32(&a->mmu, kuser + KUSER_SUITE_MASK, &h->suite_mask);
    snprintf(h->comment, sizeof(h->comment), "raw2dmp %s: from %s, KDBG %s", R2D_VERSION,
             r2d_image_format_name(a->img), plan_kdbg_mode_name(a->kdbg.mode));
    r2d_plan_set_dump_type(plan, a->opts->dump_type);

    rc = plan_ranges(a, plan);
    if (!rc)
        rc = plan_kdbg_patches(a, plan);
    if (!rc)
        rc = r2d_patch_contexts(a, plan);
    return rc;
}
