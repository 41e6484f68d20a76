/* SPDX-License-Identifier: MIT */
/*
 * QEMU migration streams as files: what plain `virsh dump` (without --memory-only) writes, and
 * migrate "exec:cat > FILE". The stream parser is shared with the libvirt save image (savevm_stream.c).
 * Facts: docs/formats/savevm.md F1-F3, docs/formats/libvirt.md F2.
 */
#include <inttypes.h>
#include <string.h>

#include "savevm_stream.h"

/*
 * A compressed `virsh dump` stream is recognised (weakly: anything may be compressed) to say what to do. gzip,
 * xz and zstd streams are read in place by the containers (src/containers) before any format is probed;
 * this sees them only with --container none, and sees bzip2 and lzop.
 */
#define SAVEVM_PROBE_COMPRESSED 10

static int
savevm_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why)
{
    const int stream = r2d_savevm_stream_probe(head, len);

    if (stream) {
        *why = stream == 2 ? "QEVM magic, version 3" : "QEVM magic only";
        return stream == 2 ? R2D_PROBE_SURE : R2D_PROBE_MAGIC;
    }
    if (r2d_savevm_compressor(head, len)) {
        *why = "compressed file (a virsh dump stream piped through dump_image_format?)";
        return SAVEVM_PROBE_COMPRESSED;
    }
    return R2D_PROBE_NO;
}

static int
savevm_open(struct r2d_ctx *ctx, struct r2d_image *img)
{
    uint8_t head[16] = {0};
    const uint64_t size = r2d_image_file_size(img);
    const char *z;
    int rc =
        r2d_image_pread(ctx, img, 0, head, size < sizeof(head) ? (size_t)size : sizeof(head), "file header");

    if (rc)
        return rc;
    z = r2d_savevm_compressor(head, sizeof(head));
    R2D_CHECK(
        z, ctx, R2D_EUNSUPPORTED,
        "%s: offset 0x0: the file is %s-compressed (virsh dump with dump_image_format = \"%s\"?); decompress "
        "it first (e.g. '%s -dc FILE > FILE.raw') and convert the result",
        r2d_image_path(img), z, z, strcmp(z, "lzop") == 0 ? "lzop" : z);
    rc = r2d_savevm_stream_open(ctx, img, 0);
    return rc ? rc
              : r2d_image_add_note(ctx, img, "savevm.container",
                                   "QEMU migration stream (virsh dump, migrate)");
}

const struct r2d_format r2d_format_savevm = {
    .name = "savevm",
    .summary = "QEMU migration stream (virsh dump without --memory-only, migrate exec:cat): pc.ram pages",
    .probe_bytes = 16,
    .probe = savevm_probe,
    .open = savevm_open,
};
