/* SPDX-License-Identifier: MIT */
/*
 * Lock file contents (r2d_lock_parse) on hostile input: lock files live on shared storage, where any process
 * (or a corrupted NFS write) can leave any bytes in them. The host name is read whole after a good parse.
 */
#include <stdint.h>
#include <stdlib.h>

#include "lockfile_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct r2d_lock_info info;
    volatile size_t n = 0; /* every byte of the host is read: an unterminated name is an ASan report */

    if (r2d_lock_parse((const char *)data, size, &info) == 0) {
        if (info.unreadable || info.pid < 0 || info.started < 0)
            abort();
        while (info.host[n])
            n++;
    } else if (!info.unreadable || info.host[0]) {
        abort();
    }
    return 0;
}
