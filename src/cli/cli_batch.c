/* SPDX-License-Identifier: MIT */
/*
 * raw2dmp --batch: a JSON-lines manifest, one conversion per line, run by -j worker threads. Every worker
 * has its own r2d_ctx (a context is never shared); the library keeps no mutable globals apart from
 * libcurl's one-time initialisation, which download_curl.c guards with pthread_once.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_batch.h"
#include "cli_claim.h"
#include "cli_manifest.h"
#include "cli_options.h"
#include "cli_results.h"
#include "raw2dmp/files.h"

#define BATCH_HASH_BUF (4u << 20)
#define BATCH_REPORT_SUFFIX ".report.json"

struct batch_item {
    size_t line; /* 1-based line in the manifest */
    json_t *doc; /* the line's object; owns the strings below */
    const char *input, *output;
    char *report;            /* given, or OUTPUT.report.json */
    struct r2d_options opts; /* the defaults with the line's keys applied */
    char *prefix;            /* "manifest:line: " for messages, the manifest named in full */
};

struct batch {
    const struct cli_batch_config *cfg;
    const char *name; /* the manifest as messages name it */
    struct batch_item *items;
    size_t n, alloc;
    size_t total;         /* items in the whole manifest (n: this shard's) */
    char host[256];       /* gethostname, for the result lines */
    int results_fd;       /* --results file, or -1 */
    int results_error;    /* errno of the first failed append, or 0 */
    char results_path[4096];
    pthread_mutex_t lock; /* next, the counters, the results file */
    size_t next, finished, ok, skipped, failed, busy;
    int interrupted;
    struct cli_display *display;
};

enum batch_state {
    BATCH_RUN,  /* convert it */
    BATCH_SKIP, /* done earlier: output and report exist and match */
    BATCH_FAIL, /* something is in the way; the reason says what */
    BATCH_BUSY, /* another process has claimed it */
};

/* Fill item from the line's object: input, output, report, then every other key as an option. */
static int
batch_parse_item(struct batch *b, struct batch_item *it, char *why, size_t n)
{
    const char *key;
    json_t *v, *rep;

    it->opts = *b->cfg->defaults;
    it->input = json_string_value(json_object_get(it->doc, "input"));
    it->output = json_string_value(json_object_get(it->doc, "output"));
    rep = json_object_get(it->doc, "report");
    if (!it->input || !*it->input || !it->output || !*it->output) {
        snprintf(why, n, "\"input\" and \"output\" must be non-empty strings");
        return -1;
    }
    if (rep && !json_is_string(rep)) {
        snprintf(why, n, "\"report\" must be a string");
        return -1;
    }
    if (strcmp(it->output, "-") == 0 || (rep && strcmp(json_string_value(rep), "-") == 0)) {
        snprintf(why, n, "\"%s\" '-': cannot write to standard output; name a file ('./-' for one called "
                 "'-')", strcmp(it->output, "-") == 0 ? "output" : "report");
        return -1;
    }
    if (rep)
        it->report = strdup(json_string_value(rep));
    else if ((it->report = malloc(strlen(it->output) + sizeof(BATCH_REPORT_SUFFIX))))
        sprintf(it->report, "%s%s", it->output, BATCH_REPORT_SUFFIX);
    if (!it->report) {
        snprintf(why, n, "out of memory");
        return -1;
    }
    it->opts.report_path = it->report;
    json_object_foreach(it->doc, key, v)
    {
        if (strcmp(key, "input") && strcmp(key, "output") && strcmp(key, "report") &&
            cli_option_set_json(&it->opts, key, v, why, n))
            return -1;
    }
    if (it->opts.pdb_path && it->opts.isf_path) {
        snprintf(why, n, "\"pdb\" and \"symbols\" are alternatives; give one");
        return -1;
    }
    if (asprintf(&it->prefix, "%s:%zu: ", b->name, it->line) < 0) {
        it->prefix = NULL;
        snprintf(why, n, "out of memory");
        return -1;
    }
    return 0;
}

/* Read every line first: a bad line anywhere rejects the whole manifest before anything is converted. */
/* One manifest line as an item (cli_manifest_read's callback). */
static int
batch_take_item(void *arg, size_t line, json_t *doc, char *why, size_t whylen)
{
    struct batch *b = arg;
    struct batch_item *it;

    if (b->n == b->alloc) {
        const size_t alloc = b->alloc ? 2 * b->alloc : 16;
        struct batch_item *grown = realloc(b->items, alloc * sizeof(*grown));

        if (!grown) {
            json_decref(doc);
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        b->items = grown;
        b->alloc = alloc;
    }
    it = &b->items[b->n++];
    memset(it, 0, sizeof(*it));
    it->line = line;
    it->doc = doc;
    return batch_parse_item(b, it, why, whylen);
}

/* The files of one item for r2d_files_distinct, named as the manifest names them ("line 3 output"). */
#define BATCH_FILES_PER_ITEM 5
#define BATCH_ROLE_MAX 48

static void
batch_add_file(struct r2d_file_ref *f, char (*roles)[BATCH_ROLE_MAX], size_t *n, size_t line,
               const char *path, const char *key, int written)
{
    if (!path)
        return;
    snprintf(roles[*n], BATCH_ROLE_MAX, "line %zu %s", line, key);
    f[*n] = (struct r2d_file_ref){path, roles[*n], written};
    (*n)++;
}

/*
 * Before anything is converted: no item writes a file that an item reads or writes, or the manifest,
 * compared by identity (r2d_files_distinct), so that two spellings, a hard link or a symbolic link of one
 * file are one file. An item's own input, output and report are covered too; its conversion would refuse
 * them as well, but only when its turn comes, after other items have written their files.
 */
static int
batch_check_files(struct batch *b)
{
    const size_t cap = BATCH_FILES_PER_ITEM * b->n + 1;
    struct r2d_file_ref *f = calloc(cap, sizeof(*f));
    char(*roles)[BATCH_ROLE_MAX] = calloc(cap, sizeof(*roles));
    struct r2d_ctx *ctx = r2d_ctx_new();
    size_t n = 0;
    int rc = -1;

    if (f && roles && ctx) {
        if (strcmp(b->cfg->manifest, "-") != 0)
            f[n++] = (struct r2d_file_ref){b->cfg->manifest, "MANIFEST", 0};
        for (size_t i = 0; i < b->n; i++) {
            const struct batch_item *it = &b->items[i];

            batch_add_file(f, roles, &n, it->line, it->input, "input", 0);
            batch_add_file(f, roles, &n, it->line, it->output, "output", 1);
            batch_add_file(f, roles, &n, it->line, it->report, "report", 1);
            batch_add_file(f, roles, &n, it->line, it->opts.pdb_path, "pdb", 0);
            batch_add_file(f, roles, &n, it->line, it->opts.isf_path, "symbols", 0);
        }
        rc = r2d_files_distinct(ctx, f, n, NULL);
        if (rc)
            fprintf(stderr, "raw2dmp: %s: %s\n", b->name, r2d_errmsg(ctx));
    } else {
        fprintf(stderr, "raw2dmp: %s: out of memory\n", b->name);
    }
    r2d_ctx_free(ctx);
    free(roles);
    free(f);
    return rc ? -1 : 0;
}

/* The digests a report may record of its output, as its keys name them (and libcrypto knows them). */
#define BATCH_DIGESTS 3
static const char *const batch_digest_names[BATCH_DIGESTS] = {"sha256", "sha1", "md5"};

/* Hex digests of an item's output: recorded by its report, or computed; "" = none. */
struct batch_digests {
    char hex[BATCH_DIGESTS][EVP_MAX_MD_SIZE * 2 + 1];
};

/*
 * The digests named by want (those with want[i] set) of a whole file, in one read, constant memory.
 * Returns 0, -1 with errno, or -2 when cancelled.
 */
static int
batch_digest_file(const char *path, const int want[BATCH_DIGESTS], const volatile sig_atomic_t *cancel,
                  struct batch_digests *out)
{
    EVP_MD_CTX *md[BATCH_DIGESTS] = {NULL};
    uint8_t *buf = malloc(BATCH_HASH_BUF);
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = buf && fd >= 0 ? 0 : -1;

    for (int i = 0; i < BATCH_DIGESTS && !rc; i++)
        if (want[i] && (!(md[i] = EVP_MD_CTX_new()) ||
                        EVP_DigestInit_ex(md[i], EVP_get_digestbyname(batch_digest_names[i]), NULL) != 1))
            rc = -1;
    while (!rc) {
        const ssize_t n = read(fd, buf, BATCH_HASH_BUF);

        if (cancel && *cancel)
            rc = -2;
        else if (n < 0 && errno != EINTR)
            rc = -1;
        else if (n == 0)
            break;
        for (int i = 0; i < BATCH_DIGESTS && !rc && n > 0; i++)
            if (md[i] && EVP_DigestUpdate(md[i], buf, (size_t)n) != 1)
                rc = -1;
    }
    for (int i = 0; i < BATCH_DIGESTS; i++) {
        uint8_t d[EVP_MAX_MD_SIZE];
        unsigned dlen = 0;

        out->hex[i][0] = '\0';
        if (!rc && md[i] && EVP_DigestFinal_ex(md[i], d, &dlen) != 1)
            rc = -1;
        for (unsigned k = 0; !rc && md[i] && k < dlen; k++)
            snprintf(out->hex[i] + 2 * k, 3, "%02x", d[k]);
        EVP_MD_CTX_free(md[i]);
    }
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

/*
 * Compare the output on disk with every digest the report's output object records (read once for all).
 * Returns 0 when they all match (or none is recorded), else 1 with the reason in why; digest gets them.
 */
static int
batch_check_digests(const struct batch *b, const struct batch_item *it, json_t *out, char *why, size_t n,
                    struct batch_digests *digest)
{
    int want[BATCH_DIGESTS] = {0}, any = 0;

    for (int i = 0; i < BATCH_DIGESTS; i++)
        any |= want[i] = json_is_string(json_object_get(out, batch_digest_names[i]));
    memset(digest, 0, sizeof(*digest));
    if (!any)
        return 0; /* --hash none: the size was compared */
    if (batch_digest_file(it->output, want, b->cfg->cancel, digest) != 0) {
        snprintf(why, n, "%s: cannot read the output to check it: %s", it->output,
                 b->cfg->cancel && *b->cfg->cancel ? "interrupted" : strerror(errno));
        return 1;
    }
    for (int i = 0; i < BATCH_DIGESTS; i++) {
        if (want[i] &&
            strcmp(json_string_value(json_object_get(out, batch_digest_names[i])), digest->hex[i])) {
            snprintf(why, n, "%s: the output's %s differs from the report's", it->report,
                     batch_digest_names[i]);
            return 1;
        }
    }
    return 0;
}

/*
 * Copy to key the first option whose recorded value differs from the item's; 0 = none. "force" and
 * "no_sync" are aside: they say how the output was put in place, not what it holds.
 */
static int
batch_option_differs(json_t *recorded, const struct r2d_options *o, char *key, size_t n)
{
    json_t *mine = cli_options_json(o), *v;
    const char *k;

    key[0] = '\0';
    json_object_foreach(mine, k, v)
    {
        if (!key[0] && strcmp(k, "force") && strcmp(k, "no_sync") &&
            !json_equal(v, json_object_get(recorded, k)))
            snprintf(key, n, "%s", k);
    }
    json_object_foreach(recorded, k, v)
    {
        if (!key[0] && !json_object_get(mine, k))
            snprintf(key, n, "%s", k);
    }
    json_decref(mine);
    return key[0] != '\0';
}

/* True when the JSON value is the string s. */
static int
batch_is_string(json_t *v, const char *s)
{
    return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

/*
 * Is the item done already? It is when its report parses, says "ok", names the same input (path and
 * size), output and options, and the output on disk has the recorded size and every recorded digest
 * (SHA-256, SHA-1, MD5: the output is read once for all; with --hash none only the size is compared). A
 * report of a failed attempt with no output beside it is removed so that the item is retried. digest
 * receives the output's digests when skipping.
 */
static enum batch_state
batch_check_done(const struct batch *b, const struct batch_item *it, char *why, size_t n,
                 struct batch_digests *digest)
{
    json_t *rep, *in, *out;
    json_error_t jerr;
    struct stat st_in, st_out;
    const char *result;
    char opt[32];
    int have_out = lstat(it->output, &st_out) == 0;
    enum batch_state state = BATCH_FAIL;

    memset(digest, 0, sizeof(*digest));
    if (access(it->report, F_OK) != 0)
        return BATCH_RUN;
    rep = json_load_file(it->report, 0, &jerr);
    in = json_object_get(rep, "input");
    out = json_object_get(rep, "output");
    result = json_string_value(json_object_get(rep, "result"));
    if (!rep || !result) {
        snprintf(why, n, "%s: exists but is not a raw2dmp report (%s)", it->report,
                 rep ? "no result" : jerr.text);
    } else if (strcmp(result, "ok") != 0 && !have_out) {
        /* A failed attempt documented itself; its report gives way to the retry. */
        state = unlink(it->report) == 0 ? BATCH_RUN : BATCH_FAIL;
        snprintf(why, n, "%s: cannot remove the report of a failed attempt: %s", it->report, strerror(errno));
    } else if (strcmp(result, "ok") != 0) {
        snprintf(why, n, "%s: records a failed conversion (%s) but %s exists", it->report, result,
                 it->output);
    } else if (!have_out) {
        snprintf(why, n, "%s: records a finished conversion but %s is missing", it->report, it->output);
    } else if (!batch_is_string(json_object_get(in, "path"), it->input) ||
               !batch_is_string(json_object_get(out, "path"), it->output)) {
        snprintf(why, n, "%s: records another input or output", it->report);
    } else if (stat(it->input, &st_in) != 0 ||
               json_integer_value(json_object_get(in, "size")) != (json_int_t)st_in.st_size) {
        snprintf(why, n, "%s: the input's size differs from the report's", it->report);
    } else if (batch_option_differs(json_object_get(rep, "options"), &it->opts, opt, sizeof(opt))) {
        snprintf(why, n, "%s: option %s differs from the report's", it->report, opt);
    } else if (json_integer_value(json_object_get(out, "size")) != (json_int_t)st_out.st_size) {
        snprintf(why, n, "%s: the output's size differs from the report's", it->report);
    } else if (batch_check_digests(b, it, out, why, n, digest) != 0) {
        memset(digest, 0, sizeof(*digest));
    } else {
        state = BATCH_SKIP;
    }
    json_decref(rep);
    /* Anything in the way is replaced by a forced item; a matching item is skipped all the same. */
    if (state == BATCH_FAIL && it->opts.force)
        state = BATCH_RUN;
    return state;
}

/* What a conversion's result sink gets in a batch: where its closing line goes, and its digests. */
struct batch_result {
    struct cli_log_sink sink;
    int show; /* print the closing line (not with -q) */
    struct batch_digests digest;
};

static void
batch_on_result(void *arg, const struct r2d_result *res)
{
    struct batch_result *r = arg;
    const char *hex[BATCH_DIGESTS] = {res->sha256, res->sha1, res->md5};

    for (int i = 0; i < BATCH_DIGESTS; i++)
        snprintf(r->digest.hex[i], sizeof(r->digest.hex[i]), "%s", hex[i] ? hex[i] : "");
    if (r->show)
        cli_display_result(&r->sink, res);
}

/* Convert one item with a context of its own. Returns the library status; message in errbuf. */
static int
batch_convert(struct batch *b, struct batch_item *it, struct cli_slot *slot, char *errbuf, size_t n,
              struct batch_digests *digest)
{
    struct cli_log_sink sink = {b->display, it->prefix};
    struct batch_result result = {{b->display, it->prefix}, b->cfg->verbosity >= R2D_LOG_WARN, {{{0}}}};
    struct r2d_ctx *ctx = r2d_ctx_new();
    int rc;

    if (!ctx) {
        snprintf(errbuf, n, "out of memory");
        return R2D_ENOMEM;
    }
    r2d_ctx_set_verbosity(ctx, b->cfg->verbosity);
    r2d_ctx_set_log(ctx, cli_display_log, &sink);
    r2d_ctx_set_cancel_flag(ctx, b->cfg->cancel);
    r2d_ctx_set_progress(ctx, cli_display_progress, slot);
    r2d_ctx_set_result(ctx, batch_on_result, &result);
    cli_display_slot_set(slot, it->output);
    rc = r2d_convert(ctx, &it->opts, it->input, it->output);
    *digest = result.digest;
    cli_display_slot_set(slot, NULL);
    snprintf(errbuf, n, "%s", rc ? r2d_errmsg(ctx) : "");
    r2d_ctx_free(ctx);
    return rc;
}

/* A digest for the result line: only for an item that is done, and only when computed. */
static const char *
batch_digest_or_null(const struct batch_digests *d, int i, int code)
{
    return !code && d->hex[i][0] ? d->hex[i] : NULL;
}

/*
 * Where the line came from (shard, host, pid) and when it was written, then the line on stdout and in the
 * results file. The file is appended under the batch's lock, so that lines of two workers never mix.
 */
static void
batch_emit(struct batch *b, json_t *res)
{
    const struct cli_shard *sh = b->cfg->shard;
    char shard[48], now[40], *text, *line = NULL;

    snprintf(shard, sizeof(shard), "%zu/%zu", sh->index, sh->count);
    cli_results_now(now, sizeof(now));
    if (res && (json_object_set_new(res, "shard", json_string(shard)) ||
                json_object_set_new(res, "shard_from", json_string(sh->from)) ||
                json_object_set_new(res, "host", json_string(b->host)) ||
                json_object_set_new(res, "pid", json_integer((json_int_t)getpid())) ||
                json_object_set_new(res, "finished", json_string(now)))) {
        json_decref(res);
        res = NULL;
    }
    text = res ? json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12)) : NULL;
    if (text && asprintf(&line, "%s\n", text) < 0)
        line = NULL;
    if (line) {
        cli_display_print(b->display, stdout, line);
        pthread_mutex_lock(&b->lock);
        if (b->results_fd >= 0 && cli_results_append(b->results_fd, line) != 0 && !b->results_error)
            b->results_error = errno ? errno : EIO;
        pthread_mutex_unlock(&b->lock);
    }
    free(line);
    free(text);
    json_decref(res);
}

/* The item's result line; code is its exit code, why the error when code is not 0. */
static void
batch_result_line(struct batch *b, const struct batch_item *it, const char *status, int code, const char *why,
                  const struct batch_digests *digest, double t0)
{
    json_t *res = json_pack("{s:I,s:s,s:s,s:s,s:s,s:i,s:s?,s:s?,s:s?,s:s?,s:f}", "line", (json_int_t)it->line,
                            "input", it->input, "output", it->output, "report", it->report, "status", status,
                            "exit", code, "error", code ? why : NULL, "output_sha256",
                            batch_digest_or_null(digest, 0, code), "output_sha1",
                            batch_digest_or_null(digest, 1, code), "output_md5",
                            batch_digest_or_null(digest, 2, code), "seconds",
                            (double)(int64_t)((r2d_now() - t0) * 1000.0 + 0.5) / 1000.0); /* ms */

    batch_emit(b, res);
}

/*
 * One item: claim, skip check, conversion, result line on stdout (and in the results file), error line on
 * stderr, release. An item claimed by another process is "busy": this process leaves it alone.
 */
static void
batch_run_item(struct batch *b, struct batch_item *it, struct cli_slot *slot)
{
    const double t0 = r2d_now();
    struct cli_log_sink sink = {b->display, it->prefix};
    char why[2048];
    struct batch_digests digest = {{{0}}};
    struct cli_claim claim;
    const char *status;
    int code, rc = 0, interrupted;
    enum batch_state state = BATCH_BUSY;

    if (!cli_claim_take(&claim, it->output, b->cfg->break_stale_locks, b->cfg->verbosity, &sink, why,
                        sizeof(why)))
        state = batch_check_done(b, it, why, sizeof(why), &digest);
    if (state == BATCH_RUN)
        rc = batch_convert(b, it, slot, why, sizeof(why), &digest);
    interrupted = b->cfg->cancel && *b->cfg->cancel;
    code = state == BATCH_SKIP   ? CLI_EXIT_OK
           : state == BATCH_BUSY ? CLI_EXIT_FAILED
           : state == BATCH_FAIL ? cli_exit_code(R2D_EEXIST, interrupted)
                                 : cli_exit_code(rc, interrupted);
    status = state == BATCH_SKIP   ? "skipped"
             : state == BATCH_BUSY ? "busy"
             : code == CLI_EXIT_OK ? "ok"
                                   : "failed";
    batch_result_line(b, it, status, code, why, &digest, t0);
    cli_claim_release(&claim);
    if (code)
        cli_display_message(b->display, it->prefix, why);
    else if (state == BATCH_SKIP && b->cfg->verbosity >= R2D_LOG_INFO)
        cli_display_message(b->display, it->prefix, "skipped: output and report exist and match");
    pthread_mutex_lock(&b->lock);
    b->finished++;
    if (code == CLI_EXIT_INTERRUPTED)
        b->interrupted = 1;
    if (state == BATCH_BUSY)
        b->busy++;
    else if (code)
        b->failed++;
    else if (state == BATCH_SKIP)
        b->skipped++;
    else
        b->ok++;
    cli_display_set_counts(b->display, b->finished, b->n);
    pthread_mutex_unlock(&b->lock);
}

struct batch_worker {
    struct batch *b;
    struct cli_slot *slot;
    pthread_t thread;
};

static void *
batch_worker_main(void *arg)
{
    struct batch_worker *w = arg;
    struct batch *b = w->b;

    for (;;) {
        size_t i;

        pthread_mutex_lock(&b->lock);
        if (b->next >= b->n || (b->cfg->cancel && *b->cfg->cancel)) {
            pthread_mutex_unlock(&b->lock);
            return NULL;
        }
        i = b->next++;
        pthread_mutex_unlock(&b->lock);
        batch_run_item(b, &b->items[i], w->slot);
    }
}

/* Start jobs workers (the first runs on this thread) and wait for them. */
static void
batch_run_workers(struct batch *b, size_t jobs)
{
    struct batch_worker *w = calloc(jobs, sizeof(*w));
    size_t started = 1;

    if (!w) {
        struct batch_worker one = {b, cli_display_slot(b->display, 0), 0};

        batch_worker_main(&one);
        return;
    }
    for (size_t i = 0; i < jobs; i++) {
        w[i].b = b;
        w[i].slot = cli_display_slot(b->display, i);
    }
    for (size_t i = 1; i < jobs; i++, started++)
        if (pthread_create(&w[i].thread, NULL, batch_worker_main, &w[i]) != 0)
            break; /* fewer workers: slower, still correct */
    batch_worker_main(&w[0]);
    for (size_t i = 1; i < started; i++)
        pthread_join(w[i].thread, NULL);
    free(w);
}

static void
batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        json_decref(b->items[i].doc);
        free(b->items[i].report);
        free(b->items[i].prefix);
    }
    free(b->items);
    if (b->results_fd >= 0)
        close(b->results_fd);
    cli_display_free(b->display);
    pthread_mutex_destroy(&b->lock);
}

/* Keep only the shard's items (every item was checked, so all shards agree the manifest is valid). */
static void
batch_take_shard(struct batch *b)
{
    const struct cli_shard *sh = b->cfg->shard;
    size_t kept = 0;

    b->total = b->n;
    for (size_t i = 0; i < b->n; i++) {
        if (i % sh->count == sh->index) {
            b->items[kept++] = b->items[i];
        } else {
            json_decref(b->items[i].doc);
            free(b->items[i].report);
            free(b->items[i].prefix);
        }
    }
    b->n = kept;
}

/* The results file (--results DIR), and the shard line at the start when there are several shards. */
static int
batch_open_results(struct batch *b)
{
    const struct cli_shard *sh = b->cfg->shard;
    char why[4200];

    if (gethostname(b->host, sizeof(b->host) - 1) != 0)
        snprintf(b->host, sizeof(b->host), "localhost");
    if (sh->count > 1 && b->cfg->verbosity >= R2D_LOG_WARN)
        fprintf(stderr, "raw2dmp: batch: shard %zu/%zu (from %s): %zu of %zu items\n", sh->index, sh->count,
                sh->from, b->n, b->total);
    if (!b->cfg->results_dir)
        return 0;
    b->results_fd = cli_results_open(b->cfg->results_dir, sh, b->results_path, sizeof(b->results_path), why,
                                     sizeof(why));
    if (b->results_fd < 0)
        fprintf(stderr, "raw2dmp: %s\n", why);
    return b->results_fd < 0 ? -1 : 0;
}

int
cli_batch_run(const struct cli_batch_config *cfg)
{
    struct batch b = {
        .cfg = cfg, .name = strcmp(cfg->manifest, "-") ? cfg->manifest : "<stdin>", .results_fd = -1};
    const size_t jobs = cfg->jobs < 1 ? 1 : (size_t)cfg->jobs;
    int code;

    pthread_mutex_init(&b.lock, NULL);
    if (cli_manifest_read(b.cfg->manifest, b.name, batch_take_item, &b) || batch_check_files(&b)) {
        batch_free(&b);
        return CLI_EXIT_USAGE;
    }
    batch_take_shard(&b);
    if (batch_open_results(&b)) {
        batch_free(&b);
        return CLI_EXIT_FAILED;
    }
    b.display = cli_display_new(cfg->progress, 1, jobs);
    if (!b.display) {
        fputs("raw2dmp: out of memory\n", stderr);
        batch_free(&b);
        return CLI_EXIT_FAILED;
    }
    cli_display_set_counts(b.display, 0, b.n);
    batch_run_workers(&b, jobs < b.n ? jobs : (b.n ? b.n : 1));
    cli_display_end(b.display);
    if (b.results_error)
        fprintf(stderr, "raw2dmp: %s: cannot append a result line: %s\n", b.results_path,
                strerror(b.results_error));
    code = b.interrupted || (cfg->cancel && *cfg->cancel) ? CLI_EXIT_INTERRUPTED
           : b.failed || b.busy || b.results_error        ? CLI_EXIT_FAILED
                                                          : CLI_EXIT_OK;
    if (cfg->verbosity >= R2D_LOG_WARN) {
        char summary[200], busy[64] = "";

        if (b.busy)
            snprintf(busy, sizeof(busy), ", %zu busy in another process", b.busy);
        snprintf(summary, sizeof(summary), "%zu item%s: %zu converted, %zu skipped, %zu failed%s%s", b.n,
                 b.n == 1 ? "" : "s", b.ok, b.skipped, b.failed, busy,
                 code == CLI_EXIT_INTERRUPTED ? ", interrupted" : "");
        cli_display_message(b.display, "batch: ", summary);
    }
    batch_free(&b);
    return code;
}
