/* SPDX-License-Identifier: MIT */
/*
 * --symbols given what Volatility 3 users have at hand: a symbol directory (volatility3/symbols, or its
 * windows/ subdirectory) or a windows.zip pack. The one table for the kernel is picked by the name Volatility
 * gives it, <pdb name>/<GUID>-<age>.json.xz (docs/reference/symbols.md section 5), so a user need not find
 * the file among hundreds. ZIP archives are read with libzip, read-only; nothing is extracted to disk.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zip.h>

#include "symbols.h"

#define PACK_MAX_MEMBER (1ull << 30) /* bytes of one member, the limit of a table file */
#define PACK_PATH_MAX 4096

/* What to look for: the directory named after the PDB and the file stem inside it. */
struct pack_want {
    char name[256]; /* "ntkrnlmp.pdb" */
    char stem[64];  /* "<GUID>-<age>" */
};

/* Preferred first: Volatility's packs hold .json.xz; a hand-made directory may hold plain .json. */
static const char *const pack_exts[] = {".json.xz", ".json"};
#define PACK_NEXTS (sizeof(pack_exts) / sizeof(pack_exts[0]))

static void
pack_want_init(struct pack_want *w, const struct r2d_pdb_id *id)
{
    char guid[R2D_GUID_HEX_LEN + 1];

    r2d_guid_format(id->guid, guid);
    snprintf(w->name, sizeof(w->name), "%s", id->name[0] ? id->name : "ntkrnlmp.pdb");
    snprintf(w->stem, sizeof(w->stem), "%s-%" PRIu32, guid, id->age);
}

/* Which extension member ("a/b/ntkrnlmp.pdb/<GUID>-1.json.xz") ends the wanted path with; -1 for none. */
static int
pack_member_match(const struct pack_want *w, const char *member)
{
    const char *slash = strrchr(member, '/');
    const char *file, *dir;
    const size_t stem = strlen(w->stem);

    if (!slash)
        return -1;
    file = slash + 1;
    for (dir = slash; dir > member && dir[-1] != '/';)
        dir--;
    if ((size_t)(slash - dir) != strlen(w->name) || strncasecmp(dir, w->name, strlen(w->name)) != 0)
        return -1;
    if (strncasecmp(file, w->stem, stem) != 0)
        return -1;
    for (size_t e = 0; e < PACK_NEXTS; e++)
        if (strcasecmp(file + stem, pack_exts[e]) == 0)
            return (int)e;
    return -1;
}

static int
pack_zip_error(struct r2d_ctx *ctx, const char *path, int code)
{
    zip_error_t e;
    char msg[256];

    zip_error_init_with_code(&e, code);
    snprintf(msg, sizeof(msg), "%s", zip_error_strerror(&e));
    zip_error_fini(&e);
    if (code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS)
        return r2d_err(ctx, R2D_EFORMAT, "%s: not a readable ZIP archive: %s", path, msg);
    return r2d_err(ctx, R2D_EIO, "%s: cannot open the ZIP archive: %s", path, msg);
}

/* Member i whole into a malloc'd buffer, within PACK_MAX_MEMBER bytes. */
static int
pack_zip_read(struct r2d_ctx *ctx, zip_t *z, const char *origin, zip_uint64_t i, uint8_t **out, size_t *len)
{
    zip_stat_t st;
    zip_file_t *f;
    uint8_t *buf;
    zip_int64_t n = 0;
    size_t done = 0;

    if (zip_stat_index(z, i, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        return r2d_err(ctx, R2D_EFORMAT, "%s: the archive does not give the member's size", origin);
    if (st.size == 0 || st.size > PACK_MAX_MEMBER)
        return r2d_err(ctx, R2D_EFORMAT, "%s: %" PRIu64 " bytes is not the size of a symbol table", origin,
                       (uint64_t)st.size);
    f = zip_fopen_index(z, i, 0);
    if (!f)
        return r2d_err(ctx, R2D_EFORMAT, "%s: cannot read the member: %s", origin, zip_strerror(z));
    buf = malloc((size_t)st.size);
    if (!buf) {
        zip_fclose(f);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for %" PRIu64 " bytes", origin, (uint64_t)st.size);
    }
    while (done < st.size && (n = zip_fread(f, buf + done, st.size - done)) > 0)
        done += (size_t)n;
    if (n < 0 || done != st.size) {
        const int rc = r2d_err(ctx, R2D_EFORMAT, "%s: %s after %zu of %" PRIu64 " bytes", origin,
                               n < 0 ? zip_file_strerror(f) : "member ends", done, (uint64_t)st.size);

        zip_fclose(f);
        free(buf);
        return rc;
    }
    zip_fclose(f);
    *out = buf;
    *len = done;
    return 0;
}

/* The wanted table from a ZIP pack, named "<pack>:<member>". */
static int
pack_zip(struct r2d_ctx *ctx, const char *path, const struct pack_want *w, struct r2d_symbols **out)
{
    int zerr = 0, best_ext = (int)PACK_NEXTS, rc;
    zip_t *z = zip_open(path, ZIP_RDONLY, &zerr);
    zip_int64_t n, best = -1;
    char origin[PACK_PATH_MAX];
    uint8_t *buf = NULL;
    size_t len = 0;

    if (!z)
        return pack_zip_error(ctx, path, zerr);
    n = zip_get_num_entries(z, 0);
    for (zip_int64_t i = 0; i < n; i++) {
        const char *member = zip_get_name(z, (zip_uint64_t)i, 0);
        const int e = member ? pack_member_match(w, member) : -1;

        if (e >= 0 && e < best_ext) {
            best = i;
            best_ext = e;
        }
    }
    if (best < 0) {
        zip_discard(z);
        return r2d_err(ctx, R2D_ENOTFOUND, "%s: no %s/%s.json.xz (or .json) among its %" PRId64 " members",
                       path, w->name, w->stem, (int64_t)n);
    }
    if (snprintf(origin, sizeof(origin), "%s:%s", path, zip_get_name(z, (zip_uint64_t)best, 0)) >=
        (int)sizeof(origin)) {
        zip_discard(z);
        return r2d_err(ctx, R2D_EINVAL, "%s: member name too long", path);
    }
    rc = pack_zip_read(ctx, z, origin, (zip_uint64_t)best, &buf, &len);
    zip_discard(z); /* read-only: never zip_close, which may write */
    if (rc)
        return rc;
    r2d_log(ctx, R2D_LOG_INFO, "symbols: %s", origin);
    return r2d_isf_open_buffer(ctx, origin, buf, len, out);
}

/* dir/child as a directory (want_dir) or a regular file, spelled as given or else in any case. */
static int
pack_child(const char *dir, const char *child, int want_dir, char *out, size_t n)
{
    struct stat st;
    struct dirent *e;
    DIR *d;
    int found = 0;

    if ((size_t)snprintf(out, n, "%s/%s", dir, child) >= n)
        return 0;
    if (stat(out, &st) == 0 && (want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)))
        return 1;
    d = opendir(dir);
    while (d && !found && (e = readdir(d)) != NULL) {
        if (strcasecmp(e->d_name, child) != 0 || (size_t)snprintf(out, n, "%s/%s", dir, e->d_name) >= n)
            continue;
        found = stat(out, &st) == 0 && (want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
    }
    if (d)
        closedir(d);
    return found;
}

/* A symbol directory: itself, <name>/, windows/<name>/, then a windows.zip in it. */
static int
pack_dir(struct r2d_ctx *ctx, const char *path, const struct pack_want *w, struct r2d_symbols **out)
{
    char dirs[3][PACK_PATH_MAX], file[PACK_PATH_MAX], win[PACK_PATH_MAX];
    size_t ndirs = 0;

    snprintf(dirs[ndirs++], PACK_PATH_MAX, "%s", path);
    if (pack_child(path, w->name, 1, dirs[ndirs], PACK_PATH_MAX))
        ndirs++;
    if (pack_child(path, "windows", 1, win, sizeof(win)) &&
        pack_child(win, w->name, 1, dirs[ndirs], PACK_PATH_MAX))
        ndirs++;
    for (size_t i = 0; i < ndirs; i++) {
        for (size_t e = 0; e < PACK_NEXTS; e++) {
            char stem[sizeof(w->stem) + 16];

            snprintf(stem, sizeof(stem), "%s%s", w->stem, pack_exts[e]);
            if (pack_child(dirs[i], stem, 0, file, sizeof(file))) {
                r2d_log(ctx, R2D_LOG_INFO, "symbols: %s", file);
                return r2d_isf_open(ctx, file, out);
            }
        }
    }
    if (pack_child(path, "windows.zip", 0, file, sizeof(file)))
        return pack_zip(ctx, file, w, out);
    return r2d_err(ctx, R2D_ENOTFOUND,
                   "%s: no %s/%s.json.xz (or .json) in this symbol directory (looked in it, in %s/, "
                   "windows/%s/ and windows.zip)",
                   path, w->name, w->stem, w->name, w->name);
}

/* A ZIP archive starts with a local file header, or is an empty archive's end record. */
static int
pack_is_zip(const char *path)
{
    uint8_t magic[4];
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    int zip = 0;

    if (fd < 0)
        return 0;
    if (read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic))
        zip = magic[0] == 'P' && magic[1] == 'K' &&
              ((magic[2] == 3 && magic[3] == 4) || (magic[2] == 5 && magic[3] == 6));
    close(fd);
    return zip;
}

int
r2d_isf_find(struct r2d_ctx *ctx, const char *path, const struct r2d_pdb_id *want, struct r2d_symbols **out)
{
    struct pack_want w;
    struct stat st;

    *out = NULL;
    pack_want_init(&w, want);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return pack_dir(ctx, path, &w, out);
    if (pack_is_zip(path))
        return pack_zip(ctx, path, &w, out);
    return r2d_isf_open(ctx, path, out);
}
