/* SPDX-License-Identifier: MIT */
/* The conversion options as JSON, spelled once for the report and for r2d_options_json. */
#include <stdlib.h>
#include <string.h>

#include "digests.h"
#include "options_json.h"
#include "report.h"

static json_t *
options_json_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

/*
 * The digests as a list in a fixed order ("sha256,md5"), whatever order they were given in, so that a batch
 * run compares sets; "none" without any.
 */
static json_t *
options_json_hash(unsigned hash)
{
    char buf[64] = "";

    for (unsigned i = 0; i < R2D_DIGEST_KINDS; i++) {
        if (!(hash & r2d_digest_bit(i)))
            continue;
        if (buf[0])
            strcat(buf, ",");
        strcat(buf, r2d_digest_name(i));
    }
    return json_string(buf[0] ? buf : "none");
}

static json_t *
options_json_hex(int have, uint64_t v)
{
    return have ? r2d_json_hex(v) : json_null();
}

static const char *
options_json_dump_type(enum r2d_dump_type t)
{
    return t == R2D_DUMP_FULL ? "full" : t == R2D_DUMP_BITMAP ? "bitmap" : "auto";
}

json_t *
r2d_options_to_json(const struct r2d_options *o)
{
    json_t *j = json_object();

    if (!j)
        return NULL;
    json_object_set_new(j, "input_format", json_string(o->input_format ? o->input_format : "auto"));
    json_object_set_new(j, "vmem", o->companion ? json_string(o->companion) : json_null());
    json_object_set_new(j, "container", json_string(o->no_containers ? "none" : "auto"));
    json_object_set_new(j, "member", options_json_str(o->member));
    json_object_set_new(j, "verify_container", json_boolean(o->verify_container));
    json_object_set_new(j, "pdb", options_json_str(o->pdb_path));
    json_object_set_new(j, "symbols", options_json_str(o->isf_path));
    json_object_set_new(j, "symbol_path", options_json_str(o->symbol_path));
    json_object_set_new(j, "offline", json_boolean(o->offline));
    json_object_set_new(j, "force_symbols", json_boolean(o->force_symbols));
    json_object_set_new(j, "dtb", options_json_hex(o->have_dtb, o->dtb));
    json_object_set_new(j, "kernel_base", options_json_hex(o->have_kernel_base, o->kernel_base));
    json_object_set_new(j, "rebuild_kdbg", json_boolean(o->rebuild_kdbg));
    json_object_set_new(j, "verify_kdbg", json_boolean(o->verify_kdbg));
    json_object_set_new(j, "bugcheck", options_json_hex(o->have_bugcheck, o->bugcheck_code));
    json_object_set_new(j, "dump_type", json_string(options_json_dump_type(o->dump_type)));
    json_object_set_new(j, "force", json_boolean(o->force));
    json_object_set_new(j, "no_sync", json_boolean(o->no_sync));
    json_object_set_new(j, "hash", options_json_hash(o->hash));
    return j;
}

/*
 * A batch run compares a recorded report's options with this text, so it must be the report's spelling.
 * The text comes from plain malloc, not jansson's allocator: free() is right whatever the caller set with
 * json_set_alloc_funcs.
 */
char *
r2d_options_json(const struct r2d_options *opts)
{
    json_t *j = r2d_options_to_json(opts);
    char *text = NULL;
    size_t n;

    if (!j)
        return NULL;
    n = json_dumpb(j, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (n && (text = malloc(n + 1)) != NULL) {
        json_dumpb(j, text, n, JSON_COMPACT | JSON_PRESERVE_ORDER);
        text[n] = '\0';
    }
    json_decref(j);
    return text;
}
