/* SPDX-License-Identifier: MIT */
/*
 * CPU contexts: match each vCPU of the input to the Windows processor it was running (by its KPCR, not by
 * its position in the file) and write its registers as an AMD64 CONTEXT where WinDbg looks for them
 * (docs/reference/kdbg.md section 9; docs/formats/crashdump.md F4).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "plan_build.h"
#include "kdbg_fields.h"
#include "bytes.h"
#include "context_amd64.h"

#define KPCR_PRCB_DEFAULT 0x180 /* _KPCR.Prcb in every x64 build 7601-22000 */
#define KPCR_PRCB_DEFAULT_X86 0x120 /* _KPCR.PrcbData on x86 XP, 7 and 10 (isf32 README) */
#define PRCB_NUMBER_DEFAULT_X86 0x10 /* _KPRCB.Number (XP) / LegacyNumber (7, 10): a byte */
#define X86_GDT_R0_PCR 0x30     /* the selector whose descriptor's base is the KPCR (FS in kernel mode) */
#define KERNEL_HALF 0xffff800000000000ull

/* QEMU notes carry integer, control and segment state, no FPU/XMM/debug registers: claim only those. */
void
r2d_context_from_cpu(const struct r2d_cpu_state *cpu, uint8_t ctx[R2D_CONTEXT_SIZE])
{
    /* CONTEXT stores Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8-R15: map by name, not by index. */
    const uint64_t gpr[16] = {cpu->rax, cpu->rcx, cpu->rdx, cpu->rbx, cpu->rsp, cpu->rbp, cpu->rsi, cpu->rdi,
                              cpu->r8,  cpu->r9,  cpu->r10, cpu->r11, cpu->r12, cpu->r13, cpu->r14, cpu->r15};

    memset(ctx, 0, R2D_CONTEXT_SIZE);
    r2d_put_le32(ctx + R2D_CTX64_OFF_CONTEXT_FLAGS, R2D_CTX64_FLAG_AMD64 | R2D_CTX64_FLAG_CONTROL |
                                                        R2D_CTX64_FLAG_INTEGER | R2D_CTX64_FLAG_SEGMENTS);
    r2d_put_le32(ctx + R2D_CTX64_OFF_MXCSR, R2D_CTX64_MXCSR_RESET);
    r2d_put_le32(ctx + R2D_CTX64_OFF_FLTSAVE_MXCSR, R2D_CTX64_MXCSR_RESET);
    r2d_put_le16(ctx + R2D_CTX64_OFF_SEG_CS, (uint16_t)cpu->cs.selector);
    r2d_put_le16(ctx + R2D_CTX64_OFF_SEG_DS, (uint16_t)cpu->ds.selector);
    r2d_put_le16(ctx + R2D_CTX64_OFF_SEG_ES, (uint16_t)cpu->es.selector);
    r2d_put_le16(ctx + R2D_CTX64_OFF_SEG_FS, (uint16_t)cpu->fs.selector);
    r2d_put_le16(ctx + R2D_CTX64_OFF_SEG_GS, (uint16_t)cpu->gs.selector);
    r2d_put_le16(ctx + R2D_CTX64_OFF_SEG_SS, (uint16_t)cpu->ss.selector);
    r2d_put_le32(ctx + R2D_CTX64_OFF_EFLAGS, (uint32_t)cpu->rflags);
    for (int i = 0; i < 16; i++)
        r2d_put_le64(ctx + R2D_CTX64_OFF_RAX + 8 * i, gpr[i]);
    r2d_put_le64(ctx + R2D_CTX64_OFF_RIP, cpu->rip);
}

/* No register source: kernel selectors and consistent MxCsr copies, so readers accept it. */
void
r2d_context_minimal(uint64_t dtb, uint8_t ctx[R2D_CONTEXT_SIZE])
{
    (void)dtb;
    memset(ctx, 0, R2D_CONTEXT_SIZE);
    r2d_put_le32(ctx + R2D_CTX64_OFF_CONTEXT_FLAGS, R2D_CTX64_FLAG_AMD64 | R2D_CTX64_FLAG_SEGMENTS);
    r2d_put_le32(ctx + R2D_CTX64_OFF_MXCSR, R2D_CTX64_MXCSR_RESET);
    r2d_put_le32(ctx + R2D_CTX64_OFF_FLTSAVE_MXCSR, R2D_CTX64_MXCSR_RESET);
    r2d_put_le16(ctx + R2D_CTX64_OFF_SEG_CS, R2D_CTX64_SEL_CS);
    r2d_put_le16(ctx + R2D_CTX64_OFF_SEG_DS, R2D_CTX64_SEL_DS);
    r2d_put_le16(ctx + R2D_CTX64_OFF_SEG_ES, R2D_CTX64_SEL_DS);
    r2d_put_le16(ctx + R2D_CTX64_OFF_SEG_FS, R2D_CTX64_SEL_FS);
    r2d_put_le16(ctx + R2D_CTX64_OFF_SEG_GS, R2D_CTX64_SEL_DS);
    r2d_put_le16(ctx + R2D_CTX64_OFF_SEG_SS, R2D_CTX64_SEL_SS);
}

/* An offset from the KDBG when it has the field, else from the types, else a fallback. */
static uint64_t
contexts_offset(struct r2d_analysis *a, uint16_t kdbg_off, const char *type, const char *path, uint64_t fallback)
{
    uint64_t v;

    if (a->kdbg.size >= kdbg_off + 2u && r2d_le16(a->kdbg.bytes + kdbg_off) != 0)
        return r2d_le16(a->kdbg.bytes + kdbg_off);
    if (r2d_symbols_field_offset(a->ctx, a->syms, type, path, &v) == 0)
        return v;
    return fallback;
}

/*
 * Where processor m's CONTEXT goes: *(KPRCB + context_off), the pointer _KPRCB.Context (Vista on). XP's
 * KPRCB has none (context_off 0 on x86): its context is the CONTEXT embedded in the KPRCB,
 * ProcessorState.ContextFrame, where the bug check saves each processor's state (docs/reference/kdbg.md 9).
 */
static void
contexts_context_va(struct r2d_analysis *a, struct r2d_cpu_match *m, uint64_t context_off)
{
    if (context_off == 0) {
        const uint64_t state = contexts_offset(a, R2D_KDBG_OFF_OFFSET_PRCB_PROC_STATE_CONTEXT, "_KPRCB",
                                               "ProcessorState.ContextFrame", 0x1c);

        m->context_va = m->kprcb + state;
        m->context_in_prcb = 1;
        return;
    }
    if (r2d_read_ptr(a, m->kprcb + context_off, &m->context_va))
        m->context_va = 0;
}

/*
 * No register source (raw, LiME): there is no vCPU to match, so entry j describes processor j itself, as
 * KiProcessorBlock gives it; r2d_patch_contexts then writes saved or minimal contexts.
 */
static int
contexts_match_memory(struct r2d_analysis *a, const uint64_t *kprcb, uint64_t context_off)
{
    for (uint32_t j = 0; j < a->nprocessors; j++) {
        struct r2d_cpu_match *m = &a->cpus[j];

        if (kprcb[j] == 0) {
            r2d_log(a->ctx, R2D_LOG_WARN, "KiProcessorBlock[%" PRIu32 "] is 0", j);
            continue;
        }
        m->processor = (int)j;
        m->kprcb = kprcb[j];
        snprintf(m->how, sizeof(m->how), "no CPU registers in the input: KiProcessorBlock[%" PRIu32 "]", j);
        contexts_context_va(a, m, context_off);
        r2d_log(a->ctx, R2D_LOG_INFO, "processor %" PRIu32 ": KPRCB 0x%" PRIx64 ", CONTEXT at 0x%" PRIx64, j, m->kprcb,
                m->context_va);
    }
    return 0;
}

int
r2d_context_saved(struct r2d_analysis *a, uint32_t j, uint8_t ctx[R2D_CONTEXT_SIZE], char *why, size_t whylen)
{
    const uint64_t off = contexts_offset(a, R2D_KDBG_OFF_OFFSET_PRCB_PROC_STATE_CONTEXT, "_KPRCB",
                                         "ProcessorState.ContextFrame", 0);
    uint64_t rip, rsp;
    uint32_t flags, mxcsr;
    uint16_t cs, ss;

    if (j >= a->ncpus || a->cpus[j].processor != (int)j || a->cpus[j].kprcb == 0) {
        snprintf(why, whylen, "processor %" PRIu32 " has no KPRCB", j);
        return 0;
    }
    if (r2d_analysis_is_x86(a))
        return r2d_context86_saved(a, a->cpus[j].kprcb, off, ctx, why, whylen);
    if (off == 0) {
        snprintf(why, whylen, "neither the KDBG nor the symbols give _KPRCB.ProcessorState.ContextFrame");
        return 0;
    }
    if (r2d_mmu_read(&a->mmu, a->cpus[j].kprcb + off, ctx, R2D_CONTEXT_SIZE)) {
        snprintf(why, whylen, "%s", r2d_errmsg(a->ctx));
        return 0;
    }
    rip = r2d_le64(ctx + R2D_CTX64_OFF_RIP);
    rsp = r2d_le64(ctx + R2D_CTX64_OFF_RSP);
    cs = r2d_le16(ctx + R2D_CTX64_OFF_SEG_CS);
    ss = r2d_le16(ctx + R2D_CTX64_OFF_SEG_SS);
    mxcsr = r2d_le32(ctx + R2D_CTX64_OFF_MXCSR);
    /* A kernel-mode frame: RIP in the kernel half, a canonical stack, kernel selectors, a sane MxCsr. */
    if (rip < KERNEL_HALF || rsp == 0 || ((int64_t)rsp >> 47 != 0 && (int64_t)rsp >> 47 != -1) ||
        cs != R2D_CTX64_SEL_CS || (ss != R2D_CTX64_SEL_SS && ss != 0) || (mxcsr & 0xffff0000u)) {
        snprintf(why, whylen, "Rip 0x%" PRIx64 ", Rsp 0x%" PRIx64 ", SegCs 0x%x, SegSs 0x%x, MxCsr 0x%" PRIx32
                 " is not a kernel-mode frame", rip, rsp, cs, ss, mxcsr);
        return 0;
    }
    flags = r2d_le32(ctx + R2D_CTX64_OFF_CONTEXT_FLAGS);
    if (!(flags & R2D_CTX64_FLAG_AMD64))
        r2d_put_le32(ctx + R2D_CTX64_OFF_CONTEXT_FLAGS, R2D_CTX64_FLAG_AMD64 | R2D_CTX64_FLAG_CONTROL |
                                                            R2D_CTX64_FLAG_INTEGER | R2D_CTX64_FLAG_SEGMENTS);
    r2d_put_le32(ctx + R2D_CTX64_OFF_FLTSAVE_MXCSR, mxcsr); /* readers expect both copies to agree */
    snprintf(why, whylen, "saved ProcessorState.ContextFrame at KPRCB+0x%" PRIx64 " (Rip 0x%" PRIx64 ")", off, rip);
    return 1;
}

/*
 * One match slot per vCPU, or per processor when there are no registers (n slots, all unmatched), and a
 * scratch table of the nproc KiProcessorBlock entries for the caller to fill and free.
 */
static int
contexts_alloc(struct r2d_analysis *a, size_t n, uint32_t nproc, uint64_t **kprcb)
{
    free(a->cpus);
    a->ncpus = 0;
    a->cpus = calloc(n ? n : 1, sizeof(*a->cpus));
    *kprcb = calloc(nproc ? nproc : 1, sizeof(**kprcb));
    if (!a->cpus || !*kprcb) {
        free(*kprcb);
        *kprcb = NULL;
        return r2d_err(a->ctx, R2D_ENOMEM, "out of memory for %zu processors", n);
    }
    for (size_t i = 0; i < n; i++)
        a->cpus[i].processor = -1;
    a->ncpus = n;
    return 0;
}

/*
 * A vCPU's KPCR, in the analysis' VA form; returns what it came from. x64: GS base in kernel mode, the
 * swapped-out kernel GS base in user mode. x86: FS base in kernel mode (FS is the KPCR selector 0x30
 * there); in user mode FS is the TEB's, so the base of GDT descriptor 0x30 through the CPU's GDTR.
 */
static const char *
contexts_kpcr(struct r2d_analysis *a, const struct r2d_cpu_state *cpu, uint64_t *kpcr)
{
    uint8_t d[8];

    *kpcr = 0;
    if (!r2d_analysis_is_x86(a)) {
        if (cpu->gs.base >> 63) {
            *kpcr = cpu->gs.base;
            return "GS base";
        }
        if ((cpu->flags & R2D_CPU_HAVE_KGSBASE) && (cpu->kernel_gs_base >> 63))
            *kpcr = cpu->kernel_gs_base;
        return "kernel GS base";
    }
    if (r2d_analysis_va(a, cpu->fs.base) >= R2D_X86_SYSTEM_FLOOR) {
        *kpcr = r2d_analysis_va(a, cpu->fs.base);
        return "FS base";
    }
    if (cpu->gdt.base && cpu->gdt.limit >= X86_GDT_R0_PCR + 7 &&
        !r2d_mmu_read(&a->mmu, r2d_analysis_va(a, cpu->gdt.base) + X86_GDT_R0_PCR, d, sizeof(d)))
        *kpcr = r2d_analysis_va(a, r2d_le16(d + 2) | (uint32_t)d[4] << 16 | (uint32_t)d[7] << 24);
    return "GDT[0x30] base";
}

/* Registers in the input: each vCPU is the processor whose KPRCB its KPCR contains (never by note order). */
static int
contexts_match_registers(struct r2d_analysis *a, const uint64_t *kprcb, uint64_t prcb_off, uint64_t number_off,
                         uint64_t context_off)
{
    const uint32_t nproc = a->nprocessors;
    uint64_t x86_prcb_ptr_off = 0x20; /* _KPCR.Prcb on x86 XP, 7 and 10 */

    r2d_symbols_field_offset(a->ctx, a->syms, "_KPCR", "Prcb", &x86_prcb_ptr_off);

    for (size_t i = 0; i < r2d_image_cpu_count(a->img); i++) {
        const struct r2d_cpu_state *cpu = r2d_image_cpu(a->img, i);
        struct r2d_cpu_match *m = &a->cpus[i];
        uint64_t kpcr = 0;

        const char *via = contexts_kpcr(a, cpu, &kpcr);
        uint64_t prcb_ptr = 0;

        /* x86's KPCR also points at its KPRCB (_KPCR.Prcb): a second way to the same answer. */
        if (kpcr && r2d_analysis_is_x86(a) && r2d_read_ptr(a, kpcr + x86_prcb_ptr_off, &prcb_ptr))
            prcb_ptr = 0;
        for (uint32_t j = 0; kpcr && j < nproc; j++) {
            uint32_t number;

            if (kprcb[j] == 0 || (kprcb[j] - prcb_off != kpcr && kprcb[j] != prcb_ptr))
                continue;
            /* x86's number is a byte (XP Number, later LegacyNumber), followed by a zero byte */
            if (r2d_mmu_read_u32(&a->mmu, kprcb[j] + number_off, &number) ||
                (r2d_analysis_is_x86(a) ? number & 0xffff : number) != j) {
                r2d_log(a->ctx, R2D_LOG_WARN, "CPU %zu: KPRCB 0x%" PRIx64 " says processor %" PRIu32
                        ", KiProcessorBlock says %" PRIu32, i, kprcb[j], number, j);
                continue;
            }
            m->processor = (int)j;
            m->kprcb = kprcb[j];
            if (kprcb[j] - prcb_off == kpcr)
                snprintf(m->how, sizeof(m->how), "KPCR 0x%" PRIx64 " = KiProcessorBlock[%" PRIu32 "] - 0x%" PRIx64,
                         kpcr, j, prcb_off);
            else
                snprintf(m->how, sizeof(m->how), "KPCR 0x%" PRIx64 " (%s) points at KiProcessorBlock[%" PRIu32 "]",
                         kpcr, via, j);
        }
        if (m->processor < 0) {
            snprintf(m->how, sizeof(m->how), "no KiProcessorBlock entry matches its %s 0x%" PRIx64, via, kpcr);
            r2d_log(a->ctx, R2D_LOG_WARN, "CPU %zu: %s; its registers are not written", i, m->how);
            continue;
        }
        contexts_context_va(a, m, context_off);
        r2d_log(a->ctx, R2D_LOG_INFO, "CPU %zu is processor %d (%s), CONTEXT at 0x%" PRIx64, i, m->processor, m->how,
                m->context_va);
    }
    return 0;
}

/* registers: match the image's vCPUs; else describe each processor from memory alone. */
static int
contexts_match(struct r2d_analysis *a, int registers)
{
    const size_t ncpu = registers ? r2d_image_cpu_count(a->img) : 0;
    uint64_t block, nsym, prcb_off, number_off, context_off;
    uint64_t *kprcb;
    uint32_t nproc = 0;
    int rc;

    const int x86 = r2d_analysis_is_x86(a);

    rc = r2d_kernel_symbol(a, "KiProcessorBlock", &block);
    if (rc)
        return r2d_err_prefix(a->ctx, rc, "processors");
    if (r2d_kernel_symbol(a, "KeNumberProcessors", &nsym) == 0)
        r2d_mmu_read_u32(&a->mmu, nsym, &nproc);
    /* KeNumberProcessors is a CCHAR on x86 XP and 7 (a ULONG later): a byte is all that is certain. */
    if (x86)
        nproc &= 0xff;
    prcb_off = contexts_offset(a, R2D_KDBG_OFF_OFFSET_PCR_CONTAINED_PRCB, "_KPCR", x86 ? "PrcbData" : "Prcb",
                               x86 ? KPCR_PRCB_DEFAULT_X86 : KPCR_PRCB_DEFAULT);
    number_off = contexts_offset(a, R2D_KDBG_OFF_OFFSET_PRCB_NUMBER, "_KPRCB", "Number",
                                 x86 ? PRCB_NUMBER_DEFAULT_X86 : 0x24);
    context_off = contexts_offset(a, R2D_KDBG_OFF_OFFSET_PRCB_CONTEXT, "_KPRCB", "Context", 0);
    /* x86 XP has no _KPRCB.Context: its CONTEXT is inside the KPRCB (contexts_context_va). */
    R2D_CHECK(context_off == 0 && !x86, a->ctx, R2D_ENOTFOUND,
              "%s: neither the KDBG nor the symbols give _KPRCB.Context", r2d_image_path(a->img));
    if (nproc == 0 || nproc > R2D_MAX_PROCESSORS) {
        r2d_log(a->ctx, R2D_LOG_WARN, "KeNumberProcessors reads %" PRIu32 "; counting KiProcessorBlock",
                nproc);
        for (nproc = 0; nproc < R2D_MAX_PROCESSORS; nproc++) {
            uint64_t p;

            if (r2d_read_ptr(a, block + (uint64_t)a->ptr_size * nproc, &p) || p == 0)
                break;
        }
    }
    a->nprocessors = nproc;
    rc = contexts_alloc(a, ncpu > nproc ? ncpu : nproc, nproc, &kprcb);
    if (rc)
        return rc;
    for (uint32_t j = 0; j < nproc; j++)
        if (r2d_read_ptr(a, block + (uint64_t)a->ptr_size * j, &kprcb[j]))
            kprcb[j] = 0;
    rc = ncpu == 0 ? contexts_match_memory(a, kprcb, context_off)
                   : contexts_match_registers(a, kprcb, prcb_off, number_off, context_off);
    free(kprcb);
    return rc;
}

int
r2d_match_cpus(struct r2d_analysis *a)
{
    return contexts_match(a, 1);
}

int
r2d_find_processors(struct r2d_analysis *a)
{
    return contexts_match(a, 0);
}

/* Patch one CONTEXT at processor j's KPRCB.Context; a target outside the image is a warning. */
static int
contexts_patch_one(struct r2d_analysis *a, struct r2d_plan *plan, const struct r2d_cpu_match *m,
                   const uint8_t ctx[R2D_CONTEXT_SIZE], const char *reason)
{
    int rc = r2d_plan_patch_virtual(a, plan, m->context_va, ctx, r2d_context_len(a), reason);

    if (rc == R2D_ENOVA || rc == R2D_EHOLE)
        rc = r2d_plan_add_warning(a->ctx, plan, "processor %d: CONTEXT at 0x%" PRIx64 " is not in the image (%s)",
                                  m->processor, m->context_va, r2d_errmsg(a->ctx));
    return rc;
}

/*
 * No register source: each processor's saved frame where it is plausible; else, for processor 0 only, a
 * minimal context (kernel selectors), as MemProcFS and Vol2 do. Both are said in the report.
 */
static int
contexts_patch_memory(struct r2d_analysis *a, struct r2d_plan *plan)
{
    char why[512], skipped[256] = "";
    uint32_t nsaved = 0, nskipped = 0;
    int minimal = 0, rc = 0;

    for (uint32_t j = 0; j < a->nprocessors && j < a->ncpus && !rc; j++) {
        const struct r2d_cpu_match *m = &a->cpus[j];
        uint8_t ctx[R2D_CONTEXT_SIZE];
        char reason[80];

        if (m->processor != (int)j)
            continue;
        if (m->context_va == 0) {
            rc = r2d_plan_add_warning(a->ctx, plan, "processor %" PRIu32 ": KPRCB.Context is NULL; no CONTEXT "
                                      "written", j);
            continue;
        }
        if (r2d_context_saved(a, j, ctx, why, sizeof(why))) {
            snprintf(reason, sizeof(reason), "processor %" PRIu32 " CONTEXT (saved ProcessorState)", j);
            r2d_log(a->ctx, R2D_LOG_INFO, "processor %" PRIu32 ": %s", j, why);
            rc = contexts_patch_one(a, plan, m, ctx, reason);
            nsaved++;
        } else if (j == 0) {
            r2d_context_fallback(a, ctx);
            rc = r2d_plan_add_warning(a->ctx, plan, "no CPU registers in the input and processor 0's saved state is "
                                      "unusable (%s); wrote a minimal CONTEXT (kernel selectors only)", why);
            if (!rc)
                rc = contexts_patch_one(a, plan, m, ctx, "processor 0 CONTEXT (minimal)");
            minimal = 1;
        } else {
            r2d_log(a->ctx, R2D_LOG_INFO, "processor %" PRIu32 ": %s", j, why);
            if (strlen(skipped) < sizeof(skipped) - 16)
                snprintf(skipped + strlen(skipped), sizeof(skipped) - strlen(skipped), "%s%" PRIu32,
                         nskipped ? ", " : "", j);
            nskipped++;
        }
    }
    if (!rc && nskipped)
        rc = r2d_plan_add_warning(a->ctx, plan, "no CPU registers in the input; the saved state of processor%s %s "
                                  "is not plausible, so %s CONTEXT is left as memory holds it",
                                  nskipped == 1 ? "" : "s", skipped, nskipped == 1 ? "its" : "their");
    if (!rc)
        rc = r2d_plan_add_fact(a->ctx, plan, "contexts", "no CPU registers in the input: %" PRIu32 " of %" PRIu32
                               " processors from their saved ProcessorState.ContextFrame%s", nsaved,
                               a->nprocessors, minimal ? ", processor 0 minimal (kernel selectors only)" : "");
    return rc;
}

int
r2d_patch_contexts(struct r2d_analysis *a, struct r2d_plan *plan)
{
    if (r2d_image_cpu_count(a->img) == 0)
        return contexts_patch_memory(a, plan);
    for (size_t i = 0; i < r2d_image_cpu_count(a->img) && i < a->ncpus; i++) {
        const struct r2d_cpu_match *m = &a->cpus[i];
        uint8_t ctx[R2D_CONTEXT_SIZE];
        char reason[64];
        int rc;

        if (m->processor < 0)
            continue;
        if (m->context_va == 0) {
            rc = r2d_plan_add_warning(a->ctx, plan, "processor %d: KPRCB.Context is NULL; its registers are not written",
                                      m->processor);
            if (rc)
                return rc;
            continue;
        }
        r2d_context_for_cpu(a, r2d_image_cpu(a->img, i), ctx);
        snprintf(reason, sizeof(reason), "processor %d CONTEXT", m->processor);
        rc = r2d_plan_patch_virtual(a, plan, m->context_va, ctx, r2d_context_len(a), reason);
        if (rc == R2D_ENOVA || rc == R2D_EHOLE) {
            rc = r2d_plan_add_warning(a->ctx, plan, "processor %d: CONTEXT at 0x%" PRIx64 " is not in the image (%s)",
                                      m->processor, m->context_va, r2d_errmsg(a->ctx));
        }
        if (rc)
            return rc;
    }
    return 0;
}
