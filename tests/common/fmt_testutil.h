/* SPDX-License-Identifier: MIT */
/* Helpers shared by the format unit tests: a scratch directory, writing files, a quiet context. */
#ifndef R2D_TESTS_FMT_TESTUTIL_H
#define R2D_TESTS_FMT_TESTUTIL_H

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "raw2dmp/ctx.h"

struct fmt_test {
    char dir[256];
    char path[512];
    struct r2d_ctx *ctx;
};

static inline int
fmt_test_setup(void **state)
{
    struct fmt_test *t = calloc(1, sizeof(*t));
    const char *tmp = getenv("TMPDIR");

    assert_non_null(t);
    snprintf(t->dir, sizeof(t->dir), "%s/r2d-fmt-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(t->dir));
    t->ctx = r2d_ctx_new();
    assert_non_null(t->ctx);
    r2d_ctx_set_verbosity(t->ctx, R2D_LOG_ERROR);
    *state = t;
    return 0;
}

static inline int
fmt_test_teardown(void **state)
{
    struct fmt_test *t = *state;
    char cmd[600];

    r2d_ctx_free(t->ctx);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", t->dir);
    free(t);
    return 0;
}

/* Write len bytes of data to <dir>/<name>; t->path receives the path. */
static inline const char *
fmt_test_write(struct fmt_test *t, const char *name, const void *data, size_t len)
{
    FILE *f;

    snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
    f = fopen(t->path, "wb");
    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return t->path;
}

/* The message must mention needle. */
#define assert_msg_has(ctx, needle)                                                                          \
    do {                                                                                                     \
        const char *m_ = r2d_errmsg(ctx);                                                                    \
        if (!strstr(m_, (needle)))                                                                           \
            fail_msg("error message '%s' lacks '%s'", m_, (needle));                                         \
    } while (0)

/* Grow-able byte buffer for building inputs. */
struct fmt_buf {
    uint8_t *p;
    size_t len, cap;
};

static inline uint8_t *
fmt_buf_at(struct fmt_buf *b, size_t off, size_t n)
{
    if (off + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;

        while (cap < off + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        memset(b->p + b->cap, 0, cap - b->cap);
        b->cap = cap;
    }
    if (off + n > b->len)
        b->len = off + n;
    return b->p + off;
}

#endif
