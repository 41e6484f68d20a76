/* SPDX-License-Identifier: MIT */
/*
 * A memory image inside a ZIP archive (Info-ZIP, collection tools such as Velociraptor). libzip opens the
 * archive over the byte source below (its central directory and, with ZIP_CHECKCONS, every local header
 * checked against it) and lists the members; the member holding the image is the one of at least 1 MiB
 * (or the one given with --member). Its data is then read without libzip: a stored member is a slice of
 * the archive, a deflated one goes through the deflate index, which also checks its CRC-32 and that it
 * inflates to exactly its declared size (a ZIP bomb's lie ends the open). libzip exposes no data offset,
 * so the member's local header is found through the central directory here (APPNOTE 4.3).
 * Facts: docs/formats/containers.md "ZIP".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>
#include <zlib.h>

#include "bytes.h"
#include "container_kinds.h"
#include "inflate_index.h"

#define ZIP_CANDIDATE_MIN (1u << 20) /* members this large may be memory images */
#define ZIP_DEFLATE_MAX_RATIO 1032u  /* deflate's best: 258 bytes from 2 bits */
#define ZIP_CD_MAX (64u << 20)       /* central directory bytes read to find a member */
#define ZIP_EOCD_SIZE 22
#define ZIP_EOCD_SEARCH (65535u + ZIP_EOCD_SIZE)
#define ZIP_CDH_SIZE 46
#define ZIP_LFH_SIZE 30
#define ZIP_CHUNK (1u << 20)

struct zipc_member {
    zip_uint64_t index;
    const char *name;
    uint64_t size, comp_size, data_off;
    uint16_t method;
    uint32_t crc;
};

struct zipc_src {
    const struct r2d_bytesrc *in;
    uint64_t data_off;
    struct r2d_inflate *z; /* deflated members */
};

/* --- libzip reads the archive through the byte source below --- */

struct zipc_io {
    struct r2d_ctx *ctx;
    const struct r2d_bytesrc *bs;
    uint64_t pos;
    zip_error_t err;
};

static zip_int64_t
zipc_io_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    struct zipc_io *io = ud;
    const uint64_t size = r2d_bytesrc_size(io->bs);
    zip_int64_t at;

    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        io->pos = 0;
        return 0;
    case ZIP_SOURCE_READ:
        len = len > size - io->pos ? size - io->pos : len;
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
zipc_open_archive(struct r2d_ctx *ctx, struct zipc_io *io, zip_t **za)
{
    zip_error_t err;
    zip_source_t *src;

    zip_error_init(&err);
    zip_error_init(&io->err);
    src = zip_source_function_create(zipc_io_cb, io, &err);
    *za = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err) : NULL;
    if (!*za) {
        const int rc =
            r2d_err(ctx, zip_error_code_zip(&err) == ZIP_ER_MEMORY ? R2D_ENOMEM : R2D_EFORMAT,
                    "%s: not a readable ZIP archive: %s", r2d_bytesrc_name(io->bs), zip_error_strerror(&err));

        zip_source_free(src);
        zip_error_fini(&err);
        return rc;
    }
    zip_error_fini(&err);
    return 0;
}

/* --- choosing the member --- */

static int
zipc_stat_member(struct r2d_ctx *ctx, zip_t *za, const char *file, zip_uint64_t i, struct zipc_member *m)
{
    zip_stat_t st;

    R2D_CHECK(zip_stat_index(za, i, 0, &st) != 0, ctx, R2D_EFORMAT, "%s: member %" PRIu64 ": %s", file,
              (uint64_t)i, zip_strerror(za));
    *m = (struct zipc_member){.index = i,
                              .name = st.name,
                              .size = st.size,
                              .comp_size = st.comp_size,
                              .method = st.comp_method,
                              .crc = st.crc};
    R2D_CHECK(st.encryption_method != ZIP_EM_NONE, ctx, R2D_EUNSUPPORTED,
              "%s: member %s is encrypted: not supported", file, st.name);
    return 0;
}

/* "memory.raw (1024 MiB), notes.txt (0 MiB)" for messages: the first few file members. */
static void
zipc_list(zip_t *za, zip_int64_t n, uint64_t min, char *buf, size_t len)
{
    size_t at = 0, shown = 0;

    buf[0] = '\0';
    for (zip_int64_t i = 0; i < n && at < len; i++) {
        zip_stat_t st;
        int k;

        if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) || st.name[strlen(st.name) - 1] == '/' ||
            st.size < min)
            continue;
        k = ++shown > 8 ? snprintf(buf + at, len - at, ", ...")
                        : snprintf(buf + at, len - at, "%s%s (%" PRIu64 " MiB)", at ? ", " : "", st.name,
                                   (uint64_t)st.size >> 20);
        at += k > 0 ? (size_t)k : 0;
        if (shown > 8)
            break;
    }
}

/* The member --member names, or the one member of at least ZIP_CANDIDATE_MIN, or the only file member. */
static int
zipc_choose(struct r2d_ctx *ctx, zip_t *za, const char *file, const char *want, struct zipc_member *m)
{
    const zip_int64_t n = zip_get_num_entries(za, 0);
    zip_int64_t big = -1, any = -1, nbig = 0, nany = 0;
    char list[600];

    if (want) {
        const zip_int64_t i = zip_name_locate(za, want, 0);

        if (i < 0) {
            zipc_list(za, n, 0, list, sizeof(list));
            return r2d_err(ctx, R2D_ENOTFOUND, "%s: no member named %s (members: %s)", file, want, list);
        }
        return zipc_stat_member(ctx, za, file, (zip_uint64_t)i, m);
    }
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;

        if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) || !st.name[0] || st.name[strlen(st.name) - 1] == '/')
            continue;
        any = i, nany++;
        if (st.size >= ZIP_CANDIDATE_MIN)
            big = i, nbig++;
    }
    R2D_CHECK(nany == 0, ctx, R2D_EFORMAT, "%s: the ZIP archive holds no file", file);
    if (nbig > 1 || (nbig == 0 && nany > 1)) {
        zipc_list(za, n, nbig ? ZIP_CANDIDATE_MIN : 0, list, sizeof(list));
        return r2d_err(ctx, R2D_EINVAL,
                       "%s: %" PRId64 " members could be the memory image: %s; choose one with --member NAME",
                       file, nbig ? nbig : nany, list);
    }
    return zipc_stat_member(ctx, za, file, (zip_uint64_t)(nbig ? big : any), m);
}

/* --- where the member's data starts (APPNOTE 4.3.7, 4.3.12, 4.3.14-16, 4.5.3) --- */

/* The central directory's offset and size, from the end record (or its ZIP64 form). */
static int
zipc_cd_bounds(struct r2d_ctx *ctx, const struct r2d_bytesrc *in, uint64_t *cd_off, uint64_t *cd_size)
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
zipc_cd_lho(const uint8_t *e, const uint8_t *end)
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

static int
zipc_data_offset(struct r2d_ctx *ctx, const struct r2d_bytesrc *in, struct zipc_member *m)
{
    const char *file = r2d_bytesrc_name(in);
    uint64_t cd_off = 0, cd_size = 0, lho = UINT64_MAX;
    uint8_t *cd = NULL, lfh[ZIP_LFH_SIZE];
    const uint8_t *e;
    int rc = zipc_cd_bounds(ctx, in, &cd_off, &cd_size);

    R2D_CHECK(!rc && cd_size > ZIP_CD_MAX, ctx, R2D_EUNSUPPORTED, "%s: ZIP central directory over %u MiB",
              file, ZIP_CD_MAX >> 20);
    if (!rc && !(cd = malloc(cd_size ? cd_size : 1)))
        rc = r2d_err(ctx, R2D_ENOMEM, "out of memory");
    if (!rc)
        rc = r2d_bytesrc_read(ctx, in, cd_off, cd, (size_t)cd_size, "ZIP central directory");
    e = cd;
    for (zip_uint64_t i = 0; !rc; i++) {
        if (cd + cd_size - e < ZIP_CDH_SIZE || memcmp(e, "PK\1\2", 4) != 0) {
            rc = r2d_err(ctx, R2D_EFORMAT, "%s: member %s is not in the central directory", file, m->name);
            break;
        }
        if (i == m->index) {
            lho = zipc_cd_lho(e, cd + cd_size);
            break;
        }
        e += ZIP_CDH_SIZE + r2d_le16(e + 28) + r2d_le16(e + 30) + r2d_le16(e + 32);
    }
    free(cd);
    if (!rc)
        rc = r2d_bytesrc_read(ctx, in, lho, lfh, sizeof(lfh), "ZIP local header");
    R2D_CHECK(!rc && memcmp(lfh, "PK\3\4", 4) != 0, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": no local header for member %s", file, lho, m->name);
    if (rc)
        return rc;
    m->data_off = lho + ZIP_LFH_SIZE + r2d_le16(lfh + 26) + r2d_le16(lfh + 28);
    R2D_CHECK(m->data_off > r2d_bytesrc_size(in) || m->comp_size > r2d_bytesrc_size(in) - m->data_off, ctx,
              R2D_ETRUNC,
              "%s: member %s: 0x%" PRIx64 " compressed bytes at offset 0x%" PRIx64 " run past end of file",
              file, m->name, m->comp_size, m->data_off);
    return 0;
}

/* --- the member's bytes --- */

static int
zipc_read(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, uint64_t off, void *buf, size_t len, const char *what)
{
    struct zipc_src *s = r2d_bytesrc_priv(bs);

    return s->z ? r2d_inflate_read(ctx, s->z, off, buf, len)
                : r2d_bytesrc_read(ctx, s->in, s->data_off + off, buf, len, what);
}

static void
zipc_close(struct r2d_bytesrc *bs)
{
    struct zipc_src *s = r2d_bytesrc_priv(bs);

    if (s)
        r2d_inflate_free(s->z);
    free(s);
}

static const struct r2d_bytesrc_ops zipc_ops = {
    .kind = "zip",
    .read = zipc_read,
    .close = zipc_close,
};

/* Sizes first: a stored member is its compressed bytes; deflate cannot beat 1032:1. */
static int
zipc_check_sizes(struct r2d_ctx *ctx, const char *file, const struct zipc_member *m)
{
    R2D_CHECK(m->method != ZIP_CM_STORE && m->method != ZIP_CM_DEFLATE, ctx, R2D_EUNSUPPORTED,
              "%s: member %s uses compression method %u: only stored (0) and deflate (8) are supported", file,
              m->name, m->method);
    R2D_CHECK(m->method == ZIP_CM_STORE && m->size != m->comp_size, ctx, R2D_EFORMAT,
              "%s: stored member %s declares 0x%" PRIx64 " bytes but holds 0x%" PRIx64, file, m->name,
              m->size, m->comp_size);
    R2D_CHECK(m->method == ZIP_CM_DEFLATE && m->size / ZIP_DEFLATE_MAX_RATIO > m->comp_size, ctx, R2D_EFORMAT,
              "%s: member %s declares 0x%" PRIx64 " bytes from 0x%" PRIx64
              " deflated: more than deflate's %u:1 "
              "(a ZIP bomb?)",
              file, m->name, m->size, m->comp_size, ZIP_DEFLATE_MAX_RATIO);
    return 0;
}

/* Inflate the member once: its CRC-32 and exact size checked, restart points saved. */
static int
zipc_open_deflate(struct r2d_ctx *ctx, struct zipc_src *s, const char *file, const struct zipc_member *m)
{
    char what[300];
    struct r2d_inflate_params p = {.in = s->in,
                                   .name = file,
                                   .what = what,
                                   .in_start = m->data_off,
                                   .in_end = m->data_off + m->comp_size,
                                   .wrap = R2D_INFLATE_RAW,
                                   .max_out = m->size ? m->size : 1,
                                   .want_crc = 1};
    struct r2d_inflate_info info;
    int rc;

    snprintf(what, sizeof(what), "deflate data of member %s", m->name);
    rc = r2d_inflate_open(ctx, &p, &s->z);
    if (rc)
        return rc;
    r2d_inflate_get_info(s->z, &info);
    R2D_CHECK(info.out_size != m->size, ctx, R2D_EFORMAT,
              "%s: member %s inflates to 0x%" PRIx64 " bytes, its central directory says 0x%" PRIx64, file,
              m->name, info.out_size, m->size);
    R2D_CHECK(info.crc != m->crc, ctx, R2D_EFORMAT,
              "%s: member %s: CRC-32 mismatch (stored %08" PRIx32 ", data %08" PRIx32 ")", file, m->name,
              m->crc, info.crc);
    return 0;
}

/* The CRC-32 of a stored member, read through once. */
static int
zipc_verify_stored(struct r2d_ctx *ctx, const struct zipc_src *s, const char *file,
                   const struct zipc_member *m)
{
    uint8_t *buf = malloc(ZIP_CHUNK);
    uLong crc = crc32(0, Z_NULL, 0);
    int rc = buf ? 0 : r2d_err(ctx, R2D_ENOMEM, "out of memory");

    for (uint64_t at = 0; !rc && at < m->size;) {
        const size_t n = m->size - at < ZIP_CHUNK ? (size_t)(m->size - at) : ZIP_CHUNK;

        rc = r2d_cancelled(ctx) ? r2d_err(ctx, R2D_ECANCELED, "%s: cancelled while verifying", file)
                                : r2d_bytesrc_read(ctx, s->in, s->data_off + at, buf, n, "ZIP member data");
        if (!rc)
            crc = crc32(crc, buf, (uInt)n);
        at += n;
    }
    free(buf);
    R2D_CHECK(!rc && (uint32_t)crc != m->crc, ctx, R2D_EFORMAT,
              "%s: member %s: CRC-32 mismatch (stored %08" PRIx32 ", data %08" PRIx32 ")", file, m->name,
              m->crc, (uint32_t)crc);
    return rc;
}

static int
zipc_describe(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, const struct zipc_src *s,
              const struct zipc_member *m, zip_int64_t members, int verified)
{
    struct r2d_bytesrc_digest d = {.alg = "crc32"};
    const uint8_t crc[4] = {(uint8_t)(m->crc >> 24), (uint8_t)(m->crc >> 16), (uint8_t)(m->crc >> 8),
                            (uint8_t)m->crc};
    struct r2d_inflate_info info;
    char v[300];
    int rc;

    if (s->z) {
        r2d_inflate_get_info(s->z, &info);
        snprintf(v, sizeof(v),
                 "deflated member: deflate index, %zu restart points, one per %" PRIu64 " MiB, %zu KiB",
                 info.points, info.spacing >> 20, (info.index_bytes + 1023) / 1024);
        d.state = R2D_DIGEST_MATCHED;
        d.how = "while indexing";
    } else {
        snprintf(v, sizeof(v), "stored member: a slice of the archive at offset 0x%" PRIx64, m->data_off);
        d.state = verified ? R2D_DIGEST_MATCHED : R2D_DIGEST_UNCHECKED;
        d.how = verified ? "--verify-container" : NULL;
    }
    rc = r2d_bytesrc_set_how(ctx, bs, v);
    if (!rc)
        rc = r2d_bytesrc_add_note(ctx, bs, "member", m->name);
    snprintf(v, sizeof(v), "%" PRId64, (int64_t)members);
    if (!rc)
        rc = r2d_bytesrc_add_note(ctx, bs, "members", v);
    snprintf(v, sizeof(v), "%s, 0x%" PRIx64 " bytes stored for 0x%" PRIx64, m->method ? "deflate" : "stored",
             m->comp_size, m->size);
    if (!rc)
        rc = r2d_bytesrc_add_note(ctx, bs, "compression", v);
    r2d_container_hex(crc, sizeof(crc), d.hex);
    return rc ? rc : r2d_bytesrc_add_digest(ctx, bs, &d, NULL);
}

/* Choose, locate and check the member; on success *name is the layer's name. */
static int
zipc_setup(struct r2d_ctx *ctx, zip_t *za, struct zipc_src *s, const struct r2d_container_opts *opts,
           struct zipc_member *m, char **name)
{
    const char *file = r2d_bytesrc_name(s->in);
    int rc = zipc_choose(ctx, za, file, opts->member, m);

    if (!rc)
        rc = zipc_check_sizes(ctx, file, m);
    if (!rc)
        rc = zipc_data_offset(ctx, s->in, m);
    if (!rc) {
        s->data_off = m->data_off;
        rc = m->method == ZIP_CM_DEFLATE ? zipc_open_deflate(ctx, s, file, m)
             : opts->verify              ? zipc_verify_stored(ctx, s, file, m)
                                         : 0;
    }
    if (!rc && !(*name = r2d_container_name(s->in, m->name)))
        rc = r2d_err(ctx, R2D_ENOMEM, "out of memory");
    return rc;
}

static int
zipc_open(struct r2d_ctx *ctx, struct r2d_bytesrc *below, const struct r2d_container_opts *opts,
          struct r2d_bytesrc **out)
{
    struct zipc_io io = {.ctx = ctx, .bs = below};
    struct zipc_src *s = calloc(1, sizeof(*s));
    struct zipc_member m = {0};
    zip_int64_t members = 0;
    char *name = NULL;
    zip_t *za = NULL;
    int rc = s ? zipc_open_archive(ctx, &io, &za) : r2d_err(ctx, R2D_ENOMEM, "out of memory");

    *out = NULL;
    if (s)
        s->in = below;
    if (!rc) {
        members = zip_get_num_entries(za, 0);
        rc = zipc_setup(ctx, za, s, opts, &m, &name);
    }
    if (!rc) {
        rc = r2d_bytesrc_new_layer(ctx, &zipc_ops, s, below, name, m.size, out);
        s = NULL;
        below = NULL;
    }
    if (!rc)
        rc = zipc_describe(ctx, *out, r2d_bytesrc_priv(*out), &m, members, opts->verify);
    if (za)
        zip_discard(za); /* m.name lives in it: after the layer copied it */
    free(name);
    if (s)
        r2d_inflate_free(s->z);
    free(s);
    r2d_bytesrc_close(below);
    if (rc) {
        r2d_bytesrc_close(*out);
        *out = NULL;
    }
    return rc;
}

const struct r2d_container_kind r2d_container_zip = {
    .name = "zip",
    .summary = "ZIP archive member (libzip): stored (a slice) or deflate (deflate index); --member picks one",
    .probe = r2d_probe_zip,
    .open = zipc_open,
};
