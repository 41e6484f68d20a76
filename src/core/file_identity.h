/* SPDX-License-Identifier: MIT */
/* Before any work: a conversion's files are distinct by identity, and its outputs can be written. */
#ifndef R2D_CORE_FILE_IDENTITY_H
#define R2D_CORE_FILE_IDENTITY_H

#include "diag.h"
#include "raw2dmp/convert.h"
#include "raw2dmp/files.h"

/**
 * The checks r2d_convert makes before it opens anything: INPUT, OUTPUT, the report, --pdb and --symbols
 * are told apart by identity (r2d_files_distinct: R2D_ESAMEFILE when a written one is another of them),
 * then OUTPUT and the report must be writable targets (r2d_file_target_check). R2D_EINVAL for a missing
 * input or output name.
 */
int r2d_files_check_conversion(struct r2d_ctx *ctx, const struct r2d_options *opts, const char *input,
                               const char *output);

/**
 * A file about to be written at path ("output" or "report" in what, for messages): its last component
 * names a file; if something is there already, it is a regular file (symbolic links followed), never a
 * directory, a device or a dangling symbolic link; its directory exists and this process may create files
 * in it (access(2) with the effective ids). R2D_EINVAL for the shape of the target, R2D_EIO with strerror for
 * the directory (R2D_EIO also for "Read-only file system").
 */
int r2d_file_target_check(struct r2d_ctx *ctx, const char *path, const char *what);

#endif
