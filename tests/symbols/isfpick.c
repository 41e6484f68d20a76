/* SPDX-License-Identifier: MIT */
/*
 * A small client of r2d_isf_find for the symbol pack test:
 *     isfpick PATH PDB_NAME GUID AGE
 * On success prints "origin <where>", "guid <GUID>" and "age <age>" of the table it opened and exits 0; on
 * failure prints "error <R2D_E...>: <message>" on stderr and exits 1; bad usage exits 2.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raw2dmp/ctx.h"
#include "symbols.h"

int
main(int argc, char **argv)
{
    struct r2d_pdb_id id = {0};
    struct r2d_symbols *syms = NULL;
    struct r2d_ctx *ctx;
    char guid[R2D_GUID_HEX_LEN + 1];
    char *end;
    unsigned long age;
    int rc;

    if (argc != 5 || strlen(argv[2]) >= sizeof(id.name)) {
        fprintf(stderr, "usage: isfpick PATH PDB_NAME GUID AGE\n");
        return 2;
    }
    memcpy(id.name, argv[2], strlen(argv[2]) + 1);
    age = strtoul(argv[4], &end, 0);
    if (r2d_guid_parse(argv[3], id.guid) != 0 || *end || age > 0xFFFFFFFFul) {
        fprintf(stderr, "isfpick: bad GUID or age\n");
        return 2;
    }
    id.age = (uint32_t)age;
    ctx = r2d_ctx_new();
    if (!ctx)
        return 1;
    rc = r2d_isf_find(ctx, argv[1], &id, &syms);
    if (rc) {
        fprintf(stderr, "error %s: %s\n", r2d_status_name(rc), r2d_errmsg(ctx));
    } else {
        r2d_guid_format(syms->id.guid, guid);
        printf("origin %s\nguid %s\nage %" PRIu32 "\n", syms->origin, guid, syms->id.age);
    }
    r2d_symbols_free(syms);
    r2d_ctx_free(ctx);
    return rc ? 1 : 0;
}
