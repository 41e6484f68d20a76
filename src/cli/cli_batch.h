/* SPDX-License-Identifier: MIT */
/* raw2dmp --batch: convert the items of a JSON-lines manifest, in parallel, skipping finished ones. */
#ifndef R2D_CLI_CLI_BATCH_H
#define R2D_CLI_CLI_BATCH_H

#include <signal.h>

#include "cli_display.h"
#include "cli_shard.h"
#include "raw2dmp/convert.h"

struct cli_batch_config {
    const char *manifest;                /* path, or "-" for standard input */
    const struct r2d_options *defaults;  /* the command line's options, overridden per item */
    int jobs;                            /* conversions at once, >= 1 */
    int verbosity;                       /* for every item's context */
    int progress;                        /* draw the batch progress line */
    const volatile sig_atomic_t *cancel; /* SIGINT/SIGTERM flag */
    const struct cli_shard *shard;       /* the items this process converts (0/1: all) */
    const char *results_dir;             /* --results DIR, or NULL */
    int break_stale_locks;               /* items' locks of other hosts are stale at any age */
};

/**
 * Run the batch. Prints one JSON result line per item on stdout as it finishes, errors and (unless quiet)
 * warnings on stderr. Returns the exit code: 0 every item ok or skipped, 1 some item failed, 2 the manifest
 * is unreadable or invalid (nothing was converted), 130 interrupted. The manifest is checked whole; then only
 * the shard's items are converted. With results_dir, every result line also goes to a file of this process
 * there (cli_results.h).
 */
int cli_batch_run(const struct cli_batch_config *cfg);

#endif
