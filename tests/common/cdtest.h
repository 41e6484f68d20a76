/* SPDX-License-Identifier: MIT */
/* Helpers shared by the crash dump tests: scratch directories, files, notes. */
#ifndef R2D_TESTS_CRASHDUMP_CDTEST_H
#define R2D_TESTS_CRASHDUMP_CDTEST_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"
#include "image.h"

/* A fresh scratch directory under $TMPDIR (or /tmp); the caller frees the string. */
static inline char *
cdtest_mkdtemp(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *dir = malloc(strlen(base) + 32);

    if (!dir)
        abort();
    sprintf(dir, "%s/r2d-cdtest.XXXXXX", base);
    if (!mkdtemp(dir))
        abort();
    return dir;
}

/* Remove every file of a flat scratch directory, then the directory. */
static inline void
cdtest_rmdir(char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    while (d && (e = readdir(d)) != NULL) {
        char p[4096];

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
    free(dir);
}

/* Number of directory entries (besides . and ..) whose name contains needle ("" counts all). */
static inline int
cdtest_count_entries(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    while (d && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, needle))
            n++;
    if (d)
        closedir(d);
    return n;
}

static inline char *
cdtest_path(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);

    if (!p)
        abort();
    sprintf(p, "%s/%s", dir, name);
    return p;
}

/* Deterministic pseudo-random bytes (xorshift64*), so failures reproduce. */
static inline void
cdtest_random(uint8_t *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed | 1;

    for (size_t i = 0; i < len; i++) {
        if ((i & 7) == 0) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
        }
        buf[i] = (uint8_t)((x * 0x2545F4914F6CDD1DULL) >> (8 * (i & 7)));
    }
}

static inline void
cdtest_write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
        abort();
}

static inline uint8_t *
cdtest_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        abort();
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
        abort();
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* The value of note key, or NULL. */
static inline const char *
cdtest_note(const struct r2d_image *img, const char *key)
{
    for (size_t i = 0; i < r2d_image_note_count(img); i++) {
        const char *k, *v;

        r2d_image_note(img, i, &k, &v);
        if (strcmp(k, key) == 0)
            return v;
    }
    return NULL;
}

#endif
