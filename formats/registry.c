/* SPDX-License-Identifier: MIT */
/* The one list of input formats: drives --list-formats, --input-format and automatic probing. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "format.h"
#include "raw2dmp/formats.h"

extern const struct r2d_format r2d_format_qemu_elf;
extern const struct r2d_format r2d_format_vbox;
extern const struct r2d_format r2d_format_xen;
extern const struct r2d_format r2d_format_lime;
extern const struct r2d_format r2d_format_crashdump;
extern const struct r2d_format r2d_format_kdump;
extern const struct r2d_format r2d_format_savevm;
extern const struct r2d_format r2d_format_libvirt_save;
extern const struct r2d_format r2d_format_vmware;
extern const struct r2d_format r2d_format_hiberfil;
extern const struct r2d_format r2d_format_aff4;
extern const struct r2d_format r2d_format_raw;

const struct r2d_format *const r2d_formats[] = {
    &r2d_format_qemu_elf,
    &r2d_format_vbox,
    &r2d_format_xen,
    &r2d_format_lime,
    &r2d_format_crashdump,
    &r2d_format_kdump,
    &r2d_format_savevm,
    &r2d_format_libvirt_save,
    &r2d_format_vmware,
    &r2d_format_hiberfil,
    &r2d_format_aff4,
    &r2d_format_raw, /* last: it claims anything, with the lowest confidence */
    NULL,
};

static const struct r2d_format *
format_find_in(const struct r2d_format *const *list, const char *name)
{
    for (size_t i = 0; list[i]; i++)
        if (strcasecmp(list[i]->name, name) == 0)
            return list[i];
    return NULL;
}

const struct r2d_format *
r2d_format_find(const char *name)
{
    return format_find_in(r2d_formats, name);
}

size_t
r2d_format_count(void)
{
    size_t n = 0;

    while (r2d_formats[n])
        n++;
    return n;
}

int
r2d_format_describe(size_t i, const char **name, const char **summary)
{
    if (i >= r2d_format_count())
        return R2D_EINVAL;
    *name = r2d_formats[i]->name;
    *summary = r2d_formats[i]->summary;
    return 0;
}

int
r2d_container_describe(size_t i, const char **name, const char **summary)
{
    for (size_t k = 0; r2d_containers[k]; k++)
        if (k == i) {
            *name = r2d_containers[k]->name;
            *summary = r2d_containers[k]->summary;
            return 0;
        }
    return R2D_EINVAL;
}

int
r2d_format_known(const char *name)
{
    return strcasecmp(name, "auto") == 0 || r2d_format_find(name) != NULL;
}

static int
format_choose(struct r2d_ctx *ctx, const struct r2d_format *const *list, struct r2d_image *img,
              const uint8_t *head, size_t hlen)
{
    const struct r2d_format *best = NULL, *tie = NULL;
    const char *best_why = NULL, *path = r2d_image_path(img);
    int best_conf = 0;
    char reason[256];

    for (size_t i = 0; list[i]; i++) {
        const struct r2d_format *f = list[i];
        const char *why = NULL;
        const int conf = f->probe ? f->probe(head, hlen < f->probe_bytes ? hlen : f->probe_bytes,
                                             r2d_image_file_size(img), &why)
                                  : 0;

        r2d_log(ctx, R2D_LOG_DEBUG, "probe %s: confidence %d%s%s", f->name, conf, why ? ", " : "",
                why ? why : "");
        if (conf > best_conf) {
            best = f;
            best_conf = conf;
            best_why = why;
            tie = NULL;
        } else if (conf == best_conf && conf > 0) {
            tie = f;
        }
    }
    R2D_CHECK(!best, ctx, R2D_EFORMAT, "%s: no input format recognises this file", path);
    R2D_CHECK(tie, ctx, R2D_EFORMAT, "%s: both %s and %s claim this file; choose with --input-format", path,
              best->name, tie->name);
    snprintf(reason, sizeof(reason), "auto: %s (confidence %d%s%s)", best->name, best_conf,
             best_why ? ", " : "", best_why ? best_why : "");
    r2d_log(ctx, R2D_LOG_INFO, "%s: input format %s", path, reason);
    return r2d_image_set_format(ctx, img, best->name, reason);
}

static int
format_open_list(struct r2d_ctx *ctx, const struct r2d_format *const *list, struct r2d_bytesrc *input,
                 const char *format, const struct r2d_open_hints *hints, struct r2d_image **out)
{
    const struct r2d_format *f = NULL;
    struct r2d_image *img;
    uint8_t *head = NULL;
    size_t hlen;
    int rc;

    *out = NULL;
    rc = r2d_image_new(ctx, input, &img);
    if (rc)
        return rc;
    if (hints && hints->companion && (rc = r2d_image_set_hint_companion(ctx, img, hints->companion)) != 0) {
        r2d_image_free(img);
        return rc;
    }
    if (hints)
        r2d_image_set_hint_verify(img, hints->verify_container);
    if (!format || strcasecmp(format, "auto") == 0) {
        hlen = r2d_image_file_size(img) < R2D_PROBE_MAX_BYTES ? (size_t)r2d_image_file_size(img)
                                                              : R2D_PROBE_MAX_BYTES;
        head = malloc(R2D_PROBE_MAX_BYTES);
        rc = head ? r2d_image_pread(ctx, img, 0, head, hlen, "file header")
                  : r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", r2d_image_path(img));
        if (!rc)
            rc = format_choose(ctx, list, img, head, hlen);
        free(head);
        if (!rc)
            f = format_find_in(list, r2d_image_format_name(img));
    } else if (!(f = format_find_in(list, format))) {
        rc = r2d_err(ctx, R2D_EINVAL, "unknown input format '%s' (see --list-formats)", format);
    } else {
        char why[160];

        snprintf(why, sizeof(why), "chosen with --input-format %s", format);
        rc = r2d_image_set_format(ctx, img, f->name, why);
    }
    if (!rc)
        rc = f->open(ctx, img);
    if (!rc)
        rc = r2d_image_finish(ctx, img);
    if (rc) {
        r2d_image_free(img);
        return rc;
    }
    *out = img;
    return 0;
}

int
r2d_format_open_from(struct r2d_ctx *ctx, const struct r2d_format *const *list, struct r2d_bytesrc *input,
                     const char *format, struct r2d_image **out)
{
    return format_open_list(ctx, list, input, format, NULL, out);
}

int
r2d_format_open_bytes(struct r2d_ctx *ctx, struct r2d_bytesrc *input, const char *format,
                      const struct r2d_open_hints *hints, struct r2d_image **out)
{
    static const struct r2d_open_hints defaults = {0};
    struct r2d_container_opts copts;
    int rc;

    *out = NULL;
    if (!hints)
        hints = &defaults;
    if (hints->no_containers && (hints->member || hints->verify_container)) {
        r2d_bytesrc_close(input);
        return r2d_err(ctx, R2D_EINVAL, "%s and --container none exclude each other",
                       hints->member ? "--member" : "--verify-container");
    }
    copts = (struct r2d_container_opts){.member = hints->member, .verify = hints->verify_container};
    if (!hints->no_containers && (rc = r2d_container_unwrap(ctx, &input, &copts)) != 0)
        return rc; /* the stack is closed */
    return format_open_list(ctx, r2d_formats, input, format, hints, out);
}

int
r2d_format_open_hints(struct r2d_ctx *ctx, const char *path, const char *format,
                      const struct r2d_open_hints *hints, struct r2d_image **out)
{
    struct r2d_bytesrc *input;
    const int rc = r2d_bytesrc_open_file(ctx, path, &input);

    *out = NULL;
    return rc ? rc : r2d_format_open_bytes(ctx, input, format, hints, out);
}

int
r2d_format_open(struct r2d_ctx *ctx, const char *path, const char *format, struct r2d_image **out)
{
    return r2d_format_open_hints(ctx, path, format, NULL, out);
}
