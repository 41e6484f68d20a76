/* SPDX-License-Identifier: MIT */
/*
 * The hashes an AFF4 volume's turtle stores of an object (aff4:hash and the block-hashing statements): read
 * strictly from the graph, so that a malformed value is an error naming the object rather than a digest that
 * can never match. What each one covers: docs/formats/aff4.md H1-H6. Pure: no I/O, used by the unit tests
 * and the turtle fuzz target as well as the volume.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "aff4.h"

struct hash_pred {
    const char *local;
    enum r2d_aff4_hash_cover cover;
};

/* H1, H4, H5: the linear hash, then those of block hashes and of the map's own members. */
static const struct hash_pred hash_preds[] = {
    {"hash", R2D_AFF4_HASH_LINEAR},           {"blockMapHash", R2D_AFF4_HASH_BLOCKS},
    {"blockHashesHash", R2D_AFF4_HASH_BLOCKS}, {"mapPointHash", R2D_AFF4_HASH_MEMBERS},
    {"mapIdxHash", R2D_AFF4_HASH_MEMBERS},     {"mapPathHash", R2D_AFF4_HASH_MEMBERS},
    {"mapHash", R2D_AFF4_HASH_MEMBERS},
};

struct hash_alg {
    const char *local; /* the datatype's name in either AFF4 namespace */
    const char *alg;
    size_t hexlen;
    int linear; /* a plain message digest (blockMapHashSHA512 is a tree's) */
};

/* H2: pyaff4's datatypes; Blake2b is nacl's default, 64 bytes. */
static const struct hash_alg hash_algs[] = {
    {"MD5", "md5", 32, 1},          {"SHA1", "sha1", 40, 1},
    {"SHA256", "sha256", 64, 1},    {"SHA512", "sha512", 128, 1},
    {"Blake2b", "blake2b", 128, 1}, {"blockMapHashSHA512", "sha512", 128, 0},
};

/* The local name of iri in one of the AFF4 namespaces, or NULL. */
static const char *
hash_local(const char *iri)
{
    static const char *const ns[] = {R2D_AFF4_NS, R2D_AFF4_LEGACY_NS};

    for (size_t i = 0; iri && i < 2; i++)
        if (strncmp(iri, ns[i], strlen(ns[i])) == 0)
            return iri + strlen(ns[i]);
    return NULL;
}

static const struct hash_pred *
hash_pred_of(const char *iri, int *legacy)
{
    const char *local = hash_local(iri);

    *legacy = local && strncmp(iri, R2D_AFF4_LEGACY_NS, strlen(R2D_AFF4_LEGACY_NS)) == 0;
    for (size_t i = 0; local && i < sizeof(hash_preds) / sizeof(hash_preds[0]); i++)
        if (strcmp(local, hash_preds[i].local) == 0)
            return &hash_preds[i];
    return NULL;
}

/* The algorithm the literal's datatype names; an unknown one is kept by name (lowercase, cut to fit). */
static void
hash_alg_of(const char *dtype, struct r2d_aff4_hash *h, size_t *hexlen)
{
    const char *local = hash_local(dtype);
    const char *name = local ? local : dtype ? "unknown" : "untyped";
    size_t k = 0;

    *hexlen = 0;
    for (size_t i = 0; local && i < sizeof(hash_algs) / sizeof(hash_algs[0]); i++)
        if (strcasecmp(local, hash_algs[i].local) == 0) {
            snprintf(h->alg, sizeof(h->alg), "%s", hash_algs[i].alg);
            *hexlen = hash_algs[i].hexlen;
            h->known = hash_algs[i].linear;
            if (!hash_algs[i].linear)
                h->cover = R2D_AFF4_HASH_BLOCKS;
            return;
        }
    for (; name[k] && k + 1 < sizeof(h->alg); k++)
        h->alg[k] = (char)tolower((unsigned char)name[k]);
    h->alg[k] = 0;
    h->known = 0;
}

static int
hash_value(struct r2d_ctx *ctx, const char *where, const char *urn, const char *pred,
           const struct r2d_aff4_triple *x, size_t hexlen, struct r2d_aff4_hash *h)
{
    const size_t n = strlen(x->o);

    R2D_CHECK(x->kind != R2D_AFF4_LITERAL, ctx, R2D_EFORMAT, "%s: <%s> %s is an IRI, not a digest", where, urn,
              pred);
    for (size_t i = 0; i < n; i++)
        R2D_CHECK(!isxdigit((unsigned char)x->o[i]), ctx, R2D_EFORMAT,
                  "%s: <%s> %s \"%.40s%s\" is not a hex digest", where, urn, pred, x->o, n > 40 ? "..." : "");
    R2D_CHECK(n == 0 || n % 2 || n >= sizeof(h->hex), ctx, R2D_EFORMAT,
              "%s: <%s> %s has %zu hex digits: not a digest", where, urn, pred, n);
    R2D_CHECK(hexlen && n != hexlen, ctx, R2D_EFORMAT, "%s: <%s> %s (%s) has %zu hex digits, not %zu", where,
              urn, pred, h->alg, n, hexlen);
    for (size_t i = 0; i <= n; i++)
        h->hex[i] = (char)tolower((unsigned char)x->o[i]);
    return 0;
}

int
r2d_aff4_hashes(struct r2d_ctx *ctx, const char *where, const struct r2d_aff4_graph *g, const char *urn,
                struct r2d_aff4_hash *out, size_t cap, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < g->n; i++) {
        const struct r2d_aff4_triple *x = &g->t[i];
        struct r2d_aff4_hash h = {0};
        int legacy, rc;
        const struct hash_pred *p = strcmp(x->s, urn) == 0 ? hash_pred_of(x->p, &legacy) : NULL;
        size_t hexlen;

        if (!p)
            continue;
        R2D_CHECK(*n == cap, ctx, R2D_EUNSUPPORTED, "%s: <%s> stores more than %zu hashes", where, urn, cap);
        snprintf(h.pred, sizeof(h.pred), "%s:%s", legacy ? "afflib" : "aff4", p->local);
        h.cover = p->cover;
        hash_alg_of(x->dtype, &h, &hexlen);
        if ((rc = hash_value(ctx, where, urn, h.pred, x, hexlen, &h)) != 0)
            return rc;
        out[(*n)++] = h;
    }
    return 0;
}
