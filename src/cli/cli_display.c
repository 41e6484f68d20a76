/* SPDX-License-Identifier: MIT */
/* The progress line on stderr and messages around it, safe to call from several conversion threads. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli_display.h"
#include "raw2dmp/ctx.h"

/* About six redraws a second (zstd's REFRESH_RATE): smooth enough, and cheap over ssh. */
#define DISPLAY_REFRESH_S 0.16
#define DISPLAY_LINE_MAX 512
#define DISPLAY_NAME_MAX 24
/* The rate and ETA are shown only after this much writing (and 1% done): see display_format_single. */
#define DISPLAY_RATE_MIN_S 1.0

struct cli_display {
    pthread_mutex_t lock;
    int progress; /* draw at all */
    int batch;    /* combined batch line */
    int tty;      /* stderr is a terminal: clear with ESC[K, clip to its width */
    int dirty;    /* a progress line is on screen without its newline */
    int ended;    /* a single conversion's line was completed */
    struct timespec start, last;
    uint64_t finished_bytes; /* of conversions no longer in a slot */
    size_t finished, total;  /* items, for the batch line */
    size_t nslots;
    struct cli_slot slots[];
};

static double
display_seconds(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

struct cli_display *
cli_display_new(int progress, int batch, size_t nslots)
{
    struct cli_display *d = calloc(1, sizeof(*d) + nslots * sizeof(d->slots[0]));

    if (!d)
        return NULL;
    pthread_mutex_init(&d->lock, NULL);
    d->progress = progress;
    d->batch = batch;
    d->tty = isatty(STDERR_FILENO);
    d->nslots = nslots;
    for (size_t i = 0; i < nslots; i++)
        d->slots[i].display = d;
    clock_gettime(CLOCK_MONOTONIC, &d->start);
    return d;
}

void
cli_display_free(struct cli_display *d)
{
    if (!d)
        return;
    pthread_mutex_destroy(&d->lock);
    free(d);
}

struct cli_slot *
cli_display_slot(struct cli_display *d, size_t i)
{
    return i < d->nslots ? &d->slots[i] : NULL;
}

/* Take the progress line off the screen (lock held): erase it on a terminal, else end it. */
static void
display_clear(struct cli_display *d)
{
    if (!d->dirty)
        return;
    fputs(d->tty ? "\r\033[K" : "\n", stderr);
    d->dirty = 0;
}

static size_t
display_width(const struct cli_display *d)
{
    struct winsize ws;

    if (d->tty && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        return ws.ws_col - 1 < DISPLAY_LINE_MAX ? ws.ws_col - 1u : DISPLAY_LINE_MAX - 1u;
    return DISPLAY_LINE_MAX - 1;
}

void
cli_human_bytes(uint64_t bytes, char *buf, size_t n)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    unsigned u = 0;

    if (bytes < 1024) {
        snprintf(buf, n, "%" PRIu64 " B", bytes);
        return;
    }
    v /= 1024.0;
    while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, n, "%.1f %s", v, units[u]);
}

void
cli_hms(double secs, char *buf, size_t n)
{
    const uint64_t s = secs > 0 ? (uint64_t)(secs + 0.5) : 0;

    snprintf(buf, n, "%" PRIu64 ":%02u:%02u", s / 3600, (unsigned)(s / 60 % 60), (unsigned)(s % 60));
}

/*
 * " 42%  812.0 MiB / 2.0 GiB  402.3 MiB/s  elapsed 0:00:05  ETA 0:00:03" for the one conversion. The rate
 * is the average since the first byte was written (the analysis before it writes nothing), and it and the
 * ETA appear only once they mean something: a second of writing and 1% done. Earlier, a few milliseconds'
 * burst (a header, a hole) gave a first frame promising "6486 s" and a last one "315383 MiB/s".
 */
static void
display_format_single(const struct cli_display *d, const struct timespec *now, char *line, size_t n)
{
    const struct cli_slot *s = &d->slots[0];
    const double writing = display_seconds(&s->first, now);
    const double rate = writing > 0 ? (double)s->done / writing : 0;
    const uint64_t left = s->total > s->done ? s->total - s->done : 0;
    char done[32], total[32], elapsed[32], eta[32];
    size_t len = 0;

    cli_human_bytes(s->done, done, sizeof(done));
    cli_human_bytes(s->total, total, sizeof(total));
    cli_hms(display_seconds(&d->start, now), elapsed, sizeof(elapsed));
    if (s->total)
        len = (size_t)snprintf(line, n, "%3.0f%%  %s / %s", 100.0 * (double)s->done / (double)s->total, done,
                               total);
    else
        len = (size_t)snprintf(line, n, "%s", done);
    if (len < n && writing >= DISPLAY_RATE_MIN_S && s->total && s->done * 100 >= s->total && rate > 0) {
        cli_hms((double)left / rate, eta, sizeof(eta));
        len += (size_t)snprintf(line + len, n - len, "  %.1f MiB/s  elapsed %s  ETA %s", rate / 1048576.0,
                                elapsed, eta);
    } else if (len < n) {
        snprintf(line + len, n - len, "  elapsed %s", elapsed);
    }
}

/* "[3/10] a.dmp 45% b.dmp 12%  380.1 MiB/s" for a batch: every running item and the overall rate. */
static void
display_format_batch(const struct cli_display *d, double secs, char *line, size_t n)
{
    uint64_t bytes = d->finished_bytes;
    size_t len = (size_t)snprintf(line, n, "[%zu/%zu]", d->finished, d->total);

    for (size_t i = 0; i < d->nslots && len < n; i++) {
        const struct cli_slot *s = &d->slots[i];
        const char *base;

        if (!s->name)
            continue;
        bytes += s->done;
        base = strrchr(s->name, '/') ? strrchr(s->name, '/') + 1 : s->name;
        len += (size_t)snprintf(line + len, n - len, " %.*s %2.0f%%", DISPLAY_NAME_MAX, base,
                                s->total ? 100.0 * (double)s->done / (double)s->total : 0.0);
    }
    if (len < n)
        snprintf(line + len, n - len, "  %.1f MiB/s", secs > 0 ? (double)bytes / secs / 1048576.0 : 0.0);
}

/* Draw the line (lock held). */
static void
display_draw(struct cli_display *d, const struct timespec *now)
{
    char line[DISPLAY_LINE_MAX];
    const double secs = display_seconds(&d->start, now);
    size_t width = display_width(d);

    if (d->batch)
        display_format_batch(d, secs, line, sizeof(line));
    else
        display_format_single(d, now, line, sizeof(line));
    if (strlen(line) > width)
        line[width] = '\0';
    /* Without a terminal there is no ESC[K: pad to overwrite a longer previous line. */
    fprintf(stderr, d->tty ? "\r%s\033[K" : "\r%-60s", line);
    fflush(stderr);
    d->dirty = 1;
    d->last = *now;
}

void
cli_display_progress(void *arg, uint64_t done, uint64_t total)
{
    struct cli_slot *s = arg;
    struct cli_display *d = s->display;
    struct timespec now;

    if (!d->progress)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&d->lock);
    if (!s->writing) {
        s->writing = 1;
        s->first = now;
    }
    s->done = done;
    s->total = total;
    if (!d->batch && total && done >= total && !d->ended) {
        /*
         * A single conversion's line goes when its dump is complete: erased on a terminal, where the closing
         * line takes its place; ended with its final frame in a log.
         */
        if (!d->tty)
            display_draw(d, &now);
        display_clear(d);
        d->ended = 1;
    } else if (!d->ended && display_seconds(&d->last, &now) >= DISPLAY_REFRESH_S) {
        display_draw(d, &now);
    }
    pthread_mutex_unlock(&d->lock);
}

void
cli_display_slot_set(struct cli_slot *s, const char *name)
{
    struct cli_display *d = s->display;

    pthread_mutex_lock(&d->lock);
    if (!name)
        d->finished_bytes += s->done;
    s->name = name;
    s->done = s->total = 0;
    s->writing = 0;
    pthread_mutex_unlock(&d->lock);
}

void
cli_display_set_counts(struct cli_display *d, size_t finished, size_t total)
{
    pthread_mutex_lock(&d->lock);
    d->finished = finished;
    d->total = total;
    pthread_mutex_unlock(&d->lock);
}

void
cli_display_message(struct cli_display *d, const char *prefix, const char *msg)
{
    pthread_mutex_lock(&d->lock);
    display_clear(d);
    fprintf(stderr, "raw2dmp: %s%s\n", prefix ? prefix : "", msg);
    fflush(stderr);
    pthread_mutex_unlock(&d->lock);
}

/*
 * The closing line: "raw2dmp: m.dmp: full dump, 2.0 GiB, 524288 pages, 0:00:04, 498.1 MiB/s, sha256
 * 3f2a9c1d5e6b7a80". The digest shown is the first computed (SHA-256 unless --hash left it out).
 */
void
cli_format_result(const struct r2d_result *res, char *line, size_t n)
{
    const char *const names[] = {"sha256", "sha1", "md5"};
    const char *const hex[] = {res->sha256, res->sha1, res->md5};
    char size[32], elapsed[32], rate[48] = "", digest[48] = ", no digest";

    cli_human_bytes(res->size, size, sizeof(size));
    if (res->elapsed_s < 60)
        snprintf(elapsed, sizeof(elapsed), "%.1f s", res->elapsed_s);
    else
        cli_hms(res->elapsed_s, elapsed, sizeof(elapsed));
    if (res->write_s > 0)
        snprintf(rate, sizeof(rate), ", %.1f MiB/s", (double)res->size / res->write_s / 1048576.0);
    for (int i = 2; i >= 0; i--)
        if (hex[i] && hex[i][0])
            snprintf(digest, sizeof(digest), ", %s %.16s", names[i], hex[i]);
    snprintf(line, n, "%s: %s dump, %s, %" PRIu64 " pages, %s%s%s", res->output,
             res->dump_type == 5 ? "bitmap" : "full", size, res->pages, elapsed, rate, digest);
}

void
cli_display_result(void *arg, const struct r2d_result *res)
{
    const struct cli_log_sink *sink = arg;
    char line[DISPLAY_LINE_MAX];

    cli_format_result(res, line, sizeof(line));
    cli_display_message(sink->display, sink->prefix, line);
}

void
cli_display_log(void *arg, int level, const char *msg)
{
    const struct cli_log_sink *sink = arg;
    char prefix[512];

    /*
     * The context already filtered by verbosity; the level only names the kind of message. Library
     * messages carry no "warning:" of their own: the word comes from here, after a batch item's position,
     * as a compiler puts it ("m.jsonl:3: warning: ...").
     */
    snprintf(prefix, sizeof(prefix), "%s%s", sink->prefix ? sink->prefix : "",
             level > R2D_LOG_ERROR && level <= R2D_LOG_WARN ? "warning: " : "");
    cli_display_message(sink->display, prefix, msg);
}

void
cli_display_print(struct cli_display *d, FILE *out, const char *text)
{
    pthread_mutex_lock(&d->lock);
    if (out == stdout && isatty(STDOUT_FILENO))
        display_clear(d);
    fputs(text, out);
    fflush(out);
    pthread_mutex_unlock(&d->lock);
}

void
cli_display_end(struct cli_display *d)
{
    pthread_mutex_lock(&d->lock);
    display_clear(d);
    pthread_mutex_unlock(&d->lock);
}
