/* SPDX-License-Identifier: MIT */
/* Numbers typed by people (raw2dmp/parse.h): WinDbg's address syntax and plain decimal counts. */
#include "raw2dmp/parse.h"

static int
parse_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decimal digits to the end of s: at least one, nothing else. */
static int
parse_decimal(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (!*s)
        return R2D_EINVAL;
    for (; *s; s++) {
        const unsigned d = (unsigned)(*s - '0');

        if (*s < '0' || *s > '9')
            return R2D_EINVAL;
        if (v > (UINT64_MAX - d) / 10)
            return R2D_ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Hex digits to the end of s; a backtick only between two digits, so never first, last or doubled. */
static int
parse_hex(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int after_digit = 0;

    for (; *s; s++) {
        const int d = parse_hex_digit(*s);

        if (*s == '`' && after_digit && parse_hex_digit(s[1]) >= 0) {
            after_digit = 0;
            continue;
        }
        if (d < 0)
            return R2D_EINVAL;
        if (v >> 60)
            return R2D_ERANGE;
        v = v << 4 | (unsigned)d;
        after_digit = 1;
    }
    if (!after_digit) /* nothing, or only a prefix */
        return R2D_EINVAL;
    *out = v;
    return 0;
}

int
r2d_parse_u64(const char *s, enum r2d_radix radix, uint64_t *out)
{
    if (!s)
        return R2D_EINVAL;
    if (radix == R2D_RADIX_DECIMAL)
        return parse_decimal(s, out);
    if (radix != R2D_RADIX_ADDRESS)
        return R2D_EINVAL;
    if (s[0] == '0' && (s[1] == 'n' || s[1] == 'N'))
        return parse_decimal(s + 2, out);
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        return parse_hex(s + 2, out);
    return parse_hex(s, out);
}
