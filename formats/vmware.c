/* SPDX-License-Identifier: MIT */
/*
 * VMware suspend and snapshot state (.vmss, .vmsn) as an input: the memory group's regions map guest-physical
 * pages to the .vmem beside the state file, or to the Memory block inside it; the cpu group gives each vCPU's
 * registers. Tag grammar in vmware_tags.c; facts and their sources in docs/formats/vmware.md.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmware.h"

#define VMW_MAX_REGIONS 1024u /* real files have 1 to 3 */
#define VMW_MAX_VCPUS 4096u   /* as many CPU states as an image holds */
#define VMW_MAX_PPN (1ull << 40) /* 52-bit physical addresses */
#define VMW_GPREGS_SIZE 128   /* gpregs block: 16 x u64 */
#define VMW_CR64_SIZE 72      /* CR64 block: CR0..CR8 as u64 */
#define VMW_IDTR_SIZE 10      /* IDTR block: u16 limit, u64 base */
#define VMW_NOTE_MAX 4096
#define VMW_FLAT_WARN 0xC0000000ull /* without regions, memory past 3 GiB meets the PCI hole */

/* What one tag name was seen doing, for --info. */
struct vmware_seen {
    const char *name;
    uint32_t count;
};

struct vmware_region {
    uint64_t ppn, page, pages;
    unsigned have; /* 1 regionPPN, 2 regionPageNum, 4 regionSize */
};

struct vmware_mem {
    struct vmware_file *f;
    int have_count;
    uint64_t count;
    struct vmware_region *regions;
    size_t nregions; /* allocated: highest index seen + 1 */
    const struct vmware_tag *block_tag;
    struct vmware_tag block; /* the Memory block, when block_tag is set */
    struct vmware_seen seen[6];
    uint32_t other;
};

enum {
    VCPU_GPR = 1u << 0,
    VCPU_RIP = 1u << 1,
    VCPU_CR = 1u << 2,
    VCPU_IDT = 1u << 3,
    VCPU_SEG = 1u << 4,
    VCPU_GSBASE = 1u << 5,
};

struct vmware_vcpu {
    struct r2d_cpu_state st;
    unsigned have;
};

struct vmware_cpus {
    struct vmware_file *f;
    struct vmware_vcpu *v;
    size_t n; /* allocated: highest index seen + 1 */
    int have_num;
    uint64_t num;
    struct vmware_seen seen[12];
    uint32_t other, odd_blocks;
};

static int
vmware_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why)
{
    unsigned width;
    uint32_t ngroups;

    if (len < VMW_HDR_SIZE || !r2d_vmware_magic(r2d_le32(head + VMW_OFF_MAGIC), &width, NULL))
        return R2D_PROBE_NO;
    ngroups = r2d_le32(head + VMW_OFF_NGROUPS);
    *why = "VMware checkpoint magic";
    if (ngroups == 0 || ngroups > VMW_MAX_GROUPS || VMW_HDR_SIZE + (uint64_t)ngroups * VMW_GROUP_SIZE > file_size)
        return R2D_PROBE_MAGIC;
    *why = "VMware checkpoint magic and a group table that fits the file";
    return R2D_PROBE_SURE;
}

static void
vmware_seen(struct vmware_seen *s, size_t n, const char *name)
{
    for (size_t i = 0; i < n && s[i].name; i++)
        if (strcmp(s[i].name, name) == 0) {
            s[i].count++;
            return;
        }
}

/* "regionPPN x2, Memory": the names seen, with their counts. */
static void
vmware_seen_text(const struct vmware_seen *s, size_t n, uint32_t other, char *buf, size_t len)
{
    size_t k = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && s[i].name && k < len; i++) {
        if (!s[i].count)
            continue;
        k += (size_t)snprintf(buf + k, len - k, "%s%s", k ? ", " : "", s[i].name);
        if (s[i].count > 1 && k < len)
            k += (size_t)snprintf(buf + k, len - k, " x%" PRIu32, s[i].count);
    }
    if (k < len)
        snprintf(buf + k, len - k, "%s%" PRIu32 " other tag%s not used", k ? "; " : "", other,
                 other == 1 ? "" : "s");
}

/* Grow a zero-filled table so that index i exists; max bounds it. */
static int
vmware_grow(struct r2d_ctx *ctx, const char *path, void **table, size_t *n, size_t elem, uint64_t i,
            uint64_t max, const char *what)
{
    void *p;

    if (i < *n)
        return 0;
    R2D_CHECK(i >= max, ctx, R2D_EFORMAT, "%s: %s index %" PRIu64 " (at most %" PRIu64 " are supported)", path,
              what, i, max);
    p = realloc(*table, (size_t)(i + 1) * elem);
    if (!p)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for %s", path, what);
    memset((uint8_t *)p + *n * elem, 0, (size_t)(i + 1 - *n) * elem);
    *table = p;
    *n = (size_t)i + 1;
    return 0;
}

/* --- the memory group --- */

static int
vmware_mem_region(struct r2d_ctx *ctx, struct vmware_mem *m, const struct vmware_tag *t, unsigned bit)
{
    char label[320];
    struct vmware_region *r;
    int rc;

    r2d_vmware_tag_label(t, label, sizeof(label));
    R2D_CHECK(t->nindx < 1 || t->kind != VMW_VALUE || t->len == 0 || t->len > 8, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": tag %s is not a region number (%u indices, 0x%" PRIx64 " bytes)",
              m->f->path, t->off, label, t->nindx, t->len);
    rc = vmware_grow(ctx, m->f->path, (void **)&m->regions, &m->nregions, sizeof(*m->regions), t->idx[0],
                     VMW_MAX_REGIONS, "memory region");
    if (rc)
        return rc;
    r = &m->regions[t->idx[0]];
    if (bit == 1)
        r->ppn = r2d_vmware_tag_u64(t);
    else if (bit == 2)
        r->page = r2d_vmware_tag_u64(t);
    else
        r->pages = r2d_vmware_tag_u64(t);
    r->have |= bit;
    return 0;
}

static int
vmware_mem_tag(struct r2d_ctx *ctx, void *arg, const struct vmware_tag *t)
{
    struct vmware_mem *m = arg;

    vmware_seen(m->seen, sizeof(m->seen) / sizeof(m->seen[0]), t->name);
    if (strcmp(t->name, "regionsCount") == 0 && t->kind == VMW_VALUE) {
        m->have_count = 1;
        m->count = r2d_vmware_tag_u64(t);
        return 0;
    }
    if (strcmp(t->name, "regionPPN") == 0)
        return vmware_mem_region(ctx, m, t, 1);
    if (strcmp(t->name, "regionPageNum") == 0)
        return vmware_mem_region(ctx, m, t, 2);
    if (strcmp(t->name, "regionSize") == 0)
        return vmware_mem_region(ctx, m, t, 4);
    if (strcmp(t->name, "Memory") == 0 && t->kind != VMW_VALUE) {
        R2D_CHECK(m->block_tag != NULL, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": a second Memory block (the first is at 0x%" PRIx64 ")", m->f->path,
                  t->off, m->block.off);
        m->block = *t;
        m->block_tag = &m->block;
        return 0;
    }
    if (strcmp(t->name, "align_mask") != 0)
        m->other++;
    return 0;
}

/* Each region present in full, none past regionsCount, no two sharing a physical or a file page. */
static int
vmware_mem_check(struct r2d_ctx *ctx, struct vmware_mem *m)
{
    const char *path = m->f->path;

    R2D_CHECK(m->count > VMW_MAX_REGIONS, ctx, R2D_EFORMAT, "%s: regionsCount %" PRIu64 " (at most %u supported)",
              path, m->count, VMW_MAX_REGIONS);
    R2D_CHECK(m->nregions > m->count, ctx, R2D_EFORMAT,
              "%s: memory group describes region %zu but regionsCount is %" PRIu64, path, m->nregions - 1,
              m->count);
    for (size_t i = 0; i < m->count; i++) {
        const struct vmware_region *r = i < m->nregions ? &m->regions[i] : NULL;

        R2D_CHECK(!r || r->have != 7, ctx, R2D_EFORMAT,
                  "%s: memory region %zu lacks %s (regionsCount is %" PRIu64 ")", path, i,
                  !r || !(r->have & 1) ? "regionPPN" : !(r->have & 2) ? "regionPageNum" : "regionSize", m->count);
        R2D_CHECK(r->pages == 0 || r->ppn >= VMW_MAX_PPN || r->pages > VMW_MAX_PPN - r->ppn ||
                      r->page >= VMW_MAX_PPN || r->pages > VMW_MAX_PPN - r->page,
                  ctx, R2D_EFORMAT,
                  "%s: memory region %zu: 0x%" PRIx64 " pages at guest page 0x%" PRIx64 ", file page 0x%" PRIx64
                  ": not a range of guest memory",
                  path, i, r->pages, r->ppn, r->page);
        for (size_t j = 0; j < i; j++) {
            const struct vmware_region *q = &m->regions[j];

            R2D_CHECK(r->ppn < q->ppn + q->pages && q->ppn < r->ppn + r->pages, ctx, R2D_EFORMAT,
                      "%s: memory regions %zu and %zu overlap: guest pages 0x%" PRIx64 "-0x%" PRIx64
                      " and 0x%" PRIx64 "-0x%" PRIx64,
                      path, j, i, q->ppn, q->ppn + q->pages - 1, r->ppn, r->ppn + r->pages - 1);
            R2D_CHECK(r->page < q->page + q->pages && q->page < r->page + r->pages, ctx, R2D_EFORMAT,
                      "%s: memory regions %zu and %zu share file pages 0x%" PRIx64 "-0x%" PRIx64
                      " and 0x%" PRIx64 "-0x%" PRIx64,
                      path, j, i, q->page, q->page + q->pages - 1, r->page, r->page + r->pages - 1);
        }
    }
    return 0;
}

/* --- finding the .vmem --- */

struct vmware_scan {
    const char *want;
    int found_want;
    size_t count;
    char first[256];
    char names[256];
};

static int
vmware_scan_one(void *arg, const char *name)
{
    struct vmware_scan *s = arg;
    const size_t k = strlen(s->names);

    if (strcmp(name, s->want) == 0)
        s->found_want = 1;
    if (s->count++ == 0)
        snprintf(s->first, sizeof(s->first), "%s", name);
    if (k < sizeof(s->names) - 1)
        snprintf(s->names + k, sizeof(s->names) - k, "%s%s", k ? ", " : "", name);
    return 0;
}

/*
 * The memory file: --vmem, else the state file's name with .vmem, else the only .vmem in its directory.
 * how receives which rule found it.
 */
static int
vmware_find_vmem(struct r2d_ctx *ctx, struct r2d_image *img, const struct r2d_bytesrc **out, char *how,
                 size_t howlen)
{
    const char *path = r2d_image_path(img), *hint = r2d_image_hint_companion(img);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path, *dot = strrchr(base, '.');
    char want[300];
    struct vmware_scan scan = {.want = want};
    int rc;

    if (hint) {
        snprintf(how, howlen, "named with --vmem");
        rc = r2d_image_open_file_companion(ctx, img, hint, out);
        return rc ? r2d_err_prefix(ctx, rc, "%s: memory file (--vmem)", path) : 0;
    }
    snprintf(want, sizeof(want), "%.*s.vmem", (int)(dot && dot != base ? (size_t)(dot - base) : strlen(base)),
             base);
    rc = r2d_bytesrc_list_companions(ctx, r2d_image_input(img), ".vmem", vmware_scan_one, &scan);
    if (rc || scan.found_want) {
        /* An unreadable directory still lets the same-name file be opened. */
        snprintf(how, howlen, "the state file's name with .vmem");
        rc = r2d_image_open_companion(ctx, img, want, out);
        return rc ? r2d_err_prefix(ctx, rc, "%s: memory file", path) : 0;
    }
    R2D_CHECK(scan.count == 0, ctx, R2D_ENOTFOUND,
              "%s: the guest memory is not in this state file and no .vmem is beside it (tried %s and every "
              "*.vmem in its directory); name the memory file with --vmem",
              path, want);
    R2D_CHECK(scan.count > 1, ctx, R2D_ENOTFOUND,
              "%s: the guest memory is not in this state file, %s does not exist and its directory holds %zu "
              ".vmem files (%s); name the right one with --vmem",
              path, want, scan.count, scan.names);
    snprintf(how, howlen, "the only .vmem beside the state file (%s does not exist)", want);
    r2d_log(ctx, R2D_LOG_WARN, "warning: %s: %s does not exist; using %s, the only .vmem beside it", path, want,
            scan.first);
    rc = r2d_image_open_companion(ctx, img, scan.first, out);
    return rc ? r2d_err_prefix(ctx, rc, "%s: memory file", path) : 0;
}

/* --- runs --- */

/*
 * The memory's bytes are src at [base, base + size): the Memory block or the .vmem. Regions map guest pages
 * to pages of it; without regions it is one flat run from address 0.
 */
static int
vmware_mem_runs(struct r2d_ctx *ctx, struct vmware_mem *m, const struct r2d_bytesrc *src, uint64_t base,
                uint64_t size)
{
    struct r2d_image *img = m->f->img;
    char key[48], v[256];
    int rc = 0;

    if (m->count == 0) {
        const struct r2d_image_props props = {.runs_include_padding = 1};

        r2d_image_set_props(img, &props);
        if (size > VMW_FLAT_WARN)
            r2d_log(ctx, R2D_LOG_WARN,
                    "warning: %s: no memory regions in the state file: %s is taken as flat guest memory from "
                    "address 0, which is a guess past the PCI hole (above 3 GiB)",
                    m->f->path, r2d_bytesrc_name(src));
        rc = r2d_image_add_note(ctx, img, "vmware.regions", "none: the memory is flat from guest address 0");
        return rc ? rc : r2d_image_add_slice_run(ctx, img, src, 0, size, base);
    }
    for (size_t i = 0; !rc && i < m->count; i++) {
        const struct vmware_region *r = &m->regions[i];
        const uint64_t pages = size >> R2D_PAGE_SHIFT;

        R2D_CHECK(r->page > pages || r->pages > pages - r->page, ctx, R2D_ETRUNC,
                  "%s: memory region %zu (file pages 0x%" PRIx64 "-0x%" PRIx64 ") lies past the end of %s "
                  "(0x%" PRIx64 " bytes of memory)",
                  m->f->path, i, r->page, r->page + r->pages - 1, r2d_bytesrc_name(src), size);
        snprintf(key, sizeof(key), "vmware.region.%zu", i);
        snprintf(v, sizeof(v),
                 "guest 0x%" PRIx64 "-0x%" PRIx64 " (regionPPN 0x%" PRIx64 ", regionSize 0x%" PRIx64
                 " pages) from page 0x%" PRIx64 " of the memory (regionPageNum)",
                 r->ppn << R2D_PAGE_SHIFT, ((r->ppn + r->pages) << R2D_PAGE_SHIFT) - 1, r->ppn, r->pages, r->page);
        rc = i < 64 ? r2d_image_add_note(ctx, img, key, v) : 0;
        if (!rc)
            rc = r2d_image_add_slice_run(ctx, img, src, r->ppn << R2D_PAGE_SHIFT, r->pages << R2D_PAGE_SHIFT,
                                         base + (r->page << R2D_PAGE_SHIFT));
    }
    return rc;
}

/* Where the memory is, and its runs. */
static int
vmware_memory(struct r2d_ctx *ctx, struct vmware_mem *m)
{
    struct r2d_image *img = m->f->img;
    const struct r2d_bytesrc *src;
    const struct vmware_tag *b = m->block_tag;
    char label[320], how[400], v[1024];
    int rc;

    if (b && b->len > 0) {
        r2d_vmware_tag_label(b, label, sizeof(label));
        R2D_CHECK(b->kind == VMW_BLOCK_COMPRESSED, ctx, R2D_EUNSUPPORTED,
                  "%s: offset 0x%" PRIx64 ": the guest memory (tag %s) is a compressed block: not supported",
                  m->f->path, b->off, label);
        R2D_CHECK(r2d_image_hint_companion(img) != NULL, ctx, R2D_EINVAL,
                  "%s: offset 0x%" PRIx64 ": the guest memory is inside this state file (tag %s): "
                  "--vmem %s does not apply",
                  m->f->path, b->off, label, r2d_image_hint_companion(img));
        snprintf(v, sizeof(v), "embedded: tag %s, 0x%" PRIx64 " bytes at offset 0x%" PRIx64, label, b->len,
                 b->data_off);
        rc = r2d_image_add_note(ctx, img, "vmware.memory", v);
        return rc ? rc : vmware_mem_runs(ctx, m, r2d_image_input(img), b->data_off, b->len);
    }
    rc = vmware_find_vmem(ctx, img, &src, how, sizeof(how));
    if (rc)
        return rc;
    snprintf(v, sizeof(v), "%s (0x%" PRIx64 " bytes): %s", r2d_bytesrc_name(src), r2d_bytesrc_size(src), how);
    rc = r2d_image_add_note(ctx, img, "vmware.memory", v);
    return rc ? rc : vmware_mem_runs(ctx, m, src, 0, r2d_bytesrc_size(src) & ~(uint64_t)(R2D_PAGE_SIZE - 1));
}

static int
vmware_memory_group(struct r2d_ctx *ctx, struct vmware_file *f)
{
    struct vmware_group *g = r2d_vmware_group(f, "memory");
    struct vmware_mem m = {.f = f,
                           .seen = {{"regionsCount", 0}, {"regionPPN", 0}, {"regionPageNum", 0},
                                    {"regionSize", 0}, {"Memory", 0}, {"align_mask", 0}}};
    char v[VMW_NOTE_MAX];
    int rc;

    R2D_CHECK(!g, ctx, R2D_EFORMAT, "%s: no group named memory in the group table", f->path);
    rc = r2d_vmware_walk(ctx, f, g, vmware_mem_tag, &m);
    if (!rc)
        rc = vmware_mem_check(ctx, &m);
    if (!rc) {
        vmware_seen_text(m.seen, sizeof(m.seen) / sizeof(m.seen[0]), m.other, v, sizeof(v));
        rc = r2d_image_add_note(ctx, f->img, "vmware.memory.tags", v);
    }
    if (!rc)
        rc = vmware_memory(ctx, &m);
    free(m.regions);
    return rc;
}

/* --- the cpu group --- */

static const struct {
    const char *name;
    size_t off;
} vmware_gpr_names[] = {
    {"rax", offsetof(struct r2d_cpu_state, rax)}, {"rcx", offsetof(struct r2d_cpu_state, rcx)},
    {"rdx", offsetof(struct r2d_cpu_state, rdx)}, {"rbx", offsetof(struct r2d_cpu_state, rbx)},
    {"rsp", offsetof(struct r2d_cpu_state, rsp)}, {"rbp", offsetof(struct r2d_cpu_state, rbp)},
    {"rsi", offsetof(struct r2d_cpu_state, rsi)}, {"rdi", offsetof(struct r2d_cpu_state, rdi)},
    {"r8", offsetof(struct r2d_cpu_state, r8)},   {"r9", offsetof(struct r2d_cpu_state, r9)},
    {"r10", offsetof(struct r2d_cpu_state, r10)}, {"r11", offsetof(struct r2d_cpu_state, r11)},
    {"r12", offsetof(struct r2d_cpu_state, r12)}, {"r13", offsetof(struct r2d_cpu_state, r13)},
    {"r14", offsetof(struct r2d_cpu_state, r14)}, {"r15", offsetof(struct r2d_cpu_state, r15)},
};

/* The gpregs block's order (crash's vmware_vmss.h, vmssregs64): RBP comes before RSP. */
static const size_t vmware_gpregs_order[16] = {
    offsetof(struct r2d_cpu_state, rax), offsetof(struct r2d_cpu_state, rcx), offsetof(struct r2d_cpu_state, rdx),
    offsetof(struct r2d_cpu_state, rbx), offsetof(struct r2d_cpu_state, rbp), offsetof(struct r2d_cpu_state, rsp),
    offsetof(struct r2d_cpu_state, rsi), offsetof(struct r2d_cpu_state, rdi), offsetof(struct r2d_cpu_state, r8),
    offsetof(struct r2d_cpu_state, r9),  offsetof(struct r2d_cpu_state, r10), offsetof(struct r2d_cpu_state, r11),
    offsetof(struct r2d_cpu_state, r12), offsetof(struct r2d_cpu_state, r13), offsetof(struct r2d_cpu_state, r14),
    offsetof(struct r2d_cpu_state, r15),
};

static uint64_t *
vmware_reg(struct r2d_cpu_state *st, size_t off)
{
    return (uint64_t *)(void *)((uint8_t *)st + off);
}

/* Segment index as VMware numbers them (crash's SegmentName): ES CS SS DS FS GS LDTR TR. */
static struct r2d_segment *
vmware_seg(struct r2d_cpu_state *st, uint32_t i)
{
    struct r2d_segment *const segs[8] = {&st->es, &st->cs, &st->ss, &st->ds, &st->fs, &st->gs, &st->ldt, &st->tr};

    return i < 8 ? segs[i] : NULL;
}

static void
vmware_set_cr(struct vmware_vcpu *c, uint32_t n, uint64_t v)
{
    if (n == 0)
        c->st.cr0 = v;
    else if (n == 2)
        c->st.cr2 = v;
    else if (n == 3)
        c->st.cr3 = v;
    else if (n == 4)
        c->st.cr4 = v;
    else
        return; /* CR1 does not exist, CR8 is not part of the state we keep */
    c->have |= VCPU_CR;
}

/* A register block: gpregs, CR64 or IDTR, of the size the sources give; anything else is skipped. */
static int
vmware_cpu_block(struct r2d_ctx *ctx, struct vmware_cpus *c, struct vmware_vcpu *v, const struct vmware_tag *t)
{
    uint8_t b[VMW_GPREGS_SIZE];
    const size_t want = strcmp(t->name, "gpregs") == 0  ? VMW_GPREGS_SIZE
                        : strcmp(t->name, "CR64") == 0  ? VMW_CR64_SIZE
                        : strcmp(t->name, "IDTR") == 0 ? VMW_IDTR_SIZE
                                                        : 0;
    int rc;

    if (want == 0 || t->kind != VMW_BLOCK || t->len != want) {
        c->odd_blocks += want != 0;
        c->other += want == 0;
        return 0;
    }
    rc = r2d_image_pread(ctx, c->f->img, t->data_off, b, want, "register block");
    if (rc)
        return rc;
    if (want == VMW_GPREGS_SIZE) {
        for (size_t i = 0; i < 16; i++)
            *vmware_reg(&v->st, vmware_gpregs_order[i]) = r2d_le64(b + 8 * i);
        v->have |= VCPU_GPR;
    } else if (want == VMW_CR64_SIZE) {
        for (uint32_t i = 0; i < 5; i++)
            vmware_set_cr(v, i, r2d_le64(b + 8 * i));
    } else {
        v->st.idt.limit = r2d_le16(b);
        v->st.idt.base = r2d_le64(b + 2);
        v->have |= VCPU_IDT;
    }
    return 0;
}

/* A register given as a value: by name, or a control, IDTR or segment register by its second index. */
static void
vmware_cpu_value(struct vmware_cpus *c, struct vmware_vcpu *v, const struct vmware_tag *t)
{
    const uint64_t x = r2d_vmware_tag_u64(t);
    const uint32_t i1 = t->nindx >= 2 ? t->idx[1] : UINT32_MAX;
    struct r2d_segment *s = vmware_seg(&v->st, i1);

    for (size_t i = 0; i < sizeof(vmware_gpr_names) / sizeof(vmware_gpr_names[0]); i++)
        if (strcmp(t->name, vmware_gpr_names[i].name) == 0) {
            *vmware_reg(&v->st, vmware_gpr_names[i].off) = x;
            v->have |= VCPU_GPR;
            return;
        }
    if (strcmp(t->name, "rip") == 0) {
        v->st.rip = x;
        v->have |= VCPU_RIP;
    } else if (strcmp(t->name, "eflags") == 0 || strcmp(t->name, "EFLAGS") == 0) {
        v->st.rflags |= x & 0xFFFFFFFFu;
    } else if ((strcmp(t->name, "CR64") == 0 || strcmp(t->name, "CR") == 0) && i1 != UINT32_MAX) {
        vmware_set_cr(v, i1, x);
    } else if (strcmp(t->name, "IDTR") == 0 && (i1 == 1 || i1 == 2)) {
        /* The base in two 32-bit halves: index 1 low, index 2 high. */
        v->st.idt.base = i1 == 1 ? (v->st.idt.base & ~0xFFFFFFFFull) | (x & 0xFFFFFFFFu)
                                 : (v->st.idt.base & 0xFFFFFFFFu) | x << 32;
        v->have |= VCPU_IDT;
    } else if (strcmp(t->name, "S") == 0 && s) {
        s->selector = (uint32_t)x;
        v->have |= VCPU_SEG;
    } else if (strcmp(t->name, "S.base64") == 0 && s) {
        s->base = x;
        v->have |= i1 == 5 ? VCPU_GSBASE : 0;
    } else {
        c->other++;
    }
}

static int
vmware_cpu_tag(struct r2d_ctx *ctx, void *arg, const struct vmware_tag *t)
{
    struct vmware_cpus *c = arg;
    int rc;

    vmware_seen(c->seen, sizeof(c->seen) / sizeof(c->seen[0]), t->name);
    if (strcmp(t->name, "cpu:numVCPUs") == 0 && t->kind == VMW_VALUE) {
        c->have_num = 1;
        c->num = r2d_vmware_tag_u64(t);
        R2D_CHECK(c->num > VMW_MAX_VCPUS, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": cpu:numVCPUs is %" PRIu64 " (at most %u supported)", c->f->path, t->off,
                  c->num, VMW_MAX_VCPUS);
        return 0;
    }
    if (t->nindx == 0) {
        c->other++;
        return 0;
    }
    rc = vmware_grow(ctx, c->f->path, (void **)&c->v, &c->n, sizeof(*c->v), t->idx[0], VMW_MAX_VCPUS, "vCPU");
    if (rc)
        return rc;
    if (t->kind != VMW_VALUE)
        return vmware_cpu_block(ctx, c, &c->v[t->idx[0]], t);
    vmware_cpu_value(c, &c->v[t->idx[0]], t);
    return 0;
}

/* One vCPU as the image keeps it, and its note. */
static int
vmware_add_vcpu(struct r2d_ctx *ctx, struct vmware_file *f, size_t i, struct vmware_vcpu *v)
{
    const uint64_t high = v->st.rip | v->st.rsp | v->st.gs.base;
    char key[48], val[320];
    int rc;

    /*
     * No EFER in any source: a paging, PAE-enabled CPU holding a register above 4 GiB cannot be a 32-bit one,
     * which is as far as "long mode" can be told here.
     */
    if ((v->st.cr0 >> 31 & 1) && (v->st.cr4 >> 5 & 1) && (high >> 32))
        v->st.flags |= R2D_CPU_LONG_MODE;
    snprintf(key, sizeof(key), "vmware.vcpu.%zu", i);
    snprintf(val, sizeof(val),
             "CR3 0x%" PRIx64 ", RIP 0x%" PRIx64 ", RSP 0x%" PRIx64 ", GS base %s0x%" PRIx64 ", IDT base 0x%" PRIx64
             ", CS 0x%" PRIx32 "%s",
             v->st.cr3, v->st.rip, v->st.rsp, v->have & VCPU_GSBASE ? "" : "(not recorded) ", v->st.gs.base,
             v->st.idt.base, v->st.cs.selector, v->st.flags & R2D_CPU_LONG_MODE ? ", long mode" : "");
    rc = i < 64 ? r2d_image_add_note(ctx, f->img, key, val) : 0;
    return rc ? rc : r2d_image_add_cpu(ctx, f->img, &v->st);
}

static int
vmware_cpus_add(struct r2d_ctx *ctx, struct vmware_cpus *c)
{
    struct vmware_file *f = c->f;
    size_t added = 0;
    char v[VMW_NOTE_MAX];
    int rc = 0;

    R2D_CHECK(c->have_num && c->n > c->num, ctx, R2D_EFORMAT,
              "%s: the cpu group holds registers of vCPU %zu but cpu:numVCPUs is %" PRIu64, f->path, c->n - 1,
              c->num);
    for (size_t i = 0; !rc && i < c->n; i++)
        if (c->v[i].have & (VCPU_GPR | VCPU_CR)) {
            rc = vmware_add_vcpu(ctx, f, i, &c->v[i]);
            added++;
        }
    if (rc)
        return rc;
    vmware_seen_text(c->seen, sizeof(c->seen) / sizeof(c->seen[0]), c->other, v, sizeof(v));
    if (c->odd_blocks)
        snprintf(v + strlen(v), sizeof(v) - strlen(v), "; %" PRIu32 " register block%s of an unknown size skipped",
                 c->odd_blocks, c->odd_blocks == 1 ? "" : "s");
    rc = r2d_image_add_note(ctx, f->img, "vmware.cpu.tags", v);
    snprintf(v, sizeof(v), "%zu with registers; cpu:numVCPUs %s%" PRIu64, added, c->have_num ? "" : "absent, ",
             c->have_num ? c->num : (uint64_t)c->n);
    if (!rc)
        rc = r2d_image_add_note(ctx, f->img, "vmware.vcpus", v);
    if (!rc && added == 0)
        r2d_log(ctx, R2D_LOG_WARN, "warning: %s: no vCPU registers in the state file: the page tables and the "
                "kernel are searched for without them", f->path);
    return rc;
}

static int
vmware_cpu_group(struct r2d_ctx *ctx, struct vmware_file *f)
{
    struct vmware_group *g = r2d_vmware_group(f, "cpu");
    struct vmware_cpus c = {.f = f,
                            .seen = {{"cpu:numVCPUs", 0}, {"gpregs", 0}, {"rax", 0}, {"rsp", 0}, {"rip", 0},
                                     {"eflags", 0}, {"CR64", 0}, {"CR", 0}, {"IDTR", 0}, {"S", 0},
                                     {"S.base64", 0}, {"EFLAGS", 0}}};
    int rc;

    if (!g)
        return r2d_image_add_note(ctx, f->img, "vmware.vcpus", "no cpu group: no registers");
    rc = r2d_vmware_walk(ctx, f, g, vmware_cpu_tag, &c);
    if (!rc)
        rc = vmware_cpus_add(ctx, &c);
    free(c.v);
    return rc;
}

/* --- the format --- */

static int
vmware_notes(struct r2d_ctx *ctx, const struct vmware_file *f)
{
    char v[VMW_NOTE_MAX];
    size_t k;
    int rc;

    snprintf(v, sizeof(v),
             "magic 0x%08" PRIx32 " (%s), version field 0x%" PRIx32 ", %" PRIu32 " groups, block sizes %u-bit",
             f->magic, f->magic_what, f->version, f->ngroups, f->size_width * 8);
    rc = r2d_image_add_note(ctx, f->img, "vmware.header", v);
    k = 0;
    v[0] = '\0';
    for (uint32_t i = 0; i < f->ngroups && k < sizeof(v); i++) {
        const struct vmware_group *g = &f->groups[i];

        k += (size_t)snprintf(v + k, sizeof(v) - k, "%s%s at 0x%" PRIx64 " (0x%" PRIx64 " bytes", k ? "; " : "",
                              g->name, g->off, g->size);
        if (k < sizeof(v))
            k += (size_t)(g->ntags ? snprintf(v + k, sizeof(v) - k, ", %" PRIu32 " tags read)", g->ntags)
                                   : snprintf(v + k, sizeof(v) - k, ")"));
    }
    return rc ? rc : r2d_image_add_note(ctx, f->img, "vmware.groups", v);
}

static int
vmware_open(struct r2d_ctx *ctx, struct r2d_image *img)
{
    struct vmware_file f;
    int rc = r2d_vmware_file_open(ctx, img, &f);

    if (!rc)
        rc = vmware_cpu_group(ctx, &f);
    if (!rc)
        rc = vmware_memory_group(ctx, &f);
    if (!rc)
        rc = vmware_notes(ctx, &f);
    r2d_vmware_file_free(&f);
    return rc;
}

const struct r2d_format r2d_format_vmware = {
    .name = "vmware",
    .summary = "VMware suspend/snapshot state (.vmss, .vmsn) with its .vmem or embedded memory",
    .probe_bytes = VMW_HDR_SIZE,
    .probe = vmware_probe,
    .open = vmware_open,
};
