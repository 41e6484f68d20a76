/* SPDX-License-Identifier: MIT */
/*
 * The PDB reader against a PDB built by clang + lld-link (sample.c), with llvm-pdbutil's view of it as the
 * truth (pdb_truth.py), then hostile variants of that PDB: each must give an error code and a message,
 * never a crash or a hang.
 *
 * Usage: test_pdb SAMPLE.PDB TRUTH.TXT
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pdb.h"
#include "pdb_msf.h"
#include "pdb_tpi.h"
#include "symbols.h"

/* One line of the truth file: "<what> <a> [<b>] [<n>] [<m>]". */
struct truth_line {
    char what[16];
    char a[128];
    char b[128];
    uint64_t n, m;
};

struct fixture {
    const char *pdb_path;
    const char *truth_path;
    uint8_t *pdb; /* the sample PDB's bytes */
    size_t pdb_len;
    struct truth_line *lines;
    size_t nlines;
    char tmpdir[64];
    struct r2d_ctx *ctx;
};

static const char *fixture_argv[3];

/* ---- helpers ---- */

static uint8_t *
read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long size;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static int
parse_truth(struct fixture *fx)
{
    size_t len, cap = 0;
    char *text = (char *)read_whole(fx->truth_path, &len), *save = NULL;

    if (!text)
        return -1;
    text = realloc(text, len + 1);
    text[len] = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct truth_line t = {0};
        char f[4][128] = {{0}};
        const int k = sscanf(line, "%15s %127s %127s %127s %127s", t.what, f[0], f[1], f[2], f[3]);

        if (k < 2)
            continue;
        snprintf(t.a, sizeof(t.a), "%s", f[0]);
        /* Numbers start at the first field that parses as one; names before them. */
        if (k >= 3 && (f[1][0] < '0' || f[1][0] > '9')) {
            snprintf(t.b, sizeof(t.b), "%s", f[1]);
            t.n = k >= 4 ? strtoull(f[2], NULL, 0) : 0;
            t.m = k >= 5 ? strtoull(f[3], NULL, 0) : 0;
        } else {
            t.n = strtoull(k >= 3 ? f[1] : f[0], NULL, 0);
            t.m = k >= 4 ? strtoull(f[2], NULL, 0) : 0;
        }
        if (fx->nlines == cap) {
            cap = cap ? cap * 2 : 1024;
            fx->lines = realloc(fx->lines, cap * sizeof(*fx->lines));
        }
        fx->lines[fx->nlines++] = t;
    }
    free(text);
    return 0;
}

/* The first truth line "<what> <a> ..." (a NULL: any), or NULL. */
static const struct truth_line *
truth(const struct fixture *fx, const char *what, const char *a, const char *b)
{
    for (size_t i = 0; i < fx->nlines; i++)
        if (strcmp(fx->lines[i].what, what) == 0 && (!a || strcmp(fx->lines[i].a, a) == 0) &&
            (!b || strcmp(fx->lines[i].b, b) == 0))
            return &fx->lines[i];
    return NULL;
}

static uint64_t
truth_member(const struct fixture *fx, const char *type, const char *member)
{
    const struct truth_line *t = truth(fx, "member", type, member);

    if (!t)
        fail_msg("llvm-pdbutil lists no member %s.%s", type, member);
    return t->n;
}

static char *
write_variant(const struct fixture *fx, const char *name, const uint8_t *data, size_t len)
{
    char *path = malloc(256);
    FILE *f;

    snprintf(path, 256, "%s/%s", fx->tmpdir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static uint32_t
le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * The MSF layout of the sample, decoded here independently of the reader (MsfFile.html): block size,
 * the file offset of the directory (one block in the sample), and of byte k of stream s.
 */
struct layout {
    uint32_t bs, nstreams;
    size_t dir;
};

static struct layout
msf_layout(const uint8_t *d)
{
    struct layout l;

    l.bs = le32(d + 0x20);
    assert_true(le32(d + 0x2C) <= l.bs); /* the directory fits one block */
    l.dir = (size_t)le32(d + (size_t)le32(d + 0x34) * l.bs) * l.bs;
    l.nstreams = le32(d + l.dir);
    return l;
}

static size_t
stream_offset(const uint8_t *d, const struct layout *l, uint32_t s, uint32_t k)
{
    size_t first = 0;

    for (uint32_t i = 0; i < s; i++) {
        const uint32_t size = le32(d + l->dir + 4 + 4 * i);
        first += size == 0xFFFFFFFFu ? 0 : (size + l->bs - 1) / l->bs;
    }
    return (size_t)le32(d + l->dir + 4 + 4 * (size_t)l->nstreams + 4 * (first + k / l->bs)) * l->bs +
           k % l->bs;
}

static uint32_t
stream_size(const uint8_t *d, const struct layout *l, uint32_t s)
{
    return le32(d + l->dir + 4 + 4 * s);
}

static void
assert_error_message(struct r2d_ctx *ctx, int rc, const char *must_contain)
{
    if (rc >= 0)
        fail_msg("expected an error, got %d", rc);
    assert_true(strlen(r2d_errmsg(ctx)) > 0);
    if (getenv("R2D_TEST_VERBOSE"))
        fprintf(stderr, "  %s\n", r2d_errmsg(ctx));
    if (must_contain && !strstr(r2d_errmsg(ctx), must_contain))
        fail_msg("message \"%s\" does not contain \"%s\"", r2d_errmsg(ctx), must_contain);
}

/* ---- setup ---- */

static int
group_setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    fx->pdb_path = fixture_argv[1];
    fx->truth_path = fixture_argv[2];
    fx->pdb = read_whole(fx->pdb_path, &fx->pdb_len);
    if (!fx->pdb || parse_truth(fx) || fx->nlines == 0) {
        fprintf(stderr, "cannot read %s or %s\n", fx->pdb_path, fx->truth_path);
        return -1;
    }
    snprintf(fx->tmpdir, sizeof(fx->tmpdir), "/tmp/r2d_test_pdb_XXXXXX");
    if (!mkdtemp(fx->tmpdir))
        return -1;
    fx->ctx = r2d_ctx_new();
    *state = fx;
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", fx->tmpdir);
    r2d_ctx_free(fx->ctx);
    free(fx->lines);
    free(fx->pdb);
    free(fx);
    return 0;
}

static struct r2d_symbols *
open_sample(struct fixture *fx)
{
    struct r2d_symbols *syms = NULL;
    const int rc = r2d_pdb_open(fx->ctx, fx->pdb_path, &syms);

    if (rc)
        fail_msg("r2d_pdb_open: %s", r2d_errmsg(fx->ctx));
    return syms;
}

/* ---- the sample against llvm-pdbutil ---- */

static void
identity_matches_llvm_pdbutil(void **state)
{
    struct fixture *fx = *state;
    struct r2d_symbols *syms = open_sample(fx);
    const struct truth_line *g = truth(fx, "guid", NULL, NULL);
    struct r2d_pdb_stats st;
    char hex[33];

    assert_non_null(g);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02X", syms->id.guid[i]);
    assert_string_equal(hex, g->a);
    assert_int_equal(syms->id.age, truth(fx, "dbi_age", NULL, NULL)->n);
    assert_string_equal(syms->id.name, "sample.pdb");
    assert_string_equal(syms->origin, fx->pdb_path);
    assert_string_equal(syms->ops->kind, "pdb");
    assert_int_equal(r2d_pdb_stats(fx->ctx, syms, &st), 0);
    assert_int_equal(st.info_age, truth(fx, "info_age", NULL, NULL)->n);
    assert_int_equal(st.num_publics, truth(fx, "publics", NULL, NULL)->n);
    assert_int_equal(st.num_type_records, truth(fx, "types", NULL, NULL)->n);
    assert_int_equal(st.dbi_machine, 0x8664);
    assert_int_equal(st.omap, 0);
    r2d_symbols_free(syms);
}

static void
every_public_and_global_rva_matches(void **state)
{
    struct fixture *fx = *state;
    struct r2d_symbols *syms = open_sample(fx);
    size_t checked = 0;

    for (size_t i = 0; i < fx->nlines; i++) {
        const struct truth_line *t = &fx->lines[i];
        uint64_t rva = 0;

        if (strcmp(t->what, "public") && strcmp(t->what, "global"))
            continue;
        if (r2d_symbols_rva(fx->ctx, syms, t->a, &rva))
            fail_msg("%s %s: %s", t->what, t->a, r2d_errmsg(fx->ctx));
        if (rva != t->n)
            fail_msg("%s %s: RVA 0x%" PRIx64 ", llvm-pdbutil says 0x%" PRIx64, t->what, t->a, rva, t->n);
        checked++;
    }
    assert_true(checked >= 19);
    r2d_symbols_free(syms);
}

static void
every_type_size_and_member_offset_matches(void **state)
{
    struct fixture *fx = *state;
    struct r2d_symbols *syms = open_sample(fx);
    size_t types = 0, members = 0;

    for (size_t i = 0; i < fx->nlines; i++) {
        const struct truth_line *t = &fx->lines[i];
        uint64_t v = 0;

        if (strcmp(t->what, "type") == 0) {
            if (r2d_symbols_type_size(fx->ctx, syms, t->a, &v))
                fail_msg("type %s: %s", t->a, r2d_errmsg(fx->ctx));
            if (v != t->n)
                fail_msg("sizeof %s: %" PRIu64 ", llvm-pdbutil says %" PRIu64, t->a, v, t->n);
            types++;
        } else if (strcmp(t->what, "member") == 0) {
            if (r2d_symbols_field_offset(fx->ctx, syms, t->a, t->b, &v))
                fail_msg("member %s.%s: %s", t->a, t->b, r2d_errmsg(fx->ctx));
            if (v != t->n)
                fail_msg("offset of %s.%s: %" PRIu64 ", llvm-pdbutil says %" PRIu64, t->a, t->b, v, t->n);
            members++;
        }
    }
    assert_true(types >= 9);
    assert_true(members >= 8000 + 40); /* r2d_big's 8000 members sit behind two LF_INDEX continuations */
    assert_non_null(truth(fx, "index", NULL, NULL));
    r2d_symbols_free(syms);
}

static void
nested_paths_sum_the_offsets(void **state)
{
    struct fixture *fx = *state;
    struct r2d_symbols *syms = open_sample(fx);
    const uint64_t ps = truth_member(fx, "r2d_prcb", "ProcessorState");
    const uint64_t cf = truth_member(fx, "r2d_procstate", "ContextFrame");
    uint64_t v;

    assert_int_equal(r2d_symbols_field_offset(fx->ctx, syms, "r2d_prcb", "ProcessorState.ContextFrame", &v),
                     0);
    assert_int_equal(v, ps + cf);
    assert_int_equal(
        r2d_symbols_field_offset(fx->ctx, syms, "r2d_prcb", "ProcessorState.ContextFrame.deep.b", &v), 0);
    assert_int_equal(v,
                     ps + cf + truth_member(fx, "r2d_ctxframe", "deep") + truth_member(fx, "r2d_inner", "b"));
    /* ApcState is const volatile (LF_MODIFIER) of a forward reference resolved by name. */
    assert_int_equal(r2d_symbols_field_offset(fx->ctx, syms, "r2d_prcb", "ApcState.kind", &v), 0);
    assert_int_equal(v, truth_member(fx, "r2d_prcb", "ApcState") + truth_member(fx, "r2d_apcstate", "kind"));
    assert_int_equal(r2d_symbols_field_offset(fx->ctx, syms, "r2d_prcb", "ApcState.Process", &v), 0);
    assert_int_equal(v, truth_member(fx, "r2d_prcb", "ApcState"));
    /* A named union of an unnamed struct; pinned by the static_assert in sample.c. */
    assert_int_equal(r2d_symbols_field_offset(fx->ctx, syms, "r2d_prcb", "u.parts.hi", &v), 0);
    assert_int_equal(v, 52);
    /* Anonymous union and struct members are reachable directly. */
    assert_int_equal(r2d_symbols_field_offset(fx->ctx, syms, "r2d_prcb", "anon_s2", &v), 0);
    assert_int_equal(v, truth_member(fx, "r2d_prcb", "anon_s2"));
    /* A member behind both LF_INDEX continuations, then into its struct. */
    assert_int_equal(r2d_symbols_field_offset(fx->ctx, syms, "r2d_big", "last.c", &v), 0);
    assert_int_equal(v, truth_member(fx, "r2d_big", "last") + truth_member(fx, "r2d_inner", "c"));
    assert_int_equal(r2d_symbols_field_offset(fx->ctx, syms, "r2d_union", "in.b", &v), 0);
    assert_int_equal(v, truth_member(fx, "r2d_union", "in") + truth_member(fx, "r2d_inner", "b"));
    r2d_symbols_free(syms);
}

static void
field_details_match_llvm_pdbutil(void **state)
{
    struct fixture *fx = *state;
    struct r2d_msf *msf = NULL;
    struct r2d_tpi *tpi = NULL;
    size_t bits = 0, sizes = 0;

    assert_int_equal(r2d_msf_open(fx->ctx, fx->pdb_path, &msf), 0);
    assert_int_equal(r2d_tpi_open(fx->ctx, msf, &tpi), 0);
    for (size_t i = 0; i < fx->nlines; i++) {
        const struct truth_line *t = &fx->lines[i];
        struct r2d_tpi_field f;

        if (strcmp(t->what, "bitfield") && strcmp(t->what, "msize"))
            continue;
        if (r2d_tpi_field(fx->ctx, tpi, t->a, t->b, &f))
            fail_msg("%s.%s: %s", t->a, t->b, r2d_errmsg(fx->ctx));
        if (strcmp(t->what, "bitfield") == 0) {
            assert_int_equal(f.bit_pos, t->n);
            assert_int_equal(f.bit_len, t->m);
            bits++;
        } else {
            assert_int_equal(f.size, t->n);
            sizes++;
        }
    }
    assert_int_equal(bits, 4);
    assert_true(sizes >= 6);
    {
        struct r2d_tpi_field f;
        assert_int_equal(r2d_tpi_field(fx->ctx, tpi, "r2d_prcb", "Big", &f), 0);
        assert_int_equal(f.size, 8);
        assert_int_equal(r2d_tpi_field(fx->ctx, tpi, "r2d_prcb", "Ptr", &f), 0); /* simple 0x0603 void * */
        assert_int_equal(f.size, 8);
        assert_int_equal(r2d_tpi_field(fx->ctx, tpi, "r2d_prcb", "ApcState", &f), 0);
        assert_int_equal(f.size, truth(fx, "type", "r2d_apcstate", NULL)->n);
        assert_int_equal(r2d_tpi_field(fx->ctx, tpi, "r2d_prcb", "Color", &f), 0); /* enum of int */
        assert_int_equal(f.size, 4);
        assert_int_equal(r2d_tpi_field(fx->ctx, tpi, "r2d_prcb", "anon_d", &f), 0);
        assert_int_equal(f.size, 8);
    }
    r2d_tpi_free(tpi);
    r2d_msf_close(msf);
}

static void
unknown_names_are_not_found_and_named(void **state)
{
    struct fixture *fx = *state;
    struct r2d_symbols *syms = open_sample(fx);
    uint64_t v;

    assert_int_equal(syms->ops->symbol_rva(fx->ctx, syms->data, "r2d_no_such_symbol", &v), R2D_ENOTFOUND);
    assert_error_message(fx->ctx, -1, "r2d_no_such_symbol");
    assert_int_equal(syms->ops->type_size(fx->ctx, syms->data, "r2d_no_such_type", &v), R2D_ENOTFOUND);
    assert_error_message(fx->ctx, -1, "r2d_no_such_type");
    assert_int_equal(syms->ops->field_offset(fx->ctx, syms->data, "r2d_no_such_type", "x", &v),
                     R2D_ENOTFOUND);
    assert_error_message(fx->ctx, -1, "r2d_no_such_type");
    assert_int_equal(syms->ops->field_offset(fx->ctx, syms->data, "r2d_prcb", "NoSuchField", &v),
                     R2D_ENOTFOUND);
    assert_error_message(fx->ctx, -1, "NoSuchField");
    assert_int_equal(
        syms->ops->field_offset(fx->ctx, syms->data, "r2d_prcb", "ProcessorState.NoSuchInner", &v),
        R2D_ENOTFOUND);
    assert_error_message(fx->ctx, -1, "NoSuchInner");
    /* Intermediate components must be embedded structs or unions. */
    assert_int_equal(syms->ops->field_offset(fx->ctx, syms->data, "r2d_prcb", "MxCsr.x", &v), R2D_ENOTFOUND);
    assert_error_message(fx->ctx, -1, "MxCsr");
    assert_int_equal(syms->ops->field_offset(fx->ctx, syms->data, "r2d_prcb", "Late.z", &v), R2D_ENOTFOUND);
    assert_error_message(fx->ctx, -1, "LF_POINTER");
    assert_int_equal(syms->ops->field_offset(fx->ctx, syms->data, "r2d_prcb", "Inners.a", &v), R2D_ENOTFOUND);
    assert_error_message(fx->ctx, -1, "LF_ARRAY");
    assert_int_equal(syms->ops->field_offset(fx->ctx, syms->data, "r2d_prcb", "ProcessorState..cr3", &v),
                     R2D_ENOTFOUND);
    assert_error_message(fx->ctx, -1, "bad field path");
    assert_int_equal(syms->ops->field_offset(fx->ctx, syms->data, "r2d_prcb", "", &v), R2D_ENOTFOUND);
    /* A struct that is only ever forward-declared. */
    assert_int_equal(syms->ops->type_size(fx->ctx, syms->data, "r2d_fwd_only", &v), R2D_ENOTFOUND);
    assert_error_message(fx->ctx, -1, "forward reference");
    /* The typedef name is an S_UDT, not a TPI type. */
    assert_int_equal(syms->ops->type_size(fx->ctx, syms->data, "r2d_prcb_t", &v), R2D_ENOTFOUND);
    /* Through the dispatch, the message names the request. */
    assert_int_equal(r2d_symbols_field_offset(fx->ctx, syms, "r2d_prcb", "Nope", &v), R2D_ENOTFOUND);
    assert_error_message(fx->ctx, -1, "Nope");
    r2d_symbols_free(syms);
}

/* The identity's age is DBI's, even when the info stream says otherwise (docs/reference/symbols.md 4.6). */
static void
age_comes_from_dbi_not_the_info_stream(void **state)
{
    struct fixture *fx = *state;
    uint8_t *d = malloc(fx->pdb_len);
    struct layout l;
    struct r2d_symbols *syms = NULL;
    struct r2d_pdb_stats st;
    char *path;

    memcpy(d, fx->pdb, fx->pdb_len);
    l = msf_layout(d);
    for (uint32_t k = 0; k < 4; k++) /* info stream +8: age = 0x33 */
        d[stream_offset(d, &l, 1, 8 + k)] = k == 0 ? 0x33 : 0;
    path = write_variant(fx, "info_age.pdb", d, fx->pdb_len);
    assert_int_equal(r2d_pdb_open(fx->ctx, path, &syms), 0);
    assert_int_equal(syms->id.age, truth(fx, "dbi_age", NULL, NULL)->n);
    assert_int_equal(r2d_pdb_stats(fx->ctx, syms, &st), 0);
    assert_int_equal(st.info_age, 0x33);
    r2d_symbols_free(syms);
    free(path);
    free(d);
}

/* ---- a PDB built here from the spec (docs/reference/symbols.md 4.1-4.5): OMAP, x86 names, record kinds,
 * block sizes ----
 */

struct buf {
    uint8_t *p;
    size_t len;
};

static void
buf_put(struct buf *b, const void *data, size_t len)
{
    b->p = realloc(b->p, b->len + len + 1);
    memcpy(b->p + b->len, data, len);
    b->len += len;
}

static void
buf_u16(struct buf *b, uint16_t v)
{
    const uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    buf_put(b, x, 2);
}

static void
buf_u32(struct buf *b, uint32_t v)
{
    uint8_t x[4];
    put_le32(x, v);
    buf_put(b, x, 4);
}

/* A symbol record {u16 len, u16 kind, u32 flags/type, u32 offset, u16 segment, name}, padded to 4 bytes. */
static void
buf_sym(struct buf *b, uint16_t kind, uint16_t seg, uint32_t off, const char *name)
{
    const size_t nl = strlen(name);
    const size_t body = 2 + 4 + 4 + 2 + (kind == 0x1009 ? 1 + nl : nl + 1);
    const size_t padded = (body + 2 + 3) / 4 * 4 - 2;
    static const uint8_t zero[4] = {0};

    buf_u16(b, (uint16_t)padded);
    buf_u16(b, kind);
    buf_u32(b, 0);
    buf_u32(b, off);
    buf_u16(b, seg);
    if (kind == 0x1009) { /* S_PUB32_ST: length-prefixed */
        const uint8_t l = (uint8_t)nl;
        buf_put(b, &l, 1);
        buf_put(b, name, nl);
    } else {
        buf_put(b, name, nl + 1);
    }
    buf_put(b, zero, padded - body);
}

/* Pad a field list or record with LF_PAD bytes (0xF3 0xF2 0xF1) to a multiple of 4. */
static void
buf_pad(struct buf *b, size_t base)
{
    while ((b->len - base) % 4) {
        const uint8_t pad = (uint8_t)(0xF0 + 4 - (b->len - base) % 4);
        buf_put(b, &pad, 1);
    }
}

/* An LF_MEMBER sub-record: u16 kind, u16 attributes, u32 type, numeric offset (LF_ULONG when large), name. */
static void
buf_member(struct buf *b, uint32_t type, uint32_t off, const char *name)
{
    buf_u16(b, 0x150D);
    buf_u16(b, 3);
    buf_u32(b, type);
    if (off >= 0x8000) {
        buf_u16(b, 0x8004);
        buf_u32(b, off);
    } else {
        buf_u16(b, (uint16_t)off);
    }
    buf_put(b, name, strlen(name) + 1);
    buf_pad(b, 0);
}

/* A TPI record {u16 length, then r: the kind and the payload}; r is padded to 4 bytes first. */
static void
buf_record(struct buf *b, struct buf *r)
{
    buf_pad(r, 0);
    buf_u16(b, (uint16_t)r->len);
    buf_put(b, r->p, r->len);
    r->len = 0;
}

/* LF_CLASS_VS19 / LF_STRUCTURE_VS19: u32 property, fields, derived, vshape, numeric count and size, names. */
static void
buf_struct2(struct buf *b, uint16_t kind, uint32_t prop, uint32_t fields, uint16_t count, uint32_t size,
            const char *name, const char *unique)
{
    struct buf r = {0};

    buf_u16(&r, kind);
    buf_u32(&r, prop);
    buf_u32(&r, fields);
    buf_u32(&r, 0);
    buf_u32(&r, 0);
    buf_u16(&r, count);
    buf_u16(&r, 0x8004);
    buf_u32(&r, size);
    buf_put(&r, name, strlen(name) + 1);
    buf_put(&r, unique, strlen(unique) + 1);
    buf_record(b, &r);
    free(r.p);
}

/* Lay out an MSF 7.00 file: superblock, two free-block-map blocks, the block map, the directory, streams. */
static struct buf
msf_build(uint32_t bs, struct buf *streams, uint32_t n)
{
    struct buf dir = {0}, out = {0};
    uint32_t next, ndir;

    buf_u32(&dir, n);
    for (uint32_t s = 0; s < n; s++)
        buf_u32(&dir, (uint32_t)streams[s].len);
    /* The directory's size is known before its block lists are written: 4 bytes per stream block. */
    ndir = 0;
    {
        size_t total = dir.len;
        for (uint32_t s = 0; s < n; s++)
            total += 4 * ((streams[s].len + bs - 1) / bs);
        ndir = (uint32_t)((total + bs - 1) / bs);
    }
    next = 4 + ndir; /* 0 superblock, 1-2 free block maps, 3 block map, then the directory */
    for (uint32_t s = 0; s < n; s++)
        for (size_t k = 0; k < (streams[s].len + bs - 1) / bs; k++)
            buf_u32(&dir, next++);
    out.len = (size_t)next * bs;
    out.p = calloc(1, out.len);
    memcpy(out.p, "Microsoft C/C++ MSF 7.00\r\n\032DS\0\0", 32);
    put_le32(out.p + 0x20, bs);
    put_le32(out.p + 0x24, 1);
    put_le32(out.p + 0x28, next);
    put_le32(out.p + 0x2C, (uint32_t)dir.len);
    put_le32(out.p + 0x34, 3);
    for (uint32_t i = 0; i < ndir; i++)
        put_le32(out.p + 3 * (size_t)bs + 4 * i, 4 + i);
    memcpy(out.p + 4 * (size_t)bs, dir.p, dir.len);
    next = 4 + ndir;
    for (uint32_t s = 0; s < n; s++) {
        if (streams[s].len)
            memcpy(out.p + (size_t)next * bs, streams[s].p, streams[s].len);
        next += (uint32_t)((streams[s].len + bs - 1) / bs);
    }
    free(dir.p);
    return out;
}

enum { SYN_SYMREC = 5, SYN_OMAP = 6, SYN_SECT = 7, SYN_SECT_ORIG = 8, SYN_STREAMS = 9 };

/* The synthetic PDB: x86, info age 7, DBI age 2; with_omap: OMAP'd and five types of the VS2019 16.8+ kinds.
 */
static struct buf
synthetic_pdb(uint32_t bs, int with_omap)
{
    struct buf st[SYN_STREAMS] = {{0}};
    struct buf out;
    static const uint8_t guid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static const uint32_t omap[][2] = {{0x1008, 0x5008}, {0x1400, 0}, {0x1600, 0x7000}, {0x2000, 0x9000}};

    buf_u32(&st[1], 20000404); /* PDB info: version, signature, age, GUID */
    buf_u32(&st[1], 0x12345678);
    buf_u32(&st[1], 7);
    buf_put(&st[1], guid, 16);
    {
        /*
         * TPI (when with_omap, else empty): 0x1000 field list {Number @4, Big @0x9000}, 0x1001 _KPRCB forward
         * reference (VS19 kind, unique name), 0x1002 its definition, 0x1003 field list {Prcb @0x10 of type
         * 0x1001}, 0x1004 _KPCR (VS19 class).
         */
        struct buf recs = {0}, r = {0};

        if (with_omap) {
            buf_u16(&r, 0x1203);
            buf_member(&r, 0x0020, 4, "Number");
            buf_member(&r, 0x0023, 0x9000, "Big");
            buf_record(&recs, &r);
            buf_struct2(&recs, 0x1609, 0x280, 0, 0, 0, "_KPRCB", ".?AU_KPRCB@@");
            buf_struct2(&recs, 0x1609, 0x200, 0x1000, 2, 0x9008, "_KPRCB", ".?AU_KPRCB@@");
            buf_u16(&r, 0x1203);
            buf_member(&r, 0x1001, 0x10, "Prcb");
            buf_record(&recs, &r);
            buf_struct2(&recs, 0x1608, 0x200, 0x1003, 1, 0x9100, "_KPCR", ".?AV_KPCR@@");
        }
        buf_u32(&st[2], 20040203); /* TPI: V80, header 56 */
        buf_u32(&st[2], 56);
        buf_u32(&st[2], 0x1000);
        buf_u32(&st[2], with_omap ? 0x1005 : 0x1000);
        buf_u32(&st[2], (uint32_t)recs.len);
        for (int i = 0; i < 9; i++)
            buf_u32(&st[2], i == 0 ? 0xFFFF : 0);
        if (recs.len)
            buf_put(&st[2], recs.p, recs.len);
        free(recs.p);
        free(r.p);
    }
    buf_u32(&st[3], 0xFFFFFFFFu); /* DBI header */
    buf_u32(&st[3], 19990903);
    buf_u32(&st[3], 2); /* age */
    buf_u16(&st[3], 0xFFFF);
    buf_u16(&st[3], 0);
    buf_u16(&st[3], 0xFFFF);
    buf_u16(&st[3], 0);
    buf_u16(&st[3], SYN_SYMREC);
    buf_u16(&st[3], 0);
    for (int i = 0; i < 6; i++)
        buf_u32(&st[3], 0); /* substreams 0x18..0x2C */
    buf_u32(&st[3], 22);    /* optional debug header: 11 entries */
    buf_u32(&st[3], 0);     /* EC */
    buf_u16(&st[3], 0);
    buf_u16(&st[3], 0x14C); /* x86 */
    buf_u32(&st[3], 0);
    for (int i = 0; i < 11; i++)
        buf_u16(&st[3], i == 5       ? SYN_SECT
                        : !with_omap ? 0xFFFF
                        : i == 4     ? SYN_OMAP
                        : i == 10    ? SYN_SECT_ORIG
                                     : 0xFFFF);
    buf_sym(&st[SYN_SYMREC], 0x110E, 1, 0x10, "_KiFoo@8");
    buf_sym(&st[SYN_SYMREC], 0x110D, 2, 0x99, "Bar"); /* S_GDATA32 first, the public wins */
    buf_sym(&st[SYN_SYMREC], 0x110E, 2, 0x20, "Bar");
    buf_sym(&st[SYN_SYMREC], 0x110E, 1, 0x500, "Gone");  /* OMAP: eliminated */
    buf_sym(&st[SYN_SYMREC], 0x110E, 1, 0x0, "Low");     /* OMAP: before the first entry */
    buf_sym(&st[SYN_SYMREC], 0x110E, 9, 0x10, "OutSeg"); /* segment 9 of 2 */
    buf_sym(&st[SYN_SYMREC], 0x110E, 0, 0x10, "Seg0");   /* segment 0 */
    buf_sym(&st[SYN_SYMREC], 0x1009, 1, 0x30, "Pascal"); /* S_PUB32_ST */
    buf_sym(&st[SYN_SYMREC], 0x110C, 1, 0x40, "Dup");    /* S_LDATA32 */
    buf_sym(&st[SYN_SYMREC], 0x110E, 1, 0x44, "Dup");
    buf_sym(&st[SYN_SYMREC], 0x110E, 1, 0x48, "KiFoo");  /* an exact name beats an undecorated one */
    buf_sym(&st[SYN_SYMREC], 0x110E, 1, 0x4C, "_Plain"); /* undecorated: "Plain" */
    buf_sym(&st[SYN_SYMREC], 0x110C, 2, 0x50, "Local");
    for (size_t i = 0; i < sizeof(omap) / sizeof(omap[0]); i++) {
        buf_u32(&st[SYN_OMAP], omap[i][0]);
        buf_u32(&st[SYN_OMAP], omap[i][1]);
    }
    for (int s = 0; s < 2; s++) { /* IMAGE_SECTION_HEADER: VirtualAddress at +0xC */
        uint8_t sh[40] = {0};
        put_le32(sh + 0xC, 0xA000 + 0x1000 * (uint32_t)s);
        buf_put(&st[SYN_SECT], sh, 40);
        put_le32(sh + 0xC, 0x1000 + 0x1000 * (uint32_t)s);
        buf_put(&st[SYN_SECT_ORIG], sh, 40);
    }
    out = msf_build(bs, st, SYN_STREAMS);
    for (int i = 0; i < SYN_STREAMS; i++)
        free(st[i].p);
    return out;
}

static void
synthetic_omap_pdb_in_every_block_size(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *name;
        uint64_t omap_rva, plain_rva; /* 0: not found */
    } want[] = {
        {"_KiFoo@8", 0x5010, 0xA010},
        {"KiFoo", 0x5048, 0xA048},
        {"Bar", 0x9020, 0xB020},
        {"Gone", 0, 0xA500},
        {"Low", 0, 0xA000},
        {"OutSeg", 0, 0},
        {"Seg0", 0, 0},
        {"Pascal", 0x5030, 0xA030},
        {"Dup", 0x5044, 0xA044},
        {"Plain", 0x504C, 0xA04C},
        {"_Plain", 0x504C, 0xA04C},
        {"Local", 0x9050, 0xB050},
    };

    for (uint32_t bs = 512; bs <= 4096; bs *= 2)
        for (int with_omap = 0; with_omap < 2; with_omap++) {
            struct buf pdb = synthetic_pdb(bs, with_omap);
            char name[32], *path;
            struct r2d_symbols *syms = NULL;
            struct r2d_pdb_stats st;
            uint64_t v;

            snprintf(name, sizeof(name), "synthetic%u_%d.pdb", bs, with_omap);
            path = write_variant(fx, name, pdb.p, pdb.len);
            if (r2d_pdb_open(fx->ctx, path, &syms))
                fail_msg("%s: %s", name, r2d_errmsg(fx->ctx));
            assert_int_equal(syms->id.age, 2);
            assert_int_equal(syms->id.guid[0], 1);
            assert_int_equal(syms->id.guid[15], 16);
            assert_int_equal(r2d_pdb_stats(fx->ctx, syms, &st), 0);
            assert_int_equal(st.info_age, 7);
            assert_int_equal(st.num_type_records, with_omap ? 5 : 0);
            assert_int_equal(st.num_publics, 10);
            assert_int_equal(st.omap, with_omap);
            for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                const uint64_t expect = with_omap ? want[i].omap_rva : want[i].plain_rva;
                const int rc = syms->ops->symbol_rva(fx->ctx, syms->data, want[i].name, &v);

                if (expect == 0 && rc != R2D_ENOTFOUND)
                    fail_msg("%s, %s: found at 0x%" PRIx64 ", expected none", name, want[i].name, v);
                if (expect != 0 && (rc != 0 || v != expect))
                    fail_msg("%s, %s: rc %d, 0x%" PRIx64 ", expected 0x%" PRIx64 " (%s)", name, want[i].name,
                             rc, v, expect, r2d_errmsg(fx->ctx));
            }
            if (!with_omap) { /* a PDB without types answers every type query with "not found" */
                assert_int_equal(syms->ops->type_size(fx->ctx, syms->data, "_KPRCB", &v), R2D_ENOTFOUND);
                assert_int_equal(syms->ops->field_offset(fx->ctx, syms->data, "_KPRCB", "Number", &v),
                                 R2D_ENOTFOUND);
            } else { /* the VS2019 16.8+ struct and class records, forward reference resolved by unique name
                      */
                assert_int_equal(syms->ops->type_size(fx->ctx, syms->data, "_KPRCB", &v), 0);
                assert_int_equal(v, 0x9008);
                assert_int_equal(syms->ops->type_size(fx->ctx, syms->data, "_KPCR", &v), 0);
                assert_int_equal(v, 0x9100);
                assert_int_equal(syms->ops->field_offset(fx->ctx, syms->data, "_KPCR", "Prcb.Number", &v), 0);
                assert_int_equal(v, 0x14);
                assert_int_equal(syms->ops->field_offset(fx->ctx, syms->data, "_KPCR", "Prcb.Big", &v), 0);
                assert_int_equal(v, 0x9010);
                assert_int_equal(syms->ops->field_offset(fx->ctx, syms->data, "_KPCR", "Prcb.Nope", &v),
                                 R2D_ENOTFOUND);
            }
            r2d_symbols_free(syms);
            free(path);
            free(pdb.p);
        }
}

static void
missing_file_is_an_io_error(void **state)
{
    struct fixture *fx = *state;
    struct r2d_symbols *syms = NULL;
    char path[128];

    snprintf(path, sizeof(path), "%s/does-not-exist.pdb", fx->tmpdir);
    assert_int_equal(r2d_pdb_open(fx->ctx, path, &syms), R2D_EIO);
    assert_null(syms);
    assert_error_message(fx->ctx, -1, "does-not-exist.pdb");
    assert_int_equal(r2d_pdb_open(fx->ctx, fx->tmpdir, &syms), R2D_EINVAL); /* a directory */
}

/* ---- hostile variants ---- */

/* Open a variant; it must fail with a message naming its path. Returns the code. */
static int
open_must_fail(struct fixture *fx, const char *name, const uint8_t *d, size_t len, const char *must_contain)
{
    char *path = write_variant(fx, name, d, len);
    struct r2d_symbols *syms = NULL;
    const int rc = r2d_pdb_open(fx->ctx, path, &syms);

    if (rc == 0)
        fail_msg("%s: opened", name);
    assert_null(syms);
    assert_error_message(fx->ctx, rc, path);
    if (must_contain)
        assert_error_message(fx->ctx, rc, must_contain);
    free(path);
    return rc;
}

static void
truncated_files_are_refused(void **state)
{
    struct fixture *fx = *state;
    const struct layout l = msf_layout(fx->pdb);
    const size_t cuts[] = {0, 10, 0x20, 0x37, 0x38, l.bs, l.dir, l.dir + 8, fx->pdb_len / 2, fx->pdb_len - 1};

    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        char name[32];
        const int rc =
            (snprintf(name, sizeof(name), "cut%zu.pdb", i), open_must_fail(fx, name, fx->pdb, cuts[i], NULL));
        assert_true(rc == R2D_ETRUNC || rc == R2D_EFORMAT);
    }
}

static void
bad_superblocks_are_refused(void **state)
{
    struct fixture *fx = *state;
    uint8_t *d = malloc(fx->pdb_len);
    static const char v2[] = "Microsoft C/C++ program database 2.00\r\n\032JG\0\0";

    memcpy(d, fx->pdb, fx->pdb_len);
    d[0] = 'X';
    assert_int_equal(open_must_fail(fx, "magic.pdb", d, fx->pdb_len, "not a PDB"), R2D_EFORMAT);

    memcpy(d, fx->pdb, fx->pdb_len);
    memcpy(d, v2, sizeof(v2));
    assert_int_equal(open_must_fail(fx, "msf2.pdb", d, fx->pdb_len, "not supported"), R2D_EUNSUPPORTED);

    memcpy(d, fx->pdb, fx->pdb_len);
    put_le32(d + 0x20, 8192);
    assert_int_equal(open_must_fail(fx, "bs8192.pdb", d, fx->pdb_len, "block size 8192"), R2D_EUNSUPPORTED);
    put_le32(d + 0x20, 100);
    assert_int_equal(open_must_fail(fx, "bs100.pdb", d, fx->pdb_len, "block size 100"), R2D_EUNSUPPORTED);

    memcpy(d, fx->pdb, fx->pdb_len);
    put_le32(d + 0x28, 0x7FFFFFFF); /* NumBlocks */
    assert_int_equal(open_must_fail(fx, "numblocks.pdb", d, fx->pdb_len, "truncated"), R2D_ETRUNC);

    memcpy(d, fx->pdb, fx->pdb_len);
    put_le32(d + 0x2C, 0xFFFFFFF0u); /* NumDirectoryBytes */
    assert_int_equal(open_must_fail(fx, "dirbytes.pdb", d, fx->pdb_len, "NumDirectoryBytes"), R2D_EFORMAT);

    memcpy(d, fx->pdb, fx->pdb_len);
    put_le32(d + 0x34, 0x00FFFFFF); /* BlockMapAddr */
    assert_int_equal(open_must_fail(fx, "blockmap.pdb", d, fx->pdb_len, "block map"), R2D_EFORMAT);
    free(d);
}

static void
bad_directories_are_refused(void **state)
{
    struct fixture *fx = *state;
    uint8_t *d = malloc(fx->pdb_len);
    const struct layout l = msf_layout(fx->pdb);
    const size_t bmap = (size_t)le32(fx->pdb + 0x34) * l.bs;
    const size_t blocks = l.dir + 4 + 4 * (size_t)l.nstreams; /* first stream block number */

    memcpy(d, fx->pdb, fx->pdb_len);
    put_le32(d + l.dir, 0xFFFFFFF0u);
    assert_int_equal(open_must_fail(fx, "nstreams.pdb", d, fx->pdb_len, "NumStreams"), R2D_EFORMAT);
    put_le32(d + l.dir, 0x10000);
    assert_int_equal(open_must_fail(fx, "nstreams64k.pdb", d, fx->pdb_len, "NumStreams"), R2D_EFORMAT);

    memcpy(d, fx->pdb, fx->pdb_len);
    put_le32(d + l.dir + 4 + 4 * 2, 0x7FFFFFF0u); /* TPI stream size */
    assert_int_equal(open_must_fail(fx, "streamsize.pdb", d, fx->pdb_len, "larger than the file"),
                     R2D_EFORMAT);
    put_le32(d + l.dir + 4 + 4 * 2, (uint32_t)fx->pdb_len - 4096); /* fits the file, not the directory */
    assert_int_equal(open_must_fail(fx, "streamsize2.pdb", d, fx->pdb_len, "directory"), R2D_EFORMAT);

    memcpy(d, fx->pdb, fx->pdb_len);
    put_le32(d + blocks, 0x00123456); /* a stream block number */
    assert_int_equal(open_must_fail(fx, "blocknum.pdb", d, fx->pdb_len, "out of range"), R2D_EFORMAT);

    memcpy(d, fx->pdb, fx->pdb_len);
    put_le32(d + bmap, 0x00123456); /* the directory's own block number */
    assert_int_equal(open_must_fail(fx, "dirblock.pdb", d, fx->pdb_len, "out of range"), R2D_EFORMAT);

    memcpy(d, fx->pdb, fx->pdb_len);
    put_le32(d + l.dir + 4 + 4 * 3, 0xFFFFFFFFu); /* DBI stream nil */
    assert_int_equal(open_must_fail(fx, "nodbi.pdb", d, fx->pdb_len, "DBI"), R2D_EFORMAT);
    free(d);
}

/* Find the LF_INDEX (04 14 00 00 <ti>) pointing at cont in the TPI stream; its continuation's file offsets.
 */
static void
find_lf_index(const uint8_t *d, const struct layout *l, uint32_t cont, size_t out[4])
{
    const uint32_t size = stream_size(d, l, 2);

    for (uint32_t k = 0; k + 8 <= size; k += 4) {
        uint8_t b[8];
        for (int i = 0; i < 8; i++)
            b[i] = d[stream_offset(d, l, 2, k + (uint32_t)i)];
        if (b[0] == 0x04 && b[1] == 0x14 && b[2] == 0 && b[3] == 0 && le32(b + 4) == cont) {
            for (int i = 0; i < 4; i++)
                out[i] = stream_offset(d, l, 2, k + 4 + (uint32_t)i);
            return;
        }
    }
    fail_msg("no LF_INDEX to 0x%" PRIx32 " in the TPI stream", cont);
}

static void
set_lf_index(uint8_t *d, const size_t at[4], uint32_t ti)
{
    for (int i = 0; i < 4; i++)
        d[at[i]] = (uint8_t)(ti >> (8 * i));
}

static void
lf_index_cycles_stop_with_an_error(void **state)
{
    struct fixture *fx = *state;
    const struct truth_line *first = truth(fx, "index", NULL, NULL);
    const struct layout l = msf_layout(fx->pdb);
    uint8_t *d = malloc(fx->pdb_len);
    uint32_t lists[3];
    size_t at[2][4];
    uint64_t v;

    /* llvm-pdbutil: list A -> B -> C (A is r2d_big's field list; "index A B" has a = "A", n = B). */
    assert_non_null(first);
    lists[0] = (uint32_t)strtoul(first->a, NULL, 0);
    lists[1] = (uint32_t)first->n;
    lists[2] = 0;
    for (size_t i = 0; i < fx->nlines; i++)
        if (strcmp(fx->lines[i].what, "index") == 0 && strtoul(fx->lines[i].a, NULL, 0) == lists[1])
            lists[2] = (uint32_t)fx->lines[i].n;
    assert_true(lists[2] != 0);
    find_lf_index(fx->pdb, &l, lists[1], at[0]);
    find_lf_index(fx->pdb, &l, lists[2], at[1]);

    const uint32_t targets[][2] = {
        {lists[0], lists[2]},   /* A -> A: points to itself */
        {lists[1], lists[0]},   /* A -> B -> A */
        {0x00FFFFFF, lists[2]}, /* out of range */
        {lists[1], 0x1001},     /* B -> an LF_PROCEDURE */
    };
    for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
        char name[32], *path;
        struct r2d_symbols *syms = NULL;

        memcpy(d, fx->pdb, fx->pdb_len);
        set_lf_index(d, at[0], targets[t][0]);
        set_lf_index(d, at[1], targets[t][1]);
        snprintf(name, sizeof(name), "lfindex%zu.pdb", t);
        path = write_variant(fx, name, d, fx->pdb_len);
        assert_int_equal(r2d_pdb_open(fx->ctx, path, &syms), 0);
        assert_int_equal(syms->ops->field_offset(fx->ctx, syms->data, "r2d_big", "no_such_member", &v),
                         R2D_EFORMAT);
        assert_error_message(fx->ctx, -1, path);
        assert_int_equal(syms->ops->field_offset(fx->ctx, syms->data, "r2d_big", "last", &v), R2D_EFORMAT);
        assert_error_message(fx->ctx, -1, t < 2 ? "LF_INDEX chain" : NULL);
        /* Members before the damage are still found. */
        assert_int_equal(syms->ops->field_offset(fx->ctx, syms->data, "r2d_big", "head", &v), 0);
        assert_int_equal(v, 0);
        r2d_symbols_free(syms);
        free(path);
    }
    free(d);
}

/*
 * Random damage to the streams the reader uses: open and every kind of query must return 0 or an error with
 * a message; ASan/UBSan builds catch any read out of bounds.
 */
static void
random_damage_never_crashes(void **state)
{
    struct fixture *fx = *state;
    const struct layout l = msf_layout(fx->pdb);
    uint8_t *d = malloc(fx->pdb_len);
    uint64_t seed = 0x2545F4914F6CDD1Dull;
    static const char *const paths[][2] = {
        {"r2d_prcb", "ProcessorState.ContextFrame.deep.b"},
        {"r2d_prcb", "ApcState.Process"},
        {"r2d_prcb", "u.parts.hi"},
        {"r2d_big", "last.c"},
        {"r2d_big", "m4321"},
        {"r2d_union", "in.b"},
        {"r2d_prcb", "Color"},
        {"r2d_prcb", "nope"},
    };
    static const char *const names[] = {"r2d_counter", "r2d_static_var", "r2d_func", "nope"};
    /* 0xFFFD: the first 4 KiB of TPI (the small types' records), 0xFFFE: any byte, 0xFFFF: the directory. */
    static const uint32_t streams[] = {1, 2, 0xFFFD, 0xFFFD, 0xFFFD, 3, 3, 0xFFFF, 0xFFFE};
    const char *env_iters =
        getenv("R2D_TEST_PDB_FUZZ"); /* more iterations by hand: R2D_TEST_PDB_FUZZ=20000 */
    const long iters = env_iters ? strtol(env_iters, NULL, 10) : 400;
    int opened = 0;

    for (long iter = 0; iter < iters; iter++) {
        struct r2d_symbols *syms = NULL;
        char *path;
        int rc;

        memcpy(d, fx->pdb, fx->pdb_len);
        for (int hits = 1 + (int)(seed % 4); hits > 0; hits--) {
            uint32_t s, size;
            size_t at;

            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            s = streams[seed % (sizeof(streams) / sizeof(streams[0]))];
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            if (s == 0xFFFF)
                at = l.dir + seed % (4 + 4 * (size_t)l.nstreams + 64);
            else if (s == 0xFFFE)
                at = seed % fx->pdb_len;
            else if (s == 0xFFFD)
                at = stream_offset(fx->pdb, &l, 2, (uint32_t)(seed % 4096));
            else if ((size = stream_size(fx->pdb, &l, s)) == 0 || size == 0xFFFFFFFFu)
                continue;
            else
                at = stream_offset(fx->pdb, &l, s, (uint32_t)(seed % size));
            d[at] = (uint8_t)(seed >> 32);
            if ((seed >> 40) % 3 == 0) /* sometimes a field-sized value */
                d[at] = (seed >> 48) & 1 ? 0xFF : 0x00;
        }
        path = write_variant(fx, "random.pdb", d, fx->pdb_len);
        rc = r2d_pdb_open(fx->ctx, path, &syms);
        if (rc) {
            assert_true(rc < 0 && strlen(r2d_errmsg(fx->ctx)) > 0);
        } else {
            struct r2d_pdb_stats st;
            uint64_t v;

            opened++;
            for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                rc = syms->ops->field_offset(fx->ctx, syms->data, paths[i][0], paths[i][1], &v);
                assert_true(rc == 0 || (rc < 0 && strlen(r2d_errmsg(fx->ctx)) > 0));
                rc = syms->ops->type_size(fx->ctx, syms->data, paths[i][0], &v);
                assert_true(rc == 0 || (rc < 0 && strlen(r2d_errmsg(fx->ctx)) > 0));
            }
            for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                rc = syms->ops->symbol_rva(fx->ctx, syms->data, names[i], &v);
                assert_true(rc == 0 || (rc < 0 && strlen(r2d_errmsg(fx->ctx)) > 0));
            }
            rc = r2d_pdb_stats(fx->ctx, syms, &st);
            assert_true(rc == 0 || (rc < 0 && strlen(r2d_errmsg(fx->ctx)) > 0));
            r2d_symbols_free(syms);
        }
        free(path);
    }
    assert_true(opened > 0);
    free(d);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(identity_matches_llvm_pdbutil),
        cmocka_unit_test(every_public_and_global_rva_matches),
        cmocka_unit_test(every_type_size_and_member_offset_matches),
        cmocka_unit_test(nested_paths_sum_the_offsets),
        cmocka_unit_test(field_details_match_llvm_pdbutil),
        cmocka_unit_test(unknown_names_are_not_found_and_named),
        cmocka_unit_test(age_comes_from_dbi_not_the_info_stream),
        cmocka_unit_test(truncated_files_are_refused),
        cmocka_unit_test(bad_superblocks_are_refused),
        cmocka_unit_test(bad_directories_are_refused),
        cmocka_unit_test(lf_index_cycles_stop_with_an_error),
        cmocka_unit_test(random_damage_never_crashes),
        cmocka_unit_test(synthetic_omap_pdb_in_every_block_size),
        cmocka_unit_test(missing_file_is_an_io_error),
    };

    if (argc != 3) {
        fprintf(stderr, "usage: %s SAMPLE.PDB TRUTH.TXT\n", argv[0]);
        return 99;
    }
    fixture_argv[1] = argv[1];
    fixture_argv[2] = argv[2];
    return cmocka_run_group_tests_name("pdb", tests, group_setup, group_teardown);
}
