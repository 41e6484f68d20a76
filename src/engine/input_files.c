/* SPDX-License-Identifier: MIT */
/* The input's files on disk: identities, digests, evidence checks (see input_files.h). */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/*
 * The later files (split E01 segments) are hashed on a thread of their own while the dump is written, as the
 * first file is by the writer's input digest: after the write there is then only the rest of the longest
 * one to wait for, not every later segment read in turn.
 */
struct input_file_job {
    char *path;
    json_int_t size; /* recorded when the image was opened; -1: unknown */
    struct r2d_digest_hex hex;
    uint64_t got;
    int rc;
    char err[1024];
};

struct r2d_input_hasher {
    struct r2d_ctx *ctx; /* the thread's own, sharing the caller's cancel flag */
    unsigned kinds;
    struct input_file_job *job;
    size_t n;
    atomic_int stop;
    pthread_t thread;
    int started, joined;
};

static void *
input_hasher_main(void *arg)
{
    struct r2d_input_hasher *h = arg;

    for (size_t i = 0; i < h->n; i++) {
        struct input_file_job *j = &h->job[i];
        const int fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        j->rc = fd < 0 ? r2d_err_errno(h->ctx, "%s: cannot open to hash it", j->path)
                       : r2d_digest_fd(h->ctx, fd, j->path, h->kinds, &h->stop, &j->hex, &j->got);
        if (fd >= 0)
            close(fd);
        if (j->rc)
            snprintf(j->err, sizeof(j->err), "%s", r2d_errmsg(h->ctx));
    }
    return NULL;
}

static void
input_hasher_free(struct r2d_input_hasher *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->job[i].path);
    free(h->job);
    r2d_ctx_free(h->ctx);
    free(h);
}

struct r2d_input_hasher *
r2d_input_files_hash_start(struct r2d_ctx *ctx, const json_t *in_json, unsigned hash)
{
    const json_t *files = json_object_get(in_json, "files");
    struct r2d_input_hasher *h;

    if (hash == R2D_HASH_NONE || json_array_size(files) < 2 || !(h = calloc(1, sizeof(*h))))
        return NULL;
    h->kinds = hash;
    h->n = json_array_size(files) - 1;
    h->job = calloc(h->n, sizeof(*h->job));
    h->ctx = r2d_ctx_new();
    if (!h->job || !h->ctx) {
        h->n = 0;
        input_hasher_free(h);
        return NULL; /* hashed in turn after the write instead */
    }
    r2d_ctx_set_verbosity(h->ctx, R2D_LOG_ERROR);
    r2d_ctx_share_cancel(h->ctx, ctx);
    atomic_init(&h->stop, 0);
    for (size_t i = 0; i < h->n; i++) {
        const json_t *f = json_array_get(files, i + 1), *size = json_object_get(f, "size");

        h->job[i].path = strdup(json_string_value(json_object_get(f, "path")));
        h->job[i].size = json_is_integer(size) ? json_integer_value(size) : -1;
        if (!h->job[i].path) {
            input_hasher_free(h);
            return NULL;
        }
    }
    h->started = pthread_create(&h->thread, NULL, input_hasher_main, h) == 0;
    return h;
}

void
r2d_input_files_hash_stop(struct r2d_input_hasher *h)
{
    if (!h)
        return;
    if (h->started && !h->joined) {
        atomic_store(&h->stop, 1);
        pthread_join(h->thread, NULL);
    }
    input_hasher_free(h);
}

/* A later file's digests into its report entry; why they are missing in "digest_error". */
static void
input_file_report(struct r2d_ctx *ctx, json_t *f, const struct input_file_job *j)
{
    if (j->rc) {
        r2d_report_digests(f, &(struct r2d_digest_hex){0}, 1);
        json_object_set_new(f, "digest_error", json_string(j->err));
        r2d_log(ctx, R2D_LOG_WARN, "no digest: %s", j->err);
    } else if (j->size < 0 || (uint64_t)j->size != j->got) {
        r2d_report_digests(f, &(struct r2d_digest_hex){0}, 1);
        json_object_set_new(f, "digest_error",
                            json_sprintf("size changed since the image was opened: %" PRIu64
                                         " bytes read, %" PRId64 " recorded",
                                         j->got, (int64_t)j->size));
        r2d_log(ctx, R2D_LOG_WARN, "%s: no digest: its size changed during the conversion", j->path);
    } else {
        r2d_report_digests(f, &j->hex, 1);
    }
}

void
r2d_report_input_files_digests(struct r2d_ctx *ctx, json_t *in_json, const struct r2d_write_result *res,
                               struct r2d_input_hasher *h)
{
    json_t *files = json_object_get(in_json, "files");

    if (h && !h->started)
        input_hasher_main(h); /* no thread could be started: in turn, now */
    else if (h && !h->joined) {
        pthread_join(h->thread, NULL);
        h->joined = 1;
    }
    for (size_t i = 0; i < json_array_size(files); i++) {
        json_t *f = json_array_get(files, i);

        if (i > 0 && h && i - 1 < h->n) {
            input_file_report(ctx, f, &h->job[i - 1]);
        } else if (i > 0) {
            r2d_report_digests(f, &(struct r2d_digest_hex){0}, 1);
            json_object_set_new(f, "digest_error", json_string("not hashed: out of memory"));
        } else if (res->source_error[0]) {
            r2d_report_digests(f, &(struct r2d_digest_hex){0}, 1);
            json_object_set_new(f, "digest_error", json_string(res->source_error));
        } else {
            r2d_report_digests(f, &res->source_digests, 1);
        }
    }
}
