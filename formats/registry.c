/* SPDX-License-Identifier: MIT */
/* The one list of input formats: drives --list-formats, --input-format and automatic probing. */
#include <string.h>

#include "raw2dmp/format.h"

extern const struct r2d_format r2d_format_qemu_elf;
extern const struct r2d_format r2d_format_lime;
extern const struct r2d_format r2d_format_crashdump;
extern const struct r2d_format r2d_format_kdump;
extern const struct r2d_format r2d_format_savevm;
extern const struct r2d_format r2d_format_libvirt_save;
extern const struct r2d_format r2d_format_raw;

const struct r2d_format *const r2d_formats[] = {
    &r2d_format_qemu_elf,
    &r2d_format_lime,
    &r2d_format_crashdump,
    &r2d_format_kdump,
    &r2d_format_savevm,
    &r2d_format_libvirt_save,
    &r2d_format_raw, /* last: it claims anything, with the lowest confidence */
    NULL,
};

const struct r2d_format *
r2d_format_find(const char *name)
{
    for (size_t i = 0; r2d_formats[i]; i++)
        if (strcmp(r2d_formats[i]->name, name) == 0)
            return r2d_formats[i];
    return NULL;
}
