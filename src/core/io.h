/* SPDX-License-Identifier: MIT */
/* Bounded positional reads and hole lookup on file descriptors, for the byte sources, the writer and PDBs. */
#ifndef R2D_CORE_IO_H
#define R2D_CORE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

/*
 * A buffer for reading files into, freed with free(); NULL when out of memory. Page aligned: malloc returns
 * large blocks 16 bytes past a page boundary, and the kernel copies into such a buffer four to six times
 * slower than into an aligned one (docs/performance.md).
 */
void *r2d_alloc_io(size_t len);

/* Read exactly len bytes at off from fd, looping on short reads; a short file is R2D_ETRUNC. */
int r2d_pread_full(struct r2d_ctx *ctx, int fd, const char *path, uint64_t off, void *buf, size_t len,
                   const char *what);

/*
 * Is fd at off data or a hole (SEEK_DATA/SEEK_HOLE), and where does that extent end, capped at end. A file
 * system without hole reporting, a block device or any other failure answers "data up to end": holes are an
 * optimisation, never a reason to fail. A hole past the end of a file that shrank is reported as data, so
 * that the read names the truncation.
 */
void r2d_file_extent(int fd, uint64_t off, uint64_t end, int *is_data, uint64_t *ext_end);

#endif
