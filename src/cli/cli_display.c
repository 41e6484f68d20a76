/* SPDX-License-Identifier: MIT */
/* The progress line on stderr and messages around it, safe to call from several conversion threads. */
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

/* "  812.0 / 2048.0 MiB   402.3 MiB/s  ETA    3 s" for the one conversion. */
static void
display_format_single(const struct cli_display *d, double secs, char *line, size_t n)
{
    const struct cli_slot *s = &d->slots[0];
    const double rate = secs > 0 ? (double)s->done / secs : 0;
    const uint64_t left = s->total > s->done ? s->total - s->done : 0;

    if (rate > 0)
        snprintf(line, n, "%8.1f / %.1f MiB  %6.1f MiB/s  ETA %4.0f s", (double)s->done / 1048576.0,
                 (double)s->total / 1048576.0, rate / 1048576.0, (double)left / rate);
    else
        snprintf(line, n, "%8.1f / %.1f MiB", (double)s->done / 1048576.0, (double)s->total / 1048576.0);
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
        display_format_single(d, secs, line, sizeof(line));
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
    s->done = done;
    s->total = total;
    if (!d->ended && (display_seconds(&d->last, &now) >= DISPLAY_REFRESH_S || (!d->batch && done >= total))) {
        display_draw(d, &now);
        /* A single conversion's line ends with it; a batch line ends with the batch. */
        if (!d->batch && done >= total && total) {
            fputc('\n', stderr);
            d->dirty = 0;
            d->ended = 1;
        }
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
