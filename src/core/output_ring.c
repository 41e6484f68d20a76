/* SPDX-License-Identifier: MIT */
/*
 * The ring of buffers between the writing thread and the hashing threads: a slot is read into, written out
 * and then hashed (output and, following the copies, source digest) while the next ones are filled.
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
void
r2d_output_hasher_start(struct r2d_output *o)
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
void
r2d_output_hasher_stop(struct r2d_output *o, int abandon)
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
int
r2d_output_slot_get(struct r2d_ctx *ctx, struct r2d_output *o, int want_buf, struct output_slot **out)
{
    struct output_slot *s = &o->slot[0];

    if (o->threaded) {
        pthread_mutex_lock(&o->lock);
        for (;;) {
            /* A slot is free once every consumer has taken it. */
            const uint64_t done =
                o->src_threaded && o->src_follow && o->src_taken < o->hashed ? o->src_taken : o->hashed;

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
int
r2d_output_slot_submit(struct r2d_ctx *ctx, struct r2d_output *o, struct output_slot *s, uint64_t len,
                       int zero, uint64_t src_off)
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
void
r2d_output_write_behind(struct r2d_output *o)
{
    /* Without the fsync there is nothing to get ahead of: leave writeback to the kernel. */
    if (o->no_sync || o->size - o->wb_start < OUTPUT_WRITEBEHIND)
        return;
    /* Advice only: the data is safe either way once fsync returns at commit. */
    (void)sync_file_range(o->fd, (off_t)o->wb_start, (off_t)(o->size - o->wb_start), SYNC_FILE_RANGE_WRITE);
    o->wb_start = o->size;
}

/* Append the first n bytes of slot s (read at src_off of the source, or not): write them, then hash them. */
int
r2d_output_append_slot(struct r2d_ctx *ctx, struct r2d_output *o, struct output_slot *s, size_t n,
                       uint64_t src_off)
{
    int rc = r2d_output_pwrite_all(ctx, o, o->size, s->buf, n);

    if (!rc)
        rc = r2d_output_slot_submit(ctx, o, s, n, 0, src_off);
    if (rc)
        return rc;
    o->size += n;
    o->tail_hole = 0;
    r2d_output_write_behind(o);
    return 0;
}

int
r2d_output_hash_source(struct r2d_ctx *ctx, struct r2d_output *o, int fd, uint64_t size, int follow)
{
    R2D_CHECK(!o->hashing, ctx, R2D_EINVAL, "%s: a source digest needs the output to be hashed", o->path);
    R2D_CHECK(o->src_on || o->size > 0, ctx, R2D_EINVAL,
              "%s: the source digest must be set up before writing", o->path);
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
    r2d_source_digest_finish(
        &o->src); /* without a thread the reading is done here (nothing left otherwise) */
    r2d_source_digest_result(&o->src, hex, why, why_len);
}
