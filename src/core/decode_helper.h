/* SPDX-License-Identifier: MIT */
/*
 * A second decoding thread for readers whose long reads fall into independent units (kdump pages, the page
 * sets of a hibernation file, AFF4 chunks). The writer reads whole runs; such a read is split in two, the
 * caller decodes the first part into its buffer while the helper decodes the rest, so a codec keeps two
 * cores busy. The helper has its own context (a context is not shared between threads) and its own decoder
 * state; its error is copied into the caller's context. Short reads (the analysis's) stay on the caller.
 */
#ifndef R2D_CORE_DECODE_HELPER_H
#define R2D_CORE_DECODE_HELPER_H

#include <pthread.h>
#include <stdint.h>

#include "raw2dmp/ctx.h"

/*
 * Decode units [first, first + count) into dst, in order, with the decoder state `state` (the caller's or the
 * helper's: never the same one in both threads). owner is the reader; what both threads read of it must not
 * change while a read is in flight.
 */
typedef int (*r2d_decode_units_fn)(struct r2d_ctx *ctx, void *owner, void *state, uint64_t first,
                                   uint64_t count, uint8_t *dst);

struct r2d_decode_helper {
    r2d_decode_units_fn decode;
    void *owner, *state; /* state: the helper's own decoder */
    int status;          /* not started, running, unavailable */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    int busy, stop, rc;
    uint64_t first, count;
    uint8_t *dst;
    struct r2d_ctx *ctx;
};

/* Set up (nothing starts yet): the thread is created on the first split read. */
void r2d_decode_helper_init(struct r2d_decode_helper *h, r2d_decode_units_fn decode, void *owner, void *state);

/*
 * Units [first, first + count) into dst: [first, first + split) here with the caller's state mine, the rest
 * by the helper into split_dst (where unit first + split lands in dst). When the thread cannot be started
 * (once failed, never retried) everything is decoded here. 0, or the first error (the caller's own first).
 */
int r2d_decode_helper_split(struct r2d_ctx *ctx, struct r2d_decode_helper *h, void *mine, uint64_t first,
                            uint64_t count, uint64_t split, uint8_t *dst, uint8_t *split_dst);

/* Stop and join the thread, free its context. The decoder states stay the caller's to free. */
void r2d_decode_helper_stop(struct r2d_decode_helper *h);

#endif
