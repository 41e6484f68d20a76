/* SPDX-License-Identifier: MIT */
/* Shared by the libFuzzer targets: the fuzz input as a file the library can open, and a quiet context. */
#ifndef R2D_FUZZ_FUZZ_UTIL_H
#define R2D_FUZZ_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "raw2dmp/ctx.h"

/* The library opens files by path: the input goes to one memfd, reopened as /proc/self/fd/N. */
struct fuzz_file {
    int fd;
    char path[64];
};

static void
fuzz_log_discard(void *arg, int level, const char *msg)
{
    /* Touch every byte so that an unterminated or stale message is caught by ASan. */
    volatile size_t n = 0;

    (void)arg;
    (void)level;
    while (msg[n])
        n++;
}

/* One context for the whole run, logging everything into a sink that reads and drops each line. */
static struct r2d_ctx *
fuzz_ctx(void)
{
    static struct r2d_ctx *ctx;

    if (!ctx) {
        ctx = r2d_ctx_new();
        if (!ctx)
            abort();
        r2d_ctx_set_verbosity(ctx, R2D_LOG_TRACE);
        r2d_ctx_set_log(ctx, fuzz_log_discard, NULL);
    }
    return ctx;
}

/* Replace the memfd's contents with data; returns the path to open. */
static const char *
fuzz_file_set(struct fuzz_file *f, const uint8_t *data, size_t size)
{
    size_t done = 0;

    if (f->path[0] == 0) {
        f->fd = memfd_create("r2d-fuzz", MFD_CLOEXEC);
        if (f->fd < 0) {
            perror("memfd_create");
            abort();
        }
        snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
    }
    if (ftruncate(f->fd, 0) != 0)
        abort();
    while (done < size) {
        const ssize_t n = pwrite(f->fd, data + done, size - done, (off_t)done);

        if (n <= 0)
            abort();
        done += (size_t)n;
    }
    return f->path;
}

/* Drain the error message so that ASan sees a read of every byte (catches unterminated messages). */
static void
fuzz_touch_errmsg(const struct r2d_ctx *ctx)
{
    fuzz_log_discard(NULL, 0, r2d_errmsg(ctx));
}

#endif
