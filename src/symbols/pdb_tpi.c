/* SPDX-License-Identifier: MIT */
/* TPI stream: the header, the record index and struct/union names, record decoding
 * (docs/reference/symbols.md 4.7-4.8). Type queries are in pdb_tpi_types.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdb_tpi_priv.h"
#include "bytes.h"

/* TPI stream header (LLVM docs TpiStream.html; docs/reference/symbols.md 4.7). */
#define TPI_OFF_VERSION 0x00      /* u32 */
#define TPI_OFF_HEADER_SIZE 0x04  /* u32 */
#define TPI_OFF_TI_BEGIN 0x08     /* u32 */
#define TPI_OFF_TI_END 0x0C       /* u32 */
#define TPI_OFF_RECORD_BYTES 0x10 /* u32 */
#define TPI_HEADER_MIN 56
#define TPI_HEADER_MAX 1024 /* Vol3's sanity bound */
#define TPI_VERSION_V70 19990903u
#define TPI_VERSION_V80 20040203u

static uint64_t
tpi_file_off(const struct r2d_tpi *tpi, size_t stream_off)
{
    return r2d_msf_file_offset(tpi->msf, R2D_MSF_STREAM_TPI, stream_off);
}

int
r2d_tpi_is_udt(uint16_t kind)
{
    return kind == LF_CLASS || kind == LF_STRUCTURE || kind == LF_INTERFACE || kind == LF_UNION ||
           kind == LF_ENUM || kind == LF_CLASS_VS19 || kind == LF_STRUCTURE_VS19;
}

const char *
r2d_tpi_kind_name(uint16_t kind)
{
    switch (kind) {
    case LF_MODIFIER:
        return "LF_MODIFIER";
    case LF_POINTER:
        return "LF_POINTER";
    case LF_PROCEDURE:
        return "LF_PROCEDURE";
    case LF_MFUNCTION:
        return "LF_MFUNCTION";
    case LF_FIELDLIST:
        return "LF_FIELDLIST";
    case LF_BITFIELD:
        return "LF_BITFIELD";
    case LF_ARRAY:
        return "LF_ARRAY";
    case LF_CLASS:
        return "LF_CLASS";
    case LF_STRUCTURE:
        return "LF_STRUCTURE";
    case LF_UNION:
        return "LF_UNION";
    case LF_ENUM:
        return "LF_ENUM";
    case LF_INTERFACE:
        return "LF_INTERFACE";
    case LF_CLASS_VS19:
        return "LF_CLASS_VS19";
    case LF_STRUCTURE_VS19:
        return "LF_STRUCTURE_VS19";
    default:
        return "type record";
    }
}

/*
 * Numeric leaf at p (avail bytes): *val and *used. Returns 0, -1 when it runs past avail, -2 for a kind
 * that is not a non-negative integer (negative values, reals, strings: never a size or an offset).
 */
int
r2d_tpi_numeric(const uint8_t *p, size_t avail, uint64_t *val, size_t *used)
{
    uint16_t v;
    size_t n;
    int64_t s;

    if (avail < 2)
        return -1;
    v = r2d_le16(p);
    if (v < 0x8000) {
        *val = v;
        *used = 2;
        return 0;
    }
    switch (v) {
    case 0x8000:
        n = 1;
        break; /* LF_CHAR */
    case 0x8001:
    case 0x8002:
        n = 2;
        break; /* LF_SHORT, LF_USHORT */
    case 0x8003:
    case 0x8004:
        n = 4;
        break; /* LF_LONG, LF_ULONG */
    case 0x8009:
    case 0x800A:
        n = 8;
        break; /* LF_QUADWORD, LF_UQUADWORD */
    default:
        return -2;
    }
    if (avail - 2 < n)
        return -1;
    switch (v) {
    case 0x8000:
        s = (int8_t)p[2];
        break;
    case 0x8001:
        s = (int16_t)r2d_le16(p + 2);
        break;
    case 0x8002:
        s = r2d_le16(p + 2);
        break;
    case 0x8003:
        s = (int32_t)r2d_le32(p + 2);
        break;
    case 0x8004:
        s = r2d_le32(p + 2);
        break;
    case 0x8009:
        s = (int64_t)r2d_le64(p + 2);
        break;
    default:
        *val = r2d_le64(p + 2);
        *used = 2 + n;
        return 0;
    }
    if (s < 0)
        return -2;
    *val = (uint64_t)s;
    *used = 2 + n;
    return 0;
}

/* Length of the numeric leaf at p (any integer kind, signed or not), or 0 when unknown or past avail. */
size_t
r2d_tpi_numeric_len(const uint8_t *p, size_t avail)
{
    size_t n;

    if (avail < 2)
        return 0;
    switch (r2d_le16(p)) {
    case 0x8000:
        n = 1;
        break;
    case 0x8001:
    case 0x8002:
        n = 2;
        break;
    case 0x8003:
    case 0x8004:
        n = 4;
        break;
    case 0x8009:
    case 0x800A:
        n = 8;
        break;
    case 0x8017:
    case 0x8018:
        n = 16;
        break; /* LF_OCTWORD, LF_UOCTWORD */
    default:
        return r2d_le16(p) < 0x8000 ? 2 : 0;
    }
    return avail - 2 < n ? 0 : 2 + n;
}

/* NUL-terminated string at p within avail bytes: its length, or -1 when no NUL. */
long
r2d_tpi_strlen(const uint8_t *p, size_t avail)
{
    const uint8_t *z = memchr(p, 0, avail);

    return z ? (long)(z - p) : -1;
}

int
r2d_tpi_get(const struct r2d_tpi *tpi, uint32_t ti, struct tpi_rec *r)
{
    size_t off;

    if (ti < tpi->ti_begin || ti >= tpi->ti_end)
        return -1;
    off = tpi->offs[ti - tpi->ti_begin];
    r->ti = ti;
    r->kind = r2d_le16(tpi->buf + off + 2);
    r->p = tpi->buf + off + 4;
    r->n =
        (size_t)r2d_le16(tpi->buf + off) - 2; /* the index pass checked length >= 2 and within the stream */
    r->off = off + 4;
    return 0;
}

int
r2d_tpi_bad(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, const struct tpi_rec *r, size_t at, const char *what)
{
    return r2d_err(ctx, R2D_EFORMAT, "%s: offset 0x%" PRIx64 ": TPI record 0x%" PRIx32 " (%s 0x%04x): %s",
                   tpi->path, tpi_file_off(tpi, r->off + at), r->ti, r2d_tpi_kind_name(r->kind), r->kind, what);
}

/* Decode a struct/class/union/enum record (r2d_tpi_is_udt(r->kind)). */
int
r2d_tpi_parse_udt(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, const struct tpi_rec *r, struct tpi_udt *u)
{
    size_t pos, used = 0;
    long nl;
    int rc = 0;

    memset(u, 0, sizeof(*u));
    u->ti = r->ti;
    u->kind = r->kind;
    switch (r->kind) {
    case LF_CLASS:
    case LF_STRUCTURE:
    case LF_INTERFACE: /* u16 count, u16 property, u32 fields, u32 derived, u32 vshape, numeric size */
        if (r->n < 16)
            return r2d_tpi_bad(ctx, tpi, r, 0, "record too short");
        u->prop = r2d_le16(r->p + 2);
        u->fieldlist = r2d_le32(r->p + 4);
        rc = r2d_tpi_numeric(r->p + 16, r->n - 16, &u->size, &used);
        pos = 16 + used;
        break;
    case LF_UNION: /* u16 count, u16 property, u32 fields, numeric size */
        if (r->n < 8)
            return r2d_tpi_bad(ctx, tpi, r, 0, "record too short");
        u->prop = r2d_le16(r->p + 2);
        u->fieldlist = r2d_le32(r->p + 4);
        rc = r2d_tpi_numeric(r->p + 8, r->n - 8, &u->size, &used);
        pos = 8 + used;
        break;
    case LF_ENUM: /* u16 count, u16 property, u32 underlying type, u32 fields */
        if (r->n < 12)
            return r2d_tpi_bad(ctx, tpi, r, 0, "record too short");
        u->prop = r2d_le16(r->p + 2);
        u->utype = r2d_le32(r->p + 4);
        u->fieldlist = r2d_le32(r->p + 8);
        pos = 12;
        break;
    default:
        /*
         * LF_CLASS_VS19 / LF_STRUCTURE_VS19 (VS2019 16.8+, not in cvinfo.h): u32 property (low 16 bits as
         * before), u32 fields, u32 derived, u32 vshape, numeric member count, numeric size, name, [unique
         * name] -- microsoft/microsoft-pdb issue #50, PascalBeyer/PDB-Documentation. Volatility 3 reads the
         * count as a u16 and the size at +18, which agrees while the count is below 0x8000. [unverified]
         */
        if (r->n < 16)
            return r2d_tpi_bad(ctx, tpi, r, 0, "record too short");
        u->prop = r2d_le16(r->p);
        u->fieldlist = r2d_le32(r->p + 4);
        rc = r2d_tpi_numeric(r->p + 16, r->n - 16, &u->size, &used); /* the count, then the size */
        pos = 16 + used;
        if (rc == 0) {
            rc = r2d_tpi_numeric(r->p + pos, r->n - pos, &u->size, &used);
            pos += used;
        }
        break;
    }
    if (rc)
        return r2d_tpi_bad(ctx, tpi, r, pos,
                       rc == -1 ? "size runs past the record" : "size is not a non-negative integer leaf");
    nl = r2d_tpi_strlen(r->p + pos, r->n - pos);
    if (nl < 0)
        return r2d_tpi_bad(ctx, tpi, r, pos, "name is not NUL-terminated inside the record");
    u->name = (const char *)r->p + pos;
    u->name_len = (size_t)nl;
    pos += (size_t)nl + 1;
    if (u->prop & PROP_HAS_UNIQUE) {
        nl = r2d_tpi_strlen(r->p + pos, r->n - pos);
        if (nl < 0)
            return r2d_tpi_bad(ctx, tpi, r, pos, "unique name is not NUL-terminated inside the record");
        u->uname = (const char *)r->p + pos;
        u->uname_len = (size_t)nl;
    }
    return 0;
}

static int
tpi_check_header(struct r2d_ctx *ctx, struct r2d_tpi *tpi, uint32_t *hdr_size, uint32_t *rec_bytes)
{
    const uint64_t at = tpi_file_off(tpi, 0);
    uint32_t version, count;

    R2D_CHECK(tpi->len < TPI_HEADER_MIN, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": TPI stream of %zu bytes is shorter than its header (56 bytes)",
              tpi->path, at, tpi->len);
    version = r2d_le32(tpi->buf + TPI_OFF_VERSION);
    *hdr_size = r2d_le32(tpi->buf + TPI_OFF_HEADER_SIZE);
    tpi->ti_begin = r2d_le32(tpi->buf + TPI_OFF_TI_BEGIN);
    tpi->ti_end = r2d_le32(tpi->buf + TPI_OFF_TI_END);
    *rec_bytes = r2d_le32(tpi->buf + TPI_OFF_RECORD_BYTES);
    R2D_CHECK(version != TPI_VERSION_V80 && version != TPI_VERSION_V70, ctx, R2D_EUNSUPPORTED,
              "%s: offset 0x%" PRIx64 ": TPI version %" PRIu32 " is not supported (20040203 or 19990903)",
              tpi->path, at, version);
    R2D_CHECK(*hdr_size < TPI_HEADER_MIN || *hdr_size >= TPI_HEADER_MAX || *hdr_size > tpi->len, ctx,
              R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": TPI header size %" PRIu32 " is not within [56, 1024) and "
              "the stream (%zu bytes)",
              tpi->path, at, *hdr_size, tpi->len);
    R2D_CHECK(tpi->ti_begin < TPI_FIRST_INDEX || tpi->ti_end < tpi->ti_begin, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": TPI type index range 0x%" PRIx32 "-0x%" PRIx32 " is invalid",
              tpi->path, at, tpi->ti_begin, tpi->ti_end);
    count = tpi->ti_end - tpi->ti_begin;
    R2D_CHECK(count > R2D_TPI_MAX_TYPES, ctx, R2D_EUNSUPPORTED,
              "%s: offset 0x%" PRIx64 ": %" PRIu32 " type records, more than the limit of %u", tpi->path, at,
              count, R2D_TPI_MAX_TYPES);
    R2D_CHECK(*rec_bytes > tpi->len - *hdr_size, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": TPI record bytes 0x%" PRIx32
              " run past the stream end (0x%zx bytes after the header)",
              tpi->path, at, *rec_bytes, tpi->len - *hdr_size);
    R2D_CHECK(count > *rec_bytes / 4, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": %" PRIu32 " type records cannot fit in 0x%" PRIx32 " bytes",
              tpi->path, at, count, *rec_bytes);
    return 0;
}

/* Hash a struct/class/union/enum record's names (definitions by name and unique name, forward refs by name).
 */
static int
tpi_index_udt(struct r2d_ctx *ctx, struct r2d_tpi *tpi, const struct tpi_rec *r)
{
    struct tpi_udt u;
    const int rc = r2d_tpi_parse_udt(ctx, tpi, r, &u);
    int def;

    if (rc)
        return rc;
    def = !(u.prop & PROP_FWDREF);
    if (r2d_pdb_names_put(&tpi->by_name, u.name, u.name_len, u.ti, def ? TPI_PRIO_DEF : TPI_PRIO_FWD) ||
        (def && u.uname && r2d_pdb_names_put(&tpi->by_unique, u.uname, u.uname_len, u.ti, TPI_PRIO_DEF)))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory indexing types", tpi->path);
    return 0;
}

/* One pass over the records: offsets by type index, and the name tables. */
static int
tpi_index(struct r2d_ctx *ctx, struct r2d_tpi *tpi)
{
    uint32_t hdr_size = 0, rec_bytes = 0, count, k = 0;
    size_t pos, end;
    int rc = tpi_check_header(ctx, tpi, &hdr_size, &rec_bytes);

    if (rc)
        return rc;
    count = tpi->ti_end - tpi->ti_begin;
    tpi->offs = malloc((size_t)(count ? count : 1) * sizeof(*tpi->offs));
    if (!tpi->offs || r2d_pdb_names_init(&tpi->by_name, count / 4 + 16) ||
        r2d_pdb_names_init(&tpi->by_unique, count / 4 + 16))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for %" PRIu32 " type records", tpi->path, count);
    pos = hdr_size;
    end = (size_t)hdr_size + rec_bytes;
    while (pos < end) {
        struct tpi_rec r = {0};
        uint16_t len;

        R2D_CHECK(end - pos < 4, ctx, R2D_ETRUNC,
                  "%s: offset 0x%" PRIx64 ": TPI record 0x%" PRIx32 " header runs past the records' end",
                  tpi->path, tpi_file_off(tpi, pos), tpi->ti_begin + k);
        len = r2d_le16(tpi->buf + pos);
        R2D_CHECK(len < 2 || len > end - pos - 2, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": TPI record 0x%" PRIx32 " length %" PRIu16 " is %s", tpi->path,
                  tpi_file_off(tpi, pos), tpi->ti_begin + k, len,
                  len < 2 ? "too small" : "past the records' end");
        R2D_CHECK(k >= count, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": more TPI records than the %" PRIu32 " the header declares",
                  tpi->path, tpi_file_off(tpi, pos), count);
        tpi->offs[k] = (uint32_t)pos;
        r2d_tpi_get(tpi, tpi->ti_begin + k, &r);
        if (r2d_tpi_is_udt(r.kind) && (rc = tpi_index_udt(ctx, tpi, &r)) != 0)
            return rc;
        pos += (size_t)len + 2;
        k++;
    }
    R2D_CHECK(k != count, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": TPI header declares %" PRIu32
              " type records, the stream holds %" PRIu32,
              tpi->path, tpi_file_off(tpi, 0), count, k);
    return 0;
}

int
r2d_tpi_open(struct r2d_ctx *ctx, const struct r2d_msf *msf, struct r2d_tpi **out)
{
    struct r2d_tpi *tpi = calloc(1, sizeof(*tpi));
    int rc;

    *out = NULL;
    R2D_CHECK(!tpi, ctx, R2D_ENOMEM, "%s: out of memory", r2d_msf_path(msf));
    tpi->msf = msf;
    tpi->path = r2d_msf_path(msf);
    rc = r2d_msf_read_stream(ctx, msf, R2D_MSF_STREAM_TPI, "TPI", &tpi->buf, &tpi->len);
    if (rc == 0)
        rc = tpi_index(ctx, tpi);
    if (rc) {
        r2d_tpi_free(tpi);
        return rc;
    }
    *out = tpi;
    return 0;
}

void
r2d_tpi_free(struct r2d_tpi *tpi)
{
    if (!tpi)
        return;
    r2d_pdb_names_free(&tpi->by_name);
    r2d_pdb_names_free(&tpi->by_unique);
    free(tpi->offs);
    free(tpi->buf);
    free(tpi);
}

uint32_t
r2d_tpi_num_records(const struct r2d_tpi *tpi)
{
    return tpi->ti_end - tpi->ti_begin;
}

