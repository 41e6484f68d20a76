/* SPDX-License-Identifier: MIT */
/*
 * Reading a batch manifest (JSON lines, docs/user-guide.md "Batch conversion"), for --batch and for
 * --batch-status alike, so that both see the same items with the same line numbers.
 */
#ifndef R2D_CLI_CLI_MANIFEST_H
#define R2D_CLI_CLI_MANIFEST_H

#include <jansson.h>
#include <stddef.h>

/*
 * One item: its 1-based line in the file and the line's object, which the callee owns from now on (also when
 * it fails). 0, or -1 with why filled.
 */
typedef int (*cli_manifest_item_fn)(void *arg, size_t line, json_t *doc, char *why, size_t whylen);

/*
 * Read the manifest at path ("-": standard input; name is how messages call it), calling item for each line
 * that is not blank. A line that is not one JSON object (duplicate keys refused), or that item refuses, is
 * printed as "raw2dmp: NAME:LINE: WHY" and ends the reading. 0, or -1 once the error is printed.
 */
int cli_manifest_read(const char *path, const char *name, cli_manifest_item_fn item, void *arg);

#endif
