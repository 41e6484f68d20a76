/* SPDX-License-Identifier: MIT */
/* The Windows 8+ KDBG encoding (docs/reference/kdbg.md section 4): the published vector, round trips,
 * rotation edges; and its 32-bit variant (section 4.1): its vector, every rotation, the count masked to 5 bits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "analysis.h"

/* docs/reference/kdbg.md section 4: synthetic vector computed from the formula. */
#define VEC_WN UINT64_C(0x5C0E7F2B91A3D4C7)
#define VEC_WA UINT64_C(0x1F2E3D4C5B6A7988)
#define VEC_B UINT64_C(0xFFFFF8047C650BA0)

static const uint64_t vec_plain[3] = {UINT64_C(0xFFFFF8047C600B20), UINT64_C(0xFFFFF8047C600B20),
                                      UINT64_C(0x000003804742444B)};
static const uint64_t vec_encoded[3] = {UINT64_C(0xDCA164CFD7CA9573), UINT64_C(0xDCA164CFD7CA9573),
                                        UINT64_C(0x2277FA8BA0C3628C)};

/* A fixed sample of values: edges and a few patterns. */
static const uint64_t samples[] = {
    0, 1, UINT64_MAX, UINT64_C(0x8000000000000000), UINT64_C(0x4742444B), UINT64_C(0xFFFFF80000000000),
    UINT64_C(0x0123456789ABCDEF), UINT64_C(0xFEDCBA9876543210), UINT64_C(0x000003804742444B),
};

static uint64_t
rotl_ref(uint64_t v, unsigned n)
{
    /* Bit by bit, so it shares no code or shortcut with the implementation. */
    for (unsigned i = 0; i < n % 64; i++)
        v = (v << 1) | (v >> 63);
    return v;
}

static uint64_t
bswap_ref(uint64_t v)
{
    uint64_t r = 0;

    for (int i = 0; i < 8; i++)
        r |= ((v >> (8 * i)) & 0xFF) << (8 * (7 - i));
    return r;
}

/* The decoding formula written out step by step, as docs/reference/kdbg.md states it. */
static uint64_t
decode_ref(uint64_t e, uint64_t wn, uint64_t wa, uint64_t b)
{
    uint64_t t = e ^ wn;

    t = rotl_ref(t, (unsigned)(wn & 63));
    t ^= b;
    t = bswap_ref(t);
    return t ^ wa;
}

static void
published_vector_decodes_to_the_plain_header(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(r2d_kdbg_decode_u64(vec_encoded[i], VEC_WN, VEC_WA, VEC_B), vec_plain[i]);
}

static void
published_plain_header_encodes_to_the_vector(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(r2d_kdbg_encode_u64(vec_plain[i], VEC_WN, VEC_WA, VEC_B), vec_encoded[i]);
}

static void
owner_tag_survives_with_only_the_high_half_of_b(void **state)
{
    /* docs/reference/kdbg.md section 4: the low dword of a decoded qword depends only on the high dword
     * of B. */
    const uint64_t partial = VEC_B & UINT64_C(0xFFFFFFFF00000000);

    (void)state;
    assert_int_equal(r2d_kdbg_decode_u64(vec_encoded[2], VEC_WN, VEC_WA, partial) & 0xFFFFFFFF, 0x4742444B);
}

/* Round trips and agreement with the reference for every rotation 0..63 (wn & 63), including 0 and 63. */
static void
every_rotation_round_trips_and_matches_the_reference(void **state)
{
    (void)state;
    for (unsigned r = 0; r < 64; r++) {
        const uint64_t wn = (UINT64_C(0xA5A5A5A5A5A5A500) & ~UINT64_C(63)) | r;

        for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
            const uint64_t e = r2d_kdbg_encode_u64(samples[i], wn, VEC_WA, VEC_B);

            assert_int_equal(r2d_kdbg_decode_u64(e, wn, VEC_WA, VEC_B), samples[i]);
            assert_int_equal(r2d_kdbg_decode_u64(samples[i], wn, VEC_WA, VEC_B),
                             decode_ref(samples[i], wn, VEC_WA, VEC_B));
        }
    }
}

static void
rotation_by_zero_is_identity_rotation(void **state)
{
    /* wn & 63 == 0: no rotation at all (a shift by 64 would be undefined in C). */
    const uint64_t wn = UINT64_C(0x1234567890ABCD40);
    const uint64_t e = UINT64_C(0x0123456789ABCDEF);

    (void)state;
    assert_int_equal(r2d_kdbg_decode_u64(e, wn, 0, 0), bswap_ref(e ^ wn));
    assert_int_equal(r2d_kdbg_encode_u64(bswap_ref(e ^ wn), wn, 0, 0), e);
}

static void
rotation_by_63_moves_bit_0_to_bit_63(void **state)
{
    /* With wn & 63 == 63, ROL 63 is ROR 1: e ^ wn == 1 rotates to bit 63, which bswap moves to bit 7. */
    const uint64_t wn = UINT64_C(0x000000000000003F);
    const uint64_t e = 1 ^ wn;

    (void)state;
    assert_int_equal(r2d_kdbg_decode_u64(e, wn, 0, 0), UINT64_C(0x80));
    assert_int_equal(r2d_kdbg_encode_u64(UINT64_C(0x80), wn, 0, 0), e);
}

static void
all_zero_keys_reduce_to_a_byte_swap(void **state)
{
    (void)state;
    assert_int_equal(r2d_kdbg_decode_u64(UINT64_C(0x0102030405060708), 0, 0, 0),
                     UINT64_C(0x0807060504030201));
}

/* docs/reference/kdbg.md section 4.1: synthetic x86 vector computed from the 32-bit formula. */
#define VEC32_WN 0x91A3D4C7u
#define VEC32_WA 0x5B6A7988u
#define VEC32_B 0x82B4F2A0u

static const uint32_t vec32_plain[6] = {0x82B41C18u, 0x82B41C18u, 0, 0, 0x4742444Bu, 0x00000360u};
static const uint32_t vec32_encoded[6] = {0x6386769Fu, 0x6386769Fu, 0x67B64FF6u, 0x67B64FF6u, 0xE920C772u,
                                          0x677649F6u};

static uint32_t
rotl32_ref(uint32_t v, unsigned n)
{
    for (unsigned i = 0; i < n % 32; i++)
        v = (v << 1) | (v >> 31);
    return v;
}

static uint32_t
bswap32_ref(uint32_t v)
{
    return (v >> 24) | ((v >> 8) & 0xFF00u) | ((v << 8) & 0xFF0000u) | (v << 24);
}

/* KiDecodePointer's steps on one dword, as docs/reference/kdbg.md section 4.1 states them. */
static uint32_t
decode32_ref(uint32_t e, uint32_t wn, uint32_t wa, uint32_t b)
{
    uint32_t t = rotl32_ref(e ^ wn, wn & 31);

    return bswap32_ref(t ^ b) ^ wa;
}

static void
x86_vector_decodes_and_encodes(void **state)
{
    (void)state;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(r2d_kdbg_decode_u32(vec32_encoded[i], VEC32_WN, VEC32_WA, VEC32_B), vec32_plain[i]);
        assert_int_equal(r2d_kdbg_encode_u32(vec32_plain[i], VEC32_WN, VEC32_WA, VEC32_B), vec32_encoded[i]);
        assert_int_equal(decode32_ref(vec32_encoded[i], VEC32_WN, VEC32_WA, VEC32_B), vec32_plain[i]);
    }
}

static void
x86_every_rotation_round_trips_and_masks_to_5_bits(void **state)
{
    static const uint32_t s32[] = {0, 1, 0xFFFFFFFFu, 0x80000000u, 0x4742444Bu, 0x82B41C18u, 0x01234567u};

    (void)state;
    for (unsigned r = 0; r < 64; r++) {
        /* bit 5 set for r >= 32: RotateLeft32 masks the count, so r and r - 32 rotate alike */
        const uint32_t wn = 0xA5A5A500u | r;

        for (size_t i = 0; i < sizeof(s32) / sizeof(s32[0]); i++) {
            const uint32_t e = r2d_kdbg_encode_u32(s32[i], wn, VEC32_WA, VEC32_B);

            assert_int_equal(r2d_kdbg_decode_u32(e, wn, VEC32_WA, VEC32_B), s32[i]);
            assert_int_equal(r2d_kdbg_decode_u32(s32[i], wn, VEC32_WA, VEC32_B),
                             decode32_ref(s32[i], wn, VEC32_WA, VEC32_B));
        }
    }
}

static void
x86_is_not_the_x64_formula_on_dwords(void **state)
{
    /* The 64-bit decoding of the two header dwords taken as one qword does not give the x86 plain values. */
    const uint64_t q = (uint64_t)vec32_encoded[5] << 32 | vec32_encoded[4];

    (void)state;
    assert_int_not_equal(r2d_kdbg_decode_u64(q, VEC32_WN, VEC32_WA, VEC32_B) & 0xFFFFFFFFu, 0x4742444Bu);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(published_vector_decodes_to_the_plain_header),
        cmocka_unit_test(published_plain_header_encodes_to_the_vector),
        cmocka_unit_test(owner_tag_survives_with_only_the_high_half_of_b),
        cmocka_unit_test(every_rotation_round_trips_and_matches_the_reference),
        cmocka_unit_test(rotation_by_zero_is_identity_rotation),
        cmocka_unit_test(rotation_by_63_moves_bit_0_to_bit_63),
        cmocka_unit_test(all_zero_keys_reduce_to_a_byte_swap),
        cmocka_unit_test(x86_vector_decodes_and_encodes),
        cmocka_unit_test(x86_every_rotation_round_trips_and_masks_to_5_bits),
        cmocka_unit_test(x86_is_not_the_x64_formula_on_dwords),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
