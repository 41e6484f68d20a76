/* SPDX-License-Identifier: MIT */
/*
 * A ZIP archive read over a byte source: libzip checks and lists it (its central directory and, with
 * ZIP_CHECKCONS, every local header against it), and we find where each member's data starts, which libzip
 * does not expose (APPNOTE 4.3). Shared by the ZIP container (cont_zip.c: one member as a byte source) and
 * the AFF4 format (formats/aff4*.c: a volume of many members). Built only with libzip.
 */
#ifndef R2D_CONTAINERS_ZIP_ARCHIVE_H
#define R2D_CONTAINERS_ZIP_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>
#include <zip.h>

#include "bytesrc.h"

struct r2d_zip;

struct r2d_zip_member {
    uint64_t index;
    const char *name; /* lives as long as the archive */
    uint64_t size, comp_size;
    uint64_t data_off; /* where the (compressed) data starts in the byte source */
    uint16_t method;   /* ZIP_CM_STORE, ZIP_CM_DEFLATE, ... */
    uint32_t crc;
};

/**
 * Open the archive in in (borrowed: it must outlive the archive). Every central directory entry's local
 * header offset is read once here. R2D_EFORMAT when libzip refuses the archive or its directory is damaged.
 */
int r2d_zip_open(struct r2d_ctx *ctx, const struct r2d_bytesrc *in, struct r2d_zip **out);
/** Close; NULL is a no-op. */
void r2d_zip_close(struct r2d_zip *z);
/** libzip's handle, for listing members; owned by z. */
zip_t *r2d_zip_handle(const struct r2d_zip *z);
/** The archive's comment (not NUL-terminated), or NULL with *len 0. */
const char *r2d_zip_comment(const struct r2d_zip *z, size_t *len);
/**
 * Member i with its data offset; encrypted members are R2D_EUNSUPPORTED, a local header that is missing or
 * whose data runs past the end of the file R2D_EFORMAT / R2D_ETRUNC.
 */
int r2d_zip_member_at(struct r2d_ctx *ctx, const struct r2d_zip *z, uint64_t i, struct r2d_zip_member *m);
/** The member named name (exactly); R2D_ENOTFOUND with "<archive>: no member <name>" when absent. */
int r2d_zip_member_named(struct r2d_ctx *ctx, const struct r2d_zip *z, const char *name,
                         struct r2d_zip_member *m);
/**
 * A whole member (stored or deflate; its CRC-32 checked) into a malloc'd buffer of m->size bytes plus a NUL;
 * a member over max bytes is R2D_EUNSUPPORTED, so a lying size cannot exhaust memory.
 */
int r2d_zip_read_member(struct r2d_ctx *ctx, const struct r2d_zip *z, const struct r2d_zip_member *m,
                        uint64_t max, uint8_t **out);

#endif
