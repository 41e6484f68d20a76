/* SPDX-License-Identifier: MIT */
/*
 * The generic page walker: every paging mode is a descriptor (paging.h), so translation, reads and walks are
 * written once (Intel SDM vol. 3, chapter 4; docs/reference/discovery.md section 1).
 */
#include <inttypes.h>
#include <string.h>

#include "bytes.h"
#include "mmu.h"
#include "paging.h"

static const struct r2d_paging_mode *
mmu_mode(enum r2d_paging paging)
{
    switch (paging) {
    case R2D_PAGING_X86:
        return &r2d_paging_x86;
    case R2D_PAGING_X86_PAE:
        return &r2d_paging_x86_pae;
    case R2D_PAGING_X64:
        break;
    }
    return &r2d_paging_x64;
}

void
r2d_mmu_init(struct r2d_mmu *mmu, struct r2d_ctx *ctx, const struct r2d_image *img, enum r2d_paging paging,
             uint64_t dtb)
{
    mmu->ctx = ctx;
    mmu->img = img;
    mmu->mode = mmu_mode(paging);
    mmu->dtb = dtb & mmu->mode->dtb_mask;
}

const char *
r2d_mmu_mode_name(const struct r2d_mmu *mmu)
{
    return mmu->mode->name;
}

unsigned
r2d_mmu_pointer_size(const struct r2d_mmu *mmu)
{
    return mmu->mode->pointer_size;
}

uint64_t
r2d_paging_dtb_mask(enum r2d_paging paging)
{
    return mmu_mode(paging)->dtb_mask;
}

/* va with the bits above the mode's width made canonical. */
static uint64_t
mmu_canonicalize(const struct r2d_paging_mode *m, uint64_t va)
{
    const unsigned unused = 64 - m->va_bits;

    if (!m->sign_extended)
        return va & ((UINT64_C(1) << m->va_bits) - 1);
    return (uint64_t)((int64_t)(va << unused) >> unused);
}

/*
 * A 32-bit mode also accepts the sign-extended form of an address (0xFFFFFFFF'80000000 for 0x80000000):
 * Windows' 64-bit structures (the KDBG, KdVersionBlock) hold 32-bit kernel pointers that way, and the
 * engine keeps them in that form so they compare equal to what those structures say.
 */
int
r2d_mmu_canonical(const struct r2d_mmu *mmu, uint64_t va)
{
    const struct r2d_paging_mode *m = mmu->mode;

    if (!m->sign_extended && mmu_canonicalize(m, va) != va) {
        const unsigned unused = 64 - m->va_bits;

        return (uint64_t)((int64_t)(va << unused) >> unused) == va;
    }
    return mmu_canonicalize(m, va) == va;
}

uint64_t
r2d_mmu_self_map_base(const struct r2d_mmu *mmu, unsigned slot)
{
    const struct r2d_paging_mode *m = mmu->mode;

    return mmu_canonicalize(m, (uint64_t)slot << m->level[m->levels - 1].shift);
}

static uint64_t
mmu_decode_entry(const struct r2d_paging_mode *m, const uint8_t *p)
{
    return m->entry_size == 8 ? r2d_le64(p) : r2d_le32(p);
}

unsigned
r2d_mmu_self_map_slots(const struct r2d_mmu *mmu, unsigned *slot)
{
    const struct r2d_paging_mode *m = mmu->mode;
    const unsigned n = 1u << m->level[m->levels - 1].bits;
    uint8_t top[R2D_PAGE_SIZE];
    unsigned found = 0;

    if (!r2d_image_covers(mmu->img, mmu->dtb, (uint64_t)n * m->entry_size) ||
        r2d_image_read(mmu->ctx, mmu->img, mmu->dtb, top, (size_t)n * m->entry_size, R2D_HOLE_ERROR))
        return 0;
    /* The kernel half is the upper half of the top table's slots. */
    for (unsigned i = n / 2; i < n; i++) {
        const uint64_t e = mmu_decode_entry(m, top + (size_t)m->entry_size * i);

        if ((e & R2D_PAGING_PRESENT) && m->frame(e, m->levels - 1, 0) == mmu->dtb) {
            *slot = i;
            found++;
        }
    }
    return found;
}

static int
mmu_entry(const struct r2d_mmu *mmu, uint64_t table, unsigned idx, uint64_t *e)
{
    uint8_t b[8];
    const unsigned size = mmu->mode->entry_size;
    const int rc = r2d_image_read(mmu->ctx, mmu->img, table + (uint64_t)size * idx, b, size, R2D_HOLE_ERROR);

    if (rc)
        return rc;
    *e = mmu_decode_entry(mmu->mode, b);
    return 0;
}

/* Does entry e at level l end the walk (a page table entry, or a large page where the level allows one)? */
static int
mmu_is_leaf(const struct r2d_paging_mode *m, unsigned l, uint64_t e)
{
    return l == 0 || (m->level[l].large && (e & R2D_PAGING_PS));
}

int
r2d_mmu_translate(const struct r2d_mmu *mmu, uint64_t va, uint64_t *pa, uint64_t *page_size)
{
    const struct r2d_paging_mode *m = mmu->mode;
    uint64_t table = mmu->dtb;

    R2D_CHECK(!r2d_mmu_canonical(mmu, va), mmu->ctx, R2D_ENOVA,
              "virtual address 0x%016" PRIx64 " is not canonical", va);
    for (unsigned l = m->levels; l-- > 0;) {
        const struct r2d_paging_level *lv = &m->level[l];
        const unsigned idx = (unsigned)(va >> lv->shift) & ((1u << lv->bits) - 1);
        uint64_t e;
        int rc = mmu_entry(mmu, table, idx, &e);

        if (rc)
            return r2d_err_prefix(mmu->ctx, rc, "translating 0x%016" PRIx64 " (%s at 0x%" PRIx64 ")", va,
                                  lv->name, table);
        R2D_CHECK(!(e & R2D_PAGING_PRESENT), mmu->ctx, R2D_ENOVA,
                  "virtual address 0x%016" PRIx64 " is not mapped (%s entry %u is not present)", va, lv->name,
                  idx);
        if (mmu_is_leaf(m, l, e)) {
            const uint64_t size = UINT64_C(1) << lv->shift;

            *pa = m->frame(e, l, 1) | (va & (size - 1));
            if (page_size)
                *page_size = size;
            return 0;
        }
        table = m->frame(e, l, 0);
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

/* Returns 0 to go on, 1 to stop, or an error. */
static int
mmu_walk_table(struct mmu_walk *w, uint64_t table, unsigned l, uint64_t prefix)
{
    const struct r2d_paging_mode *m = w->mmu->mode;
    const struct r2d_paging_level *lv = &m->level[l];
    const unsigned n = 1u << lv->bits;
    const uint64_t size = UINT64_C(1) << lv->shift;
    uint8_t buf[R2D_PAGE_SIZE];
    int rc;

    /* Tables count against the budget too: a hostile self-map makes every table reachable many times. */
    if (w->budget == 0)
        return 1;
    w->budget--;
    /* A table outside the image maps nothing we can read: skipped, and no error is left in the context. */
    if (!r2d_image_covers(w->mmu->img, table, (uint64_t)n * m->entry_size))
        return 0;
    rc = r2d_image_read(w->mmu->ctx, w->mmu->img, table, buf, (size_t)n * m->entry_size, R2D_HOLE_ERROR);
    if (rc)
        return rc;
    for (unsigned i = 0; i < n; i++) {
        const uint64_t e = mmu_decode_entry(m, buf + (size_t)m->entry_size * i);
        const uint64_t va = mmu_canonicalize(m, prefix | ((uint64_t)i << lv->shift));

        if (!(e & R2D_PAGING_PRESENT) || va + (size - 1) < w->start || va >= w->end)
            continue;
        if (mmu_is_leaf(m, l, e)) {
            if (w->budget == 0)
                return 1;
            w->budget--;
            rc = w->fn(w->arg, va, m->frame(e, l, 1), size);
        } else {
            rc = mmu_walk_table(w, m->frame(e, l, 0), l - 1, prefix | ((uint64_t)i << lv->shift));
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
    const int rc = mmu_walk_table(&w, mmu->dtb, mmu->mode->levels - 1, 0);

    return rc > 0 ? 0 : rc;
}
