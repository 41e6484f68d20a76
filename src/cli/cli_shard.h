/* SPDX-License-Identifier: MIT */
/* Which share of a batch manifest this process converts: --shard K/N, or the scheduler's environment. */
#ifndef R2D_CLI_CLI_SHARD_H
#define R2D_CLI_CLI_SHARD_H

#include <stddef.h>

#define CLI_SHARD_MAX 1000000u

struct cli_shard {
    size_t index, count; /* item i (0-based, blank lines not counted) is ours when i % count == index */
    char from[160];      /* where index and count came from, for the summary and the result lines */
};

/**
 * Parse "K/N" (decimal, 0 <= K < N <= CLI_SHARD_MAX) or "none" (0/1). Returns 0, or -1 with the reason in
 * why.
 */
int cli_shard_parse(const char *s, struct cli_shard *out, char *why, size_t why_len);

/**
 * The shard when --shard was not given. count_opt is --shard-count (0 = not given). In order: Slurm
 * (SLURM_ARRAY_TASK_ID; the count is count_opt, else SLURM_ARRAY_TASK_MAX - SLURM_ARRAY_TASK_MIN + 1 with the
 * index taken from _MIN, which must equal SLURM_ARRAY_TASK_COUNT: an array of a few indexes (--array=7,42)
 * says nothing of the original array's size), then Kubernetes (JOB_COMPLETION_INDEX, count_opt required),
 * then the whole manifest (0/1).
 * Returns 0, or -1 with the reason in why (an inconsistent or incomplete environment).
 */
int cli_shard_from_env(size_t count_opt, struct cli_shard *out, char *why, size_t why_len);

#endif
