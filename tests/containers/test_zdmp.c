/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the .zdmp container (src/containers/cont_zdmp.c) on files built here block by block, each
 * kind of block the layout allows (docs/formats/zdmp.md): stored, LZNT1 decoding to the whole block, LZNT1
 * decoding short (the rest zeros), LZNT1 with a short chunk padded inside it, and a last block holding more
 * than the decoded size leaves to it, stored or LZNT1. Scattered and sequential reads equal the bytes the
 * builder meant; a damaged block fails the reads that reach it (and --verify-container's open) naming the
 * file, and the blocks before it still read. Whole dumps end to end: tests/cli/test_zdmp.py.
 */
#include "fmt_testutil.h"

#include <zlib.h>

#include "container.h"
#include "container_kinds.h"

#define BS 16384u /* block size: four LZNT1 chunks */

struct zb {
    struct fmt_buf file;
    uint8_t *expect; /* the decoded stream */
    size_t size;     /* decoded bytes so far */
    unsigned blocks, stored;
};

static uint8_t
pat(size_t k)
{
    k = k * 0x9E3779B97F4A7C15ull;
    return (uint8_t)(k >> 56);
}

/* LZNT1 pieces: an uncompressed chunk of n bytes; a compressed chunk of 4096 bytes of c. */
static size_t
chunk_stored(uint8_t *p, const uint8_t *data, size_t n)
{
    p[0] = (uint8_t)((n - 1) & 0xff);
    p[1] = (uint8_t)(0x30 | (n - 1) >> 8);
    memcpy(p + 2, data, n);
    return n + 2;
}

static size_t
chunk_uniform(uint8_t *p, uint8_t c)
{
    /* flags 0b10: a literal, then a match 1 back of 4095 bytes (12 length bits at position 1) */
    static const uint8_t body[4] = {0x02, 0, 0xfc, 0x0f};

    p[0] = 3;
    p[1] = 0xb0;
    memcpy(p + 2, body, 4);
    p[3] = c;
    return 6;
}

static void
zb_block(struct zb *z, const uint8_t *payload, size_t n, const uint8_t *decoded, size_t exposed)
{
    uint8_t *h = fmt_buf_at(&z->file, z->file.len, 12 + n);
    const uint32_t crc = (uint32_t)crc32(0, payload, (uInt)n);

    memcpy(h, "ZBLK", 4);
    h[4] = (uint8_t)n;
    h[5] = (uint8_t)(n >> 8);
    h[6] = (uint8_t)(n >> 16);
    h[7] = 0;
    for (int i = 0; i < 4; i++)
        h[8 + i] = (uint8_t)(crc >> (8 * i));
    memcpy(h + 12, payload, n);
    z->expect = realloc(z->expect, z->size + exposed);
    assert_non_null(z->expect);
    memcpy(z->expect + z->size, decoded, exposed);
    z->size += exposed;
    z->blocks++;
    z->stored += n == BS;
}

static void
zb_header(struct zb *z, uint64_t size)
{
    uint8_t *h = fmt_buf_at(&z->file, 0, 0x1000);

    memset(h, 0, 0x1000);
    memcpy(h, "ZDMP", 4);
    h[5] = 1; /* version 0x0100 */
    for (int i = 0; i < 8; i++)
        h[8 + i] = (uint8_t)(size >> (8 * i));
    h[17] = BS >> 8;
    h[20] = 1; /* compressed */
    h[22] = 2; /* LZNT1 */
}

/* Six blocks, the last holding 5000 bytes; last_lznt1 picks how the last block is written. */
static void
zb_build(struct zb *z, int last_lznt1)
{
    static uint8_t data[BS], dec[BS], pay[BS + 64];
    size_t n;

    memset(z, 0, sizeof(*z));
    zb_header(z, 5 * BS + 5000);
    for (size_t k = 0; k < BS; k++)
        data[k] = pat(k);
    zb_block(z, data, BS, data, BS); /* stored */
    /* One chunk of 4096: the block decodes short, the rest is zeros. */
    n = chunk_stored(pay, data + 7, 4096);
    memset(dec, 0, BS);
    memcpy(dec, data + 7, 4096);
    zb_block(z, pay, n, dec, BS);
    /* Three stored chunks and a compressed one: the whole block. */
    n = 0;
    for (int c = 0; c < 3; c++)
        n += chunk_stored(pay + n, data + 100 + 4096 * c, 4096);
    n += chunk_uniform(pay + n, 'U');
    memcpy(dec, data + 100, 3 * 4096);
    memset(dec + 3 * 4096, 'U', 4096);
    zb_block(z, pay, n, dec, BS);
    /* A short chunk (padded with zeros to 4096 by LZNT1 itself), another chunk, then the block's zeros. */
    n = chunk_stored(pay, data + 3, 100);
    n += chunk_stored(pay + n, data + 5000, 4096);
    memset(dec, 0, BS);
    memcpy(dec, data + 3, 100);
    memcpy(dec + 4096, data + 5000, 4096);
    zb_block(z, pay, n, dec, BS);
    for (size_t k = 0; k < BS; k++)
        data[k] = pat(k + 999);
    zb_block(z, data, BS, data, BS);
    /* The last block: 5000 bytes count; it holds more. */
    if (last_lznt1) {
        n = chunk_stored(pay, data + 1, 4096);
        n += chunk_stored(pay + n, data + 2, 4096);
        memcpy(dec, data + 1, 4096);
        memcpy(dec + 4096, data + 2, 4096);
        zb_block(z, pay, n, dec, 5000);
    } else {
        zb_block(z, data, BS, data, 5000);
    }
}

static void
check_stream(struct r2d_ctx *ctx, const struct r2d_bytesrc *bs, const struct zb *z)
{
    static uint8_t buf[3 * BS];
    uint64_t seed = 16;

    assert_int_equal(r2d_bytesrc_size(bs), z->size);
    for (int i = 0; i < 400; i++) {
        size_t off, len;

        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        off = (size_t)((seed >> 17) % z->size);
        len = 1 + (size_t)((seed >> 45) % sizeof(buf));
        if (len > z->size - off)
            len = z->size - off;
        if (r2d_bytesrc_read(ctx, bs, off, buf, len, "test"))
            fail_msg("read 0x%zx+0x%zx: %s", off, len, r2d_errmsg(ctx));
        if (memcmp(buf, z->expect + off, len) != 0)
            fail_msg("bytes at 0x%zx+0x%zx differ", off, len);
    }
    for (size_t off = 0; off < z->size; off += 4096) {
        const size_t len = z->size - off < 4096 ? z->size - off : 4096;

        assert_int_equal(r2d_bytesrc_read(ctx, bs, off, buf, len, "test"), 0);
        assert_memory_equal(buf, z->expect + off, len);
    }
    assert_int_not_equal(r2d_bytesrc_read(ctx, bs, z->size - 10, buf, 11, "test"), 0);
}

static struct r2d_bytesrc *
open_zdmp(struct fmt_test *t, const char *path, int verify)
{
    const struct r2d_container_opts opts = {.verify = verify};
    struct r2d_bytesrc *bs;
    char stack[64];

    assert_int_equal(r2d_bytesrc_open_file(t->ctx, path, &bs), 0);
    if (r2d_container_unwrap(t->ctx, &bs, &opts))
        return NULL;
    r2d_container_stack(bs, stack, sizeof(stack));
    assert_string_equal(stack, "zdmp");
    return bs;
}

static void
every_kind_of_block_reads_back(void **state)
{
    struct fmt_test *t = *state;

    for (int last_lznt1 = 0; last_lznt1 < 2; last_lznt1++) {
        struct zb z;
        struct r2d_bytesrc *bs;

        zb_build(&z, last_lznt1);
        bs = open_zdmp(t, fmt_test_write(t, "m.zdmp", z.file.p, z.file.len), last_lznt1);
        if (!bs)
            fail_msg("open: %s", r2d_errmsg(t->ctx));
        assert_non_null(strstr(r2d_bytesrc_how(bs), "6 blocks of 16 KiB"));
        assert_non_null(strstr(r2d_bytesrc_how(bs), last_lznt1 ? "(2 stored" : "(3 stored"));
        check_stream(t->ctx, bs, &z);
        r2d_bytesrc_close(bs);
        free(z.file.p);
        free(z.expect);
    }
}

/*
 * 80 blocks (stored and one-chunk LZNT1 in turn), block 70 damaged: reads decode whole 1 MiB chunks of the
 * stream (64 blocks here), so the damage is met by reads of the second MiB only.
 */
static void
a_damaged_block_fails_its_reads(void **state)
{
    struct fmt_test *t = *state;
    static uint8_t data[BS], pay[BS], dec[BS];
    struct r2d_bytesrc *bs;
    uint8_t buf[64];
    struct zb z;
    const char *path;
    size_t at = 0;

    memset(&z, 0, sizeof(z));
    zb_header(&z, 80 * BS);
    for (unsigned b = 0; b < 80; b++) {
        for (size_t k = 0; k < BS; k++)
            data[k] = pat(k + 31 * b);
        if (b == 70)
            at = z.file.len;
        if (b % 2) {
            const size_t n = chunk_stored(pay, data, 4096);

            memset(dec, 0, BS);
            memcpy(dec, data, 4096);
            zb_block(&z, pay, n, dec, BS);
        } else {
            zb_block(&z, data, BS, data, BS);
        }
    }
    z.file.p[at + 12 + 50] ^= 0x40;
    path = fmt_test_write(t, "crc.zdmp", z.file.p, z.file.len);
    bs = open_zdmp(t, path, 0);
    if (!bs)
        fail_msg("open: %s", r2d_errmsg(t->ctx));
    assert_int_not_equal(r2d_bytesrc_read(t->ctx, bs, 70 * BS + 10, buf, sizeof(buf), "test"), 0);
    assert_msg_has(t->ctx, path);
    assert_msg_has(t->ctx, "block 70: CRC-32 mismatch");
    /* The first MiB still reads, after the failure too (the decoder restarts). */
    assert_int_equal(r2d_bytesrc_read(t->ctx, bs, 63 * BS, buf, sizeof(buf), "test"), 0);
    assert_memory_equal(buf, z.expect + 63 * BS, sizeof(buf));
    assert_int_equal(r2d_bytesrc_read(t->ctx, bs, 5 * BS + 7, buf, sizeof(buf), "test"), 0);
    assert_memory_equal(buf, z.expect + 5 * BS + 7, sizeof(buf));
    assert_int_not_equal(r2d_bytesrc_read(t->ctx, bs, 79 * BS, buf, sizeof(buf), "test"), 0);
    r2d_bytesrc_close(bs);
    assert_null(open_zdmp(t, path, 1));
    assert_msg_has(t->ctx, "block 70: CRC-32 mismatch");
    free(z.file.p);
    free(z.expect);
}

/*
 * The index bound: 900000 blocks of 4 KiB (3.4 GiB decoded from 13 MiB), each an LZNT1 chunk of one byte, need
 * more restart points than the zstream keeps (32 MiB of them, about 839000): it drops every other one, and
 * reads just past a dropped point decode one block more, with the same bytes.
 */
static void
many_blocks_thin_the_index(void **state)
{
    struct fmt_test *t = *state;
    const unsigned nb = 900000, bs = 4096;
    const size_t len = 0x1000 + (size_t)nb * 15;
    uint8_t *f = calloc(1, len), buf[8];
    struct r2d_bytesrc *b;
    const char *how;
    unsigned long points = 0;

    assert_non_null(f);
    memcpy(f, "ZDMP", 4);
    f[5] = 1;
    for (int i = 0; i < 8; i++)
        f[8 + i] = (uint8_t)(((uint64_t)nb * bs) >> (8 * i));
    f[17] = bs >> 8;
    f[20] = 1;
    f[22] = 2;
    for (unsigned i = 0; i < nb; i++) {
        uint8_t *h = f + 0x1000 + (size_t)i * 15;
        const uint8_t chunk[3] = {0, 0x30, (uint8_t)(i % 251)}; /* a stored chunk of one byte */
        const uint32_t crc = (uint32_t)crc32(0, chunk, 3);

        memcpy(h, "ZBLK", 4);
        h[4] = 3;
        for (int k = 0; k < 4; k++)
            h[8 + k] = (uint8_t)(crc >> (8 * k));
        memcpy(h + 12, chunk, 3);
    }
    b = open_zdmp(t, fmt_test_write(t, "many.zdmp", f, len), 0);
    if (!b)
        fail_msg("open: %s", r2d_errmsg(t->ctx));
    how = r2d_bytesrc_how(b);
    assert_non_null(strstr(how, "900000 blocks of 4 KiB"));
    assert_non_null(strstr(how, "restart points"));
    points = strtoul(strrchr(how, ',') + 1, NULL, 10);
    assert_true(points > 300000 && points < 600000);
    for (unsigned i = nb - 1; i > 0; i = i * 7 / 8) {
        assert_int_equal(r2d_bytesrc_read(t->ctx, b, (uint64_t)i * bs - 4, buf, 8, "test"), 0);
        assert_int_equal(buf[3], 0);
        assert_int_equal(buf[4], i % 251);
        assert_int_equal(buf[5], 0);
    }
    r2d_bytesrc_close(b);
    free(f);
}

static void
probe_wants_the_magic_and_a_small_version(void **state)
{
    uint8_t h[24] = {'Z', 'D', 'M', 'P', 0, 1, 0, 0};
    const char *why = NULL;

    (void)state;
    assert_string_equal(r2d_container_probe(h, sizeof(h), 1 << 20, &why)->name, "zdmp");
    assert_null(r2d_container_probe(h, 23, 1 << 20, &why)); /* the header cut short */
    h[7] = 1;                                                 /* version 0x01000100 */
    assert_null(r2d_container_probe(h, sizeof(h), 1 << 20, &why));
    h[7] = 0;
    h[0] = 'z';
    assert_null(r2d_container_probe(h, sizeof(h), 1 << 20, &why));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_kind_of_block_reads_back, fmt_test_setup, fmt_test_teardown),
        cmocka_unit_test_setup_teardown(a_damaged_block_fails_its_reads, fmt_test_setup, fmt_test_teardown),
        cmocka_unit_test_setup_teardown(many_blocks_thin_the_index, fmt_test_setup, fmt_test_teardown),
        cmocka_unit_test(probe_wants_the_magic_and_a_small_version),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
