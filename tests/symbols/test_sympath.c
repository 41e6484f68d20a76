/* SPDX-License-Identifier: MIT */
/* Symbol path parsing, the default path, PDB name safety and offline searches that find nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "raw2dmp/ctx.h"
#include "symbols.h"
#include "symstore.h"

#define DEF "/xdg/raw2dmp/symbols" /* the default cache with XDG_CACHE_HOME=/xdg */

static int
setup_ctx(void **state)
{
    struct r2d_ctx *ctx = r2d_ctx_new();

    assert_non_null(ctx);
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    setenv("HOME", "/home/u", 1);
    *state = ctx;
    return 0;
}

static int
teardown_ctx(void **state)
{
    r2d_ctx_free(*state);
    return 0;
}

static const struct {
    const char *in;
    int offline;
    const char *out; /* normalised form */
} good_paths[] = {
    {"srv*/a*https://x", 0, "srv*/a*https://x"},
    {"srv*https://x/", 0, "srv*" DEF "*https://x"},
    {"srv**https://x", 0, "srv*" DEF "*https://x"},
    {"SRV*/a*/b*https://x*https://y/sym//", 0, "srv*/a*/b*https://x*https://y/sym"},
    {"symsrv*symsrv.dll*/a*https://x", 0, "srv*/a*https://x"},
    {"SymSrv*SYMSRV.DLL**https://x", 0, "srv*" DEF "*https://x"},
    {"cache*/c;srv*https://x", 0, "cache*/c;srv*" DEF "*https://x"},
    {"cache*", 0, "cache*" DEF},
    {"CACHE*/c", 0, "cache*/c"},
    {"/plain/dir", 0, "/plain/dir"},
    {"C:\\Symbols;D:\\x y\\z", 0, "C:\\Symbols;D:\\x y\\z"},
    {" /a ; ;\t/b \n", 0, "/a;/b"},
    {"", 0, ""},
    {";;", 0, ""},
    {"https://x", 0, "srv*" DEF "*https://x"},
    {"srv*/a*HTTPS://X.example/s", 0, "srv*/a*HTTPS://X.example/s"},
    {"srv*", 0, "srv*" DEF},
    {"srv*/a", 0, "srv*/a"},
    {"srv*https://x*/b", 0, "srv*https://x*/b"},
    {"/d;srv*/a*https://x;cache*/c;srv*https://y", 0, "/d;srv*/a*https://x;cache*/c;srv*" DEF "*https://y"},
    /* offline drops every URL but keeps the stores, the default one included */
    {"srv*/a*https://x", 1, "srv*/a"},
    {"srv*https://x", 1, "srv*" DEF},
    {"srv**https://x", 1, "srv*" DEF},
    {"cache*/c;srv*/a*https://x*/b;/d", 1, "cache*/c;srv*/a*/b;/d"},
    {"https://x", 1, "srv*" DEF},
};

static void
symbol_paths_parse_to_their_entries(void **state)
{
    struct r2d_ctx *ctx = *state;

    for (size_t i = 0; i < sizeof(good_paths) / sizeof(good_paths[0]); i++) {
        struct r2d_sympath *sp = NULL;
        char buf[1024];

        if (r2d_sympath_parse(ctx, good_paths[i].in, good_paths[i].offline, &sp) != 0)
            fail_msg("'%s': %s", good_paths[i].in, r2d_errmsg(ctx));
        r2d_sympath_format(sp, buf, sizeof(buf));
        if (strcmp(buf, good_paths[i].out) != 0)
            fail_msg("'%s' (offline %d): got '%s', want '%s'", good_paths[i].in, good_paths[i].offline, buf,
                     good_paths[i].out);
        r2d_sympath_free(sp);
    }
    r2d_sympath_free(NULL);
}

static void
the_downstream_store_is_the_leftmost_directory(void **state)
{
    struct r2d_ctx *ctx = *state;
    struct r2d_sympath *sp = NULL;

    assert_int_equal(
        r2d_sympath_parse(ctx, "srv*/a*/b*https://x;srv*https://y;srv*https://z*/c;srv**https://w", 0, &sp),
        0);
    assert_int_equal(sp->n, 4);
    assert_int_equal(sp->entries[0].kind, R2D_SYMPATH_SRV);
    assert_string_equal(sp->entries[0].elems[sp->entries[0].downstream].where, "/a");
    assert_false(sp->entries[0].default_store);
    assert_true(sp->entries[0].elems[2].is_url);
    assert_false(sp->entries[0].elems[1].is_url);
    assert_string_equal(sp->entries[1].elems[sp->entries[1].downstream].where, DEF);
    assert_true(sp->entries[1].default_store);
    assert_string_equal(sp->entries[2].elems[sp->entries[2].downstream].where, "/c");
    assert_false(sp->entries[2].default_store);
    assert_string_equal(sp->entries[3].elems[sp->entries[3].downstream].where, DEF);
    assert_true(sp->entries[3].default_store);
    r2d_sympath_free(sp);
}

static void
bad_symbol_paths_are_refused(void **state)
{
    static const struct {
        const char *in;
        const char *needle;
    } bad[] = {
        {"foo*/a", "unknown 'foo*'"},
        {"cache*/a*/b", "one directory"},
        {"srv*/a*ftp://x", "only http:// and https://"},
        {"symsrv*symsrv.dll", "symsrv*symsrv.dll*"},
        {"/ok;srv*/a*file:///etc", "only http:// and https://"},
    };
    struct r2d_ctx *ctx = *state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct r2d_sympath *sp = (struct r2d_sympath *)1;

        assert_int_equal(r2d_sympath_parse(ctx, bad[i].in, 0, &sp), R2D_EINVAL);
        assert_null(sp);
        if (!strstr(r2d_errmsg(ctx), bad[i].needle))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].in, r2d_errmsg(ctx), bad[i].needle);
    }
}

static void
default_cache_follows_xdg_then_home(void **state)
{
    struct r2d_ctx *ctx = *state;
    struct r2d_sympath *sp = (struct r2d_sympath *)1;
    char buf[256];
    char tiny[8];

    assert_string_equal(r2d_symstore_default_path(buf, sizeof(buf)),
                        "srv*" DEF "*https://msdl.microsoft.com/download/symbols");
    assert_null(r2d_symstore_default_path(tiny, sizeof(tiny)));
    setenv("XDG_CACHE_HOME", "relative/ignored", 1);
    assert_string_equal(r2d_symstore_default_cache(buf, sizeof(buf)), "/home/u/.cache/raw2dmp/symbols");
    unsetenv("XDG_CACHE_HOME");
    assert_string_equal(r2d_symstore_default_cache(buf, sizeof(buf)), "/home/u/.cache/raw2dmp/symbols");
    unsetenv("HOME");
    assert_null(r2d_symstore_default_cache(buf, sizeof(buf)));
    assert_null(r2d_symstore_default_path(buf, sizeof(buf)));
    assert_int_equal(r2d_sympath_parse(ctx, "srv*https://x", 0, &sp), R2D_EINVAL);
    assert_non_null(strstr(r2d_errmsg(ctx), "neither XDG_CACHE_HOME nor HOME"));
    /* A path that names its own store needs no default. */
    assert_int_equal(r2d_sympath_parse(ctx, "srv*/a*https://x", 0, &sp), 0);
    r2d_sympath_free(sp);
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    setenv("HOME", "/home/u", 1);
}

static void
hostile_pdb_names_are_refused(void **state)
{
    static const struct {
        const char *name;
        const char *why;
    } bad[] = {
        {"../x.pdb", "'..'"},
        {"/abs.pdb", "'/'"},
        {"a\\b.pdb", "'\\'"},
        {"", "empty"},
        {"..", "'..'"},
        {".", "'..'"},
        {"a/../../etc/passwd", "'..'"},
        {"x\x01.pdb", "control"},
        {"x\n.pdb", "control"},
        {"x\x7f.pdb", "control"},
        {"sub/ntkrnlmp.pdb", "'/'"},
    };
    struct r2d_ctx *ctx = *state;
    char name[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(name, 0, sizeof(name));
        strcpy(name, bad[i].name);
        assert_int_equal(r2d_symstore_check_name(ctx, name), R2D_EINVAL);
        if (!strstr(r2d_errmsg(ctx), bad[i].why))
            fail_msg("name '%s': message '%s' lacks '%s'", bad[i].name, r2d_errmsg(ctx), bad[i].why);
        assert_non_null(strstr(r2d_errmsg(ctx), "unsafe"));
    }
    /* 256 bytes without a NUL: a 300-character name cut to the field. */
    memset(name, 'a', sizeof(name));
    assert_int_equal(r2d_symstore_check_name(ctx, name), R2D_EINVAL);
    assert_non_null(strstr(r2d_errmsg(ctx), "longer than 255"));
    /* 255 bytes is the longest acceptable. */
    name[255] = 0;
    assert_int_equal(r2d_symstore_check_name(ctx, name), 0);
    strcpy(name, "ntkrnlmp.pdb");
    assert_int_equal(r2d_symstore_check_name(ctx, name), 0);
    strcpy(name, "ntkrla57.pdb");
    assert_int_equal(r2d_symstore_check_name(ctx, name), 0);
}

static void
a_search_with_a_hostile_name_touches_nothing(void **state)
{
    struct r2d_ctx *ctx = *state;
    struct r2d_pdb_id id = {.age = 1};
    char tmpl[] = "/tmp/r2d-sympath-XXXXXX";
    char *dir = mkdtemp(tmpl);
    char sympath[256];
    char *path = (char *)1;
    char *origin = (char *)1;
    struct stat st;

    assert_non_null(dir);
    snprintf(sympath, sizeof(sympath), "srv*%s/store*http://127.0.0.1:9/", dir);
    strcpy(id.name, "../../evil.pdb");
    assert_int_equal(r2d_symstore_find(ctx, sympath, 0, &id, &path, &origin), R2D_EINVAL);
    assert_null(path);
    assert_null(origin);
    assert_non_null(strstr(r2d_errmsg(ctx), "unsafe"));
    snprintf(sympath, sizeof(sympath), "%s/store", dir);
    assert_int_equal(stat(sympath, &st), -1); /* nothing created */
    assert_int_equal(rmdir(dir), 0);
}

static void
an_offline_search_that_finds_nothing_says_where_it_looked(void **state)
{
    struct r2d_ctx *ctx = *state;
    struct r2d_pdb_id id = {.age = 0x10};
    char tmpl[] = "/tmp/r2d-sympath-XXXXXX";
    char *dir = mkdtemp(tmpl);
    char sympath[512];
    char *path = NULL;
    char *origin = NULL;

    assert_non_null(dir);
    assert_int_equal(r2d_guid_parse("606FF669409B00F7FC8C61A9C1670129", id.guid), 0);
    strcpy(id.name, "ntkrnlmp.pdb");
    snprintf(sympath, sizeof(sympath), "cache*%s/c;srv*%s/s*https://msdl.microsoft.com/download/symbols;%s/d",
             dir, dir, dir);
    assert_int_equal(r2d_symstore_find(ctx, sympath, 1, &id, &path, &origin), R2D_ENOTFOUND);
    assert_null(path);
    assert_non_null(strstr(r2d_errmsg(ctx), "ntkrnlmp.pdb"));
    assert_non_null(strstr(r2d_errmsg(ctx), "606FF669409B00F7FC8C61A9C167012910"));
    assert_non_null(strstr(r2d_errmsg(ctx), "/c (not there)"));
    assert_non_null(strstr(r2d_errmsg(ctx), "/s (not there)"));
    assert_non_null(strstr(r2d_errmsg(ctx), "/d (not there)"));
    assert_null(strstr(r2d_errmsg(ctx), "msdl"));
    assert_non_null(strstr(r2d_errmsg(ctx), "--pdb"));
    assert_non_null(strstr(r2d_errmsg(ctx), "--symbols"));
    assert_non_null(strstr(r2d_errmsg(ctx), "offline"));
    assert_int_equal(r2d_symstore_find(ctx, "", 1, &id, &path, &origin), R2D_ENOTFOUND);
    assert_non_null(strstr(r2d_errmsg(ctx), "empty symbol path"));
    assert_int_equal(rmdir(dir), 0); /* an offline search creates nothing */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(symbol_paths_parse_to_their_entries, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(the_downstream_store_is_the_leftmost_directory, setup_ctx,
                                        teardown_ctx),
        cmocka_unit_test_setup_teardown(bad_symbol_paths_are_refused, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(default_cache_follows_xdg_then_home, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(hostile_pdb_names_are_refused, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(a_search_with_a_hostile_name_touches_nothing, setup_ctx,
                                        teardown_ctx),
        cmocka_unit_test_setup_teardown(an_offline_search_that_finds_nothing_says_where_it_looked, setup_ctx,
                                        teardown_ctx),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
