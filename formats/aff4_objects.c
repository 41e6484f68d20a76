/* SPDX-License-Identifier: MIT */
/*
 * The objects of an AFF4 volume as its turtle describes them: which ZIP member holds an object (a name
 * relative to the volume's URN, or the URN with "aff4://" escaped), ImageStreams opened with their
 * parameters, and Maps resolved to runs over those streams. Facts: docs/formats/aff4.md A2-A7.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aff4_volume.h"
#include "array.h"

#define AFF4_IDX_MAX (1u << 20) /* a map's target list */

static const char *const pred_size[] = {R2D_AFF4_NS "size", R2D_AFF4_LEGACY_NS "size", NULL};
static const char *const pred_chunk[] = {R2D_AFF4_NS "chunkSize", R2D_AFF4_NS "chunk_size",
                                         R2D_AFF4_LEGACY_NS "chunk_size", NULL};
static const char *const pred_per_bevy[] = {R2D_AFF4_NS "chunksInSegment", R2D_AFF4_NS "chunks_per_segment",
                                            R2D_AFF4_LEGACY_NS "chunks_in_segment", NULL};
static const char *const pred_codec[] = {R2D_AFF4_NS "compressionMethod", R2D_AFF4_NS "compression",
                                         R2D_AFF4_LEGACY_NS "CompressionMethod", NULL};

/* pyaff4's escaping of member names: '%XX' for non-printables and !$\:*%?"<>|] */
static void
aff4_escape(const char *s, char *out, size_t n)
{
    size_t k = 0;

    for (; *s && k + 4 < n; s++) {
        const unsigned char c = (unsigned char)*s;

        if (c < 0x20 || c > 0x7e || strchr("!$\\:*%?\"<>|]", c))
            k += (size_t)snprintf(out + k, n - k, "%%%02x", c);
        else
            out[k++] = (char)c;
    }
    out[k] = 0;
}

int
r2d_aff4_member(struct aff4_vol *v, const char *urn, const char *suffix, struct r2d_zip_member *m, char *name,
                size_t name_len)
{
    const size_t vl = strlen(v->volume);
    char cand[3][R2D_AFF4_TERM_MAX + 64], rel[R2D_AFF4_TERM_MAX + 64];
    size_t nc = 0;

    if (vl && strncmp(urn, v->volume, vl) == 0 && urn[vl] == '/') {
        snprintf(cand[nc++], sizeof(cand[0]), "%s%s", urn + vl + 1, suffix);
        aff4_escape(urn + vl + 1, rel, sizeof(rel));
        snprintf(cand[nc++], sizeof(cand[0]), "%s%s", rel, suffix);
    }
    if (strncmp(urn, "aff4://", 7) == 0)
        snprintf(cand[nc++], sizeof(cand[0]), "aff4%%3A%%2F%%2F%s%s", urn + 7, suffix);
    for (size_t i = 0; i < nc; i++)
        if (zip_name_locate(r2d_zip_handle(v->z), cand[i], ZIP_FL_ENC_RAW) >= 0) {
            snprintf(name, name_len, "%s", cand[i]);
            return r2d_zip_member_named(v->ctx, v->z, cand[i], m);
        }
    return r2d_err(v->ctx, R2D_ENOTFOUND, "%s: no member holds <%s>%s%s%s%s", v->file, urn, suffix,
                   nc ? " (looked for " : "", nc ? cand[nc - 1] : "", nc ? ")" : "");
}

int
r2d_aff4_is_a(const struct aff4_vol *v, const char *urn, const char *name)
{
    char a[128], b[128];

    snprintf(a, sizeof(a), "%s%s", R2D_AFF4_NS, name);
    snprintf(b, sizeof(b), "%s%s", R2D_AFF4_LEGACY_NS, name);
    return r2d_aff4_graph_has(&v->g, urn, R2D_RDF_TYPE, a) || r2d_aff4_graph_has(&v->g, urn, R2D_RDF_TYPE, b);
}

const char *
r2d_aff4_prop(const struct aff4_vol *v, const char *urn, const char *const *preds)
{
    for (size_t i = 0; preds[i]; i++) {
        const char *o = r2d_aff4_graph_get(&v->g, urn, preds[i]);

        if (o)
            return o;
    }
    return NULL;
}

static int
aff4_u64(struct aff4_vol *v, const char *urn, const char *const *preds, uint64_t dflt, uint64_t *out)
{
    for (size_t i = 0; preds[i]; i++) {
        int found = 0;
        const int rc = r2d_aff4_graph_u64(v->ctx, v->file, &v->g, urn, preds[i], out, &found);

        if (rc || found)
            return rc;
    }
    *out = dflt;
    return 0;
}

/* The stream's description from the turtle: the defaults are pyaff4's and c-aff4's (32 KiB, 1024, zlib). */
static int
aff4_stream_desc(struct aff4_vol *v, const char *urn, struct r2d_aff4_stream_desc *d, char *member,
                 size_t mlen)
{
    struct r2d_zip_member m;
    const char *codec = r2d_aff4_prop(v, urn, pred_codec);
    int rc = aff4_u64(v, urn, pred_size, UINT64_MAX, &d->size);

    R2D_CHECK(!rc && d->size == UINT64_MAX, v->ctx, R2D_EFORMAT, "%s: ImageStream <%s> has no aff4:size",
              v->file, urn);
    if (!rc)
        rc = aff4_u64(v, urn, pred_chunk, 32768, &d->chunk_size);
    if (!rc)
        rc = aff4_u64(v, urn, pred_per_bevy, 1024, &d->per_bevy);
    d->codec = R2D_AFF4_ZLIB;
    if (!rc && codec)
        rc = r2d_aff4_codec_from_iri(v->ctx, v->file, codec, &d->codec);
    if (!rc && d->size) {
        rc = r2d_aff4_member(v, urn, "/00000000", &m, member, mlen);
        if (!rc)
            member[strlen(member) - 9] = 0; /* the bevies' common start */
    }
    d->urn = urn;
    d->member = member;
    return rc;
}

/* A stored member named after urn: its bytes are the stream's (a pyaff4 "zip segment"). */
static int
aff4_segment(struct aff4_vol *v, const char *urn, size_t i)
{
    struct r2d_zip_member m;
    char name[R2D_AFF4_TERM_MAX + 64];
    const int rc = r2d_aff4_member(v, urn, "", &m, name, sizeof(name));

    if (rc == R2D_ENOTFOUND)
        return r2d_err(v->ctx, R2D_EUNSUPPORTED,
                       "%s: map target <%s> is neither an aff4:ImageStream nor a member of this volume",
                       v->file, urn);
    R2D_CHECK(!rc && m.method != ZIP_CM_STORE, v->ctx, R2D_EUNSUPPORTED,
              "%s: map target %s is compressed in the ZIP (method %u): only stored members are read", v->file,
              name, m.method);
    if (!rc) {
        v->src->seg_off[i] = m.data_off;
        v->src->size[i] = m.size;
    }
    return rc;
}

int
r2d_aff4_stream_of(struct aff4_vol *v, const char *urn, uint32_t *index)
{
    struct aff4_src *s = v->src;
    struct r2d_aff4_stream_desc d = {0};
    char member[R2D_AFF4_TERM_MAX + 64] = "";
    int rc;

    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->urn[i], urn) == 0) {
            *index = (uint32_t)i;
            return 0;
        }
    R2D_CHECK(s->n == AFF4_STREAMS_MAX, v->ctx, R2D_EUNSUPPORTED, "%s: the map reads more than %u streams",
              v->file, AFF4_STREAMS_MAX);
    if (r2d_aff4_is_a(v, urn, "ImageStream") || r2d_aff4_is_a(v, urn, "image") ||
        r2d_aff4_is_a(v, urn, "stream")) {
        rc = aff4_stream_desc(v, urn, &d, member, sizeof(member));
        if (!rc)
            rc = r2d_aff4_stream_open(v->ctx, v->z, v->in, &d, &s->st[s->n]);
        if (!rc)
            s->size[s->n] = r2d_aff4_stream_size(s->st[s->n]);
    } else {
        rc = aff4_segment(v, urn, s->n);
    }
    R2D_CHECK(!rc && !(s->urn[s->n] = strdup(urn)), v->ctx, R2D_ENOMEM, "out of memory");
    if (rc) {
        r2d_aff4_stream_free(s->st[s->n]);
        s->st[s->n] = NULL;
        return rc;
    }
    s->base[s->n] = s->n ? s->base[s->n - 1] + s->size[s->n - 1] : 0;
    *index = (uint32_t)s->n++;
    return 0;
}

/* --- maps --- */

struct aff4_targets {
    char **urn;
    uint32_t n;
    struct r2d_aff4_run **sub; /* a target map's runs, resolved on first use */
    size_t *nsub;
};

static void
aff4_targets_free(struct aff4_targets *t)
{
    for (uint32_t i = 0; i < t->n; i++) {
        free(t->urn[i]);
        free(t->sub ? t->sub[i] : NULL);
    }
    free(t->urn);
    free(t->sub);
    free(t->nsub);
}

/* "<map>/idx": the targets' IRIs, one per line (a final newline or not; CR LF too). */
static int
aff4_read_targets(struct aff4_vol *v, const char *urn, struct aff4_targets *t)
{
    struct r2d_zip_member m;
    char name[R2D_AFF4_TERM_MAX + 64];
    uint8_t *buf = NULL;
    int rc = r2d_aff4_member(v, urn, "/idx", &m, name, sizeof(name));
    size_t lines = 1;

    if (!rc)
        rc = r2d_zip_read_member(v->ctx, v->z, &m, AFF4_IDX_MAX, &buf);
    for (size_t i = 0; !rc && i < m.size; i++)
        lines += buf[i] == '\n';
    if (!rc && !(t->urn = calloc(lines, sizeof(*t->urn))))
        rc = r2d_err(v->ctx, R2D_ENOMEM, "out of memory");
    for (char *p = (char *)buf, *e; !rc && p && *p; p = e ? e + 1 : NULL) {
        size_t n;

        e = strchr(p, '\n');
        n = e ? (size_t)(e - p) : strlen(p);
        n -= n && p[n - 1] == '\r';
        if (!(t->urn[t->n++] = strndup(p, n)))
            rc = r2d_err(v->ctx, R2D_ENOMEM, "out of memory");
    }
    if (!rc && (!(t->sub = calloc(t->n ? t->n : 1, sizeof(*t->sub))) ||
                !(t->nsub = calloc(t->n ? t->n : 1, sizeof(*t->nsub)))))
        rc = r2d_err(v->ctx, R2D_ENOMEM, "out of memory");
    free(buf);
    return rc;
}

static int
aff4_symbolic(const char *urn)
{
    static const char *const names[] = {R2D_AFF4_NS "Zero",
                                        R2D_AFF4_NS "UnknownData",
                                        R2D_AFF4_NS "UnreadableData",
                                        R2D_AFF4_NS "FFDevice",
                                        R2D_AFF4_NS "SymbolicStream",
                                        R2D_AFF4_LEGACY_NS "Zero",
                                        R2D_AFF4_LEGACY_NS "UnknownData",
                                        R2D_AFF4_LEGACY_NS "UnreadableData",
                                        R2D_AFF4_LEGACY_NS "FF",
                                        "http://afflib.org/2012/SymbolicStream#"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strncmp(urn, names[i], strlen(names[i])) == 0)
            return 1;
    return 0;
}

/* One entry onto its target: a stream (a run), another map (its runs, clipped), or a symbolic stream. */
static int
aff4_map_entry(struct aff4_vol *v, const struct r2d_aff4_run *e, struct aff4_targets *t, unsigned depth,
               const char **stack, struct r2d_aff4_run **out, size_t *n, size_t *cap)
{
    const char *tu = t->urn[e->stream];
    uint32_t si;
    int rc;

    if (aff4_symbolic(tu)) {
        v->symbolic++;
        return 0;
    }
    if (r2d_aff4_is_a(v, tu, "Map") || r2d_aff4_is_a(v, tu, "map")) {
        if (!t->sub[e->stream] &&
            (rc = r2d_aff4_map_runs(v, tu, depth + 1, stack, &t->sub[e->stream], &t->nsub[e->stream])) != 0)
            return rc;
        return r2d_aff4_map_compose(v->ctx, e, t->sub[e->stream], t->nsub[e->stream], out, n, cap);
    }
    rc = r2d_aff4_stream_of(v, tu, &si);
    R2D_CHECK(!rc && e->off + e->len > v->src->size[si], v->ctx, R2D_EFORMAT,
              "%s: map entry 0x%" PRIx64 "+0x%" PRIx64 " reads <%s> at 0x%" PRIx64 ", past its 0x%" PRIx64
              " bytes",
              v->file, e->pa, e->len, tu, e->off, v->src->size[si]);
    if (!rc)
        rc = r2d_grow(v->ctx, out, cap, *n + 1, sizeof(**out), "AFF4 map runs");
    if (!rc)
        (*out)[(*n)++] = (struct r2d_aff4_run){.pa = e->pa, .len = e->len, .off = e->off, .stream = si};
    return rc;
}

static int
aff4_map_check_stack(struct aff4_vol *v, const char *urn, unsigned depth, const char **stack)
{
    for (unsigned i = 0; i < depth; i++)
        R2D_CHECK(strcmp(stack[i], urn) == 0, v->ctx, R2D_EFORMAT,
                  "%s: map <%s> reads itself%s (a cycle of %u map%s)", v->file, urn,
                  i + 1 < depth ? " through other maps" : "", depth - i, depth - i == 1 ? "" : "s");
    R2D_CHECK(depth >= R2D_AFF4_MAP_DEPTH, v->ctx, R2D_EUNSUPPORTED, "%s: map <%s> is more than %u maps deep",
              v->file, urn, R2D_AFF4_MAP_DEPTH);
    stack[depth] = urn;
    return 0;
}

int
r2d_aff4_map_runs(struct aff4_vol *v, const char *urn, unsigned depth, const char **stack,
                  struct r2d_aff4_run **out, size_t *n)
{
    struct aff4_targets t = {0};
    struct r2d_zip_member m;
    struct r2d_aff4_run *e = NULL;
    char name[R2D_AFF4_TERM_MAX + 64], what[R2D_AFF4_TERM_MAX + 128];
    uint8_t *buf = NULL;
    uint64_t size = 0;
    size_t ne = 0, cap = 0;
    int rc = aff4_map_check_stack(v, urn, depth, stack);

    *out = NULL;
    *n = 0;
    if (!rc)
        rc = aff4_u64(v, urn, pred_size, UINT64_MAX, &size);
    if (!rc)
        rc = aff4_read_targets(v, urn, &t);
    if (!rc)
        rc = r2d_aff4_member(v, urn, "/map", &m, name, sizeof(name));
    if (!rc)
        rc = r2d_zip_read_member(v->ctx, v->z, &m, (uint64_t)R2D_AFF4_MAP_ENTRIES_MAX * R2D_AFF4_MAP_ENTRY,
                                 &buf);
    snprintf(what, sizeof(what), "%s: map %s", v->file, name);
    if (!rc)
        rc = r2d_aff4_map_entries(v->ctx, what, buf, (size_t)m.size, size, t.n, &e, &ne);
    for (size_t i = 0; !rc && i < ne; i++)
        rc = aff4_map_entry(v, &e[i], &t, depth, stack, out, n, &cap);
    free(buf);
    free(e);
    aff4_targets_free(&t);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}
