/* SPDX-License-Identifier: MIT */
/*
 * Windows hibernation files (hiberfil.sys), shared by the reader's parts: the header, layout detection, CPU
 * state and open (hiberfil.c), the page-set index of Windows 8 and later (hiberfil_win8.c) and of Windows 7
 * (hiberfil_win7.c), and the decoding source with its cache and second thread (hiberfil_decode.c). Layout
 * facts and how sure we are of each: docs/formats/hibernation.md.
 */
#ifndef R2D_FORMATS_HIBERFIL_PRIV_H
#define R2D_FORMATS_HIBERFIL_PRIV_H

#include <stdint.h>

#include "decode_helper.h"
#include "format.h"

#define HIB_PAGE 4096u

/* PO_MEMORY_IMAGE fields every x64 layout shares (H1 in the facts document). */
#define HIB_OFF_SIGNATURE 0x00   /* 4 bytes */
#define HIB_OFF_LENGTH_SELF 0x0C /* u32, sizeof(PO_MEMORY_IMAGE) of the writing kernel */
#define HIB_OFF_PAGE_SIZE 0x18   /* u32, 4096 */
#define HIB_OFF_SYSTEM_TIME 0x20 /* u64 FILETIME */
#define HIB_HEAD_BYTES 0x500     /* enough for the largest known header (0x4d8) */

/* Windows 7 x64 (H2): the first memory-range table's page. */
#define HIB7_OFF_FIRST_TABLE_PAGE 0x60 /* u64 */
#define HIB7_LENGTH_SELF 0x128

/* Windows 7 memory-range table (one page): link then ranges, each two u64 (W7-1). */
#define HIB7_LINK_SIZE 16    /* u64 NextTable page, u32 EntryCount, u32 pad */
#define HIB7_RANGE_SIZE 16   /* u64 StartPage, u64 EndPage (exclusive) */
#define HIB7_MAX_ENTRIES ((HIB_PAGE - HIB7_LINK_SIZE) / HIB7_RANGE_SIZE)
#define HIB7_XPRESS_MAGIC "\x81\x81xpress"
#define HIB7_XPRESS_MAGIC_LEN 8
#define HIB7_XPRESS_HDR 32      /* magic, u32 sizes at 8, the rest unused by us */
#define HIB7_BLOCK_PAGES 16     /* pages per Xpress block */

/* Windows 8+ compression set (W8-1): u32 header, then u64 page descriptors, then the data. */
#define HIB8_DESC_SIZE 8
#define HIB8_MAX_DESCS 255u
#define HIB8_SIZE_SHIFT 8
#define HIB8_SIZE_MASK 0x3FFFFFu
#define HIB8_HUFFMAN_BIT 0x80000000u

#define HIB_MAX_PFN (UINT64_C(1) << 40) /* 52-bit physical addresses */
#define HIB_MAX_SET_PAGES 1024u         /* pages one set may decode to (4 MiB: the 22-bit size's limit) */
#define HIB_CACHE_SETS 4                /* decoded sets kept for partial reads */
#define HIB_PARALLEL_MIN 4              /* reads spanning at least this many whole sets use both threads */

enum hib_method { HIB_STORED, HIB_LZ77, HIB_HUFFMAN };
enum hib_layout { HIB_LAYOUT_WIN7, HIB_LAYOUT_WIN8 };

/*
 * One compressed unit (a Windows 8+ compression set or a Windows 7 Xpress block): its data in the file and the
 * pages it decodes to, which are source pages [first, first + pages).
 */
struct hib_set {
    uint64_t off;   /* file offset of the compressed data */
    uint64_t first; /* first source page */
    uint32_t csize; /* compressed bytes */
    uint16_t pages;
    uint8_t method; /* enum hib_method */
};

/* A Windows 8+ header layout, known by its length (H3). */
struct hib_profile {
    uint32_t length_self;
    const char *windows;
    uint32_t first_boot, first_kernel, kernel_pages, highest_pfn; /* offsets of u64 fields */
};

/* What one decoding thread owns. */
struct hib_decoder {
    uint8_t *cbuf; /* compressed bytes of one set */
    size_t ccap;
};

/*
 * The open file and the decoding source. The source's address space is the stored pages in file order:
 * source offset = source page x 4096; a run's src_off is its first page's source offset. Everything but the
 * decoders, the cache and the helper is read-only once the file is open.
 */
struct hib_file {
    const struct r2d_bytesrc *in;
    const char *path;
    uint64_t file_size;
    enum hib_layout layout;
    const struct hib_profile *profile; /* Windows 8+ */
    uint32_t length_self;
    struct hib_set *sets;
    size_t nsets, cap;
    uint64_t npages; /* source pages */
    uint32_t max_pages; /* of any set: the cache's slot size */
    uint64_t counts[3]; /* sets per method */
    /* the pending image run, merged while physical and source pages both continue */
    uint64_t run_pfn, run_src, run_pages;
    struct hib_decoder dec;
    uint8_t *cache; /* HIB_CACHE_SETS x HIB_MAX_SET_PAGES pages */
    size_t cache_set[HIB_CACHE_SETS];
    unsigned cache_next;
    struct hib_decoder wdec;          /* the helper thread's */
    struct r2d_decode_helper helper; /* decodes the second half of long reads */
};

/* hiberfil.c: a run of pfn..pfn+pages at source page src (merged with the previous one when contiguous). */
int r2d_hib_add_pages(struct r2d_ctx *ctx, struct hib_file *h, struct r2d_image *img, uint64_t pfn,
                      uint64_t pages, uint64_t src);
/* Append a set (pages counted into the source space); its data must lie inside the file. */
int r2d_hib_add_set(struct r2d_ctx *ctx, struct hib_file *h, uint64_t off, uint32_t csize, uint32_t pages,
                    enum hib_method method, uint64_t where);

/* hiberfil_win8.c: walk one restore set (boot or kernel phase) of total pages from file offset off. */
int r2d_hib8_walk(struct r2d_ctx *ctx, struct hib_file *h, struct r2d_image *img, const char *phase,
                  uint64_t off, uint64_t total);
/* hiberfil_win7.c: walk the memory-range tables from page first_table. */
int r2d_hib7_walk(struct r2d_ctx *ctx, struct hib_file *h, struct r2d_image *img, uint64_t first_table);

/* hiberfil_decode.c: the decoding source over the stored pages (frees the hib_file it is given). */
extern const struct r2d_source_ops r2d_hib_source_ops;
/* Decode set i into dst (pages x 4096 bytes) with decoder dec. */
int r2d_hib_decode_set(struct r2d_ctx *ctx, const struct hib_file *h, struct hib_decoder *dec, size_t i,
                       uint8_t *dst);

#endif
