/* SPDX-License-Identifier: MIT */
/* Conversion options by name, shared by the command line and batch manifests. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_options.h"
#include "raw2dmp/convert.h"
#include "raw2dmp/formats.h"
#include "raw2dmp/parse.h"

const struct cli_option cli_options[] = {
    {"input-format", required_argument},
    {"vmem", required_argument},
    {"container", required_argument},
    {"member", required_argument},
    {"verify-container", no_argument},
    {"pdb", required_argument},
    {"symbols", required_argument},
    {"symbol-path", required_argument},
    {"offline", no_argument},
    {"force-symbols", no_argument},
    {"dtb", required_argument},
    {"kernel-base", required_argument},
    {"rebuild-kdbg", no_argument},
    {"verify-kdbg", no_argument},
    {"bugcheck", required_argument},
    {"dump-type", required_argument},
    {"hash", required_argument},
    {"force", no_argument},
    {"no-sync", no_argument},
    {NULL, 0},
};

int
cli_exit_code(int status, int interrupted)
{
    if (status == 0)
        return CLI_EXIT_OK;
    if (status == R2D_ECANCELED || interrupted)
        return CLI_EXIT_INTERRUPTED;
    if (status == R2D_EVERIFY)
        return CLI_EXIT_VERIFY;
    if (status == R2D_ESAMEFILE)
        return CLI_EXIT_USAGE; /* the files named cannot work together, whatever happens on disk */
    if (status == R2D_EINCOMPLETE)
        return CLI_EXIT_INCOMPLETE;
    return CLI_EXIT_FAILED;
}

/*
 * --hash: a comma-separated list of sha256, sha1, md5 (any case, repeats allowed), or none alone. The
 * digests match sha256sum, sha1sum and md5sum of the files, so an acquisition tool's log can be checked.
 */
static int
cli_parse_hash(const char *list, unsigned *out, char *why, size_t n)
{
    static const struct {
        const char *name;
        unsigned bit;
    } algos[] = {{"sha256", R2D_HASH_SHA256}, {"sha1", R2D_HASH_SHA1}, {"md5", R2D_HASH_MD5}};
    const char *p = list;
    unsigned set = 0;
    int none = 0;

    for (;;) {
        const size_t len = strcspn(p, ",");
        size_t i;

        for (i = 0; i < sizeof(algos) / sizeof(algos[0]); i++)
            if (strlen(algos[i].name) == len && strncasecmp(p, algos[i].name, len) == 0)
                break;
        if (i < sizeof(algos) / sizeof(algos[0]))
            set |= algos[i].bit;
        else if (len == 4 && strncasecmp(p, "none", 4) == 0)
            none = 1;
        else {
            snprintf(why, n, "expected a list of sha256, sha1, md5 (or none), not '%s'", list);
            return -1;
        }
        if (!p[len])
            break;
        p += len + 1;
    }
    if (none && set) {
        snprintf(why, n, "'none' cannot be combined with digests: '%s'", list);
        return -1;
    }
    *out = set;
    return 0;
}

/* A flag: on is 1 or 0. */
static int
cli_options_flag(struct r2d_options *o, const char *name, int on)
{
    if (strcmp(name, "offline") == 0)
        o->offline = on;
    else if (strcmp(name, "force-symbols") == 0)
        o->force_symbols = on;
    else if (strcmp(name, "rebuild-kdbg") == 0)
        o->rebuild_kdbg = on;
    else if (strcmp(name, "verify-kdbg") == 0)
        o->verify_kdbg = on;
    else if (strcmp(name, "force") == 0)
        o->force = on;
    else if (strcmp(name, "no-sync") == 0)
        o->no_sync = on;
    else if (strcmp(name, "verify-container") == 0)
        o->verify_container = on;
    else
        return -1;
    return 0;
}

/* An option with an argument; value NULL returns it to the default of r2d_options_init. */
static int
cli_options_arg(struct r2d_options *o, const char *name, const char *value, char *why, size_t n)
{
    uint64_t v = 0;
    int rc;

    if (strcmp(name, "input-format") == 0) {
        if (value && !r2d_format_known(value)) {
            snprintf(why, n, "unknown format '%s' (see --list-formats)", value);
            return -1;
        }
        o->input_format = value ? value : "auto";
    } else if (strcmp(name, "vmem") == 0) {
        o->companion = value;
    } else if (strcmp(name, "container") == 0) {
        if (value && strcmp(value, "auto") && strcmp(value, "none")) {
            snprintf(why, n, "expected auto or none, not '%s'", value);
            return -1;
        }
        o->no_containers = value && strcmp(value, "none") == 0;
    } else if (strcmp(name, "member") == 0) {
        o->member = value;
    } else if (strcmp(name, "pdb") == 0) {
        o->pdb_path = value;
    } else if (strcmp(name, "symbols") == 0) {
        o->isf_path = value;
    } else if (strcmp(name, "symbol-path") == 0) {
        o->symbol_path = value;
    } else if (strcmp(name, "dtb") == 0 || strcmp(name, "kernel-base") == 0) {
        if (value && (rc = r2d_parse_u64(value, R2D_RADIX_ADDRESS, &v)) != 0) {
            snprintf(why, n, rc == R2D_ERANGE ? "more than 64 bits: '%s'" : "not a number: '%s'", value);
            return -1;
        }
        if (name[0] == 'd') {
            o->dtb = v;
            o->have_dtb = value != NULL;
        } else {
            o->kernel_base = v;
            o->have_kernel_base = value != NULL;
        }
    } else if (strcmp(name, "bugcheck") == 0 && value && strchr(value, '_')) {
        /* No number has an underscore and every name in the table does (raw2dmp(1) lists them). */
        uint32_t code;

        if (r2d_bugcheck_code(value, &code)) {
            snprintf(why, n, "unknown bug check name '%s' (see raw2dmp(1); or give the code)", value);
            return -1;
        }
        o->bugcheck_code = code;
        o->have_bugcheck = 1;
    } else if (strcmp(name, "bugcheck") == 0) {
        if (value && (r2d_parse_u64(value, R2D_RADIX_ADDRESS, &v) || v > UINT32_MAX)) {
            snprintf(why, n, "not a 32-bit number: '%s'", value);
            return -1;
        }
        o->bugcheck_code = (uint32_t)v;
        o->have_bugcheck = value != NULL;
    } else if (strcmp(name, "dump-type") == 0) {
        if (!value || strcasecmp(value, "auto") == 0)
            o->dump_type = R2D_DUMP_AUTO;
        else if (strcasecmp(value, "full") == 0)
            o->dump_type = R2D_DUMP_FULL;
        else if (strcasecmp(value, "bitmap") == 0)
            o->dump_type = R2D_DUMP_BITMAP;
        else {
            snprintf(why, n, "expected auto, full or bitmap, not '%s'", value);
            return -1;
        }
    } else if (strcmp(name, "hash") == 0) {
        if (cli_parse_hash(value ? value : "sha256", &o->hash, why, n))
            return -1;
    } else {
        snprintf(why, n, "unknown option");
        return -1;
    }
    return 0;
}

static const struct cli_option *
cli_options_find(const char *name)
{
    for (size_t i = 0; cli_options[i].name; i++)
        if (strcmp(cli_options[i].name, name) == 0)
            return &cli_options[i];
    return NULL;
}

int
cli_option_set(struct r2d_options *opts, const char *name, const char *value, char *why, size_t why_len)
{
    const struct cli_option *def = cli_options_find(name);

    if (!def) {
        snprintf(why, why_len, "unknown option");
        return -1;
    }
    if (def->has_arg == no_argument)
        return cli_options_flag(opts, name, 1);
    return cli_options_arg(opts, name, value, why, why_len);
}

int
cli_option_set_json(struct r2d_options *opts, const char *key, json_t *v, char *why, size_t why_len)
{
    char name[32], num[24];
    const struct cli_option *def;
    size_t i;

    for (i = 0; key[i] && i < sizeof(name) - 1; i++)
        name[i] = key[i] == '_' ? '-' : key[i] == '-' ? '?' : key[i]; /* only the underscore spelling */
    name[i] = '\0';
    def = key[i] ? NULL : cli_options_find(name);
    if (!def) {
        snprintf(why, why_len, "unknown key \"%s\"", key);
        return -1;
    }
    if (def->has_arg == no_argument) {
        if (!json_is_boolean(v) && !json_is_null(v)) {
            snprintf(why, why_len, "\"%s\": expected true or false", key);
            return -1;
        }
        return cli_options_flag(opts, name, json_is_true(v));
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        /* A JSON number is decimal; on the command line that is spelled 0n (raw2dmp/parse.h). */
        snprintf(num, sizeof(num), "0n%" JSON_INTEGER_FORMAT, json_integer_value(v));
        /* A number is accepted where the command line takes one; the string form is kept by nobody. */
        if (strcmp(name, "dtb") && strcmp(name, "kernel-base") && strcmp(name, "bugcheck")) {
            snprintf(why, why_len, "\"%s\": expected a string", key);
            return -1;
        }
        if (cli_options_arg(opts, name, num, why, why_len)) {
            char inner[128];

            snprintf(inner, sizeof(inner), "%s", why);
            snprintf(why, why_len, "\"%s\": %s", key, inner);
            return -1;
        }
        return 0;
    }
    if (!json_is_string(v) && !json_is_null(v)) {
        snprintf(why, why_len, "\"%s\": expected a string or null", key);
        return -1;
    }
    if (cli_options_arg(opts, name, json_string_value(v), why, why_len)) {
        char inner[256];

        snprintf(inner, sizeof(inner), "%s", why);
        snprintf(why, why_len, "\"%s\": %s", key, inner);
        return -1;
    }
    return 0;
}

json_t *
cli_options_json(const struct r2d_options *o)
{
    char *text = r2d_options_json(o);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;

    free(text);
    return j;
}
