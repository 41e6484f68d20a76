/* SPDX-License-Identifier: MIT */
/*
 * QEMU ELF cores (dump-guest-memory, virsh dump --memory-only): PT_LOAD segments are physical memory runs,
 * the per-CPU "QEMU" notes (QEMUCPUState) carry the registers including CR3. ELF cores of other producers
 * with no register notes are read the same way, with zero CPUs (the engine then works without registers).
 * The container is elf_read.c; VirtualBox and Xen cores have their own readers (vbox_core.c, xen_core.c).
 * Facts: docs/formats/elf.md F1-F3 (QEMU dump/dump.c, target/i386/arch_dump.c,
 * contrib/elf2dmp/qemu_elf.c; checked against a real QEMU 7.2 file).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "elf_read.h"
#include "qemu_notes.h"

/* Most note segments are ~1 KiB per CPU; refuse absurd ones before allocating. */
#define ELF_NOTE_SEG_MAX (64u << 20)
#define NT_PRSTATUS 1

/* Distinct note names seen, for the report. */
#define ELF_NOTE_KINDS 8
struct elf_note_tally {
    char name[ELF_NOTE_KINDS][24];
    unsigned count[ELF_NOTE_KINDS];
    unsigned kinds, other, prstatus, qemu;
};

struct elf_file {
    struct r2d_elf elf;
    struct r2d_image *img;
    const char *path;
    uint64_t size;
    struct r2d_elf_seg *loads, *notes;
    size_t nloads, nnotes, cap_loads, cap_notes;
    size_t empty_loads, short_loads;
    struct elf_note_tally *tally;
};

static int
elf_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why)
{
    (void)file_size;
    switch (r2d_elf_classify(head, len)) {
    case R2D_ELF_NOT:
        return R2D_PROBE_NO;
    case R2D_ELF_CORE:
        *why = "ELF magic, little-endian, ET_CORE";
        return R2D_PROBE_SURE;
    case R2D_ELF_CORE_VBOX:
        *why = "ELF core written by VirtualBox (the vbox reader decodes its CPU notes)";
        return R2D_PROBE_MAGIC;
    case R2D_ELF_CORE_XEN:
        *why = "ELF core written by Xen (the xen reader decodes its sections)";
        return R2D_PROBE_MAGIC;
    default:
        *why = "ELF magic only (not a little-endian core file)";
        return R2D_PROBE_MAGIC;
    }
}

static const char *
elf_machine_name(uint16_t machine)
{
    switch (machine) {
    case R2D_ELF_EM_386:
        return "EM_386";
    case R2D_ELF_EM_X86_64:
        return "EM_X86_64";
    default:
        return "other";
    }
}

/*
 * The container (elf_read.c), then what QEMU's cores must be: x86 and a program header table. QEMU writes
 * EM_386 whenever CPU 0 was not in long mode (a 32-bit guest), in ELFCLASS32 unless RAM ends above 4 GiB,
 * where it switches to ELFCLASS64 (target/i386/arch_dump.c cpu_get_dump_info; docs/formats/elf.md F1).
 */
static int
elf_read_header(struct r2d_ctx *ctx, struct elf_file *ef)
{
    const struct r2d_elf *elf = &ef->elf;
    int rc = r2d_elf_read_header(ctx, ef->img, &ef->elf);

    if (rc)
        return rc;
    R2D_CHECK(elf->machine != R2D_ELF_EM_X86_64 && elf->machine != R2D_ELF_EM_386, ctx, R2D_EUNSUPPORTED,
              "%s: offset 0x12: e_machine %u is neither EM_X86_64 (62) nor EM_386 (3); raw2dmp converts x86 "
              "guests only",
              ef->path, elf->machine);
    R2D_CHECK(elf->phnum == 0, ctx, R2D_EFORMAT, "%s: offset 0x%x: no program headers (e_phnum 0)%s",
              ef->path, elf->is64 ? 0x38 : 0x2C,
              elf->shnum ? "; a Xen dump-core file keeps its memory in sections: use --input-format xen"
                         : "");
    return 0;
}

static int
elf_push(struct r2d_ctx *ctx, const char *path, struct r2d_elf_seg **arr, size_t *n, size_t *cap,
         const struct r2d_elf_seg *s)
{
    if (r2d_grow(ctx, arr, cap, *n + 1, sizeof(**arr), "the segment table"))
        return r2d_err_prefix(ctx, R2D_ENOMEM, "%s", path);
    (*arr)[(*n)++] = *s;
    return 0;
}

/* One PT_LOAD: check it against the file, keep it unless empty. */
static int
elf_take_load(struct r2d_ctx *ctx, struct elf_file *ef, const struct r2d_elf_seg *s)
{
    const uint64_t phdr_off = ef->elf.phoff + (uint64_t)s->index * (ef->elf.is64 ? 56u : 32u);

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
/* Keep PT_LOAD and PT_NOTE entries (r2d_elf_for_each_phdr's callback). */
static int
elf_take_phdr(struct r2d_ctx *ctx, void *arg, const struct r2d_elf_seg *s)
{
    struct elf_file *ef = arg;

    if (s->type == R2D_ELF_PT_LOAD)
        return elf_take_load(ctx, ef, s);
    if (s->type == R2D_ELF_PT_NOTE)
        return elf_push(ctx, ef->path, &ef->notes, &ef->nnotes, &ef->cap_notes, s);
    return 0;
}

static int
elf_seg_cmp(const void *a, const void *b)
{
    const struct r2d_elf_seg *x = a, *y = b;

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
        const struct r2d_elf_seg *a = &ef->loads[i - 1], *b = &ef->loads[i];

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
        const struct r2d_elf_seg *s = NULL;

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

/* One note of a PT_NOTE segment (r2d_elf_walk_notes's callback). */
static int
elf_take_note(struct r2d_ctx *ctx, void *arg, const struct r2d_elf_note *n)
{
    struct elf_file *ef = arg;
    struct elf_note_tally *t = ef->tally;

    elf_tally(t, n->name, n->namesz);
    if (r2d_elf_note_name_is(n, "QEMU")) {
        t->qemu++;
        /* QEMUCPUState version 1, decoded by the code shared with kdump.c (qemu_notes.c). */
        return r2d_qemu_cpu_decode(ctx, ef->img, n->desc_off, n->desc, n->descsz,
                                   ef->elf.machine == R2D_ELF_EM_386 ? R2D_QEMU_LM_NO : R2D_QEMU_LM_YES);
    }
    if (r2d_elf_note_name_is(n, "CORE") && n->type == NT_PRSTATUS)
        t->prstatus++;
    /* Its registers are VirtualBox's own notes (vbox_core.c): reading the file as QEMU's would drop them. */
    R2D_CHECK(r2d_elf_note_name_is(n, "VBCORE"), ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": a VirtualBox core descriptor (VBCORE note): read this file with "
              "--input-format vbox",
              ef->path, n->off);
    return 0;
}

/* The notes of one PT_NOTE segment, read whole (bounded by ELF_NOTE_SEG_MAX). */
static int
elf_read_notes(struct r2d_ctx *ctx, struct elf_file *ef, const struct r2d_elf_seg *s)
{
    char what[48];
    uint8_t *buf;
    int rc;

    if (s->filesz == 0)
        return 0;
    snprintf(what, sizeof(what), "PT_NOTE segment %" PRIu32, s->index);
    rc = r2d_elf_read_area(ctx, &ef->elf, s->offset, s->filesz, ELF_NOTE_SEG_MAX, what, &buf);
    if (!rc)
        rc = r2d_elf_walk_notes(ctx, ef->path, buf, (size_t)s->filesz, s->offset, what, elf_take_note, ef);
    free(buf);
    return rc;
}

static int
elf_add_notes(struct r2d_ctx *ctx, struct elf_file *ef, const struct elf_note_tally *t)
{
    char v[512];
    size_t n = 0;
    int rc;

    rc = r2d_image_add_note(ctx, ef->img, "elf.class", ef->elf.class_name);
    if (!rc)
        rc = r2d_image_add_note(ctx, ef->img, "elf.machine", elf_machine_name(ef->elf.machine));
    if (!rc)
        rc = r2d_image_add_note(ctx, ef->img, "elf.guest",
                                ef->elf.machine == R2D_ELF_EM_386 ? "32-bit (CPU 0 not in long mode)"
                                                                  : "64-bit (long mode)");
    snprintf(v, sizeof(v),
             "%" PRIu32 " program headers%s: %zu PT_LOAD with data, %zu empty PT_LOAD skipped, %zu "
             "PT_NOTE",
             ef->elf.phnum, ef->elf.phnum_xnum ? " (PN_XNUM: count from section header 0)" : "", ef->nloads,
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

    ef->tally = &tally;
    if (!rc)
        rc = r2d_elf_for_each_phdr(ctx, &ef->elf, elf_take_phdr, ef);
    if (!rc)
        rc = elf_check_layout(ctx, ef);
    for (size_t i = 0; !rc && i < ef->nnotes; i++)
        rc = elf_read_notes(ctx, ef, &ef->notes[i]);
    if (rc)
        return rc;
    /* Runs from p_paddr with p_filesz bytes; unaligned heads and tails stay as they are (the writer pads). */
    for (size_t i = 0; !rc && i < ef->nloads; i++)
        rc = r2d_image_add_file_run(ctx, ef->img, ef->loads[i].paddr, ef->loads[i].filesz,
                                    ef->loads[i].offset);
    /* Other producers' cores (gcore, a kdump vmcore, ...) carry memory only: convert them as raw or LiME. */
    if (!rc && tally.qemu == 0)
        r2d_log(ctx, R2D_LOG_WARN,
                "%s: no CPU register notes (no QEMU CPU state): the page tables, the kernel and the "
                "processors' contexts are found without registers, as for raw and LiME images",
                ef->path);
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
    .probe_bytes = R2D_PROBE_MAX_BYTES, /* to see a VirtualBox or Xen core's notes and leave it to them */
    .probe = elf_probe,
    .open = elf_open,
};
