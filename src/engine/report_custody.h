/* SPDX-License-Identifier: MIT */
/*
 * The report as a chain-of-custody record (issue 12): who ran what, where and when, with which build, and
 * the identity of every file (resolved path, size, times, digests) -- what an examiner would otherwise
 * note by hand for the case file.
 */
#ifndef R2D_ENGINE_REPORT_CUSTODY_H
#define R2D_ENGINE_REPORT_CUSTODY_H

#include <jansson.h>
#include <time.h>

#include "analysis.h"
#include "crashdump.h"

/* A wall-clock time as UTC ISO 8601: seconds ("2024-05-01T12:00:00Z"), with nsec >= 0 also nanoseconds. */
json_t *r2d_report_utc(time_t t, long nsec);
/* The build: name, version, source revision, optional features present or not, the libcrypto in use. */
json_t *r2d_report_tool(void);
/* How the conversion was started: argv as given (null when the caller did not say), cwd, host, user. */
json_t *r2d_report_invocation(const struct r2d_options *opts);
/*
 * The input object (r2d_report_image) with the file's identity first: path, "absolute_path" (symbolic
 * links resolved), size, the "mtime" the open descriptor fd had (UTC ISO 8601, nanoseconds; fd < 0: the
 * path's, for an input that could not be opened as an image) and the digests, null until they are made.
 * Takes in_json's reference; returns the new object.
 */
json_t *r2d_report_input_custody(json_t *in_json, const char *path, int fd);
/*
 * The absolute path a file written at path ends up at: its directory resolved, its own name kept (the
 * rename replaces a symbolic link there, it does not follow it). null when the directory cannot be resolved.
 */
json_t *r2d_report_target_path(const char *path);
/*
 * Add "file" to the report's analysis.symbols: the symbol file read, its resolved path, size and digests
 * (the kinds of hash; none with R2D_HASH_NONE). A file that cannot be hashed gets "digest_error".
 */
void r2d_report_symbols_file(struct r2d_ctx *ctx, const struct r2d_analysis *a, json_t *analysis_json,
                             unsigned hash);
/* Add each computed digest of hex to obj as "<name>": hex (absent ones as null, when nulls). */
void r2d_report_digests(json_t *obj, const struct r2d_digest_hex *hex, int nulls);

#endif
