/* SPDX-License-Identifier: MIT */
/*
 * EWF images (EnCase E01 and its split segments .E02 ...; Ex01 as far as libewf reads it) through libewf:
 * the segment files are found from the first (libewf_glob) and opened by name, so the EWF must be the file
 * on disk, not inside another container. Every chunk's checksum is checked when it is read (a mismatch is
 * an error, never zeros); the stored MD5 and SHA-1 are reported and, with --verify-container, compared with
 * the whole media read once at open. Facts: docs/formats/containers.md "EWF".
 */
#include <inttypes.h>
#include <libewf.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container_kinds.h"

#define EWF_CHUNK (1u << 20)

struct ewf_src {
    libewf_handle_t *h;
    const char *name; /* the first segment's */
    uint32_t bad;     /* checksum errors libewf has recorded so far */
    char **names;     /* the segment files opened, in order (libewf_glob's list), or NULL: only name */
    int nnames;
};

/* libewf's message (the last line of its backtrace) into buf, and the error freed. */
static const char *
ewf_msg(libewf_error_t **err, char *buf, size_t len)
{
    char all[1024];
    const char *last;

    snprintf(buf, len, "libewf error");
    if (err && *err) {
        if (libewf_error_sprint(*err, all, sizeof(all)) > 0) {
            all[sizeof(all) - 1] = '\0';
            while (strlen(all) && (all[strlen(all) - 1] == '\n' || all[strlen(all) - 1] == '.'))
                all[strlen(all) - 1] = '\0';
            last = strrchr(all, '\n');
            snprintf(buf, len, "%s", last ? last + 1 : all);
        }
        libewf_error_free(err);
    }
    return buf;
}

static void
ewf_free(struct ewf_src *e)
{
    if (!e)
        return;
    if (e->h) {
        libewf_handle_close(e->h, NULL);
        libewf_handle_free(&e->h, NULL);
    }
    if (e->names)
        libewf_glob_free(e->names, e->nnames, NULL);
    free(e);
}

/* A chunk failed its checksum since the last look: name its sectors. */
static int
ewf_check_bad(struct r2d_ctx *ctx, struct ewf_src *e)
{
    uint32_t n = 0;
    uint64_t first = 0, count = 0;

    if (libewf_handle_get_number_of_checksum_errors(e->h, &n, NULL) != 1 || n <= e->bad)
        return 0;
    (void)libewf_handle_get_checksum_error(e->h, e->bad, &first, &count, NULL);
    e->bad = n;
    return r2d_err(ctx, R2D_EFORMAT,
                   "%s: sectors %" PRIu64 "-%" PRIu64 " (media offset 0x%" PRIx64
                   "): EWF chunk checksum mismatch "
                   "(corrupt chunk)",
                   e->name, first, first + (count ? count - 1 : 0), first * 512);
}

static int
ewf_pread(struct r2d_ctx *ctx, struct ewf_src *e, uint64_t off, void *buf, size_t len)
{
    libewf_error_t *err = NULL;
    char msg[300];
    const ssize_t n = libewf_handle_read_random(e->h, buf, len, (off64_t)off, &err);
    const int rc = ewf_check_bad(ctx, e);

    if (rc)
        return rc;
    if (n < 0 || (size_t)n != len)
        return r2d_err(ctx, R2D_EFORMAT,
                       "%s: media offset 0x%" PRIx64 ": cannot read 0x%zx bytes of EWF data (%s)", e->name,
                       off, len, n < 0 ? ewf_msg(&err, msg, sizeof(msg)) : "short read");
    return 0;
}

static int
ewf_read(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, uint64_t off, void *buf, size_t len, const char *what)
{
    (void)what;
    return ewf_pread(ctx, r2d_bytesrc_priv(bs), off, buf, len);
}

static void
ewf_close(struct r2d_bytesrc *bs)
{
    ewf_free(r2d_bytesrc_priv(bs));
}

static const struct r2d_bytesrc_ops ewf_ops = {
    .kind = "ewf",
    .read = ewf_read,
    .close = ewf_close,
};

/* libewf_handle_open on names (n of them) with our checks; the handle is made here. */
static int
ewf_open_names(struct r2d_ctx *ctx, struct ewf_src *e, char *const *names, int n)
{
    libewf_error_t *err = NULL;
    char msg[300];

    if (libewf_handle_initialize(&e->h, &err) != 1)
        return r2d_err(ctx, R2D_ENOMEM, "%s: %s", e->name, ewf_msg(&err, msg, sizeof(msg)));
    if (libewf_handle_open(e->h, names, n, LIBEWF_OPEN_READ, &err) != 1)
        return r2d_err(ctx, R2D_EFORMAT, "%s: cannot open the EWF image (%d segment file%s found): %s",
                       e->name, n, n == 1 ? "" : "s", ewf_msg(&err, msg, sizeof(msg)));
    if (libewf_handle_segment_files_corrupted(e->h, NULL) == 1)
        return r2d_err(
            ctx, R2D_EFORMAT,
            "%s: the EWF image is incomplete: %d segment file%s found (up to %s), a segment is missing "
            "or damaged",
            e->name, n, n == 1 ? "" : "s", names[n - 1]);
    /* A chunk that fails its checksum is an error to us, not zeros. */
    (void)libewf_handle_set_read_zero_chunk_on_error(e->h, 0, NULL);
    return 0;
}

/*
 * Find the segments from the first (libewf_glob wants the .E01/.Ex01 extension) and open them all; a file
 * named otherwise is opened alone.
 */
static int
ewf_open_handle(struct r2d_ctx *ctx, struct ewf_src *e, int *segments)
{
    libewf_error_t *err = NULL;
    char **names = NULL, *self[1] = {(char *)e->name};
    int n = 0, rc;

    if (libewf_glob(e->name, strlen(e->name), LIBEWF_FORMAT_UNKNOWN, &names, &n, &err) != 1) {
        libewf_error_free(&err);
        *segments = 1;
        return ewf_open_names(ctx, e, self, 1);
    }
    rc = ewf_open_names(ctx, e, names, n);
    *segments = n;
    /* Kept for the report and the evidence checks: every segment is a file the conversion reads. */
    e->names = names;
    e->nnames = n;
    return rc;
}

/* The stored digests, as hex; *have says which of MD5 and SHA-1 the image holds. */
static void
ewf_stored(struct ewf_src *e, char md5[33], char sha1[41], int *have_md5, int *have_sha1)
{
    uint8_t d[20];

    *have_md5 = libewf_handle_get_md5_hash(e->h, d, 16, NULL) == 1;
    if (*have_md5)
        r2d_container_hex(d, 16, md5);
    *have_sha1 = libewf_handle_get_sha1_hash(e->h, d, 20, NULL) == 1;
    if (*have_sha1)
        r2d_container_hex(d, 20, sha1);
}

/* Read the whole media once and compare with the stored digests. */
static int
ewf_verify(struct r2d_ctx *ctx, struct ewf_src *e, uint64_t size, const char *md5, const char *sha1)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new(), *s = EVP_MD_CTX_new();
    uint8_t *buf = malloc(EWF_CHUNK), dm[EVP_MAX_MD_SIZE], ds[EVP_MAX_MD_SIZE];
    char hm[33] = "", hs[41] = "";
    int rc = 0;

    if (!m || !s || !buf || !EVP_DigestInit_ex(m, EVP_md5(), NULL) || !EVP_DigestInit_ex(s, EVP_sha1(), NULL))
        rc = r2d_err(ctx, R2D_ENOMEM, "%s: cannot set up MD5 and SHA-1", e->name);
    for (uint64_t at = 0; !rc && at < size;) {
        const size_t n = size - at < EWF_CHUNK ? (size_t)(size - at) : EWF_CHUNK;

        rc = r2d_cancelled(ctx) ? r2d_err(ctx, R2D_ECANCELED, "%s: cancelled while verifying", e->name)
                                : ewf_pread(ctx, e, at, buf, n);
        if (!rc && (!EVP_DigestUpdate(m, buf, n) || !EVP_DigestUpdate(s, buf, n)))
            rc = r2d_err(ctx, R2D_ENOMEM, "%s: MD5/SHA-1 failed", e->name);
        at += n;
    }
    if (!rc && (!EVP_DigestFinal_ex(m, dm, NULL) || !EVP_DigestFinal_ex(s, ds, NULL)))
        rc = r2d_err(ctx, R2D_ENOMEM, "%s: MD5/SHA-1 failed", e->name);
    if (!rc) {
        r2d_container_hex(dm, 16, hm);
        r2d_container_hex(ds, 20, hs);
    }
    if (!rc && md5 && strcmp(md5, hm) != 0)
        rc = r2d_err(ctx, R2D_EFORMAT, "%s: EWF MD5 mismatch: stored %s, data %s", e->name, md5, hm);
    if (!rc && sha1 && strcmp(sha1, hs) != 0)
        rc = r2d_err(ctx, R2D_EFORMAT, "%s: EWF SHA-1 mismatch: stored %s, data %s", e->name, sha1, hs);
    EVP_MD_CTX_free(m);
    EVP_MD_CTX_free(s);
    free(buf);
    return rc;
}

static void
ewf_header_note(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, struct ewf_src *e, const char *id,
                const char *key)
{
    uint8_t v[256];

    if (libewf_handle_get_utf8_header_value(e->h, (const uint8_t *)id, strlen(id), v, sizeof(v), NULL) == 1 &&
        v[0])
        (void)r2d_bytesrc_add_note(ctx, bs, key, (const char *)v);
}

static int
ewf_describe(struct r2d_ctx *ctx, struct r2d_bytesrc *bs, struct ewf_src *e, int segments, int verified)
{
    struct r2d_bytesrc_digest d = {.state = verified ? R2D_DIGEST_MATCHED : R2D_DIGEST_UNCHECKED,
                                   .how = verified ? "--verify-container" : NULL};
    char md5[33], sha1[41], v[200];
    int have_md5, have_sha1, rc;
    uint32_t chunk = 0;

    (void)libewf_handle_get_chunk_size(e->h, &chunk, NULL);
    snprintf(v, sizeof(v),
             "libewf: %d segment file%s, chunks of %" PRIu32 " KiB, each checksum checked when read",
             segments, segments == 1 ? "" : "s", chunk >> 10);
    rc = r2d_bytesrc_set_how(ctx, bs, v);
    snprintf(v, sizeof(v), "%d", segments);
    if (!rc)
        rc = r2d_bytesrc_add_note(ctx, bs, "segments", v);
    for (int i = 0; !rc && i < (e->names ? e->nnames : 1); i++)
        rc = r2d_bytesrc_add_file(ctx, bs, e->names ? e->names[i] : e->name);
    ewf_header_note(ctx, bs, e, "case_number", "case_number");
    ewf_header_note(ctx, bs, e, "evidence_number", "evidence_number");
    ewf_header_note(ctx, bs, e, "examiner_name", "examiner");
    ewf_header_note(ctx, bs, e, "acquiry_date", "acquired");
    ewf_header_note(ctx, bs, e, "acquiry_software_version", "acquired_with");
    ewf_stored(e, md5, sha1, &have_md5, &have_sha1);
    if (!rc && have_md5) {
        snprintf(d.alg, sizeof(d.alg), "md5");
        snprintf(d.hex, sizeof(d.hex), "%s", md5);
        rc = r2d_bytesrc_add_digest(ctx, bs, &d, NULL);
    }
    if (!rc && have_sha1) {
        snprintf(d.alg, sizeof(d.alg), "sha1");
        snprintf(d.hex, sizeof(d.hex), "%s", sha1);
        rc = r2d_bytesrc_add_digest(ctx, bs, &d, NULL);
    }
    return rc;
}

static int
ewf_setup(struct r2d_ctx *ctx, struct ewf_src *e, int verify, uint64_t *size, int *segments)
{
    libewf_error_t *err = NULL;
    char md5[33], sha1[41], msg[300];
    int have_md5, have_sha1, rc = ewf_open_handle(ctx, e, segments);

    if (!rc && libewf_handle_get_media_size(e->h, size, &err) != 1)
        rc =
            r2d_err(ctx, R2D_EFORMAT, "%s: no EWF media size (%s)", e->name, ewf_msg(&err, msg, sizeof(msg)));
    if (!rc && verify) {
        ewf_stored(e, md5, sha1, &have_md5, &have_sha1);
        R2D_CHECK(!have_md5 && !have_sha1, ctx, R2D_EUNSUPPORTED,
                  "%s: --verify-container: the EWF image stores no MD5 or SHA-1", e->name);
        rc = ewf_verify(ctx, e, *size, have_md5 ? md5 : NULL, have_sha1 ? sha1 : NULL);
    }
    return rc;
}

static int
ewf_open(struct r2d_ctx *ctx, struct r2d_bytesrc *below, const struct r2d_container_opts *opts,
         struct r2d_bytesrc **out)
{
    struct ewf_src *e = calloc(1, sizeof(*e));
    char *name = r2d_container_name(below, "ewf");
    uint64_t size = 0;
    int segments = 0, rc = 0;

    *out = NULL;
    if (!e || !name)
        rc = r2d_err(ctx, R2D_ENOMEM, "out of memory");
    else if (r2d_bytesrc_below(below) || r2d_bytesrc_fd(below) < 0)
        rc = r2d_err(
            ctx, R2D_EUNSUPPORTED,
            "%s: an EWF image inside another container: libewf reads segment files by name; extract it first",
            r2d_bytesrc_name(below));
    if (!rc) {
        e->name = r2d_bytesrc_name(below);
        rc = ewf_setup(ctx, e, opts->verify, &size, &segments);
    }
    if (rc) {
        ewf_free(e);
        free(name);
        r2d_bytesrc_close(below);
        return rc;
    }
    rc = r2d_bytesrc_new_layer(ctx, &ewf_ops, e, below, name, size, out);
    free(name);
    if (!rc)
        rc = ewf_describe(ctx, *out, e, segments, opts->verify);
    if (rc) {
        r2d_bytesrc_close(*out);
        *out = NULL;
    }
    return rc;
}

void
r2d_container_segments(const char *path, char ***names, int *n)
{
    libewf_error_t *err = NULL;

    *names = NULL;
    *n = 0;
    if (libewf_glob(path, strlen(path), LIBEWF_FORMAT_UNKNOWN, names, n, &err) != 1) {
        libewf_error_free(&err);
        *names = NULL;
        *n = 0;
    }
}

void
r2d_container_segments_free(char **names, int n)
{
    if (names)
        libewf_glob_free(names, n, NULL);
}

const struct r2d_container_kind r2d_container_ewf = {
    .name = "ewf",
    .summary = "EWF (libewf): E01 and split segments, Ex01 as libewf reads it; stored MD5/SHA-1 reported",
    .probe = r2d_probe_ewf,
    .open = ewf_open,
};
