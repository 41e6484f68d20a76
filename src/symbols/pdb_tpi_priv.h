/* SPDX-License-Identifier: MIT */
/*
 * The TPI reader's shared parts: leaf kinds, the stream and record structures, and the record decoders that
 * pdb_tpi.c (the stream, its index and record decoding) and pdb_tpi_types.c (type queries: resolution,
 * field lists, sizes and field paths) both use. Facts: docs/reference/symbols.md 4.7-4.8.
 */
#ifndef R2D_SYMBOLS_PDB_TPI_PRIV_H
#define R2D_SYMBOLS_PDB_TPI_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "pdb.h"
#include "pdb_tpi.h"

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

/* A struct, class, union or enum record kind. */
int r2d_tpi_is_udt(uint16_t kind);
/* The leaf kind's name for messages ("LF_STRUCTURE"), or "?". */
const char *r2d_tpi_kind_name(uint16_t kind);
/*
 * Numeric leaf at p (avail bytes): *val and *used. Returns 0, -1 when it runs past avail, -2 for a kind
 * that is not a non-negative integer (negative values, reals, strings: never a size or an offset).
 */
int r2d_tpi_numeric(const uint8_t *p, size_t avail, uint64_t *val, size_t *used);
/* Length of the numeric leaf at p (any integer kind, signed or not), or 0 when unknown or past avail. */
size_t r2d_tpi_numeric_len(const uint8_t *p, size_t avail);
/* NUL-terminated string at p within avail bytes: its length, or -1 when no NUL. */
long r2d_tpi_strlen(const uint8_t *p, size_t avail);
/* Record ti (kind, payload, stream offset); -1 when ti is outside the stream's index range. */
int r2d_tpi_get(const struct r2d_tpi *tpi, uint32_t ti, struct tpi_rec *r);
/* R2D_EFORMAT naming record r, the offset at in its payload and what is wrong there. */
int r2d_tpi_bad(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, const struct tpi_rec *r, size_t at,
                const char *what);
/* Decode a struct/class/union/enum record (r2d_tpi_is_udt(r->kind)). */
int r2d_tpi_parse_udt(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, const struct tpi_rec *r,
                      struct tpi_udt *u);

#endif
