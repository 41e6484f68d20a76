/* SPDX-License-Identifier: MIT */
/*
 * The ISF provider on Volatility-format tables of real 32-bit kernels (tests/data/isf32, facts from its
 * README): machine 0x14c from metadata.windows.pdb.machine_type (XP) or from 4-byte pointers (7, 10), the
 * x86 _KPCR/_KPRCB/_EPROCESS offsets, XP's symbol RVAs; and a 64-bit table saying 0x8664. The 7 and 10
 * tables are layouts only, which the provider refuses as kernel symbols (no 'symbols'): the test gives
 * them one symbol in memory (r2d_isf_open_buffer) so their types can be read.
 *
 * Usage: test_isf32 XP.json WIN7.json WIN10.json X64.json (decompressed by meson with xz)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "symbols.h"

static const char *paths[4];

struct expect {
    uint64_t state, context, pid, links, name;
};

static const struct expect want[3] = {
    {0x1c, 0, 0x84, 0x88, 0x174},        /* XP SP2: no _KPRCB.Context */
    {0x18, 0x3618, 0xb4, 0xb8, 0x16c},   /* 7 SP1 */
    {0x18, 0x4168, 0xe4, 0xe8, 0x1ac},   /* 10 19041 */
};

static uint64_t
off(struct r2d_ctx *ctx, struct r2d_symbols *s, const char *type, const char *path)
{
    uint64_t v = UINT64_MAX;

    assert_int_equal(r2d_symbols_field_offset(ctx, s, type, path, &v), 0);
    return v;
}

/* Open a table; a layout-only one gets a single symbol first, since the provider wants some. */
static void
open_table(struct r2d_ctx *ctx, const char *path, struct r2d_symbols **s)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    char *text;

    assert_non_null(root);
    if (json_object_size(json_object_get(root, "symbols")) == 0)
        json_object_set_new(root, "symbols", json_pack("{s{si}}", "KdDebuggerDataBlock", "address", 4096));
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    assert_non_null(text);
    assert_int_equal(r2d_isf_open_buffer(ctx, path, (uint8_t *)text, strlen(text), s), 0);
}

static void
test_x86_tables(void **state)
{
    struct r2d_ctx *ctx = r2d_ctx_new();

    (void)state;
    for (int i = 0; i < 3; i++) {
        struct r2d_symbols *s = NULL;
        uint64_t v = 0;

        open_table(ctx, paths[i], &s);
        assert_int_equal(s->machine, 0x14c);
        assert_int_equal(off(ctx, s, "_KPCR", "Prcb"), 0x20);
        assert_int_equal(off(ctx, s, "_KPCR", "PrcbData"), 0x120);
        assert_int_equal(off(ctx, s, "_KPCR", "KdVersionBlock"), 0x34);
        assert_int_equal(off(ctx, s, "_KPRCB", "ProcessorState"), want[i].state);
        assert_int_equal(off(ctx, s, "_KPRCB", "ProcessorState.ContextFrame"), want[i].state);
        assert_int_equal(off(ctx, s, "_KPROCESS", "DirectoryTableBase"), 0x18);
        assert_int_equal(off(ctx, s, "_EPROCESS", "UniqueProcessId"), want[i].pid);
        assert_int_equal(off(ctx, s, "_EPROCESS", "ActiveProcessLinks"), want[i].links);
        assert_int_equal(off(ctx, s, "_EPROCESS", "ImageFileName"), want[i].name);
        assert_int_equal(r2d_symbols_type_size(ctx, s, "_CONTEXT", &v), 0);
        assert_int_equal(v, 0x2cc);
        if (want[i].context)
            assert_int_equal(off(ctx, s, "_KPRCB", "Context"), want[i].context);
        else
            assert_int_equal(r2d_symbols_field_offset(ctx, s, "_KPRCB", "Context", &v), R2D_ENOTFOUND);
        r2d_symbols_free(s);
    }
    r2d_ctx_free(ctx);
}

static void
test_xp_identity_and_symbols(void **state)
{
    struct r2d_ctx *ctx = r2d_ctx_new();
    struct r2d_symbols *s = NULL;
    char guid[R2D_GUID_HEX_LEN + 1];
    uint64_t rva = 0;

    (void)state;
    assert_int_equal(r2d_isf_open(ctx, paths[0], &s), 0);
    r2d_guid_format(s->id.guid, guid);
    assert_string_equal(guid, "32962337F0F646388B39535CD8DD70E8");
    assert_int_equal(s->id.age, 2);
    assert_string_equal(s->id.name, "ntoskrnl.pdb");
    assert_int_equal(r2d_symbols_rva(ctx, s, "KdDebuggerDataBlock", &rva), 0);
    assert_int_equal(rva, 479328);
    assert_int_equal(r2d_symbols_rva(ctx, s, "KiProcessorBlock", &rva), 0);
    assert_int_equal(r2d_symbols_rva(ctx, s, "KdpDataBlockEncoded", &rva), R2D_ENOTFOUND); /* before 8 */
    r2d_symbols_free(s);
    r2d_ctx_free(ctx);
}

static void
test_x64_table_says_amd64(void **state)
{
    struct r2d_ctx *ctx = r2d_ctx_new();
    struct r2d_symbols *s = NULL;

    (void)state;
    assert_int_equal(r2d_isf_open(ctx, paths[3], &s), 0);
    assert_int_equal(s->machine, 0x8664);
    r2d_symbols_free(s);
    r2d_ctx_free(ctx);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x86_tables),
        cmocka_unit_test(test_xp_identity_and_symbols),
        cmocka_unit_test(test_x64_table_says_amd64),
    };

    if (argc != 5) {
        fprintf(stderr, "usage: %s XP.json WIN7.json WIN10.json X64.json\n", argv[0]);
        return 2;
    }
    for (int i = 0; i < 4; i++)
        paths[i] = argv[i + 1];
    return cmocka_run_group_tests(tests, NULL, NULL);
}
