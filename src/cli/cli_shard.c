/* SPDX-License-Identifier: MIT */
/*
 * Shards of a batch manifest. Items are dealt round-robin (item i goes to shard i mod N) rather than cut into
 * N contiguous pieces: manifests are usually sorted (by host, by date, by size), so neighbours tend to be
 * alike and round-robin spreads the large images over the shards; and appending items to a manifest leaves
 * every existing item in its shard, where a contiguous split would move the boundaries of all of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_shard.h"
#include "raw2dmp/parse.h"

/* A decimal number up to max; -1 when s is absent, empty, not decimal or too large. */
static int
shard_number(const char *s, uint64_t max, size_t *out)
{
    uint64_t v;

    if (!s || !*s || r2d_parse_u64(s, R2D_RADIX_DECIMAL, &v) || v > max)
        return -1;
    *out = (size_t)v;
    return 0;
}

int
cli_shard_parse(const char *s, struct cli_shard *out, char *why, size_t why_len)
{
    const char *slash;
    char k[32];

    memset(out, 0, sizeof(*out));
    out->count = 1;
    if (!s) { /* an option's argument is never NULL; saying so spares UBSan builds a format warning */
        snprintf(why, why_len, "no value");
        return -1;
    }
    snprintf(out->from, sizeof(out->from), "--shard %s", s);
    if (strcmp(s, "none") == 0)
        return 0;
    slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= sizeof(k)) {
        snprintf(why, why_len, "expected K/N (this process converts items K, K+N, K+2N ...), not '%s'", s);
        return -1;
    }
    memcpy(k, s, (size_t)(slash - s));
    k[slash - s] = '\0';
    if (shard_number(slash + 1, CLI_SHARD_MAX, &out->count) || out->count == 0 ||
        shard_number(k, CLI_SHARD_MAX, &out->index) || out->index >= out->count) {
        snprintf(why, why_len, "expected K/N with 0 <= K < N <= %u, not '%s'", CLI_SHARD_MAX, s);
        return -1;
    }
    return 0;
}

/* Slurm: SLURM_ARRAY_TASK_ID is set. */
static int
shard_slurm(size_t count_opt, struct cli_shard *out, char *why, size_t n)
{
    const char *id_s = getenv("SLURM_ARRAY_TASK_ID"), *min_s = getenv("SLURM_ARRAY_TASK_MIN"),
               *max_s = getenv("SLURM_ARRAY_TASK_MAX"), *cnt_s = getenv("SLURM_ARRAY_TASK_COUNT");
    size_t id, min, max, cnt;

    if (shard_number(id_s, CLI_SHARD_MAX, &id)) {
        snprintf(why, n, "SLURM_ARRAY_TASK_ID='%s' is not a task index", id_s);
        return -1;
    }
    if (count_opt) {
        if (id >= count_opt) {
            snprintf(why, n,
                     "SLURM_ARRAY_TASK_ID=%zu is not below --shard-count %zu (number the array from 0)", id,
                     count_opt);
            return -1;
        }
        out->index = id;
        out->count = count_opt;
        snprintf(out->from, sizeof(out->from), "SLURM_ARRAY_TASK_ID=%zu, --shard-count %zu", id, count_opt);
        return 0;
    }
    if (shard_number(min_s, CLI_SHARD_MAX, &min) || shard_number(max_s, CLI_SHARD_MAX, &max) || max < min ||
        id < min || id > max) {
        snprintf(why, n,
                 "SLURM_ARRAY_TASK_ID=%s needs SLURM_ARRAY_TASK_MIN and _MAX around it (got '%s', '%s'); "
                 "or give --shard K/N",
                 id_s, min_s ? min_s : "", max_s ? max_s : "");
        return -1;
    }
    if (cnt_s && (shard_number(cnt_s, CLI_SHARD_MAX, &cnt) || cnt != max - min + 1)) {
        snprintf(why, n,
                 "the Slurm array is not one range of indexes (SLURM_ARRAY_TASK_COUNT=%s, _MIN=%zu, "
                 "_MAX=%zu), so its size is not the number of shards: give --shard-count N (the original "
                 "array's size) or --shard K/N",
                 cnt_s, min, max);
        return -1;
    }
    out->index = id - min;
    out->count = max - min + 1;
    snprintf(out->from, sizeof(out->from), "SLURM_ARRAY_TASK_ID=%zu of SLURM_ARRAY_TASK_MIN..MAX=%zu..%zu",
             id, min, max);
    return 0;
}

int
cli_shard_from_env(size_t count_opt, struct cli_shard *out, char *why, size_t why_len)
{
    const char *k8s = getenv("JOB_COMPLETION_INDEX");

    memset(out, 0, sizeof(*out));
    out->count = 1;
    if (getenv("SLURM_ARRAY_TASK_ID"))
        return shard_slurm(count_opt, out, why, why_len);
    if (k8s) {
        if (shard_number(k8s, CLI_SHARD_MAX, &out->index) || !count_opt || out->index >= count_opt) {
            snprintf(why, why_len,
                     "JOB_COMPLETION_INDEX='%s' needs --shard-count N (the Job's completions) "
                     "above it",
                     k8s);
            return -1;
        }
        out->count = count_opt;
        snprintf(out->from, sizeof(out->from), "JOB_COMPLETION_INDEX=%zu, --shard-count %zu", out->index,
                 count_opt);
        return 0;
    }
    if (count_opt) {
        snprintf(why, why_len,
                 "--shard-count needs SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX in the "
                 "environment; give --shard K/N otherwise");
        return -1;
    }
    snprintf(out->from, sizeof(out->from), "the whole manifest");
    return 0;
}
