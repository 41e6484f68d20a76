/* SPDX-License-Identifier: MIT */
/* Status codes returned by every libraw2dmp function. */
#ifndef RAW2DMP_ERROR_H
#define RAW2DMP_ERROR_H

#include "raw2dmp/version.h"

/*
 * Every function returns 0 on success or one of these negative codes. The
 * human-readable message (file, offset, what is wrong) is in the context:
 * r2d_errmsg(ctx).
 */
enum r2d_status {
    R2D_OK = 0,
    R2D_ENOMEM = -1,     /* allocation failed */
    R2D_EIO = -2,        /* a system call failed; the message ends with strerror(errno) */
    R2D_EFORMAT = -3,    /* input is corrupt or not what it claims to be */
    R2D_ETRUNC = -4,     /* a structure runs past the end of the file */
    R2D_EHOLE = -5,      /* physical address backed by no run */
    R2D_EINVAL = -6,     /* bad argument or option */
    R2D_ENOTFOUND = -7,  /* a symbol, type, field, file or kernel was not found */
    R2D_EUNSUPPORTED = -8, /* a valid input using a feature we do not handle */
    R2D_EEXIST = -9,     /* output exists and --force was not given */
    R2D_ECANCELED = -10, /* interrupted by the user (SIGINT/SIGTERM) */
    R2D_ENOVA = -11,     /* virtual address does not translate */
    R2D_EMISMATCH = -12, /* symbols do not match the kernel (GUID/age) */
    R2D_ENETWORK = -13,  /* symbol download failed */
    R2D_EVERIFY = -14,   /* verification found differences (e.g. tampered KDBG) */
    R2D_ENOSPC = -15,    /* output device full or file size limit reached */
    R2D_ERANGE = -16,    /* a number does not fit its type (r2d_parse_u64) */
    R2D_ESAMEFILE = -17, /* a file to be written is another file of the conversion (input, output, report) */
    R2D_EINCOMPLETE = -18, /* r2d_info: the description was written, but an analysis step failed */
    R2D_EBUSY = -19,     /* a lock file is held by another process (r2d_lock_acquire) */
};

/**
 * The constant's name for a status code ("R2D_EFORMAT"), for logs and reports: a static string, never NULL
 * ("R2D_E?" for a value not in the list). The message saying what went wrong is r2d_errmsg(ctx).
 */
R2D_API const char *r2d_status_name(int status);

#endif
