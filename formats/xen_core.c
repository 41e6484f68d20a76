/* SPDX-License-Identifier: MIT */
/*
 * Xen dump-core files (xl dump-core DOMAIN FILE): an ELF64 core with no program headers whose sections hold
 * the guest: ".note.Xen" (dump-core header: magic, vCPU and page counts), ".xen_prstatus" (one
 * vcpu_guest_context per vCPU), ".xen_pages" (the pages, back to back) and, for HVM guests, ".xen_pfn" (the
 * guest frame number of each page). PV guests (".xen_p2m") are refused: Windows runs only as an HVM guest.
 * Facts: Xen tools/libs/guest/xg_core.c and xg_core.h (the writer), xen/include/public/arch-x86/xen.h and
 * xen-x86_64.h (vcpu_guest_context), xen/arch/x86/domctl.c arch_get_info_guest (what an HVM context holds),
 * the crash utility's xendump.c (a reader); docs/formats/xen.md says which source gave what.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "elf_read.h"

#define XEN_NOTES_MAX (1u << 16)

/* Note types (xen/include/public/elfnote.h), name "Xen". */
#define XEN_NT_HEADER 0x2000001u
#define XEN_NT_XEN_VERSION 0x2000002u
#define XEN_NT_FORMAT_VERSION 0x2000003u

/* xen_dumpcore_elfnote_header_desc. */
#define XEN_HDR_MAGIC 0x00     /* u64 */
#define XEN_HDR_NR_VCPUS 0x08  /* u64 */
#define XEN_HDR_NR_PAGES 0x10  /* u64 */
#define XEN_HDR_PAGE_SIZE 0x18 /* u64 */
#define XEN_HDR_SIZE 0x20
#define XEN_MAGIC_PV 0xF00FEBEDull
#define XEN_MAGIC_HVM 0xF00FEBEEull
/* xen_dumpcore_elfnote_xen_version_desc starts {u64 major, u64 minor, char extra_version[16]}. */
#define XEN_VER_EXTRA 0x10
#define XEN_VER_MIN_SIZE 0x20
/* The format version note: major << 32 | minor; xg_core writes 0.1. */
#define XEN_FORMAT_CURRENT 1ull

#define XEN_PAGE_SIZE 4096ull
#define XEN_PFN_INVALID UINT64_MAX /* XC_CORE_INVALID_PFN: a padding page */
#define XEN_PFN_LIMIT (1ull << 40) /* 52-bit physical addresses */
#define XEN_PFN_CHUNK 8192u        /* table entries read at a time */

/* vcpu_guest_context for x86_64 guests (0x1430 bytes); cpu_user_regs starts at 0x208. */
#define XEN_CTX_SIZE 0x1430
#define XEN_CTX_FLAGS 0x200 /* VGCF_* */
#define XEN_CTX_R15 0x208   /* r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi: 15 u64 */
#define XEN_CTX_RIP 0x288
#define XEN_CTX_CS 0x290 /* u16 */
#define XEN_CTX_RFLAGS 0x298
#define XEN_CTX_RSP 0x2A0
#define XEN_CTX_SS 0x2A8 /* u16 each, 8 apart: ss es ds fs gs */
#define XEN_CTX_CR0 0x1378
#define XEN_CTX_CR2 0x1388
#define XEN_CTX_CR3 0x1390
#define XEN_CTX_CR4 0x1398
#define XEN_CTX_FS_BASE 0x1418
#define XEN_CTX_GS_BASE_KERNEL 0x1420
#define XEN_CTX_GS_BASE_USER 0x1428
#define XEN_VGCF_ONLINE (1ull << 5)
#define XEN_CR0_PG (1ull << 31)
#define XEN_CR4_PAE (1ull << 5)

/* Consecutive pages of .xen_pages holding consecutive frames. */
struct xen_run {
    uint64_t pfn, npages, index; /* index: the first page's entry in .xen_pfn */
};

struct xen_file {
    struct r2d_elf elf;
    struct r2d_image *img;
    const char *path;
    struct r2d_elf_section *secs;
    size_t nsecs;
    const struct r2d_elf_section *pages, *pfn, *prstatus;
    int have_header;
    uint64_t magic, nr_vcpus, nr_pages, page_size, format_version;
    char version[64];
    struct xen_run *runs;
    size_t nruns, cap_runs;
    uint64_t npadding, noffline, ncpus;
};

static int
xen_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why)
{
    (void)file_size;
    if (r2d_elf_classify(head, len) != R2D_ELF_CORE_XEN)
        return R2D_PROBE_NO;
    *why = "ELF core with a Xen dump-core header note (magic 0xf00febed/0xf00febee)";
    return R2D_PROBE_SURE;
}

static void
xen_take_version(struct xen_file *xf, const struct r2d_elf_note *n)
{
    char extra[17];
    size_t k = 0;

    if (n->descsz < XEN_VER_MIN_SIZE)
        return;
    for (; k < 16 && n->desc[XEN_VER_EXTRA + k] >= 0x20 && n->desc[XEN_VER_EXTRA + k] < 0x7F; k++)
        extra[k] = (char)n->desc[XEN_VER_EXTRA + k];
    extra[k] = 0;
    snprintf(xf->version, sizeof(xf->version), "Xen %" PRIu64 ".%" PRIu64 "%s", r2d_le64(n->desc),
             r2d_le64(n->desc + 8), extra);
}

static int
xen_take_note(struct r2d_ctx *ctx, void *arg, const struct r2d_elf_note *n)
{
    struct xen_file *xf = arg;

    if (!r2d_elf_note_name_is(n, "Xen"))
        return 0;
    if (n->type == XEN_NT_XEN_VERSION) {
        xen_take_version(xf, n);
    } else if (n->type == XEN_NT_FORMAT_VERSION) {
        R2D_CHECK(n->descsz < 8, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": dump-core format version note of %" PRIu32 " bytes, need 8",
                  xf->path, n->desc_off, n->descsz);
        xf->format_version = r2d_le64(n->desc);
    } else if (n->type == XEN_NT_HEADER) {
        R2D_CHECK(xf->have_header, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": a second dump-core header note", xf->path, n->off);
        R2D_CHECK(n->descsz < XEN_HDR_SIZE, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": dump-core header note of 0x%" PRIx32 " bytes, need 0x%x",
                  xf->path, n->desc_off, n->descsz, XEN_HDR_SIZE);
        xf->have_header = 1;
        xf->magic = r2d_le64(n->desc + XEN_HDR_MAGIC);
        xf->nr_vcpus = r2d_le64(n->desc + XEN_HDR_NR_VCPUS);
        xf->nr_pages = r2d_le64(n->desc + XEN_HDR_NR_PAGES);
        xf->page_size = r2d_le64(n->desc + XEN_HDR_PAGE_SIZE);
    }
    return 0;
}

/* .note.Xen: the header is required, the format version checked, the Xen version kept for the report. */
static int
xen_read_notes(struct r2d_ctx *ctx, struct xen_file *xf)
{
    const struct r2d_elf_section *s = r2d_elf_find_section(xf->secs, xf->nsecs, ".note.Xen");
    uint8_t *buf;
    int rc;

    R2D_CHECK(!s, ctx, R2D_EFORMAT, "%s: no .note.Xen section: not a Xen dump-core file", xf->path);
    xf->format_version = XEN_FORMAT_CURRENT;
    rc = r2d_elf_read_area(ctx, &xf->elf, s->offset, s->size, XEN_NOTES_MAX, ".note.Xen", &buf);
    if (!rc)
        rc = r2d_elf_walk_notes(ctx, xf->path, buf, (size_t)s->size, s->offset, ".note.Xen", xen_take_note,
                                xf);
    free(buf);
    if (rc)
        return rc;
    R2D_CHECK(!xf->have_header, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": .note.Xen has no dump-core header note", xf->path, s->offset);
    R2D_CHECK(xf->format_version >> 32 != 0, ctx, R2D_EUNSUPPORTED,
              "%s: dump-core format version 0x%" PRIx64 ": only major version 0 is known", xf->path,
              xf->format_version);
    if (xf->format_version != XEN_FORMAT_CURRENT)
        r2d_log(ctx, R2D_LOG_WARN,
                "%s: dump-core format version 0x%" PRIx64 " (known: 0x1); reading it as "
                "0x1",
                xf->path, xf->format_version);
    return 0;
}

/* The header's claims, the guest type and the sections they imply. */
static int
xen_find_sections(struct r2d_ctx *ctx, struct xen_file *xf)
{
    const int has_p2m = r2d_elf_find_section(xf->secs, xf->nsecs, ".xen_p2m") != NULL;

    R2D_CHECK(xf->magic != XEN_MAGIC_HVM && xf->magic != XEN_MAGIC_PV, ctx, R2D_EFORMAT,
              "%s: dump-core header magic 0x%" PRIx64 ", expected 0xf00febee (HVM) or 0xf00febed (PV)",
              xf->path, xf->magic);
    R2D_CHECK(
        xf->magic == XEN_MAGIC_PV || has_p2m, ctx, R2D_EUNSUPPORTED,
        "%s: a paravirtualised (PV) guest (%s): its page tables hold machine frames; Windows runs only as "
        "an HVM guest, whose dump-core files have a .xen_pfn table",
        xf->path, has_p2m ? ".xen_p2m table" : "magic 0xf00febed");
    R2D_CHECK(xf->page_size != XEN_PAGE_SIZE, ctx, R2D_EUNSUPPORTED,
              "%s: dump-core page size %" PRIu64 ", only 4096 is known", xf->path, xf->page_size);
    xf->pages = r2d_elf_find_section(xf->secs, xf->nsecs, ".xen_pages");
    xf->pfn = r2d_elf_find_section(xf->secs, xf->nsecs, ".xen_pfn");
    xf->prstatus = r2d_elf_find_section(xf->secs, xf->nsecs, ".xen_prstatus");
    R2D_CHECK(!xf->pages, ctx, R2D_EFORMAT, "%s: no .xen_pages section: the file holds no memory", xf->path);
    R2D_CHECK(!xf->pfn, ctx, R2D_EFORMAT, "%s: no .xen_pfn section: the pages' frame numbers are missing",
              xf->path);
    R2D_CHECK(xf->pages->size / XEN_PAGE_SIZE != xf->nr_pages || xf->pages->size % XEN_PAGE_SIZE, ctx,
              R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": .xen_pages of 0x%" PRIx64
              " bytes, but the dump-core header counts %" PRIu64 " pages",
              xf->path, xf->pages->offset, xf->pages->size, xf->nr_pages);
    R2D_CHECK(xf->pages->offset > xf->elf.size || xf->pages->size > xf->elf.size - xf->pages->offset, ctx,
              R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": .xen_pages of 0x%" PRIx64
              " bytes runs past end of file (size 0x%" PRIx64 ")",
              xf->path, xf->pages->offset, xf->pages->size, xf->elf.size);
    R2D_CHECK(xf->pfn->size / 8 < xf->nr_pages, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": the PFN table (.xen_pfn, %" PRIu64
              " entries) is shorter than .xen_pages (%" PRIu64 " pages)",
              xf->path, xf->pfn->offset, xf->pfn->size / 8, xf->nr_pages);
    R2D_CHECK(xf->pfn->offset > xf->elf.size || xf->pfn->size > xf->elf.size - xf->pfn->offset, ctx,
              R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": .xen_pfn of 0x%" PRIx64
              " bytes runs past end of file (size 0x%" PRIx64 ")",
              xf->path, xf->pfn->offset, xf->pfn->size, xf->elf.size);
    R2D_CHECK(xf->pfn->size != xf->nr_pages * 8, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": the PFN table (.xen_pfn, 0x%" PRIx64
              " bytes) is longer than .xen_pages (%" PRIu64 " pages)",
              xf->path, xf->pfn->offset, xf->pfn->size, xf->nr_pages);
    return 0;
}

static int
xen_push_run(struct r2d_ctx *ctx, struct xen_file *xf, uint64_t pfn, uint64_t index)
{
    if (r2d_grow(ctx, &xf->runs, &xf->cap_runs, xf->nruns + 1, sizeof(*xf->runs), "the page runs"))
        return r2d_err_prefix(ctx, R2D_ENOMEM, "%s", xf->path);
    xf->runs[xf->nruns++] = (struct xen_run){.pfn = pfn, .npages = 1, .index = index};
    return 0;
}

/* One .xen_pfn entry: page index of .xen_pages holds frame pfn. */
static int
xen_take_pfn(struct r2d_ctx *ctx, struct xen_file *xf, uint64_t index, uint64_t pfn)
{
    struct xen_run *cur = xf->nruns ? &xf->runs[xf->nruns - 1] : NULL;

    if (pfn == XEN_PFN_INVALID) { /* the writer pads with zero pages when the guest shrank meanwhile */
        xf->npadding++;
        return 0;
    }
    R2D_CHECK(pfn >= XEN_PFN_LIMIT, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": .xen_pfn entry %" PRIu64 " is frame 0x%" PRIx64
              ", beyond 52-bit physical "
              "addresses",
              xf->path, xf->pfn->offset + 8 * index, index, pfn);
    if (cur && cur->index + cur->npages == index && cur->pfn + cur->npages == pfn) {
        cur->npages++;
        return 0;
    }
    return xen_push_run(ctx, xf, pfn, index);
}

static int
xen_read_pfns(struct r2d_ctx *ctx, struct xen_file *xf)
{
    uint8_t *buf = malloc(8 * XEN_PFN_CHUNK);
    int rc = buf ? 0 : r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the PFN table", xf->path);

    for (uint64_t first = 0; !rc && first < xf->nr_pages;) {
        const uint64_t n = xf->nr_pages - first < XEN_PFN_CHUNK ? xf->nr_pages - first : XEN_PFN_CHUNK;

        rc = r2d_image_pread(ctx, xf->img, xf->pfn->offset + 8 * first, buf, (size_t)(8 * n), ".xen_pfn");
        for (uint64_t i = 0; !rc && i < n; i++)
            rc = xen_take_pfn(ctx, xf, first + i, r2d_le64(buf + 8 * i));
        first += n;
    }
    free(buf);
    return rc;
}

static int
xen_run_cmp(const void *a, const void *b)
{
    const struct xen_run *x = a, *y = b;

    return x->pfn < y->pfn ? -1 : x->pfn > y->pfn;
}

/* Every frame at most once (two pages claiming one frame cannot both be right), then the image's runs. */
static int
xen_add_runs(struct r2d_ctx *ctx, struct xen_file *xf)
{
    int rc = 0;

    R2D_CHECK(xf->nruns == 0, ctx, R2D_EFORMAT, "%s: .xen_pfn names no frame: the file holds no memory",
              xf->path);
    qsort(xf->runs, xf->nruns, sizeof(*xf->runs), xen_run_cmp);
    for (size_t i = 1; i < xf->nruns; i++) {
        const struct xen_run *a = &xf->runs[i - 1], *b = &xf->runs[i];

        R2D_CHECK(b->pfn - a->pfn < a->npages, ctx, R2D_EFORMAT,
                  "%s: .xen_pfn entries %" PRIu64 " and %" PRIu64 " both give frame 0x%" PRIx64, xf->path,
                  a->index + (b->pfn - a->pfn), b->index, b->pfn);
    }
    for (size_t i = 0; !rc && i < xf->nruns; i++)
        rc = r2d_image_add_file_run(ctx, xf->img, xf->runs[i].pfn * XEN_PAGE_SIZE,
                                    xf->runs[i].npages * XEN_PAGE_SIZE,
                                    xf->pages->offset + xf->runs[i].index * XEN_PAGE_SIZE);
    return rc;
}

static void
xen_decode_cpu(const uint8_t *d, struct r2d_cpu_state *cpu)
{
    uint64_t *const gpr[15] = {&cpu->r15, &cpu->r14, &cpu->r13, &cpu->r12, &cpu->rbp,
                               &cpu->rbx, &cpu->r11, &cpu->r10, &cpu->r9,  &cpu->r8,
                               &cpu->rax, &cpu->rcx, &cpu->rdx, &cpu->rsi, &cpu->rdi};
    struct r2d_segment *const seg[5] = {&cpu->ss, &cpu->es, &cpu->ds, &cpu->fs, &cpu->gs};
    const uint64_t gs_kernel = r2d_le64(d + XEN_CTX_GS_BASE_KERNEL),
                   gs_user = r2d_le64(d + XEN_CTX_GS_BASE_USER);

    memset(cpu, 0, sizeof(*cpu));
    for (unsigned i = 0; i < 15; i++)
        *gpr[i] = r2d_le64(d + XEN_CTX_R15 + 8 * i);
    cpu->rip = r2d_le64(d + XEN_CTX_RIP);
    cpu->rflags = r2d_le64(d + XEN_CTX_RFLAGS);
    cpu->rsp = r2d_le64(d + XEN_CTX_RSP);
    cpu->cs.selector = r2d_le16(d + XEN_CTX_CS);
    for (unsigned i = 0; i < 5; i++)
        seg[i]->selector = r2d_le16(d + XEN_CTX_SS + 8 * i);
    cpu->cr0 = r2d_le64(d + XEN_CTX_CR0);
    cpu->cr2 = r2d_le64(d + XEN_CTX_CR2);
    cpu->cr3 = r2d_le64(d + XEN_CTX_CR3); /* an HVM guest's own CR3 (guest-physical), not a frame number */
    cpu->cr4 = r2d_le64(d + XEN_CTX_CR4);
    cpu->fs.base = r2d_le64(d + XEN_CTX_FS_BASE);
    /* arch_get_info_guest: gs_base_kernel is the live GS base in ring 0 and the swapped one in ring 3. */
    cpu->gs.base = (cpu->cs.selector & 3) == 0 ? gs_kernel : gs_user;
    cpu->kernel_gs_base = (cpu->cs.selector & 3) == 0 ? gs_user : gs_kernel;
    cpu->flags = R2D_CPU_HAVE_KGSBASE;
    /*
     * No EFER in the context (EFER.LMA is not recorded) and the 64-bit slots are used for every HVM guest: a
     * 32-bit PAE guest also runs with CR0.PG and CR4.PAE. Only a 64-bit CPU can hold an instruction, stack or
     * GS base address above 4 GiB (a 32-bit one's are zero-extended), and a 64-bit Windows kernel always has
     * its KPCR, in GS or in the swapped GS base, up there.
     */
    if ((cpu->cr0 & XEN_CR0_PG) && (cpu->cr4 & XEN_CR4_PAE) &&
        ((cpu->rip | cpu->rsp | cpu->gs.base | cpu->kernel_gs_base) >> 32))
        cpu->flags |= R2D_CPU_LONG_MODE;
}

/* .xen_prstatus: one vcpu_guest_context per vCPU the header counts; offline vCPUs carry no state. */
static int
xen_read_cpus(struct r2d_ctx *ctx, struct xen_file *xf)
{
    const struct r2d_elf_section *s = xf->prstatus;
    uint8_t *buf;
    int rc;

    if (!s || s->entsize != XEN_CTX_SIZE) {
        r2d_log(ctx, R2D_LOG_WARN,
                "%s: %s: the page tables, the kernel and the processors' contexts are "
                "found without registers, as for raw and LiME images",
                xf->path,
                s ? "the vCPU contexts (.xen_prstatus) are not 64-bit x86 ones (sh_entsize is not 0x1430)"
                  : "no .xen_prstatus section");
        return 0;
    }
    R2D_CHECK(s->size / XEN_CTX_SIZE != xf->nr_vcpus || s->size % XEN_CTX_SIZE, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": .xen_prstatus of 0x%" PRIx64
              " bytes, but the dump-core header counts %" PRIu64 " vCPUs of 0x%x bytes",
              xf->path, s->offset, s->size, xf->nr_vcpus, XEN_CTX_SIZE);
    rc = r2d_elf_read_area(ctx, &xf->elf, s->offset, s->size, 4096ull * XEN_CTX_SIZE, ".xen_prstatus", &buf);
    for (uint64_t i = 0; !rc && i < xf->nr_vcpus; i++) {
        const uint8_t *d = buf + XEN_CTX_SIZE * i;
        struct r2d_cpu_state cpu;

        if (!(r2d_le64(d + XEN_CTX_FLAGS) & XEN_VGCF_ONLINE)) {
            xf->noffline++;
            continue;
        }
        xen_decode_cpu(d, &cpu);
        rc = r2d_image_add_cpu(ctx, xf->img, &cpu);
        xf->ncpus++;
    }
    free(buf);
    return rc;
}

static int
xen_add_notes(struct r2d_ctx *ctx, struct xen_file *xf)
{
    char v[512];
    size_t n = 0;
    int rc;

    rc = r2d_image_add_note(ctx, xf->img, "xen.guest", "HVM (dump-core magic 0xf00febee, .xen_pfn table)");
    if (!rc && xf->version[0])
        rc = r2d_image_add_note(ctx, xf->img, "xen.version", xf->version);
    snprintf(v, sizeof(v), "0x%" PRIx64, xf->format_version);
    if (!rc)
        rc = r2d_image_add_note(ctx, xf->img, "xen.format_version", v);
    snprintf(v, sizeof(v),
             "%" PRIu64 " pages in %zu runs of consecutive frames, %" PRIu64 " padding pages "
             "(frame ~0) skipped",
             xf->nr_pages, xf->nruns, xf->npadding);
    if (!rc)
        rc = r2d_image_add_note(ctx, xf->img, "xen.pages", v);
    snprintf(v, sizeof(v), "%" PRIu64 " in the header, %" PRIu64 " with registers, %" PRIu64 " offline",
             xf->nr_vcpus, xf->ncpus, xf->noffline);
    if (!rc)
        rc = r2d_image_add_note(ctx, xf->img, "xen.vcpus", v);
    v[0] = 0;
    for (size_t i = 0; i < xf->nsecs && n < sizeof(v); i++)
        if (xf->secs[i].name[0])
            n += (size_t)snprintf(v + n, sizeof(v) - n, "%s%s", n ? ", " : "", xf->secs[i].name);
    if (!rc)
        rc = r2d_image_add_note(ctx, xf->img, "elf.sections", v);
    return rc;
}

static int
xen_open_file(struct r2d_ctx *ctx, struct xen_file *xf)
{
    int rc = r2d_elf_read_header(ctx, xf->img, &xf->elf);

    if (rc)
        return rc;
    /* xg_core writes ELF64 always; e_machine is the toolstack's (dom0), not the guest's. */
    R2D_CHECK(!xf->elf.is64, ctx, R2D_EFORMAT, "%s: offset 0x4: %s: Xen dump-core files are ELFCLASS64",
              xf->path, xf->elf.class_name);
    R2D_CHECK(xf->elf.machine != R2D_ELF_EM_X86_64 && xf->elf.machine != R2D_ELF_EM_386, ctx,
              R2D_EUNSUPPORTED,
              "%s: offset 0x12: e_machine %u is neither EM_X86_64 nor EM_386: not an x86 Xen dump-core file",
              xf->path, xf->elf.machine);
    rc = r2d_elf_read_sections(ctx, &xf->elf, &xf->secs, &xf->nsecs);
    if (!rc)
        rc = xen_read_notes(ctx, xf);
    if (!rc)
        rc = xen_find_sections(ctx, xf);
    if (!rc)
        rc = xen_read_pfns(ctx, xf);
    if (!rc)
        rc = xen_add_runs(ctx, xf);
    if (!rc)
        rc = xen_read_cpus(ctx, xf);
    if (!rc && xf->ncpus == 0 && xf->prstatus && xf->prstatus->entsize == XEN_CTX_SIZE)
        r2d_log(ctx, R2D_LOG_WARN,
                "%s: %s: the page tables, the kernel and the processors' contexts are found "
                "without registers, as for raw and LiME images",
                xf->path, xf->nr_vcpus ? "every vCPU context is offline" : "no vCPU contexts");
    return rc ? rc : xen_add_notes(ctx, xf);
}

static int
xen_open(struct r2d_ctx *ctx, struct r2d_image *img)
{
    struct xen_file xf = {.img = img, .path = r2d_image_path(img)};
    const int rc = xen_open_file(ctx, &xf);

    free(xf.secs);
    free(xf.runs);
    return rc;
}

const struct r2d_format r2d_format_xen = {
    .name = "xen",
    .summary =
        "Xen dump-core of an HVM guest (xl dump-core): .xen_pages + .xen_pfn, vCPUs from .xen_prstatus",
    .probe_bytes = R2D_PROBE_MAX_BYTES,
    .probe = xen_probe,
    .open = xen_open,
};
