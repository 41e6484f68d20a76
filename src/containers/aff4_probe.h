/* SPDX-License-Identifier: MIT */
/* Is this ZIP head an AFF4 volume's? (aff4_probe.c) */
#ifndef R2D_FORMATS_AFF4_PROBE_H
#define R2D_FORMATS_AFF4_PROBE_H

#include <stddef.h>
#include <stdint.h>

/**
 * Pure: 0 when the head (len bytes of a file's start) shows no AFF4 member; R2D_PROBE_SURE (100) when it
 * names container.description, information.turtle or version.txt; R2D_PROBE_MAGIC (50) for bevy indexes
 * or members named after escaped aff4:// URNs only. *why receives a static string.
 */
int r2d_aff4_probe_head(const uint8_t *head, size_t len, const char **why);

#endif
