/* SPDX-License-Identifier: MIT */
/* LZ4 frames without liblz4: the probe still claims the file, so the error says what this build lacks. */
#include "container_kinds.h"

static int
lz4_unavailable(struct r2d_ctx *ctx, struct r2d_bytesrc *below, const struct r2d_container_opts *opts,
                struct r2d_bytesrc **out)
{
    (void)opts;
    *out = NULL;
    return r2d_container_unavailable(ctx, below, "lz4", "liblz4", "lz4");
}

const struct r2d_container_kind r2d_container_lz4 = {
    .name = "lz4",
    .summary = "LZ4 frames (not in this build: liblz4)",
    .probe = r2d_probe_lz4,
    .open = lz4_unavailable,
};
