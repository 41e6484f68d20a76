/* SPDX-License-Identifier: MIT */
/* The library context: verbosity, the log and progress sinks, cancellation and the last error message. */
#ifndef RAW2DMP_CTX_H
#define RAW2DMP_CTX_H

#include <signal.h>
#include <stdint.h>

#include "raw2dmp/error.h"
#include "raw2dmp/version.h"

/* Verbosity levels (STYLE.md 2.6). */
enum r2d_verbosity {
    R2D_LOG_ERROR = 0,
    R2D_LOG_WARN = 2, /* default: warnings and the summary */
    R2D_LOG_INFO = 3, /* decisions taken: format, DTB, kernel base, patches */
    R2D_LOG_DEBUG = 6,
    R2D_LOG_TRACE = 10,
};

/*
 * Opaque. One context serves one call at a time; calls on different contexts may run in parallel (the
 * library has no global mutable state).
 */
struct r2d_ctx;

/* Log sink: level is one of r2d_verbosity (or anything between), msg has no newline. */
typedef void (*r2d_log_fn)(void *arg, int level, const char *msg);
/* Progress sink: done and total are bytes of output; total 0 = unknown. */
typedef void (*r2d_progress_fn)(void *arg, uint64_t done, uint64_t total);
/* Result sink: what a conversion put in place (struct r2d_result, convert.h), valid during the call. */
struct r2d_result;
typedef void (*r2d_result_fn)(void *arg, const struct r2d_result *res);

/** Allocate a context with verbosity R2D_LOG_WARN and no log sink. NULL when out of memory. */
R2D_API struct r2d_ctx *r2d_ctx_new(void);
/** Free a context; NULL is a no-op. */
R2D_API void r2d_ctx_free(struct r2d_ctx *ctx);

/** Log messages up to level (clamped to 0..R2D_LOG_TRACE); the default is R2D_LOG_WARN. */
R2D_API void r2d_ctx_set_verbosity(struct r2d_ctx *ctx, int level);
R2D_API int r2d_ctx_verbosity(const struct r2d_ctx *ctx);
/** Send log messages to fn(arg, level, msg); NULL drops them. */
R2D_API void r2d_ctx_set_log(struct r2d_ctx *ctx, r2d_log_fn fn, void *arg);
/** Send progress to fn(arg, done, total) while a dump is written; NULL for none. */
R2D_API void r2d_ctx_set_progress(struct r2d_ctx *ctx, r2d_progress_fn fn, void *arg);
/**
 * Call fn(arg, res) once for every dump r2d_convert puts in place, before it returns (also when it then
 * fails with R2D_EVERIFY: the dump is there): what was written, how long it took, its digests. A client
 * prints its closing line from it; the library logs no summary. NULL for none.
 */
R2D_API void r2d_ctx_set_result(struct r2d_ctx *ctx, r2d_result_fn fn, void *arg);
/**
 * Long operations poll *flag and stop with R2D_ECANCELED once it is non-zero (a signal handler may set
 * it). flag must outlive the calls that use ctx; NULL removes it.
 */
R2D_API void r2d_ctx_set_cancel_flag(struct r2d_ctx *ctx, const volatile sig_atomic_t *flag);

/**
 * The message of the last error recorded in ctx ("" when none): one line naming the file and what is
 * wrong. Owned by ctx; valid until the next call that fails on ctx, or r2d_ctx_free.
 */
R2D_API const char *r2d_errmsg(const struct r2d_ctx *ctx);

/** Seconds on a monotonic clock, the one the report's timings use (compare differences only). */
R2D_API double r2d_now(void);

#endif
