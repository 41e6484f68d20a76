/* SPDX-License-Identifier: MIT */
/*
 * The KDBG: find it by symbol, decode the Windows 8+ encoding, or rebuild it from symbols and types
 * (docs/reference/kdbg.md sections 4-7). The image is never trusted blindly: a decoded block must say KDBG,
 * have a sane size and name the kernel base we found.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "analysis.h"
#include "kdbg_fields.h"
#include "bytes.h"
#include "image.h"
#include "kd_version_block.h"

#define KDBG_BUILD_MIN 2600      /* Windows XP; anything lower is not a build number */
#define KDBG_BUILD_MAX 60000
#define KDBG_SIZE_FALLBACK R2D_KDBG_SIZE_WIN7 /* Rekall's choice: holds every field converters use */
#define KDBG_LIST_MAX_WALK 64    /* entries visited looking for the block in the debugger data list */

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

/*
 * The 32-bit variant (x86 kernels from Windows 8 on): the same steps on every 4-byte word, with the low
 * 32 bits of the keys and of the salt, and a 32-bit rotation by KiWaitNever & 31 (docs/reference/kdbg.md
 * section 4.1, after the KiDecodePointer in Microsoft's kddebug.cpp).
 */
static uint32_t
kdbg_rotl32(uint32_t v, unsigned n)
{
    n &= 31;
    return n ? (v << n) | (v >> (32 - n)) : v;
}

static uint32_t
kdbg_rotr32(uint32_t v, unsigned n)
{
    n &= 31;
    return n ? (v >> n) | (v << (32 - n)) : v;
}

uint32_t
r2d_kdbg_decode_u32(uint32_t e, uint32_t wait_never, uint32_t wait_always, uint32_t salt)
{
    return __builtin_bswap32(kdbg_rotl32(e ^ wait_never, wait_never) ^ salt) ^ wait_always;
}

uint32_t
r2d_kdbg_encode_u32(uint32_t plain, uint32_t wait_never, uint32_t wait_always, uint32_t salt)
{
    return kdbg_rotr32(__builtin_bswap32(plain ^ wait_always) ^ salt, wait_never) ^ wait_never;
}

static int
kdbg_size_sane(uint32_t size)
{
    return size >= R2D_KDBG_MIN_SIZE && size <= R2D_KDBG_MAX_SIZE && size % 8 == 0;
}

/*
 * The Size Windows uses for a build (docs/reference/kdbg.md section 3), for a rebuilt block. The build is
 * KdVersionBlock.MinorVersion, or KUSER_SHARED_DATA.NtBuildNumber when that is unreadable (both read by
 * r2d_build_plan_version before the KDBG step). Returns 0 when the build is unknown.
 */
static uint32_t
kdbg_size_for_build(uint32_t build)
{
    if (build < KDBG_BUILD_MIN || build > KDBG_BUILD_MAX)
        return 0;
    if (build < 3790) /* XP */
        return R2D_KDBG_SIZE_XP;
    if (build < 6000) /* Server 2003, XP x64 */
        return R2D_KDBG_SIZE_2003;
    if (build < 7600) /* Vista, 2008 */
        return R2D_KDBG_SIZE_VISTA;
    if (build >= 17763)
        return R2D_KDBG_SIZE_1809;
    if (build >= 14393)
        return R2D_KDBG_SIZE_1607;
    if (build >= 9200)
        return R2D_KDBG_SIZE_WIN8;
    return R2D_KDBG_SIZE_WIN7;
}

/* Decode size bytes of k->image: 8-byte words on x64, 4-byte words salted with k->salt on x86. */
static void
kdbg_decode_block(const struct r2d_kdbg *k, int x86, uint32_t size, uint8_t *out)
{
    if (x86) {
        for (uint32_t i = 0; i < size; i += 4)
            r2d_put_le32(out + i, r2d_kdbg_decode_u32(r2d_le32(k->image + i), (uint32_t)k->wait_never,
                                                      (uint32_t)k->wait_always, (uint32_t)k->salt));
        return;
    }
    for (uint32_t i = 0; i < size; i += 8)
        r2d_put_le64(out + i, r2d_kdbg_decode_u64(r2d_le64(k->image + i), k->wait_never, k->wait_always,
                                                  k->flag_va));
}

/*
 * Decode the header; on x86 the salt is &KdpDataBlockEncoded as on x64, and, failing that, the block's own
 * address (what Microsoft's kddebug.cpp passes). Returns 1 when the header reads KDBG with a sane Size.
 */
static int
kdbg_decode_header(struct r2d_kdbg *k, int x86, uint8_t dec[R2D_KDBG_HEADER_SIZE])
{
    const uint64_t salts[2] = {k->flag_va, k->va};

    for (unsigned i = 0; i < (x86 ? 2u : 1u); i++) {
        k->salt = salts[i];
        kdbg_decode_block(k, x86, R2D_KDBG_HEADER_SIZE, dec);
        if (r2d_le32(dec + R2D_KDBG_OFF_OWNER_TAG) == R2D_KDBG_TAG &&
            kdbg_size_sane(r2d_le32(dec + R2D_KDBG_OFF_SIZE)))
            return 1;
    }
    k->salt = k->flag_va;
    return 0;
}

/*
 * Read the block from the image and make it plain. Returns 1 with k->bytes/size filled, 0 with k->why
 * explaining why the image's block is unusable.
 */
static int
kdbg_from_image(struct r2d_analysis *a)
{
    struct r2d_kdbg *k = &a->kdbg;
    uint8_t hdr[R2D_KDBG_HEADER_SIZE];
    uint32_t tag, size;

    if (r2d_mmu_read(&a->mmu, k->va, hdr, sizeof(hdr))) {
        snprintf(k->why, sizeof(k->why), "KDBG header unreadable: %.800s", r2d_errmsg(a->ctx));
        return 0;
    }
    tag = r2d_le32(hdr + R2D_KDBG_OFF_OWNER_TAG);
    size = r2d_le32(hdr + R2D_KDBG_OFF_SIZE);
    if (tag == R2D_KDBG_TAG) {
        /* Plain even if the flag is set: some acquisition tools decode in place and leave the flag. */
        if (!kdbg_size_sane(size)) {
            snprintf(k->why, sizeof(k->why), "plain KDBG has an implausible Size 0x%" PRIx32, size);
            return 0;
        }
        if (r2d_mmu_read(&a->mmu, k->va, k->image, size)) {
            snprintf(k->why, sizeof(k->why), "KDBG body unreadable: %.800s", r2d_errmsg(a->ctx));
            return 0;
        }
        k->have_image = 1;
        memcpy(k->bytes, k->image, size);
        k->size = size;
        k->mode = R2D_KDBG_PLAIN;
        snprintf(k->why, sizeof(k->why), "plain in the image (OwnerTag KDBG)");
    } else {
        uint8_t dec[R2D_KDBG_HEADER_SIZE];

        if (!k->have_flag || k->flag == 0) {
            snprintf(k->why, sizeof(k->why),
                     "OwnerTag is 0x%08" PRIx32 ", not KDBG, and KdpDataBlockEncoded is %s", tag,
                     k->have_flag ? "0" : "unknown");
            return 0;
        }
        if (k->wait_never == 0 && k->wait_always == 0) {
            snprintf(k->why, sizeof(k->why), "block is encoded but KiWaitNever/KiWaitAlways are unavailable");
            return 0;
        }
        memcpy(k->image, hdr, sizeof(hdr));
        kdbg_decode_header(k, r2d_analysis_is_x86(a), dec);
        tag = r2d_le32(dec + R2D_KDBG_OFF_OWNER_TAG);
        size = r2d_le32(dec + R2D_KDBG_OFF_SIZE);
        if (tag != R2D_KDBG_TAG || !kdbg_size_sane(size)) {
            snprintf(k->why, sizeof(k->why),
                     "decoding with KiWaitNever/KiWaitAlways gives OwnerTag 0x%08" PRIx32 " Size 0x%" PRIx32
                     ": the block or its keys are damaged", tag, size);
            return 0;
        }
        if (r2d_mmu_read(&a->mmu, k->va, k->image, size)) {
            snprintf(k->why, sizeof(k->why), "KDBG body unreadable: %.800s", r2d_errmsg(a->ctx));
            return 0;
        }
        k->have_image = 1;
        kdbg_decode_block(k, r2d_analysis_is_x86(a), size, k->bytes);
        k->size = size;
        k->mode = R2D_KDBG_DECODED;
        snprintf(k->why, sizeof(k->why), "decoded (Windows 8+ encoding%s, KdpDataBlockEncoded = %u)",
                 !r2d_analysis_is_x86(a)  ? ""
                 : k->salt == k->flag_va ? ", 32-bit words salted with &KdpDataBlockEncoded"
                                         : ", 32-bit words salted with the block's address", k->flag);
    }
    /* x86 holds it sign-extended; a zero-extended one still names the kernel (and --verify-kdbg says so). */
    if (r2d_analysis_va(a, r2d_le64(k->bytes + R2D_KDBG_OFF_KERNBASE)) != a->kernel_base) {
        snprintf(k->why, sizeof(k->why), "KDBG KernBase 0x%" PRIx64 " is not the kernel base 0x%" PRIx64,
                 r2d_le64(k->bytes + R2D_KDBG_OFF_KERNBASE), a->kernel_base);
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
    /* ULONG_PTR keys: 8 bytes on x64, 4 on x86 (only their low 32 bits are used there). */
    if (!r2d_kernel_symbol(a, "KiWaitNever", &sym))
        r2d_read_ptr(a, sym, &k->wait_never);
    if (!r2d_kernel_symbol(a, "KiWaitAlways", &sym))
        r2d_read_ptr(a, sym, &k->wait_always);

    if (kdbg_from_image(a)) {
        memcpy(k->from_image, k->bytes, k->size);
        k->from_image_size = k->size;
        r2d_log(a->ctx, R2D_LOG_INFO, "KDBG at 0x%" PRIx64 ": %s, Size 0x%" PRIx32, k->va, k->why, k->size);
    } else if (!a->opts->rebuild_kdbg) {
        return r2d_err(a->ctx, R2D_EFORMAT, "%s: the KDBG at 0x%" PRIx64 " cannot be used: %s; "
                       "--rebuild-kdbg recreates it from symbols", r2d_image_path(a->img), k->va, k->why);
    }
    if (a->opts->rebuild_kdbg) {
        uint8_t rebuilt[R2D_KDBG_MAX_SIZE];
        uint32_t size = 0;
        char image_why[sizeof(k->why)];

        rc = r2d_kdbg_rebuild(a, rebuilt, &size);
        if (rc)
            return rc;
        snprintf(image_why, sizeof(image_why), "%s", k->why);
        memcpy(k->bytes, rebuilt, size);
        k->size = size;
        k->mode = R2D_KDBG_REBUILT;
        snprintf(k->why, sizeof(k->why),
                 "rebuilt from symbols, %u field%s underived (the image's block: %.700s)", k->nunderived,
                 k->nunderived == 1 ? "" : "s", image_why);
        r2d_log(a->ctx, R2D_LOG_INFO, "KDBG at 0x%" PRIx64 " rebuilt from %s (Size 0x%" PRIx32 ")", k->va,
                a->syms->origin, size);
    }
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

/* What a rebuild derives from the image's other structures rather than from symbols and types. */
struct kdbg_derived {
    uint32_t size;
    int have_size;        /* the build is known */
    uint64_t flink, blink;
    int have_links;       /* taken from (or confirmed by) KdVersionBlock.DebuggerDataList */
    uint64_t pte_base;
    int have_pte_base;
};

/*
 * The entry of the list at head whose link (0 = Flink, 8 = Blink) is self, walking by that link from the
 * head. The block's own (untrusted) links are never read. 1 and *out, or 0 when not found.
 */
static int
kdbg_list_neighbour(struct r2d_analysis *a, uint64_t head, uint64_t self, unsigned link, uint64_t *out)
{
    /* The list is the kernel's LIST_ENTRY: on x86 Blink is the second 4-byte pointer. */
    const unsigned at = link == R2D_KDBG_OFF_FLINK ? 0 : a->ptr_size;
    uint64_t e = head;

    for (unsigned i = 0; i < KDBG_LIST_MAX_WALK; i++) {
        uint64_t n;

        if (r2d_read_ptr(a, e + at, &n) || n == 0)
            return 0;
        if (n == self) {
            *out = e;
            return 1;
        }
        if (n == head)
            return 0;
        e = n;
    }
    return 0;
}

/*
 * Header links. A genuine block is an entry of the list whose head is KdVersionBlock.DebuggerDataList
 * (Flags bit 1 says the pointer is valid; the kernel's head is KdpDebuggerDataListHead): Blink is the entry
 * whose Flink is the block, Flink the entry whose Blink is the block, so a one-entry list gives
 * Flink = Blink = the head. When DebuggerDataList is the block itself, the block is its own one-entry list
 * (Flink = Blink = its VA). Otherwise (no KdVersionBlock, flag clear, the head unreadable or not pointing at
 * the block) the links are not derived; they are still set to the block's own VA, as Rekall does and as
 * Volatility 2's scanner expects, and listed as underived.
 */
static void
kdbg_derive_links(struct r2d_analysis *a, struct kdbg_derived *d)
{
    const uint64_t self = a->kdbg.va;
    uint8_t vb[R2D_KVB_SIZE];
    uint64_t va, head;

    d->flink = d->blink = self;
    d->have_links = 0;
    if (r2d_kernel_symbol(a, "KdVersionBlock", &va) || r2d_mmu_read(&a->mmu, va, vb, sizeof(vb))) {
        r2d_log(a->ctx, R2D_LOG_INFO, "KDBG rebuild: KdVersionBlock unreadable; List links set to the block "
                "itself");
        return;
    }
    head = r2d_analysis_va(a, r2d_le64(vb + R2D_KVB_OFF_DEBUGGER_DATA_LIST));
    if (!(r2d_le16(vb + R2D_KVB_OFF_FLAGS) & R2D_KVB_FLAG_DEBUGGER_DATA_LIST) || head == 0) {
        r2d_log(a->ctx, R2D_LOG_INFO,
                "KDBG rebuild: KdVersionBlock names no debugger data list (Flags 0x%x); List links set to "
                "the block itself", (unsigned)r2d_le16(vb + R2D_KVB_OFF_FLAGS));
        return;
    }
    if (head == self) {
        d->have_links = 1;
        return;
    }
    if (kdbg_list_neighbour(a, head, self, R2D_KDBG_OFF_FLINK, &d->blink) &&
        kdbg_list_neighbour(a, head, self, R2D_KDBG_OFF_BLINK, &d->flink)) {
        d->have_links = 1;
        r2d_log(a->ctx, R2D_LOG_INFO, "KDBG rebuild: linked into the debugger data list at 0x%" PRIx64
                " (Flink 0x%" PRIx64 ", Blink 0x%" PRIx64 ")", head, d->flink, d->blink);
        return;
    }
    d->flink = d->blink = self;
    r2d_log(a->ctx, R2D_LOG_INFO,
            "KDBG rebuild: the debugger data list at 0x%" PRIx64 " does not lead to the block; List links "
            "set to the block itself", head);
}

/*
 * PteBase (1607+): the base of the page-table self-map, whose slot Windows randomises. The self-map entry
 * is the kernel-half entry of the top-level table that points at the table itself; the base is that
 * slot's address, made canonical (0xFFFF000000000000 | slot << 39 with x64 4-level paging). Exactly one entry
 * must exist. Cross-checked with the value of nt!MmPteBase when the symbol exists.
 */
/*
 * x86: the page tables appear at the fixed 0xC0000000 (there is no randomised slot); derived when the
 * self-map is really there: 0xC0300000 maps the page directory (non-PAE), 0xC0603000 the top one (PAE).
 */
static void
kdbg_derive_pte_base_x86(struct r2d_analysis *a, struct kdbg_derived *d)
{
    const int pae = a->paging == R2D_PAGING_X86_PAE;
    uint64_t pa, top = a->mmu.dtb;

    if (pae) { /* the top directory is the one PDPT entry 3 names */
        uint8_t e[8];

        if (r2d_image_read(a->ctx, a->img, a->mmu.dtb + 24, e, sizeof(e), R2D_HOLE_ERROR))
            return;
        top = r2d_le64(e) & R2D_X64_PTE_FRAME;
    }
    if (r2d_mmu_translate(&a->mmu, pae ? 0xc0603000u : 0xc0300000u, &pa, NULL) || pa != top) {
        r2d_log(a->ctx, R2D_LOG_INFO, "KDBG rebuild: no page-table self-map at 0x%s; PteBase not derived",
                pae ? "C0603000" : "C0300000");
        return;
    }
    d->pte_base = r2d_analysis_va(a, 0xc0000000u);
    d->have_pte_base = 1;
}

static void
kdbg_derive_pte_base(struct r2d_analysis *a, struct kdbg_derived *d)
{
    unsigned slot = 0, found;
    uint64_t va, mm;

    d->have_pte_base = 0;
    if (r2d_analysis_is_x86(a)) {
        kdbg_derive_pte_base_x86(a, d);
        return;
    }
    found = r2d_mmu_self_map_slots(&a->mmu, &slot);
    if (found != 1) {
        r2d_log(a->ctx, R2D_LOG_INFO, "KDBG rebuild: %u self-map entries in the table at 0x%" PRIx64
                "; PteBase not derived", found, a->mmu.dtb);
        return;
    }
    d->pte_base = r2d_mmu_self_map_base(&a->mmu, slot);
    d->have_pte_base = 1;
    if (!r2d_kernel_symbol(a, "MmPteBase", &va) && !r2d_read_ptr(a, va, &mm) && mm != 0 &&
        mm != d->pte_base)
        r2d_log(a->ctx, R2D_LOG_WARN, "KDBG rebuild: MmPteBase holds 0x%" PRIx64 " but the self-map "
                "slot 0x%x gives 0x%" PRIx64 "; using the page tables", mm, slot, d->pte_base);
}

static void
kdbg_derive(struct r2d_analysis *a, struct kdbg_derived *d)
{
    const uint32_t build = a->minor_version;

    memset(d, 0, sizeof(*d));
    d->size = kdbg_size_for_build(build);
    d->have_size = d->size != 0;
    if (!d->have_size) {
        d->size = KDBG_SIZE_FALLBACK;
        r2d_log(a->ctx, R2D_LOG_WARN, "KDBG rebuild: build number %u unknown (KdVersionBlock and "
                "KUSER_SHARED_DATA unreadable); Size 0x%x (Windows 7 layout)", build, KDBG_SIZE_FALLBACK);
    }
    kdbg_derive_links(a, d);
    if (d->size >= 0x368)
        kdbg_derive_pte_base(a, d);
}

/* One field's value. Returns 1 when derived; 0 leaves *v as the fallback to write (0, or a self link). */
static int
kdbg_rebuild_field(struct r2d_analysis *a, const struct kdbg_derived *d, const struct r2d_kdbg_field *f,
                   uint64_t *v)
{
    const struct r2d_kdbg *k = &a->kdbg;

    *v = 0;
    switch (f->kind) {
    case R2D_KF_SYMBOL:
        return r2d_kernel_symbol(a, f->source, v) == 0;
    case R2D_KF_OFFSET:
        return r2d_symbols_field_offset(a->ctx, a->syms, f->source, r2d_kdbg_field_path(f, r2d_analysis_is_x86(a)),
                                        v) == 0;
    case R2D_KF_SIZEOF:
        return r2d_symbols_type_size(a->ctx, a->syms, f->source, v) == 0;
    case R2D_KF_HEADER:
        if (f->offset == R2D_KDBG_OFF_FLINK || f->offset == R2D_KDBG_OFF_BLINK) {
            /*
             * x86 links the header into a 32-bit LIST_ENTRY: Flink and Blink are the two dwords of the
             * first u64, and the second u64 stays 0 (the zeros Vol2's x86 KDBG signature starts with).
             */
            if (r2d_analysis_is_x86(a))
                *v = f->offset == R2D_KDBG_OFF_FLINK ? (uint32_t)d->flink | (uint64_t)(uint32_t)d->blink << 32 : 0;
            else
                *v = f->offset == R2D_KDBG_OFF_FLINK ? d->flink : d->blink;
            return d->have_links;
        }
        *v = f->offset == R2D_KDBG_OFF_OWNER_TAG ? R2D_KDBG_TAG : d->size;
        return f->offset == R2D_KDBG_OFF_OWNER_TAG || d->have_size;
    case R2D_KF_VALUE:
        if (f->offset == R2D_KDBG_OFF_KERNBASE)
            *v = a->kernel_base;
        else if (strcmp(f->name, "MmPageSize") == 0)
            *v = R2D_PAGE_SIZE;
        else if (strcmp(f->name, "PaeEnabled") == 0)
            *v = a->paging == R2D_PAGING_X86_PAE;
        else if (strcmp(f->name, "PteBase") == 0) {
            *v = d->have_pte_base ? d->pte_base : 0;
            return d->have_pte_base;
        }
        return 1; /* the rest are zeros by definition: padding, IA64-only fields */
    case R2D_KF_IMAGE:
        if (k->from_image_size < f->offset + f->width)
            return 0;
        *v = kdbg_field_value(k->from_image, f);
        return 1;
    default:
        return 0;
    }
}

/*
 * Build the block from symbols, types and the image's other structures (docs/reference/kdbg.md section 7).
 * The image's own block is consulted only for the GDT selectors (R2D_KF_IMAGE), and only when it was usable.
 * Every field inside Size that could not be derived is recorded in a->kdbg.underived.
 */
int
r2d_kdbg_rebuild(struct r2d_analysis *a, uint8_t *out, uint32_t *size_out)
{
    struct r2d_kdbg *k = &a->kdbg;
    struct kdbg_derived d;

    kdbg_derive(a, &d);
    memset(out, 0, R2D_KDBG_MAX_SIZE);
    k->nunderived = 0;
    for (size_t i = 0; i < r2d_kdbg_field_count; i++) {
        const struct r2d_kdbg_field *f = &r2d_kdbg_fields[i];
        uint64_t v;
        int ok;

        if (f->offset + f->width > d.size)
            continue;
        ok = kdbg_rebuild_field(a, &d, f, &v);
        if (ok && f->width < 8 && v >> (8 * f->width)) {
            r2d_log(a->ctx, R2D_LOG_WARN,
                    "KDBG rebuild: %s value 0x%" PRIx64 " does not fit %u bytes; left 0", f->name, v,
                    f->width);
            ok = 0;
            v = 0;
        }
        if (!ok) {
            r2d_log(a->ctx, R2D_LOG_DEBUG, "KDBG rebuild: %s (+0x%x) not derivable; left 0x%" PRIx64, f->name,
                    f->offset, v);
            if (k->nunderived < sizeof(k->underived) / sizeof(k->underived[0]))
                k->underived[k->nunderived++] = (uint16_t)i;
        }
        for (unsigned b = 0; b < f->width; b++)
            out[f->offset + b] = (uint8_t)(v >> (8 * b));
    }
    *size_out = d.size;
    return 0;
}

static int
kdbg_is_underived(const struct r2d_kdbg *k, size_t i)
{
    for (unsigned u = 0; u < k->nunderived; u++)
        if (k->underived[u] == i)
            return 1;
    return 0;
}

/*
 * Compare the image's block (made plain) with the rebuilt one over every field the rebuild derived from
 * symbols, types and other structures. Fields copied from the image (GDT selectors) and fields nobody can
 * derive are not compared. A rebuild made only for this comparison leaves a->kdbg.underived as it was: that
 * list describes the block the dump holds.
 */
int
r2d_kdbg_verify(struct r2d_analysis *a, struct r2d_kdbg_diff *diffs, size_t max, unsigned *compared)
{
    struct r2d_kdbg *k = &a->kdbg;
    const unsigned saved_underived = k->nunderived;
    uint8_t rebuilt[R2D_KDBG_MAX_SIZE];
    uint32_t size;
    size_t n = 0;
    int rc;

    *compared = 0;
    R2D_CHECK(k->from_image_size == 0, a->ctx, R2D_EVERIFY,
              "%s: the image's KDBG at 0x%" PRIx64 " cannot be verified: %s", r2d_image_path(a->img), k->va,
              k->why);
    if (k->mode == R2D_KDBG_REBUILT) {
        /* --rebuild-kdbg built it already, from the same symbols (k->underived is that rebuild's) */
        memcpy(rebuilt, k->bytes, k->size);
        size = k->size;
    } else if ((rc = r2d_kdbg_rebuild(a, rebuilt, &size)) != 0) {
        return rc;
    }
    for (size_t i = 0; i < r2d_kdbg_field_count && n < max; i++) {
        const struct r2d_kdbg_field *f = &r2d_kdbg_fields[i];
        uint64_t img, sym;

        if (f->kind == R2D_KF_UNKNOWN || f->kind == R2D_KF_IMAGE || kdbg_is_underived(k, i))
            continue;
        if (f->offset + f->width > size || f->offset + f->width > k->from_image_size)
            continue;
        (*compared)++;
        img = kdbg_field_value(k->from_image, f);
        sym = kdbg_field_value(rebuilt, f);
        if (img != sym)
            diffs[n++] = (struct r2d_kdbg_diff){f->name, f->offset, img, sym};
    }
    if (k->mode != R2D_KDBG_REBUILT)
        k->nunderived = saved_underived;
    return (int)n;
}
