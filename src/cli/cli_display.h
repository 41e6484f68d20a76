/* SPDX-License-Identifier: MIT */
/* The terminal: one progress line on stderr (single conversion or batch) and messages that do not garble it.
 */
#ifndef R2D_CLI_CLI_DISPLAY_H
#define R2D_CLI_CLI_DISPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "raw2dmp/convert.h"

struct cli_display;

/* One running conversion; its address is the progress callback's argument (r2d_ctx_set_progress). */
struct cli_slot {
    struct cli_display *display;
    const char *name; /* shown in the batch line; NULL = idle */
    uint64_t done, total;
    int writing;           /* progress has been reported: the dump is being written */
    struct timespec first; /* when the first progress came (the rate is measured from it) */
};

/**
 * A display for nslots concurrent conversions (1 for a single conversion). progress: draw the progress
 * line at all; batch: draw the combined batch line instead of bytes/rate/ETA. All calls are thread-safe.
 * NULL when out of memory.
 */
struct cli_display *cli_display_new(int progress, int batch, size_t nslots);
void cli_display_free(struct cli_display *d);
struct cli_slot *cli_display_slot(struct cli_display *d, size_t i);

/* r2d_progress_fn: arg is a struct cli_slot. Redraws at most about six times a second. */
void cli_display_progress(void *arg, uint64_t done, uint64_t total);
/* Mark slot as running item name (batch) or idle (name NULL; its bytes count as finished). */
void cli_display_slot_set(struct cli_slot *s, const char *name);
/* Items finished so far and in all, for the batch line. */
void cli_display_set_counts(struct cli_display *d, size_t finished, size_t total);
/* Where a context's log messages go (r2d_ctx_set_log with cli_display_log). */
struct cli_log_sink {
    struct cli_display *display;
    const char *prefix; /* e.g. "manifest.jsonl:3: " in a batch; NULL */
};

/* r2d_log_fn: arg is a struct cli_log_sink. */
void cli_display_log(void *arg, int level, const char *msg);
/* r2d_result_fn: arg is a struct cli_log_sink. Prints the conversion's closing line (cli_format_result). */
void cli_display_result(void *arg, const struct r2d_result *res);
/* The closing line without "raw2dmp: ": output, dump type, size, pages, elapsed, rate, digest prefix. */
void cli_format_result(const struct r2d_result *res, char *line, size_t n);
/* Bytes in binary units with one decimal ("812.0 MiB"; under 1 KiB "512 B"). */
void cli_human_bytes(uint64_t bytes, char *buf, size_t n);
/* Seconds as h:mm:ss ("0:01:05"), rounded. */
void cli_hms(double secs, char *buf, size_t n);
/* Print "raw2dmp: <prefix><msg>\n" on stderr, clearing the progress line first. prefix may be NULL. */
void cli_display_message(struct cli_display *d, const char *prefix, const char *msg);
/* Write text (with its newline) to out, clearing the progress line first; flushes out. */
void cli_display_print(struct cli_display *d, FILE *out, const char *text);
/* End the progress line for good (before the final summary or exit). */
void cli_display_end(struct cli_display *d);

#endif
