/* SPDX-License-Identifier: MIT */
/* File helpers shared by the core's writers (output.c, source_digest.c). */
#ifndef R2D_CORE_IO_PRIV_H
#define R2D_CORE_IO_PRIV_H

#include <stdint.h>

/*
 * Is fd at off data or a hole (SEEK_DATA/SEEK_HOLE), and where does that extent end, capped at end. A file
 * system without hole reporting, a block device or any other failure answers "data up to end": holes are an
 * optimisation, never a reason to fail. A hole past the end of a file that shrank is reported as data, so
 * that the read names the truncation.
 */
void r2d_file_extent(int fd, uint64_t off, uint64_t end, int *is_data, uint64_t *ext_end);

#endif
