/* SPDX-License-Identifier: MIT */
/*
 * Safe output files: a hidden temporary beside the target, hashed while written, renamed in when complete.
 * This file: the temporary's lifecycle (create, finish, install, commit, abort); output_ring.c hashes,
 * output_copy.c writes and copies.
 * Speed (docs/performance.md): holes in the input become holes in the output and are never read; plain
 * copies use copy_file_range; hashed copies read and write on the caller's thread while helper threads
 * compute the digests (SHA-256 by default; --hash may add SHA-1 and MD5) of the output and of the source
 * file over the same buffers, so I/O and hashing overlap and the source is read once for all of them.
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

static void
output_free(struct r2d_output *o)
{
    r2d_output_hasher_stop(o, 1);
    if (o->fd >= 0)
        close(o->fd);
    if (o->dirfd >= 0)
        close(o->dirfd);
    r2d_digests_free(&o->md);
    if (o->src_on)
        r2d_source_digest_free(&o->src);
    for (int i = 0; i < OUTPUT_SLOTS; i++)
        free(o->slot[i].buf);
    free(o->gather.win);
    free(o->gather.stage);
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

/*
 * The file --force will replace leaves the page cache now rather than when the rename frees it. Its clean
 * pages go back to the free lists, where the new dump's page cache finds them: otherwise the new dump takes
 * pages the kernel has not used for a while, which in a virtual machine with free page reporting (virtio
 * balloon) the host has reclaimed and must fault in again, one by one (docs/performance.md, "Replacing an
 * output"). Read-only and advisory: the old file is not changed, and stays complete until the rename. Its
 * dirty pages (an old output written with --no-sync moments ago) are only queued for writeback, which the
 * kernel does within half a minute anyway.
 */
static void
output_release_old(const struct r2d_output *o)
{
    const int fd = openat(o->dirfd, o->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    struct stat st;

    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
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
    if (S_ISREG(st.st_mode))
        output_release_old(o);
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
r2d_output_open(struct r2d_ctx *ctx, const char *path, unsigned flags, unsigned hash, struct r2d_output **out)
{
    struct r2d_output *o;
    int rc;

    *out = NULL;
    R2D_CHECK(!path || !*path, ctx, R2D_EINVAL, "no output file name given");
    R2D_CHECK(hash & ~r2d_digest_all(), ctx, R2D_EINVAL, "%s: unknown hash kinds 0x%x", path, hash);
    R2D_CHECK(flags & ~(R2D_OUTPUT_FORCE | R2D_OUTPUT_NO_SYNC), ctx, R2D_EINVAL,
              "%s: unknown output flags 0x%x", path, flags);
    o = calloc(1, sizeof(*o));
    if (!o)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", path);
    o->fd = -1;
    o->dirfd = -1;
    o->src_fd = -1;
    o->ext.fd = -1;
    o->gather.fd = -1;
    o->gather.next_fd = -1;
    o->force = (flags & R2D_OUTPUT_FORCE) != 0;
    o->no_sync = (flags & R2D_OUTPUT_NO_SYNC) != 0;
    if (!(o->path = strdup(path))) {
        output_free(o);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", path);
    }
    rc = output_split_path(ctx, o);
    if (!rc)
        rc = output_check_target(ctx, o);
    if (!rc && r2d_digests_init(&o->md, hash) != 0)
        rc = r2d_err(ctx, R2D_ENOMEM, "%s: cannot set up the digests", path);
    o->hashing = hash != R2D_HASH_NONE;
    if (!rc)
        rc = output_create_tmp(ctx, o);
    if (rc) {
        output_free(o); /* nothing was created when this fails */
        return rc;
    }
    if (o->hashing)
        r2d_output_hasher_start(o);
    *out = o;
    return 0;
}

int
r2d_output_pwrite(struct r2d_ctx *ctx, struct r2d_output *o, uint64_t off, const void *buf, size_t len)
{
    int rc;

    R2D_CHECK(o->hashing, ctx, R2D_EINVAL, "%s: cannot rewrite bytes already hashed", o->path);
    R2D_CHECK(off > o->size || len > o->size - off, ctx, R2D_EINVAL,
              "%s: offset 0x%" PRIx64 ": rewrite of 0x%zx bytes past what was written (0x%" PRIx64 ")",
              o->path, off, len, o->size);
    /* Gathered pieces are written first: the rewrite may land on them. */
    rc = r2d_output_gather_flush(ctx, o);
    return rc ? rc : r2d_output_pwrite_all(ctx, o, off, buf, len);
}

uint64_t
r2d_output_size(const struct r2d_output *o)
{
    return o->size;
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

/* Wait until the hasher has taken in everything queued, stop it, and finalise the digests into o->hex. */
static int
output_finish_hash(struct r2d_ctx *ctx, struct r2d_output *o)
{
    if (!o->hashing)
        return 0;
    r2d_output_hasher_stop(o, 0); /* drains the queue first */
    R2D_CHECK(o->hash_failed, ctx, R2D_EIO, "%s: digest update failed", o->path);
    R2D_CHECK(r2d_digests_final(&o->md, &o->hex) != 0, ctx, R2D_EIO, "%s: digest final failed", o->path);
    return 0;
}

int
r2d_output_finish(struct r2d_ctx *ctx, struct r2d_output *o, struct r2d_digest_hex *digests)
{
    struct stat st = {0};
    int rc = 0;

    if (!o->finished) {
        rc = r2d_output_gather_flush(ctx, o);
        if (!rc)
            rc = output_finish_hash(ctx, o);
        /* A trailing hole has no bytes written yet: extend the file to its size. */
        if (!rc && o->tail_hole && ftruncate(o->fd, (off_t)o->size) != 0)
            rc = r2d_output_write_error(ctx, o, o->size);
        if (!rc && !o->no_sync && fsync(o->fd) != 0)
            rc = r2d_err_errno(ctx, "%s: fsync failed", o->path);
        if (!rc && fstat(o->fd, &st) != 0)
            rc = r2d_err_errno(ctx, "%s: cannot stat the temporary output %s", o->path, o->tmp_name);
        if (!rc) {
            const int fd = o->fd;

            o->fd = -1;
            if (close(fd) != 0)
                rc = r2d_err_errno(ctx, "%s: closing the output failed", o->path);
        }
        if (!rc) {
            o->dev = st.st_dev;
            o->ino = st.st_ino;
            o->finished = 1;
        }
    }
    if (digests && rc)
        r2d_digest_hex_clear(digests);
    else if (digests)
        *digests = o->hex;
    return rc;
}

/*
 * Remove what output_install put at the target, but only while the name still holds the file written here:
 * a file another process put there since is not ours to remove.
 */
static void
output_retract(struct r2d_output *o)
{
    struct stat st;

    if (fstatat(o->dirfd, o->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == o->dev &&
        st.st_ino == o->ino)
        (void)unlinkat(o->dirfd, o->name, 0);
}

/* Rename into place and make the rename durable. On failure nothing of o is left at the target. */
static int
output_install_durable(struct r2d_ctx *ctx, struct r2d_output *o)
{
    int rc = output_install(ctx, o);

    if (rc)
        return rc;
    o->installed = 1;
    if (o->no_sync)
        return 0;
    /* The rename is durable only once the directory is; file systems that cannot sync one say EINVAL. */
    if (fsync(o->dirfd) != 0 && errno != EINVAL && errno != EROFS) {
        rc = r2d_err_errno(ctx, "%s: fsync of the output directory failed", o->path);
        output_retract(o);
    }
    return rc;
}

int
r2d_output_commit(struct r2d_ctx *ctx, struct r2d_output *o, struct r2d_digest_hex *digests)
{
    int rc = r2d_output_finish(ctx, o, digests);

    if (!rc)
        rc = output_install_durable(ctx, o);
    if (rc && digests)
        r2d_digest_hex_clear(digests);
    r2d_output_abort(o); /* frees; removes the temporary when it was not installed */
    return rc;
}

int
r2d_output_commit_pair(struct r2d_ctx *ctx, struct r2d_output *first, struct r2d_output *second, int *failed)
{
    int rc, which = 1;

    rc = r2d_output_finish(ctx, first, NULL);
    if (!rc) {
        which = 2;
        rc = r2d_output_finish(ctx, second, NULL);
    }
    if (!rc) {
        which = 1;
        rc = output_install_durable(ctx, first);
    }
    if (!rc) {
        which = 2;
        rc = output_install_durable(ctx, second);
        if (rc)
            output_retract(first);
    }
    if (failed)
        *failed = rc ? which : 0;
    r2d_output_abort(first);
    r2d_output_abort(second);
    return rc;
}

void
r2d_output_abort(struct r2d_output *o)
{
    if (!o)
        return;
    r2d_output_hasher_stop(o, 1);
    if (o->fd >= 0) {
        close(o->fd);
        o->fd = -1;
    }
    if (o->tmp_name && o->dirfd >= 0 && !o->installed)
        (void)unlinkat(o->dirfd, o->tmp_name, 0);
    output_free(o);
}
