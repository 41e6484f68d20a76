/* SPDX-License-Identifier: MIT */
/* The optional features of this build, from the configuration Meson wrote (r2d_config.h). */
#include <stddef.h>

#include "r2d_config.h"
#include "raw2dmp/formats.h"

static const struct {
    const char *name;
    int present;
    const char *what;
} features[] = {
    {"lzo", R2D_HAVE_LZO, "kdump pages compressed with LZO (virsh dump --format kdump-lzo)"},
    {"snappy", R2D_HAVE_SNAPPY, "kdump pages compressed with snappy (virsh dump --format kdump-snappy)"},
    {"curl", R2D_HAVE_CURL, "symbol downloads from symbol servers (srv* in the symbol path)"},
};

int
r2d_feature_describe(size_t i, const char **name, int *present, const char **what)
{
    if (i >= sizeof(features) / sizeof(features[0]))
        return R2D_EINVAL;
    *name = features[i].name;
    *present = features[i].present;
    *what = features[i].what;
    return 0;
}
