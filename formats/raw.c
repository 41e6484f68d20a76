/* SPDX-License-Identifier: MIT */
/*
 * Raw padded images (winpmem, DumpIt, dd of /dev/mem, pmemsave, LiME format=padded): file offset equals
 * physical address. Nothing in the file says where RAM really is, so the honest description is one run
 * over the whole file; the engine may narrow it with the kernel's MmPhysicalMemoryBlock.
 */
#include <string.h>
#include <strings.h>

#include "format.h"

static int
raw_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why)
{
    *why = "no other format recognised it; raw is the fallback";
    return file_size > 0 ? R2D_PROBE_FALLBACK : R2D_PROBE_NO;
}

static int
raw_open(struct r2d_ctx *ctx, struct r2d_image *img)
{
    const uint64_t size = r2d_image_file_size(img);
    const struct r2d_image_props props = {.runs_include_padding = 1};
    const char *path = r2d_image_path(img);
    const size_t n = strlen(path);

    R2D_CHECK(size == 0, ctx, R2D_EFORMAT, "%s: empty file", path);
    /* Flat only below VMware's first hole: the state file has the real layout (formats/vmware.c). */
    if (n > 5 && strcasecmp(path + n - 5, ".vmem") == 0)
        r2d_log(
            ctx, R2D_LOG_WARN,
            "%s: a VMware memory file read without its state file: file offset is taken as guest "
            "address, so memory above the PCI hole (above 4 GiB) is placed by guess; convert the .vmss or "
            ".vmsn beside it instead",
            path);
    r2d_image_set_props(img, &props);
    return r2d_image_add_file_run(ctx, img, 0, size, 0);
}

const struct r2d_format r2d_format_raw = {
    .name = "raw",
    .summary = "raw padded image: file offset = physical address (dd, winpmem, pmemsave)",
    .probe_bytes = 0,
    .probe = raw_probe,
    .open = raw_open,
};
