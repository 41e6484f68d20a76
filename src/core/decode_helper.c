/* SPDX-License-Identifier: MIT */
/* The second decoding thread of the decoding readers (see decode_helper.h). */
#include <string.h>

#include "decode_helper.h"
#include "diag.h"

enum { HELPER_NONE, HELPER_ON, HELPER_OFF };

void
r2d_decode_helper_init(struct r2d_decode_helper *h, r2d_decode_units_fn decode, void *owner, void *state)
{
    memset(h, 0, sizeof(*h));
    h->decode = decode;
    h->owner = owner;
    h->state = state;
    h->status = HELPER_NONE;
}

static void *
helper_main(void *arg)
{
    struct r2d_decode_helper *h = arg;
    int rc;

    pthread_mutex_lock(&h->lock);
    for (;;) {
        while (!h->busy && !h->stop)
            pthread_cond_wait(&h->wake, &h->lock);
        if (h->stop)
            break;
        pthread_mutex_unlock(&h->lock);
        rc = h->decode(h->ctx, h->owner, h->state, h->first, h->count, h->dst);
        pthread_mutex_lock(&h->lock);
        h->rc = rc;
        h->busy = 0;
        pthread_cond_signal(&h->done);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* Start the thread on first use; HELPER_OFF (the caller decodes alone) when anything fails. */
static int
helper_ready(struct r2d_decode_helper *h)
{
    if (h->status != HELPER_NONE)
        return h->status == HELPER_ON;
    h->status = HELPER_OFF;
    if (!h->decode || !(h->ctx = r2d_ctx_new()))
        return 0;
    r2d_ctx_set_verbosity(h->ctx, R2D_LOG_ERROR);
    if (pthread_mutex_init(&h->lock, NULL) != 0)
        return 0;
    if (pthread_cond_init(&h->wake, NULL) != 0 || pthread_cond_init(&h->done, NULL) != 0 ||
        pthread_create(&h->thread, NULL, helper_main, h) != 0) {
        pthread_mutex_destroy(&h->lock); /* the conds are trivial on glibc: an init failure leaks nothing */
        return 0;
    }
    h->status = HELPER_ON;
    return 1;
}

int
r2d_decode_helper_split(struct r2d_ctx *ctx, struct r2d_decode_helper *h, void *mine, uint64_t first,
                        uint64_t count, uint64_t split, uint8_t *dst, uint8_t *split_dst)
{
    int rc, hrc;

    if (split == 0 || split >= count || !helper_ready(h))
        return h->decode(ctx, h->owner, mine, first, count, dst);
    pthread_mutex_lock(&h->lock);
    h->first = first + split;
    h->count = count - split;
    h->dst = split_dst;
    h->busy = 1;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
    rc = h->decode(ctx, h->owner, mine, first, split, dst);
    pthread_mutex_lock(&h->lock); /* the helper writes into the caller's buffer: always wait for it */
    while (h->busy)
        pthread_cond_wait(&h->done, &h->lock);
    hrc = h->rc;
    pthread_mutex_unlock(&h->lock);
    if (!rc && hrc)
        rc = r2d_err(ctx, hrc, "%s", r2d_errmsg(h->ctx));
    return rc;
}

void
r2d_decode_helper_stop(struct r2d_decode_helper *h)
{
    if (h->status == HELPER_ON) {
        pthread_mutex_lock(&h->lock);
        h->stop = 1;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->thread, NULL);
        pthread_cond_destroy(&h->wake);
        pthread_cond_destroy(&h->done);
        pthread_mutex_destroy(&h->lock);
    }
    r2d_ctx_free(h->ctx);
    h->ctx = NULL;
    h->status = HELPER_OFF;
}
