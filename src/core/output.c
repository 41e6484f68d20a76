/* SPDX-License-Identifier: MIT */
/* Safe output files: a hidden temporary beside the target, hashed while written, renamed in when complete. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "raw2dmp/format.h"
#include "raw2dmp/output.h"

/* One write(2) or copy_file_range(2) call moves at most this much (Linux caps a call at 0x7FFFF000). */
#define OUTPUT_MAX_CALL (1u << 30)
/* copy_file_range is called in pieces of this size so cancellation is seen promptly. */
#define OUTPUT_COPY_PIECE (64u << 20)
/* Buffer of the read/write fallback of r2d_output_copy. */
#define OUTPUT_COPY_BUF (8u << 20)
/*
 * Mode of the new file before the umask: memory images hold keys and passwords, so others get nothing
 * by default; the group may read (case teams). Evidence copies that must be read-only (0400/0440) are
 * left to the user.
 */
#define OUTPUT_MODE 0640
#define OUTPUT_TMP_TRIES 64

struct r2d_output {
    char *path;     /* the target as the caller named it (for messages) */
    char *name;     /* its last component */
    char *tmp_name; /* ".<name>.XXXXXX.part", relative to dirfd */
    int dirfd;
    int fd;
    int force;
    uint64_t size;
    EVP_MD_CTX *md; /* NULL when not hashing */
    uint8_t *buf;   /* copy buffer, allocated on first buffered copy */
};

static void
output_free(struct r2d_output *o)
{
    if (o->fd >= 0)
        close(o->fd);
    if (o->dirfd >= 0)
        close(o->dirfd);
    EVP_MD_CTX_free(o->md);
    free(o->buf);
    free(o->tmp_name);
    free(o->name);
    free(o->path);
    free(o);
}

/* Split path into an open directory descriptor and a copy of the last component. */
static int
output_split_path(struct r2d_ctx *ctx, struct r2d_output *o)
{
    const char *slash = strrchr(o->path, '/');
    const char *base = slash ? slash + 1 : o->path;
    char *dir;

    R2D_CHECK(*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0, ctx, R2D_EINVAL,
              "%s: output must name a file, not a directory", o->path);
    if (!(o->name = strdup(base)))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", o->path);
    if (!slash)
        dir = strdup(".");
    else if (slash == o->path)
        dir = strdup("/");
    else
        dir = strndup(o->path, (size_t)(slash - o->path));
    if (!dir)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", o->path);
    o->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (o->dirfd < 0) {
        const int rc = r2d_err_errno(ctx, "%s: cannot open the output directory", dir);

        free(dir);
        return rc;
    }
    free(dir);
    return 0;
}

/* Refuse an existing target without force, and anything but a file (or symlink) to replace with force. */
static int
output_check_target(struct r2d_ctx *ctx, const struct r2d_output *o)
{
    struct stat st;

    if (fstatat(o->dirfd, o->name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return 0;
        return r2d_err_errno(ctx, "%s: cannot check the output", o->path);
    }
    R2D_CHECK(!o->force, ctx, R2D_EEXIST, "%s: output exists (use --force to replace it)", o->path);
    R2D_CHECK(S_ISDIR(st.st_mode), ctx, R2D_EINVAL, "%s: output is a directory", o->path);
    return 0;
}

/*
 * Create the temporary with O_EXCL under a random name. mkostemp(3) would create it 0600; open(2) with
 * OUTPUT_MODE lets the kernel apply the umask without the racy umask() read-back.
 */
static int
output_create_tmp(struct r2d_ctx *ctx, struct r2d_output *o)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    /* ".<name>.XXXXXX.part" must stay within NAME_MAX: shorten the name part if needed. */
    const size_t keep = strlen(o->name) > NAME_MAX - 13 ? NAME_MAX - 13 : strlen(o->name);
    const size_t sz = keep + 14;

    if (!(o->tmp_name = malloc(sz)))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", o->path);
    for (int tries = 0; tries < OUTPUT_TMP_TRIES; tries++) {
        uint8_t rnd[6];
        char suffix[7];

        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
            /* Not cryptographic: O_EXCL is what makes the name safe; randomness only avoids collisions. */
            const uint64_t x = (uint64_t)getpid() * 0x9E3779B97F4A7C15u ^ (uint64_t)(uintptr_t)o ^
                               (uint64_t)tries * 0xBF58476D1CE4E5B9u;

            for (size_t i = 0; i < sizeof(rnd); i++)
                rnd[i] = (uint8_t)(x >> (8 * i));
        }
        for (size_t i = 0; i < 6; i++)
            suffix[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
        suffix[6] = '\0';
        snprintf(o->tmp_name, sz, ".%.*s.%s.part", (int)keep, o->name, suffix);
        o->fd =
            openat(o->dirfd, o->tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, OUTPUT_MODE);
        if (o->fd >= 0)
            return 0;
        if (errno != EEXIST)
            return r2d_err_errno(ctx, "%s: cannot create temporary output %s", o->path, o->tmp_name);
    }
    return r2d_err(ctx, R2D_EIO, "%s: cannot create a temporary output: %d names taken", o->path,
                   OUTPUT_TMP_TRIES);
}

int
r2d_output_open(struct r2d_ctx *ctx, const char *path, int force, enum r2d_hash_kind hash,
                struct r2d_output **out)
{
    struct r2d_output *o;
    int rc;

    *out = NULL;
    R2D_CHECK(!path || !*path, ctx, R2D_EINVAL, "no output file name given");
    R2D_CHECK(hash != R2D_HASH_NONE && hash != R2D_HASH_SHA256, ctx, R2D_EINVAL, "%s: unknown hash kind %d",
              path, (int)hash);
    o = calloc(1, sizeof(*o));
    if (!o)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", path);
    o->fd = -1;
    o->dirfd = -1;
    o->force = force;
    if (!(o->path = strdup(path))) {
        output_free(o);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", path);
    }
    rc = output_split_path(ctx, o);
    if (!rc)
        rc = output_check_target(ctx, o);
    if (!rc && hash == R2D_HASH_SHA256) {
        o->md = EVP_MD_CTX_new();
        if (!o->md || EVP_DigestInit_ex(o->md, EVP_sha256(), NULL) != 1)
            rc = r2d_err(ctx, R2D_ENOMEM, "%s: cannot set up SHA-256", path);
    }
    if (!rc)
        rc = output_create_tmp(ctx, o);
    if (rc) {
        output_free(o); /* nothing was created when this fails */
        return rc;
    }
    *out = o;
    return 0;
}

static int
output_check_cancel(struct r2d_ctx *ctx)
{
    return r2d_cancelled(ctx) ? r2d_err(ctx, R2D_ECANCELED, "interrupted") : 0;
}

/* Message for a failed write or copy at output offset off; errno is the call's. */
static int
output_write_error(struct r2d_ctx *ctx, const struct r2d_output *o, uint64_t off)
{
    if (errno == ENOSPC || errno == EFBIG || errno == EDQUOT)
        return r2d_err_errno(ctx, "%s: offset 0x%" PRIx64 ": disk full while writing", o->path, off);
    return r2d_err_errno(ctx, "%s: offset 0x%" PRIx64 ": write failed", o->path, off);
}

/* Write len bytes at off of the temporary, looping on short writes. Does not hash or move size. */
static int
output_pwrite_all(struct r2d_ctx *ctx, const struct r2d_output *o, uint64_t off, const uint8_t *p, size_t len)
{
    while (len > 0) {
        const size_t n = len > OUTPUT_MAX_CALL ? OUTPUT_MAX_CALL : len;
        const ssize_t w = pwrite(o->fd, p, n, (off_t)off);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return output_write_error(ctx, o, off);
        }
        if (w == 0) { /* not expected from a regular file; do not spin */
            errno = ENOSPC;
            return output_write_error(ctx, o, off);
        }
        p += w;
        off += (uint64_t)w;
        len -= (size_t)w;
    }
    return 0;
}

int
r2d_output_write(struct r2d_ctx *ctx, struct r2d_output *o, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len > 0) {
        const size_t n = len > OUTPUT_MAX_CALL ? OUTPUT_MAX_CALL : len;
        int rc = output_check_cancel(ctx);

        if (!rc)
            rc = output_pwrite_all(ctx, o, o->size, p, n);
        if (rc)
            return rc;
        if (o->md && EVP_DigestUpdate(o->md, p, n) != 1)
            return r2d_err(ctx, R2D_EIO, "%s: SHA-256 update failed", o->path);
        o->size += n;
        p += n;
        len -= n;
    }
    return 0;
}

/* Buffered copy: read into an 8 MiB buffer, hash and write through r2d_output_write. */
static int
output_copy_buffered(struct r2d_ctx *ctx, struct r2d_output *o, int in_fd, const char *in_path,
                     uint64_t in_off, uint64_t len)
{
    if (!o->buf && !(o->buf = malloc(OUTPUT_COPY_BUF)))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the copy buffer", o->path);
    while (len > 0) {
        const size_t n = len > OUTPUT_COPY_BUF ? OUTPUT_COPY_BUF : (size_t)len;
        int rc = output_check_cancel(ctx);

        if (!rc)
            rc = r2d_pread_full(ctx, in_fd, in_path, in_off, o->buf, n, "input data");
        if (!rc)
            rc = r2d_output_write(ctx, o, o->buf, n);
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
                return output_write_error(ctx, o, o->size);
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
        *done += (uint64_t)c;
    }
    return 0;
}

int
r2d_output_copy(struct r2d_ctx *ctx, struct r2d_output *o, int in_fd, const char *in_path, uint64_t in_off,
                uint64_t len)
{
    uint64_t done = 0;

    if (len == 0)
        return 0;
    R2D_CHECK(in_off + len < in_off, ctx, R2D_EINVAL,
              "%s: offset 0x%" PRIx64 ": copy of 0x%" PRIx64 " bytes wraps", in_path, in_off, len);
    /* Advice only: a failure changes nothing. */
    (void)posix_fadvise(in_fd, (off_t)in_off, (off_t)len, POSIX_FADV_SEQUENTIAL);
    if (!o->md) {
        const int rc = output_copy_range(ctx, o, in_fd, in_path, in_off, len, &done);

        if (rc <= 0)
            return rc;
        r2d_log(ctx, R2D_LOG_DEBUG, "%s: copy_file_range unavailable (%s); copying through a buffer", o->path,
                strerror(errno));
    }
    return output_copy_buffered(ctx, o, in_fd, in_path, in_off + done, len - done);
}

int
r2d_output_pwrite(struct r2d_ctx *ctx, struct r2d_output *o, uint64_t off, const void *buf, size_t len)
{
    R2D_CHECK(o->md, ctx, R2D_EINVAL, "%s: cannot rewrite bytes already hashed", o->path);
    R2D_CHECK(off > o->size || len > o->size - off, ctx, R2D_EINVAL,
              "%s: offset 0x%" PRIx64 ": rewrite of 0x%zx bytes past what was written (0x%" PRIx64 ")",
              o->path, off, len, o->size);
    return output_pwrite_all(ctx, o, off, buf, len);
}

uint64_t
r2d_output_size(const struct r2d_output *o)
{
    return o->size;
}

static void
output_hex(const uint8_t *d, unsigned n, char *hex)
{
    static const char digits[] = "0123456789abcdef";

    for (unsigned i = 0; i < n; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * n] = '\0';
}

/*
 * Move the temporary to the target. Without force an output that appeared meanwhile is never replaced:
 * renameat2(RENAME_NOREPLACE), or link()+unlink() where the file system lacks it; with force rename().
 */
static int
output_install(struct r2d_ctx *ctx, struct r2d_output *o)
{
    if (o->force) {
        if (renameat(o->dirfd, o->tmp_name, o->dirfd, o->name) == 0)
            return 0;
        return r2d_err_errno(ctx, "%s: cannot rename %s into place", o->path, o->tmp_name);
    }
    if (renameat2(o->dirfd, o->tmp_name, o->dirfd, o->name, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno == EEXIST)
        return r2d_err(ctx, R2D_EEXIST, "%s: output appeared while writing; not replaced", o->path);
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return r2d_err_errno(ctx, "%s: cannot rename %s into place", o->path, o->tmp_name);
    if (linkat(o->dirfd, o->tmp_name, o->dirfd, o->name, 0) != 0) {
        if (errno == EEXIST)
            return r2d_err(ctx, R2D_EEXIST, "%s: output appeared while writing; not replaced", o->path);
        return r2d_err_errno(ctx,
                             "%s: cannot link %s into place (the file system supports neither "
                             "RENAME_NOREPLACE nor hard links; --force uses a plain rename)",
                             o->path, o->tmp_name);
    }
    (void)unlinkat(o->dirfd, o->tmp_name, 0);
    return 0;
}

int
r2d_output_commit(struct r2d_ctx *ctx, struct r2d_output *o, char *hex_digest)
{
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    int rc = 0;

    if (hex_digest)
        hex_digest[0] = '\0';
    if (o->md && EVP_DigestFinal_ex(o->md, digest, &dlen) != 1)
        rc = r2d_err(ctx, R2D_EIO, "%s: SHA-256 final failed", o->path);
    if (!rc && fsync(o->fd) != 0)
        rc = r2d_err_errno(ctx, "%s: fsync failed", o->path);
    if (!rc) {
        const int fd = o->fd;

        o->fd = -1;
        if (close(fd) != 0)
            rc = r2d_err_errno(ctx, "%s: closing the output failed", o->path);
    }
    if (!rc)
        rc = output_install(ctx, o);
    if (rc) {
        r2d_output_abort(o);
        return rc;
    }
    /* The rename is durable only once the directory is; file systems that cannot sync one say EINVAL. */
    if (fsync(o->dirfd) != 0 && errno != EINVAL && errno != EROFS) {
        rc = r2d_err_errno(ctx, "%s: fsync of the output directory failed", o->path);
        (void)unlinkat(o->dirfd, o->name, 0);
        output_free(o);
        return rc;
    }
    if (hex_digest && o->md)
        output_hex(digest, dlen, hex_digest);
    output_free(o);
    return 0;
}

void
r2d_output_abort(struct r2d_output *o)
{
    if (!o)
        return;
    if (o->fd >= 0) {
        close(o->fd);
        o->fd = -1;
    }
    if (o->tmp_name && o->dirfd >= 0)
        (void)unlinkat(o->dirfd, o->tmp_name, 0);
    output_free(o);
}
