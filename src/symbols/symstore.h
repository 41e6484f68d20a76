/* SPDX-License-Identifier: MIT */
/*
 * Symbol paths (WinDbg _NT_SYMBOL_PATH syntax, docs/reference/symbols.md 3) and symbol stores. The search
 * itself, r2d_symstore_find(), is declared in symbols.h; this header adds the pieces the CLI and tests use.
 */
#ifndef R2D_ENGINE_SYMSTORE_H
#define R2D_ENGINE_SYMSTORE_H

#include <stddef.h>

#include "diag.h"

#define R2D_SYMSTORE_MSDL "https://msdl.microsoft.com/download/symbols"

enum r2d_sympath_kind {
    R2D_SYMPATH_DIR,   /* a plain directory: DIR/<name>, then the store layout DIR/<name>/<KEY>/<name> */
    R2D_SYMPATH_SRV,   /* srv*A*B*URL (or symsrv*symsrv.dll*...): stores and servers searched in order */
    R2D_SYMPATH_CACHE, /* cache*DIR: a store searched here; files found further right are copied into it */
};

struct r2d_sympath_elem {
    char *where; /* a directory, or an http(s) URL without trailing '/' */
    int is_url;
};

struct r2d_sympath_entry {
    enum r2d_sympath_kind kind;
    struct r2d_sympath_elem *elems; /* DIR and CACHE: exactly one local element */
    size_t n, cap;
    /*
     * SRV: index in elems of the downstream store (the leftmost local directory; the default cache when the
     * chain named none) where downloads go. default_store: it is the default cache, not the user's choice, so
     * an active cache*DIR to the left takes the downloads instead.
     */
    size_t downstream;
    int default_store;
};

struct r2d_sympath {
    struct r2d_sympath_entry *entries;
    size_t n, cap;
};

/**
 * Parse a symbol path: ';'-separated entries; "srv*A*...*URL", "symsrv*DLL*A*...*URL", "cache*DIR" (a bare
 * "cache*" is the default cache), or a plain directory. The prefixes are case-insensitive; only '*' and ';'
 * separate (Windows paths keep their ':' and '\'). An empty element in a srv chain ("srv**URL") and a chain
 * without a local directory ("srv*URL") use the default cache. offline drops every URL element (a chain left
 * without elements is dropped). Blank entries are skipped. Returns 0 and *out (free with r2d_sympath_free),
 * or R2D_EINVAL naming the bad entry (unknown "xyz*" prefix, a cache* with two directories, no default cache
 * because neither XDG_CACHE_HOME nor HOME is set, a URL scheme other than http/https), or R2D_ENOMEM.
 */
int r2d_sympath_parse(struct r2d_ctx *ctx, const char *s, int offline, struct r2d_sympath **out);
/** Free a parsed path; NULL is a no-op. */
void r2d_sympath_free(struct r2d_sympath *sp);
/**
 * Write the parsed path back in the normalised syntax: entries joined by ';', "srv*E1*E2*...", "cache*DIR",
 * "DIR", with defaults filled in. Always NUL-terminates (truncating if len is too small); returns buf.
 */
char *r2d_sympath_format(const struct r2d_sympath *sp, char *buf, size_t len);

/**
 * Check a PDB file name taken from the kernel's RSDS record (attacker-controlled memory) before it becomes a
 * path component: it must be 1..255 bytes, NUL-terminated within its 256-byte field, not "." and free of '/',
 * '\', "..", and control characters. Returns 0, or R2D_EINVAL with a message showing the name escaped.
 */
int r2d_symstore_check_name(struct r2d_ctx *ctx, const char name[256]);

/**
 * The default downstream store: $XDG_CACHE_HOME/raw2dmp/symbols when XDG_CACHE_HOME is an absolute path, else
 * $HOME/.cache/raw2dmp/symbols. Returns buf, or NULL when neither variable is usable or len is too small.
 */
const char *r2d_symstore_default_cache(char *buf, size_t len);
/** The built-in symbol path "srv*<default cache>*https://msdl.microsoft.com/download/symbols"; NULL as above.
 */
const char *r2d_symstore_default_path(char *buf, size_t len);

#endif
