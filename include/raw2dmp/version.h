/* SPDX-License-Identifier: MIT */
/* The export marker every public header uses, and the library's version. */
#ifndef RAW2DMP_VERSION_H
#define RAW2DMP_VERSION_H

/*
 * The library is built with hidden visibility: only declarations marked R2D_API are exported, and
 * include/raw2dmp/raw2dmp.sym lists them (docs/api.md; a test compares the three).
 */
#if defined(__GNUC__)
#define R2D_API __attribute__((visibility("default")))
#else
#define R2D_API
#endif

/** The library's version ("0.1.0"), a static string. May differ from the headers a program was built with. */
R2D_API const char *r2d_version(void);

#endif
