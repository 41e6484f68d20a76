/* SPDX-License-Identifier: MIT */
/* Numbers typed by people: addresses and codes read the way WinDbg reads them, counts in decimal. */
#ifndef RAW2DMP_PARSE_H
#define RAW2DMP_PARSE_H

#include <stdint.h>

#include "raw2dmp/ctx.h"

/* Which syntax a number is read in. */
enum r2d_radix {
    /*
     * An address or a code (--dtb, --kernel-base, --bugcheck), as WinDbg reads it with its default radix 16:
     * hex digits in either case, with an optional 0x or 0X prefix, or 0n or 0N followed by decimal digits.
     * In hex, a backtick may stand between two digits (fffff805`ec800000, as WinDbg prints addresses).
     * Never octal: 0100000 is 0x100000.
     */
    R2D_RADIX_ADDRESS = 16,
    /* A count (-j): decimal digits only. */
    R2D_RADIX_DECIMAL = 10,
};

/**
 * Read the whole string s as one unsigned 64-bit number in the given syntax. Leading zeros are allowed;
 * nothing else is: no whitespace, no sign, no empty value, no prefix without digits, no leading,
 * trailing or doubled backtick, no trailing characters.
 *
 * Returns 0 with the value in *out; R2D_EINVAL when s (or radix) breaks the syntax; R2D_ERANGE when the
 * value exceeds UINT64_MAX. *out is left alone on failure. s may be NULL (R2D_EINVAL).
 */
R2D_API int r2d_parse_u64(const char *s, enum r2d_radix radix, uint64_t *out);

#endif
