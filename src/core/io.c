/* SPDX-License-Identifier: MIT */
/* Bounded positional reads shared by every reader of files (formats, PDBs), and hole lookup. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"


void *
r2d_alloc_io(size_t len)
{
    void *p = NULL;

    return posix_memalign(&p, 4096, len ? len : 1) == 0 ? p : NULL;
}

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

void
r2d_file_extent(int fd, uint64_t off, uint64_t end, int *is_data, uint64_t *ext_end)
{
    const off_t d = lseek(fd, (off_t)off, SEEK_DATA);
    off_t h;

    *is_data = 1;
    *ext_end = end;
    if (d < 0) {
        struct stat st;

        if (errno == ENXIO && fstat(fd, &st) == 0 && (uint64_t)st.st_size >= end)
            *is_data = 0; /* no data from off to the end of the file */
        return;
    }
    if ((uint64_t)d > off) {
        *is_data = 0;
        *ext_end = (uint64_t)d < end ? (uint64_t)d : end;
        return;
    }
    h = lseek(fd, (off_t)off, SEEK_HOLE);
    if (h >= 0 && (uint64_t)h > off && (uint64_t)h < end)
        *ext_end = (uint64_t)h;
}
