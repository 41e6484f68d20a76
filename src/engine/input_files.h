/* SPDX-License-Identifier: MIT */
/*
 * The input's files on disk: the one file of a plain input, or every segment of a split EWF image (the
 * layer's list, r2d_bytesrc_files_owner). Each is identified in the report and --info, hashed in a
 * conversion, and protected like the input by the evidence checks.
 */
#ifndef R2D_ENGINE_INPUT_FILES_H
#define R2D_ENGINE_INPUT_FILES_H

#include <jansson.h>

#include "bytesrc.h"
#include "crashdump.h"
#include "raw2dmp/convert.h"

/*
 * "files": one object per file, in the order read: path, absolute_path, size, mtime, device, inode (the
 * first file's from the open descriptor, the others' from their path when the image was opened).
 */
json_t *r2d_report_input_files(const struct r2d_bytesrc *in);
/*
 * After the input was opened and before anything is written: no output or report may be one of its files
 * (a later segment named as OUTPUT, or a link to it): R2D_ESAMEFILE as r2d_files_distinct says it. Nothing
 * to check for a one-file input: r2d_files_check_conversion covered it.
 */
int r2d_input_files_check(struct r2d_ctx *ctx, const struct r2d_options *opts, const struct r2d_bytesrc *in,
                          const char *output);
/*
 * The same before the input is opened, for the segments libewf would find from input's name (a split
 * E01), so that a later segment named as OUTPUT is refused as early as the first: before the test for an
 * existing output and before any work.
 */
int r2d_input_files_precheck(struct r2d_ctx *ctx, const struct r2d_options *opts, const char *input,
                             const char *output);
/*
 * Start hashing the input's later files (a split image's segments after the first) on a thread of its own,
 * while the dump is written; NULL when there are none or hash is R2D_HASH_NONE (or out of memory: they are
 * then reported without digests). End with r2d_report_input_files_digests, or r2d_input_files_hash_stop
 * when the conversion fails first.
 */
struct r2d_input_hasher;
struct r2d_input_hasher *r2d_input_files_hash_start(struct r2d_ctx *ctx, const json_t *in_json, unsigned hash);
void r2d_input_files_hash_stop(struct r2d_input_hasher *h);
/*
 * Fill the digests of in_json's "files": the first file's are the input's (res, made while the dump was
 * written), the later ones h's (waited for here). A file that could not be read, or whose size is no longer
 * the one recorded, gets "digest_error" and a warning; the conversion does not fail.
 */
void r2d_report_input_files_digests(struct r2d_ctx *ctx, json_t *in_json, const struct r2d_write_result *res,
                                    struct r2d_input_hasher *h);

#endif
