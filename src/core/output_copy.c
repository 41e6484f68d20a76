/* SPDX-License-Identifier: MIT */
/*
 * Appending to the output: bytes, holes (never written, hashed as zeros) and copies of input files
 * (copy_file_range when nothing is hashed, else through the ring's buffers), with cancellation checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digests.h"
#include "io.h"
#include "output.h"
#include "output_priv.h"
#include "source_digest.h"

static int
output_check_cancel(struct r2d_ctx *ctx)
{
    return r2d_cancelled(ctx) ? r2d_err(ctx, R2D_ECANCELED, "interrupted") : 0;
}

/* Message for a failed write or copy at output offset off; errno is the call's. */
int
r2d_output_write_error(struct r2d_ctx *ctx, const struct r2d_output *o, uint64_t off)
{
    if (errno == ENOSPC || errno == EFBIG || errno == EDQUOT)
        return r2d_err_errno(ctx, "%s: offset 0x%" PRIx64 ": disk full while writing", o->path, off);
    return r2d_err_errno(ctx, "%s: offset 0x%" PRIx64 ": write failed", o->path, off);
}

/* Write len bytes at off of the temporary, looping on short writes. Does not hash or move size. */
int
r2d_output_pwrite_all(struct r2d_ctx *ctx, const struct r2d_output *o, uint64_t off, const uint8_t *p,
                      size_t len)
{
    while (len > 0) {
        const size_t n = len > OUTPUT_MAX_CALL ? OUTPUT_MAX_CALL : len;
        const ssize_t w = pwrite(o->fd, p, n, (off_t)off);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return r2d_output_write_error(ctx, o, off);
        }
        if (w == 0) { /* not expected from a regular file; do not spin */
            errno = ENOSPC;
            return r2d_output_write_error(ctx, o, off);
        }
        p += w;
        off += (uint64_t)w;
        len -= (size_t)w;
    }
    return 0;
}

static int output_write_staged(struct r2d_ctx *ctx, struct r2d_output *o, const uint8_t *p, size_t len);

/* ---- the hashing ring ---- */

int
r2d_output_write(struct r2d_ctx *ctx, struct r2d_output *o, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len > 0) {
        /* Hashed data is copied into a ring slot: the caller may reuse buf once this returns. */
        const size_t cap = o->hashing ? OUTPUT_SLOT_SIZE : OUTPUT_MAX_CALL;
        const size_t n = len > cap ? cap : len;
        int rc = output_check_cancel(ctx);

        if (!rc && !o->hashing && n < OUTPUT_STAGE_SIZE) {
            rc = output_write_staged(ctx, o, p, n);
        } else if (!rc && !o->hashing) {
            rc = r2d_output_gather_flush(ctx, o);
            if (rc)
                return rc;
            rc = r2d_output_pwrite_all(ctx, o, o->size, p, n);
            if (!rc) {
                o->size += n;
                o->tail_hole = 0;
                r2d_output_write_behind(o);
            }
        } else if (!rc) {
            struct output_slot *s = NULL;

            rc = r2d_output_slot_get(ctx, o, 1, &s);
            if (!rc) {
                memcpy(s->buf, p, n);
                rc = r2d_output_append_slot(ctx, o, s, n, OUTPUT_NO_SOURCE);
            }
        }
        if (rc)
            return rc;
        p += n;
        len -= n;
    }
    return 0;
}

/* Append len zero bytes as a hole; src_off: where they are a hole of the source file, or OUTPUT_NO_SOURCE. */
static int
output_zero(struct r2d_ctx *ctx, struct r2d_output *o, uint64_t len, uint64_t src_off)
{
    R2D_CHECK(o->size + len < o->size, ctx, R2D_EINVAL,
              "%s: offset 0x%" PRIx64 ": 0x%" PRIx64 " zero bytes overflow the file size", o->path, o->size,
              len);
    while (len > 0) {
        const uint64_t n = len > OUTPUT_ZERO_PIECE ? OUTPUT_ZERO_PIECE : len;
        struct output_slot *s = NULL;
        int rc = output_check_cancel(ctx);

        if (!rc && o->hashing) {
            rc = r2d_output_slot_get(ctx, o, 0, &s);
            if (!rc)
                rc = r2d_output_slot_submit(ctx, o, s, n, 1, src_off);
        }
        if (rc)
            return rc;
        /* Nothing is written: the file gets a hole here (made up to size at commit if it ends in one). */
        o->size += n;
        o->tail_hole = 1;
        len -= n;
        if (src_off != OUTPUT_NO_SOURCE)
            src_off += n;
    }
    return 0;
}

int
r2d_output_zero(struct r2d_ctx *ctx, struct r2d_output *o, uint64_t len)
{
    return output_zero(ctx, o, len, OUTPUT_NO_SOURCE);
}

/* Read len bytes of in_fd at in_off into ring slots, write and hash them. */
static int
output_copy_buffered(struct r2d_ctx *ctx, struct r2d_output *o, int in_fd, const char *in_path,
                     uint64_t in_off, uint64_t len)
{
    while (len > 0) {
        const size_t n = len > OUTPUT_SLOT_SIZE ? OUTPUT_SLOT_SIZE : (size_t)len;
        struct output_slot *s = NULL;
        int rc = output_check_cancel(ctx);

        if (!rc)
            rc = r2d_output_slot_get(ctx, o, 1, &s);
        if (!rc)
            rc = r2d_pread_full(ctx, in_fd, in_path, in_off, s->buf, n, "input data");
        if (!rc)
            rc = r2d_output_append_slot(ctx, o, s, n, in_fd == o->src_fd ? in_off : OUTPUT_NO_SOURCE);
        if (rc)
            return rc;
        in_off += n;
        len -= n;
    }
    return 0;
}

/*
 * copy_file_range loop. Returns 0 when done, 1 when the kernel or file system cannot do it (the caller
 * falls back to the buffered copy for what is left; *done says how much was copied), or an error.
 */
static int
output_copy_range(struct r2d_ctx *ctx, struct r2d_output *o, int in_fd, const char *in_path, uint64_t in_off,
                  uint64_t len, uint64_t *done)
{
    *done = 0;
    while (*done < len) {
        const size_t n = len - *done > OUTPUT_COPY_PIECE ? OUTPUT_COPY_PIECE : (size_t)(len - *done);
        loff_t ioff = (loff_t)(in_off + *done), ooff = (loff_t)o->size;
        ssize_t c;
        int rc = output_check_cancel(ctx);

        if (rc)
            return rc;
        c = copy_file_range(in_fd, &ioff, o->fd, &ooff, n, 0);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP ||
                errno == ENOTSUP || errno == EBADF)
                return 1;
            if (errno == ENOSPC || errno == EFBIG || errno == EDQUOT)
                return r2d_output_write_error(ctx, o, o->size);
            return r2d_err_errno(
                ctx, "%s: offset 0x%" PRIx64 ": copying 0x%zx bytes from %s offset 0x%" PRIx64 " failed",
                o->path, o->size, n, in_path, in_off + *done);
        }
        if (c == 0)
            return r2d_err(ctx, R2D_ETRUNC,
                           "%s: offset 0x%" PRIx64 ": input ends before 0x%" PRIx64
                           " more bytes could be copied",
                           in_path, in_off + *done, len - *done);
        o->size += (uint64_t)c;
        o->tail_hole = 0;
        *done += (uint64_t)c;
        r2d_output_write_behind(o);
    }
    return 0;
}

int
r2d_output_gather_flush(struct r2d_ctx *ctx, struct r2d_output *o)
{
    struct output_gather *g = &o->gather;
    uint64_t at = g->at;
    int i = 0;

    while (i < g->n) {
        ssize_t w = pwritev(o->fd, g->iov + i, g->n - i, (off_t)at);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0) /* not expected from a regular file; do not spin */
                errno = ENOSPC;
            g->n = 0;
            return r2d_output_write_error(ctx, o, at);
        }
        at += (uint64_t)w;
        for (; i < g->n && (size_t)w >= g->iov[i].iov_len; i++)
            w -= (ssize_t)g->iov[i].iov_len;
        if (w > 0) { /* a short write ended inside piece i */
            g->iov[i].iov_base = (uint8_t *)g->iov[i].iov_base + w;
            g->iov[i].iov_len -= (size_t)w;
        }
    }
    if (g->n > 0) {
        g->n = 0;
        g->bytes = 0;
        g->stage_used = 0;
        r2d_output_write_behind(o);
    }
    return 0;
}

/* Add p[0, len) (in the window or the stage) to the pending pieces, writing those first when it must. */
static int
output_gather_add(struct r2d_ctx *ctx, struct r2d_output *o, uint8_t *p, uint64_t len)
{
    struct output_gather *g = &o->gather;

    if (g->n > 0 && (uint8_t *)g->iov[g->n - 1].iov_base + g->iov[g->n - 1].iov_len == p) {
        g->iov[g->n - 1].iov_len += (size_t)len;
    } else {
        if (g->n == 0) {
            g->at = o->size;
            g->bytes = 0;
        }
        g->iov[g->n].iov_base = p;
        g->iov[g->n].iov_len = (size_t)len;
        g->n++;
    }
    g->bytes += len;
    o->size += len;
    o->tail_hole = 0;
    return g->n == OUTPUT_GATHER_IOV ? r2d_output_gather_flush(ctx, o) : 0;
}

/* Pending pieces must continue where they end: flush them when a hole came between. */
static int
output_gather_contiguous(struct r2d_ctx *ctx, struct r2d_output *o)
{
    const struct output_gather *g = &o->gather;

    return g->n > 0 && g->at + g->bytes != o->size ? r2d_output_gather_flush(ctx, o) : 0;
}

/* Append a small write (len < OUTPUT_STAGE_SIZE) through the stage. */
static int
output_write_staged(struct r2d_ctx *ctx, struct r2d_output *o, const uint8_t *p, size_t len)
{
    struct output_gather *g = &o->gather;
    int rc = output_gather_contiguous(ctx, o);

    if (!rc && g->stage_used + len > OUTPUT_STAGE_SIZE)
        rc = r2d_output_gather_flush(ctx, o);
    if (rc)
        return rc;
    if (!g->stage && !(g->stage = r2d_alloc_io(OUTPUT_STAGE_SIZE)))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the write stage", o->path);
    memcpy(g->stage + g->stage_used, p, len);
    g->stage_used += len;
    return output_gather_add(ctx, o, g->stage + g->stage_used - len, len);
}

/*
 * Make the window hold [in_off, in_off + len) of in_fd. A piece that starts at most OUTPUT_GATHER_GAP bytes
 * after the previous one ends (reads going forward: LiME headers between pages) gets a whole window read
 * from it (up to data_end, never into a hole or past the file), so the next pieces are served from memory.
 * Returns 1 when the piece is better copied on its own (the first of a series, or the reads jump around,
 * where a window would read far more than is used).
 */
static int
output_gather_window(struct r2d_ctx *ctx, struct r2d_output *o, int in_fd, const char *in_path,
                     uint64_t in_off, uint64_t len, uint64_t data_end)
{
    struct output_gather *g = &o->gather;
    const int forward = g->next_fd == in_fd && in_off >= g->next && in_off - g->next <= OUTPUT_GATHER_GAP;
    size_t want;
    int rc;

    g->next_fd = in_fd;
    g->next = in_off + len;
    if (g->fd == in_fd && in_off >= g->off && in_off + len <= g->off + g->len)
        return 0;
    if (!forward)
        return 1;
    rc = r2d_output_gather_flush(ctx, o); /* the pending pieces point into the window */
    if (rc)
        return rc;
    if (!g->win && !(g->win = r2d_alloc_io(OUTPUT_GATHER_WINDOW)))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the copy window", o->path);
    want = data_end - in_off > OUTPUT_GATHER_WINDOW ? OUTPUT_GATHER_WINDOW : (size_t)(data_end - in_off);
    g->fd = -1;
    rc = r2d_pread_full(ctx, in_fd, in_path, in_off, g->win, want, "input data");
    if (rc)
        return rc;
    g->fd = in_fd;
    g->off = in_off;
    g->len = want;
    return 0;
}

/*
 * Append a small piece of data (len <= OUTPUT_GATHER_MAX, all of it before data_end) through the window.
 * Returns 1 when it should be copied on its own instead.
 */
static int
output_copy_small(struct r2d_ctx *ctx, struct r2d_output *o, int in_fd, const char *in_path, uint64_t in_off,
                  uint64_t len, uint64_t data_end)
{
    int rc = output_gather_window(ctx, o, in_fd, in_path, in_off, len, data_end);

    if (!rc)
        rc = output_gather_contiguous(ctx, o);
    return rc ? rc : output_gather_add(ctx, o, o->gather.win + (in_off - o->gather.off), len);
}

/* Append len bytes of data (no holes looked for) from in_fd at in_off. */
static int
output_copy_data(struct r2d_ctx *ctx, struct r2d_output *o, int in_fd, const char *in_path, uint64_t in_off,
                 uint64_t len, uint64_t data_end)
{
    uint64_t done = 0;
    int rc;

    if (!o->hashing && len <= OUTPUT_GATHER_MAX) {
        rc = output_copy_small(ctx, o, in_fd, in_path, in_off, len, data_end);
        if (rc <= 0)
            return rc;
    }
    rc = r2d_output_gather_flush(ctx, o);
    if (rc)
        return rc;
    if (!o->hashing && !o->no_copy_range) {
        rc = output_copy_range(ctx, o, in_fd, in_path, in_off, len, &done);
        if (rc <= 0)
            return rc;
        r2d_log(ctx, R2D_LOG_DEBUG, "%s: copy_file_range unavailable (%s); copying through a buffer", o->path,
                strerror(errno));
        o->no_copy_range = 1;
    }
    return output_copy_buffered(ctx, o, in_fd, in_path, in_off + done, len - done);
}

/*
 * Is in_off of in_fd data or a hole, and up to where (at most end)? Asked of the file once per extent and
 * remembered: copies of neighbouring slices (many small runs) then cost no lseek.
 */
static void
output_extent(struct r2d_output *o, int in_fd, uint64_t in_off, uint64_t end, int *is_data, uint64_t *ext_end)
{
    struct output_extent *e = &o->ext;

    if (e->fd != in_fd) {
        struct stat st;

        e->fd = in_fd;
        e->fsize = fstat(in_fd, &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
        e->lo = e->hi = 0;
        /* Advice only: a failure changes nothing. */
        (void)posix_fadvise(in_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    if (in_off < e->lo || in_off >= e->hi) {
        r2d_file_extent(in_fd, in_off, e->fsize > end ? e->fsize : end, &e->data, &e->hi);
        e->lo = in_off;
    }
    *is_data = e->data;
    *ext_end = e->hi < end ? e->hi : end;
}

int
r2d_output_copy(struct r2d_ctx *ctx, struct r2d_output *o, int in_fd, const char *in_path, uint64_t in_off,
                uint64_t len)
{
    uint64_t end;

    if (len == 0)
        return 0;
    R2D_CHECK(in_off + len < in_off, ctx, R2D_EINVAL,
              "%s: offset 0x%" PRIx64 ": copy of 0x%" PRIx64 " bytes wraps", in_path, in_off, len);
    end = in_off + len;
    while (in_off < end) {
        int is_data, rc;
        uint64_t ext_end;

        output_extent(o, in_fd, in_off, end, &is_data, &ext_end);
        if (is_data)
            rc = output_copy_data(ctx, o, in_fd, in_path, in_off, ext_end - in_off,
                                  o->ext.hi > ext_end ? o->ext.hi : ext_end);
        else
            rc = output_zero(ctx, o, ext_end - in_off, in_fd == o->src_fd ? in_off : OUTPUT_NO_SOURCE);
        if (rc)
            return rc;
        in_off = ext_end;
    }
    return 0;
}
