/* SPDX-License-Identifier: MIT */
/*
 * libvirt save images (virsh save, managedsave): a libvirt header, the domain XML, then the QEMU migration
 * stream read by savevm_stream.c. Facts: docs/formats/libvirt.md F1 (libvirt
 * src/qemu/qemu_saveimage.h: virQEMUSaveHeader, native byte order). docs/formats/libvirt.md.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "savevm_stream.h"

#define LVSAVE_MAGIC "LibvirtQemudSave"
#define LVSAVE_PARTIAL "LibvirtQemudPart" /* written first, replaced by the magic once the save completed */
#define LVSAVE_MAGIC_LEN 16
#define LVSAVE_OFF_VERSION 0x10     /* u32, 2 (1: no cookie) */
#define LVSAVE_OFF_DATA_LEN 0x14    /* u32, XML (+ cookie, + padding) bytes after the header */
#define LVSAVE_OFF_WAS_RUNNING 0x18 /* u32 */
#define LVSAVE_OFF_COMPRESSED 0x1C  /* u32, virQEMUSaveFormat */
#define LVSAVE_OFF_COOKIE 0x20      /* u32, offset of the cookie inside the data */
#define LVSAVE_HDR_SIZE 0x5C        /* magic, 5 x u32, 14 x u32 unused */
#define LVSAVE_MAX_VERSION 2
#define LVSAVE_XML_NOTE 200

/*
 * The header is in the saving host's byte order; like libvirt, take a version above 2 as a byte-swapped
 * header unless swapping does not help either (then the value as stored is reported).
 */
static uint32_t
libvirt_save_u32(const uint8_t *hdr, unsigned off)
{
    const int swapped = r2d_le32(hdr + LVSAVE_OFF_VERSION) > LVSAVE_MAX_VERSION &&
                        r2d_be32(hdr + LVSAVE_OFF_VERSION) <= LVSAVE_MAX_VERSION;

    return swapped ? r2d_be32(hdr + off) : r2d_le32(hdr + off);
}

static int
libvirt_save_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why)
{
    if (len < LVSAVE_MAGIC_LEN)
        return R2D_PROBE_NO;
    if (memcmp(head, LVSAVE_MAGIC, LVSAVE_MAGIC_LEN) == 0) {
        *why = "LibvirtQemudSave magic";
        return len >= LVSAVE_HDR_SIZE && libvirt_save_u32(head, LVSAVE_OFF_VERSION) <= LVSAVE_MAX_VERSION
                   ? R2D_PROBE_SURE
                   : R2D_PROBE_MAGIC;
    }
    if (memcmp(head, LVSAVE_PARTIAL, LVSAVE_MAGIC_LEN) == 0) {
        *why = "LibvirtQemudPart magic (incomplete save)";
        return R2D_PROBE_SURE;
    }
    return R2D_PROBE_NO;
}

static const char *
libvirt_save_compressor(uint32_t c)
{
    static const char *const names[] = {"raw", "gzip", "bzip2", "xz", "lzop", "zstd"};

    return c < sizeof(names) / sizeof(names[0]) ? names[c] : "unknown";
}

/* The domain's name and the start of the XML, for the notes. */
static int
libvirt_save_notes(struct r2d_ctx *ctx, struct r2d_image *img, uint32_t version, uint32_t data_len,
                   uint32_t running)
{
    char v[LVSAVE_XML_NOTE + 64], xml[LVSAVE_XML_NOTE + 1] = {0};
    const size_t n = data_len < LVSAVE_XML_NOTE ? data_len : LVSAVE_XML_NOTE;
    const char *name, *end;
    int rc = r2d_image_pread(ctx, img, LVSAVE_HDR_SIZE, xml, n, "domain XML");

    if (rc)
        return rc;
    snprintf(v, sizeof(v),
             "libvirt save image version %" PRIu32 ", domain XML of 0x%" PRIx32 " bytes, guest %s", version,
             data_len, running ? "was running" : "was paused");
    rc = r2d_image_add_note(ctx, img, "savevm.container", v);
    name = strstr(xml, "<name>");
    end = name ? strstr(name, "</name>") : NULL;
    if (!rc && end) {
        snprintf(v, sizeof(v), "%.*s", (int)(end - name - 6), name + 6);
        rc = r2d_image_add_note(ctx, img, "libvirt.domain", v);
    }
    return rc;
}

static int
libvirt_save_open(struct r2d_ctx *ctx, struct r2d_image *img)
{
    const char *path = r2d_image_path(img);
    uint8_t h[LVSAVE_HDR_SIZE];
    uint32_t version, data_len, running, compressed;
    int rc = r2d_image_pread(ctx, img, 0, h, sizeof(h), "libvirt save header");

    if (rc)
        return rc;
    R2D_CHECK(
        memcmp(h, LVSAVE_PARTIAL, LVSAVE_MAGIC_LEN) == 0, ctx, R2D_EFORMAT,
        "%s: offset 0x0: incomplete save image (magic LibvirtQemudPart): libvirt never finished writing it",
        path);
    R2D_CHECK(memcmp(h, LVSAVE_MAGIC, LVSAVE_MAGIC_LEN) != 0, ctx, R2D_EFORMAT,
              "%s: offset 0x0: no libvirt save image magic (LibvirtQemudSave)", path);
    version = libvirt_save_u32(h, LVSAVE_OFF_VERSION);
    data_len = libvirt_save_u32(h, LVSAVE_OFF_DATA_LEN);
    running = libvirt_save_u32(h, LVSAVE_OFF_WAS_RUNNING);
    compressed = libvirt_save_u32(h, LVSAVE_OFF_COMPRESSED);
    R2D_CHECK(version == 0 || version > LVSAVE_MAX_VERSION, ctx, R2D_EUNSUPPORTED,
              "%s: offset 0x%x: libvirt save image version %" PRIu32 ", only 1 and 2 are known", path,
              LVSAVE_OFF_VERSION, version);
    R2D_CHECK(compressed != 0, ctx, R2D_EUNSUPPORTED,
              "%s: offset 0x%x: the QEMU stream in this save image is %s-compressed (save_image_format); "
              "not supported: save again with save_image_format = \"raw\" in qemu.conf",
              path, LVSAVE_OFF_COMPRESSED, libvirt_save_compressor(compressed));
    R2D_CHECK(data_len > r2d_image_file_size(img) - LVSAVE_HDR_SIZE, ctx, R2D_ETRUNC,
              "%s: offset 0x%x: domain XML of 0x%" PRIx32 " bytes runs past end of file (size 0x%" PRIx64 ")",
              path, LVSAVE_OFF_DATA_LEN, data_len, r2d_image_file_size(img));
    rc = libvirt_save_notes(ctx, img, version, data_len, running);
    return rc ? rc : r2d_savevm_stream_open(ctx, img, LVSAVE_HDR_SIZE + (uint64_t)data_len);
}

const struct r2d_format r2d_format_libvirt_save = {
    .name = "libvirt-save",
    .summary = "libvirt save image (virsh save, managedsave): header, domain XML, QEMU migration stream",
    .probe_bytes = LVSAVE_HDR_SIZE,
    .probe = libvirt_save_probe,
    .open = libvirt_save_open,
};
