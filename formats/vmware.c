/* SPDX-License-Identifier: MIT */
/*
 * VMware suspend and snapshot state (.vmss, .vmsn) as an input: the memory group's regions map guest-physical
 * pages to the .vmem beside the state file, or to the Memory block inside it. The cpu group is read by
 * vmware_cpu.c, the tag grammar by vmware_tags.c; facts and their sources in docs/formats/vmware.md.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmware.h"

#define VMW_MAX_REGIONS 1024u       /* real files have 1 to 3 */
#define VMW_MAX_PPN (1ull << 40)    /* 52-bit physical addresses */
#define VMW_FLAT_WARN 0xC0000000ull /* without regions, memory past 3 GiB meets the PCI hole */

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

static int
vmware_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why)
{
    unsigned width;
    uint32_t ngroups;

    if (len < VMW_HDR_SIZE || !r2d_vmware_magic(r2d_le32(head + VMW_OFF_MAGIC), &width, NULL))
        return R2D_PROBE_NO;
    ngroups = r2d_le32(head + VMW_OFF_NGROUPS);
    *why = "VMware checkpoint magic";
    if (ngroups == 0 || ngroups > VMW_MAX_GROUPS ||
        VMW_HDR_SIZE + (uint64_t)ngroups * VMW_GROUP_SIZE > file_size)
        return R2D_PROBE_MAGIC;
    *why = "VMware checkpoint magic and a group table that fits the file";
    return R2D_PROBE_SURE;
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
    rc = r2d_vmware_grow(ctx, m->f->path, (void **)&m->regions, &m->nregions, sizeof(*m->regions), t->idx[0],
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

    r2d_vmware_seen(m->seen, sizeof(m->seen) / sizeof(m->seen[0]), t->name);
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
                  "%s: offset 0x%" PRIx64 ": a second Memory block (the first is at 0x%" PRIx64 ")",
                  m->f->path, t->off, m->block.off);
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

    R2D_CHECK(m->count > VMW_MAX_REGIONS, ctx, R2D_EFORMAT,
              "%s: regionsCount %" PRIu64 " (at most %u supported)", path, m->count, VMW_MAX_REGIONS);
    R2D_CHECK(m->nregions > m->count, ctx, R2D_EFORMAT,
              "%s: memory group describes region %zu but regionsCount is %" PRIu64, path, m->nregions - 1,
              m->count);
    for (size_t i = 0; i < m->count; i++) {
        const struct vmware_region *r = i < m->nregions ? &m->regions[i] : NULL;

        R2D_CHECK(!r || r->have != 7, ctx, R2D_EFORMAT,
                  "%s: memory region %zu lacks %s (regionsCount is %" PRIu64 ")", path, i,
                  !r || !(r->have & 1) ? "regionPPN"
                  : !(r->have & 2)     ? "regionPageNum"
                                       : "regionSize",
                  m->count);
        R2D_CHECK(r->pages == 0 || r->ppn >= VMW_MAX_PPN || r->pages > VMW_MAX_PPN - r->ppn ||
                      r->page >= VMW_MAX_PPN || r->pages > VMW_MAX_PPN - r->page,
                  ctx, R2D_EFORMAT,
                  "%s: memory region %zu: 0x%" PRIx64 " pages at guest page 0x%" PRIx64
                  ", file page 0x%" PRIx64 ": not a range of guest memory",
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
    r2d_log(ctx, R2D_LOG_WARN, "%s: %s does not exist; using %s, the only .vmem beside it", path,
            want, scan.first);
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
                    "%s: no memory regions in the state file: %s is taken as flat guest memory from "
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
                 r->ppn << R2D_PAGE_SHIFT, ((r->ppn + r->pages) << R2D_PAGE_SHIFT) - 1, r->ppn, r->pages,
                 r->page);
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
                           .seen = {{"regionsCount", 0},
                                    {"regionPPN", 0},
                                    {"regionPageNum", 0},
                                    {"regionSize", 0},
                                    {"Memory", 0},
                                    {"align_mask", 0}}};
    char v[VMW_NOTE_MAX];
    int rc;

    R2D_CHECK(!g, ctx, R2D_EFORMAT, "%s: no group named memory in the group table", f->path);
    rc = r2d_vmware_walk(ctx, f, g, vmware_mem_tag, &m);
    if (!rc)
        rc = vmware_mem_check(ctx, &m);
    if (!rc) {
        r2d_vmware_seen_text(m.seen, sizeof(m.seen) / sizeof(m.seen[0]), m.other, v, sizeof(v));
        rc = r2d_image_add_note(ctx, f->img, "vmware.memory.tags", v);
    }
    if (!rc)
        rc = vmware_memory(ctx, &m);
    free(m.regions);
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
             "magic 0x%08" PRIx32 " (%s), version field 0x%" PRIx32 ", %" PRIu32
             " groups, block sizes %u-bit",
             f->magic, f->magic_what, f->version, f->ngroups, f->size_width * 8);
    rc = r2d_image_add_note(ctx, f->img, "vmware.header", v);
    k = 0;
    v[0] = '\0';
    for (uint32_t i = 0; i < f->ngroups && k < sizeof(v); i++) {
        const struct vmware_group *g = &f->groups[i];

        k += (size_t)snprintf(v + k, sizeof(v) - k, "%s%s at 0x%" PRIx64 " (0x%" PRIx64 " bytes",
                              k ? "; " : "", g->name, g->off, g->size);
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
        rc = r2d_vmware_cpu_group(ctx, &f);
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
