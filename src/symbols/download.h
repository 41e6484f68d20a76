/* SPDX-License-Identifier: MIT */
/* HTTP(S) downloads of symbol files: libcurl (download_curl.c), or download_none.c without it. */
#ifndef R2D_ENGINE_DOWNLOAD_H
#define R2D_ENGINE_DOWNLOAD_H

#include <stdint.h>

#include "diag.h"

#define R2D_DOWNLOAD_MAX_BYTES (1ull << 30) /* 1 GiB: the largest ntkrnlmp.pdb is ~15 MB */
#define R2D_DOWNLOAD_CONNECT_TIMEOUT 15     /* seconds */
#define R2D_DOWNLOAD_TIMEOUT 300            /* seconds for a whole transfer */
#define R2D_DOWNLOAD_RETRIES 3              /* extra attempts after a transient failure */

struct r2d_download_opts {
    uint64_t max_bytes;   /* abort beyond this many body bytes (also when Content-Length says so) */
    long connect_timeout; /* seconds */
    long timeout;         /* seconds for one attempt, redirects included */
    int retries;          /* extra attempts after a transient failure (connect, timeout, 5xx, cut transfer) */
};

/**
 * Fill opts with the defaults above, then apply the environment overrides meant for tests and slow links:
 * R2D_DOWNLOAD_TIMEOUT (seconds, 1..86400) replaces timeout, R2D_DOWNLOAD_RETRIES (0..20) replaces retries.
 * Malformed values are ignored.
 */
void r2d_download_opts_default(struct r2d_download_opts *opts);

/** 1 when downloads are possible (built with libcurl), 0 when r2d_download always fails with
 * R2D_EUNSUPPORTED. */
int r2d_download_available(void);

/**
 * GET url (http:// or https:// only; redirects followed, at most 5) and write the body to out_fd from offset
 * 0, truncating it before every attempt. The response must be HTTP 200. opts NULL =
 * r2d_download_opts_default(). *size_out (may be NULL) receives the body size. Returns 0; R2D_ENOTFOUND for
 * HTTP 404/410; R2D_ENETWORK for other failures (message names the URL and the HTTP status or libcurl's
 * error); R2D_EIO/R2D_ENOSPC when writing fails; R2D_ECANCELED when ctx is cancelled; R2D_EUNSUPPORTED when
 * built without libcurl. On failure out_fd holds garbage: the caller removes the file.
 */
int r2d_download(struct r2d_ctx *ctx, const char *url, int out_fd, const struct r2d_download_opts *opts,
                 uint64_t *size_out);

#endif
