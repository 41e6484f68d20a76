/* SPDX-License-Identifier: MIT */
/*
 * Safe output files: a hidden temporary beside the target, hashed while written, renamed in when complete.
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
#include "source_digest.h"

/* One write(2) or copy_file_range(2) call moves at most this much (Linux caps a call at 0x7FFFF000). */
#define OUTPUT_MAX_CALL (1u << 30)
/* copy_file_range is called in pieces of this size so cancellation is seen promptly. */
#define OUTPUT_COPY_PIECE (64u << 20)
/*
 * The ring of buffers between the writing thread and the hashing threads: a slot is read into, written out
 * and then hashed while the next ones are filled. 16 slots of 1 MiB were the fastest of the sizes tried
 * (256 KiB to 4 MiB, 4 to 64 slots; docs/performance.md): larger slots fall out of the CPU caches between
 * the read, the write and the hashes, smaller ones cost more system calls and hand-offs.
 */
#ifndef OUTPUT_SLOTS
#define OUTPUT_SLOTS 16
#endif
#ifndef OUTPUT_SLOT_SIZE
#define OUTPUT_SLOT_SIZE (1u << 20)
#endif
/* A hole is handed to the hasher in pieces of at most this size, so cancellation is seen promptly. */
#define OUTPUT_ZERO_PIECE (16u << 20)
/*
 * Write-behind: writeback of every OUTPUT_WRITEBEHIND bytes is started as soon as they are written, so the
 * disk works during the copy and the final fsync has little left to do.
 */
#ifndef OUTPUT_WRITEBEHIND
#define OUTPUT_WRITEBEHIND (32u << 20)
#endif
/*
 * Mode of the new file before the umask: memory images hold keys and passwords, so others get nothing
 * by default; the group may read (case teams). Evidence copies that must be read-only (0400/0440) are
 * left to the user.
 */
#define OUTPUT_MODE 0640
#define OUTPUT_TMP_TRIES 64

/* src_off of a slot whose bytes were not read from the source file. */
#define OUTPUT_NO_SOURCE UINT64_MAX

/* One buffer of the hashing ring: len bytes of buf, or len zero bytes (a hole). */
struct output_slot {
    uint8_t *buf; /* OUTPUT_SLOT_SIZE bytes, allocated on first use; NULL for a slot only used for holes */
    uint64_t len;
    uint64_t src_off; /* where in the source file these bytes were read, or OUTPUT_NO_SOURCE */
    int zero;
};

struct r2d_output {
    char *path;     /* the target as the caller named it (for messages) */
    char *name;     /* its last component */
    char *tmp_name; /* ".<name>.XXXXXX.part", relative to dirfd */
    int dirfd;
    int fd;
    int force;
    int finished;   /* r2d_output_finish succeeded: fd is closed, the temporary complete and durable */
    int installed;  /* renamed into place: the temporary name is gone */
    dev_t dev;      /* the temporary's inode, to recognise it at the target after the rename */
    ino_t ino;
    struct r2d_digest_hex hex; /* its digests once finished ("" for those not computed) */
    uint64_t size;
    int tail_hole;       /* the file ends in a hole not yet extended to size (ftruncate at commit) */
    int no_copy_range;   /* copy_file_range failed as unsupported: do not try again */
    uint64_t wb_start;   /* output offset from which writeback has not been started yet */
    int hashing;         /* at least one digest is computed over what is written */
    struct r2d_digests md;

    /* The hashing ring. Without a hash, or without a thread, only slot 0 is used, synchronously. */
    struct output_slot slot[OUTPUT_SLOTS];
    int threaded;        /* the hasher thread runs; fields below are shared with it under lock */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work; /* signalled when a slot is queued or stop is set */
    pthread_cond_t room; /* signalled when a slot has been hashed */
    uint64_t queued;     /* slots handed to the hasher so far */
    uint64_t hashed;     /* slots the hasher has finished */
    int stop;            /* set by the writer: exit once the queue is empty (or at once with abandon) */
    int abandon;
    int hash_failed; /* a digest update failed in the hasher */

    /*
     * The source file's digest (r2d_output_hash_source). Following, it takes the ring's slots after the
     * writer, on its own thread when there is one (src_taken, src_stop under lock), and reads only what
     * the slots lack; not following (the runs are decoded, not copied), its thread reads the whole file.
     */
    struct source_digest src;
    int src_on;           /* src is set up (a source digest was asked for) */
    int src_fd;
    int src_follow;
    int src_threaded;
    pthread_t src_thread;
    uint64_t src_taken;   /* slots the source digest has taken */
    int src_stop;         /* set when the writer is done: take what is queued, read the rest, finish */
};

static void output_hasher_start(struct r2d_output *o);
static void output_hasher_stop(struct r2d_output *o, int abandon);

static void
output_free(struct r2d_output *o)
{
    output_hasher_stop(o, 1);
    if (o->fd >= 0)
        close(o->fd);
    if (o->dirfd >= 0)
        close(o->dirfd);
    r2d_digests_free(&o->md);
    if (o->src_on)
        r2d_source_digest_free(&o->src);
    for (int i = 0; i < OUTPUT_SLOTS; i++)
        free(o->slot[i].buf);
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
r2d_output_open(struct r2d_ctx *ctx, const char *path, int force, unsigned hash, struct r2d_output **out)
{
    struct r2d_output *o;
    int rc;

    *out = NULL;
    R2D_CHECK(!path || !*path, ctx, R2D_EINVAL, "no output file name given");
    R2D_CHECK(hash & ~r2d_digest_all(), ctx, R2D_EINVAL, "%s: unknown hash kinds 0x%x", path, hash);
    o = calloc(1, sizeof(*o));
    if (!o)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", path);
    o->fd = -1;
    o->dirfd = -1;
    o->src_fd = -1;
    o->force = force;
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
        output_hasher_start(o);
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

/* ---- the hashing ring ---- */

/* Feed one slot to the digests. Returns 0, or -1 when libcrypto fails. */
static int
output_hash_slot(struct r2d_digests *md, const struct output_slot *s)
{
    if (!s->zero)
        return r2d_digests_update(md, s->buf, (size_t)s->len);
    return r2d_digests_zeros(md, s->len);
}

/* The hasher thread: hashes the queued slots in order until told to stop. */
static void *
output_hasher_main(void *arg)
{
    struct r2d_output *o = arg;

    pthread_mutex_lock(&o->lock);
    for (;;) {
        const struct output_slot *s;
        int bad;

        while (o->hashed == o->queued && !o->stop)
            pthread_cond_wait(&o->work, &o->lock);
        if (o->abandon || o->hashed == o->queued)
            break;
        s = &o->slot[o->hashed % OUTPUT_SLOTS];
        pthread_mutex_unlock(&o->lock);
        bad = output_hash_slot(&o->md, s); /* the slot is ours until hashed moves on */
        pthread_mutex_lock(&o->lock);
        if (bad)
            o->hash_failed = 1;
        o->hashed++;
        pthread_cond_signal(&o->room);
    }
    pthread_mutex_unlock(&o->lock);
    return NULL;
}

/* The source digest takes a slot: only bytes that were read from the source file concern it. */
static void
output_src_take(struct r2d_output *o, const struct output_slot *s)
{
    if (s->src_off != OUTPUT_NO_SOURCE)
        r2d_source_digest_take(&o->src, s->src_off, s->zero ? NULL : s->buf, s->len);
}

/*
 * The source digest's thread. Following the writer, it takes every queued slot after the writer made it,
 * and once the writer is done reads what the slots did not hold; otherwise it reads the whole file.
 */
static void *
output_src_main(void *arg)
{
    struct r2d_output *o = arg;

    if (o->src_follow) {
        pthread_mutex_lock(&o->lock);
        for (;;) {
            const struct output_slot *s;

            while (o->src_taken == o->queued && !o->src_stop && !o->abandon)
                pthread_cond_wait(&o->work, &o->lock);
            if (o->abandon || o->src_taken == o->queued)
                break;
            s = &o->slot[o->src_taken % OUTPUT_SLOTS];
            pthread_mutex_unlock(&o->lock);
            output_src_take(o, s); /* the slot is not reused until src_taken moves on */
            pthread_mutex_lock(&o->lock);
            o->src_taken++;
            pthread_cond_signal(&o->room);
        }
        pthread_mutex_unlock(&o->lock);
    }
    r2d_source_digest_finish(&o->src); /* returns at once when halted */
    return NULL;
}

/*
 * Start a helper thread with every signal blocked in it: the CLI's SIGINT handler must run on a thread that
 * looks at the cancel flag. Returns 1 when the thread runs.
 */
static int
output_spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    int ok;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    ok = pthread_create(t, NULL, fn, arg) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

/* Start the hasher thread. On a single CPU, or when no thread can be made, hashing stays inline. */
static void
output_hasher_start(struct r2d_output *o)
{
    cpu_set_t cpus;

    if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) < 2)
        return;
    if (pthread_mutex_init(&o->lock, NULL) != 0)
        return;
    if (pthread_cond_init(&o->work, NULL) != 0) {
        pthread_mutex_destroy(&o->lock);
        return;
    }
    if (pthread_cond_init(&o->room, NULL) != 0) {
        pthread_cond_destroy(&o->work);
        pthread_mutex_destroy(&o->lock);
        return;
    }
    o->threaded = output_spawn(&o->thread, output_hasher_main, o);
    if (!o->threaded) {
        pthread_cond_destroy(&o->room);
        pthread_cond_destroy(&o->work);
        pthread_mutex_destroy(&o->lock);
    }
}

/*
 * Join the source digest's thread: once it has taken every queued slot and read the rest of the file, or
 * at once with abandon. No-op without that thread.
 */
static void
output_src_join(struct r2d_output *o, int abandon)
{
    if (!o->src_threaded)
        return;
    if (abandon)
        r2d_source_digest_halt(&o->src);
    pthread_mutex_lock(&o->lock);
    o->src_stop = 1;
    o->abandon |= abandon;
    pthread_cond_broadcast(&o->work);
    pthread_mutex_unlock(&o->lock);
    pthread_join(o->src_thread, NULL);
    o->src_threaded = 0;
}

/* Stop and join the hasher: after the queue is empty, or at once with abandon. No-op without a thread. */
static void
output_hasher_stop(struct r2d_output *o, int abandon)
{
    output_src_join(o, abandon); /* it shares the lock destroyed below */
    if (!o->threaded)
        return;
    pthread_mutex_lock(&o->lock);
    o->stop = 1;
    o->abandon |= abandon;
    pthread_cond_broadcast(&o->work);
    pthread_mutex_unlock(&o->lock);
    pthread_join(o->thread, NULL);
    pthread_cond_destroy(&o->room);
    pthread_cond_destroy(&o->work);
    pthread_mutex_destroy(&o->lock);
    o->threaded = 0;
}

/*
 * The next slot to fill: slot 0 when nothing is queued to a thread, else the next one in the ring once
 * the hasher is done with it. want_buf: the slot's buffer is needed (not for a hole).
 */
static int
output_slot_get(struct r2d_ctx *ctx, struct r2d_output *o, int want_buf, struct output_slot **out)
{
    struct output_slot *s = &o->slot[0];

    if (o->threaded) {
        pthread_mutex_lock(&o->lock);
        for (;;) {
            /* A slot is free once every consumer has taken it. */
            const uint64_t done = o->src_threaded && o->src_follow && o->src_taken < o->hashed ? o->src_taken
                                                                                               : o->hashed;

            if (o->queued - done < OUTPUT_SLOTS)
                break;
            pthread_cond_wait(&o->room, &o->lock);
        }
        s = &o->slot[o->queued % OUTPUT_SLOTS];
        pthread_mutex_unlock(&o->lock);
    }
    if (want_buf && !s->buf) {
        void *p = NULL;

        /* Page aligned: the kernel copies whole pages to and from it. */
        if (posix_memalign(&p, 4096, OUTPUT_SLOT_SIZE) != 0)
            return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the copy buffer", o->path);
        s->buf = p;
    }
    *out = s;
    return 0;
}

/*
 * Hand the filled slot to the digests: to the threads, or hashed here. src_off: where the bytes were read
 * in the source file, or OUTPUT_NO_SOURCE. No-op when not hashing.
 */
static int
output_slot_submit(struct r2d_ctx *ctx, struct r2d_output *o, struct output_slot *s, uint64_t len, int zero,
                   uint64_t src_off)
{
    int failed;

    if (!o->hashing)
        return 0;
    s->len = len;
    s->zero = zero;
    s->src_off = o->src_on && o->src_follow ? src_off : OUTPUT_NO_SOURCE;
    if (o->src_on && o->src_follow && !o->src_threaded)
        output_src_take(o, s);
    if (!o->threaded) {
        failed = output_hash_slot(&o->md, s);
    } else {
        pthread_mutex_lock(&o->lock);
        o->queued++;
        failed = o->hash_failed;
        pthread_cond_broadcast(&o->work);
        pthread_mutex_unlock(&o->lock);
    }
    return failed ? r2d_err(ctx, R2D_EIO, "%s: digest update failed", o->path) : 0;
}

/* Start writeback of what was written since the last call once OUTPUT_WRITEBEHIND bytes have piled up. */
static void
output_write_behind(struct r2d_output *o)
{
    if (o->size - o->wb_start < OUTPUT_WRITEBEHIND)
        return;
    /* Advice only: the data is safe either way once fsync returns at commit. */
    (void)sync_file_range(o->fd, (off_t)o->wb_start, (off_t)(o->size - o->wb_start), SYNC_FILE_RANGE_WRITE);
    o->wb_start = o->size;
}

/* Append the first n bytes of slot s (read at src_off of the source, or not): write them, then hash them. */
static int
output_append_slot(struct r2d_ctx *ctx, struct r2d_output *o, struct output_slot *s, size_t n, uint64_t src_off)
{
    int rc = output_pwrite_all(ctx, o, o->size, s->buf, n);

    if (!rc)
        rc = output_slot_submit(ctx, o, s, n, 0, src_off);
    if (rc)
        return rc;
    o->size += n;
    o->tail_hole = 0;
    output_write_behind(o);
    return 0;
}

int
r2d_output_hash_source(struct r2d_ctx *ctx, struct r2d_output *o, int fd, uint64_t size, int follow)
{
    R2D_CHECK(!o->hashing, ctx, R2D_EINVAL, "%s: a source digest needs the output to be hashed", o->path);
    R2D_CHECK(o->src_on || o->size > 0, ctx, R2D_EINVAL, "%s: the source digest must be set up before writing",
              o->path);
    if (r2d_source_digest_init(&o->src, ctx, fd, size, o->md.kinds) != 0)
        return r2d_err(ctx, R2D_ENOMEM, "%s: cannot set up the digests of the input", o->path);
    o->src_on = 1;
    o->src_fd = fd;
    o->src_follow = follow;
    if (o->threaded)
        o->src_threaded = output_spawn(&o->src_thread, output_src_main, o);
    return 0;
}

void
r2d_output_source_digest(struct r2d_output *o, struct r2d_digest_hex *hex, char *why, size_t why_len)
{
    if (!o->src_on) {
        r2d_digest_hex_clear(hex);
        snprintf(why, why_len, "not computed");
        return;
    }
    output_src_join(o, 0);
    r2d_source_digest_finish(&o->src); /* without a thread the reading is done here (nothing left otherwise) */
    r2d_source_digest_result(&o->src, hex, why, why_len);
}

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
            rc = output_pwrite_all(ctx, o, o->size, p, n);
            if (!rc) {
                o->size += n;
                o->tail_hole = 0;
                output_write_behind(o);
            }
        } else if (!rc) {
            struct output_slot *s = NULL;

            rc = output_slot_get(ctx, o, 1, &s);
            if (!rc) {
                memcpy(s->buf, p, n);
                rc = output_append_slot(ctx, o, s, n, OUTPUT_NO_SOURCE);
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
              "%s: offset 0x%" PRIx64 ": 0x%" PRIx64 " zero bytes overflow the file size", o->path, o->size, len);
    while (len > 0) {
        const uint64_t n = len > OUTPUT_ZERO_PIECE ? OUTPUT_ZERO_PIECE : len;
        struct output_slot *s = NULL;
        int rc = output_check_cancel(ctx);

        if (!rc && o->hashing) {
            rc = output_slot_get(ctx, o, 0, &s);
            if (!rc)
                rc = output_slot_submit(ctx, o, s, n, 1, src_off);
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
            rc = output_slot_get(ctx, o, 1, &s);
        if (!rc)
            rc = r2d_pread_full(ctx, in_fd, in_path, in_off, s->buf, n, "input data");
        if (!rc)
            rc = output_append_slot(ctx, o, s, n, in_fd == o->src_fd ? in_off : OUTPUT_NO_SOURCE);
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
        o->tail_hole = 0;
        *done += (uint64_t)c;
        output_write_behind(o);
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

int
r2d_output_pwrite(struct r2d_ctx *ctx, struct r2d_output *o, uint64_t off, const void *buf, size_t len)
{
    R2D_CHECK(o->hashing, ctx, R2D_EINVAL, "%s: cannot rewrite bytes already hashed", o->path);
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
    output_hasher_stop(o, 0); /* drains the queue first */
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
        rc = output_finish_hash(ctx, o);
        /* A trailing hole has no bytes written yet: extend the file to its size. */
        if (!rc && o->tail_hole && ftruncate(o->fd, (off_t)o->size) != 0)
            rc = output_write_error(ctx, o, o->size);
        if (!rc && fsync(o->fd) != 0)
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
    output_hasher_stop(o, 1);
    if (o->fd >= 0) {
        close(o->fd);
        o->fd = -1;
    }
    if (o->tmp_name && o->dirfd >= 0 && !o->installed)
        (void)unlinkat(o->dirfd, o->tmp_name, 0);
    output_free(o);
}
