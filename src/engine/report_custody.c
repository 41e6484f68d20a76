/* SPDX-License-Identifier: MIT */
/* The chain-of-custody parts of the report: tool, invocation, file identities (see report_custody.h). */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "digests.h"
#include "report_custody.h"

json_t *
r2d_report_utc(time_t t, long nsec)
{
    char buf[48], frac[24] = "";
    struct tm tm;

    if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm))
        return json_null();
    if (nsec >= 0)
        snprintf(frac, sizeof(frac), ".%09ld", nsec % 1000000000L);
    return json_sprintf("%s%sZ", buf, frac);
}

/* "+curl +lzo -snappy" as {"curl": true, "lzo": true, "snappy": false}. */
static json_t *
report_features(const char *list)
{
    json_t *o = json_object();

    while (*list) {
        const size_t n = strcspn(list, " ");

        if (n > 1 && (list[0] == '+' || list[0] == '-'))
            json_object_setn_new(o, list + 1, n - 1, json_boolean(list[0] == '+'));
        list += n;
        list += strspn(list, " ");
    }
    return o;
}

json_t *
r2d_report_tool(void)
{
    json_t *t = json_object();

    json_object_set_new(t, "name", json_string("raw2dmp"));
    json_object_set_new(t, "version", json_string(r2d_version()));
    json_object_set_new(t, "revision", json_string(r2d_version_revision()));
    json_object_set_new(t, "features", report_features(r2d_version_features()));
    /* The digests are libcrypto's: which one computed them is part of the record. */
    json_object_set_new(t, "libcrypto", json_string(OpenSSL_version(OPENSSL_VERSION)));
    return t;
}

/*
 * A string that may not be UTF-8 (a Latin-1 file name on the command line): as it is when valid, else with
 * every byte from 0x80 up written as "\xNN", so that nothing of it is lost and the JSON stays valid.
 */
static json_t *
report_bytes_string(const char *s)
{
    json_t *j = json_string(s);
    char *esc;
    size_t k = 0;

    if (j)
        return j;
    esc = malloc(4 * strlen(s) + 1);
    if (!esc)
        return json_null();
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        k += (size_t)(*p < 0x80 ? sprintf(esc + k, "%c", *p) : sprintf(esc + k, "\\x%02x", *p));
    esc[k] = '\0';
    j = json_string(esc);
    free(esc);
    return j;
}

static json_t *
report_argv(const struct r2d_options *opts)
{
    json_t *a;

    if (!opts->argv || opts->argc < 0)
        return json_null();
    a = json_array();
    for (int i = 0; i < opts->argc && opts->argv[i]; i++)
        json_array_append_new(a, report_bytes_string(opts->argv[i]));
    return a;
}

/* The real user: who ran the program (the effective one too when it differs, as under set-uid). */
static json_t *
report_user(void)
{
    const uid_t uid = getuid(), euid = geteuid();
    struct passwd pw, *found = NULL;
    char buf[4096];
    json_t *u = json_object();

    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found)
        json_object_set_new(u, "name", json_string(found->pw_name));
    else
        json_object_set_new(u, "name", json_null());
    json_object_set_new(u, "uid", json_integer((json_int_t)uid));
    if (euid != uid)
        json_object_set_new(u, "euid", json_integer((json_int_t)euid));
    return u;
}

json_t *
r2d_report_invocation(const struct r2d_options *opts)
{
    json_t *inv = json_object();
    char host[HOST_NAME_MAX + 1];
    char *cwd = getcwd(NULL, 0);

    json_object_set_new(inv, "argv", report_argv(opts));
    json_object_set_new(inv, "cwd", cwd ? json_string(cwd) : json_null());
    free(cwd);
    host[sizeof(host) - 1] = '\0';
    json_object_set_new(inv, "host",
                        gethostname(host, sizeof(host) - 1) == 0 ? json_string(host) : json_null());
    json_object_set_new(inv, "user", report_user());
    json_object_set_new(inv, "pid", json_integer((json_int_t)getpid()));
    return inv;
}

static json_t *
report_realpath(const char *path)
{
    char *abs = realpath(path, NULL);
    json_t *j = abs ? report_bytes_string(abs) : json_null();

    free(abs);
    return j;
}

json_t *
r2d_report_input_custody(json_t *in_json, const char *path, int fd)
{
    static const char *const digests[] = {"sha256", "sha1", "md5"};
    json_t *o = json_object(), *v;
    const char *key;
    struct stat st;

    /* The file's identity first, where an examiner looks for it; the image's description after it. */
    const int have_st = fd >= 0 ? fstat(fd, &st) == 0 : stat(path, &st) == 0;

    json_object_set(o, "path", json_object_get(in_json, "path"));
    json_object_set_new(o, "absolute_path", report_realpath(path));
    if (json_object_get(in_json, "size"))
        json_object_set(o, "size", json_object_get(in_json, "size"));
    else
        json_object_set_new(o, "size", have_st ? json_integer((json_int_t)st.st_size) : json_null());
    json_object_set_new(o, "mtime",
                        have_st ? r2d_report_utc(st.st_mtim.tv_sec, st.st_mtim.tv_nsec) : json_null());
    for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
        json_object_set_new(o, digests[i], json_null()); /* until the writer has made them */
    json_object_foreach(in_json, key, v)
    {
        if (!json_object_get(o, key))
            json_object_set(o, key, v);
    }
    json_decref(in_json);
    return o;
}

json_t *
r2d_report_target_path(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    char *abs = dir ? realpath(dir, NULL) : NULL;
    const char *name = slash ? slash + 1 : path;
    char *full = NULL;
    json_t *j = json_null();

    if (abs && asprintf(&full, "%s%s%s", abs, strcmp(abs, "/") == 0 ? "" : "/", name) >= 0) {
        json_decref(j);
        j = report_bytes_string(full);
        free(full);
    }
    free(abs);
    free(dir);
    return j;
}

void
r2d_report_digests(json_t *obj, const struct r2d_digest_hex *hex, int nulls)
{
    for (unsigned i = 0; i < R2D_DIGEST_KINDS; i++) {
        if (hex->hex[i][0])
            json_object_set_new(obj, r2d_digest_name(i), json_string(hex->hex[i]));
        else if (nulls)
            json_object_set_new(obj, r2d_digest_name(i), json_null());
    }
}

void
r2d_report_symbols_file(struct r2d_ctx *ctx, const struct r2d_analysis *a, json_t *analysis_json,
                        unsigned hash)
{
    json_t *syms = json_object_get(analysis_json, "symbols"), *f;
    struct r2d_digest_hex hex;
    uint64_t size = 0;
    struct stat st;

    if (!a->syms || !syms || !a->syms->path[0])
        return;
    f = json_object();
    json_object_set_new(f, "path", json_string(a->syms->path));
    json_object_set_new(f, "absolute_path", report_realpath(a->syms->path));
    if (stat(a->syms->path, &st) == 0) {
        json_object_set_new(f, "size", json_integer((json_int_t)st.st_size));
        json_object_set_new(f, "mtime", r2d_report_utc(st.st_mtim.tv_sec, st.st_mtim.tv_nsec));
    }
    if (hash != R2D_HASH_NONE) {
        char saved[2048];

        /* A symbol file that cannot be hashed is recorded as such; the conversion's own error stays. */
        snprintf(saved, sizeof(saved), "%s", r2d_errmsg(ctx));
        if (r2d_digest_file(ctx, a->syms->path, hash, &hex, &size) == 0) {
            r2d_report_digests(f, &hex, 0);
        } else {
            json_object_set_new(f, "digest_error", json_string(r2d_errmsg(ctx)));
            r2d_err(ctx, 0, "%s", saved);
        }
    }
    json_object_set_new(syms, "file", f);
}
