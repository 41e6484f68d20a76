/* SPDX-License-Identifier: MIT */
/*
 * Symbol stores (docs/reference/symbols.md section 2): find the PDB a kernel names along a parsed symbol path
 * (sympath.c), downloading it into the downstream store when allowed. Every candidate is checked
 * with the PDB reader against the kernel's GUID and age before it is used or stored.
 *
 * Files are written only inside the downstream store of a srv* chain or a cache* directory, always as a
 * temporary file in the final directory that is verified and then renamed, so a store never holds a partial
 * or mismatching file under a PDB's name. A download holds a lock file beside its entry, so that processes
 * sharing a store (batch jobs on many nodes) download one PDB once; the others wait and use the stored file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "raw2dmp/lockfile.h"
#include "download.h"
#include "symbols.h"
#include "symstore.h"

#define SYMSTORE_PATH_MAX 4096
#define SYMSTORE_KEY_LEN (R2D_GUID_HEX_LEN + 9)
#define SYMSTORE_LOCK_POLL_MS 200
/* Seconds beyond the longest download (timeout x tries) after which a download's lock is stale. */
#define SYMSTORE_LOCK_SLACK 60

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

/*
 * Download url into final (inside store) through a verified temporary file. 1 stored, 0 not (the reason is in
 * the tried list), <0 cancelled.
 */
static int
symstore_download(struct symstore_search *s, const char *url, const char *store, const char *final)
{
    char tmp[SYMSTORE_PATH_MAX];
    int fd, rc;

    rc = fd = symstore_mktemp(s->ctx, s, store, tmp, sizeof(tmp));
    if (rc < 0) {
        symstore_tried(s, "%s (cannot store the download: %s)", url, r2d_errmsg(s->ctx));
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
    if (rc == 0)
        return 1;
    unlink(tmp);
    if (rc == R2D_ECANCELED)
        return rc;
    if (rc != R2D_ENOTFOUND && rc != R2D_EMISMATCH)
        s->net_failed = 1;
    symstore_tried(s, "%s", r2d_errmsg(s->ctx)); /* the message names the URL */
    return 0;
}

/*
 * Take the store entry's lock (dir/.<name>.lock), so that of many processes needing one PDB in a shared store
 * only one downloads it while the others wait, then find it in place. The wait ends when the lock is freed
 * (the holder finished or failed), becomes stale (its holder on this host died, or it is older than a whole
 * download may take), or the search is cancelled. A lock that cannot be made (a read-only store) is no
 * reason not to download: the temporary file and rename keep the store consistent without it. *held says
 * whether the lock is ours; returns 0, or R2D_ECANCELED.
 */
static int
symstore_lock(struct symstore_search *s, const char *lock, struct r2d_lock_info *mine, int *held)
{
    struct r2d_download_opts o;
    int64_t max_age;
    const double t0 = r2d_now();

    r2d_download_opts_default(&o);
    max_age = (int64_t)o.timeout * (o.retries + 1) + SYMSTORE_LOCK_SLACK;
    *held = 0;
    for (int waited = 0;; waited = 1) {
        const struct timespec poll = {0, SYMSTORE_LOCK_POLL_MS * 1000000L};
        const int rc = r2d_lock_acquire(s->ctx, lock, max_age, 0, mine);

        if (rc == 0) {
            *held = 1;
            return 0;
        }
        if (rc != R2D_EBUSY || r2d_now() - t0 > (double)max_age) {
            r2d_log(s->ctx, R2D_LOG_WARN, "downloading without the store's lock: %s", r2d_errmsg(s->ctx));
            return 0;
        }
        if (!waited)
            r2d_log(s->ctx, R2D_LOG_INFO, "waiting for another download of %s %s: %s", s->name, s->key_up,
                    r2d_errmsg(s->ctx));
        if (r2d_cancelled(s->ctx))
            return r2d_err(s->ctx, R2D_ECANCELED, "interrupted while waiting for %s", lock);
        nanosleep(&poll, NULL);
    }
}

/*
 * Fetch <url>/<name>/<KEY>/<name> into store under the entry's lock: when the lock is ours and the file is
 * there already (another process stored it while we waited), it is verified and used without a download.
 * 1 found, 0 not, <0 error.
 */
static int
symstore_fetch(struct symstore_search *s, const char *base, const char *store)
{
    char url[SYMSTORE_PATH_MAX], dir[SYMSTORE_PATH_MAX], final[SYMSTORE_PATH_MAX], lock[SYMSTORE_PATH_MAX];
    struct r2d_lock_info mine;
    int held = 0, rc;

    s->had_url = 1;
    if (symstore_join(url, sizeof(url), "%s/%s/%s/%s", base, s->name, s->key_up, s->name) != 0 ||
        symstore_join(dir, sizeof(dir), "%s/%s/%s", store, s->name, s->key_up) != 0 ||
        symstore_join(final, sizeof(final), "%s/%s", dir, s->name) != 0 ||
        symstore_join(lock, sizeof(lock), "%s/.%s.lock", dir, s->name) != 0) {
        symstore_tried(s, "%s (URL or store path too long)", base);
        return 0;
    }
    if (!r2d_download_available()) {
        symstore_tried(s, "%s (not downloaded: raw2dmp was built without libcurl)", url);
        return 0;
    }
    if (symstore_mkdirs(s->ctx, dir) != 0) {
        symstore_tried(s, "%s (cannot store the download: %s)", url, r2d_errmsg(s->ctx));
        symstore_rmdirs(s, store);
        s->net_failed = 1;
        return 0;
    }
    rc = symstore_lock(s, lock, &mine, &held);
    if (rc == 0 && symstore_is_file(final) && symstore_verify(s, final, NULL) == 0) {
        char origin[SYMSTORE_PATH_MAX + 8];

        snprintf(origin, sizeof(origin), "cache:%s", final);
        r2d_log(s->ctx, R2D_LOG_INFO, "%s: stored by another process meanwhile", final);
        rc = symstore_found(s, final, origin);
        rc = rc ? rc : 2;
    } else if (rc == 0) {
        rc = symstore_download(s, url, store, final);
    }
    if (held && r2d_lock_release(s->ctx, lock, &mine) != 0)
        r2d_log(s->ctx, R2D_LOG_WARN, "%s", r2d_errmsg(s->ctx));
    if (rc <= 0) {
        symstore_rmdirs(s, store);
        return rc;
    }
    if (rc == 2)
        return 1;
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
