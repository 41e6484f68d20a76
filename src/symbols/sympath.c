/* SPDX-License-Identifier: MIT */
/*
 * Symbol paths (WinDbg _NT_SYMBOL_PATH syntax, docs/reference/symbols.md section 3): parsing into entries the
 * store search walks (symstore.c), formatting them back, and the default cache and path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "array.h"
#include "symbols.h"
#include "symstore.h"

#define SYMSTORE_PATH_MAX 4096

/* --- Default locations --- */

const char *
r2d_symstore_default_cache(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;

    /* The XDG base directory spec says relative values are invalid and must be ignored. */
    if (xdg && xdg[0] == '/')
        n = snprintf(buf, len, "%s/raw2dmp/symbols", xdg);
    else if (home && home[0] == '/')
        n = snprintf(buf, len, "%s/.cache/raw2dmp/symbols", home);
    else
        return NULL;
    return n > 0 && (size_t)n < len ? buf : NULL;
}

const char *
r2d_symstore_default_path(char *buf, size_t len)
{
    char cache[SYMSTORE_PATH_MAX];
    int n;

    if (!r2d_symstore_default_cache(cache, sizeof(cache)))
        return NULL;
    n = snprintf(buf, len, "srv*%s*%s", cache, R2D_SYMSTORE_MSDL);
    return n > 0 && (size_t)n < len ? buf : NULL;
}

/* --- Parsing --- */

static int
symstore_is_url(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

static int
symstore_push_elem(struct r2d_ctx *ctx, struct r2d_sympath_entry *e, const char *s, size_t len, int is_url)
{
    if (r2d_grow(ctx, &e->elems, &e->cap, e->n + 1, sizeof(*e->elems), "symbol path elements"))
        return R2D_ENOMEM;
    /* URLs lose trailing slashes: we append "/<name>/<key>/<name>". */
    while (is_url && len > 0 && s[len - 1] == '/')
        len--;
    e->elems[e->n].where = strndup(s, len);
    e->elems[e->n].is_url = is_url;
    if (!e->elems[e->n].where)
        return r2d_err(ctx, R2D_ENOMEM, "out of memory for symbol path elements");
    e->n++;
    return 0;
}

static void
symstore_entry_free(struct r2d_sympath_entry *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->elems[i].where);
    free(e->elems);
}

void
r2d_sympath_free(struct r2d_sympath *sp)
{
    if (!sp)
        return;
    for (size_t i = 0; i < sp->n; i++)
        symstore_entry_free(&sp->entries[i]);
    free(sp->entries);
    free(sp);
}

static int
symstore_no_default(struct r2d_ctx *ctx, const char *entry)
{
    return r2d_err(ctx, R2D_EINVAL,
                   "symbol path entry '%s' needs the default symbol cache, but neither "
                   "XDG_CACHE_HOME nor HOME is set: name a directory (srv*DIR*URL)",
                   entry);
}

/*
 * Add one element of a srv chain. An empty element is the default cache; a URL is dropped when offline.
 * Returns 0 or a status.
 */
static int
symstore_srv_elem(struct r2d_ctx *ctx, const char *entry, struct r2d_sympath_entry *e, const char *tok,
                  size_t len, int offline)
{
    char def[SYMSTORE_PATH_MAX];
    const char *colon = memchr(tok, ':', len);

    if (len == 0) {
        if (!r2d_symstore_default_cache(def, sizeof(def)))
            return symstore_no_default(ctx, entry);
        return symstore_push_elem(ctx, e, def, strlen(def), 0);
    }
    if (len >= 8 && symstore_is_url(tok)) {
        if (offline)
            return 0;
        return symstore_push_elem(ctx, e, tok, len, 1);
    }
    if (colon && (size_t)(colon - tok) + 2 < len && colon[1] == '/' && colon[2] == '/')
        return r2d_err(ctx, R2D_EINVAL,
                       "symbol path entry '%s': '%.*s': only http:// and https:// servers are "
                       "supported",
                       entry, (int)len, tok);
    return symstore_push_elem(ctx, e, tok, len, 0);
}

/* Parse "srv" chain elements rest[0..] (the text after "srv*" or "symsrv*DLL*"). */
static int
symstore_parse_srv(struct r2d_ctx *ctx, const char *entry, const char *rest, int offline,
                   struct r2d_sympath_entry *e)
{
    int had_local = 0;
    const char *p = rest;

    e->kind = R2D_SYMPATH_SRV;
    for (;;) {
        const char *star = strchr(p, '*');
        const size_t len = star ? (size_t)(star - p) : strlen(p);
        const int url = len >= 8 && symstore_is_url(p);
        const int rc = symstore_srv_elem(ctx, entry, e, p, len, offline);

        if (rc)
            return rc;
        had_local |= !url;
        if (!star)
            break;
        p = star + 1;
    }
    if (!had_local) {
        /* "srv*URL": the default cache is the downstream store, searched first. */
        char def[SYMSTORE_PATH_MAX];
        struct r2d_sympath_elem tmp;

        if (!r2d_symstore_default_cache(def, sizeof(def)))
            return symstore_no_default(ctx, entry);
        if (symstore_push_elem(ctx, e, def, strlen(def), 0))
            return R2D_ENOMEM;
        tmp = e->elems[e->n - 1];
        memmove(e->elems + 1, e->elems, (e->n - 1) * sizeof(*e->elems));
        e->elems[0] = tmp;
        e->default_store = 1;
    } else if (rest[0] == '*' || rest[0] == 0) {
        e->default_store = 1; /* "srv**URL": the empty first element is the default cache */
    }
    for (e->downstream = 0; e->downstream < e->n && e->elems[e->downstream].is_url; e->downstream++)
        ;
    return 0;
}

/* Parse one non-blank entry (already trimmed, NUL-terminated) into e. */
static int
symstore_parse_entry(struct r2d_ctx *ctx, const char *entry, int offline, struct r2d_sympath_entry *e)
{
    const char *star = strchr(entry, '*');
    const size_t plen = star ? (size_t)(star - entry) : 0;
    char def[SYMSTORE_PATH_MAX];

    if (!star) {
        if (symstore_is_url(entry)) /* a bare server URL: as srv*URL */
            return symstore_parse_srv(ctx, entry, entry, offline, e);
        e->kind = R2D_SYMPATH_DIR;
        return symstore_push_elem(ctx, e, entry, strlen(entry), 0);
    }
    if (plen == 3 && strncasecmp(entry, "srv", 3) == 0)
        return symstore_parse_srv(ctx, entry, star + 1, offline, e);
    if (plen == 6 && strncasecmp(entry, "symsrv", 6) == 0) {
        const char *dll_end = strchr(star + 1, '*');

        if (!dll_end)
            return r2d_err(ctx, R2D_EINVAL,
                           "symbol path entry '%s': symsrv* wants symsrv*symsrv.dll*STORE*URL", entry);
        return symstore_parse_srv(ctx, entry, dll_end + 1, offline, e);
    }
    if (plen == 5 && strncasecmp(entry, "cache", 5) == 0) {
        const char *dir = star + 1;

        if (strchr(dir, '*'))
            return r2d_err(ctx, R2D_EINVAL, "symbol path entry '%s': cache* takes one directory", entry);
        if (!*dir) {
            if (!r2d_symstore_default_cache(def, sizeof(def)))
                return symstore_no_default(ctx, entry);
            dir = def;
        }
        e->kind = R2D_SYMPATH_CACHE;
        return symstore_push_elem(ctx, e, dir, strlen(dir), 0);
    }
    return r2d_err(ctx, R2D_EINVAL,
                   "symbol path entry '%s': unknown '%.*s*' (expected srv*, symsrv*, cache* or "
                   "a directory)",
                   entry, (int)plen, entry);
}

int
r2d_sympath_parse(struct r2d_ctx *ctx, const char *s, int offline, struct r2d_sympath **out)
{
    struct r2d_sympath *sp = calloc(1, sizeof(*sp));
    const char *p = s;

    *out = NULL;
    if (!sp)
        return r2d_err(ctx, R2D_ENOMEM, "out of memory");
    for (;;) {
        const char *semi = strchr(p, ';');
        const char *end = semi ? semi : p + strlen(p);
        const char *b = p;
        struct r2d_sympath_entry e = {0};
        char *entry;
        int rc;

        while (b < end && (*b == ' ' || *b == '\t'))
            b++;
        while (end > b && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
            end--;
        if (end > b) {
            entry = strndup(b, (size_t)(end - b));
            if (!entry) {
                r2d_sympath_free(sp);
                return r2d_err(ctx, R2D_ENOMEM, "out of memory");
            }
            rc = symstore_parse_entry(ctx, entry, offline, &e);
            free(entry);
            if (!rc)
                rc = r2d_grow(ctx, &sp->entries, &sp->cap, sp->n + 1, sizeof(*sp->entries),
                              "symbol path entries");
            if (rc) {
                symstore_entry_free(&e);
                r2d_sympath_free(sp);
                return rc;
            }
            sp->entries[sp->n++] = e;
        }
        if (!semi)
            break;
        p = semi + 1;
    }
    *out = sp;
    return 0;
}

char *
r2d_sympath_format(const struct r2d_sympath *sp, char *buf, size_t len)
{
    size_t o = 0;

#define SYMSTORE_PUT(...)                                                                                    \
    do {                                                                                                     \
        if (o < len) {                                                                                       \
            const int n_ = snprintf(buf + o, len - o, __VA_ARGS__);                                          \
            o = n_ < 0 ? len : o + (size_t)n_;                                                               \
        }                                                                                                    \
    } while (0)
    if (len == 0)
        return buf;
    buf[0] = 0;
    for (size_t i = 0; i < sp->n; i++) {
        const struct r2d_sympath_entry *e = &sp->entries[i];

        SYMSTORE_PUT("%s%s", i ? ";" : "",
                     e->kind == R2D_SYMPATH_SRV     ? "srv*"
                     : e->kind == R2D_SYMPATH_CACHE ? "cache*"
                                                    : "");
        for (size_t j = 0; j < e->n; j++)
            SYMSTORE_PUT("%s%s", j ? "*" : "", e->elems[j].where);
    }
#undef SYMSTORE_PUT
    if (o >= len)
        buf[len - 1] = 0;
    return buf;
}
