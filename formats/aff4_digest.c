/* SPDX-License-Identifier: MIT */
/*
 * The hashes an AFF4 volume stores of the objects the image reads (the memory map or stream, and the streams
 * the map reads): each is recorded in the image (the report's input.format_digests) and, with
 * --verify-container, the linear ones (aff4:hash) are computed over the bytes they cover at open, so a
 * mismatch fails before any output exists. Facts: docs/formats/aff4.md H1-H6.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aff4_volume.h"
#include "hex.h"

#define AFF4_HASH_BUF (1u << 20)
/* A hostile aff4:size could ask for exabytes of gap zeros: past this much, the map's hash is not computed. */
#define AFF4_HASH_GAPS_MAX (UINT64_C(1) << 40)

/* What one object's hashes are computed over, and the contexts of those that are. */
struct aff4_hashing {
    struct r2d_aff4_hash h[R2D_AFF4_HASHES_MAX];
    size_t n;
    const char *note[R2D_AFF4_HASHES_MAX]; /* static: why hash i is not computed, or NULL */
    EVP_MD_CTX *md[R2D_AFF4_HASHES_MAX];   /* hash i's context when it is */
    uint8_t *buf;
};

static const EVP_MD *
aff4_md(const char *alg)
{
    static const char *const names[][2] = {
        {"md5", "MD5"}, {"sha1", "SHA1"}, {"sha256", "SHA256"}, {"sha512", "SHA512"}, {"blake2b", "BLAKE2B-512"}};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(alg, names[i][0]) == 0)
            return EVP_get_digestbyname(names[i][1]);
    return NULL;
}

/* What keeps a map's hashes from being computed, whatever their algorithm. */
struct aff4_map_state {
    int symbolic; /* it reads constant streams, which the image leaves out */
    int sized;    /* it has an aff4:size */
    int huge;     /* its gaps are more than AFF4_HASH_GAPS_MAX */
};

/* Why hash h cannot be computed over its object's bytes (NULL: it can). */
static const char *
aff4_why_not(const struct r2d_aff4_hash *h, const struct aff4_map_state *m)
{
    if (h->cover == R2D_AFF4_HASH_BLOCKS)
        return "a hash of the chunks' block hashes (AFF4 block hashing), not computed";
    if (h->cover == R2D_AFF4_HASH_MEMBERS)
        return "a hash of the map's own members (its entries, targets), not of the image: not computed";
    if (!h->known)
        return "an algorithm raw2dmp does not know: not computed";
    if (!aff4_md(h->alg))
        return "an algorithm this libcrypto lacks: not computed";
    if (m->symbolic)
        return "the map reads symbolic streams (aff4:Zero ...), which the image leaves out: not computed";
    if (!m->sized)
        return "the map has no aff4:size, so its extent is unknown: not computed";
    if (m->huge)
        return "the map's aff4:size leaves more than 1 TiB of gaps to hash: not computed";
    return NULL;
}

static int
aff4_feed(struct r2d_ctx *ctx, struct aff4_hashing *hs, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < hs->n; i++)
        if (hs->md[i] && !EVP_DigestUpdate(hs->md[i], p, len))
            return r2d_err(ctx, R2D_ENOMEM, "AFF4 %s failed", hs->h[i].alg);
    return 0;
}

/* len bytes of the source from off (zeros when off is UINT64_MAX: a map's gap), through the hashes. */
static int
aff4_feed_range(struct aff4_vol *v, struct aff4_hashing *hs, uint64_t off, uint64_t len)
{
    int rc = 0;

    if (off == UINT64_MAX)
        memset(hs->buf, 0, AFF4_HASH_BUF);
    while (!rc && len) {
        const size_t n = len < AFF4_HASH_BUF ? (size_t)len : AFF4_HASH_BUF;

        if (r2d_cancelled(v->ctx))
            return r2d_err(v->ctx, R2D_ECANCELED, "%s: cancelled while verifying the AFF4 hashes", v->file);
        if (off != UINT64_MAX) {
            rc = r2d_aff4_src_read(v->ctx, v->src, off, hs->buf, n);
            off += n;
        }
        if (!rc)
            rc = aff4_feed(v->ctx, hs, hs->buf, n);
        len -= n;
    }
    return rc;
}

static int
aff4_run_cmp(const void *a, const void *b)
{
    const struct r2d_aff4_run *x = a, *y = b;

    return x->pa < y->pa ? -1 : x->pa > y->pa;
}

/* A map's bytes, 0 to size: its runs in address order, zeros between them (H3). */
static int
aff4_feed_map(struct aff4_vol *v, struct aff4_hashing *hs, const struct r2d_aff4_run *runs, size_t n,
              uint64_t size)
{
    struct r2d_aff4_run *s = n ? malloc(n * sizeof(*s)) : NULL;
    uint64_t at = 0;
    int rc = 0;

    if (n && !s)
        return r2d_err(v->ctx, R2D_ENOMEM, "out of memory");
    if (n)
        memcpy(s, runs, n * sizeof(*s));
    qsort(s, n, sizeof(*s), aff4_run_cmp);
    for (size_t i = 0; !rc && i < n; i++) {
        if (s[i].pa < at || s[i].pa + s[i].len > size) { /* refused when the map was read; kept from here */
            rc = r2d_err(v->ctx, R2D_EFORMAT, "%s: AFF4 map runs overlap or pass its size", v->file);
            break;
        }
        rc = aff4_feed_range(v, hs, UINT64_MAX, s[i].pa - at);
        if (!rc)
            rc = aff4_feed_range(v, hs, v->src->base[s[i].stream] + s[i].off, s[i].len);
        at = s[i].pa + s[i].len;
    }
    if (!rc)
        rc = aff4_feed_range(v, hs, UINT64_MAX, size - at);
    free(s);
    return rc;
}

/* Compare each computed hash with the stored one: a mismatch is the error. */
static int
aff4_compare(struct aff4_vol *v, const char *urn, struct aff4_hashing *hs)
{
    for (size_t i = 0; i < hs->n; i++) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        char hex[2 * EVP_MAX_MD_SIZE + 1];

        if (!hs->md[i])
            continue;
        if (!EVP_DigestFinal_ex(hs->md[i], md, &len))
            return r2d_err(v->ctx, R2D_ENOMEM, "AFF4 %s failed", hs->h[i].alg);
        r2d_hex(hex, md, len);
        R2D_CHECK(strcmp(hex, hs->h[i].hex) != 0, v->ctx, R2D_EFORMAT,
                  "%s: AFF4 %s (%s) of <%s> does not match its data: stored %s, computed %s", v->file,
                  hs->h[i].pred, hs->h[i].alg, urn, hs->h[i].hex, hex);
    }
    return 0;
}

static int
aff4_record(struct aff4_vol *v, const char *urn, const struct aff4_hashing *hs, int verified)
{
    int rc = 0;

    for (size_t i = 0; !rc && i < hs->n; i++) {
        struct r2d_image_digest d = {.object = urn, .kind = hs->h[i].pred, .note = hs->note[i]};

        snprintf(d.alg, sizeof(d.alg), "%s", hs->h[i].alg);
        snprintf(d.hex, sizeof(d.hex), "%s", hs->h[i].hex);
        d.state = verified && hs->md[i] ? R2D_DIGEST_MATCHED : R2D_DIGEST_UNCHECKED;
        d.how = d.state == R2D_DIGEST_MATCHED ? "--verify-container" : NULL;
        rc = r2d_image_add_digest(v->ctx, v->img, &d);
    }
    return rc;
}

/* The size a map's aff4:size gives (either namespace); *sized 0 when it has none. */
static int
aff4_map_size(struct aff4_vol *v, const char *urn, uint64_t *size, int *sized)
{
    int rc = r2d_aff4_graph_u64(v->ctx, v->file, &v->g, urn, R2D_AFF4_NS "size", size, sized);

    if (!rc && !*sized)
        rc = r2d_aff4_graph_u64(v->ctx, v->file, &v->g, urn, R2D_AFF4_LEGACY_NS "size", size, sized);
    return rc;
}

/*
 * One object's hashes: stream is its index in the source (SIZE_MAX for the map, whose runs are given).
 * Computed only when verifying and at least one of them can be.
 */
static int
aff4_object(struct aff4_vol *v, const char *urn, size_t stream, const struct r2d_aff4_run *runs, size_t n,
            struct aff4_hashing *hs)
{
    const int verify = r2d_image_hint_verify(v->img);
    struct aff4_map_state m = {.sized = 1};
    uint64_t size = stream == SIZE_MAX ? 0 : v->src->size[stream], data = 0;
    int rc = r2d_aff4_hashes(v->ctx, v->file, &v->g, urn, hs->h, R2D_AFF4_HASHES_MAX, &hs->n);
    size_t computed = 0;

    if (!rc && stream == SIZE_MAX) {
        rc = aff4_map_size(v, urn, &size, &m.sized);
        for (size_t i = 0; i < n; i++)
            data += runs[i].len;
        m.symbolic = v->symbolic != 0;
        m.huge = m.sized && size > data && size - data > AFF4_HASH_GAPS_MAX;
    }
    for (size_t i = 0; !rc && i < hs->n; i++) {
        hs->note[i] = aff4_why_not(&hs->h[i], &m);
        if (!verify || hs->note[i])
            continue;
        if (!(hs->md[i] = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(hs->md[i], aff4_md(hs->h[i].alg), NULL))
            rc = r2d_err(v->ctx, R2D_ENOMEM, "%s: cannot set up %s", v->file, hs->h[i].alg);
        computed++;
    }
    if (!rc && computed)
        rc = stream == SIZE_MAX ? aff4_feed_map(v, hs, runs, n, size)
                                : aff4_feed_range(v, hs, v->src->base[stream], size);
    if (!rc && computed)
        rc = aff4_compare(v, urn, hs);
    if (!rc)
        rc = aff4_record(v, urn, hs, verify);
    return rc;
}

static void
aff4_hashing_reset(struct aff4_hashing *hs)
{
    for (size_t k = 0; k < R2D_AFF4_HASHES_MAX; k++) {
        EVP_MD_CTX_free(hs->md[k]);
        hs->md[k] = NULL;
        hs->note[k] = NULL;
    }
    hs->n = 0;
}

int
r2d_aff4_digests(struct aff4_vol *v, const char *urn, int is_map, const struct r2d_aff4_run *runs, size_t n)
{
    struct aff4_hashing *hs = calloc(1, sizeof(*hs));
    int rc = 0;

    if (!hs || !(hs->buf = malloc(AFF4_HASH_BUF))) {
        free(hs);
        return r2d_err(v->ctx, R2D_ENOMEM, "out of memory");
    }
    /* the map, then the streams read (a lone stream, the memory object itself, is source 0) */
    if (is_map)
        rc = aff4_object(v, urn, SIZE_MAX, runs, n, hs);
    aff4_hashing_reset(hs);
    for (size_t i = 0; !rc && i < v->src->n; i++) {
        rc = aff4_object(v, v->src->urn[i], i, runs, n, hs);
        aff4_hashing_reset(hs);
    }
    free(hs->buf);
    free(hs);
    return rc;
}
