/* SPDX-License-Identifier: MIT */
/*
 * kdump-compressed files ("diskdump", makedumpfile format): the assembled layout ("KDUMP   ") and QEMU's /
 * makedumpfile -F flattened stream ("makedumpfile" + big-endian {offset, size} records), read through an
 * index of the records. Pages are raw, zlib, LZO1X or snappy; bitmap 2 says which PFNs were dumped, and every
 * dumped stretch becomes one source run. The sub-header's ELF notes carry QEMUCPUState per vCPU. Facts:
 * docs/formats/kdump.md F1-F4 (makedumpfile diskdump_mod.h/makedumpfile.h, QEMU dump/dump.c
 * and include/sysemu/dump.h; checked against a real QEMU 7.2 file). docs/formats/kdump.md.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdump_codec.h"
#include "kdump_priv.h"
#include "qemu_notes.h"

static int
kdump_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why)
{
    if (len >= KDUMP_FLAT_OFF_VERSION + 8 && memcmp(head, KDUMP_FLAT_SIG, KDUMP_FLAT_SIG_LEN) == 0) {
        if (r2d_be64(head + KDUMP_FLAT_OFF_TYPE) == 1 && r2d_be64(head + KDUMP_FLAT_OFF_VERSION) == 1) {
            *why = "makedumpfile flattened header, type 1, version 1";
            return R2D_PROBE_SURE;
        }
        *why = "makedumpfile signature only";
        return R2D_PROBE_MAGIC;
    }
    if (len >= KDUMP_SIG_LEN && memcmp(head, KDUMP_SIG, KDUMP_SIG_LEN) == 0) {
        if (len >= KDUMP_OFF_BLOCK_SIZE + 4) {
            const uint32_t bs = r2d_le32(head + KDUMP_OFF_BLOCK_SIZE);

            if (bs >= KDUMP_MIN_BLOCK && bs <= KDUMP_MAX_BLOCK && (bs & (bs - 1)) == 0) {
                *why = "KDUMP signature and a plausible block size";
                return R2D_PROBE_SURE;
            }
        }
        *why = "KDUMP signature only";
        return R2D_PROBE_MAGIC;
    }
    return R2D_PROBE_NO;
}

/* --- header, sub-header, bitmaps --- */

static void
kdump_codec_names(char *out, size_t n, uint32_t bits)
{
    snprintf(out, n, "%s%s%s%s%s", bits & KDUMP_ZLIB ? "zlib " : "", bits & KDUMP_LZO ? "lzo " : "",
             bits & KDUMP_SNAPPY ? "snappy " : "", bits & KDUMP_ZSTD ? "zstd " : "",
             bits & KDUMP_CODECS ? "" : "none ");
    out[strlen(out) - 1] = 0;
}

static int
kdump_read_header(struct r2d_ctx *ctx, struct kdump_file *k, char *machine)
{
    uint8_t h[KDUMP_HDR_SIZE];
    uint64_t bitmap_bits;
    uint32_t max32;
    int rc = r2d_kdump_read_real(ctx, k, 0, h, sizeof(h), "kdump header");

    if (rc)
        return rc;
    R2D_CHECK(memcmp(h, KDUMP_SIG, KDUMP_SIG_LEN) != 0, ctx, R2D_EFORMAT,
              "%s: offset 0x0: no 'KDUMP   ' signature%s", k->path, k->recs ? " in the assembled dump" : "");
    k->version = r2d_le32(h + KDUMP_OFF_VERSION);
    k->status = r2d_le32(h + KDUMP_OFF_STATUS);
    k->bs = r2d_le32(h + KDUMP_OFF_BLOCK_SIZE);
    k->sub_blocks = r2d_le32(h + KDUMP_OFF_SUB_HDR_SIZE);
    k->bitmap_blocks = r2d_le32(h + KDUMP_OFF_BITMAP_BLOCKS);
    max32 = r2d_le32(h + KDUMP_OFF_MAX_MAPNR);
    k->nr_cpus = r2d_le32(h + KDUMP_OFF_NR_CPUS);
    memcpy(machine, h + KDUMP_OFF_MACHINE, KDUMP_UTS_LEN);
    machine[KDUMP_UTS_LEN - 1] = 0;
    R2D_CHECK(k->version == 0 || k->version > 64, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: kdump header_version %" PRIu32 " is not plausible", k->path,
              KDUMP_OFF_VERSION, k->version);
    R2D_CHECK(k->bs < KDUMP_MIN_BLOCK || k->bs > KDUMP_MAX_BLOCK || (k->bs & (k->bs - 1)), ctx, R2D_EFORMAT,
              "%s: offset 0x%x: kdump block_size 0x%" PRIx32 " is not a power of two in 0x%x..0x%x (a 32-bit "
              "header layout is not supported)",
              k->path, KDUMP_OFF_BLOCK_SIZE, k->bs, KDUMP_MIN_BLOCK, KDUMP_MAX_BLOCK);
    R2D_CHECK(k->sub_blocks == 0 || k->sub_blocks > 1024, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: kdump sub_hdr_size of %" PRIu32 " blocks is not plausible", k->path,
              KDUMP_OFF_SUB_HDR_SIZE, k->sub_blocks);
    R2D_CHECK(k->bitmap_blocks == 0 || k->bitmap_blocks % 2, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: kdump bitmap_blocks %" PRIu32 " is not a positive even number (two bitmaps)",
              k->path, KDUMP_OFF_BITMAP_BLOCKS, k->bitmap_blocks);
    R2D_CHECK(k->status & KDUMP_INCOMPLETE, ctx, R2D_EUNSUPPORTED,
              "%s: offset 0x%x: kdump status 0x%" PRIx32
              " marks the dump incomplete (makedumpfile ran out of "
              "space): its page table cannot be trusted",
              k->path, KDUMP_OFF_STATUS, k->status);
    bitmap_bits = (uint64_t)k->bitmap_blocks / 2 * k->bs * 8;
    k->max_mapnr = max32;
    if (k->version >= KDUMP_SUB_MAPNR64_VERSION) {
        uint8_t b[8];

        rc = r2d_kdump_read_real(ctx, k, (uint64_t)k->bs + KDUMP_SUB_OFF_MAX_MAPNR_64, b, 8, "kdump sub-header");
        if (rc)
            return rc;
        if (r2d_le64(b) != 0)
            k->max_mapnr = r2d_le64(b);
    }
    R2D_CHECK(k->max_mapnr == 0 || k->max_mapnr > bitmap_bits, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: kdump max_mapnr 0x%" PRIx64 " does not fit bitmaps of %" PRIu32
              " blocks of 0x%" PRIx32 " bytes (0x%" PRIx64 " bits each)",
              k->path, KDUMP_OFF_MAX_MAPNR, k->max_mapnr, k->bitmap_blocks, k->bs, bitmap_bits);
    R2D_CHECK(k->max_mapnr > (UINT64_C(1) << KDUMP_MAX_PA_BITS) / k->bs, ctx, R2D_EFORMAT,
              "%s: offset 0x%x: kdump max_mapnr 0x%" PRIx64 " pages exceeds a 52-bit physical address space",
              k->path, KDUMP_OFF_MAX_MAPNR, k->max_mapnr);
    return 0;
}

/* The sub-header's note area: QEMU's per-CPU QEMUCPUState (absent before header_version 4). */
static int
kdump_read_notes(struct r2d_ctx *ctx, struct kdump_file *k, struct r2d_image *img, struct r2d_qemu_notes *cnt)
{
    const uint64_t sub = k->bs;
    uint8_t b[16], *notes;
    uint64_t off, size;
    int rc;

    if (k->version < KDUMP_SUB_NOTES_VERSION)
        return 0;
    rc = r2d_kdump_read_real(ctx, k, sub + KDUMP_SUB_OFF_NOTE, b, sizeof(b), "kdump sub-header");
    if (rc)
        return rc;
    off = r2d_le64(b);
    size = r2d_le64(b + 8);
    if (size == 0)
        return 0;
    R2D_CHECK(size > KDUMP_NOTE_MAX, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": kdump note_size 0x%" PRIx64
              " is larger than the 0x%x bytes accepted",
              k->path, sub + KDUMP_SUB_OFF_NOTE_SIZE, size, KDUMP_NOTE_MAX);
    R2D_CHECK(off > k->real_size || size > k->real_size - off, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": kdump note area at 0x%" PRIx64 " of 0x%" PRIx64
              " bytes runs past end of the dump (size 0x%" PRIx64 ")",
              k->path, sub + KDUMP_SUB_OFF_NOTE, off, size, k->real_size);
    notes = malloc((size_t)size);
    if (!notes)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the kdump note area", k->path);
    rc = r2d_kdump_read_real(ctx, k, off, notes, (size_t)size, "kdump note area");
    if (!rc)
        rc = r2d_qemu_notes_parse(ctx, img, notes, (size_t)size, off, "kdump note area", R2D_QEMU_LM_FROM_CS,
                                  cnt);
    free(notes);
    return rc;
}

/* Counts from the bitmap walk, for the notes. */
struct kdump_tally {
    uint64_t dumped, excluded, runs, not_in_bitmap1;
};

static int
kdump_add_run(struct r2d_ctx *ctx, struct kdump_file *k, struct r2d_image *img, uint64_t first_pfn,
              uint64_t npages, uint64_t first_desc, struct kdump_tally *t)
{
    t->runs++;
    return r2d_image_add_source_run(ctx, img, first_pfn * k->bs, npages * k->bs, first_desc * k->bs);
}

/* Walk both bitmaps in chunks: every maximal stretch of PFNs set in bitmap 2 is one run. */
static int
kdump_walk_bitmaps(struct r2d_ctx *ctx, struct kdump_file *k, struct r2d_image *img, struct kdump_tally *t)
{
    const uint64_t half = (uint64_t)k->bitmap_blocks / 2 * k->bs;
    const uint64_t bm1 = (uint64_t)(1 + k->sub_blocks) * k->bs, bm2 = bm1 + half;
    const uint64_t need = (k->max_mapnr + 7) / 8;
    uint8_t *b1 = malloc(KDUMP_BITMAP_CHUNK), *b2 = malloc(KDUMP_BITMAP_CHUNK);
    uint64_t run_start = 0, run_desc = 0, run_len = 0;
    int rc = 0;

    if (!b1 || !b2) {
        free(b1);
        free(b2);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the bitmaps", k->path);
    }
    for (uint64_t pos = 0; !rc && pos < need; pos += KDUMP_BITMAP_CHUNK) {
        const size_t n = need - pos < KDUMP_BITMAP_CHUNK ? (size_t)(need - pos) : KDUMP_BITMAP_CHUNK;

        rc = r2d_kdump_read_real(ctx, k, bm1 + pos, b1, n, "kdump bitmap 1");
        if (!rc)
            rc = r2d_kdump_read_real(ctx, k, bm2 + pos, b2, n, "kdump bitmap 2");
        for (size_t i = 0; !rc && i < n; i++) {
            if (b1[i] == 0 && b2[i] == 0 && run_len == 0)
                continue; /* fast path over holes */
            for (unsigned bit = 0; !rc && bit < 8; bit++) {
                const uint64_t pfn = (pos + i) * 8 + bit;
                const int in1 = b1[i] >> bit & 1, in2 = b2[i] >> bit & 1;

                if (pfn >= k->max_mapnr)
                    break;
                if (in2) {
                    if (run_len == 0) {
                        run_start = pfn;
                        run_desc = t->dumped;
                    }
                    run_len++;
                    t->dumped++;
                    t->not_in_bitmap1 += !in1;
                } else {
                    t->excluded += in1;
                    if (run_len)
                        rc = kdump_add_run(ctx, k, img, run_start, run_len, run_desc, t);
                    run_len = 0;
                }
            }
        }
    }
    if (!rc && run_len)
        rc = kdump_add_run(ctx, k, img, run_start, run_len, run_desc, t);
    free(b1);
    free(b2);
    return rc;
}

/* --- open --- */

static int
kdump_add_notes(struct r2d_ctx *ctx, struct kdump_file *k, struct r2d_image *img, const char *machine,
                const struct kdump_tally *t, const struct r2d_qemu_notes *cnt)
{
    char v[256], codecs[64];
    int rc;

    if (k->recs)
        snprintf(v, sizeof(v), "flattened (makedumpfile -F / QEMU), %zu records, assembled size 0x%" PRIx64,
                 k->nrecs, k->real_size);
    else
        snprintf(v, sizeof(v), "diskdump (assembled)");
    rc = r2d_image_add_note(ctx, img, "kdump.layout", v);
    snprintf(v, sizeof(v), "%" PRIu32, k->version);
    if (!rc)
        rc = r2d_image_add_note(ctx, img, "kdump.header_version", v);
    kdump_codec_names(codecs, sizeof(codecs), k->status);
    snprintf(v, sizeof(v), "%s (status 0x%" PRIx32 ")", codecs, k->status);
    if (!rc)
        rc = r2d_image_add_note(ctx, img, "kdump.compression", v);
    snprintf(v, sizeof(v), "0x%" PRIx32, k->bs);
    if (!rc)
        rc = r2d_image_add_note(ctx, img, "kdump.block_size", v);
    if (!rc && machine[0])
        rc = r2d_image_add_note(ctx, img, "kdump.machine", machine);
    snprintf(v, sizeof(v),
             "%" PRIu64 " dumped in %" PRIu64 " runs, %" PRIu64
             " excluded (in bitmap 1, not bitmap 2), max_mapnr "
             "0x%" PRIx64,
             t->dumped, t->runs, t->excluded, k->max_mapnr);
    if (!rc)
        rc = r2d_image_add_note(ctx, img, "kdump.pages", v);
    snprintf(v, sizeof(v), "%u QEMU CPU states (header nr_cpus %" PRIu32 "), %u NT_PRSTATUS, %u other notes",
             cnt->qemu, k->nr_cpus, cnt->prstatus, cnt->other);
    if (!rc)
        rc = r2d_image_add_note(ctx, img, "kdump.cpus", v);
    if (!rc && cnt->qemu == 0)
        rc = r2d_image_add_note(ctx, img, "kdump.cpu_state", "none");
    return rc;
}

static int
kdump_open_file(struct r2d_ctx *ctx, struct kdump_file *k, struct r2d_image *img)
{
    struct kdump_tally t = {0};
    struct r2d_qemu_notes cnt = {0};
    char machine[KDUMP_UTS_LEN], codecs[64];
    uint8_t head[KDUMP_FLAT_SIG_LEN];
    int rc;

    R2D_CHECK(k->file_size < KDUMP_HDR_SIZE, ctx, R2D_ETRUNC,
              "%s: offset 0x0: kdump header of 0x%x bytes runs past end of file (size 0x%" PRIx64 ")",
              k->path, KDUMP_HDR_SIZE, k->file_size);
    rc = r2d_bytesrc_read(ctx, k->in, 0, head, sizeof(head), "file header");
    if (rc)
        return rc;
    k->real_size = k->file_size;
    if (memcmp(head, KDUMP_FLAT_SIG, KDUMP_FLAT_SIG_LEN) == 0) {
        uint8_t fh[16];

        R2D_CHECK(k->file_size < KDUMP_FLAT_HDR_SIZE, ctx, R2D_ETRUNC,
                  "%s: offset 0x0: flattened header of 0x%x bytes runs past end of file (size 0x%" PRIx64 ")",
                  k->path, KDUMP_FLAT_HDR_SIZE, k->file_size);
        rc = r2d_bytesrc_read(ctx, k->in, KDUMP_FLAT_OFF_TYPE, fh, sizeof(fh), "flattened header");
        if (rc)
            return rc;
        R2D_CHECK(r2d_be64(fh) != 1 || r2d_be64(fh + 8) != 1, ctx, R2D_EUNSUPPORTED,
                  "%s: offset 0x%x: flattened header type %" PRIu64 " version %" PRIu64 ", only 1/1 is known",
                  k->path, KDUMP_FLAT_OFF_TYPE, r2d_be64(fh), r2d_be64(fh + 8));
        k->real_size = 0;
        rc = r2d_kdump_index_flat(ctx, k);
        if (rc)
            return rc;
    }
    rc = kdump_read_header(ctx, k, machine);
    if (rc)
        return rc;
    kdump_codec_names(codecs, sizeof(codecs), k->status);
    R2D_CHECK(
        (k->status & KDUMP_LZO) && !r2d_kdump_lzo_available(), ctx, R2D_EUNSUPPORTED,
        "%s: offset 0x%x: the dump is LZO-compressed and raw2dmp was built without LZO support (liblzo2)",
        k->path, KDUMP_OFF_STATUS);
    R2D_CHECK((k->status & KDUMP_SNAPPY) && !r2d_kdump_snappy_available(), ctx, R2D_EUNSUPPORTED,
              "%s: offset 0x%x: the dump is snappy-compressed and raw2dmp was built without snappy support "
              "(libsnappy)",
              k->path, KDUMP_OFF_STATUS);
    rc = kdump_read_notes(ctx, k, img, &cnt);
    if (rc)
        return rc;
    k->cache = r2d_alloc_io((size_t)k->bs * KDUMP_CACHE_PAGES);
    if (!k->cache)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the page cache", k->path);
    memset(k->cache_idx, 0xff, sizeof(k->cache_idx));
    rc = kdump_walk_bitmaps(ctx, k, img, &t);
    if (rc)
        return rc;
    k->ndesc = t.dumped;
    k->desc_off = (uint64_t)(1 + k->sub_blocks + k->bitmap_blocks) * k->bs;
    R2D_CHECK(
        k->desc_off > k->real_size || k->ndesc > (k->real_size - k->desc_off) / KDUMP_DESC_SIZE, ctx,
        R2D_ETRUNC,
        "%s: offset 0x%" PRIx64 ": %" PRIu64 " page descriptors of %u bytes run past end of the %s (size "
        "0x%" PRIx64 ")",
        k->path, k->desc_off, k->ndesc, KDUMP_DESC_SIZE, k->recs ? "assembled dump" : "file", k->real_size);
    k->data_off = k->desc_off + k->ndesc * KDUMP_DESC_SIZE;
    if (t.not_in_bitmap1)
        r2d_log(ctx, R2D_LOG_WARN, "%s: %" PRIu64 " dumped pages are missing from bitmap 1; using bitmap 2",
                k->path, t.not_in_bitmap1);
    if (t.dumped == 0)
        r2d_log(ctx, R2D_LOG_WARN, "%s: bitmap 2 marks no page as dumped: the image is empty", k->path);
    r2d_log(ctx, R2D_LOG_INFO,
            "%s: kdump %s, block size 0x%" PRIx32 ", %" PRIu64 " pages in %" PRIu64 " runs", k->path, codecs,
            k->bs, t.dumped, t.runs);
    return kdump_add_notes(ctx, k, img, machine, &t, &cnt);
}

static int
kdump_open(struct r2d_ctx *ctx, struct r2d_image *img)
{
    struct kdump_file *k = calloc(1, sizeof(*k));
    int rc;

    if (!k)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", r2d_image_path(img));
    k->in = r2d_image_input(img);
    k->path = r2d_image_path(img);
    k->file_size = r2d_image_file_size(img);
    /* Attached first, so the image owns k (and frees it) whatever happens next. */
    rc = r2d_image_set_source(ctx, img, &r2d_kdump_source_ops, k);
    return rc ? rc : kdump_open_file(ctx, k, img);
}

const struct r2d_format r2d_format_kdump = {
    .name = "kdump",
    .summary = "kdump-compressed (makedumpfile, QEMU/virsh kdump-*), flattened or assembled; zlib, lzo/snappy below",
    .probe_bytes = KDUMP_HDR_SIZE,
    .probe = kdump_probe,
    .open = kdump_open,
};
