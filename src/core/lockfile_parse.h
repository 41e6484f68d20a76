/* SPDX-License-Identifier: MIT */
/* The contents of a lock file (lockfile.c), parsed apart from any I/O so that it can be tested and fuzzed. */
#ifndef R2D_CORE_LOCKFILE_PARSE_H
#define R2D_CORE_LOCKFILE_PARSE_H

#include <stddef.h>

#include "raw2dmp/lockfile.h"

#define R2D_LOCK_MAGIC "raw2dmp-lock 1\n"
#define R2D_LOCK_MAX_BYTES 1024

/**
 * Parse len bytes of a lock file (not NUL-terminated; only the first R2D_LOCK_MAX_BYTES count): the magic
 * line, then "host=", "pid=" (decimal, at most INT32_MAX), "started=" (decimal seconds) and "token=" (16 hex
 * digits) lines in any order. Returns 0 with *info filled and unreadable 0, or -1 with *info zeroed and
 * unreadable 1 (wrong magic, a field missing, too long or not a number, a host with a control character).
 */
int r2d_lock_parse(const char *text, size_t len, struct r2d_lock_info *info);

#endif
