/* SPDX-License-Identifier: MIT */
/* AFF4 without libzip: the probe still claims the volume, so the error says what this build lacks. */
#include "aff4_probe.h"
#include "format.h"

static int
aff4_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why)
{
    (void)file_size;
    return r2d_aff4_probe_head(head, len, why);
}

static int
aff4_unavailable(struct r2d_ctx *ctx, struct r2d_image *img)
{
    return r2d_err(ctx, R2D_EUNSUPPORTED,
                   "%s: an AFF4 volume, but this build of raw2dmp has no ZIP support (libzip; meson option "
                   "-Dzip=enabled)",
                   r2d_image_path(img));
}

const struct r2d_format r2d_format_aff4 = {
    .name = "aff4",
    .summary = "AFF4 volume (not in this build: libzip)",
    .probe_bytes = 4096,
    .probe = aff4_probe,
    .open = aff4_unavailable,
};
