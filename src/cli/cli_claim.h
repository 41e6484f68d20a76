/* SPDX-License-Identifier: MIT */
/* A batch item's claim: OUTPUT.lock, so that two batch processes never convert one item at once. */
#ifndef R2D_CLI_CLI_CLAIM_H
#define R2D_CLI_CLI_CLAIM_H

#include <stddef.h>

#include "cli_display.h"
#include "raw2dmp/lockfile.h"

/* A lock of another host older than this is stale (a conversion of the largest images takes minutes). */
#define CLI_CLAIM_MAX_AGE (24 * 3600)
#define CLI_CLAIM_SUFFIX ".lock"

struct cli_claim {
    char *path; /* OUTPUT.lock */
    struct r2d_lock_info mine;
    int held;
};

/**
 * Claim the item writing output: 0 when claimed, or when no lock can be made there (the directory is
 * missing or read-only: the conversion then fails with its own message); 1 when another process holds it,
 * with the holder in why. Breaking a stale lock is logged as a warning through sink.
 */
int cli_claim_take(struct cli_claim *c, const char *output, int break_other_hosts, int verbosity,
                   struct cli_log_sink *sink, char *why, size_t why_len);

/** Release the claim if held (a claim another process broke as stale stays theirs). */
void cli_claim_release(struct cli_claim *c);

#endif
