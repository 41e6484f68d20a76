/* SPDX-License-Identifier: MIT */
/* Bytes as lowercase hex, the way digests appear in reports and logs. */
#ifndef R2D_CORE_HEX_H
#define R2D_CORE_HEX_H

#include <stddef.h>
#include <stdint.h>

/** Write the 2 * n lowercase hex digits of bytes[0, n) and a NUL to out (2 * n + 1 bytes). Returns out. */
char *r2d_hex(char *out, const uint8_t *bytes, size_t n);

#endif
