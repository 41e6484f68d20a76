/* SPDX-License-Identifier: MIT */
/*
 * One container kind under fuzzing (FUZZ_CONTAINER_VAR, set by fuzz/meson.build): every container probe on
 * the input's head, then the kind's open over the input as a file (the index pass or frame walk, libzip's
 * central directory checks, libewf's segment parsing; --verify-container's full decode on odd sizes), then
 * reads of the decoded stream at its start, its end and scattered offsets, so the restart paths run too.
 */
#include <string.h>

#include "container.h"
#include "container_kinds.h"
#include "fuzz_util.h"

#ifndef FUZZ_CONTAINER_VAR
#error "FUZZ_CONTAINER_VAR must name a container kind's struct r2d_container_kind"
#endif

extern const struct r2d_container_kind FUZZ_CONTAINER_VAR;

#define FUZZ_READS 16
#define FUZZ_READ_LEN (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/*
 * libewf 20140813 leaks a chunk buffer (libewf_chunk_data_initialize, 32 KiB) when a corrupt chunk fails to
 * read, although the handle is closed and freed (fuzz/FINDINGS.md): not ours to fix, and not to fail the
 * other kinds' runs on.
 */
const char *
__lsan_default_suppressions(void)
{
    return "leak:libewf_chunk_data_initialize\n";
}

static void
fuzz_probe_all(const uint8_t *data, size_t size)
{
    const size_t len = size < R2D_CONTAINER_PROBE_MAX ? size : R2D_CONTAINER_PROBE_MAX;
    uint8_t *copy = malloc(len ? len : 1); /* exact size, so ASan sees any read past len */
    const char *why = NULL;

    if (!copy)
        abort();
    memcpy(copy, data, len);
    for (size_t i = 0; r2d_containers[i]; i++)
        (void)r2d_containers[i]->probe(copy, len, size, &why);
    free(copy);
}

static void
fuzz_read_back(struct r2d_ctx *ctx, const struct r2d_bytesrc *bs)
{
    static uint8_t buf[FUZZ_READ_LEN];
    const uint64_t size = r2d_bytesrc_size(bs);
    uint64_t seed = size;
    char stack[128];

    r2d_container_stack(bs, stack, sizeof(stack));
    fuzz_log_discard(NULL, 0, r2d_bytesrc_how(bs) ? r2d_bytesrc_how(bs) : "");
    for (int i = 0; i < FUZZ_READS && size > 0; i++) {
        uint64_t off;
        size_t len;

        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        off = i == 0 ? 0 : i == 1 ? size - (size < 16 ? size : 16) : (seed >> 11) % size;
        len = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
        if (r2d_bytesrc_read(ctx, bs, off, buf, len, "fuzz read"))
            fuzz_touch_errmsg(ctx);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_file file;
    struct r2d_ctx *ctx = fuzz_ctx();
    const struct r2d_container_opts opts = {.verify = (int)(size & 1)};
    struct r2d_bytesrc *in, *bs;

    fuzz_probe_all(data, size);
    if (r2d_bytesrc_open_file(ctx, fuzz_file_set(&file, data, size), &in) != 0)
        return 0;
    if (FUZZ_CONTAINER_VAR.open(ctx, in, &opts, &bs) == 0) {
        fuzz_read_back(ctx, bs);
        r2d_bytesrc_close(bs);
    } else {
        fuzz_touch_errmsg(ctx);
    }
    return 0;
}
