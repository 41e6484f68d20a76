/* SPDX-License-Identifier: MIT */
/* The dump plan: header values, page ranges and the patch list the writer overlays while streaming. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

struct r2d_plan {
    struct r2d_header_values hdr;
    enum r2d_dump_type dump_type;
    struct r2d_page_range *ranges;
    size_t nranges, cap_ranges;
    struct r2d_patch *patches;
    size_t npatches, cap_patches;
    char **warnings;
    size_t nwarnings;
    char **fact_keys, **fact_values;
    size_t nfacts;
};

struct r2d_plan *
r2d_plan_new(void)
{
    return calloc(1, sizeof(struct r2d_plan));
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
        free(plan->fact_keys[i]);
        free(plan->fact_values[i]);
    }
    free(plan->fact_keys);
    free(plan->fact_values);
    free(plan->patches);
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

/* Keep ranges sorted and merged: insert, then absorb every neighbour it touches or overlaps. */
int
r2d_plan_add_range(struct r2d_ctx *ctx, struct r2d_plan *plan, uint64_t base, uint64_t count)
{
    size_t pos = 0, j;
    uint64_t end;

    if (count == 0)
        return 0;
    R2D_CHECK(base + count < base, ctx, R2D_EINVAL, "page range 0x%" PRIx64 "+0x%" PRIx64 " wraps", base, count);
    while (pos < plan->nranges && plan->ranges[pos].base_page < base)
        pos++;
    if (plan->nranges == plan->cap_ranges) {
        const size_t cap = plan->cap_ranges ? plan->cap_ranges * 2 : 16;
        struct r2d_page_range *n = realloc(plan->ranges, cap * sizeof(*n));

        if (!n)
            return r2d_err(ctx, R2D_ENOMEM, "out of memory for page ranges");
        plan->ranges = n;
        plan->cap_ranges = cap;
    }
    memmove(&plan->ranges[pos + 1], &plan->ranges[pos], (plan->nranges - pos) * sizeof(*plan->ranges));
    plan->ranges[pos] = (struct r2d_page_range){base, count};
    plan->nranges++;
    /* Merge with the predecessor if it reaches this range. */
    if (pos > 0 && plan->ranges[pos - 1].base_page + plan->ranges[pos - 1].page_count >= base)
        pos--;
    end = plan->ranges[pos].base_page + plan->ranges[pos].page_count;
    j = pos + 1;
    while (j < plan->nranges && plan->ranges[j].base_page <= end) {
        const uint64_t e = plan->ranges[j].base_page + plan->ranges[j].page_count;

        if (e > end)
            end = e;
        j++;
    }
    plan->ranges[pos].page_count = end - plan->ranges[pos].base_page;
    memmove(&plan->ranges[pos + 1], &plan->ranges[j], (plan->nranges - j) * sizeof(*plan->ranges));
    plan->nranges -= j - pos - 1;
    return 0;
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
    plan->nranges = 0;
}

size_t
r2d_plan_range_count(const struct r2d_plan *plan)
{
    return plan->nranges;
}

const struct r2d_page_range *
r2d_plan_range(const struct r2d_plan *plan, size_t i)
{
    return i < plan->nranges ? &plan->ranges[i] : NULL;
}

uint64_t
r2d_plan_page_count(const struct r2d_plan *plan)
{
    uint64_t n = 0;

    for (size_t i = 0; i < plan->nranges; i++)
        n += plan->ranges[i].page_count;
    return n;
}

int
r2d_plan_add_patch(struct r2d_ctx *ctx, struct r2d_plan *plan, const struct r2d_image *img, uint64_t pa,
                   const void *bytes, uint32_t len, uint64_t va, const char *reason)
{
    struct r2d_patch *p;
    size_t pos = 0;
    int rc;

    if (len == 0)
        return 0;
    R2D_CHECK((pa & (R2D_PAGE_SIZE - 1)) + len > R2D_PAGE_SIZE, ctx, R2D_EINVAL,
              "patch '%s' at physical 0x%" PRIx64 " (0x%" PRIx32 " bytes) crosses a page boundary", reason, pa,
              len);
    while (pos < plan->npatches && plan->patches[pos].pa < pa)
        pos++;
    if (pos > 0) {
        const struct r2d_patch *prev = &plan->patches[pos - 1];

        R2D_CHECK(prev->pa + prev->len > pa, ctx, R2D_EINVAL,
                  "patch '%s' at physical 0x%" PRIx64 " overlaps patch '%s'", reason, pa, prev->reason);
    }
    R2D_CHECK(pos < plan->npatches && pa + len > plan->patches[pos].pa, ctx, R2D_EINVAL,
              "patch '%s' at physical 0x%" PRIx64 " overlaps patch '%s'", reason, pa, plan->patches[pos].reason);
    if (plan->npatches == plan->cap_patches) {
        const size_t cap = plan->cap_patches ? plan->cap_patches * 2 : 16;
        struct r2d_patch *n = realloc(plan->patches, cap * sizeof(*n));

        if (!n)
            return r2d_err(ctx, R2D_ENOMEM, "out of memory for patches");
        plan->patches = n;
        plan->cap_patches = cap;
    }
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

void
r2d_plan_apply(const struct r2d_plan *plan, uint64_t pa, uint8_t *buf, size_t len, size_t *cursor)
{
    const uint64_t end = pa + len;
    size_t lo = 0, hi = plan->npatches, i;

    /* Patches are sorted and disjoint, so their ends are sorted too: find the first ending past pa. */
    if (*cursor < plan->npatches && (*cursor == 0 || plan->patches[*cursor - 1].pa + plan->patches[*cursor - 1].len <= pa))
        lo = *cursor;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;

        if (plan->patches[mid].pa + plan->patches[mid].len <= pa)
            lo = mid + 1;
        else
            hi = mid;
    }
    i = lo;
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
    char **n;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r2d_log(ctx, R2D_LOG_WARN, "%s", msg);
    n = realloc(plan->warnings, (plan->nwarnings + 1) * sizeof(*n));
    if (!n)
        return r2d_err(ctx, R2D_ENOMEM, "out of memory for warnings");
    plan->warnings = n;
    if (!(n[plan->nwarnings] = strdup(msg)))
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
    char msg[1024], *value, **k, **v;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!(value = strdup(msg)))
        return r2d_err(ctx, R2D_ENOMEM, "out of memory for report facts");
    for (size_t i = 0; i < plan->nfacts; i++)
        if (strcmp(plan->fact_keys[i], key) == 0) {
            free(plan->fact_values[i]);
            plan->fact_values[i] = value;
            return 0;
        }
    k = realloc(plan->fact_keys, (plan->nfacts + 1) * sizeof(*k));
    if (k)
        plan->fact_keys = k;
    v = k ? realloc(plan->fact_values, (plan->nfacts + 1) * sizeof(*v)) : NULL;
    if (v)
        plan->fact_values = v;
    if (!k || !v || !(plan->fact_keys[plan->nfacts] = strdup(key))) {
        free(value);
        return r2d_err(ctx, R2D_ENOMEM, "out of memory for report facts");
    }
    plan->fact_values[plan->nfacts++] = value;
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
    *key = plan->fact_keys[i];
    *value = plan->fact_values[i];
    return 0;
}
