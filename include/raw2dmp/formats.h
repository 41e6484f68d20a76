/* SPDX-License-Identifier: MIT */
/* The input formats, containers and optional features this build has: for --list-formats and early checks. */
#ifndef RAW2DMP_FORMATS_H
#define RAW2DMP_FORMATS_H

#include <stddef.h>

#include "raw2dmp/ctx.h"

/** Number of input formats (without "auto"). */
R2D_API size_t r2d_format_count(void);
/** Name and one-line summary of format i; R2D_EINVAL when i is out of range. */
R2D_API int r2d_format_describe(size_t i, const char **name, const char **summary);
/** True when name is "auto" or a format's name (case-insensitive). */
R2D_API int r2d_format_known(const char *name);
/**
 * Name and one-line summary of container kind i (gzip, xz, zstd, lz4, zip, ewf: read in place around an
 * input format); R2D_EINVAL when i is out of range.
 */
R2D_API int r2d_container_describe(size_t i, const char **name, const char **summary);

/**
 * The optional features a build may have (page codecs, downloads), for --list-formats and --version:
 * feature i's short name ("lzo"), whether this build has it (*present 1) or was built without it (0), and
 * what it gives ("kdump pages compressed with LZO"); static strings. Returns 0, or R2D_EINVAL when i is
 * past the last feature.
 */
R2D_API int r2d_feature_describe(size_t i, const char **name, int *present, const char **what);

#endif
