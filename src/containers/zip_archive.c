/* SPDX-License-Identifier: MIT */
/*
 * A ZIP archive over a byte source (zip_archive.h): libzip reads the archive through a source callback and
 * checks it; the central directory is walked once more here for the local header offsets libzip keeps to
 * itself. Facts: docs/formats/containers.md "ZIP" (APPNOTE 4.3.7, 4.3.12, 4.3.14-16, 4.5.3).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "bytes.h"
#include "zip_archive.h"

#define ZIP_CD_MAX (64u << 20) /* central directory bytes read to find the members */
#define ZIP_EOCD_SIZE 22
#define ZIP_EOCD_SEARCH (65535u + ZIP_EOCD_SIZE)
#define ZIP_CDH_SIZE 46
#define ZIP_LFH_SIZE 30

/* libzip reads through this, with the context of the call that opened the archive. */
struct zip_io {
    struct r2d_ctx *ctx;
    const struct r2d_bytesrc *bs;
    uint64_t pos;
    zip_error_t err;
};

struct r2d_zip {
    struct zip_io io;
    zip_t *za;
    uint64_t *lho; /* local header offset of each central directory entry, in libzip's index order */
    uint64_t n;
};

static zip_int64_t
zip_io_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    struct zip_io *io = ud;
    const uint64_t size = r2d_bytesrc_size(io->bs);
    zip_int64_t at;

    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        io->pos = 0;
        return 0;
    case ZIP_SOURCE_READ:
        len = io->pos > size ? 0 : len > size - io->pos ? size - io->pos : len;
        if (len && r2d_bytesrc_read(io->ctx, io->bs, io->pos, data, (size_t)len, "ZIP archive")) {
            zip_error_set(&io->err, ZIP_ER_READ, 5 /* EIO */);
            return -1;
        }
        io->pos += len;
        return (zip_int64_t)len;
    case ZIP_SOURCE_CLOSE:
    case ZIP_SOURCE_FREE:
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = data;

        zip_stat_init(st);
        st->size = size;
        st->valid |= ZIP_STAT_SIZE;
        return sizeof(*st);
    }
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&io->err, data, len);
    case ZIP_SOURCE_SEEK:
        at = zip_source_seek_compute_offset(io->pos, size, data, len, &io->err);
        if (at < 0)
            return -1;
        io->pos = (uint64_t)at;
        return 0;
    case ZIP_SOURCE_TELL:
        return (zip_int64_t)io->pos;
    case ZIP_SOURCE_SUPPORTS:
        return ZIP_SOURCE_SUPPORTS_SEEKABLE;
    default:
        zip_error_set(&io->err, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
}

static int
zip_open_libzip(struct r2d_ctx *ctx, struct r2d_zip *z)
{
    zip_error_t err;
    zip_source_t *src;

    zip_error_init(&err);
    zip_error_init(&z->io.err);
    src = zip_source_function_create(zip_io_cb, &z->io, &err);
    z->za = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err) : NULL;
    if (!z->za) {
        const int rc = r2d_err(ctx, zip_error_code_zip(&err) == ZIP_ER_MEMORY ? R2D_ENOMEM : R2D_EFORMAT,
                               "%s: not a readable ZIP archive: %s", r2d_bytesrc_name(z->io.bs),
                               zip_error_strerror(&err));

        zip_source_free(src);
        zip_error_fini(&err);
        return rc;
    }
    zip_error_fini(&err);
    return 0;
}

/* The central directory's offset and size, from the end record (or its ZIP64 form). */
static int
zip_cd_bounds(struct r2d_ctx *ctx, const struct r2d_bytesrc *in, uint64_t *cd_off, uint64_t *cd_size)
{
    const uint64_t size = r2d_bytesrc_size(in);
    const size_t n = size < ZIP_EOCD_SEARCH ? (size_t)size : ZIP_EOCD_SEARCH;
    uint8_t *tail = malloc(n ? n : 1), z64[56];
    int rc = tail ? r2d_bytesrc_read(ctx, in, size - n, tail, n, "ZIP end record") : R2D_ENOMEM;
    size_t e = n >= ZIP_EOCD_SIZE ? n - ZIP_EOCD_SIZE + 1 : 0;

    while (!rc && e-- > 0 && memcmp(tail + e, "PK\5\6", 4) != 0)
        ;
    if (!rc && (n < ZIP_EOCD_SIZE || memcmp(tail + e, "PK\5\6", 4) != 0))
        rc = r2d_err(ctx, R2D_EFORMAT, "%s: no ZIP end of central directory record", r2d_bytesrc_name(in));
    if (!rc) {
        *cd_size = r2d_le32(tail + e + 12);
        *cd_off = r2d_le32(tail + e + 16);
    }
    if (!rc && (*cd_off == 0xffffffffu || *cd_size == 0xffffffffu)) {
        /* ZIP64: the locator just before the end record gives the ZIP64 end record's offset */
        const uint64_t loc = size - n + e - 20;

        rc = e < 20 || memcmp(tail + e - 20, "PK\6\7", 4) != 0
                 ? r2d_err(ctx, R2D_EFORMAT, "%s: ZIP64 end locator missing", r2d_bytesrc_name(in))
                 : r2d_bytesrc_read(ctx, in, r2d_le64(tail + e - 20 + 8), z64, sizeof(z64),
                                    "ZIP64 end record");
        if (!rc && memcmp(z64, "PK\6\6", 4) != 0)
            rc = r2d_err(ctx, R2D_EFORMAT, "%s: offset 0x%" PRIx64 ": bad ZIP64 end record",
                         r2d_bytesrc_name(in), loc);
        if (!rc) {
            *cd_size = r2d_le64(z64 + 40);
            *cd_off = r2d_le64(z64 + 48);
        }
    }
    free(tail);
    return rc == R2D_ENOMEM && !tail ? r2d_err(ctx, R2D_ENOMEM, "out of memory") : rc;
}

/* The local header offset of central directory entry e (ZIP64 extra field when the 32-bit one is full). */
static uint64_t
zip_cd_lho(const uint8_t *e, const uint8_t *end)
{
    const uint16_t nlen = r2d_le16(e + 28), xlen = r2d_le16(e + 30);
    const uint8_t *x = e + ZIP_CDH_SIZE + nlen, *xend = x + xlen;
    uint64_t lho = r2d_le32(e + 42);

    if (lho != 0xffffffffu || xend > end)
        return lho;
    while (xend - x >= 4) {
        const uint16_t id = r2d_le16(x), len = r2d_le16(x + 2);
        const uint8_t *v = x + 4;

        if (len > xend - v)
            break;
        if (id == 0x0001) {
            /* in order, each present only when its 32-bit field is full: size, compressed size, offset */
            v += (r2d_le32(e + 24) == 0xffffffffu ? 8 : 0) + (r2d_le32(e + 20) == 0xffffffffu ? 8 : 0);
            return v + 8 <= x + 4 + len ? r2d_le64(v) : lho;
        }
        x = v + len;
    }
    return lho;
}

/* Every entry's local header offset, in central directory order (libzip's indices). */
static int
zip_walk_cd(struct r2d_ctx *ctx, struct r2d_zip *z)
{
    const char *file = r2d_bytesrc_name(z->io.bs);
    uint64_t cd_off = 0, cd_size = 0;
    size_t cap = 0;
    uint8_t *cd = NULL;
    const uint8_t *e;
    int rc = zip_cd_bounds(ctx, z->io.bs, &cd_off, &cd_size);

    R2D_CHECK(!rc && cd_size > ZIP_CD_MAX, ctx, R2D_EUNSUPPORTED, "%s: ZIP central directory over %u MiB",
              file, ZIP_CD_MAX >> 20);
    if (!rc && !(cd = malloc(cd_size ? cd_size : 1)))
        rc = r2d_err(ctx, R2D_ENOMEM, "out of memory");
    if (!rc)
        rc = r2d_bytesrc_read(ctx, z->io.bs, cd_off, cd, (size_t)cd_size, "ZIP central directory");
    for (e = cd; !rc && z->n < (uint64_t)zip_get_num_entries(z->za, 0); z->n++) {
        if (cd + cd_size - e < ZIP_CDH_SIZE || memcmp(e, "PK\1\2", 4) != 0) {
            rc = r2d_err(ctx, R2D_EFORMAT, "%s: ZIP central directory entry %" PRIu64 " is damaged", file,
                         z->n);
            break;
        }
        rc = r2d_grow(ctx, &z->lho, &cap, (size_t)z->n + 1, sizeof(*z->lho), "ZIP members");
        if (!rc)
            z->lho[z->n] = zip_cd_lho(e, cd + cd_size);
        e += ZIP_CDH_SIZE + r2d_le16(e + 28) + r2d_le16(e + 30) + r2d_le16(e + 32);
    }
    free(cd);
    return rc;
}

int
r2d_zip_open(struct r2d_ctx *ctx, const struct r2d_bytesrc *in, struct r2d_zip **out)
{
    struct r2d_zip *z = calloc(1, sizeof(*z));
    int rc;

    *out = NULL;
    if (!z)
        return r2d_err(ctx, R2D_ENOMEM, "out of memory");
    z->io = (struct zip_io){.ctx = ctx, .bs = in};
    rc = zip_open_libzip(ctx, z);
    if (!rc)
        rc = zip_walk_cd(ctx, z);
    if (rc) {
        r2d_zip_close(z);
        return rc;
    }
    *out = z;
    return 0;
}

void
r2d_zip_close(struct r2d_zip *z)
{
    if (!z)
        return;
    if (z->za)
        zip_discard(z->za);
    free(z->lho);
    free(z);
}

zip_t *
r2d_zip_handle(const struct r2d_zip *z)
{
    return z->za;
}

const char *
r2d_zip_comment(const struct r2d_zip *z, size_t *len)
{
    int n = 0;
    const char *c = zip_get_archive_comment(z->za, &n, ZIP_FL_ENC_RAW);

    *len = c && n > 0 ? (size_t)n : 0;
    return *len ? c : NULL;
}

int
r2d_zip_member_at(struct r2d_ctx *ctx, const struct r2d_zip *z, uint64_t i, struct r2d_zip_member *m)
{
    const char *file = r2d_bytesrc_name(z->io.bs);
    uint8_t lfh[ZIP_LFH_SIZE];
    zip_stat_t st;
    int rc;

    R2D_CHECK(i >= z->n || zip_stat_index(z->za, i, 0, &st) != 0, ctx, R2D_EFORMAT,
              "%s: member %" PRIu64 ": %s", file, i, i >= z->n ? "no such member" : zip_strerror(z->za));
    *m = (struct r2d_zip_member){.index = i,
                                 .name = st.name,
                                 .size = st.size,
                                 .comp_size = st.comp_size,
                                 .method = st.comp_method,
                                 .crc = st.crc};
    R2D_CHECK(st.encryption_method != ZIP_EM_NONE, ctx, R2D_EUNSUPPORTED,
              "%s: member %s is encrypted: not supported", file, st.name);
    rc = r2d_bytesrc_read(ctx, z->io.bs, z->lho[i], lfh, sizeof(lfh), "ZIP local header");
    R2D_CHECK(!rc && memcmp(lfh, "PK\3\4", 4) != 0, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": no local header for member %s", file, z->lho[i], m->name);
    if (rc)
        return rc;
    m->data_off = z->lho[i] + ZIP_LFH_SIZE + r2d_le16(lfh + 26) + r2d_le16(lfh + 28);
    R2D_CHECK(m->data_off > r2d_bytesrc_size(z->io.bs) ||
                  m->comp_size > r2d_bytesrc_size(z->io.bs) - m->data_off,
              ctx, R2D_ETRUNC,
              "%s: member %s: 0x%" PRIx64 " compressed bytes at offset 0x%" PRIx64 " run past end of file",
              file, m->name, m->comp_size, m->data_off);
    return 0;
}

int
r2d_zip_member_named(struct r2d_ctx *ctx, const struct r2d_zip *z, const char *name, struct r2d_zip_member *m)
{
    const zip_int64_t i = zip_name_locate(z->za, name, ZIP_FL_ENC_RAW);

    R2D_CHECK(i < 0, ctx, R2D_ENOTFOUND, "%s: no member %s", r2d_bytesrc_name(z->io.bs), name);
    return r2d_zip_member_at(ctx, z, (uint64_t)i, m);
}

int
r2d_zip_read_member(struct r2d_ctx *ctx, const struct r2d_zip *z, const struct r2d_zip_member *m,
                    uint64_t max, uint8_t **out)
{
    const char *file = r2d_bytesrc_name(z->io.bs);
    zip_file_t *zf;
    zip_int64_t got = 0;
    uint8_t *buf;

    *out = NULL;
    R2D_CHECK(m->size > max, ctx, R2D_EUNSUPPORTED,
              "%s: member %s declares 0x%" PRIx64 " bytes, more than the 0x%" PRIx64 " read for it", file,
              m->name, m->size, max);
    /* before allocating: stored data is its compressed bytes, deflate cannot beat 1032:1 */
    R2D_CHECK((m->method == ZIP_CM_STORE && m->size != m->comp_size) ||
                  (m->method == ZIP_CM_DEFLATE && m->size / 1032 > m->comp_size),
              ctx, R2D_EFORMAT,
              "%s: member %s declares 0x%" PRIx64 " bytes from 0x%" PRIx64 " stored (method %u)", file,
              m->name, m->size, m->comp_size, m->method);
    buf = malloc((size_t)m->size + 1);
    R2D_CHECK(!buf, ctx, R2D_ENOMEM, "out of memory for member %s", m->name);
    ((struct r2d_zip *)z)->io.ctx = ctx; /* libzip's reads report into the caller's context */
    zf = zip_fopen_index(z->za, m->index, 0);
    if (zf) {
        got = m->size ? zip_fread(zf, buf, m->size) : 0;
        /* one more byte must be refused: the data may not inflate past its declared size */
        if (got == (zip_int64_t)m->size && zip_fread(zf, buf + m->size, 1) != 0)
            got = -1;
    }
    if (!zf || got != (zip_int64_t)m->size) {
        const int rc = r2d_err(ctx, R2D_EFORMAT, "%s: member %s does not read back: %s", file, m->name,
                               zf ? zip_file_strerror(zf) : zip_strerror(z->za));

        if (zf)
            zip_fclose(zf);
        free(buf);
        return rc;
    }
    zip_fclose(zf);
    buf[m->size] = 0;
    *out = buf;
    return 0;
}
