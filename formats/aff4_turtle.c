/* SPDX-License-Identifier: MIT */
/*
 * The turtle (W3C RDF 1.1 Turtle) that AFF4 writers put in information.turtle: a strict subset, enough for
 * what pyaff4, c-aff4 (raptor's serialiser) and WinPmem write, and an error naming the line for anything
 * else. Every term is bounded (R2D_AFF4_TERM_MAX), so is the number of triples; nothing recurses.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "aff4.h"
#include "array.h"
#include "raw2dmp/parse.h"

#define TTL_PREFIXES_MAX 64

struct ttl_prefix {
    char name[64];
    char *iri;
};

struct ttl {
    struct r2d_ctx *ctx;
    const char *name;
    const char *s;
    size_t at, len;
    unsigned line;
    struct ttl_prefix pfx[TTL_PREFIXES_MAX];
    size_t npfx;
    struct r2d_aff4_graph *g;
};

/* A term being read: at most R2D_AFF4_TERM_MAX bytes. */
struct ttl_buf {
    char b[R2D_AFF4_TERM_MAX + 1];
    size_t n;
};

static int
ttl_fail(struct ttl *t, const char *what)
{
    return r2d_err(t->ctx, R2D_EFORMAT, "%s: line %u: %s", t->name, t->line, what);
}

static int
ttl_peek(const struct ttl *t, size_t k)
{
    return t->at + k < t->len ? (unsigned char)t->s[t->at + k] : -1;
}

static void
ttl_skip_ws(struct ttl *t)
{
    while (t->at < t->len) {
        const char c = t->s[t->at];

        if (c == '#') {
            while (t->at < t->len && t->s[t->at] != '\n')
                t->at++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            t->line += c == '\n';
            t->at++;
        } else {
            return;
        }
    }
}

static int
ttl_put(struct ttl *t, struct ttl_buf *b, const char *p, size_t n)
{
    if (n > R2D_AFF4_TERM_MAX - b->n)
        return ttl_fail(t, "term longer than the 8192 bytes read");
    memcpy(b->b + b->n, p, n);
    b->n += n;
    b->b[b->n] = 0;
    return 0;
}

static int
ttl_starts(const struct ttl *t, const char *word)
{
    const size_t n = strlen(word);

    return t->len - t->at >= n && memcmp(t->s + t->at, word, n) == 0;
}

/* <...>: IRIREF without escapes. */
static int
ttl_iri(struct ttl *t, struct ttl_buf *b)
{
    const size_t start = ++t->at;

    while (t->at < t->len && t->s[t->at] != '>') {
        const unsigned char c = (unsigned char)t->s[t->at];

        if (c <= 0x20 || strchr("<\"{}|^`\\", c))
            return ttl_fail(t, "character not allowed in an IRI (escapes are not supported)");
        t->at++;
    }
    if (t->at >= t->len)
        return ttl_fail(t, "IRI not closed with '>'");
    b->n = 0;
    t->at++;
    return ttl_put(t, b, t->s + start, t->at - 1 - start);
}

static int
ttl_pn_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c >= 0x80;
}

/* prefix:local, expanded with the declared prefix. */
static int
ttl_pname(struct ttl *t, struct ttl_buf *b)
{
    const size_t start = t->at;
    size_t colon, end;
    int rc;

    while (ttl_pn_char(ttl_peek(t, 0)) && ttl_peek(t, 0) != '.')
        t->at++;
    if (ttl_peek(t, 0) != ':')
        return ttl_fail(t, "expected an IRI, a prefixed name or a literal");
    colon = t->at++;
    while (ttl_pn_char(ttl_peek(t, 0)) || ttl_peek(t, 0) == ':' || ttl_peek(t, 0) == '%')
        t->at++;
    while (t->at > colon + 1 && t->s[t->at - 1] == '.') /* a final '.' ends the statement */
        t->at--;
    end = t->at;
    for (size_t i = 0; i < t->npfx; i++) {
        if (strlen(t->pfx[i].name) != colon - start || memcmp(t->pfx[i].name, t->s + start, colon - start))
            continue;
        b->n = 0;
        rc = ttl_put(t, b, t->pfx[i].iri, strlen(t->pfx[i].iri));
        return rc ? rc : ttl_put(t, b, t->s + colon + 1, end - colon - 1);
    }
    return ttl_fail(t, "prefix not declared");
}

static int
ttl_escape(struct ttl *t, struct ttl_buf *b)
{
    static const char from[] = "tnr\"'\\", to[] = "\t\n\r\"'\\";
    const int c = ttl_peek(t, 1);
    const char *k = c > 0 ? strchr(from, c) : NULL;

    if (!k)
        return ttl_fail(t, "string escape not supported");
    t->at += 2;
    return ttl_put(t, b, to + (k - from), 1);
}

/* '...', "..." or """...""" (and '''...'''). */
static int
ttl_string(struct ttl *t, struct ttl_buf *b)
{
    const char q = t->s[t->at];
    const int longq = ttl_peek(t, 1) == q && ttl_peek(t, 2) == q;
    int rc = 0;

    t->at += longq ? 3 : 1;
    b->n = 0;
    b->b[0] = 0;
    while (!rc) {
        const int c = ttl_peek(t, 0);

        if (c < 0)
            return ttl_fail(t, "string not closed");
        if (c == q && (!longq || (ttl_peek(t, 1) == q && ttl_peek(t, 2) == q))) {
            t->at += longq ? 3 : 1;
            return 0;
        }
        if (c == '\\') {
            rc = ttl_escape(t, b);
            continue;
        }
        if ((c == '\n' || c == '\r') && !longq)
            return ttl_fail(t, "line break inside a short string");
        t->line += c == '\n';
        rc = ttl_put(t, b, t->s + t->at++, 1);
    }
    return rc;
}

static int
ttl_add(struct ttl *t, const char *s, const char *p, const char *o, enum r2d_aff4_kind kind,
        const char *dtype)
{
    struct r2d_aff4_graph *g = t->g;
    struct r2d_aff4_triple *x;
    int rc;

    if (g->n >= R2D_AFF4_TRIPLES_MAX)
        return ttl_fail(t, "more triples than the 1048576 read");
    rc = r2d_grow(t->ctx, &g->t, &g->cap, g->n + 1, sizeof(*g->t), "turtle triples");
    if (rc)
        return rc;
    x = &g->t[g->n];
    *x = (struct r2d_aff4_triple){
        .s = strdup(s), .p = strdup(p), .o = strdup(o), .kind = kind, .dtype = dtype ? strdup(dtype) : NULL};
    g->n++; /* freed with the graph even when a copy failed */
    if (!x->s || !x->p || !x->o || (dtype && !x->dtype))
        return r2d_err(t->ctx, R2D_ENOMEM, "out of memory for turtle triples");
    return 0;
}

/* An IRI or a prefixed name. */
static int
ttl_ref(struct ttl *t, struct ttl_buf *b)
{
    const int c = ttl_peek(t, 0);

    if (c == '<')
        return ttl_iri(t, b);
    if (c == '[' || c == '(' || (c == '_' && ttl_peek(t, 1) == ':'))
        return ttl_fail(t, "blank nodes and collections are not supported");
    return ttl_pname(t, b);
}

/* A literal's ^^datatype or @language after its string. */
static int
ttl_literal_tail(struct ttl *t, struct ttl_buf *dt, int *have)
{
    *have = 0;
    if (ttl_peek(t, 0) == '^' && ttl_peek(t, 1) == '^') {
        t->at += 2;
        *have = 1;
        return ttl_ref(t, dt);
    }
    if (ttl_peek(t, 0) == '@') {
        t->at++;
        while ((ttl_peek(t, 0) >= 'a' && ttl_peek(t, 0) <= 'z') ||
               (ttl_peek(t, 0) >= 'A' && ttl_peek(t, 0) <= 'Z') || ttl_peek(t, 0) == '-')
            t->at++;
    }
    return 0;
}

static int
ttl_number(struct ttl *t, struct ttl_buf *o)
{
    const size_t start = t->at;

    if (ttl_peek(t, 0) == '+' || ttl_peek(t, 0) == '-')
        t->at++;
    while (ttl_peek(t, 0) >= '0' && ttl_peek(t, 0) <= '9')
        t->at++;
    if (t->at == start + (t->s[start] == '+' || t->s[start] == '-'))
        return ttl_fail(t, "sign without digits");
    if ((ttl_peek(t, 0) == '.' && ttl_peek(t, 1) >= '0' && ttl_peek(t, 1) <= '9') || ttl_peek(t, 0) == 'e' ||
        ttl_peek(t, 0) == 'E')
        return ttl_fail(t, "decimal and double literals are not supported");
    o->n = 0;
    return ttl_put(t, o, t->s + start, t->at - start);
}

static int
ttl_object(struct ttl *t, const char *s, const char *p)
{
    struct ttl_buf *o = malloc(2 * sizeof(*o)), *dt = o + 1;
    const int c = ttl_peek(t, 0);
    int rc, have_dt = 0;

    if (!o)
        return r2d_err(t->ctx, R2D_ENOMEM, "out of memory");
    if (c == '"' || c == '\'') {
        rc = ttl_string(t, o);
        if (!rc)
            rc = ttl_literal_tail(t, dt, &have_dt);
        if (!rc)
            rc = ttl_add(t, s, p, o->b, R2D_AFF4_LITERAL, have_dt ? dt->b : NULL);
    } else if (c == '+' || c == '-' || (c >= '0' && c <= '9')) {
        rc = ttl_number(t, o);
        if (!rc)
            rc = ttl_add(t, s, p, o->b, R2D_AFF4_LITERAL, R2D_XSD_NS "integer");
    } else if ((ttl_starts(t, "true") || ttl_starts(t, "false")) &&
               !ttl_pn_char(ttl_peek(t, c == 't' ? 4 : 5)) && ttl_peek(t, c == 't' ? 4 : 5) != ':') {
        t->at += c == 't' ? 4 : 5;
        rc = ttl_add(t, s, p, c == 't' ? "true" : "false", R2D_AFF4_LITERAL, R2D_XSD_NS "boolean");
    } else {
        rc = ttl_ref(t, o);
        if (!rc)
            rc = ttl_add(t, s, p, o->b, R2D_AFF4_IRI, NULL);
    }
    free(o);
    return rc;
}

/* predicate object (, object)* (; predicate object ...)* after a subject. */
static int
ttl_predicates(struct ttl *t, const char *s)
{
    struct ttl_buf *p = malloc(sizeof(*p));
    int rc = p ? 0 : r2d_err(t->ctx, R2D_ENOMEM, "out of memory");

    while (!rc) {
        ttl_skip_ws(t);
        if (ttl_peek(t, 0) == 'a' && !ttl_pn_char(ttl_peek(t, 1)) && ttl_peek(t, 1) != ':') {
            t->at++;
            p->n = 0;
            rc = ttl_put(t, p, R2D_RDF_TYPE, strlen(R2D_RDF_TYPE));
        } else {
            rc = ttl_ref(t, p);
        }
        do {
            ttl_skip_ws(t);
            if (!rc)
                rc = ttl_object(t, s, p->b);
            ttl_skip_ws(t);
        } while (!rc && ttl_peek(t, 0) == ',' && ++t->at);
        if (rc || ttl_peek(t, 0) != ';')
            break;
        while (ttl_peek(t, 0) == ';') { /* ";" may repeat, and may end the list */
            t->at++;
            ttl_skip_ws(t);
        }
        if (ttl_peek(t, 0) == '.')
            break;
    }
    free(p);
    if (!rc && ttl_peek(t, 0) != '.')
        return ttl_fail(t, "statement not ended with '.'");
    t->at++;
    return rc;
}

static int
ttl_prefix(struct ttl *t, int sparql)
{
    struct ttl_buf *b = malloc(sizeof(*b));
    size_t start;
    int rc = b ? 0 : r2d_err(t->ctx, R2D_ENOMEM, "out of memory");

    t->at += sparql ? 6 : 7;
    ttl_skip_ws(t);
    start = t->at;
    while (ttl_pn_char(ttl_peek(t, 0)) && ttl_peek(t, 0) != '.')
        t->at++;
    if (!rc && (ttl_peek(t, 0) != ':' || t->at - start >= sizeof(t->pfx[0].name)))
        rc = ttl_fail(t, "bad prefix name");
    if (!rc && t->npfx == TTL_PREFIXES_MAX)
        rc = ttl_fail(t, "more than 64 prefixes");
    if (!rc) {
        memcpy(t->pfx[t->npfx].name, t->s + start, t->at - start);
        t->pfx[t->npfx].name[t->at - start] = 0;
        t->at++;
        ttl_skip_ws(t);
        rc = ttl_peek(t, 0) == '<' ? ttl_iri(t, b) : ttl_fail(t, "prefix without an IRI");
    }
    if (!rc && !(t->pfx[t->npfx].iri = strdup(b->b)))
        rc = r2d_err(t->ctx, R2D_ENOMEM, "out of memory");
    if (!rc)
        t->npfx++;
    ttl_skip_ws(t);
    if (!rc && !sparql && ttl_peek(t, 0) != '.')
        rc = ttl_fail(t, "@prefix not ended with '.'");
    t->at += !rc && !sparql;
    free(b);
    return rc;
}

static int
ttl_statement(struct ttl *t)
{
    struct ttl_buf *s;
    int rc;

    if (ttl_starts(t, "@prefix") || ttl_starts(t, "PREFIX") || ttl_starts(t, "prefix"))
        return ttl_prefix(t, t->s[t->at] != '@');
    if (ttl_starts(t, "@base") || ttl_starts(t, "BASE") || ttl_starts(t, "@"))
        return ttl_fail(t, "@base and other directives are not supported");
    if (!(s = malloc(sizeof(*s))))
        return r2d_err(t->ctx, R2D_ENOMEM, "out of memory");
    rc = ttl_ref(t, s);
    if (!rc)
        rc = ttl_predicates(t, s->b);
    free(s);
    return rc;
}

int
r2d_aff4_turtle_parse(struct r2d_ctx *ctx, const char *name, const char *text, size_t len,
                      struct r2d_aff4_graph *g)
{
    struct ttl *t = calloc(1, sizeof(*t));
    int rc = t ? 0 : r2d_err(ctx, R2D_ENOMEM, "out of memory");

    if (t)
        *t = (struct ttl){.ctx = ctx, .name = name, .s = text, .len = len, .line = 1, .g = g};
    if (!rc && len > R2D_AFF4_TURTLE_MAX)
        rc = r2d_err(ctx, R2D_EUNSUPPORTED, "%s: %zu bytes of turtle: more than the %u MiB read", name, len,
                     R2D_AFF4_TURTLE_MAX >> 20);
    if (!rc && len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        t->at = 3; /* a UTF-8 byte order mark */
    while (!rc) {
        ttl_skip_ws(t);
        if (t->at >= t->len)
            break;
        if (memchr(t->s + t->at, 0, 1))
            rc = ttl_fail(t, "NUL byte in turtle");
        else
            rc = ttl_statement(t);
    }
    for (size_t i = 0; t && i < t->npfx; i++)
        free(t->pfx[i].iri);
    free(t);
    return rc;
}

void
r2d_aff4_graph_free(struct r2d_aff4_graph *g)
{
    for (size_t i = 0; g && i < g->n; i++) {
        free(g->t[i].s);
        free(g->t[i].p);
        free(g->t[i].o);
        free(g->t[i].dtype);
    }
    if (g) {
        free(g->t);
        *g = (struct r2d_aff4_graph){0};
    }
}

const struct r2d_aff4_triple *
r2d_aff4_graph_next(const struct r2d_aff4_graph *g, const char *s, const char *p, size_t *from)
{
    for (size_t i = *from; i < g->n; i++)
        if ((!s || strcmp(g->t[i].s, s) == 0) && strcmp(g->t[i].p, p) == 0) {
            *from = i + 1;
            return &g->t[i];
        }
    *from = g->n;
    return NULL;
}

const char *
r2d_aff4_graph_get(const struct r2d_aff4_graph *g, const char *s, const char *p)
{
    size_t at = 0;
    const struct r2d_aff4_triple *x = r2d_aff4_graph_next(g, s, p, &at);

    return x ? x->o : NULL;
}

int
r2d_aff4_graph_has(const struct r2d_aff4_graph *g, const char *s, const char *p, const char *o)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->t[i].s, s) == 0 && strcmp(g->t[i].p, p) == 0 && strcmp(g->t[i].o, o) == 0)
            return 1;
    return 0;
}

int
r2d_aff4_graph_u64(struct r2d_ctx *ctx, const char *where, const struct r2d_aff4_graph *g, const char *s,
                   const char *p, uint64_t *v, int *found)
{
    const char *o = r2d_aff4_graph_get(g, s, p);

    *v = 0;
    *found = o != NULL;
    if (!o)
        return 0;
    R2D_CHECK(
        r2d_parse_u64(o, o[0] == '0' && (o[1] == 'x' || o[1] == 'X') ? R2D_RADIX_ADDRESS : R2D_RADIX_DECIMAL,
                      v) != 0,
        ctx, R2D_EFORMAT, "%s: <%s> %s is '%.40s', not a number", where, s, p, o);
    return 0;
}
