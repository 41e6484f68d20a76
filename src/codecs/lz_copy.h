/* SPDX-License-Identifier: MIT */
/* The match copy the LZ77-family decoders share: bulk copies, also for matches overlapping their output. */
#ifndef R2D_CODECS_LZ_COPY_H
#define R2D_CODECS_LZ_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Appends len bytes copied from offset bytes back (the caller checked 1 <= offset <= bytes already written
 * and len <= room left). A match longer than its offset repeats the last offset bytes; rather than a byte
 * loop, each memcpy copies everything between the source and the write position, which is already the
 * periodic pattern, so the chunk doubles every round and no memcpy ever sees overlapping ranges.
 */
static inline void
r2d_lz_copy(uint8_t *dst, size_t offset, size_t len)
{
    const uint8_t *src = dst - offset;
    size_t chunk = offset;

    if (offset == 1) {
        memset(dst, src[0], len);
        return;
    }
    while (len > 0) {
        const size_t n = chunk < len ? chunk : len;

        memcpy(dst, src, n);
        dst += n;
        len -= n;
        chunk += n;
    }
}

#endif
