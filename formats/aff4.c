/* SPDX-License-Identifier: MIT */
/*
 * AFF4 volumes (what WinPmem 2.x-3.x, Rekall and pyaff4 write): a ZIP archive whose information.turtle
 * describes its objects. A memory image is an aff4:Map from physical addresses onto an ImageStream of
 * compressed chunks; the map's entries become the image's runs (not a padded stream) and read through a
 * decoding source over the streams. WinPmem's CR3 and kernel base (information.yaml) become hints.
 * Facts: docs/formats/aff4.md.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aff4_probe.h"
#include "aff4_volume.h"
#include "raw2dmp/parse.h"

#define AFF4_SMALL_MAX (1u << 20) /* container.description, version.txt, information.yaml */
#define AFF4_PHYSICAL R2D_AFF4_NS "memory/physical"

static int
aff4_probe(const uint8_t *head, size_t len, uint64_t file_size, const char **why)
{
    (void)file_size;
    return r2d_aff4_probe_head(head, len, why);
}

/* --- the decoding source: the streams one after another --- */

int
r2d_aff4_src_read(struct r2d_ctx *ctx, void *src, uint64_t off, void *buf, size_t len)
{
    struct aff4_src *s = src;
    uint8_t *p = buf;

    while (len) {
        size_t i = s->n;
        uint64_t in, n;
        int rc;

        while (i > 0 && s->base[i - 1] > off)
            i--;
        R2D_CHECK(i == 0, ctx, R2D_ETRUNC, "AFF4 source: offset 0x%" PRIx64 " is in no stream", off);
        in = off - s->base[i - 1];
        R2D_CHECK(in >= s->size[i - 1], ctx, R2D_ETRUNC,
                  "AFF4 source: offset 0x%" PRIx64 " is past stream <%s>", off, s->urn[i - 1]);
        n = s->size[i - 1] - in < len ? s->size[i - 1] - in : len;
        rc = s->st[i - 1]
                 ? r2d_aff4_stream_read(ctx, s->st[i - 1], in, p, (size_t)n)
                 : r2d_bytesrc_read(ctx, s->in, s->seg_off[i - 1] + in, p, (size_t)n, "AFF4 ZIP segment");
        if (rc)
            return rc;
        p += n;
        off += n;
        len -= (size_t)n;
    }
    return 0;
}

static void
aff4_src_free(void *src)
{
    struct aff4_src *s = src;

    for (size_t i = 0; s && i < s->n; i++) {
        r2d_aff4_stream_free(s->st[i]);
        free(s->urn[i]);
    }
    free(s);
}

static const struct r2d_source_ops aff4_source_ops = {
    .name = "AFF4 ImageStream chunks",
    .read = r2d_aff4_src_read,
    .free = aff4_src_free,
};

/* --- the volume --- */

/* A small member's text (NUL-terminated), or NULL without an error when absent. */
static int
aff4_small(struct aff4_vol *v, const char *name, uint64_t max, char **text, size_t *len)
{
    struct r2d_zip_member m;
    int rc;

    *text = NULL;
    *len = 0;
    if (zip_name_locate(r2d_zip_handle(v->z), name, ZIP_FL_ENC_RAW) < 0)
        return 0;
    rc = r2d_zip_member_named(v->ctx, v->z, name, &m);
    if (!rc)
        rc = r2d_zip_read_member(v->ctx, v->z, &m, max, (uint8_t **)text);
    *len = rc ? 0 : (size_t)m.size;
    return rc;
}

static void
aff4_trim(char *s)
{
    size_t n = strlen(s);

    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\0'))
        s[--n] = 0;
}

/* The volume's URN (container.description, else the ZIP comment) and its turtle. */
static int
aff4_load(struct aff4_vol *v)
{
    char *text = NULL;
    size_t len = 0, clen = 0;
    const char *comment;
    int rc = aff4_small(v, "container.description", AFF4_SMALL_MAX, &v->volume, &len);

    if (!rc && !v->volume && (comment = r2d_zip_comment(v->z, &clen)) != NULL && clen < R2D_AFF4_TERM_MAX)
        v->volume = strndup(comment, clen);
    if (!rc && !v->volume)
        v->volume = strdup("");
    R2D_CHECK(!rc && !v->volume, v->ctx, R2D_ENOMEM, "out of memory");
    if (rc)
        return rc;
    aff4_trim(v->volume);
    rc = aff4_small(v, "information.turtle", R2D_AFF4_TURTLE_MAX, &text, &len);
    R2D_CHECK(!rc && !text, v->ctx, R2D_EFORMAT, "%s: no information.turtle member: not an AFF4 volume",
              v->file);
    if (!rc) {
        char where[600];

        snprintf(where, sizeof(where), "%s[information.turtle]", v->file);
        rc = r2d_aff4_turtle_parse(v->ctx, where, text, len, &v->g);
    }
    free(text);
    return rc;
}

/* Record subject s in list (the first two kept) unless it is there already: how many distinct so far. */
static void
aff4_count(const char **list, size_t *n, const char *s)
{
    if ((*n > 0 && strcmp(list[0], s) == 0) || (*n > 1 && strcmp(list[1], s) == 0))
        return;
    if (*n < 2)
        list[*n] = s;
    (*n)++;
}

/* The object aff4:category memory/physical marks (itself, or the stream its aff4:dataStream names), or NULL.
 */
static const char *
aff4_physical(const struct aff4_vol *v, int *is_map)
{
    size_t at = 0;
    const struct r2d_aff4_triple *x;

    while ((x = r2d_aff4_graph_next(&v->g, NULL, R2D_AFF4_NS "category", &at)) != NULL) {
        const char *d = r2d_aff4_graph_get(&v->g, x->s, R2D_AFF4_NS "dataStream");
        const char *t = d ? d : x->s;

        if (strcmp(x->o, AFF4_PHYSICAL) != 0)
            continue;
        *is_map = r2d_aff4_is_a(v, t, "Map") || r2d_aff4_is_a(v, t, "map");
        if (*is_map || r2d_aff4_is_a(v, t, "ImageStream") || r2d_aff4_is_a(v, t, "image") ||
            r2d_aff4_is_a(v, t, "stream"))
            return t;
    }
    return NULL;
}

/* The memory image: the map (or lone stream) aff4:category memory/physical marks, else the only one. */
static int
aff4_choose(struct aff4_vol *v, const char **urn, int *is_map)
{
    const char *maps[2] = {0}, *streams[2] = {0}, *phys = aff4_physical(v, is_map);
    size_t nm = 0, ns = 0, at = 0;
    const struct r2d_aff4_triple *x;

    while (!phys && (x = r2d_aff4_graph_next(&v->g, NULL, R2D_RDF_TYPE, &at)) != NULL) {
        const int m = r2d_aff4_is_a(v, x->s, "Map") || r2d_aff4_is_a(v, x->s, "map");
        const int s = r2d_aff4_is_a(v, x->s, "ImageStream") || r2d_aff4_is_a(v, x->s, "image") ||
                      r2d_aff4_is_a(v, x->s, "stream");

        if (m || s)
            aff4_count(m ? maps : streams, m ? &nm : &ns, x->s);
    }
    if (phys) {
        *urn = phys;
        return 0;
    }
    *is_map = nm > 0;
    R2D_CHECK(nm == 0 && ns == 0, v->ctx, R2D_EFORMAT,
              "%s: the AFF4 volume holds no aff4:Map or aff4:ImageStream", v->file);
    R2D_CHECK(
        nm > 1 || (nm == 0 && ns > 1), v->ctx, R2D_EINVAL,
        "%s: the AFF4 volume holds several %s (<%s>, <%s>%s) and none has aff4:category memory/physical",
        v->file, nm ? "maps" : "image streams", nm ? maps[0] : streams[0], nm ? maps[1] : streams[1],
        (nm ? nm : ns) > 2 ? ", ..." : "");
    *urn = nm ? maps[0] : streams[0];
    return 0;
}

/* --- WinPmem's information.yaml: CR3 and kernel base --- */

struct aff4_pmem {
    uint64_t cr3, kernbase, build;
    int have_cr3, have_kernbase, have_build;
};

/* "  Key: value" lines; the keys WinPmem's yaml-cpp output holds that we use, the rest skipped. */
static int
aff4_pmem_parse(struct aff4_vol *v, const char *name, char *text, struct aff4_pmem *pm)
{
    static const char *const keys[] = {"CR3", "KernBase", "NtBuildNumber"};
    unsigned line = 0;

    for (char *p = text, *e; p && *p; p = e ? e + 1 : NULL) {
        char *colon, *val;

        e = strchr(p, '\n');
        if (e)
            *e = 0;
        line++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!(colon = strchr(p, ':')))
            continue;
        *colon = 0;
        val = colon + 1;
        while (*val == ' ' || *val == '\t')
            val++;
        aff4_trim(val);
        for (size_t k = 0; k < 3; k++) {
            uint64_t x;

            if (strcmp(p, keys[k]) != 0)
                continue;
            R2D_CHECK(r2d_parse_u64(val,
                                    val[0] == '0' && (val[1] == 'x' || val[1] == 'X') ? R2D_RADIX_ADDRESS
                                                                                      : R2D_RADIX_DECIMAL,
                                    &x) != 0,
                      v->ctx, R2D_EFORMAT, "%s[%s]: line %u: %s is '%.40s', not a number", v->file, name,
                      line, keys[k], val);
            *(k == 0 ? &pm->cr3 : k == 1 ? &pm->kernbase : &pm->build) = x;
            *(k == 0 ? &pm->have_cr3 : k == 1 ? &pm->have_kernbase : &pm->have_build) = 1;
        }
    }
    return 0;
}

static int
aff4_pmem(struct aff4_vol *v, const char *map_urn, struct aff4_pmem *pm)
{
    struct r2d_zip_member m;
    char name[R2D_AFF4_TERM_MAX + 64], *text = NULL;
    int rc = r2d_aff4_member(v, map_urn, "/information.yaml", &m, name, sizeof(name));

    if (rc == R2D_ENOTFOUND)
        return 0; /* not WinPmem's, or an older one */
    if (!rc)
        rc = r2d_zip_read_member(v->ctx, v->z, &m, AFF4_SMALL_MAX, (uint8_t **)&text);
    if (!rc)
        rc = aff4_pmem_parse(v, name, text, pm);
    free(text);
    return rc;
}

/* --- the image --- */

static int aff4_note(struct aff4_vol *v, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
aff4_note(struct aff4_vol *v, const char *key, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return r2d_image_add_note(v->ctx, v->img, key, buf);
}

static int
aff4_describe(struct aff4_vol *v, const char *urn, int is_map, size_t nentries, const struct aff4_pmem *pm)
{
    char *ver = NULL;
    size_t len;
    int rc = aff4_small(v, "version.txt", AFF4_SMALL_MAX, &ver, &len);

    if (!rc && ver) {
        for (char *p = ver; *p; p++)
            *p = *p == '\n' ? ' ' : *p == '\r' ? ' ' : *p;
        aff4_trim(ver);
    }
    if (!rc)
        rc = aff4_note(v, "aff4.volume", "<%s>%s%s", v->volume, ver ? ", version.txt: " : "", ver ? ver : "");
    free(ver);
    if (!rc)
        rc = aff4_note(v, "aff4.memory", "<%s> (%s%s), %zu run%s", urn,
                       is_map ? "aff4:Map" : "aff4:ImageStream",
                       r2d_aff4_graph_has(&v->g, urn, R2D_AFF4_NS "category", AFF4_PHYSICAL)
                           ? ", category memory/physical"
                           : "",
                       nentries, nentries == 1 ? "" : "s");
    for (size_t i = 0; !rc && i < v->src->n; i++) {
        char key[32];
        snprintf(key, sizeof(key), "aff4.stream%zu", i);
        rc = v->src->st[i]
                 ? aff4_note(v, key, "<%s>: 0x%" PRIx64 " bytes, %s chunks, index %s", v->src->urn[i],
                             v->src->size[i], r2d_aff4_codec_name(r2d_aff4_stream_codec(v->src->st[i])),
                             r2d_aff4_stream_index_kind(v->src->st[i]))
                 : aff4_note(v, key, "<%s>: 0x%" PRIx64 " bytes, a stored ZIP member at offset 0x%" PRIx64,
                             v->src->urn[i], v->src->size[i], v->src->seg_off[i]);
    }
    if (!rc && v->symbolic)
        rc = aff4_note(v, "aff4.symbolic", "%zu map entr%s onto symbolic streams (aff4:Zero ...) left out",
                       v->symbolic, v->symbolic == 1 ? "y" : "ies");
    if (!rc && pm->have_cr3)
        rc = aff4_note(v, "aff4.cr3", "0x%" PRIx64, pm->cr3);
    if (!rc && pm->have_kernbase)
        rc = aff4_note(v, "aff4.kernel_base", "0x%" PRIx64, pm->kernbase);
    if (!rc && pm->have_build)
        rc = aff4_note(v, "aff4.nt_build_number", "%" PRIu64, pm->build);
    return rc;
}

/* The runs: the map's, or the lone stream as one flat run from address 0. */
static int
aff4_runs(struct aff4_vol *v, const char *urn, int is_map, struct r2d_aff4_run **runs, size_t *n)
{
    const char *stack[R2D_AFF4_MAP_DEPTH];
    uint32_t si;
    int rc;

    if (is_map)
        return r2d_aff4_map_runs(v, urn, 0, stack, runs, n);
    rc = r2d_aff4_stream_of(v, urn, &si);
    R2D_CHECK(!rc && !(*runs = malloc(sizeof(**runs))), v->ctx, R2D_ENOMEM, "out of memory");
    if (rc)
        return rc;
    **runs = (struct r2d_aff4_run){.pa = 0, .len = v->src->size[si], .off = 0, .stream = si};
    *n = (*runs)->len ? 1 : 0;
    return 0;
}

static int
aff4_build(struct aff4_vol *v)
{
    struct r2d_aff4_run *runs = NULL;
    struct aff4_pmem pm = {0};
    const char *urn = NULL;
    size_t n = 0;
    int is_map = 0;
    int rc = aff4_load(v);

    if (!rc)
        rc = aff4_choose(v, &urn, &is_map);
    if (!rc)
        rc = aff4_runs(v, urn, is_map, &runs, &n);
    R2D_CHECK(!rc && n == 0, v->ctx, R2D_EFORMAT, "%s: the AFF4 memory image <%s> maps no bytes", v->file,
              urn);
    if (!rc && is_map)
        rc = aff4_pmem(v, urn, &pm);
    for (size_t i = 0; !rc && i < n; i++)
        rc = r2d_image_add_source_run(v->ctx, v->img, runs[i].pa, runs[i].len,
                                      v->src->base[runs[i].stream] + runs[i].off);
    if (!rc) {
        const struct r2d_image_props props = {.runs_include_padding = !is_map,
                                              .hint_dtb = pm.have_cr3 ? pm.cr3 : 0,
                                              .hint_kernel_base = pm.have_kernbase ? pm.kernbase : 0};

        r2d_image_set_props(v->img, &props);
        rc = aff4_describe(v, urn, is_map, n, &pm);
    }
    if (!rc)
        rc = r2d_aff4_digests(v, urn, is_map, runs, n);
    free(runs);
    return rc;
}

static int
aff4_open(struct r2d_ctx *ctx, struct r2d_image *img)
{
    struct aff4_vol v = {.ctx = ctx, .img = img, .in = r2d_image_input(img), .file = r2d_image_path(img)};
    int rc = r2d_zip_open(ctx, v.in, &v.z);

    if (!rc && !(v.src = calloc(1, sizeof(*v.src))))
        rc = r2d_err(ctx, R2D_ENOMEM, "out of memory");
    if (!rc)
        v.src->in = v.in;
    if (!rc) {
        rc = r2d_image_set_source(ctx, img, &aff4_source_ops, v.src); /* img owns the source from here */
        if (rc)
            v.src = NULL;
    }
    if (!rc)
        rc = aff4_build(&v);
    r2d_aff4_graph_free(&v.g);
    free(v.volume);
    r2d_zip_close(v.z);
    return rc;
}

const struct r2d_format r2d_format_aff4 = {
    .name = "aff4",
    .summary = "AFF4 volume (WinPmem, Rekall, pyaff4): aff4:Map of physical memory over ImageStream chunks",
    .probe_bytes = 4096,
    .probe = aff4_probe,
    .open = aff4_open,
};
