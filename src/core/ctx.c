/* SPDX-License-Identifier: MIT */
/* Context: verbosity, log and progress sinks, the last error message, cancellation. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctx_priv.h"

struct r2d_ctx *
r2d_ctx_new(void)
{
    struct r2d_ctx *ctx = calloc(1, sizeof(*ctx));

    if (ctx)
        ctx->verbosity = R2D_LOG_WARN;
    return ctx;
}

void
r2d_ctx_free(struct r2d_ctx *ctx)
{
    free(ctx);
}

void
r2d_ctx_set_verbosity(struct r2d_ctx *ctx, int level)
{
    ctx->verbosity = level < 0 ? 0 : level > R2D_LOG_TRACE ? R2D_LOG_TRACE : level;
}

int
r2d_ctx_verbosity(const struct r2d_ctx *ctx)
{
    return ctx->verbosity;
}

void
r2d_ctx_set_log(struct r2d_ctx *ctx, r2d_log_fn fn, void *arg)
{
    ctx->log = fn;
    ctx->log_arg = arg;
}

void
r2d_ctx_set_progress(struct r2d_ctx *ctx, r2d_progress_fn fn, void *arg)
{
    ctx->progress = fn;
    ctx->progress_arg = arg;
}

void
r2d_ctx_set_result(struct r2d_ctx *ctx, r2d_result_fn fn, void *arg)
{
    ctx->result = fn;
    ctx->result_arg = arg;
}

void
r2d_ctx_set_cancel_flag(struct r2d_ctx *ctx, const volatile sig_atomic_t *flag)
{
    ctx->cancel = flag;
}

const char *
r2d_errmsg(const struct r2d_ctx *ctx)
{
    return ctx->errmsg;
}

int
r2d_err(struct r2d_ctx *ctx, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx->errmsg, sizeof(ctx->errmsg), fmt, ap);
    va_end(ap);
    r2d_log(ctx, R2D_LOG_TRACE, "error %s: %s", r2d_status_name(code), ctx->errmsg);
    return code;
}

int
r2d_err_errno(struct r2d_ctx *ctx, const char *fmt, ...)
{
    const int saved = errno;
    const int code = (saved == ENOSPC || saved == EFBIG || saved == EDQUOT) ? R2D_ENOSPC : R2D_EIO;
    size_t n;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx->errmsg, sizeof(ctx->errmsg), fmt, ap);
    va_end(ap);
    n = strlen(ctx->errmsg);
    snprintf(ctx->errmsg + n, sizeof(ctx->errmsg) - n, ": %s", strerror(saved));
    return code;
}

int
r2d_err_prefix(struct r2d_ctx *ctx, int code, const char *fmt, ...)
{
    char prefix[512];
    char old[R2D_ERRMSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, ctx->errmsg, sizeof(old));
    snprintf(ctx->errmsg, sizeof(ctx->errmsg), "%.500s: %.1500s", prefix, old);
    return code;
}

void
r2d_log(struct r2d_ctx *ctx, int level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    if (!ctx || !ctx->log || level > ctx->verbosity)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ctx->log(ctx->log_arg, level, msg);
}

int
r2d_cancelled(const struct r2d_ctx *ctx)
{
    return ctx->cancel && *ctx->cancel;
}

void
r2d_ctx_share_cancel(struct r2d_ctx *helper, const struct r2d_ctx *ctx)
{
    helper->cancel = ctx->cancel;
}

void
r2d_progress(struct r2d_ctx *ctx, uint64_t done, uint64_t total)
{
    if (ctx->progress)
        ctx->progress(ctx->progress_arg, done, total);
}

void
r2d_emit_result(struct r2d_ctx *ctx, const struct r2d_result *res)
{
    if (ctx->result)
        ctx->result(ctx->result_arg, res);
}

const char *
r2d_version(void)
{
    return R2D_VERSION;
}

const char *
r2d_status_name(int status)
{
    switch (status) {
    case R2D_OK: return "R2D_OK";
    case R2D_ENOMEM: return "R2D_ENOMEM";
    case R2D_EIO: return "R2D_EIO";
    case R2D_EFORMAT: return "R2D_EFORMAT";
    case R2D_ETRUNC: return "R2D_ETRUNC";
    case R2D_EHOLE: return "R2D_EHOLE";
    case R2D_EINVAL: return "R2D_EINVAL";
    case R2D_ENOTFOUND: return "R2D_ENOTFOUND";
    case R2D_EUNSUPPORTED: return "R2D_EUNSUPPORTED";
    case R2D_EEXIST: return "R2D_EEXIST";
    case R2D_ECANCELED: return "R2D_ECANCELED";
    case R2D_ENOVA: return "R2D_ENOVA";
    case R2D_EMISMATCH: return "R2D_EMISMATCH";
    case R2D_ENETWORK: return "R2D_ENETWORK";
    case R2D_EVERIFY: return "R2D_EVERIFY";
    case R2D_ENOSPC: return "R2D_ENOSPC";
    case R2D_ERANGE: return "R2D_ERANGE";
    case R2D_ESAMEFILE: return "R2D_ESAMEFILE";
    case R2D_EINCOMPLETE: return "R2D_EINCOMPLETE";
    case R2D_EBUSY: return "R2D_EBUSY";
    }
    return "R2D_E?";
}

double
r2d_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
