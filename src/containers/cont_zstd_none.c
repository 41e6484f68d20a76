/* SPDX-License-Identifier: MIT */
/* zstd (RFC 8878) without libzstd: the probe still claims the file, so the error says what this build lacks.
 */
#include "container_kinds.h"

static int
zstd_unavailable(struct r2d_ctx *ctx, struct r2d_bytesrc *below, const struct r2d_container_opts *opts,
                 struct r2d_bytesrc **out)
{
    (void)opts;
    *out = NULL;
    return r2d_container_unavailable(ctx, below, "zstd", "libzstd", "zstd");
}

const struct r2d_container_kind r2d_container_zstd = {
    .name = "zstd",
    .summary = "zstd (RFC 8878) (not in this build: libzstd)",
    .probe = r2d_probe_zstd,
    .open = zstd_unavailable,
};
