/* SPDX-License-Identifier: MIT */
/* Byte sources: the generic part and the plain-file implementation. */
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

#include "bytesrc.h"
#include "io.h"

struct r2d_bytesrc_kv {
    char *key, *value;
};

struct r2d_bytesrc {
    const struct r2d_bytesrc_ops *ops;
    void *priv;
    char *name;
    uint64_t size;
    int fd;
    struct r2d_bytesrc *below; /* owned: the source a container layer decodes */
    char *how;
    struct r2d_bytesrc_kv *notes;
    size_t nnotes;
    struct r2d_bytesrc_digest *digests;
    size_t ndigests;
    char **files; /* the files on disk a layer reads by name (EWF segments), in order */
    size_t nfiles;
};

int
r2d_bytesrc_new(struct r2d_ctx *ctx, const struct r2d_bytesrc_ops *ops, void *priv, const char *name,
                uint64_t size, int fd, struct r2d_bytesrc **out)
{
    struct r2d_bytesrc *bs = calloc(1, sizeof(*bs));

    *out = NULL;
    if (!bs || !(bs->name = strdup(name))) {
        free(bs);
        bs = NULL;
    }
    if (!bs) {
        struct r2d_bytesrc tmp = {.ops = ops, .priv = priv, .fd = fd};

        ops->close(&tmp);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", name);
    }
    bs->ops = ops;
    bs->priv = priv;
    bs->size = size;
    bs->fd = fd;
    *out = bs;
    return 0;
}

int
r2d_bytesrc_new_layer(struct r2d_ctx *ctx, const struct r2d_bytesrc_ops *ops, void *priv,
                      struct r2d_bytesrc *below, const char *name, uint64_t size, struct r2d_bytesrc **out)
{
    const int rc = r2d_bytesrc_new(ctx, ops, priv, name, size, -1, out);

    if (rc) {
        r2d_bytesrc_close(below);
        return rc;
    }
    (*out)->below = below;
    return 0;
}

void
r2d_bytesrc_close(struct r2d_bytesrc *bs)
{
    while (bs) {
        /* The layer first: its close may still talk to the source below (libzip, libewf). */
        struct r2d_bytesrc *below = bs->below;

        bs->ops->close(bs);
        for (size_t i = 0; i < bs->nnotes; i++) {
            free(bs->notes[i].key);
            free(bs->notes[i].value);
        }
        free(bs->notes);
        for (size_t i = 0; i < bs->nfiles; i++)
            free(bs->files[i]);
        free(bs->files);
        free(bs->digests);
        free(bs->how);
        free(bs->name);
        free(bs);
        bs = below;
    }
}

int
r2d_bytesrc_read(struct r2d_ctx *ctx, const struct r2d_bytesrc *bs, uint64_t off, void *buf, size_t len,
                 const char *what)
{
    R2D_CHECK(off > bs->size || len > bs->size - off, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": %s of 0x%zx bytes runs past end of file (size 0x%" PRIx64 ")",
              bs->name, off, what, len, bs->size);
    if (len == 0)
        return 0;
    /* The ops get a mutable source: decoders keep caches. Reads are logically const. */
    return bs->ops->read(ctx, (struct r2d_bytesrc *)bs, off, buf, len, what);
}

void
r2d_bytesrc_extent(const struct r2d_bytesrc *bs, uint64_t off, uint64_t end, int *is_data, uint64_t *ext_end)
{
    if (bs->ops->extent) {
        bs->ops->extent((struct r2d_bytesrc *)bs, off, end, is_data, ext_end);
        return;
    }
    *is_data = 1;
    *ext_end = end;
}

const char *
r2d_bytesrc_name(const struct r2d_bytesrc *bs)
{
    return bs->name;
}

const char *
r2d_bytesrc_kind(const struct r2d_bytesrc *bs)
{
    return bs->ops->kind;
}

uint64_t
r2d_bytesrc_size(const struct r2d_bytesrc *bs)
{
    return bs->size;
}

int
r2d_bytesrc_fd(const struct r2d_bytesrc *bs)
{
    return bs->fd;
}

void *
r2d_bytesrc_priv(const struct r2d_bytesrc *bs)
{
    return bs->priv;
}

const struct r2d_bytesrc *
r2d_bytesrc_below(const struct r2d_bytesrc *bs)
{
    return bs->below;
}

const struct r2d_bytesrc *
r2d_bytesrc_base(const struct r2d_bytesrc *bs)
{
    while (bs->below)
        bs = bs->below;
    return bs;
}

/* --- what a layer says about itself --- */

int
r2d_bytesrc_set_how(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, const char *how)
{
    char *s = strdup(how);

    if (!s)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", bs->name);
    free(bs->how);
    bs->how = s;
    return 0;
}

const char *
r2d_bytesrc_how(const struct r2d_bytesrc *bs)
{
    return bs->how;
}

int
r2d_bytesrc_add_note(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, const char *key, const char *value)
{
    struct r2d_bytesrc_kv *p = realloc(bs->notes, (bs->nnotes + 1) * sizeof(*p));
    char *k = strdup(key), *v = strdup(value);

    if (p)
        bs->notes = p;
    if (!p || !k || !v) {
        free(k);
        free(v);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", bs->name);
    }
    p[bs->nnotes++] = (struct r2d_bytesrc_kv){.key = k, .value = v};
    return 0;
}

size_t
r2d_bytesrc_note_count(const struct r2d_bytesrc *bs)
{
    return bs->nnotes;
}

void
r2d_bytesrc_note(const struct r2d_bytesrc *bs, size_t i, const char **key, const char **value)
{
    *key = bs->notes[i].key;
    *value = bs->notes[i].value;
}

int
r2d_bytesrc_add_digest(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, const struct r2d_bytesrc_digest *d,
                       size_t *index)
{
    struct r2d_bytesrc_digest *p = realloc(bs->digests, (bs->ndigests + 1) * sizeof(*p));

    if (!p)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", bs->name);
    bs->digests = p;
    p[bs->ndigests] = *d;
    if (index)
        *index = bs->ndigests;
    bs->ndigests++;
    return 0;
}

size_t
r2d_bytesrc_digest_count(const struct r2d_bytesrc *bs)
{
    return bs->ndigests;
}

const struct r2d_bytesrc_digest *
r2d_bytesrc_digest(const struct r2d_bytesrc *bs, size_t i)
{
    return &bs->digests[i];
}

void
r2d_bytesrc_digest_checked(struct r2d_bytesrc *bs, size_t i, const char *how)
{
    bs->digests[i].state = R2D_DIGEST_MATCHED;
    bs->digests[i].how = how;
}

/* --- plain files --- */

static int
file_read(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, uint64_t off, void *buf, size_t len, const char *what)
{
    return r2d_pread_full(ctx, bs->fd, bs->name, off, buf, len, what);
}

static void
file_extent(struct r2d_bytesrc *bs, uint64_t off, uint64_t end, int *is_data, uint64_t *ext_end)
{
    r2d_file_extent(bs->fd, off, end, is_data, ext_end);
}

static void
file_close(struct r2d_bytesrc *bs)
{
    if (bs->fd >= 0)
        close(bs->fd);
}

static const struct r2d_bytesrc_ops file_ops = {
    .kind = "file",
    .read = file_read,
    .extent = file_extent,
    .close = file_close,
};

int
r2d_bytesrc_open_file(struct r2d_ctx *ctx, const char *path, struct r2d_bytesrc **out)
{
    struct stat st;
    uint64_t size;
    int fd;

    *out = NULL;
    /* Evidence is opened read-only, always. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return r2d_err_errno(ctx, "%s: cannot open input", path);
    if (fstat(fd, &st) != 0) {
        const int rc = r2d_err_errno(ctx, "%s: cannot stat input", path);

        close(fd);
        return rc;
    }
    if (S_ISREG(st.st_mode)) {
        size = (uint64_t)st.st_size;
    } else if (S_ISBLK(st.st_mode)) {
        const off_t end = lseek(fd, 0, SEEK_END);

        if (end < 0) {
            const int rc = r2d_err_errno(ctx, "%s: cannot size block device", path);

            close(fd);
            return rc;
        }
        size = (uint64_t)end;
    } else {
        close(fd);
        return r2d_err(ctx, R2D_EINVAL, "%s: not a regular file or block device", path);
    }
    return r2d_bytesrc_new(ctx, &file_ops, NULL, path, size, fd, out);
}

int
r2d_bytesrc_open_companion(struct r2d_ctx *ctx, const struct r2d_bytesrc *base, const char *name,
                           struct r2d_bytesrc **out)
{
    /* Beside the file on disk: a decoded layer's name is not a path. */
    const char *file = r2d_bytesrc_base(base)->name;
    const char *slash = strrchr(file, '/');
    const size_t dirlen = slash ? (size_t)(slash - file) + 1 : 0;
    char *path;
    int rc;

    *out = NULL;
    if (name[0] == '/' || dirlen == 0)
        return r2d_bytesrc_open_file(ctx, name, out);
    path = malloc(dirlen + strlen(name) + 1);
    if (!path)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", file);
    memcpy(path, file, dirlen);
    strcpy(path + dirlen, name);
    rc = r2d_bytesrc_open_file(ctx, path, out);
    free(path);
    return rc;
}

int
r2d_bytesrc_list_companions(struct r2d_ctx *ctx, const struct r2d_bytesrc *base, const char *suffix,
                            r2d_companion_fn fn, void *arg)
{
    const char *slash = strrchr(base->name, '/');
    const size_t slen = strlen(suffix);
    char dir[4096];
    struct dirent *e;
    DIR *d;
    int rc = 0;

    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == base->name)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - base->name), base->name);
    d = opendir(dir);
    if (!d)
        return r2d_err_errno(ctx, "%s: cannot list the directory", dir);
    while (!rc && (e = readdir(d)) != NULL) {
        const size_t n = strlen(e->d_name);
        struct stat st;

        if (n <= slen || strcasecmp(e->d_name + n - slen, suffix) != 0)
            continue;
        /* stat, not d_type: a symbolic link to the memory file is as good as the file. */
        if (fstatat(dirfd(d), e->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
            continue;
        rc = fn(arg, e->d_name);
    }
    closedir(d);
    return rc;
}

int
r2d_bytesrc_add_file(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, const char *path)
{
    char **p = realloc(bs->files, (bs->nfiles + 1) * sizeof(*p));

    if (!p)
        return r2d_err(ctx, R2D_ENOMEM, "out of memory");
    bs->files = p;
    if (!(p[bs->nfiles] = strdup(path)))
        return r2d_err(ctx, R2D_ENOMEM, "out of memory");
    bs->nfiles++;
    return 0;
}

size_t
r2d_bytesrc_file_count(const struct r2d_bytesrc *bs)
{
    return bs->nfiles;
}

const char *
r2d_bytesrc_file(const struct r2d_bytesrc *bs, size_t i)
{
    return i < bs->nfiles ? bs->files[i] : NULL;
}

const struct r2d_bytesrc *
r2d_bytesrc_files_owner(const struct r2d_bytesrc *bs)
{
    for (; bs; bs = bs->below) {
        if (bs->nfiles)
            return bs;
    }
    return NULL;
}
