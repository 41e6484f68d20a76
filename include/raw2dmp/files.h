/* SPDX-License-Identifier: MIT */
/* Telling a conversion's files apart by identity, so that no output ever replaces the evidence it reads. */
#ifndef RAW2DMP_FILES_H
#define RAW2DMP_FILES_H

#include <stddef.h>

#include "raw2dmp/ctx.h"

/* One file named to one or more conversions. */
struct r2d_file_ref {
    const char *path;
    const char *role; /* how messages name it: "INPUT", "OUTPUT", "--report", "line 3 output" */
    int written;      /* 1: created or replaced (an output, a report); 0: only read (an input, a PDB) */
};

/**
 * Check that no written file of the list is the same file as any other entry, comparing identities rather
 * than spellings: an existing path is its inode (st_dev, st_ino, symbolic links followed), so "x", "./x",
 * "dir/../x", a hard link, a symbolic link to it and the same file seen through a bind mount are one file;
 * a path that does not exist yet is the inode of its resolved directory plus its last component; a
 * dangling symbolic link is the link itself (what a rename would replace); a path whose directory cannot
 * be resolved is its spelling made absolute and normalised. Entries that are only read may be the same
 * file (two conversions of one input). Nothing is created or modified; the check sees the file system as
 * it is at the call (a file that another process swaps in later is not seen).
 *
 * Returns 0, R2D_ENOMEM, or R2D_ESAMEFILE with "<role> '<path>' is the same file as <role> '<path>'" in
 * ctx for the clashing pair whose later entry comes first in the list, its written entry named first (the
 * later one when both are written). clash, when not NULL, receives the two indices in that order.
 */
R2D_API int r2d_files_distinct(struct r2d_ctx *ctx, const struct r2d_file_ref *files, size_t n,
                               size_t clash[2]);

#endif
