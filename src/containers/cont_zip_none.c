/* SPDX-License-Identifier: MIT */
/* ZIP archive member without libzip: the probe still claims the file, so the error says what this build
 * lacks. */
#include "container_kinds.h"

static int
zip_unavailable(struct r2d_ctx *ctx, struct r2d_bytesrc *below, const struct r2d_container_opts *opts,
                struct r2d_bytesrc **out)
{
    (void)opts;
    *out = NULL;
    return r2d_container_unavailable(ctx, below, "zip", "libzip", "zip");
}

const struct r2d_container_kind r2d_container_zip = {
    .name = "zip",
    .summary = "ZIP archive member (not in this build: libzip)",
    .probe = r2d_probe_zip,
    .open = zip_unavailable,
};
