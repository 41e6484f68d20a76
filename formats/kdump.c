/* SPDX-License-Identifier: MIT */
/*
 * kdump-compressed files ("diskdump", makedumpfile format): the assembled layout ("KDUMP   ") and QEMU's /
 * makedumpfile -F flattened stream ("makedumpfile" + big-endian {offset, size} records), read through an
 * index of the records. Pages are raw, zlib, LZO1X or snappy; bitmap 2 says which PFNs were dumped, and every
 * dumped stretch becomes one source run. The sub-header's ELF notes carry QEMUCPUState per vCPU. Facts:
 * docs/formats/kdump.md F1-F4 (makedumpfile diskdump_mod.h/makedumpfile.h, QEMU dump/dump.c
 * and include/sysemu/dump.h; checked against a real QEMU 7.2 file). docs/formats/kdump.md.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "kdump_codec.h"
#include "qemu_notes.h"
#include "format.h"

/* Flattened stream (makedumpfile -F, QEMU -z/-l/-s): a 4096-byte header, then {i64 BE offset, i64 BE size}.
 */
#define KDUMP_FLAT_SIG "makedumpfile"
#define KDUMP_FLAT_SIG_LEN 12
#define KDUMP_FLAT_OFF_TYPE 0x10    /* i64 BE, 1 */
#define KDUMP_FLAT_OFF_VERSION 0x18 /* i64 BE, 1 */
#define KDUMP_FLAT_HDR_SIZE 4096
#define KDUMP_FLAT_REC_SIZE 16
#define KDUMP_FLAT_END UINT64_MAX /* offset = size = -1 */

/* disk_dump_header, 64-bit layout (timestamp is two u64). */
#define KDUMP_SIG "KDUMP   "
#define KDUMP_SIG_LEN 8
#define KDUMP_OFF_VERSION 0x008          /* u32 header_version (QEMU 6) */
#define KDUMP_OFF_MACHINE 0x00C + 4 * 65 /* utsname.machine, char[65] */
#define KDUMP_UTS_LEN 65
#define KDUMP_OFF_STATUS 0x1A8        /* u32, compression and state bits */
#define KDUMP_OFF_BLOCK_SIZE 0x1AC    /* u32, page size */
#define KDUMP_OFF_SUB_HDR_SIZE 0x1B0  /* u32, blocks */
#define KDUMP_OFF_BITMAP_BLOCKS 0x1B4 /* u32, both bitmaps */
#define KDUMP_OFF_MAX_MAPNR 0x1B8     /* u32 (truncated; version >= 6 has max_mapnr_64) */
#define KDUMP_OFF_NR_CPUS 0x1CC       /* u32 */
#define KDUMP_HDR_SIZE 0x1D0

/* kdump_sub_header at block_size. */
#define KDUMP_SUB_OFF_DUMP_LEVEL 0x08   /* u32 */
#define KDUMP_SUB_OFF_SPLIT 0x0C        /* u32 */
#define KDUMP_SUB_OFF_NOTE 0x30         /* u64 offset_note (header_version >= 4) */
#define KDUMP_SUB_OFF_NOTE_SIZE 0x38    /* u64 note_size */
#define KDUMP_SUB_OFF_MAX_MAPNR_64 0x60 /* u64 (header_version >= 6) */
#define KDUMP_SUB_SIZE 0x68
#define KDUMP_SUB_NOTES_VERSION 4
#define KDUMP_SUB_MAPNR64_VERSION 6

/* header status and page descriptor flags (makedumpfile diskdump_mod.h). */
#define KDUMP_ZLIB 0x01u
#define KDUMP_LZO 0x02u
#define KDUMP_SNAPPY 0x04u
#define KDUMP_INCOMPLETE 0x08u /* header only: makedumpfile ran out of space */
#define KDUMP_ZSTD 0x20u
#define KDUMP_CODECS (KDUMP_ZLIB | KDUMP_LZO | KDUMP_SNAPPY | KDUMP_ZSTD)

/* page_desc: {u64 offset, u32 size, u32 flags, u64 page_flags}. */
#define KDUMP_DESC_SIZE 24
#define KDUMP_DESC_OFF_SIZE 0x08
#define KDUMP_DESC_OFF_FLAGS 0x0C

/* Sanity bounds. */
#define KDUMP_MIN_BLOCK 4096u
#define KDUMP_MAX_BLOCK 65536u
#define KDUMP_MAX_PA_BITS 52 /* x86-64 architectural physical address width */
#define KDUMP_NOTE_MAX (64u << 20)
#define KDUMP_BITMAP_CHUNK (64u << 10)
#define KDUMP_WINDOW (1u << 20) /* read-ahead window for descriptors and page data */
#define KDUMP_CACHE_PAGES 16    /* decoded pages kept, direct-mapped by descriptor index */
#define KDUMP_PARALLEL_MIN 16   /* reads of at least this many whole pages are decoded by two threads */
#define KDUMP_WORKER_NONE 0     /* worker states: not started yet, running, unavailable */
#define KDUMP_WORKER_ON 1
#define KDUMP_WORKER_OFF 2

/* One record of the flattened stream: real [real_off, real_off + len) is at flat_off of the input. */
struct kdump_rec {
    uint64_t real_off, len, flat_off;
};

/* A read-ahead buffer over the assembled file. */
struct kdump_window {
    uint8_t *buf;
    uint64_t off;
    size_t len;
};

/* What one decoding thread owns: read-ahead windows and a zlib stream. */
struct kdump_decoder {
    struct kdump_window dwin, pwin, back; /* descriptors, page data, one block read behind pwin */
    z_stream zs;                          /* reused for every zlib page */
    int zs_ready;
};

/*
 * The second decoding thread: a long read is split in two halves, this thread decodes the second one into
 * the caller's buffer while the caller decodes the first (two cores busy on zlib). It has its own decoder
 * and its own context (a context is not shared between threads); its error is copied to the caller's.
 */
struct kdump_worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    int state; /* KDUMP_WORKER_* */
    int busy, stop, rc;
    uint64_t first, count;
    uint8_t *dst;
    struct r2d_ctx *ctx;
    struct kdump_decoder dec;
};

/*
 * The open file and the decoding source. The source's address space is the dumped pages in descriptor order:
 * source offset = descriptor index x block_size, so a run's src_off is its first page's descriptor index
 * times the block size and no per-page table is needed. Everything but the decoders, the cache and the worker
 * is read-only once the file is open, so two threads can decode pages at the same time.
 */
struct kdump_file {
    const struct r2d_bytesrc *in;
    const char *path; /* the image's; the image frees the source before the path */
    uint64_t file_size;
    struct kdump_rec *recs; /* flattened only, sorted by real_off */
    size_t nrecs;
    uint64_t real_size; /* size of the assembled file */
    uint32_t version, status, bs, sub_blocks, bitmap_blocks, nr_cpus;
    uint64_t max_mapnr, ndesc, desc_off, data_off;
    struct kdump_decoder dec; /* the caller's thread */
    uint8_t *cache;           /* KDUMP_CACHE_PAGES decoded pages, caller's thread only */
    uint64_t cache_idx[KDUMP_CACHE_PAGES];
    struct kdump_worker worker;
};

static int
kdump_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why)
{
    if (len >= KDUMP_FLAT_OFF_VERSION + 8 && memcmp(head, KDUMP_FLAT_SIG, KDUMP_FLAT_SIG_LEN) == 0) {
        if (r2d_be64(head + KDUMP_FLAT_OFF_TYPE) == 1 && r2d_be64(head + KDUMP_FLAT_OFF_VERSION) == 1) {
            *why = "makedumpfile flattened header, type 1, version 1";
            return R2D_PROBE_SURE;
        }
        *why = "makedumpfile signature only";
        return R2D_PROBE_MAGIC;
    }
    if (len >= KDUMP_SIG_LEN && memcmp(head, KDUMP_SIG, KDUMP_SIG_LEN) == 0) {
        if (len >= KDUMP_OFF_BLOCK_SIZE + 4) {
            const uint32_t bs = r2d_le32(head + KDUMP_OFF_BLOCK_SIZE);

            if (bs >= KDUMP_MIN_BLOCK && bs <= KDUMP_MAX_BLOCK && (bs & (bs - 1)) == 0) {
                *why = "KDUMP signature and a plausible block size";
                return R2D_PROBE_SURE;
            }
        }
        *why = "KDUMP signature only";
        return R2D_PROBE_MAGIC;
    }
    return R2D_PROBE_NO;
}

/* --- the assembled file, directly or through the flattened records --- */

/* Index of the last record starting at or below off, or nrecs when none. */
static size_t
kdump_find_rec(const struct kdump_file *k, uint64_t off)
{
    size_t lo = 0, hi = k->nrecs;

    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;

        if (k->recs[mid].real_off <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? k->nrecs : lo - 1;
}

/* Read [off, off + len) of the assembled file. Bytes no flattened record wrote read as zeros, like the
 * sparse file makedumpfile -R would create. */
static int
kdump_read_real(struct r2d_ctx *ctx, const struct kdump_file *k, uint64_t off, void *buf, size_t len,
                const char *what)
{
    uint8_t *p = buf;

    R2D_CHECK(off > k->real_size || len > k->real_size - off, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": %s of 0x%zx bytes runs past end of the %s (size 0x%" PRIx64 ")",
              k->path, off, what, len, k->recs ? "assembled dump" : "file", k->real_size);
    if (!k->recs)
        return r2d_bytesrc_read(ctx, k->in, off, buf, len, what);
    while (len > 0) {
        const size_t i = kdump_find_rec(k, off);
        const struct kdump_rec *r = i < k->nrecs ? &k->recs[i] : NULL;
        size_t n;

        if (r && off - r->real_off < r->len) {
            const uint64_t delta = off - r->real_off;
            int rc;

            n = r->len - delta < len ? (size_t)(r->len - delta) : len;
            rc = r2d_bytesrc_read(ctx, k->in, r->flat_off + delta, p, n, what);
            if (rc)
                return rc;
        } else { /* a gap up to the next record (record 0 when off is below all of them) */
            const size_t next = r ? i + 1 : 0;

            n = len;
            if (next < k->nrecs && k->recs[next].real_off - off < len)
                n = (size_t)(k->recs[next].real_off - off);
            memset(p, 0, n);
        }
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

/*
 * A pointer to len bytes (len <= KDUMP_MAX_BLOCK) of the assembled file at off. Reads moving forward go
 * through a 1 MiB read-ahead window; a read behind the window (QEMU's shared zero page, stored once before
 * all other data) goes to a one-block side buffer that keeps it, so the window is never refilled backwards.
 */
static int
kdump_window_get(struct r2d_ctx *ctx, const struct kdump_file *k, struct kdump_decoder *dec,
                 struct kdump_window *w, uint64_t off, size_t len, const char *what, const uint8_t **out)
{
    struct kdump_window *dst = w;
    uint64_t want;
    int rc;

    if (w->buf && off >= w->off && off - w->off <= w->len && len <= w->len - (off - w->off)) {
        *out = w->buf + (off - w->off);
        return 0;
    }
    if (w->buf && off < w->off) {
        dst = &dec->back;
        if (dst->buf && off == dst->off && len <= dst->len) {
            *out = dst->buf;
            return 0;
        }
    }
    R2D_CHECK(off > k->real_size || len > k->real_size - off, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": %s of 0x%zx bytes runs past end of the %s (size 0x%" PRIx64 ")",
              k->path, off, what, len, k->recs ? "assembled dump" : "file", k->real_size);
    if (!dst->buf && !(dst->buf = r2d_alloc_io(dst == w ? KDUMP_WINDOW : KDUMP_MAX_BLOCK)))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the read-ahead buffer", k->path);
    want = dst == w ? (k->real_size - off < KDUMP_WINDOW ? k->real_size - off : KDUMP_WINDOW) : len;
    dst->len = 0;
    rc = kdump_read_real(ctx, k, off, dst->buf, (size_t)want, what);
    if (rc)
        return rc;
    dst->off = off;
    dst->len = (size_t)want;
    *out = dst->buf;
    return 0;
}

static int
kdump_rec_cmp(const void *a, const void *b)
{
    const struct kdump_rec *x = a, *y = b;

    return x->real_off < y->real_off ? -1 : x->real_off > y->real_off;
}

static int
kdump_push_rec(struct r2d_ctx *ctx, struct kdump_file *k, size_t *cap, const struct kdump_rec *r)
{
    if (k->nrecs == *cap) {
        const size_t ncap = *cap ? *cap * 2 : 256;
        struct kdump_rec *n = realloc(k->recs, ncap * sizeof(*n));

        if (!n)
            return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the flattened record index", k->path);
        k->recs = n;
        *cap = ncap;
    }
    k->recs[k->nrecs++] = *r;
    return 0;
}

/* One pass over the flattened records: index {real range -> flattened offset}, sorted, overlaps refused. */
static int
kdump_index_flat(struct r2d_ctx *ctx, struct kdump_file *k)
{
    uint64_t pos = KDUMP_FLAT_HDR_SIZE;
    size_t cap = 0;
    uint8_t h[KDUMP_FLAT_REC_SIZE];
    int rc;

    for (;;) {
        uint64_t off, size;

        R2D_CHECK(k->file_size - pos < KDUMP_FLAT_REC_SIZE, ctx, R2D_ETRUNC,
                  "%s: offset 0x%" PRIx64
                  ": flattened stream ends without its end marker (file size 0x%" PRIx64
                  "): the dump was cut short",
                  k->path, pos, k->file_size);
        rc = r2d_bytesrc_read(ctx, k->in, pos, h, sizeof(h), "flattened record header");
        if (rc)
            return rc;
        off = r2d_be64(h);
        size = r2d_be64(h + 8);
        if (off == KDUMP_FLAT_END && size == KDUMP_FLAT_END)
            break;
        R2D_CHECK(off >> 63 || size >> 63 || size > UINT64_MAX / 2 - off, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": flattened record with invalid offset 0x%" PRIx64
                  " or size 0x%" PRIx64,
                  k->path, pos, off, size);
        pos += KDUMP_FLAT_REC_SIZE;
        R2D_CHECK(size > k->file_size - pos, ctx, R2D_ETRUNC,
                  "%s: offset 0x%" PRIx64 ": flattened record of 0x%" PRIx64
                  " bytes runs past end of file (size 0x%" PRIx64 ")",
                  k->path, pos, size, k->file_size);
        if (size > 0) {
            const struct kdump_rec r = {.real_off = off, .len = size, .flat_off = pos};

            rc = kdump_push_rec(ctx, k, &cap, &r);
            if (rc)
                return rc;
            if (off + size > k->real_size)
                k->real_size = off + size;
        }
        pos += size;
    }
    if (pos + KDUMP_FLAT_REC_SIZE < k->file_size)
        r2d_log(ctx, R2D_LOG_WARN, "%s: 0x%" PRIx64 " bytes after the flattened end marker are ignored",
                k->path, k->file_size - pos - KDUMP_FLAT_REC_SIZE);
    R2D_CHECK(k->nrecs == 0, ctx, R2D_EFORMAT, "%s: flattened stream holds no data records", k->path);
    /* Order by real offset; records of equal offset keep stream order (qsort is not stable: flat_off is). */
    qsort(k->recs, k->nrecs, sizeof(*k->recs), kdump_rec_cmp);
    for (size_t i = 1; i < k->nrecs; i++) {
        const struct kdump_rec *a = &k->recs[i - 1], *b = &k->recs[i];

        R2D_CHECK(b->real_off - a->real_off < a->len, ctx, R2D_EUNSUPPORTED,
                  "%s: offset 0x%" PRIx64 ": flattened records overlap (dump offsets 0x%" PRIx64 "-0x%" PRIx64
                  " and 0x%" PRIx64 "-0x%" PRIx64
                  "); reassemble with 'makedumpfile -R' and convert the result",
                  k->path, b->flat_off - KDUMP_FLAT_REC_SIZE, a->real_off, a->real_off + a->len - 1,
                  b->real_off, b->real_off + b->len - 1);
    }
    return 0;
}

/* --- header, sub-header, bitmaps --- */

static void
kdump_codec_names(char *out, size_t n, uint32_t bits)
{
    snprintf(out, n, "%s%s%s%s%s", bits & KDUMP_ZLIB ? "zlib " : "", bits & KDUMP_LZO ? "lzo " : "",
             bits & KDUMP_SNAPPY ? "snappy " : "", bits & KDUMP_ZSTD ? "zstd " : "",
             bits & KDUMP_CODECS ? "" : "none ");
    out[strlen(out) - 1] = 0;
}

static int
kdump_read_header(struct r2d_ctx *ctx, struct kdump_file *k, char *machine)
{
    uint8_t h[KDUMP_HDR_SIZE];
    uint64_t bitmap_bits;
    uint32_t max32;
    int rc = kdump_read_real(ctx, k, 0, h, sizeof(h), "kdump header");

    if (rc)
        return rc;
    R2D_CHECK(memcmp(h, KDUMP_SIG, KDUMP_SIG_LEN) != 0, ctx, R2D_EFORMAT,
              "%s: offset 0x0: no 'KDUMP   ' signature%s", k->path, k->recs ? " in the assembled dump" : "");
    k->version = r2d_le32(h + KDUMP_OFF_VERSION);
    k->status = r2d_le32(h + KDUMP_OFF_STATUS);
    k->bs = r2d_le32(h + KDUMP_OFF_BLOCK_SIZE);
    k->sub_blocks = r2d_le32(h + KDUMP_OFF_SUB_HDR_SIZE);
    k->bitmap_blocks = r2d_le32(h + KDUMP_OFF_BITMAP_BLOCKS);
    max32 = r2d_le32(h + KDUMP_OFF_MAX_MAPNR);
    k->nr_cpus = r2d_le32(h + KDUMP_OFF_NR_CPUS);
    memcpy(machine, h + KDUMP_OFF_MACHINE, KDUMP_UTS_LEN);
    machine[KDUMP_UTS_LEN - 1] = 0;
    R2D_CHECK(k->version == 0 || k->version > 64, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: kdump header_version %" PRIu32 " is not plausible", k->path,
              KDUMP_OFF_VERSION, k->version);
    R2D_CHECK(k->bs < KDUMP_MIN_BLOCK || k->bs > KDUMP_MAX_BLOCK || (k->bs & (k->bs - 1)), ctx, R2D_EFORMAT,
              "%s: offset 0x%x: kdump block_size 0x%" PRIx32 " is not a power of two in 0x%x..0x%x (a 32-bit "
              "header layout is not supported)",
              k->path, KDUMP_OFF_BLOCK_SIZE, k->bs, KDUMP_MIN_BLOCK, KDUMP_MAX_BLOCK);
    R2D_CHECK(k->sub_blocks == 0 || k->sub_blocks > 1024, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: kdump sub_hdr_size of %" PRIu32 " blocks is not plausible", k->path,
              KDUMP_OFF_SUB_HDR_SIZE, k->sub_blocks);
    R2D_CHECK(k->bitmap_blocks == 0 || k->bitmap_blocks % 2, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: kdump bitmap_blocks %" PRIu32 " is not a positive even number (two bitmaps)",
              k->path, KDUMP_OFF_BITMAP_BLOCKS, k->bitmap_blocks);
    R2D_CHECK(k->status & KDUMP_INCOMPLETE, ctx, R2D_EUNSUPPORTED,
              "%s: offset 0x%x: kdump status 0x%" PRIx32
              " marks the dump incomplete (makedumpfile ran out of "
              "space): its page table cannot be trusted",
              k->path, KDUMP_OFF_STATUS, k->status);
    bitmap_bits = (uint64_t)k->bitmap_blocks / 2 * k->bs * 8;
    k->max_mapnr = max32;
    if (k->version >= KDUMP_SUB_MAPNR64_VERSION) {
        uint8_t b[8];

        rc = kdump_read_real(ctx, k, (uint64_t)k->bs + KDUMP_SUB_OFF_MAX_MAPNR_64, b, 8, "kdump sub-header");
        if (rc)
            return rc;
        if (r2d_le64(b) != 0)
            k->max_mapnr = r2d_le64(b);
    }
    R2D_CHECK(k->max_mapnr == 0 || k->max_mapnr > bitmap_bits, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: kdump max_mapnr 0x%" PRIx64 " does not fit bitmaps of %" PRIu32
              " blocks of 0x%" PRIx32 " bytes (0x%" PRIx64 " bits each)",
              k->path, KDUMP_OFF_MAX_MAPNR, k->max_mapnr, k->bitmap_blocks, k->bs, bitmap_bits);
    R2D_CHECK(k->max_mapnr > (UINT64_C(1) << KDUMP_MAX_PA_BITS) / k->bs, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: kdump max_mapnr 0x%" PRIx64 " pages exceeds a 52-bit physical address space",
              k->path, KDUMP_OFF_MAX_MAPNR, k->max_mapnr);
    return 0;
}

/* The sub-header's note area: QEMU's per-CPU QEMUCPUState (absent before header_version 4). */
static int
kdump_read_notes(struct r2d_ctx *ctx, struct kdump_file *k, struct r2d_image *img, struct r2d_qemu_notes *cnt)
{
    const uint64_t sub = k->bs;
    uint8_t b[16], *notes;
    uint64_t off, size;
    int rc;

    if (k->version < KDUMP_SUB_NOTES_VERSION)
        return 0;
    rc = kdump_read_real(ctx, k, sub + KDUMP_SUB_OFF_NOTE, b, sizeof(b), "kdump sub-header");
    if (rc)
        return rc;
    off = r2d_le64(b);
    size = r2d_le64(b + 8);
    if (size == 0)
        return 0;
    R2D_CHECK(size > KDUMP_NOTE_MAX, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": kdump note_size 0x%" PRIx64
              " is larger than the 0x%x bytes accepted",
              k->path, sub + KDUMP_SUB_OFF_NOTE_SIZE, size, KDUMP_NOTE_MAX);
    R2D_CHECK(off > k->real_size || size > k->real_size - off, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": kdump note area at 0x%" PRIx64 " of 0x%" PRIx64
              " bytes runs past end of the dump (size 0x%" PRIx64 ")",
              k->path, sub + KDUMP_SUB_OFF_NOTE, off, size, k->real_size);
    notes = malloc((size_t)size);
    if (!notes)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the kdump note area", k->path);
    rc = kdump_read_real(ctx, k, off, notes, (size_t)size, "kdump note area");
    if (!rc)
        rc = r2d_qemu_notes_parse(ctx, img, notes, (size_t)size, off, "kdump note area", R2D_QEMU_LM_FROM_CS,
                                  cnt);
    free(notes);
    return rc;
}

/* Counts from the bitmap walk, for the notes. */
struct kdump_tally {
    uint64_t dumped, excluded, runs, not_in_bitmap1;
};

static int
kdump_add_run(struct r2d_ctx *ctx, struct kdump_file *k, struct r2d_image *img, uint64_t first_pfn,
              uint64_t npages, uint64_t first_desc, struct kdump_tally *t)
{
    t->runs++;
    return r2d_image_add_source_run(ctx, img, first_pfn * k->bs, npages * k->bs, first_desc * k->bs);
}

/* Walk both bitmaps in chunks: every maximal stretch of PFNs set in bitmap 2 is one run. */
static int
kdump_walk_bitmaps(struct r2d_ctx *ctx, struct kdump_file *k, struct r2d_image *img, struct kdump_tally *t)
{
    const uint64_t half = (uint64_t)k->bitmap_blocks / 2 * k->bs;
    const uint64_t bm1 = (uint64_t)(1 + k->sub_blocks) * k->bs, bm2 = bm1 + half;
    const uint64_t need = (k->max_mapnr + 7) / 8;
    uint8_t *b1 = malloc(KDUMP_BITMAP_CHUNK), *b2 = malloc(KDUMP_BITMAP_CHUNK);
    uint64_t run_start = 0, run_desc = 0, run_len = 0;
    int rc = 0;

    if (!b1 || !b2) {
        free(b1);
        free(b2);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the bitmaps", k->path);
    }
    for (uint64_t pos = 0; !rc && pos < need; pos += KDUMP_BITMAP_CHUNK) {
        const size_t n = need - pos < KDUMP_BITMAP_CHUNK ? (size_t)(need - pos) : KDUMP_BITMAP_CHUNK;

        rc = kdump_read_real(ctx, k, bm1 + pos, b1, n, "kdump bitmap 1");
        if (!rc)
            rc = kdump_read_real(ctx, k, bm2 + pos, b2, n, "kdump bitmap 2");
        for (size_t i = 0; !rc && i < n; i++) {
            if (b1[i] == 0 && b2[i] == 0 && run_len == 0)
                continue; /* fast path over holes */
            for (unsigned bit = 0; !rc && bit < 8; bit++) {
                const uint64_t pfn = (pos + i) * 8 + bit;
                const int in1 = b1[i] >> bit & 1, in2 = b2[i] >> bit & 1;

                if (pfn >= k->max_mapnr)
                    break;
                if (in2) {
                    if (run_len == 0) {
                        run_start = pfn;
                        run_desc = t->dumped;
                    }
                    run_len++;
                    t->dumped++;
                    t->not_in_bitmap1 += !in1;
                } else {
                    t->excluded += in1;
                    if (run_len)
                        rc = kdump_add_run(ctx, k, img, run_start, run_len, run_desc, t);
                    run_len = 0;
                }
            }
        }
    }
    if (!rc && run_len)
        rc = kdump_add_run(ctx, k, img, run_start, run_len, run_desc, t);
    free(b1);
    free(b2);
    return rc;
}

/* --- the decoding source --- */

/*
 * One zlib page into exactly bs bytes. A z_stream kept for the whole file and reset per page: uncompress()
 * would allocate and free a 40 KiB inflate state for every page, which costs more than the inflating.
 */
static int
kdump_inflate(struct r2d_ctx *ctx, const struct kdump_file *k, struct kdump_decoder *dec, uint64_t idx,
              uint64_t off, const uint8_t *src, uint32_t size, uint8_t *dst)
{
    z_stream *z = &dec->zs;
    int zrc;

    if (!dec->zs_ready) {
        memset(z, 0, sizeof(*z));
        R2D_CHECK(inflateInit(z) != Z_OK, ctx, R2D_ENOMEM, "%s: cannot initialise zlib", k->path);
        dec->zs_ready = 1;
    } else {
        R2D_CHECK(inflateReset(z) != Z_OK, ctx, R2D_EFORMAT, "%s: cannot reset zlib", k->path);
    }
    z->next_in = (Bytef *)(uintptr_t)src;
    z->avail_in = size;
    z->next_out = dst;
    z->avail_out = k->bs;
    zrc = inflate(z, Z_FINISH);
    R2D_CHECK(zrc != Z_STREAM_END || z->avail_out != 0, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": zlib page %" PRIu64 " of 0x%" PRIx32
              " bytes does not decode to one 0x%" PRIx32 "-byte block (zlib %d, 0x%" PRIx32 " bytes)",
              k->path, off, idx, size, k->bs, zrc, k->bs - z->avail_out);
    return 0;
}

/* Decode page idx (the idx-th dumped page) into dst (bs bytes). */
static int
kdump_decode(struct r2d_ctx *ctx, const struct kdump_file *k, struct kdump_decoder *dec, uint64_t idx,
             uint8_t *dst)
{
    const uint64_t doff = k->desc_off + idx * KDUMP_DESC_SIZE;
    const uint8_t *d = NULL, *src = NULL; /* set when kdump_window_get succeeds; gcc -O3 cannot tell */
    uint64_t off;
    uint32_t size, flags, codec;
    int rc = kdump_window_get(ctx, k, dec, &dec->dwin, doff, KDUMP_DESC_SIZE, "kdump page descriptor", &d);

    if (rc)
        return rc;
    off = r2d_le64(d);
    size = r2d_le32(d + KDUMP_DESC_OFF_SIZE);
    flags = r2d_le32(d + KDUMP_DESC_OFF_FLAGS);
    codec = flags & KDUMP_CODECS;
    R2D_CHECK(flags & ~KDUMP_CODECS || (codec & (codec - 1)), ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": page descriptor %" PRIu64 " has flags 0x%" PRIx32
              " (want none or exactly one of zlib 0x1, lzo 0x2, snappy 0x4, zstd 0x20)",
              k->path, doff, idx, flags);
    R2D_CHECK(size == 0 || size > k->bs || (codec == 0 && size != k->bs), ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": page descriptor %" PRIu64 " has size 0x%" PRIx32
              " (block size 0x%" PRIx32 ", %s)",
              k->path, doff, idx, size, k->bs, codec ? "compressed" : "stored raw");
    R2D_CHECK(off < k->data_off || off > k->real_size || size > k->real_size - off, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": page descriptor %" PRIu64 " points at 0x%" PRIx64 " (0x%" PRIx32
              " bytes), outside the page data 0x%" PRIx64 "-0x%" PRIx64,
              k->path, doff, idx, off, size, k->data_off, k->real_size);
    rc = kdump_window_get(ctx, k, dec, &dec->pwin, off, size, "kdump page data", &src);
    if (rc)
        return rc;
    if (codec == 0) {
        memcpy(dst, src, k->bs);
    } else if (codec == KDUMP_ZLIB) {
        return kdump_inflate(ctx, k, dec, idx, off, src, size, dst);
    } else if (codec == KDUMP_LZO) {
        return r2d_kdump_lzo_decode(ctx, k->path, off, src, size, dst, k->bs);
    } else if (codec == KDUMP_SNAPPY) {
        return r2d_kdump_snappy_decode(ctx, k->path, off, src, size, dst, k->bs);
    } else {
        return r2d_err(ctx, R2D_EUNSUPPORTED,
                       "%s: offset 0x%" PRIx64 ": zstd-compressed page (makedumpfile -z): not supported; "
                       "re-save the dump with 'makedumpfile -c' (zlib)",
                       k->path, off);
    }
    return 0;
}

/* Page idx through the cache of decoded pages. */
static int
kdump_cached(struct r2d_ctx *ctx, struct kdump_file *k, uint64_t idx, const uint8_t **out)
{
    const size_t slot = (size_t)(idx % KDUMP_CACHE_PAGES);
    uint8_t *page = k->cache + slot * k->bs;
    int rc;

    if (k->cache_idx[slot] != idx) {
        k->cache_idx[slot] = UINT64_MAX;
        rc = kdump_decode(ctx, k, &k->dec, idx, page);
        if (rc)
            return rc;
        k->cache_idx[slot] = idx;
    }
    *out = page;
    return 0;
}

static void
kdump_decoder_free(struct kdump_decoder *dec)
{
    if (dec->zs_ready)
        inflateEnd(&dec->zs);
    free(dec->dwin.buf);
    free(dec->pwin.buf);
    free(dec->back.buf);
}

/* Pages [first, first + count) into dst, in order. */
static int
kdump_decode_range(struct r2d_ctx *ctx, const struct kdump_file *k, struct kdump_decoder *dec, uint64_t first,
                   uint64_t count, uint8_t *dst)
{
    int rc = 0;

    for (uint64_t i = 0; !rc && i < count; i++)
        rc = kdump_decode(ctx, k, dec, first + i, dst + i * k->bs);
    return rc;
}

static void *
kdump_worker_main(void *arg)
{
    struct kdump_file *k = arg;
    struct kdump_worker *w = &k->worker;
    int rc;

    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->busy && !w->stop)
            pthread_cond_wait(&w->wake, &w->lock);
        if (w->stop)
            break;
        pthread_mutex_unlock(&w->lock);
        rc = kdump_decode_range(w->ctx, k, &w->dec, w->first, w->count, w->dst);
        pthread_mutex_lock(&w->lock);
        w->rc = rc;
        w->busy = 0;
        pthread_cond_signal(&w->done);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Start the worker on first use; KDUMP_WORKER_OFF (no thread, decode alone) when anything fails. */
static int
kdump_worker_ready(struct kdump_file *k)
{
    struct kdump_worker *w = &k->worker;

    if (w->state != KDUMP_WORKER_NONE)
        return w->state == KDUMP_WORKER_ON;
    w->state = KDUMP_WORKER_OFF;
    if (!(w->ctx = r2d_ctx_new()))
        return 0;
    r2d_ctx_set_verbosity(w->ctx, R2D_LOG_ERROR);
    if (pthread_mutex_init(&w->lock, NULL) != 0)
        return 0;
    if (pthread_cond_init(&w->wake, NULL) != 0 || pthread_cond_init(&w->done, NULL) != 0 ||
        pthread_create(&w->thread, NULL, kdump_worker_main, k) != 0) {
        pthread_mutex_destroy(&w->lock); /* the conds are trivial on glibc; an init failure leaks nothing */
        return 0;
    }
    w->state = KDUMP_WORKER_ON;
    return 1;
}

/*
 * Whole pages [first, first + count) into dst: long ranges are split between this thread (first half) and
 * the worker (second half), so zlib keeps two cores busy; short ones are decoded here.
 */
static int
kdump_decode_pages(struct r2d_ctx *ctx, struct kdump_file *k, uint64_t first, uint64_t count, uint8_t *dst)
{
    struct kdump_worker *w = &k->worker;
    const uint64_t mine = count / 2;
    int rc, wrc;

    if (count < KDUMP_PARALLEL_MIN || !kdump_worker_ready(k))
        return kdump_decode_range(ctx, k, &k->dec, first, count, dst);
    pthread_mutex_lock(&w->lock);
    w->first = first + mine;
    w->count = count - mine;
    w->dst = dst + mine * k->bs;
    w->busy = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    rc = kdump_decode_range(ctx, k, &k->dec, first, mine, dst);
    pthread_mutex_lock(&w->lock); /* the worker writes into dst: always wait for it */
    while (w->busy)
        pthread_cond_wait(&w->done, &w->lock);
    wrc = w->rc;
    pthread_mutex_unlock(&w->lock);
    if (!rc && wrc)
        rc = r2d_err(ctx, wrc, "%s", r2d_errmsg(w->ctx));
    return rc;
}

static int
kdump_src_read(struct r2d_ctx *ctx, void *src, uint64_t off, void *buf, size_t len)
{
    struct kdump_file *k = src;
    uint8_t *p = buf;

    while (len > 0) {
        const uint64_t idx = off / k->bs;
        const size_t in = (size_t)(off % k->bs), n = k->bs - in < len ? k->bs - in : len;
        const uint8_t *page;
        int rc;

        R2D_CHECK(idx >= k->ndesc || (in == 0 && len / k->bs > k->ndesc - idx), ctx, R2D_EINVAL,
                  "%s: page %" PRIu64 " requested but the dump holds %" PRIu64 " pages", k->path, idx,
                  k->ndesc);
        if (n == k->bs) { /* whole pages: decode straight into the caller's buffer */
            const uint64_t count = len / k->bs;

            rc = kdump_decode_pages(ctx, k, idx, count, p);
            if (rc)
                return rc;
            p += count * k->bs;
            off += count * k->bs;
            len -= (size_t)(count * k->bs);
            continue;
        }
        rc = kdump_cached(ctx, k, idx, &page);
        if (rc)
            return rc;
        memcpy(p, page + in, n);
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

static void
kdump_src_free(void *src)
{
    struct kdump_file *k = src;
    struct kdump_worker *w;

    if (!k)
        return;
    w = &k->worker;
    if (w->state == KDUMP_WORKER_ON) {
        pthread_mutex_lock(&w->lock);
        w->stop = 1;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
        pthread_cond_destroy(&w->wake);
        pthread_cond_destroy(&w->done);
        pthread_mutex_destroy(&w->lock);
    }
    r2d_ctx_free(w->ctx);
    kdump_decoder_free(&w->dec);
    kdump_decoder_free(&k->dec);
    free(k->recs);
    free(k->cache);
    free(k);
}

static const struct r2d_source_ops kdump_source_ops = {
    .name = "kdump pages",
    .read = kdump_src_read,
    .free = kdump_src_free,
};

/* --- open --- */

static int
kdump_add_notes(struct r2d_ctx *ctx, struct kdump_file *k, struct r2d_image *img, const char *machine,
                const struct kdump_tally *t, const struct r2d_qemu_notes *cnt)
{
    char v[256], codecs[64];
    int rc;

    if (k->recs)
        snprintf(v, sizeof(v), "flattened (makedumpfile -F / QEMU), %zu records, assembled size 0x%" PRIx64,
                 k->nrecs, k->real_size);
    else
        snprintf(v, sizeof(v), "diskdump (assembled)");
    rc = r2d_image_add_note(ctx, img, "kdump.layout", v);
    snprintf(v, sizeof(v), "%" PRIu32, k->version);
    if (!rc)
        rc = r2d_image_add_note(ctx, img, "kdump.header_version", v);
    kdump_codec_names(codecs, sizeof(codecs), k->status);
    snprintf(v, sizeof(v), "%s (status 0x%" PRIx32 ")", codecs, k->status);
    if (!rc)
        rc = r2d_image_add_note(ctx, img, "kdump.compression", v);
    snprintf(v, sizeof(v), "0x%" PRIx32, k->bs);
    if (!rc)
        rc = r2d_image_add_note(ctx, img, "kdump.block_size", v);
    if (!rc && machine[0])
        rc = r2d_image_add_note(ctx, img, "kdump.machine", machine);
    snprintf(v, sizeof(v),
             "%" PRIu64 " dumped in %" PRIu64 " runs, %" PRIu64
             " excluded (in bitmap 1, not bitmap 2), max_mapnr "
             "0x%" PRIx64,
             t->dumped, t->runs, t->excluded, k->max_mapnr);
    if (!rc)
        rc = r2d_image_add_note(ctx, img, "kdump.pages", v);
    snprintf(v, sizeof(v), "%u QEMU CPU states (header nr_cpus %" PRIu32 "), %u NT_PRSTATUS, %u other notes",
             cnt->qemu, k->nr_cpus, cnt->prstatus, cnt->other);
    if (!rc)
        rc = r2d_image_add_note(ctx, img, "kdump.cpus", v);
    if (!rc && cnt->qemu == 0)
        rc = r2d_image_add_note(ctx, img, "kdump.cpu_state", "none");
    return rc;
}

static int
kdump_open_file(struct r2d_ctx *ctx, struct kdump_file *k, struct r2d_image *img)
{
    struct kdump_tally t = {0};
    struct r2d_qemu_notes cnt = {0};
    char machine[KDUMP_UTS_LEN], codecs[64];
    uint8_t head[KDUMP_FLAT_SIG_LEN];
    int rc;

    R2D_CHECK(k->file_size < KDUMP_HDR_SIZE, ctx, R2D_ETRUNC,
              "%s: offset 0x0: kdump header of 0x%x bytes runs past end of file (size 0x%" PRIx64 ")",
              k->path, KDUMP_HDR_SIZE, k->file_size);
    rc = r2d_bytesrc_read(ctx, k->in, 0, head, sizeof(head), "file header");
    if (rc)
        return rc;
    k->real_size = k->file_size;
    if (memcmp(head, KDUMP_FLAT_SIG, KDUMP_FLAT_SIG_LEN) == 0) {
        uint8_t fh[16];

        R2D_CHECK(k->file_size < KDUMP_FLAT_HDR_SIZE, ctx, R2D_ETRUNC,
                  "%s: offset 0x0: flattened header of 0x%x bytes runs past end of file (size 0x%" PRIx64 ")",
                  k->path, KDUMP_FLAT_HDR_SIZE, k->file_size);
        rc = r2d_bytesrc_read(ctx, k->in, KDUMP_FLAT_OFF_TYPE, fh, sizeof(fh), "flattened header");
        if (rc)
            return rc;
        R2D_CHECK(r2d_be64(fh) != 1 || r2d_be64(fh + 8) != 1, ctx, R2D_EUNSUPPORTED,
                  "%s: offset 0x%x: flattened header type %" PRIu64 " version %" PRIu64 ", only 1/1 is known",
                  k->path, KDUMP_FLAT_OFF_TYPE, r2d_be64(fh), r2d_be64(fh + 8));
        k->real_size = 0;
        rc = kdump_index_flat(ctx, k);
        if (rc)
            return rc;
    }
    rc = kdump_read_header(ctx, k, machine);
    if (rc)
        return rc;
    kdump_codec_names(codecs, sizeof(codecs), k->status);
    R2D_CHECK(
        (k->status & KDUMP_LZO) && !r2d_kdump_lzo_available(), ctx, R2D_EUNSUPPORTED,
        "%s: offset 0x%x: the dump is LZO-compressed and raw2dmp was built without LZO support (liblzo2)",
        k->path, KDUMP_OFF_STATUS);
    R2D_CHECK((k->status & KDUMP_SNAPPY) && !r2d_kdump_snappy_available(), ctx, R2D_EUNSUPPORTED,
              "%s: offset 0x%x: the dump is snappy-compressed and raw2dmp was built without snappy support "
              "(libsnappy)",
              k->path, KDUMP_OFF_STATUS);
    rc = kdump_read_notes(ctx, k, img, &cnt);
    if (rc)
        return rc;
    k->cache = r2d_alloc_io((size_t)k->bs * KDUMP_CACHE_PAGES);
    if (!k->cache)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the page cache", k->path);
    memset(k->cache_idx, 0xff, sizeof(k->cache_idx));
    rc = kdump_walk_bitmaps(ctx, k, img, &t);
    if (rc)
        return rc;
    k->ndesc = t.dumped;
    k->desc_off = (uint64_t)(1 + k->sub_blocks + k->bitmap_blocks) * k->bs;
    R2D_CHECK(
        k->desc_off > k->real_size || k->ndesc > (k->real_size - k->desc_off) / KDUMP_DESC_SIZE, ctx,
        R2D_ETRUNC,
        "%s: offset 0x%" PRIx64 ": %" PRIu64 " page descriptors of %u bytes run past end of the %s (size "
        "0x%" PRIx64 ")",
        k->path, k->desc_off, k->ndesc, KDUMP_DESC_SIZE, k->recs ? "assembled dump" : "file", k->real_size);
    k->data_off = k->desc_off + k->ndesc * KDUMP_DESC_SIZE;
    if (t.not_in_bitmap1)
        r2d_log(ctx, R2D_LOG_WARN, "%s: %" PRIu64 " dumped pages are missing from bitmap 1; using bitmap 2",
                k->path, t.not_in_bitmap1);
    if (t.dumped == 0)
        r2d_log(ctx, R2D_LOG_WARN, "%s: bitmap 2 marks no page as dumped: the image is empty", k->path);
    r2d_log(ctx, R2D_LOG_INFO,
            "%s: kdump %s, block size 0x%" PRIx32 ", %" PRIu64 " pages in %" PRIu64 " runs", k->path, codecs,
            k->bs, t.dumped, t.runs);
    return kdump_add_notes(ctx, k, img, machine, &t, &cnt);
}

static int
kdump_open(struct r2d_ctx *ctx, struct r2d_image *img)
{
    struct kdump_file *k = calloc(1, sizeof(*k));
    int rc;

    if (!k)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", r2d_image_path(img));
    k->in = r2d_image_input(img);
    k->path = r2d_image_path(img);
    k->file_size = r2d_image_file_size(img);
    /* Attached first, so the image owns k (and frees it) whatever happens next. */
    rc = r2d_image_set_source(ctx, img, &kdump_source_ops, k);
    return rc ? rc : kdump_open_file(ctx, k, img);
}

const struct r2d_format r2d_format_kdump = {
    .name = "kdump",
    .summary = "kdump-compressed (makedumpfile, QEMU/virsh kdump-*), flattened or assembled; zlib, lzo/snappy below",
    .probe_bytes = KDUMP_HDR_SIZE,
    .probe = kdump_probe,
    .open = kdump_open,
};
