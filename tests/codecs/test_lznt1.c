/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the LZNT1 decoder (src/codecs/lznt1.c): the example Microsoft publishes in [MS-XCA] 3.3,
 * hand-built chunks for each rule of 2.5 (uncompressed chunks, the end mark, the offset/length split moving
 * with the position in the chunk, zero padding after a short chunk), and hostile streams: each fails with
 * R2D_EFORMAT, a reason and the offset where it stopped, never writing past the output. Round trips through
 * the Python encoder (tests/fixtures/lznt1.py) are tests/codecs/test_lznt1_roundtrip.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diag.h"
#include "lznt1.h"

/*
 * [MS-XCA] v20240423 (and earlier), section 3.3 "LZNT1": the 141 characters below plus their terminating NUL
 * (142 bytes), compressed "using the standard compression engine" to the 59 bytes after it.
 */
static const char xca_text[] = "F# F# G A A G F# E D D E F# F# E E F# F# G A A G F# E D D E F# E D D E E F# D E "
                               "F# G F# D E F# G F# E D E A F# F# G A A G F# E D D E F# E D D";
static const uint8_t xca_lznt1[59] = {
    0x38, 0xb0, 0x88, 0x46, 0x23, 0x20, 0x00, 0x20, 0x47, 0x20, 0x41, 0x00, 0x10, 0xa2, 0x47, 0x01,
    0xa0, 0x45, 0x20, 0x44, 0x00, 0x08, 0x45, 0x01, 0x50, 0x79, 0x00, 0xc0, 0x45, 0x20, 0x05, 0x24,
    0x13, 0x88, 0x05, 0xb4, 0x02, 0x4a, 0x44, 0xef, 0x03, 0x58, 0x02, 0x8c, 0x09, 0x16, 0x01, 0x48,
    0x45, 0x00, 0xbe, 0x00, 0x9e, 0x00, 0x04, 0x01, 0x18, 0x90, 0x00,
};

/* Canary after the output: nothing may be written past out_cap. */
#define CANARY 0xA5

static int
decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap, struct r2d_codec_result *res)
{
    memset(out, CANARY, cap + 64);
    int rc = r2d_lznt1_decode(in, n, out, cap, res);

    for (size_t i = cap; i < cap + 64; i++)
        assert_int_equal(out[i], CANARY);
    return rc;
}

static void
xca_example_decodes(void **state)
{
    uint8_t out[4096 + 64];
    struct r2d_codec_result res;

    (void)state;
    assert_int_equal(decode(xca_lznt1, sizeof(xca_lznt1), out, 4096, &res), 0);
    assert_int_equal(res.produced, sizeof(xca_text)); /* the NUL included: 142 */
    assert_memory_equal(out, xca_text, sizeof(xca_text));
    assert_int_equal(res.consumed, sizeof(xca_lznt1));
    assert_null(res.why);
    /* Exactly the room it needs is enough; one byte less is an overrun, never a silent cut. */
    assert_int_equal(decode(xca_lznt1, sizeof(xca_lznt1), out, 142, &res), 0);
    assert_int_equal(res.produced, 142);
    assert_int_equal(decode(xca_lznt1, sizeof(xca_lznt1), out, 141, &res), R2D_EFORMAT);
    assert_string_equal(res.why, "a chunk decodes past the end of the output");
    /* Every truncation of the example fails. */
    for (size_t n = 1; n < sizeof(xca_lznt1); n++) {
        assert_int_equal(decode(xca_lznt1, n, out, 4096, &res), R2D_EFORMAT);
        assert_non_null(res.why);
        assert_true(res.consumed <= n);
    }
}

/* An uncompressed chunk of n bytes of c. */
static size_t
stored(uint8_t *p, size_t n, uint8_t c)
{
    p[0] = (uint8_t)((n - 1) & 0xff);
    p[1] = (uint8_t)(0x30 | (n - 1) >> 8);
    memset(p + 2, c, n);
    return n + 2;
}

static void
stored_chunks_and_the_end_mark(void **state)
{
    static uint8_t in[3 * 4098 + 8];
    static uint8_t out[3 * 4096 + 64];
    struct r2d_codec_result res;
    size_t n = stored(in, 4096, 'a');

    (void)state;
    n += stored(in + n, 4096, 'b');
    assert_int_equal(decode(in, n, out, sizeof(out) - 64, &res), 0);
    assert_int_equal(res.produced, 8192);
    assert_int_equal(out[4095], 'a');
    assert_int_equal(out[4096], 'b');
    /* The end mark stops decoding: what follows it is not read. */
    in[n] = in[n + 1] = 0;
    n += 2;
    n += stored(in + n, 10, 'c');
    assert_int_equal(decode(in, n, out, sizeof(out) - 64, &res), 0);
    assert_int_equal(res.produced, 8192);
    assert_int_equal(res.consumed, 2 * 4098 + 2);
    /* A full output stops at a chunk boundary; the caller sees the input that is left. */
    assert_int_equal(decode(in, 2 * 4098, out, 4096, &res), 0);
    assert_int_equal(res.produced, 4096);
    assert_int_equal(res.consumed, 4098);
    /* Empty input: nothing out, success. */
    assert_int_equal(decode(in, 0, out, 4096, &res), 0);
    assert_int_equal(res.produced, 0);
}

static void
short_chunk_is_padded_to_4096(void **state)
{
    uint8_t in[64];
    static uint8_t out[8192 + 64];
    struct r2d_codec_result res;
    size_t n = stored(in, 5, 'x');

    (void)state;
    n += stored(in + n, 3, 'y');
    assert_int_equal(decode(in, n, out, 8192, &res), 0);
    assert_int_equal(res.produced, 4096 + 3);
    assert_memory_equal(out, "xxxxx", 5);
    for (size_t i = 5; i < 4096; i++)
        assert_int_equal(out[i], 0);
    assert_memory_equal(out + 4096, "yyy", 3);
    /* The padding must fit too. */
    assert_int_equal(decode(in, n, out, 4096, &res), R2D_EFORMAT);
    assert_string_equal(res.why, "a chunk decodes past the end of the output");
}

/*
 * A compressed chunk of 16 literals 'A'..'P', then one match token. With 16 bytes out the token has 4 offset
 * bits and 12 length bits; with 17 out (after one more literal) 5 and 11: the same token means different
 * matches.
 */
static size_t
chunk_with_match(uint8_t *p, int literals, uint16_t tok)
{
    size_t n = 2, flags_at = 0;
    int i;

    for (i = 0; i < literals; i++) {
        if (i % 8 == 0) {
            flags_at = n;
            p[n++] = 0;
        }
        p[n++] = (uint8_t)('A' + i % 26);
    }
    if (i % 8 == 0) { /* the group is full: the match opens the next one */
        flags_at = n;
        p[n++] = 0;
    }
    p[flags_at] |= (uint8_t)(1u << (i % 8));
    p[n++] = (uint8_t)(tok & 0xff);
    p[n++] = (uint8_t)(tok >> 8);
    p[0] = (uint8_t)((n - 2 - 1) & 0xff);
    p[1] = (uint8_t)(0xb0 | (n - 2 - 1) >> 8);
    return n;
}

static void
offset_length_split_moves(void **state)
{
    uint8_t in[64], out[4096 + 64];
    struct r2d_codec_result res;
    /* offset field 0xF (16 back), length field 1 (4 bytes) with 4 offset bits */
    size_t n = chunk_with_match(in, 16, (uint16_t)(0xF << 12 | 1));

    (void)state;
    assert_int_equal(decode(in, n, out, 4096, &res), 0);
    assert_int_equal(res.produced, 20);
    assert_memory_equal(out + 16, "ABCD", 4);
    /* 17 out: 5 offset bits, 11 length bits; offset field 0x10 is 17 back, length field 2 is 5 bytes. */
    n = chunk_with_match(in, 17, (uint16_t)(0x10 << 11 | 2));
    assert_int_equal(decode(in, n, out, 4096, &res), 0);
    assert_int_equal(res.produced, 17 + 5);
    assert_memory_equal(out + 17, "ABCDE", 5);
    /* Token 0x8000 at 17 out: 17 back, 3 bytes (read with 4 offset bits it would be 9 back, 0x803 long). */
    n = chunk_with_match(in, 17, (uint16_t)(0x10 << 11 | 0));
    assert_int_equal(decode(in, n, out, 4096, &res), 0);
    assert_memory_equal(out + 17, "ABC", 3);
    /* Overlapping copy: offset 1 repeats the last byte. */
    n = chunk_with_match(in, 1, (uint16_t)(0 << 12 | 7));
    assert_int_equal(decode(in, n, out, 4096, &res), 0);
    assert_int_equal(res.produced, 11);
    assert_memory_equal(out, "AAAAAAAAAAA", 11);
    /* Overlapping copy with a period of 3. */
    n = chunk_with_match(in, 3, (uint16_t)(2 << 12 | 6));
    assert_int_equal(decode(in, n, out, 4096, &res), 0);
    assert_memory_equal(out, "ABCABCABCABC", 12);
}

static void
hostile_streams_fail(void **state)
{
    uint8_t in[64], out[4096 + 64];
    struct r2d_codec_result res;
    size_t n;

    (void)state;
    /* A match reaching before the chunk's first byte. */
    n = chunk_with_match(in, 4, (uint16_t)(4 << 12 | 0)); /* 5 back, 4 out */
    assert_int_equal(decode(in, n, out, 4096, &res), R2D_EFORMAT);
    assert_string_equal(res.why, "a match before the start of the chunk");
    assert_int_equal(res.consumed, n - 2);
    /* A match as the first token. */
    memcpy(in, "\x02\xb0\x01\x00\x00", 5);
    assert_int_equal(decode(in, 5, out, 4096, &res), R2D_EFORMAT);
    assert_string_equal(res.why, "a match before the start of the chunk");
    /* A match past 4096 bytes: one literal, then offset 1 with the longest length (12 bits: 4098 bytes). */
    memcpy(in, "\x03\xb0\x02\x7a\xff\x0f", 6);
    {
        static uint8_t wide[8192 + 64];

        assert_int_equal(decode(in, 6, wide, 8192, &res), R2D_EFORMAT);
        assert_string_equal(res.why, "a chunk decodes to more than 4096 bytes");
        assert_int_equal(res.produced, 1);
        /* The same match fits in 4096 when it is 4095 long: 0x0ffc. */
        in[5] = 0x0f;
        in[4] = 0xfc;
        assert_int_equal(decode(in, 6, wide, 8192, &res), 0);
        assert_int_equal(res.produced, 4096);
        assert_int_equal(wide[4095], 'z');
    }
    /* A chunk longer than the input. */
    stored(in, 20, 'q');
    assert_int_equal(decode(in, 12, out, 4096, &res), R2D_EFORMAT);
    assert_string_equal(res.why, "a chunk runs past the end of the input");
    assert_int_equal(res.consumed, 0);
    /* A header without the signature. */
    memcpy(in, "\x04\x20" "abcde", 7);
    assert_int_equal(decode(in, 7, out, 4096, &res), R2D_EFORMAT);
    assert_string_equal(res.why, "a chunk header without the signature 3");
    /* One byte where a header should be. */
    n = stored(in, 3, 'r');
    in[n++] = 0x30;
    assert_int_equal(decode(in, n, out, 4096, &res), R2D_EFORMAT);
    assert_string_equal(res.why, "a chunk header is cut short by the end of the input");
    assert_int_equal(res.consumed, 5);
    assert_int_equal(res.produced, 3);
    /* A match token cut by the chunk's end: flags say match, one byte left. */
    memcpy(in, "\x02\xb0\x02\x41\x00", 5);
    assert_int_equal(decode(in, 5, out, 4096, &res), R2D_EFORMAT);
    assert_string_equal(res.why, "a match token is cut short by the chunk's end");
    /* A stored chunk larger than the room left. */
    n = stored(in, 20, 's');
    assert_int_equal(decode(in, n, out, 19, &res), R2D_EFORMAT);
    assert_string_equal(res.why, "a chunk decodes past the end of the output");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(xca_example_decodes),
        cmocka_unit_test(stored_chunks_and_the_end_mark),
        cmocka_unit_test(short_chunk_is_padded_to_4096),
        cmocka_unit_test(offset_length_split_moves),
        cmocka_unit_test(hostile_streams_fail),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
