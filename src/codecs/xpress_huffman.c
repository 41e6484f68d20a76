/* SPDX-License-Identifier: MIT */
/*
 * Xpress "LZ77+Huffman" decoder ([MS-XCA] 2.2). The output comes in blocks of 64 KiB, each introduced by 256
 * bytes holding the 4-bit code lengths of 512 symbols (even symbol in the low nibble). Symbols 0-255 are
 * literals; 256 + 16 * b + l is a match whose offset has its top bit at b (the b bits below it follow in the
 * bit stream) and whose length is l + 3, l = 15 escaping to a byte, then a 16-bit and a 32-bit length. The
 * bit stream is read as 16-bit little-endian words, most significant bit first. The specification's decoder
 * keeps a 32-bit window that always holds at least the next 16 bits and takes escape bytes from just past
 * the words in it; this one reads further ahead (a 64-bit window, fewer refills) and, at an escape, gives
 * back the words the specification's decoder would not have read yet, so the byte positions agree.
 */
#include "xpress.h"

#include "bytes.h"
#include "raw2dmp/error.h"
#include "lz_copy.h"

#define HUFF_SYMBOLS 512
#define HUFF_TABLE_BYTES 256
#define HUFF_MAX_BITS 15
#define HUFF_BLOCK (64 * 1024)
/*
 * Two-level decoding table, small enough for the L1 cache: the next 11 bits index the first level; a code of
 * up to 11 bits is answered there (symbol << 4 | length), a longer one points (HUFF_SUB | start) to a
 * 16-entry second-level table indexed by the 4 bits after them. At most 512 codes are longer than 11 bits.
 */
#define HUFF_ROOT_BITS 11
#define HUFF_SUB_BITS (HUFF_MAX_BITS - HUFF_ROOT_BITS)
#define HUFF_SUB 0x8000u
#define HUFF_SUB_ENTRIES (HUFF_SYMBOLS << HUFF_SUB_BITS)

struct huff {
    const uint8_t *in;
    size_t in_len;
    size_t ip;     /* next unread input byte: the next bit-stream word or escape byte */
    uint64_t bits; /* the window: next bit in bit 63, zeros below the valid ones */
    unsigned avail; /* valid bits in the window */
    uint8_t *out;
    size_t out_cap;
    size_t op;
    uint16_t root[1u << HUFF_ROOT_BITS];
    uint16_t sub[HUFF_SUB_ENTRIES];
};

/*
 * Fills the two-level table from the symbols sorted by (length, symbol) and the count of each length. fill
 * walks the 15-bit code space: canonical codes take consecutive ranges of it, shortest first, so the long
 * codes sharing an 11-bit prefix are adjacent and their second-level table is opened at the first of them.
 */
static void
huff_fill(struct huff *h, const uint16_t *sorted, const unsigned *count)
{
    uint32_t fill = 0, nsub = 0;

    for (unsigned i = 0, l = 1; l <= HUFF_MAX_BITS; l++) {
        const uint32_t span = 1u << (HUFF_MAX_BITS - l);

        for (unsigned k = 0; k < count[l]; k++, i++, fill += span) {
            const uint16_t e = (uint16_t)(sorted[i] << 4 | l);
            const uint32_t r = fill >> HUFF_SUB_BITS;

            if (l <= HUFF_ROOT_BITS) {
                for (uint32_t j = 0; j < span >> HUFF_SUB_BITS; j++)
                    h->root[r + j] = e;
                continue;
            }
            if ((fill & ((1u << HUFF_SUB_BITS) - 1)) == 0) { /* the first code under this prefix */
                h->root[r] = (uint16_t)(HUFF_SUB | nsub);
                nsub += 1u << HUFF_SUB_BITS;
            }
            for (uint32_t j = 0; j < span; j++)
                h->sub[(h->root[r] & ~HUFF_SUB) + (fill & ((1u << HUFF_SUB_BITS) - 1)) + j] = e;
        }
    }
}

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
    uint32_t kraft = 0;

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
    huff_fill(h, sorted, count);
    h->ip += HUFF_TABLE_BYTES;
    return NULL;
}

/* Tops the window up with whole 16-bit words while they fit and the input has them. */
static inline void
huff_refill(struct huff *h)
{
    while (h->avail <= 48 && h->in_len - h->ip >= 2) {
        h->bits |= (uint64_t)r2d_le16(h->in + h->ip) << (48 - h->avail);
        h->avail += 16;
        h->ip += 2;
    }
}

/* Drops n used bits; fails when the input has fewer. */
static inline int
huff_consume(struct huff *h, unsigned n)
{
    if (n > h->avail)
        return -1;
    h->bits <<= n;
    h->avail -= n;
    return 0;
}

/*
 * Moves h->ip back to where the specification's decoder reads the next escape byte or block: just past the
 * words its 32-bit window holds, 16 to 31 bits after a symbol. Any further words go back to the input.
 */
static void
huff_align(struct huff *h)
{
    unsigned back;

    if (h->avail < 16)
        huff_refill(h);
    if (h->avail < 16) { /* the input ran out: the specification's window is padded past its end */
        h->ip = h->in_len;
        return;
    }
    back = (h->avail - 16) / 16;
    h->ip -= 2 * (size_t)back;
    h->avail -= 16 * back;
    h->bits &= ~(UINT64_MAX >> h->avail);
}

/* The match of symbol 256 + sym: length escapes from the input bytes, offset bits from the window. */
static const char *
huff_match(struct huff *h, unsigned sym)
{
    const unsigned obits = sym >> 4;
    uint64_t len = sym & 15;
    size_t offset;

    if (len == 15) {
        huff_align(h);
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
    if (h->avail < obits)
        huff_refill(h);
    offset = (obits ? (size_t)(h->bits >> (64 - obits)) : 0) + ((size_t)1 << obits);
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
    const char *why;

    if (h->in_len - h->ip < HUFF_TABLE_BYTES)
        return "input ends before the output is full (no Huffman table)";
    if ((why = huff_build(h)) != NULL)
        return why;
    h->bits = 0;
    h->avail = 0;
    while (h->op < end) {
        uint16_t e;

        if (h->avail < 32)
            huff_refill(h);
        e = h->root[h->bits >> (64 - HUFF_ROOT_BITS)];
        if (e & HUFF_SUB)
            e = h->sub[(e & ~HUFF_SUB) + ((h->bits >> (64 - HUFF_MAX_BITS)) & ((1u << HUFF_SUB_BITS) - 1))];
        if (huff_consume(h, e & 15) != 0)
            return "input ends inside the bit stream";
        if ((e >> 4) < 256)
            h->out[h->op++] = (uint8_t)(e >> 4);
        else if ((why = huff_match(h, (unsigned)(e >> 4) - 256)) != NULL)
            return why;
    }
    huff_align(h); /* the next block's table follows the words the specification's window holds */
    return NULL;
}

int
r2d_xpress_huffman_decode(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
                          struct r2d_codec_result *res)
{
    struct huff h; /* 20 KiB, mostly the decoding table: on the stack, no allocation */
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
