/* SPDX-License-Identifier: MIT */
/*
 * Xpress "plain LZ77" decoder ([MS-XCA] 2.4). The stream is a sequence of 32-bit little-endian flag words,
 * each followed by the 32 items it describes, most significant flag first: a 0 flag is one literal byte, a 1
 * flag a 16-bit match token (offset - 1 in the high 13 bits, length - 3 in the low 3). A length field of 7
 * escapes to a 4-bit nibble (two matches share one byte, low half first), then a byte, then a 16-bit and a
 * 32-bit value that hold the whole length minus 3.
 */
#include "xpress.h"

#include "bytes.h"
#include "raw2dmp/error.h"
#include "lz_copy.h"

#define LZ77_NO_NIBBLE SIZE_MAX /* no half-used length byte waiting for its high nibble */

struct lz77 {
    const uint8_t *in;
    size_t in_len;
    size_t ip;     /* next input byte */
    size_t nibble; /* input offset of the byte whose high nibble the next escaped length uses */
    uint8_t *out;
    size_t out_cap;
    size_t op; /* bytes produced */
};

static int
lz77_fail(const struct lz77 *s, struct r2d_codec_result *res, const char *why)
{
    res->consumed = s->ip;
    res->produced = s->op;
    res->why = why;
    return R2D_EFORMAT;
}

/* The escaped part of a match length (token length field 7): on success *len is the whole length. */
static const char *
lz77_long_length(struct lz77 *s, uint64_t *len)
{
    uint64_t n;

    if (s->nibble == LZ77_NO_NIBBLE) {
        if (s->ip >= s->in_len)
            return "input ends inside a match length";
        n = s->in[s->ip] & 15;
        s->nibble = s->ip++;
    } else {
        n = s->in[s->nibble] >> 4;
        s->nibble = LZ77_NO_NIBBLE;
    }
    if (n == 15) {
        if (s->ip >= s->in_len)
            return "input ends inside a match length";
        n = s->in[s->ip++];
        if (n == 255) {
            if (s->in_len - s->ip < 2)
                return "input ends inside a match length";
            n = r2d_le16(s->in + s->ip);
            s->ip += 2;
            if (n == 0) { /* the 16 bits could not hold it: 32 bits follow */
                if (s->in_len - s->ip < 4)
                    return "input ends inside a match length";
                n = r2d_le32(s->in + s->ip);
                s->ip += 4;
            }
            if (n < 15 + 7)
                return "match length smaller than its escape codes";
            n -= 15 + 7;
        }
        n += 15;
    }
    *len = n + 7 + 3;
    return NULL;
}

/* One match token at s->ip (the caller checked two bytes are there). */
static const char *
lz77_match(struct lz77 *s)
{
    const uint16_t token = r2d_le16(s->in + s->ip);
    const size_t offset = (size_t)(token >> 3) + 1;
    uint64_t len = (uint64_t)(token & 7) + 3;
    const char *why;

    s->ip += 2;
    if ((token & 7) == 7 && (why = lz77_long_length(s, &len)) != NULL)
        return why;
    if (offset > s->op)
        return "match before the start of the output";
    if (len > s->out_cap - s->op)
        return "match runs past the end of the output";
    r2d_lz_copy(s->out + s->op, offset, (size_t)len);
    s->op += (size_t)len;
    return NULL;
}

/* A run of n literal flags: n bytes straight from the input, cut at the end of the output. */
static const char *
lz77_literals(struct lz77 *s, unsigned n)
{
    size_t take = n;

    if (take > s->out_cap - s->op)
        take = s->out_cap - s->op;
    if (take > s->in_len - s->ip)
        return "input ends inside a run of literals";
    memcpy(s->out + s->op, s->in + s->ip, take);
    s->ip += take;
    s->op += take;
    return NULL;
}

int
r2d_xpress_lz77_decode(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
                       struct r2d_codec_result *res)
{
    struct lz77 s = {in, in_len, 0, LZ77_NO_NIBBLE, out, out_cap, 0};
    uint32_t flags = 0; /* the flags still to use, the next one in bit 31 */
    unsigned nflags = 0;
    const char *why = NULL;

    while (s.op < s.out_cap && why == NULL) {
        if (nflags == 0) {
            if (s.in_len - s.ip < 4)
                return lz77_fail(&s, res, "input ends before the output is full (no flag word)");
            flags = r2d_le32(s.in + s.ip);
            s.ip += 4;
            nflags = 32;
        }
        if (flags & UINT32_C(0x80000000)) {
            if (s.in_len - s.ip < 2)
                return lz77_fail(&s, res, "input ends before the output is full (match token cut)");
            why = lz77_match(&s);
            flags <<= 1;
            nflags--;
        } else {
            /* A run of literals at once: the zero flags up to the next match or the word's end. */
            unsigned run = flags ? (unsigned)__builtin_clz(flags) : 32;

            run = run < nflags ? run : nflags;
            why = lz77_literals(&s, run);
            flags = run < 32 ? flags << run : 0;
            nflags -= run;
        }
    }
    if (why != NULL)
        return lz77_fail(&s, res, why);
    res->consumed = s.ip;
    res->produced = s.op;
    res->why = NULL;
    return 0;
}
