/* SPDX-License-Identifier: MIT */
/*
 * MSF 7.00, the multi-stream container of a PDB (docs/reference/symbols.md 4.1): the superblock, the stream
 * directory, and bounds-checked reads of whole streams.
 *
 * Limits, against hostile or broken files (each violation is an error naming the file and offset):
 * - BlockSize is 512, 1024, 2048 or 4096; any other value is refused (R2D_EUNSUPPORTED).
 * - NumBlocks x BlockSize must fit in the file: a shorter file is truncated (R2D_ETRUNC).
 * - NumStreams is at most R2D_MSF_MAX_STREAMS; stream numbers in a PDB are u16 with 0xFFFF meaning "none".
 * - Every block number (directory and streams) is < NumBlocks; every stream size is at most
 *   NumBlocks x BlockSize and its block list lies inside the directory.
 * - One stream read returns at most R2D_MSF_MAX_STREAM_BYTES bytes (512 MiB; a 30 MB kernel PDB's
 *   largest stream is a few MB).
 * The old "Microsoft C/C++ program database 2.00" container (MSF 2.0, 16-bit block numbers) is refused
 * with R2D_EUNSUPPORTED.
 */
#ifndef R2D_ENGINE_PDB_MSF_H
#define R2D_ENGINE_PDB_MSF_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define R2D_MSF_MAX_STREAMS 0xFFFFu           /* stream numbers are u16, 0xFFFF = absent */
#define R2D_MSF_MAX_STREAM_BYTES (512u << 20) /* bytes one stream read may return */
#define R2D_MSF_NIL_STREAM 0xFFFFFFFFu        /* directory size of a nil stream */

/* Fixed stream numbers. */
enum {
    R2D_MSF_STREAM_OLD_DIR = 0,
    R2D_MSF_STREAM_PDB_INFO = 1,
    R2D_MSF_STREAM_TPI = 2,
    R2D_MSF_STREAM_DBI = 3,
    R2D_MSF_STREAM_IPI = 4,
};

struct r2d_msf;

/**
 * Open path, check the superblock and read the whole stream directory, checking every size and block
 * number. On success *out owns an open file descriptor until r2d_msf_close(). On error *out is NULL and the
 * message in ctx names the file, the offset and the problem: R2D_EIO, R2D_ENOMEM, R2D_EFORMAT (not MSF 7.00,
 * bad field), R2D_ETRUNC (file shorter than the superblock says), R2D_EUNSUPPORTED (MSF 2.00, block size).
 */
int r2d_msf_open(struct r2d_ctx *ctx, const char *path, struct r2d_msf **out);

/** Close the file and free everything; NULL is a no-op. */
void r2d_msf_close(struct r2d_msf *msf);

/** The path given to r2d_msf_open (owned by msf). */
const char *r2d_msf_path(const struct r2d_msf *msf);

/** Number of streams in the directory. */
uint32_t r2d_msf_num_streams(const struct r2d_msf *msf);

/** Block size in bytes. */
uint32_t r2d_msf_block_size(const struct r2d_msf *msf);

/** 1 when stream exists and is not nil (its size may still be 0), else 0. */
int r2d_msf_stream_exists(const struct r2d_msf *msf, uint32_t stream);

/** Size of stream in bytes; 0 for a nil or missing stream. */
uint32_t r2d_msf_stream_size(const struct r2d_msf *msf, uint32_t stream);

/**
 * Read a whole stream into a malloc'd buffer (*buf, *len; the caller frees *buf, which is never NULL on
 * success even for an empty stream). what names the stream in messages ("DBI"). Errors: R2D_ENOTFOUND for a
 * missing or nil stream, R2D_EUNSUPPORTED beyond R2D_MSF_MAX_STREAM_BYTES, R2D_ENOMEM, R2D_EIO, R2D_ETRUNC.
 */
int r2d_msf_read_stream(struct r2d_ctx *ctx, const struct r2d_msf *msf, uint32_t stream, const char *what,
                        uint8_t **buf, size_t *len);

/**
 * File offset of byte off of stream, for messages ("<file>: offset 0x..: ..."). An offset at or past the
 * stream's end maps to the last byte's offset + the excess; a nil stream gives 0.
 */
uint64_t r2d_msf_file_offset(const struct r2d_msf *msf, uint32_t stream, uint64_t off);

#endif
