/* SPDX-License-Identifier: MIT */
/*
 * The KDBG (_KDDEBUGGER_DATA64): where the image keeps it, decoding the Windows 8+ encoding, rebuilding it
 * from symbols, and comparing the two (docs/reference/kdbg.md).
 */
#ifndef R2D_ENGINE_KDBG_H
#define R2D_ENGINE_KDBG_H

#include <stddef.h>
#include <stdint.h>

#include "kdbg_header.h"

#define R2D_KDBG_MAX_DIFFS 256

struct r2d_analysis;

enum r2d_kdbg_mode {
    R2D_KDBG_NONE = 0,
    R2D_KDBG_PLAIN,    /* the block in memory already reads 'KDBG' */
    R2D_KDBG_DECODED,  /* encoded with the Windows 8+ formula; decoded by us */
    R2D_KDBG_REBUILT,  /* built from symbols and types */
};

struct r2d_kdbg {
    enum r2d_kdbg_mode mode;
    uint64_t va;
    uint32_t size;
    uint8_t bytes[R2D_KDBG_MAX_SIZE];  /* the block as it must appear in the dump */
    uint8_t image[R2D_KDBG_MAX_SIZE];  /* the block as the image holds it */
    int have_image;
    uint64_t flag_va;                  /* KdpDataBlockEncoded */
    uint8_t flag;
    int have_flag;
    uint64_t wait_never, wait_always;
    uint64_t salt;                     /* x86: the VA the 32-bit decoding used (&KdpDataBlockEncoded or va) */
    char why[1024];                    /* how the block was obtained, or why it could not be */
    /* The image's own block made plain (decoded or plain), kept for verification when we rebuild. */
    uint8_t from_image[R2D_KDBG_MAX_SIZE];
    uint32_t from_image_size;          /* 0 when the image's block was unusable */
    /* Fields a rebuild could not derive (indexes into r2d_kdbg_fields). */
    uint16_t underived[256];
    unsigned nunderived;
};

/* One field where the image's KDBG and the block rebuilt from symbols disagree. */
struct r2d_kdbg_diff {
    const char *field;
    uint16_t offset;
    uint64_t image;
    uint64_t symbols;
};

uint64_t r2d_kdbg_decode_u64(uint64_t e, uint64_t wait_never, uint64_t wait_always, uint64_t block_va);
uint64_t r2d_kdbg_encode_u64(uint64_t plain, uint64_t wait_never, uint64_t wait_always, uint64_t block_va);
/* The x86 variant, per 4-byte word: keys and salt are the low 32 bits of KiWaitNever, KiWaitAlways, &flag. */
uint32_t r2d_kdbg_decode_u32(uint32_t e, uint32_t wait_never, uint32_t wait_always, uint32_t salt);
uint32_t r2d_kdbg_encode_u32(uint32_t plain, uint32_t wait_never, uint32_t wait_always, uint32_t salt);
int r2d_kdbg_locate(struct r2d_analysis *a);
int r2d_kdbg_rebuild(struct r2d_analysis *a, uint8_t *out, uint32_t *size);
/*
 * Compare the image's block with one rebuilt from symbols, field by field, over the fields the rebuild
 * derived (*compared of them). Returns the number of differences written to diffs (at most max), or a
 * negative status: R2D_EVERIFY when the image's block was unusable (nothing to compare).
 */
int r2d_kdbg_verify(struct r2d_analysis *a, struct r2d_kdbg_diff *diffs, size_t max, unsigned *compared);

#endif
