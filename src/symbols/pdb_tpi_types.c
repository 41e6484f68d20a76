/* SPDX-License-Identifier: MIT */
/*
 * TPI type queries: a type index resolved through modifiers and forward references, field lists walked
 * (nested and anonymous members, bounded), type sizes, and "A.B.C" field paths (docs/reference/symbols.md 4.8).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "pdb_tpi_priv.h"

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
        if (r2d_tpi_get(tpi, ti, &r))
            return tpi_bad_index(ctx, tpi, ti);
        *kind = r.kind;
        if (r.kind == LF_MODIFIER) {
            if (r.n < 4)
                return r2d_tpi_bad(ctx, tpi, &r, 0, "record too short");
            ti = r2d_le32(r.p);
            continue;
        }
        if (!r2d_tpi_is_udt(r.kind))
            return 1;
        if ((rc = r2d_tpi_parse_udt(ctx, tpi, &r, u)) != 0)
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
        if (n < 6 || r2d_tpi_numeric(p + 6, n - 6, &v, &used))
            return 0;
        m->type = r2d_le32(p + 2);
        m->offset = v;
        pos = 6 + used;
        break;
    case LF_ENUMERATE: /* u16 attr, numeric value (any integer kind, may be negative), name */
        if (n < 2 || (used = r2d_tpi_numeric_len(p + 2, n - 2)) == 0)
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
        if (n < 6 || r2d_tpi_numeric(p + 6, n - 6, &v, &used))
            return 0;
        return 6 + used;
    case LF_VBCLASS:
    case LF_IVBCLASS: { /* u16 attr, u32 base, u32 vbptr type, numeric vbp offset, numeric vtable index */
        size_t used2 = 0;
        if (n < 10 || r2d_tpi_numeric(p + 10, n - 10, &v, &used) ||
            r2d_tpi_numeric(p + 10 + used, n - 10 - used, &v, &used2))
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
    if (pos > n || (nl = r2d_tpi_strlen(p + pos, n - pos)) < 0)
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
        if (r2d_tpi_get(tpi, fl, &r))
            return r2d_err(ctx, R2D_EFORMAT,
                           "%s: field list of type '%.*s' (0x%" PRIx32 "): %s 0x%" PRIx32
                           " is outside the TPI range 0x%" PRIx32 "-0x%" PRIx32,
                           tpi->path, (int)owner->name_len, owner->name, owner->ti,
                           hops ? "LF_INDEX continuation" : "field list index", fl, tpi->ti_begin,
                           tpi->ti_end);
        if (r.kind != LF_FIELDLIST)
            return r2d_tpi_bad(ctx, tpi, &r, 0, "expected an LF_FIELDLIST (0x1203)");
        while (pos < r.n) {
            struct tpi_member m = {0};
            uint16_t sub;
            size_t used;

            if (r.p[pos] >= 0xF0) { /* LF_PAD0..LF_PAD15 */
                pos++;
                continue;
            }
            if (r.n - pos < 2)
                return r2d_tpi_bad(ctx, tpi, &r, pos, "truncated field-list entry");
            sub = r2d_le16(r.p + pos);
            used = tpi_skip_sub(sub, r.p + pos + 2, r.n - pos - 2, &m, &next);
            if (used == 0) {
                char what[80];
                snprintf(what, sizeof(what), "%s field-list entry of kind 0x%04x",
                         sub == LF_MEMBER || sub == LF_INDEX || sub == LF_ENUMERATE ? "malformed" : "unknown",
                         sub);
                return r2d_tpi_bad(ctx, tpi, &r, pos, what);
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
    r2d_tpi_get(tpi, (uint32_t)e->value, &r);
    return r2d_tpi_parse_udt(ctx, tpi, &r, u);
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
        R2D_CHECK(r2d_tpi_get(tpi, ti, &r), ctx, R2D_ENOTFOUND,
                  "%s: type index 0x%" PRIx32 " is outside the TPI range 0x%" PRIx32 "-0x%" PRIx32, tpi->path,
                  ti, tpi->ti_begin, tpi->ti_end);
        switch (r.kind) {
        case LF_MODIFIER:
        case LF_BITFIELD:
            if (r.n < 4)
                return r2d_tpi_bad(ctx, tpi, &r, 0, "record too short");
            ti = r2d_le32(r.p);
            continue;
        case LF_POINTER: /* u32 referent, u32 attributes: bits 13-18 size, bits 0-4 kind */
            if (r.n < 8)
                return r2d_tpi_bad(ctx, tpi, &r, 0, "record too short");
            *size = (r2d_le32(r.p + 4) >> 13) & 0x3F;
            if (*size == 0)
                *size = (r2d_le32(r.p + 4) & 0x1F) == 0x0C ? 8 : 4;
            return 0;
        case LF_ARRAY: /* u32 element, u32 index type, numeric total size, name */
            if (r.n < 8 || r2d_tpi_numeric(r.p + 8, r.n - 8, &v, &used))
                return r2d_tpi_bad(ctx, tpi, &r, 8, "bad array size");
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
                           ti, r2d_tpi_kind_name(kind), kind);
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
    if (r2d_tpi_get(tpi, out->type_index, &r) == 0 && r.kind == LF_BITFIELD && r.n >= 6) {
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
                           rc == 1 && kind == 0 ? "a simple type" : r2d_tpi_kind_name(rc == 1 ? kind : LF_ENUM),
                           m.type);
        comp = dot + 1;
    }
}
