/* SPDX-License-Identifier: MIT */
/*
 * What the engine learns about one image, step by step: page tables, kernel, symbols, KDBG, processors.
 * Each step records how it decided, so --info and the report can say it. The steps' own types and calls
 * live in discover.h, kdbg.h, contexts.h and plan_build.h.
 */
#ifndef R2D_ENGINE_ANALYSIS_H
#define R2D_ENGINE_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "contexts.h"
#include "discover.h"
#include "kdbg.h"
#include "mmu.h"
#include "pe.h"
#include "raw2dmp/convert.h"
#include "symbols.h"

struct r2d_analysis {
    struct r2d_ctx *ctx;
    const struct r2d_options *opts;
    const struct r2d_image *img;

    enum r2d_paging paging;       /* the guest's paging mode (of the DTB candidate in use) */
    char paging_how[256];         /* why that mode: the registers' bits, or which discovery test found it */
    unsigned ptr_size;            /* bytes of a guest pointer: 8 (x64) or 4 (x86, x86 PAE) */
    struct r2d_mmu mmu;
    uint64_t dtb;                 /* validated candidate used for translation */
    char dtb_how[1024];
    uint64_t system_dtb;          /* PsInitialSystemProcess->Pcb.DirectoryTableBase when symbols say so */
    /* Every candidate that validated, best first; the kernel search falls back along this list. */
    struct r2d_dtb_candidate dtb_cands[R2D_DTB_MAX_CANDIDATES];
    unsigned ndtb_cands;
    uint64_t kernel_hint;         /* a VA inside the kernel (low-stub entry point), 0 when none */

    uint64_t kernel_base;
    char kernel_how[1024];
    struct r2d_pe pe;

    struct r2d_symbols *syms;
    char symbols_how[512];

    struct r2d_kdbg kdbg;

    /* KdVersionBlock */
    uint16_t major_version, minor_version;
    uint8_t kd_secondary_version;
    uint16_t machine_type;
    int have_version;

    uint32_t nprocessors;
    /* One entry per vCPU of the image, or per processor when it has no registers (r2d_match_cpus). */
    struct r2d_cpu_match *cpus;
    size_t ncpus;
};

void r2d_analysis_init(struct r2d_analysis *a, struct r2d_ctx *ctx, const struct r2d_options *opts,
                       const struct r2d_image *img);
void r2d_analysis_free(struct r2d_analysis *a);

/*
 * The architecture, for every later step (do not assume 8-byte pointers): 32-bit kernel VAs are kept
 * sign-extended (0xFFFFFFFF'82800000), the form the KDBG and KdVersionBlock hold; the arch layer translates
 * both forms, a PAGEDUMP header takes the low 32 bits.
 */
static inline int
r2d_analysis_is_x86(const struct r2d_analysis *a)
{
    return a->ptr_size == 4;
}
/* IMAGE_FILE_MACHINE of the guest: 0x14c (x86) or 0x8664 (x64). */
uint16_t r2d_analysis_machine(const struct r2d_analysis *a);
/* A guest VA in the analysis' form: sign-extended from bit 31 on x86, unchanged on x64. */
uint64_t r2d_analysis_va(const struct r2d_analysis *a, uint64_t va);
/* Read a guest pointer (4 or 8 bytes), returned in the analysis' form. */
int r2d_read_ptr(struct r2d_analysis *a, uint64_t va, uint64_t *out);
/* Select the paging mode and the matching translation for dtb (sets paging, ptr_size, mmu, dtb). */
void r2d_analysis_set_mode(struct r2d_analysis *a, enum r2d_paging paging, uint64_t dtb);

/* Symbols for the kernel found, chosen per the options (explicit file, else the symbol path). */
int r2d_load_kernel_symbols(struct r2d_analysis *a);
/* VA of a kernel symbol (kernel base + RVA). */
int r2d_kernel_symbol(struct r2d_analysis *a, const char *name, uint64_t *va);
/*
 * Every step up to the processors, in order: DTB, kernel, symbols, System DTB, version, KDBG, processors.
 * Stops at the first failure (its message is in the context); what was found stays in a for the report.
 */
int r2d_analyse(struct r2d_analysis *a);
/* The same steps without the processors (--info on a crash dump, whose contexts are already written). */
int r2d_analyse_kernel(struct r2d_analysis *a);

#endif
