/* SPDX-License-Identifier: MIT */
/*
 * VirtualBox guest cores (VBoxManage debugvm NAME dumpvmcore --filename F): an ELF64 core whose PT_LOADs are
 * guest-physical RAM ranges (MMIO ranges present with no file data), and one PT_NOTE holding the core
 * descriptor ("VBCORE", DBGFCOREDESCRIPTOR) and one "VBCPU" note per vCPU (DBGFCORECPU).
 * Facts: VirtualBox include/VBox/vmm/dbgfcorefmt.h and src/VBox/VMM/VMMR3/DBGFCoreWrite.cpp, Volatility's
 * vboxelf address space, Tetrane's core_virtualbox reader; docs/formats/vbox.md says which source gave what.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "elf_read.h"

#define VBOX_NT_CORE 0xB00u /* note "VBCORE": the descriptor */
#define VBOX_NT_CPU 0xB01u  /* note "VBCPU": one vCPU */
#define VBOX_NOTE_SEG_MAX (64u << 20)

/* DBGFCOREDESCRIPTOR. */
#define VBOX_DESC_MAGIC 0x00        /* u32 0xc01ac0de */
#define VBOX_DESC_FMT_VERSION 0x04  /* u32 */
#define VBOX_DESC_CBSELF 0x08       /* u32 sizeof(DBGFCOREDESCRIPTOR) */
#define VBOX_DESC_VBOX_VERSION 0x0C /* u32 major << 24 | minor << 16 | build */
#define VBOX_DESC_VBOX_REV 0x10     /* u32 SVN revision */
#define VBOX_DESC_NCPUS 0x14        /* u32 */
#define VBOX_DESC_SIZE 24
#define VBOX_CORE_MAGIC 0xC01AC0DEu

/*
 * The format versions whose VBCPU notes are DBGFCORECPU with the register prefix below. 0x00010000 wrote the
 * raw CPUMCTX, whose layout changed with every release; later versions changed the tail (XSAVE area, cbExt,
 * msrTscAux), never the prefix.
 */
#define VBOX_FMT_CPU_FIRST 0x00010004u
#define VBOX_FMT_CPU_LAST 0x00010006u

/* DBGFCORECPU register prefix. Segments are {u64 base, u32 limit, u32 attr, u16 sel, u16, u32}. */
#define VBOX_CPU_GPR 0x000 /* rax rbx rcx rdx rsi rdi r8..r15, then rip rsp rbp rflags: 18 u64 */
#define VBOX_CPU_RIP 0x070
#define VBOX_CPU_RSP 0x078
#define VBOX_CPU_RBP 0x080
#define VBOX_CPU_RFLAGS 0x088
#define VBOX_CPU_SEGS 0x090 /* cs ds es fs gs ss */
#define VBOX_CPU_SEG_SIZE 24
#define VBOX_CPU_CR0 0x120
#define VBOX_CPU_CR2 0x128
#define VBOX_CPU_CR3 0x130
#define VBOX_CPU_CR4 0x138
#define VBOX_CPU_GDTR 0x180 /* {u64 addr, u32 limit, u32} */
#define VBOX_CPU_IDTR 0x190
#define VBOX_CPU_LDTR 0x1A0 /* segment */
#define VBOX_CPU_TR 0x1B8   /* segment */
#define VBOX_CPU_EFER 0x1E8
#define VBOX_CPU_KGSBASE 0x218
#define VBOX_CPU_MIN_SIZE 0x228 /* through msrApicBase */
#define VBOX_EFER_LMA (1ull << 10)
#define VBOX_MMIO_LISTED 8 /* MMIO ranges named in the report note */

/* A VBCPU note, decoded whatever the version (the descriptor may come later); kept only for known ones. */
struct vbox_cpu {
    struct r2d_cpu_state state;
    uint64_t off;
    uint32_t descsz;
};

struct vbox_file {
    struct r2d_elf elf;
    struct r2d_image *img;
    const char *path;
    struct r2d_elf_seg *loads, *notes;
    size_t nloads, nnotes, cap_loads, cap_notes;
    struct vbox_cpu *cpus;
    size_t ncpus, cap_cpus;
    size_t nmmio, nshort;
    char mmio[VBOX_MMIO_LISTED * 40];
    int have_desc;
    uint64_t desc_off;
    uint32_t fmt_version, vbox_version, vbox_rev, desc_ncpus;
};

static int
vbox_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why)
{
    (void)file_size;
    if (r2d_elf_classify(head, len) != R2D_ELF_CORE_VBOX)
        return R2D_PROBE_NO;
    *why = "ELF core whose PT_NOTE starts with the VirtualBox core descriptor (VBCORE, magic 0xc01ac0de)";
    return R2D_PROBE_SURE;
}

/* An MMIO range has a PT_LOAD with no file data (DBGFCoreWrite): skipped, listed in the report. */
static void
vbox_note_mmio(struct vbox_file *vf, const struct r2d_elf_seg *s)
{
    const size_t used = strlen(vf->mmio);

    if (vf->nmmio++ < VBOX_MMIO_LISTED && used < sizeof(vf->mmio))
        snprintf(vf->mmio + used, sizeof(vf->mmio) - used, "%s0x%" PRIx64 "-0x%" PRIx64, used ? ", " : "",
                 s->paddr, s->paddr + (s->memsz ? s->memsz - 1 : 0));
}

static int
vbox_take_load(struct r2d_ctx *ctx, struct vbox_file *vf, const struct r2d_elf_seg *s)
{
    const uint64_t size = vf->elf.size;
    int rc;

    R2D_CHECK(s->filesz > s->memsz, ctx, R2D_EFORMAT,
              "%s: PT_LOAD segment %" PRIu32 " has p_filesz 0x%" PRIx64 " larger than p_memsz 0x%" PRIx64,
              vf->path, s->index, s->filesz, s->memsz);
    if (s->filesz == 0) {
        vbox_note_mmio(vf, s);
        return 0;
    }
    R2D_CHECK(s->offset > size || s->filesz > size - s->offset, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": PT_LOAD segment %" PRIu32 " data of 0x%" PRIx64
              " bytes (physical 0x%" PRIx64 ") runs past end of file (size 0x%" PRIx64 ")",
              vf->path, s->offset, s->index, s->filesz, s->paddr, size);
    R2D_CHECK(s->paddr + s->filesz - 1 < s->paddr, ctx, R2D_EFORMAT,
              "%s: PT_LOAD segment %" PRIu32 " at physical 0x%" PRIx64 " of 0x%" PRIx64
              " bytes wraps the address space",
              vf->path, s->index, s->paddr, s->filesz);
    vf->nshort += s->filesz < s->memsz;
    rc = r2d_grow(ctx, &vf->loads, &vf->cap_loads, vf->nloads + 1, sizeof(*vf->loads), "the memory ranges")
             ? r2d_err_prefix(ctx, R2D_ENOMEM, "%s", vf->path)
             : 0;
    if (!rc)
        vf->loads[vf->nloads++] = *s;
    return rc;
}

static int
vbox_take_phdr(struct r2d_ctx *ctx, void *arg, const struct r2d_elf_seg *s)
{
    struct vbox_file *vf = arg;
    int rc;

    if (s->type == R2D_ELF_PT_LOAD)
        return vbox_take_load(ctx, vf, s);
    if (s->type != R2D_ELF_PT_NOTE)
        return 0;
    rc = r2d_grow(ctx, &vf->notes, &vf->cap_notes, vf->nnotes + 1, sizeof(*vf->notes), "the notes")
             ? r2d_err_prefix(ctx, R2D_ENOMEM, "%s", vf->path)
             : 0;
    if (!rc)
        vf->notes[vf->nnotes++] = *s;
    return rc;
}

static void
vbox_segment(struct r2d_segment *seg, const uint8_t *p)
{
    /* VirtualBox keeps the descriptor's attribute bits 40-55 in bits 0-15; QEMU's flags (our convention) keep
     * them where they are in the descriptor's high dword, bits 8-23. The limit nibble is not an attribute. */
    seg->base = r2d_le64(p);
    seg->limit = r2d_le32(p + 8);
    seg->flags = (r2d_le32(p + 12) & 0xF0FFu) << 8;
    seg->selector = r2d_le16(p + 16);
}

static void
vbox_decode_cpu(const uint8_t *d, struct r2d_cpu_state *cpu)
{
    uint64_t *const gpr[14] = {&cpu->rax, &cpu->rbx, &cpu->rcx, &cpu->rdx, &cpu->rsi, &cpu->rdi, &cpu->r8,
                               &cpu->r9,  &cpu->r10, &cpu->r11, &cpu->r12, &cpu->r13, &cpu->r14, &cpu->r15};
    struct r2d_segment *const seg[6] = {&cpu->cs, &cpu->ds, &cpu->es, &cpu->fs, &cpu->gs, &cpu->ss};

    memset(cpu, 0, sizeof(*cpu));
    for (unsigned i = 0; i < 14; i++)
        *gpr[i] = r2d_le64(d + VBOX_CPU_GPR + 8 * i);
    cpu->rip = r2d_le64(d + VBOX_CPU_RIP);
    cpu->rsp = r2d_le64(d + VBOX_CPU_RSP);
    cpu->rbp = r2d_le64(d + VBOX_CPU_RBP);
    cpu->rflags = r2d_le64(d + VBOX_CPU_RFLAGS);
    for (unsigned i = 0; i < 6; i++)
        vbox_segment(seg[i], d + VBOX_CPU_SEGS + VBOX_CPU_SEG_SIZE * i);
    vbox_segment(&cpu->ldt, d + VBOX_CPU_LDTR);
    vbox_segment(&cpu->tr, d + VBOX_CPU_TR);
    cpu->gdt.base = r2d_le64(d + VBOX_CPU_GDTR);
    cpu->gdt.limit = r2d_le32(d + VBOX_CPU_GDTR + 8);
    cpu->idt.base = r2d_le64(d + VBOX_CPU_IDTR);
    cpu->idt.limit = r2d_le32(d + VBOX_CPU_IDTR + 8);
    cpu->cr0 = r2d_le64(d + VBOX_CPU_CR0);
    cpu->cr2 = r2d_le64(d + VBOX_CPU_CR2);
    cpu->cr3 = r2d_le64(d + VBOX_CPU_CR3);
    cpu->cr4 = r2d_le64(d + VBOX_CPU_CR4);
    cpu->kernel_gs_base = r2d_le64(d + VBOX_CPU_KGSBASE);
    cpu->flags = R2D_CPU_HAVE_KGSBASE;
    if (r2d_le64(d + VBOX_CPU_EFER) & VBOX_EFER_LMA)
        cpu->flags |= R2D_CPU_LONG_MODE;
}

static int
vbox_take_descriptor(struct r2d_ctx *ctx, struct vbox_file *vf, const struct r2d_elf_note *n)
{
    R2D_CHECK(vf->have_desc, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64
              ": a second VirtualBox core descriptor (the first is at offset 0x%" PRIx64 ")",
              vf->path, n->off, vf->desc_off);
    R2D_CHECK(n->descsz < VBOX_DESC_SIZE, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": VirtualBox core descriptor of 0x%" PRIx32 " bytes, need 0x%x",
              vf->path, n->desc_off, n->descsz, VBOX_DESC_SIZE);
    R2D_CHECK(r2d_le32(n->desc + VBOX_DESC_MAGIC) != VBOX_CORE_MAGIC, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": VirtualBox core descriptor magic 0x%08" PRIx32 ", expected 0x%08x",
              vf->path, n->desc_off, r2d_le32(n->desc + VBOX_DESC_MAGIC), VBOX_CORE_MAGIC);
    R2D_CHECK(r2d_le32(n->desc + VBOX_DESC_CBSELF) < VBOX_DESC_SIZE, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": VirtualBox core descriptor size field 0x%" PRIx32 " is below 0x%x",
              vf->path, n->desc_off + VBOX_DESC_CBSELF, r2d_le32(n->desc + VBOX_DESC_CBSELF), VBOX_DESC_SIZE);
    vf->have_desc = 1;
    vf->desc_off = n->off;
    vf->fmt_version = r2d_le32(n->desc + VBOX_DESC_FMT_VERSION);
    vf->vbox_version = r2d_le32(n->desc + VBOX_DESC_VBOX_VERSION);
    vf->vbox_rev = r2d_le32(n->desc + VBOX_DESC_VBOX_REV);
    vf->desc_ncpus = r2d_le32(n->desc + VBOX_DESC_NCPUS);
    return 0;
}

static int
vbox_take_note(struct r2d_ctx *ctx, void *arg, const struct r2d_elf_note *n)
{
    struct vbox_file *vf = arg;
    struct vbox_cpu *c;
    int rc;

    if (r2d_elf_note_name_is(n, "VBCORE") && n->type == VBOX_NT_CORE)
        return vbox_take_descriptor(ctx, vf, n);
    if (!r2d_elf_note_name_is(n, "VBCPU") || n->type != VBOX_NT_CPU)
        return 0; /* "additional custom notes" (DBGFCoreWrite): none is defined */
    rc = r2d_grow(ctx, &vf->cpus, &vf->cap_cpus, vf->ncpus + 1, sizeof(*vf->cpus), "the CPU notes")
             ? r2d_err_prefix(ctx, R2D_ENOMEM, "%s", vf->path)
             : 0;
    if (rc)
        return rc;
    c = &vf->cpus[vf->ncpus++];
    c->off = n->desc_off;
    c->descsz = n->descsz;
    if (n->descsz >= VBOX_CPU_MIN_SIZE)
        vbox_decode_cpu(n->desc, &c->state);
    return 0;
}

static int
vbox_read_notes(struct r2d_ctx *ctx, struct vbox_file *vf, const struct r2d_elf_seg *s)
{
    char what[48];
    uint8_t *buf;
    int rc;

    snprintf(what, sizeof(what), "PT_NOTE segment %" PRIu32, s->index);
    rc = r2d_elf_read_area(ctx, &vf->elf, s->offset, s->filesz, VBOX_NOTE_SEG_MAX, what, &buf);
    if (!rc)
        rc = r2d_elf_walk_notes(ctx, vf->path, buf, (size_t)s->filesz, s->offset, what, vbox_take_note, vf);
    free(buf);
    return rc;
}

static int
vbox_seg_cmp(const void *a, const void *b)
{
    const struct r2d_elf_seg *x = a, *y = b;

    if (x->paddr != y->paddr)
        return x->paddr < y->paddr ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Sorted by physical address, no two ranges overlapping: PGM's RAM ranges never do. */
static int
vbox_check_loads(struct r2d_ctx *ctx, struct vbox_file *vf)
{
    R2D_CHECK(vf->nloads == 0, ctx, R2D_EFORMAT, "%s: no PT_LOAD segment with data: the file holds no memory",
              vf->path);
    qsort(vf->loads, vf->nloads, sizeof(*vf->loads), vbox_seg_cmp);
    for (size_t i = 1; i < vf->nloads; i++) {
        const struct r2d_elf_seg *a = &vf->loads[i - 1], *b = &vf->loads[i];

        R2D_CHECK(b->paddr - a->paddr < a->filesz, ctx, R2D_EFORMAT,
                  "%s: PT_LOAD segments %" PRIu32 " (physical 0x%" PRIx64 "-0x%" PRIx64 ") and %" PRIu32
                  " (physical 0x%" PRIx64 "-0x%" PRIx64 ") overlap",
                  vf->path, a->index, a->paddr, a->paddr + a->filesz - 1, b->index, b->paddr,
                  b->paddr + b->filesz - 1);
    }
    return 0;
}

/* The descriptor and the CPU notes agree; registers are used only for the versions whose layout we know. */
static int
vbox_check_cpus(struct r2d_ctx *ctx, struct vbox_file *vf, int *use)
{
    R2D_CHECK(
        !vf->have_desc, ctx, R2D_EFORMAT,
        "%s: no VirtualBox core descriptor (VBCORE note): not a VirtualBox core (is it another ELF core? "
        "try --input-format elf)",
        vf->path);
    R2D_CHECK(vf->desc_ncpus != vf->ncpus, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": the core descriptor counts %" PRIu32
              " CPUs but the file has %zu VBCPU "
              "notes",
              vf->path, vf->desc_off, vf->desc_ncpus, vf->ncpus);
    *use = vf->fmt_version >= VBOX_FMT_CPU_FIRST && vf->fmt_version <= VBOX_FMT_CPU_LAST;
    for (size_t i = 0; *use && i < vf->ncpus; i++)
        R2D_CHECK(vf->cpus[i].descsz < VBOX_CPU_MIN_SIZE, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": VBCPU note %zu of 0x%" PRIx32 " bytes, need at least 0x%x for "
                  "format version 0x%08" PRIx32,
                  vf->path, vf->cpus[i].off, i, vf->cpus[i].descsz, VBOX_CPU_MIN_SIZE, vf->fmt_version);
    if (!*use && vf->ncpus)
        r2d_log(
            ctx, R2D_LOG_WARN,
            "%s: VirtualBox core format version 0x%08" PRIx32 " (VirtualBox %" PRIu32 ".%" PRIu32
            "): its CPU notes are not decoded (known: 0x%08x-0x%08x); the page tables, the kernel and the "
            "processors' contexts are found without registers, as for raw and LiME images",
            vf->path, vf->fmt_version, vf->vbox_version >> 24, (vf->vbox_version >> 16) & 0xFF,
            VBOX_FMT_CPU_FIRST, VBOX_FMT_CPU_LAST);
    else if (vf->ncpus == 0)
        r2d_log(ctx, R2D_LOG_WARN,
                "%s: no VBCPU notes: the page tables, the kernel and the processors' contexts are "
                "found without registers, as for raw and LiME images",
                vf->path);
    return 0;
}

static int
vbox_add_notes(struct r2d_ctx *ctx, struct vbox_file *vf, int use)
{
    char v[512];
    int rc;

    snprintf(v, sizeof(v), "VirtualBox %" PRIu32 ".%" PRIu32 ".%" PRIu32 " r%" PRIu32, vf->vbox_version >> 24,
             (vf->vbox_version >> 16) & 0xFF, vf->vbox_version & 0xFFFF, vf->vbox_rev);
    rc = r2d_image_add_note(ctx, vf->img, "vbox.version", v);
    snprintf(v, sizeof(v), "0x%08" PRIx32, vf->fmt_version);
    if (!rc)
        rc = r2d_image_add_note(ctx, vf->img, "vbox.format_version", v);
    snprintf(v, sizeof(v), "%zu VBCPU notes%s", vf->ncpus,
             use || !vf->ncpus ? "" : ", not decoded (unknown format version): no registers");
    if (!rc)
        rc = r2d_image_add_note(ctx, vf->img, "vbox.cpus", v);
    snprintf(v, sizeof(v),
             "%" PRIu32 " program headers: %zu PT_LOAD with data (%zu shorter in the file than in "
             "memory), %zu MMIO ranges without data skipped, %zu PT_NOTE",
             vf->elf.phnum, vf->nloads, vf->nshort, vf->nmmio, vf->nnotes);
    if (!rc)
        rc = r2d_image_add_note(ctx, vf->img, "elf.segments", v);
    snprintf(v, sizeof(v), "%s%s", vf->nmmio ? vf->mmio : "none",
             vf->nmmio > VBOX_MMIO_LISTED ? ", ..." : "");
    if (!rc)
        rc = r2d_image_add_note(ctx, vf->img, "vbox.mmio_skipped", v);
    return rc;
}

static int
vbox_open_file(struct r2d_ctx *ctx, struct vbox_file *vf)
{
    int use = 0, rc = r2d_elf_read_header(ctx, vf->img, &vf->elf);

    if (rc)
        return rc;
    /* DBGFCoreWrite writes ELF64 always; e_machine is the host's (EM_386 from 32-bit hosts), not the guest's.
     */
    R2D_CHECK(!vf->elf.is64, ctx, R2D_EFORMAT, "%s: offset 0x4: %s: VirtualBox cores are ELFCLASS64",
              vf->path, vf->elf.class_name);
    R2D_CHECK(vf->elf.machine != R2D_ELF_EM_X86_64 && vf->elf.machine != R2D_ELF_EM_386, ctx,
              R2D_EUNSUPPORTED,
              "%s: offset 0x12: e_machine %u is neither EM_X86_64 nor EM_386: not an x86 VirtualBox core",
              vf->path, vf->elf.machine);
    R2D_CHECK(vf->elf.phnum == 0, ctx, R2D_EFORMAT, "%s: offset 0x38: no program headers (e_phnum 0)",
              vf->path);
    rc = r2d_elf_for_each_phdr(ctx, &vf->elf, vbox_take_phdr, vf);
    for (size_t i = 0; !rc && i < vf->nnotes; i++)
        rc = vbox_read_notes(ctx, vf, &vf->notes[i]);
    if (!rc)
        rc = vbox_check_loads(ctx, vf);
    if (!rc)
        rc = vbox_check_cpus(ctx, vf, &use);
    for (size_t i = 0; !rc && i < vf->nloads; i++)
        rc = r2d_image_add_file_run(ctx, vf->img, vf->loads[i].paddr, vf->loads[i].filesz,
                                    vf->loads[i].offset);
    for (size_t i = 0; !rc && use && i < vf->ncpus; i++)
        rc = r2d_image_add_cpu(ctx, vf->img, &vf->cpus[i].state);
    return rc ? rc : vbox_add_notes(ctx, vf, use);
}

static int
vbox_open(struct r2d_ctx *ctx, struct r2d_image *img)
{
    struct vbox_file vf = {.img = img, .path = r2d_image_path(img)};
    const int rc = vbox_open_file(ctx, &vf);

    free(vf.loads);
    free(vf.notes);
    free(vf.cpus);
    return rc;
}

const struct r2d_format r2d_format_vbox = {
    .name = "vbox",
    .summary = "VirtualBox core (VBoxManage debugvm VM dumpvmcore): ELF64 PT_LOAD RAM + VBCORE/VBCPU notes",
    .probe_bytes = R2D_PROBE_MAX_BYTES,
    .probe = vbox_probe,
    .open = vbox_open,
};
