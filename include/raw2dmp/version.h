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
/**
 * The source revision the library was built from: `git describe --always --dirty` of its source tree when
 * it was built ("v0.1.0-12-gabc1234", "-dirty" with uncommitted changes), or "unknown" when the sources
 * were not a git tree. A static string.
 */
R2D_API const char *r2d_version_revision(void);
/**
 * The optional features of this build, each present ("+") or not ("-"), separated by spaces:
 * "+curl +lzo -snappy" (downloads from symbol servers, LZO and snappy kdump pages). A static string; new
 * features are appended.
 */
R2D_API const char *r2d_version_features(void);

#endif
