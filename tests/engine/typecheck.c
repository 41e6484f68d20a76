/* SPDX-License-Identifier: MIT */
/*
 * typecheck PDB ISF: for every type size and field offset the KDBG rebuild uses (r2d_kdbg_fields), the answer
 * of the PDB provider must equal the ISF provider's, wherever the ISF has the type or field. Prints one line
 * per entry ("same", "DIFF", "pdb-missing", "isf-missing") and a summary; exit 0 when nothing differs and the
 * PDB lacks nothing the ISF has, 1 otherwise, 99 when a file cannot be opened.
 */
#include <inttypes.h>
#include <stdio.h>

#include "kdbg_fields.h"
#include "raw2dmp/ctx.h"
#include "symbols.h"

static int
typecheck_ask(struct r2d_ctx *ctx, const struct r2d_symbols *syms, const struct r2d_kdbg_field *f,
              uint64_t *v)
{
    if (f->kind == R2D_KF_SIZEOF)
        return r2d_symbols_type_size(ctx, syms, f->source, v);
    return r2d_symbols_field_offset(ctx, syms, f->source, f->path, v);
}

int
main(int argc, char **argv)
{
    struct r2d_ctx *ctx = r2d_ctx_new();
    struct r2d_symbols *pdb = NULL, *isf = NULL;
    unsigned same = 0, bad = 0, skipped = 0;

    if (argc != 3 || !ctx) {
        fprintf(stderr, "usage: typecheck PDB ISF\n");
        return 99;
    }
    if (r2d_pdb_open(ctx, argv[1], &pdb) || r2d_isf_open(ctx, argv[2], &isf)) {
        fprintf(stderr, "typecheck: %s\n", r2d_errmsg(ctx));
        return 99;
    }
    for (size_t i = 0; i < r2d_kdbg_field_count; i++) {
        const struct r2d_kdbg_field *f = &r2d_kdbg_fields[i];
        uint64_t from_isf, from_pdb;
        int rc;

        if (f->kind != R2D_KF_OFFSET && f->kind != R2D_KF_SIZEOF)
            continue;
        if (typecheck_ask(ctx, isf, f, &from_isf)) {
            printf("isf-missing %s (%s%s%s)\n", f->name, f->source, f->path ? "." : "",
                   f->path ? f->path : "");
            skipped++;
            continue;
        }
        rc = typecheck_ask(ctx, pdb, f, &from_pdb);
        if (rc) {
            printf("pdb-missing %s (%s%s%s): isf 0x%" PRIx64 ": %s\n", f->name, f->source, f->path ? "." : "",
                   f->path ? f->path : "", from_isf, r2d_errmsg(ctx));
            bad++;
        } else if (from_pdb != from_isf) {
            printf("DIFF %s (%s%s%s): pdb 0x%" PRIx64 ", isf 0x%" PRIx64 "\n", f->name, f->source,
                   f->path ? "." : "", f->path ? f->path : "", from_pdb, from_isf);
            bad++;
        } else {
            printf("same %s 0x%" PRIx64 "\n", f->name, from_pdb);
            same++;
        }
    }
    printf("typecheck: %u same, %u differ or missing from the PDB, %u not in the ISF\n", same, bad, skipped);
    r2d_symbols_free(pdb);
    r2d_symbols_free(isf);
    r2d_ctx_free(ctx);
    return bad || same == 0 ? 1 : 0;
}
