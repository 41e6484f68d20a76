/* SPDX-License-Identifier: MIT */
/* --results DIR: the batch's result lines kept on shared storage, and --batch-status, which merges them. */
#ifndef R2D_CLI_CLI_RESULTS_H
#define R2D_CLI_CLI_RESULTS_H

#include <stddef.h>

#include "cli_shard.h"

/**
 * Create DIR if it is missing (one level) and open a new results file in it,
 * "shard-K-of-N.HOST.PID.jsonl", for appending. One file per process: its only writer is this process
 * (lines are appended under the batch's lock), so no two writers ever share a file, also on NFS where
 * O_APPEND from two clients can interleave. Returns the descriptor, or -1 with the reason in why.
 */
int cli_results_open(const char *dir, const struct cli_shard *shard, char *path, size_t path_len, char *why,
                     size_t why_len);

/** Append one line (ending in '\n') with as few write()s as the kernel allows, then fdatasync. 0 or -1. */
int cli_results_append(int fd, const char *line);

/** "2026-12-07T06:01:02.345Z": now, in UTC with milliseconds (sorts as text). buf: at least 32 bytes. */
void cli_results_now(char *buf, size_t len);

/**
 * raw2dmp --batch-status MANIFEST --results DIR: for every item of the manifest, the latest record about it
 * (its line, input and output must match) in any DIR/ *.jsonl file: done (ok or skipped, and the output is
 * there), failed (with the record's error), or missing. One JSON line per item on stdout, failures and a
 * summary on stderr (unless quiet). Returns 0 all done, 1 some failed, 4 none failed but some missing, 2 the
 * manifest or DIR cannot be read or a manifest line lacks "input" or "output".
 */
int cli_batch_status(const char *manifest, const char *dir, int quiet);

#endif
