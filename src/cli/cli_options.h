/* SPDX-License-Identifier: MIT */
/* Conversion options by name: one table for the command line (--input-format) and manifests (input_format).
 */
#ifndef R2D_CLI_CLI_OPTIONS_H
#define R2D_CLI_CLI_OPTIONS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "raw2dmp/convert.h"

/* One option of a conversion, spelled as the long option; a manifest key is the same with '_' for '-'. */
struct cli_option {
    const char *name; /* "input-format" */
    int has_arg;      /* getopt_long's no_argument / required_argument */
};

/* The conversion options, terminated by a NULL name. Index i is getopt value CLI_OPTION_BASE + i. */
extern const struct cli_option cli_options[];
#define CLI_OPTION_BASE 1000

/* Exit codes (the man page lists them). */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILED = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_VERIFY = 3,
    CLI_EXIT_INCOMPLETE = 4, /* --info described INPUT, but the analysis stopped (no kernel, no symbols) */
    CLI_EXIT_INTERRUPTED = 130,
};

/*
 * The exit code for a library status: 0 ok, 130 cancelled or interrupted, 3 R2D_EVERIFY, 2 (usage)
 * R2D_ESAMEFILE, 4 R2D_EINCOMPLETE (--info), else 1.
 */
int cli_exit_code(int status, int interrupted);

/**
 * Set the option named name (long form) in opts from value: NULL turns a flag on; anything else is the
 * argument, kept by pointer (it must outlive opts). Returns 0, or -1 with a message for
 * "raw2dmp: --<name>: <why>" in why. Unknown names return -1 too.
 */
int cli_option_set(struct r2d_options *opts, const char *name, const char *value, char *why, size_t why_len);

/**
 * Set the option for manifest key key (underscores) from a JSON value: strings and numbers for options
 * with an argument, true/false for flags, null to return to the built-in default. String values stay
 * owned by v's document. Returns 0, or -1 with the reason in why ("unknown key" included).
 */
int cli_option_set_json(struct r2d_options *opts, const char *key, json_t *v, char *why, size_t why_len);

/** The options as the report's "options" object records them (r2d_options_json; new reference, or NULL). */
json_t *cli_options_json(const struct r2d_options *opts);

#endif
