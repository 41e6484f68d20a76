/* SPDX-License-Identifier: MIT */
/* PLACEHOLDER until the reader lands: claims nothing. */
#include "raw2dmp/format.h"

static int
crashdump_open(struct r2d_ctx *ctx, struct r2d_image *img)
{
    return r2d_err(ctx, R2D_EUNSUPPORTED, "%s: crashdump reader not built yet", r2d_image_path(img));
}

const struct r2d_format r2d_format_crashdump = {.name = "crashdump", .summary = "placeholder", .probe_bytes = 0, .open = crashdump_open};
