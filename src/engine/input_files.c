/* SPDX-License-Identifier: MIT */
/* The input's files on disk: identities, digests, evidence checks (see input_files.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "container.h"
#include "digests.h"
#include "input_files.h"
#include "raw2dmp/files.h"
#include "report_custody.h"

/* The list to use: the layer's, or the base file alone (n = 1, name in *only). */
static size_t
input_files_list(const struct r2d_bytesrc *in, const struct r2d_bytesrc **owner, const char **only)
{
    *owner = r2d_bytesrc_files_owner(in);
    *only = r2d_bytesrc_name(r2d_bytesrc_base(in));
    return *owner ? r2d_bytesrc_file_count(*owner) : 1;
}

static const char *
input_file_path(const struct r2d_bytesrc *owner, const char *only, size_t i)
{
    return owner ? r2d_bytesrc_file(owner, i) : only;
}

static json_t *
input_file_identity(const char *path, int fd)
{
    json_t *f = json_object();
    char *abs = realpath(path, NULL);
    struct stat st;
    const int have = fd >= 0 ? fstat(fd, &st) == 0 : stat(path, &st) == 0;

    json_object_set_new(f, "path", json_string(path));
    json_object_set_new(f, "absolute_path", abs ? json_string(abs) : json_null());
    free(abs);
    json_object_set_new(f, "size", have ? json_integer((json_int_t)st.st_size) : json_null());
    json_object_set_new(f, "mtime",
                        have ? r2d_report_utc(st.st_mtim.tv_sec, st.st_mtim.tv_nsec) : json_null());
    /* Device and inode: what the evidence checks compare, and what tells two spellings of a file apart. */
    json_object_set_new(f, "device", have ? json_integer((json_int_t)st.st_dev) : json_null());
    json_object_set_new(f, "inode", have ? json_integer((json_int_t)st.st_ino) : json_null());
    return f;
}

json_t *
r2d_report_input_files(const struct r2d_bytesrc *in)
{
    const struct r2d_bytesrc *owner;
    const char *only;
    const size_t n = input_files_list(in, &owner, &only);
    json_t *list = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, input_file_identity(input_file_path(owner, only, i),
                                                        i == 0 ? r2d_bytesrc_fd(r2d_bytesrc_base(in)) : -1));
    return list;
}

/* The n segments (names, or entry i of owner's list) against OUTPUT and the report. */
static int
input_files_distinct(struct r2d_ctx *ctx, const struct r2d_options *opts, const struct r2d_bytesrc *owner,
                     char *const *names, size_t n, const char *output)
{
    struct r2d_file_ref *f;
    size_t k = 0;
    int rc;

    if (n < 2)
        return 0;
    f = calloc(n + 2, sizeof(*f));
    if (!f)
        return r2d_err(ctx, R2D_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        f[k++] = (struct r2d_file_ref){names ? names[i] : r2d_bytesrc_file(owner, i), "INPUT segment", 0};
    f[k++] = (struct r2d_file_ref){output, "OUTPUT", 1};
    if (opts->report_path)
        f[k++] = (struct r2d_file_ref){opts->report_path, "--report", 1};
    rc = r2d_files_distinct(ctx, f, k, NULL);
    free(f);
    return rc;
}

int
r2d_input_files_precheck(struct r2d_ctx *ctx, const struct r2d_options *opts, const char *input,
                         const char *output)
{
    char **names = NULL;
    int n = 0, rc;

    r2d_container_segments(input, &names, &n);
    rc = input_files_distinct(ctx, opts, NULL, names, n > 0 ? (size_t)n : 0, output);
    r2d_container_segments_free(names, n);
    return rc;
}

int
r2d_input_files_check(struct r2d_ctx *ctx, const struct r2d_options *opts, const struct r2d_bytesrc *in,
                      const char *output)
{
    const struct r2d_bytesrc *owner = r2d_bytesrc_files_owner(in);

    return owner ? input_files_distinct(ctx, opts, owner, NULL, r2d_bytesrc_file_count(owner), output) : 0;
}

/* A later file's digests, read here; why they are missing in "digest_error". */
static void
input_file_hash(struct r2d_ctx *ctx, json_t *f, unsigned hash)
{
    const char *path = json_string_value(json_object_get(f, "path"));
    const json_int_t size = json_integer_value(json_object_get(f, "size"));
    struct r2d_digest_hex hex;
    char saved[2048];
    uint64_t got = 0;

    snprintf(saved, sizeof(saved), "%s", r2d_errmsg(ctx));
    if (r2d_digest_file(ctx, path, hash, &hex, &got) != 0) {
        r2d_report_digests(f, &(struct r2d_digest_hex){0}, 1);
        json_object_set_new(f, "digest_error", json_string(r2d_errmsg(ctx)));
        r2d_log(ctx, R2D_LOG_WARN, "no digest: %s", r2d_errmsg(ctx));
    } else if (!json_is_integer(json_object_get(f, "size")) || (uint64_t)size != got) {
        r2d_report_digests(f, &(struct r2d_digest_hex){0}, 1);
        json_object_set_new(f, "digest_error",
                            json_sprintf("size changed since the image was opened: %" PRIu64
                                         " bytes read, %" PRId64 " recorded",
                                         got, (int64_t)size));
        r2d_log(ctx, R2D_LOG_WARN, "%s: no digest: its size changed during the conversion", path);
    } else {
        r2d_report_digests(f, &hex, 1);
    }
    r2d_err(ctx, 0, "%s", saved); /* the conversion's own message stays */
}

void
r2d_report_input_files_digests(struct r2d_ctx *ctx, json_t *in_json, const struct r2d_write_result *res,
                               unsigned hash)
{
    json_t *files = json_object_get(in_json, "files");

    for (size_t i = 0; i < json_array_size(files); i++) {
        json_t *f = json_array_get(files, i);

        if (i > 0) {
            input_file_hash(ctx, f, hash);
        } else if (res->source_error[0]) {
            r2d_report_digests(f, &(struct r2d_digest_hex){0}, 1);
            json_object_set_new(f, "digest_error", json_string(res->source_error));
        } else {
            r2d_report_digests(f, &res->source_digests, 1);
        }
    }
}
