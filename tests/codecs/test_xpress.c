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
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
