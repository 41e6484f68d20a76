/* SPDX-License-Identifier: MIT */
/* Reading a batch manifest (see cli_manifest.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cli_manifest.h"

int
cli_manifest_read(const char *path, const char *name, cli_manifest_item_fn item, void *arg)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *buf = NULL, why[512];
    size_t cap = 0, line = 0;
    ssize_t len;
    int rc = 0;

    if (!f) {
        fprintf(stderr, "raw2dmp: %s: cannot open the manifest: %s\n", name, strerror(errno));
        return -1;
    }
    while (!rc && (len = getline(&buf, &cap, f)) >= 0) {
        json_error_t jerr;
        json_t *doc;

        line++;
        if (strspn(buf, " \t\r\n") == (size_t)len)
            continue; /* blank lines are allowed (a Slurm task may get one) */
        doc = json_loadb(buf, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc || !json_is_object(doc)) {
            snprintf(why, sizeof(why), "not a JSON object: %s", doc ? "another JSON value" : jerr.text);
            json_decref(doc);
            rc = -1;
        } else {
            rc = item(arg, line, doc, why, sizeof(why));
        }
        if (rc)
            fprintf(stderr, "raw2dmp: %s:%zu: %s\n", name, line, why);
    }
    if (!rc && ferror(f)) {
        fprintf(stderr, "raw2dmp: %s: cannot read the manifest: %s\n", name, strerror(errno));
        rc = -1;
    }
    free(buf);
    if (f != stdin)
        fclose(f);
    return rc;
}
