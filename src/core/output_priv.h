/* SPDX-License-Identifier: MIT */
/*
 * The output file's state, shared by its three parts: the temporary file's lifecycle (output.c), the ring of
 * buffers and the hashing threads with the source digest that follows the copies (output_ring.c), and
 * writing, holes and copying from input files (output_copy.c).
 */
#ifndef R2D_CORE_OUTPUT_PRIV_H
#define R2D_CORE_OUTPUT_PRIV_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "digests.h"
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

/*
 * Small copies without a hash (a fragmented LiME file's one-page ranges, say) are not one copy_file_range
 * each: the input is read in windows of OUTPUT_GATHER_WINDOW bytes while the reads go forward, and the pieces
 * are written with one pwritev per window (or per OUTPUT_GATHER_IOV pieces). A million 4 KiB ranges went
 * from a million copy_file_range calls (and as many lseek pairs) to about two thousand reads and writes.
 */
#define OUTPUT_GATHER_MAX (256u << 10)
#define OUTPUT_GATHER_WINDOW (4u << 20)
#define OUTPUT_GATHER_IOV 256
#define OUTPUT_GATHER_GAP (64u << 10)
/*
 * Small writes without a hash (a decoded input's scattered pages, each run's page or two) are copied into a
 * stage of this size and written with the gathered copies: a kdump of 500,000 one-page runs went from
 * 500,000 pwrite calls to about 2,000.
 */
#define OUTPUT_STAGE_SIZE (256u << 10)

/* src_off of a slot whose bytes were not read from the source file. */
#define OUTPUT_NO_SOURCE UINT64_MAX

/* One buffer of the hashing ring: len bytes of buf, or len zero bytes (a hole). */
struct output_slot {
    uint8_t *buf; /* OUTPUT_SLOT_SIZE bytes, allocated on first use; NULL for a slot only used for holes */
    uint64_t len;
    uint64_t src_off; /* where in the source file these bytes were read, or OUTPUT_NO_SOURCE */
    int zero;
};

/* The last extent of an input file found by SEEK_DATA/SEEK_HOLE: [lo, hi) is all data or all hole. */
struct output_extent {
    int fd; /* -1: nothing known */
    uint64_t fsize;
    uint64_t lo, hi;
    int data;
};

/*
 * Gathered small copies and writes: a window of the input, a stage for written bytes, and the pieces of them
 * still to be written at `at` (one contiguous stretch of the output).
 */
struct output_gather {
    uint8_t *win; /* OUTPUT_GATHER_WINDOW bytes, allocated on first use */
    int fd;       /* the window holds [off, off + len) of fd; -1: empty */
    uint64_t off;
    size_t len;
    int next_fd; /* the previous small piece ended at next of next_fd (-1: none yet) */
    uint64_t next;
    uint8_t *stage; /* OUTPUT_STAGE_SIZE bytes, allocated on first use; stage_used of them pending */
    size_t stage_used;
    struct iovec iov[OUTPUT_GATHER_IOV];
    int n;       /* pieces pending */
    uint64_t at; /* output offset of the first */
    uint64_t bytes;
};

struct r2d_output {
    char *path;     /* the target as the caller named it (for messages) */
    char *name;     /* its last component */
    char *tmp_name; /* ".<name>.XXXXXX.part", relative to dirfd */
    int dirfd;
    int fd;
    int force;
    int no_sync;   /* R2D_OUTPUT_NO_SYNC: neither fsync nor write-behind */
    int finished;  /* r2d_output_finish succeeded: fd is closed, the temporary complete and durable */
    int installed; /* renamed into place: the temporary name is gone */
    dev_t dev;     /* the temporary's inode, to recognise it at the target after the rename */
    ino_t ino;
    struct r2d_digest_hex hex; /* its digests once finished ("" for those not computed) */
    uint64_t size;
    int tail_hole;     /* the file ends in a hole not yet extended to size (ftruncate at commit) */
    int no_copy_range; /* copy_file_range failed as unsupported: do not try again */
    uint64_t wb_start; /* output offset from which writeback has not been started yet */
    int hashing;       /* at least one digest is computed over what is written */
    struct r2d_digests md;
    struct output_extent ext;    /* input holes, asked once per extent rather than once per copy */
    struct output_gather gather; /* small copies without a hash */

    /* The hashing ring. Without a hash, or without a thread, only slot 0 is used, synchronously. */
    struct output_slot slot[OUTPUT_SLOTS];
    int threaded; /* the hasher thread runs; fields below are shared with it under lock */
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
    int src_on; /* src is set up (a source digest was asked for) */
    int src_fd;
    int src_follow;
    int src_threaded;
    pthread_t src_thread;
    uint64_t src_taken; /* slots the source digest has taken */
    int src_stop;       /* set when the writer is done: take what is queued, read the rest, finish */
};

/* Start the hasher thread. On a single CPU, or when no thread can be made, hashing stays inline. */
void r2d_output_hasher_start(struct r2d_output *o);
/* Stop and join the hasher: after the queue is empty, or at once with abandon. No-op without a thread. */
void r2d_output_hasher_stop(struct r2d_output *o, int abandon);
/*
 * The next slot to fill: slot 0 when nothing is queued to a thread, else the next one in the ring once
 * the hasher is done with it. want_buf: the slot's buffer is needed (not for a hole).
 */
int r2d_output_slot_get(struct r2d_ctx *ctx, struct r2d_output *o, int want_buf, struct output_slot **out);
/*
 * Hand the filled slot to the digests: to the threads, or hashed here. src_off: where the bytes were read
 * in the source file, or OUTPUT_NO_SOURCE. No-op when not hashing.
 */
int r2d_output_slot_submit(struct r2d_ctx *ctx, struct r2d_output *o, struct output_slot *s, uint64_t len,
                           int zero, uint64_t src_off);
/*
 * Start writeback of what was written since the last call once OUTPUT_WRITEBEHIND bytes have piled up
 * (not with no_sync).
 */
void r2d_output_write_behind(struct r2d_output *o);
/* Append the first n bytes of slot s (read at src_off of the source, or not): write them, then hash them. */
int r2d_output_append_slot(struct r2d_ctx *ctx, struct r2d_output *o, struct output_slot *s, size_t n,
                           uint64_t src_off);
/* Write the gathered small copies; call before any other write to the file and before it is finished. */
int r2d_output_gather_flush(struct r2d_ctx *ctx, struct r2d_output *o);
/* Message for a failed write or copy at output offset off; errno is the call's. */
int r2d_output_write_error(struct r2d_ctx *ctx, const struct r2d_output *o, uint64_t off);
/* Write len bytes at off of the temporary, looping on short writes. Does not hash or move size. */
int r2d_output_pwrite_all(struct r2d_ctx *ctx, const struct r2d_output *o, uint64_t off, const uint8_t *p,
                          size_t len);

#endif
