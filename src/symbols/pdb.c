/* SPDX-License-Identifier: MIT */
/*
 * The PDB symbol provider: identity, section headers, OMAP, public and data symbols, and the TPI queries.
 * A little over 600 lines: the streams it reads (info, DBI with its optional headers, section headers, OMAP,
 * publics) each need a few dozen lines and share the provider's state; MSF and TPI are in their own files.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "pdb.h"
#include "pdb_msf.h"
#include "pdb_tpi.h"
#include "bytes.h"

/* PDB info stream (docs/reference/symbols.md 4.2). */
#define INFO_OFF_VERSION 0x00 /* u32, 20000404 = VC70 */
#define INFO_OFF_AGE 0x08     /* u32, not the age the RSDS record carries (docs/reference/symbols.md 4.6) */
#define INFO_OFF_GUID 0x0C    /* 16 bytes, RSDS byte order */
#define INFO_MIN_SIZE 0x1C

/* DBI stream header (docs/reference/symbols.md 4.3). */
#define DBI_OFF_AGE 0x08         /* u32, matches the RSDS age */
#define DBI_OFF_SYM_RECORDS 0x14 /* u16 stream */
#define DBI_OFF_SUBSTREAMS                                                                                   \
    0x18 /* i32 x 5: ModInfo, SectionContribution, SectionMap, SourceInfo, TypeServerMap */
#define DBI_OFF_OPT_DBG_SIZE 0x30 /* i32 */
#define DBI_OFF_EC_SIZE 0x34      /* i32 */
#define DBI_OFF_MACHINE 0x3A      /* u16 */
#define DBI_HEADER_SIZE 0x40

/* Optional debug header entries (docs/reference/symbols.md 4.4), u16 stream numbers, 0xFFFF = absent. */
#define DBG_OMAP_FROM_SRC 4
#define DBG_SECTION_HDR 5
#define DBG_SECTION_HDR_ORIG 10
#define DBG_NONE 0xFFFFu

#define SECTION_HDR_SIZE 40 /* IMAGE_SECTION_HEADER */
#define SECTION_OFF_VA 0x0C /* u32 VirtualAddress */

/* Symbol record kinds (docs/reference/symbols.md 4.5). */
#define S_PUB32_ST 0x1009
#define S_LDATA32 0x110C
#define S_GDATA32 0x110D
#define S_PUB32 0x110E

#define MACHINE_I386 0x014C

/*
 * Priorities when one name has several records: a public beats a global data symbol beats a module-local
 * one; any exact name beats a name undecorated from an x86 one ("_KeNumberProcessors" ->
 * "KeNumberProcessors").
 */
#define PRIO_STRIPPED 3 /* subtracted from the exact priority */
#define PRIO_PUBLIC 6
#define PRIO_GDATA 5
#define PRIO_LDATA 4

struct pdb_omap {
    uint32_t *from; /* sorted, non-decreasing */
    uint32_t *to;
    size_t count;
};

struct pdb {
    struct r2d_msf *msf;
    const char *path; /* owned by msf */
    uint32_t info_age;
    uint16_t machine;
    uint16_t sym_stream;
    uint16_t dbg[11]; /* optional debug header entries, DBG_NONE when absent */

    int syms_loaded;
    uint8_t *symrec; /* symbol record stream; names in the table point into it */
    size_t symrec_len;
    struct r2d_pdb_names names;
    uint32_t num_publics;
    uint32_t *sect_va; /* VirtualAddress of each section, 1-based segment s at [s - 1] */
    uint32_t num_sect;
    int omap_used;
    struct pdb_omap omap;

    struct r2d_tpi *tpi;
};

/* ---- name table ---- */

uint32_t
r2d_pdb_names_hash(const char *name, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)name[i]) * 16777619u;
    /* FNV's low bits cluster for names differing only in their last characters ("g_var_1", "g_var_2"): mix
     * (murmur3's finalizer) before the table masks them. */
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

int
r2d_pdb_names_init(struct r2d_pdb_names *t, size_t expected)
{
    size_t cap = 64;

    while (cap < expected * 2 && cap < ((size_t)1 << 30))
        cap *= 2;
    t->ents = calloc(cap, sizeof(*t->ents));
    t->cap = t->ents ? cap : 0;
    t->count = 0;
    return t->ents ? 0 : R2D_ENOMEM;
}

static struct r2d_pdb_name_ent *
pdb_names_slot(struct r2d_pdb_name_ent *ents, size_t cap, const char *name, size_t len, uint32_t hash)
{
    size_t i = hash & (cap - 1);

    while (ents[i].name &&
           !(ents[i].hash == hash && ents[i].len == len && memcmp(ents[i].name, name, len) == 0))
        i = (i + 1) & (cap - 1);
    return &ents[i];
}

static int
pdb_names_grow(struct r2d_pdb_names *t)
{
    const size_t cap = t->cap * 2;
    struct r2d_pdb_name_ent *ents = calloc(cap, sizeof(*ents));

    if (!ents || cap < t->cap) {
        free(ents);
        return R2D_ENOMEM;
    }
    for (size_t i = 0; i < t->cap; i++)
        if (t->ents[i].name)
            *pdb_names_slot(ents, cap, t->ents[i].name, t->ents[i].len, t->ents[i].hash) = t->ents[i];
    free(t->ents);
    t->ents = ents;
    t->cap = cap;
    return 0;
}

int
r2d_pdb_names_put(struct r2d_pdb_names *t, const char *name, size_t len, uint64_t value, unsigned prio)
{
    const uint32_t hash = r2d_pdb_names_hash(name, len);
    struct r2d_pdb_name_ent *e;

    if ((t->count + 1) * 2 > t->cap && pdb_names_grow(t))
        return R2D_ENOMEM;
    e = pdb_names_slot(t->ents, t->cap, name, len, hash);
    if (!e->name) {
        *e = (struct r2d_pdb_name_ent){
            .name = name, .len = (uint32_t)len, .hash = hash, .value = value, .prio = prio};
        t->count++;
    } else if (prio > e->prio) {
        e->value = value;
        e->prio = prio;
    }
    return 0;
}

const struct r2d_pdb_name_ent *
r2d_pdb_names_get(const struct r2d_pdb_names *t, const char *name, size_t len)
{
    const struct r2d_pdb_name_ent *e;

    if (!t->cap)
        return NULL;
    e = pdb_names_slot(t->ents, t->cap, name, len, r2d_pdb_names_hash(name, len));
    return e->name ? e : NULL;
}

void
r2d_pdb_names_free(struct r2d_pdb_names *t)
{
    free(t->ents);
    t->ents = NULL;
    t->cap = t->count = 0;
}

/* ---- streams ---- */

/* Read a stream the PDB cannot do without: absent is a format error, not "not found". */
static int
pdb_read_required(struct r2d_ctx *ctx, const struct pdb *pdb, uint32_t stream, const char *what,
                  uint8_t **buf, size_t *len)
{
    const int rc = r2d_msf_read_stream(ctx, pdb->msf, stream, what, buf, len);

    return rc == R2D_ENOTFOUND
               ? r2d_err(ctx, R2D_EFORMAT, "%s: the %s stream (%" PRIu32 ") is absent: not a usable PDB",
                         pdb->path, what, stream)
               : rc;
}

static int
pdb_read_info(struct r2d_ctx *ctx, struct pdb *pdb, struct r2d_pdb_id *id)
{
    uint8_t *buf;
    size_t len;
    int rc = pdb_read_required(ctx, pdb, R2D_MSF_STREAM_PDB_INFO, "PDB info", &buf, &len);

    if (rc)
        return rc;
    if (len < INFO_MIN_SIZE) {
        rc = r2d_err(ctx, R2D_ETRUNC,
                     "%s: offset 0x%" PRIx64 ": PDB info stream of %zu bytes is shorter than "
                     "its 28-byte header",
                     pdb->path, r2d_msf_file_offset(pdb->msf, 1, 0), len);
    } else {
        pdb->info_age = r2d_le32(buf + INFO_OFF_AGE);
        memcpy(id->guid, buf + INFO_OFF_GUID, sizeof(id->guid));
        r2d_log(ctx, R2D_LOG_DEBUG, "%s: PDB info version %" PRIu32 ", age %" PRIu32, pdb->path,
                r2d_le32(buf + INFO_OFF_VERSION), pdb->info_age);
    }
    free(buf);
    return rc;
}

/* DBI header and the optional debug header (read by index: its length changed across toolsets). */
static int
pdb_parse_dbi(struct r2d_ctx *ctx, struct pdb *pdb, const uint8_t *buf, size_t len, struct r2d_pdb_id *id)
{
    const uint64_t at = r2d_msf_file_offset(pdb->msf, R2D_MSF_STREAM_DBI, 0);
    uint64_t opt = DBI_HEADER_SIZE;
    int32_t opt_size;

    R2D_CHECK(len < DBI_HEADER_SIZE, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": DBI stream of %zu bytes is shorter than its 64-byte header",
              pdb->path, at, len);
    id->age = r2d_le32(buf + DBI_OFF_AGE);
    pdb->sym_stream = r2d_le16(buf + DBI_OFF_SYM_RECORDS);
    pdb->machine = r2d_le16(buf + DBI_OFF_MACHINE);
    for (int i = 0; i < 6; i++) { /* the five substreams of 0x18..0x28, then EC at 0x34 */
        const size_t field = i < 5 ? DBI_OFF_SUBSTREAMS + 4 * (size_t)i : DBI_OFF_EC_SIZE;
        const int32_t size = (int32_t)r2d_le32(buf + field);

        R2D_CHECK(size < 0 || (uint64_t)size > len - opt, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": DBI "
                  "substream size %" PRId32 " (header field 0x%zx) runs past the stream (%zu bytes)",
                  pdb->path, at + field, size, field, len);
        opt += (uint64_t)size;
    }
    opt_size = (int32_t)r2d_le32(buf + DBI_OFF_OPT_DBG_SIZE);
    R2D_CHECK(opt_size < 0 || (uint64_t)opt_size > len - opt, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": DBI optional debug header size %" PRId32
              " at stream offset 0x%" PRIx64 " runs past the stream (%zu bytes)",
              pdb->path, at + DBI_OFF_OPT_DBG_SIZE, opt_size, opt, len);
    for (size_t i = 0; i < sizeof(pdb->dbg) / sizeof(pdb->dbg[0]); i++)
        pdb->dbg[i] = 2 * i + 2 <= (size_t)opt_size ? r2d_le16(buf + opt + 2 * i) : DBG_NONE;
    return 0;
}

static int
pdb_read_dbi(struct r2d_ctx *ctx, struct pdb *pdb, struct r2d_pdb_id *id)
{
    uint8_t *buf;
    size_t len;
    int rc = pdb_read_required(ctx, pdb, R2D_MSF_STREAM_DBI, "DBI", &buf, &len);

    if (rc)
        return rc;
    rc = pdb_parse_dbi(ctx, pdb, buf, len, id);
    free(buf);
    return rc;
}

/* The VirtualAddress of every section header in debug-header entry idx. */
static int
pdb_read_sections(struct r2d_ctx *ctx, struct pdb *pdb, int idx, const char *what)
{
    uint8_t *buf;
    size_t len;
    int rc;

    R2D_CHECK(pdb->dbg[idx] == DBG_NONE, ctx, R2D_EFORMAT,
              "%s: no %s stream in the DBI optional debug header: "
              "symbol addresses cannot be turned into RVAs",
              pdb->path, what);
    rc = pdb_read_required(ctx, pdb, pdb->dbg[idx], what, &buf, &len);
    if (rc)
        return rc;
    if (len % SECTION_HDR_SIZE)
        r2d_log(ctx, R2D_LOG_DEBUG, "%s: %s stream of %zu bytes is not a multiple of 40", pdb->path, what,
                len);
    pdb->num_sect = (uint32_t)(len / SECTION_HDR_SIZE);
    pdb->sect_va = malloc((pdb->num_sect ? pdb->num_sect : 1) * sizeof(*pdb->sect_va));
    if (!pdb->sect_va) {
        free(buf);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for %" PRIu32 " sections", pdb->path,
                       pdb->num_sect);
    }
    for (uint32_t i = 0; i < pdb->num_sect; i++)
        pdb->sect_va[i] = r2d_le32(buf + (size_t)i * SECTION_HDR_SIZE + SECTION_OFF_VA);
    free(buf);
    return 0;
}

/* OmapFromSrc: {u32 from, u32 to} sorted by from
 * (docs/reference/symbols.md 4.4; getsentry/pdb src/omap.rs). */
static int
pdb_read_omap(struct r2d_ctx *ctx, struct pdb *pdb)
{
    const uint32_t stream = pdb->dbg[DBG_OMAP_FROM_SRC];
    struct pdb_omap *om = &pdb->omap;
    uint8_t *buf;
    size_t len;
    int rc = pdb_read_required(ctx, pdb, stream, "OmapFromSrc", &buf, &len);

    if (rc)
        return rc;
    om->count = len / 8;
    om->from = malloc((om->count ? om->count : 1) * sizeof(*om->from));
    om->to = malloc((om->count ? om->count : 1) * sizeof(*om->to));
    if (!om->from || !om->to) {
        free(buf);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for %zu OMAP entries", pdb->path, om->count);
    }
    for (size_t i = 0; i < om->count; i++) {
        om->from[i] = r2d_le32(buf + 8 * i);
        om->to[i] = r2d_le32(buf + 8 * i + 4);
        if (i && om->from[i] < om->from[i - 1]) {
            rc = r2d_err(ctx, R2D_EFORMAT,
                         "%s: offset 0x%" PRIx64 ": OmapFromSrc entry %zu (0x%" PRIx32
                         ") is not sorted (previous 0x%" PRIx32 ")",
                         pdb->path, r2d_msf_file_offset(pdb->msf, stream, 8 * i), i, om->from[i],
                         om->from[i - 1]);
            break;
        }
    }
    free(buf);
    return rc;
}

/* seg:off -> RVA, through OMAP when the PDB has it. 0 and *rva, or -1 when out of range or eliminated. */
static int
pdb_seg_rva(const struct pdb *pdb, uint16_t seg, uint32_t off, uint64_t *rva)
{
    const struct pdb_omap *om = &pdb->omap;
    uint64_t r;
    size_t i;

    if (seg == 0 || seg > pdb->num_sect)
        return -1;
    r = (uint64_t)pdb->sect_va[seg - 1] + off;
    if (!pdb->omap_used) {
        *rva = r;
        return 0;
    }
    if (r > UINT32_MAX)
        return -1;
    /* The entry covering r is the last one starting at or below it. */
    i = r2d_find_last_le(om->from, om->count, sizeof(*om->from), 0, sizeof(*om->from), r);
    if (i == om->count || om->to[i] == 0)
        return -1;
    *rva = (uint64_t)om->to[i] + (r - om->from[i]);
    return 0;
}

/* x86 decoration: a leading '_', '@' or 0x7F and a trailing "@<digits>"
 * (docs/reference/symbols.md 4.5, as Vol3 does). */
static int
pdb_undecorate(const char *name, size_t len, const char **out, size_t *out_len)
{
    size_t end = len;

    if (len < 2 || (name[0] != '_' && name[0] != '@' && name[0] != 0x7F))
        return -1;
    while (end > 1 && name[end - 1] >= '0' && name[end - 1] <= '9')
        end--;
    if (end < len && end > 1 && name[end - 1] == '@')
        end--;
    else
        end = len;
    if (end <= 1)
        return -1;
    *out = name + 1;
    *out_len = end - 1;
    return 0;
}

static int
pdb_add_symbol(struct r2d_ctx *ctx, struct pdb *pdb, const char *name, size_t len, uint16_t seg, uint32_t off,
               unsigned prio)
{
    const char *plain;
    size_t plain_len;
    uint64_t rva;

    if (len == 0 || len > R2D_PDB_MAX_NAME || pdb_seg_rva(pdb, seg, off, &rva))
        return 0;
    if (pdb->names.count >= R2D_PDB_MAX_SYMBOLS)
        return r2d_err(ctx, R2D_EUNSUPPORTED, "%s: more than %u symbol names", pdb->path,
                       R2D_PDB_MAX_SYMBOLS);
    if (r2d_pdb_names_put(&pdb->names, name, len, rva, prio) ||
        (pdb->machine == MACHINE_I386 && pdb_undecorate(name, len, &plain, &plain_len) == 0 &&
         r2d_pdb_names_put(&pdb->names, plain, plain_len, rva, prio - PRIO_STRIPPED)))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory hashing symbols", pdb->path);
    return 0;
}

/* One symbol record: kind and payload p[0..n). */
static int
pdb_symbol_record(struct r2d_ctx *ctx, struct pdb *pdb, uint16_t kind, const uint8_t *p, size_t n)
{
    const uint8_t *z;
    unsigned prio;

    switch (kind) {
    case S_PUB32:   /* u32 flags, u32 offset, u16 segment, name */
    case S_GDATA32: /* u32 type, u32 offset, u16 segment, name */
    case S_LDATA32:
        if (kind == S_PUB32)
            pdb->num_publics++;
        prio = kind == S_PUB32 ? PRIO_PUBLIC : kind == S_GDATA32 ? PRIO_GDATA : PRIO_LDATA;
        if (n < 11 || !(z = memchr(p + 10, 0, n - 10)))
            return 0;
        return pdb_add_symbol(ctx, pdb, (const char *)p + 10, (size_t)(z - (p + 10)), r2d_le16(p + 8),
                              r2d_le32(p + 4), prio);
    case S_PUB32_ST: /* u32 flags, u32 offset, u16 segment, u8 length, name (no NUL) */
        pdb->num_publics++;
        if (n < 11 || p[10] > n - 11)
            return 0;
        return pdb_add_symbol(ctx, pdb, (const char *)p + 11, p[10], r2d_le16(p + 8), r2d_le32(p + 4),
                              PRIO_PUBLIC);
    default:
        return 0;
    }
}

/* One pass over the symbol record stream: every public and data symbol's name -> RVA. */
static int
pdb_scan_symbols(struct r2d_ctx *ctx, struct pdb *pdb)
{
    const uint8_t *buf = pdb->symrec;
    const size_t len = pdb->symrec_len;
    size_t pos = 0;

    if (r2d_pdb_names_init(&pdb->names, len / 32 + 16))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory hashing symbols", pdb->path);
    while (len - pos >= 4) {
        const uint16_t reclen = r2d_le16(buf + pos);
        int rc;

        /* Real streams end exactly on a record; stop (as elf2dmp and Vol3 do) rather than guess past damage.
         */
        if (reclen < 2 || reclen > len - pos - 2) {
            r2d_log(ctx, R2D_LOG_WARN,
                    "%s: offset 0x%" PRIx64 ": symbol record length %" PRIu16 " is %s; "
                    "ignoring the remaining 0x%zx bytes of the symbol records",
                    pdb->path, r2d_msf_file_offset(pdb->msf, pdb->sym_stream, pos), reclen,
                    reclen < 2 ? "too small" : "past the stream end", len - pos);
            break;
        }
        rc = pdb_symbol_record(ctx, pdb, r2d_le16(buf + pos + 2), buf + pos + 4, (size_t)reclen - 2);
        if (rc)
            return rc;
        pos += (size_t)reclen + 2;
    }
    return 0;
}

static int
pdb_need_symbols(struct r2d_ctx *ctx, struct pdb *pdb)
{
    int rc;

    if (pdb->syms_loaded)
        return 0;
    /* A retry after a failure starts from scratch. */
    free(pdb->sect_va);
    free(pdb->omap.from);
    free(pdb->omap.to);
    free(pdb->symrec);
    r2d_pdb_names_free(&pdb->names);
    pdb->sect_va = NULL;
    pdb->omap = (struct pdb_omap){0};
    pdb->symrec = NULL;
    pdb->num_publics = 0;

    pdb->omap_used = pdb->dbg[DBG_SECTION_HDR_ORIG] != DBG_NONE && pdb->dbg[DBG_OMAP_FROM_SRC] != DBG_NONE;
    if (pdb->omap_used)
        rc = pdb_read_sections(ctx, pdb, DBG_SECTION_HDR_ORIG, "SectionHdrOrig");
    else
        rc = pdb_read_sections(ctx, pdb, DBG_SECTION_HDR, "SectionHdr");
    if (rc == 0 && pdb->omap_used)
        rc = pdb_read_omap(ctx, pdb);
    if (rc == 0 && pdb->sym_stream != DBG_NONE)
        rc = pdb_read_required(ctx, pdb, pdb->sym_stream, "symbol record", &pdb->symrec, &pdb->symrec_len);
    if (rc == 0)
        rc = pdb_scan_symbols(ctx, pdb);
    if (rc)
        return rc;
    r2d_log(ctx, R2D_LOG_DEBUG, "%s: %" PRIu32 " publics, %zu names, %" PRIu32 " sections%s", pdb->path,
            pdb->num_publics, pdb->names.count, pdb->num_sect, pdb->omap_used ? ", OMAP" : "");
    pdb->syms_loaded = 1;
    return 0;
}

static int
pdb_need_types(struct r2d_ctx *ctx, struct pdb *pdb)
{
    return pdb->tpi ? 0 : r2d_tpi_open(ctx, pdb->msf, &pdb->tpi);
}

/* ---- provider ops ---- */

static int
pdb_symbol_rva(struct r2d_ctx *ctx, void *data, const char *name, uint64_t *rva)
{
    struct pdb *pdb = data;
    const size_t len = strlen(name);
    const struct r2d_pdb_name_ent *e;
    int rc = pdb_need_symbols(ctx, pdb);

    if (rc)
        return rc;
    R2D_CHECK(len == 0 || len > R2D_PDB_MAX_NAME, ctx, R2D_ENOTFOUND,
              "%s: symbol name of %zu bytes is not valid", pdb->path, len);
    e = r2d_pdb_names_get(&pdb->names, name, len);
    R2D_CHECK(!e, ctx, R2D_ENOTFOUND, "%s: symbol '%s' not found", pdb->path, name);
    *rva = e->value;
    return 0;
}

static int
pdb_type_size(struct r2d_ctx *ctx, void *data, const char *type, uint64_t *size)
{
    struct pdb *pdb = data;
    const int rc = pdb_need_types(ctx, pdb);

    return rc ? rc : r2d_tpi_type_size(ctx, pdb->tpi, type, size);
}

static int
pdb_field_offset(struct r2d_ctx *ctx, void *data, const char *type, const char *path, uint64_t *off)
{
    struct pdb *pdb = data;
    struct r2d_tpi_field f;
    int rc = pdb_need_types(ctx, pdb);

    if (rc == 0)
        rc = r2d_tpi_field(ctx, pdb->tpi, type, path, &f);
    if (rc == 0)
        *off = f.offset;
    return rc;
}

static void
pdb_free(void *data)
{
    struct pdb *pdb = data;

    if (!pdb)
        return;
    r2d_tpi_free(pdb->tpi);
    r2d_pdb_names_free(&pdb->names);
    free(pdb->symrec);
    free(pdb->sect_va);
    free(pdb->omap.from);
    free(pdb->omap.to);
    r2d_msf_close(pdb->msf);
    free(pdb);
}

static const struct r2d_symbols_ops pdb_ops = {
    .kind = "pdb",
    .symbol_rva = pdb_symbol_rva,
    .type_size = pdb_type_size,
    .field_offset = pdb_field_offset,
    .free = pdb_free,
};

int
r2d_pdb_open(struct r2d_ctx *ctx, const char *path, struct r2d_symbols **out)
{
    struct r2d_symbols *syms = calloc(1, sizeof(*syms));
    struct pdb *pdb = calloc(1, sizeof(*pdb));
    const char *base = strrchr(path, '/');
    int rc;

    *out = NULL;
    if (!syms || !pdb) {
        free(syms);
        free(pdb);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", path);
    }
    rc = r2d_msf_open(ctx, path, &pdb->msf);
    if (rc == 0) {
        pdb->path = r2d_msf_path(pdb->msf);
        rc = pdb_read_info(ctx, pdb, &syms->id);
    }
    if (rc == 0)
        rc = pdb_read_dbi(ctx, pdb, &syms->id);
    if (rc) {
        pdb_free(pdb);
        free(syms);
        return rc;
    }
    snprintf(syms->id.name, sizeof(syms->id.name), "%s", base ? base + 1 : path);
    syms->machine = pdb->machine;
    snprintf(syms->origin, sizeof(syms->origin), "%s", path);
    snprintf(syms->path, sizeof(syms->path), "%s", path);
    syms->ops = &pdb_ops;
    syms->data = pdb;
    *out = syms;
    return 0;
}

int
r2d_pdb_stats(struct r2d_ctx *ctx, struct r2d_symbols *syms, struct r2d_pdb_stats *out)
{
    struct pdb *pdb;
    int rc;

    R2D_CHECK(!syms || syms->ops != &pdb_ops, ctx, R2D_EINVAL,
              "pdb statistics asked of a non-PDB symbol source");
    pdb = syms->data;
    rc = pdb_need_symbols(ctx, pdb);
    if (rc == 0)
        rc = pdb_need_types(ctx, pdb);
    if (rc)
        return rc;
    out->num_publics = pdb->num_publics;
    out->num_symbols = (uint32_t)pdb->names.count;
    out->num_type_records = r2d_tpi_num_records(pdb->tpi);
    out->info_age = pdb->info_age;
    out->dbi_machine = pdb->machine;
    out->omap = pdb->omap_used;
    return 0;
}
