/* SPDX-License-Identifier: MIT */
/*
 * TPI stream (stream 2) of a PDB: type records indexed by type index in one pass, struct/class/union/enum
 * names hashed in the same pass (definitions by name and by unique name, so forward references resolve),
 * and the two questions the engine asks: a type's size and a (nested, dotted) field's offset.
 * docs/reference/symbols.md 4.7 and 4.8. The TPI hash streams are not used.
 *
 * Limits, against hostile or broken files (each violation is an error with the file offset, never a hang):
 * - R2D_TPI_MAX_TYPES type records (TypeIndexEnd - TypeIndexBegin); a kernel PDB has about 10^5.
 * - R2D_TPI_MAX_PATH_DEPTH components in a dotted field path; the same bound applies to descending into
 *   nameless members (anonymous structs/unions a compiler did not flatten).
 * - R2D_TPI_MAX_INDEX_CHAIN LF_INDEX continuations in one field list: a cycle (an LF_INDEX pointing to its
 *   own list or back to an earlier one) stops there with R2D_EFORMAT. 256 x 64 KiB lists is ~750k members.
 * - R2D_TPI_MAX_WALK field-list records visited by one field lookup (all continuations and nameless-member
 *   descents together), so crafted nesting cannot make a lookup take long.
 * - R2D_TPI_MAX_TYPE_CHAIN hops through LF_MODIFIER / forward reference / LF_BITFIELD when resolving a type.
 * - Names in records are bounded by their record (at most 64 KiB); names in queries by R2D_PDB_MAX_NAME.
 * - The stream itself is read whole, at most R2D_MSF_MAX_STREAM_BYTES.
 */
#ifndef R2D_ENGINE_PDB_TPI_H
#define R2D_ENGINE_PDB_TPI_H

#include <stddef.h>
#include <stdint.h>

#include "pdb_msf.h"
#include "diag.h"

#define R2D_TPI_MAX_TYPES (1u << 24)
#define R2D_TPI_MAX_PATH_DEPTH 16
#define R2D_TPI_MAX_INDEX_CHAIN 256
#define R2D_TPI_MAX_TYPE_CHAIN 32
#define R2D_TPI_MAX_WALK 4096 /* field-list records one field lookup may visit */

struct r2d_tpi;

/* What r2d_tpi_field found. */
struct r2d_tpi_field {
    uint64_t offset;     /* bytes from the start of the outer type (nested offsets summed) */
    uint32_t type_index; /* the member's type (an LF_BITFIELD for a bitfield) */
    uint64_t size;       /* bytes of the member's type (a bitfield: its underlying type); 0 when unknown */
    uint8_t bit_pos;     /* bitfields only: first bit (LSB = 0) */
    uint8_t bit_len;     /* bitfields only: number of bits; 0 = not a bitfield */
};

/**
 * Read the TPI stream of msf and index it. msf must outlive the result (messages map stream offsets to file
 * offsets through it). A PDB without types (TypeIndexBegin == TypeIndexEnd) is valid and answers
 * R2D_ENOTFOUND to every query. Errors: R2D_EFORMAT / R2D_ETRUNC / R2D_EUNSUPPORTED with the file offset,
 * R2D_ENOTFOUND when the stream is absent, R2D_ENOMEM, R2D_EIO.
 */
int r2d_tpi_open(struct r2d_ctx *ctx, const struct r2d_msf *msf, struct r2d_tpi **out);

/** Free; NULL is a no-op. */
void r2d_tpi_free(struct r2d_tpi *tpi);

/** Number of type records. */
uint32_t r2d_tpi_num_records(const struct r2d_tpi *tpi);

/**
 * Size of the struct, class, union or enum named type (its definition, not a forward reference).
 * R2D_ENOTFOUND (message naming the type) when there is no such definition; R2D_EFORMAT for a bad record.
 */
int r2d_tpi_type_size(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, const char *type, uint64_t *size);

/**
 * Find path ("Pcb", "ProcessorState.ContextFrame") in the struct/union named type. Every component but the
 * last must be a member whose type is (through LF_MODIFIER and forward references) an embedded struct,
 * class or union. R2D_ENOTFOUND names the missing type or component; R2D_EFORMAT for a bad record or a
 * cyclic LF_INDEX chain.
 */
int r2d_tpi_field(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, const char *type, const char *path,
                  struct r2d_tpi_field *out);

/**
 * Size in bytes of the type with index ti: simple types, pointers, arrays, modifiers, bitfields (the
 * underlying type), structs/unions (through forward references) and enums. R2D_ENOTFOUND for an index
 * out of range or a type without a size (procedures, field lists).
 */
int r2d_tpi_index_size(struct r2d_ctx *ctx, const struct r2d_tpi *tpi, uint32_t ti, uint64_t *size);

#endif
