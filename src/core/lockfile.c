/* SPDX-License-Identifier: MIT */
/*
 * Lock files for work shared between processes and machines (docs/cluster.md "Locks"). A lock is a small
 * text file created with O_EXCL, which NFS v3 and later perform atomically on the server; flock() is not used
 * because an NFS mount with "nolock" (common on clusters) makes it silently local to each client. The price
 * is that a crashed holder leaves its file behind, hence the stale rules of r2d_lock_acquire.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "lockfile_parse.h"
#include "raw2dmp/lockfile.h"
#include "raw2dmp/parse.h"

#define LOCK_TRIES 4

static void
lockfile_me(struct r2d_lock_info *me)
{
    memset(me, 0, sizeof(*me));
    if (gethostname(me->host, sizeof(me->host) - 1) != 0)
        snprintf(me->host, sizeof(me->host), "localhost");
    me->pid = (int64_t)getpid();
    me->started = (int64_t)time(NULL);
    if (getrandom(&me->token, sizeof(me->token), 0) != (ssize_t)sizeof(me->token))
        me->token = (uint64_t)me->started ^ ((uint64_t)me->pid << 32) ^ (uint64_t)(uintptr_t)me;
}

/* The value of "key=" in text, up to its newline, into out; 0 when present and non-empty. */
static int
lockfile_field(const char *text, const char *key, char *out, size_t len)
{
    const size_t klen = strlen(key);

    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
            const size_t n = strcspn(p + klen + 1, "\n");

            if (n == 0 || n >= len)
                return -1;
            memcpy(out, p + klen + 1, n);
            out[n] = '\0';
            return 0;
        }
    }
    return -1;
}

int
r2d_lock_parse(const char *data, size_t len, struct r2d_lock_info *info)
{
    char text[R2D_LOCK_MAX_BYTES + 1], v[32];
    uint64_t pid, started, token;
    const size_t n = len < R2D_LOCK_MAX_BYTES ? len : R2D_LOCK_MAX_BYTES;

    memset(info, 0, sizeof(*info));
    info->unreadable = 1;
    memcpy(text, data, n);
    text[n] = '\0'; /* a NUL inside ends the text early: the fields after it are missing */
    if (strncmp(text, R2D_LOCK_MAGIC, sizeof(R2D_LOCK_MAGIC) - 1) != 0 ||
        lockfile_field(text, "host", info->host, sizeof(info->host)) ||
        lockfile_field(text, "pid", v, sizeof(v)) || r2d_parse_u64(v, R2D_RADIX_DECIMAL, &pid) ||
        pid > INT32_MAX || lockfile_field(text, "started", v, sizeof(v)) ||
        r2d_parse_u64(v, R2D_RADIX_DECIMAL, &started) || started > INT64_MAX ||
        lockfile_field(text, "token", v, sizeof(v)) || strlen(v) != 16 ||
        strspn(v, "0123456789abcdef") != 16 || r2d_parse_u64(v, R2D_RADIX_ADDRESS, &token))
        goto bad;
    for (const char *c = info->host; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            goto bad;
    info->pid = (int64_t)pid;
    info->started = (int64_t)started;
    info->token = token;
    info->unreadable = 0;
    return 0;
bad:
    memset(info, 0, sizeof(*info));
    info->unreadable = 1;
    return -1;
}

/*
 * Read the lock at path into *info and its identity into *st. 0, or -1 with errno (ENOENT: no lock). The
 * file comes from shared storage: its size is bounded and every field checked; anything else leaves
 * info->unreadable set and its modification time as the start, and the caller judges the lock by its age.
 */
static int
lockfile_read(const char *path, struct r2d_lock_info *info, struct stat *st)
{
    char text[R2D_LOCK_MAX_BYTES];
    const int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    ssize_t n;

    memset(info, 0, sizeof(*info));
    info->unreadable = 1;
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0) {
        close(fd);
        return -1;
    }
    n = S_ISREG(st->st_mode) ? read(fd, text, sizeof(text)) : -1;
    close(fd);
    if (n <= 0 || r2d_lock_parse(text, (size_t)n, info) != 0)
        info->started = (int64_t)st->st_mtime;
    return 0;
}

/* Is the lock described by h stale for me (see r2d_lock_acquire)? */
static int
lockfile_stale(const struct r2d_lock_info *h, const struct r2d_lock_info *me, int64_t max_age,
               int break_other_hosts)
{
    const int same_host = !h->unreadable && strcmp(h->host, me->host) == 0;

    if (max_age > 0 && me->started - h->started > max_age)
        return 1;
    if (h->unreadable)
        return 0; /* a lock being written, or one we cannot read: only its age can tell */
    if (!same_host)
        return break_other_hosts;
    return kill((pid_t)h->pid, 0) != 0 && errno == ESRCH;
}

/*
 * Remove the stale lock seen (identity st, contents seen): rename it aside under a name of our own, and
 * delete it only when what was renamed is that same file; another process's new lock is put back.
 */
static void
lockfile_break(const char *path, const struct r2d_lock_info *me, const struct r2d_lock_info *seen,
               const struct stat *st)
{
    char aside[4200];
    struct r2d_lock_info now;
    struct stat nst;

    if (snprintf(aside, sizeof(aside), "%s.stale.%" PRId64 ".%016" PRIx64, path, me->pid, me->token) >=
            (int)sizeof(aside) ||
        rename(path, aside) != 0)
        return; /* gone already (another process broke it), or cannot: the next try says busy */
    if (lockfile_read(aside, &now, &nst) == 0 && nst.st_dev == st->st_dev && nst.st_ino == st->st_ino &&
        now.token == seen->token) {
        unlink(aside);
        return;
    }
    if (link(aside, path) != 0 && errno != EEXIST)
        rename(aside, path);
    else
        unlink(aside);
}

/* Write my record into a new file at path (O_EXCL). 0, or -1 with errno (EEXIST when it exists). */
static int
lockfile_write_new(const char *path, const struct r2d_lock_info *me)
{
    char text[R2D_LOCK_MAX_BYTES];
    const int n =
        snprintf(text, sizeof(text),
                 R2D_LOCK_MAGIC "host=%s\npid=%" PRId64 "\nstarted=%" PRId64 "\ntoken=%016" PRIx64 "\n",
                 me->host, me->pid, me->started, me->token);
    const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int err;

    if (fd < 0)
        return -1;
    if (n > 0 && n < (int)sizeof(text) && write(fd, text, (size_t)n) == n && close(fd) == 0)
        return 0;
    err = errno ? errno : EIO;
    close(fd);
    unlink(path);
    errno = err;
    return -1;
}

/*
 * Create the lock at path with my record. 0, 1 when it exists, -1 with errno otherwise. The record is
 * written to a private name first and hard-linked into place, so a lock is never visible without its holder
 * (a reader of an O_EXCL file caught between create and write could only say "holder unknown"). link() is
 * atomic on NFS too; its reply can be lost, hence the link count check. File systems without hard links fall
 * back to a direct O_EXCL create.
 */
static int
lockfile_create(const char *path, const struct r2d_lock_info *me)
{
    char tmp[4200];
    struct stat st;
    int rc, err;

    if (snprintf(tmp, sizeof(tmp), "%s.new.%" PRId64 ".%016" PRIx64, path, me->pid, me->token) >=
        (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (lockfile_write_new(tmp, me) != 0)
        return -1;
    rc = link(tmp, path);
    err = errno;
    if (rc != 0 && err != EEXIST && stat(tmp, &st) == 0 && st.st_nlink == 2)
        rc = 0;
    unlink(tmp);
    if (rc == 0)
        return 0;
    if (err == EEXIST)
        return 1;
    if (err == EPERM || err == EOPNOTSUPP || err == ENOSYS) {
        if (lockfile_write_new(path, me) == 0)
            return 0;
        return errno == EEXIST ? 1 : -1;
    }
    errno = err;
    return -1;
}

int
r2d_lock_acquire(struct r2d_ctx *ctx, const char *path, int64_t max_age, int break_other_hosts,
                 struct r2d_lock_info *info)
{
    struct r2d_lock_info me, holder;
    struct stat st;

    if (!path || !*path)
        return r2d_err(ctx, R2D_EINVAL, "lock: no path");
    lockfile_me(&me);
    for (int i = 0; i < LOCK_TRIES; i++) {
        const int rc = lockfile_create(path, &me);

        if (rc == 0) {
            *info = me;
            return 0;
        }
        if (rc < 0)
            return r2d_err_errno(ctx, "%s: cannot create the lock file", path);
        if (lockfile_read(path, &holder, &st) != 0)
            continue; /* released between the two calls: try again */
        if (!lockfile_stale(&holder, &me, max_age, break_other_hosts))
            break;
        r2d_log(ctx, R2D_LOG_WARN, "%s: breaking a stale lock (%s pid %" PRId64 ", %" PRId64 " s old)", path,
                holder.unreadable ? "unknown holder" : holder.host, holder.pid, me.started - holder.started);
        lockfile_break(path, &me, &holder, &st);
    }
    *info = holder;
    if (holder.unreadable)
        return r2d_err(ctx, R2D_EBUSY, "%s: locked (holder unknown, taken %" PRId64 " s ago)", path,
                       me.started - holder.started);
    return r2d_err(ctx, R2D_EBUSY, "%s: locked by %s pid %" PRId64 " (taken %" PRId64 " s ago)", path,
                   holder.host, holder.pid, me.started - holder.started);
}

int
r2d_lock_release(struct r2d_ctx *ctx, const char *path, const struct r2d_lock_info *mine)
{
    struct r2d_lock_info now;
    struct stat st;

    if (lockfile_read(path, &now, &st) != 0 || now.unreadable || now.token != mine->token ||
        now.pid != mine->pid)
        return 0; /* broken by another process that judged it stale: no longer ours to remove */
    if (unlink(path) != 0 && errno != ENOENT)
        return r2d_err_errno(ctx, "%s: cannot remove the lock file", path);
    return 0;
}
