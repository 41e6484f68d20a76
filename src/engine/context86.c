/* SPDX-License-Identifier: MIT */
/*
 * The x86 CONTEXT (0x2cc bytes, src/wintypes/context_x86.h) of a 32-bit guest's processor: built from a
 * vCPU's registers, a minimal one with the kernel selectors, or the processor's saved
 * _KPRCB.ProcessorState.ContextFrame when it is a plausible kernel-mode frame. The same roles as the AMD64
 * builders in contexts.c; docs/formats/crashdump.md ("PAGEDUMP", CONTEXT).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "analysis.h"
#include "bytes.h"
#include "context_x86.h"
#include "kdbg_fields.h"

/* The selectors of an x86 Windows kernel (crashdump-format.md section 8: Vol2, Bin2Dmp). */
#define CTX86_SEL_CS 0x08u
#define CTX86_SEL_SS 0x10u
#define CTX86_SEL_DS 0x23u
#define CTX86_SEL_FS 0x30u
#define CTX86_KERNEL_FLOOR 0x80000000u

_Static_assert(R2D_CTX86_SIZE <= R2D_CONTEXT_SIZE, "an x86 CONTEXT fits the plan's CONTEXT buffer");

/* QEMU notes carry integer, control and segment state, no x87/SSE/debug registers: claim only those. */
void
r2d_context86_from_cpu(const struct r2d_cpu_state *cpu, uint8_t ctx[R2D_CONTEXT_SIZE])
{
    memset(ctx, 0, R2D_CONTEXT_SIZE);
    r2d_put_le32(ctx + R2D_CTX86_OFF_CONTEXT_FLAGS, R2D_CTX86_FLAG_I386 | R2D_CTX86_FLAG_CONTROL |
                                                        R2D_CTX86_FLAG_INTEGER | R2D_CTX86_FLAG_SEGMENTS);
    r2d_put_le32(ctx + R2D_CTX86_OFF_SEG_GS, cpu->gs.selector & 0xffff);
    r2d_put_le32(ctx + R2D_CTX86_OFF_SEG_FS, cpu->fs.selector & 0xffff);
    r2d_put_le32(ctx + R2D_CTX86_OFF_SEG_ES, cpu->es.selector & 0xffff);
    r2d_put_le32(ctx + R2D_CTX86_OFF_SEG_DS, cpu->ds.selector & 0xffff);
    r2d_put_le32(ctx + R2D_CTX86_OFF_EDI, (uint32_t)cpu->rdi);
    r2d_put_le32(ctx + R2D_CTX86_OFF_ESI, (uint32_t)cpu->rsi);
    r2d_put_le32(ctx + R2D_CTX86_OFF_EBX, (uint32_t)cpu->rbx);
    r2d_put_le32(ctx + R2D_CTX86_OFF_EDX, (uint32_t)cpu->rdx);
    r2d_put_le32(ctx + R2D_CTX86_OFF_ECX, (uint32_t)cpu->rcx);
    r2d_put_le32(ctx + R2D_CTX86_OFF_EAX, (uint32_t)cpu->rax);
    r2d_put_le32(ctx + R2D_CTX86_OFF_EBP, (uint32_t)cpu->rbp);
    r2d_put_le32(ctx + R2D_CTX86_OFF_EIP, (uint32_t)cpu->rip);
    r2d_put_le32(ctx + R2D_CTX86_OFF_SEG_CS, cpu->cs.selector & 0xffff);
    r2d_put_le32(ctx + R2D_CTX86_OFF_EFLAGS, (uint32_t)cpu->rflags);
    r2d_put_le32(ctx + R2D_CTX86_OFF_ESP, (uint32_t)cpu->rsp);
    r2d_put_le32(ctx + R2D_CTX86_OFF_SEG_SS, cpu->ss.selector & 0xffff);
}

/* No register source: the kernel's selectors, so that readers accept the frame. */
void
r2d_context86_minimal(uint8_t ctx[R2D_CONTEXT_SIZE])
{
    memset(ctx, 0, R2D_CONTEXT_SIZE);
    r2d_put_le32(ctx + R2D_CTX86_OFF_CONTEXT_FLAGS, R2D_CTX86_FLAG_I386 | R2D_CTX86_FLAG_SEGMENTS);
    r2d_put_le32(ctx + R2D_CTX86_OFF_SEG_CS, CTX86_SEL_CS);
    r2d_put_le32(ctx + R2D_CTX86_OFF_SEG_SS, CTX86_SEL_SS);
    r2d_put_le32(ctx + R2D_CTX86_OFF_SEG_DS, CTX86_SEL_DS);
    r2d_put_le32(ctx + R2D_CTX86_OFF_SEG_ES, CTX86_SEL_DS);
    r2d_put_le32(ctx + R2D_CTX86_OFF_SEG_FS, CTX86_SEL_FS);
}

/*
 * Processor j's _KPRCB.ProcessorState.ContextFrame as an x86 CONTEXT, when it is a kernel-mode frame: EIP and
 * ESP in the system half, CS 0x08, SS 0x10 or 0. off is the field's offset in the KPRCB (0 = unknown).
 */
int
r2d_context86_saved(struct r2d_analysis *a, uint64_t kprcb, uint64_t off, uint8_t ctx[R2D_CONTEXT_SIZE], char *why,
                    size_t whylen)
{
    uint32_t eip, esp, cs, ss;

    memset(ctx, 0, R2D_CONTEXT_SIZE);
    if (off == 0) {
        snprintf(why, whylen, "neither the KDBG nor the symbols give _KPRCB.ProcessorState.ContextFrame");
        return 0;
    }
    if (r2d_mmu_read(&a->mmu, kprcb + off, ctx, R2D_CTX86_SIZE)) {
        snprintf(why, whylen, "%s", r2d_errmsg(a->ctx));
        return 0;
    }
    eip = r2d_le32(ctx + R2D_CTX86_OFF_EIP);
    esp = r2d_le32(ctx + R2D_CTX86_OFF_ESP);
    cs = r2d_le32(ctx + R2D_CTX86_OFF_SEG_CS) & 0xffff;
    ss = r2d_le32(ctx + R2D_CTX86_OFF_SEG_SS) & 0xffff;
    if (eip < CTX86_KERNEL_FLOOR || esp < CTX86_KERNEL_FLOOR || cs != CTX86_SEL_CS ||
        (ss != CTX86_SEL_SS && ss != 0)) {
        snprintf(why, whylen, "Eip 0x%" PRIx32 ", Esp 0x%" PRIx32 ", SegCs 0x%" PRIx32 ", SegSs 0x%" PRIx32
                 " is not a kernel-mode frame", eip, esp, cs, ss);
        return 0;
    }
    if (!(r2d_le32(ctx + R2D_CTX86_OFF_CONTEXT_FLAGS) & R2D_CTX86_FLAG_I386))
        r2d_put_le32(ctx + R2D_CTX86_OFF_CONTEXT_FLAGS, R2D_CTX86_FLAG_I386 | R2D_CTX86_FLAG_CONTROL |
                                                            R2D_CTX86_FLAG_INTEGER | R2D_CTX86_FLAG_SEGMENTS);
    snprintf(why, whylen, "saved ProcessorState.ContextFrame at KPRCB+0x%" PRIx64 " (Eip 0x%" PRIx32 ")", off, eip);
    return 1;
}

uint32_t
r2d_context_len(const struct r2d_analysis *a)
{
    return r2d_analysis_is_x86(a) ? R2D_CTX86_SIZE : R2D_CONTEXT_SIZE;
}

void
r2d_context_for_cpu(const struct r2d_analysis *a, const struct r2d_cpu_state *cpu, uint8_t ctx[R2D_CONTEXT_SIZE])
{
    if (r2d_analysis_is_x86(a))
        r2d_context86_from_cpu(cpu, ctx);
    else
        r2d_context_from_cpu(cpu, ctx);
}

void
r2d_context_fallback(const struct r2d_analysis *a, uint8_t ctx[R2D_CONTEXT_SIZE])
{
    if (r2d_analysis_is_x86(a))
        r2d_context86_minimal(ctx);
    else
        r2d_context_minimal(a->system_dtb, ctx);
}
