/* SPDX-License-Identifier: MIT */
/* What this build is: the source revision it was built from and the optional features compiled in. */
#include "r2d_config.h"
#include "r2d_revision.h"

#include "raw2dmp/version.h"

const char *
r2d_version_revision(void)
{
    return R2D_REVISION;
}

const char *
r2d_version_features(void)
{
    return R2D_FEATURES;
}
