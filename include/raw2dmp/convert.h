/* SPDX-License-Identifier: MIT */
/* The conversion pipeline: open an image, find the kernel, get symbols, fix the KDBG, write a crash dump. */
#ifndef RAW2DMP_CONVERT_H
#define RAW2DMP_CONVERT_H

#include <stdint.h>
#include <stdio.h>

#include "raw2dmp/ctx.h"
#include "raw2dmp/types.h"

struct r2d_options {
    const char *input_format;  /* "auto" or a format name (the format inside any containers) */
    /* containers (gzip, xz, zstd, LZ4, ZIP, EWF) around the image */
    const char *member;        /* the ZIP member holding the image; NULL: the one candidate */
    int no_containers;         /* read the file as it is, unwrapping no container (--container none) */
    int verify_container;      /* check the containers' stored digests against the data at open */
    /* symbols: an explicit PDB or ISF wins over the symbol path */
    const char *pdb_path;
    const char *isf_path;
    const char *symbol_path;   /* WinDbg syntax; NULL = _NT_SYMBOL_PATH, else the built-in default */
    int offline;               /* never touch the network */
    int force_symbols;         /* accept symbols whose GUID/age do not match the kernel */
    /* discovery overrides, validated like discovered values */
    uint64_t dtb;
    int have_dtb;
    uint64_t kernel_base;
    int have_kernel_base;
    /* KDBG */
    int rebuild_kdbg;          /* build the block from symbols instead of trusting the image */
    int verify_kdbg;           /* compare the image's block with the rebuilt one; differences fail */
    /* header */
    uint32_t bugcheck_code;
    int have_bugcheck;
    enum r2d_dump_type dump_type;
    /* output */
    int force;                 /* replace an existing output */
    enum r2d_hash_kind hash;
    const char *report_path;   /* JSON report, written atomically like the dump */
};

/** Defaults: auto format, SHA-256, everything else off (pointers NULL). */
R2D_API void r2d_options_init(struct r2d_options *opts);

/**
 * The options as the report's "options" object records them: one line of JSON, malloc'd, for the caller
 * to free(). Addresses are "0x..." strings, options not given are null. A tool that compares a report
 * with the options it would run (batch's skip check) compares this object. NULL when out of memory.
 */
R2D_API char *r2d_options_json(const struct r2d_options *opts);

/**
 * Convert input to a crash dump at output. Returns 0 on success. On failure nothing is left at output and
 * the context holds the message; a report, when asked for, still documents what was tried (an existing
 * output or report refused without force, and an interrupted run, leave no report). R2D_EVERIFY:
 * --verify-kdbg found differences (the dump is still written).
 */
R2D_API int r2d_convert(struct r2d_ctx *ctx, const struct r2d_options *opts, const char *input,
                        const char *output);

/**
 * Describe input without writing anything: format, runs, CPU states, notes, and as far as it gets the
 * engine's findings (DTB, kernel, symbols, KDBG). Writes JSON (json != 0) or text to out. A failing
 * engine step is reported in the description, not as an error; errors are only for unreadable input.
 */
R2D_API int r2d_info(struct r2d_ctx *ctx, const struct r2d_options *opts, const char *input, FILE *out,
                     int json);

#endif
