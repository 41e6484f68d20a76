/* SPDX-License-Identifier: MIT */
/*
 * Result files of sharded batches (--results DIR) and their merge (--batch-status). Every process writes a
 * file of its own, so a file never has two writers; a record is one whole line, written by one write() where
 * the kernel allows it. A record cut short by a crash is a line that does not parse, and the merge skips it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_manifest.h"
#include "cli_options.h"
#include "cli_results.h"

int
cli_results_open(const char *dir, const struct cli_shard *shard, char *path, size_t path_len, char *why,
                 size_t why_len)
{
    char host[256] = "localhost";
    int fd, n;

    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        snprintf(why, why_len, "%s: cannot create the results directory: %s", dir, strerror(errno));
        return -1;
    }
    gethostname(host, sizeof(host) - 1);
    host[strcspn(host, "/")] = '\0'; /* a name, never a path */
    n = snprintf(path, path_len, "%s/shard-%zu-of-%zu.%s.%ld.jsonl", dir, shard->index, shard->count, host,
                 (long)getpid());
    if (n < 0 || (size_t)n >= path_len) {
        snprintf(why, why_len, "%s: results directory name too long", dir);
        return -1;
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        snprintf(why, why_len, "%s: cannot create the results file: %s", path, strerror(errno));
    return fd;
}

int
cli_results_append(int fd, const char *line)
{
    size_t len = strlen(line), done = 0;

    while (done < len) {
        const ssize_t n = write(fd, line + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return fdatasync(fd) == 0 || errno == EINVAL ? 0 : -1;
}

void
cli_results_now(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    char sec[24];

    clock_gettime(CLOCK_REALTIME, &ts);
    if (!gmtime_r(&ts.tv_sec, &tm) || !strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm))
        snprintf(sec, sizeof(sec), "1970-01-01T00:00:00");
    snprintf(buf, len, "%s.%03ldZ", sec, ts.tv_nsec / 1000000L);
}

/* --- --batch-status --- */

struct status_item {
    size_t line;
    json_t *doc;        /* the manifest line */
    const char *input;  /* in doc */
    const char *output; /* in doc */
    json_t *best;       /* the latest decisive record (ok, skipped, failed), or NULL */
    json_t *busy;       /* the latest record saying another process held the item */
};

struct status {
    const char *manifest;
    struct status_item *items;
    size_t n, alloc;
    size_t bad_lines; /* result lines that are not records */
};

/* One manifest line: its line, input and output (the rest is the conversion's business). */
static int
status_take_item(void *arg, size_t line, json_t *doc, char *why, size_t whylen)
{
    struct status *st = arg;
    struct status_item *it;

    if (st->n == st->alloc) {
        const size_t alloc = st->alloc ? 2 * st->alloc : 16;
        struct status_item *grown = realloc(st->items, alloc * sizeof(*grown));

        if (!grown) {
            json_decref(doc);
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        st->items = grown;
        st->alloc = alloc;
    }
    it = &st->items[st->n++];
    memset(it, 0, sizeof(*it));
    it->line = line;
    it->doc = doc;
    it->input = json_string_value(json_object_get(doc, "input"));
    it->output = json_string_value(json_object_get(doc, "output"));
    if (!it->input || !it->output) {
        snprintf(why, whylen, "not a manifest item (an object with \"input\" and \"output\")");
        return -1;
    }
    return 0;
}

static int
status_is(json_t *rec, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(rec, key));

    return v && want && strcmp(v, want) == 0;
}

/* Later of two records by their "finished" time (UTC text, which sorts); a is kept on a tie. */
static json_t *
status_later(json_t *a, json_t *b)
{
    const char *ta = json_string_value(json_object_get(a, "finished"));
    const char *tb = json_string_value(json_object_get(b, "finished"));

    if (!a)
        return b;
    return tb && (!ta || strcmp(tb, ta) > 0) ? b : a;
}

/* Keep rec in *slot when it is later than what the slot holds (the slot owns a reference). */
static void
status_keep(json_t **slot, json_t *rec)
{
    if (status_later(*slot, rec) != *slot) {
        json_decref(*slot);
        *slot = json_incref(rec);
    }
}

/* Attach one record to its item, when it is about that item (same line, input and output). */
static void
status_take(struct status *st, json_t *rec)
{
    const json_int_t line = json_integer_value(json_object_get(rec, "line"));
    size_t lo = 0, hi = st->n;

    while (lo < hi) { /* items are in line order */
        const size_t mid = lo + (hi - lo) / 2;

        if ((json_int_t)st->items[mid].line < line)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == st->n || (json_int_t)st->items[lo].line != line ||
        !status_is(rec, "input", st->items[lo].input) || !status_is(rec, "output", st->items[lo].output))
        return;
    if (status_is(rec, "status", "busy"))
        status_keep(&st->items[lo].busy, rec);
    else if (status_is(rec, "status", "ok") || status_is(rec, "status", "skipped") ||
             status_is(rec, "status", "failed"))
        status_keep(&st->items[lo].best, rec);
}

static void
status_read_file(struct status *st, const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;

    if (!f) {
        fprintf(stderr, "raw2dmp: %s: cannot read: %s\n", path, strerror(errno));
        st->bad_lines++;
        return;
    }
    while ((len = getline(&buf, &cap, f)) >= 0) {
        json_t *rec = json_loadb(buf, (size_t)len, 0, NULL);

        if (json_is_object(rec) && json_is_integer(json_object_get(rec, "line")))
            status_take(st, rec);
        else if (strspn(buf, " \t\r\n") != (size_t)len)
            st->bad_lines++;
        json_decref(rec); /* an item that took it holds its own reference */
    }
    free(buf);
    fclose(f);
}

/* Every regular *.jsonl file in dir, in no particular order (the merge does not depend on it). */
static int
status_read_dir(struct status *st, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d) {
        fprintf(stderr, "raw2dmp: %s: cannot read the results directory: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d))) {
        const size_t len = strlen(e->d_name);
        char *path;

        if (len < 6 || strcmp(e->d_name + len - 6, ".jsonl") != 0 || e->d_name[0] == '.')
            continue;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0)
            continue;
        status_read_file(st, path);
        free(path);
    }
    closedir(d);
    return 0;
}

enum status_state { STATUS_DONE, STATUS_FAILED, STATUS_MISSING };
static const char *const status_names[] = {"done", "failed", "missing"};

/* One item's state, and the reason when it is not done. */
static enum status_state
status_judge(const struct status_item *it, char *why, size_t n)
{
    struct stat sb;

    why[0] = '\0';
    if (!it->best) {
        if (it->busy)
            snprintf(why, n, "no result; was being converted by %s",
                     json_string_value(json_object_get(it->busy, "error")));
        return STATUS_MISSING;
    }
    if (status_is(it->best, "status", "failed")) {
        snprintf(why, n, "%s", json_string_value(json_object_get(it->best, "error")));
        return STATUS_FAILED;
    }
    if (stat(it->output, &sb) != 0) {
        snprintf(why, n, "%s: the results say done, but the output is gone: %s", it->output, strerror(errno));
        return STATUS_MISSING;
    }
    return STATUS_DONE;
}

/* The line printed for one item. */
static void
status_print(const struct status *st, const struct status_item *it, enum status_state s, const char *why,
             int quiet)
{
    json_t *rec = it->best, *o;
    char *text;

    o = json_pack("{s:I,s:s,s:s,s:s,s:s?,s:O?,s:O?,s:O?,s:O?}", "line", (json_int_t)it->line, "input",
                  it->input, "output", it->output, "state", status_names[s], "error", why[0] ? why : NULL,
                  "status", json_object_get(rec, "status"), "finished", json_object_get(rec, "finished"),
                  "host", json_object_get(rec, "host"), "shard", json_object_get(rec, "shard"));
    text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(o);
    if (!quiet && s != STATUS_DONE)
        fprintf(stderr, "raw2dmp: %s:%zu: %s%s%s\n", st->manifest, it->line, status_names[s],
                why[0] ? ": " : "", why);
}

int
cli_batch_status(const char *manifest, const char *dir, int quiet)
{
    struct status st = {.manifest = manifest};
    size_t count[3] = {0, 0, 0};
    int code = CLI_EXIT_USAGE;

    if (cli_manifest_read(st.manifest, st.manifest, status_take_item, &st) == 0 && status_read_dir(&st, dir) == 0) {
        for (size_t i = 0; i < st.n; i++) {
            char why[2048];
            const enum status_state s = status_judge(&st.items[i], why, sizeof(why));

            count[s]++;
            status_print(&st, &st.items[i], s, why, quiet);
        }
        code = count[STATUS_FAILED]    ? CLI_EXIT_FAILED
               : count[STATUS_MISSING] ? CLI_EXIT_INCOMPLETE
                                       : CLI_EXIT_OK;
        if (!quiet)
            fprintf(stderr, "raw2dmp: batch status: %zu item%s: %zu done, %zu failed, %zu missing%s\n", st.n,
                    st.n == 1 ? "" : "s", count[STATUS_DONE], count[STATUS_FAILED], count[STATUS_MISSING],
                    st.bad_lines ? " (some result lines were unreadable and skipped)" : "");
    }
    fflush(stdout);
    for (size_t i = 0; i < st.n; i++) {
        json_decref(st.items[i].doc);
        json_decref(st.items[i].best);
        json_decref(st.items[i].busy);
    }
    free(st.items);
    return code;
}
