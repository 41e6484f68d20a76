/* SPDX-License-Identifier: MIT */
/* Downloads when raw2dmp is built without libcurl: every request fails with one clear message. */
#include <stdlib.h>

#include "download.h"

int
r2d_download_available(void)
{
    return 0;
}

void
r2d_download_opts_default(struct r2d_download_opts *opts)
{
    opts->max_bytes = R2D_DOWNLOAD_MAX_BYTES;
    opts->connect_timeout = R2D_DOWNLOAD_CONNECT_TIMEOUT;
    opts->timeout = R2D_DOWNLOAD_TIMEOUT;
    opts->retries = R2D_DOWNLOAD_RETRIES;
}

int
r2d_download(struct r2d_ctx *ctx, const char *url, int out_fd, const struct r2d_download_opts *opts,
             uint64_t *size_out)
{
    return r2d_err(ctx, R2D_EUNSUPPORTED,
                   "raw2dmp was built without libcurl; symbol download is disabled: "
                   "use --pdb, --symbols or a local symbol store");
}
