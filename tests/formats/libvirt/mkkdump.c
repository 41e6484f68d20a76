/* SPDX-License-Identifier: MIT */
/*
 * mkkdump: re-encode any input the library reads (a QEMU kdump, an ELF, a raw file) as a kdump-compressed
 * file with the codec of our choice, because the QEMU here cannot write LZO or snappy pages.
 *
 *   mkkdump [-a FMT] [--codec raw|zlib|lzo|snappy] [--flat] [--exclude-zero] IN OUT
 *
 * Layout as in docs/formats/kdump.md F2-F4 (header version 6, block size 4096, all zero pages
 * sharing one stored page as QEMU does, a page stored raw when compression does not shrink it, the CPUs of IN
 * as QEMU notes). --flat writes makedumpfile's flattened stream with the records out of order (bitmaps last,
 * page data and descriptors interleaved), as QEMU does. --exclude-zero leaves all-zero pages out of bitmap 2
 * (they stay in bitmap 1), as makedumpfile -d 1 does. Exit 0 written, 2 usage, 99 failure.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lzo/lzo1x.h>
#include <snappy-c.h>
#include <zlib.h>

#include "bytes.h"
#include "raw2dmp/ctx.h"
#include "format.h"
#include "image.h"

#define BS 4096u
#define HDR_SIZE 0x1D0
#define SUB_SIZE 0x68
#define QCPU_SIZE 0x1B8
#define DESC_SIZE 24
#define DATA_CHUNK (64u << 10)
#define DESC_CHUNK 4096u

enum codec { C_RAW, C_ZLIB, C_LZO, C_SNAPPY };

struct out {
    FILE *f;
    int flat;
    uint8_t desc[DESC_CHUNK];
    size_t ndesc_buf;
    uint64_t desc_at; /* file offset of desc[0] */
    uint8_t data[DATA_CHUNK];
    size_t ndata;
    uint64_t data_at;
};

static void
die(const char *msg)
{
    fprintf(stderr, "mkkdump: %s\n", msg);
    exit(99);
}

static void
put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* Place len bytes at offset off of the assembled dump. */
static void
emit(struct out *o, uint64_t off, const void *buf, size_t len)
{
    if (len == 0)
        return;
    if (o->flat) {
        uint8_t h[16];

        put_be64(h, off);
        put_be64(h + 8, len);
        if (fwrite(h, 1, 16, o->f) != 16)
            die("write failed");
    } else if (fseeko(o->f, (off_t)off, SEEK_SET) != 0) {
        die("seek failed");
    }
    if (fwrite(buf, 1, len, o->f) != len)
        die("write failed");
}

static void
flush_desc(struct out *o)
{
    emit(o, o->desc_at, o->desc, o->ndesc_buf);
    o->desc_at += o->ndesc_buf;
    o->ndesc_buf = 0;
}

static void
flush_data(struct out *o)
{
    emit(o, o->data_at, o->data, o->ndata);
    o->data_at += o->ndata;
    o->ndata = 0;
}

static void
add_desc(struct out *o, uint64_t off, uint32_t size, uint32_t flags)
{
    uint8_t *d = o->desc + o->ndesc_buf;

    memset(d, 0, DESC_SIZE);
    r2d_put_le64(d, off);
    r2d_put_le32(d + 8, size);
    r2d_put_le32(d + 12, flags);
    o->ndesc_buf += DESC_SIZE;
    if (o->ndesc_buf + DESC_SIZE > DESC_CHUNK)
        flush_desc(o);
}

/* Append page data; returns its offset in the assembled dump. */
static uint64_t
add_data(struct out *o, const uint8_t *p, size_t len)
{
    uint64_t at;

    if (o->ndata + len > DATA_CHUNK)
        flush_data(o);
    at = o->data_at + o->ndata;
    memcpy(o->data + o->ndata, p, len);
    o->ndata += len;
    return at;
}

static int
is_zero(const uint8_t *p)
{
    for (size_t i = 0; i < BS; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Compress one page; returns the stored size and sets *flags (0 = stored raw). */
static size_t
encode(enum codec c, const uint8_t *page, uint8_t *out, size_t cap, uint32_t *flags)
{
    static uint8_t wrk[LZO1X_1_MEM_COMPRESS];
    size_t n = cap;

    *flags = 0;
    if (c == C_ZLIB) {
        uLongf zn = cap;

        if (compress2(out, &zn, page, BS, Z_BEST_SPEED) != Z_OK)
            die("zlib failed");
        n = zn;
        *flags = 0x1;
    } else if (c == C_LZO) {
        lzo_uint ln = cap;

        if (lzo1x_1_compress(page, BS, out, &ln, wrk) != LZO_E_OK)
            die("lzo failed");
        n = ln;
        *flags = 0x2;
    } else if (c == C_SNAPPY) {
        if (snappy_compress((const char *)page, BS, (char *)out, &n) != SNAPPY_OK)
            die("snappy failed");
        *flags = 0x4;
    }
    if (c == C_RAW || n >= BS) {
        memcpy(out, page, BS);
        *flags = 0;
        return BS;
    }
    return n;
}

static void
put_seg(uint8_t *p, const struct r2d_segment *s)
{
    r2d_put_le32(p, s->selector);
    r2d_put_le32(p + 4, s->limit);
    r2d_put_le32(p + 8, s->flags);
    r2d_put_le64(p + 16, s->base);
}

/* One QEMU note (QEMUCPUState version 1, 0x1b8 bytes) per CPU of img into notes; returns the length. */
static size_t
make_notes(const struct r2d_image *img, uint8_t *notes, size_t cap)
{
    size_t len = 0;

    for (size_t i = 0; i < r2d_image_cpu_count(img) && len + 20 + QCPU_SIZE <= cap; i++) {
        const struct r2d_cpu_state *c = r2d_image_cpu(img, i);
        const uint64_t gpr[18] = {c->rax, c->rbx, c->rcx, c->rdx, c->rsi, c->rdi, c->rsp, c->rbp, c->r8,
                                  c->r9,  c->r10, c->r11, c->r12, c->r13, c->r14, c->r15, c->rip, c->rflags};
        const struct r2d_segment *seg[10] = {&c->cs, &c->ds,  &c->es, &c->fs,  &c->gs,
                                             &c->ss, &c->ldt, &c->tr, &c->gdt, &c->idt};
        uint8_t *n = notes + len, *d = n + 20;

        memset(n, 0, 20 + QCPU_SIZE);
        r2d_put_le32(n, 5);
        r2d_put_le32(n + 4, QCPU_SIZE);
        memcpy(n + 12, "QEMU", 5);
        r2d_put_le32(d, 1);
        r2d_put_le32(d + 4, QCPU_SIZE);
        for (int k = 0; k < 18; k++)
            r2d_put_le64(d + 8 + 8 * k, gpr[k]);
        for (int k = 0; k < 10; k++)
            put_seg(d + 0x98 + 24 * k, seg[k]);
        r2d_put_le64(d + 0x188, c->cr0);
        r2d_put_le64(d + 0x198, c->cr2);
        r2d_put_le64(d + 0x1A0, c->cr3);
        r2d_put_le64(d + 0x1A8, c->cr4);
        r2d_put_le64(d + 0x1B0, c->kernel_gs_base);
        len += 20 + QCPU_SIZE;
    }
    return len;
}

struct plan {
    uint64_t max_mapnr, bitmap_bytes, ndump;
    uint8_t *bm1, *bm2;
};

/* Bitmaps: bitmap 1 = pages any run touches; bitmap 2 = the same minus all-zero pages with --exclude-zero. */
static void
make_plan(struct r2d_ctx *ctx, const struct r2d_image *img, int exclude_zero, struct plan *p)
{
    static uint8_t page[BS];
    const struct r2d_run *last = r2d_image_run(img, r2d_image_run_count(img) - 1);

    p->max_mapnr = (last->pa + last->len + BS - 1) / BS;
    p->bitmap_bytes = ((p->max_mapnr + 7) / 8 + BS - 1) / BS * BS;
    p->bm1 = calloc(1, p->bitmap_bytes);
    p->bm2 = calloc(1, p->bitmap_bytes);
    if (!p->bm1 || !p->bm2)
        die("out of memory");
    for (size_t i = 0; i < r2d_image_run_count(img); i++) {
        const struct r2d_run *r = r2d_image_run(img, i);

        for (uint64_t pfn = r->pa / BS; pfn < (r->pa + r->len + BS - 1) / BS; pfn++) {
            p->bm1[pfn / 8] |= (uint8_t)(1u << (pfn % 8));
            if (exclude_zero) {
                if (r2d_image_read(ctx, img, pfn * BS, page, BS, R2D_HOLE_ZERO))
                    die(r2d_errmsg(ctx));
                if (is_zero(page))
                    continue;
            }
            if (!(p->bm2[pfn / 8] & (1u << (pfn % 8))))
                p->ndump++;
            p->bm2[pfn / 8] |= (uint8_t)(1u << (pfn % 8));
        }
    }
}

static void
write_header(struct out *o, const struct r2d_image *img, const struct plan *p, enum codec c)
{
    static const uint32_t status[] = {0, 0x1, 0x2, 0x4};
    uint8_t h[HDR_SIZE] = {0}, sub[SUB_SIZE + 0x2000] = {0};
    const size_t nlen = make_notes(img, sub + SUB_SIZE, sizeof(sub) - SUB_SIZE);
    const uint32_t sub_blocks = (uint32_t)((SUB_SIZE + nlen + BS - 1) / BS);

    memcpy(h, "KDUMP   ", 8);
    r2d_put_le32(h + 0x8, 6);
    memcpy(h + 0xC + 4 * 65, "x86_64", 6);
    r2d_put_le32(h + 0x1A8, status[c]);
    r2d_put_le32(h + 0x1AC, BS);
    r2d_put_le32(h + 0x1B0, sub_blocks);
    r2d_put_le32(h + 0x1B4, (uint32_t)(2 * p->bitmap_bytes / BS));
    r2d_put_le32(h + 0x1B8, (uint32_t)p->max_mapnr);
    r2d_put_le32(h + 0x1CC, (uint32_t)r2d_image_cpu_count(img));
    r2d_put_le32(sub + 0x8, 1);
    r2d_put_le64(sub + 0x30, nlen ? BS + SUB_SIZE : 0);
    r2d_put_le64(sub + 0x38, nlen);
    r2d_put_le64(sub + 0x60, p->max_mapnr);
    emit(o, 0, h, sizeof(h));
    emit(o, BS, sub, SUB_SIZE + nlen);
    o->desc_at = (uint64_t)(1 + sub_blocks) * BS + 2 * p->bitmap_bytes;
    o->data_at = o->desc_at + p->ndump * DESC_SIZE;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {{"codec", required_argument, NULL, 'c'},
                                         {"flat", no_argument, NULL, 'f'},
                                         {"exclude-zero", no_argument, NULL, 'z'},
                                         {NULL, 0, NULL, 0}};
    static uint8_t page[BS], enc[2 * BS];
    static struct out o;
    const char *fmt = "auto";
    enum codec codec = C_ZLIB;
    int exclude_zero = 0, ch;
    struct r2d_ctx *ctx = r2d_ctx_new();
    struct r2d_image *img = NULL;
    struct plan p = {0};
    uint64_t zero_at = UINT64_MAX, bm_at;

    while ((ch = getopt_long(argc, argv, "a:", opts, NULL)) != -1) {
        if (ch == 'a')
            fmt = optarg;
        else if (ch == 'f')
            o.flat = 1;
        else if (ch == 'z')
            exclude_zero = 1;
        else if (ch == 'c')
            codec = strcmp(optarg, "raw") == 0      ? C_RAW
                    : strcmp(optarg, "zlib") == 0   ? C_ZLIB
                    : strcmp(optarg, "lzo") == 0    ? C_LZO
                    : strcmp(optarg, "snappy") == 0 ? C_SNAPPY
                                                    : (die("unknown codec"), C_RAW);
        else
            return 2;
    }
    if (argc - optind != 2 || !ctx || lzo_init() != LZO_E_OK) {
        fprintf(stderr,
                "usage: mkkdump [-a FMT] [--codec raw|zlib|lzo|snappy] [--flat] [--exclude-zero] IN OUT\n");
        return 2;
    }
    if (r2d_format_open(ctx, argv[optind], fmt, &img) || r2d_image_run_count(img) == 0)
        die(r2d_errmsg(ctx));
    o.f = fopen(argv[optind + 1], "wb");
    if (!o.f)
        die("cannot create output");
    if (o.flat) {
        uint8_t fh[4096] = "makedumpfile";

        put_be64(fh + 16, 1);
        put_be64(fh + 24, 1);
        if (fwrite(fh, 1, sizeof(fh), o.f) != sizeof(fh))
            die("write failed");
    }
    make_plan(ctx, img, exclude_zero, &p);
    write_header(&o, img, &p, codec);
    bm_at = o.desc_at - 2 * p.bitmap_bytes;
    if (!o.flat) { /* bitmaps first in the plain layout; the flattened stream sends them last */
        emit(&o, bm_at, p.bm1, p.bitmap_bytes);
        emit(&o, bm_at + p.bitmap_bytes, p.bm2, p.bitmap_bytes);
    }
    for (uint64_t pfn = 0; pfn < p.max_mapnr; pfn++) {
        uint32_t flags;
        size_t n;

        if (!(p.bm2[pfn / 8] & (1u << (pfn % 8))))
            continue;
        if (r2d_image_read(ctx, img, pfn * BS, page, BS, R2D_HOLE_ZERO))
            die(r2d_errmsg(ctx));
        if (is_zero(page)) {
            if (zero_at == UINT64_MAX)
                zero_at = add_data(&o, page, BS);
            add_desc(&o, zero_at, BS, 0);
            continue;
        }
        n = encode(codec, page, enc, sizeof(enc), &flags);
        add_desc(&o, add_data(&o, enc, n), (uint32_t)n, flags);
    }
    flush_desc(&o);
    flush_data(&o);
    if (o.flat) {
        uint8_t end[16];

        emit(&o, bm_at + p.bitmap_bytes, p.bm2, p.bitmap_bytes);
        emit(&o, bm_at, p.bm1, p.bitmap_bytes);
        memset(end, 0xff, sizeof(end));
        if (fwrite(end, 1, sizeof(end), o.f) != sizeof(end))
            die("write failed");
    }
    if (fclose(o.f) != 0)
        die("write failed");
    free(p.bm1);
    free(p.bm2);
    r2d_image_free(img);
    r2d_ctx_free(ctx);
    return 0;
}
