/* SPDX-License-Identifier: MIT */
/* The analysis state, kernel symbols for the kernel found, and the kernel's version block. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "plan_build.h"
#include "bytes.h"
#include "symstore.h"

void
r2d_analysis_init(struct r2d_analysis *a, struct r2d_ctx *ctx, const struct r2d_options *opts,
                  const struct r2d_image *img)
{
    memset(a, 0, sizeof(*a));
    a->ctx = ctx;
    a->opts = opts;
    a->img = img;
    /* Until discovery decides (from CR0/CR4/long mode, or by trying x64, x86 PAE, x86 in turn). */
    a->paging = R2D_PAGING_X64;
    a->ptr_size = 8;
}

void
r2d_analysis_set_mode(struct r2d_analysis *a, enum r2d_paging paging, uint64_t dtb)
{
    a->paging = paging;
    r2d_mmu_init(&a->mmu, a->ctx, a->img, paging, dtb);
    a->ptr_size = r2d_mmu_pointer_size(&a->mmu);
    a->dtb = a->mmu.dtb;
}

uint16_t
r2d_analysis_machine(const struct r2d_analysis *a)
{
    return r2d_analysis_is_x86(a) ? 0x14c : 0x8664;
}

uint64_t
r2d_analysis_va(const struct r2d_analysis *a, uint64_t va)
{
    return r2d_analysis_is_x86(a) ? (uint64_t)(int64_t)(int32_t)(uint32_t)va : va;
}

int
r2d_read_ptr(struct r2d_analysis *a, uint64_t va, uint64_t *out)
{
    uint32_t v32;
    int rc;

    if (!r2d_analysis_is_x86(a))
        return r2d_mmu_read_u64(&a->mmu, va, out);
    rc = r2d_mmu_read_u32(&a->mmu, va, &v32);
    if (!rc)
        *out = r2d_analysis_va(a, v32);
    return rc;
}

void
r2d_analysis_free(struct r2d_analysis *a)
{
    r2d_symbols_free(a->syms);
    a->syms = NULL;
    free(a->cpus);
    a->cpus = NULL;
    a->ncpus = 0;
}

static int
engine_open_from_path(struct r2d_analysis *a)
{
    char defpath[4096];
    const char *path = a->opts->symbol_path;
    char *found = NULL, *origin = NULL;
    int rc;

    if (!path || !*path)
        path = getenv("_NT_SYMBOL_PATH");
    if (!path || !*path)
        path = r2d_symstore_default_path(defpath, sizeof(defpath));
    rc = r2d_symstore_find(a->ctx, path, a->opts->offline, &a->pe.pdb, &found, &origin);
    if (rc)
        return rc;
    rc = r2d_pdb_open(a->ctx, found, &a->syms);
    if (!rc)
        snprintf(a->syms->origin, sizeof(a->syms->origin), "%s", origin);
    free(found);
    free(origin);
    return rc;
}

int
r2d_load_kernel_symbols(struct r2d_analysis *a)
{
    char guid[R2D_GUID_HEX_LEN + 1];
    int rc;

    R2D_CHECK(!a->pe.have_rsds, a->ctx, R2D_ENOTFOUND,
              "%s: the kernel at 0x%" PRIx64 " has no readable CodeView record; cannot choose symbols",
              r2d_image_path(a->img), a->kernel_base);
    r2d_guid_format(a->pe.pdb.guid, guid);
    if (a->opts->isf_path)
        rc = r2d_isf_find(a->ctx, a->opts->isf_path, &a->pe.pdb, &a->syms);
    else if (a->opts->pdb_path)
        rc = r2d_pdb_open(a->ctx, a->opts->pdb_path, &a->syms);
    else
        rc = engine_open_from_path(a);
    if (rc)
        return r2d_err_prefix(a->ctx, rc, "%s: symbols for %s %s/%" PRIX32, r2d_image_path(a->img), a->pe.pdb.name,
                              guid, a->pe.pdb.age);
    rc = r2d_symbols_match(a->ctx, a->syms, &a->pe.pdb, a->opts->force_symbols);
    if (rc)
        return rc;
    /* A 64-bit table for a 32-bit kernel (or the reverse) gives every offset wrong: refuse unless forced. */
    if (a->syms->machine && a->syms->machine != a->pe.machine) {
        if (!a->opts->force_symbols)
            return r2d_err(a->ctx, R2D_EMISMATCH, "%s: symbols %s describe machine 0x%x, the kernel is 0x%x (%s); "
                           "--force-symbols uses them anyway", r2d_image_path(a->img), a->syms->origin,
                           a->syms->machine, a->pe.machine, a->pe.machine == 0x14c ? "x86" : "x64");
        r2d_log(a->ctx, R2D_LOG_WARN, "symbols %s describe machine 0x%x, the kernel is 0x%x; using them anyway "
                "(forced)", a->syms->origin, a->syms->machine, a->pe.machine);
    }
    snprintf(a->symbols_how, sizeof(a->symbols_how), "%.300s (%s, %.100s %s age %" PRIu32 ")", a->syms->origin,
             a->syms->ops->kind, a->pe.pdb.name, guid, a->pe.pdb.age);
    r2d_log(a->ctx, R2D_LOG_INFO, "symbols: %s", a->symbols_how);
    return 0;
}

int
r2d_kernel_symbol(struct r2d_analysis *a, const char *name, uint64_t *va)
{
    uint64_t rva;
    const int rc = r2d_symbols_rva(a->ctx, a->syms, name, &rva);

    if (!rc)
        *va = a->kernel_base + rva;
    return rc;
}

/* Run the engine steps in order up to the KDBG; stop at the first failure (its message is in the context). */
int
r2d_analyse_kernel(struct r2d_analysis *a)
{
    int rc = r2d_discover_dtb(a);

    if (!rc)
        rc = r2d_discover_kernel(a);
    if (!rc)
        rc = r2d_load_kernel_symbols(a);
    if (!rc)
        rc = r2d_discover_system_dtb(a);
    if (!rc) {
        /* KdVersionBlock first: a rebuilt KDBG's Size depends on the build. */
        struct r2d_plan *scratch = r2d_plan_new();

        if (!scratch)
            return r2d_err(a->ctx, R2D_ENOMEM, "out of memory");
        rc = r2d_build_plan_version(a, scratch);
        r2d_plan_free(scratch);
    }
    if (!rc)
        rc = r2d_kdbg_locate(a);
    return rc;
}

int
r2d_analyse(struct r2d_analysis *a)
{
    const int rc = r2d_analyse_kernel(a);

    return rc ? rc : r2d_match_cpus(a);
}
