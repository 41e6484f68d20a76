/* SPDX-License-Identifier: MIT */
/* Lock files on shared storage: one process at a time converts an item or downloads a symbol file. */
#ifndef RAW2DMP_LOCKFILE_H
#define RAW2DMP_LOCKFILE_H

#include <stdint.h>

#include "raw2dmp/ctx.h"

/* Who holds a lock, as its file records it. */
struct r2d_lock_info {
    char host[256];  /* gethostname() of the holder */
    int64_t pid;     /* its process id */
    int64_t started; /* when it took the lock, seconds since the epoch (its clock) */
    uint64_t token;  /* random: tells apart two holders with one pid (threads, a reused pid) */
    int unreadable;  /* the file's contents could not be read (being written, or not ours) */
};

/**
 * Take the lock file path: create it with O_CREAT|O_EXCL (atomic on local file systems and on NFS v3 and
 * later) and write host, pid, start time and a random token into it. A lock already there is stale, removed
 * and taken over, when its holder is on this host and its pid is dead, or when it is older than max_age
 * seconds (by the time it records, else by its modification time), or, with break_other_hosts, when its
 * holder is on another host. A stale lock is first renamed to a unique name, and only the file that was
 * judged stale is deleted, so two processes breaking one lock cannot delete each other's new lock.
 *
 * Returns 0 with *info describing our lock (pass it to r2d_lock_release); R2D_EBUSY with *info describing
 * the holder and a message naming it; R2D_EIO (cannot create or write the file; the message says why);
 * R2D_EINVAL for a NULL or empty path.
 */
R2D_API int r2d_lock_acquire(struct r2d_ctx *ctx, const char *path, int64_t max_age, int break_other_hosts,
                             struct r2d_lock_info *info);

/**
 * Remove the lock file path when it is still the one described by mine (its token): a lock that another
 * process judged stale and took over is left to that process. Returns 0 (removed, or no longer ours), or
 * R2D_EIO when it could not be removed.
 */
R2D_API int r2d_lock_release(struct r2d_ctx *ctx, const char *path, const struct r2d_lock_info *mine);

#endif
