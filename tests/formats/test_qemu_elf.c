/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the QEMU ELF reader (formats/qemu_elf.c). Inputs are built here like QEMU 7.2 writes them:
 * a section header table at 0x40 (null + string table), program headers at 0xc0, e_ehsize 8, the PT_NOTE
 * first with CORE NT_PRSTATUS notes for every CPU, then QEMU notes, then VMCOREINFO; PT_LOAD data at
 * unaligned file offsets. Field offsets come from docs/formats/elf.md F3.
 */
#include "fmt_testutil.h"

#include <lzma.h>

#include "format.h"
#include "image.h"

/* QEMUCPUState offsets (docs/formats/elf.md F3), written independently of the reader. */
enum {
    Q_RAX = 0x08,
    Q_RBX = 0x10,
    Q_RCX = 0x18,
    Q_RDX = 0x20,
    Q_RSI = 0x28,
    Q_RDI = 0x30,
    Q_RSP = 0x38,
    Q_RBP = 0x40,
    Q_R8 = 0x48,
    Q_R9 = 0x50,
    Q_R10 = 0x58,
    Q_R11 = 0x60,
    Q_R12 = 0x68,
    Q_R13 = 0x70,
    Q_R14 = 0x78,
    Q_R15 = 0x80,
    Q_RIP = 0x88,
    Q_RFLAGS = 0x90,
    Q_CS = 0x98,
    Q_DS = 0xB0,
    Q_ES = 0xC8,
    Q_FS = 0xE0,
    Q_GS = 0xF8,
    Q_SS = 0x110,
    Q_LDT = 0x128,
    Q_TR = 0x140,
    Q_GDT = 0x158,
    Q_IDT = 0x170,
    Q_CR0 = 0x188,
    Q_CR1 = 0x190,
    Q_CR2 = 0x198,
    Q_CR3 = 0x1A0,
    Q_CR4 = 0x1A8,
    Q_KGS = 0x1B0,
};

struct load_spec {
    uint64_t pa, filesz, memsz, vaddr;
    int vaddr_set;
};

struct elf_spec {
    int class64; /* 1: ELFCLASS64 (default in elf_default) */
    uint16_t machine;
    unsigned ncpus;
    uint32_t qcs_descsz; /* note desc size of each QEMU note */
    uint32_t qcs_size;   /* the size field inside */
    uint32_t qcs_version;
    int no_qemu_notes;
    int xnum; /* write e_phnum = PN_XNUM, real count in section header 0 */
    int xnum_no_shdr;
    const struct load_spec *loads;
    unsigned nloads;
    unsigned empty_loads; /* extra PT_LOADs with p_filesz 0 */
};

/* Where the structures of the built file are, for truncation tests. */
struct elf_built {
    struct fmt_buf b;
    size_t phoff, phdr_end, note_off, note_end, first_desc, data_off;
    size_t load_off[8];
};

static const struct load_spec three_loads[] = {
    {0x100000, 0x3000, 0x3000, 0, 0},
    {0x0, 0x2000, 0x2000, 0, 0},
    {0x5000, 0x1801, 0x2000, 0, 0}, /* ends mid-page; the memsz tail is absent */
};

static struct elf_spec
elf_default(void)
{
    return (struct elf_spec){.class64 = 1,
                             .machine = 62,
                             .ncpus = 2,
                             .qcs_descsz = 0x1B8,
                             .qcs_size = 0x1B8,
                             .qcs_version = 1,
                             .loads = three_loads,
                             .nloads = 3};
}

static uint8_t
pat(uint64_t pa)
{
    return (uint8_t)(pa * 13 ^ (pa >> 9) ^ 0xc3);
}

/* A register value unique to CPU k and the field at offset off. */
static uint64_t
reg(unsigned k, unsigned off)
{
    return 0x1111000000000000ull * (k + 1) + 0x10000ull * off + 0xabcd;
}

static size_t
put_note(struct fmt_buf *b, size_t off, const char *name, uint32_t type, uint32_t descsz, size_t *desc_off)
{
    const uint32_t namesz = (uint32_t)strlen(name) + 1;
    const size_t namepad = (namesz + 3) & ~3u, descpad = (descsz + 3) & ~3u;

    r2d_put_le32(fmt_buf_at(b, off, 4), namesz);
    r2d_put_le32(fmt_buf_at(b, off + 4, 4), descsz);
    r2d_put_le32(fmt_buf_at(b, off + 8, 4), type);
    memcpy(fmt_buf_at(b, off + 12, namesz), name, namesz);
    *desc_off = off + 12 + namepad;
    fmt_buf_at(b, *desc_off, descpad);
    return *desc_off + descpad;
}

static void
put_qcs(struct fmt_buf *b, size_t d, const struct elf_spec *s, unsigned k)
{
    static const unsigned regs[] = {Q_RAX, Q_RBX,    Q_RCX, Q_RDX, Q_RSI, Q_RDI, Q_RSP, Q_RBP,
                                    Q_R8,  Q_R9,     Q_R10, Q_R11, Q_R12, Q_R13, Q_R14, Q_R15,
                                    Q_RIP, Q_RFLAGS, Q_CR0, Q_CR1, Q_CR2, Q_CR3, Q_CR4};
    static const unsigned segs[] = {Q_CS, Q_DS, Q_ES, Q_FS, Q_GS, Q_SS, Q_LDT, Q_TR, Q_GDT, Q_IDT};

    r2d_put_le32(fmt_buf_at(b, d, 4), s->qcs_version);
    r2d_put_le32(fmt_buf_at(b, d + 4, 4), s->qcs_size);
    for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
        r2d_put_le64(fmt_buf_at(b, d + regs[i], 8), reg(k, regs[i]));
    for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
        r2d_put_le32(fmt_buf_at(b, d + segs[i], 4), (uint32_t)reg(k, segs[i]) & 0xffff);
        r2d_put_le32(fmt_buf_at(b, d + segs[i] + 4, 4), (uint32_t)reg(k, segs[i] + 4));
        r2d_put_le32(fmt_buf_at(b, d + segs[i] + 8, 4), (uint32_t)reg(k, segs[i] + 8));
        r2d_put_le32(fmt_buf_at(b, d + segs[i] + 12, 4), 0xdeadbeef); /* padding */
        r2d_put_le64(fmt_buf_at(b, d + segs[i] + 16, 8), reg(k, segs[i] + 16));
    }
    if (s->qcs_descsz >= 0x1B8)
        r2d_put_le64(fmt_buf_at(b, d + Q_KGS, 8), reg(k, Q_KGS));
}

static void
put_word(struct fmt_buf *b, const struct elf_spec *s, size_t off, uint64_t v)
{
    if (s->class64)
        r2d_put_le64(fmt_buf_at(b, off, 8), v);
    else
        r2d_put_le32(fmt_buf_at(b, off, 4), (uint32_t)v);
}

/* Program header i: type, offset, vaddr, paddr, filesz, memsz in the class's layout. */
static void
put_phdr(struct fmt_buf *b, const struct elf_spec *s, size_t at, uint32_t type, uint64_t off, uint64_t va,
         uint64_t pa, uint64_t filesz, uint64_t memsz)
{
    r2d_put_le32(fmt_buf_at(b, at, 4), type);
    if (s->class64) {
        put_word(b, s, at + 0x08, off);
        put_word(b, s, at + 0x10, va);
        put_word(b, s, at + 0x18, pa);
        put_word(b, s, at + 0x20, filesz);
        put_word(b, s, at + 0x28, memsz);
        fmt_buf_at(b, at, 56);
    } else {
        put_word(b, s, at + 0x04, off);
        put_word(b, s, at + 0x08, va);
        put_word(b, s, at + 0x0C, pa);
        put_word(b, s, at + 0x10, filesz);
        put_word(b, s, at + 0x14, memsz);
        fmt_buf_at(b, at, 32);
    }
}

static struct elf_built
build_elf(const struct elf_spec *s)
{
    struct elf_built e = {0};
    struct fmt_buf *b = &e.b;
    const size_t phent = s->class64 ? 56 : 32, shent = s->class64 ? 64 : 40;
    const size_t shoff = s->class64 ? 0x40 : 0x34;
    const unsigned phnum = 1 + s->nloads + s->empty_loads;
    size_t off, d;

    memcpy(fmt_buf_at(b, 0, 4),
           "\x7f"
           "ELF",
           4);
    *fmt_buf_at(b, 4, 1) = s->class64 ? 2 : 1;
    *fmt_buf_at(b, 5, 1) = 1;
    *fmt_buf_at(b, 6, 1) = 1;
    r2d_put_le16(fmt_buf_at(b, 0x10, 2), 4);
    r2d_put_le16(fmt_buf_at(b, 0x12, 2), s->machine);
    r2d_put_le32(fmt_buf_at(b, 0x14, 4), 1);
    e.phoff = shoff + 2 * shent;
    if (s->class64) {
        r2d_put_le64(fmt_buf_at(b, 0x20, 8), e.phoff);
        r2d_put_le64(fmt_buf_at(b, 0x28, 8), s->xnum_no_shdr ? 0 : shoff);
        r2d_put_le16(fmt_buf_at(b, 0x34, 2), 8); /* e_ehsize as QEMU 7.2 writes it */
        r2d_put_le16(fmt_buf_at(b, 0x36, 2), (uint16_t)phent);
        r2d_put_le16(fmt_buf_at(b, 0x38, 2), s->xnum ? 0xFFFF : (uint16_t)phnum);
        r2d_put_le16(fmt_buf_at(b, 0x3A, 2), (uint16_t)shent);
        r2d_put_le16(fmt_buf_at(b, 0x3C, 2), 2);
        r2d_put_le16(fmt_buf_at(b, 0x3E, 2), 1);
    } else {
        r2d_put_le32(fmt_buf_at(b, 0x1C, 4), (uint32_t)e.phoff);
        r2d_put_le32(fmt_buf_at(b, 0x20, 4), s->xnum_no_shdr ? 0 : (uint32_t)shoff);
        r2d_put_le16(fmt_buf_at(b, 0x28, 2), 8);
        r2d_put_le16(fmt_buf_at(b, 0x2A, 2), (uint16_t)phent);
        r2d_put_le16(fmt_buf_at(b, 0x2C, 2), s->xnum ? 0xFFFF : (uint16_t)phnum);
        r2d_put_le16(fmt_buf_at(b, 0x2E, 2), (uint16_t)shent);
        r2d_put_le16(fmt_buf_at(b, 0x30, 2), 2);
        r2d_put_le16(fmt_buf_at(b, 0x32, 2), 1);
    }
    /* section header 0: sh_info = real phnum (PN_XNUM); section 1 = string table, placed at the end later */
    fmt_buf_at(b, shoff, 2 * shent);
    r2d_put_le32(fmt_buf_at(b, shoff + (s->class64 ? 0x2C : 0x1C), 4), phnum);

    e.phdr_end = e.phoff + phnum * phent;
    e.note_off = e.phdr_end;
    off = e.note_off;
    for (unsigned k = 0; k < s->ncpus; k++) {
        off = put_note(b, off, "CORE", 1, 336, &d);
        r2d_put_le32(fmt_buf_at(b, d + 0x20, 4), k + 1); /* pr_pid */
        if (k == 0)
            e.first_desc = d;
    }
    for (unsigned k = 0; k < s->ncpus && !s->no_qemu_notes; k++) {
        off = put_note(b, off, "QEMU", 0, s->qcs_descsz, &d);
        put_qcs(b, d, s, k);
    }
    off = put_note(b, off, "VMCOREINFO", 0, 25, &d);
    memcpy(fmt_buf_at(b, d, 25), "OSRELEASE=10.0.20348.587\n", 25);
    e.note_end = off;
    put_phdr(b, s, e.phoff, 4, e.note_off, 0, 0, e.note_end - e.note_off, e.note_end - e.note_off);

    off = e.note_end + 0x10; /* unaligned data, like QEMU's 0x3d8 */
    e.data_off = off;
    for (unsigned i = 0; i < s->nloads; i++) {
        const struct load_spec *l = &s->loads[i];
        uint8_t *p = fmt_buf_at(b, off, l->filesz);

        for (uint64_t k = 0; k < l->filesz; k++)
            p[k] = pat(l->pa + k);
        e.load_off[i] = off;
        put_phdr(b, s, e.phoff + (1 + i) * phent, 1, off, l->vaddr_set ? l->vaddr : l->pa, l->pa, l->filesz,
                 l->memsz);
        off += l->filesz;
    }
    for (unsigned i = 0; i < s->empty_loads; i++)
        put_phdr(b, s, e.phoff + (1 + s->nloads + i) * phent, 1, off, 0xa0000, 0xa0000, 0, 0x20000);
    /* the string table QEMU appends */
    memcpy(fmt_buf_at(b, off, 11), "\0.shstrtab", 11);
    return e;
}

static const char *
write_elf(struct fmt_test *t, const struct elf_spec *s, struct elf_built *out)
{
    struct elf_built e = build_elf(s);
    const char *path = fmt_test_write(t, "dump.elf", e.b.p, e.b.len);

    if (out)
        *out = e;
    else
        free(e.b.p);
    return path;
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
    return NULL;
}

static void
check_segment(const struct r2d_segment *seg, unsigned k, unsigned off)
{
    assert_int_equal(seg->selector, (uint32_t)reg(k, off) & 0xffff);
    assert_int_equal(seg->limit, (uint32_t)reg(k, off + 4));
    assert_int_equal(seg->flags, (uint32_t)reg(k, off + 8));
    assert_int_equal(seg->base, reg(k, off + 16));
}

static void
check_cpu(const struct r2d_cpu_state *c, unsigned k, int have_kgs)
{
    assert_int_equal(c->flags & R2D_CPU_LONG_MODE, R2D_CPU_LONG_MODE);
    assert_int_equal(!!(c->flags & R2D_CPU_HAVE_KGSBASE), have_kgs);
    assert_int_equal(c->rax, reg(k, Q_RAX));
    assert_int_equal(c->rbx, reg(k, Q_RBX));
    assert_int_equal(c->rcx, reg(k, Q_RCX));
    assert_int_equal(c->rdx, reg(k, Q_RDX));
    assert_int_equal(c->rsi, reg(k, Q_RSI));
    assert_int_equal(c->rdi, reg(k, Q_RDI));
    assert_int_equal(c->rsp, reg(k, Q_RSP));
    assert_int_equal(c->rbp, reg(k, Q_RBP));
    assert_int_equal(c->r8, reg(k, Q_R8));
    assert_int_equal(c->r9, reg(k, Q_R9));
    assert_int_equal(c->r10, reg(k, Q_R10));
    assert_int_equal(c->r11, reg(k, Q_R11));
    assert_int_equal(c->r12, reg(k, Q_R12));
    assert_int_equal(c->r13, reg(k, Q_R13));
    assert_int_equal(c->r14, reg(k, Q_R14));
    assert_int_equal(c->r15, reg(k, Q_R15));
    assert_int_equal(c->rip, reg(k, Q_RIP));
    assert_int_equal(c->rflags, reg(k, Q_RFLAGS));
    check_segment(&c->cs, k, Q_CS);
    check_segment(&c->ds, k, Q_DS);
    check_segment(&c->es, k, Q_ES);
    check_segment(&c->fs, k, Q_FS);
    check_segment(&c->gs, k, Q_GS);
    check_segment(&c->ss, k, Q_SS);
    check_segment(&c->ldt, k, Q_LDT);
    check_segment(&c->tr, k, Q_TR);
    check_segment(&c->gdt, k, Q_GDT);
    check_segment(&c->idt, k, Q_IDT);
    assert_int_equal(c->cr0, reg(k, Q_CR0));
    assert_int_equal(c->cr2, reg(k, Q_CR2));
    assert_int_equal(c->cr3, reg(k, Q_CR3));
    assert_int_equal(c->cr4, reg(k, Q_CR4));
    assert_int_equal(c->kernel_gs_base, have_kgs ? reg(k, Q_KGS) : 0);
}

static void
check_runs(struct fmt_test *t, struct r2d_image *img, const struct elf_built *e, const struct elf_spec *s)
{
    /* sorted: 0x0 (load 1), 0x5000 (load 2), 0x100000 (load 0) */
    static const unsigned order[] = {1, 2, 0};

    assert_int_equal(r2d_image_run_count(img), 3);
    for (unsigned i = 0; i < 3; i++) {
        const struct r2d_run *r = r2d_image_run(img, i);
        const struct load_spec *l = &s->loads[order[i]];
        uint8_t buf[0x3000];

        assert_int_equal(r->pa, l->pa);
        assert_int_equal(r->len, l->filesz);
        assert_int_equal(r->off, e->load_off[order[i]]);
        assert_null(r->ops);
        assert_int_equal(r2d_image_read(t->ctx, img, l->pa, buf, (size_t)l->filesz, R2D_HOLE_ERROR), 0);
        for (uint64_t k = 0; k < l->filesz; k++)
            assert_int_equal(buf[k], pat(l->pa + k));
    }
    /* the memsz - filesz tail of load 2 is a hole */
    assert_false(r2d_image_covers(img, 0x5000 + 0x1801, 1));
}

static void
qemu72_layout_two_cpus_three_loads_out_of_order(void **state)
{
    struct fmt_test *t = *state;
    const struct elf_spec s = elf_default();
    struct elf_built e;
    const char *path = write_elf(t, &s, &e);
    struct r2d_image *img = NULL;

    assert_int_equal(e.phoff, 0xC0);
    assert_true(e.data_off % 4096 != 0);
    if (r2d_format_open(t->ctx, path, "auto", &img))
        fail_msg("%s", r2d_errmsg(t->ctx));
    assert_string_equal(r2d_image_format_name(img), "elf");
    check_runs(t, img, &e, &s);
    assert_int_equal(r2d_image_cpu_count(img), 2);
    check_cpu(r2d_image_cpu(img, 0), 0, 1);
    check_cpu(r2d_image_cpu(img, 1), 1, 1);
    assert_string_equal(note_value(img, "elf.machine"), "EM_X86_64");
    assert_string_equal(note_value(img, "elf.class"), "ELFCLASS64");
    assert_string_equal(note_value(img, "elf.cpus"), "2");
    assert_string_equal(note_value(img, "elf.prstatus"), "2");
    assert_non_null(strstr(note_value(img, "elf.notes"), "VMCOREINFO x1"));
    assert_non_null(strstr(note_value(img, "elf.segments"), "3 PT_LOAD"));
    assert_non_null(note_value(img, "elf.memsz_tail"));
    assert_null(note_value(img, "elf.cpu_state"));
    r2d_image_free(img);
    free(e.b.p);
}

static void
elfclass32_cores_are_decoded_too(void **state)
{
    struct fmt_test *t = *state;
    struct elf_spec s = elf_default();
    struct elf_built e;
    struct r2d_image *img = NULL;

    s.class64 = 0;
    if (r2d_format_open(t->ctx, write_elf(t, &s, &e), "elf", &img))
        fail_msg("%s", r2d_errmsg(t->ctx));
    check_runs(t, img, &e, &s);
    check_cpu(r2d_image_cpu(img, 1), 1, 1);
    assert_string_equal(note_value(img, "elf.class"), "ELFCLASS32");
    r2d_image_free(img);
    free(e.b.p);
}

static void
pn_xnum_takes_the_count_from_section_header_0(void **state)
{
    struct fmt_test *t = *state;
    struct elf_spec s = elf_default();
    struct elf_built e;
    struct r2d_image *img = NULL;

    s.xnum = 1;
    s.empty_loads = 2;
    if (r2d_format_open(t->ctx, write_elf(t, &s, &e), "elf", &img))
        fail_msg("%s", r2d_errmsg(t->ctx));
    check_runs(t, img, &e, &s);
    assert_non_null(strstr(note_value(img, "elf.segments"), "PN_XNUM"));
    assert_non_null(strstr(note_value(img, "elf.segments"), "2 empty PT_LOAD skipped"));
    r2d_image_free(img);
    free(e.b.p);

    s.xnum_no_shdr = 1;
    assert_int_equal(r2d_format_open(t->ctx, write_elf(t, &s, NULL), "elf", &img), R2D_EFORMAT);
    assert_msg_has(t->ctx, "PN_XNUM");
}

/* A 32-bit guest: EM_386 in either class; its QEMU notes become CPUs that are not in long mode. */
static void
em_386_cores_open_as_32_bit_guests(void **state)
{
    struct fmt_test *t = *state;
    struct r2d_image *img = NULL;

    for (int class64 = 0; class64 <= 1; class64++) {
        struct elf_spec s = elf_default();
        struct elf_built e;

        s.machine = 3;
        s.class64 = class64;
        if (r2d_format_open(t->ctx, write_elf(t, &s, &e), "auto", &img))
            fail_msg("class64 %d: %s", class64, r2d_errmsg(t->ctx));
        check_runs(t, img, &e, &s);
        assert_int_equal(r2d_image_cpu_count(img), 2);
        for (unsigned k = 0; k < 2; k++) {
            const struct r2d_cpu_state *c = r2d_image_cpu(img, k);

            assert_int_equal(c->flags & R2D_CPU_LONG_MODE, 0);
            assert_int_equal(c->rip, reg(k, Q_RIP));
            assert_int_equal(c->cr3, reg(k, Q_CR3));
            assert_int_equal(c->fs.base, reg(k, Q_FS + 0x10));
        }
        assert_string_equal(note_value(img, "elf.machine"), "EM_386");
        assert_string_equal(note_value(img, "elf.class"), class64 ? "ELFCLASS64" : "ELFCLASS32");
        assert_non_null(strstr(note_value(img, "elf.guest"), "32-bit"));
        r2d_image_free(img);
        free(e.b.p);
        img = NULL;
    }
    {
        struct elf_spec s = elf_default();

        s.machine = 183; /* EM_AARCH64 */
        assert_int_equal(r2d_format_open(t->ctx, write_elf(t, &s, NULL), "auto", &img), R2D_EUNSUPPORTED);
        assert_null(img);
        assert_msg_has(t->ctx, t->path);
        assert_msg_has(t->ctx, "e_machine 183");
    }
}

/* Unpack the real QEMU 7.2 file with liblzma. */
static int
unxz(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    lzma_stream zs = LZMA_STREAM_INIT;
    uint8_t ib[65536], ob[65536];
    lzma_ret ret = LZMA_OK;

    if (!in || !out || lzma_stream_decoder(&zs, UINT64_MAX, 0) != LZMA_OK)
        return -1;
    while (ret == LZMA_OK) {
        if (zs.avail_in == 0) {
            zs.next_in = ib;
            zs.avail_in = fread(ib, 1, sizeof(ib), in);
        }
        zs.next_out = ob;
        zs.avail_out = sizeof(ob);
        ret = lzma_code(&zs, zs.avail_in ? LZMA_RUN : LZMA_FINISH);
        if (fwrite(ob, 1, sizeof(ob) - zs.avail_out, out) != sizeof(ob) - zs.avail_out)
            ret = LZMA_PROG_ERROR;
    }
    lzma_end(&zs);
    fclose(in);
    return fclose(out) == 0 && ret == LZMA_STREAM_END ? 0 : -1;
}

/* The real QEMU 7.2 dump of a SeaBIOS guest (CPU 0 in real mode): EM_386, read as a 32-bit guest's core. */
static void
real_qemu_seabios_dump_opens_as_em_386(void **state)
{
    struct fmt_test *t = *state;
    const char *root = getenv("R2D_SOURCE_ROOT");
    char xz[1024], elf[600];
    struct r2d_image *img = NULL;

    if (!root)
        skip();
    snprintf(xz, sizeof(xz), "%s/tests/data/qemu/seabios-32M-dump-guest-memory.elf.xz", root);
    snprintf(elf, sizeof(elf), "%s/seabios.elf", t->dir);
    assert_int_equal(unxz(xz, elf), 0);
    /* the two PT_LOADs readelf shows and one CPU with a full 0x1b8-byte QEMUCPUState */
    {
        const struct r2d_cpu_state *c;

        if (r2d_format_open(t->ctx, elf, "auto", &img))
            fail_msg("%s", r2d_errmsg(t->ctx));
        assert_string_equal(note_value(img, "elf.machine"), "EM_386");
        assert_int_equal(r2d_image_run_count(img), 2);
        assert_int_equal(r2d_image_run(img, 0)->pa, 0);
        assert_int_equal(r2d_image_run(img, 0)->len, 0x2000000);
        assert_int_equal(r2d_image_run(img, 0)->off, 0x3d8);
        assert_int_equal(r2d_image_run(img, 1)->pa, 0xfffc0000);
        assert_int_equal(r2d_image_run(img, 1)->len, 0x40000);
        assert_int_equal(r2d_image_cpu_count(img), 1);
        c = r2d_image_cpu(img, 0);
        assert_int_equal(c->flags & R2D_CPU_HAVE_KGSBASE, R2D_CPU_HAVE_KGSBASE);
        assert_int_equal(c->rip, 0xb7b9); /* bytes at desc + 0x88 in the file */
        assert_int_equal(c->rflags, 0x246);
        assert_int_equal(c->cs.selector, 0xf000);
        assert_int_equal(c->cr0, 0x10);
        assert_int_equal(c->flags & R2D_CPU_LONG_MODE, 0);
        /* ELFCLASS64 although RAM is 32 MiB: the BIOS run [0xfffc0000, 4 GiB) ends past UINT_MAX, which is
         * QEMU's test for the class, so a pc machine's i386 core is always ELFCLASS64. */
        assert_string_equal(note_value(img, "elf.class"), "ELFCLASS64");
        r2d_image_free(img);
    }
}

static void
truncated_files_fail_at_every_structural_boundary(void **state)
{
    struct fmt_test *t = *state;
    const struct elf_spec s = elf_default();
    struct elf_built e = build_elf(&s);
    const size_t cuts[] = {0,
                           3,
                           0x13,
                           0x30,
                           0x3f,
                           0x40,
                           0xC0,
                           0xC0 + 30,
                           e.phdr_end - 1,
                           e.note_off + 6,
                           e.first_desc + 100,
                           e.note_end - 1,
                           e.data_off + 5,
                           e.load_off[1] + 0x1000,
                           e.load_off[2] + 0x1800};

    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        struct r2d_image *img = NULL;
        const int rc = r2d_format_open(t->ctx, fmt_test_write(t, "cut.elf", e.b.p, cuts[i]), "elf", &img);

        if (rc == 0)
            fail_msg("cut at 0x%zx accepted", cuts[i]);
        assert_null(img);
        assert_msg_has(t->ctx, t->path);
    }
    /* and every length up to the end of the notes, for the crash-freedom of each field */
    for (size_t n = 0; n < e.note_end; n++) {
        struct r2d_image *img = NULL;

        assert_int_not_equal(r2d_format_open(t->ctx, fmt_test_write(t, "cut.elf", e.b.p, n), "elf", &img), 0);
    }
    /* the PT_LOAD message names the segment and its offset */
    {
        struct r2d_image *img = NULL;

        assert_int_equal(
            r2d_format_open(t->ctx, fmt_test_write(t, "cut.elf", e.b.p, e.load_off[2] + 0x10), "elf", &img),
            R2D_ETRUNC);
        assert_msg_has(t->ctx, "PT_LOAD segment 3");
        {
            char off[64];

            snprintf(off, sizeof(off), "offset 0x%zx", e.load_off[2]);
            assert_msg_has(t->ctx, off);
        }
    }
    free(e.b.p);
}

static void
qemu_cpu_state_of_0x1b0_bytes_has_no_kernel_gs_base(void **state)
{
    struct fmt_test *t = *state;
    struct elf_spec s = elf_default();
    struct elf_built e;
    struct r2d_image *img = NULL;

    s.qcs_descsz = s.qcs_size = 0x1B0;
    if (r2d_format_open(t->ctx, write_elf(t, &s, &e), "elf", &img))
        fail_msg("%s", r2d_errmsg(t->ctx));
    assert_int_equal(r2d_image_cpu_count(img), 2);
    check_cpu(r2d_image_cpu(img, 0), 0, 0);
    check_cpu(r2d_image_cpu(img, 1), 1, 0);
    r2d_image_free(img);
    free(e.b.p);

    /* the size field says 0x1b0 though the note is longer: min(size, descsz) */
    s.qcs_descsz = 0x1B8;
    s.qcs_size = 0x1B0;
    if (r2d_format_open(t->ctx, write_elf(t, &s, NULL), "elf", &img))
        fail_msg("%s", r2d_errmsg(t->ctx));
    assert_int_equal(r2d_image_cpu(img, 0)->flags & R2D_CPU_HAVE_KGSBASE, 0);
    r2d_image_free(img);
}

static void
qemu_cpu_state_with_bad_version_or_size_is_refused(void **state)
{
    struct fmt_test *t = *state;
    struct elf_spec s = elf_default();
    struct r2d_image *img = NULL;

    s.qcs_version = 2;
    assert_int_equal(r2d_format_open(t->ctx, write_elf(t, &s, NULL), "elf", &img), R2D_EUNSUPPORTED);
    assert_msg_has(t->ctx, "QEMU CPU state version 2");
    s.qcs_version = 1;
    s.qcs_size = 0x100;
    assert_int_equal(r2d_format_open(t->ctx, write_elf(t, &s, NULL), "elf", &img), R2D_EFORMAT);
    assert_msg_has(t->ctx, "size field 0x100");
    s.qcs_size = s.qcs_descsz = 0x1A0;
    assert_int_equal(r2d_format_open(t->ctx, write_elf(t, &s, NULL), "elf", &img), R2D_EFORMAT);
    assert_msg_has(t->ctx, "note of 0x1a0 bytes");
}

static void
no_qemu_notes_means_zero_cpus(void **state)
{
    struct fmt_test *t = *state;
    struct elf_spec s = elf_default();
    struct r2d_image *img = NULL;

    s.no_qemu_notes = 1;
    if (r2d_format_open(t->ctx, write_elf(t, &s, NULL), "elf", &img))
        fail_msg("%s", r2d_errmsg(t->ctx));
    assert_int_equal(r2d_image_cpu_count(img), 0);
    assert_null(r2d_image_cpu(img, 0));
    assert_string_equal(note_value(img, "elf.cpu_state"), "none");
    assert_int_equal(r2d_image_run_count(img), 3);
    r2d_image_free(img);
}

static void
overlapping_pt_loads_are_refused_naming_both(void **state)
{
    struct fmt_test *t = *state;
    const struct load_spec loads[] = {
        {0x100000, 0x3000, 0x3000, 0, 0}, {0x0, 0x2000, 0x2000, 0, 0}, {0x101000, 0x1000, 0x1000, 0, 0}};
    struct elf_spec s = elf_default();
    struct r2d_image *img = NULL;

    s.loads = loads;
    assert_int_equal(r2d_format_open(t->ctx, write_elf(t, &s, NULL), "elf", &img), R2D_EFORMAT);
    assert_msg_has(t->ctx,
                   "PT_LOAD segments 1 (physical 0x100000-0x102fff) and 3 (physical 0x101000-0x101fff) "
                   "overlap");
}

static void
paging_dumps_are_refused(void **state)
{
    struct fmt_test *t = *state;
    const struct load_spec loads[] = {{0x1000, 0x1000, 0x1000, 0xfffff80000001000ull, 1},
                                      {0x2000, 0x1000, 0x1000, 0xfffff80000400000ull, 1},
                                      {0x1000, 0x1000, 0x1000, 0xfffff80000800000ull, 1}};
    struct elf_spec s = elf_default();
    struct r2d_image *img = NULL;

    s.loads = loads;
    assert_int_equal(r2d_format_open(t->ctx, write_elf(t, &s, NULL), "elf", &img), R2D_EUNSUPPORTED);
    assert_msg_has(t->ctx, "paging dump (dump-guest-memory -p)");
    s.loads = loads + 1; /* no overlap, but every p_vaddr is virtual */
    s.nloads = 2;
    assert_int_equal(r2d_format_open(t->ctx, write_elf(t, &s, NULL), "elf", &img), R2D_EUNSUPPORTED);
    assert_msg_has(t->ctx, "paging dump");
}

static void
bad_segments_are_refused(void **state)
{
    struct fmt_test *t = *state;
    const struct load_spec bigger[] = {{0x1000, 0x2000, 0x1000, 0, 0}};
    struct elf_spec s = elf_default();
    struct elf_built e;
    struct r2d_image *img = NULL;

    s.loads = bigger;
    s.nloads = 1;
    assert_int_equal(r2d_format_open(t->ctx, write_elf(t, &s, NULL), "elf", &img), R2D_EFORMAT);
    assert_msg_has(t->ctx, "p_filesz 0x2000 larger than p_memsz 0x1000");

    /* a note whose descsz runs past its segment */
    s = elf_default();
    e = build_elf(&s);
    r2d_put_le32(e.b.p + e.note_off + 4, 0x10000);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "n.elf", e.b.p, e.b.len), "elf", &img),
                     R2D_EFORMAT);
    assert_msg_has(t->ctx, "runs past the end of PT_NOTE segment 0");
    /* a program header table beyond the file */
    r2d_put_le64(e.b.p + 0x20, e.b.len - 10);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "p.elf", e.b.p, e.b.len), "elf", &img),
                     R2D_ETRUNC);
    assert_msg_has(t->ctx, "program header table");
    r2d_put_le64(e.b.p + 0x20, UINT64_MAX - 8);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "p.elf", e.b.p, e.b.len), "elf", &img),
                     R2D_ETRUNC);
    r2d_put_le64(e.b.p + 0x20, 0xC0);
    r2d_put_le16(e.b.p + 0x36, 64);
    assert_int_equal(r2d_format_open(t->ctx, fmt_test_write(t, "p.elf", e.b.p, e.b.len), "elf", &img),
                     R2D_EFORMAT);
    assert_msg_has(t->ctx, "e_phentsize 64");
    free(e.b.p);
}

static void
a_core_without_memory_is_refused(void **state)
{
    struct fmt_test *t = *state;
    struct elf_spec s = elf_default();
    struct r2d_image *img = NULL;

    s.nloads = 0;
    s.empty_loads = 1;
    assert_int_equal(r2d_format_open(t->ctx, write_elf(t, &s, NULL), "elf", &img), R2D_EFORMAT);
    assert_msg_has(t->ctx, "no PT_LOAD segment with data");
}

/* Flipped bytes in the headers and notes give an image or an error, never a crash (run under ASan). */
static void
random_corruption_of_the_metadata_never_crashes(void **state)
{
    struct fmt_test *t = *state;
    const struct elf_spec s = elf_default();
    struct elf_built e = build_elf(&s);
    uint8_t *copy = malloc(e.b.len);
    uint64_t seed = 7;

    assert_non_null(copy);
    for (int i = 0; i < 1500; i++) {
        struct r2d_image *img = NULL;

        memcpy(copy, e.b.p, e.b.len);
        for (int k = 0; k < 1 + i % 4; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            copy[(seed >> 33) % e.note_end] ^= (uint8_t)(1u << ((seed >> 20) % 8));
        }
        if (r2d_format_open(t->ctx, fmt_test_write(t, "f.elf", copy, e.b.len), "elf", &img) == 0)
            r2d_image_free(img);
        else
            assert_true(strlen(r2d_errmsg(t->ctx)) > 0);
    }
    free(copy);
    free(e.b.p);
}

static void
probe_confidence_follows_the_header(void **state)
{
    const struct r2d_format *f = r2d_format_find("elf");
    uint8_t h[64] = "\x7f"
                    "ELF\x02\x01\x01";
    const char *why = NULL;

    (void)state;
    assert_non_null(f);
    assert_int_equal(f->probe(h, sizeof(h), 1 << 20, &why), R2D_PROBE_MAGIC);
    r2d_put_le16(h + 0x10, 4);
    assert_int_equal(f->probe(h, sizeof(h), 1 << 20, &why), R2D_PROBE_SURE);
    h[5] = 2;
    assert_int_equal(f->probe(h, sizeof(h), 1 << 20, &why), R2D_PROBE_MAGIC);
    assert_int_equal(f->probe(h, 3, 3, &why), R2D_PROBE_NO);
    h[0] = 0;
    assert_int_equal(f->probe(h, sizeof(h), 1 << 20, &why), R2D_PROBE_NO);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fmt_test_setup, fmt_test_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(qemu72_layout_two_cpus_three_loads_out_of_order),
        T(elfclass32_cores_are_decoded_too),
        T(pn_xnum_takes_the_count_from_section_header_0),
        T(em_386_cores_open_as_32_bit_guests),
        T(real_qemu_seabios_dump_opens_as_em_386),
        T(truncated_files_fail_at_every_structural_boundary),
        T(qemu_cpu_state_of_0x1b0_bytes_has_no_kernel_gs_base),
        T(qemu_cpu_state_with_bad_version_or_size_is_refused),
        T(no_qemu_notes_means_zero_cpus),
        T(overlapping_pt_loads_are_refused_naming_both),
        T(paging_dumps_are_refused),
        T(bad_segments_are_refused),
        T(a_core_without_memory_is_refused),
        T(random_corruption_of_the_metadata_never_crashes),
        T(probe_confidence_follows_the_header),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
