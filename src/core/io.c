/* SPDX-License-Identifier: MIT */
/* Bounded positional reads shared by every reader of files (formats, PDBs). */
#include <errno.h>
#include <inttypes.h>
#include <unistd.h>

#include "raw2dmp/format.h"

int
r2d_pread_full(struct r2d_ctx *ctx, int fd, const char *path, uint64_t off, void *buf, size_t len,
               const char *what)
{
    uint8_t *p = buf;

    while (len > 0) {
        const size_t chunk = len > (1u << 30) ? (1u << 30) : len;
        ssize_t n = pread(fd, p, chunk, (off_t)off);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return r2d_err_errno(ctx, "%s: offset 0x%" PRIx64 ": reading %s", path, off, what);
        }
        if (n == 0)
            return r2d_err(ctx, R2D_ETRUNC, "%s: offset 0x%" PRIx64 ": %s runs past end of file", path, off,
                           what);
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}
