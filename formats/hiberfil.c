/* SPDX-License-Identifier: MIT */
/*
 * Windows hibernation files (hiberfil.sys) as an input: the PO_MEMORY_IMAGE header tells the layout (Windows
 * 7's memory-range tables of Xpress blocks, or the boot and kernel restore sets of compression sets of Windows
 * 8 and later) by its own length, never by asking; the page sets are indexed in one pass at open and decoded
 * on demand (hiberfil_decode.c). Facts and how sure we are of each: docs/formats/hibernation.md.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "context_amd64.h"
#include "hiberfil_priv.h"
#include "io.h"

/* Processor state (H5): KPROCESSOR_STATE in file page 2, special registers first, then a CONTEXT. */
#define HIB_STATE_PAGE 2
#define HIB_KSR_CR0 0x00
#define HIB_KSR_CR2 0x08
#define HIB_KSR_CR3 0x10
#define HIB_KSR_CR4 0x18
#define HIB_KSR_GDTR_LIMIT 0x56 /* KDESCRIPTOR: u16 pad[3], u16 limit, u64 base */
#define HIB_KSR_GDTR_BASE 0x58
#define HIB_KSR_IDTR_LIMIT 0x66
#define HIB_KSR_IDTR_BASE 0x68
#define HIB_KSR_TR 0x70
#define HIB_KSR_LDTR 0x72
#define HIB_KSR_GS_BASE 0xA8
#define HIB_KSR_GS_SWAP 0xB0
static const uint32_t hib_context_offsets[] = {0xE0, 0xF0}; /* Windows 7; Windows 8 and later */

/* Windows 8+ x64 header layouts by LengthSelf (H3). */
static const struct hib_profile hib_profiles[] = {
    {0x360, "Windows 8 / 8.1 (builds 9200-9600)", 0x60, 0x68, 0x1C8, 0x330},
    {0x3B0, "Windows 10 1507-1511 (builds 10240-10586)", 0x68, 0x70, 0x218, 0x380},
    {0x3C8, "Windows 10 1607 / Server 2016 (build 14393)", 0x68, 0x70, 0x220, 0x388},
    {0x3D8, "Windows 10 1703-1803 (builds 15063-17134)", 0x68, 0x70, 0x230, 0x398},
    {0x3E0, "Windows 10 1809-22H2 (builds 17763-19045)", 0x68, 0x70, 0x230, 0x398},
    {0x448, "Windows 10/11 21H2-23H2, Server 2022 (builds 20348-22631)", 0x68, 0x70, 0x230, 0x400},
    {0x4D8, "Windows 11 24H2 (build 26100)", 0x68, 0x70, 0x230, 0x498},
};
#define HIB8_OFF_PAGES_FOR_LOADER 0x58 /* u64 */

/* 32-bit kernels' header lengths (LeechCore's table): named in the refusal. */
static const uint32_t hib_lengths_x86[] = {0x2C8, 0x310, 0x328, 0x338, 0x340};

static const char *
hib_signature(const uint8_t *head)
{
    static const char *const sigs[] = {"hibr", "HIBR", "wake", "WAKE", "RSTR"};

    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (memcmp(head, sigs[i], 4) == 0)
            return sigs[i];
    return NULL;
}

static const struct hib_profile *
hib_profile_find(uint32_t length_self)
{
    for (size_t i = 0; i < sizeof(hib_profiles) / sizeof(hib_profiles[0]); i++)
        if (hib_profiles[i].length_self == length_self)
            return &hib_profiles[i];
    return NULL;
}

static int
hiberfil_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why)
{
    uint32_t length_self;

    (void)file_size;
    if (len < 0x20 || !hib_signature(head))
        return R2D_PROBE_NO;
    *why = "hibernation file signature";
    length_self = r2d_le32(head + HIB_OFF_LENGTH_SELF);
    if (r2d_le32(head + HIB_OFF_PAGE_SIZE) == HIB_PAGE &&
        (length_self == HIB7_LENGTH_SELF || hib_profile_find(length_self))) {
        *why = "hibernation file signature and a known header length";
        return R2D_PROBE_SURE;
    }
    return R2D_PROBE_MAGIC;
}

/* --- building the index (called by the layout walkers) --- */

static int
hib_flush_run(struct r2d_ctx *ctx, struct hib_file *h, struct r2d_image *img)
{
    int rc = 0;

    if (h->run_pages)
        rc = r2d_image_add_source_run(ctx, img, h->run_pfn * HIB_PAGE, h->run_pages * HIB_PAGE,
                                      h->run_src * HIB_PAGE);
    h->run_pages = 0;
    return rc;
}

int
r2d_hib_add_pages(struct r2d_ctx *ctx, struct hib_file *h, struct r2d_image *img, uint64_t pfn, uint64_t pages,
                  uint64_t src)
{
    int rc;

    R2D_CHECK(pfn >= HIB_MAX_PFN || pages > HIB_MAX_PFN - pfn, ctx, R2D_EFORMAT,
              "%s: pages 0x%" PRIx64 "-0x%" PRIx64 " lie past the 52-bit physical address space", h->path, pfn,
              pfn + pages - 1);
    if (h->run_pages && h->run_pfn + h->run_pages == pfn && h->run_src + h->run_pages == src) {
        h->run_pages += pages;
        return 0;
    }
    rc = hib_flush_run(ctx, h, img);
    h->run_pfn = pfn;
    h->run_src = src;
    h->run_pages = pages;
    return rc;
}

int
r2d_hib_add_set(struct r2d_ctx *ctx, struct hib_file *h, uint64_t off, uint32_t csize, uint32_t pages,
                enum hib_method method, uint64_t where)
{
    struct hib_set *s;
    int rc;

    R2D_CHECK(off > h->file_size || csize > h->file_size - off, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": page set of 0x%" PRIx32 " compressed bytes at 0x%" PRIx64
              " runs past end of file (size 0x%" PRIx64 ")",
              h->path, where, csize, off, h->file_size);
    R2D_CHECK(pages == 0 || pages > HIB_MAX_SET_PAGES, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": page set of %" PRIu32 " pages (1 to %u supported)", h->path, where,
              pages, HIB_MAX_SET_PAGES);
    R2D_CHECK(method == HIB_STORED ? csize != pages * HIB_PAGE : csize == 0 || csize > pages * HIB_PAGE, ctx,
              R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": page set of %" PRIu32 " pages holds 0x%" PRIx32
              " bytes, which cannot decode to 0x%" PRIx32 " bytes",
              h->path, where, pages, csize, pages * HIB_PAGE);
    rc = r2d_grow(ctx, &h->sets, &h->cap, h->nsets + 1, sizeof(*h->sets), "hibernation page sets");
    if (rc)
        return rc;
    s = &h->sets[h->nsets++];
    s->off = off;
    s->csize = csize;
    s->pages = (uint16_t)pages;
    s->method = (uint8_t)method;
    s->first = h->npages;
    h->npages += pages;
    if (pages > h->max_pages)
        h->max_pages = pages;
    h->counts[method]++;
    return 0;
}

/* --- processor state --- */

/* The KPROCESSOR_STATE in page 2 when it holds a 64-bit CONTEXT and a plausible CR3; 0 when none is found. */
static int
hib_read_cpu(struct r2d_ctx *ctx, struct hib_file *h, struct r2d_cpu_state *st, uint32_t *ctx_off)
{
    uint8_t p[HIB_PAGE];
    const uint8_t *c = NULL;
    uint64_t cr3;
    int rc;

    if (h->file_size < (HIB_STATE_PAGE + 1) * (uint64_t)HIB_PAGE)
        return 0;
    rc = r2d_bytesrc_read(ctx, h->in, HIB_STATE_PAGE * (uint64_t)HIB_PAGE, p, sizeof(p), "processor state page");
    if (rc)
        return -rc;
    /* The layout's own offset first: the other one lands inside its CONTEXT, where a flag bit may be set. */
    for (size_t k = 0; k < 2 && !c; k++) {
        const uint32_t off = hib_context_offsets[(h->layout == HIB_LAYOUT_WIN7) == (k == 0) ? 0 : 1];

        if (r2d_le32(p + off + R2D_CTX64_OFF_CONTEXT_FLAGS) & R2D_CTX64_FLAG_AMD64) {
            c = p + off;
            *ctx_off = off;
        }
    }
    cr3 = r2d_le64(p + HIB_KSR_CR3);
    if (!c || (cr3 >> 12) == 0 || (cr3 >> 12) >= HIB_MAX_PFN)
        return 0;
    memset(st, 0, sizeof(*st));
    st->flags = R2D_CPU_LONG_MODE | R2D_CPU_HAVE_KGSBASE;
    st->cr0 = r2d_le64(p + HIB_KSR_CR0);
    st->cr2 = r2d_le64(p + HIB_KSR_CR2);
    st->cr3 = cr3;
    st->cr4 = r2d_le64(p + HIB_KSR_CR4);
    st->gdt.limit = r2d_le16(p + HIB_KSR_GDTR_LIMIT);
    st->gdt.base = r2d_le64(p + HIB_KSR_GDTR_BASE);
    st->idt.limit = r2d_le16(p + HIB_KSR_IDTR_LIMIT);
    st->idt.base = r2d_le64(p + HIB_KSR_IDTR_BASE);
    st->tr.selector = r2d_le16(p + HIB_KSR_TR);
    st->ldt.selector = r2d_le16(p + HIB_KSR_LDTR);
    st->gs.base = r2d_le64(p + HIB_KSR_GS_BASE);
    st->kernel_gs_base = r2d_le64(p + HIB_KSR_GS_SWAP);
    st->cs.selector = r2d_le16(c + R2D_CTX64_OFF_SEG_CS);
    st->ds.selector = r2d_le16(c + R2D_CTX64_OFF_SEG_DS);
    st->es.selector = r2d_le16(c + R2D_CTX64_OFF_SEG_ES);
    st->fs.selector = r2d_le16(c + R2D_CTX64_OFF_SEG_FS);
    st->gs.selector = r2d_le16(c + R2D_CTX64_OFF_SEG_GS);
    st->ss.selector = r2d_le16(c + R2D_CTX64_OFF_SEG_SS);
    st->rflags = r2d_le32(c + R2D_CTX64_OFF_EFLAGS);
    st->rax = r2d_le64(c + R2D_CTX64_OFF_RAX);
    st->rcx = r2d_le64(c + R2D_CTX64_OFF_RCX);
    st->rdx = r2d_le64(c + R2D_CTX64_OFF_RDX);
    st->rbx = r2d_le64(c + R2D_CTX64_OFF_RBX);
    st->rsp = r2d_le64(c + R2D_CTX64_OFF_RSP);
    st->rbp = r2d_le64(c + R2D_CTX64_OFF_RBP);
    st->rsi = r2d_le64(c + R2D_CTX64_OFF_RSI);
    st->rdi = r2d_le64(c + R2D_CTX64_OFF_RDI);
    st->r8 = r2d_le64(c + R2D_CTX64_OFF_R8);
    st->r9 = r2d_le64(c + R2D_CTX64_OFF_R9);
    st->r10 = r2d_le64(c + R2D_CTX64_OFF_R10);
    st->r11 = r2d_le64(c + R2D_CTX64_OFF_R11);
    st->r12 = r2d_le64(c + R2D_CTX64_OFF_R12);
    st->r13 = r2d_le64(c + R2D_CTX64_OFF_R13);
    st->r14 = r2d_le64(c + R2D_CTX64_OFF_R14);
    st->r15 = r2d_le64(c + R2D_CTX64_OFF_R15);
    st->rip = r2d_le64(c + R2D_CTX64_OFF_RIP);
    return 1;
}

static int
hib_add_cpu(struct r2d_ctx *ctx, struct hib_file *h, struct r2d_image *img)
{
    struct r2d_cpu_state st;
    uint32_t off = 0;
    char v[200];
    int rc = hib_read_cpu(ctx, h, &st, &off);

    if (rc < 0)
        return -rc;
    if (rc == 0)
        return r2d_image_add_note(ctx, img, "hiber.cpu_state",
                                  "none (page 2 holds no 64-bit KPROCESSOR_STATE): discovery without registers");
    snprintf(v, sizeof(v), "page 2, CONTEXT at +0x%" PRIx32 ": CR3 0x%" PRIx64 ", RIP 0x%" PRIx64 ", RSP 0x%" PRIx64,
             off, st.cr3, st.rip, st.rsp);
    rc = r2d_image_add_note(ctx, img, "hiber.cpu_state", v);
    return rc ? rc : r2d_image_add_cpu(ctx, img, &st);
}

/* --- header and open --- */

/* The first header bytes all zero: what Windows leaves after a resume (H4). */
static int
hib_zeroed(const uint8_t *head, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (head[i])
            return 0;
    return 1;
}

static int
hib_detect(struct r2d_ctx *ctx, struct hib_file *h, const uint8_t *head, size_t len, const char **sig)
{
    R2D_CHECK(hib_zeroed(head, len), ctx, R2D_EFORMAT,
              "%s: holds no hibernation image (the header is zeroed: Windows clears it after resume)", h->path);
    *sig = hib_signature(head);
    R2D_CHECK(!*sig, ctx, R2D_EFORMAT,
              "%s: offset 0x0: signature %02x %02x %02x %02x is not a hibernation file's (hibr, HIBR, wake, "
              "WAKE or RSTR); a cleared header means the file holds no image",
              h->path, head[0], head[1], head[2], head[3]);
    h->length_self = r2d_le32(head + HIB_OFF_LENGTH_SELF);
    for (size_t i = 0; i < sizeof(hib_lengths_x86) / sizeof(hib_lengths_x86[0]); i++)
        R2D_CHECK(h->length_self == hib_lengths_x86[i], ctx, R2D_EUNSUPPORTED,
                  "%s: header length 0x%" PRIx32 " is a 32-bit Windows kernel's: not supported (x64 only)",
                  h->path, h->length_self);
    h->profile = hib_profile_find(h->length_self);
    R2D_CHECK(!h->profile && h->length_self != HIB7_LENGTH_SELF, ctx, R2D_EUNSUPPORTED,
              "%s: unknown hibernation header layout: length 0x%" PRIx32 ", page size field 0x%" PRIx32
              " (known x64 lengths: 0x128 for Windows 7, 0x360-0x4d8 for Windows 8 to 11)",
              h->path, h->length_self, r2d_le32(head + HIB_OFF_PAGE_SIZE));
    h->layout = h->profile ? HIB_LAYOUT_WIN8 : HIB_LAYOUT_WIN7;
    R2D_CHECK(r2d_le32(head + HIB_OFF_PAGE_SIZE) != HIB_PAGE, ctx, R2D_EUNSUPPORTED,
              "%s: offset 0x%x: page size 0x%" PRIx32 " (only 4096 is supported)", h->path, HIB_OFF_PAGE_SIZE,
              r2d_le32(head + HIB_OFF_PAGE_SIZE));
    return 0;
}

static int
hib_add_notes(struct r2d_ctx *ctx, struct hib_file *h, struct r2d_image *img, const char *sig)
{
    char v[256];
    int rc;

    snprintf(v, sizeof(v), "%s%s", sig,
             sig[0] == 'w' || sig[0] == 'W' ? " (Windows was resuming from this image)" : "");
    rc = r2d_image_add_note(ctx, img, "hiber.signature", v);
    snprintf(v, sizeof(v), "%s (header length 0x%" PRIx32 ")",
             h->layout == HIB_LAYOUT_WIN7 ? "Windows 7 memory-range tables" : "Windows 8+ restore sets",
             h->length_self);
    if (!rc)
        rc = r2d_image_add_note(ctx, img, "hiber.layout", v);
    if (!rc)
        rc = r2d_image_add_note(ctx, img, "hiber.windows",
                                h->profile ? h->profile->windows : "Windows 7 / Server 2008 R2 (x64)");
    snprintf(v, sizeof(v), "%" PRIu64 " in %zu page sets", h->npages, h->nsets);
    if (!rc)
        rc = r2d_image_add_note(ctx, img, "hiber.pages", v);
    snprintf(v, sizeof(v), "Xpress LZ77 %" PRIu64 " sets, Xpress Huffman %" PRIu64 " sets, stored %" PRIu64 " sets",
             h->counts[HIB_LZ77], h->counts[HIB_HUFFMAN], h->counts[HIB_STORED]);
    if (!rc)
        rc = r2d_image_add_note(ctx, img, "hiber.compression", v);
    return rc;
}

static int
hib_walk(struct r2d_ctx *ctx, struct hib_file *h, struct r2d_image *img, const uint8_t *head)
{
    const struct hib_profile *p = h->profile;
    uint64_t boot, kernel, boot_pages, kernel_pages;
    int rc;

    if (h->layout == HIB_LAYOUT_WIN7)
        return r2d_hib7_walk(ctx, h, img, r2d_le64(head + HIB7_OFF_FIRST_TABLE_PAGE));
    boot = r2d_le64(head + p->first_boot);
    kernel = r2d_le64(head + p->first_kernel);
    boot_pages = r2d_le64(head + HIB8_OFF_PAGES_FOR_LOADER);
    kernel_pages = r2d_le64(head + p->kernel_pages);
    R2D_CHECK((boot_pages && boot >= h->file_size / HIB_PAGE) || (kernel_pages && kernel >= h->file_size / HIB_PAGE),
              ctx, R2D_ETRUNC,
              "%s: restore sets at pages 0x%" PRIx64 " (boot) and 0x%" PRIx64
              " (kernel) lie past end of file (size 0x%" PRIx64 ")",
              h->path, boot, kernel, h->file_size);
    rc = r2d_hib8_walk(ctx, h, img, "boot", boot * HIB_PAGE, boot_pages);
    if (!rc)
        rc = r2d_hib8_walk(ctx, h, img, "kernel", kernel * HIB_PAGE, kernel_pages);
    return rc;
}

static int
hib_open_file(struct r2d_ctx *ctx, struct hib_file *h, struct r2d_image *img)
{
    uint8_t head[HIB_HEAD_BYTES];
    const size_t len = h->file_size < sizeof(head) ? (size_t)h->file_size : sizeof(head);
    const char *sig = NULL;
    int rc;

    memset(head, 0, sizeof(head));
    R2D_CHECK(h->file_size < HIB_PAGE, ctx, R2D_ETRUNC,
              "%s: offset 0x0: hibernation header page of 0x%x bytes runs past end of file (size 0x%" PRIx64 ")",
              h->path, HIB_PAGE, h->file_size);
    rc = r2d_bytesrc_read(ctx, h->in, 0, head, len, "hibernation header");
    if (!rc)
        rc = hib_detect(ctx, h, head, len, &sig);
    if (!rc)
        rc = hib_walk(ctx, h, img, head);
    if (!rc)
        rc = hib_flush_run(ctx, h, img);
    if (rc)
        return rc;
    R2D_CHECK(h->nsets == 0, ctx, R2D_EFORMAT, "%s: the restore tables list no pages", h->path);
    h->cache = r2d_alloc_io((size_t)HIB_CACHE_SETS * h->max_pages * HIB_PAGE);
    if (!h->cache)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the page-set cache", h->path);
    for (size_t i = 0; i < HIB_CACHE_SETS; i++)
        h->cache_set[i] = SIZE_MAX;
    rc = hib_add_notes(ctx, h, img, sig);
    if (!rc)
        rc = hib_add_cpu(ctx, h, img);
    if (!rc)
        r2d_log(ctx, R2D_LOG_INFO, "%s: hibernation file (%s), %" PRIu64 " pages in %zu sets", h->path,
                h->profile ? h->profile->windows : "Windows 7", h->npages, h->nsets);
    return rc;
}

static int
hiberfil_open(struct r2d_ctx *ctx, struct r2d_image *img)
{
    struct hib_file *h = calloc(1, sizeof(*h));
    int rc;

    if (!h)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", r2d_image_path(img));
    h->in = r2d_image_input(img);
    h->path = r2d_image_path(img);
    h->file_size = r2d_image_file_size(img);
    /* Attached first, so the image owns h (and frees it) whatever happens next. */
    rc = r2d_image_set_source(ctx, img, &r2d_hib_source_ops, h);
    return rc ? rc : hib_open_file(ctx, h, img);
}

const struct r2d_format r2d_format_hiberfil = {
    .name = "hiberfil",
    .summary = "Windows hibernation file (hiberfil.sys), Windows 7 and 8 to 11 x64; Xpress LZ77 and Huffman",
    .probe_bytes = 0x20,
    .probe = hiberfil_probe,
    .open = hiberfil_open,
};
