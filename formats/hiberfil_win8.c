/* SPDX-License-Identifier: MIT */
/*
 * The restore sets of Windows 8 and later hibernation files: a chain of compression sets, each a 32-bit word
 * (descriptor count, compressed size, Huffman flag), its page descriptors (4 bits page count - 1, 60 bits
 * frame number) and its data, the next set right after (W8-1 to W8-3 in docs/formats/hibernation.md).
 */
#include <inttypes.h>
#include <string.h>

#include "hiberfil_priv.h"

/* One set at off: index it, map its pages, return where the next one starts and how many pages it held. */
static int
hib8_set(struct r2d_ctx *ctx, struct hib_file *h, struct r2d_image *img, uint64_t off, uint64_t *next,
         uint64_t *pages)
{
    uint8_t buf[4 + HIB8_MAX_DESCS * HIB8_DESC_SIZE];
    uint32_t word, ndesc, csize, total = 0;
    uint64_t src;
    int rc;

    R2D_CHECK(off > h->file_size || h->file_size - off < 4, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": compression set header runs past end of file (size 0x%" PRIx64 ")",
              h->path, off, h->file_size);
    rc = r2d_bytesrc_read(ctx, h->in, off, buf, 4, "compression set header");
    if (rc)
        return rc;
    word = r2d_le32(buf);
    ndesc = word & 0xFFu;
    csize = (word >> HIB8_SIZE_SHIFT) & HIB8_SIZE_MASK;
    R2D_CHECK(ndesc == 0 || csize == 0, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": compression set word 0x%08" PRIx32 " lists no pages or no data", h->path,
              off, word);
    rc = r2d_bytesrc_read(ctx, h->in, off + 4, buf + 4, (size_t)ndesc * HIB8_DESC_SIZE, "page descriptors");
    if (rc)
        return rc;
    for (uint32_t i = 0; i < ndesc; i++)
        total += (uint32_t)(r2d_le64(buf + 4 + i * HIB8_DESC_SIZE) & 0xF) + 1;
    src = h->npages;
    rc = r2d_hib_add_set(ctx, h, off + 4 + ndesc * HIB8_DESC_SIZE, csize, total,
                         csize == total * HIB_PAGE ? HIB_STORED : (word & HIB8_HUFFMAN_BIT) ? HIB_HUFFMAN : HIB_LZ77,
                         off);
    for (uint32_t i = 0; !rc && i < ndesc; i++) {
        const uint64_t d = r2d_le64(buf + 4 + i * HIB8_DESC_SIZE), n = (d & 0xF) + 1;

        rc = r2d_hib_add_pages(ctx, h, img, d >> 4, n, src);
        src += n;
    }
    *next = off + 4 + ndesc * HIB8_DESC_SIZE + csize;
    *pages = total;
    return rc;
}

int
r2d_hib8_walk(struct r2d_ctx *ctx, struct hib_file *h, struct r2d_image *img, const char *phase, uint64_t off,
              uint64_t total)
{
    uint64_t done = 0, sets = 0;

    /* Every set takes at least 13 bytes of the file and one page of the count: the loop ends. */
    while (done < total) {
        uint64_t next, pages;
        int rc = hib8_set(ctx, h, img, off, &next, &pages);

        if (rc)
            return rc;
        done += pages;
        off = next;
        sets++;
    }
    if (done > total)
        r2d_log(ctx, R2D_LOG_WARN, "%s: the %s restore set holds %" PRIu64 " pages, the header says %" PRIu64,
                h->path, phase, done, total);
    r2d_log(ctx, R2D_LOG_DEBUG, "%s: %s restore set: %" PRIu64 " pages in %" PRIu64 " compression sets", h->path,
            phase, done, sets);
    return 0;
}
