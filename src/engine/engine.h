/* SPDX-License-Identifier: MIT */
/*
 * What the engine learns about one image, step by step: page tables, kernel, symbols, KDBG, processors.
 * Each step records how it decided, so --info and the report can say it.
 */
#ifndef R2D_ENGINE_ENGINE_H
#define R2D_ENGINE_ENGINE_H

#include <stdint.h>

#include "kdbg_header.h"
#include "mmu.h"
#include "pe.h"
#include "raw2dmp/convert.h"
#include "plan.h"
#include "symbols.h"

#define R2D_KUSER_SHARED_DATA UINT64_C(0xfffff78000000000)
#define R2D_KASLR_FLOOR UINT64_C(0xfffff80000000000)
#define R2D_KASLR_CEIL UINT64_C(0xfffff80800000000)
#define R2D_MAX_CPUS 1024

enum r2d_kdbg_mode {
    R2D_KDBG_NONE = 0,
    R2D_KDBG_PLAIN,    /* the block in memory already reads 'KDBG' */
    R2D_KDBG_DECODED,  /* encoded with the Windows 8+ formula; decoded by us */
    R2D_KDBG_REBUILT,  /* built from symbols and types */
};

struct r2d_kdbg {
    enum r2d_kdbg_mode mode;
    uint64_t va;
    uint32_t size;
    uint8_t bytes[R2D_KDBG_MAX_SIZE];  /* the block as it must appear in the dump */
    uint8_t image[R2D_KDBG_MAX_SIZE];  /* the block as the image holds it */
    int have_image;
    uint64_t flag_va;                  /* KdpDataBlockEncoded */
    uint8_t flag;
    int have_flag;
    uint64_t wait_never, wait_always;
    char why[1024];                    /* how the block was obtained, or why it could not be */
    /* The image's own block made plain (decoded or plain), kept for verification when we rebuild. */
    uint8_t from_image[R2D_KDBG_MAX_SIZE];
    uint32_t from_image_size;          /* 0 when the image's block was unusable */
    /* Fields a rebuild could not derive (indexes into r2d_kdbg_fields). */
    uint16_t underived[256];
    unsigned nunderived;
};

#define R2D_KDBG_MAX_DIFFS 256

/* One field where the image's KDBG and the block rebuilt from symbols disagree. */
struct r2d_kdbg_diff {
    const char *field;
    uint16_t offset;
    uint64_t image;
    uint64_t symbols;
};

/* A page-table base that validated, ranked by discover.c (highest score first). */
#define R2D_DTB_MAX_CANDIDATES 16
struct r2d_dtb_candidate {
    uint64_t pa;
    int score;
    char how[384];   /* where it was found and which tests it passed */
};

/* One vCPU of the input matched to a Windows processor. */
struct r2d_cpu_match {
    int processor;        /* -1 when not matched */
    uint64_t kprcb;
    uint64_t context_va;  /* *(KPRCB + OffsetPrcbContext) */
    char how[128];
};

struct r2d_analysis {
    struct r2d_ctx *ctx;
    const struct r2d_options *opts;
    const struct r2d_image *img;

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
    struct r2d_cpu_match cpus[R2D_MAX_CPUS];
};

void r2d_analysis_init(struct r2d_analysis *a, struct r2d_ctx *ctx, const struct r2d_options *opts,
                       const struct r2d_image *img);
void r2d_analysis_free(struct r2d_analysis *a);

/* discover.c: page tables and kernel base. */
int r2d_discover_dtb(struct r2d_analysis *a);
int r2d_discover_kernel(struct r2d_analysis *a);
/* After symbols are loaded: switch to the System process DTB when it differs and validates. */
int r2d_discover_system_dtb(struct r2d_analysis *a);

/* symbols for the kernel found (symbols.c provides providers; this picks one per the options). */
int r2d_load_kernel_symbols(struct r2d_analysis *a);
/* VA of a kernel symbol (kernel base + RVA). */
int r2d_kernel_symbol(struct r2d_analysis *a, const char *name, uint64_t *va);

/* kdbg.c */
uint64_t r2d_kdbg_decode_u64(uint64_t e, uint64_t wait_never, uint64_t wait_always, uint64_t block_va);
uint64_t r2d_kdbg_encode_u64(uint64_t plain, uint64_t wait_never, uint64_t wait_always, uint64_t block_va);
int r2d_kdbg_locate(struct r2d_analysis *a);
int r2d_kdbg_rebuild(struct r2d_analysis *a, uint8_t *out, uint32_t *size);
/*
 * Compare the image's block with one rebuilt from symbols, field by field, over the fields the rebuild
 * derived. Returns the number of differences written to diffs (at most max), or a negative status.
 */
int r2d_kdbg_verify(struct r2d_analysis *a, struct r2d_kdbg_diff *diffs, size_t max);

/* contexts.c: match vCPUs to processors; build CONTEXT records. */
int r2d_match_cpus(struct r2d_analysis *a);
void r2d_context_from_cpu(const struct r2d_cpu_state *cpu, uint8_t ctx[R2D_CONTEXT_SIZE]);
void r2d_context_minimal(uint64_t dtb, uint8_t ctx[R2D_CONTEXT_SIZE]);
int r2d_patch_contexts(struct r2d_analysis *a, struct r2d_plan *plan);
/*
 * Without a register source: processor j's saved state (_KPRCB.ProcessorState.ContextFrame) when it is
 * plausible (1, ctx filled), else 0 with why filled.
 */
int r2d_context_saved(struct r2d_analysis *a, uint32_t j, uint8_t ctx[R2D_CONTEXT_SIZE], char *why, size_t whylen);

/* plan_build.c: everything the writer needs. */
int r2d_build_plan(struct r2d_analysis *a, struct r2d_plan *plan);
/* Just the version part (KdVersionBlock, or KUSER_SHARED_DATA as a fallback); warnings go to plan. */
int r2d_build_plan_version(struct r2d_analysis *a, struct r2d_plan *plan);
/* Add a patch covering a virtual range page by page. */
int r2d_plan_patch_virtual(struct r2d_analysis *a, struct r2d_plan *plan, uint64_t va, const uint8_t *bytes,
                           uint32_t len, const char *reason);

#endif
