/* SPDX-License-Identifier: MIT */
/*
 * CPU contexts: match each vCPU of the input to the Windows processor it was running (by its KPCR, not by
 * its position in the file) and write its registers as an AMD64 CONTEXT where WinDbg looks for them
 * (kdbg.md section 9; crashdump-format.md section 4).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "kdbg_fields.h"
#include "raw2dmp/bytes.h"

#define CTX_FLAGS 0x30
#define CTX_MXCSR 0x34
#define CTX_SEGCS 0x38
#define CTX_SEGDS 0x3a
#define CTX_SEGES 0x3c
#define CTX_SEGFS 0x3e
#define CTX_SEGGS 0x40
#define CTX_SEGSS 0x42
#define CTX_EFLAGS 0x44
#define CTX_RAX 0x78
#define CTX_RIP 0xf8
#define CTX_FLTSAVE_MXCSR 0x118
#define CONTEXT_AMD64 0x00100000u
#define CONTEXT_CONTROL 0x1u
#define CONTEXT_INTEGER 0x2u
#define CONTEXT_SEGMENTS 0x4u
#define MXCSR_RESET 0x1f80u
#define KPCR_PRCB_DEFAULT 0x180 /* _KPCR.Prcb in every x64 build 7601-22000 */

/* QEMU notes carry integer, control and segment state, no FPU/XMM/debug registers: claim only those. */
void
r2d_context_from_cpu(const struct r2d_cpu_state *cpu, uint8_t ctx[R2D_CONTEXT_SIZE])
{
    /* CONTEXT stores Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8-R15: map by name, not by index. */
    const uint64_t gpr[16] = {cpu->rax, cpu->rcx, cpu->rdx, cpu->rbx, cpu->rsp, cpu->rbp, cpu->rsi, cpu->rdi,
                              cpu->r8,  cpu->r9,  cpu->r10, cpu->r11, cpu->r12, cpu->r13, cpu->r14, cpu->r15};

    memset(ctx, 0, R2D_CONTEXT_SIZE);
    r2d_put_le32(ctx + CTX_FLAGS, CONTEXT_AMD64 | CONTEXT_CONTROL | CONTEXT_INTEGER | CONTEXT_SEGMENTS);
    r2d_put_le32(ctx + CTX_MXCSR, MXCSR_RESET);
    r2d_put_le32(ctx + CTX_FLTSAVE_MXCSR, MXCSR_RESET);
    r2d_put_le16(ctx + CTX_SEGCS, (uint16_t)cpu->cs.selector);
    r2d_put_le16(ctx + CTX_SEGDS, (uint16_t)cpu->ds.selector);
    r2d_put_le16(ctx + CTX_SEGES, (uint16_t)cpu->es.selector);
    r2d_put_le16(ctx + CTX_SEGFS, (uint16_t)cpu->fs.selector);
    r2d_put_le16(ctx + CTX_SEGGS, (uint16_t)cpu->gs.selector);
    r2d_put_le16(ctx + CTX_SEGSS, (uint16_t)cpu->ss.selector);
    r2d_put_le32(ctx + CTX_EFLAGS, (uint32_t)cpu->rflags);
    for (int i = 0; i < 16; i++)
        r2d_put_le64(ctx + CTX_RAX + 8 * i, gpr[i]);
    r2d_put_le64(ctx + CTX_RIP, cpu->rip);
}

/* No register source: kernel selectors and consistent MxCsr copies, so readers accept it. */
void
r2d_context_minimal(uint64_t dtb, uint8_t ctx[R2D_CONTEXT_SIZE])
{
    (void)dtb;
    memset(ctx, 0, R2D_CONTEXT_SIZE);
    r2d_put_le32(ctx + CTX_FLAGS, CONTEXT_AMD64 | CONTEXT_SEGMENTS);
    r2d_put_le32(ctx + CTX_MXCSR, MXCSR_RESET);
    r2d_put_le32(ctx + CTX_FLTSAVE_MXCSR, MXCSR_RESET);
    r2d_put_le16(ctx + CTX_SEGCS, 0x10);
    r2d_put_le16(ctx + CTX_SEGDS, 0x2b);
    r2d_put_le16(ctx + CTX_SEGES, 0x2b);
    r2d_put_le16(ctx + CTX_SEGFS, 0x53);
    r2d_put_le16(ctx + CTX_SEGGS, 0x2b);
    r2d_put_le16(ctx + CTX_SEGSS, 0x18);
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

int
r2d_match_cpus(struct r2d_analysis *a)
{
    const size_t ncpu = r2d_image_cpu_count(a->img);
    uint64_t block, nsym, prcb_off, number_off, context_off;
    uint64_t kprcb[R2D_MAX_CPUS];
    uint32_t nproc = 0;
    int rc;

    rc = r2d_kernel_symbol(a, "KiProcessorBlock", &block);
    if (rc)
        return r2d_err_prefix(a->ctx, rc, "processors");
    if (r2d_kernel_symbol(a, "KeNumberProcessors", &nsym) == 0)
        r2d_mmu_read_u32(&a->mmu, nsym, &nproc);
    prcb_off = contexts_offset(a, R2D_KDBG_OFFSET_PCR_CONTAINED_PRCB, "_KPCR", "Prcb", KPCR_PRCB_DEFAULT);
    number_off = contexts_offset(a, R2D_KDBG_OFFSET_PRCB_NUMBER, "_KPRCB", "Number", 0x24);
    context_off = contexts_offset(a, R2D_KDBG_OFFSET_PRCB_CONTEXT, "_KPRCB", "Context", 0);
    R2D_CHECK(context_off == 0, a->ctx, R2D_ENOTFOUND,
              "%s: neither the KDBG nor the symbols give _KPRCB.Context", r2d_image_path(a->img));
    if (nproc == 0 || nproc > R2D_MAX_CPUS) {
        r2d_log(a->ctx, R2D_LOG_WARN, "warning: KeNumberProcessors reads %" PRIu32 "; counting KiProcessorBlock",
                nproc);
        for (nproc = 0; nproc < R2D_MAX_CPUS; nproc++) {
            uint64_t p;

            if (r2d_mmu_read_u64(&a->mmu, block + 8ull * nproc, &p) || p == 0)
                break;
        }
    }
    a->nprocessors = nproc;
    for (uint32_t j = 0; j < nproc; j++)
        if (r2d_mmu_read_u64(&a->mmu, block + 8ull * j, &kprcb[j]))
            kprcb[j] = 0;

    for (size_t i = 0; i < ncpu && i < R2D_MAX_CPUS; i++) {
        const struct r2d_cpu_state *cpu = r2d_image_cpu(a->img, i);
        struct r2d_cpu_match *m = &a->cpus[i];
        uint64_t kpcr = 0;

        /* In kernel mode GS holds the KPCR; in user mode the swapped-out kernel GS base does. */
        if (cpu->gs.base >> 63)
            kpcr = cpu->gs.base;
        else if ((cpu->flags & R2D_CPU_HAVE_KGSBASE) && (cpu->kernel_gs_base >> 63))
            kpcr = cpu->kernel_gs_base;
        for (uint32_t j = 0; kpcr && j < nproc; j++) {
            uint32_t number;

            if (kprcb[j] == 0 || kprcb[j] - prcb_off != kpcr)
                continue;
            if (r2d_mmu_read_u32(&a->mmu, kprcb[j] + number_off, &number) || number != j) {
                r2d_log(a->ctx, R2D_LOG_WARN, "warning: CPU %zu: KPRCB 0x%" PRIx64 " says processor %" PRIu32
                        ", KiProcessorBlock says %" PRIu32, i, kprcb[j], number, j);
                continue;
            }
            m->processor = (int)j;
            m->kprcb = kprcb[j];
            snprintf(m->how, sizeof(m->how), "KPCR 0x%" PRIx64 " = KiProcessorBlock[%" PRIu32 "] - 0x%" PRIx64, kpcr,
                     j, prcb_off);
        }
        if (m->processor < 0) {
            snprintf(m->how, sizeof(m->how), "no KiProcessorBlock entry matches its %s 0x%" PRIx64,
                     (cpu->gs.base >> 63) ? "GS base" : "kernel GS base", kpcr);
            r2d_log(a->ctx, R2D_LOG_WARN, "warning: CPU %zu: %s; its registers are not written", i, m->how);
            continue;
        }
        if (r2d_mmu_read_u64(&a->mmu, m->kprcb + context_off, &m->context_va))
            m->context_va = 0;
        r2d_log(a->ctx, R2D_LOG_INFO, "CPU %zu is processor %d (%s), CONTEXT at 0x%" PRIx64, i, m->processor, m->how,
                m->context_va);
    }
    return 0;
}

int
r2d_patch_contexts(struct r2d_analysis *a, struct r2d_plan *plan)
{
    for (size_t i = 0; i < r2d_image_cpu_count(a->img) && i < R2D_MAX_CPUS; i++) {
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
        r2d_context_from_cpu(r2d_image_cpu(a->img, i), ctx);
        snprintf(reason, sizeof(reason), "processor %d CONTEXT", m->processor);
        rc = r2d_plan_patch_virtual(a, plan, m->context_va, ctx, sizeof(ctx), reason);
        if (rc == R2D_ENOVA || rc == R2D_EHOLE) {
            rc = r2d_plan_add_warning(a->ctx, plan, "processor %d: CONTEXT at 0x%" PRIx64 " is not in the image (%s)",
                                      m->processor, m->context_va, r2d_errmsg(a->ctx));
        }
        if (rc)
            return rc;
    }
    return 0;
}
