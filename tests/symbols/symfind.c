/* SPDX-License-Identifier: MIT */
/*
 * A small client of r2d_symstore_find for the symbol server test:
 *     symfind [--offline] SYMBOL_PATH PDB_NAME GUID AGE
 * On success prints "path <file>" and "origin <where>" on stdout and exits 0; on failure prints
 * "error <R2D_E...>: <message>" on stderr and exits 1; bad usage exits 2. The library's log (verbosity INFO)
 * goes to stderr prefixed with "log: ".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raw2dmp/ctx.h"
#include "symbols.h"

static void
symfind_log(void *arg, int level, const char *msg)
{
    fprintf(stderr, "log: %s\n", msg);
}

int
main(int argc, char **argv)
{
    struct r2d_pdb_id id = {0};
    struct r2d_ctx *ctx;
    char *path = NULL;
    char *origin = NULL;
    char *end;
    int offline = 0;
    unsigned long age;
    int rc;

    if (argc > 1 && strcmp(argv[1], "--offline") == 0) {
        offline = 1;
        argv++;
        argc--;
    }
    if (argc != 5) {
        fprintf(stderr, "usage: symfind [--offline] SYMBOL_PATH PDB_NAME GUID AGE\n");
        return 2;
    }
    /* The name is copied as the PE reader would: at most 255 bytes plus NUL; longer names stay unterminated.
     */
    memcpy(id.name, argv[2], strlen(argv[2]) < sizeof(id.name) ? strlen(argv[2]) + 1 : sizeof(id.name));
    age = strtoul(argv[4], &end, 0);
    if (r2d_guid_parse(argv[3], id.guid) != 0 || *end || age > 0xFFFFFFFFul) {
        fprintf(stderr, "symfind: bad GUID or age\n");
        return 2;
    }
    id.age = (uint32_t)age;
    ctx = r2d_ctx_new();
    if (!ctx)
        return 1;
    r2d_ctx_set_log(ctx, symfind_log, NULL);
    r2d_ctx_set_verbosity(ctx, R2D_LOG_INFO);
    rc = r2d_symstore_find(ctx, argv[1], offline, &id, &path, &origin);
    if (rc == 0) {
        printf("path %s\norigin %s\n", path, origin);
    } else {
        fprintf(stderr, "error %s: %s\n", r2d_status_name(rc), r2d_errmsg(ctx));
    }
    free(path);
    free(origin);
    r2d_ctx_free(ctx);
    return rc == 0 ? 0 : 1;
}
