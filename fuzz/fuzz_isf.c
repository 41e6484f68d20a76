/* SPDX-License-Identifier: MIT */
/* Volatility 3 JSON symbol tables (plain or .xz) on hostile input: r2d_isf_open, then the engine's lookups. */
#include "fuzz_util.h"
#include "symbols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_isf_symbols[] = {"KdDebuggerDataBlock", "KiProcessorBlock", "a", ""};
static const struct {
    const char *type, *field;
} fuzz_isf_fields[] = {
    {"_KPRCB", "Context"}, {"_EPROCESS", "Pcb.DirectoryTableBase"}, {"_KPCR", "Prcb"},
    {"a", "b.c.d"},        {"", ""},                               {"a", ".."},
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_file file;
    struct r2d_ctx *ctx = fuzz_ctx();
    struct r2d_symbols *syms = NULL;
    uint64_t v;

    if (r2d_isf_open(ctx, fuzz_file_set(&file, data, size), &syms) != 0) {
        fuzz_touch_errmsg(ctx);
        return 0;
    }
    fuzz_log_discard(NULL, 0, syms->id.name);
    for (size_t i = 0; i < sizeof(fuzz_isf_symbols) / sizeof(fuzz_isf_symbols[0]); i++)
        if (r2d_symbols_rva(ctx, syms, fuzz_isf_symbols[i], &v))
            fuzz_touch_errmsg(ctx);
    for (size_t i = 0; i < sizeof(fuzz_isf_fields) / sizeof(fuzz_isf_fields[0]); i++) {
        if (r2d_symbols_type_size(ctx, syms, fuzz_isf_fields[i].type, &v))
            fuzz_touch_errmsg(ctx);
        if (r2d_symbols_field_offset(ctx, syms, fuzz_isf_fields[i].type, fuzz_isf_fields[i].field, &v))
            fuzz_touch_errmsg(ctx);
    }
    r2d_symbols_free(syms);
    return 0;
}
