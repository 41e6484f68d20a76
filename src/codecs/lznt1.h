/* SPDX-License-Identifier: MIT */
/*
 * LZNT1 decoder ([MS-XCA] 2.5): a sequence of chunks, each with a 16-bit header (size, compressed flag,
 * signature 3) and up to 4096 bytes of output, as DumpIt's .zdmp files store a crash dump.
 *
 * Decodes until the input ends, a zero chunk header is met, or out_cap bytes were produced.
 * Return: 0 on success (res->produced may be less than out_cap: the stream said it ended); R2D_EFORMAT when the
 * stream is corrupt (res->why says what, res->consumed where). Never reads past in + in_len or writes past
 * out + out_cap.
 */
#ifndef R2D_LZNT1_H
#define R2D_LZNT1_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"

int r2d_lznt1_decode(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
                     struct r2d_codec_result *res);

#endif
