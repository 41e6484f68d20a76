/* SPDX-License-Identifier: MIT */
/*
 * What every decoder of the codec layer reports. The decoders are pure functions over caller-owned buffers:
 * no context, no allocation, no I/O, so a format or container can run them from worker threads and turn a
 * failure into its own one-line message ("page set 12 of hiberfil.sys: ...") from `why` and `consumed`.
 */
#ifndef R2D_CODEC_H
#define R2D_CODEC_H

#include <stddef.h>

struct r2d_codec_result {
    size_t consumed;  /* input bytes used; on failure, where decoding stopped */
    size_t produced;  /* output bytes written (all valid, also on failure) */
    const char *why;  /* on failure: a static phrase ("match before the start of the output"); else NULL */
};

#endif
