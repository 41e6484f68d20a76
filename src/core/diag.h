/* SPDX-License-Identifier: MIT */
/* How library code records errors, logs, reports progress and checks for cancellation in the context. */
#ifndef R2D_CORE_DIAG_H
#define R2D_CORE_DIAG_H

#include <stdint.h>

#include "raw2dmp/ctx.h"

#if defined(__GNUC__)
#define R2D_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define R2D_PRINTF(f, a)
#endif

/**
 * Record an error message in ctx and return code, so that a check is one line:
 *     return r2d_err(ctx, R2D_EFORMAT, "%s: offset 0x%" PRIx64 ": bad magic", path, off);
 */
int r2d_err(struct r2d_ctx *ctx, int code, const char *fmt, ...) R2D_PRINTF(3, 4);
/** Like r2d_err but appends ": strerror(errno)" (errno read on entry); returns R2D_EIO or R2D_ENOSPC. */
int r2d_err_errno(struct r2d_ctx *ctx, const char *fmt, ...) R2D_PRINTF(2, 3);
/** Prepend "prefix: " to the recorded message; returns code unchanged. */
int r2d_err_prefix(struct r2d_ctx *ctx, int code, const char *fmt, ...) R2D_PRINTF(3, 4);
/** Log a message at level when the context's verbosity is at least level. */
void r2d_log(struct r2d_ctx *ctx, int level, const char *fmt, ...) R2D_PRINTF(3, 4);
/** True when the user asked to stop. */
int r2d_cancelled(const struct r2d_ctx *ctx);
/** Make helper's cancel flag ctx's (a worker thread's own context stops when the caller's is cancelled). */
void r2d_ctx_share_cancel(struct r2d_ctx *helper, const struct r2d_ctx *ctx);
/** Report progress to the sink, if any. */
void r2d_progress(struct r2d_ctx *ctx, uint64_t done, uint64_t total);
/** Hand a conversion's result to the sink, if any (r2d_ctx_set_result). */
void r2d_emit_result(struct r2d_ctx *ctx, const struct r2d_result *res);

#define R2D_CHECK(cond, ctx, code, ...)                                                                      \
    do {                                                                                                     \
        if (cond)                                                                                            \
            return r2d_err((ctx), (code), __VA_ARGS__);                                                      \
    } while (0)

#endif
