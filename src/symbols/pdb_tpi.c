/* SPDX-License-Identifier: MIT */
/* TPI stream: type records by index, struct/union names, type sizes, field offsets
 * (docs/reference/symbols.md 4.7-4.8). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdb.h"
#include "pdb_tpi.h"
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
#define TPI_FIRST_INDEX 0x1000u

/* Leaf kinds (cvinfo.h LEAF_ENUM_e). */
#define LF_MODIFIER 0x1001
#define LF_POINTER 0x1002
#define LF_PROCEDURE 0x1008
#define LF_MFUNCTION 0x1009
#define LF_FIELDLIST 0x1203
#define LF_BITFIELD 0x1205
#define LF_BCLASS 0x1400
#define LF_VBCLASS 0x1401
#define LF_IVBCLASS 0x1402
#define LF_INDEX 0x1404
#define LF_VFUNCTAB 0x1409
#define LF_ENUMERATE 0x1502
#define LF_ARRAY 0x1503
#define LF_CLASS 0x1504
#define LF_STRUCTURE 0x1505
#define LF_UNION 0x1506
#define LF_ENUM 0x1507
#define LF_MEMBER 0x150D
#define LF_STMEMBER 0x150E
#define LF_METHOD 0x150F
#define LF_NESTTYPE 0x1510
#define LF_ONEMETHOD 0x1511
#define LF_NESTTYPEEX 0x1512
#define LF_INTERFACE 0x1519
#define LF_CLASS_VS19 0x1608
#define LF_STRUCTURE_VS19 0x1609

/* Property bits of struct/class/union/enum records. */
#define PROP_FWDREF 0x0080
#define PROP_HAS_UNIQUE 0x0200

/* Name-table priorities: a definition replaces a forward reference, never an earlier definition. */
#define TPI_PRIO_FWD 1
#define TPI_PRIO_DEF 2

struct r2d_tpi {
    const struct r2d_msf *msf;
    const char *path;
    uint8_t *buf; /* the whole stream */
    size_t len;
    uint32_t ti_begin, ti_end;
    uint32_t *offs;                 /* [ti_end - ti_begin]: stream offset of each record's u16 length */
    struct r2d_pdb_names by_name;   /* struct/class/union/enum name -> first definition (or forward ref) */
    struct r2d_pdb_names by_unique; /* unique (decorated) name -> first definition */
};

/* A record: kind and payload (the bytes after the kind). */
struct tpi_rec {
    uint32_t ti;
    uint16_t kind;
    const uint8_t *p;
    size_t n;
    size_t off; /* stream offset of the payload, for messages */
};

/* A struct, class, union or enum record, decoded. */
struct tpi_udt {
    uint32_t ti;
    uint16_t kind;
    uint16_t prop;
    uint32_t fieldlist;
    uint32_t utype; /* enums: underlying type */
    uint64_t size;  /* not for enums */
    const char *name;
    size_t name_len;
    const char *uname; /* NULL unless PROP_HAS_UNIQUE */
    size_t uname_len;
};

/* One LF_MEMBER of a field list. */
struct tpi_member {
    const char *name;
    size_t name_len;
    uint32_t type;
    uint64_t offset;
};

/* Called for each LF_MEMBER; returns 1 to stop the walk, 0 to go on. */
typedef int (*tpi_member_fn)(void *arg, const struct tpi_member *m);

static uint64_t
tpi_file_off(const struct r2d_tpi *tpi, size_t stream_off)
{
    return r2d_msf_file_offset(tpi->msf, R2D_MSF_STREAM_TPI, stream_off);
}

static int
tpi_is_udt(uint16_t kind)
{
    return kind == LF_CLASS || kind == LF_STRUCTURE || kind == LF_INTERFACE || kind == LF_UNION ||
           kind == LF_ENUM || kind == LF_CLASS_VS19 || kind == LF_STRUCTURE_VS19;
}

static const char *
tpi_kind_name(uint16_t kind)
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
static int
tpi_numeric(const uint8_t *p, size_t avail, uint64_t *val, size_t *used)
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
static size_t
tpi_numeric_len(const uint8_t *p, size_t avail)
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
static long
tpi_strlen(const uint8_t *p, size_t avail)
{
    const uint8_t *z = memchr(p, 0, avail);

    return z ? (long)(z - p) : -1;
}

static int
tpi_get(const struct r2d_tpi *tpi, uint32_t ti, struct tpi_rec *r)
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

static int
tpi_bad(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, const struct tpi_rec *r, size_t at, const char *what)
{
    return r2d_err(ctx, R2D_EFORMAT, "%s: offset 0x%" PRIx64 ": TPI record 0x%" PRIx32 " (%s 0x%04x): %s",
                   tpi->path, tpi_file_off(tpi, r->off + at), r->ti, tpi_kind_name(r->kind), r->kind, what);
}

/* Decode a struct/class/union/enum record (tpi_is_udt(r->kind)). */
static int
tpi_parse_udt(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, const struct tpi_rec *r, struct tpi_udt *u)
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
            return tpi_bad(ctx, tpi, r, 0, "record too short");
        u->prop = r2d_le16(r->p + 2);
        u->fieldlist = r2d_le32(r->p + 4);
        rc = tpi_numeric(r->p + 16, r->n - 16, &u->size, &used);
        pos = 16 + used;
        break;
    case LF_UNION: /* u16 count, u16 property, u32 fields, numeric size */
        if (r->n < 8)
            return tpi_bad(ctx, tpi, r, 0, "record too short");
        u->prop = r2d_le16(r->p + 2);
        u->fieldlist = r2d_le32(r->p + 4);
        rc = tpi_numeric(r->p + 8, r->n - 8, &u->size, &used);
        pos = 8 + used;
        break;
    case LF_ENUM: /* u16 count, u16 property, u32 underlying type, u32 fields */
        if (r->n < 12)
            return tpi_bad(ctx, tpi, r, 0, "record too short");
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
            return tpi_bad(ctx, tpi, r, 0, "record too short");
        u->prop = r2d_le16(r->p);
        u->fieldlist = r2d_le32(r->p + 4);
        rc = tpi_numeric(r->p + 16, r->n - 16, &u->size, &used); /* the count, then the size */
        pos = 16 + used;
        if (rc == 0) {
            rc = tpi_numeric(r->p + pos, r->n - pos, &u->size, &used);
            pos += used;
        }
        break;
    }
    if (rc)
        return tpi_bad(ctx, tpi, r, pos,
                       rc == -1 ? "size runs past the record" : "size is not a non-negative integer leaf");
    nl = tpi_strlen(r->p + pos, r->n - pos);
    if (nl < 0)
        return tpi_bad(ctx, tpi, r, pos, "name is not NUL-terminated inside the record");
    u->name = (const char *)r->p + pos;
    u->name_len = (size_t)nl;
    pos += (size_t)nl + 1;
    if (u->prop & PROP_HAS_UNIQUE) {
        nl = tpi_strlen(r->p + pos, r->n - pos);
        if (nl < 0)
            return tpi_bad(ctx, tpi, r, pos, "unique name is not NUL-terminated inside the record");
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
    const int rc = tpi_parse_udt(ctx, tpi, r, &u);
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
        tpi_get(tpi, tpi->ti_begin + k, &r);
        if (tpi_is_udt(r.kind) && (rc = tpi_index_udt(ctx, tpi, &r)) != 0)
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

/* A type index named by a record (member type, modifier target) that no record has: the file is corrupt. */
static int
tpi_bad_index(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, uint32_t ti)
{
    return r2d_err(ctx, R2D_EFORMAT,
                   "%s: type index 0x%" PRIx32 " is outside the TPI range 0x%" PRIx32 "-0x%" PRIx32,
                   tpi->path, ti, tpi->ti_begin, tpi->ti_end);
}

/*
 * Follow LF_MODIFIER and forward references from ti to a struct/class/union/enum definition. Returns 0 and
 * *u, 1 when ti is some other type (*kind set: 0 for a simple type), or an error.
 */
static int
tpi_resolve(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, uint32_t ti, struct tpi_udt *u, uint16_t *kind)
{
    for (int hop = 0; hop < R2D_TPI_MAX_TYPE_CHAIN; hop++) {
        const struct r2d_pdb_name_ent *e;
        struct tpi_rec r;
        int rc;

        *kind = 0;
        if (ti < tpi->ti_begin)
            return 1;
        if (tpi_get(tpi, ti, &r))
            return tpi_bad_index(ctx, tpi, ti);
        *kind = r.kind;
        if (r.kind == LF_MODIFIER) {
            if (r.n < 4)
                return tpi_bad(ctx, tpi, &r, 0, "record too short");
            ti = r2d_le32(r.p);
            continue;
        }
        if (!tpi_is_udt(r.kind))
            return 1;
        if ((rc = tpi_parse_udt(ctx, tpi, &r, u)) != 0)
            return rc;
        if (!(u->prop & PROP_FWDREF))
            return 0;
        e = u->uname ? r2d_pdb_names_get(&tpi->by_unique, u->uname, u->uname_len) : NULL;
        if (!e) {
            e = r2d_pdb_names_get(&tpi->by_name, u->name, u->name_len);
            if (e && e->prio != TPI_PRIO_DEF)
                e = NULL;
        }
        if (!e)
            return r2d_err(ctx, R2D_ENOTFOUND,
                           "%s: type '%.*s' (0x%" PRIx32 ") is only a forward reference, "
                           "its definition is not in the PDB",
                           tpi->path, (int)u->name_len, u->name, ti);
        ti = (uint32_t)e->value;
    }
    return r2d_err(ctx, R2D_EFORMAT,
                   "%s: type 0x%" PRIx32 ": more than %d LF_MODIFIER / forward reference hops", tpi->path, ti,
                   R2D_TPI_MAX_TYPE_CHAIN);
}

/*
 * Skip one field-list sub-record of kind sub whose payload (after the u16 kind) is p[0..n). Returns the
 * payload's length, or 0 when malformed or of an unknown kind. Fills *m for LF_MEMBER, *next for LF_INDEX.
 */
static size_t
tpi_skip_sub(uint16_t sub, const uint8_t *p, size_t n, struct tpi_member *m, uint32_t *next)
{
    size_t pos, used = 0;
    uint64_t v;
    long nl;

    switch (sub) {
    case LF_MEMBER: /* u16 attr, u32 type, numeric offset, name */
        if (n < 6 || tpi_numeric(p + 6, n - 6, &v, &used))
            return 0;
        m->type = r2d_le32(p + 2);
        m->offset = v;
        pos = 6 + used;
        break;
    case LF_ENUMERATE: /* u16 attr, numeric value (any integer kind, may be negative), name */
        if (n < 2 || (used = tpi_numeric_len(p + 2, n - 2)) == 0)
            return 0;
        pos = 2 + used;
        break;
    case LF_NESTTYPE:   /* u16 pad, u32 type, name */
    case LF_NESTTYPEEX: /* u16 attr, u32 type, name */
    case LF_STMEMBER:   /* u16 attr, u32 type, name */
        pos = 6;
        break;
    case LF_METHOD: /* u16 count, u32 method list, name */
        pos = 6;
        break;
    case LF_ONEMETHOD: /* u16 attr, u32 type, [u32 vbase offset when introducing virtual], name */
        if (n < 2)
            return 0;
        pos = ((r2d_le16(p) >> 2) & 7) == 4 || ((r2d_le16(p) >> 2) & 7) == 6 ? 10 : 6;
        break;
    case LF_BCLASS: /* u16 attr, u32 type, numeric offset; no name */
        if (n < 6 || tpi_numeric(p + 6, n - 6, &v, &used))
            return 0;
        return 6 + used;
    case LF_VBCLASS:
    case LF_IVBCLASS: { /* u16 attr, u32 base, u32 vbptr type, numeric vbp offset, numeric vtable index */
        size_t used2 = 0;
        if (n < 10 || tpi_numeric(p + 10, n - 10, &v, &used) ||
            tpi_numeric(p + 10 + used, n - 10 - used, &v, &used2))
            return 0;
        return 10 + used + used2;
    }
    case LF_VFUNCTAB: /* u16 pad, u32 type */
        return n < 6 ? 0 : 6;
    case LF_INDEX: /* u16 pad, u32 continuation */
        if (n < 6)
            return 0;
        *next = r2d_le32(p + 2);
        return 6;
    default:
        return 0;
    }
    if (pos > n || (nl = tpi_strlen(p + pos, n - pos)) < 0)
        return 0;
    if (sub == LF_MEMBER) {
        m->name = (const char *)p + pos;
        m->name_len = (size_t)nl;
    }
    return pos + (size_t)nl + 1;
}

/*
 * Call fn for each LF_MEMBER of the field list fl, following LF_INDEX continuations (at most
 * R2D_TPI_MAX_INDEX_CHAIN). *stopped is set when fn returned 1. owner names the type in messages.
 */
static int
tpi_walk_fields(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, const struct tpi_udt *owner, tpi_member_fn fn,
                void *arg, int *stopped, unsigned *budget)
{
    uint32_t fl = owner->fieldlist;

    *stopped = 0;
    for (int hops = 0; fl != 0; hops++) {
        struct tpi_rec r;
        uint32_t next = 0;
        size_t pos = 0;

        if (hops > R2D_TPI_MAX_INDEX_CHAIN)
            return r2d_err(ctx, R2D_EFORMAT,
                           "%s: field list of type '%.*s' (0x%" PRIx32 "): LF_INDEX chain longer "
                           "than %d continuations (a cycle?)",
                           tpi->path, (int)owner->name_len, owner->name, owner->ti, R2D_TPI_MAX_INDEX_CHAIN);
        if (*budget == 0)
            return r2d_err(ctx, R2D_EFORMAT,
                           "%s: type '%.*s' (0x%" PRIx32 "): the lookup visits more than %d field "
                           "lists (nameless members nested in a loop?)",
                           tpi->path, (int)owner->name_len, owner->name, owner->ti, R2D_TPI_MAX_WALK);
        --*budget;
        if (tpi_get(tpi, fl, &r))
            return r2d_err(ctx, R2D_EFORMAT,
                           "%s: field list of type '%.*s' (0x%" PRIx32 "): %s 0x%" PRIx32
                           " is outside the TPI range 0x%" PRIx32 "-0x%" PRIx32,
                           tpi->path, (int)owner->name_len, owner->name, owner->ti,
                           hops ? "LF_INDEX continuation" : "field list index", fl, tpi->ti_begin,
                           tpi->ti_end);
        if (r.kind != LF_FIELDLIST)
            return tpi_bad(ctx, tpi, &r, 0, "expected an LF_FIELDLIST (0x1203)");
        while (pos < r.n) {
            struct tpi_member m = {0};
            uint16_t sub;
            size_t used;

            if (r.p[pos] >= 0xF0) { /* LF_PAD0..LF_PAD15 */
                pos++;
                continue;
            }
            if (r.n - pos < 2)
                return tpi_bad(ctx, tpi, &r, pos, "truncated field-list entry");
            sub = r2d_le16(r.p + pos);
            used = tpi_skip_sub(sub, r.p + pos + 2, r.n - pos - 2, &m, &next);
            if (used == 0) {
                char what[80];
                snprintf(what, sizeof(what), "%s field-list entry of kind 0x%04x",
                         sub == LF_MEMBER || sub == LF_INDEX || sub == LF_ENUMERATE ? "malformed" : "unknown",
                         sub);
                return tpi_bad(ctx, tpi, &r, pos, what);
            }
            pos += 2 + used;
            if (sub == LF_MEMBER && fn(arg, &m)) {
                *stopped = 1;
                return 0;
            }
        }
        fl = next;
    }
    return 0;
}

struct tpi_find {
    const char *name;
    size_t len;
    struct tpi_member hit;
};

static int
tpi_find_cb(void *arg, const struct tpi_member *m)
{
    struct tpi_find *f = arg;

    if (m->name_len == f->len && memcmp(m->name, f->name, f->len) == 0) {
        f->hit = *m;
        return 1;
    }
    return 0;
}

static int tpi_find_member(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, const struct tpi_udt *u,
                           const char *name, size_t len, int depth, unsigned *budget, struct tpi_member *out);

/* Descent into nameless members: the walk state for one level. */
struct tpi_anon {
    struct r2d_ctx *ctx;
    const struct r2d_tpi *tpi;
    const char *name;
    size_t len;
    int depth;
    unsigned *budget;
    int rc; /* error from a nested lookup (stops the walk) */
    struct tpi_member hit;
};

static int
tpi_anon_cb(void *arg, const struct tpi_member *m)
{
    struct tpi_anon *a = arg;
    struct tpi_member inner;
    struct tpi_udt u;
    uint16_t kind;
    int rc;

    if (m->name_len != 0)
        return 0;
    rc = tpi_resolve(a->ctx, a->tpi, m->type, &u, &kind);
    if (rc == 1 || (rc == 0 && u.kind == LF_ENUM))
        return 0;
    if (rc == 0)
        rc = tpi_find_member(a->ctx, a->tpi, &u, a->name, a->len, a->depth + 1, a->budget, &inner);
    if (rc == R2D_ENOTFOUND)
        return 0;
    a->rc = rc;
    if (rc == 0) {
        a->hit = inner;
        a->hit.offset += m->offset;
    }
    return 1;
}

/*
 * Find member name in definition u: first among its own members, then inside nameless struct/union members
 * (compilers that do not flatten anonymous unions). R2D_ENOTFOUND (message set) when absent.
 */
static int
tpi_find_member(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, const struct tpi_udt *u, const char *name,
                size_t len, int depth, unsigned *budget, struct tpi_member *out)
{
    struct tpi_find f = {.name = name, .len = len};
    struct tpi_anon a = {.ctx = ctx, .tpi = tpi, .name = name, .len = len, .depth = depth, .budget = budget};
    int stopped, rc;

    if (depth >= R2D_TPI_MAX_PATH_DEPTH)
        return r2d_err(ctx, R2D_EFORMAT,
                       "%s: type '%.*s' (0x%" PRIx32 "): nameless members nested deeper than %d", tpi->path,
                       (int)u->name_len, u->name, u->ti, R2D_TPI_MAX_PATH_DEPTH);
    rc = tpi_walk_fields(ctx, tpi, u, tpi_find_cb, &f, &stopped, budget);
    if (rc)
        return rc;
    if (stopped) {
        *out = f.hit;
        return 0;
    }
    rc = tpi_walk_fields(ctx, tpi, u, tpi_anon_cb, &a, &stopped, budget);
    if (rc)
        return rc;
    if (stopped && a.rc)
        return a.rc;
    if (stopped) {
        *out = a.hit;
        return 0;
    }
    return r2d_err(ctx, R2D_ENOTFOUND, "%s: '%.*s' has no field '%.*s'", tpi->path, (int)u->name_len, u->name,
                   (int)len, name);
}

/* The definition named name (struct/class/union/enum). */
static int
tpi_lookup(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, const char *name, struct tpi_udt *u)
{
    const size_t len = strlen(name);
    const struct r2d_pdb_name_ent *e;
    struct tpi_rec r;

    R2D_CHECK(len == 0 || len > R2D_PDB_MAX_NAME, ctx, R2D_ENOTFOUND,
              "%s: type name of %zu bytes is not valid", tpi->path, len);
    e = r2d_pdb_names_get(&tpi->by_name, name, len);
    R2D_CHECK(!e, ctx, R2D_ENOTFOUND, "%s: type '%s' not found", tpi->path, name);
    R2D_CHECK(e->prio != TPI_PRIO_DEF, ctx, R2D_ENOTFOUND,
              "%s: type '%s' is only a forward reference, its definition is not in the PDB", tpi->path, name);
    tpi_get(tpi, (uint32_t)e->value, &r);
    return tpi_parse_udt(ctx, tpi, &r, u);
}

static int
tpi_simple_size(uint32_t ti, uint64_t *size)
{
    static const struct {
        uint8_t kind, size;
    } sizes[] = {
        {0x03, 0},  {0x08, 4},  {0x10, 1},  {0x20, 1}, {0x68, 1}, {0x69, 1}, {0x70, 1}, {0x71, 2},
        {0x7a, 2},  {0x7b, 4},  {0x7c, 1},  {0x11, 2}, {0x21, 2}, {0x72, 2}, {0x73, 2}, {0x12, 4},
        {0x22, 4},  {0x74, 4},  {0x75, 4},  {0x13, 8}, {0x23, 8}, {0x76, 8}, {0x77, 8}, {0x14, 16},
        {0x24, 16}, {0x78, 16}, {0x79, 16}, {0x30, 1}, {0x31, 2}, {0x32, 4}, {0x33, 8}, {0x40, 4},
        {0x41, 8},  {0x42, 10}, {0x43, 16}, {0x44, 6}, {0x45, 4}, {0x46, 2},
    };
    /* Mode bits 8-11: 0 direct, 1 near 16-bit, 2 far 16:16, 3 huge, 4 32-bit, 5 16:32, 6 64-bit, 7 128. */
    static const uint8_t ptr_sizes[8] = {0, 2, 4, 4, 4, 6, 8, 16};
    const uint32_t mode = (ti >> 8) & 0xF;

    if (ti >= TPI_FIRST_INDEX || mode > 7)
        return -1;
    if (mode) {
        *size = ptr_sizes[mode];
        return 0;
    }
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        if (sizes[i].kind == (ti & 0xFF)) {
            *size = sizes[i].size;
            return 0;
        }
    return -1;
}

int
r2d_tpi_index_size(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, uint32_t ti, uint64_t *size)
{
    for (int hop = 0; hop < R2D_TPI_MAX_TYPE_CHAIN; hop++) {
        struct tpi_rec r;
        struct tpi_udt u;
        uint64_t v;
        size_t used;
        uint16_t kind;
        int rc;

        if (ti < TPI_FIRST_INDEX) {
            R2D_CHECK(tpi_simple_size(ti, size), ctx, R2D_ENOTFOUND,
                      "%s: simple type 0x%04" PRIx32 " has no known size", tpi->path, ti);
            return 0;
        }
        R2D_CHECK(tpi_get(tpi, ti, &r), ctx, R2D_ENOTFOUND,
                  "%s: type index 0x%" PRIx32 " is outside the TPI range 0x%" PRIx32 "-0x%" PRIx32, tpi->path,
                  ti, tpi->ti_begin, tpi->ti_end);
        switch (r.kind) {
        case LF_MODIFIER:
        case LF_BITFIELD:
            if (r.n < 4)
                return tpi_bad(ctx, tpi, &r, 0, "record too short");
            ti = r2d_le32(r.p);
            continue;
        case LF_POINTER: /* u32 referent, u32 attributes: bits 13-18 size, bits 0-4 kind */
            if (r.n < 8)
                return tpi_bad(ctx, tpi, &r, 0, "record too short");
            *size = (r2d_le32(r.p + 4) >> 13) & 0x3F;
            if (*size == 0)
                *size = (r2d_le32(r.p + 4) & 0x1F) == 0x0C ? 8 : 4;
            return 0;
        case LF_ARRAY: /* u32 element, u32 index type, numeric total size, name */
            if (r.n < 8 || tpi_numeric(r.p + 8, r.n - 8, &v, &used))
                return tpi_bad(ctx, tpi, &r, 8, "bad array size");
            *size = v;
            return 0;
        default:
            break;
        }
        rc = tpi_resolve(ctx, tpi, ti, &u, &kind);
        if (rc < 0)
            return rc;
        if (rc == 1)
            return r2d_err(ctx, R2D_ENOTFOUND, "%s: type 0x%" PRIx32 " (%s 0x%04x) has no size", tpi->path,
                           ti, tpi_kind_name(kind), kind);
        if (u.kind != LF_ENUM) {
            *size = u.size;
            return 0;
        }
        ti = u.utype;
    }
    return r2d_err(ctx, R2D_EFORMAT, "%s: type 0x%" PRIx32 ": more than %d hops to its size", tpi->path, ti,
                   R2D_TPI_MAX_TYPE_CHAIN);
}

int
r2d_tpi_type_size(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, const char *type, uint64_t *size)
{
    struct tpi_udt u;
    int rc = tpi_lookup(ctx, tpi, type, &u);

    if (rc)
        return rc;
    if (u.kind == LF_ENUM)
        return r2d_tpi_index_size(ctx, tpi, u.utype, size);
    *size = u.size;
    return 0;
}

/* Fill the bitfield and size details of the member found last. */
static void
tpi_field_details(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, struct r2d_tpi_field *out)
{
    struct tpi_rec r;

    /* The size is a detail: failing to find it must not turn a found offset into an error. */
    if (r2d_tpi_index_size(ctx, tpi, out->type_index, &out->size))
        out->size = 0;
    if (tpi_get(tpi, out->type_index, &r) == 0 && r.kind == LF_BITFIELD && r.n >= 6) {
        out->bit_len = r.p[4];
        out->bit_pos = r.p[5];
    }
}

int
r2d_tpi_field(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, const char *type, const char *path,
              struct r2d_tpi_field *out)
{
    const size_t path_len = strlen(path);
    const char *comp = path;
    struct tpi_udt u;
    uint64_t off = 0;
    unsigned budget = R2D_TPI_MAX_WALK;
    int rc, depth = 0;

    memset(out, 0, sizeof(*out));
    R2D_CHECK(path_len == 0 || path_len > R2D_PDB_MAX_NAME, ctx, R2D_ENOTFOUND, "%s: bad field path '%.64s'",
              tpi->path, path);
    if ((rc = tpi_lookup(ctx, tpi, type, &u)) != 0)
        return rc;
    for (;;) {
        const char *dot = strchr(comp, '.');
        const size_t len = dot ? (size_t)(dot - comp) : strlen(comp);
        struct tpi_member m = {0};
        uint16_t kind;

        R2D_CHECK(len == 0 || ++depth > R2D_TPI_MAX_PATH_DEPTH, ctx, R2D_ENOTFOUND,
                  "%s: bad field path '%s' (empty component or more than %d components)", tpi->path, path,
                  R2D_TPI_MAX_PATH_DEPTH);
        R2D_CHECK(u.kind == LF_ENUM, ctx, R2D_ENOTFOUND, "%s: '%.*s' is an enum, not a struct or union",
                  tpi->path, (int)u.name_len, u.name);
        if ((rc = tpi_find_member(ctx, tpi, &u, comp, len, 0, &budget, &m)) != 0)
            return rc;
        off += m.offset;
        if (!dot) {
            out->offset = off;
            out->type_index = m.type;
            tpi_field_details(ctx, tpi, out);
            return 0;
        }
        rc = tpi_resolve(ctx, tpi, m.type, &u, &kind);
        if (rc < 0)
            return rc;
        if (rc == 1 || u.kind == LF_ENUM)
            return r2d_err(ctx, R2D_ENOTFOUND,
                           "%s: '%s.%.*s' is %s (type 0x%" PRIx32 "), not an embedded struct or union",
                           tpi->path, type, (int)(dot - path), path,
                           rc == 1 && kind == 0 ? "a simple type" : tpi_kind_name(rc == 1 ? kind : LF_ENUM),
                           m.type);
        comp = dot + 1;
    }
}
