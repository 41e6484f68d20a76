/* SPDX-License-Identifier: MIT */
/*
 * Which files a conversion names, by identity rather than spelling (issue 12): "raw2dmp --force m.elf m.elf"
 * once replaced the evidence with its own crash dump. Paths are compared as the kernel resolves them, so
 * every spelling, link and mount of one file is that file; the check runs before anything is opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_identity.h"

enum file_id_kind {
    FILE_ID_INODE,   /* the path exists: its inode (a dangling symbolic link: the link's own inode) */
    FILE_ID_ENTRY,   /* it does not: the inode of the directory that would hold it, plus its last component */
    FILE_ID_SPELLED, /* not even its directory resolves: the absolute, normalised spelling */
};

struct file_id {
    enum file_id_kind kind;
    dev_t dev;
    ino_t ino;
    char *name;   /* FILE_ID_ENTRY: the last component; FILE_ID_SPELLED: the spelling; else NULL */
    size_t index; /* the entry's position in the caller's list */
};

/* The last component of path (after the last '/'; "" when path ends in '/'). */
static const char *
file_identity_base(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

/* The directory part of path as open(2) takes it ("." and "/" included); NULL when out of memory. */
static char *
file_identity_dir(const char *path)
{
    const char *base = file_identity_base(path);

    if (base == path)
        return strdup(".");
    if (base - 1 == path)
        return strdup("/");
    return strndup(path, (size_t)(base - 1 - path));
}

/*
 * path made absolute against the working directory, with "", "." and ".." components resolved by spelling.
 * Only used for paths whose directory does not resolve, which nothing can be written to anyway: the point
 * is that two spellings of one impossible path still compare equal, as the batch's spelled check did.
 */
static char *
file_identity_spelled(const char *path)
{
    char cwd[PATH_MAX];
    const int rel = path[0] != '/' && getcwd(cwd, sizeof(cwd));
    const size_t len = (rel ? strlen(cwd) + 1 : 0) + strlen(path) + 2;
    char *in = malloc(len), *out = malloc(len), *save = NULL;
    size_t n = 0;

    if (!in || !out) {
        free(in);
        free(out);
        return NULL;
    }
    snprintf(in, len, "%s%s%s", rel ? cwd : "", rel ? "/" : "", path);
    for (char *c = strtok_r(in, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            while (n > 0 && out[--n] != '/')
                ;
            continue;
        }
        n += (size_t)sprintf(out + n, "/%s", c);
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    free(in);
    return out;
}

/* Fill id for path. Returns 0, or -1 when out of memory. */
static int
file_identity_of(const char *path, struct file_id *id)
{
    const char *base = file_identity_base(path);
    struct stat st;

    /* lstat after stat: a dangling link is replaced, not followed, by the rename that installs an output. */
    if (stat(path, &st) == 0 || lstat(path, &st) == 0) {
        id->kind = FILE_ID_INODE;
        id->dev = st.st_dev;
        id->ino = st.st_ino;
        return 0;
    }
    if (*base && strcmp(base, ".") != 0 && strcmp(base, "..") != 0) {
        char *dir = file_identity_dir(path);
        int found;

        if (!dir)
            return -1;
        /* stat(2) resolves the directory as the rename will: symbolic links, "..", mounts. */
        found = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
        free(dir);
        if (found) {
            id->kind = FILE_ID_ENTRY;
            id->dev = st.st_dev;
            id->ino = st.st_ino;
            id->name = strdup(base);
            return id->name ? 0 : -1;
        }
    }
    id->kind = FILE_ID_SPELLED;
    id->name = file_identity_spelled(path);
    return id->name ? 0 : -1;
}

/* Order by identity, then by position, so that equal identities are adjacent and in the caller's order. */
static int
file_identity_cmp(const void *pa, const void *pb)
{
    const struct file_id *a = pa, *b = pb;
    int c = (a->kind > b->kind) - (a->kind < b->kind);

    if (!c)
        c = (a->dev > b->dev) - (a->dev < b->dev);
    if (!c)
        c = (a->ino > b->ino) - (a->ino < b->ino);
    if (!c && a->name && b->name)
        c = strcmp(a->name, b->name);
    return c ? c : (a->index > b->index) - (a->index < b->index);
}

static int
file_identity_same(const struct file_id *a, const struct file_id *b)
{
    return a->kind == b->kind && a->dev == b->dev && a->ino == b->ino &&
           (!a->name || !b->name || strcmp(a->name, b->name) == 0);
}

/*
 * A group of entries with one identity, in the caller's order, clashes when it has two entries and one of
 * them is written. Its first clashing pair: the first written entry (or, when that is the group's first,
 * the second entry) with the group's first. Keeps the pair whose later entry comes first in the list.
 */
static void
file_identity_group(const struct r2d_file_ref *files, const struct file_id *g, size_t n, size_t *later,
                    size_t *earlier)
{
    size_t w = 0;

    while (w < n && !files[g[w].index].written)
        w++;
    if (n < 2 || w == n)
        return;
    if (w == 0)
        w = 1;
    if (g[w].index < *later) {
        *later = g[w].index;
        *earlier = g[0].index;
    }
}

int
r2d_files_distinct(struct r2d_ctx *ctx, const struct r2d_file_ref *files, size_t n, size_t clash[2])
{
    struct file_id *ids = calloc(n ? n : 1, sizeof(*ids));
    size_t later = SIZE_MAX, earlier = 0;
    int rc = 0;

    if (!ids)
        return r2d_err(ctx, R2D_ENOMEM, "out of memory comparing %zu files", n);
    for (size_t i = 0; i < n && !rc; i++) {
        ids[i].index = i;
        if (file_identity_of(files[i].path, &ids[i]))
            rc = r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", files[i].path);
    }
    if (!rc) {
        qsort(ids, n, sizeof(*ids), file_identity_cmp);
        for (size_t g = 0, e; g < n; g = e) {
            for (e = g + 1; e < n && file_identity_same(&ids[g], &ids[e]); e++)
                ;
            file_identity_group(files, ids + g, e - g, &later, &earlier);
        }
    }
    if (!rc && later != SIZE_MAX) {
        /* The sentence starts with what would be written: "OUTPUT 'x' is the same file as --pdb 'x'". */
        const size_t first = files[later].written ? later : earlier,
                     second = first == later ? earlier : later;

        rc = r2d_err(ctx, R2D_ESAMEFILE, "%s '%s' is the same file as %s '%s'", files[first].role,
                     files[first].path, files[second].role, files[second].path);
        if (clash) {
            clash[0] = first;
            clash[1] = second;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(ids[i].name);
    free(ids);
    return rc;
}

/* What is at an existing target, for the message refusing it. */
static const char *
file_identity_type(mode_t mode)
{
    return S_ISDIR(mode)    ? "a directory"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
           : S_ISFIFO(mode) ? "a named pipe"
           : S_ISSOCK(mode) ? "a socket"
                            : "not a regular file";
}

/*
 * A dangling symbolic link as a target is refused rather than resolved: the rename that installs an output
 * replaces the link itself, so the file would not appear where the link points, which is what its owner
 * probably meant; and without --force the link is "an existing output" that --force would then replace.
 */
static int
file_identity_existing(struct r2d_ctx *ctx, const char *path, const char *what)
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return 0;
    if (S_ISLNK(st.st_mode) && stat(path, &st) != 0) {
        char to[PATH_MAX];
        const ssize_t len = readlink(path, to, sizeof(to) - 1);

        to[len > 0 ? len : 0] = '\0';
        return r2d_err(
            ctx, R2D_EINVAL,
            "%s: the %s is a dangling symbolic link (to '%s'): name the file to write, not the link", path,
            what, to);
    }
    R2D_CHECK(!S_ISREG(st.st_mode), ctx, R2D_EINVAL, "%s: the %s is %s", path, what,
              file_identity_type(st.st_mode));
    return 0;
}

int
r2d_file_target_check(struct r2d_ctx *ctx, const char *path, const char *what)
{
    const char *base = file_identity_base(path);
    struct stat st;
    char *dir;
    int rc;

    R2D_CHECK(!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0, ctx, R2D_EINVAL,
              "%s: the %s must name a file, not a directory", path, what);
    rc = file_identity_existing(ctx, path, what);
    if (rc)
        return rc;
    if (!(dir = file_identity_dir(path)))
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", path);
    /* access(2) with the effective ids, like the open that will create the file; EROFS binds root too. */
    if (stat(dir, &st) != 0)
        rc = r2d_err_errno(ctx, "%s: cannot use the %s directory '%s'", path, what, dir);
    else if (!S_ISDIR(st.st_mode))
        rc = r2d_err(ctx, R2D_EINVAL, "%s: the %s directory '%s' is not a directory", path, what, dir);
    else if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) != 0)
        rc = r2d_err_errno(ctx, "%s: cannot write in the %s directory '%s'", path, what, dir);
    free(dir);
    return rc;
}

int
r2d_files_check_conversion(struct r2d_ctx *ctx, const struct r2d_options *opts, const char *input,
                           const char *output)
{
    struct r2d_file_ref f[5];
    size_t n = 0;
    int rc;

    R2D_CHECK(!input || !*input, ctx, R2D_EINVAL, "no input file name given");
    R2D_CHECK(!output || !*output, ctx, R2D_EINVAL, "no output file name given");
    f[n++] = (struct r2d_file_ref){input, "INPUT", 0};
    f[n++] = (struct r2d_file_ref){output, "OUTPUT", 1};
    if (opts->report_path)
        f[n++] = (struct r2d_file_ref){opts->report_path, "--report", 1};
    if (opts->pdb_path)
        f[n++] = (struct r2d_file_ref){opts->pdb_path, "--pdb", 0};
    if (opts->isf_path)
        f[n++] = (struct r2d_file_ref){opts->isf_path, "--symbols", 0};
    rc = r2d_files_distinct(ctx, f, n, NULL);
    if (!rc)
        rc = r2d_file_target_check(ctx, output, "output");
    if (!rc && opts->report_path)
        rc = r2d_file_target_check(ctx, opts->report_path, "report");
    return rc;
}
