/* SPDX-License-Identifier: MIT */
/*
 * Finding the page tables (docs/reference/discovery.md sections 3-6): every candidate is validated, every
 * rejection is logged, every scan is bounded, and failure is an error, never a guess.
 *
 * Bounds when the input has no CPU registers (also in docs/design.md, "Discovery"):
 *  - low stub (PROCESSOR_START_BLOCK): physical [0x1000, 0xA0000), 636 KiB, read in one piece;
 *  - self-referencing PML4: Vol3's windows 0x150000-0x2A0000 and 0x650000-0x6F0000 first, then the rest of
 *    [0x1000, 64 MiB); only if nothing validated there, [64 MiB, 256 MiB). Read SCAN_CHUNK (2 MiB) at a
 *    time and only where runs exist. A page costs one pass over its kernel half unless an entry maps the
 *    page itself. At most SELFMAP_MAX_CHECKED pages that pass the structure test are validated through
 *    KUSER_SHARED_DATA (a few 4-byte reads each); the scan stops once R2D_DTB_MAX_CANDIDATES candidates
 *    validated. So the scan reads 64 MiB when Windows is there and at most ~257 MiB otherwise, whatever
 *    the image size (64 GiB or 64 MiB).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "bytes.h"

#define KUSER_NT_MAJOR 0x26c
#define KUSER_NT_MINOR 0x270
#define KUSER_RESERVED1 0x2b4             /* 0x7FFEFFFF on every x64 build (Vol2's test) */
#define KUSER_USER_VA 0x7ffe0000ull       /* the same page at its user VA, in process tables */
#define LOW_STUB_START 0x1000ull
#define LOW_STUB_END 0xa0000ull
#define SCAN_CHUNK (2u << 20)
#define SELFMAP_FIRST_END (64ull << 20)   /* stage 1 */
#define SELFMAP_SCAN_END (256ull << 20)   /* stage 2, only when stage 1 found nothing */
#define SELFMAP_MAX_CHECKED 256           /* structurally plausible pages validated at most */
#define PML4_SELF_FIRST 0x100
#define PML4_SELF_LAST 0x1fe              /* Vol3: the self-map slot lies in [0x100, 0x1FF) */
#define PML4_MIN_EMPTY 0x40               /* MemProcFS: more than this many empty entries per half */
#define PML4_MIN_KERNEL_TABLES 6          /* MemProcFS: present, RW, supervisor, no PS, no XD */
#define PML4E_TABLE_MASK 0x8000000000000087ull
#define PML4E_SELF_MASK 0x0000fffffffff083ull

/* Ranking (higher first; ties keep the scan order, which tries Vol3's windows first). */
#define SCORE_LOW_STUB 1000
#define SCORE_SELF_MAP 100
#define SCORE_VOL3_WINDOW 20
#define SCORE_RESERVED1 10
#define SCORE_NO_USER 5                   /* an empty user half looks like the System process's tables */
#define SCORE_BEYOND (-30)                /* per entry pointing past the image */

/* KPCR offsets of KPRCB.KernelDirectoryTableBase observed per build family
 * (docs/reference/discovery.md 3.3). */
static const uint32_t discover_kgs_dtb_offsets[] = {0x9000, 0xa000, 0x7000, 0x6000};

/* Physical windows of the self-map scan, in scan order: Vol3's preferred ones, then the rest. */
static const struct {
    uint64_t start, end;
    int vol3;
    int stage;
} discover_windows[] = {
    {0x150000, 0x2a0000, 1, 1}, {0x650000, 0x6f0000, 1, 1}, {0x1000, 0x150000, 0, 1},
    {0x2a0000, 0x650000, 0, 1}, {0x6f0000, SELFMAP_FIRST_END, 0, 1}, {SELFMAP_FIRST_END, SELFMAP_SCAN_END, 0, 2},
};

#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)

uint64_t
r2d_kuser_va(enum r2d_paging paging)
{
    return paging == R2D_PAGING_X64 ? R2D_KUSER_SHARED_DATA : R2D_KUSER_SHARED_DATA_X86;
}

int
r2d_cpu_paging(const struct r2d_cpu_state *cpu, enum r2d_paging *paging, char *why, size_t whylen)
{
    const char *w;

    if (cpu->flags & R2D_CPU_LONG_MODE) {
        *paging = R2D_PAGING_X64;
        w = "the CPU was in long mode";
    } else if (!(cpu->cr0 & CR0_PG)) {
        w = "CR0.PG is clear (paging off)";
    } else if (cpu->cr4 & CR4_PAE) {
        *paging = R2D_PAGING_X86_PAE;
        w = "not in long mode, CR0.PG and CR4.PAE set";
    } else {
        *paging = R2D_PAGING_X86;
        w = "not in long mode, CR0.PG set, CR4.PAE clear";
    }
    if (why)
        snprintf(why, whylen, "%s", w);
    return (cpu->flags & R2D_CPU_LONG_MODE) || (cpu->cr0 & CR0_PG);
}

/*
 * A DTB is usable when KUSER_SHARED_DATA translates and holds a Windows NT version
 * (docs/reference/discovery.md 6).
 * *bonus (may be NULL) gets the ranking points of the optional tests.
 */
int
r2d_discover_validate(struct r2d_analysis *a, enum r2d_paging paging, uint64_t dtb, char *why, size_t whylen,
                      int *bonus)
{
    const uint64_t kuser = r2d_kuser_va(paging);
    struct r2d_mmu mmu;
    uint32_t major, minor, reserved1 = 0;
    uint64_t kpa, upa;
    int rc, same_user;

    r2d_mmu_init(&mmu, a->ctx, a->img, paging, dtb);
    rc = r2d_mmu_read_u32(&mmu, kuser + KUSER_NT_MAJOR, &major);
    if (!rc)
        rc = r2d_mmu_read_u32(&mmu, kuser + KUSER_NT_MINOR, &minor);
    if (rc) {
        snprintf(why, whylen, "%s", r2d_errmsg(a->ctx));
        return 0;
    }
    if (!(major == 5 || major == 6 || major == 10) || minor > 3) {
        snprintf(why, whylen, "KUSER_SHARED_DATA says NT %" PRIu32 ".%" PRIu32 ", not Windows", major, minor);
        return 0;
    }
    r2d_mmu_read_u32(&mmu, kuser + KUSER_RESERVED1, &reserved1);
    same_user = r2d_mmu_translate(&mmu, kuser, &kpa, NULL) == 0 &&
                r2d_mmu_translate(&mmu, KUSER_USER_VA, &upa, NULL) == 0 && kpa == upa;
    snprintf(why, whylen, "maps KUSER_SHARED_DATA (NT %" PRIu32 ".%" PRIu32 "%s%s)", major, minor,
             reserved1 == 0x7ffeffffu ? ", Reserved1 0x7FFEFFFF" : "",
             same_user ? ", also at user VA 0x7FFE0000" : "");
    if (bonus)
        *bonus = reserved1 == 0x7ffeffffu ? SCORE_RESERVED1 : 0;
    return 1;
}

/* Insert a validated candidate, best score first; the same page found twice keeps the better score. */
void
r2d_discover_add(struct r2d_analysis *a, uint64_t pa, enum r2d_paging paging, int score, const char *how,
                 const char *mode_how)
{
    struct r2d_dtb_candidate *c = a->dtb_cands;
    unsigned pos;

    for (unsigned i = 0; i < a->ndtb_cands; i++)
        if (c[i].pa == pa && c[i].paging == paging) {
            if (c[i].score >= score)
                return;
            memmove(&c[i], &c[i + 1], (a->ndtb_cands - i - 1) * sizeof(*c));
            a->ndtb_cands--;
            break;
        }
    for (pos = 0; pos < a->ndtb_cands && c[pos].score >= score; pos++)
        ;
    if (pos >= R2D_DTB_MAX_CANDIDATES) {
        r2d_log(a->ctx, R2D_LOG_DEBUG, "DTB candidate 0x%" PRIx64 " (%s): dropped, %u better ones kept", pa, how,
                R2D_DTB_MAX_CANDIDATES);
        return;
    }
    if (a->ndtb_cands == R2D_DTB_MAX_CANDIDATES)
        a->ndtb_cands--;
    memmove(&c[pos + 1], &c[pos], (a->ndtb_cands - pos) * sizeof(*c));
    c[pos].pa = pa;
    c[pos].paging = paging;
    c[pos].score = score;
    snprintf(c[pos].how, sizeof(c[pos].how), "%s", how);
    snprintf(c[pos].mode_how, sizeof(c[pos].mode_how), "%s", mode_how);
    a->ndtb_cands++;
}

/* Make candidate i the DTB used for translation, in the paging mode it validated in. */
void
r2d_discover_use_candidate(struct r2d_analysis *a, unsigned i)
{
    const struct r2d_dtb_candidate *c = &a->dtb_cands[i];

    r2d_analysis_set_mode(a, c->paging, c->pa);
    snprintf(a->dtb_how, sizeof(a->dtb_how), "%s", c->how);
    snprintf(a->paging_how, sizeof(a->paging_how), "%s: %s", r2d_mmu_mode_name(&a->mmu), c->mode_how);
}

/*
 * The modes to try for a CR3 or --dtb value, in order: the registers' mode alone when known, else a 32-bit
 * crash dump's (a CONTEXT has no CR0/CR4, but the header's PaeEnabled is what the kernel ran with), else all.
 */
static unsigned
discover_modes(const struct r2d_analysis *a, const struct r2d_cpu_state *cpu, enum r2d_paging modes[3], char *why,
               size_t whylen)
{
    static const enum r2d_paging order[3] = {R2D_PAGING_X64, R2D_PAGING_X86_PAE, R2D_PAGING_X86};
    const struct r2d_image_props *props = r2d_image_props(a->img);
    enum r2d_paging p = R2D_PAGING_X64;

    if (cpu && r2d_cpu_paging(cpu, &p, why, whylen)) {
        modes[0] = p;
        return 1;
    }
    if (props->dump_is32) {
        modes[0] = props->dump_pae ? R2D_PAGING_X86_PAE : R2D_PAGING_X86;
        if (why)
            snprintf(why, whylen, "from the dump header's PaeEnabled (%d)", props->dump_pae);
        return 1;
    }
    if (why)
        snprintf(why, whylen, "%s; tried x64, then x86 PAE, then x86, and this one validated",
                 cpu ? "the registers do not say (CR0.PG clear)" : "no registers");
    for (unsigned i = 0; i < 3; i++)
        modes[i] = order[i];
    return 3;
}

/* Register-sourced and --dtb candidates: the first that validates is the only one. */
static int
discover_try_dtb(struct r2d_analysis *a, const struct r2d_cpu_state *cpu, uint64_t dtb, const char *source)
{
    enum r2d_paging modes[3];
    char why[512], how[384], mode_how[160];
    const unsigned nmodes = discover_modes(a, cpu, modes, mode_how, sizeof(mode_how));

    for (unsigned m = 0; m < nmodes; m++) {
        const uint64_t top = dtb & r2d_paging_dtb_mask(modes[m]);
        /* A PAE PDPT is 32 bytes inside a page; the other modes' top tables are whole pages. */
        const uint64_t need = modes[m] == R2D_PAGING_X86_PAE ? 32 : R2D_PAGE_SIZE;

        if (top == 0 || !r2d_image_covers(a->img, top, need)) {
            r2d_log(a->ctx, R2D_LOG_INFO, "DTB candidate 0x%" PRIx64 " from %s: rejected, table not in the image",
                    top, source);
            continue;
        }
        if (!r2d_discover_validate(a, modes[m], top, why, sizeof(why), NULL)) {
            r2d_log(a->ctx, R2D_LOG_INFO, "DTB candidate 0x%" PRIx64 " from %s (%s): rejected, %s", top, source,
                    modes[m] == R2D_PAGING_X64 ? "x64" : modes[m] == R2D_PAGING_X86_PAE ? "x86 PAE" : "x86", why);
            continue;
        }
        snprintf(how, sizeof(how), "%.150s; %.200s", source, why);
        a->ndtb_cands = 0;
        r2d_discover_add(a, top, modes[m], 0, how, mode_how);
        r2d_discover_use_candidate(a, 0);
        r2d_log(a->ctx, R2D_LOG_INFO, "DTB 0x%" PRIx64 " (%s) from %s", top, a->paging_how, a->dtb_how);
        return 1;
    }
    return 0;
}

/* With KVA shadowing a CPU in user mode runs on user tables; its KPRCB keeps the kernel CR3. */
static int
discover_dtb_from_kgs(struct r2d_analysis *a, const struct r2d_cpu_state *cpu, size_t idx)
{
    const uint64_t kpcr = (cpu->gs.base >> 63) ? cpu->gs.base : cpu->kernel_gs_base;
    char source[128];

    /* Only x64 has KVA shadowing's second CR3 in the KPRCB; a 32-bit CPU's CR3 is all there is. */
    if (!(kpcr >> 63) || !(cpu->flags & R2D_CPU_LONG_MODE))
        return 0;
    for (size_t i = 0; i < r2d_image_cpu_count(a->img); i++) {
        struct r2d_mmu via;

        r2d_mmu_init(&via, a->ctx, a->img, R2D_PAGING_X64, r2d_image_cpu(a->img, i)->cr3);
        for (size_t k = 0; k < sizeof(discover_kgs_dtb_offsets) / sizeof(discover_kgs_dtb_offsets[0]); k++) {
            uint64_t dtb;

            if (r2d_mmu_read_u64(&via, kpcr + discover_kgs_dtb_offsets[k], &dtb))
                continue;
            snprintf(source, sizeof(source), "CPU %zu KPCR 0x%" PRIx64 " + 0x%" PRIx32 " (KernelDirectoryTableBase)",
                     idx, kpcr, discover_kgs_dtb_offsets[k]);
            if (discover_try_dtb(a, cpu, dtb, source))
                return 1;
        }
    }
    return 0;
}

/* Called for every scanned page; returns 0 to go on, 1 to stop the scan, or a negative status. */
typedef r2d_discover_page_fn discover_page_fn;

/*
 * Call fn for every whole page of [start, end) that a run covers, reading SCAN_CHUNK bytes at a time
 * (one read per chunk, not per page). *scanned counts the bytes read.
 */
static int
discover_scan_phys(struct r2d_analysis *a, uint8_t *buf, uint64_t start, uint64_t end, discover_page_fn fn,
                   void *arg, uint64_t *scanned)
{
    for (size_t r = 0; r < r2d_image_run_count(a->img); r++) {
        const struct r2d_run *run = r2d_image_run(a->img, r);
        const uint64_t run_end = run->pa + run->len;
        uint64_t lo = run->pa > start ? run->pa : start;
        const uint64_t hi = (run_end < end ? run_end : end) & ~(uint64_t)(R2D_PAGE_SIZE - 1);

        lo = (lo + R2D_PAGE_SIZE - 1) & ~(uint64_t)(R2D_PAGE_SIZE - 1);
        while (lo < hi) {
            const size_t n = hi - lo < SCAN_CHUNK ? (size_t)(hi - lo) : SCAN_CHUNK;
            int rc;

            if (r2d_cancelled(a->ctx))
                return R2D_ECANCELED;
            rc = r2d_image_read(a->ctx, a->img, lo, buf, n, R2D_HOLE_ERROR);
            if (rc)
                return rc;
            *scanned += n;
            for (size_t off = 0; off < n; off += R2D_PAGE_SIZE)
                if ((rc = fn(a, lo + off, buf + off, arg)) != 0)
                    return rc;
            lo += n;
        }
    }
    return 0;
}

/*
 * A PROCESSOR_START_BLOCK below 1 MiB names the PML4 and the kernel entry point
 * (docs/reference/discovery.md 5; MemProcFS:
 * nearly always there on physical machines, often absent in virtual ones). First valid match wins.
 */
static int
discover_low_stub_page(struct r2d_analysis *a, uint64_t pa, const uint8_t *page, void *arg)
{
    const uint64_t entry = r2d_le64(page + 0x70), dtb = r2d_le64(page + 0xa0);
    char why[512], how[384];
    int bonus = 0;

    (void)arg;
    if ((r2d_le64(page) & 0xffffffffffff00ffull) != 0x00000001000600e9ull ||
        (entry & 0xfffff80000000003ull) != 0xfffff80000000000ull || (dtb & 0xffffff0000000fffull) != 0)
        return 0;
    if (dtb == 0 || !r2d_image_covers(a->img, dtb, R2D_PAGE_SIZE) ||
        !r2d_discover_validate(a, R2D_PAGING_X64, dtb, why, sizeof(why), &bonus)) {
        r2d_log(a->ctx, R2D_LOG_DEBUG, "low stub at physical 0x%" PRIx64 ": PML4 0x%" PRIx64 " rejected, %s", pa,
                dtb, dtb && r2d_image_covers(a->img, dtb, R2D_PAGE_SIZE) ? why : "page not in the image");
        return 0;
    }
    snprintf(how, sizeof(how), "low stub (PROCESSOR_START_BLOCK) at physical 0x%" PRIx64 ", kernel entry 0x%"
             PRIx64 "; %.250s", pa, entry, why);
    r2d_discover_add(a, dtb, R2D_PAGING_X64, SCORE_LOW_STUB + bonus, how,
                     "the low stub names an x64 PML4 and it validated");
    a->kernel_hint = entry;
    return 1;
}

struct discover_shape {
    unsigned slot;          /* the self-map slot */
    unsigned kernel_tables; /* kernel-half entries that look like kernel page-table pointers */
    unsigned user_present;  /* present user-half entries */
    unsigned beyond;        /* present entries whose frame lies past the image */
};

/*
 * The structure of a Windows x64 PML4 at physical pa (docs/reference/discovery.md 4,
 * after Vol3's DtbSelfRef64bit and
 * MemProcFS's VmmWinInit_DTB_FindValidate_X64): exactly one entry maps the page itself, from a kernel slot
 * in 0x100-0x1FE, present and writable; no entry has PS; each half has more than 0x40 empty entries; at
 * least 6 kernel entries are present writable supervisor tables without XD. Entries past the image only
 * lower the rank (a capture may be short). Returns 1 when the page passes; why says what failed.
 */
static int
discover_pml4_shape(const uint8_t *page, uint64_t pa, uint64_t max_pa, struct discover_shape *s, char *why,
                    size_t whylen)
{
    unsigned empty[2] = {0, 0}, same = 0, self = 0;

    memset(s, 0, sizeof(*s));
    for (unsigned i = 0; i < 512; i++) {
        const uint64_t e = r2d_le64(page + 8 * i);
        const uint64_t frame = e & R2D_X64_PTE_FRAME;

        if (!(e & R2D_X64_PTE_PRESENT)) {
            empty[i >> 8]++;
            continue;
        }
        if (e & R2D_X64_PTE_PS) {
            snprintf(why, whylen, "entry 0x%x has the PS bit set (0x%016" PRIx64 ")", i, e);
            return 0;
        }
        if (frame >= max_pa)
            s->beyond++;
        if (i < 0x100) {
            s->user_present++;
        } else if (frame == pa) {
            same++;
            if (i >= PML4_SELF_FIRST && i <= PML4_SELF_LAST && (e & PML4E_SELF_MASK) == (pa | 3)) {
                self++;
                s->slot = i;
            }
        } else if ((e & PML4E_TABLE_MASK) == 3 && frame < max_pa) {
            s->kernel_tables++;
        }
    }
    if (same != 1 || self != 1)
        snprintf(why, whylen, "%u kernel entries map the page itself, %u of them a writable slot in 0x100-0x1FE",
                 same, self);
    else if (empty[0] <= PML4_MIN_EMPTY || empty[1] <= PML4_MIN_EMPTY)
        snprintf(why, whylen, "only %u user and %u kernel entries are empty (want more than %u each)", empty[0],
                 empty[1], PML4_MIN_EMPTY);
    else if (s->kernel_tables < PML4_MIN_KERNEL_TABLES)
        snprintf(why, whylen, "only %u kernel entries are supervisor page-table pointers (want %u)",
                 s->kernel_tables, PML4_MIN_KERNEL_TABLES);
    else
        return 1;
    return 0;
}

struct discover_selfmap {
    uint64_t max_pa;
    unsigned checked;
    int vol3;
};

/* Quick test first: almost every page has no kernel-half entry naming its own frame. */
static int
discover_self_ref(const uint8_t *page, uint64_t pa)
{
    for (unsigned i = 0x100; i < 0x200; i++) {
        const uint64_t e = r2d_le64(page + 8 * i);

        if ((e & R2D_X64_PTE_PRESENT) && (e & R2D_X64_PTE_FRAME) == pa)
            return 1;
    }
    return 0;
}

static int
discover_self_map_page(struct r2d_analysis *a, uint64_t pa, const uint8_t *page, void *arg)
{
    struct discover_selfmap *st = arg;
    struct discover_shape s;
    char why[512], how[384];
    int score, bonus = 0;

    if (!discover_self_ref(page, pa))
        return 0;
    if (!discover_pml4_shape(page, pa, st->max_pa, &s, why, sizeof(why))) {
        r2d_log(a->ctx, R2D_LOG_DEBUG, "DTB candidate 0x%" PRIx64 " (self-map): rejected, %s", pa, why);
        return 0;
    }
    if (++st->checked > SELFMAP_MAX_CHECKED) {
        r2d_log(a->ctx, R2D_LOG_DEBUG, "self-map scan: %u plausible PML4s validated; stopping at 0x%" PRIx64,
                SELFMAP_MAX_CHECKED, pa);
        return 1;
    }
    if (!r2d_discover_validate(a, R2D_PAGING_X64, pa, why, sizeof(why), &bonus)) {
        r2d_log(a->ctx, R2D_LOG_DEBUG, "DTB candidate 0x%" PRIx64 " (self-map slot 0x%x): rejected, %s", pa,
                s.slot, why);
        return 0;
    }
    score = SCORE_SELF_MAP + bonus + (st->vol3 ? SCORE_VOL3_WINDOW : 0) + (s.user_present ? 0 : SCORE_NO_USER) +
            SCORE_BEYOND * (int)(s.beyond < 100 ? s.beyond : 100);
    snprintf(how, sizeof(how), "self-referencing PML4 at physical 0x%" PRIx64 " (slot 0x%x, %u kernel tables, %u "
             "user entries%s%s); %.200s", pa, s.slot, s.kernel_tables, s.user_present,
             st->vol3 ? ", in Vol3's preferred window" : "", s.beyond ? ", entries past the image" : "", why);
    r2d_discover_add(a, pa, R2D_PAGING_X64, score, how, "no registers; a self-referencing x64 PML4 validated");
    return a->ndtb_cands == R2D_DTB_MAX_CANDIDATES && a->dtb_cands[R2D_DTB_MAX_CANDIDATES - 1].score >= score;
}

int
r2d_discover_scan_windows(struct r2d_analysis *a, uint8_t *buf, r2d_discover_page_fn fn, void *arg,
                          uint64_t *scanned)
{
    int rc = 0;

    for (size_t w = 0; rc >= 0 && w < sizeof(discover_windows) / sizeof(discover_windows[0]); w++) {
        if (discover_windows[w].stage == 2 && a->ndtb_cands > 0)
            break;
        rc = discover_scan_phys(a, buf, discover_windows[w].start, discover_windows[w].end, fn, arg, scanned);
        if (rc > 0)
            break;
    }
    return rc < 0 ? rc : 0;
}

/*
 * Without registers: the low stub, then self-referencing PML4s (docs/reference/discovery.md 10, step 2);
 * when no x64 table validated, the 32-bit self-maps (discover_dtb_x86.c).
 */
static int
discover_scan(struct r2d_analysis *a)
{
    const size_t nruns = r2d_image_run_count(a->img);
    const struct r2d_run *last = nruns ? r2d_image_run(a->img, nruns - 1) : NULL;
    struct discover_selfmap st = {last ? last->pa + last->len : 0, 0, 0};
    uint64_t scanned = 0;
    uint8_t *buf = malloc(SCAN_CHUNK);
    int rc;

    if (!buf)
        return r2d_err(a->ctx, R2D_ENOMEM, "out of memory for the page-table scan");
    rc = discover_scan_phys(a, buf, LOW_STUB_START, LOW_STUB_END, discover_low_stub_page, NULL, &scanned);
    if (rc == 0 && a->ndtb_cands == 0)
        r2d_log(a->ctx, R2D_LOG_INFO, "no low stub (PROCESSOR_START_BLOCK) below 0x%llx", LOW_STUB_END);
    for (size_t w = 0; rc >= 0 && w < sizeof(discover_windows) / sizeof(discover_windows[0]); w++) {
        if (discover_windows[w].stage == 2 && a->ndtb_cands > 0)
            break;
        st.vol3 = discover_windows[w].vol3;
        rc = discover_scan_phys(a, buf, discover_windows[w].start, discover_windows[w].end, discover_self_map_page,
                                &st, &scanned);
        if (rc > 0)
            break;
    }
    if (rc >= 0 && a->ndtb_cands == 0) {
        r2d_log(a->ctx, R2D_LOG_INFO, "no x64 page table validated; trying the 32-bit self-maps");
        rc = r2d_discover_scan_x86(a, buf, &scanned);
    }
    free(buf);
    r2d_log(a->ctx, R2D_LOG_INFO, "page-table scan: read %" PRIu64 " KiB of physical memory, %u candidate%s "
            "validated", scanned >> 10, a->ndtb_cands, a->ndtb_cands == 1 ? "" : "s");
    return rc < 0 ? rc : 0;
}

static int
discover_dtb_registers(struct r2d_analysis *a)
{
    const size_t ncpu = r2d_image_cpu_count(a->img);

    /* Kernel-mode CPUs first: their CR3 maps the kernel even with KVA shadowing. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < ncpu; i++) {
            const struct r2d_cpu_state *cpu = r2d_image_cpu(a->img, i);
            /* x64: GS holds the KPCR in kernel mode; a 32-bit CPU in kernel mode runs at CPL 0. */
            const int kernel_mode = (cpu->flags & R2D_CPU_LONG_MODE) ? (int)(cpu->gs.base >> 63)
                                                                     : (cpu->cs.selector & 3) == 0;
            char source[64];

            if ((pass == 0) != (kernel_mode == 1))
                continue;
            snprintf(source, sizeof(source), "CR3 of CPU %zu%s", i, kernel_mode ? " (in kernel mode)" : "");
            if (discover_try_dtb(a, cpu, cpu->cr3, source))
                return 1;
        }
    }
    for (size_t i = 0; i < ncpu; i++)
        if (discover_dtb_from_kgs(a, r2d_image_cpu(a->img, i), i))
            return 1;
    return 0;
}

int
r2d_discover_dtb(struct r2d_analysis *a)
{
    const size_t ncpu = r2d_image_cpu_count(a->img);
    int rc;

    a->ndtb_cands = 0;
    if (a->opts->have_dtb) {
        if (discover_try_dtb(a, ncpu ? r2d_image_cpu(a->img, 0) : NULL, a->opts->dtb, "--dtb"))
            return 0;
        return r2d_err(a->ctx, R2D_ENOTFOUND, "%s: --dtb 0x%" PRIx64 " does not map a Windows kernel "
                       "(KUSER_SHARED_DATA at 0x%" PRIx64 " (x64) or 0xffdf0000 (x86) does not translate to NT "
                       "version data)", r2d_image_path(a->img), a->opts->dtb, R2D_KUSER_SHARED_DATA);
    }
    if (discover_dtb_registers(a))
        return 0;
    /* A crash dump whose CONTEXT is not usable as registers still names the DTB WinDbg will use. */
    if (r2d_image_props(a->img)->have_dump_header && r2d_image_props(a->img)->dump_dtb &&
        discover_try_dtb(a, NULL, r2d_image_props(a->img)->dump_dtb, "the dump header's DirectoryTableBase"))
        return 0;
    /* What the acquisition tool recorded (WinPmem's CR3), validated like a register's */
    if (r2d_image_props(a->img)->hint_dtb &&
        discover_try_dtb(a, NULL, r2d_image_props(a->img)->hint_dtb, "the CR3 the input records"))
        return 0;
    rc = discover_scan(a);
    if (rc)
        return rc;
    if (a->ndtb_cands == 0)
        return r2d_err(a->ctx, R2D_ENOTFOUND,
                       "%s: no page table maps a Windows kernel (tried %zu CPU CR3 value%s, the low stub below "
                       "0x%llx, self-referencing x64 PML4s and x86 PAE and non-PAE page directories below %llu "
                       "MiB); is this a Windows memory image? Use --dtb to give one", r2d_image_path(a->img), ncpu,
                       ncpu == 1 ? "" : "s", LOW_STUB_END, SELFMAP_SCAN_END >> 20);
    r2d_discover_use_candidate(a, 0);
    for (unsigned i = 1; i < a->ndtb_cands; i++)
        r2d_log(a->ctx, R2D_LOG_DEBUG, "DTB candidate %u: 0x%" PRIx64 " (score %d) from %s", i,
                a->dtb_cands[i].pa, a->dtb_cands[i].score, a->dtb_cands[i].how);
    r2d_log(a->ctx, R2D_LOG_INFO, "DTB 0x%" PRIx64 " (best of %u candidate%s, score %d) from %s", a->dtb,
            a->ndtb_cands, a->ndtb_cands == 1 ? "" : "s", a->dtb_cands[0].score, a->dtb_how);
    return 0;
}

int
r2d_discover_system_dtb(struct r2d_analysis *a)
{
    /* _EPROCESS.Pcb.DirectoryTableBase when the types lack it: 0x28 on every x64 build, 0x18 on x86 XP-10. */
    uint64_t sym, eprocess, dtb_off = r2d_analysis_is_x86(a) ? 0x18 : 0x28, dtb;
    char why[512];

    a->system_dtb = a->dtb;
    if (r2d_kernel_symbol(a, "PsInitialSystemProcess", &sym) || r2d_read_ptr(a, sym, &eprocess))
        return 0;
    r2d_symbols_field_offset(a->ctx, a->syms, "_EPROCESS", "Pcb.DirectoryTableBase", &dtb_off);
    /* A ULONG on x86 (the PDPT's or page directory's physical address), a ULONG64 on x64. */
    if (r2d_read_ptr(a, eprocess + dtb_off, &dtb))
        return 0;
    dtb &= r2d_paging_dtb_mask(a->paging);
    if (dtb == a->dtb)
        return 0;
    if (!r2d_discover_validate(a, a->paging, dtb, why, sizeof(why), NULL)) {
        r2d_log(a->ctx, R2D_LOG_WARN, "System process DTB 0x%" PRIx64 " does not validate (%s); keeping 0x%" PRIx64,
                dtb, why, a->dtb);
        return 0;
    }
    r2d_log(a->ctx, R2D_LOG_INFO, "System process DTB 0x%" PRIx64 " replaces 0x%" PRIx64 " for the header", dtb,
            a->dtb);
    a->system_dtb = dtb;
    return 0;
}
