/* SPDX-License-Identifier: MIT */
/*
 * Xpress "LZ77+Huffman" decoder ([MS-XCA] 2.2). The output comes in blocks of 64 KiB, each introduced by 256
 * bytes holding the 4-bit code lengths of 512 symbols (even symbol in the low nibble). Symbols 0-255 are
 * literals; 256 + 16 * b + l is a match whose offset has its top bit at b (the b bits below it follow in the
 * bit stream) and whose length is l + 3, l = 15 escaping to a byte, then a 16-bit and a 32-bit length. The
 * bit stream is read as 16-bit little-endian words, most significant bit first, with a 32-bit window that
 * always holds at least the next 16 bits; escape bytes are taken from just past the words already in it.
 */
#include "xpress.h"

#include "bytes.h"
#include "raw2dmp/error.h"
#include "lz_copy.h"

#define HUFF_SYMBOLS 512
#define HUFF_TABLE_BYTES 256
#define HUFF_MAX_BITS 15
#define HUFF_BLOCK (64 * 1024)

struct huff {
    const uint8_t *in;
    size_t in_len;
    size_t ip;     /* next unread input byte: the next bit-stream word or escape byte */
    uint32_t bits; /* the window: next bit in bit 31 */
    int extra;     /* valid bits in the window beyond the first 16 */
    int pad;       /* zero words put in the window past the input's end */
    uint8_t *out;
    size_t out_cap;
    size_t op;
    uint16_t table[1u << HUFF_MAX_BITS]; /* next 15 bits -> symbol << 4 | code length */
};

/*
 * Builds the decoding table from the 256 length bytes at h->in + h->ip. Codes are canonical: ordered by
 * length, then symbol. The lengths must describe a complete prefix code, as [MS-XCA]'s table method
 * requires: a table left short (incomplete, or all lengths zero) or overfilled (over-subscribed) is refused.
 */
static const char *
huff_build(struct huff *h)
{
    const uint8_t *lens = h->in + h->ip;
    uint16_t sorted[HUFF_SYMBOLS];
    unsigned count[HUFF_MAX_BITS + 1] = {0}, start[HUFF_MAX_BITS + 2];
    uint32_t fill = 0, kraft = 0;

    for (unsigned s = 0; s < HUFF_SYMBOLS; s++)
        count[(lens[s / 2] >> (4 * (s & 1))) & 15]++;
    for (unsigned l = 1; l <= HUFF_MAX_BITS; l++)
        kraft += count[l] << (HUFF_MAX_BITS - l);
    if (kraft != 1u << HUFF_MAX_BITS)
        return kraft > 1u << HUFF_MAX_BITS ? "Huffman code lengths over-subscribed"
                                           : "Huffman code lengths incomplete";
    start[1] = 0;
    for (unsigned l = 1; l <= HUFF_MAX_BITS; l++)
        start[l + 1] = start[l] + count[l];
    for (unsigned s = 0; s < HUFF_SYMBOLS; s++) {
        const unsigned l = (lens[s / 2] >> (4 * (s & 1))) & 15;

        if (l)
            sorted[start[l]++] = (uint16_t)s;
    }
    for (unsigned i = 0, l = 1; l <= HUFF_MAX_BITS; l++) {
        const uint32_t span = 1u << (HUFF_MAX_BITS - l);

        for (unsigned k = 0; k < count[l]; k++, i++) {
            const uint16_t e = (uint16_t)(sorted[i] << 4 | l);

            for (uint32_t j = 0; j < span; j++)
                h->table[fill + j] = e;
            fill += span;
        }
    }
    h->ip += HUFF_TABLE_BYTES;
    return NULL;
}

/*
 * The next 16-bit word of the bit stream. Past the input's end a zero word stands in, since the window
 * reads ahead of what the stream needs; a second one means the decoder wanted bits the input lacks.
 */
static inline int
huff_word(struct huff *h, uint32_t *w)
{
    if (h->in_len - h->ip >= 2) {
        *w = r2d_le16(h->in + h->ip);
        h->ip += 2;
        return 0;
    }
    h->ip = h->in_len; /* an odd last byte can be neither a word nor an escape byte */
    *w = 0;
    return ++h->pad > 1 ? -1 : 0;
}

/* Drops n used bits (n <= 15) and tops the window up to at least 16 valid bits, as [MS-XCA] 2.2.4 does. */
static inline int
huff_consume(struct huff *h, unsigned n)
{
    uint32_t w;

    h->bits <<= n;
    h->extra -= (int)n;
    if (h->extra >= 0)
        return 0;
    if (huff_word(h, &w) != 0)
        return -1;
    h->bits |= w << -h->extra;
    h->extra += 16;
    return 0;
}

/* The match of symbol 256 + sym: length escapes from the input bytes, offset bits from the window. */
static const char *
huff_match(struct huff *h, unsigned sym)
{
    const unsigned obits = sym >> 4;
    uint64_t len = sym & 15;
    size_t offset;

    if (len == 15) {
        if (h->ip >= h->in_len)
            return "input ends inside a match length";
        len = h->in[h->ip++];
        if (len == 255) {
            if (h->in_len - h->ip < 2)
                return "input ends inside a match length";
            len = r2d_le16(h->in + h->ip);
            h->ip += 2;
            if (len == 0) { /* the 16 bits could not hold it: 32 bits follow */
                if (h->in_len - h->ip < 4)
                    return "input ends inside a match length";
                len = r2d_le32(h->in + h->ip);
                h->ip += 4;
            }
            if (len < 15)
                return "match length smaller than its escape codes";
        } else {
            len += 15;
        }
    }
    len += 3;
    offset = (obits ? (size_t)(h->bits >> (32 - obits)) : 0) + ((size_t)1 << obits);
    if (huff_consume(h, obits) != 0)
        return "input ends inside the bit stream";
    if (offset > h->op)
        return "match before the start of the output";
    if (len > h->out_cap - h->op)
        return "match runs past the end of the output";
    r2d_lz_copy(h->out + h->op, offset, (size_t)len);
    h->op += (size_t)len;
    return NULL;
}

/* One block: its table, then symbols until 64 KiB (or the rest of the output) were produced. */
static const char *
huff_block(struct huff *h)
{
    const size_t left = h->out_cap - h->op;
    const size_t end = h->op + (left < HUFF_BLOCK ? left : HUFF_BLOCK);
    uint32_t w0, w1;
    const char *why;

    if (h->in_len - h->ip < HUFF_TABLE_BYTES)
        return "input ends before the output is full (no Huffman table)";
    if ((why = huff_build(h)) != NULL)
        return why;
    h->pad = 0;
    if (huff_word(h, &w0) != 0 || huff_word(h, &w1) != 0)
        return "input ends inside the bit stream";
    h->bits = w0 << 16 | w1;
    h->extra = 16;
    while (h->op < end) {
        const uint16_t e = h->table[h->bits >> (32 - HUFF_MAX_BITS)];

        if (huff_consume(h, e & 15) != 0)
            return "input ends inside the bit stream";
        if ((e >> 4) < 256)
            h->out[h->op++] = (uint8_t)(e >> 4);
        else if ((why = huff_match(h, (unsigned)(e >> 4) - 256)) != NULL)
            return why;
    }
    return NULL;
}

int
r2d_xpress_huffman_decode(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
                          struct r2d_codec_result *res)
{
    struct huff h; /* 64 KiB, mostly the decoding table: on the stack, no allocation */
    const char *why = NULL;

    h.in = in;
    h.in_len = in_len;
    h.ip = 0;
    h.out = out;
    h.out_cap = out_cap;
    h.op = 0;
    /* A block ends once 64 KiB were produced, even inside a match; the next table follows its last word. */
    while (h.op < out_cap && why == NULL)
        why = huff_block(&h);
    res->consumed = h.ip;
    res->produced = h.op;
    res->why = why;
    return why ? R2D_EFORMAT : 0;
}
