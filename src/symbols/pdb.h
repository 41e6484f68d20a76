/* SPDX-License-Identifier: MIT */
/*
 * The PDB symbol provider (kind "pdb", r2d_pdb_open in symbols.h): PDB info stream, DBI header and optional
 * debug header, section headers, OMAP, the symbol record stream (S_PUB32, S_GDATA32, S_LDATA32, S_PUB32_ST)
 * and, through pdb_tpi.h, the TPI types. docs/reference/symbols.md section 4.
 *
 * r2d_pdb_open reads the superblock, the directory, the PDB info stream and the DBI header (the identity:
 * GUID from the info stream, age from DBI, docs/reference/symbols.md 4.6). The symbol record stream is read
 * and hashed on the first symbol query, the TPI stream indexed on the first type query, so a caller that only
 * checks the identity (symbol store verification) does not pay for either.
 *
 * Limits: those of pdb_msf.h and pdb_tpi.h, plus names in queries at most R2D_PDB_MAX_NAME bytes and at most
 * R2D_PDB_MAX_SYMBOLS symbol records.
 */
#ifndef R2D_ENGINE_PDB_H
#define R2D_ENGINE_PDB_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "symbols.h"

#define R2D_PDB_MAX_NAME 4096u         /* bytes of a queried symbol, type or field name */
#define R2D_PDB_MAX_SYMBOLS (1u << 24) /* symbol records hashed from one PDB */

/* Numbers for tests and benchmarks. */
struct r2d_pdb_stats {
    uint32_t num_publics;      /* S_PUB32 / S_PUB32_ST records in the symbol record stream */
    uint32_t num_symbols;      /* distinct names answered by symbol_rva (publics and data symbols) */
    uint32_t num_type_records; /* TPI records (TypeIndexEnd - TypeIndexBegin) */
    uint32_t info_age;         /* age in the PDB info stream (not the DBI age in syms->id.age) */
    uint32_t dbi_machine;      /* IMAGE_FILE_MACHINE_* from the DBI header (0x8664 for x64) */
    int omap;                  /* 1 when symbol addresses go through SectionHdrOrig + OmapFromSrc */
};

/**
 * Fill *out for a provider returned by r2d_pdb_open, loading the symbols and types if not done yet. Errors:
 * R2D_EINVAL when syms is not a PDB provider, or any error of loading the symbol or type streams.
 */
int r2d_pdb_stats(struct r2d_ctx *ctx, struct r2d_symbols *syms, struct r2d_pdb_stats *out);

/*
 * A name -> value hash table with open addressing, shared by the symbol and type indexes. Names are not
 * copied: they must outlive the table (they point into stream buffers). Each entry has a priority; putting
 * an existing name replaces its value only with a strictly higher priority.
 */
struct r2d_pdb_name_ent {
    const char *name; /* NULL = empty slot */
    uint32_t len;
    uint32_t hash;
    uint64_t value;
    unsigned prio;
};

struct r2d_pdb_names {
    struct r2d_pdb_name_ent *ents;
    size_t cap; /* power of two */
    size_t count;
};

/** Hash of len bytes of name (FNV-1a, 32 bits, then mixed). */
uint32_t r2d_pdb_names_hash(const char *name, size_t len);
/** Empty table sized for about expected names; R2D_ENOMEM (no message set) when out of memory. */
int r2d_pdb_names_init(struct r2d_pdb_names *t, size_t expected);
/** Insert or raise; R2D_ENOMEM (no message set) when growing fails. */
int r2d_pdb_names_put(struct r2d_pdb_names *t, const char *name, size_t len, uint64_t value, unsigned prio);
/** The entry for name, or NULL. */
const struct r2d_pdb_name_ent *r2d_pdb_names_get(const struct r2d_pdb_names *t, const char *name, size_t len);
/** Free the slots (not the names); the table is left empty. */
void r2d_pdb_names_free(struct r2d_pdb_names *t);

#endif
