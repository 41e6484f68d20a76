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
    const char *companion;     /* the memory file of a state file given as input (VMware .vmem: --vmem),
                                  relative to the working directory; NULL: found beside the input */
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
    /*
     * Skip the fsyncs of the dump, the report and their directory (--no-sync): both are still written to
     * temporaries and renamed into place when complete, but only into the page cache. A crash of the host
     * (not of raw2dmp) before the kernel writes them back can leave a complete-looking dump with stale or
     * zero blocks. The report's output.synced records it.
     */
    int no_sync;
    unsigned hash;             /* enum r2d_hash_kind bits: the digests of input and output (R2D_HASH_NONE) */
    const char *report_path;   /* JSON report, written atomically like the dump */
    /*
     * Chain of custody: the command line as the program received it (main's argc and argv), recorded in
     * the report as given. Borrowed like every string here; argv NULL: the report says it is unknown.
     */
    int argc;
    const char *const *argv;
};

/**
 * What r2d_convert put in place, handed to the result sink (r2d_ctx_set_result) before it returns. Every
 * pointer is owned by the library and valid only during the call. Fields may be added at the end.
 */
struct r2d_result {
    const char *input, *output; /* as given */
    const char *report;         /* the report's path, or NULL */
    int dump_type;              /* 1 (full) or 5 (bitmap) */
    uint64_t size;              /* bytes of the dump */
    uint64_t pages;             /* pages it holds */
    size_t patches;             /* byte ranges that differ from the input (KDBG, contexts, ...) */
    double elapsed_s;           /* the whole conversion */
    double write_s;             /* writing the dump, digests included */
    /* Hex digests of the output and of the input file; "" for those not computed. */
    const char *sha256, *sha1, *md5;
    const char *input_sha256, *input_sha1, *input_md5;
    const char *kdbg;     /* how the dump's KDBG was obtained, in words */
    int kdbg_differences; /* fields where the image's KDBG differs from the symbols; -1 not compared */
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
 * The code of a common bug check named as Microsoft's documentation names it ("MANUALLY_INITIATED_CRASH"
 * is 0xE2, "LIVE_SYSTEM_DUMP" 0x161; case-insensitive), for --bugcheck, in *code. R2D_ENOTFOUND for a name
 * not in the table (docs/raw2dmp.1 lists it); *code is then untouched.
 */
R2D_API int r2d_bugcheck_code(const char *name, uint32_t *code);
/** The table's name for code ("LIVE_SYSTEM_DUMP" for 0x161), a static string; NULL when it has none. */
R2D_API const char *r2d_bugcheck_name(uint32_t code);

/**
 * Convert input to a crash dump at output. Returns 0 on success. On failure nothing is left at output and
 * the context holds the message; a report, when asked for, still documents what was tried (an existing
 * output or report refused without force, a refusal below, and an interrupted run, leave no report).
 * R2D_EVERIFY: --verify-kdbg found differences (the dump is still written). Without verify_kdbg the image's
 * KDBG is compared with the symbols all the same: differences, or a block that cannot be compared, are a
 * warning and an entry of the report, not a failure.
 *
 * Before anything is opened: R2D_ESAMEFILE, also with force, when output or the report is the same file as
 * input, as each other, or as the PDB or symbol table (compared by identity, see r2d_files_distinct);
 * R2D_EINVAL when output or the report is not a regular file, a dangling symbolic link, or names a
 * directory; R2D_EIO when its directory is missing or not writable. The dump and the report go in place
 * together: when the report cannot be written, the dump is not kept either (and output is left as it was,
 * unless only the report's final rename failed).
 */
R2D_API int r2d_convert(struct r2d_ctx *ctx, const struct r2d_options *opts, const char *input,
                        const char *output);

/**
 * Describe input without writing anything: format, runs, CPU states, notes, and as far as it gets the
 * engine's findings (DTB, kernel, symbols, KDBG, and what a conversion would write; for a crash dump its
 * processors' contexts instead). Writes JSON (json != 0) or text to out: a summary, then every other value
 * when ctx's verbosity is R2D_LOG_INFO or more. When an engine step fails, the description of what was
 * found is still written and the call returns R2D_EINCOMPLETE, with the failed step and how to fix it in
 * ctx's message. Other errors (an unreadable input) write nothing.
 */
R2D_API int r2d_info(struct r2d_ctx *ctx, const struct r2d_options *opts, const char *input, FILE *out,
                     int json);

#endif
