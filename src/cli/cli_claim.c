/* SPDX-License-Identifier: MIT */
/*
 * Batch items claimed by lock files beside their outputs. A re-submitted Slurm array can start while tasks
 * of the old one still run, or two people can start one manifest; the claim makes the second process pass
 * the item by (status "busy") instead of converting it a second time at once. The skip check and the
 * conversion run only under the claim, and the result line is written before it is released.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_claim.h"
#include "raw2dmp/ctx.h"
#include "raw2dmp/error.h"

int
cli_claim_take(struct cli_claim *c, const char *output, int break_other_hosts, int verbosity,
               struct cli_log_sink *sink, char *why, size_t why_len)
{
    struct r2d_ctx *ctx = r2d_ctx_new();
    int rc;

    memset(c, 0, sizeof(*c));
    if (!ctx || asprintf(&c->path, "%s%s", output, CLI_CLAIM_SUFFIX) < 0) {
        c->path = NULL;
        r2d_ctx_free(ctx);
        return 0; /* out of memory: the conversion will say so */
    }
    r2d_ctx_set_verbosity(ctx, verbosity);
    r2d_ctx_set_log(ctx, cli_display_log, sink);
    rc = r2d_lock_acquire(ctx, c->path, CLI_CLAIM_MAX_AGE, break_other_hosts, &c->mine);
    c->held = rc == 0;
    if (rc == R2D_EBUSY)
        snprintf(why, why_len, "busy: another process is converting it (%s)", r2d_errmsg(ctx));
    r2d_ctx_free(ctx);
    return rc == R2D_EBUSY;
}

void
cli_claim_release(struct cli_claim *c)
{
    struct r2d_ctx *ctx = c->held ? r2d_ctx_new() : NULL;

    if (ctx && r2d_lock_release(ctx, c->path, &c->mine) != 0)
        fprintf(stderr, "raw2dmp: %s\n", r2d_errmsg(ctx));
    r2d_ctx_free(ctx);
    free(c->path);
    c->path = NULL;
    c->held = 0;
}
