/* SPDX-License-Identifier: MIT */
/*
 * The ELF container shared by the ELF core readers: header, program and section header tables, notes, and the
 * head classification their probes use. Facts: System V gABI (ELF32/ELF64 layouts, PN_XNUM in section header
 * 0's sh_info, note padding); the producers' own layouts are in qemu_elf.c, vbox_core.c and xen_core.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf_read.h"

#define ELF_IDENT_SIZE 16
#define ELF_EI_CLASS 4
#define ELF_EI_DATA 5
#define ELF_OFF_TYPE 0x10    /* u16 e_type */
#define ELF_OFF_MACHINE 0x12 /* u16 e_machine */
#define ELFCLASS32 1
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define ET_CORE 4
#define PN_XNUM 0xFFFFu
#define ELF_PHDR_CHUNK 512          /* program headers read at a time */
#define ELF_SHSTRTAB_MAX (1u << 20) /* section names: producers write well under 1 KiB */

/* What the probes look for (vbox_core.c and xen_core.c give the sources). */
#define VBOX_NT_CORE 0xB00u
#define VBOX_CORE_MAGIC 0xC01AC0DEu
#define XEN_NT_DUMPCORE_HEADER 0x2000001u
#define XEN_MAGIC_PV 0xF00FEBEDull
#define XEN_MAGIC_HVM 0xF00FEBEEull

struct r2d_elf_layout {
    int is64;
    const char *class_name;
    uint64_t ehdr_size;
    unsigned off_phoff, off_shoff, off_phentsize, off_phnum, off_shentsize, off_shnum, off_shstrndx;
    unsigned phentsize;
    unsigned p_offset, p_vaddr, p_paddr, p_filesz, p_memsz;
    unsigned shentsize;
    unsigned sh_type, sh_offset, sh_size, sh_info, sh_entsize;
};

static const struct r2d_elf_layout elf_layout64 = {
    .is64 = 1,
    .class_name = "ELFCLASS64",
    .ehdr_size = 64,
    .off_phoff = 0x20,
    .off_shoff = 0x28,
    .off_phentsize = 0x36,
    .off_phnum = 0x38,
    .off_shentsize = 0x3A,
    .off_shnum = 0x3C,
    .off_shstrndx = 0x3E,
    .phentsize = 56,
    .p_offset = 0x08,
    .p_vaddr = 0x10,
    .p_paddr = 0x18,
    .p_filesz = 0x20,
    .p_memsz = 0x28,
    .shentsize = 64,
    .sh_type = 0x04,
    .sh_offset = 0x18,
    .sh_size = 0x20,
    .sh_info = 0x2C,
    .sh_entsize = 0x38,
};

static const struct r2d_elf_layout elf_layout32 = {
    .is64 = 0,
    .class_name = "ELFCLASS32",
    .ehdr_size = 52,
    .off_phoff = 0x1C,
    .off_shoff = 0x20,
    .off_phentsize = 0x2A,
    .off_phnum = 0x2C,
    .off_shentsize = 0x2E,
    .off_shnum = 0x30,
    .off_shstrndx = 0x32,
    .phentsize = 32,
    .p_offset = 0x04,
    .p_vaddr = 0x08,
    .p_paddr = 0x0C,
    .p_filesz = 0x10,
    .p_memsz = 0x14,
    .shentsize = 40,
    .sh_type = 0x04,
    .sh_offset = 0x10,
    .sh_size = 0x14,
    .sh_info = 0x1C,
    .sh_entsize = 0x24,
};

static uint64_t
elf_word(const struct r2d_elf_layout *lay, const uint8_t *p)
{
    return lay->is64 ? r2d_le64(p) : r2d_le32(p);
}

static int
elf_has_magic(const uint8_t *p)
{
    return p[0] == 0x7F && p[1] == 'E' && p[2] == 'L' && p[3] == 'F';
}

/* --- probing (pure) --- */

/* [off, off + n) lies inside the head of len bytes, without overflow. */
static int
elf_in_head(uint64_t off, uint64_t n, size_t len)
{
    return off <= len && n <= len - off;
}

/* A PT_NOTE inside the head whose first note is VirtualBox's core descriptor (DBGFCoreWrite writes it first).
 */
static int
elf_head_is_vbox(const uint8_t *head, size_t len)
{
    const uint64_t phoff = r2d_le64(head + elf_layout64.off_phoff);
    const unsigned phnum = r2d_le16(head + elf_layout64.off_phnum);

    if (r2d_le16(head + elf_layout64.off_phentsize) != elf_layout64.phentsize)
        return 0;
    for (unsigned i = 0; i < phnum && elf_in_head(phoff, 56ull * (i + 1), len); i++) {
        const uint8_t *ph = head + phoff + 56ull * i;
        const uint64_t off = r2d_le64(ph + elf_layout64.p_offset);

        if (r2d_le32(ph) != R2D_ELF_PT_NOTE || !elf_in_head(off, R2D_ELF_NOTE_HDR_SIZE + 8 + 4, len))
            continue;
        if ((r2d_le32(head + off) == 6 || r2d_le32(head + off) == 7) &&
            memcmp(head + off + R2D_ELF_NOTE_HDR_SIZE, "VBCORE", 6) == 0 &&
            r2d_le32(head + off + 8) == VBOX_NT_CORE &&
            r2d_le32(head + off + R2D_ELF_NOTE_HDR_SIZE + 8) == VBOX_CORE_MAGIC)
            return 1;
    }
    return 0;
}

/* The notes of one note section inside the head hold Xen's dump-core header note. */
static int
elf_head_notes_are_xen(const uint8_t *head, size_t len, uint64_t off, uint64_t size)
{
    uint64_t pos = off;
    const uint64_t end = elf_in_head(off, size, len) ? off + size : len;

    for (unsigned k = 0; k < 8 && pos <= end && end - pos >= R2D_ELF_NOTE_HDR_SIZE; k++) {
        const uint32_t namesz = r2d_le32(head + pos), descsz = r2d_le32(head + pos + 4);
        const uint64_t namepad = ((uint64_t)namesz + 3) & ~3ull, descpad = ((uint64_t)descsz + 3) & ~3ull;
        const uint64_t desc = pos + R2D_ELF_NOTE_HDR_SIZE + namepad;

        if (namepad > end - pos - R2D_ELF_NOTE_HDR_SIZE || descpad > end - desc)
            return 0;
        if (namesz == 4 && memcmp(head + pos + R2D_ELF_NOTE_HDR_SIZE, "Xen", 4) == 0 &&
            r2d_le32(head + pos + 8) == XEN_NT_DUMPCORE_HEADER && descsz >= 8 &&
            (r2d_le64(head + desc) == XEN_MAGIC_PV || r2d_le64(head + desc) == XEN_MAGIC_HVM))
            return 1;
        pos = desc + descpad;
    }
    return 0;
}

static int
elf_head_is_xen(const uint8_t *head, size_t len)
{
    const uint64_t shoff = r2d_le64(head + elf_layout64.off_shoff);
    const unsigned shnum = r2d_le16(head + elf_layout64.off_shnum);

    if (r2d_le16(head + elf_layout64.off_shentsize) != elf_layout64.shentsize)
        return 0;
    for (unsigned i = 0; i < shnum && elf_in_head(shoff, 64ull * (i + 1), len); i++) {
        const uint8_t *sh = head + shoff + 64ull * i;

        if (r2d_le32(sh + elf_layout64.sh_type) == R2D_ELF_SHT_NOTE &&
            elf_head_notes_are_xen(head, len, r2d_le64(sh + elf_layout64.sh_offset),
                                   r2d_le64(sh + elf_layout64.sh_size)))
            return 1;
    }
    return 0;
}

enum r2d_elf_kind
r2d_elf_classify(const uint8_t *head, size_t len)
{
    if (len < 4 || !elf_has_magic(head))
        return R2D_ELF_NOT;
    if (len < ELF_OFF_TYPE + 2 || head[ELF_EI_DATA] != ELFDATA2LSB ||
        r2d_le16(head + ELF_OFF_TYPE) != ET_CORE)
        return R2D_ELF_OTHER;
    if (len >= elf_layout64.ehdr_size && head[ELF_EI_CLASS] == ELFCLASS64) {
        if (elf_head_is_vbox(head, len))
            return R2D_ELF_CORE_VBOX;
        if (elf_head_is_xen(head, len))
            return R2D_ELF_CORE_XEN;
    }
    return R2D_ELF_CORE;
}

/* --- reading --- */

/* More than 0xfffe program headers: the real count is section header 0's sh_info (gABI). */
static int
elf_read_xnum(struct r2d_ctx *ctx, struct r2d_elf *elf, const uint8_t *eh)
{
    const struct r2d_elf_layout *lay = elf->lay;
    const uint16_t shentsize = r2d_le16(eh + lay->off_shentsize);
    uint8_t sh[64];
    int rc;

    R2D_CHECK(elf->shoff == 0, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: e_phnum is PN_XNUM (0xffff) but there is no section header table (e_shoff 0)",
              elf->path, lay->off_phnum);
    R2D_CHECK(shentsize != lay->shentsize, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: e_shentsize %u, expected %u for %s", elf->path, lay->off_shentsize, shentsize,
              lay->shentsize, lay->class_name);
    rc = r2d_image_pread(ctx, elf->img, elf->shoff, sh, lay->shentsize, "section header 0 (PN_XNUM count)");
    if (rc)
        return rc;
    elf->phnum = r2d_le32(sh + lay->sh_info);
    elf->phnum_xnum = 1;
    return 0;
}

/* e_ident and e_type: what every ELF core reader requires before anything else. */
static int
elf_check_ident(struct r2d_ctx *ctx, const struct r2d_elf *elf, const uint8_t *eh)
{
    const uint16_t type = r2d_le16(eh + ELF_OFF_TYPE);

    R2D_CHECK(!elf_has_magic(eh), ctx, R2D_EFORMAT, "%s: offset 0x0: no ELF magic", elf->path);
    R2D_CHECK(eh[ELF_EI_CLASS] != ELFCLASS32 && eh[ELF_EI_CLASS] != ELFCLASS64, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: unknown ELF class %u", elf->path, ELF_EI_CLASS, eh[ELF_EI_CLASS]);
    R2D_CHECK(
        eh[ELF_EI_DATA] != ELFDATA2LSB, ctx, R2D_EUNSUPPORTED,
        "%s: offset 0x%x: ELF data encoding %u is not little-endian (ELFDATA2LSB); an x86 guest dump is "
        "always little-endian",
        elf->path, ELF_EI_DATA, eh[ELF_EI_DATA]);
    R2D_CHECK(type != ET_CORE, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: e_type %u is not ET_CORE (4): not a memory dump", elf->path, ELF_OFF_TYPE,
              type);
    return 0;
}

int
r2d_elf_read_header(struct r2d_ctx *ctx, struct r2d_image *img, struct r2d_elf *elf)
{
    uint8_t eh[64];
    uint16_t phentsize;
    int rc;

    memset(elf, 0, sizeof(*elf));
    elf->img = img;
    elf->path = r2d_image_path(img);
    elf->size = r2d_image_file_size(img);
    rc = r2d_image_pread(ctx, img, 0, eh, ELF_IDENT_SIZE + 4, "ELF header");
    if (!rc)
        rc = elf_check_ident(ctx, elf, eh);
    if (rc)
        return rc;
    elf->machine = r2d_le16(eh + ELF_OFF_MACHINE);
    elf->lay = eh[ELF_EI_CLASS] == ELFCLASS64 ? &elf_layout64 : &elf_layout32;
    elf->is64 = elf->lay->is64;
    elf->class_name = elf->lay->class_name;
    /* e_ehsize is not checked: QEMU 7.2 writes 8 (observed). */
    rc = r2d_image_pread(ctx, img, 0, eh, (size_t)elf->lay->ehdr_size, "ELF header");
    if (rc)
        return rc;
    elf->phoff = elf_word(elf->lay, eh + elf->lay->off_phoff);
    elf->shoff = elf_word(elf->lay, eh + elf->lay->off_shoff);
    elf->phnum = r2d_le16(eh + elf->lay->off_phnum);
    elf->shnum = r2d_le16(eh + elf->lay->off_shnum);
    elf->shstrndx = r2d_le16(eh + elf->lay->off_shstrndx);
    elf->shentsize = r2d_le16(eh + elf->lay->off_shentsize);
    phentsize = r2d_le16(eh + elf->lay->off_phentsize);
    if (elf->phnum == 0)
        return 0;
    R2D_CHECK(phentsize != elf->lay->phentsize, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: e_phentsize %u, expected %u for %s", elf->path, elf->lay->off_phentsize,
              phentsize, elf->lay->phentsize, elf->class_name);
    if (elf->phnum == PN_XNUM && (rc = elf_read_xnum(ctx, elf, eh)) != 0)
        return rc;
    R2D_CHECK(elf->phoff > elf->size || (uint64_t)elf->phnum * elf->lay->phentsize > elf->size - elf->phoff,
              ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": program header table of %" PRIu32
              " entries x %u bytes runs past end of "
              "file (size 0x%" PRIx64 ")",
              elf->path, elf->phoff, elf->phnum, elf->lay->phentsize, elf->size);
    return 0;
}

int
r2d_elf_for_each_phdr(struct r2d_ctx *ctx, const struct r2d_elf *elf,
                      int (*fn)(struct r2d_ctx *ctx, void *arg, const struct r2d_elf_seg *seg), void *arg)
{
    uint8_t buf[ELF_PHDR_CHUNK * 56];
    const struct r2d_elf_layout *lay = elf->lay;
    const unsigned ent = lay->phentsize;

    for (uint32_t first = 0; first < elf->phnum;) {
        const uint32_t n = elf->phnum - first < ELF_PHDR_CHUNK ? elf->phnum - first : ELF_PHDR_CHUNK;
        int rc = r2d_image_pread(ctx, elf->img, elf->phoff + (uint64_t)first * ent, buf, (size_t)n * ent,
                                 "program header table");

        for (uint32_t i = 0; !rc && i < n; i++) {
            const uint8_t *ph = buf + (size_t)i * ent;
            const struct r2d_elf_seg s = {
                .index = first + i,
                .type = r2d_le32(ph),
                .offset = elf_word(lay, ph + lay->p_offset),
                .vaddr = elf_word(lay, ph + lay->p_vaddr),
                .paddr = elf_word(lay, ph + lay->p_paddr),
                .filesz = elf_word(lay, ph + lay->p_filesz),
                .memsz = elf_word(lay, ph + lay->p_memsz),
            };

            rc = fn(ctx, arg, &s);
        }
        if (rc)
            return rc;
        first += n;
    }
    return 0;
}

int
r2d_elf_read_area(struct r2d_ctx *ctx, const struct r2d_elf *elf, uint64_t off, uint64_t size, uint64_t max,
                  const char *what, uint8_t **out)
{
    uint8_t *buf;
    int rc;

    *out = NULL;
    R2D_CHECK(off > elf->size || size > elf->size - off, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": %s of 0x%" PRIx64 " bytes runs past end of file (size 0x%" PRIx64
              ")",
              elf->path, off, what, size, elf->size);
    R2D_CHECK(size > max, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": %s of 0x%" PRIx64 " bytes is larger than the 0x%" PRIx64
              " bytes accepted",
              elf->path, off, what, size, max);
    if (size == 0)
        return 0;
    buf = malloc((size_t)size);
    if (!buf)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for %s", elf->path, what);
    rc = r2d_image_pread(ctx, elf->img, off, buf, (size_t)size, what);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    return 0;
}

/* Copy the NUL-terminated name at offset name_off of the string table (cut to fit). */
static int
elf_section_name(struct r2d_ctx *ctx, const struct r2d_elf *elf, const uint8_t *strtab, uint64_t strsize,
                 uint32_t name_off, struct r2d_elf_section *s)
{
    size_t n = 0;

    R2D_CHECK(strsize > 0 && name_off >= strsize, ctx, R2D_EFORMAT,
              "%s: section %" PRIu32 ": name offset 0x%" PRIx32
              " is outside the section name table (0x%" PRIx64 " bytes)",
              elf->path, s->index, name_off, strsize);
    while (strtab && name_off + n < strsize && strtab[name_off + n] && n < sizeof(s->name) - 1) {
        s->name[n] = (char)strtab[name_off + n];
        n++;
    }
    s->name[n] = 0;
    return 0;
}

/* The section name string table, by e_shstrndx (none when SHN_UNDEF). */
static int
elf_read_shstrtab(struct r2d_ctx *ctx, const struct r2d_elf *elf, const uint8_t *table, uint8_t **strtab,
                  uint64_t *strsize)
{
    const struct r2d_elf_layout *lay = elf->lay;
    const uint8_t *sh;
    uint64_t off;

    *strtab = NULL;
    *strsize = 0;
    if (elf->shstrndx == 0)
        return 0;
    R2D_CHECK(elf->shstrndx >= elf->shnum, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: e_shstrndx %" PRIu32 " is beyond the section header table (%" PRIu32
              " entries)",
              elf->path, lay->off_shstrndx, elf->shstrndx, elf->shnum);
    sh = table + (size_t)elf->shstrndx * lay->shentsize;
    off = elf_word(lay, sh + lay->sh_offset);
    *strsize = elf_word(lay, sh + lay->sh_size);
    return r2d_elf_read_area(ctx, elf, off, *strsize, ELF_SHSTRTAB_MAX, "section name table", strtab);
}

static int
elf_fill_sections(struct r2d_ctx *ctx, const struct r2d_elf *elf, const uint8_t *table,
                  struct r2d_elf_section *secs)
{
    const struct r2d_elf_layout *lay = elf->lay;
    uint8_t *strtab;
    uint64_t strsize;
    int rc = elf_read_shstrtab(ctx, elf, table, &strtab, &strsize);

    for (uint32_t i = 0; !rc && i < elf->shnum; i++) {
        const uint8_t *sh = table + (size_t)i * lay->shentsize;
        struct r2d_elf_section *s = &secs[i];

        s->index = i;
        s->type = r2d_le32(sh + lay->sh_type);
        s->offset = elf_word(lay, sh + lay->sh_offset);
        s->size = elf_word(lay, sh + lay->sh_size);
        s->entsize = elf_word(lay, sh + lay->sh_entsize);
        rc = elf_section_name(ctx, elf, strtab, strsize, r2d_le32(sh), s);
    }
    free(strtab);
    return rc;
}

int
r2d_elf_read_sections(struct r2d_ctx *ctx, const struct r2d_elf *elf, struct r2d_elf_section **out, size_t *n)
{
    const struct r2d_elf_layout *lay = elf->lay;
    uint8_t *table = NULL;
    struct r2d_elf_section *secs;
    int rc;

    *out = NULL;
    *n = 0;
    if (elf->shoff == 0 || elf->shnum == 0)
        return 0;
    R2D_CHECK(elf->shentsize != lay->shentsize, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: e_shentsize %u, expected %u for %s", elf->path, lay->off_shentsize,
              elf->shentsize, lay->shentsize, lay->class_name);
    R2D_CHECK(elf->shoff > elf->size || (uint64_t)elf->shnum * lay->shentsize > elf->size - elf->shoff, ctx,
              R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": section header table of %" PRIu32
              " entries x %u bytes runs past end of "
              "file (size 0x%" PRIx64 ")",
              elf->path, elf->shoff, elf->shnum, lay->shentsize, elf->size);
    rc = r2d_elf_read_area(ctx, elf, elf->shoff, (uint64_t)elf->shnum * lay->shentsize, UINT64_MAX,
                           "section header table", &table);
    if (rc)
        return rc;
    secs = calloc(elf->shnum, sizeof(*secs));
    rc = secs ? elf_fill_sections(ctx, elf, table, secs)
              : r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the section table", elf->path);
    free(table);
    if (rc) {
        free(secs);
        return rc;
    }
    *out = secs;
    *n = elf->shnum;
    return 0;
}

const struct r2d_elf_section *
r2d_elf_find_section(const struct r2d_elf_section *secs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(secs[i].name, name) == 0)
            return &secs[i];
    return NULL;
}

int
r2d_elf_note_name_is(const struct r2d_elf_note *note, const char *want)
{
    const size_t n = strlen(want);

    return (note->namesz == n || (note->namesz == n + 1 && note->name[n] == 0)) &&
           memcmp(note->name, want, n) == 0;
}

int
r2d_elf_walk_notes(struct r2d_ctx *ctx, const char *path, const uint8_t *buf, size_t len, uint64_t file_off,
                   const char *what, r2d_elf_note_fn fn, void *arg)
{
    size_t pos = 0;
    int rc = 0;

    while (!rc && pos < len) {
        const size_t left = len - pos;
        const uint64_t off = file_off + pos;
        struct r2d_elf_note note;
        uint64_t namepad, descpad;

        if (left < R2D_ELF_NOTE_HDR_SIZE) {
            for (size_t i = pos; i < len; i++)
                R2D_CHECK(buf[i] != 0, ctx, R2D_EFORMAT,
                          "%s: offset 0x%" PRIx64
                          ": %zu bytes at the end of %s are too short for a note header",
                          path, off, left, what);
            break;
        }
        note.namesz = r2d_le32(buf + pos);
        note.descsz = r2d_le32(buf + pos + 4);
        note.type = r2d_le32(buf + pos + 8);
        namepad = ((uint64_t)note.namesz + 3) & ~(uint64_t)3;
        descpad = ((uint64_t)note.descsz + 3) & ~(uint64_t)3;
        R2D_CHECK(namepad > left - R2D_ELF_NOTE_HDR_SIZE || descpad > left - R2D_ELF_NOTE_HDR_SIZE - namepad,
                  ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": note (namesz 0x%" PRIx32 ", descsz 0x%" PRIx32
                  ") runs past the end of %s (0x%zx bytes left)",
                  path, off, note.namesz, note.descsz, what, left);
        note.name = buf + pos + R2D_ELF_NOTE_HDR_SIZE;
        note.desc = note.name + namepad;
        note.off = off;
        note.desc_off = off + R2D_ELF_NOTE_HDR_SIZE + namepad;
        rc = fn(ctx, arg, &note);
        pos += R2D_ELF_NOTE_HDR_SIZE + (size_t)namepad + (size_t)descpad;
    }
    return rc;
}
