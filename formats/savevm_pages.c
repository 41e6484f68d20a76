/* SPDX-License-Identifier: MIT */
/*
 * The pc.ram page index of a QEMU migration stream and the decoding source reading through it. Pages may be
 * sent several times (iterative migration of a running guest): the last record of a page wins. The index is
 * extents of consecutive pages, never one entry per page unless the stream alternates kinds page by page; see
 * docs/formats/savevm.md for the memory bound.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "array.h"
#include "savevm_stream.h"

#define SVP_PAGE 4096u
#define SVP_4G (UINT64_C(1) << 32)
/* Pages per preadv: a page and the next record's header are two iovecs, and Linux takes at most 1024. */
#define SVP_IOV_PAGES 512u
/* Record headers longer than this between two pages (never seen: 8 bytes, or 8 + a block name) are read
 * page by page instead. */
#define SVP_MAX_GAP 512u

/* The decoding source: the resolved extents, sorted and disjoint, addressed by pc.ram offset. */
struct savevm_pages_source {
    const struct r2d_bytesrc *in;
    int fd; /* the input's descriptor when it is a plain file (one preadv for many pages), else -1 */
    const char *path;
    struct r2d_savevm_ext *ext;
    size_t next;
};

int
r2d_savevm_pages_add(struct r2d_ctx *ctx, const char *path, struct r2d_savevm_pages *s, uint64_t page,
                     uint64_t off, int is_fill, uint8_t fill, uint16_t stride)
{
    struct r2d_savevm_ext *e = s->nlog ? &s->log[s->nlog - 1] : NULL;

    s->records++;
    /* Extend the last extent when this page continues it: next page, same kind, data at the same stride. */
    if (e && e->page + e->n == page && e->n < UINT32_MAX && e->is_fill == is_fill &&
        (is_fill ? e->fill == fill : (e->stride == stride && e->off + (uint64_t)e->n * stride == off))) {
        e->n++;
        return 0;
    }
    if (r2d_grow(ctx, &s->log, &s->cap_log, s->nlog + 1, sizeof(*s->log), "the RAM page index"))
        return r2d_err_prefix(ctx, R2D_ENOMEM, "%s", path);
    s->log[s->nlog++] = (struct r2d_savevm_ext){
        .page = page, .off = off, .n = 1, .stride = stride, .fill = fill, .is_fill = (uint8_t)is_fill};
    return 0;
}

static int
savevm_pages_cmp(const void *a, const void *b)
{
    const struct r2d_savevm_ext *x = a, *y = b;

    if (x->page != y->page)
        return x->page < y->page ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Max-heap of log indices by off (newest first). */
static void
savevm_pages_heap_push(size_t *h, size_t *n, const struct r2d_savevm_ext *log, size_t v)
{
    size_t i = (*n)++;

    while (i > 0 && log[h[(i - 1) / 2]].off < log[v].off) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

static void
savevm_pages_heap_pop(size_t *h, size_t *n, const struct r2d_savevm_ext *log)
{
    const size_t v = h[--(*n)];
    size_t i = 0;

    for (;;) {
        size_t c = 2 * i + 1;

        if (c >= *n)
            break;
        if (c + 1 < *n && log[h[c + 1]].off > log[h[c]].off)
            c++;
        if (log[h[c]].off <= log[v].off)
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = v;
}

/*
 * Resolve the log (extents in stream order, pages possibly repeated) into sorted disjoint extents where the
 * newest record of each page wins: a sweep over the extents sorted by first page with a heap of the active
 * ones ordered by stream position. O(n log n) time, O(n) memory in extents.
 */
static int
savevm_pages_resolve(struct r2d_ctx *ctx, const char *path, struct r2d_savevm_pages *s,
                     struct r2d_savevm_ext **out, size_t *nout)
{
    struct r2d_savevm_ext *log = s->log, *res;
    size_t *heap, nh = 0, next = 0, nres = 0, cap;
    uint64_t x = 0;

    qsort(log, s->nlog, sizeof(*log), savevm_pages_cmp);
    cap = s->nlog + 16; /* repeats can split extents: grown below when needed */
    heap = malloc(s->nlog * sizeof(*heap) + 1);
    res = malloc(cap * sizeof(*res));
    if (!heap || !res) {
        free(heap);
        free(res);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory resolving the RAM page index", path);
    }
    while (next < s->nlog || nh > 0) {
        const struct r2d_savevm_ext *top;
        uint64_t y, k;

        while (nh > 0 && log[heap[0]].page + log[heap[0]].n <= x)
            savevm_pages_heap_pop(heap, &nh, log);
        if (nh == 0) {
            if (next == s->nlog)
                break;
            if (x < log[next].page)
                x = log[next].page;
        }
        while (next < s->nlog && log[next].page <= x)
            savevm_pages_heap_push(heap, &nh, log, next++);
        if (nh == 0)
            continue;
        top = &log[heap[0]];
        if (top->page + top->n <= x)
            continue;
        y = top->page + top->n;
        if (next < s->nlog && log[next].page < y)
            y = log[next].page;
        k = x - top->page;
        if (r2d_grow(ctx, &res, &cap, nres + 1, sizeof(*res), "the resolved RAM page index")) {
            free(heap);
            free(res);
            return r2d_err_prefix(ctx, R2D_ENOMEM, "%s", path);
        }
        res[nres] = *top;
        res[nres].page = x;
        res[nres].n = (uint32_t)(y - x);
        res[nres].off = top->is_fill ? top->off : top->off + k * top->stride;
        /* Merge with the previous piece when it simply continues. */
        if (nres > 0 && res[nres - 1].page + res[nres - 1].n == x && res[nres - 1].is_fill == top->is_fill &&
            (uint64_t)res[nres - 1].n + (y - x) <= UINT32_MAX &&
            (top->is_fill ? res[nres - 1].fill == top->fill
                          : res[nres - 1].stride == top->stride &&
                                res[nres - 1].off + (uint64_t)res[nres - 1].n * top->stride == res[nres].off))
            res[nres - 1].n += (uint32_t)(y - x);
        else
            nres++;
        x = y;
    }
    free(heap);
    *out = res;
    *nout = nres;
    return 0;
}

/*
 * Read cnt whole pages of data extent e, from its page k on, into p. The pages are stride bytes apart in the
 * stream with a record header in between: one preadv takes up to SVP_IOV_PAGES of them, the headers going to
 * a scratch buffer, so the stream is read in large requests rather than page by page. Returns 0, 1 when
 * the read came up short (the caller retries page by page to name the problem), or an error.
 */
static int
savevm_pages_read_many(struct r2d_ctx *ctx, const struct savevm_pages_source *v, const struct r2d_savevm_ext *e,
                       uint64_t k, uint64_t cnt, uint8_t *p)
{
    const size_t gap = (size_t)e->stride - SVP_PAGE;
    uint8_t scratch[SVP_MAX_GAP];
    struct iovec iov[2 * SVP_IOV_PAGES];

    if (v->fd < 0 || e->stride < SVP_PAGE || gap > sizeof(scratch))
        return 1;
    while (cnt > 0) {
        const size_t m = cnt < SVP_IOV_PAGES ? (size_t)cnt : SVP_IOV_PAGES;
        const size_t want = m * SVP_PAGE + (m - 1) * gap;
        int niov = 0;
        ssize_t got;

        for (size_t i = 0; i < m; i++) {
            iov[niov++] = (struct iovec){.iov_base = p + i * SVP_PAGE, .iov_len = SVP_PAGE};
            if (i + 1 < m && gap)
                iov[niov++] = (struct iovec){.iov_base = scratch, .iov_len = gap};
        }
        do
            got = preadv(v->fd, iov, niov, (off_t)(e->off + k * e->stride));
        while (got < 0 && errno == EINTR);
        if (got < 0)
            return r2d_err_errno(ctx, "%s: offset 0x%" PRIx64 ": reading RAM pages", v->path, e->off + k * e->stride);
        if ((size_t)got != want)
            return 1;
        p += m * SVP_PAGE;
        k += m;
        cnt -= m;
    }
    return 0;
}

static int
savevm_pages_read(struct r2d_ctx *ctx, void *src, uint64_t off, void *buf, size_t len)
{
    struct savevm_pages_source *v = src;
    uint8_t *p = buf;

    while (len > 0) {
        const uint64_t page = off / SVP_PAGE;
        const size_t in = (size_t)(off % SVP_PAGE), n = SVP_PAGE - in < len ? SVP_PAGE - in : len;
        const size_t i = R2D_FIND_LAST_LE(v->ext, v->next, struct r2d_savevm_ext, page, page);
        const struct r2d_savevm_ext *e = i < v->next ? &v->ext[i] : NULL;
        int rc;

        R2D_CHECK(!e || page - e->page >= e->n, ctx, R2D_EINVAL,
                  "%s: RAM offset 0x%" PRIx64 " was never sent in the stream", v->path, off);
        if (!e->is_fill && in == 0 && len >= 2 * SVP_PAGE && e->n - (page - e->page) >= 2) {
            const uint64_t left = e->n - (page - e->page), cnt = len / SVP_PAGE < left ? len / SVP_PAGE : left;

            rc = savevm_pages_read_many(ctx, v, e, page - e->page, cnt, p);
            if (rc < 0)
                return rc;
            if (rc == 0) {
                p += cnt * SVP_PAGE;
                off += cnt * SVP_PAGE;
                len -= (size_t)(cnt * SVP_PAGE);
                continue;
            }
        }
        if (e->is_fill) {
            memset(p, e->fill, n);
        } else {
            rc = r2d_bytesrc_read(ctx, v->in, e->off + (page - e->page) * e->stride + in, p, n, "RAM page");
            if (rc)
                return rc;
        }
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

static void
savevm_pages_free(void *src)
{
    struct savevm_pages_source *v = src;

    if (v)
        free(v->ext);
    free(v);
}

static const struct r2d_source_ops savevm_pages_ops = {
    .name = "migration stream pages",
    .read = savevm_pages_read,
    .free = savevm_pages_free,
};

/* Runs: pc.ram offsets [0, below) at the same address, [below, end) at 4 GiB + (offset - below). */
static int
savevm_pages_runs(struct r2d_ctx *ctx, struct r2d_image *img, const struct r2d_savevm_ext *ext, size_t n,
                  uint64_t below)
{
    size_t i = 0;
    int rc = 0;

    while (!rc && i < n) {
        uint64_t start = ext[i].page * SVP_PAGE, end = (ext[i].page + ext[i].n) * SVP_PAGE;

        for (i++; i < n && ext[i].page * SVP_PAGE == end; i++)
            end = (ext[i].page + ext[i].n) * SVP_PAGE;
        if (start < below) {
            const uint64_t e = end < below ? end : below;

            rc = r2d_image_add_source_run(ctx, img, start, e - start, start);
            start = e;
        }
        if (!rc && start < end)
            rc = r2d_image_add_source_run(ctx, img, SVP_4G + (start - below), end - start, start);
    }
    return rc;
}

int
r2d_savevm_pages_attach(struct r2d_ctx *ctx, struct r2d_image *img, struct r2d_savevm_pages *s,
                        uint64_t below, uint64_t *present, size_t *extents)
{
    const char *path = r2d_image_path(img);
    struct savevm_pages_source *v;
    struct r2d_savevm_ext *ext = NULL;
    size_t n = 0;
    int rc = savevm_pages_resolve(ctx, path, s, &ext, &n);

    if (rc)
        return rc;
    v = calloc(1, sizeof(*v));
    if (!v) {
        free(ext);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", path);
    }
    v->in = r2d_image_input(img);
    v->fd = r2d_bytesrc_fd(v->in);
    v->path = path;
    v->ext = ext;
    v->next = n;
    *present = 0;
    for (size_t i = 0; i < n; i++)
        *present += ext[i].n;
    *extents = n;
    rc = r2d_image_set_source(ctx, img, &savevm_pages_ops, v); /* the image owns v from here on */
    return rc ? rc : savevm_pages_runs(ctx, img, ext, n, below);
}

void
r2d_savevm_pages_free(struct r2d_savevm_pages *s)
{
    free(s->log);
    s->log = NULL;
    s->nlog = s->cap_log = 0;
}
