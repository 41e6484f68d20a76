/* SPDX-License-Identifier: MIT */
/*
 * Register-free page-table discovery for 32-bit Windows (docs/reference/discovery.md section 4.4): tried
 * only when no x64 PML4 validated, first with PAE (every Windows from 8 on, and XP/7 with ntkrnlpa), then
 * without. Both rely on the fixed self-map 32-bit Windows builds at 0xC0000000:
 *  - without PAE, page-directory entry 0x300 maps the page directory itself (the PD appears at 0xC0300000);
 *  - with PAE, the page directory of the top gigabyte (PDPT entry 3) holds in its entries 0-3 the four
 *    page directories the PDPT names, so they appear at 0xC0600000-0xC0603FFF. The DTB is the PDPT, which
 *    is not inside any of them: a first pass collects such directories, a second finds a 32-byte aligned
 *    PDPT naming the same four.
 * Every candidate must then map KUSER_SHARED_DATA at 0xFFDF0000 with an NT version. The scans read the
 * same bounded windows as the x64 one (discover_dtb.c), at most twice for PAE.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "analysis.h"
#include "bytes.h"

#define X86_SELF_SLOT 0x300           /* PDE mapping the PD at 0xC0300000 */
#define X86_MIN_KERNEL_TABLES 2       /* other present system-half PDEs: kernel image and KUSER at least */
#define X86_PDE_FRAME 0xfffff000u
#define PAE_PD_SELF_SLOT 3            /* PD 3, entry 3: itself */
#define PAE_FRAME 0x000ffffffffff000ull
#define PAE_PDE_RESERVED 0x7ff0000000000000ull /* bits 62:52 must be zero (bit 63 is NX) */
/* A PDPT entry: present, and bits 1-2, 5-8 and 63:52 reserved (Intel SDM vol. 3, 4.4.1). */
#define PAE_PDPTE_RESERVED 0xfff00000000001e6ull
#define PAE_MAX_PDS 64                /* self-mapping top directories remembered for the PDPT pass */
#define X86_MAX_CHECKED 256           /* structurally plausible tables validated at most, per mode */

#define SCORE_SELF_MAP 100
#define SCORE_RESERVED1 10
#define SCORE_NO_USER 5
#define SCORE_BEYOND (-30)

struct x86_scan {
    uint64_t max_pa;
    unsigned checked;
    /* PAE pass 1: top-gigabyte directories and the four PD frames each names in entries 0-3 */
    unsigned npds;
    uint64_t pd[PAE_MAX_PDS];
    uint64_t frames[PAE_MAX_PDS][4];
};

static uint64_t
x86_max_pa(const struct r2d_analysis *a)
{
    const size_t n = r2d_image_run_count(a->img);
    const struct r2d_run *last = n ? r2d_image_run(a->img, n - 1) : NULL;

    return last ? last->pa + last->len : 0;
}

/* Stop once the candidate table is full of entries at least this good. */
static int
x86_full(const struct r2d_analysis *a, int score)
{
    return a->ndtb_cands == R2D_DTB_MAX_CANDIDATES && a->dtb_cands[R2D_DTB_MAX_CANDIDATES - 1].score >= score;
}

/*
 * Without PAE: PDE 0x300 maps the page itself, present and writable, not a 4 MiB page; at least
 * X86_MIN_KERNEL_TABLES other system-half (0x200-0x3FF) entries are present.
 */
static int
x86_pd_page(struct r2d_analysis *a, uint64_t pa, const uint8_t *page, void *arg)
{
    struct x86_scan *st = arg;
    const uint32_t self = r2d_le32(page + 4 * X86_SELF_SLOT);
    unsigned kernel = 0, user = 0, beyond = 0;
    char why[512], how[384];
    int bonus = 0, score;

    if ((self & (X86_PDE_FRAME | 0x83u)) != (pa | 0x3u) || pa >> 32)
        return 0;
    for (unsigned i = 0; i < 1024; i++) {
        const uint32_t e = r2d_le32(page + 4 * i);

        if (!(e & 1u) || i == X86_SELF_SLOT)
            continue;
        if (i < 0x200)
            user++;
        else
            kernel++;
        if ((e & X86_PDE_FRAME) >= st->max_pa)
            beyond++;
    }
    if (kernel < X86_MIN_KERNEL_TABLES) {
        r2d_log(a->ctx, R2D_LOG_DEBUG, "x86 PD candidate 0x%" PRIx64 ": only %u system-half entries", pa, kernel);
        return 0;
    }
    if (++st->checked > X86_MAX_CHECKED)
        return 1;
    if (!r2d_discover_validate(a, R2D_PAGING_X86, pa, why, sizeof(why), &bonus)) {
        r2d_log(a->ctx, R2D_LOG_DEBUG, "x86 PD candidate 0x%" PRIx64 ": rejected, %s", pa, why);
        return 0;
    }
    score = SCORE_SELF_MAP + bonus + (user ? 0 : SCORE_NO_USER) + SCORE_BEYOND * (int)(beyond < 100 ? beyond : 100);
    snprintf(how, sizeof(how), "self-mapping x86 page directory at physical 0x%" PRIx64 " (PDE 0x300, %u system "
             "tables, %u user entries%s); %.200s", pa, kernel, user, beyond ? ", entries past the image" : "", why);
    r2d_discover_add(a, pa, R2D_PAGING_X86, score, how,
                     "no registers and no x64 or PAE table validated; a page directory mapping itself at "
                     "0xC0300000 did");
    return x86_full(a, score);
}

/* A PAE directory entry that may point to a table: present, no large page, no reserved bits. */
static int
pae_table_entry(uint64_t e, uint64_t max_pa)
{
    return (e & 1u) && !(e & 0x80u) && !(e & PAE_PDE_RESERVED) && (e & PAE_FRAME) < max_pa;
}

/* PAE pass 1: a directory whose entries 0-3 name four distinct tables, entry 3 itself. */
static int
pae_pd_page(struct r2d_analysis *a, uint64_t pa, const uint8_t *page, void *arg)
{
    struct x86_scan *st = arg;
    uint64_t f[4];

    (void)a;
    for (unsigned i = 0; i < 4; i++) {
        const uint64_t e = r2d_le64(page + 8 * i);

        if (!pae_table_entry(e, st->max_pa))
            return 0;
        f[i] = e & PAE_FRAME;
    }
    if (f[PAE_PD_SELF_SLOT] != pa || f[0] == f[1] || f[0] == f[2] || f[1] == f[2] || f[0] == pa || f[1] == pa ||
        f[2] == pa)
        return 0;
    if (st->npds == PAE_MAX_PDS)
        return 1;
    st->pd[st->npds] = pa;
    memcpy(st->frames[st->npds], f, sizeof(f));
    st->npds++;
    return 0;
}

/* PAE pass 2: 32-byte aligned PDPTs naming one of the remembered directories' four tables, in order. */
static int
pae_pdpt_page(struct r2d_analysis *a, uint64_t pa, const uint8_t *page, void *arg)
{
    struct x86_scan *st = arg;

    for (unsigned off = 0; off < R2D_PAGE_SIZE; off += 32) {
        const uint64_t e3 = r2d_le64(page + off + 24);
        char why[512], how[384];
        unsigned d, i;
        int bonus = 0, score;

        if (!(e3 & 1u) || (e3 & PAE_PDPTE_RESERVED))
            continue;
        for (d = 0; d < st->npds && st->pd[d] != (e3 & PAE_FRAME); d++)
            ;
        if (d == st->npds)
            continue;
        for (i = 0; i < 4; i++) {
            const uint64_t e = r2d_le64(page + off + 8 * i);

            if (!(e & 1u) || (e & PAE_PDPTE_RESERVED) || (e & PAE_FRAME) != st->frames[d][i])
                break;
        }
        if (i < 4)
            continue;
        if (++st->checked > X86_MAX_CHECKED)
            return 1;
        if (!r2d_discover_validate(a, R2D_PAGING_X86_PAE, pa + off, why, sizeof(why), &bonus)) {
            r2d_log(a->ctx, R2D_LOG_DEBUG, "x86 PAE PDPT candidate 0x%" PRIx64 ": rejected, %s", pa + off, why);
            continue;
        }
        score = SCORE_SELF_MAP + bonus;
        snprintf(how, sizeof(how), "PAE PDPT at physical 0x%" PRIx64 " whose top directory 0x%" PRIx64 " maps the "
                 "four directories at 0xC0600000; %.200s", pa + off, st->pd[d], why);
        r2d_discover_add(a, pa + off, R2D_PAGING_X86_PAE, score, how,
                         "no registers and no x64 table validated; a PAE PDPT whose directories map themselves at "
                         "0xC0600000 did");
        if (x86_full(a, score))
            return 1;
    }
    return 0;
}

int
r2d_discover_scan_x86(struct r2d_analysis *a, uint8_t *buf, uint64_t *scanned)
{
    struct x86_scan st;
    int rc;

    memset(&st, 0, sizeof(st));
    st.max_pa = x86_max_pa(a);
    rc = r2d_discover_scan_windows(a, buf, pae_pd_page, &st, scanned);
    if (rc)
        return rc;
    r2d_log(a->ctx, R2D_LOG_INFO, "x86 PAE scan: %u self-mapping top directories", st.npds);
    if (st.npds > 0) {
        rc = r2d_discover_scan_windows(a, buf, pae_pdpt_page, &st, scanned);
        if (rc || a->ndtb_cands > 0)
            return rc;
    }
    st.checked = 0;
    return r2d_discover_scan_windows(a, buf, x86_pd_page, &st, scanned);
}
