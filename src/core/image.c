/* SPDX-License-Identifier: MIT */
/* The sparse physical image: run table, CPU states, notes and physical reads over byte sources. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "image.h"
#include "io.h"

/* CPU states one image may hold (Windows supports at most 2048 logical processors). */
#define IMAGE_MAX_CPUS 4096u

struct image_note {
    char *key;
    char *value;
};

/* Byte sources beside the input one image may open (a state file's memory file, split segments). */
#define IMAGE_MAX_COMPANIONS 64u

struct r2d_image {
    struct r2d_bytesrc *input;
    const char *path; /* the input's name */
    uint64_t file_size;
    struct r2d_bytesrc *companions[IMAGE_MAX_COMPANIONS];
    size_t ncompanions;
    char *format_name;
    char *probe_reason;
    char *hint_companion; /* the caller's name for the memory file, or NULL */
    int hint_verify;      /* --verify-container: compare the format's stored digests at open */
    struct r2d_image_props props;

    struct r2d_run *runs;
    size_t nruns, cap_runs;
    struct r2d_cpu_state *cpus;
    size_t ncpus, cap_cpus;
    struct image_note *notes;
    size_t nnotes, cap_notes;
    struct r2d_image_digest *digests; /* their strings are the image's own copies */
    size_t ndigests, cap_digests;

    const struct r2d_source_ops *src_ops;
    void *src;
};

/* The strings of a digest entry are copies the image made (r2d_image_add_digest). */
static void
image_digest_free(struct r2d_image_digest *d)
{
    free((char *)d->object);
    free((char *)d->kind);
    free((char *)d->note);
}

void
r2d_image_free(struct r2d_image *img)
{
    if (!img)
        return;
    if (img->src_ops && img->src_ops->free)
        img->src_ops->free(img->src);
    r2d_bytesrc_close(img->input);
    for (size_t i = 0; i < img->ncompanions; i++)
        r2d_bytesrc_close(img->companions[i]);
    free(img->format_name);
    free(img->probe_reason);
    free(img->hint_companion);
    for (size_t i = 0; i < img->nnotes; i++) {
        free(img->notes[i].key);
        free(img->notes[i].value);
    }
    free(img->notes);
    for (size_t i = 0; i < img->ndigests; i++)
        image_digest_free(&img->digests[i]);
    free(img->digests);
    free(img->cpus);
    free(img->runs);
    free(img);
}

const char *
r2d_image_path(const struct r2d_image *img)
{
    return img->path;
}

const char *
r2d_image_format_name(const struct r2d_image *img)
{
    return img->format_name ? img->format_name : "?";
}

const char *
r2d_image_probe_reason(const struct r2d_image *img)
{
    return img->probe_reason ? img->probe_reason : "";
}

uint64_t
r2d_image_file_size(const struct r2d_image *img)
{
    return img->file_size;
}

const struct r2d_bytesrc *
r2d_image_input(const struct r2d_image *img)
{
    return img->input;
}

const struct r2d_image_props *
r2d_image_props(const struct r2d_image *img)
{
    return &img->props;
}

void
r2d_image_set_props(struct r2d_image *img, const struct r2d_image_props *props)
{
    img->props = *props;
}

int
r2d_image_new(struct r2d_ctx *ctx, struct r2d_bytesrc *input, struct r2d_image **out)
{
    struct r2d_image *img = calloc(1, sizeof(*img));

    *out = NULL;
    if (!img) {
        const int rc = r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", r2d_bytesrc_name(input));

        r2d_bytesrc_close(input);
        return rc;
    }
    img->input = input;
    img->path = r2d_bytesrc_name(input);
    img->file_size = r2d_bytesrc_size(input);
    *out = img;
    return 0;
}

int
r2d_image_set_format(struct r2d_ctx *ctx, struct r2d_image *img, const char *name, const char *why)
{
    char *n = strdup(name), *w = strdup(why);

    if (!n || !w) {
        free(n);
        free(w);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", img->path);
    }
    free(img->format_name);
    free(img->probe_reason);
    img->format_name = n;
    img->probe_reason = w;
    return 0;
}

/* Keep an opened companion; it is closed here when the image cannot take it. */
static int
image_keep_companion(struct r2d_ctx *ctx, struct r2d_image *img, struct r2d_bytesrc *bs,
                     const struct r2d_bytesrc **out)
{
    if (img->ncompanions >= IMAGE_MAX_COMPANIONS) {
        r2d_bytesrc_close(bs);
        return r2d_err(ctx, R2D_EUNSUPPORTED, "%s: more than %u companion files", img->path,
                       IMAGE_MAX_COMPANIONS);
    }
    img->companions[img->ncompanions++] = bs;
    *out = bs;
    return 0;
}

int
r2d_image_open_companion(struct r2d_ctx *ctx, struct r2d_image *img, const char *name,
                         const struct r2d_bytesrc **out)
{
    struct r2d_bytesrc *bs;
    int rc;

    *out = NULL;
    R2D_CHECK(img->ncompanions >= IMAGE_MAX_COMPANIONS, ctx, R2D_EUNSUPPORTED,
              "%s: more than %u companion files", img->path, IMAGE_MAX_COMPANIONS);
    rc = r2d_bytesrc_open_companion(ctx, img->input, name, &bs);
    return rc ? rc : image_keep_companion(ctx, img, bs, out);
}

int
r2d_image_open_file_companion(struct r2d_ctx *ctx, struct r2d_image *img, const char *path,
                              const struct r2d_bytesrc **out)
{
    struct r2d_bytesrc *bs;
    const int rc = r2d_bytesrc_open_file(ctx, path, &bs);

    *out = NULL;
    return rc ? rc : image_keep_companion(ctx, img, bs, out);
}

const char *
r2d_image_hint_companion(const struct r2d_image *img)
{
    return img->hint_companion;
}

int
r2d_image_set_hint_companion(struct r2d_ctx *ctx, struct r2d_image *img, const char *path)
{
    char *copy = path ? strdup(path) : NULL;

    if (path && !copy)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", img->path);
    free(img->hint_companion);
    img->hint_companion = copy;
    return 0;
}

int
r2d_image_hint_verify(const struct r2d_image *img)
{
    return img->hint_verify;
}

void
r2d_image_set_hint_verify(struct r2d_image *img, int verify)
{
    img->hint_verify = verify != 0;
}

int
r2d_image_add_digest(struct r2d_ctx *ctx, struct r2d_image *img, const struct r2d_image_digest *d)
{
    struct r2d_image_digest c = *d;

    if (r2d_grow(ctx, &img->digests, &img->cap_digests, img->ndigests + 1, sizeof(*img->digests), "digests"))
        return r2d_err_prefix(ctx, R2D_ENOMEM, "%s", img->path);
    c.object = strdup(d->object ? d->object : "");
    c.kind = strdup(d->kind ? d->kind : "");
    c.note = d->note ? strdup(d->note) : NULL;
    if (!c.object || !c.kind || (d->note && !c.note)) {
        image_digest_free(&c);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for digests", img->path);
    }
    img->digests[img->ndigests++] = c;
    return 0;
}

size_t
r2d_image_digest_count(const struct r2d_image *img)
{
    return img->ndigests;
}

const struct r2d_image_digest *
r2d_image_digest(const struct r2d_image *img, size_t i)
{
    return i < img->ndigests ? &img->digests[i] : NULL;
}

size_t
r2d_image_run_count(const struct r2d_image *img)
{
    return img->nruns;
}

const struct r2d_run *
r2d_image_run(const struct r2d_image *img, size_t i)
{
    return i < img->nruns ? &img->runs[i] : NULL;
}

uint64_t
r2d_image_total_bytes(const struct r2d_image *img)
{
    uint64_t total = 0;

    for (size_t i = 0; i < img->nruns; i++)
        total += img->runs[i].len;
    return total;
}

size_t
r2d_image_cpu_count(const struct r2d_image *img)
{
    return img->ncpus;
}

const struct r2d_cpu_state *
r2d_image_cpu(const struct r2d_image *img, size_t i)
{
    return i < img->ncpus ? &img->cpus[i] : NULL;
}

size_t
r2d_image_note_count(const struct r2d_image *img)
{
    return img->nnotes;
}

void
r2d_image_note(const struct r2d_image *img, size_t i, const char **key, const char **value)
{
    *key = i < img->nnotes ? img->notes[i].key : NULL;
    *value = i < img->nnotes ? img->notes[i].value : NULL;
}

static int
image_add_run(struct r2d_ctx *ctx, struct r2d_image *img, const struct r2d_run *run)
{
    if (run->len == 0)
        return 0;
    R2D_CHECK(run->pa + run->len < run->pa, ctx, R2D_EFORMAT,
              "%s: run at physical 0x%" PRIx64 " of 0x%" PRIx64 " bytes wraps the address space", img->path,
              run->pa, run->len);
    if (r2d_grow(ctx, &img->runs, &img->cap_runs, img->nruns + 1, sizeof(*img->runs), "the run table"))
        return r2d_err_prefix(ctx, R2D_ENOMEM, "%s", img->path);
    img->runs[img->nruns++] = *run;
    return 0;
}

int
r2d_image_add_slice_run(struct r2d_ctx *ctx, struct r2d_image *img, const struct r2d_bytesrc *bytes,
                        uint64_t pa, uint64_t len, uint64_t off)
{
    const struct r2d_run run = {.pa = pa, .len = len, .bytes = bytes, .off = off};
    const uint64_t size = r2d_bytesrc_size(bytes);

    R2D_CHECK(off > size || len > size - off, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": data of 0x%" PRIx64 " bytes for physical 0x%" PRIx64
              " runs past end of file (size 0x%" PRIx64 ")",
              r2d_bytesrc_name(bytes), off, len, pa, size);
    return image_add_run(ctx, img, &run);
}

int
r2d_image_add_file_run(struct r2d_ctx *ctx, struct r2d_image *img, uint64_t pa, uint64_t len, uint64_t off)
{
    return r2d_image_add_slice_run(ctx, img, img->input, pa, len, off);
}

int
r2d_image_set_source(struct r2d_ctx *ctx, struct r2d_image *img, const struct r2d_source_ops *ops, void *src)
{
    if (img->src_ops) {
        if (ops->free)
            ops->free(src);
        return r2d_err(ctx, R2D_EINVAL, "%s: image already has a decoding source", img->path);
    }
    img->src_ops = ops;
    img->src = src;
    return 0;
}

int
r2d_image_add_source_run(struct r2d_ctx *ctx, struct r2d_image *img, uint64_t pa, uint64_t len,
                         uint64_t src_off)
{
    const struct r2d_run run = {.pa = pa, .len = len, .ops = img->src_ops, .src_off = src_off};

    R2D_CHECK(!img->src_ops, ctx, R2D_EINVAL, "%s: source run added before the source", img->path);
    return image_add_run(ctx, img, &run);
}

int
r2d_image_add_cpu(struct r2d_ctx *ctx, struct r2d_image *img, const struct r2d_cpu_state *cpu)
{
    /* A note area of 64 MiB could declare ~150000 CPUs, and discovery tries every one of them. */
    R2D_CHECK(img->ncpus >= IMAGE_MAX_CPUS, ctx, R2D_EFORMAT,
              "%s: more than %u CPU states: not a machine Windows runs on", img->path, IMAGE_MAX_CPUS);
    if (r2d_grow(ctx, &img->cpus, &img->cap_cpus, img->ncpus + 1, sizeof(*img->cpus), "CPU states"))
        return r2d_err_prefix(ctx, R2D_ENOMEM, "%s", img->path);
    img->cpus[img->ncpus++] = *cpu;
    return 0;
}

int
r2d_image_add_note(struct r2d_ctx *ctx, struct r2d_image *img, const char *key, const char *value)
{
    struct image_note *n;

    if (r2d_grow(ctx, &img->notes, &img->cap_notes, img->nnotes + 1, sizeof(*img->notes), "notes"))
        return r2d_err_prefix(ctx, R2D_ENOMEM, "%s", img->path);
    n = img->notes;
    n[img->nnotes].key = strdup(key);
    n[img->nnotes].value = strdup(value);
    if (!n[img->nnotes].key || !n[img->nnotes].value) {
        free(n[img->nnotes].key);
        free(n[img->nnotes].value);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for notes", img->path);
    }
    img->nnotes++;
    return 0;
}

int
r2d_image_pread(struct r2d_ctx *ctx, const struct r2d_image *img, uint64_t off, void *buf, size_t len,
                const char *what)
{
    return r2d_bytesrc_read(ctx, img->input, off, buf, len, what);
}

/* Index of the last run starting at or below pa, or nruns when none does. */
static size_t
image_find_run(const struct r2d_image *img, uint64_t pa)
{
    return R2D_FIND_LAST_LE(img->runs, img->nruns, struct r2d_run, pa, pa);
}

int
r2d_image_covers(const struct r2d_image *img, uint64_t pa, uint64_t len)
{
    size_t i = image_find_run(img, pa);

    while (len > 0) {
        const struct r2d_run *r;
        uint64_t avail;

        if (i >= img->nruns)
            return 0;
        r = &img->runs[i];
        if (pa < r->pa || pa - r->pa >= r->len)
            return 0;
        avail = r->len - (pa - r->pa);
        if (avail >= len)
            return 1;
        pa += avail;
        len -= avail;
        i++;
    }
    return 1;
}

int
r2d_image_read(struct r2d_ctx *ctx, const struct r2d_image *img, uint64_t pa, void *buf, size_t len,
               enum r2d_hole_policy holes)
{
    uint8_t *p = buf;

    while (len > 0) {
        const size_t i = image_find_run(img, pa);
        const struct r2d_run *r = i < img->nruns ? &img->runs[i] : NULL;
        uint64_t n;

        if (r && pa - r->pa < r->len) {
            const uint64_t delta = pa - r->pa;
            int rc;

            n = r->len - delta < len ? r->len - delta : len;
            if (r->ops)
                rc = r->ops->read(ctx, img->src, r->src_off + delta, p, (size_t)n);
            else
                rc = r2d_bytesrc_read(ctx, r->bytes, r->off + delta, p, (size_t)n, "run data");
            if (rc)
                return rc;
        } else {
            const size_t next = i < img->nruns ? i + 1 : 0;

            if (holes == R2D_HOLE_ERROR)
                return r2d_err(ctx, R2D_EHOLE, "%s: physical address 0x%" PRIx64 " is not in the image",
                               img->path, pa);
            n = len;
            if (next < img->nruns && img->runs[next].pa - pa < len)
                n = img->runs[next].pa - pa;
            memset(p, 0, (size_t)n);
        }
        p += n;
        pa += n;
        len -= (size_t)n;
    }
    return 0;
}

static int
image_run_cmp(const void *a, const void *b)
{
    const struct r2d_run *x = a, *y = b;

    return x->pa < y->pa ? -1 : x->pa > y->pa;
}

/* Sort the run table and refuse overlaps: two sources claiming one address cannot both be right. */
int
r2d_image_finish(struct r2d_ctx *ctx, struct r2d_image *img)
{
    if (img->nruns > 1) /* qsort(NULL, 0, ...) is undefined */
        qsort(img->runs, img->nruns, sizeof(*img->runs), image_run_cmp);
    for (size_t i = 1; i < img->nruns; i++) {
        const struct r2d_run *a = &img->runs[i - 1], *b = &img->runs[i];

        R2D_CHECK(b->pa - a->pa < a->len, ctx, R2D_EFORMAT,
                  "%s: memory ranges overlap: physical 0x%" PRIx64 "-0x%" PRIx64 " and 0x%" PRIx64
                  "-0x%" PRIx64,
                  img->path, a->pa, a->pa + a->len - 1, b->pa, b->pa + b->len - 1);
    }
    return 0;
}
