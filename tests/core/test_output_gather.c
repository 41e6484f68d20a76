/* SPDX-License-Identifier: MIT */
/*
 * The output's small-piece paths: without a hash, small copies are served from a window read ahead of the
 * input and small writes from a stage, and both are written later with one pwritev per stretch; what the
 * input's holes are is remembered per file. The file must still hold exactly the bytes appended, in order,
 * whatever mix of small and large copies, holes, writes and rewrites came: checked here against a copy
 * built in memory, and against the same sequence through the hashing ring (which has none of these paths).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdtest.h"
#include "output.h"

#define REC_HDR 32u
#define REC_DATA 4096u
#define NREC 3000u
#define HOLE_AT ((uint64_t)NREC * (REC_HDR + REC_DATA))
#define HOLE_LEN (3u << 20)
#define TAIL_LEN (1u << 20)
#define OUT_MAX (64u << 20)

struct fixture {
    char *dir, *in_path, *out_path;
    int in_fd;
    uint8_t *in; /* the input file's bytes (zeros in its hole) */
    uint64_t in_size;
    uint8_t *expect; /* what the output must hold */
    uint64_t expect_len;
    struct r2d_ctx *ctx;
};

/* An input like a fragmented LiME file: NREC header + page records, then a hole, then 1 MiB of data. */
static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    int fd;

    f->dir = cdtest_mkdtemp();
    f->in_path = cdtest_path(f->dir, "in.bin");
    f->out_path = cdtest_path(f->dir, "out.bin");
    f->in_size = HOLE_AT + HOLE_LEN + TAIL_LEN;
    f->in = calloc(1, f->in_size);
    cdtest_random(f->in, HOLE_AT, 1);
    cdtest_random(f->in + HOLE_AT + HOLE_LEN, TAIL_LEN, 2);
    fd = open(f->in_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, f->in, HOLE_AT, 0), (ssize_t)HOLE_AT);
    assert_int_equal(pwrite(fd, f->in + HOLE_AT + HOLE_LEN, TAIL_LEN, (off_t)(HOLE_AT + HOLE_LEN)),
                     (ssize_t)TAIL_LEN);
    assert_int_equal(close(fd), 0);
    f->in_fd = open(f->in_path, O_RDONLY);
    assert_true(f->in_fd >= 0);
    f->expect = calloc(1, OUT_MAX);
    f->ctx = r2d_ctx_new();
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    close(f->in_fd);
    unlink(f->in_path);
    unlink(f->out_path);
    cdtest_rmdir(f->dir);
    free(f->in_path);
    free(f->out_path);
    free(f->in);
    free(f->expect);
    r2d_ctx_free(f->ctx);
    free(f);
    return 0;
}

static void
copy(struct fixture *f, struct r2d_output *o, uint64_t off, uint64_t len)
{
    assert_int_equal(r2d_output_copy(f->ctx, o, f->in_fd, f->in_path, off, len), 0);
    memcpy(f->expect + f->expect_len, f->in + off, len);
    f->expect_len += len;
}

static void
put(struct fixture *f, struct r2d_output *o, const uint8_t *p, size_t len)
{
    assert_int_equal(r2d_output_write(f->ctx, o, p, len), 0);
    memcpy(f->expect + f->expect_len, p, len);
    f->expect_len += len;
}

static void
zero(struct fixture *f, struct r2d_output *o, uint64_t len)
{
    assert_int_equal(r2d_output_zero(f->ctx, o, len), 0);
    f->expect_len += len; /* expect is zero-filled */
}

/* The sequence every test writes; the rewrite of the first bytes only without a hash (it is refused then). */
static void
write_sequence(struct fixture *f, struct r2d_output *o, int rewrite)
{
    uint8_t page[REC_DATA], header[100];

    cdtest_random(header, sizeof(header), 3);
    put(f, o, header, sizeof(header));
    /* Forward: every record's page, skipping its header (the window path); a hole now and then. */
    for (uint32_t i = 0; i < NREC; i++) {
        copy(f, o, (uint64_t)i * (REC_HDR + REC_DATA) + REC_HDR, i % 7 == 0 ? REC_DATA / 2 : REC_DATA);
        if (i % 500 == 499)
            zero(f, o, 3 * REC_DATA);
        if (i % 10 == 0) { /* a small write between copies (the stage path) */
            cdtest_random(page, sizeof(page), 100 + i);
            put(f, o, page, 1 + i % sizeof(page));
        }
    }
    /* Backwards: each piece copied on its own. */
    for (uint32_t i = 40; i-- > 20;)
        copy(f, o, (uint64_t)i * (REC_HDR + REC_DATA) + REC_HDR, REC_DATA);
    /* A large copy across the input's hole and into its tail, then small pieces of the tail. */
    copy(f, o, HOLE_AT - 5000, 5000 + HOLE_LEN + 4096);
    for (uint32_t i = 0; i < 64; i++)
        copy(f, o, HOLE_AT + HOLE_LEN + 8192 + (uint64_t)i * 5000, 4000);
    /* A small copy that lies in the hole, and a large write. */
    copy(f, o, HOLE_AT + 100, 2000);
    {
        uint8_t *big = malloc(1u << 20);

        cdtest_random(big, 1u << 20, 4);
        put(f, o, big, 1u << 20);
        free(big);
    }
    copy(f, o, 17, 3);
    if (rewrite) {
        const uint8_t patch[4] = {0xde, 0xad, 0xbe, 0xef};

        assert_int_equal(r2d_output_pwrite(f->ctx, o, 10, patch, sizeof(patch)), 0);
        memcpy(f->expect + 10, patch, sizeof(patch));
    }
    zero(f, o, 12345); /* the file ends in a hole */
    assert_true(f->expect_len <= OUT_MAX);
    assert_int_equal(r2d_output_size(o), f->expect_len);
}

static void
check_output(struct fixture *f)
{
    size_t len;
    uint8_t *d = cdtest_read_file(f->out_path, &len);

    assert_int_equal(len, f->expect_len);
    assert_memory_equal(d, f->expect, len);
    free(d);
}

static void
gathered_without_hash(void **state)
{
    struct fixture *f = *state;
    struct r2d_output *o = NULL;

    assert_int_equal(r2d_output_open(f->ctx, f->out_path, 0, R2D_HASH_NONE, &o), 0);
    write_sequence(f, o, 1);
    assert_int_equal(r2d_output_commit(f->ctx, o, NULL), 0);
    check_output(f);
}

static void
same_bytes_through_the_ring(void **state)
{
    struct fixture *f = *state;
    struct r2d_output *o = NULL;
    struct r2d_digest_hex hex;

    assert_int_equal(r2d_output_open(f->ctx, f->out_path, 0, R2D_HASH_SHA256, &o), 0);
    write_sequence(f, o, 0);
    assert_int_equal(r2d_output_commit(f->ctx, o, &hex), 0);
    check_output(f);
}

/* A failed read of the window (the input shrank under us) is an error naming the input, not a short file. */
static void
truncated_input_is_an_error(void **state)
{
    struct fixture *f = *state;
    struct r2d_output *o = NULL;
    int wfd;

    assert_int_equal(r2d_output_open(f->ctx, f->out_path, 0, R2D_HASH_NONE, &o), 0);
    assert_int_equal(r2d_output_copy(f->ctx, o, f->in_fd, f->in_path, REC_HDR, REC_DATA), 0);
    wfd = open(f->in_path, O_WRONLY);
    assert_true(wfd >= 0);
    assert_int_equal(ftruncate(wfd, (off_t)(2 * (REC_HDR + REC_DATA))), 0);
    close(wfd);
    /* Forward pieces past the new end: the window cannot be read. */
    assert_int_not_equal(
        r2d_output_copy(f->ctx, o, f->in_fd, f->in_path, 3 * (REC_HDR + REC_DATA) + REC_HDR, REC_DATA), 0);
    assert_non_null(strstr(r2d_errmsg(f->ctx), "in.bin"));
    r2d_output_abort(o);
    assert_int_equal(access(f->out_path, F_OK), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(gathered_without_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(same_bytes_through_the_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(truncated_input_is_an_error, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
