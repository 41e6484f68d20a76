/* SPDX-License-Identifier: MIT */
/*
 * The QEMU migration stream: header, CONFIGURATION, sections with footers, the "ram" section's page records,
 * device sections skipped (and "cpu" decoded) with the sizes the trailing VMDESCRIPTION JSON gives.
 * Facts: docs/formats/savevm.md F1-F3; QEMU 7.2 migration/savevm.c (section types, configuration,
 * footers, VMDESCRIPTION), migration/ram.c (RAM_SAVE_FLAG_*, ram_load_precopy), migration/vmstate.c (field
 * descriptions), target/i386/machine.c (vmstate_x86_cpu), hw/i386/pc_piix.c and pc_q35.c (RAM split); all
 * checked against real QEMU 7.2 streams. docs/formats/savevm.md.
 *
 * Longer than our usual 600 lines on purpose: the stream is one state machine (section headers, footers,
 * the RAM records and the CPU state all advance one cursor over a buffer), and splitting it would pass that
 * state between files; the page index (savevm_pages.c) and VMDESCRIPTION (savevm_vmdesc.c) are apart.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "savevm_stream.h"

#define SAVEVM_VERSION 3
/* Section types (migration/savevm.c QEMU_VM_*). */
#define SAVEVM_EOF 0x00
#define SAVEVM_SECTION_START 0x01
#define SAVEVM_SECTION_PART 0x02
#define SAVEVM_SECTION_END 0x03
#define SAVEVM_SECTION_FULL 0x04
#define SAVEVM_SUBSECTION 0x05
#define SAVEVM_VMDESCRIPTION 0x06
#define SAVEVM_CONFIGURATION 0x07
#define SAVEVM_COMMAND 0x08
#define SAVEVM_SECTION_FOOTER 0x7E
/* RAM record flags, in the bits below the page size (migration/ram.c RAM_SAVE_FLAG_*). */
#define SAVEVM_RAM_FULL 0x01 /* obsolete */
#define SAVEVM_RAM_ZERO 0x02 /* one fill byte follows ("compress" in older QEMU) */
#define SAVEVM_RAM_MEM_SIZE 0x04
#define SAVEVM_RAM_PAGE 0x08
#define SAVEVM_RAM_EOS 0x10
#define SAVEVM_RAM_CONTINUE 0x20
#define SAVEVM_RAM_XBZRLE 0x40
#define SAVEVM_RAM_HOOK 0x80
#define SAVEVM_RAM_COMPRESS_PAGE 0x100
#define SAVEVM_RAM_MULTIFD_FLUSH 0x200
#define SAVEVM_PAGE 4096u
#define SAVEVM_PAGE_MASK ((uint64_t)SAVEVM_PAGE - 1)
#define SAVEVM_GUEST_RAM "pc.ram"
#define SAVEVM_READ_BUF (1u << 20)
#define SAVEVM_MAX_BLOCKS 4096

/* One RAMBlock from the MEM_SIZE record. */
struct savevm_stream_block {
    char id[256];
    uint64_t length;
};

struct savevm_stream {
    struct r2d_image *img;
    const struct r2d_bytesrc *in;
    const char *path;
    uint64_t size, base;
    uint8_t *buf;
    uint64_t buf_off;
    size_t buf_len;
    uint64_t pos;
    char machine[256];
    uint64_t machine_off; /* where the machine type name is, for messages */
    json_t *vmdesc;
    uint64_t vmdesc_off; /* offset of the VMDESCRIPTION byte, or 0 */
    size_t dev_cursor;   /* next device description to look at */
    struct savevm_stream_block *blocks;
    size_t nblocks;
    int ram_block; /* index of pc.ram in blocks, or -1 */
    int cur_block; /* block of the last page record (for CONTINUE) */
    uint32_t ram_section;
    int ram_started, ram_done;
    struct r2d_savevm_pages pages;
    unsigned cpus;                /* cpu sections seen */
    struct r2d_cpu_state *staged; /* decoded CPUs, added once the device walk ended consistently */
    size_t nstaged, cap_staged;
    char cpu_why[320];
};

/* --- buffered reading --- */

static int
savevm_stream_fill(struct r2d_ctx *ctx, struct savevm_stream *s, size_t need, const char *what)
{
    size_t want;
    int rc;

    if (s->pos >= s->buf_off && s->pos - s->buf_off <= s->buf_len &&
        need <= s->buf_len - (s->pos - s->buf_off))
        return 0;
    R2D_CHECK(s->pos > s->size || need > s->size - s->pos, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": %s of 0x%zx bytes runs past end of file (size 0x%" PRIx64
              "): the stream was cut short",
              s->path, s->pos, what, need, s->size);
    want = s->size - s->pos < SAVEVM_READ_BUF ? (size_t)(s->size - s->pos) : SAVEVM_READ_BUF;
    if (want < need)
        want = need;
    rc = r2d_bytesrc_read(ctx, s->in, s->pos, s->buf, want, what);
    if (rc)
        return rc;
    s->buf_off = s->pos;
    s->buf_len = want;
    return 0;
}

/* A pointer to the next n (<= SAVEVM_READ_BUF) bytes; advances. */
static int
savevm_stream_take(struct r2d_ctx *ctx, struct savevm_stream *s, size_t n, const char *what,
                   const uint8_t **out)
{
    int rc = savevm_stream_fill(ctx, s, n, what);

    if (rc)
        return rc;
    *out = s->buf + (s->pos - s->buf_off);
    s->pos += n;
    return 0;
}

static int
savevm_stream_u8(struct r2d_ctx *ctx, struct savevm_stream *s, const char *what, uint8_t *v)
{
    const uint8_t *p;
    int rc = savevm_stream_take(ctx, s, 1, what, &p);

    if (!rc)
        *v = p[0];
    return rc;
}

static int
savevm_stream_be32(struct r2d_ctx *ctx, struct savevm_stream *s, const char *what, uint32_t *v)
{
    const uint8_t *p;
    int rc = savevm_stream_take(ctx, s, 4, what, &p);

    if (!rc)
        *v = r2d_be32(p);
    return rc;
}

static int
savevm_stream_be64(struct r2d_ctx *ctx, struct savevm_stream *s, const char *what, uint64_t *v)
{
    const uint8_t *p;
    int rc = savevm_stream_take(ctx, s, 8, what, &p);

    if (!rc)
        *v = r2d_be64(p);
    return rc;
}

/* A string of u8 length + bytes into out (256 bytes, NUL-terminated). */
static int
savevm_stream_idstr(struct r2d_ctx *ctx, struct savevm_stream *s, const char *what, char *out)
{
    const uint8_t *p;
    uint8_t len;
    int rc = savevm_stream_u8(ctx, s, what, &len);

    if (!rc)
        rc = savevm_stream_take(ctx, s, len, what, &p);
    if (rc)
        return rc;
    memcpy(out, p, len);
    out[len] = 0;
    return 0;
}

static int
savevm_stream_skip(struct r2d_ctx *ctx, struct savevm_stream *s, uint64_t n, const char *what)
{
    R2D_CHECK(s->pos > s->size || n > s->size - s->pos, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": %s of 0x%" PRIx64 " bytes runs past end of file (size 0x%" PRIx64
              "): the stream was cut short",
              s->path, s->pos, what, n, s->size);
    s->pos += n;
    return 0;
}

/* --- probe helpers --- */

int
r2d_savevm_stream_probe(const uint8_t *head, size_t len)
{
    if (len < R2D_SAVEVM_MAGIC_LEN || memcmp(head, R2D_SAVEVM_MAGIC, R2D_SAVEVM_MAGIC_LEN) != 0)
        return 0;
    return len >= 8 && r2d_be32(head + 4) == SAVEVM_VERSION ? 2 : 1;
}

const char *
r2d_savevm_compressor(const uint8_t *head, size_t len)
{
    if (len >= 2 && head[0] == 0x1F && head[1] == 0x8B)
        return "gzip";
    if (len >= 6 && memcmp(head,
                           "\xFD"
                           "7zXZ\0",
                           6) == 0)
        return "xz";
    if (len >= 4 && memcmp(head, "BZh", 3) == 0 && head[3] >= '1' && head[3] <= '9')
        return "bzip2";
    if (len >= 9 && memcmp(head, "\x89LZO\0\r\n\x1A\n", 9) == 0)
        return "lzop";
    if (len >= 4 && r2d_le32(head) == 0xFD2FB528u)
        return "zstd";
    return NULL;
}

/* --- CONFIGURATION --- */

static int
savevm_stream_configuration(struct r2d_ctx *ctx, struct savevm_stream *s)
{
    const uint64_t at = s->pos;
    const uint8_t *p;
    uint32_t len;
    int rc = savevm_stream_be32(ctx, s, "configuration", &len);

    if (rc)
        return rc;
    R2D_CHECK(len == 0 || len >= sizeof(s->machine), ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": machine type name of %" PRIu32 " bytes is not plausible", s->path,
              at, len);
    rc = savevm_stream_take(ctx, s, len, "machine type", &p);
    if (rc)
        return rc;
    memcpy(s->machine, p, len);
    s->machine_off = s->pos - len;
    s->machine[len] = 0;
    /* Subsections: target-page-bits, capabilities, uuid (QEMU 7.2 vmstate_configuration). */
    for (;;) {
        const uint64_t sub_at = s->pos;
        char name[256];
        uint32_t version, n;

        rc = savevm_stream_fill(ctx, s, 1, "section type");
        if (rc)
            return rc;
        if (s->buf[s->pos - s->buf_off] != SAVEVM_SUBSECTION)
            return 0;
        s->pos++;
        rc = savevm_stream_idstr(ctx, s, "configuration subsection name", name);
        if (!rc)
            rc = savevm_stream_be32(ctx, s, "configuration subsection version", &version);
        if (rc)
            return rc;
        if (strcmp(name, "configuration/target-page-bits") == 0) {
            rc = savevm_stream_be32(ctx, s, "target page bits", &n);
            R2D_CHECK(!rc && n != 12, ctx, R2D_EUNSUPPORTED,
                      "%s: offset 0x%" PRIx64 ": target page bits %" PRIu32
                      ", only 4 KiB pages (12) are handled",
                      s->path, sub_at, n);
        } else if (strcmp(name, "configuration/capabilities") == 0) {
            rc = savevm_stream_be32(ctx, s, "capability count", &n);
            for (uint32_t i = 0; !rc && i < n; i++) {
                rc = savevm_stream_idstr(ctx, s, "capability", name);
                R2D_CHECK(!rc && (strcmp(name, "x-ignore-shared") == 0 || strcmp(name, "mapped-ram") == 0),
                          ctx, R2D_EUNSUPPORTED,
                          "%s: offset 0x%" PRIx64
                          ": migration capability '%s' changes where RAM is in the stream; "
                          "not supported",
                          s->path, sub_at, name);
            }
        } else if (strcmp(name, "configuration/uuid") == 0) {
            rc = savevm_stream_skip(ctx, s, 16, "VM UUID");
        } else {
            return r2d_err(ctx, R2D_EUNSUPPORTED,
                           "%s: offset 0x%" PRIx64 ": unknown configuration subsection '%s' (version %" PRIu32
                           ")",
                           s->path, sub_at, name, version);
        }
        if (rc)
            return rc;
    }
}

/* A "cpu" section: decoded through its description and staged until the device walk is known to be sound. */
static int
savevm_stream_cpu(struct r2d_ctx *ctx, struct savevm_stream *s, const json_t *desc, const uint8_t *body)
{
    struct r2d_cpu_state cpu;
    const char *missing = r2d_savevm_vmdesc_cpu(desc, body, &cpu);

    s->cpus++;
    if (missing) {
        snprintf(s->cpu_why, sizeof(s->cpu_why), "not decoded: field %s missing or of another size", missing);
        return 0;
    }
    if (r2d_grow(ctx, &s->staged, &s->cap_staged, s->nstaged + 1, sizeof(*s->staged), "CPU states"))
        return r2d_err_prefix(ctx, R2D_ENOMEM, "%s", s->path);
    s->staged[s->nstaged++] = cpu;
    return 0;
}

/* A non-iterable device section: skipped by its described size, decoded when it is a CPU. */
static int
savevm_stream_device(struct r2d_ctx *ctx, struct savevm_stream *s, const char *idstr, uint32_t instance,
                     uint64_t at)
{
    const json_t *desc = r2d_savevm_vmdesc_device(s->vmdesc, &s->dev_cursor, idstr, instance);
    const uint64_t size = desc ? r2d_savevm_vmdesc_size(desc) : UINT64_MAX;
    const uint8_t *body;
    int rc;

    R2D_CHECK(!desc, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": device section '%s' instance %" PRIu32
              " is not in the stream description (VMDESCRIPTION)",
              s->path, at, idstr, instance);
    R2D_CHECK(size == UINT64_MAX || size > s->size - s->pos, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": the stream description of device section '%s' gives no usable size",
              s->path, at, idstr);
    if (strcmp(idstr, "cpu") == 0 && size <= SAVEVM_READ_BUF) {
        rc = savevm_stream_take(ctx, s, (size_t)size, "CPU section", &body);
        return rc ? rc : savevm_stream_cpu(ctx, s, desc, body);
    }
    return savevm_stream_skip(ctx, s, size, "device section");
}

/* --- RAM --- */

/* MEM_SIZE: the RAMBlock list {u8 len, id, be64 length} until the lengths add up to total. */
static int
savevm_stream_mem_size(struct r2d_ctx *ctx, struct savevm_stream *s, uint64_t total, uint64_t at)
{
    uint64_t left = total;
    int rc = 0;

    s->nblocks = 0;
    s->ram_block = -1;
    s->cur_block = -1; /* a new block list: CONTINUE must name a block again */
    while (!rc && left > 0) {
        struct savevm_stream_block *b;

        R2D_CHECK(s->nblocks == SAVEVM_MAX_BLOCKS, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": more than %d RAM blocks in the MEM_SIZE record", s->path, at,
                  SAVEVM_MAX_BLOCKS);
        if (!s->blocks && !(s->blocks = calloc(SAVEVM_MAX_BLOCKS, sizeof(*s->blocks))))
            return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the RAM block list", s->path);
        b = &s->blocks[s->nblocks];
        rc = savevm_stream_idstr(ctx, s, "RAM block name", b->id);
        if (!rc)
            rc = savevm_stream_be64(ctx, s, "RAM block length", &b->length);
        if (rc)
            return rc;
        R2D_CHECK(b->length > left || b->length & SAVEVM_PAGE_MASK, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": RAM block '%s' of 0x%" PRIx64
                  " bytes does not fit the announced total "
                  "0x%" PRIx64 " (another page size or x-ignore-shared layout?)",
                  s->path, s->pos - 8, b->id, b->length, total);
        if (strcmp(b->id, SAVEVM_GUEST_RAM) == 0)
            s->ram_block = (int)s->nblocks;
        left -= b->length;
        s->nblocks++;
    }
    return rc;
}

static int
savevm_stream_ram_feature(struct r2d_ctx *ctx, struct savevm_stream *s, uint64_t at, uint64_t flags)
{
    const char *what = flags & SAVEVM_RAM_XBZRLE ? "XBZRLE-encoded page (migration capability 'xbzrle': "
                                                   "pages are deltas of earlier ones)"
                       : flags & SAVEVM_RAM_COMPRESS_PAGE
                           ? "compressed page (migration capability 'compress')"
                       : flags & SAVEVM_RAM_MULTIFD_FLUSH ? "multifd flush (migration capability 'multifd')"
                       : flags & SAVEVM_RAM_HOOK          ? "RDMA hook (rdma migration)"
                       : flags & SAVEVM_RAM_FULL          ? "obsolete FULL flag"
                                                          : NULL;

    if (what)
        return r2d_err(ctx, R2D_EUNSUPPORTED,
                       "%s: offset 0x%" PRIx64 ": RAM record flags 0x%" PRIx64
                       ": %s is not supported; save again "
                       "with the VM paused and the capability off",
                       s->path, at, flags, what);
    return r2d_err(ctx, R2D_EFORMAT,
                   "%s: offset 0x%" PRIx64 ": unknown combination of RAM record flags 0x%" PRIx64, s->path,
                   at, flags);
}

/* Which RAMBlock a page record is for: the previous one (CONTINUE) or the one named here. */
static int
savevm_stream_page_block(struct r2d_ctx *ctx, struct savevm_stream *s, uint64_t flags, uint64_t at)
{
    char id[256];
    int rc;

    if (flags & SAVEVM_RAM_CONTINUE) {
        R2D_CHECK(s->cur_block < 0, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": RAM record continues a block but none was named before", s->path,
                  at);
        return 0;
    }
    rc = savevm_stream_idstr(ctx, s, "RAM block name", id);
    if (rc)
        return rc;
    for (size_t i = 0; i < s->nblocks; i++)
        if (strcmp(s->blocks[i].id, id) == 0) {
            s->cur_block = (int)i;
            return 0;
        }
    return r2d_err(ctx, R2D_EFORMAT,
                   "%s: offset 0x%" PRIx64 ": RAM record for block '%s', not in the MEM_SIZE list", s->path,
                   at, id);
}

/* One RAM section's records, up to and including EOS. */
static int
savevm_stream_ram(struct r2d_ctx *ctx, struct savevm_stream *s)
{
    for (;;) {
        const uint64_t at = s->pos;
        uint64_t word, flags, off;
        int rc = savevm_stream_be64(ctx, s, "RAM record", &word);

        if (rc)
            return rc;
        flags = word & SAVEVM_PAGE_MASK;
        off = word & ~SAVEVM_PAGE_MASK;
        if (flags == SAVEVM_RAM_EOS)
            return 0;
        if (flags == SAVEVM_RAM_MEM_SIZE) {
            rc = savevm_stream_mem_size(ctx, s, off, at);
        } else if ((flags & ~(uint64_t)SAVEVM_RAM_CONTINUE) == SAVEVM_RAM_ZERO ||
                   (flags & ~(uint64_t)SAVEVM_RAM_CONTINUE) == SAVEVM_RAM_PAGE) {
            const int is_page = (flags & SAVEVM_RAM_PAGE) != 0;
            uint64_t data;
            uint8_t fill = 0;

            rc = savevm_stream_page_block(ctx, s, flags, at);
            if (rc)
                return rc;
            R2D_CHECK(off >= s->blocks[s->cur_block].length, ctx, R2D_EFORMAT,
                      "%s: offset 0x%" PRIx64 ": RAM page at 0x%" PRIx64 " is outside block '%s' (0x%" PRIx64
                      " bytes)",
                      s->path, at, off, s->blocks[s->cur_block].id, s->blocks[s->cur_block].length);
            data = s->pos;
            rc = is_page ? savevm_stream_skip(ctx, s, SAVEVM_PAGE, "RAM page")
                         : savevm_stream_u8(ctx, s, "RAM fill byte", &fill);
            if (!rc && s->cur_block == s->ram_block)
                rc = r2d_savevm_pages_add(ctx, s->path, &s->pages, off / SAVEVM_PAGE, data, !is_page, fill,
                                          (uint16_t)(s->pos - at));
        } else {
            rc = savevm_stream_ram_feature(ctx, s, at, flags);
        }
        if (rc)
            return rc;
    }
}

/* --- sections --- */

static int
savevm_stream_footer(struct r2d_ctx *ctx, struct savevm_stream *s, uint32_t id, const char *idstr)
{
    const uint64_t at = s->pos;
    uint32_t got;
    int rc = savevm_stream_fill(ctx, s, 1, "section footer");

    if (rc || s->buf[s->pos - s->buf_off] != SAVEVM_SECTION_FOOTER)
        return rc; /* footers are optional (machine types before 2.x have none) */
    s->pos++;
    rc = savevm_stream_be32(ctx, s, "section footer", &got);
    R2D_CHECK(!rc && got != id, ctx, R2D_EFORMAT,
              "%s: offset 0x%" PRIx64 ": footer of section %" PRIu32 " ('%s') names section %" PRIu32
              ": the section's length is not what was expected",
              s->path, at, id, idstr, got);
    return rc;
}

static int
savevm_stream_section(struct r2d_ctx *ctx, struct savevm_stream *s, uint8_t type, uint64_t at, int *stop)
{
    char idstr[256] = "";
    uint32_t id, instance = 0, version = 0;
    int rc = savevm_stream_be32(ctx, s, "section id", &id);

    if (!rc && (type == SAVEVM_SECTION_START || type == SAVEVM_SECTION_FULL)) {
        rc = savevm_stream_idstr(ctx, s, "section name", idstr);
        if (!rc)
            rc = savevm_stream_be32(ctx, s, "instance id", &instance);
        if (!rc)
            rc = savevm_stream_be32(ctx, s, "version id", &version);
    }
    if (rc)
        return rc;
    if (type == SAVEVM_SECTION_START) {
        R2D_CHECK(strcmp(idstr, "ram") != 0, ctx, R2D_EUNSUPPORTED,
                  "%s: offset 0x%" PRIx64
                  ": iterable section '%s' (block migration or dirty bitmaps?) is not "
                  "supported; only 'ram' is",
                  s->path, at, idstr);
        R2D_CHECK(version != 4, ctx, R2D_EUNSUPPORTED,
                  "%s: offset 0x%" PRIx64 ": 'ram' section version %" PRIu32 ", only version 4 is known",
                  s->path, at, version);
        s->ram_section = id;
        s->ram_started = 1;
    } else if (type == SAVEVM_SECTION_PART || type == SAVEVM_SECTION_END) {
        R2D_CHECK(!s->ram_started || id != s->ram_section, ctx, R2D_EUNSUPPORTED,
                  "%s: offset 0x%" PRIx64 ": part of section %" PRIu32 ", which is not the 'ram' section",
                  s->path, at, id);
        strcpy(idstr, "ram");
    }
    if (type != SAVEVM_SECTION_FULL) {
        rc = savevm_stream_ram(ctx, s);
        s->ram_done |= type == SAVEVM_SECTION_END;
    } else if (!s->vmdesc) {
        /* No description: device sections have no length, so stop; the memory is complete once RAM ended. */
        R2D_CHECK(!s->ram_done, ctx, R2D_EUNSUPPORTED,
                  "%s: offset 0x%" PRIx64
                  ": device section '%s' before the end of RAM and no stream description "
                  "(VMDESCRIPTION) to skip it",
                  s->path, at, idstr);
        snprintf(s->cpu_why, sizeof(s->cpu_why), "not decoded: the stream has no VMDESCRIPTION");
        s->nstaged = 0;
        *stop = 1;
        return 0;
    } else {
        rc = savevm_stream_device(ctx, s, idstr, instance, at);
    }
    return rc ? rc : savevm_stream_footer(ctx, s, id, idstr);
}

static int
savevm_stream_sections(struct r2d_ctx *ctx, struct savevm_stream *s)
{
    for (int stop = 0; !stop;) {
        const uint64_t at = s->pos;
        uint8_t type;
        int rc = savevm_stream_u8(ctx, s, "section type", &type);

        if (rc)
            return rc;
        switch (type) {
        case SAVEVM_EOF:
            if (s->vmdesc_off && s->pos != s->vmdesc_off)
                r2d_log(ctx, R2D_LOG_WARN,
                        "%s: offset 0x%" PRIx64 ": stream ends but its description is at 0x%" PRIx64, s->path,
                        at, s->vmdesc_off);
            return 0;
        case SAVEVM_SECTION_START:
        case SAVEVM_SECTION_PART:
        case SAVEVM_SECTION_END:
        case SAVEVM_SECTION_FULL:
            rc = savevm_stream_section(ctx, s, type, at, &stop);
            if (rc && rc != R2D_ENOMEM && type == SAVEVM_SECTION_FULL && s->ram_done) {
                /* The memory is complete; only the device state is unusable: keep the memory, drop the CPUs.
                 */
                r2d_log(ctx, R2D_LOG_WARN, "%s; CPU registers not taken from the stream", r2d_errmsg(ctx));
                snprintf(s->cpu_why, sizeof(s->cpu_why), "not decoded: %s", r2d_errmsg(ctx));
                s->nstaged = 0;
                return 0;
            }
            break;
        case SAVEVM_COMMAND:
            return r2d_err(ctx, R2D_EUNSUPPORTED,
                           "%s: offset 0x%" PRIx64 ": migration command section (postcopy): not supported",
                           s->path, at);
        default:
            return r2d_err(ctx, R2D_EFORMAT, "%s: offset 0x%" PRIx64 ": unknown section type 0x%02x", s->path,
                           at, type);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/*
 * Below-4G size of pc.ram for the machine type (QEMU 7.2 hw/i386/pc_piix.c pc_init1 and pc_q35.c
 * pc_q35_init, default max-ram-below-4g): i440fx with gigabyte_align (pc-i440fx >= 1.7): RAM >= 0xe0000000
 * splits at 0xc0000000; older i440fx at 0xe0000000; q35: RAM >= 0xb0000000 splits at 0x80000000.
 */
static int
savevm_stream_split(struct r2d_ctx *ctx, struct savevm_stream *s, uint64_t ram, uint64_t *below,
                    const char **rule)
{
    unsigned maj = 0, min = 0;

    if (strncmp(s->machine, "pc-q35-", 7) == 0 || strcmp(s->machine, "q35") == 0) {
        *below = ram >= 0xB0000000u ? 0x80000000u : ram;
        *rule = "q35: RAM >= 0xb0000000 splits at 0x80000000 (QEMU hw/i386/pc_q35.c)";
    } else if (strncmp(s->machine, "pc-i440fx-", 10) == 0 || strcmp(s->machine, "pc") == 0 ||
               (strncmp(s->machine, "pc-", 3) == 0 && sscanf(s->machine + 3, "%u.%u", &maj, &min) == 2)) {
        const int old = sscanf(s->machine + (s->machine[3] == 'i' ? 10 : 3), "%u.%u", &maj, &min) == 2 &&
                        (maj < 1 || (maj == 1 && min < 7));

        *below = ram >= 0xE0000000u ? (old ? 0xE0000000u : 0xC0000000u) : ram;
        *rule =
            old ? "i440fx before 1.7: RAM >= 0xe0000000 splits at 0xe0000000 (QEMU hw/i386/pc_piix.c)"
                : "i440fx: RAM >= 0xe0000000 splits at 0xc0000000 (QEMU hw/i386/pc_piix.c, gigabyte_align)";
    } else {
        R2D_CHECK(ram > 0x80000000u, ctx, R2D_EUNSUPPORTED,
                  "%s: offset 0x%" PRIx64 ": machine type '%s' with 0x%" PRIx64
                  " bytes of RAM: where its RAM splits around the 4 GiB hole is unknown",
                  s->path, s->machine_off, s->machine[0] ? s->machine : "(none)", ram);
        *below = ram;
        *rule = "unknown machine type, RAM <= 2 GiB: assumed all below 4 GiB";
    }
    return 0;
}

static int
savevm_stream_finish(struct r2d_ctx *ctx, struct savevm_stream *s)
{
    uint64_t ram, below = 0, pages = 0;
    size_t extents = 0;
    const char *rule = "";
    char note[320];
    int rc;

    R2D_CHECK(s->ram_block < 0, ctx, R2D_EFORMAT, "%s: the stream has no '%s' RAM block (guest RAM)", s->path,
              SAVEVM_GUEST_RAM);
    R2D_CHECK(!s->ram_done, ctx, R2D_ETRUNC,
              "%s: offset 0x%" PRIx64 ": the 'ram' section never ends: incomplete stream", s->path, s->pos);
    ram = s->blocks[s->ram_block].length;
    R2D_CHECK(s->pages.records == 0, ctx, R2D_EFORMAT, "%s: the stream holds no page of '%s'", s->path,
              SAVEVM_GUEST_RAM);
    rc = savevm_stream_split(ctx, s, ram, &below, &rule);
    if (!rc)
        rc = r2d_savevm_pages_attach(ctx, s->img, &s->pages, below, &pages, &extents);
    for (size_t i = 0; !rc && i < s->nstaged; i++)
        rc = r2d_image_add_cpu(ctx, s->img, &s->staged[i]);
    if (!rc)
        rc = r2d_image_add_note(ctx, s->img, "savevm.machine", s->machine);
    snprintf(note, sizeof(note),
             "pc.ram 0x%" PRIx64 " bytes: 0x%" PRIx64 " below 4 GiB, 0x%" PRIx64 " above; %s", ram, below,
             ram - below, rule);
    if (!rc)
        rc = r2d_image_add_note(ctx, s->img, "savevm.ram_split", note);
    snprintf(note, sizeof(note),
             "%" PRIu64 " of %" PRIu64 " pages present, %" PRIu64 " page records (%" PRIu64
             " for pages sent again), %zu extents",
             pages, ram / SAVEVM_PAGE, s->pages.records,
             s->pages.records > pages ? s->pages.records - pages : 0, extents);
    if (!rc)
        rc = r2d_image_add_note(ctx, s->img, "savevm.pages", note);
    if (s->nstaged == 0 && !s->cpu_why[0])
        snprintf(s->cpu_why, sizeof(s->cpu_why), "not decoded: no cpu sections");
    snprintf(note, sizeof(note), "%zu of %u cpu sections decoded", s->nstaged, s->cpus);
    if (!rc)
        rc = r2d_image_add_note(ctx, s->img, "savevm.cpu_state", s->nstaged ? note : s->cpu_why);
    if (!rc)
        rc = r2d_image_add_note(ctx, s->img, "savevm.description", s->vmdesc ? "VMDESCRIPTION used" : "none");
    return rc;
}

int
r2d_savevm_stream_open(struct r2d_ctx *ctx, struct r2d_image *img, uint64_t base)
{
    struct savevm_stream s = {.img = img,
                              .in = r2d_image_input(img),
                              .path = r2d_image_path(img),
                              .size = r2d_image_file_size(img),
                              .base = base,
                              .pos = base,
                              .ram_block = -1,
                              .cur_block = -1};
    const uint8_t *p;
    uint8_t type;
    int rc;

    s.buf = r2d_alloc_io(SAVEVM_READ_BUF);
    if (!s.buf)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", s.path);
    rc = savevm_stream_take(ctx, &s, 8, "QEMU stream header", &p);
    if (!rc && memcmp(p, R2D_SAVEVM_MAGIC, R2D_SAVEVM_MAGIC_LEN) != 0)
        rc = r2d_err(ctx, R2D_EFORMAT, "%s: offset 0x%" PRIx64 ": no QEMU stream header (magic QEVM)", s.path,
                     base);
    else if (!rc && r2d_be32(p + 4) != SAVEVM_VERSION)
        rc = r2d_err(ctx, R2D_EUNSUPPORTED,
                     "%s: offset 0x%" PRIx64 ": QEMU stream version %" PRIu32 ", only version 3 is known",
                     s.path, base + 4, r2d_be32(p + 4));
    if (!rc)
        rc = r2d_savevm_vmdesc_find(ctx, s.in, base, &s.vmdesc, &s.vmdesc_off);
    if (!rc)
        rc = savevm_stream_u8(ctx, &s, "section type", &type);
    if (!rc && type == SAVEVM_CONFIGURATION)
        rc = savevm_stream_configuration(ctx, &s);
    else if (!rc)
        s.pos--;
    if (!rc)
        rc = savevm_stream_sections(ctx, &s);
    if (!rc)
        rc = savevm_stream_finish(ctx, &s);
    json_decref(s.vmdesc);
    free(s.buf);
    free(s.blocks);
    r2d_savevm_pages_free(&s.pages);
    free(s.staged);
    return rc;
}
