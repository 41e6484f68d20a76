/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the Xpress decoders (src/codecs): every example [MS-XCA] publishes for plain LZ77 and
 * LZ77+Huffman, decoded to the exact bytes the specification states, then hand-built streams for each
 * length escape, and hostile streams (matches before the output, lengths past it, cut flag words, cut length
 * escapes, bad Huffman tables, input that ends early) that must fail with a reason and never overrun.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raw2dmp/error.h"
#include "xpress.h"

typedef int (*decode_fn)(const uint8_t *, size_t, uint8_t *, size_t, struct r2d_codec_result *);

/*
 * [MS-XCA] section 3.1 "LZ77" (Plain LZ77), the two published examples, bytes as printed there
 * (learn.microsoft.com/en-us/openspecs/windows_protocols/ms-xca, section 3.1; also the v20240423 PDF).
 */
static const uint8_t spec_lz77_alphabet[] = {
    0x3f, 0x00, 0x00, 0x00, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b,
    0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a};
static const uint8_t spec_lz77_abc300[] = {0xff, 0xff, 0xff, 0x1f, 0x61, 0x62, 0x63,
                                           0x17, 0x00, 0x0f, 0xff, 0x26, 0x01};

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz";

static uint8_t *
abc300(void)
{
    uint8_t *p = malloc(300);

    assert_non_null(p);
    for (size_t i = 0; i < 300; i++)
        p[i] = (uint8_t)("abc"[i % 3]);
    return p;
}

/* Decodes into a buffer of exactly cap bytes followed by a guard; checks the guard is untouched. */
static int
decode_guarded(decode_fn fn, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
               struct r2d_codec_result *res)
{
    uint8_t *buf = malloc(cap + 64);
    int rc;

    assert_non_null(buf);
    memset(buf, 0xee, cap + 64);
    res->why = "unset";
    rc = fn(in, len, buf, cap, res);
    for (size_t i = cap; i < cap + 64; i++)
        assert_int_equal(buf[i], 0xee);
    assert_true(res->produced <= cap);
    assert_true(res->consumed <= len);
    if (out)
        memcpy(out, buf, cap);
    free(buf);
    if (rc == 0)
        assert_null(res->why);
    else
        assert_non_null(res->why);
    return rc;
}

static void
lz77_spec_alphabet_example_decodes(void **state)
{
    uint8_t out[26];
    struct r2d_codec_result res;

    (void)state;
    assert_int_equal(decode_guarded(r2d_xpress_lz77_decode, spec_lz77_alphabet, sizeof(spec_lz77_alphabet),
                                    out, 26, &res), 0);
    assert_memory_equal(out, alphabet, 26);
    assert_int_equal(res.produced, 26);
    assert_int_equal(res.consumed, sizeof(spec_lz77_alphabet));
}

static void
lz77_spec_abc300_example_decodes(void **state)
{
    uint8_t out[300];
    uint8_t *want = abc300();
    struct r2d_codec_result res;

    (void)state;
    assert_int_equal(decode_guarded(r2d_xpress_lz77_decode, spec_lz77_abc300, sizeof(spec_lz77_abc300), out,
                                    300, &res), 0);
    assert_memory_equal(out, want, 300);
    assert_int_equal(res.consumed, sizeof(spec_lz77_abc300));
    free(want);
}

static void
lz77_prefix_of_the_output_is_decoded_exactly(void **state)
{
    uint8_t out[300];
    uint8_t *want = abc300();
    struct r2d_codec_result res;

    (void)state;
    /* A smaller output must still hold the whole match: a match past the end is an error. */
    assert_int_equal(decode_guarded(r2d_xpress_lz77_decode, spec_lz77_abc300, sizeof(spec_lz77_abc300), out,
                                    10, &res), R2D_EFORMAT);
    assert_int_equal(res.produced, 3);
    assert_string_equal(res.why, "match runs past the end of the output");
    /* Literals are cut where the output ends. */
    assert_int_equal(decode_guarded(r2d_xpress_lz77_decode, spec_lz77_alphabet, sizeof(spec_lz77_alphabet),
                                    out, 5, &res), 0);
    assert_memory_equal(out, alphabet, 5);
    free(want);
}

/*
 * Every length escape of [MS-XCA] 2.4: two matches sharing one nibble byte (low half first), a nibble of 15
 * escaping to a byte, a byte of 255 escaping to 16 bits, and 16 bits of zero escaping to 32 bits.
 */
static void
lz77_every_length_escape_decodes(void **state)
{
    static const uint8_t in[] = {
        0xff, 0xff, 0xff, 0x7f,                   /* flags: 1 literal, 5 matches, the unused rest ones */
        'x',                                      /* literal */
        0x07, 0x00, 0x32,                         /* offset 1, escape; nibble byte: low 2 -> 2+7+3 = 12 */
        0x07, 0x00,                               /* offset 1, escape; high nibble 3 -> 13 */
        0x07, 0x00, 0xff, 0x10,                   /* new nibble byte, low 15; byte 16 -> 16+15+7+3 = 41 */
        0x07, 0x00, 0xff, 0x2c, 0x01,             /* high nibble 15; byte 255; 16-bit 300 = length - 3 */
        0x07, 0x00, 0x0f, 0xff, 0x00, 0x00, 0x70, 0x11, 0x01, 0x00, /* 15, 255, 0, then 32-bit 70000 */
    };
    const size_t total = 1 + 12 + 13 + 41 + 303 + 70003;
    uint8_t *out = malloc(total);
    struct r2d_codec_result res;

    (void)state;
    assert_non_null(out);
    assert_int_equal(decode_guarded(r2d_xpress_lz77_decode, in, sizeof(in), out, total, &res), 0);
    assert_int_equal(res.consumed, sizeof(in));
    for (size_t i = 0; i < total; i++)
        assert_int_equal(out[i], 'x');
    /* One byte less of output: the last match no longer fits. */
    assert_int_equal(decode_guarded(r2d_xpress_lz77_decode, in, sizeof(in), out, total - 1, &res), R2D_EFORMAT);
    assert_int_equal(res.produced, total - 70003);
    free(out);
}

static void
lz77_match_before_the_output_is_rejected(void **state)
{
    /* flags 1: a match first, offset 1, nothing written yet. */
    static const uint8_t in[] = {0x00, 0x00, 0x00, 0x80, 0x00, 0x00};
    static const uint8_t in2[] = {0x00, 0x00, 0x00, 0x40, 'a', 0x08, 0x00}; /* offset 2 after 1 byte */
    uint8_t out[16];
    struct r2d_codec_result res;

    (void)state;
    assert_int_equal(decode_guarded(r2d_xpress_lz77_decode, in, sizeof(in), out, 16, &res), R2D_EFORMAT);
    assert_string_equal(res.why, "match before the start of the output");
    assert_int_equal(res.produced, 0);
    assert_int_equal(decode_guarded(r2d_xpress_lz77_decode, in2, sizeof(in2), out, 16, &res), R2D_EFORMAT);
    assert_string_equal(res.why, "match before the start of the output");
    assert_int_equal(res.produced, 1);
}

static void
lz77_huge_lengths_are_rejected_without_overrun(void **state)
{
    /* 'a', then offset 1 with a 32-bit length of 0xffffffff. */
    static const uint8_t in[] = {0x00, 0x00, 0x00, 0x40, 'a', 0x07, 0x00, 0x0f, 0xff,
                                 0x00, 0x00, 0xff, 0xff, 0xff, 0xff};
    uint8_t out[4096];
    struct r2d_codec_result res;

    (void)state;
    assert_int_equal(decode_guarded(r2d_xpress_lz77_decode, in, sizeof(in), out, sizeof(out), &res),
                     R2D_EFORMAT);
    assert_string_equal(res.why, "match runs past the end of the output");
    assert_int_equal(res.produced, 1);
}

static void
lz77_escape_smaller_than_itself_is_rejected(void **state)
{
    /* 16-bit length 21 < 15 + 7: a length that did not need the escape it used. */
    static const uint8_t in[] = {0x00, 0x00, 0x00, 0x40, 'a', 0x07, 0x00, 0x0f, 0xff, 21, 0x00};
    uint8_t out[64];
    struct r2d_codec_result res;

    (void)state;
    assert_int_equal(decode_guarded(r2d_xpress_lz77_decode, in, sizeof(in), out, sizeof(out), &res),
                     R2D_EFORMAT);
    assert_string_equal(res.why, "match length smaller than its escape codes");
}

/* Every proper prefix of a stream whose output is not complete fails; none overruns. */
static void
lz77_every_truncation_fails(void **state)
{
    uint8_t out[300];
    struct r2d_codec_result res;

    (void)state;
    for (size_t n = 0; n < sizeof(spec_lz77_abc300); n++)
        assert_int_equal(decode_guarded(r2d_xpress_lz77_decode, spec_lz77_abc300, n, out, 300, &res),
                         R2D_EFORMAT);
    for (size_t n = 0; n < sizeof(spec_lz77_alphabet); n++)
        assert_int_equal(decode_guarded(r2d_xpress_lz77_decode, spec_lz77_alphabet, n, out, 26, &res),
                         R2D_EFORMAT);
    /* Zero-length input and zero-length output. */
    assert_int_equal(decode_guarded(r2d_xpress_lz77_decode, spec_lz77_alphabet, 0, out, 1, &res), R2D_EFORMAT);
    assert_string_equal(res.why, "input ends before the output is full (no flag word)");
    assert_int_equal(decode_guarded(r2d_xpress_lz77_decode, NULL, 0, out, 0, &res), 0);
    assert_int_equal(res.produced, 0);
}

/*
 * [MS-XCA] section 3.2 "LZ77+Huffman", the two published examples. Each starts with the 256-byte table of
 * code lengths, mostly zero; it is written here as its nonzero bytes at their offsets (checked against the
 * printed dump: 48 zero bytes, then 50 55 55 ... for the first), followed by the bit stream exactly as printed.
 */
struct nz {
    unsigned at;
    uint8_t byte;
};
static const struct nz spec_huff_alphabet_table[] = {
    {48, 0x50}, {49, 0x55}, {50, 0x55}, {51, 0x55}, {52, 0x55}, {53, 0x55}, {54, 0x55}, {55, 0x55},
    {56, 0x55}, {57, 0x55}, {58, 0x55}, {59, 0x45}, {60, 0x44}, {61, 0x04}, {128, 0x04}};
static const uint8_t spec_huff_alphabet_bits[] = {0xd8, 0x52, 0x3e, 0xd7, 0x94, 0x11, 0x5b, 0xe9, 0x19, 0x5f,
                                                  0xf9, 0xd6, 0x7c, 0xdf, 0x8d, 0x04, 0x00, 0x00, 0x00, 0x00};
static const struct nz spec_huff_abc300_table[] = {{48, 0x30}, {49, 0x23}, {128, 0x02}, {143, 0x20}};
static const uint8_t spec_huff_abc300_bits[] = {0xa8, 0xdc, 0x00, 0x00, 0xff, 0x26, 0x01};

/* A stream of a 256-byte length table (nonzero bytes given) and its bit stream; *len gets its size. */
static uint8_t *
huff_stream(const struct nz *nz, size_t n, const uint8_t *bits, size_t nbits, size_t *len)
{
    uint8_t *p = calloc(1, 256 + nbits);

    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[nz[i].at] = nz[i].byte;
    if (nbits)
        memcpy(p + 256, bits, nbits);
    *len = 256 + nbits;
    return p;
}

static void
huffman_spec_alphabet_example_decodes(void **state)
{
    size_t len;
    uint8_t *in = huff_stream(spec_huff_alphabet_table, 15, spec_huff_alphabet_bits, 20, &len);
    uint8_t out[26];
    struct r2d_codec_result res;

    (void)state;
    assert_int_equal(len, 276);
    assert_int_equal(decode_guarded(r2d_xpress_huffman_decode, in, len, out, 26, &res), 0);
    assert_memory_equal(out, alphabet, 26);
    assert_int_equal(res.produced, 26);
    /* Every cut before the last bit of the 26th literal fails; the spec's 4 trailing zero bytes are slack. */
    for (size_t n = 0; n < 256 + 14; n++)
        assert_int_equal(decode_guarded(r2d_xpress_huffman_decode, in, n, out, 26, &res), R2D_EFORMAT);
    free(in);
}

static void
huffman_spec_abc300_example_decodes(void **state)
{
    size_t len;
    uint8_t *in = huff_stream(spec_huff_abc300_table, 4, spec_huff_abc300_bits, 7, &len);
    uint8_t out[300];
    uint8_t *want = abc300();
    struct r2d_codec_result res;

    (void)state;
    assert_int_equal(decode_guarded(r2d_xpress_huffman_decode, in, len, out, 300, &res), 0);
    assert_memory_equal(out, want, 300);
    assert_int_equal(res.consumed, len);
    for (size_t n = 0; n < len; n++)
        assert_int_equal(decode_guarded(r2d_xpress_huffman_decode, in, n, out, 300, &res), R2D_EFORMAT);
    free(want);
    free(in);
}

/* Tables that are no prefix code: all zero, incomplete, over-subscribed. */
static void
huffman_bad_tables_are_rejected(void **state)
{
    static const struct nz one[] = {{48, 0x10}};                        /* 'a' alone, 1 bit: half a code */
    static const struct nz three[] = {{48, 0x10}, {49, 0x11}};          /* 'a' 'b' 'c' of 1 bit */
    static const struct nz none[] = {{0, 0x00}};
    static const uint8_t bits[] = {0, 0, 0, 0};
    const struct {
        const struct nz *nz;
        size_t n;
        const char *why;
    } cases[] = {{none, 1, "Huffman code lengths incomplete"},
                 {one, 1, "Huffman code lengths incomplete"},
                 {three, 2, "Huffman code lengths over-subscribed"}};
    uint8_t out[8];
    struct r2d_codec_result res;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        uint8_t *in = huff_stream(cases[i].nz, cases[i].n, bits, sizeof(bits), &len);

        assert_int_equal(decode_guarded(r2d_xpress_huffman_decode, in, len, out, 8, &res), R2D_EFORMAT);
        assert_string_equal(res.why, cases[i].why);
        assert_int_equal(res.produced, 0);
        free(in);
    }
}

/* 'a' and symbol 256 (length 3, offset 1), one bit each: 'a' is code 0, the match code 1. */
static const struct nz a_and_match[] = {{48, 0x10}, {128, 0x01}};

static void
huffman_match_before_the_output_is_rejected(void **state)
{
    static const uint8_t bits[] = {0x00, 0x80, 0x00, 0x00}; /* the match first */
    size_t len;
    uint8_t *in = huff_stream(a_and_match, 2, bits, sizeof(bits), &len);
    uint8_t out[8];
    struct r2d_codec_result res;

    (void)state;
    assert_int_equal(decode_guarded(r2d_xpress_huffman_decode, in, len, out, 8, &res), R2D_EFORMAT);
    assert_string_equal(res.why, "match before the start of the output");
    free(in);
}

static void
huffman_match_past_the_output_is_rejected(void **state)
{
    static const uint8_t bits[] = {0x00, 0x40, 0x00, 0x00}; /* 'a', then the 3-byte match */
    size_t len;
    uint8_t *in = huff_stream(a_and_match, 2, bits, sizeof(bits), &len);
    uint8_t out[8];
    struct r2d_codec_result res;

    (void)state;
    assert_int_equal(decode_guarded(r2d_xpress_huffman_decode, in, len, out, 4, &res), 0);
    assert_memory_equal(out, "aaaa", 4);
    assert_int_equal(decode_guarded(r2d_xpress_huffman_decode, in, len, out, 2, &res), R2D_EFORMAT);
    assert_string_equal(res.why, "match runs past the end of the output");
    assert_int_equal(res.produced, 1);
    free(in);
}

static void
huffman_length_escapes_are_checked(void **state)
{
    /* 'a' and symbol 271 (length escape, offset 1), one bit each; the escape bytes follow the 2 words. */
    static const struct nz a_and_long[] = {{48, 0x10}, {135, 0x10}};
    static const uint8_t small[] = {0x00, 0x40, 0x00, 0x00, 0xff, 0x0e, 0x00};         /* 14 < 15 */
    static const uint8_t huge[] = {0x00, 0x40, 0x00, 0x00, 0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t ok32[] = {0x00, 0x40, 0x00, 0x00, 0xff, 0x00, 0x00, 0x70, 0x11, 0x01, 0x00};
    uint8_t *out = malloc(70004);
    struct r2d_codec_result res;
    size_t len;
    uint8_t *in;

    (void)state;
    assert_non_null(out);
    in = huff_stream(a_and_long, 2, small, sizeof(small), &len);
    assert_int_equal(decode_guarded(r2d_xpress_huffman_decode, in, len, out, 64, &res), R2D_EFORMAT);
    assert_string_equal(res.why, "match length smaller than its escape codes");
    free(in);
    in = huff_stream(a_and_long, 2, huge, sizeof(huge), &len);
    assert_int_equal(decode_guarded(r2d_xpress_huffman_decode, in, len, out, 4096, &res), R2D_EFORMAT);
    assert_string_equal(res.why, "match runs past the end of the output");
    for (size_t n = 256 + 4; n < len; n++) /* cut inside the escape bytes */
        assert_int_equal(decode_guarded(r2d_xpress_huffman_decode, in, n, out, 4096, &res), R2D_EFORMAT);
    free(in);
    /* 32-bit length 70000 + 3 after 'a': the match runs across the 64 KiB block end, as the spec allows. */
    in = huff_stream(a_and_long, 2, ok32, sizeof(ok32), &len);
    assert_int_equal(decode_guarded(r2d_xpress_huffman_decode, in, len, out, 70004, &res), 0);
    for (size_t i = 0; i < 70004; i++)
        assert_int_equal(out[i], 'a');
    free(in);
    free(out);
}

static void
huffman_short_inputs_fail(void **state)
{
    static const uint8_t zeros[300];
    uint8_t out[4];
    struct r2d_codec_result res;

    (void)state;
    assert_int_equal(decode_guarded(r2d_xpress_huffman_decode, NULL, 0, out, 4, &res), R2D_EFORMAT);
    assert_string_equal(res.why, "input ends before the output is full (no Huffman table)");
    assert_int_equal(decode_guarded(r2d_xpress_huffman_decode, zeros, 255, out, 4, &res), R2D_EFORMAT);
    assert_int_equal(decode_guarded(r2d_xpress_huffman_decode, NULL, 0, out, 0, &res), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lz77_spec_alphabet_example_decodes),
        cmocka_unit_test(lz77_spec_abc300_example_decodes),
        cmocka_unit_test(lz77_prefix_of_the_output_is_decoded_exactly),
        cmocka_unit_test(lz77_every_length_escape_decodes),
        cmocka_unit_test(lz77_match_before_the_output_is_rejected),
        cmocka_unit_test(lz77_huge_lengths_are_rejected_without_overrun),
        cmocka_unit_test(lz77_escape_smaller_than_itself_is_rejected),
        cmocka_unit_test(lz77_every_truncation_fails),
        cmocka_unit_test(huffman_spec_alphabet_example_decodes),
        cmocka_unit_test(huffman_spec_abc300_example_decodes),
        cmocka_unit_test(huffman_bad_tables_are_rejected),
        cmocka_unit_test(huffman_match_before_the_output_is_rejected),
        cmocka_unit_test(huffman_match_past_the_output_is_rejected),
        cmocka_unit_test(huffman_length_escapes_are_checked),
        cmocka_unit_test(huffman_short_inputs_fail),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
