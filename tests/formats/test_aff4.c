/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the AFF4 reader's parts (formats/aff4_*.c): the turtle subset on what writers emit and on
 * hostile text, bevy indexes (standard and pre-standard), map entries and their composition, the chunk
 * codecs, and the probe that keeps AFF4 volumes from the ZIP container. Whole volumes are tested from the
 * command line (tests/cli/test_convert_aff4.py).
 */
#include "fmt_testutil.h"

#include <zlib.h>

#include "aff4.h"
#include "aff4_probe.h"
#include "bytes.h"
#include "container_kinds.h"

static const char sample[] =
    "@prefix aff4: <http://aff4.org/Schema#> .\n"
    "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>\n"
    "@prefix : <urn:default#> .\n"
    "# a comment line\n"
    "<aff4://v/PhysicalMemory> a aff4:Map, aff4:Image ;\n"
    "    aff4:category <http://aff4.org/Schema#memory/physical> ; # trailing comment\n"
    "    aff4:size \"16777216\"^^xsd:long ;\n"
    "    aff4:note 'it\\'s', \"tab\\there\", \"\"\"two\n lines\"\"\"@en ;\n"
    "    aff4:flag true ;\n"
    "    :local -12 ;\n"
    "    .\n"
    "<aff4://v/data> aff4:chunkSize 32768; aff4:hex \"0x1f\" .\n";

static void
turtle_reads_what_writers_write(void **state)
{
    struct fmt_test *t = *state;
    struct r2d_aff4_graph g = {0};
    const char *m = "aff4://v/PhysicalMemory";
    uint64_t v = 0;
    int found = 0;

    assert_int_equal(r2d_aff4_turtle_parse(t->ctx, "t", sample, strlen(sample), &g), 0);
    assert_true(r2d_aff4_graph_has(&g, m, R2D_RDF_TYPE, R2D_AFF4_NS "Map"));
    assert_true(r2d_aff4_graph_has(&g, m, R2D_RDF_TYPE, R2D_AFF4_NS "Image"));
    assert_string_equal(r2d_aff4_graph_get(&g, m, R2D_AFF4_NS "category"), R2D_AFF4_NS "memory/physical");
    assert_int_equal(r2d_aff4_graph_u64(t->ctx, "t", &g, m, R2D_AFF4_NS "size", &v, &found), 0);
    assert_true(found);
    assert_int_equal(v, 16777216);
    assert_true(r2d_aff4_graph_has(&g, m, R2D_AFF4_NS "note", "tab\there"));
    assert_true(r2d_aff4_graph_has(&g, m, R2D_AFF4_NS "note", "two\n lines"));
    assert_true(r2d_aff4_graph_has(&g, m, R2D_AFF4_NS "flag", "true"));
    assert_true(r2d_aff4_graph_has(&g, m, "urn:default#local", "-12"));
    assert_int_equal(
        r2d_aff4_graph_u64(t->ctx, "t", &g, "aff4://v/data", R2D_AFF4_NS "chunkSize", &v, &found), 0);
    assert_int_equal(v, 32768);
    assert_int_equal(r2d_aff4_graph_u64(t->ctx, "t", &g, "aff4://v/data", R2D_AFF4_NS "hex", &v, &found), 0);
    assert_int_equal(v, 0x1f);
    assert_int_equal(r2d_aff4_graph_u64(t->ctx, "t", &g, m, R2D_AFF4_NS "category", &v, &found), R2D_EFORMAT);
    assert_int_equal(r2d_aff4_graph_u64(t->ctx, "t", &g, m, R2D_AFF4_NS "absent", &v, &found), 0);
    assert_false(found);
    r2d_aff4_graph_free(&g);
}

static void
turtle_refuses_what_it_does_not_read(void **state)
{
    static const char *const bad[] = {
        "<a> <b> _:x .",          /* blank node */
        "<a> <b> [ <c> <d> ] .",  /* anonymous blank node */
        "<a> <b> ( <c> ) .",      /* collection */
        "@base <http://x/> .",    /* directive */
        "<a> nope:b <c> .",       /* undeclared prefix */
        "<a> <b> <c",             /* IRI not closed */
        "<a> <b> \"abc",          /* string not closed */
        "<a> <b> \"a\nb\" .",     /* line break in a short string */
        "<a> <b> \"\\u0041\" .",  /* unsupported escape */
        "<a> <b> 1.5 .",          /* decimal */
        "<a> <b> 1e5 .",          /* double */
        "<a> <b> <c>",            /* no final '.' */
        "<a> <b> <c> ; <d> .",    /* predicate without object */
        "<a b> <c> <d> .",        /* space in an IRI */
        "@prefix x <http://y> .", /* prefix without ':' */
        "<a> <b> - .",            /* sign without digits */
        "<a> <b> <c> .\n<x>",     /* subject alone */
    };
    struct fmt_test *t = *state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct r2d_aff4_graph g = {0};

        assert_int_equal(r2d_aff4_turtle_parse(t->ctx, "t", bad[i], strlen(bad[i]), &g), R2D_EFORMAT);
        assert_non_null(strstr(r2d_errmsg(t->ctx), "t: line "));
        r2d_aff4_graph_free(&g);
    }
}

static void
turtle_bounds_terms_nul_bytes_and_prefixes(void **state)
{
    struct fmt_test *t = *state;
    struct r2d_aff4_graph g = {0};
    const size_t n = R2D_AFF4_TERM_MAX + 64;
    char *big = malloc(n + 16), nul[] = "<a> <b> <c> .\0<d> <e> <f> .";

    assert_non_null(big);
    memcpy(big, "<a> <b> \"", 9);
    memset(big + 9, 'x', n);
    memcpy(big + 9 + n, "\" .", 3);
    assert_int_equal(r2d_aff4_turtle_parse(t->ctx, "t", big, n + 12, &g), R2D_EFORMAT);
    assert_non_null(strstr(r2d_errmsg(t->ctx), "longer than"));
    r2d_aff4_graph_free(&g);
    assert_int_equal(r2d_aff4_turtle_parse(t->ctx, "t", nul, sizeof(nul) - 1, &g), R2D_EFORMAT);
    r2d_aff4_graph_free(&g);
    /* 65 prefixes */
    big[0] = 0;
    for (int i = 0; i < 65; i++)
        snprintf(big + strlen(big), n - strlen(big), "@prefix p%d: <u:%d> .\n", i, i);
    assert_int_equal(r2d_aff4_turtle_parse(t->ctx, "t", big, strlen(big), &g), R2D_EFORMAT);
    assert_non_null(strstr(r2d_errmsg(t->ctx), "64 prefixes"));
    r2d_aff4_graph_free(&g);
    free(big);
}

static void
turtle_truncations_and_flips_never_crash(void **state)
{
    struct fmt_test *t = *state;
    const size_t n = strlen(sample);
    char *copy = malloc(n);
    uint64_t seed = 16;

    assert_non_null(copy);
    for (size_t cut = 0; cut <= n; cut++) {
        struct r2d_aff4_graph g = {0};
        const int rc = r2d_aff4_turtle_parse(t->ctx, "t", sample, cut, &g);

        assert_true(rc == 0 || rc == R2D_EFORMAT);
        r2d_aff4_graph_free(&g);
    }
    for (int i = 0; i < 2000; i++) {
        struct r2d_aff4_graph g = {0};
        int rc;

        memcpy(copy, sample, n);
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        copy[(seed >> 33) % n] = (char)(seed >> 8);
        rc = r2d_aff4_turtle_parse(t->ctx, "t", copy, n, &g);
        assert_true(rc == 0 || rc == R2D_EFORMAT);
        r2d_aff4_graph_free(&g);
    }
    free(copy);
}

static void
bevy_index_standard_form(void **state)
{
    struct fmt_test *t = *state;
    uint8_t idx[36];
    uint64_t off[3];
    uint32_t len[3];

    for (int i = 0; i < 3; i++) {
        /* chunks in any order in the bevy: c-aff4 compresses them in parallel */
        r2d_put_le64(idx + 12 * i, (uint64_t)(2 - i) * 100);
        r2d_put_le32(idx + 12 * i + 8, 100);
    }
    assert_int_equal(r2d_aff4_bevy_index(t->ctx, "i", idx, 36, 0, 300, 3, 200, off, len), 0);
    assert_int_equal(off[0], 200);
    assert_int_equal(off[2], 0);
    assert_int_equal(len[1], 100);
    /* fewer chunks wanted than listed (the last bevy) is fine; more is not */
    assert_int_equal(r2d_aff4_bevy_index(t->ctx, "i", idx, 36, 0, 300, 2, 200, off, len), 0);
    assert_int_equal(r2d_aff4_bevy_index(t->ctx, "i", idx, 36, 0, 300, 4, 200, off, len), R2D_EFORMAT);
    assert_int_equal(r2d_aff4_bevy_index(t->ctx, "i", idx, 35, 0, 300, 2, 200, off, len), R2D_EFORMAT);
    /* a chunk past the bevy's end, an empty one, one longer than a chunk can be */
    assert_int_equal(r2d_aff4_bevy_index(t->ctx, "i", idx, 36, 0, 299, 3, 200, off, len), R2D_EFORMAT);
    assert_non_null(strstr(r2d_errmsg(t->ctx), "runs past the bevy"));
    r2d_put_le64(idx, UINT64_MAX - 10);
    assert_int_equal(r2d_aff4_bevy_index(t->ctx, "i", idx, 36, 0, 300, 3, 200, off, len), R2D_EFORMAT);
    r2d_put_le64(idx, 200);
    r2d_put_le32(idx + 8, 0);
    assert_int_equal(r2d_aff4_bevy_index(t->ctx, "i", idx, 36, 0, 300, 3, 200, off, len), R2D_EFORMAT);
    r2d_put_le32(idx + 8, 100);
    assert_int_equal(r2d_aff4_bevy_index(t->ctx, "i", idx, 36, 0, 300, 3, 99, off, len), R2D_EFORMAT);
}

static void
bevy_index_pre_standard_forms(void **state)
{
    struct fmt_test *t = *state;
    uint8_t idx[12];
    uint64_t off[3];
    uint32_t len[3];

    /* Rekall's: offsets from 0, the last chunk to the bevy's end */
    r2d_put_le32(idx, 0);
    r2d_put_le32(idx + 4, 40);
    r2d_put_le32(idx + 8, 100);
    assert_int_equal(r2d_aff4_bevy_index(t->ctx, "i", idx, 12, 1, 130, 3, 200, off, len), 0);
    assert_int_equal(len[0], 40);
    assert_int_equal(len[1], 60);
    assert_int_equal(off[2], 100);
    assert_int_equal(len[2], 30);
    /* Evimetry's: the first chunk's offset 0 left out */
    assert_int_equal(r2d_aff4_bevy_index(t->ctx, "i", idx + 4, 8, 1, 130, 3, 200, off, len), 0);
    assert_int_equal(off[0], 0);
    assert_int_equal(len[0], 40);
    assert_int_equal(len[2], 30);
    /* offsets going back, or past the bevy */
    r2d_put_le32(idx + 8, 20);
    assert_int_equal(r2d_aff4_bevy_index(t->ctx, "i", idx, 12, 1, 130, 3, 200, off, len), R2D_EFORMAT);
    r2d_put_le32(idx + 8, 131);
    assert_int_equal(r2d_aff4_bevy_index(t->ctx, "i", idx, 12, 1, 130, 3, 200, off, len), R2D_EFORMAT);
    assert_int_equal(r2d_aff4_bevy_index(t->ctx, "i", idx, 10, 1, 130, 2, 200, off, len), R2D_EFORMAT);
}

static void
put_entry(uint8_t *e, uint64_t pa, uint64_t len, uint64_t off, uint32_t target)
{
    r2d_put_le64(e, pa);
    r2d_put_le64(e + 8, len);
    r2d_put_le64(e + 16, off);
    r2d_put_le32(e + 24, target);
}

static void
map_entries_are_sorted_checked_and_composed(void **state)
{
    struct fmt_test *t = *state;
    uint8_t m[4 * R2D_AFF4_MAP_ENTRY];
    struct r2d_aff4_run *r = NULL, *c = NULL;
    size_t n = 0, nc = 0, cap = 0;

    put_entry(m, 0x100000, 0x1000, 0x9f000, 0);
    put_entry(m + 28, 0, 0x9f000, 0, 0);
    put_entry(m + 56, 0x5000000, 0, 0, 1); /* empty: dropped */
    put_entry(m + 84, 0x200000, 0x1000, 0, 1);
    assert_int_equal(r2d_aff4_map_entries(t->ctx, "m", m, sizeof(m), 0x300000, 2, &r, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(r[0].pa, 0);
    assert_int_equal(r[1].pa, 0x100000);
    assert_int_equal(r[2].stream, 1);
    /* an entry onto a map: [0x1000, 0x101000) of it covers the end of run 0, run 1 in full */
    {
        const struct r2d_aff4_run e = {.pa = 0x40000000, .len = 0x100000, .off = 0x9e000, .stream = 0};

        assert_int_equal(r2d_aff4_map_compose(t->ctx, &e, r, n, &c, &nc, &cap), 0);
        assert_int_equal(nc, 2);
        assert_int_equal(c[0].pa, 0x40000000);
        assert_int_equal(c[0].len, 0x1000);
        assert_int_equal(c[0].off, 0x9e000);
        assert_int_equal(c[1].pa, 0x40000000 + 0x62000);
        assert_int_equal(c[1].off, 0x9f000);
    }
    free(r);
    free(c);
    /* past the map's size, a target that does not exist, a wrapping target range, an overlap, a torn entry */
    assert_int_equal(r2d_aff4_map_entries(t->ctx, "m", m, sizeof(m), 0x200fff, 2, &r, &n), R2D_EFORMAT);
    assert_non_null(strstr(r2d_errmsg(t->ctx), "past the map's aff4:size"));
    assert_int_equal(r2d_aff4_map_entries(t->ctx, "m", m, sizeof(m), 0x300000, 1, &r, &n), R2D_EFORMAT);
    assert_non_null(strstr(r2d_errmsg(t->ctx), "no target"));
    put_entry(m + 56, 0x2000000, 0x1000, UINT64_MAX - 0x10, 0);
    assert_int_equal(r2d_aff4_map_entries(t->ctx, "m", m, sizeof(m), UINT64_MAX, 2, &r, &n), R2D_EFORMAT);
    put_entry(m + 56, 0x9e000, 0x2000, 0, 0);
    assert_int_equal(r2d_aff4_map_entries(t->ctx, "m", m, sizeof(m), 0x300000, 2, &r, &n), R2D_EFORMAT);
    assert_non_null(strstr(r2d_errmsg(t->ctx), "overlap"));
    assert_int_equal(r2d_aff4_map_entries(t->ctx, "m", m, sizeof(m) - 1, 0x300000, 2, &r, &n), R2D_EFORMAT);
    put_entry(m, UINT64_MAX - 0x10, 0x1000, 0, 0);
    assert_int_equal(r2d_aff4_map_entries(t->ctx, "m", m, 28, UINT64_MAX, 2, &r, &n), R2D_EFORMAT);
}

static void
codecs_decode_and_refuse(void **state)
{
    struct fmt_test *t = *state;
    uint8_t raw[4096], z[8192], out[4096];
    uLongf zl = sizeof(z);
    size_t got = 0;
    enum r2d_aff4_codec c;

    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (uint8_t)(i / 7);
    assert_int_equal(compress2(z, &zl, raw, sizeof(raw), 6), Z_OK);
    assert_int_equal(r2d_aff4_decode(t->ctx, "c", R2D_AFF4_ZLIB, z, zl, out, sizeof(out), &got), 0);
    assert_int_equal(got, sizeof(raw));
    assert_memory_equal(out, raw, sizeof(raw));
    /* the same bytes past the zlib header are raw deflate */
    assert_int_equal(r2d_aff4_decode(t->ctx, "c", R2D_AFF4_DEFLATE, z + 2, zl - 6, out, sizeof(out), &got),
                     0);
    assert_memory_equal(out, raw, sizeof(raw));
    /* more than the room given, a cut stream, garbage */
    assert_int_equal(r2d_aff4_decode(t->ctx, "c", R2D_AFF4_ZLIB, z, zl, out, 4095, &got), R2D_EFORMAT);
    assert_int_equal(r2d_aff4_decode(t->ctx, "c", R2D_AFF4_ZLIB, z, zl / 2, out, sizeof(out), &got),
                     R2D_EFORMAT);
    memset(z, 0xff, 64);
    assert_int_equal(r2d_aff4_decode(t->ctx, "c", R2D_AFF4_ZLIB, z, 64, out, sizeof(out), &got), R2D_EFORMAT);
    assert_int_equal(r2d_aff4_decode(t->ctx, "c", R2D_AFF4_STORED, z, 8192, out, sizeof(out), &got),
                     R2D_EFORMAT);
    assert_int_equal(r2d_aff4_codec_from_iri(t->ctx, "v", "https://github.com/google/snappy", &c), 0);
    assert_int_equal(c, R2D_AFF4_SNAPPY);
    assert_int_equal(r2d_aff4_codec_from_iri(t->ctx, "v", "http://aff4.org/Schema#NullCompressor", &c), 0);
    assert_int_equal(c, R2D_AFF4_STORED);
    assert_int_equal(r2d_aff4_codec_from_iri(t->ctx, "v", "https://example.org/lzma", &c), R2D_EUNSUPPORTED);
}

/* A local file header named name, with no data. */
static size_t
lfh(uint8_t *p, const char *name)
{
    memset(p, 0, 30);
    memcpy(p, "PK\3\4", 4);
    r2d_put_le16(p + 26, (uint16_t)strlen(name));
    memcpy(p + 30, name, strlen(name));
    return 30 + strlen(name);
}

static void
probe_takes_aff4_volumes_from_the_zip_container(void **state)
{
    uint8_t head[512];
    const char *why = NULL;
    size_t n;

    (void)state;
    n = lfh(head, "container.description");
    assert_int_equal(r2d_aff4_probe_head(head, n, &why), 100);
    assert_int_equal(r2d_probe_zip(head, n, 1 << 20, &why), 0);
    n = lfh(head, "memory.raw");
    assert_int_equal(r2d_aff4_probe_head(head, n, &why), 0);
    assert_int_equal(r2d_probe_zip(head, n, 1 << 20, &why), 1);
    /* a second member found past the first (no data), a bevy name, a URN cut by the head */
    n += lfh(head + n, "information.turtle");
    assert_int_equal(r2d_aff4_probe_head(head, n, &why), 100);
    n = lfh(head, "aff4%3A%2F%2Fa1b2c3d4-0000-0000-0000-000000000000/00000000");
    assert_int_equal(r2d_aff4_probe_head(head, n, &why), 50);
    assert_int_equal(r2d_aff4_probe_head(head, 48, &why), 50);
    n = lfh(head, "PhysicalMemory/data/00000000.index");
    assert_int_equal(r2d_aff4_probe_head(head, n, &why), 50);
    n = lfh(head, "PhysicalMemory/data/0000000");
    assert_int_equal(r2d_aff4_probe_head(head, n, &why), 0);
    /* a file named after a date is no bevy: the ZIP container keeps it */
    n = lfh(head, "dumps/20240101");
    assert_int_equal(r2d_aff4_probe_head(head, n, &why), 0);
    assert_int_equal(r2d_probe_zip(head, n, 1 << 20, &why), 1);
}

static const char hashes_ttl[] =
    "@prefix aff4: <http://aff4.org/Schema#> .\n"
    "@prefix afflib: <http://afflib.org/2009/aff4#> .\n"
    "<aff4://v/m> a aff4:Map ;\n"
    "  aff4:hash \"DA39A3EE5E6B4B0D3255BFEF95601890AFD80709\"^^aff4:SHA1, \"d41d8cd98f00b204e9800998ecf8427e\"^^aff4:MD5 ;\n"
    "  aff4:blockMapHash \"00ff\"^^aff4:Whirlpool ;\n"
    "  afflib:mapIdxHash \"abcd\"^^afflib:SHA1x ;\n"
    "  aff4:size 4096 .\n"
    "<aff4://v/s> aff4:hash \"0123\" .\n";

static int
hashes_of(struct fmt_test *t, const char *text, const char *urn, struct r2d_aff4_hash *h, size_t cap, size_t *n)
{
    struct r2d_aff4_graph g = {0};
    int rc = r2d_aff4_turtle_parse(t->ctx, "t", text, strlen(text), &g);

    if (!rc)
        rc = r2d_aff4_hashes(t->ctx, "t", &g, urn, h, cap, n);
    r2d_aff4_graph_free(&g);
    return rc;
}

/* aff4:hash and the block-hashing statements: read with their algorithm, checked, bounded. */
static void
hashes_are_read_strictly(void **state)
{
    struct fmt_test *t = *state;
    struct r2d_aff4_hash h[4];
    size_t n = 0;
    char text[1024];

    assert_int_equal(hashes_of(t, hashes_ttl, "aff4://v/m", h, 4, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(h[0].pred, "aff4:hash");
    assert_string_equal(h[0].alg, "sha1");
    assert_string_equal(h[0].hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709"); /* lowercased */
    assert_true(h[0].known && h[0].cover == R2D_AFF4_HASH_LINEAR);
    assert_string_equal(h[1].alg, "md5");
    assert_string_equal(h[2].pred, "aff4:blockMapHash");
    assert_string_equal(h[2].alg, "whirlpool"); /* unknown: kept by name, not computed */
    assert_true(!h[2].known && h[2].cover == R2D_AFF4_HASH_BLOCKS);
    assert_string_equal(h[3].pred, "afflib:mapIdxHash");
    assert_true(!h[3].known && h[3].cover == R2D_AFF4_HASH_MEMBERS);
    assert_int_equal(hashes_of(t, hashes_ttl, "aff4://v/s", h, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(h[0].alg, "untyped");
    assert_int_equal(hashes_of(t, hashes_ttl, "aff4://v/none", h, 4, &n), 0);
    assert_int_equal(n, 0);
    /* more than the caller's room */
    assert_int_equal(hashes_of(t, hashes_ttl, "aff4://v/m", h, 3, &n), R2D_EUNSUPPORTED);
    assert_non_null(strstr(r2d_errmsg(t->ctx), "more than 3 hashes"));
    /* a value of the wrong length for its algorithm, not hex, empty, odd, an IRI: errors naming it */
    static const char *const bad[][2] = {
        {"\"abcd\"^^aff4:SHA1", "has 4 hex digits, not 40"},
        {"\"da39a3ee5e6b4b0d3255bfef95601890afd8070g\"^^aff4:SHA1", "is not a hex digest"},
        {"\"\"^^aff4:MD5", "has 0 hex digits"},
        {"\"abc\"", "has 3 hex digits"},
        {"<aff4://x>", "is an IRI"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "@prefix aff4: <http://aff4.org/Schema#> .\n<aff4://v/m> aff4:hash %s .\n",
                 bad[i][0]);
        assert_int_equal(hashes_of(t, text, "aff4://v/m", h, 4, &n), R2D_EFORMAT);
        assert_non_null(strstr(r2d_errmsg(t->ctx), bad[i][1]));
        assert_non_null(strstr(r2d_errmsg(t->ctx), "<aff4://v/m> aff4:hash"));
    }
    /* a digest longer than any algorithm's */
    snprintf(text, sizeof(text), "<aff4://v/m> <http://aff4.org/Schema#hash> \"%0130d\" .\n", 0);
    assert_int_equal(hashes_of(t, text, "aff4://v/m", h, 4, &n), R2D_EFORMAT);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fmt_test_setup, fmt_test_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(turtle_reads_what_writers_write),
        T(turtle_refuses_what_it_does_not_read),
        T(turtle_bounds_terms_nul_bytes_and_prefixes),
        T(turtle_truncations_and_flips_never_crash),
        T(bevy_index_standard_form),
        T(bevy_index_pre_standard_forms),
        T(map_entries_are_sorted_checked_and_composed),
        T(codecs_decode_and_refuse),
        T(probe_takes_aff4_volumes_from_the_zip_container),
        T(hashes_are_read_strictly),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
