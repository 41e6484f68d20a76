/* SPDX-License-Identifier: MIT */
/*
 * A conversion's files are told apart by identity, not spelling (r2d_files_distinct): every spelling, link
 * and hard link of one file is that file; files not yet there compare by directory and name; only a clash
 * involving a written file counts. And a target to write is checked before any work (r2d_file_target_check).
 */
#include <errno.h>
#include <ftw.h>
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
#include "file_identity.h"

struct fixture {
    char *dir; /* scratch directory, also the working directory during a test */
    char *cwd; /* the working directory before */
    struct r2d_ctx *ctx;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->cwd = getcwd(NULL, 0);
    f->dir = cdtest_mkdtemp();
    f->ctx = r2d_ctx_new();
    assert_int_equal(chdir(f->dir), 0);
    assert_int_equal(mkdir("d", 0755), 0);
    cdtest_write_file("in.elf", "evidence", 8);
    *state = f;
    return 0;
}

static int
remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    chmod(path, 0700);
    return remove(path);
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(chdir(f->cwd), 0);
    nftw(f->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    r2d_ctx_free(f->ctx);
    free(f->dir);
    free(f->cwd);
    free(f);
    return 0;
}

/* Status of r2d_files_distinct on an input (read) and an output (written). */
static int
input_output(struct fixture *f, const char *input, const char *output)
{
    const struct r2d_file_ref refs[] = {{input, "INPUT", 0}, {output, "OUTPUT", 1}};

    return r2d_files_distinct(f->ctx, refs, 2, NULL);
}

static void
every_spelling_and_link_of_the_input_is_the_input(void **state)
{
    struct fixture *f = *state;
    static const char *const same[] = {"in.elf",   "./in.elf", "d/../in.elf",  ".//in.elf",
                                       "hard.elf", "sym.elf",  "d/sym-up.elf", "dirlink/../in.elf"};

    assert_int_equal(link("in.elf", "hard.elf"), 0);
    assert_int_equal(symlink("in.elf", "sym.elf"), 0);
    assert_int_equal(symlink("../sym.elf", "d/sym-up.elf"), 0); /* a chain of two links */
    assert_int_equal(symlink("d", "dirlink"), 0);
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        char want[256];

        assert_int_equal(input_output(f, "in.elf", same[i]), R2D_ESAMEFILE);
        snprintf(want, sizeof(want), "OUTPUT '%s' is the same file as INPUT 'in.elf'", same[i]);
        assert_string_equal(r2d_errmsg(f->ctx), want);
    }
    /* The other way round too: the input named through a link, the output by its plain name. */
    assert_int_equal(input_output(f, "sym.elf", "in.elf"), R2D_ESAMEFILE);
    assert_int_equal(input_output(f, "in.elf", "other.dmp"), 0);
    assert_int_equal(input_output(f, "in.elf", "d/in.elf"), 0);
}

static void
files_not_there_yet_compare_by_directory_and_name(void **state)
{
    struct fixture *f = *state;
    const struct r2d_file_ref refs[] = {
        {"in.elf", "INPUT", 0}, {"out.dmp", "OUTPUT", 1}, {"d/../out.dmp", "--report", 1}};
    const struct r2d_file_ref fine[] = {
        {"in.elf", "INPUT", 0}, {"out.dmp", "OUTPUT", 1}, {"d/out.dmp", "--report", 1}};
    size_t clash[2] = {9, 9};

    assert_int_equal(r2d_files_distinct(f->ctx, refs, 3, clash), R2D_ESAMEFILE);
    assert_string_equal(r2d_errmsg(f->ctx), "--report 'd/../out.dmp' is the same file as OUTPUT 'out.dmp'");
    assert_int_equal(clash[0], 2);
    assert_int_equal(clash[1], 1);
    assert_int_equal(r2d_files_distinct(f->ctx, fine, 3, NULL), 0);
    /* A directory that does not exist: the spellings, normalised, still meet. */
    assert_int_equal(input_output(f, "nodir/x", "./nodir/y/../x"), R2D_ESAMEFILE);
    assert_int_equal(input_output(f, "nodir/x", "nodir/y"), 0);
}

static void
only_a_written_file_can_clash(void **state)
{
    struct fixture *f = *state;
    const struct r2d_file_ref reads[] = {{"in.elf", "line 1 input", 0},
                                         {"./in.elf", "line 2 input", 0},
                                         {"a.dmp", "line 1 output", 1},
                                         {"b.dmp", "line 2 output", 1}};
    /* The PDB comes before the output in the list; the sentence still starts with what is written. */
    const struct r2d_file_ref pdb[] = {
        {"in.elf", "INPUT", 0}, {"k.pdb", "--pdb", 0}, {"./k.pdb", "OUTPUT", 1}};
    const struct r2d_file_ref later[] = {{"x", "line 1 output", 1},
                                         {"y", "line 2 output", 1},
                                         {"in.elf", "line 3 input", 0},
                                         {"y", "line 4 report", 1},
                                         {"./x", "line 5 report", 1}};
    size_t clash[2];

    cdtest_write_file("k.pdb", "pdb", 3);
    assert_int_equal(r2d_files_distinct(f->ctx, reads, 4, NULL), 0);
    assert_int_equal(r2d_files_distinct(f->ctx, pdb, 3, clash), R2D_ESAMEFILE);
    assert_string_equal(r2d_errmsg(f->ctx), "OUTPUT './k.pdb' is the same file as --pdb 'k.pdb'");
    assert_int_equal(clash[0], 2);
    assert_int_equal(clash[1], 1);
    /* Of two clashing pairs, the one completed first in the list is named. */
    assert_int_equal(r2d_files_distinct(f->ctx, later, 5, clash), R2D_ESAMEFILE);
    assert_string_equal(r2d_errmsg(f->ctx), "line 4 report 'y' is the same file as line 2 output 'y'");
    assert_int_equal(r2d_files_distinct(f->ctx, later, 0, NULL), 0);
}

static void
a_dangling_link_is_the_link_itself(void **state)
{
    struct fixture *f = *state;
    const struct r2d_file_ref refs[] = {
        {"in.elf", "INPUT", 0}, {"dangling.dmp", "OUTPUT", 1}, {"nowhere.dmp", "--report", 1}};
    const struct r2d_file_ref twice[] = {{"dangling.dmp", "OUTPUT", 1}, {"./dangling.dmp", "--report", 1}};

    assert_int_equal(symlink("nowhere.dmp", "dangling.dmp"), 0);
    /* A rename replaces the link, never creates nowhere.dmp: these two never meet. */
    assert_int_equal(r2d_files_distinct(f->ctx, refs, 3, NULL), 0);
    assert_int_equal(r2d_files_distinct(f->ctx, twice, 2, NULL), R2D_ESAMEFILE);
    /* As a target it is refused all the same (file_identity.c says why), naming where it points. */
    assert_int_equal(r2d_file_target_check(f->ctx, "dangling.dmp", "output"), R2D_EINVAL);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "dangling symbolic link (to 'nowhere.dmp')"));
}

static void
a_target_must_be_a_writable_place_for_a_file(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(r2d_file_target_check(f->ctx, "new.dmp", "output"), 0);
    assert_int_equal(r2d_file_target_check(f->ctx, "in.elf", "output"), 0); /* existing: --force decides */
    assert_int_equal(r2d_file_target_check(f->ctx, "d", "output"), R2D_EINVAL);
    assert_string_equal(r2d_errmsg(f->ctx), "d: the output is a directory");
    assert_int_equal(r2d_file_target_check(f->ctx, "d/", "report"), R2D_EINVAL);
    assert_string_equal(r2d_errmsg(f->ctx), "d/: the report must name a file, not a directory");
    assert_int_equal(r2d_file_target_check(f->ctx, "d/..", "report"), R2D_EINVAL);
    assert_int_equal(r2d_file_target_check(f->ctx, "/dev/null", "output"), R2D_EINVAL);
    assert_string_equal(r2d_errmsg(f->ctx), "/dev/null: the output is a character device");
    assert_int_equal(r2d_file_target_check(f->ctx, "nodir/r.json", "report"), R2D_EIO);
    assert_string_equal(r2d_errmsg(f->ctx),
                        "nodir/r.json: cannot use the report directory 'nodir': No such file or directory");
    assert_int_equal(r2d_file_target_check(f->ctx, "in.elf/r.json", "report"), R2D_EINVAL);
    assert_string_equal(r2d_errmsg(f->ctx), "in.elf/r.json: the report directory 'in.elf' is not a directory");
    /* Permissions bind only without CAP_DAC_OVERRIDE; the CLI test covers root with a read-only mount. */
    if (geteuid() != 0) {
        assert_int_equal(chmod("d", 0555), 0);
        assert_int_equal(r2d_file_target_check(f->ctx, "d/r.json", "report"), R2D_EIO);
        assert_string_equal(r2d_errmsg(f->ctx),
                            "d/r.json: cannot write in the report directory 'd': Permission denied");
    }
}

static void
a_conversion_checks_distinct_files_before_targets(void **state)
{
    struct fixture *f = *state;
    struct r2d_options o;

    memset(&o, 0, sizeof(o)); /* r2d_options_init is the engine's; only the paths matter here */
    o.report_path = "in.elf";
    assert_int_equal(r2d_files_check_conversion(f->ctx, &o, "in.elf", "out.dmp"), R2D_ESAMEFILE);
    assert_string_equal(r2d_errmsg(f->ctx), "--report 'in.elf' is the same file as INPUT 'in.elf'");
    o.report_path = "nodir/r.json";
    assert_int_equal(r2d_files_check_conversion(f->ctx, &o, "in.elf", "out.dmp"), R2D_EIO);
    o.report_path = NULL;
    o.isf_path = "t.json";
    assert_int_equal(r2d_files_check_conversion(f->ctx, &o, "in.elf", "./t.json"), R2D_ESAMEFILE);
    assert_string_equal(r2d_errmsg(f->ctx), "OUTPUT './t.json' is the same file as --symbols 't.json'");
    assert_int_equal(r2d_files_check_conversion(f->ctx, &o, "in.elf", ""), R2D_EINVAL);
    assert_int_equal(r2d_files_check_conversion(f->ctx, &o, NULL, "out.dmp"), R2D_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_spelling_and_link_of_the_input_is_the_input, setup, teardown),
        cmocka_unit_test_setup_teardown(files_not_there_yet_compare_by_directory_and_name, setup, teardown),
        cmocka_unit_test_setup_teardown(only_a_written_file_can_clash, setup, teardown),
        cmocka_unit_test_setup_teardown(a_dangling_link_is_the_link_itself, setup, teardown),
        cmocka_unit_test_setup_teardown(a_target_must_be_a_writable_place_for_a_file, setup, teardown),
        cmocka_unit_test_setup_teardown(a_conversion_checks_distinct_files_before_targets, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
