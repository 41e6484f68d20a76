/* SPDX-License-Identifier: MIT */
/*
 * Recognising an AFF4 volume by its head: a ZIP whose local headers, as far as the head shows them, name
 * members only AFF4 writes (container.description, which c-aff4 writes first, information.turtle,
 * version.txt, bevy indexes, members named after escaped aff4:// URNs). Shared by the ZIP container's
 * probe, which leaves such files to the AFF4 format (formats/aff4.c), and that format's own probe. Pure, so
 * built with or without libzip.
 */
#include <string.h>

#include "aff4_probe.h"
#include "bytes.h"

#define LFH_SIZE 30

static int
name_is(const uint8_t *name, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(name, want, n) == 0;
}

/*
 * ".../NNNNNNNN.index" or ".../NNNNNNNN/index": a bevy's index. A bare ".../NNNNNNNN" could as well be a
 * file named after a date, so a bevy alone does not count (unless its name is an escaped URN, below).
 */
static int
name_is_bevy_index(const uint8_t *name, size_t n)
{
    size_t end = n, digits = 0;

    if (end > 6 && (memcmp(name + end - 6, ".index", 6) == 0 || memcmp(name + end - 6, "/index", 6) == 0))
        end -= 6;
    else
        return 0;
    while (digits < end && name[end - 1 - digits] >= '0' && name[end - 1 - digits] <= '9')
        digits++;
    return digits == 8 && end > 9 && name[end - 9] == '/';
}

int
r2d_aff4_probe_head(const uint8_t *head, size_t len, const char **why)
{
    size_t at = 0;

    /* Walk the local headers the head holds; a data descriptor (sizes 0 in the header) stops the walk. */
    while (len - at >= LFH_SIZE && memcmp(head + at, "PK\3\4", 4) == 0) {
        const uint16_t flags = r2d_le16(head + at + 6), nlen = r2d_le16(head + at + 26),
                       xlen = r2d_le16(head + at + 28);
        const uint32_t csize = r2d_le32(head + at + 18);
        const uint8_t *name = head + at + LFH_SIZE;

        if (nlen > len - at - LFH_SIZE) {
            /* a long name cut by the head: its escaped "aff4://" start still shows */
            if (len - at - LFH_SIZE >= 13 && memcmp(name, "aff4%3A%2F%2F", 13) == 0) {
                *why = "ZIP whose first member is named after an AFF4 URN (aff4%3A%2F%2F...)";
                return 50;
            }
            break;
        }
        if (name_is(name, nlen, "container.description") || name_is(name, nlen, "information.turtle") ||
            name_is(name, nlen, "version.txt")) {
            *why =
                "ZIP whose members include AFF4's container.description / information.turtle / version.txt";
            return 100;
        }
        if (name_is_bevy_index(name, nlen) || (nlen > 13 && memcmp(name, "aff4%3A%2F%2F", 13) == 0)) {
            *why = "ZIP whose first members are AFF4 bevy indexes or named after AFF4 URNs";
            return 50;
        }
        if ((flags & 8) || csize == 0xffffffffu || (uint64_t)LFH_SIZE + nlen + xlen + csize > len - at)
            break;
        at += (size_t)LFH_SIZE + nlen + xlen + csize;
    }
    return 0;
}
