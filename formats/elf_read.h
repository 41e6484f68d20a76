/* SPDX-License-Identifier: MIT */
/*
 * The ELF container as the ELF core readers share it (QEMU qemu_elf.c, VirtualBox vbox_core.c, Xen
 * xen_core.c): the file header, the program and section header tables, note walking, and a classification of
 * a file's head that keeps their probes from claiming each other's files.
 * Facts: System V gABI (ELF32/ELF64 headers, PN_XNUM, notes); docs/formats/elf.md, vbox.md, xen.md.
 */
#ifndef R2D_FORMATS_ELF_READ_H
#define R2D_FORMATS_ELF_READ_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"

#define R2D_ELF_PT_LOAD 1
#define R2D_ELF_PT_NOTE 4
#define R2D_ELF_SHT_NOTE 7
#define R2D_ELF_EM_386 3
#define R2D_ELF_EM_X86_64 62
#define R2D_ELF_NOTE_HDR_SIZE                                                                                \
    12 /* u32 namesz, u32 descsz, u32 type; name and desc follow, each padded to 4 */

struct r2d_elf_layout; /* where the class-dependent fields are (elf_read.c) */

/* An ELF file's header, as r2d_elf_read_header found it. */
struct r2d_elf {
    struct r2d_image *img;
    const char *path;
    uint64_t size;
    const struct r2d_elf_layout *lay;
    int is64;
    const char *class_name; /* "ELFCLASS64" or "ELFCLASS32" */
    uint16_t machine;
    uint64_t phoff;
    uint32_t phnum; /* with PN_XNUM resolved through section header 0 */
    int phnum_xnum; /* e_phnum was PN_XNUM */
    uint64_t shoff;
    uint32_t shnum;
    uint32_t shstrndx;
    uint16_t shentsize;
};

/* A program header. */
struct r2d_elf_seg {
    uint32_t index; /* program header index, for messages */
    uint32_t type;
    uint64_t offset, vaddr, paddr, filesz, memsz;
};

/* A section header, its name resolved through the section name string table. */
struct r2d_elf_section {
    uint32_t index;
    uint32_t type;
    char name[32]; /* longer names are cut (no section we look for is that long) */
    uint64_t offset, size, entsize;
};

/* One note of a note area: name and descriptor point into the caller's buffer. */
struct r2d_elf_note {
    const uint8_t *name;
    uint32_t namesz;
    uint32_t type;
    const uint8_t *desc;
    uint32_t descsz;
    uint64_t off;      /* file offset of the note header */
    uint64_t desc_off; /* file offset of the descriptor */
};

/* Called for every note of an area; a non-zero return stops the walk and is returned. */
typedef int (*r2d_elf_note_fn)(struct r2d_ctx *ctx, void *arg, const struct r2d_elf_note *note);

/* What a file's head is, as far as the probes need to know (pure: no I/O). */
enum r2d_elf_kind {
    R2D_ELF_NOT = 0,   /* no ELF magic */
    R2D_ELF_OTHER,     /* ELF, but not a little-endian core file */
    R2D_ELF_CORE,      /* a little-endian ET_CORE of no producer recognised below */
    R2D_ELF_CORE_VBOX, /* a PT_NOTE starting with VirtualBox's core descriptor (VBCORE, magic 0xc01ac0de) */
    R2D_ELF_CORE_XEN,  /* a note section holding Xen's dump-core header (magic 0xf00febed or 0xf00febee) */
};

/**
 * Classify the first len bytes of a file. Only what lies inside head is looked at: a VirtualBox descriptor or
 * Xen note beyond it leaves the answer R2D_ELF_CORE.
 */
enum r2d_elf_kind r2d_elf_classify(const uint8_t *head, size_t len);

/**
 * Read and check the ELF header of img's input: magic, class, little-endian, ET_CORE, e_machine (any: the
 * caller decides), the program header table (e_phentsize, PN_XNUM, bounds; it may be empty) and the section
 * header table's place. Errors name the file and the offset.
 */
int r2d_elf_read_header(struct r2d_ctx *ctx, struct r2d_image *img, struct r2d_elf *elf);

/** Call fn for every program header, in file order, reading the table in bounded chunks. */
int r2d_elf_for_each_phdr(struct r2d_ctx *ctx, const struct r2d_elf *elf,
                          int (*fn)(struct r2d_ctx *ctx, void *arg, const struct r2d_elf_seg *seg),
                          void *arg);

/**
 * Read the section header table and resolve the names through e_shstrndx. *out (freed by the caller) receives
 * elf->shnum entries; with no section header table it is NULL and *n is 0. A table or string table past the
 * end of the file, a wrong e_shentsize or a name offset outside the string table is an error.
 */
int r2d_elf_read_sections(struct r2d_ctx *ctx, const struct r2d_elf *elf, struct r2d_elf_section **out,
                          size_t *n);

/** The first section named name, or NULL. */
const struct r2d_elf_section *r2d_elf_find_section(const struct r2d_elf_section *secs, size_t n,
                                                   const char *name);

/**
 * Read size bytes at file offset off into a new buffer (*out, freed by the caller), refusing areas past the
 * end of the file or larger than max; what names the area in messages ("PT_NOTE segment 0").
 */
int r2d_elf_read_area(struct r2d_ctx *ctx, const struct r2d_elf *elf, uint64_t off, uint64_t size,
                      uint64_t max, const char *what, uint8_t **out);

/**
 * Walk the notes of len bytes (buf, read from file offset file_off; what names the area in messages) and call
 * fn for each. Names and descriptors are padded to 4 bytes, which also reads VirtualBox's 8-byte padded notes
 * (its name and descriptor sizes are multiples of 8 once padded to 4). Bytes too few for a note header must
 * be zero; a note running past the area is an error.
 */
int r2d_elf_walk_notes(struct r2d_ctx *ctx, const char *path, const uint8_t *buf, size_t len,
                       uint64_t file_off, const char *what, r2d_elf_note_fn fn, void *arg);

/** True when the note's name is want, with or without the terminating NUL counted in namesz. */
int r2d_elf_note_name_is(const struct r2d_elf_note *note, const char *want);

#endif
