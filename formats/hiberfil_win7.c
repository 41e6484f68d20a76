/* SPDX-License-Identifier: MIT */
/*
 * The memory-range tables of Windows 7 hibernation files: a chain of one-page tables, each listing physical
 * page ranges whose pages follow it, sixteen to an Xpress block ("\x81\x81xpress", 32-byte header, data
 * padded to 8 bytes); the next table after the last block (W7-1 to W7-4 in docs/formats/hibernation.md).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hiberfil_priv.h"

struct hib7_table {
    uint64_t page, next;
    uint32_t count;
    uint64_t start[HIB7_MAX_ENTRIES], end[HIB7_MAX_ENTRIES];
    uint64_t pages;
};

static int
hib7_read_table(struct r2d_ctx *ctx, struct hib_file *h, struct hib7_table *t)
{
    uint8_t p[HIB_PAGE];
    int rc;

    R2D_CHECK(t->page >= h->file_size / HIB_PAGE, ctx, R2D_ETRUNC,
              "%s: memory-range table at page 0x%" PRIx64 " lies past end of file (size 0x%" PRIx64 ")", h->path,
              t->page, h->file_size);
    rc = r2d_bytesrc_read(ctx, h->in, t->page * HIB_PAGE, p, sizeof(p), "memory-range table");
    if (rc)
        return rc;
    t->next = r2d_le64(p);
    t->count = r2d_le32(p + 8);
    R2D_CHECK(t->count > HIB7_MAX_ENTRIES, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": memory-range table lists %" PRIu32 " ranges (a page holds %zu)", h->path,
              t->page * HIB_PAGE, t->count, (size_t)HIB7_MAX_ENTRIES);
    t->pages = 0;
    for (uint32_t i = 0; i < t->count; i++) {
        const uint8_t *r = p + HIB7_LINK_SIZE + i * HIB7_RANGE_SIZE;

        t->start[i] = r2d_le64(r);
        t->end[i] = r2d_le64(r + 8);
        R2D_CHECK(t->end[i] <= t->start[i] || t->end[i] > HIB_MAX_PFN, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": memory range %" PRIu32 " is pages 0x%" PRIx64 "-0x%" PRIx64
                  " (empty, reversed or past the 52-bit physical address space)",
                  h->path, t->page * HIB_PAGE + HIB7_LINK_SIZE + i * HIB7_RANGE_SIZE, i, t->start[i], t->end[i]);
        t->pages += t->end[i] - t->start[i];
    }
    return 0;
}

/* The Xpress blocks holding the table's pages, from the page after it; *end receives where they stop. */
static int
hib7_blocks(struct r2d_ctx *ctx, struct hib_file *h, const struct hib7_table *t, uint64_t *end)
{
    uint64_t off = (t->page + 1) * HIB_PAGE, left = t->pages;
    uint8_t hdr[HIB7_XPRESS_HDR];

    while (left > 0) {
        const uint32_t pages = left < HIB7_BLOCK_PAGES ? (uint32_t)left : HIB7_BLOCK_PAGES;
        uint32_t csize;
        int rc;

        R2D_CHECK(off > h->file_size || h->file_size - off < HIB7_XPRESS_HDR, ctx, R2D_ETRUNC,
                  "%s: offset 0x%" PRIx64 ": Xpress block header runs past end of file (size 0x%" PRIx64 ")",
                  h->path, off, h->file_size);
        rc = r2d_bytesrc_read(ctx, h->in, off, hdr, sizeof(hdr), "Xpress block header");
        if (rc)
            return rc;
        R2D_CHECK(memcmp(hdr, HIB7_XPRESS_MAGIC, HIB7_XPRESS_MAGIC_LEN) != 0, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": no Xpress block signature (81 81 'xpress') where the table at page "
                  "0x%" PRIx64 " still has %" PRIu64 " pages",
                  h->path, off, t->page, left);
        csize = (r2d_le32(hdr + 8) >> 10) + 1;
        rc = r2d_hib_add_set(ctx, h, off + HIB7_XPRESS_HDR, csize, pages,
                             csize == pages * HIB_PAGE ? HIB_STORED : HIB_LZ77, off);
        if (rc)
            return rc;
        off += HIB7_XPRESS_HDR + ((uint64_t)csize + 7) / 8 * 8;
        left -= pages;
    }
    *end = off;
    return 0;
}

int
r2d_hib7_walk(struct r2d_ctx *ctx, struct hib_file *h, struct r2d_image *img, uint64_t first_table)
{
    struct hib7_table *t = calloc(1, sizeof(*t));
    uint64_t end = 0;
    int rc = 0;

    if (!t)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", h->path);
    t->page = first_table;
    /* Each table lies after the blocks of the one before, inside the file: the chain ends. */
    while (!rc) {
        uint64_t src = h->npages;

        rc = hib7_read_table(ctx, h, t);
        if (rc || t->count == 0)
            break;
        rc = hib7_blocks(ctx, h, t, &end);
        for (uint32_t i = 0; !rc && i < t->count; i++) {
            rc = r2d_hib_add_pages(ctx, h, img, t->start[i], t->end[i] - t->start[i], src);
            src += t->end[i] - t->start[i];
        }
        if (rc || t->next == 0)
            break;
        if (t->next < (end + HIB_PAGE - 1) / HIB_PAGE)
            rc = r2d_err(ctx, R2D_EFORMAT,
                         "%s: memory-range table at page 0x%" PRIx64 " links back to page 0x%" PRIx64
                         " (its blocks end at 0x%" PRIx64 ")",
                         h->path, t->page, t->next, end);
        t->page = t->next;
    }
    free(t);
    return rc;
}
