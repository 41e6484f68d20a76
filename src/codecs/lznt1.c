/* SPDX-License-Identifier: MIT */
/*
 * LZNT1 ([MS-XCA] 2.5). Strict where Windows is lenient: RtlDecompressBuffer stops quietly when a chunk
 * overruns the output and ignores a bad signature, but a forensic reader must not turn damage into plausible
 * bytes, so every such case is an error here. Where Windows defines the result (a short chunk followed by
 * another is padded with zeros to the next 4096-byte boundary) we do the same.
 * Facts and their sources: docs/formats/zdmp.md "LZNT1".
 */
#include <string.h>

#include "bytes.h"
#include "diag.h"
#include "lznt1.h"

#define LZNT1_CHUNK 4096u
#define LZNT1_SIZE_MASK 0x0fffu
#define LZNT1_COMPRESSED 0x8000u
#define LZNT1_SIG_SHIFT 12
#define LZNT1_SIG 3u

/*
 * Copy a match. When the offset is shorter than the length the source overlaps the bytes being written: the
 * offset's worth already there repeats, so it is copied in pieces that double as the written part grows.
 */
static void
lznt1_copy(uint8_t *dst, size_t disp, size_t len)
{
    if (disp >= len) {
        memcpy(dst, dst - disp, len);
        return;
    }
    if (disp == 1) {
        memset(dst, dst[-1], len);
        return;
    }
    while (len > 0) {
        const size_t k = disp < len ? disp : len;

        memcpy(dst, dst - disp, k);
        dst += k;
        len -= k;
        disp += k; /* the pattern also repeats at twice the offset */
    }
}

/* A compressed chunk's bytes and its room in the output. */
struct lznt1_chunk {
    const uint8_t *src;
    size_t n;    /* compressed bytes */
    uint8_t *dst;
    size_t cap;  /* output room: 4096, or less where the caller's buffer ends */
    size_t used; /* input used (also on failure: where it stopped) */
    size_t done; /* output produced */
};

static const char *
lznt1_overrun(size_t cap)
{
    return cap < LZNT1_CHUNK ? "a chunk decodes past the end of the output"
                             : "a chunk decodes to more than 4096 bytes";
}

/*
 * A compressed chunk: flag bytes, each followed by up to eight tokens (bit 0 first). A match token's low
 * lbits bits are its length - 3, the rest its offset - 1; the offset needs enough bits to reach back to the
 * chunk's first byte (at least 4), so lbits falls by one each time the bytes out pass 16, 32, ... 2048.
 * Locals rather than the struct inside the loop: stores through dst may alias the struct's fields.
 */
static const char *
lznt1_chunk_decode(struct lznt1_chunk *c)
{
    const uint8_t *const src = c->src;
    uint8_t *const dst = c->dst;
    const size_t n = c->n, cap = c->cap;
    size_t used = 0, done = 0, limit = 16;
    unsigned lbits = 12;
    const char *why = NULL;

    while (used < n && !why) {
        unsigned flags = src[used++];

        /* Eight literals with room for them: the common case of data that did not compress. */
        if (flags == 0 && n - used >= 8 && cap - done >= 8) {
            memcpy(dst + done, src + used, 8);
            used += 8;
            done += 8;
            continue;
        }
        for (int bit = 0; bit < 8 && used < n; bit++, flags >>= 1) {
            size_t len, disp;
            uint32_t tok;

            if (!(flags & 1)) {
                if (done == cap) {
                    why = lznt1_overrun(cap);
                    break;
                }
                dst[done++] = src[used++];
                continue;
            }
            if (n - used < 2) {
                why = "a match token is cut short by the chunk's end";
                break;
            }
            while (done > limit) {
                lbits--;
                limit <<= 1;
            }
            tok = r2d_le16(src + used);
            len = (tok & ((1u << lbits) - 1)) + 3;
            disp = (tok >> lbits) + 1;
            if (disp > done) {
                why = "a match before the start of the chunk";
                break;
            }
            if (len > cap - done) {
                why = lznt1_overrun(cap);
                break;
            }
            /*
             * Short matches are most of them: a fixed 16-byte copy the compiler inlines. The bytes past the
             * match stay within the chunk's room and are overwritten by what follows (or lie past produced).
             */
            if (len <= 16 && disp >= 16 && cap - done >= 16)
                memcpy(dst + done, dst + done - disp, 16);
            else
                lznt1_copy(dst + done, disp, len);
            used += 2;
            done += len;
        }
    }
    c->used = used;
    c->done = done;
    return why;
}

static int
lznt1_fail(struct r2d_codec_result *res, size_t at, const char *why)
{
    res->consumed = at;
    res->why = why;
    return R2D_EFORMAT;
}

/* The chunk at in + pos with header hdr, into out at res->produced. */
static int
lznt1_one(const uint8_t *in, size_t in_len, size_t pos, unsigned hdr, uint8_t *out, size_t out_cap,
          struct r2d_codec_result *res)
{
    const size_t size = (hdr & LZNT1_SIZE_MASK) + 1;
    const size_t pad = (LZNT1_CHUNK - res->produced % LZNT1_CHUNK) % LZNT1_CHUNK;
    struct lznt1_chunk c = {.src = in + pos + 2, .n = size};
    const char *why;

    if (((hdr >> LZNT1_SIG_SHIFT) & 7) != LZNT1_SIG)
        return lznt1_fail(res, pos, "a chunk header without the signature 3");
    if (size > in_len - pos - 2)
        return lznt1_fail(res, pos, "a chunk runs past the end of the input");
    /* The previous chunk was short: Windows fills the rest of its 4096 bytes with zeros. */
    if (pad > out_cap - res->produced)
        return lznt1_fail(res, pos, "a chunk decodes past the end of the output");
    memset(out + res->produced, 0, pad);
    res->produced += pad;
    c.dst = out + res->produced;
    c.cap = out_cap - res->produced < LZNT1_CHUNK ? out_cap - res->produced : LZNT1_CHUNK;
    if (!(hdr & LZNT1_COMPRESSED)) {
        if (size > c.cap)
            return lznt1_fail(res, pos, lznt1_overrun(c.cap));
        memcpy(c.dst, c.src, size);
        res->produced += size;
        return 0;
    }
    why = lznt1_chunk_decode(&c);
    res->produced += c.done;
    return why ? lznt1_fail(res, pos + 2 + c.used, why) : 0;
}

int
r2d_lznt1_decode(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap, struct r2d_codec_result *res)
{
    size_t pos = 0;

    *res = (struct r2d_codec_result){0};
    while (pos < in_len) {
        unsigned hdr;
        int rc;

        if (in_len - pos < 2)
            return lznt1_fail(res, pos, "a chunk header is cut short by the end of the input");
        hdr = r2d_le16(in + pos);
        if (hdr == 0) {
            pos += 2; /* the end mark */
            break;
        }
        if (res->produced == out_cap)
            break; /* full at a chunk boundary: the caller decides whether more input is an error */
        if ((rc = lznt1_one(in, in_len, pos, hdr, out, out_cap, res)) != 0)
            return rc;
        pos += 2 + (hdr & LZNT1_SIZE_MASK) + 1;
    }
    res->consumed = pos;
    return 0;
}
