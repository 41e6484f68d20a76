/* SPDX-License-Identifier: MIT */
/* r2d_parse_u64: addresses and codes as WinDbg reads them (radix 16, 0x optional, 0n decimal, backtick
 * separators), counts in decimal; everything else refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "raw2dmp/parse.h"

#define SENTINEL UINT64_C(0x5a5a5a5a5a5a5a5a)

/* The value of s, asserting success. */
static uint64_t
ok(const char *s, enum r2d_radix radix)
{
    uint64_t v = SENTINEL;

    if (r2d_parse_u64(s, radix, &v) != 0)
        fail_msg("'%s' refused", s);
    return v;
}

/* The status for s, asserting failure leaves *out alone. */
static int
bad(const char *s, enum r2d_radix radix)
{
    uint64_t v = SENTINEL;
    const int rc = r2d_parse_u64(s, radix, &v);

    if (rc == 0)
        fail_msg("'%s' accepted as 0x%llx", s ? s : "(null)", (unsigned long long)v);
    assert_int_equal(v, SENTINEL);
    return rc;
}

static void
test_addresses_are_hex_with_or_without_0x(void **state)
{
    (void)state;
    assert_int_equal(ok("1ad000", R2D_RADIX_ADDRESS), 0x1ad000);
    assert_int_equal(ok("0x1ad000", R2D_RADIX_ADDRESS), 0x1ad000);
    assert_int_equal(ok("0X1AD000", R2D_RADIX_ADDRESS), 0x1ad000);
    assert_int_equal(ok("fffff80312400000", R2D_RADIX_ADDRESS), UINT64_C(0xfffff80312400000));
    assert_int_equal(ok("FFFFF80312400000", R2D_RADIX_ADDRESS), UINT64_C(0xfffff80312400000));
    assert_int_equal(ok("FfFfF80312400aBc", R2D_RADIX_ADDRESS), UINT64_C(0xfffff80312400abc));
    assert_int_equal(ok("0", R2D_RADIX_ADDRESS), 0);
    assert_int_equal(ok("0x0", R2D_RADIX_ADDRESS), 0);
    assert_int_equal(ok("10", R2D_RADIX_ADDRESS), 0x10); /* radix 16: "10" is sixteen */
    /* "0b" and "0d" are hex digits, not binary or decimal prefixes (WinDbg's are 0y and 0n). */
    assert_int_equal(ok("0b1", R2D_RADIX_ADDRESS), 0xb1);
    assert_int_equal(ok("0d10", R2D_RADIX_ADDRESS), 0xd10);
}

static void
test_a_leading_zero_is_never_octal(void **state)
{
    (void)state;
    assert_int_equal(ok("0100000", R2D_RADIX_ADDRESS), 0x100000);
    assert_int_equal(ok("0777", R2D_RADIX_ADDRESS), 0x777);
    assert_int_equal(ok("00000000000000000000000000001", R2D_RADIX_ADDRESS), 1); /* zeros do not overflow */
    assert_int_equal(bad("0o17", R2D_RADIX_ADDRESS), R2D_EINVAL);
    assert_int_equal(bad("0t17", R2D_RADIX_ADDRESS), R2D_EINVAL); /* WinDbg's octal prefix: not taken */
    assert_int_equal(bad("0y101", R2D_RADIX_ADDRESS), R2D_EINVAL); /* nor its binary one */
}

static void
test_0n_reads_decimal(void **state)
{
    (void)state;
    assert_int_equal(ok("0n1757184", R2D_RADIX_ADDRESS), 0x1ad000);
    assert_int_equal(ok("0N10", R2D_RADIX_ADDRESS), 10);
    assert_int_equal(ok("0n0", R2D_RADIX_ADDRESS), 0);
    assert_int_equal(ok("0n007", R2D_RADIX_ADDRESS), 7);
    assert_int_equal(ok("0n18446744073709551615", R2D_RADIX_ADDRESS), UINT64_MAX);
    assert_int_equal(bad("0n18446744073709551616", R2D_RADIX_ADDRESS), R2D_ERANGE);
    assert_int_equal(bad("0n", R2D_RADIX_ADDRESS), R2D_EINVAL);
    assert_int_equal(bad("0n1a", R2D_RADIX_ADDRESS), R2D_EINVAL);
    assert_int_equal(bad("0n1`000", R2D_RADIX_ADDRESS), R2D_EINVAL); /* backticks are for hex only */
    assert_int_equal(bad("0n0x10", R2D_RADIX_ADDRESS), R2D_EINVAL);
    assert_int_equal(bad("0x0n10", R2D_RADIX_ADDRESS), R2D_EINVAL);
}

static void
test_backticks_separate_digit_groups(void **state)
{
    (void)state;
    assert_int_equal(ok("fffff805`ec800000", R2D_RADIX_ADDRESS), UINT64_C(0xfffff805ec800000));
    assert_int_equal(ok("0xfffff805`ec800000", R2D_RADIX_ADDRESS), UINT64_C(0xfffff805ec800000));
    assert_int_equal(ok("1`2`3", R2D_RADIX_ADDRESS), 0x123);
    assert_int_equal(ok("ffff`ffff`ffff`ffff", R2D_RADIX_ADDRESS), UINT64_MAX);
    assert_int_equal(bad("`", R2D_RADIX_ADDRESS), R2D_EINVAL);       /* a lone backtick */
    assert_int_equal(bad("`1000", R2D_RADIX_ADDRESS), R2D_EINVAL);   /* leading */
    assert_int_equal(bad("1000`", R2D_RADIX_ADDRESS), R2D_EINVAL);   /* trailing */
    assert_int_equal(bad("10``00", R2D_RADIX_ADDRESS), R2D_EINVAL);  /* doubled */
    assert_int_equal(bad("0x`1000", R2D_RADIX_ADDRESS), R2D_EINVAL); /* right after the prefix */
    assert_int_equal(bad("0`x1000", R2D_RADIX_ADDRESS), R2D_EINVAL); /* inside the prefix */
    assert_int_equal(bad("0x`", R2D_RADIX_ADDRESS), R2D_EINVAL);
}

static void
test_uint64_max_fits_and_one_more_digit_overflows(void **state)
{
    (void)state;
    assert_int_equal(ok("ffffffffffffffff", R2D_RADIX_ADDRESS), UINT64_MAX);
    assert_int_equal(ok("0xFFFFFFFFFFFFFFFF", R2D_RADIX_ADDRESS), UINT64_MAX);
    assert_int_equal(ok("0x0000ffffffffffffffff", R2D_RADIX_ADDRESS), UINT64_MAX);
    assert_int_equal(bad("10000000000000000", R2D_RADIX_ADDRESS), R2D_ERANGE);   /* 17 digits */
    assert_int_equal(bad("0xffffffffffffffff0", R2D_RADIX_ADDRESS), R2D_ERANGE); /* one digit too many */
    assert_int_equal(bad("1`0000000`000000000", R2D_RADIX_ADDRESS), R2D_ERANGE);
    assert_int_equal(ok("18446744073709551615", R2D_RADIX_DECIMAL), UINT64_MAX);
    assert_int_equal(bad("18446744073709551616", R2D_RADIX_DECIMAL), R2D_ERANGE); /* UINT64_MAX + 1 */
    assert_int_equal(bad("184467440737095516150", R2D_RADIX_DECIMAL), R2D_ERANGE); /* one digit more */
    assert_int_equal(bad("99999999999999999999", R2D_RADIX_DECIMAL), R2D_ERANGE);
}

static void
test_whitespace_signs_and_junk_are_refused(void **state)
{
    static const char *const junk[] = {
        "", " 10", "10 ", "\t10", "1 0", "+10", "-10", "-0", "0x", "0X", "x10", "0xx10", "10h", "0x10g",
        "g", "1.5", "1k", "4G", "10\n", "0x-1", "0x+1", "\303\25110" /* e-acute, then 10 */,
    };

    (void)state;
    for (size_t i = 0; i < sizeof(junk) / sizeof(*junk); i++)
        assert_int_equal(bad(junk[i], R2D_RADIX_ADDRESS), R2D_EINVAL);
    assert_int_equal(bad(NULL, R2D_RADIX_ADDRESS), R2D_EINVAL);
}

static void
test_counts_are_decimal_digits_only(void **state)
{
    static const char *const junk[] = {
        "", " 4", "4 ", "+4", "-4", "0x4", "4`0", "0n4", "a", "4a", "1.0", "\t",
    };

    (void)state;
    assert_int_equal(ok("4", R2D_RADIX_DECIMAL), 4);
    assert_int_equal(ok("010", R2D_RADIX_DECIMAL), 10); /* never octal */
    assert_int_equal(ok("0", R2D_RADIX_DECIMAL), 0);
    assert_int_equal(ok("256", R2D_RADIX_DECIMAL), 256);
    for (size_t i = 0; i < sizeof(junk) / sizeof(*junk); i++)
        assert_int_equal(bad(junk[i], R2D_RADIX_DECIMAL), R2D_EINVAL);
    assert_int_equal(bad(NULL, R2D_RADIX_DECIMAL), R2D_EINVAL);
}

static void
test_an_unknown_radix_is_refused(void **state)
{
    (void)state;
    assert_int_equal(bad("10", (enum r2d_radix)8), R2D_EINVAL);
    assert_int_equal(bad("10", (enum r2d_radix)0), R2D_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses_are_hex_with_or_without_0x),
        cmocka_unit_test(test_a_leading_zero_is_never_octal),
        cmocka_unit_test(test_0n_reads_decimal),
        cmocka_unit_test(test_backticks_separate_digit_groups),
        cmocka_unit_test(test_uint64_max_fits_and_one_more_digit_overflows),
        cmocka_unit_test(test_whitespace_signs_and_junk_are_refused),
        cmocka_unit_test(test_counts_are_decimal_digits_only),
        cmocka_unit_test(test_an_unknown_radix_is_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
