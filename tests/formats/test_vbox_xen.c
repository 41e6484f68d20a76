/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the VirtualBox core and Xen dump-core readers (formats/vbox_core.c, formats/xen_core.c) and
 * of the probes that keep them and the QEMU ELF reader apart. Inputs are built here from the producers'
 * layouts (docs/formats/vbox.md, xen.md), written independently of the readers: VirtualBox's DBGFCoreWrite
 * layout (ELF header, PT_NOTE, PT_LOADs with MMIO ranges without data, VBCORE + VBCPU notes, data) and Xen's
 * xg_core layout (section headers only, .note.Xen, .xen_prstatus, .xen_pages, .xen_pfn, .shstrtab last).
 */
#include "fmt_testutil.h"

#include "format.h"
#include "image.h"

#define PAGE 4096u

/* DBGFCORECPU offsets (dbgfcorefmt.h). */
enum {
    V_RAX = 0x00,
    V_RIP = 0x70,
    V_RSP = 0x78,
    V_RFLAGS = 0x88,
    V_CS = 0x90,
    V_GS = 0xF0,
    V_CR0 = 0x120,
    V_CR3 = 0x130,
    V_CR4 = 0x138,
    V_GDTR = 0x180,
    V_IDTR = 0x190,
    V_EFER = 0x1E8,
    V_KGS = 0x218,
    V_CPU_SIZE = 0x2248,
};

/* vcpu_guest_context (x86_64) offsets (public/arch-x86/xen.h, xen-x86_64.h). */
enum {
    X_FLAGS = 0x200,
    X_R15 = 0x208,
    X_RAX = 0x258,
    X_RIP = 0x288,
    X_CS = 0x290,
    X_RSP = 0x2A0,
    X_SS = 0x2A8,
    X_GS = 0x2C8,
    X_CR0 = 0x1378,
    X_CR3 = 0x1390,
    X_CR4 = 0x1398,
    X_FS_BASE = 0x1418,
    X_GS_KERNEL = 0x1420,
    X_GS_USER = 0x1428,
    X_CTX_SIZE = 0x1430,
};

static uint64_t
reg(unsigned k, unsigned off)
{
    return 0x2222000000000000ull * (k + 1) + 0x10000ull * off + 0x5a5a;
}

static uint8_t
pat(uint64_t pa)
{
    return (uint8_t)(pa * 7 ^ (pa >> 11) ^ 0x3c);
}

static void
put_ehdr(struct fmt_buf *b, uint64_t phoff, uint16_t phnum, uint64_t shoff, uint16_t shnum, uint16_t shstrndx)
{
    uint8_t *e = fmt_buf_at(b, 0, 64);

    memcpy(e,
           "\x7f"
           "ELF\x02\x01\x01",
           7);
    r2d_put_le16(e + 0x10, 4);
    r2d_put_le16(e + 0x12, 62);
    r2d_put_le32(e + 0x14, 1);
    r2d_put_le64(e + 0x20, phoff);
    r2d_put_le64(e + 0x28, shoff);
    r2d_put_le16(e + 0x34, 64);
    r2d_put_le16(e + 0x36, 56);
    r2d_put_le16(e + 0x38, phnum);
    r2d_put_le16(e + 0x3A, 64);
    r2d_put_le16(e + 0x3C, shnum);
    r2d_put_le16(e + 0x3E, shstrndx);
}

/* ---- VirtualBox */

struct vbox_spec {
    unsigned ncpus;
    uint32_t fmt_version;
    uint32_t desc_ncpus;
    uint32_t cpu_descsz;
    int two_descriptors;
};

static struct vbox_spec
vbox_default(void)
{
    return (struct vbox_spec){
        .ncpus = 2, .fmt_version = 0x00010006, .desc_ncpus = 2, .cpu_descsz = V_CPU_SIZE};
}

/* name (namesz without the NUL, as DBGFCoreWrite writes it), name and data padded to 8. */
static size_t
put_vbox_note(struct fmt_buf *b, size_t off, const char *name, uint32_t type, uint32_t descsz, size_t *desc)
{
    const size_t n = strlen(name), namepad = (n + 1 + 7) & ~(size_t)7, descpad = (descsz + 7) & ~(size_t)7;

    r2d_put_le32(fmt_buf_at(b, off, 4), (uint32_t)n);
    r2d_put_le32(fmt_buf_at(b, off + 4, 4), (uint32_t)descpad);
    r2d_put_le32(fmt_buf_at(b, off + 8, 4), type);
    memcpy(fmt_buf_at(b, off + 12, n), name, n);
    *desc = off + 12 + namepad;
    fmt_buf_at(b, *desc, descpad);
    return *desc + descpad;
}

static void
put_vbox_cpu(struct fmt_buf *b, size_t d, unsigned k)
{
    for (unsigned i = 0; i < 18; i++)
        r2d_put_le64(fmt_buf_at(b, d + 8 * i, 8), reg(k, 8 * i));
    r2d_put_le32(b->p + d + V_CS + 12, 0x209B); /* 64-bit code segment: L set */
    r2d_put_le16(b->p + d + V_CS + 16, k ? 0x33 : 0x10);
    r2d_put_le64(b->p + d + V_GS, reg(k, V_GS));
    r2d_put_le16(b->p + d + V_GS + 16, 0x2B);
    r2d_put_le64(b->p + d + V_CR0, 0x80050033);
    r2d_put_le64(b->p + d + V_CR3, 0x1000ull * (k + 1));
    r2d_put_le64(b->p + d + V_CR4, 0x6F8);
    r2d_put_le64(b->p + d + V_GDTR, reg(k, V_GDTR));
    r2d_put_le32(b->p + d + V_GDTR + 8, 0x57);
    r2d_put_le64(b->p + d + V_IDTR, reg(k, V_IDTR));
    r2d_put_le32(b->p + d + V_IDTR + 8, 0xFFF);
    r2d_put_le64(b->p + d + V_EFER, k == 0 ? 0xD01 : 0); /* LMA on CPU 0 only */
    r2d_put_le64(b->p + d + V_KGS, reg(k, V_KGS));
}

/* RAM [0, 0x2000) and [0x100000, 0x103000), MMIO [0xA0000, 0xC0000) without data between them. */
static struct fmt_buf
build_vbox(const struct vbox_spec *s, size_t *note_off)
{
    static const uint64_t pa[3] = {0, 0xA0000, 0x100000}, len[3] = {0x2000, 0x20000, 0x3000};
    struct fmt_buf b = {0};
    size_t off = 64 + 56 * 4, d;
    uint64_t data;

    *note_off = off;
    off = put_vbox_note(&b, off, "VBCORE", 0xB00, 24, &d);
    r2d_put_le32(b.p + d, 0xC01AC0DE);
    r2d_put_le32(b.p + d + 4, s->fmt_version);
    r2d_put_le32(b.p + d + 8, 24);
    r2d_put_le32(b.p + d + 12, (7u << 24) | 14);
    r2d_put_le32(b.p + d + 16, 161095);
    r2d_put_le32(b.p + d + 20, s->desc_ncpus);
    if (s->two_descriptors)
        off = put_vbox_note(&b, off, "VBCORE", 0xB00, 24, &d);
    for (unsigned k = 0; k < s->ncpus; k++) {
        off = put_vbox_note(&b, off, "VBCPU", 0xB01, s->cpu_descsz, &d);
        if (s->cpu_descsz >= 0x228)
            put_vbox_cpu(&b, d, k);
    }
    put_ehdr(&b, 64, 4, 0, 0, 0);
    r2d_put_le32(b.p + 64, 4); /* PT_NOTE */
    r2d_put_le64(b.p + 64 + 8, *note_off);
    r2d_put_le64(b.p + 64 + 0x20, off - *note_off);
    r2d_put_le64(b.p + 64 + 0x28, off - *note_off);
    data = off;
    for (unsigned i = 0; i < 3; i++) {
        uint8_t *ph = b.p + 64 + 56 * (i + 1);
        const uint64_t filesz = i == 1 ? 0 : len[i];

        r2d_put_le32(ph, 1);
        r2d_put_le64(ph + 8, data);
        r2d_put_le64(ph + 0x18, pa[i]);
        r2d_put_le64(ph + 0x20, filesz);
        r2d_put_le64(ph + 0x28, len[i]);
        for (uint64_t k = 0; k < filesz; k++)
            *fmt_buf_at(&b, data + k, 1) = pat(pa[i] + k);
        data += filesz;
    }
    return b;
}

static const char *
note_value(const struct r2d_image *img, const char *key)
{
    for (size_t i = 0; i < r2d_image_note_count(img); i++) {
        const char *k, *v;

        r2d_image_note(img, i, &k, &v);
        if (strcmp(k, key) == 0)
            return v;
    }
    return "";
}

static void
assert_memory(struct fmt_test *t, const struct r2d_image *img, uint64_t pa, size_t len)
{
    uint8_t *buf = malloc(len);

    assert_non_null(buf);
    if (r2d_image_read(t->ctx, img, pa, buf, len, R2D_HOLE_ERROR))
        fail_msg("%s", r2d_errmsg(t->ctx));
    for (size_t i = 0; i < len; i++)
        if (buf[i] != pat(pa + i))
            fail_msg("byte at physical 0x%" PRIx64 " differs", pa + i);
    free(buf);
}

static void
vbox_core_with_two_cpus_and_an_mmio_range_is_read(void **state)
{
    struct fmt_test *t = *state;
    const struct vbox_spec s = vbox_default();
    size_t note_off;
    struct fmt_buf b = build_vbox(&s, &note_off);
    struct r2d_image *img = NULL;
    const struct r2d_cpu_state *c0, *c1;

    if (r2d_format_open(t->ctx, fmt_test_write(t, "v.core", b.p, b.len), "auto", &img))
        fail_msg("%s", r2d_errmsg(t->ctx));
    assert_string_equal(r2d_image_format_name(img), "vbox");
    assert_int_equal(r2d_image_run_count(img), 2);
    assert_memory(t, img, 0, 0x2000);
    assert_memory(t, img, 0x100000, 0x3000);
    assert_false(r2d_image_covers(img, 0xA0000, 1));
    assert_int_equal(r2d_image_cpu_count(img), 2);
    c0 = r2d_image_cpu(img, 0);
    c1 = r2d_image_cpu(img, 1);
    assert_true(c0->rax == reg(0, V_RAX) && c0->rip == reg(0, V_RIP) && c0->rsp == reg(0, V_RSP));
    assert_true(c0->r15 == reg(0, 0x68) && c0->rbp == reg(0, 0x80) && c0->rflags == reg(0, V_RFLAGS));
    assert_true(c0->cr3 == 0x1000 && c1->cr3 == 0x2000 && c0->cr0 == 0x80050033 && c0->cr4 == 0x6F8);
    assert_true(c0->gs.base == reg(0, V_GS) && c0->gs.selector == 0x2B && c1->cs.selector == 0x33);
    assert_true(c0->kernel_gs_base == reg(0, V_KGS) && (c0->flags & R2D_CPU_HAVE_KGSBASE));
    assert_true(c0->idt.base == reg(0, V_IDTR) && c0->idt.limit == 0xFFF && c0->gdt.limit == 0x57);
    assert_int_equal(c0->cs.flags, 0x209B00); /* attributes where QEMU keeps them: bit 21 is L */
    assert_true(c0->flags & R2D_CPU_LONG_MODE);
    assert_false(c1->flags & R2D_CPU_LONG_MODE);
    assert_string_equal(note_value(img, "vbox.version"), "VirtualBox 7.0.14 r161095");
    assert_string_equal(note_value(img, "vbox.mmio_skipped"), "0xa0000-0xbffff");
    r2d_image_free(img);
    free(b.p);
}

static void
vbox_cpu_notes_of_other_format_versions_are_not_decoded(void **state)
{
    struct fmt_test *t = *state;
    struct vbox_spec s = vbox_default();
    size_t note_off;
    struct fmt_buf b;
    struct r2d_image *img = NULL;

    s.fmt_version = 0x00010000; /* raw CPUMCTX notes */
    s.cpu_descsz = 0x400;
    b = build_vbox(&s, &note_off);
    if (r2d_format_open(t->ctx, fmt_test_write(t, "v.core", b.p, b.len), "vbox", &img))
        fail_msg("%s", r2d_errmsg(t->ctx));
    assert_int_equal(r2d_image_cpu_count(img), 0);
    assert_non_null(strstr(note_value(img, "vbox.cpus"), "not decoded"));
    assert_int_equal(r2d_image_run_count(img), 2);
    r2d_image_free(img);
    free(b.p);
}

static void
vbox_descriptor_and_cpu_note_problems_are_refused(void **state)
{
    struct fmt_test *t = *state;
    struct vbox_spec s = vbox_default();
    size_t note_off;
    struct fmt_buf b;
    struct r2d_image *img = NULL;

    s.desc_ncpus = 3;
    b = build_vbox(&s, &note_off);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "v.core", b.p, b.len), "vbox", &img),
                     R2D_EFORMAT);
    assert_msg_has(t->ctx, "counts 3 CPUs but the file has 2 VBCPU notes");
    free(b.p);
    s = vbox_default();
    s.cpu_descsz = 0x100;
    b = build_vbox(&s, &note_off);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "v.core", b.p, b.len), "vbox", &img),
                     R2D_EFORMAT);
    assert_msg_has(t->ctx, "need at least 0x228");
    free(b.p);
    s = vbox_default();
    s.two_descriptors = 1;
    b = build_vbox(&s, &note_off);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "v.core", b.p, b.len), "vbox", &img),
                     R2D_EFORMAT);
    assert_msg_has(t->ctx, "a second VirtualBox core descriptor");
    /* the QEMU reader sends a VirtualBox core to its own reader */
    s = vbox_default();
    free(b.p);
    b = build_vbox(&s, &note_off);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "v.core", b.p, b.len), "elf", &img),
                     R2D_EFORMAT);
    assert_msg_has(t->ctx, "--input-format vbox");
    free(b.p);
}

/* ---- Xen */

struct xen_spec {
    uint64_t magic, page_size;
    const uint64_t *pfns;
    unsigned npfns;
    unsigned nvcpus;
    uint64_t pfn_size_cut; /* bytes taken off .xen_pfn's sh_size */
    int p2m;
    int x86_32; /* a 32-bit PAE guest: registers zero-extended, no GS bases, CR0.PG and CR4.PAE set */
};

static const uint64_t xen_pfns[] = {5, 0, 1, 0x100000, UINT64_MAX, 2}; /* out of order, one padding entry */

static struct xen_spec
xen_default(void)
{
    return (struct xen_spec){
        .magic = 0xF00FEBEE, .page_size = PAGE, .pfns = xen_pfns, .npfns = 6, .nvcpus = 3};
}

static void
put_xen_note(struct fmt_buf *b, size_t off, uint32_t type, uint32_t descsz)
{
    r2d_put_le32(fmt_buf_at(b, off, 4), 4);
    r2d_put_le32(fmt_buf_at(b, off + 4, 4), descsz);
    r2d_put_le32(fmt_buf_at(b, off + 8, 4), type);
    memcpy(fmt_buf_at(b, off + 12, 4), "Xen", 4);
}

/* vCPU 0 in ring 0, vCPU 1 in ring 3 (user mode), vCPU 2 offline. */
static void
put_xen_vcpu(struct fmt_buf *b, size_t d, unsigned k, int x86_32)
{
    uint8_t *c = fmt_buf_at(b, d, X_CTX_SIZE);

    r2d_put_le64(c + X_FLAGS, k == 2 ? 1 : 1 | (1u << 5));
    for (unsigned i = 0; i < 15; i++)
        r2d_put_le64(c + X_R15 + 8 * i, reg(k, X_R15 + 8 * i));
    r2d_put_le64(c + X_RIP, reg(k, X_RIP));
    r2d_put_le16(c + X_CS, k == 1 ? 0x33 : 0x10);
    r2d_put_le64(c + X_RSP, reg(k, X_RSP));
    r2d_put_le16(c + X_SS, k == 1 ? 0x2B : 0x18);
    r2d_put_le16(c + X_GS, 0x2B);
    r2d_put_le64(c + X_CR0, 0x80050033);
    r2d_put_le64(c + X_CR3, 0x1000ull * (k + 1));
    r2d_put_le64(c + X_CR4, 0x6F8);
    r2d_put_le64(c + X_FS_BASE, reg(k, X_FS_BASE));
    r2d_put_le64(c + X_GS_KERNEL, reg(k, X_GS_KERNEL));
    r2d_put_le64(c + X_GS_USER, reg(k, X_GS_USER));
    if (x86_32) {
        for (unsigned i = 0; i < 15; i++)
            r2d_put_le64(c + X_R15 + 8 * i, (uint32_t)reg(k, X_R15 + 8 * i));
        r2d_put_le64(c + X_RIP, (uint32_t)reg(k, X_RIP));
        r2d_put_le64(c + X_RSP, (uint32_t)reg(k, X_RSP));
        r2d_put_le16(c + X_CS, k == 1 ? 0x1B : 0x08);
        r2d_put_le64(c + X_FS_BASE, (uint32_t)reg(k, X_FS_BASE));
        r2d_put_le64(c + X_GS_KERNEL, 0);
        r2d_put_le64(c + X_GS_USER, 0);
    }
}

static void
put_shdr(struct fmt_buf *b, unsigned i, uint32_t name, uint32_t type, uint64_t off, uint64_t size,
         uint64_t ent)
{
    uint8_t *sh = fmt_buf_at(b, 64 + 64 * i, 64);

    r2d_put_le32(sh, name);
    r2d_put_le32(sh + 4, type);
    r2d_put_le64(sh + 0x18, off);
    r2d_put_le64(sh + 0x20, size);
    r2d_put_le64(sh + 0x38, ent);
}

static struct fmt_buf
build_xen(const struct xen_spec *s)
{
    static const char strtab[] = "\0.shstrtab\0.note.Xen\0.xen_prstatus\0.xen_pages\0.xen_pfn\0.xen_p2m";
    const size_t notes = 64 + 64 * 6, prs = notes + 16 + 16 + 32;
    const size_t pages = (prs + (size_t)s->nvcpus * X_CTX_SIZE + PAGE - 1) / PAGE * PAGE;
    const size_t pfn = pages + (size_t)s->npfns * PAGE, str = pfn + 8ull * s->npfns;
    struct fmt_buf b = {0};

    put_ehdr(&b, 0, 0, 64, 6, 1);
    put_shdr(&b, 1, 1, 3, str, sizeof(strtab), 0);
    put_shdr(&b, 2, 11, 7, notes, 64, 0);
    put_shdr(&b, 3, 21, 1, prs, (uint64_t)s->nvcpus * X_CTX_SIZE, X_CTX_SIZE);
    put_shdr(&b, 4, 35, 1, pages, (uint64_t)s->npfns * PAGE, PAGE);
    put_shdr(&b, 5, s->p2m ? 55 : 46, 1, pfn, 8ull * s->npfns - s->pfn_size_cut, 8);
    put_xen_note(&b, notes, 0x2000000, 0);
    put_xen_note(&b, notes + 16, 0x2000001, 32);
    r2d_put_le64(fmt_buf_at(&b, notes + 32, 8), s->magic);
    r2d_put_le64(fmt_buf_at(&b, notes + 40, 8), s->nvcpus);
    r2d_put_le64(fmt_buf_at(&b, notes + 48, 8), s->npfns);
    r2d_put_le64(fmt_buf_at(&b, notes + 56, 8), s->page_size);
    for (unsigned k = 0; k < s->nvcpus; k++)
        put_xen_vcpu(&b, prs + (size_t)k * X_CTX_SIZE, k, s->x86_32);
    for (unsigned i = 0; i < s->npfns; i++) {
        r2d_put_le64(fmt_buf_at(&b, pfn + 8 * i, 8), s->pfns[i]);
        for (unsigned k = 0; s->pfns[i] != UINT64_MAX && k < PAGE; k++)
            *fmt_buf_at(&b, pages + (size_t)i * PAGE + k, 1) = pat(s->pfns[i] * PAGE + k);
    }
    memcpy(fmt_buf_at(&b, str, sizeof(strtab)), strtab, sizeof(strtab));
    return b;
}

static void
xen_hvm_core_maps_pages_by_the_pfn_table(void **state)
{
    struct fmt_test *t = *state;
    const struct xen_spec s = xen_default();
    struct fmt_buf b = build_xen(&s);
    struct r2d_image *img = NULL;
    const struct r2d_cpu_state *c0, *c1;

    if (r2d_format_open(t->ctx, fmt_test_write(t, "x.core", b.p, b.len), "auto", &img))
        fail_msg("%s", r2d_errmsg(t->ctx));
    assert_string_equal(r2d_image_format_name(img), "xen");
    /* frames 0-1 (entries 1-2), 2 (entry 5: not next in the file), 5, 0x100000 */
    assert_int_equal(r2d_image_run_count(img), 4);
    assert_memory(t, img, 0, 3 * PAGE);
    assert_memory(t, img, 5 * PAGE, PAGE);
    assert_memory(t, img, 0x100000ull * PAGE, PAGE);
    assert_false(r2d_image_covers(img, 3 * PAGE, 1));
    assert_int_equal(r2d_image_cpu_count(img), 2); /* vCPU 2 is offline */
    c0 = r2d_image_cpu(img, 0);
    c1 = r2d_image_cpu(img, 1);
    assert_true(c0->rip == reg(0, X_RIP) && c0->rsp == reg(0, X_RSP) && c0->r15 == reg(0, X_R15));
    assert_true(c0->rax == reg(0, X_RAX) && c0->cr3 == 0x1000 && c1->cr3 == 0x2000 && c0->cr4 == 0x6F8);
    assert_true(c0->cs.selector == 0x10 && c0->ss.selector == 0x18 && c1->cs.selector == 0x33);
    assert_true(c0->fs.base == reg(0, X_FS_BASE));
    /* ring 0: gs_base_kernel is live; ring 3: gs_base_user is live and the kernel one swapped out */
    assert_true(c0->gs.base == reg(0, X_GS_KERNEL) && c0->kernel_gs_base == reg(0, X_GS_USER));
    assert_true(c1->gs.base == reg(1, X_GS_USER) && c1->kernel_gs_base == reg(1, X_GS_KERNEL));
    assert_true((c0->flags & R2D_CPU_LONG_MODE) && (c0->flags & R2D_CPU_HAVE_KGSBASE));
    assert_non_null(strstr(note_value(img, "xen.pages"), "1 padding pages"));
    assert_non_null(strstr(note_value(img, "xen.vcpus"), "1 offline"));
    r2d_image_free(img);
    free(b.p);
}

/*
 * An HVM context has no EFER and 64-bit slots for every guest: a 32-bit PAE guest runs with CR0.PG and CR4.PAE
 * as a 64-bit one does, and only registers above 4 GiB tell them apart.
 */
static void
xen_32bit_pae_guest_is_not_in_long_mode(void **state)
{
    struct fmt_test *t = *state;
    struct xen_spec s = xen_default();
    struct fmt_buf b;
    struct r2d_image *img = NULL;

    s.x86_32 = 1;
    b = build_xen(&s);
    if (r2d_format_open(t->ctx, fmt_test_write(t, "x32.core", b.p, b.len), "xen", &img))
        fail_msg("%s", r2d_errmsg(t->ctx));
    assert_int_equal(r2d_image_cpu_count(img), 2);
    for (size_t i = 0; i < 2; i++) {
        const struct r2d_cpu_state *c = r2d_image_cpu(img, i);

        assert_true((c->cr0 >> 31 & 1) && (c->cr4 & 0x20));
        assert_true(c->rip == (uint32_t)reg((unsigned)i, X_RIP) && c->fs.base == (uint32_t)reg((unsigned)i, X_FS_BASE));
        assert_false(c->flags & R2D_CPU_LONG_MODE);
    }
    r2d_image_free(img);
    free(b.p);
}

static void
xen_refusals(struct fmt_test *t, const struct xen_spec *s, int code, const char *needle)
{
    struct fmt_buf b = build_xen(s);
    struct r2d_image *img = NULL;

    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "x.core", b.p, b.len), "xen", &img), code);
    assert_msg_has(t->ctx, needle);
    free(b.p);
}

static void
xen_corrupt_and_pv_files_are_refused(void **state)
{
    struct fmt_test *t = *state;
    static const uint64_t dup[] = {0, 1, 2, 1};
    struct xen_spec s = xen_default();

    s.pfn_size_cut = 8;
    xen_refusals(t, &s, R2D_EFORMAT, "is shorter than .xen_pages (6 pages)");
    s = xen_default();
    s.pfns = dup;
    s.npfns = 4;
    xen_refusals(t, &s, R2D_EFORMAT, ".xen_pfn entries 1 and 3 both give frame 0x1");
    s = xen_default();
    s.magic = 0xF00FEBED;
    xen_refusals(t, &s, R2D_EUNSUPPORTED, "paravirtualised (PV)");
    s = xen_default();
    s.p2m = 1;
    xen_refusals(t, &s, R2D_EUNSUPPORTED, ".xen_p2m");
    s = xen_default();
    s.page_size = 8192;
    xen_refusals(t, &s, R2D_EUNSUPPORTED, "page size 8192");
    s = xen_default();
    s.magic = 0x1234;
    xen_refusals(t, &s, R2D_EFORMAT, "magic 0x1234");
}

/* ---- probes */

static void
assert_probes(const uint8_t *head, size_t len, int elf, int vbox, int xen)
{
    const char *why = NULL;

    assert_int_equal(r2d_format_find("elf")->probe(head, len, len, &why), elf);
    assert_int_equal(r2d_format_find("vbox")->probe(head, len, len, &why), vbox);
    assert_int_equal(r2d_format_find("xen")->probe(head, len, len, &why), xen);
}

static void
each_elf_core_has_one_most_confident_reader(void **state)
{
    const struct vbox_spec vs = vbox_default();
    const struct xen_spec xs = xen_default();
    size_t note_off;
    struct fmt_buf v = build_vbox(&vs, &note_off), x = build_xen(&xs);
    uint8_t plain[64] = {0};

    (void)state;
    assert_probes(v.p, v.len < 16384 ? v.len : 16384, R2D_PROBE_MAGIC, R2D_PROBE_SURE, R2D_PROBE_NO);
    assert_probes(x.p, 16384, R2D_PROBE_MAGIC, R2D_PROBE_NO, R2D_PROBE_SURE);
    memcpy(plain, v.p, 64); /* the same header with no program headers in the window */
    assert_probes(plain, sizeof(plain), R2D_PROBE_SURE, R2D_PROBE_NO, R2D_PROBE_NO);
    /* the descriptor beyond the head: left to the QEMU reader, which names the vbox one when it opens */
    assert_probes(v.p, note_off + 16, R2D_PROBE_SURE, R2D_PROBE_NO, R2D_PROBE_NO);
    free(v.p);
    free(x.p);
}

/* Flipped bytes in the headers and notes give an image or an error, never a crash (run under ASan). */
static void
random_corruption_never_crashes(void **state)
{
    struct fmt_test *t = *state;
    const struct vbox_spec vs = vbox_default();
    const struct xen_spec xs = xen_default();
    size_t note_off;
    struct fmt_buf files[2] = {build_vbox(&vs, &note_off), build_xen(&xs)};
    const size_t meta[2] = {note_off + 2 * 0x2260, 64 + 64 * 6 + 64 + 3 * X_CTX_SIZE};
    uint64_t seed = 11;

    for (int f = 0; f < 2; f++) {
        uint8_t *copy = malloc(files[f].len);

        assert_non_null(copy);
        for (int i = 0; i < 600; i++) {
            struct r2d_image *img = NULL;

            memcpy(copy, files[f].p, files[f].len);
            for (int k = 0; k < 1 + i % 4; k++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                copy[(seed >> 33) % (i % 2 ? 0x200 : meta[f])] ^= (uint8_t)(1u << ((seed >> 20) % 8));
            }
            if (r2d_format_open(t->ctx, fmt_test_write(t, "c.core", copy, files[f].len), f ? "xen" : "vbox",
                                &img) == 0)
                r2d_image_free(img);
            else
                assert_true(strlen(r2d_errmsg(t->ctx)) > 0);
        }
        free(copy);
        free(files[f].p);
    }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fmt_test_setup, fmt_test_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(vbox_core_with_two_cpus_and_an_mmio_range_is_read),
        T(vbox_cpu_notes_of_other_format_versions_are_not_decoded),
        T(vbox_descriptor_and_cpu_note_problems_are_refused),
        T(xen_hvm_core_maps_pages_by_the_pfn_table),
        T(xen_32bit_pae_guest_is_not_in_long_mode),
        T(xen_corrupt_and_pv_files_are_refused),
        T(each_elf_core_has_one_most_confident_reader),
        T(random_corruption_never_crashes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
