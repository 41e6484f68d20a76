/* SPDX-License-Identifier: MIT */
/*
 * The dump and its report go in place together (issue 12). The README promises that a failed conversion
 * (exit 1) leaves nothing at OUTPUT; a dump whose report could not be written is such a failure, and a
 * dump without the report that holds its SHA-256 and patches is no evidence anyone should rely on.
 *
 * The report records the dump's size and SHA-256, so it can only be written once the dump is complete.
 * Both are therefore written to temporaries, completed and synced first, and only then renamed, dump
 * first: a report that cannot be written (full disk, a report that appeared meanwhile) stops both before
 * either is in place, so even an OUTPUT that --force would replace is left as it was. Only a failure of
 * the report's own rename, after the dump's, needs the dump removed again (r2d_output_commit_pair).
 */
#include <stdio.h>
#include <string.h>

#include "convert_commit.h"
#include "report.h"

/* Say in the one-line message why OUTPUT is not there although the dump was written. */
static int
convert_commit_not_kept(struct r2d_ctx *ctx, int rc, const char *output)
{
    char msg[1536];

    snprintf(msg, sizeof(msg), "%s", r2d_errmsg(ctx));
    return r2d_err(ctx, rc, "%s (%s not kept: a dump is kept only with its report)", msg, output);
}

int
r2d_convert_commit(struct r2d_ctx *ctx, struct r2d_output *dump, const char *output, json_t *report,
                   const char *report_path, unsigned flags, int *report_tried)
{
    struct r2d_output *rep = NULL;
    int rc, failed = 0;

    *report_tried = 0;
    if (!report_path)
        return r2d_output_commit(ctx, dump, NULL);
    *report_tried = 1;
    rc = r2d_report_stage(ctx, report, report_path, flags, &rep);
    if (rc) {
        r2d_output_abort(dump);
        return convert_commit_not_kept(ctx, rc, output);
    }
    rc = r2d_output_commit_pair(ctx, dump, rep, &failed);
    if (failed == 1)
        *report_tried = 0;
    if (failed == 2 && rc == R2D_EEXIST) /* the output layer's words say "output" */
        r2d_err(ctx, rc, "%s: report appeared while writing; not replaced", report_path);
    if (failed == 2)
        rc = convert_commit_not_kept(ctx, rc, output);
    return rc;
}
