/* SPDX-License-Identifier: MIT */
/*
 * VMware checkpoint files: the header, the group table and the tag stream inside a group. Every read is
 * bounded by the group's extent and the file's size. Facts and their sources: docs/formats/vmware.md.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmware.h"

#define VMW_WALK_BUF (64u << 10) /* tag headers are read through a window of this size */

static const struct {
    uint32_t magic;
    const char *what;
} vmware_magics[] = {
    /* The low nibble is the format version; version 0 files store a block's sizes in 32 bits. */
    {0xbed0bed0u, "old checkpoint, 32-bit block sizes"},
    {0xbed2bed0u, "old checkpoint, 32-bit block sizes"},
    {0xbed1bed1u, "checkpoint (restored)"},
    {0xbad1bad1u, "checkpoint (restored)"},
    {0xbed2bed2u, "checkpoint"},
    {0xbad2bad2u, "checkpoint (not to be restored)"},
    {0xbed3bed3u, "checkpoint (partial)"},
};

int
r2d_vmware_magic(uint32_t magic, unsigned *size_width, const char **what)
{
    for (size_t i = 0; i < sizeof(vmware_magics) / sizeof(vmware_magics[0]); i++)
        if (vmware_magics[i].magic == magic) {
            *size_width = (magic & 0xF) == 0 ? 4 : 8;
            if (what)
                *what = vmware_magics[i].what;
            return 1;
        }
    return 0;
}

/* Names are shown in messages and notes: keep them printable. */
static void
vmware_printable(char *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
    dst[n] = '\0';
}

void
r2d_vmware_file_free(struct vmware_file *f)
{
    free(f->groups);
    f->groups = NULL;
}

static int
vmware_read_groups(struct r2d_ctx *ctx, struct vmware_file *f)
{
    const uint64_t table = (uint64_t)f->ngroups * VMW_GROUP_SIZE, table_end = VMW_HDR_SIZE + table;
    uint8_t *raw = malloc((size_t)table);
    int rc;

    f->groups = calloc(f->ngroups, sizeof(*f->groups));
    if (!raw || !f->groups) {
        free(raw);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for %" PRIu32 " groups", f->path, f->ngroups);
    }
    rc = r2d_image_pread(ctx, f->img, VMW_HDR_SIZE, raw, (size_t)table, "group table");
    for (uint32_t i = 0; !rc && i < f->ngroups; i++) {
        struct vmware_group *g = &f->groups[i];
        const uint8_t *e = raw + (size_t)i * VMW_GROUP_SIZE;
        const uint8_t *nul = memchr(e, 0, VMW_GROUP_NAME_LEN);
        const uint64_t at = VMW_HDR_SIZE + (uint64_t)i * VMW_GROUP_SIZE;

        vmware_printable(g->name, e, nul ? (size_t)(nul - e) : VMW_GROUP_NAME_LEN);
        g->off = r2d_le64(e + VMW_GROUP_OFF_TAGS);
        g->size = r2d_le64(e + VMW_GROUP_OFF_SIZE);
        if (g->off == 0 && g->size == 0)
            continue; /* an empty entry: nothing to walk */
        if (g->off < table_end || g->off > f->size)
            rc = r2d_err(ctx, R2D_EFORMAT,
                         "%s: offset 0x%" PRIx64 ": group %s starts at 0x%" PRIx64
                         ", outside the file after the group table (0x%" PRIx64 "-0x%" PRIx64 ")",
                         f->path, at, g->name, g->off, table_end, f->size);
        else if (g->size > f->size - g->off)
            rc = r2d_err(ctx, R2D_ETRUNC,
                         "%s: offset 0x%" PRIx64 ": group %s at 0x%" PRIx64 " of 0x%" PRIx64
                         " bytes runs past end of file (size 0x%" PRIx64 ")",
                         f->path, at, g->name, g->off, g->size, f->size);
    }
    free(raw);
    return rc;
}

int
r2d_vmware_file_open(struct r2d_ctx *ctx, struct r2d_image *img, struct vmware_file *f)
{
    uint8_t h[VMW_HDR_SIZE];
    int rc;

    memset(f, 0, sizeof(*f));
    f->img = img;
    f->path = r2d_image_path(img);
    f->size = r2d_image_file_size(img);
    rc = r2d_image_pread(ctx, img, 0, h, sizeof(h), "VMware checkpoint header");
    if (rc)
        return rc;
    f->magic = r2d_le32(h + VMW_OFF_MAGIC);
    f->version = r2d_le32(h + VMW_OFF_VERSION);
    f->ngroups = r2d_le32(h + VMW_OFF_NGROUPS);
    R2D_CHECK(!r2d_vmware_magic(f->magic, &f->size_width, &f->magic_what), ctx, R2D_EFORMAT,
              "%s: offset 0x0: magic 0x%08" PRIx32 " is not a VMware checkpoint magic", f->path, f->magic);
    R2D_CHECK(f->ngroups == 0 || f->ngroups > VMW_MAX_GROUPS, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: %" PRIu32 " groups (expected 1 to %u)", f->path, VMW_OFF_NGROUPS, f->ngroups,
              VMW_MAX_GROUPS);
    return vmware_read_groups(ctx, f);
}

struct vmware_group *
r2d_vmware_group(struct vmware_file *f, const char *name)
{
    for (uint32_t i = 0; i < f->ngroups; i++)
        if (strcmp(f->groups[i].name, name) == 0 && (f->groups[i].off || f->groups[i].size))
            return &f->groups[i];
    return NULL;
}

uint64_t
r2d_vmware_tag_u64(const struct vmware_tag *t)
{
    uint64_t v = 0;

    for (size_t i = t->len < 8 ? (size_t)t->len : 8; i > 0; i--)
        v = v << 8 | t->value[i - 1];
    return v;
}

void
r2d_vmware_tag_label(const struct vmware_tag *t, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "%s", t->name);

    for (unsigned i = 0; i < t->nindx && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "[%" PRIu32 "]", t->idx[i]);
}

/* A window over the group's bytes, so that thousands of small tags cost a few reads. */
struct vmware_window {
    uint8_t *p;
    uint64_t off;
    size_t len;
};

/* Point *out at bytes [off, off + len) of the group ending at end (len <= 4 KiB). */
static int
vmware_get(struct r2d_ctx *ctx, struct vmware_file *f, const struct vmware_group *g, struct vmware_window *w,
           uint64_t off, uint64_t end, size_t len, const uint8_t **out, const char *what)
{
    size_t n;
    int rc;

    if (off >= w->off && off - w->off <= w->len && len <= w->len - (off - w->off)) {
        *out = w->p + (off - w->off);
        return 0;
    }
    R2D_CHECK(off > end || len > end - off, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": %s of 0x%zx bytes runs past the end of group %s (at 0x%" PRIx64 ")",
              f->path, off, what, len, g->name, end);
    n = end - off < VMW_WALK_BUF ? (size_t)(end - off) : VMW_WALK_BUF;
    rc = r2d_image_pread(ctx, f->img, off, w->p, n, what);
    if (rc)
        return rc;
    w->off = off;
    w->len = n;
    *out = w->p;
    return 0;
}

/* A block: two sizes (32 or 64 bits), a u16 padding length, the padding, then the bytes. */
static int
vmware_block(struct r2d_ctx *ctx, struct vmware_file *f, const struct vmware_group *g,
             struct vmware_window *w, uint64_t p, uint64_t end, struct vmware_tag *t, uint64_t *next)
{
    const unsigned sw = f->size_width;
    const uint8_t *b;
    char label[320];
    uint64_t data;
    int rc = vmware_get(ctx, f, g, w, p, end, 2 * sw + 2, &b, "block header");

    if (rc)
        return rc;
    t->len = sw == 4 ? r2d_le32(b) : r2d_le64(b);
    t->mem_len = sw == 4 ? r2d_le32(b + 4) : r2d_le64(b + 8);
    data = p + 2 * sw + 2 + r2d_le16(b + 2 * sw);
    r2d_vmware_tag_label(t, label, sizeof(label));
    /* data <= end, then len <= end - data: neither sum can wrap. */
    R2D_CHECK(data > end || t->len > end - data, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": tag %s: block of 0x%" PRIx64 " bytes at 0x%" PRIx64
              " runs past the end of group %s (at 0x%" PRIx64 ")",
              f->path, t->off, label, t->len, data, g->name, end);
    t->data_off = data;
    *next = data + t->len;
    return 0;
}

/* The tag whose u16 head is at pos; *next receives where the following tag starts. */
static int
vmware_tag(struct r2d_ctx *ctx, struct vmware_file *f, const struct vmware_group *g, struct vmware_window *w,
           uint64_t pos, uint64_t end, uint16_t head, struct vmware_tag *t, uint64_t *next)
{
    const unsigned namelen = head >> 8, vsize = head & 0x3F;
    const uint8_t *b;
    uint64_t p;
    int rc;

    memset(t, 0, sizeof(*t));
    t->off = pos;
    t->nindx = (head >> 6) & 3;
    R2D_CHECK(namelen == 0, ctx, R2D_EFORMAT, "%s: offset 0x%" PRIx64 ": tag 0x%04x in group %s has no name",
              f->path, pos, head, g->name);
    rc = vmware_get(ctx, f, g, w, pos + 2, end, namelen + 4u * t->nindx, &b, "tag name and indices");
    if (rc)
        return rc;
    vmware_printable(t->name, b, namelen);
    for (unsigned i = 0; i < t->nindx; i++)
        t->idx[i] = r2d_le32(b + namelen + 4 * i);
    p = pos + 2 + namelen + 4u * t->nindx;
    if (vsize == VMW_VALSIZE_BLOCK || vsize == VMW_VALSIZE_COMPRESSED) {
        t->kind = vsize == VMW_VALSIZE_BLOCK ? VMW_BLOCK : VMW_BLOCK_COMPRESSED;
        return vmware_block(ctx, f, g, w, p, end, t, next);
    }
    rc = vmware_get(ctx, f, g, w, p, end, vsize, &b, "tag value");
    if (rc)
        return rc;
    memcpy(t->value, b, vsize);
    t->kind = VMW_VALUE;
    t->data_off = p;
    t->len = t->mem_len = vsize;
    *next = p + vsize;
    return 0;
}

int
r2d_vmware_walk(struct r2d_ctx *ctx, struct vmware_file *f, struct vmware_group *g, vmware_tag_fn fn,
                void *arg)
{
    const uint64_t end = g->size ? g->off + g->size : f->size;
    struct vmware_window w = {.p = malloc(VMW_WALK_BUF)};
    struct vmware_tag *t = malloc(sizeof(*t));
    uint64_t pos = g->off;
    int rc = 0;

    g->ntags = 0;
    if (!w.p || !t)
        rc = r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", f->path);
    /* No terminator is needed when the group's size ends it. */
    while (!rc && pos < end) {
        const uint8_t *b;
        uint64_t next = pos;

        rc = vmware_get(ctx, f, g, &w, pos, end, 2, &b, "tag");
        if (rc || r2d_le16(b) == 0)
            break;
        rc = vmware_tag(ctx, f, g, &w, pos, end, r2d_le16(b), t, &next);
        if (!rc)
            rc = fn(ctx, arg, t);
        g->ntags++;
        pos = next;
    }
    free(t);
    free(w.p);
    return rc;
}

void
r2d_vmware_seen(struct vmware_seen *s, size_t n, const char *name)
{
    for (size_t i = 0; i < n && s[i].name; i++)
        if (strcmp(s[i].name, name) == 0) {
            s[i].count++;
            return;
        }
}

void
r2d_vmware_seen_text(const struct vmware_seen *s, size_t n, uint32_t other, char *buf, size_t len)
{
    size_t k = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && s[i].name && k < len; i++) {
        if (!s[i].count)
            continue;
        k += (size_t)snprintf(buf + k, len - k, "%s%s", k ? ", " : "", s[i].name);
        if (s[i].count > 1 && k < len)
            k += (size_t)snprintf(buf + k, len - k, " x%" PRIu32, s[i].count);
    }
    if (k < len)
        snprintf(buf + k, len - k, "%s%" PRIu32 " other tag%s not used", k ? "; " : "", other,
                 other == 1 ? "" : "s");
}

int
r2d_vmware_grow(struct r2d_ctx *ctx, const char *path, void **table, size_t *n, size_t elem, uint64_t i,
                uint64_t max, const char *what)
{
    void *p;

    if (i < *n)
        return 0;
    R2D_CHECK(i >= max, ctx, R2D_EFORMAT, "%s: %s index %" PRIu64 " (at most %" PRIu64 " are supported)",
              path, what, i, max);
    p = realloc(*table, (size_t)(i + 1) * elem);
    if (!p)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for %s", path, what);
    memset((uint8_t *)p + *n * elem, 0, (size_t)(i + 1 - *n) * elem);
    *table = p;
    *n = (size_t)i + 1;
    return 0;
}
