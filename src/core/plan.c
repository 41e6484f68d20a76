/* SPDX-License-Identifier: MIT */
/* The dump plan: header values, page ranges and the patch list the writer overlays while streaming. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "plan.h"

/*
 * The page ranges. Adds append; a range that does not start at or after the last one marks the array
 * unsorted, and the first query after that sorts and merges it (O(n log n) for n adds in any order, where
 * inserting in place was O(n^2)). Queries take a const plan, so this state lives behind a pointer.
 */
struct plan_ranges {
    struct r2d_page_range *v;
    size_t n, cap;
    int unsorted; /* v[0, n) may be out of order or overlap; sorted and merged otherwise */
};

struct plan_fact {
    char *key, *value;
};

struct r2d_plan {
    struct r2d_header_values hdr;
    enum r2d_dump_type dump_type;
    struct plan_ranges *ranges;
    struct r2d_patch *patches;
    size_t npatches, cap_patches;
    char **warnings;
    size_t nwarnings, cap_warnings;
    struct plan_fact *facts;
    size_t nfacts, cap_facts;
};

struct r2d_plan *
r2d_plan_new(void)
{
    struct r2d_plan *plan = calloc(1, sizeof(*plan));

    if (plan && !(plan->ranges = calloc(1, sizeof(*plan->ranges)))) {
        free(plan);
        return NULL;
    }
    return plan;
}

void
r2d_plan_free(struct r2d_plan *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; i < plan->npatches; i++) {
        free(plan->patches[i].after);
        free(plan->patches[i].before);
    }
    for (size_t i = 0; i < plan->nwarnings; i++)
        free(plan->warnings[i]);
    free(plan->warnings);
    for (size_t i = 0; i < plan->nfacts; i++) {
        free(plan->facts[i].key);
        free(plan->facts[i].value);
    }
    free(plan->facts);
    free(plan->patches);
    if (plan->ranges)
        free(plan->ranges->v);
    free(plan->ranges);
    free(plan);
}

struct r2d_header_values *
r2d_plan_header(struct r2d_plan *plan)
{
    return &plan->hdr;
}

const struct r2d_header_values *
r2d_plan_header_const(const struct r2d_plan *plan)
{
    return &plan->hdr;
}

void
r2d_plan_set_dump_type(struct r2d_plan *plan, enum r2d_dump_type type)
{
    plan->dump_type = type;
}

enum r2d_dump_type
r2d_plan_dump_type(const struct r2d_plan *plan)
{
    return plan->dump_type;
}

/* Ascending adds (image runs, the kernel's memory map) keep the array sorted and merged as they go. */
int
r2d_plan_add_range(struct r2d_ctx *ctx, struct r2d_plan *plan, uint64_t base, uint64_t count)
{
    struct plan_ranges *rs = plan->ranges;
    struct r2d_page_range *last = rs->n ? &rs->v[rs->n - 1] : NULL;
    int rc;

    if (count == 0)
        return 0;
    R2D_CHECK(base + count < base, ctx, R2D_EINVAL, "page range 0x%" PRIx64 "+0x%" PRIx64 " wraps", base, count);
    if (!rs->unsorted && last && base >= last->base_page && base - last->base_page <= last->page_count) {
        if (base + count - last->base_page > last->page_count)
            last->page_count = base + count - last->base_page;
        return 0;
    }
    if (last && base < last->base_page)
        rs->unsorted = 1;
    if ((rc = r2d_grow(ctx, &rs->v, &rs->cap, rs->n + 1, sizeof(*rs->v), "page ranges")) != 0)
        return rc; /* unsorted may now be set needlessly: that costs one sort, never a wrong result */
    rs->v[rs->n++] = (struct r2d_page_range){base, count};
    return 0;
}

static int
plan_range_cmp(const void *a, const void *b)
{
    const struct r2d_page_range *x = a, *y = b;

    return x->base_page < y->base_page ? -1 : x->base_page > y->base_page;
}

/* Sort and merge the ranges added since the last query: touching or overlapping ranges become one. */
static const struct plan_ranges *
plan_ranges_settle(struct plan_ranges *rs)
{
    size_t out = 0;

    if (!rs->unsorted || rs->n == 0)
        return rs;
    qsort(rs->v, rs->n, sizeof(*rs->v), plan_range_cmp);
    for (size_t i = 1; i < rs->n; i++) {
        struct r2d_page_range *cur = &rs->v[out];
        const uint64_t end = rs->v[i].base_page + rs->v[i].page_count;

        if (rs->v[i].base_page - cur->base_page <= cur->page_count) {
            if (end - cur->base_page > cur->page_count)
                cur->page_count = end - cur->base_page;
        } else {
            rs->v[++out] = rs->v[i];
        }
    }
    rs->n = out + 1;
    rs->unsorted = 0;
    return rs;
}

int
r2d_plan_add_image_runs(struct r2d_ctx *ctx, struct r2d_plan *plan, const struct r2d_image *img)
{
    for (size_t i = 0; i < r2d_image_run_count(img); i++) {
        const struct r2d_run *r = r2d_image_run(img, i);
        const uint64_t first = r->pa >> R2D_PAGE_SHIFT;
        const uint64_t last = (r->pa + r->len - 1) >> R2D_PAGE_SHIFT;
        const int rc = r2d_plan_add_range(ctx, plan, first, last - first + 1);

        if (rc)
            return rc;
    }
    return 0;
}

void
r2d_plan_clear_ranges(struct r2d_plan *plan)
{
    plan->ranges->n = 0;
    plan->ranges->unsorted = 0;
}

size_t
r2d_plan_range_count(const struct r2d_plan *plan)
{
    return plan_ranges_settle(plan->ranges)->n;
}

const struct r2d_page_range *
r2d_plan_range(const struct r2d_plan *plan, size_t i)
{
    const struct plan_ranges *rs = plan_ranges_settle(plan->ranges);

    return i < rs->n ? &rs->v[i] : NULL;
}

uint64_t
r2d_plan_page_count(const struct r2d_plan *plan)
{
    const struct plan_ranges *rs = plan_ranges_settle(plan->ranges);
    uint64_t n = 0;

    for (size_t i = 0; i < rs->n; i++)
        n += rs->v[i].page_count;
    return n;
}

int
r2d_plan_add_patch(struct r2d_ctx *ctx, struct r2d_plan *plan, const struct r2d_image *img, uint64_t pa,
                   const void *bytes, uint32_t len, uint64_t va, const char *reason)
{
    struct r2d_patch *p;
    size_t pos;
    int rc;

    if (len == 0)
        return 0;
    R2D_CHECK((pa & (R2D_PAGE_SIZE - 1)) + len > R2D_PAGE_SIZE, ctx, R2D_EINVAL,
              "patch '%s' at physical 0x%" PRIx64 " (0x%" PRIx32 " bytes) crosses a page boundary", reason, pa,
              len);
    pos = R2D_FIND_LAST_LE(plan->patches, plan->npatches, struct r2d_patch, pa, pa);
    pos = pos == plan->npatches ? 0 : pos + 1; /* the first patch starting after pa */
    if (pos > 0) {
        const struct r2d_patch *prev = &plan->patches[pos - 1];

        R2D_CHECK(prev->pa + prev->len > pa, ctx, R2D_EINVAL,
                  "patch '%s' at physical 0x%" PRIx64 " overlaps patch '%s'", reason, pa, prev->reason);
    }
    R2D_CHECK(pos < plan->npatches && pa + len > plan->patches[pos].pa, ctx, R2D_EINVAL,
              "patch '%s' at physical 0x%" PRIx64 " overlaps patch '%s'", reason, pa, plan->patches[pos].reason);
    rc = r2d_grow(ctx, &plan->patches, &plan->cap_patches, plan->npatches + 1, sizeof(*plan->patches),
                  "patches");
    if (rc)
        return rc;
    memmove(&plan->patches[pos + 1], &plan->patches[pos], (plan->npatches - pos) * sizeof(*plan->patches));
    p = &plan->patches[pos];
    memset(p, 0, sizeof(*p));
    p->pa = pa;
    p->len = len;
    p->va = va;
    snprintf(p->reason, sizeof(p->reason), "%s", reason);
    p->after = malloc(len);
    p->before = malloc(len);
    plan->npatches++;
    if (!p->after || !p->before)
        rc = r2d_err(ctx, R2D_ENOMEM, "out of memory for patch '%s'", reason);
    else
        rc = r2d_image_read(ctx, img, pa, p->before, len, R2D_HOLE_ZERO);
    if (rc) {
        free(p->after);
        free(p->before);
        memmove(p, p + 1, (plan->npatches - pos - 1) * sizeof(*p));
        plan->npatches--;
        return rc;
    }
    memcpy(p->after, bytes, len);
    return 0;
}

size_t
r2d_plan_patch_count(const struct r2d_plan *plan)
{
    return plan->npatches;
}

const struct r2d_patch *
r2d_plan_patch(const struct r2d_plan *plan, size_t i)
{
    return i < plan->npatches ? &plan->patches[i] : NULL;
}

/* The first patch ending after pa, searching from index from on (every patch before from ends at or before
 * pa). Patches are sorted and disjoint, so that is the last one starting at or below pa unless it ends
 * first, then its successor. */
static size_t
plan_first_patch_after(const struct r2d_plan *plan, size_t from, uint64_t pa)
{
    const size_t n = plan->npatches - from;
    size_t i = n ? R2D_FIND_LAST_LE(plan->patches + from, n, struct r2d_patch, pa, pa) : n;

    if (i == n)
        return from;
    i += from;
    return plan->patches[i].pa + plan->patches[i].len <= pa ? i + 1 : i;
}

void
r2d_plan_apply(const struct r2d_plan *plan, uint64_t pa, uint8_t *buf, size_t len, size_t *cursor)
{
    const uint64_t end = pa + len;
    size_t from = 0, i;

    /* The cursor is only a hint: use it when every patch before it ends at or before pa. */
    if (*cursor <= plan->npatches &&
        (*cursor == 0 || plan->patches[*cursor - 1].pa + plan->patches[*cursor - 1].len <= pa))
        from = *cursor;
    i = plan_first_patch_after(plan, from, pa);
    *cursor = i;
    for (; i < plan->npatches && plan->patches[i].pa < end; i++) {
        const struct r2d_patch *p = &plan->patches[i];
        const uint64_t s = p->pa > pa ? p->pa : pa;
        const uint64_t e = p->pa + p->len < end ? p->pa + p->len : end;

        if (s < e)
            memcpy(buf + (s - pa), p->after + (s - p->pa), (size_t)(e - s));
    }
}

int
r2d_plan_add_warning(struct r2d_ctx *ctx, struct r2d_plan *plan, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r2d_log(ctx, R2D_LOG_WARN, "%s", msg);
    rc = r2d_grow(ctx, &plan->warnings, &plan->cap_warnings, plan->nwarnings + 1, sizeof(*plan->warnings),
                  "warnings");
    if (rc)
        return rc;
    if (!(plan->warnings[plan->nwarnings] = strdup(msg)))
        return r2d_err(ctx, R2D_ENOMEM, "out of memory for warnings");
    plan->nwarnings++;
    return 0;
}

size_t
r2d_plan_warning_count(const struct r2d_plan *plan)
{
    return plan->nwarnings;
}

const char *
r2d_plan_warning(const struct r2d_plan *plan, size_t i)
{
    return i < plan->nwarnings ? plan->warnings[i] : NULL;
}

int
r2d_plan_add_fact(struct r2d_ctx *ctx, struct r2d_plan *plan, const char *key, const char *fmt, ...)
{
    char msg[1024], *value;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!(value = strdup(msg)))
        return r2d_err(ctx, R2D_ENOMEM, "out of memory for report facts");
    for (size_t i = 0; i < plan->nfacts; i++)
        if (strcmp(plan->facts[i].key, key) == 0) {
            free(plan->facts[i].value);
            plan->facts[i].value = value;
            return 0;
        }
    rc = r2d_grow(ctx, &plan->facts, &plan->cap_facts, plan->nfacts + 1, sizeof(*plan->facts),
                  "report facts");
    if (!rc && !(plan->facts[plan->nfacts].key = strdup(key)))
        rc = r2d_err(ctx, R2D_ENOMEM, "out of memory for report facts");
    if (rc) {
        free(value);
        return rc;
    }
    plan->facts[plan->nfacts++].value = value;
    return 0;
}

size_t
r2d_plan_fact_count(const struct r2d_plan *plan)
{
    return plan->nfacts;
}

int
r2d_plan_fact(const struct r2d_plan *plan, size_t i, const char **key, const char **value)
{
    if (i >= plan->nfacts)
        return R2D_EINVAL;
    *key = plan->facts[i].key;
    *value = plan->facts[i].value;
    return 0;
}
