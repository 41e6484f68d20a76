/* SPDX-License-Identifier: MIT */
/*
 * The PDB reader (MSF superblock and directory, PDB info, DBI, section headers, OMAP, publics, TPI) on a
 * hostile file: r2d_pdb_open, then the questions the engine asks, then the statistics (which load every
 * stream the lookups may not have touched).
 */
#include "fuzz_util.h"
#include "pdb.h"
#include "symbols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Names the engine asks for, and names from tests/symbols/pdb/sample.c and tests/symbols/symfixture.c. */
static const char *const fuzz_pdb_symbols[] = {
    "KdDebuggerDataBlock", "KdpDataBlockEncoded", "KiWaitNever", "KiProcessorBlock", "PsInitialSystemProcess",
    "KiWaitAlways", "KeNumberProcessors", "MmPfnDatabase", "r2d_fixture_value", "r2d_fixture_sum", "", "x",
};
static const struct {
    const char *type, *field;
} fuzz_pdb_fields[] = {
    {"_KPRCB", "Context"},
    {"_KPRCB", "ProcessorState.ContextFrame.Rip"},
    {"_KPCR", "Prcb"},
    {"_KPROCESS", "DirectoryTableBase"},
    {"r2d_fixture_pair", "second"},
    {"_EPROCESS", "Pcb.DirectoryTableBase"},
    {"r2d_prcb", "ProcessorState.ContextFrame.deep.c"},
    {"r2d_prcb", "u.parts.hi"},
    {"r2d_prcb", "anon_i"},
    {"r2d_prcb", "Flag0"},
    {"r2d_big", "m7999"},
    {"r2d_late", "x"},
    {"r2d_fwd_only", "x"},
    {"", ""},
    {"_KPRCB", "..."},
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_file file;
    struct r2d_ctx *ctx = fuzz_ctx();
    struct r2d_symbols *syms = NULL;
    struct r2d_pdb_stats st;
    uint64_t v;

    if (r2d_pdb_open(ctx, fuzz_file_set(&file, data, size), &syms) != 0) {
        fuzz_touch_errmsg(ctx);
        return 0;
    }
    fuzz_log_discard(NULL, 0, syms->id.name);
    for (size_t i = 0; i < sizeof(fuzz_pdb_symbols) / sizeof(fuzz_pdb_symbols[0]); i++)
        if (r2d_symbols_rva(ctx, syms, fuzz_pdb_symbols[i], &v))
            fuzz_touch_errmsg(ctx);
    for (size_t i = 0; i < sizeof(fuzz_pdb_fields) / sizeof(fuzz_pdb_fields[0]); i++) {
        if (r2d_symbols_type_size(ctx, syms, fuzz_pdb_fields[i].type, &v))
            fuzz_touch_errmsg(ctx);
        if (r2d_symbols_field_offset(ctx, syms, fuzz_pdb_fields[i].type, fuzz_pdb_fields[i].field, &v))
            fuzz_touch_errmsg(ctx);
    }
    if (r2d_pdb_stats(ctx, syms, &st))
        fuzz_touch_errmsg(ctx);
    r2d_symbols_free(syms);
    return 0;
}
