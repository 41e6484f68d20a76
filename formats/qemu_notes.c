/* SPDX-License-Identifier: MIT */
/*
 * QEMU's ELF notes: NT_PRSTATUS ("CORE") and QEMUCPUState ("QEMU") per vCPU, as dump-guest-memory writes them
 * into an ELF PT_NOTE or a kdump sub-header. Facts: docs/formats/elf.md F2-F3 (QEMU
 * dump/dump.c, target/i386/arch_dump.c, contrib/elf2dmp/qemu_elf.c; checked against real QEMU 7.2 files).
 */
#include <inttypes.h>
#include <string.h>

#include "qemu_notes.h"

/* Note: {u32 namesz, u32 descsz, u32 type, name padded to 4, desc padded to 4}. */
#define QNOTE_HDR_SIZE 12
#define QNOTE_NT_PRSTATUS 1

/* QEMUCPUState version 1. */
#define QCPU_VERSION 0x000 /* u32, 1 */
#define QCPU_SIZE 0x004    /* u32, 0x1b0 (no kernel_gs_base) or 0x1b8 */
#define QCPU_GPR 0x008     /* rax rbx rcx rdx rsi rdi rsp rbp r8..r15: 16 u64 in this order */
#define QCPU_RIP 0x088
#define QCPU_RFLAGS 0x090
#define QCPU_SEGS                                                                                            \
    0x098 /* cs ds es fs gs ss ldt tr gdt idt: {u32 sel, u32 limit, u32 flags, u32 pad, u64 base} */
#define QCPU_SEG_SIZE 24
#define QCPU_SEG_LIMIT 0x04
#define QCPU_SEG_FLAGS 0x08
#define QCPU_SEG_BASE 0x10
#define QCPU_CR0 0x188
#define QCPU_CR2 0x198
#define QCPU_CR3 0x1A0
#define QCPU_CR4 0x1A8
#define QCPU_KGSBASE 0x1B0
#define QCPU_MIN_SIZE 0x1B0
#define QCPU_FULL_SIZE 0x1B8
/* QEMU keeps the descriptor's high dword as segment flags; bit 21 is L, a 64-bit code segment. */
#define QCPU_SEG_FLAG_L (1u << 21)

static void
qemu_notes_segment(struct r2d_segment *seg, const uint8_t *d, unsigned index)
{
    const uint8_t *p = d + QCPU_SEGS + (size_t)index * QCPU_SEG_SIZE;

    seg->selector = r2d_le32(p);
    seg->limit = r2d_le32(p + QCPU_SEG_LIMIT);
    seg->flags = r2d_le32(p + QCPU_SEG_FLAGS);
    seg->base = r2d_le64(p + QCPU_SEG_BASE);
}

int
r2d_qemu_cpu_decode(struct r2d_ctx *ctx, struct r2d_image *img, uint64_t off, const uint8_t *d,
                    uint32_t descsz, enum r2d_qemu_long_mode long_mode)
{
    const char *path = r2d_image_path(img);
    struct r2d_cpu_state cpu = {0};
    uint64_t *const gpr[16] = {&cpu.rax, &cpu.rbx, &cpu.rcx, &cpu.rdx, &cpu.rsi, &cpu.rdi,
                               &cpu.rsp, &cpu.rbp, &cpu.r8,  &cpu.r9,  &cpu.r10, &cpu.r11,
                               &cpu.r12, &cpu.r13, &cpu.r14, &cpu.r15};
    struct r2d_segment *const seg[10] = {&cpu.cs, &cpu.ds,  &cpu.es, &cpu.fs,  &cpu.gs,
                                         &cpu.ss, &cpu.ldt, &cpu.tr, &cpu.gdt, &cpu.idt};
    uint32_t version, size;

    R2D_CHECK(descsz < QCPU_MIN_SIZE, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": QEMU CPU state note of 0x%" PRIx32 " bytes, need at least 0x%x",
              path, off, descsz, QCPU_MIN_SIZE);
    version = r2d_le32(d + QCPU_VERSION);
    size = r2d_le32(d + QCPU_SIZE);
    R2D_CHECK(version != 1, ctx, R2D_EUNSUPPORTED,
              "%s: offset 0x%" PRIx64 ": QEMU CPU state version %" PRIu32 ", only version 1 is known", path,
              off, version);
    R2D_CHECK(size < QCPU_MIN_SIZE, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": QEMU CPU state size field 0x%" PRIx32 " is below 0x%x", path,
              off + QCPU_SIZE, size, QCPU_MIN_SIZE);
    for (unsigned i = 0; i < 16; i++)
        *gpr[i] = r2d_le64(d + QCPU_GPR + 8 * i);
    cpu.rip = r2d_le64(d + QCPU_RIP);
    cpu.rflags = r2d_le64(d + QCPU_RFLAGS);
    for (unsigned i = 0; i < 10; i++)
        qemu_notes_segment(seg[i], d, i);
    cpu.cr0 = r2d_le64(d + QCPU_CR0);
    cpu.cr2 = r2d_le64(d + QCPU_CR2);
    cpu.cr3 = r2d_le64(d + QCPU_CR3);
    cpu.cr4 = r2d_le64(d + QCPU_CR4);
    /* Both the size field and the note must hold kernel_gs_base (older QEMU wrote 0x1b0). */
    if (size >= QCPU_FULL_SIZE && descsz >= QCPU_FULL_SIZE) {
        cpu.kernel_gs_base = r2d_le64(d + QCPU_KGSBASE);
        cpu.flags |= R2D_CPU_HAVE_KGSBASE;
    }
    if (long_mode == R2D_QEMU_LM_YES ||
        (long_mode == R2D_QEMU_LM_FROM_CS && (cpu.cs.flags & QCPU_SEG_FLAG_L)))
        cpu.flags |= R2D_CPU_LONG_MODE;
    return r2d_image_add_cpu(ctx, img, &cpu);
}

static int
qemu_notes_name_is(const uint8_t *name, uint32_t namesz, const char *want)
{
    const size_t n = strlen(want);

    return (namesz == n || (namesz == n + 1 && name[n] == 0)) && memcmp(name, want, n) == 0;
}

int
r2d_qemu_notes_parse(struct r2d_ctx *ctx, struct r2d_image *img, const uint8_t *notes, size_t len,
                     uint64_t file_off, const char *what, enum r2d_qemu_long_mode long_mode,
                     struct r2d_qemu_notes *counts)
{
    struct r2d_qemu_notes c = {0};
    size_t pos = 0;
    int rc = 0;

    while (!rc && pos < len) {
        const size_t left = len - pos;
        const uint64_t off = file_off + pos;
        uint32_t namesz, descsz, type;
        uint64_t namepad, descpad;

        if (left < QNOTE_HDR_SIZE) {
            for (size_t i = pos; i < len; i++)
                R2D_CHECK(notes[i] != 0, ctx, R2D_EFORMAT,
                          "%s: offset 0x%" PRIx64 ": %zu bytes at the end of the %s are too short for a note "
                          "header",
                          r2d_image_path(img), off, left, what);
            break;
        }
        namesz = r2d_le32(notes + pos);
        descsz = r2d_le32(notes + pos + 4);
        type = r2d_le32(notes + pos + 8);
        if (namesz == 0 && descsz == 0 && type == 0) { /* zero padding up to the area's end */
            pos += QNOTE_HDR_SIZE;
            continue;
        }
        namepad = ((uint64_t)namesz + 3) & ~(uint64_t)3;
        descpad = ((uint64_t)descsz + 3) & ~(uint64_t)3;
        R2D_CHECK(namepad > left - QNOTE_HDR_SIZE || descpad > left - QNOTE_HDR_SIZE - namepad, ctx,
                  R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": note (namesz 0x%" PRIx32 ", descsz 0x%" PRIx32
                  ") runs past the end of the %s (0x%zx bytes left)",
                  r2d_image_path(img), off, namesz, descsz, what, left);
        if (qemu_notes_name_is(notes + pos + QNOTE_HDR_SIZE, namesz, "QEMU")) {
            rc = r2d_qemu_cpu_decode(ctx, img, off + QNOTE_HDR_SIZE + namepad,
                                     notes + pos + QNOTE_HDR_SIZE + namepad, descsz, long_mode);
            c.qemu++;
        } else if (qemu_notes_name_is(notes + pos + QNOTE_HDR_SIZE, namesz, "CORE") &&
                   type == QNOTE_NT_PRSTATUS) {
            c.prstatus++;
        } else {
            c.other++;
        }
        pos += QNOTE_HDR_SIZE + (size_t)namepad + (size_t)descpad;
    }
    if (counts)
        *counts = c;
    return rc;
}
