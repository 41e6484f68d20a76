/* SPDX-License-Identifier: MIT */
/*
 * The QEMU migration stream ("QEVM", version 3), shared by the savevm reader (virsh dump without
 * --memory-only, migrate "exec:cat > FILE") and the libvirt save image reader (virsh save), which wraps the
 * same stream after its own header and the domain XML. See docs/formats/savevm.md.
 */
#ifndef R2D_FORMATS_SAVEVM_STREAM_H
#define R2D_FORMATS_SAVEVM_STREAM_H

#include <stdint.h>

#include "format.h"

#define R2D_SAVEVM_MAGIC "QEVM"
#define R2D_SAVEVM_MAGIC_LEN 4

/** 2 when head (len bytes) starts with the QEMU stream magic and version 3, 1 for the magic only, else 0. */
int r2d_savevm_stream_probe(const uint8_t *head, size_t len);

/**
 * Parse the QEMU stream that starts at file offset base of img's input and describe it: pc.ram as source
 * runs (the image owns the decoding source afterwards), CPUs from the "cpu" device sections when the stream's
 * VMDESCRIPTION describes them, and notes prefixed "savevm.". Every length, offset and record is checked
 * against the file; unsupported stream features (XBZRLE, compressed or multifd pages, RDMA hooks, other
 * iterable sections) are R2D_EUNSUPPORTED with a message naming the feature.
 */
int r2d_savevm_stream_open(struct r2d_ctx *ctx, struct r2d_image *img, uint64_t base);

/**
 * If head starts with a compressor's magic (gzip, bzip2, xz, lzop, zstd), its name; else NULL. virsh dump
 * pipes the stream through the compressor named by dump_image_format in qemu.conf.
 */
const char *r2d_savevm_compressor(const uint8_t *head, size_t len);

/* --- shared by savevm_stream.c, savevm_vmdesc.c and savevm_pages.c only --- */

#include <jansson.h>

/*
 * pc.ram pages [page, page + n): a data extent has page k's 4096 bytes at off + k * stride (consecutive PAGE
 * records: stride = record size); a fill extent is the byte fill repeated, off being where that record was.
 * off grows with the stream position, so it also orders extents by age (the last occurrence of a page wins).
 */
struct r2d_savevm_ext {
    uint64_t page;
    uint64_t off;
    uint32_t n;
    uint16_t stride;
    uint8_t fill;
    uint8_t is_fill;
};

/* The page records of pc.ram in stream order, consecutive pages folded into one extent. */
struct r2d_savevm_pages {
    struct r2d_savevm_ext *log;
    size_t nlog, cap_log;
    uint64_t records; /* page records seen */
};

/** Record that pc.ram page `page` is at file offset off (data, stride = record size) or is fill repeated. */
int r2d_savevm_pages_add(struct r2d_ctx *ctx, const char *path, struct r2d_savevm_pages *s, uint64_t page,
                         uint64_t off, int is_fill, uint8_t fill, uint16_t stride);
/**
 * Resolve the records (last occurrence wins), attach the decoding source to img and add the runs: pc.ram
 * offsets below `below` at the same physical address, the rest at 4 GiB + (offset - below). present and
 * extents receive the page and extent counts. The log itself stays with the caller.
 */
int r2d_savevm_pages_attach(struct r2d_ctx *ctx, struct r2d_image *img, struct r2d_savevm_pages *s,
                            uint64_t below, uint64_t *present, size_t *extents);
void r2d_savevm_pages_free(struct r2d_savevm_pages *s);

/**
 * Find and parse the VMDESCRIPTION that ends the stream starting at base (trailing zero padding allowed):
 * *out receives the JSON (NULL when there is none or it is unusable: a warning is logged), *at its file
 * offset.
 */
int r2d_savevm_vmdesc_find(struct r2d_ctx *ctx, const struct r2d_bytesrc *in, uint64_t base, json_t **out,
                           uint64_t *at);
/** The description of device section (idstr, instance), searched from *cursor on (sections come in order). */
const json_t *r2d_savevm_vmdesc_device(const json_t *vmdesc, size_t *cursor, const char *idstr,
                                       uint32_t instance);
/** Bytes the described section body takes in the stream (fields and subsections); UINT64_MAX if unusable. */
uint64_t r2d_savevm_vmdesc_size(const json_t *desc);
/**
 * Decode a "cpu" section body (r2d_savevm_vmdesc_size(desc) bytes) into cpu; NULL on success, else the name
 * of the first needed field that is missing or of an unexpected size (a 32-bit target, another QEMU layout).
 */
const char *r2d_savevm_vmdesc_cpu(const json_t *desc, const uint8_t *body, struct r2d_cpu_state *cpu);

#endif
