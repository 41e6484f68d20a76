/* SPDX-License-Identifier: MIT */
/* The sparse physical image: sorted runs of physical memory plus CPU states, whatever the input format. */
#ifndef RAW2DMP_IMAGE_H
#define RAW2DMP_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "bytesrc.h"
#include "diag.h"

#define R2D_PAGE_SIZE 4096u
#define R2D_PAGE_SHIFT 12

struct r2d_image;
struct r2d_source_ops;

/*
 * One run of physical memory [pa, pa + len). Runs in an image are sorted by pa and never overlap. A run
 * need not be page-aligned (QEMU ELF PT_LOADs may start or end mid-page); the writer pads partial pages.
 */
struct r2d_run {
    uint64_t pa;
    uint64_t len;
    /* Where the bytes come from: a slice of a byte source (the input or a companion file) at off ... */
    const struct r2d_bytesrc *bytes;
    uint64_t off;
    /* ... or the image's decoding source read at src_off (kdump pages, migration streams, inflated LiME). */
    const struct r2d_source_ops *ops;
    uint64_t src_off;
};

/*
 * What a format knows about its image that the engine must not guess (from the format's name, say). Set by
 * the format's open; all zero by default.
 */
struct r2d_image_props {
    /* The runs are the whole file, padding and MMIO holes included (a raw image): the true RAM layout
     * must come from the kernel. */
    int runs_include_padding;
    /* The input is a Windows crash dump: its header's DTB and KDBG address, as WinDbg will use them. */
    int have_dump_header;
    uint64_t dump_dtb;
    uint64_t dump_kdbg_va;
    /* A 32-bit dump (PAGEDUMP, MachineImageType 0x14c): its PaeEnabled byte names the paging mode. */
    int dump_is32;
    int dump_pae;
    /* What the acquisition tool recorded about the system (WinPmem's CR3 and kernel base in an AFF4
     * volume): candidates the engine tries first and still validates; 0 when none. */
    uint64_t hint_dtb;
    uint64_t hint_kernel_base;
};

/* A segment register or descriptor-table register as QEMU records it. */
struct r2d_segment {
    uint32_t selector;
    uint32_t limit;
    uint32_t flags;
    uint64_t base;
};

enum r2d_cpu_flags {
    R2D_CPU_HAVE_KGSBASE = 1u << 0, /* kernel_gs_base is valid (QEMUCPUState size >= 0x1b8) */
    R2D_CPU_LONG_MODE = 1u << 1,    /* the CPU was in 64-bit mode */
};

/* The registers an input format recorded for one virtual CPU, in the order the file lists them. */
struct r2d_cpu_state {
    uint32_t flags;
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags;
    struct r2d_segment cs, ds, es, fs, gs, ss, ldt, tr, gdt, idt;
    uint64_t cr0, cr2, cr3, cr4;
    uint64_t kernel_gs_base;
};

/* What to do when a physical read touches an address no run covers. */
enum r2d_hole_policy {
    R2D_HOLE_ERROR, /* fail with R2D_EHOLE naming the address */
    R2D_HOLE_ZERO,  /* read zeros */
};

/** Free an image, closing its input file and freeing its decoding source; NULL is a no-op. */
void r2d_image_free(struct r2d_image *img);

const char *r2d_image_path(const struct r2d_image *img);
const char *r2d_image_format_name(const struct r2d_image *img);
uint64_t r2d_image_file_size(const struct r2d_image *img);
/** The byte source the image was opened from. */
const struct r2d_bytesrc *r2d_image_input(const struct r2d_image *img);
const struct r2d_image_props *r2d_image_props(const struct r2d_image *img);
size_t r2d_image_run_count(const struct r2d_image *img);
/** Run i (0 <= i < run count), sorted by physical address. */
const struct r2d_run *r2d_image_run(const struct r2d_image *img, size_t i);
/** Total bytes covered by runs. */
uint64_t r2d_image_total_bytes(const struct r2d_image *img);
size_t r2d_image_cpu_count(const struct r2d_image *img);
const struct r2d_cpu_state *r2d_image_cpu(const struct r2d_image *img, size_t i);
/** Number of key/value notes the format attached (e.g. "elf.machine" = "EM_X86_64"). */
size_t r2d_image_note_count(const struct r2d_image *img);
void r2d_image_note(const struct r2d_image *img, size_t i, const char **key, const char **value);

/**
 * Read len bytes of physical memory at pa into buf, across run boundaries. Bytes no run covers are an
 * R2D_EHOLE error (message names the address) or zeros, as the caller chooses.
 */
int r2d_image_read(struct r2d_ctx *ctx, const struct r2d_image *img, uint64_t pa, void *buf,
                           size_t len, enum r2d_hole_policy holes);
/** True when every byte of [pa, pa + len) is covered by a run. */
int r2d_image_covers(const struct r2d_image *img, uint64_t pa, uint64_t len);

/* --- building an image (the format layer) --- */

/*
 * A decoding source for runs whose bytes are not a plain slice of a byte source (compressed pages,
 * streams). One source per image; the image frees it with ops->free.
 */
struct r2d_source_ops {
    const char *name;
    /* Read len bytes at offset off of the source's own address space (r2d_run.src_off + delta). */
    int (*read)(struct r2d_ctx *ctx, void *src, uint64_t off, void *buf, size_t len);
    void (*free)(void *src);
};

/** A new, empty image over input, which it owns from now on (closed with the image, or now on failure). */
int r2d_image_new(struct r2d_ctx *ctx, struct r2d_bytesrc *input, struct r2d_image **out);
/** Record which format opened the image and why (both copied; shown by --info and the report). */
int r2d_image_set_format(struct r2d_ctx *ctx, struct r2d_image *img, const char *name, const char *why);
void r2d_image_set_props(struct r2d_image *img, const struct r2d_image_props *props);
/** Sort the run table and refuse overlapping runs; called once the format has described the image. */
int r2d_image_finish(struct r2d_ctx *ctx, struct r2d_image *img);

/**
 * Open name (relative to the input's directory unless absolute) as a further byte source of the image, owned
 * by it: the memory file beside a hypervisor's state file.
 */
int r2d_image_open_companion(struct r2d_ctx *ctx, struct r2d_image *img, const char *name,
                                     const struct r2d_bytesrc **out);
/**
 * Open path as given (relative to the working directory unless absolute) as a further byte source of the
 * image, owned by it: a companion the user named (--vmem), not one found beside the input.
 */
int r2d_image_open_file_companion(struct r2d_ctx *ctx, struct r2d_image *img, const char *path,
                                  const struct r2d_bytesrc **out);
/**
 * The companion the caller named for this input (r2d_open_hints.companion: a VMware .vmem given with --vmem),
 * or NULL. Set by the registry before the format's open; the format decides what it means.
 */
const char *r2d_image_hint_companion(const struct r2d_image *img);
/** Record the caller's companion hint (copied; NULL clears it). */
int r2d_image_set_hint_companion(struct r2d_ctx *ctx, struct r2d_image *img, const char *path);
/**
 * Whether the caller asked for stored digests to be checked at open (r2d_open_hints.verify_container): a
 * format that stores digests of its own data (AFF4's aff4:hash) compares them then. Set before the open.
 */
int r2d_image_hint_verify(const struct r2d_image *img);
void r2d_image_set_hint_verify(struct r2d_image *img, int verify);

/*
 * A digest the format's own metadata stores of part of its data (an AFF4 stream's aff4:hash): reported like a
 * container's (struct r2d_bytesrc_digest), with the object it covers. A mismatch is an error, never a state.
 */
struct r2d_image_digest {
    const char *object; /* what it covers, as the format names it ("aff4://.../PhysicalMemory") */
    const char *kind;   /* the format's name for the statement ("aff4:hash", "aff4:blockMapHash") */
    char alg[16];       /* "md5", "sha1", "sha256", "sha512", "blake2b" ... */
    char hex[129];      /* as stored, lowercase hex */
    enum r2d_digest_state state;
    const char *how;  /* static: how it was checked ("--verify-container"), or NULL */
    const char *note; /* why it is not checked, or NULL */
};

/** Record a stored digest (object, kind and note copied). */
int r2d_image_add_digest(struct r2d_ctx *ctx, struct r2d_image *img, const struct r2d_image_digest *d);
size_t r2d_image_digest_count(const struct r2d_image *img);
/** Digest i, or NULL past the end. */
const struct r2d_image_digest *r2d_image_digest(const struct r2d_image *img, size_t i);
/** A slice of the input: physical [pa, pa + len) is at input offset off. Bounds are checked. */
int r2d_image_add_file_run(struct r2d_ctx *ctx, struct r2d_image *img, uint64_t pa, uint64_t len,
                                   uint64_t off);
/** A slice of a byte source the image owns (the input or a companion). Bounds are checked. */
int r2d_image_add_slice_run(struct r2d_ctx *ctx, struct r2d_image *img, const struct r2d_bytesrc *bytes,
                                    uint64_t pa, uint64_t len, uint64_t off);
/** Attach the image's decoding source (owned by the image from now on, even when this fails). */
int r2d_image_set_source(struct r2d_ctx *ctx, struct r2d_image *img, const struct r2d_source_ops *ops,
                                 void *src);
/** A run read through the source set above, at source offset src_off. */
int r2d_image_add_source_run(struct r2d_ctx *ctx, struct r2d_image *img, uint64_t pa, uint64_t len,
                                     uint64_t src_off);
int r2d_image_add_cpu(struct r2d_ctx *ctx, struct r2d_image *img, const struct r2d_cpu_state *cpu);
/** Attach a note (both strings copied). */
int r2d_image_add_note(struct r2d_ctx *ctx, struct r2d_image *img, const char *key, const char *value);

/*
 * Read exactly len bytes at offset off of the image's input. Reading past the end is R2D_ETRUNC with a
 * message "<path>: offset 0x..: <what> of 0x.. bytes runs past end of file (size 0x..)"; what names the
 * structure being read ("program header", "LiME range header").
 */
int r2d_image_pread(struct r2d_ctx *ctx, const struct r2d_image *img, uint64_t off, void *buf,
                            size_t len, const char *what);

const char *r2d_image_probe_reason(const struct r2d_image *img);

#endif
