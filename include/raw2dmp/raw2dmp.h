/* SPDX-License-Identifier: MIT */
/* libraw2dmp: memory images of Windows machines to Windows crash dumps. One include for the whole API. */
#ifndef RAW2DMP_RAW2DMP_H
#define RAW2DMP_RAW2DMP_H

#include "raw2dmp/version.h"
#include "raw2dmp/error.h"
#include "raw2dmp/ctx.h"
#include "raw2dmp/types.h"
#include "raw2dmp/formats.h"
#include "raw2dmp/convert.h"
#include "raw2dmp/files.h"
#include "raw2dmp/parse.h"
#include "raw2dmp/lockfile.h"

#endif
