/* SPDX-License-Identifier: MIT */
/* Processors: vCPUs matched to Windows processors, and the CONTEXT records written into their KPRCBs. */
#ifndef R2D_ENGINE_CONTEXTS_H
#define R2D_ENGINE_CONTEXTS_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "plan.h"

/* KeNumberProcessors beyond this is not a Windows machine (x64 Windows supports 2048 logical processors). */
#define R2D_MAX_PROCESSORS 2048u

struct r2d_analysis;

/* One vCPU of the input (or, without registers, one processor) matched to a Windows processor. */
struct r2d_cpu_match {
    int processor;        /* -1 when not matched */
    uint64_t kprcb;
    uint64_t context_va;  /* *(KPRCB + OffsetPrcbContext); XP x86: KPRCB + ProcessorState.ContextFrame */
    int context_in_prcb;  /* 1 when context_va is the CONTEXT inside the KPRCB (x86 XP has no KPRCB.Context) */
    char how[128];
};

/* Fill a->cpus: one entry per vCPU, or per processor when the input has no registers. */
int r2d_match_cpus(struct r2d_analysis *a);
/* Fill a->cpus with one entry per processor from KiProcessorBlock, whatever registers the image has. */
int r2d_find_processors(struct r2d_analysis *a);
void r2d_context_from_cpu(const struct r2d_cpu_state *cpu, uint8_t ctx[R2D_CONTEXT_SIZE]);
void r2d_context_minimal(uint64_t dtb, uint8_t ctx[R2D_CONTEXT_SIZE]);
int r2d_patch_contexts(struct r2d_analysis *a, struct r2d_plan *plan);
/*
 * Without a register source: processor j's saved state (_KPRCB.ProcessorState.ContextFrame) when it is
 * plausible (1, ctx filled), else 0 with why filled.
 */
int r2d_context_saved(struct r2d_analysis *a, uint32_t j, uint8_t ctx[R2D_CONTEXT_SIZE], char *why, size_t whylen);

/* 32-bit guests (context86.c): the x86 CONTEXT in the first 0x2cc bytes of the plan's CONTEXT buffer. */
void r2d_context86_from_cpu(const struct r2d_cpu_state *cpu, uint8_t ctx[R2D_CONTEXT_SIZE]);
void r2d_context86_minimal(uint8_t ctx[R2D_CONTEXT_SIZE]);
int r2d_context86_saved(struct r2d_analysis *a, uint64_t kprcb, uint64_t off, uint8_t ctx[R2D_CONTEXT_SIZE], char *why,
                        size_t whylen);
/* Bytes of a CONTEXT for the guest's architecture (0x2cc x86, 0x4d0 x64), and the arch's builders. */
uint32_t r2d_context_len(const struct r2d_analysis *a);
void r2d_context_for_cpu(const struct r2d_analysis *a, const struct r2d_cpu_state *cpu, uint8_t ctx[R2D_CONTEXT_SIZE]);
void r2d_context_fallback(const struct r2d_analysis *a, uint8_t ctx[R2D_CONTEXT_SIZE]);

#endif
