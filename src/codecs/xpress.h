/* SPDX-License-Identifier: MIT */
/*
 * Xpress decoders ([MS-XCA] 2.3 "plain LZ77" and 2.1 "LZ77+Huffman"), as Windows uses them in hibernation
 * files. The caller knows the decompressed size (a page set's page count times 4096) and passes exactly that
 * capacity; both decoders stop when the output is full or the input ends.
 *
 * Return: 0 when out_cap bytes were produced; R2D_EFORMAT when the stream is corrupt or ends early
 * (res->why says what, res->consumed where). Never reads past in + in_len or writes past out + out_cap.
 */
#ifndef R2D_XPRESS_H
#define R2D_XPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"

int r2d_xpress_lz77_decode(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
                           struct r2d_codec_result *res);
int r2d_xpress_huffman_decode(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
                              struct r2d_codec_result *res);

#endif
