/* SPDX-License-Identifier: MIT */
/*
 * The symbol provider interface. The engine asks three questions -- a symbol's RVA, a type's size, a field's
 * offset -- and never knows whether a PDB or a JSON symbol table answered.
 */
#ifndef R2D_ENGINE_SYMBOLS_H
#define R2D_ENGINE_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define R2D_GUID_HEX_LEN 32 /* GUID printed in symbol-store order, no dashes */

/* Identity of a PDB as a CodeView RSDS record names it. */
struct r2d_pdb_id {
    uint8_t guid[16]; /* raw RSDS bytes: Data1 u32 LE, Data2 u16 LE, Data3 u16 LE, Data4[8] */
    uint32_t age;
    char name[256];   /* file name only ("ntkrnlmp.pdb"), path components removed */
};

struct r2d_symbols_ops {
    const char *kind; /* "pdb", "isf" */
    /* 0 and *rva, or R2D_ENOTFOUND (message set naming the symbol and the source). */
    int (*symbol_rva)(struct r2d_ctx *ctx, void *data, const char *name, uint64_t *rva);
    /* 0 and *size of struct/union type, or R2D_ENOTFOUND. */
    int (*type_size)(struct r2d_ctx *ctx, void *data, const char *type, uint64_t *size);
    /*
     * 0 and *off = byte offset of path inside type, or R2D_ENOTFOUND. path may be nested with dots
     * ("ProcessorState.ContextFrame"): each component but the last must be an embedded struct/union.
     */
    int (*field_offset)(struct r2d_ctx *ctx, void *data, const char *type, const char *path, uint64_t *off);
    void (*free)(void *data);
};

struct r2d_symbols {
    const struct r2d_symbols_ops *ops;
    void *data;
    struct r2d_pdb_id id; /* what the file says it is: GUID (info stream / ISF), age (DBI / ISF) */
    uint16_t machine;     /* IMAGE_FILE_MACHINE_* (0x8664, 0x14c) the file describes; 0 when it does not say */
    char origin[4096];    /* where it came from: a path, "cache:<path>", or a URL */
    char path[4096];      /* the file read, as opened (the report records it and its digest) */
};

/* Providers. Each fills out->id from the file itself. */
int r2d_pdb_open(struct r2d_ctx *ctx, const char *path, struct r2d_symbols **out);
int r2d_isf_open(struct r2d_ctx *ctx, const char *path, struct r2d_symbols **out);
/* An ISF already in memory (plain or xz), read from name (a path, or "pack.zip:member"); frees file. */
int r2d_isf_open_buffer(struct r2d_ctx *ctx, const char *name, uint8_t *file, size_t file_len,
                        struct r2d_symbols **out);
/*
 * --symbols PATH: a table file as r2d_isf_open; or a Volatility 3 symbol directory or a windows.zip-style pack
 * (ZIP), in which the table for want is <name>/<GUID>-<age>.json.xz (or .json) under any leading directories
 * ("windows/ntkrnlmp.pdb/...": name is want's PDB name, ntkrnlmp.pdb when it has none; GUID in uppercase,
 * age in decimal, all compared without regard to case). A directory is searched in itself, <name>/,
 * windows/<name>/ and a windows.zip inside it. R2D_ENOTFOUND names the file wanted and where it looked.
 */
int r2d_isf_find(struct r2d_ctx *ctx, const char *path, const struct r2d_pdb_id *want, struct r2d_symbols **out);

/* Dispatch through ops; messages name the symbol/type and syms->origin. */
int r2d_symbols_rva(struct r2d_ctx *ctx, const struct r2d_symbols *syms, const char *name, uint64_t *rva);
int r2d_symbols_type_size(struct r2d_ctx *ctx, const struct r2d_symbols *syms, const char *type, uint64_t *size);
int r2d_symbols_field_offset(struct r2d_ctx *ctx, const struct r2d_symbols *syms, const char *type,
                             const char *path, uint64_t *off);
void r2d_symbols_free(struct r2d_symbols *syms);

/**
 * Check that syms is the PDB id names: same GUID and age. A mismatch is R2D_EMISMATCH naming both ids,
 * unless force, which logs a warning and returns 0.
 */
int r2d_symbols_match(struct r2d_ctx *ctx, const struct r2d_symbols *syms, const struct r2d_pdb_id *id,
                      int force);

/* GUID in symbol-store order, uppercase, 32 digits + NUL. */
void r2d_guid_format(const uint8_t guid[16], char out[R2D_GUID_HEX_LEN + 1]);
/* Parse 32 hex digits (either case, optional dashes/braces) into raw RSDS bytes. */
int r2d_guid_parse(const char *s, uint8_t guid[16]);
/* Symbol-store key: GUID (32 uppercase digits) followed by the age in uppercase hex without leading zeros. */
void r2d_pdb_id_key(const struct r2d_pdb_id *id, char out[R2D_GUID_HEX_LEN + 9]);

/*
 * Find the PDB for id along a WinDbg-style symbol path (srv*CACHE*URL, cache*DIR, plain directories,
 * ';'-separated). Downloads (unless offline) into the downstream store through a temporary file, verifying
 * GUID/age before the rename. On success *path_out is a malloc'd path to a verified PDB and *origin_out a
 * malloc'd description (path or URL).
 */
int r2d_symstore_find(struct r2d_ctx *ctx, const char *symbol_path, int offline, const struct r2d_pdb_id *id,
                      char **path_out, char **origin_out);

#endif
