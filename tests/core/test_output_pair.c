/* SPDX-License-Identifier: MIT */
/*
 * A dump and its report go in place as one (r2d_output_commit_pair): both, or neither. The case that needs
 * an undo, the second's rename failing after the first's, is made here by putting a directory where the
 * second goes after its temporary was written, which a program run cannot do at the right moment.
 */
#include <errno.h>
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

#include "cdtest.h"
#include "output.h"

struct fixture {
    char *dir;
    char *dump, *report;
    struct r2d_ctx *ctx;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->dir = cdtest_mkdtemp();
    f->dump = cdtest_path(f->dir, "out.dmp");
    f->report = cdtest_path(f->dir, "out.json");
    f->ctx = r2d_ctx_new();
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    rmdir(f->report); /* a test may leave a directory there */
    cdtest_rmdir(f->dir);
    free(f->dump);
    free(f->report);
    r2d_ctx_free(f->ctx);
    free(f);
    return 0;
}

/* An output at path holding text, written but not committed. */
static struct r2d_output *
staged(struct fixture *f, const char *path, int force, const char *text)
{
    struct r2d_output *o = NULL;

    assert_int_equal(r2d_output_open(f->ctx, path, force, R2D_HASH_SHA256 | R2D_HASH_SHA1 | R2D_HASH_MD5, &o), 0);
    assert_int_equal(r2d_output_write(f->ctx, o, text, strlen(text)), 0);
    return o;
}

static void
assert_file_holds(const char *path, const char *text)
{
    size_t len;
    uint8_t *d = cdtest_read_file(path, &len);

    assert_int_equal(len, strlen(text));
    assert_memory_equal(d, text, len);
    free(d);
}

static void
both_go_in_place(void **state)
{
    struct fixture *f = *state;
    struct r2d_output *dump = staged(f, f->dump, 0, "dump"), *rep = staged(f, f->report, 0, "report");
    struct r2d_digest_hex hex;
    int failed = -1;

    /* The digests are known before anything is in place: the report is written from them. */
    assert_int_equal(r2d_output_finish(f->ctx, dump, &hex), 0);
    /* sha256sum, sha1sum and md5sum of "dump", in the order reports list them */
    assert_string_equal(hex.hex[0], "b6ca0868bca6a2926b70aa1a71592038d9030fe26d4214edcfbd6cf41f2f4654");
    assert_string_equal(hex.hex[1], "9567d1547e105470e4e53c1568f07a209e82a161");
    assert_string_equal(hex.hex[2], "b9ef165b255673dde47bff07f4390fb1");
    assert_int_equal(access(f->dump, F_OK), -1);
    memset(&hex, 0, sizeof(hex));
    assert_int_equal(r2d_output_finish(f->ctx, dump, &hex), 0); /* a second call only copies the digests */
    assert_string_equal(hex.hex[2], "b9ef165b255673dde47bff07f4390fb1");
    assert_int_equal(r2d_output_commit_pair(f->ctx, dump, rep, &failed), 0);
    assert_int_equal(failed, 0);
    assert_file_holds(f->dump, "dump");
    assert_file_holds(f->report, "report");
    assert_int_equal(cdtest_count_entries(f->dir, ".part"), 0);
}

static void
the_first_is_removed_again_when_the_second_cannot_go_in_place(void **state)
{
    struct fixture *f = *state;
    struct r2d_output *dump = staged(f, f->dump, 0, "dump"), *rep = staged(f, f->report, 1, "report");
    int failed = -1;

    /* With force the report replaces a file, but a directory in its place stops the rename (EISDIR). */
    assert_int_equal(mkdir(f->report, 0700), 0);
    assert_int_not_equal(r2d_output_commit_pair(f->ctx, dump, rep, &failed), 0);
    assert_int_equal(failed, 2);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "out.json"));
    assert_int_equal(access(f->dump, F_OK), -1);
    assert_int_equal(cdtest_count_entries(f->dir, ".part"), 0);
    assert_int_equal(rmdir(f->report), 0);
}

static void
the_second_stays_out_when_the_first_cannot_go_in_place(void **state)
{
    struct fixture *f = *state;
    struct r2d_output *dump = staged(f, f->dump, 0, "dump"), *rep = staged(f, f->report, 0, "report");
    int failed = -1;

    /* Without force an output that appeared meanwhile is never replaced. */
    cdtest_write_file(f->dump, "someone else's", 14);
    assert_int_equal(r2d_output_commit_pair(f->ctx, dump, rep, &failed), R2D_EEXIST);
    assert_int_equal(failed, 1);
    assert_file_holds(f->dump, "someone else's");
    assert_int_equal(access(f->report, F_OK), -1);
    assert_int_equal(cdtest_count_entries(f->dir, ".part"), 0);
}

static void
a_second_that_appeared_is_not_replaced_and_the_first_is_removed(void **state)
{
    struct fixture *f = *state;
    struct r2d_output *dump = staged(f, f->dump, 0, "dump"), *rep = staged(f, f->report, 0, "report");
    int failed = -1;

    cdtest_write_file(f->report, "someone else's", 14);
    assert_int_equal(r2d_output_commit_pair(f->ctx, dump, rep, &failed), R2D_EEXIST);
    assert_int_equal(failed, 2);
    assert_file_holds(f->report, "someone else's");
    assert_int_equal(access(f->dump, F_OK), -1);
    assert_int_equal(cdtest_count_entries(f->dir, ".part"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(both_go_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(the_first_is_removed_again_when_the_second_cannot_go_in_place, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_second_stays_out_when_the_first_cannot_go_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(a_second_that_appeared_is_not_replaced_and_the_first_is_removed, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
