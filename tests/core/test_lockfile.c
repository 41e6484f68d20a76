/* SPDX-License-Identifier: MIT */
/*
 * Lock files (lockfile.c): what a lock file may contain (hostile contents from shared storage are refused,
 * not trusted), and the claim rules: one holder at a time, a holder's lock is respected while it lives, a
 * dead or old holder's lock is taken over, another host's only when asked, and a release never removes a lock
 * that is no longer ours.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdtest.h"
#include "lockfile_parse.h"
#include "raw2dmp/error.h"

#define GOOD "raw2dmp-lock 1\nhost=node12\npid=48211\nstarted=1796623262\ntoken=9f0c4d2e8a1b7c35\n"

static int
parse(const char *text)
{
    struct r2d_lock_info info;

    return r2d_lock_parse(text, strlen(text), &info);
}

static void
a_lock_file_written_by_raw2dmp_parses(void **state)
{
    struct r2d_lock_info info;

    (void)state;
    assert_int_equal(r2d_lock_parse(GOOD, strlen(GOOD), &info), 0);
    assert_string_equal(info.host, "node12");
    assert_int_equal(info.pid, 48211);
    assert_int_equal(info.started, 1796623262);
    assert_true(info.token == UINT64_C(0x9f0c4d2e8a1b7c35));
    assert_int_equal(info.unreadable, 0);
}

static void
hostile_lock_contents_are_unreadable_not_trusted(void **state)
{
    char big[2048];
    struct r2d_lock_info info;
    static const char *const bad[] = {
        "",
        "raw2dmp-lock 2\nhost=a\npid=1\nstarted=1\ntoken=0123456789abcdef\n",          /* another version */
        "raw2dmp-lock 1\npid=1\nstarted=1\ntoken=0123456789abcdef\n",                  /* no host */
        "raw2dmp-lock 1\nhost=\npid=1\nstarted=1\ntoken=0123456789abcdef\n",           /* empty host */
        "raw2dmp-lock 1\nhost=a\npid=2147483648\nstarted=1\ntoken=0123456789abcdef\n", /* pid past 31 bits */
        "raw2dmp-lock 1\nhost=a\npid=-1\nstarted=1\ntoken=0123456789abcdef\n",
        "raw2dmp-lock 1\nhost=a\npid=1\nstarted=99999999999999999999\ntoken=0123456789abcdef\n",
        "raw2dmp-lock 1\nhost=a\npid=1\nstarted=0x10\ntoken=0123456789abcdef\n", /* decimal only */
        "raw2dmp-lock 1\nhost=a\npid=1\nstarted=1\ntoken=0123456789abcde\n",     /* 15 digits */
        "raw2dmp-lock 1\nhost=a\npid=1\nstarted=1\ntoken=0123456789ABCDEF\n",    /* not as written */
        "raw2dmp-lock 1\nhost=a\npid=1\nstarted=1\ntoken=0123456789abcdeg\n",
        "raw2dmp-lock 1\nhost=a\x1b[2J\npid=1\nstarted=1\ntoken=0123456789abcdef\n", /* escape in host */
        "raw2dmp-lock 1\nhost=a\npid=1 \nstarted=1\ntoken=0123456789abcdef\n",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i]), -1);
        assert_int_equal(r2d_lock_parse(bad[i], strlen(bad[i]), &info), -1);
        assert_int_equal(info.unreadable, 1);
        assert_int_equal(info.pid, 0);
    }
    /* A NUL hides what follows it; a host of 300 bytes does not fit; fields past 1024 bytes are not read. */
    assert_int_equal(
        r2d_lock_parse("raw2dmp-lock 1\nhost=a\0\npid=1\nstarted=1\ntoken=0123456789abcdef\n", 60, &info),
        -1);
    memset(big, 'h', sizeof(big));
    memcpy(big, "raw2dmp-lock 1\nhost=", 20);
    snprintf(big + 320, sizeof(big) - 320, "\npid=1\nstarted=1\ntoken=0123456789abcdef\n");
    assert_int_equal(parse(big), -1);
    memset(big, 'x', sizeof(big));
    memcpy(big, "raw2dmp-lock 1\nhost=a\nx", 23);
    snprintf(big + 1020, sizeof(big) - 1020, "\npid=1\nstarted=1\ntoken=0123456789abcdef\n");
    assert_int_equal(parse(big), -1);
    /* Truncated at every length, the good record never parses short of its last line. */
    for (size_t n = 0; n + 1 < strlen(GOOD); n++)
        assert_int_equal(r2d_lock_parse(GOOD, n, &info), n >= strlen(GOOD) - 1 ? 0 : -1);
}

struct fixture {
    char *dir;
    char path[512];
    struct r2d_ctx *ctx;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->dir = cdtest_mkdtemp();
    snprintf(f->path, sizeof(f->path), "%s/out.dmp.lock", f->dir);
    f->ctx = r2d_ctx_new();
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    unlink(f->path);
    rmdir(f->dir);
    r2d_ctx_free(f->ctx);
    free(f->dir);
    free(f);
    return 0;
}

static void
write_lock(const char *path, const char *host, long pid, long started)
{
    char text[512];
    const int n = snprintf(text, sizeof(text),
                           "raw2dmp-lock 1\nhost=%s\npid=%ld\nstarted=%ld\ntoken=00000000deadbeef\n", host,
                           pid, started);

    cdtest_write_file(path, text, (size_t)n);
}

static long
dead_pid(void)
{
    const pid_t pid = fork();

    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    return (long)pid;
}

static void
one_holder_at_a_time_and_release_frees_it(void **state)
{
    struct fixture *f = *state;
    struct r2d_lock_info a, b;

    assert_int_equal(r2d_lock_acquire(f->ctx, f->path, 3600, 0, &a), 0);
    assert_int_equal(a.pid, getpid());
    assert_int_equal(r2d_lock_acquire(f->ctx, f->path, 3600, 1, &b), R2D_EBUSY); /* this host, alive */
    assert_int_equal(b.pid, getpid());
    assert_true(b.token == a.token);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "locked by "));
    b.token ^= 1; /* not ours: the release leaves it */
    assert_int_equal(r2d_lock_release(f->ctx, f->path, &b), 0);
    assert_int_equal(access(f->path, F_OK), 0);
    assert_int_equal(r2d_lock_release(f->ctx, f->path, &a), 0);
    assert_int_equal(access(f->path, F_OK), -1);
    assert_int_equal(r2d_lock_acquire(f->ctx, f->path, 3600, 0, &b), 0);
    assert_int_equal(r2d_lock_release(f->ctx, f->path, &b), 0);
}

static void
stale_locks_are_taken_over_and_live_ones_respected(void **state)
{
    struct fixture *f = *state;
    struct r2d_lock_info me, h;
    char host[256] = "";
    const long now = (long)time(NULL);

    gethostname(host, sizeof(host) - 1);
    write_lock(f->path, host, dead_pid(), now); /* this host, process gone */
    assert_int_equal(r2d_lock_acquire(f->ctx, f->path, 3600, 0, &me), 0);
    assert_int_equal(r2d_lock_release(f->ctx, f->path, &me), 0);

    write_lock(f->path, "elsewhere.example", 1, now - 60); /* another host, recent */
    assert_int_equal(r2d_lock_acquire(f->ctx, f->path, 3600, 0, &h), R2D_EBUSY);
    assert_string_equal(h.host, "elsewhere.example");
    assert_int_equal(r2d_lock_acquire(f->ctx, f->path, 30, 0, &me), 0); /* older than max_age */
    assert_int_equal(r2d_lock_release(f->ctx, f->path, &me), 0);

    write_lock(f->path, "elsewhere.example", 1, now);
    assert_int_equal(r2d_lock_acquire(f->ctx, f->path, 3600, 1, &me), 0); /* break_other_hosts */
    assert_int_equal(r2d_lock_release(f->ctx, f->path, &me), 0);

    cdtest_write_file(f->path, "garbage", 7); /* unreadable and new: busy even with break_other_hosts */
    assert_int_equal(r2d_lock_acquire(f->ctx, f->path, 3600, 1, &h), R2D_EBUSY);
    assert_int_equal(h.unreadable, 1);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "holder unknown"));
    assert_int_equal(r2d_lock_acquire(f->ctx, f->path, -1, 0, &me),
                     R2D_EBUSY); /* max_age <= 0: never by age */
}

static void
a_lock_in_a_missing_directory_is_an_io_error(void **state)
{
    struct fixture *f = *state;
    struct r2d_lock_info me;
    char path[600];

    snprintf(path, sizeof(path), "%s/no/such/dir.lock", f->dir);
    assert_int_equal(r2d_lock_acquire(f->ctx, path, 3600, 0, &me), R2D_EIO);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "cannot create the lock file"));
    assert_int_equal(r2d_lock_acquire(f->ctx, "", 3600, 0, &me), R2D_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_lock_file_written_by_raw2dmp_parses),
        cmocka_unit_test(hostile_lock_contents_are_unreadable_not_trusted),
        cmocka_unit_test_setup_teardown(one_holder_at_a_time_and_release_frees_it, setup, teardown),
        cmocka_unit_test_setup_teardown(stale_locks_are_taken_over_and_live_ones_respected, setup, teardown),
        cmocka_unit_test_setup_teardown(a_lock_in_a_missing_directory_is_an_io_error, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
