/* SPDX-License-Identifier: MIT */
/*
 * QEMU ELF cores (dump-guest-memory, virsh dump --memory-only): PT_LOAD segments are physical memory runs,
 * the per-CPU "QEMU" notes (QEMUCPUState) carry the registers including CR3.
 * Facts: docs/formats/elf.md F1-F3 (QEMU dump/dump.c, target/i386/arch_dump.c,
 * contrib/elf2dmp/qemu_elf.c; checked against a real QEMU 7.2 file).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "qemu_notes.h"
#include "format.h"

/* e_ident and the ELF header fields whose offsets do not depend on the class. */
#define ELF_IDENT_SIZE 16
#define ELF_EI_CLASS 4
#define ELF_EI_DATA 5
#define ELF_OFF_TYPE 0x10    /* u16 e_type */
#define ELF_OFF_MACHINE 0x12 /* u16 e_machine */
#define ELFCLASS32 1
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define ET_CORE 4
#define EM_386 3
#define EM_X86_64 62
#define PN_XNUM 0xFFFFu
#define PT_LOAD 1
#define PT_NOTE 4
#define NT_PRSTATUS 1

/* Notes: {u32 namesz, u32 descsz, u32 type, name padded to 4, desc padded to 4}. */
#define ELF_NOTE_HDR_SIZE 12
#define ELF_NOTE_SEG_MAX (64u << 20) /* QEMU writes ~1 KiB per CPU; refuse absurd note segments */

/* Where the class-dependent fields are (System V gABI, ELF32 and ELF64). */
struct elf_layout {
    int is64;
    const char *class_name;
    uint64_t ehdr_size;
    unsigned off_phoff, off_shoff, off_phentsize, off_phnum, off_shentsize;
    unsigned phentsize;
    unsigned p_offset, p_vaddr, p_paddr, p_filesz, p_memsz;
    unsigned shentsize;
    unsigned sh_info;
};

static const struct elf_layout elf_layout64 = {
    .is64 = 1,
    .class_name = "ELFCLASS64",
    .ehdr_size = 64,
    .off_phoff = 0x20,
    .off_shoff = 0x28,
    .off_phentsize = 0x36,
    .off_phnum = 0x38,
    .off_shentsize = 0x3A,
    .phentsize = 56,
    .p_offset = 0x08,
    .p_vaddr = 0x10,
    .p_paddr = 0x18,
    .p_filesz = 0x20,
    .p_memsz = 0x28,
    .shentsize = 64,
    .sh_info = 0x2C,
};

static const struct elf_layout elf_layout32 = {
    .is64 = 0,
    .class_name = "ELFCLASS32",
    .ehdr_size = 52,
    .off_phoff = 0x1C,
    .off_shoff = 0x20,
    .off_phentsize = 0x2A,
    .off_phnum = 0x2C,
    .off_shentsize = 0x2E,
    .phentsize = 32,
    .p_offset = 0x04,
    .p_vaddr = 0x08,
    .p_paddr = 0x0C,
    .p_filesz = 0x10,
    .p_memsz = 0x14,
    .shentsize = 40,
    .sh_info = 0x1C,
};

/* A PT_LOAD or PT_NOTE as the program header table gives it. */
struct elf_seg {
    uint32_t index; /* program header index, for messages */
    uint64_t offset, vaddr, paddr, filesz, memsz;
};

/* Distinct note names seen, for the report. */
#define ELF_NOTE_KINDS 8
struct elf_note_tally {
    char name[ELF_NOTE_KINDS][24];
    unsigned count[ELF_NOTE_KINDS];
    unsigned kinds, other, prstatus, qemu;
};

struct elf_file {
    struct r2d_image *img;
    const char *path;
    uint64_t size;
    const struct elf_layout *lay;
    uint16_t machine;
    uint64_t phoff;
    uint32_t phnum;
    int phnum_xnum;
    struct elf_seg *loads, *notes;
    size_t nloads, nnotes, cap_loads, cap_notes;
    size_t empty_loads, short_loads;
};

static uint64_t
elf_word(const struct elf_layout *lay, const uint8_t *p)
{
    return lay->is64 ? r2d_le64(p) : r2d_le32(p);
}

static int
elf_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why)
{
    if (len < 4 || memcmp(head,
                          "\x7f"
                          "ELF",
                          4) != 0)
        return R2D_PROBE_NO;
    if (len >= ELF_OFF_TYPE + 2 && head[ELF_EI_DATA] == ELFDATA2LSB &&
        r2d_le16(head + ELF_OFF_TYPE) == ET_CORE) {
        *why = "ELF magic, little-endian, ET_CORE";
        return R2D_PROBE_SURE;
    }
    *why = "ELF magic only (not a little-endian core file)";
    return R2D_PROBE_MAGIC;
}

static const char *
elf_machine_name(uint16_t machine)
{
    switch (machine) {
    case EM_386:
        return "EM_386";
    case EM_X86_64:
        return "EM_X86_64";
    default:
        return "other";
    }
}

/* e_ident, e_type, e_machine, the program header table's place and size (with PN_XNUM). */
static int
elf_read_header(struct r2d_ctx *ctx, struct elf_file *ef)
{
    uint8_t eh[64];
    uint16_t type, phentsize;
    int rc = r2d_image_pread(ctx, ef->img, 0, eh, ELF_IDENT_SIZE + 4, "ELF header");

    if (rc)
        return rc;
    R2D_CHECK(memcmp(eh,
                     "\x7f"
                     "ELF",
                     4) != 0,
              ctx, R2D_EFORMAT, "%s: offset 0x0: no ELF magic", ef->path);
    R2D_CHECK(eh[ELF_EI_CLASS] != ELFCLASS32 && eh[ELF_EI_CLASS] != ELFCLASS64, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: unknown ELF class %u", ef->path, ELF_EI_CLASS, eh[ELF_EI_CLASS]);
    R2D_CHECK(
        eh[ELF_EI_DATA] != ELFDATA2LSB, ctx, R2D_EUNSUPPORTED,
        "%s: offset 0x%x: ELF data encoding %u is not little-endian (ELFDATA2LSB); an x86 guest dump is "
        "always little-endian",
        ef->path, ELF_EI_DATA, eh[ELF_EI_DATA]);
    type = r2d_le16(eh + ELF_OFF_TYPE);
    R2D_CHECK(type != ET_CORE, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: e_type %u is not ET_CORE (4): not a memory dump", ef->path, ELF_OFF_TYPE,
              type);
    ef->machine = r2d_le16(eh + ELF_OFF_MACHINE);
    /* QEMU writes EM_386 whenever CPU 0 was not in long mode, even with ELFCLASS64 (observed). */
    R2D_CHECK(ef->machine == EM_386, ctx, R2D_EUNSUPPORTED,
              "%s: the guest was not in 64-bit long mode when dumped (e_machine EM_386); raw2dmp converts "
              "64-bit Windows guests only",
              ef->path);
    R2D_CHECK(ef->machine != EM_X86_64, ctx, R2D_EUNSUPPORTED,
              "%s: offset 0x%x: e_machine %u is not EM_X86_64 (62); raw2dmp converts 64-bit x86 guests only",
              ef->path, ELF_OFF_MACHINE, ef->machine);

    ef->lay = eh[ELF_EI_CLASS] == ELFCLASS64 ? &elf_layout64 : &elf_layout32;
    /* e_ehsize is not checked: QEMU 7.2 writes 8 (observed). */
    rc = r2d_image_pread(ctx, ef->img, 0, eh, (size_t)ef->lay->ehdr_size, "ELF header");
    if (rc)
        return rc;
    ef->phoff = elf_word(ef->lay, eh + ef->lay->off_phoff);
    phentsize = r2d_le16(eh + ef->lay->off_phentsize);
    ef->phnum = r2d_le16(eh + ef->lay->off_phnum);
    R2D_CHECK(phentsize != ef->lay->phentsize, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: e_phentsize %u, expected %u for %s", ef->path, ef->lay->off_phentsize,
              phentsize, ef->lay->phentsize, ef->lay->class_name);
    if (ef->phnum == PN_XNUM) {
        /* More than 0xfffe segments: the real count is section header 0's sh_info (gABI, QEMU dump.c). */
        const uint64_t shoff = elf_word(ef->lay, eh + ef->lay->off_shoff);
        const uint16_t shentsize = r2d_le16(eh + ef->lay->off_shentsize);
        uint8_t sh[64];

        R2D_CHECK(
            shoff == 0, ctx, R2D_EFORMAT,
            "%s: offset 0x%x: e_phnum is PN_XNUM (0xffff) but there is no section header table (e_shoff 0)",
            ef->path, ef->lay->off_phnum);
        R2D_CHECK(shentsize != ef->lay->shentsize, ctx, R2D_EFORMAT,
                  "%s: offset 0x%x: e_shentsize %u, expected %u for %s", ef->path, ef->lay->off_shentsize,
                  shentsize, ef->lay->shentsize, ef->lay->class_name);
        rc = r2d_image_pread(ctx, ef->img, shoff, sh, ef->lay->shentsize, "section header 0 (PN_XNUM count)");
        if (rc)
            return rc;
        ef->phnum = r2d_le32(sh + ef->lay->sh_info);
        ef->phnum_xnum = 1;
    }
    R2D_CHECK(ef->phnum == 0, ctx, R2D_EFORMAT, "%s: offset 0x%x: no program headers (e_phnum 0)", ef->path,
              ef->lay->off_phnum);
    R2D_CHECK(ef->phoff > ef->size || (uint64_t)ef->phnum * ef->lay->phentsize > ef->size - ef->phoff, ctx,
              R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": program header table of %" PRIu32
              " entries x %u bytes runs past end of "
              "file (size 0x%" PRIx64 ")",
              ef->path, ef->phoff, ef->phnum, ef->lay->phentsize, ef->size);
    return 0;
}

static int
elf_push(struct r2d_ctx *ctx, const char *path, struct elf_seg **arr, size_t *n, size_t *cap,
         const struct elf_seg *s)
{
    if (r2d_grow(ctx, arr, cap, *n + 1, sizeof(**arr), "the segment table"))
        return r2d_err_prefix(ctx, R2D_ENOMEM, "%s", path);
    (*arr)[(*n)++] = *s;
    return 0;
}

/* One PT_LOAD: check it against the file, keep it unless empty. */
static int
elf_take_load(struct r2d_ctx *ctx, struct elf_file *ef, const struct elf_seg *s)
{
    const uint64_t phdr_off = ef->phoff + (uint64_t)s->index * ef->lay->phentsize;

    R2D_CHECK(s->filesz > s->memsz, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": PT_LOAD segment %" PRIu32 " has p_filesz 0x%" PRIx64
              " larger than p_memsz 0x%" PRIx64,
              ef->path, phdr_off, s->index, s->filesz, s->memsz);
    if (s->filesz == 0) {
        ef->empty_loads++;
        return 0;
    }
    R2D_CHECK(s->offset > ef->size || s->filesz > ef->size - s->offset, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": PT_LOAD segment %" PRIu32 " data of 0x%" PRIx64
              " bytes (physical 0x%" PRIx64 ") runs past end of file (size 0x%" PRIx64 ")",
              ef->path, s->offset, s->index, s->filesz, s->paddr, ef->size);
    R2D_CHECK(s->paddr + s->filesz - 1 < s->paddr, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": PT_LOAD segment %" PRIu32 " at physical 0x%" PRIx64 " of 0x%" PRIx64
              " bytes wraps the address space",
              ef->path, phdr_off, s->index, s->paddr, s->filesz);
    if (s->filesz < s->memsz)
        ef->short_loads++;
    return elf_push(ctx, ef->path, &ef->loads, &ef->nloads, &ef->cap_loads, s);
}

/* Walk the program header table in bounded chunks, keeping PT_LOAD and PT_NOTE entries. */
static int
elf_read_phdrs(struct r2d_ctx *ctx, struct elf_file *ef)
{
    enum { CHUNK = 512 };
    uint8_t buf[CHUNK * 56];
    const unsigned ent = ef->lay->phentsize;

    for (uint32_t first = 0; first < ef->phnum;) {
        const uint32_t n = ef->phnum - first < CHUNK ? ef->phnum - first : CHUNK;
        int rc = r2d_image_pread(ctx, ef->img, ef->phoff + (uint64_t)first * ent, buf, (size_t)n * ent,
                                 "program header table");

        if (rc)
            return rc;
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *ph = buf + (size_t)i * ent;
            const uint32_t type = r2d_le32(ph);
            const struct elf_seg s = {
                .index = first + i,
                .offset = elf_word(ef->lay, ph + ef->lay->p_offset),
                .vaddr = elf_word(ef->lay, ph + ef->lay->p_vaddr),
                .paddr = elf_word(ef->lay, ph + ef->lay->p_paddr),
                .filesz = elf_word(ef->lay, ph + ef->lay->p_filesz),
                .memsz = elf_word(ef->lay, ph + ef->lay->p_memsz),
            };

            if (type == PT_LOAD)
                rc = elf_take_load(ctx, ef, &s);
            else if (type == PT_NOTE)
                rc = elf_push(ctx, ef->path, &ef->notes, &ef->nnotes, &ef->cap_notes, &s);
            if (rc)
                return rc;
        }
        first += n;
    }
    return 0;
}

static int
elf_seg_cmp(const void *a, const void *b)
{
    const struct elf_seg *x = a, *y = b;

    if (x->paddr != y->paddr)
        return x->paddr < y->paddr ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * Paging dumps (dump-guest-memory -p) describe virtual mappings: p_vaddr is a guest virtual address and the
 * same physical page appears under several of them. Non-paging dumps have p_vaddr equal to p_paddr (QEMU 7.2,
 * observed) or 0; anything else on many segments, or with overlaps, is refused.
 */
static int
elf_check_layout(struct r2d_ctx *ctx, struct elf_file *ef)
{
    size_t virt = 0;

    for (size_t i = 0; i < ef->nloads; i++)
        virt += ef->loads[i].vaddr != ef->loads[i].paddr && ef->loads[i].vaddr != 0;
    R2D_CHECK(ef->nloads == 0, ctx, R2D_EFORMAT, "%s: no PT_LOAD segment with data: the file holds no memory",
              ef->path);
    qsort(ef->loads, ef->nloads, sizeof(*ef->loads), elf_seg_cmp);
    for (size_t i = 1; i < ef->nloads; i++) {
        const struct elf_seg *a = &ef->loads[i - 1], *b = &ef->loads[i];

        if (b->paddr - a->paddr >= a->filesz)
            continue;
        R2D_CHECK(
            virt > 0, ctx, R2D_EUNSUPPORTED,
            "%s: PT_LOAD segments %" PRIu32 " and %" PRIu32 " map the same physical memory and %zu segments "
            "have p_vaddr != p_paddr: this is a paging dump (dump-guest-memory -p), which describes virtual "
            "mappings; dump again without -p",
            ef->path, a->index, b->index, virt);
        return r2d_err(ctx, R2D_EFORMAT,
                       "%s: PT_LOAD segments %" PRIu32 " (physical 0x%" PRIx64 "-0x%" PRIx64 ") and %" PRIu32
                       " (physical 0x%" PRIx64 "-0x%" PRIx64 ") overlap",
                       ef->path, a->index, a->paddr, a->paddr + a->filesz - 1, b->index, b->paddr,
                       b->paddr + b->filesz - 1);
    }
    if (virt > 0 && virt * 2 >= ef->nloads) {
        const struct elf_seg *s = NULL;

        for (size_t i = 0; i < ef->nloads && !s; i++)
            if (ef->loads[i].vaddr != ef->loads[i].paddr && ef->loads[i].vaddr != 0)
                s = &ef->loads[i];
        return r2d_err(ctx, R2D_EUNSUPPORTED,
                       "%s: %zu of %zu PT_LOAD segments have p_vaddr != p_paddr (segment %" PRIu32
                       ": p_vaddr 0x%" PRIx64 ", p_paddr 0x%" PRIx64
                       "): this looks like a paging dump (dump-guest-memory -p); "
                       "dump again without -p",
                       ef->path, virt, ef->nloads, s->index, s->vaddr, s->paddr);
    }
    if (virt > 0)
        r2d_log(ctx, R2D_LOG_WARN, "%s: %zu PT_LOAD segments have p_vaddr != p_paddr; using p_paddr",
                ef->path, virt);
    return 0;
}

/* One "QEMU" note: QEMUCPUState version 1, decoded by the code shared with kdump.c (qemu_notes.c). */
static int
elf_qemu_cpu(struct r2d_ctx *ctx, struct elf_file *ef, uint64_t off, const uint8_t *d, uint32_t descsz)
{
    return r2d_qemu_cpu_decode(ctx, ef->img, off, d, descsz,
                               ef->machine == EM_X86_64 ? R2D_QEMU_LM_YES : R2D_QEMU_LM_NO);
}

static int
elf_name_is(const uint8_t *name, uint32_t namesz, const char *want)
{
    const size_t n = strlen(want);

    return (namesz == n || (namesz == n + 1 && name[n] == 0)) && memcmp(name, want, n) == 0;
}

static void
elf_tally(struct elf_note_tally *t, const uint8_t *name, uint32_t namesz)
{
    char clean[24];
    size_t n = 0;

    for (uint32_t i = 0; i < namesz && name[i] && n < sizeof(clean) - 1; i++)
        clean[n++] = name[i] >= 0x20 && name[i] < 0x7f ? (char)name[i] : '?';
    clean[n] = 0;
    for (unsigned k = 0; k < t->kinds; k++)
        if (strcmp(t->name[k], clean) == 0) {
            t->count[k]++;
            return;
        }
    if (t->kinds == ELF_NOTE_KINDS) {
        t->other++;
        return;
    }
    memcpy(t->name[t->kinds], clean, n + 1);
    t->count[t->kinds++] = 1;
}

/* The notes of one PT_NOTE segment, read whole (bounded by ELF_NOTE_SEG_MAX). */
static int
elf_read_notes(struct r2d_ctx *ctx, struct elf_file *ef, const struct elf_seg *s, struct elf_note_tally *t)
{
    uint8_t *buf;
    uint64_t pos = 0;
    int rc;

    if (s->filesz == 0)
        return 0;
    R2D_CHECK(s->offset > ef->size || s->filesz > ef->size - s->offset, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": PT_NOTE segment %" PRIu32 " of 0x%" PRIx64
              " bytes runs past end of file "
              "(size 0x%" PRIx64 ")",
              ef->path, s->offset, s->index, s->filesz, ef->size);
    R2D_CHECK(s->filesz > ELF_NOTE_SEG_MAX, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": PT_NOTE segment %" PRIu32 " of 0x%" PRIx64
              " bytes is larger than the "
              "0x%x bytes accepted",
              ef->path, s->offset, s->index, s->filesz, ELF_NOTE_SEG_MAX);
    buf = malloc((size_t)s->filesz);
    if (!buf)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for PT_NOTE segment %" PRIu32, ef->path, s->index);
    rc = r2d_image_pread(ctx, ef->img, s->offset, buf, (size_t)s->filesz, "PT_NOTE segment");
    while (!rc && pos < s->filesz) {
        const uint64_t left = s->filesz - pos, off = s->offset + pos;
        uint32_t namesz, descsz, type;
        uint64_t namepad, descpad;
        const uint8_t *name, *desc;

        if (left < ELF_NOTE_HDR_SIZE) {
            int zero = 1;

            for (uint64_t i = pos; i < s->filesz; i++)
                zero &= buf[i] == 0;
            if (!zero)
                rc = r2d_err(ctx, R2D_EFORMAT,
                             "%s: offset 0x%" PRIx64 ": %" PRIu64 " bytes at the end of PT_NOTE "
                             "segment %" PRIu32 " are too short for a note header",
                             ef->path, off, left, s->index);
            break;
        }
        namesz = r2d_le32(buf + pos);
        descsz = r2d_le32(buf + pos + 4);
        type = r2d_le32(buf + pos + 8);
        namepad = ((uint64_t)namesz + 3) & ~(uint64_t)3;
        descpad = ((uint64_t)descsz + 3) & ~(uint64_t)3;
        if (namepad > left - ELF_NOTE_HDR_SIZE || descpad > left - ELF_NOTE_HDR_SIZE - namepad) {
            rc = r2d_err(ctx, R2D_EFORMAT,
                         "%s: offset 0x%" PRIx64 ": note (namesz 0x%" PRIx32 ", descsz 0x%" PRIx32
                         ") runs past the end of PT_NOTE segment %" PRIu32 " (0x%" PRIx64 " bytes left)",
                         ef->path, off, namesz, descsz, s->index, left);
            break;
        }
        name = buf + pos + ELF_NOTE_HDR_SIZE;
        desc = name + namepad;
        elf_tally(t, name, namesz);
        if (elf_name_is(name, namesz, "QEMU")) {
            rc = elf_qemu_cpu(ctx, ef, off + ELF_NOTE_HDR_SIZE + namepad, desc, descsz);
            t->qemu++;
        } else if (elf_name_is(name, namesz, "CORE") && type == NT_PRSTATUS) {
            t->prstatus++;
        }
        pos += ELF_NOTE_HDR_SIZE + namepad + descpad;
    }
    free(buf);
    return rc;
}

static int
elf_add_notes(struct r2d_ctx *ctx, struct elf_file *ef, const struct elf_note_tally *t)
{
    char v[512];
    size_t n = 0;
    int rc;

    rc = r2d_image_add_note(ctx, ef->img, "elf.class", ef->lay->class_name);
    if (!rc)
        rc = r2d_image_add_note(ctx, ef->img, "elf.machine", elf_machine_name(ef->machine));
    snprintf(v, sizeof(v),
             "%" PRIu32 " program headers%s: %zu PT_LOAD with data, %zu empty PT_LOAD skipped, %zu "
             "PT_NOTE",
             ef->phnum, ef->phnum_xnum ? " (PN_XNUM: count from section header 0)" : "", ef->nloads,
             ef->empty_loads, ef->nnotes);
    if (!rc)
        rc = r2d_image_add_note(ctx, ef->img, "elf.segments", v);
    if (!rc && ef->short_loads) {
        snprintf(v, sizeof(v), "%zu PT_LOAD segments have p_filesz < p_memsz; the rest of those is absent",
                 ef->short_loads);
        rc = r2d_image_add_note(ctx, ef->img, "elf.memsz_tail", v);
    }
    snprintf(v, sizeof(v), "%u", t->qemu);
    if (!rc)
        rc = r2d_image_add_note(ctx, ef->img, "elf.cpus", v);
    if (!rc && t->qemu == 0)
        rc = r2d_image_add_note(ctx, ef->img, "elf.cpu_state", "none");
    snprintf(v, sizeof(v), "%u", t->prstatus);
    if (!rc)
        rc = r2d_image_add_note(ctx, ef->img, "elf.prstatus", v);
    v[0] = 0;
    for (unsigned k = 0; k < t->kinds && n < sizeof(v); k++)
        n += (size_t)snprintf(v + n, sizeof(v) - n, "%s%s x%u", k ? ", " : "", t->name[k], t->count[k]);
    if (t->other && n < sizeof(v))
        snprintf(v + n, sizeof(v) - n, ", %u others", t->other);
    if (!rc)
        rc = r2d_image_add_note(ctx, ef->img, "elf.notes", t->kinds ? v : "none");
    return rc;
}

static int
elf_open_file(struct r2d_ctx *ctx, struct elf_file *ef)
{
    struct elf_note_tally tally = {0};
    int rc = elf_read_header(ctx, ef);

    if (!rc)
        rc = elf_read_phdrs(ctx, ef);
    if (!rc)
        rc = elf_check_layout(ctx, ef);
    for (size_t i = 0; !rc && i < ef->nnotes; i++)
        rc = elf_read_notes(ctx, ef, &ef->notes[i], &tally);
    if (rc)
        return rc;
    /* Runs from p_paddr with p_filesz bytes; unaligned heads and tails stay as they are (the writer pads). */
    for (size_t i = 0; !rc && i < ef->nloads; i++)
        rc = r2d_image_add_file_run(ctx, ef->img, ef->loads[i].paddr, ef->loads[i].filesz,
                                    ef->loads[i].offset);
    if (!rc && tally.qemu == 0)
        r2d_log(ctx, R2D_LOG_WARN,
                "%s: no QEMU CPU state notes: no registers (CR3 must be found by scanning)", ef->path);
    if (!rc && tally.prstatus && tally.prstatus != tally.qemu)
        r2d_log(ctx, R2D_LOG_WARN, "%s: %u NT_PRSTATUS notes but %u QEMU notes; CPUs are the QEMU notes",
                ef->path, tally.prstatus, tally.qemu);
    if (!rc && ef->short_loads)
        r2d_log(ctx, R2D_LOG_INFO, "%s: %zu PT_LOAD segments are shorter in the file than in memory",
                ef->path, ef->short_loads);
    return rc ? rc : elf_add_notes(ctx, ef, &tally);
}

static int
elf_open(struct r2d_ctx *ctx, struct r2d_image *img)
{
    struct elf_file ef = {.img = img, .path = r2d_image_path(img), .size = r2d_image_file_size(img)};
    const int rc = elf_open_file(ctx, &ef);

    free(ef.loads);
    free(ef.notes);
    return rc;
}

const struct r2d_format r2d_format_qemu_elf = {
    .name = "elf",
    .summary = "QEMU ELF core (dump-guest-memory, virsh dump --memory-only): PT_LOAD runs + CPU notes",
    .probe_bytes = 64,
    .probe = elf_probe,
    .open = elf_open,
};
