/* SPDX-License-Identifier: MIT */
/* EWF (E01, Ex01) without libewf: the probe still claims the file, so the error says what this build lacks.
 */
#include <stddef.h>

#include "container_kinds.h"

static int
ewf_unavailable(struct r2d_ctx *ctx, struct r2d_bytesrc *below, const struct r2d_container_opts *opts,
                struct r2d_bytesrc **out)
{
    (void)opts;
    *out = NULL;
    return r2d_container_unavailable(ctx, below, "ewf", "libewf", "ewf");
}

const struct r2d_container_kind r2d_container_ewf = {
    .name = "ewf",
    .summary = "EWF (E01, Ex01) (not in this build: libewf)",
    .probe = r2d_probe_ewf,
    .open = ewf_unavailable,
};

void
r2d_container_segments(const char *path, char ***names, int *n)
{
    (void)path;
    *names = NULL;
    *n = 0;
}

void
r2d_container_segments_free(char **names, int n)
{
    (void)names;
    (void)n;
}
