/* SPDX-License-Identifier: MIT */
/*
 * The KDBG: find it by symbol, decode the Windows 8+ encoding, or rebuild it from symbols and types
 * (kdbg.md sections 4-7). The image is never trusted blindly: a decoded block must say KDBG, have a sane
 * size and name the kernel base we found.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "kdbg_fields.h"
#include "raw2dmp/bytes.h"

static uint64_t
kdbg_rotl(uint64_t v, unsigned n)
{
    n &= 63;
    return n ? (v << n) | (v >> (64 - n)) : v; /* x86 ROL masks the count; a shift by 64 is undefined in C */
}

static uint64_t
kdbg_rotr(uint64_t v, unsigned n)
{
    n &= 63;
    return n ? (v >> n) | (v << (64 - n)) : v;
}

uint64_t
r2d_kdbg_decode_u64(uint64_t e, uint64_t wait_never, uint64_t wait_always, uint64_t block_va)
{
    uint64_t t = kdbg_rotl(e ^ wait_never, (unsigned)(wait_never & 63));

    return __builtin_bswap64(t ^ block_va) ^ wait_always;
}

uint64_t
r2d_kdbg_encode_u64(uint64_t plain, uint64_t wait_never, uint64_t wait_always, uint64_t block_va)
{
    const uint64_t t = __builtin_bswap64(plain ^ wait_always) ^ block_va;

    return kdbg_rotr(t, (unsigned)(wait_never & 63)) ^ wait_never;
}

static int
kdbg_size_sane(uint32_t size)
{
    return size >= R2D_KDBG_MIN_SIZE && size <= R2D_KDBG_MAX_SIZE && size % 8 == 0;
}

/* The Size Windows uses for a build (kdbg.md section 3) when no trustworthy block says it. */
static uint32_t
kdbg_size_for_build(uint32_t build)
{
    if (build >= 17763)
        return 0x380;
    if (build >= 14393)
        return 0x368;
    if (build >= 9200)
        return 0x360;
    return 0x340;
}

static void
kdbg_decode_block(struct r2d_kdbg *k, uint32_t size, uint8_t *out)
{
    for (uint32_t i = 0; i < size; i += 8)
        r2d_put_le64(out + i, r2d_kdbg_decode_u64(r2d_le64(k->image + i), k->wait_never, k->wait_always,
                                                  k->flag_va));
}

/*
 * Read the block from the image and make it plain. Returns 1 with k->bytes/size filled, 0 with k->why
 * explaining why the image's block is unusable.
 */
static int
kdbg_from_image(struct r2d_analysis *a)
{
    struct r2d_kdbg *k = &a->kdbg;
    uint8_t hdr[0x18];
    uint32_t tag, size;

    if (r2d_mmu_read(&a->mmu, k->va, hdr, sizeof(hdr))) {
        snprintf(k->why, sizeof(k->why), "KDBG header unreadable: %.200s", r2d_errmsg(a->ctx));
        return 0;
    }
    tag = r2d_le32(hdr + R2D_KDBG_OWNER_TAG);
    size = r2d_le32(hdr + R2D_KDBG_SIZE);
    if (tag == R2D_KDBG_TAG) {
        /* Plain even if the flag is set: some acquisition tools decode in place and leave the flag. */
        if (!kdbg_size_sane(size)) {
            snprintf(k->why, sizeof(k->why), "plain KDBG has an implausible Size 0x%" PRIx32, size);
            return 0;
        }
        if (r2d_mmu_read(&a->mmu, k->va, k->image, size)) {
            snprintf(k->why, sizeof(k->why), "KDBG body unreadable: %.200s", r2d_errmsg(a->ctx));
            return 0;
        }
        k->have_image = 1;
        memcpy(k->bytes, k->image, size);
        k->size = size;
        k->mode = R2D_KDBG_PLAIN;
        snprintf(k->why, sizeof(k->why), "plain in the image (OwnerTag KDBG)");
    } else {
        uint8_t dec[0x18];

        if (!k->have_flag || k->flag == 0) {
            snprintf(k->why, sizeof(k->why), "OwnerTag is 0x%08" PRIx32 ", not KDBG, and KdpDataBlockEncoded is %s",
                     tag, k->have_flag ? "0" : "unknown");
            return 0;
        }
        if (k->wait_never == 0 && k->wait_always == 0) {
            snprintf(k->why, sizeof(k->why), "block is encoded but KiWaitNever/KiWaitAlways are unavailable");
            return 0;
        }
        memcpy(k->image, hdr, sizeof(hdr));
        kdbg_decode_block(k, sizeof(hdr), dec);
        tag = r2d_le32(dec + R2D_KDBG_OWNER_TAG);
        size = r2d_le32(dec + R2D_KDBG_SIZE);
        if (tag != R2D_KDBG_TAG || !kdbg_size_sane(size)) {
            snprintf(k->why, sizeof(k->why),
                     "decoding with KiWaitNever/KiWaitAlways gives OwnerTag 0x%08" PRIx32 " Size 0x%" PRIx32
                     ": the block or its keys are damaged", tag, size);
            return 0;
        }
        if (r2d_mmu_read(&a->mmu, k->va, k->image, size)) {
            snprintf(k->why, sizeof(k->why), "KDBG body unreadable: %.200s", r2d_errmsg(a->ctx));
            return 0;
        }
        k->have_image = 1;
        kdbg_decode_block(k, size, k->bytes);
        k->size = size;
        k->mode = R2D_KDBG_DECODED;
        snprintf(k->why, sizeof(k->why), "decoded (Windows 8+ encoding, KdpDataBlockEncoded = %u)", k->flag);
    }
    if (r2d_le64(k->bytes + R2D_KDBG_KERNBASE) != a->kernel_base) {
        snprintf(k->why, sizeof(k->why), "KDBG KernBase 0x%" PRIx64 " is not the kernel base 0x%" PRIx64,
                 r2d_le64(k->bytes + R2D_KDBG_KERNBASE), a->kernel_base);
        k->mode = R2D_KDBG_NONE;
        return 0;
    }
    return 1;
}

int
r2d_kdbg_locate(struct r2d_analysis *a)
{
    struct r2d_kdbg *k = &a->kdbg;
    uint64_t sym;
    int rc;

    memset(k, 0, sizeof(*k));
    rc = r2d_kernel_symbol(a, "KdDebuggerDataBlock", &k->va);
    if (rc)
        return r2d_err_prefix(a->ctx, rc, "KDBG");
    if (!r2d_kernel_symbol(a, "KdpDataBlockEncoded", &k->flag_va) &&
        !r2d_mmu_read(&a->mmu, k->flag_va, &k->flag, 1))
        k->have_flag = 1;
    if (!r2d_kernel_symbol(a, "KiWaitNever", &sym))
        r2d_mmu_read_u64(&a->mmu, sym, &k->wait_never);
    if (!r2d_kernel_symbol(a, "KiWaitAlways", &sym))
        r2d_mmu_read_u64(&a->mmu, sym, &k->wait_always);

    if (kdbg_from_image(a)) {
        memcpy(k->from_image, k->bytes, k->size);
        k->from_image_size = k->size;
        r2d_log(a->ctx, R2D_LOG_INFO, "KDBG at 0x%" PRIx64 ": %s, Size 0x%" PRIx32, k->va, k->why, k->size);
    } else if (!a->opts->rebuild_kdbg) {
        return r2d_err(a->ctx, R2D_EFORMAT, "%s: the KDBG at 0x%" PRIx64 " cannot be used: %s; "
                       "--rebuild-kdbg recreates it from symbols", r2d_image_path(a->img), k->va, k->why);
    }
    if (a->opts->rebuild_kdbg || a->opts->verify_kdbg) {
        uint8_t rebuilt[R2D_KDBG_MAX_SIZE];
        uint32_t size = 0;

        rc = r2d_kdbg_rebuild(a, rebuilt, &size);
        if (rc)
            return rc;
        if (a->opts->rebuild_kdbg) {
            memcpy(k->bytes, rebuilt, size);
            k->size = size;
            k->mode = R2D_KDBG_REBUILT;
            r2d_log(a->ctx, R2D_LOG_INFO, "KDBG at 0x%" PRIx64 " rebuilt from %s (Size 0x%" PRIx32 ")", k->va,
                    a->syms->origin, size);
        }
    }
    return 0;
}

/* Build the block from symbols and types only: the image's copy is not consulted (kdbg.md section 7). */
int
r2d_kdbg_rebuild(struct r2d_analysis *a, uint8_t *out, uint32_t *size_out)
{
    const struct r2d_kdbg *k = &a->kdbg;
    uint32_t size = kdbg_size_for_build(a->minor_version);

    memset(out, 0, R2D_KDBG_MAX_SIZE);
    a->kdbg.nunderived = 0;
    r2d_put_le64(out + R2D_KDBG_FLINK, k->va);
    r2d_put_le64(out + R2D_KDBG_BLINK, k->va);
    r2d_put_le32(out + R2D_KDBG_OWNER_TAG, R2D_KDBG_TAG);
    r2d_put_le32(out + R2D_KDBG_SIZE, size);
    for (size_t i = 0; i < r2d_kdbg_field_count; i++) {
        const struct r2d_kdbg_field *f = &r2d_kdbg_fields[i];
        uint64_t v = 0;
        int ok = 0;

        if (f->offset + f->width > size)
            continue;
        switch (f->kind) {
        case R2D_KF_SYMBOL:
            ok = r2d_kernel_symbol(a, f->source, &v) == 0;
            break;
        case R2D_KF_OFFSET:
            ok = r2d_symbols_field_offset(a->ctx, a->syms, f->source, f->path, &v) == 0;
            break;
        case R2D_KF_SIZEOF:
            ok = r2d_symbols_type_size(a->ctx, a->syms, f->source, &v) == 0;
            break;
        case R2D_KF_VALUE:
            ok = 1;
            if (f->offset == R2D_KDBG_KERNBASE)
                v = a->kernel_base;
            else if (strcmp(f->name, "MmPageSize") == 0)
                v = R2D_PAGE_SIZE;
            else if (strcmp(f->name, "PteBase") == 0)
                ok = 0; /* not derivable from symbols alone */
            break;
        default:
            break;
        }
        if (!ok) {
            r2d_log(a->ctx, R2D_LOG_DEBUG, "KDBG rebuild: %s (0x%x) not derivable, left 0", f->name, f->offset);
            if (a->kdbg.nunderived < sizeof(a->kdbg.underived) / sizeof(a->kdbg.underived[0]))
                a->kdbg.underived[a->kdbg.nunderived++] = (uint16_t)i;
            continue;
        }
        if (f->width < 8 && v >> (8 * f->width)) {
            r2d_log(a->ctx, R2D_LOG_WARN, "warning: KDBG rebuild: %s value 0x%" PRIx64 " does not fit %u bytes; left 0",
                    f->name, v, f->width);
            continue;
        }
        for (unsigned b = 0; b < f->width; b++)
            out[f->offset + b] = (uint8_t)(v >> (8 * b));
    }
    *size_out = size;
    return 0;
}

static uint64_t
kdbg_field_value(const uint8_t *block, const struct r2d_kdbg_field *f)
{
    uint64_t v = 0;

    for (unsigned b = 0; b < f->width; b++)
        v |= (uint64_t)block[f->offset + b] << (8 * b);
    return v;
}

int
r2d_kdbg_verify(struct r2d_analysis *a, struct r2d_kdbg_diff *diffs, size_t max)
{
    const struct r2d_kdbg *k = &a->kdbg;
    uint8_t rebuilt[R2D_KDBG_MAX_SIZE];
    uint32_t size;
    size_t n = 0;
    int rc;

    R2D_CHECK(k->from_image_size == 0, a->ctx, R2D_EVERIFY,
              "%s: the image's KDBG at 0x%" PRIx64 " cannot be verified: %s", r2d_image_path(a->img), k->va, k->why);
    rc = r2d_kdbg_rebuild(a, rebuilt, &size);
    if (rc)
        return rc;
    for (size_t i = 0; i < r2d_kdbg_field_count; i++) {
        const struct r2d_kdbg_field *f = &r2d_kdbg_fields[i];
        int derived = 1;
        uint64_t img, sym;

        if (f->kind == R2D_KF_UNKNOWN || f->offset + f->width > size || f->offset + f->width > k->from_image_size)
            continue;
        for (unsigned u = 0; u < k->nunderived; u++)
            if (k->underived[u] == i)
                derived = 0;
        if (!derived)
            continue;
        img = kdbg_field_value(k->from_image, f);
        sym = kdbg_field_value(rebuilt, f);
        if (img == sym)
            continue;
        if (n < max)
            diffs[n] = (struct r2d_kdbg_diff){f->name, f->offset, img, sym};
        n++;
    }
    {
        /* The header: OwnerTag and Size. The list links are the kernel's business. */
        const uint32_t isize = r2d_le32(k->from_image + R2D_KDBG_SIZE);

        if (isize != size && n < max)
            diffs[n++] = (struct r2d_kdbg_diff){"Header.Size", R2D_KDBG_SIZE, isize, size};
    }
    return (int)(n < max ? n : max);
}
