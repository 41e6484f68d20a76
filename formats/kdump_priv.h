/* SPDX-License-Identifier: MIT */
/*
 * kdump-compressed files, shared by the reader's three parts: the header, bitmaps and open (kdump.c), the
 * assembled file read directly or through the flattened stream's record index (kdump_flat.c), and the page
 * decoders with their cache and second thread (kdump_decode.c). Layout facts: docs/formats/kdump.md.
 */
#ifndef R2D_FORMATS_KDUMP_PRIV_H
#define R2D_FORMATS_KDUMP_PRIV_H

#include <stdint.h>

#include <zlib.h>

#include "decode_helper.h"
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
 * The open file and the decoding source. The source's address space is the dumped pages in descriptor order:
 * source offset = descriptor index x block_size, so a run's src_off is its first page's descriptor index
 * times the block size and no per-page table is needed. Everything but the decoders, the cache and the helper
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
    struct kdump_decoder wdec;          /* the helper thread's */
    struct r2d_decode_helper helper; /* decodes the second half of long reads (zlib on two cores) */
};

/* kdump_flat.c: the assembled file. */
/* Read len bytes at offset off of the assembled file (through the records of a flattened stream). */
int r2d_kdump_read_real(struct r2d_ctx *ctx, const struct kdump_file *k, uint64_t off, void *buf, size_t len,
                        const char *what);
/* len bytes at off through the read-ahead window w (refilled as needed); *out points into the window. */
int r2d_kdump_window_get(struct r2d_ctx *ctx, const struct kdump_file *k, struct kdump_decoder *dec,
                         struct kdump_window *w, uint64_t off, size_t len, const char *what, const uint8_t **out);
/* Index the records of a flattened stream (k->recs sorted by real offset, k->real_size). */
int r2d_kdump_index_flat(struct r2d_ctx *ctx, struct kdump_file *k);

/* kdump_decode.c: the decoding source over the dumped pages (frees the kdump_file it is given). */
extern const struct r2d_source_ops r2d_kdump_source_ops;
void r2d_kdump_decoder_free(struct kdump_decoder *dec);

#endif
