/* SPDX-License-Identifier: MIT */
/*
 * The ISF symbol provider on the real JPCERT tables in tests/data/isf, plus hostile and broken tables, GUID
 * formatting and the identity check. Usage: test_isf_tables PLAIN_JSON_DIR (the tables decompressed by xz at
 * build time: the independent truth for the all-symbols cross-check).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "raw2dmp/ctx.h"
#include "symbols.h"

static const char *plain_dir;

struct known_table {
    const char *guid;
    uint64_t kdbg, encoded, wait_never, wait_always, processor_block;
    uint64_t kprcb_size, kprcb_context, kprcb_state, kprcb_context_frame;
    uint64_t eprocess_size;
};

/* Values read out of the JSON with python3's json module (see the report), not through our code. */
static const struct known_table known[] = {
    {"606FF669409B00F7FC8C61A9C1670129", 0xC00B20, 0xC50D00, 0xCFC808, 0xCFCA10, 0xCFDCC0, 0xAF00, 0x85C0,
     0x100, 0x1F0, 0xA40},
    {"0CE4A95C0CD782A7596B034D8648E585", 0xC02190, 0xD01968, 0xD06CC8, 0xD06E28, 0xD088C0, 0xBF00, 0x89C0,
     0x100, 0x1F0, 0xB80},
    {"1D4090613BF97F9B9529992E20E93897", 0x3FDA80, 0x43B710, 0x540648, 0x540850, 0x541D40, 0x7EC0, 0x62C0,
     0x100, 0x1F0, 0x858},
    {"339E74133576439CBCDF7E0229DA3773", 0x1E2130, 0x1FFD1B, 0x29D130, 0x29D218, 0x29DCC0, 0x6F00, 0x53E0,
     0x40, 0x120, 0x4F8},
};

static void
isf_path(char *buf, size_t len, const char *guid)
{
    snprintf(buf, len, "%s/tests/data/isf/%s-1.json.xz", getenv("R2D_SOURCE_ROOT"), guid);
}

static int
setup_ctx(void **state)
{
    struct r2d_ctx *ctx = r2d_ctx_new();

    assert_non_null(ctx);
    *state = ctx;
    return 0;
}

static int
teardown_ctx(void **state)
{
    r2d_ctx_free(*state);
    return 0;
}

static uint64_t
rva(struct r2d_ctx *ctx, const struct r2d_symbols *s, const char *name)
{
    uint64_t v = 0;

    assert_int_equal(r2d_symbols_rva(ctx, s, name, &v), 0);
    return v;
}

static uint64_t
field(struct r2d_ctx *ctx, const struct r2d_symbols *s, const char *type, const char *path)
{
    uint64_t v = 0;

    assert_int_equal(r2d_symbols_field_offset(ctx, s, type, path, &v), 0);
    return v;
}

static uint64_t
tsize(struct r2d_ctx *ctx, const struct r2d_symbols *s, const char *type)
{
    uint64_t v = 0;

    assert_int_equal(r2d_symbols_type_size(ctx, s, type, &v), 0);
    return v;
}

static void
real_tables_give_the_known_values(void **state)
{
    struct r2d_ctx *ctx = *state;

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        const struct known_table *k = &known[i];
        struct r2d_symbols *s = NULL;
        char path[4096];
        char key[R2D_GUID_HEX_LEN + 9];

        isf_path(path, sizeof(path), k->guid);
        assert_int_equal(r2d_isf_open(ctx, path, &s), 0);
        assert_string_equal(s->ops->kind, "isf");
        assert_string_equal(s->origin, path);
        /* GUID and age from metadata equal the file name <GUID>-<age>. */
        r2d_pdb_id_key(&s->id, key);
        assert_memory_equal(key, k->guid, 32);
        assert_string_equal(key + 32, "1");
        assert_string_equal(s->id.name, "ntkrnlmp.pdb");
        assert_int_equal(rva(ctx, s, "KdDebuggerDataBlock"), k->kdbg);
        assert_int_equal(rva(ctx, s, "KdpDataBlockEncoded"), k->encoded);
        assert_int_equal(rva(ctx, s, "KiWaitNever"), k->wait_never);
        assert_int_equal(rva(ctx, s, "KiWaitAlways"), k->wait_always);
        assert_int_equal(rva(ctx, s, "KiProcessorBlock"), k->processor_block);
        assert_int_equal(tsize(ctx, s, "_KPRCB"), k->kprcb_size);
        assert_int_equal(field(ctx, s, "_KPRCB", "Context"), k->kprcb_context);
        assert_int_equal(field(ctx, s, "_KPRCB", "ProcessorState"), k->kprcb_state);
        assert_int_equal(field(ctx, s, "_KPRCB", "ProcessorState.ContextFrame"), k->kprcb_context_frame);
        assert_int_equal(field(ctx, s, "_KPCR", "Prcb"), 0x180);
        assert_int_equal(field(ctx, s, "_KPROCESS", "DirectoryTableBase"), 0x28);
        assert_int_equal(field(ctx, s, "_EPROCESS", "Pcb.DirectoryTableBase"), 0x28);
        assert_int_equal(tsize(ctx, s, "_EPROCESS"), k->eprocess_size);
        r2d_symbols_free(s);
    }
}

/* Every symbol, type size and field offset of every table, against jansson reading the plain JSON itself. */
static void
every_entry_matches_the_json(void **state)
{
    struct r2d_ctx *ctx = *state;

    if (!plain_dir)
        skip();
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        char path[4096];
        json_error_t jerr;
        json_t *root;
        struct r2d_symbols *s = NULL;
        const char *name;
        json_t *v;
        size_t nfields = 0;

        /* The plain .json (decompressed at build time) goes through r2d_isf_open's non-xz path. */
        snprintf(path, sizeof(path), "%s/%s-1.json", plain_dir, known[i].guid);
        root = json_load_file(path, 0, &jerr);
        assert_non_null(root);
        assert_int_equal(r2d_isf_open(ctx, path, &s), 0);
        json_object_foreach(json_object_get(root, "symbols"), name, v)
            assert_int_equal(rva(ctx, s, name), json_integer_value(json_object_get(v, "address")));
        json_object_foreach(json_object_get(root, "user_types"), name, v)
        {
            const char *fname;
            json_t *f;

            assert_int_equal(tsize(ctx, s, name), json_integer_value(json_object_get(v, "size")));
            json_object_foreach(json_object_get(v, "fields"), fname, f)
            {
                assert_int_equal(field(ctx, s, name, fname),
                                 json_integer_value(json_object_get(f, "offset")));
                nfields++;
            }
        }
        assert_true(nfields > 7000); /* 7,534 in the 7601 table, 15,734 in 22000 */
        if (i == 0) {
            assert_int_equal(json_object_size(json_object_get(root, "symbols")), 40086);
            assert_int_equal(json_object_size(json_object_get(root, "user_types")), 1653);
        }
        r2d_symbols_free(s);
        json_decref(root);
    }
}

static void
missing_names_are_clean_errors(void **state)
{
    struct r2d_ctx *ctx = *state;
    struct r2d_symbols *s = NULL;
    char path[4096];
    uint64_t v;

    isf_path(path, sizeof(path), known[0].guid);
    assert_int_equal(r2d_isf_open(ctx, path, &s), 0);
    assert_int_equal(r2d_symbols_rva(ctx, s, "NoSuchSymbol", &v), R2D_ENOTFOUND);
    assert_non_null(strstr(r2d_errmsg(ctx), "NoSuchSymbol"));
    assert_non_null(strstr(r2d_errmsg(ctx), path));
    assert_int_equal(r2d_symbols_type_size(ctx, s, "_NO_TYPE", &v), R2D_ENOTFOUND);
    assert_non_null(strstr(r2d_errmsg(ctx), "_NO_TYPE"));
    assert_non_null(strstr(r2d_errmsg(ctx), path));
    assert_int_equal(r2d_symbols_field_offset(ctx, s, "_KPRCB", "ProcessorState.Nope", &v), R2D_ENOTFOUND);
    assert_non_null(strstr(r2d_errmsg(ctx), "_KPRCB.ProcessorState.Nope"));
    assert_non_null(strstr(r2d_errmsg(ctx), path));
    /* Context is a pointer: a path cannot descend through it. */
    assert_int_equal(r2d_symbols_field_offset(ctx, s, "_KPRCB", "Context.Rip", &v), R2D_ENOTFOUND);
    assert_non_null(strstr(r2d_errmsg(ctx), "pointer"));
    assert_int_equal(r2d_symbols_field_offset(ctx, s, "_KPRCB", "ProcessorState..ContextFrame", &v),
                     R2D_ENOTFOUND);
    assert_int_equal(r2d_symbols_field_offset(ctx, s, "_KPRCB", "", &v), R2D_ENOTFOUND);
    r2d_symbols_free(s);
}

/* Write len bytes to a fresh file in a temporary directory; returns its malloc'd path. */
static char *
write_temp(const char *name, const void *data, size_t len)
{
    char tmpl[] = "/tmp/r2d-isf-XXXXXX";
    char *dir = mkdtemp(tmpl);
    char *path;
    FILE *f;

    assert_non_null(dir);
    path = malloc(strlen(dir) + strlen(name) + 2);
    assert_non_null(path);
    sprintf(path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

static void
remove_temp(char *path)
{
    char *slash = strrchr(path, '/');

    unlink(path);
    *slash = 0;
    rmdir(path);
    free(path);
}

static void
expect_open_error(struct r2d_ctx *ctx, const char *name, const char *text, int code, const char *needle)
{
    char *path = write_temp(name, text, strlen(text));
    struct r2d_symbols *s = (struct r2d_symbols *)1;

    assert_int_equal(r2d_isf_open(ctx, path, &s), code);
    assert_null(s);
    assert_non_null(strstr(r2d_errmsg(ctx), path));
    if (needle && !strstr(r2d_errmsg(ctx), needle))
        fail_msg("message '%s' lacks '%s'", r2d_errmsg(ctx), needle);
    remove_temp(path);
}

static void
broken_tables_are_refused(void **state)
{
    struct r2d_ctx *ctx = *state;

    expect_open_error(ctx, "corrupt.json", "{\"symbols\": {\"a\": {\"address\": 1}},\n \"user_types\": {,}}",
                      R2D_EFORMAT, "line 2, column");
    expect_open_error(ctx, "nosyms.json", "{\"user_types\": {}}", R2D_EFORMAT, "symbols");
    expect_open_error(ctx, "emptysyms.json", "{\"symbols\": {}, \"user_types\": {}}", R2D_EFORMAT, "symbols");
    expect_open_error(ctx, "notypes.json", "{\"symbols\": {\"a\": {\"address\": 1}}}", R2D_EFORMAT,
                      "user_types");
    expect_open_error(ctx, "array.json", "[1, 2]", R2D_EFORMAT, "not an object");
    expect_open_error(ctx, "empty.json", "", R2D_EFORMAT, NULL);
    expect_open_error(ctx, "badguid.json",
                      "{\"metadata\": {\"windows\": {\"pdb\": {\"GUID\": \"XYZ\", \"age\": 1}}},"
                      "\"symbols\": {\"a\": {\"address\": 1}}, \"user_types\": {}}",
                      R2D_EFORMAT, "GUID");
    expect_open_error(
        ctx, "badage.json",
        "{\"metadata\": {\"windows\": {\"pdb\": {\"GUID\": \"606FF669409B00F7FC8C61A9C1670129\", "
        "\"age\": -1}}}, \"symbols\": {\"a\": {\"address\": 1}}, \"user_types\": {}}",
        R2D_EFORMAT, "age");
    expect_open_error(ctx, "junk.json.xz", "\xFD\x37\x7A\x58\x5A\x00 this is no xz stream at all",
                      R2D_EFORMAT, NULL);
}

static void
truncated_xz_is_refused(void **state)
{
    struct r2d_ctx *ctx = *state;
    char src[4096];
    FILE *f;
    char *buf;
    long len;
    char *path;
    struct r2d_symbols *s = NULL;

    isf_path(src, sizeof(src), known[0].guid);
    f = fopen(src, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    buf = malloc((size_t)len);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    path = write_temp("cut.json.xz", buf, (size_t)len / 2);
    assert_int_equal(r2d_isf_open(ctx, path, &s), R2D_ETRUNC);
    assert_null(s);
    assert_non_null(strstr(r2d_errmsg(ctx), path));
    assert_non_null(strstr(r2d_errmsg(ctx), "truncated"));
    remove_temp(path);
    /* A flipped byte in the middle: the xz CRC catches it. */
    buf[len / 2] ^= 0x55;
    path = write_temp("flipped.json.xz", buf, (size_t)len);
    assert_int_equal(r2d_isf_open(ctx, path, &s), R2D_EFORMAT);
    assert_non_null(strstr(r2d_errmsg(ctx), path));
    remove_temp(path);
    free(buf);
    assert_int_equal(r2d_isf_open(ctx, "/nonexistent/x.json", &s), R2D_EIO);
    assert_non_null(strstr(r2d_errmsg(ctx), "/nonexistent/x.json"));
}

static void
table_without_metadata_needs_force(void **state)
{
    struct r2d_ctx *ctx = *state;
    const char *text = "{\"symbols\": {\"KdDebuggerDataBlock\": {\"address\": 4096}},"
                       " \"user_types\": {\"_A\": {\"kind\": \"struct\", \"size\": 16, \"fields\": {"
                       "\"b\": {\"offset\": 8, \"type\": {\"kind\": \"struct\", \"name\": \"_B\"}}}},"
                       "\"_B\": {\"kind\": \"union\", \"size\": 8, \"fields\": {"
                       "\"c\": {\"offset\": 4, \"type\": {\"kind\": \"base\", \"name\": \"int\"}}}}}}";
    char *path = write_temp("nometa.json", text, strlen(text));
    struct r2d_symbols *s = NULL;
    struct r2d_pdb_id want = {.age = 1};
    uint64_t v = 0;

    assert_int_equal(r2d_guid_parse("606FF669409B00F7FC8C61A9C1670129", want.guid), 0);
    assert_int_equal(r2d_isf_open(ctx, path, &s), 0);
    assert_int_equal(rva(ctx, s, "KdDebuggerDataBlock"), 4096);
    assert_int_equal(field(ctx, s, "_A", "b.c"), 12);
    assert_int_equal(tsize(ctx, s, "_B"), 8);
    assert_int_equal(r2d_symbols_field_offset(ctx, s, "_A", "b.c.d", &v), R2D_ENOTFOUND);
    assert_int_equal(r2d_symbols_match(ctx, s, &want, 0), R2D_EMISMATCH);
    assert_non_null(strstr(r2d_errmsg(ctx), "no GUID/age"));
    assert_non_null(strstr(r2d_errmsg(ctx), "force"));
    assert_non_null(strstr(r2d_errmsg(ctx), "606FF669409B00F7FC8C61A9C16701291"));
    assert_int_equal(r2d_symbols_match(ctx, s, &want, 1), 0);
    r2d_symbols_free(s);
    remove_temp(path);
}

static void
mismatch_names_both_ids(void **state)
{
    struct r2d_ctx *ctx = *state;
    struct r2d_symbols *s = NULL;
    struct r2d_pdb_id want = {0};
    char path[4096];

    isf_path(path, sizeof(path), known[0].guid);
    assert_int_equal(r2d_isf_open(ctx, path, &s), 0);
    want = s->id;
    assert_int_equal(r2d_symbols_match(ctx, s, &want, 0), 0);
    want.age = 2;
    assert_int_equal(r2d_symbols_match(ctx, s, &want, 0), R2D_EMISMATCH);
    assert_non_null(strstr(r2d_errmsg(ctx), "606FF669409B00F7FC8C61A9C16701291, the kernel wants "
                                            "606FF669409B00F7FC8C61A9C16701292"));
    assert_non_null(strstr(r2d_errmsg(ctx), path));
    assert_int_equal(r2d_symbols_match(ctx, s, &want, 1), 0);
    want.age = 1;
    want.guid[15] ^= 1;
    assert_int_equal(r2d_symbols_match(ctx, s, &want, 0), R2D_EMISMATCH);
    r2d_symbols_free(s);
    r2d_symbols_free(NULL);
}

static void
guid_round_trips(void **state)
{
    /* RSDS bytes of 606FF669-409B-00F7-FC8C-61A9C1670129: the first three fields little-endian. */
    static const uint8_t raw[16] = {0x69, 0xF6, 0x6F, 0x60, 0x9B, 0x40, 0xF7, 0x00,
                                    0xFC, 0x8C, 0x61, 0xA9, 0xC1, 0x67, 0x01, 0x29};
    static const char *same[] = {"606FF669409B00F7FC8C61A9C1670129", "606ff669409b00f7fc8c61a9c1670129",
                                 "606FF669-409B-00F7-FC8C-61A9C1670129",
                                 "{606FF669-409B-00F7-FC8C-61A9C1670129}",
                                 "{606ff669409b00f7fc8c61a9c1670129}"};
    static const char *bad[] = {"",
                                "606FF669409B00F7FC8C61A9C167012",
                                "606FF669409B00F7FC8C61A9C16701290",
                                "606FF669409B00F7FC8C61A9C167012G",
                                "{606FF669409B00F7FC8C61A9C1670129",
                                "606FF669409B00F7FC8C61A9C1670129}",
                                " 606FF669409B00F7FC8C61A9C1670129",
                                "0x606FF669409B00F7FC8C61A9C16701",
                                "606FF669409B00F7FC8C61A9C1670129\n"};
    char out[R2D_GUID_HEX_LEN + 1];
    uint8_t g[16];

    r2d_guid_format(raw, out);
    assert_string_equal(out, "606FF669409B00F7FC8C61A9C1670129");
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        memset(g, 0xEE, sizeof(g));
        assert_int_equal(r2d_guid_parse(same[i], g), 0);
        assert_memory_equal(g, raw, 16);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (r2d_guid_parse(bad[i], g) == 0)
            fail_msg("'%s' parsed as a GUID", bad[i]);
    assert_int_equal(r2d_guid_parse(NULL, g), R2D_EINVAL);
    /* Every byte value survives format -> parse. */
    for (int v = 0; v < 256; v++) {
        uint8_t a[16];
        uint8_t b[16];

        for (int i = 0; i < 16; i++)
            a[i] = (uint8_t)(v + 17 * i);
        r2d_guid_format(a, out);
        assert_int_equal(strlen(out), 32);
        assert_int_equal(r2d_guid_parse(out, b), 0);
        assert_memory_equal(a, b, 16);
    }
}

static void
key_prints_age_in_hex_without_overflow(void **state)
{
    struct r2d_pdb_id id = {0};
    /* One spare byte past the key buffer: a canary that an off-by-one write (elf2dmp's bug) would change. */
    struct {
        char key[R2D_GUID_HEX_LEN + 9];
        char canary;
    } k;
    static const struct {
        uint32_t age;
        const char *suffix;
    } cases[] = {{0, "0"},     {1, "1"},     {0xA, "A"},           {0xF, "F"},
                 {0x10, "10"}, {0x1F, "1F"}, {0xABCDEF, "ABCDEF"}, {0xFFFFFFFF, "FFFFFFFF"}};

    assert_int_equal(r2d_guid_parse("606FF669409B00F7FC8C61A9C1670129", id.guid), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&k, 'Z', sizeof(k));
        id.age = cases[i].age;
        r2d_pdb_id_key(&id, k.key);
        assert_memory_equal(k.key, "606FF669409B00F7FC8C61A9C1670129", 32);
        assert_string_equal(k.key + 32, cases[i].suffix);
        assert_int_equal(k.canary, 'Z');
    }
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(real_tables_give_the_known_values, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(every_entry_matches_the_json, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(missing_names_are_clean_errors, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(broken_tables_are_refused, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(truncated_xz_is_refused, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(table_without_metadata_needs_force, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(mismatch_names_both_ids, setup_ctx, teardown_ctx),
        cmocka_unit_test(guid_round_trips),
        cmocka_unit_test(key_prints_age_in_hex_without_overflow),
    };

    plain_dir = argc > 1 ? argv[1] : NULL;
    if (!getenv("R2D_SOURCE_ROOT")) {
        fprintf(stderr, "R2D_SOURCE_ROOT is not set\n");
        return 99;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
