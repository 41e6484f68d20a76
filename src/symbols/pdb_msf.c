/* SPDX-License-Identifier: MIT */
/* MSF 7.00 container: superblock, stream directory, bounds-checked stream reads
 * (docs/reference/symbols.md 4.1). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pdb_msf.h"
#include "io.h"
#include "bytes.h"

/* Superblock layout (LLVM docs, MsfFile.html "The Superblock"). */
#define MSF_OFF_MAGIC 0x00          /* 32 bytes */
#define MSF_OFF_BLOCK_SIZE 0x20     /* u32 */
#define MSF_OFF_FREE_MAP_BLOCK 0x24 /* u32, 1 or 2 */
#define MSF_OFF_NUM_BLOCKS 0x28     /* u32 */
#define MSF_OFF_DIR_BYTES 0x2C      /* u32, NumDirectoryBytes */
#define MSF_OFF_BLOCK_MAP_ADDR 0x34 /* u32, block holding the directory's block list */
#define MSF_SUPERBLOCK_SIZE 0x38

static const char msf_magic[32] = "Microsoft C/C++ MSF 7.00\r\n\032DS\0\0";
static const char msf_magic_v2[] = "Microsoft C/C++ program database 2.00";

struct r2d_msf {
    int fd;
    char *path;
    uint64_t file_size;
    uint32_t block_size;
    uint32_t num_blocks;
    uint32_t num_streams;
    uint32_t *sizes;       /* [num_streams], R2D_MSF_NIL_STREAM for nil streams */
    uint32_t *first_block; /* [num_streams], index into blocks[] of the stream's first block */
    uint32_t *blocks;      /* every stream's block numbers, concatenated, all < num_blocks */
};

static uint32_t
msf_blocks_for(const struct r2d_msf *msf, uint32_t size)
{
    if (size == R2D_MSF_NIL_STREAM)
        return 0;
    return (uint32_t)(((uint64_t)size + msf->block_size - 1) / msf->block_size);
}

/* Exactly len bytes at off; the sizes were checked against the file at open, so a short read means the
 * file shrank under us (r2d_pread_full reports it as truncation). */
static int
msf_pread(struct r2d_ctx *ctx, const struct r2d_msf *msf, uint8_t *dst, size_t len, uint64_t off)
{
    return r2d_pread_full(ctx, msf->fd, msf->path, off, dst, len, "PDB data");
}

/*
 * Read len bytes spread over the given blocks (all already checked < num_blocks, and len <= nblocks x
 * block_size) into dst, one pread per run of consecutive block numbers.
 */
static int
msf_read_blocks(struct r2d_ctx *ctx, const struct r2d_msf *msf, const uint32_t *blocks, uint32_t nblocks,
                uint8_t *dst, size_t len)
{
    const uint32_t bs = msf->block_size;
    size_t done = 0;
    uint32_t i = 0;

    while (done < len && i < nblocks) {
        uint32_t run = 1;
        size_t chunk;
        int rc;

        while (i + run < nblocks && blocks[i + run - 1] + 1 == blocks[i + run] &&
               (uint64_t)run * bs < len - done)
            run++;
        chunk = (uint64_t)run * bs < len - done ? (size_t)run * bs : len - done;
        rc = msf_pread(ctx, msf, dst + done, chunk, (uint64_t)blocks[i] * bs);
        if (rc)
            return rc;
        done += chunk;
        i += run;
    }
    return 0;
}

static int
msf_check_superblock(struct r2d_ctx *ctx, struct r2d_msf *msf, const uint8_t *sb, size_t have)
{
    const char *path = msf->path;

    if (have >= sizeof(msf_magic_v2) - 1 && memcmp(sb, msf_magic_v2, sizeof(msf_magic_v2) - 1) == 0)
        return r2d_err(ctx, R2D_EUNSUPPORTED,
                       "%s: offset 0x0: MSF 2.00 (\"program database 2.00\") PDB is not "
                       "supported, only MSF 7.00",
                       path);
    if (have < MSF_SUPERBLOCK_SIZE) {
        const int prefix = memcmp(sb, msf_magic, have < sizeof(msf_magic) ? have : sizeof(msf_magic)) == 0;
        return r2d_err(
            ctx, prefix ? R2D_ETRUNC : R2D_EFORMAT, "%s: offset 0x0: file of %zu bytes is %s", path, have,
            prefix ? "shorter than the MSF superblock (0x38 bytes)" : "not a PDB (no MSF 7.00 magic)");
    }
    R2D_CHECK(memcmp(sb + MSF_OFF_MAGIC, msf_magic, sizeof(msf_magic)) != 0, ctx, R2D_EFORMAT,
              "%s: offset 0x0: not a PDB (no \"Microsoft C/C++ MSF 7.00\" magic)", path);

    msf->block_size = r2d_le32(sb + MSF_OFF_BLOCK_SIZE);
    msf->num_blocks = r2d_le32(sb + MSF_OFF_NUM_BLOCKS);
    const uint32_t bs = msf->block_size;
    const uint32_t fpm = r2d_le32(sb + MSF_OFF_FREE_MAP_BLOCK);

    R2D_CHECK(bs != 512 && bs != 1024 && bs != 2048 && bs != 4096, ctx, R2D_EUNSUPPORTED,
              "%s: offset 0x%x: MSF block size %" PRIu32 " is not supported (512, 1024, 2048 or 4096)", path,
              MSF_OFF_BLOCK_SIZE, bs);
    R2D_CHECK(fpm != 1 && fpm != 2, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: free block map at block %" PRIu32 ", must be 1 or 2", path,
              MSF_OFF_FREE_MAP_BLOCK, fpm);
    R2D_CHECK(msf->num_blocks < 3, ctx, R2D_EFORMAT, "%s: offset 0x%x: NumBlocks %" PRIu32 " is too small",
              path, MSF_OFF_NUM_BLOCKS, msf->num_blocks);
    R2D_CHECK(msf->num_blocks > msf->file_size / bs, ctx, R2D_ETRUNC,
              "%s: offset 0x%x: NumBlocks %" PRIu32 " x BlockSize %" PRIu32 " = 0x%" PRIx64
              " bytes, but the file has only 0x%" PRIx64 " (truncated)",
              path, MSF_OFF_NUM_BLOCKS, msf->num_blocks, bs, (uint64_t)msf->num_blocks * bs, msf->file_size);
    return 0;
}

/* File offset of byte i of the directory, whose blocks are dir_blocks[]. */
static uint64_t
msf_dir_offset(const struct r2d_msf *msf, const uint32_t *dir_blocks, uint64_t i)
{
    return (uint64_t)dir_blocks[i / msf->block_size] * msf->block_size + i % msf->block_size;
}

/* Read the directory's block list and then the directory itself into *dir (dir_bytes bytes). */
static int
msf_read_directory(struct r2d_ctx *ctx, struct r2d_msf *msf, const uint8_t *sb, uint8_t **dir,
                   uint32_t **dir_blocks_out)
{
    const char *path = msf->path;
    const uint32_t bs = msf->block_size;
    const uint32_t dir_bytes = r2d_le32(sb + MSF_OFF_DIR_BYTES);
    const uint32_t map_addr = r2d_le32(sb + MSF_OFF_BLOCK_MAP_ADDR);
    const uint64_t msf_bytes = (uint64_t)msf->num_blocks * bs;
    uint32_t ndir, *dir_blocks;
    uint8_t *raw;
    int rc;

    R2D_CHECK(dir_bytes < 4 || dir_bytes > msf_bytes || dir_bytes > R2D_MSF_MAX_STREAM_BYTES, ctx,
              R2D_EFORMAT,
              "%s: offset 0x%x: NumDirectoryBytes 0x%" PRIx32 " is not within [4, 0x%" PRIx64 "]", path,
              MSF_OFF_DIR_BYTES, dir_bytes, msf_bytes);
    ndir = msf_blocks_for(msf, dir_bytes);
    R2D_CHECK(map_addr >= msf->num_blocks || (uint64_t)ndir * 4 > msf_bytes - (uint64_t)map_addr * bs, ctx,
              R2D_EFORMAT,
              "%s: offset 0x%x: directory block map at block %" PRIu32 " (%" PRIu32
              " entries) lies outside the %" PRIu32 " blocks of the file",
              path, MSF_OFF_BLOCK_MAP_ADDR, map_addr, ndir, msf->num_blocks);

    raw = malloc((size_t)ndir * 4);
    dir_blocks = malloc((size_t)ndir * sizeof(*dir_blocks));
    *dir = malloc(dir_bytes);
    if (!raw || !dir_blocks || !*dir) {
        free(raw);
        free(dir_blocks);
        free(*dir);
        *dir = NULL;
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for a directory of 0x%" PRIx32 " bytes", path,
                       dir_bytes);
    }
    rc = msf_pread(ctx, msf, raw, (size_t)ndir * 4, (uint64_t)map_addr * bs);
    for (uint32_t i = 0; rc == 0 && i < ndir; i++) {
        dir_blocks[i] = r2d_le32(raw + 4 * (size_t)i);
        if (dir_blocks[i] >= msf->num_blocks)
            rc = r2d_err(ctx, R2D_EFORMAT,
                         "%s: offset 0x%" PRIx64 ": directory block number %" PRIu32
                         " out of range (NumBlocks %" PRIu32 ")",
                         path, (uint64_t)map_addr * bs + 4 * (uint64_t)i, dir_blocks[i], msf->num_blocks);
    }
    free(raw);
    if (rc == 0)
        rc = msf_read_blocks(ctx, msf, dir_blocks, ndir, *dir, dir_bytes);
    if (rc) {
        free(dir_blocks);
        free(*dir);
        *dir = NULL;
        return rc;
    }
    *dir_blocks_out = dir_blocks;
    return 0;
}

/* Decode the directory: NumStreams, the sizes, then each stream's block numbers. */
static int
msf_parse_directory(struct r2d_ctx *ctx, struct r2d_msf *msf, const uint8_t *dir, uint32_t dir_bytes,
                    const uint32_t *dir_blocks)
{
    const char *path = msf->path;
    const uint64_t msf_bytes = (uint64_t)msf->num_blocks * msf->block_size;
    const uint32_t n = r2d_le32(dir);
    uint64_t total = 0, pos;

    R2D_CHECK(n > R2D_MSF_MAX_STREAMS || (uint64_t)n * 4 > dir_bytes - 4, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": NumStreams %" PRIu32 " is more than %s", path,
              msf_dir_offset(msf, dir_blocks, 0), n,
              n > R2D_MSF_MAX_STREAMS ? "the limit of 65535" : "the directory can hold");
    msf->num_streams = n;
    msf->sizes = calloc(n ? n : 1, sizeof(*msf->sizes));
    msf->first_block = calloc(n ? n : 1, sizeof(*msf->first_block));
    R2D_CHECK(!msf->sizes || !msf->first_block, ctx, R2D_ENOMEM, "%s: out of memory for %" PRIu32 " streams",
              path, n);
    for (uint32_t s = 0; s < n; s++) {
        const uint64_t at = 4 + 4 * (uint64_t)s;
        const uint32_t size = r2d_le32(dir + at);

        R2D_CHECK(size != R2D_MSF_NIL_STREAM && size > msf_bytes, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": stream %" PRIu32 " size 0x%" PRIx32
                  " is larger than the file (0x%" PRIx64 " bytes in blocks)",
                  path, msf_dir_offset(msf, dir_blocks, at), s, size, msf_bytes);
        msf->sizes[s] = size;
        msf->first_block[s] = (uint32_t)total;
        total += msf_blocks_for(msf, size);
    }
    pos = 4 + 4 * (uint64_t)n;
    R2D_CHECK(total > (dir_bytes - pos) / 4, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": the streams need %" PRIu64
              " block numbers but the directory holds only %" PRIu64,
              path, msf_dir_offset(msf, dir_blocks, pos), total, (dir_bytes - pos) / 4);
    msf->blocks = malloc((size_t)(total ? total : 1) * sizeof(*msf->blocks));
    R2D_CHECK(!msf->blocks, ctx, R2D_ENOMEM, "%s: out of memory for %" PRIu64 " block numbers", path, total);
    for (uint64_t i = 0; i < total; i++, pos += 4) {
        const uint32_t b = r2d_le32(dir + pos);

        R2D_CHECK(b >= msf->num_blocks, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": stream block number %" PRIu32 " out of range (NumBlocks %" PRIu32
                  ")",
                  path, msf_dir_offset(msf, dir_blocks, pos), b, msf->num_blocks);
        msf->blocks[i] = b;
    }
    return 0;
}

static int
msf_load(struct r2d_ctx *ctx, struct r2d_msf *msf)
{
    uint8_t sb[MSF_SUPERBLOCK_SIZE] = {0};
    const size_t have = msf->file_size < sizeof(sb) ? (size_t)msf->file_size : sizeof(sb);
    uint8_t *dir = NULL;
    uint32_t *dir_blocks = NULL;
    int rc = msf_pread(ctx, msf, sb, have, 0);

    if (rc == 0)
        rc = msf_check_superblock(ctx, msf, sb, have);
    if (rc == 0)
        rc = msf_read_directory(ctx, msf, sb, &dir, &dir_blocks);
    if (rc == 0)
        rc = msf_parse_directory(ctx, msf, dir, r2d_le32(sb + MSF_OFF_DIR_BYTES), dir_blocks);
    free(dir);
    free(dir_blocks);
    return rc;
}

int
r2d_msf_open(struct r2d_ctx *ctx, const char *path, struct r2d_msf **out)
{
    struct r2d_msf *msf;
    struct stat st;
    int rc;

    *out = NULL;
    msf = calloc(1, sizeof(*msf));
    if (!msf || !(msf->path = strdup(path))) {
        free(msf);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", path);
    }
    msf->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (msf->fd < 0) {
        rc = r2d_err_errno(ctx, "%s: cannot open PDB", path);
        r2d_msf_close(msf);
        return rc;
    }
    if (fstat(msf->fd, &st) != 0) {
        rc = r2d_err_errno(ctx, "%s: cannot stat", path);
    } else if (!S_ISREG(st.st_mode)) {
        rc = r2d_err(ctx, R2D_EINVAL, "%s: not a regular file", path);
    } else {
        msf->file_size = (uint64_t)st.st_size;
        rc = msf_load(ctx, msf);
    }
    if (rc) {
        r2d_msf_close(msf);
        return rc;
    }
    *out = msf;
    return 0;
}

void
r2d_msf_close(struct r2d_msf *msf)
{
    if (!msf)
        return;
    if (msf->fd >= 0)
        close(msf->fd);
    free(msf->path);
    free(msf->sizes);
    free(msf->first_block);
    free(msf->blocks);
    free(msf);
}

const char *
r2d_msf_path(const struct r2d_msf *msf)
{
    return msf->path;
}

uint32_t
r2d_msf_num_streams(const struct r2d_msf *msf)
{
    return msf->num_streams;
}

uint32_t
r2d_msf_block_size(const struct r2d_msf *msf)
{
    return msf->block_size;
}

int
r2d_msf_stream_exists(const struct r2d_msf *msf, uint32_t stream)
{
    return stream < msf->num_streams && msf->sizes[stream] != R2D_MSF_NIL_STREAM;
}

uint32_t
r2d_msf_stream_size(const struct r2d_msf *msf, uint32_t stream)
{
    return r2d_msf_stream_exists(msf, stream) ? msf->sizes[stream] : 0;
}

uint64_t
r2d_msf_file_offset(const struct r2d_msf *msf, uint32_t stream, uint64_t off)
{
    const uint32_t size = r2d_msf_stream_size(msf, stream);
    uint64_t excess = 0;

    if (size == 0)
        return 0;
    if (off >= size) {
        excess = off - (size - 1);
        off = size - 1;
    }
    return (uint64_t)msf->blocks[msf->first_block[stream] + off / msf->block_size] * msf->block_size +
           off % msf->block_size + excess;
}

int
r2d_msf_read_stream(struct r2d_ctx *ctx, const struct r2d_msf *msf, uint32_t stream, const char *what,
                    uint8_t **buf, size_t *len)
{
    uint32_t size;
    uint8_t *data;
    int rc;

    *buf = NULL;
    *len = 0;
    R2D_CHECK(!r2d_msf_stream_exists(msf, stream), ctx, R2D_ENOTFOUND,
              "%s: the %s stream (%" PRIu32 ") is absent (%" PRIu32 " streams)", msf->path, what, stream,
              msf->num_streams);
    size = msf->sizes[stream];
    R2D_CHECK(size > R2D_MSF_MAX_STREAM_BYTES, ctx, R2D_EUNSUPPORTED,
              "%s: offset 0x%" PRIx64 ": the %s stream (%" PRIu32 ") has 0x%" PRIx32
              " bytes, more than the limit of 0x%x",
              msf->path, r2d_msf_file_offset(msf, stream, 0), what, stream, size, R2D_MSF_MAX_STREAM_BYTES);
    data = malloc(size ? size : 1);
    R2D_CHECK(!data, ctx, R2D_ENOMEM, "%s: out of memory for the %s stream (0x%" PRIx32 " bytes)", msf->path,
              what, size);
    rc = msf_read_blocks(ctx, msf, msf->blocks + msf->first_block[stream], msf_blocks_for(msf, size), data,
                         size);
    if (rc) {
        free(data);
        return rc;
    }
    *buf = data;
    *len = size;
    return 0;
}
