/* SPDX-License-Identifier: MIT */
/* The AFF4 volume being opened (aff4.c, aff4_objects.c): the archive, its graph and the streams read. */
#ifndef R2D_FORMATS_AFF4_VOLUME_H
#define R2D_FORMATS_AFF4_VOLUME_H

#include "aff4.h"
#include "format.h"
#include "zip_archive.h"

#define AFF4_STREAMS_MAX 16u

/*
 * The image's decoding source: the streams the runs read, one after another in its address space. A stream
 * is an ImageStream (st) or a stored ZIP member read in place (st NULL, its data at seg_off of in).
 */
struct aff4_src {
    const struct r2d_bytesrc *in;
    struct r2d_aff4_stream *st[AFF4_STREAMS_MAX];
    char *urn[AFF4_STREAMS_MAX];
    uint64_t base[AFF4_STREAMS_MAX], size[AFF4_STREAMS_MAX], seg_off[AFF4_STREAMS_MAX];
    size_t n;
};

struct aff4_vol {
    struct r2d_ctx *ctx;
    struct r2d_image *img;
    const struct r2d_bytesrc *in;
    const char *file;
    struct r2d_zip *z;
    char *volume; /* the volume's URN */
    struct r2d_aff4_graph g;
    struct aff4_src *src;
    size_t symbolic; /* map entries onto symbolic streams (aff4:Zero ...), left out */
};

/** The member for urn + suffix (a name relative to the volume or the escaped URN); R2D_ENOTFOUND if none. */
int r2d_aff4_member(struct aff4_vol *v, const char *urn, const char *suffix, struct r2d_zip_member *m,
                    char *name, size_t name_len);
/** Whether urn has rdf:type <ns>name for one of the AFF4 namespaces (standard, legacy). */
int r2d_aff4_is_a(const struct aff4_vol *v, const char *urn, const char *name);
/** The first of the predicates' objects (NULL-terminated list of full IRIs) for urn, or NULL. */
const char *r2d_aff4_prop(const struct aff4_vol *v, const char *urn, const char *const *preds);
/**
 * The stream urn in the source (opened once): an ImageStream, or a member holding the bytes as they are
 * (pyaff4 writes a map's data that way when it is not compressed); its index in v->src on success.
 */
int r2d_aff4_stream_of(struct aff4_vol *v, const char *urn, uint32_t *index);
/** The runs of Map urn, resolved down to ImageStreams (maps of maps followed, cycles refused). */
int r2d_aff4_map_runs(struct aff4_vol *v, const char *urn, unsigned depth, const char **stack,
                      struct r2d_aff4_run **out, size_t *n);

/** Read len bytes at off of the source's address space (the streams one after another). */
int r2d_aff4_src_read(struct r2d_ctx *ctx, void *src, uint64_t off, void *buf, size_t len);
/**
 * Record the hashes the turtle stores of the memory object urn (a map, whose runs are given, or a stream) and
 * of the streams read, in the image; when the caller asked (r2d_image_hint_verify), compute the linear ones
 * over what they cover and fail with R2D_EFORMAT naming the file, object and algorithm on a mismatch.
 */
int r2d_aff4_digests(struct aff4_vol *v, const char *urn, int is_map, const struct r2d_aff4_run *runs,
                     size_t n);

#endif
