/* SPDX-License-Identifier: MIT */
/* The library context: options shared by all calls, logging, the last error, cancellation. */
#ifndef RAW2DMP_CTX_H
#define RAW2DMP_CTX_H

#include <signal.h>
#include <stdint.h>

#include "raw2dmp/error.h"

#if defined(__GNUC__)
#define R2D_API __attribute__((visibility("default")))
#define R2D_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define R2D_API
#define R2D_PRINTF(f, a)
#endif

/* Verbosity levels (STYLE.md 2.6). */
enum r2d_verbosity {
    R2D_LOG_ERROR = 0,
    R2D_LOG_WARN = 2, /* default: warnings and the summary */
    R2D_LOG_INFO = 3, /* decisions taken: format, DTB, kernel base, patches */
    R2D_LOG_DEBUG = 6,
    R2D_LOG_TRACE = 10,
};

struct r2d_ctx;

/* Log sink: level is one of r2d_verbosity (or anything between), msg has no newline. */
typedef void (*r2d_log_fn)(void *arg, int level, const char *msg);
/* Progress sink: done and total are bytes of output; total 0 = unknown. */
typedef void (*r2d_progress_fn)(void *arg, uint64_t done, uint64_t total);

/** Allocate a context with verbosity R2D_LOG_WARN and no log sink. NULL when out of memory. */
R2D_API struct r2d_ctx *r2d_ctx_new(void);
/** Free a context; NULL is a no-op. */
R2D_API void r2d_ctx_free(struct r2d_ctx *ctx);

R2D_API void r2d_ctx_set_verbosity(struct r2d_ctx *ctx, int level);
R2D_API int r2d_ctx_verbosity(const struct r2d_ctx *ctx);
R2D_API void r2d_ctx_set_log(struct r2d_ctx *ctx, r2d_log_fn fn, void *arg);
R2D_API void r2d_ctx_set_progress(struct r2d_ctx *ctx, r2d_progress_fn fn, void *arg);
/** Long operations poll *flag and stop with R2D_ECANCELED once it is non-zero. */
R2D_API void r2d_ctx_set_cancel_flag(struct r2d_ctx *ctx, const volatile sig_atomic_t *flag);

/** The message of the last error recorded in ctx ("" when none). Valid until the next error. */
R2D_API const char *r2d_errmsg(const struct r2d_ctx *ctx);

/**
 * Record an error message in ctx and return code, so that a check is one line:
 *     return r2d_err(ctx, R2D_EFORMAT, "%s: offset 0x%" PRIx64 ": bad magic", path, off);
 */
R2D_API int r2d_err(struct r2d_ctx *ctx, int code, const char *fmt, ...) R2D_PRINTF(3, 4);
/** Like r2d_err but appends ": strerror(errno)" (errno read on entry); returns R2D_EIO or R2D_ENOSPC. */
R2D_API int r2d_err_errno(struct r2d_ctx *ctx, const char *fmt, ...) R2D_PRINTF(2, 3);
/** Prepend "prefix: " to the recorded message; returns code unchanged. */
R2D_API int r2d_err_prefix(struct r2d_ctx *ctx, int code, const char *fmt, ...) R2D_PRINTF(3, 4);
/** Log a message at level when the context's verbosity is at least level. */
R2D_API void r2d_log(struct r2d_ctx *ctx, int level, const char *fmt, ...) R2D_PRINTF(3, 4);
/** True when the user asked to stop. */
R2D_API int r2d_cancelled(const struct r2d_ctx *ctx);
/** Report progress to the sink, if any. */
R2D_API void r2d_progress(struct r2d_ctx *ctx, uint64_t done, uint64_t total);
/** Seconds on a monotonic clock, for the timings in reports and progress (differences only). */
R2D_API double r2d_now(void);

#define R2D_CHECK(cond, ctx, code, ...)                                                                       \
    do {                                                                                                     \
        if (cond)                                                                                            \
            return r2d_err((ctx), (code), __VA_ARGS__);                                                      \
    } while (0)

#endif
