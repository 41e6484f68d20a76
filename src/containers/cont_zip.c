/* SPDX-License-Identifier: MIT */
/*
 * A memory image inside a ZIP archive (Info-ZIP, collection tools such as Velociraptor). libzip opens the
 * archive over the byte source below (its central directory and, with ZIP_CHECKCONS, every local header
 * checked against it) and lists the members; the member holding the image is the one of at least 1 MiB
 * (or the one given with --member). Its data is then read without libzip: a stored member is a slice of
 * the archive, a deflated one goes through the deflate index, which also checks its CRC-32 and that it
 * inflates to exactly its declared size (a ZIP bomb's lie ends the open). The archive itself (libzip over
 * the byte source, and the data offsets libzip does not expose) is zip_archive.c, shared with AFF4.
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
#include "zip_archive.h"

#define ZIP_CANDIDATE_MIN (1u << 20) /* members this large may be memory images */
#define ZIP_DEFLATE_MAX_RATIO 1032u  /* deflate's best: 258 bytes from 2 bits */
#define ZIP_CHUNK (1u << 20)

struct zipc_src {
    const struct r2d_bytesrc *in;
    uint64_t data_off;
    struct r2d_inflate *z; /* deflated members */
};

/* --- choosing the member --- */

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
zipc_choose(struct r2d_ctx *ctx, const struct r2d_zip *z, const char *file, const char *want,
            struct r2d_zip_member *m)
{
    zip_t *za = r2d_zip_handle(z);
    const zip_int64_t n = zip_get_num_entries(za, 0);
    zip_int64_t big = -1, any = -1, nbig = 0, nany = 0;
    char list[600];

    if (want) {
        const zip_int64_t i = zip_name_locate(za, want, 0);

        if (i < 0) {
            zipc_list(za, n, 0, list, sizeof(list));
            return r2d_err(ctx, R2D_ENOTFOUND, "%s: no member named %s (members: %s)", file, want, list);
        }
        return r2d_zip_member_at(ctx, z, (uint64_t)i, m);
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
    return r2d_zip_member_at(ctx, z, (uint64_t)(nbig ? big : any), m);
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
zipc_check_sizes(struct r2d_ctx *ctx, const char *file, const struct r2d_zip_member *m)
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
zipc_open_deflate(struct r2d_ctx *ctx, struct zipc_src *s, const char *file, const struct r2d_zip_member *m)
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
                   const struct r2d_zip_member *m)
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
              const struct r2d_zip_member *m, zip_int64_t members, int verified)
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
zipc_setup(struct r2d_ctx *ctx, const struct r2d_zip *z, struct zipc_src *s,
           const struct r2d_container_opts *opts, struct r2d_zip_member *m, char **name)
{
    const char *file = r2d_bytesrc_name(s->in);
    int rc = zipc_choose(ctx, z, file, opts->member, m);

    if (!rc)
        rc = zipc_check_sizes(ctx, file, m);
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
    struct zipc_src *s = calloc(1, sizeof(*s));
    struct r2d_zip_member m = {0};
    zip_int64_t members = 0;
    char *name = NULL;
    struct r2d_zip *z = NULL;
    int rc = s ? r2d_zip_open(ctx, below, &z) : r2d_err(ctx, R2D_ENOMEM, "out of memory");

    *out = NULL;
    if (s)
        s->in = below;
    if (!rc) {
        members = zip_get_num_entries(r2d_zip_handle(z), 0);
        rc = zipc_setup(ctx, z, s, opts, &m, &name);
    }
    if (!rc) {
        rc = r2d_bytesrc_new_layer(ctx, &zipc_ops, s, below, name, m.size, out);
        s = NULL;
        below = NULL;
    }
    if (!rc)
        rc = zipc_describe(ctx, *out, r2d_bytesrc_priv(*out), &m, members, opts->verify);
    r2d_zip_close(z); /* m.name lives in it: after the layer copied it */
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
