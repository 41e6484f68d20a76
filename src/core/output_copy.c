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

        if (!rc && !o->hashing) {
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

/* Append len bytes of data (no holes looked for) from in_fd at in_off. */
static int
output_copy_data(struct r2d_ctx *ctx, struct r2d_output *o, int in_fd, const char *in_path, uint64_t in_off,
                 uint64_t len)
{
    uint64_t done = 0;

    if (!o->hashing && !o->no_copy_range) {
        const int rc = output_copy_range(ctx, o, in_fd, in_path, in_off, len, &done);

        if (rc <= 0)
            return rc;
        r2d_log(ctx, R2D_LOG_DEBUG, "%s: copy_file_range unavailable (%s); copying through a buffer", o->path,
                strerror(errno));
        o->no_copy_range = 1;
    }
    return output_copy_buffered(ctx, o, in_fd, in_path, in_off + done, len - done);
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
    /* Advice only: a failure changes nothing. */
    (void)posix_fadvise(in_fd, (off_t)in_off, (off_t)len, POSIX_FADV_SEQUENTIAL);
    while (in_off < end) {
        int is_data, rc;
        uint64_t ext_end;

        r2d_file_extent(in_fd, in_off, end, &is_data, &ext_end);
        if (is_data)
            rc = output_copy_data(ctx, o, in_fd, in_path, in_off, ext_end - in_off);
        else
            rc = output_zero(ctx, o, ext_end - in_off, in_fd == o->src_fd ? in_off : OUTPUT_NO_SOURCE);
        if (rc)
            return rc;
        in_off = ext_end;
    }
    return 0;
}
