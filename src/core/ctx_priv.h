/* SPDX-License-Identifier: MIT */
/* The context's layout, shared by the core files that need it. */
#ifndef R2D_CORE_CTX_PRIV_H
#define R2D_CORE_CTX_PRIV_H

#include "diag.h"

#define R2D_ERRMSG_MAX 2048

struct r2d_ctx {
    int verbosity;
    r2d_log_fn log;
    void *log_arg;
    r2d_progress_fn progress;
    void *progress_arg;
    r2d_result_fn result;
    void *result_arg;
    const volatile sig_atomic_t *cancel;
    char errmsg[R2D_ERRMSG_MAX];
};

#endif
