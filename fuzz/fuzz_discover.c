/* SPDX-License-Identifier: MIT */
/*
 * The engine on a hostile machine. The input is a small header (registers, layout, symbol answers) and then
 * physical memory: the target wraps it in a QEMU ELF core (one or two CPU notes, one or two PT_LOADs) and
 * runs DTB discovery, kernel discovery, a page-table walk, then -- with a fake symbol provider whose answers
 * come from the header -- the KDBG, the processor matching and the dump plan. Page-table loops, self-maps
 * in every slot, PE headers with absurd sizes and a KDBG with a huge Size all come from the memory bytes.
 *
 * Header (FUZZ_HDR bytes, zero-filled when the input is shorter), little-endian:
 *   0x00 cr3  0x08 gs.base  0x10 kernel_gs_base  0x18 idt.base  0x20 rip
 *   0x28 u8 flags: 1 two CPUs, 2 second half of memory at hi_pa, 4 --dtb cr3, 8 --kernel-base,
 *                  16 --rebuild-kdbg, 32 --verify-kdbg, 64 a 32-bit guest (EM_386 core, CR0.PG, gs.base
 *                  also as FS base and GDT base), 128 with CR4.PAE
 *   0x30 hi_pa  0x38 kernel base when no kernel is found (or --kernel-base)
 *   0x40 u32 RVAs: KdDebuggerDataBlock, KdpDataBlockEncoded, KiWaitNever (KiWaitAlways = +8),
 *        KiProcessorBlock, KeNumberProcessors, seed for every other answer
 */
#include <string.h>

#include "analysis.h"
#include "plan_build.h"
#include "format.h"
#include "fuzz_util.h"
#include "bytes.h"
#include "plan.h"

#define FUZZ_HDR 0x58
#define FUZZ_MEM_MAX (1u << 20)
#define FUZZ_QCS_SIZE 0x1b8
#define FUZZ_NOTE_SIZE (12 + 8 + FUZZ_QCS_SIZE)
#define FUZZ_ELF_FIXED (64 + 3 * 56)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_syms {
    uint32_t rva[6];
};

static uint32_t
fuzz_hash(const char *s, uint32_t seed)
{
    uint32_t h = 2166136261u ^ seed;

    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

static int
fuzz_sym_rva(struct r2d_ctx *ctx, void *data, const char *name, uint64_t *rva)
{
    static const char *const names[] = {"KdDebuggerDataBlock", "KdpDataBlockEncoded", "KiWaitNever",
                                        "KiProcessorBlock", "KeNumberProcessors"};
    const struct fuzz_syms *s = data;
    uint32_t h;

    for (size_t i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0) {
            *rva = s->rva[i];
            return 0;
        }
    if (strcmp(name, "KiWaitAlways") == 0) {
        *rva = (uint64_t)s->rva[2] + 8;
        return 0;
    }
    h = fuzz_hash(name, s->rva[5]);
    if (h & 1)
        return r2d_err(ctx, R2D_ENOTFOUND, "fuzz: no symbol %s", name);
    *rva = h & 0xfffff8;
    return 0;
}

static int
fuzz_type_size(struct r2d_ctx *ctx, void *data, const char *type, uint64_t *size)
{
    const uint32_t h = fuzz_hash(type, ((const struct fuzz_syms *)data)->rva[5] * 3);

    if (h & 1)
        return r2d_err(ctx, R2D_ENOTFOUND, "fuzz: no type %s", type);
    *size = (h >> 4) & 0xffff;
    return 0;
}

static int
fuzz_field_offset(struct r2d_ctx *ctx, void *data, const char *type, const char *path, uint64_t *off)
{
    const uint32_t h = fuzz_hash(path, fuzz_hash(type, ((const struct fuzz_syms *)data)->rva[5] * 7));

    if (h & 1)
        return r2d_err(ctx, R2D_ENOTFOUND, "fuzz: no field %s.%s", type, path);
    *off = (h >> 4) & 0x3fff;
    return 0;
}

static void
fuzz_sym_free(void *data)
{
    free(data);
}

static const struct r2d_symbols_ops fuzz_sym_ops = {
    .kind = "fuzz",
    .symbol_rva = fuzz_sym_rva,
    .type_size = fuzz_type_size,
    .field_offset = fuzz_field_offset,
    .free = fuzz_sym_free,
};

/* A QEMU ELF core: ehdr, PT_NOTE + one or two PT_LOADs, the CPU notes, then memory. Returns its size. */
static size_t
fuzz_build_elf(uint8_t *out, const uint8_t *hdr, const uint8_t *mem, size_t mlen)
{
    const unsigned ncpu = (hdr[0x28] & 1) ? 2 : 1;
    const int split = (hdr[0x28] & 2) && mlen >= 2 * R2D_PAGE_SIZE;
    const size_t lo_len = split ? (mlen / 2) & ~(size_t)(R2D_PAGE_SIZE - 1) : mlen;
    const size_t notes_off = FUZZ_ELF_FIXED, notes_len = (size_t)ncpu * FUZZ_NOTE_SIZE;
    const size_t mem_off = notes_off + notes_len;
    uint64_t hi_pa = r2d_le64(hdr + 0x30) & 0x000ffffffffff000ull;
    uint8_t *ph;

    if (hi_pa < lo_len)
        hi_pa = (lo_len + 0x100000) & ~(uint64_t)0xfffff;
    memset(out, 0, mem_off);
    memcpy(out, "\x7f" "ELF", 4);
    out[4] = 2; /* ELFCLASS64 */
    out[5] = 1; /* little-endian */
    out[6] = 1;
    r2d_put_le16(out + 0x10, 4);  /* ET_CORE */
    r2d_put_le16(out + 0x12, (hdr[0x28] & 64) ? 3 : 62); /* EM_386 or EM_X86_64 */
    r2d_put_le32(out + 0x14, 1);
    r2d_put_le64(out + 0x20, 64); /* e_phoff */
    r2d_put_le16(out + 0x34, 64);
    r2d_put_le16(out + 0x36, 56);
    r2d_put_le16(out + 0x38, split ? 3 : 2);
    ph = out + 64; /* PT_NOTE */
    r2d_put_le32(ph, 4);
    r2d_put_le64(ph + 0x08, notes_off);
    r2d_put_le64(ph + 0x20, notes_len);
    r2d_put_le64(ph + 0x28, notes_len);
    ph += 56; /* PT_LOAD at physical 0 */
    r2d_put_le32(ph, 1);
    r2d_put_le64(ph + 0x08, mem_off);
    r2d_put_le64(ph + 0x20, lo_len);
    r2d_put_le64(ph + 0x28, lo_len);
    if (split) {
        ph += 56;
        r2d_put_le32(ph, 1);
        r2d_put_le64(ph + 0x08, mem_off + lo_len);
        r2d_put_le64(ph + 0x18, hi_pa);
        r2d_put_le64(ph + 0x10, hi_pa);
        r2d_put_le64(ph + 0x20, mlen - lo_len);
        r2d_put_le64(ph + 0x28, mlen - lo_len);
    }
    for (unsigned c = 0; c < ncpu; c++) {
        uint8_t *n = out + notes_off + (size_t)c * FUZZ_NOTE_SIZE, *d = n + 20;

        r2d_put_le32(n, 5);
        r2d_put_le32(n + 4, FUZZ_QCS_SIZE);
        memcpy(n + 12, "QEMU", 5);
        r2d_put_le32(d, 1);
        r2d_put_le32(d + 4, FUZZ_QCS_SIZE);
        r2d_put_le64(d + 0x88, r2d_le64(hdr + 0x20) + c);       /* rip */
        r2d_put_le32(d + 0x98 + 8, c ? 0 : 1u << 21);           /* cs flags: L on CPU 0 */
        r2d_put_le64(d + 0xf8 + 0x10, r2d_le64(hdr + 0x08) ^ (uint64_t)c << 12); /* gs.base */
        r2d_put_le64(d + 0x170 + 0x10, r2d_le64(hdr + 0x18));   /* idt.base */
        r2d_put_le64(d + 0x1a0, r2d_le64(hdr + 0x00) + (uint64_t)c * 0x1000); /* cr3 */
        r2d_put_le64(d + 0x1b0, r2d_le64(hdr + 0x10));          /* kernel_gs_base */
        if (hdr[0x28] & 64) { /* 32-bit: paging on, PAE per flag 128, the KPCR in FS and in the GDT */
            r2d_put_le32(d + 0x98 + 8, 0);
            r2d_put_le64(d + 0x188, 0x80000011u);               /* cr0 */
            r2d_put_le64(d + 0x1a8, (hdr[0x28] & 128) ? 0x20 : 0); /* cr4 */
            r2d_put_le64(d + 0xe0 + 0x10, r2d_le64(hdr + 0x08) ^ (uint64_t)c << 12); /* fs.base */
            r2d_put_le64(d + 0x158 + 0x10, r2d_le64(hdr + 0x10)); /* gdt.base */
            r2d_put_le32(d + 0x158 + 4, 0x3ff);                  /* gdt.limit */
        }
    }
    memcpy(out + mem_off, mem, mlen);
    return mem_off + mlen;
}

static int
fuzz_walk_leaf(void *arg, uint64_t va, uint64_t pa, uint64_t sz)
{
    (*(unsigned *)arg)++;
    return 0;
}

static void
fuzz_engine(struct r2d_ctx *ctx, struct r2d_analysis *a, struct r2d_options *opts, const uint8_t *hdr,
            const struct r2d_image *img)
{
    struct fuzz_syms *fs;
    struct r2d_plan *plan;
    unsigned leaves = 0;
    uint64_t pa, psz;

    if (r2d_discover_dtb(a) != 0) {
        fuzz_touch_errmsg(ctx);
        a->dtb = r2d_le64(hdr) & R2D_X64_DTB_MASK;
        r2d_mmu_init(&a->mmu, ctx, img, R2D_PAGING_X64, a->dtb);
    }
    a->system_dtb = a->dtb;
    (void)r2d_mmu_walk(&a->mmu, r2d_le64(hdr + 0x20), UINT64_MAX, 4096, fuzz_walk_leaf, &leaves);
    (void)r2d_mmu_translate(&a->mmu, r2d_le64(hdr + 0x18), &pa, &psz);
    if (r2d_discover_kernel(a) != 0) {
        fuzz_touch_errmsg(ctx);
        a->kernel_base = r2d_le64(hdr + 0x38);
    }
    fs = malloc(sizeof(*fs));
    a->syms = calloc(1, sizeof(*a->syms));
    if (!fs || !a->syms)
        abort();
    for (int i = 0; i < 6; i++)
        fs->rva[i] = r2d_le32(hdr + 0x40 + 4 * i);
    a->syms->ops = &fuzz_sym_ops;
    a->syms->data = fs;
    snprintf(a->syms->origin, sizeof(a->syms->origin), "fuzz");
    (void)r2d_discover_system_dtb(a);
    if (r2d_kdbg_locate(a) != 0)
        fuzz_touch_errmsg(ctx);
    if (r2d_match_cpus(a) != 0)
        fuzz_touch_errmsg(ctx);
    plan = r2d_plan_new();
    if (!plan)
        abort();
    if (r2d_build_plan(a, plan) != 0)
        fuzz_touch_errmsg(ctx);
    for (size_t i = 0; i < r2d_plan_warning_count(plan); i++)
        fuzz_log_discard(NULL, 0, r2d_plan_warning(plan, i));
    r2d_plan_free(plan);
    (void)opts;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_file file;
    static uint8_t elf[FUZZ_ELF_FIXED + 2 * FUZZ_NOTE_SIZE + FUZZ_MEM_MAX];
    struct r2d_analysis a;
    struct r2d_ctx *ctx = fuzz_ctx();
    uint8_t hdr[FUZZ_HDR] = {0};
    const uint8_t *mem = data + (size < FUZZ_HDR ? size : FUZZ_HDR);
    size_t mlen = size - (size_t)(mem - data), elen;
    struct r2d_image *img = NULL;
    struct r2d_options opts;

    memcpy(hdr, data, size < FUZZ_HDR ? size : FUZZ_HDR);
    if (mlen == 0)
        return 0;
    if (mlen > FUZZ_MEM_MAX)
        mlen = FUZZ_MEM_MAX;
    elen = fuzz_build_elf(elf, hdr, mem, mlen);
    if (getenv("R2D_FUZZ_WRITE_ELF")) { /* reproduce with the CLI: raw2dmp --info on this file */
        FILE *f = fopen(getenv("R2D_FUZZ_WRITE_ELF"), "wb");

        if (f) {
            fwrite(elf, 1, elen, f);
            fclose(f);
        }
    }
    /* Errors are formatted (and traced) millions of times on some inputs; info level keeps runs fast. */
    r2d_ctx_set_verbosity(ctx, R2D_LOG_INFO);
    if (r2d_format_open(ctx, fuzz_file_set(&file, elf, elen), "elf", &img) != 0) {
        fuzz_touch_errmsg(ctx);
        return 0;
    }
    r2d_options_init(&opts);
    opts.offline = 1;
    opts.have_dtb = !!(hdr[0x28] & 4);
    opts.dtb = r2d_le64(hdr);
    opts.have_kernel_base = !!(hdr[0x28] & 8);
    opts.kernel_base = r2d_le64(hdr + 0x38);
    opts.rebuild_kdbg = !!(hdr[0x28] & 16);
    opts.verify_kdbg = !!(hdr[0x28] & 32);
    r2d_analysis_init(&a, ctx, &opts, img);
    fuzz_engine(ctx, &a, &opts, hdr, img);
    r2d_analysis_free(&a);
    r2d_image_free(img);
    return 0;
}
