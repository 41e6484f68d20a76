/* SPDX-License-Identifier: MIT */
/*
 * Symbol paths and stores (docs/reference/symbols.md sections 2 and 3): find the PDB a kernel names along a
 * WinDbg-style symbol path, downloading it into the downstream store when allowed. Every candidate is checked
 * with the PDB reader against the kernel's GUID and age before it is used or stored.
 *
 * Files are written only inside the downstream store of a srv* chain or a cache* directory, always as a
 * temporary file in the final directory that is verified and then renamed, so a store never holds a partial
 * or mismatching file under a PDB's name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "download.h"
#include "symbols.h"
#include "symstore.h"

#define SYMSTORE_PATH_MAX 4096
#define SYMSTORE_KEY_LEN (R2D_GUID_HEX_LEN + 9)

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

/* --- Names --- */

/* Print name with anything unusual escaped, at most about 80 characters, for messages. */
static void
symstore_escape(const char *name, size_t max, char *out, size_t out_len)
{
    size_t o = 0;

    for (size_t i = 0; i < max && name[i] && o + 8 < out_len; i++) {
        const unsigned char c = (unsigned char)name[i];

        if (o >= 80) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c < 0x20 || c == 0x7F || c == '\'' || c == '\\')
            o += (size_t)snprintf(out + o, out_len - o, "\\x%02X", c);
        else
            out[o++] = (char)c;
    }
    out[o] = 0;
}

int
r2d_symstore_check_name(struct r2d_ctx *ctx, const char name[256])
{
    const char *nul = memchr(name, 0, 256);
    const char *why = NULL;
    char shown[128];

    symstore_escape(name, nul ? (size_t)(nul - name) : 256, shown, sizeof(shown));
    if (!nul)
        why = "longer than 255 bytes";
    else if (nul == name)
        why = "empty";
    else if (strcmp(name, ".") == 0 || strstr(name, ".."))
        why = "contains '..'";
    else if (strchr(name, '/'))
        why = "contains '/'";
    else if (strchr(name, '\\'))
        why = "contains '\\'";
    else
        for (const char *p = name; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7F) {
                why = "contains control characters";
                break;
            }
    if (why)
        return r2d_err(ctx, R2D_EINVAL,
                       "PDB name '%s' from the kernel's debug record is unsafe as a file name "
                       "(%s): refusing to search or download it; use --pdb or --symbols",
                       shown, why);
    return 0;
}

/* --- Parsing --- */

static int
symstore_is_url(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

static int
symstore_push_elem(struct r2d_sympath_entry *e, const char *s, size_t len, int is_url)
{
    struct r2d_sympath_elem *grown = realloc(e->elems, (e->n + 1) * sizeof(*grown));

    if (!grown)
        return R2D_ENOMEM;
    e->elems = grown;
    /* URLs lose trailing slashes: we append "/<name>/<key>/<name>". */
    while (is_url && len > 0 && s[len - 1] == '/')
        len--;
    e->elems[e->n].where = strndup(s, len);
    e->elems[e->n].is_url = is_url;
    if (!e->elems[e->n].where)
        return R2D_ENOMEM;
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
        return symstore_push_elem(e, def, strlen(def), 0) ? r2d_err(ctx, R2D_ENOMEM, "out of memory") : 0;
    }
    if (len >= 8 && symstore_is_url(tok)) {
        if (offline)
            return 0;
        return symstore_push_elem(e, tok, len, 1) ? r2d_err(ctx, R2D_ENOMEM, "out of memory") : 0;
    }
    if (colon && (size_t)(colon - tok) + 2 < len && colon[1] == '/' && colon[2] == '/')
        return r2d_err(ctx, R2D_EINVAL,
                       "symbol path entry '%s': '%.*s': only http:// and https:// servers are "
                       "supported",
                       entry, (int)len, tok);
    return symstore_push_elem(e, tok, len, 0) ? r2d_err(ctx, R2D_ENOMEM, "out of memory") : 0;
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
        if (symstore_push_elem(e, def, strlen(def), 0))
            return r2d_err(ctx, R2D_ENOMEM, "out of memory");
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
        return symstore_push_elem(e, entry, strlen(entry), 0) ? r2d_err(ctx, R2D_ENOMEM, "out of memory") : 0;
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
        return symstore_push_elem(e, dir, strlen(dir), 0) ? r2d_err(ctx, R2D_ENOMEM, "out of memory") : 0;
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
            struct r2d_sympath_entry *grown;

            entry = strndup(b, (size_t)(end - b));
            if (!entry) {
                r2d_sympath_free(sp);
                return r2d_err(ctx, R2D_ENOMEM, "out of memory");
            }
            rc = symstore_parse_entry(ctx, entry, offline, &e);
            free(entry);
            grown = rc ? NULL : realloc(sp->entries, (sp->n + 1) * sizeof(*grown));
            if (!grown) {
                symstore_entry_free(&e);
                r2d_sympath_free(sp);
                return rc ? rc : r2d_err(ctx, R2D_ENOMEM, "out of memory");
            }
            sp->entries = grown;
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

/* --- The search --- */

struct symstore_search {
    struct r2d_ctx *ctx;
    const struct r2d_pdb_id *id;
    const char *name;
    char key_up[SYMSTORE_KEY_LEN];
    char key_lo[SYMSTORE_KEY_LEN];
    int offline;
    const char *cache_dir; /* the active cache*DIR, if any */
    char tried[1400];      /* "place (why); ..." for the final message */
    size_t tried_len;
    int net_failed; /* a download failed for a reason other than 404 */
    int had_url;
    char *found_path;
    char *found_origin;
};

static void symstore_tried(struct symstore_search *s, const char *fmt, ...) R2D_PRINTF(2, 3);

static void
symstore_tried(struct symstore_search *s, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (s->tried_len + 8 >= sizeof(s->tried))
        return;
    if (s->tried_len) {
        memcpy(s->tried + s->tried_len, "; ", 3);
        s->tried_len += 2;
    }
    va_start(ap, fmt);
    n = vsnprintf(s->tried + s->tried_len, sizeof(s->tried) - s->tried_len, fmt, ap);
    va_end(ap);
    if (n < 0 || s->tried_len + (size_t)n >= sizeof(s->tried)) {
        s->tried_len = sizeof(s->tried) - 5;
        memcpy(s->tried + s->tried_len, "...", 4);
        s->tried_len = sizeof(s->tried) - 1;
    } else {
        s->tried_len += (size_t)n;
    }
}

static int symstore_join(char *buf, size_t len, const char *fmt, ...) R2D_PRINTF(3, 4);

static int
symstore_join(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int
symstore_is_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * Open path with the PDB reader and compare its GUID/age with the kernel's. 0 when it matches; otherwise a
 * status, with the reason in ctx's message (logged at INFO level).
 */
static int
symstore_verify(struct symstore_search *s, const char *path, const char *label)
{
    struct r2d_symbols *syms = NULL;
    int rc = r2d_pdb_open(s->ctx, path, &syms);

    if (rc == 0) {
        /* A downloaded file is named by its URL, not by its temporary name. */
        if (label)
            snprintf(syms->origin, sizeof(syms->origin), "%s", label);
        rc = r2d_symbols_match(s->ctx, syms, s->id, 0);
    }
    r2d_symbols_free(syms);
    if (rc)
        r2d_log(s->ctx, R2D_LOG_INFO, "skipping %s: %s", path, r2d_errmsg(s->ctx));
    return rc;
}

static int
symstore_found(struct symstore_search *s, const char *path, const char *origin)
{
    s->found_path = strdup(path);
    s->found_origin = strdup(origin);
    if (!s->found_path || !s->found_origin)
        return r2d_err(s->ctx, R2D_ENOMEM, "out of memory");
    r2d_log(s->ctx, R2D_LOG_INFO, "symbols: %s %s found at %s", s->name, s->key_up, origin);
    return 0;
}

/* Create dir and its missing parents. */
static int
symstore_mkdirs(struct r2d_ctx *ctx, const char *dir)
{
    char tmp[SYMSTORE_PATH_MAX];
    const size_t len = strlen(dir);
    struct stat st;

    if (len == 0 || len >= sizeof(tmp))
        return r2d_err(ctx, R2D_EINVAL, "%s: bad directory name", dir);
    memcpy(tmp, dir, len + 1);
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || *p == 0) {
            const char saved = *p;

            *p = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return r2d_err_errno(ctx, "%s: cannot create directory", tmp);
            if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
                return r2d_err(ctx, R2D_EIO, "%s: exists and is not a directory", tmp);
            *p = saved;
            if (!saved)
                break;
        }
    }
    return 0;
}

/* Best effort: remove <store>/<name>/<KEY> and <store>/<name> when a failed download left them empty. */
static void
symstore_rmdirs(const struct symstore_search *s, const char *store)
{
    char dir[SYMSTORE_PATH_MAX];

    if (symstore_join(dir, sizeof(dir), "%s/%s/%s", store, s->name, s->key_up) == 0)
        rmdir(dir);
    if (symstore_join(dir, sizeof(dir), "%s/%s", store, s->name) == 0)
        rmdir(dir);
}

/* Make a temporary file next to final: "<dir>/.<name>.XXXXXX". */
static int
symstore_mktemp(struct r2d_ctx *ctx, const struct symstore_search *s, const char *store, char *tmp,
                size_t len)
{
    int fd;

    if (symstore_join(tmp, len, "%s/%s/%s/.%s.XXXXXX", store, s->name, s->key_up, s->name) != 0)
        return r2d_err(ctx, R2D_EINVAL, "%s: path too long", store);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return r2d_err_errno(ctx, "%s: cannot create a temporary file", tmp);
    return fd;
}

/* Copy a verified file into the store dir (cache*DIR). Failure only costs a warning. */
static void
symstore_copy_into(struct symstore_search *s, const char *src, const char *store)
{
    char dir[SYMSTORE_PATH_MAX];
    char tmp[SYMSTORE_PATH_MAX];
    char final[SYMSTORE_PATH_MAX];
    char buf[65536];
    int in = -1;
    int out = -1;
    int made = 0;
    int ok = 0;
    ssize_t n = -1;

    if (symstore_join(dir, sizeof(dir), "%s/%s/%s", store, s->name, s->key_up) != 0 ||
        symstore_join(final, sizeof(final), "%s/%s", dir, s->name) != 0 || symstore_mkdirs(s->ctx, dir) != 0)
        goto done;
    out = symstore_mktemp(s->ctx, s, store, tmp, sizeof(tmp));
    if (out < 0)
        goto done;
    made = 1;
    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        goto done;
    while ((n = read(in, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
        for (ssize_t w = 0, k; n > 0 && w < n; w += k) {
            k = write(out, buf + w, (size_t)(n - w));
            if (k < 0 && errno == EINTR)
                k = 0;
            else if (k <= 0)
                goto done;
        }
    }
    ok = n == 0 && fsync(out) == 0 && close(out) == 0;
    out = -1;
    if (ok && rename(tmp, final) != 0)
        ok = 0;
done:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (!ok) {
        if (made)
            unlink(tmp);
        r2d_log(s->ctx, R2D_LOG_WARN, "could not copy %s into the cache %s", src, store);
    } else {
        r2d_log(s->ctx, R2D_LOG_INFO, "cached %s as %s", src, final);
    }
}

/* A file found at path by a non-cache entry: use it, and copy it into an active cache*DIR. */
static int
symstore_take(struct symstore_search *s, const char *path, const char *origin)
{
    if (s->cache_dir)
        symstore_copy_into(s, path, s->cache_dir);
    return symstore_found(s, path, origin);
}

/*
 * Look at one candidate file. Returns 1 when it exists and matches (*s filled), 0 when it is absent or was
 * skipped, <0 on a hard error (out of memory).
 */
static int
symstore_try_file(struct symstore_search *s, const char *path, const char *origin, int copy, int *seen)
{
    int rc;

    if (!symstore_is_file(path))
        return 0;
    *seen = 1;
    if (symstore_verify(s, path, NULL) != 0) {
        symstore_tried(s, "%s (%s)", path, r2d_errmsg(s->ctx));
        return 0;
    }
    rc = copy ? symstore_take(s, path, origin) : symstore_found(s, path, origin);
    return rc ? rc : 1;
}

/* Search a local store in layout <dir>/<name>/<KEY>/<name>, uppercase key first. */
static int
symstore_search_store(struct symstore_search *s, const char *dir, int is_cache, int copy, int *seen)
{
    const char *keys[2] = {s->key_up, s->key_lo};

    for (int i = 0; i < 2; i++) {
        char path[SYMSTORE_PATH_MAX];
        char origin[SYMSTORE_PATH_MAX + 8];
        int rc;

        if (i == 1 && strcmp(s->key_up, s->key_lo) == 0)
            break;
        if (symstore_join(path, sizeof(path), "%s/%s/%s/%s", dir, s->name, keys[i], s->name) != 0)
            continue;
        snprintf(origin, sizeof(origin), "%s%s", is_cache ? "cache:" : "", path);
        rc = symstore_try_file(s, path, origin, copy, seen);
        if (rc)
            return rc;
    }
    return 0;
}

/* A plain directory: <dir>/<name>, then the store layout. */
static int
symstore_search_dir(struct symstore_search *s, const char *dir)
{
    char path[SYMSTORE_PATH_MAX];
    int seen = 0;
    int rc = 0;

    if (symstore_join(path, sizeof(path), "%s/%s", dir, s->name) == 0)
        rc = symstore_try_file(s, path, path, 1, &seen);
    if (rc == 0)
        rc = symstore_search_store(s, dir, 0, 1, &seen);
    if (rc == 0 && !seen)
        symstore_tried(s, "%s (not there)", dir);
    return rc;
}

/* Download <url>/<name>/<KEY>/<name> into store through a verified temporary file. 1 found, 0 not, <0 error.
 */
static int
symstore_fetch(struct symstore_search *s, const char *base, const char *store)
{
    char url[SYMSTORE_PATH_MAX];
    char dir[SYMSTORE_PATH_MAX];
    char tmp[SYMSTORE_PATH_MAX];
    char final[SYMSTORE_PATH_MAX];
    int fd = -1;
    int rc;

    s->had_url = 1;
    if (symstore_join(url, sizeof(url), "%s/%s/%s/%s", base, s->name, s->key_up, s->name) != 0 ||
        symstore_join(dir, sizeof(dir), "%s/%s/%s", store, s->name, s->key_up) != 0 ||
        symstore_join(final, sizeof(final), "%s/%s", dir, s->name) != 0) {
        symstore_tried(s, "%s (URL or store path too long)", base);
        return 0;
    }
    if (!r2d_download_available()) {
        symstore_tried(s, "%s (not downloaded: raw2dmp was built without libcurl)", url);
        return 0;
    }
    rc = symstore_mkdirs(s->ctx, dir);
    if (rc == 0)
        rc = fd = symstore_mktemp(s->ctx, s, store, tmp, sizeof(tmp));
    if (rc < 0) {
        symstore_tried(s, "%s (cannot store the download: %s)", url, r2d_errmsg(s->ctx));
        symstore_rmdirs(s, store);
        s->net_failed = 1;
        return 0;
    }
    rc = r2d_download(s->ctx, url, fd, NULL, NULL);
    if (rc == 0 && fsync(fd) != 0)
        rc = r2d_err_errno(s->ctx, "%s: cannot flush the download", tmp);
    if (close(fd) != 0 && rc == 0)
        rc = r2d_err_errno(s->ctx, "%s: cannot write the download", tmp);
    if (rc == 0 && symstore_verify(s, tmp, url) != 0) {
        r2d_err_prefix(s->ctx, R2D_EMISMATCH, "downloaded file refused, not stored");
        rc = R2D_EMISMATCH;
    }
    if (rc == 0 && rename(tmp, final) != 0)
        rc = r2d_err_errno(s->ctx, "%s: cannot rename into %s", tmp, final);
    if (rc) {
        unlink(tmp);
        symstore_rmdirs(s, store);
        if (rc == R2D_ECANCELED)
            return rc;
        if (rc != R2D_ENOTFOUND && rc != R2D_EMISMATCH)
            s->net_failed = 1;
        symstore_tried(s, "%s", r2d_errmsg(s->ctx)); /* the message names the URL */
        return 0;
    }
    r2d_log(s->ctx, R2D_LOG_INFO, "stored %s as %s", url, final);
    if (s->cache_dir && strcmp(s->cache_dir, store) != 0)
        symstore_copy_into(s, final, s->cache_dir);
    rc = symstore_found(s, final, url);
    return rc ? rc : 1;
}

static int
symstore_search_srv(struct symstore_search *s, const struct r2d_sympath_entry *e)
{
    /* Downloads go to the chain's downstream store, unless that is only the default and cache*DIR is active.
     */
    const char *store = e->default_store && s->cache_dir ? s->cache_dir : e->elems[e->downstream].where;

    for (size_t i = 0; i < e->n; i++) {
        int seen = 0;
        int rc;

        if (e->elems[i].is_url) {
            rc = symstore_fetch(s, e->elems[i].where, store);
        } else {
            rc = symstore_search_store(s, e->elems[i].where, i == e->downstream, i != e->downstream, &seen);
            if (rc == 0 && !seen)
                symstore_tried(s, "%s (not there)", e->elems[i].where);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int
symstore_not_found(struct symstore_search *s)
{
    const char *hint;

    if (s->offline)
        hint = "offline: use --pdb FILE or --symbols FILE.json[.xz], or allow downloads (no --offline)";
    else if (!s->had_url)
        hint =
            "use --pdb FILE or --symbols FILE.json[.xz], or add a symbol server (srv*DIR*" R2D_SYMSTORE_MSDL
            ")";
    else
        hint = "use --pdb FILE or --symbols FILE.json[.xz]";
    return r2d_err(s->ctx, s->net_failed ? R2D_ENETWORK : R2D_ENOTFOUND,
                   "no PDB %s with key %s: looked in %s; %s", s->name, s->key_up,
                   s->tried_len ? s->tried : "nothing (empty symbol path)", hint);
}

int
r2d_symstore_find(struct r2d_ctx *ctx, const char *symbol_path, int offline, const struct r2d_pdb_id *id,
                  char **path_out, char **origin_out)
{
    struct symstore_search s = {.ctx = ctx, .id = id, .name = id->name, .offline = offline};
    struct r2d_sympath *sp = NULL;
    int rc;

    *path_out = NULL;
    *origin_out = NULL;
    if (!symbol_path)
        symbol_path = "";
    rc = r2d_symstore_check_name(ctx, id->name);
    if (rc)
        return rc;
    r2d_pdb_id_key(id, s.key_up);
    memcpy(s.key_lo, s.key_up, sizeof(s.key_lo));
    for (char *p = s.key_lo; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    rc = r2d_sympath_parse(ctx, symbol_path, offline, &sp);
    if (rc)
        return rc;
    for (size_t i = 0; i < sp->n && rc == 0; i++) {
        const struct r2d_sympath_entry *e = &sp->entries[i];
        int seen = 0;

        switch (e->kind) {
        case R2D_SYMPATH_DIR:
            rc = symstore_search_dir(&s, e->elems[0].where);
            break;
        case R2D_SYMPATH_CACHE:
            rc = symstore_search_store(&s, e->elems[0].where, 1, 0, &seen);
            if (rc == 0 && !seen)
                symstore_tried(&s, "%s (not there)", e->elems[0].where);
            s.cache_dir = e->elems[0].where;
            break;
        case R2D_SYMPATH_SRV:
            rc = symstore_search_srv(&s, e);
            break;
        }
    }
    if (rc > 0) {
        *path_out = s.found_path;
        *origin_out = s.found_origin;
        rc = 0;
    } else {
        free(s.found_path);
        free(s.found_origin);
        if (rc == 0)
            rc = symstore_not_found(&s);
    }
    r2d_sympath_free(sp);
    return rc;
}
