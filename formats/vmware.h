/* SPDX-License-Identifier: MIT */
/*
 * VMware checkpoint files (.vmss suspend state, .vmsn snapshot state): header, group table and the tag walker
 * (vmware_tags.c), shared with the format (vmware.c). Layout and sources: docs/formats/vmware.md.
 */
#ifndef R2D_FORMATS_VMWARE_H
#define R2D_FORMATS_VMWARE_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"

#define VMW_HDR_SIZE 12
#define VMW_OFF_MAGIC 0x0   /* u32 */
#define VMW_OFF_VERSION 0x4 /* u32, not interpreted by any reader */
#define VMW_OFF_NGROUPS 0x8 /* u32 */
#define VMW_GROUP_SIZE 80   /* one group table entry, from offset 0xC */
#define VMW_GROUP_NAME_LEN 64
#define VMW_GROUP_OFF_TAGS 64 /* u64: file offset of the group's first tag */
#define VMW_GROUP_OFF_SIZE 72 /* u64: bytes of the group's tags */
#define VMW_MAX_GROUPS 1024u  /* real files have a few dozen */
#define VMW_NOTE_MAX 4096     /* longest --info note */

/* Tag: u16 LE = name length << 8 | index count << 6 | value size; then name, u32 indices, value or block. */
#define VMW_TAG_NAME_MAX 255
#define VMW_TAG_MAX_INDICES 3
#define VMW_TAG_VALUE_MAX 61
#define VMW_VALSIZE_COMPRESSED 62 /* value size meaning "compressed block" */
#define VMW_VALSIZE_BLOCK 63      /* value size meaning "block" */

enum vmware_tag_kind { VMW_VALUE, VMW_BLOCK, VMW_BLOCK_COMPRESSED };

struct vmware_group {
    char name[VMW_GROUP_NAME_LEN + 1]; /* non-printable bytes shown as '?' */
    uint64_t off;                      /* first tag */
    uint64_t size;                     /* 0: not given, the tags run to their terminator */
    uint32_t ntags;                    /* set by r2d_vmware_walk */
};

struct vmware_tag {
    char name[VMW_TAG_NAME_MAX + 1];
    unsigned nindx;
    uint32_t idx[VMW_TAG_MAX_INDICES];
    uint64_t off; /* where the tag starts */
    enum vmware_tag_kind kind;
    uint64_t data_off; /* where the value, or the block's bytes, start */
    uint64_t len;      /* value bytes, or the block's bytes in the file */
    uint64_t mem_len;  /* a block's bytes once loaded (its second size field) */
    uint8_t value[VMW_TAG_VALUE_MAX];
};

struct vmware_file {
    struct r2d_image *img;
    const char *path;
    uint64_t size;
    uint32_t magic, version;
    unsigned size_width;    /* bytes of each of a block's two size fields: 4 or 8 */
    const char *magic_what; /* what the magic says of the file */
    struct vmware_group *groups;
    uint32_t ngroups;
};

/* What one tag name was seen doing, for --info. */
struct vmware_seen {
    const char *name;
    uint32_t count;
};

/* Called for each tag of a group, in file order; a non-zero return stops the walk and is returned. */
typedef int (*vmware_tag_fn)(struct r2d_ctx *ctx, void *arg, const struct vmware_tag *tag);

/** 1 when magic is a checkpoint magic; size_width and what (may be NULL) receive its block-size width and
 * meaning. */
int r2d_vmware_magic(uint32_t magic, unsigned *size_width, const char **what);
/** Read and check the header and the group table of img's input into f (free with r2d_vmware_file_free). */
int r2d_vmware_file_open(struct r2d_ctx *ctx, struct r2d_image *img, struct vmware_file *f);
void r2d_vmware_file_free(struct vmware_file *f);
/** The first group named name, or NULL. */
struct vmware_group *r2d_vmware_group(struct vmware_file *f, const char *name);
/**
 * Walk g's tags up to the terminator (a zero tag) or the group's end, bounded by both the group and the file;
 * blocks are skipped by their length, never read. Sets g->ntags.
 */
int r2d_vmware_walk(struct r2d_ctx *ctx, struct vmware_file *f, struct vmware_group *g, vmware_tag_fn fn,
                    void *arg);
/** A value tag's first (up to) 8 bytes as a little-endian number. */
uint64_t r2d_vmware_tag_u64(const struct vmware_tag *t);
/** "CR64[0][3]": the tag's name and indices, for messages. */
void r2d_vmware_tag_label(const struct vmware_tag *t, char *buf, size_t n);
/** Count one more tag named name when the table (n entries, unused ones NULL) lists it. */
void r2d_vmware_seen(struct vmware_seen *s, size_t n, const char *name);
/** "regionPPN x2, Memory; 3 other tags not used": the names seen, with their counts. */
void r2d_vmware_seen_text(const struct vmware_seen *s, size_t n, uint32_t other, char *buf, size_t len);
/** Grow the zero-filled *table of *n elements so that index i exists; i >= max is an error naming what. */
int r2d_vmware_grow(struct r2d_ctx *ctx, const char *path, void **table, size_t *n, size_t elem, uint64_t i,
                    uint64_t max, const char *what);
/** The cpu group's registers as the image's CPU states, with their notes (vmware_cpu.c). */
int r2d_vmware_cpu_group(struct r2d_ctx *ctx, struct vmware_file *f);

#endif
