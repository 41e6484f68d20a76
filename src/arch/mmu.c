/* SPDX-License-Identifier: MIT */
/* x64 paging walks over the physical image (Intel SDM vol. 3, chapter 4; docs/reference/discovery.md 1). */
#include <inttypes.h>
#include <string.h>

#include "mmu.h"
#include "bytes.h"

void
r2d_mmu_init(struct r2d_mmu *mmu, struct r2d_ctx *ctx, const struct r2d_image *img, uint64_t dtb, int levels)
{
    mmu->ctx = ctx;
    mmu->img = img;
    mmu->dtb = dtb & R2D_DTB_MASK;
    mmu->levels = levels == 5 ? 5 : 4;
}

int
r2d_mmu_canonical(const struct r2d_mmu *mmu, uint64_t va)
{
    const int bits = mmu->levels == 5 ? 57 : 48;
    const int64_t sva = (int64_t)va;

    /* Bits above bits-1 must all equal bit bits-1. */
    return (uint64_t)(sva >> (bits - 1)) == 0 || (uint64_t)(sva >> (bits - 1)) == UINT64_MAX;
}

static int
mmu_entry(const struct r2d_mmu *mmu, uint64_t table, unsigned idx, uint64_t *e)
{
    uint8_t b[8];
    const int rc = r2d_image_read(mmu->ctx, mmu->img, table + 8ull * idx, b, 8, R2D_HOLE_ERROR);

    if (rc)
        return rc;
    *e = r2d_le64(b);
    return 0;
}

int
r2d_mmu_translate(const struct r2d_mmu *mmu, uint64_t va, uint64_t *pa, uint64_t *page_size)
{
    static const char *const names[] = {"PT", "PD", "PDPT", "PML4", "PML5"};
    uint64_t table = mmu->dtb;

    R2D_CHECK(!r2d_mmu_canonical(mmu, va), mmu->ctx, R2D_ENOVA, "virtual address 0x%016" PRIx64
              " is not canonical", va);
    for (int level = mmu->levels - 1; level >= 0; level--) {
        const unsigned shift = 12 + 9 * (unsigned)level;
        const unsigned idx = (unsigned)(va >> shift) & 0x1ff;
        uint64_t e;
        int rc = mmu_entry(mmu, table, idx, &e);

        if (rc)
            return r2d_err_prefix(mmu->ctx, rc, "translating 0x%016" PRIx64 " (%s at 0x%" PRIx64 ")", va,
                                  names[level], table);
        R2D_CHECK(!(e & R2D_PTE_PRESENT), mmu->ctx, R2D_ENOVA,
                  "virtual address 0x%016" PRIx64 " is not mapped (%s entry %u is not present)", va, names[level],
                  idx);
        if (level == 0 || ((level == 1 || level == 2) && (e & R2D_PTE_PS))) {
            const uint64_t size = 1ull << shift;

            /* Large-page frames exclude the PAT bit (bit 12): masking with the page size drops it. */
            *pa = (e & R2D_PTE_FRAME & ~(size - 1)) | (va & (size - 1));
            if (page_size)
                *page_size = size;
            return 0;
        }
        table = e & R2D_PTE_FRAME;
    }
    return r2d_err(mmu->ctx, R2D_ENOVA, "virtual address 0x%016" PRIx64 " did not resolve", va);
}

int
r2d_mmu_read(const struct r2d_mmu *mmu, uint64_t va, void *buf, size_t len)
{
    uint8_t *p = buf;

    while (len > 0) {
        const size_t in_page = R2D_PAGE_SIZE - (size_t)(va & (R2D_PAGE_SIZE - 1));
        const size_t n = in_page < len ? in_page : len;
        uint64_t pa;
        int rc = r2d_mmu_translate(mmu, va, &pa, NULL);

        if (rc)
            return rc;
        rc = r2d_image_read(mmu->ctx, mmu->img, pa, p, n, R2D_HOLE_ERROR);
        if (rc)
            return r2d_err_prefix(mmu->ctx, rc, "reading virtual 0x%016" PRIx64, va);
        p += n;
        va += n;
        len -= n;
    }
    return 0;
}

int
r2d_mmu_read_u64(const struct r2d_mmu *mmu, uint64_t va, uint64_t *out)
{
    uint8_t b[8];
    const int rc = r2d_mmu_read(mmu, va, b, sizeof(b));

    if (!rc)
        *out = r2d_le64(b);
    return rc;
}

int
r2d_mmu_read_u32(const struct r2d_mmu *mmu, uint64_t va, uint32_t *out)
{
    uint8_t b[4];
    const int rc = r2d_mmu_read(mmu, va, b, sizeof(b));

    if (!rc)
        *out = r2d_le32(b);
    return rc;
}

struct mmu_walk {
    const struct r2d_mmu *mmu;
    uint64_t start, end;
    uint64_t budget;
    r2d_mmu_leaf_fn fn;
    void *arg;
};

static uint64_t
mmu_sign_extend(const struct r2d_mmu *mmu, uint64_t va)
{
    const int bits = mmu->levels == 5 ? 57 : 48;

    return (uint64_t)((int64_t)(va << (64 - bits)) >> (64 - bits));
}

/* Returns 0 to go on, 1 to stop, or an error. */
static int
mmu_walk_table(struct mmu_walk *w, uint64_t table, int level, uint64_t prefix)
{
    const unsigned shift = 12 + 9 * (unsigned)level;
    uint8_t buf[R2D_PAGE_SIZE];

    /* Tables count against the budget too: a hostile self-map makes every table reachable many times. */
    if (w->budget == 0)
        return 1;
    w->budget--;
    /* A table outside the image maps nothing we can read. */
    if (r2d_image_read(w->mmu->ctx, w->mmu->img, table, buf, sizeof(buf), R2D_HOLE_ERROR))
        return 0;
    for (unsigned i = 0; i < 512; i++) {
        const uint64_t e = r2d_le64(buf + 8 * i);
        const uint64_t va = mmu_sign_extend(w->mmu, prefix | ((uint64_t)i << shift));
        const uint64_t size = 1ull << shift;
        int rc;

        if (!(e & R2D_PTE_PRESENT) || va + (size - 1) < w->start || va >= w->end)
            continue;
        if (level == 0 || ((level == 1 || level == 2) && (e & R2D_PTE_PS))) {
            if (w->budget == 0)
                return 1;
            w->budget--;
            rc = w->fn(w->arg, va, e & R2D_PTE_FRAME & ~(size - 1), size);
        } else {
            rc = mmu_walk_table(w, e & R2D_PTE_FRAME, level - 1, prefix | ((uint64_t)i << shift));
        }
        if (rc)
            return rc;
    }
    return 0;
}

int
r2d_mmu_walk(const struct r2d_mmu *mmu, uint64_t va_start, uint64_t va_end, uint64_t max_leaves,
             r2d_mmu_leaf_fn fn, void *arg)
{
    struct mmu_walk w = {mmu, va_start, va_end, max_leaves, fn, arg};
    const int rc = mmu_walk_table(&w, mmu->dtb, mmu->levels - 1, 0);

    return rc > 0 ? 0 : rc;
}
