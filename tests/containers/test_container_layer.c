/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the container layer (src/containers): the zstream's restart points, cache and thinning on a
 * codec made here; and each kind's index on inputs made with the codec libraries' own encoders (zlib,
 * liblzma, libzstd, liblz4, libzip): sequential and random reads equal the data, damage is an error naming
 * the file, probes answer for their magic only. The Debian command-line tools' output is checked end to end
 * by tests/cli/test_containers.py.
 */
#include "fmt_testutil.h"

#include <lz4frame.h>
#include <lzma.h>
#include <zip.h>
#include <zlib.h>
#include <zstd.h>

#include "container.h"
#include "container_kinds.h"
#include "inflate_index.h"
#include "zstream.h"

/* Test data at decoded offset k: runs of zeros, text and noise, so every codec has work to do. */
static uint8_t
pat(uint64_t k)
{
    const uint64_t page = k >> 12;

    if (page % 5 == 0)
        return 0;
    if (page % 5 == 1)
        return (uint8_t) "the quick brown fox jumps over the lazy dog "[k % 44];
    k = k * 0x9E3779B97F4A7C15ull;
    return (uint8_t)(k >> 56);
}

static uint8_t *
pattern(size_t n)
{
    uint8_t *p = malloc(n);

    assert_non_null(p);
    for (size_t k = 0; k < n; k++)
        p[k] = pat(k);
    return p;
}

/* Reads at many offsets, backwards and forwards, equal the pattern; then the whole stream in order. */
static void
check_reads(struct r2d_ctx *ctx, const struct r2d_bytesrc *bs, uint64_t size)
{
    uint8_t *buf = malloc(1 << 20);
    uint64_t seed = 7;

    assert_non_null(buf);
    assert_int_equal(r2d_bytesrc_size(bs), size);
    for (int i = 0; i < 300; i++) {
        uint64_t off;
        size_t len;

        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        off = (seed >> 17) % size;
        len = 1 + (size_t)((seed >> 45) % 70000);
        if (len > size - off)
            len = (size_t)(size - off);
        if (r2d_bytesrc_read(ctx, bs, off, buf, len, "test"))
            fail_msg("read 0x%" PRIx64 "+0x%zx: %s", off, len, r2d_errmsg(ctx));
        for (size_t k = 0; k < len; k++)
            if (buf[k] != pat(off + k))
                fail_msg("byte at 0x%" PRIx64 " (read at 0x%" PRIx64 ")", off + k, off);
    }
    for (uint64_t off = 0; off < size;) {
        const size_t len = size - off < (1 << 20) ? (size_t)(size - off) : (1 << 20);

        if (r2d_bytesrc_read(ctx, bs, off, buf, len, "test"))
            fail_msg("sequential read 0x%" PRIx64 ": %s", off, r2d_errmsg(ctx));
        for (size_t k = 0; k < len; k++)
            if (buf[k] != pat(off + k))
                fail_msg("sequential byte at 0x%" PRIx64, off + k);
        off += len;
    }
    free(buf);
}

/* Open path and unwrap it; the stack must be as named. */
static struct r2d_bytesrc *
open_unwrapped(struct fmt_test *t, const char *path, const char *stack, int verify)
{
    const struct r2d_container_opts opts = {.verify = verify};
    struct r2d_bytesrc *bs;
    char got[128];

    assert_int_equal(r2d_bytesrc_open_file(t->ctx, path, &bs), 0);
    if (r2d_container_unwrap(t->ctx, &bs, &opts))
        fail_msg("unwrap %s: %s", path, r2d_errmsg(t->ctx));
    r2d_container_stack(bs, got, sizeof(got));
    assert_string_equal(got, stack);
    assert_non_null(r2d_bytesrc_how(bs));
    assert_ptr_equal(r2d_bytesrc_base(bs), r2d_bytesrc_below(bs));
    return bs;
}

static int
open_fails(struct fmt_test *t, const char *path, int verify)
{
    const struct r2d_container_opts opts = {.verify = verify};
    struct r2d_bytesrc *bs;
    int rc;

    assert_int_equal(r2d_bytesrc_open_file(t->ctx, path, &bs), 0);
    rc = r2d_container_unwrap(t->ctx, &bs, &opts);
    assert_null(bs);
    assert_int_not_equal(rc, 0);
    assert_msg_has(t->ctx, path);
    return rc;
}

/* --- the zstream on a codec of its own --- */

struct fake {
    uint64_t pos;
    int restarts;
};

static int
fake_restart(struct r2d_ctx *ctx, void *codec, const struct r2d_zpoint *pt)
{
    struct fake *f = codec;

    (void)ctx;
    assert_int_equal(pt->in, pt->out * 2); /* the codec's own field comes back */
    f->pos = pt->out;
    f->restarts++;
    return 0;
}

static int
fake_decode(struct r2d_ctx *ctx, void *codec, uint8_t *dst, size_t n)
{
    struct fake *f = codec;

    (void)ctx;
    for (size_t k = 0; k < n; k++)
        dst[k] = pat(f->pos + k);
    f->pos += n;
    return 0;
}

static const struct r2d_zstream_ops fake_ops = {.restart = fake_restart, .decode = fake_decode};

static void
zstream_reads_restart_at_the_nearest_point(void **state)
{
    struct fmt_test *t = *state;
    struct fake f = {0};
    struct r2d_zstream *zs;
    uint8_t buf[100];
    const uint64_t size = 64u << 20;

    assert_int_equal(r2d_zstream_new(t->ctx, "fake", &fake_ops, &f, 4u << 20, &zs), 0);
    for (uint64_t out = 0; out < size; out += 1u << 20)
        if (r2d_zstream_point_due(zs, out))
            assert_int_equal(
                r2d_zstream_add_point(t->ctx, zs, &(struct r2d_zpoint){.out = out, .in = 2 * out}), 0);
    assert_int_equal(r2d_zstream_point_count(zs), 16);
    assert_int_not_equal(r2d_zstream_read(t->ctx, zs, 0, buf, 1), 0); /* no size yet */
    r2d_zstream_set_size(zs, size);
    assert_int_equal(r2d_zstream_read(t->ctx, zs, (40u << 20) + 5, buf, sizeof(buf)), 0);
    assert_int_equal(f.restarts, 1);
    for (size_t k = 0; k < sizeof(buf); k++)
        assert_int_equal(buf[k], pat((40u << 20) + 5 + k));
    /* the same chunk again: cached; the next chunk: the decoder goes on */
    assert_int_equal(r2d_zstream_read(t->ctx, zs, (40u << 20) + 999, buf, sizeof(buf)), 0);
    assert_int_equal(r2d_zstream_read(t->ctx, zs, (41u << 20) + 7, buf, sizeof(buf)), 0);
    assert_int_equal(f.restarts, 1);
    /* behind the decoder: a restart at the point below */
    assert_int_equal(r2d_zstream_read(t->ctx, zs, 3u << 20, buf, sizeof(buf)), 0);
    assert_int_equal(f.restarts, 2);
    assert_int_equal(f.pos, 4u << 20); /* one chunk decoded after the point at 0 */
    assert_int_not_equal(r2d_zstream_read(t->ctx, zs, size - 10, buf, sizeof(buf)), 0);
    assert_msg_has(t->ctx, "past the decoded data");
    r2d_zstream_free(zs);
}

static void
zstream_index_is_thinned_past_its_bound(void **state)
{
    struct fmt_test *t = *state;
    struct fake f = {0};
    struct r2d_zstream *zs;
    const size_t data = 1u << 20;
    uint8_t buf[16];
    uint64_t out = 0;

    assert_int_equal(r2d_zstream_new(t->ctx, "fake", &fake_ops, &f, 1u << 20, &zs), 0);
    for (int i = 0; i < 100; i++, out += 1u << 20) {
        struct r2d_zpoint pt = {.out = out, .in = 2 * out, .data = calloc(1, data), .data_len = data};

        if (i == 33)
            pt.flags = R2D_ZPOINT_PINNED; /* added whatever the spacing, as gzip members are */
        if (i == 33 || r2d_zstream_point_due(zs, out))
            assert_int_equal(r2d_zstream_add_point(t->ctx, zs, &pt), 0);
        else
            free(pt.data);
    }
    assert_true(r2d_zstream_index_bytes(zs) <= R2D_ZSTREAM_INDEX_MAX);
    assert_true(r2d_zstream_spacing(zs) > (1u << 20));
    assert_int_equal(r2d_zstream_point(zs, 0)->out, 0);
    for (size_t i = 1; i < r2d_zstream_point_count(zs); i++)
        assert_true(r2d_zstream_point(zs, i)->out > r2d_zstream_point(zs, i - 1)->out);
    {
        int pinned = 0;

        for (size_t i = 0; i < r2d_zstream_point_count(zs); i++)
            pinned |= r2d_zstream_point(zs, i)->out == (33u << 20);
        assert_true(pinned);
    }
    r2d_zstream_set_size(zs, out);
    assert_int_equal(r2d_zstream_read(t->ctx, zs, out - 16, buf, sizeof(buf)), 0);
    assert_int_equal(buf[15], pat(out - 1));
    r2d_zstream_free(zs);
}

/* --- gzip and raw deflate (zlib's encoder) --- */

static uint8_t *
deflate_buf(const uint8_t *in, size_t n, int wbits, size_t *out_len)
{
    z_stream zs = {0};
    uint8_t *out = malloc(compressBound(n) + 64);

    assert_non_null(out);
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)(compressBound(n) + 64);
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static void
gzip_members_read_back(void **state)
{
    struct fmt_test *t = *state;
    const size_t n = 12u << 20, half = 5u << 20;
    uint8_t *data = pattern(n), *a, *b, *both;
    size_t alen, blen;
    struct r2d_bytesrc *bs;

    a = deflate_buf(data, half, 31, &alen);
    b = deflate_buf(data + half, n - half, 31, &blen);
    both = malloc(alen + blen);
    assert_non_null(both);
    memcpy(both, a, alen);
    memcpy(both + alen, b, blen);
    bs = open_unwrapped(t, fmt_test_write(t, "m.gz", both, alen + blen), "gzip", 0);
    assert_true(r2d_bytesrc_note_count(bs) >= 1);
    check_reads(t->ctx, bs, n);
    r2d_bytesrc_close(bs);
    /* cut short, and a flipped byte in the second member */
    open_fails(t, fmt_test_write(t, "cut.gz", both, alen + blen - 50), 0);
    assert_msg_has(t->ctx, "gzip stream ends without its end marker");
    both[alen + blen / 2] ^= 0x40;
    open_fails(t, fmt_test_write(t, "bad.gz", both, alen + blen), 0);
    assert_msg_has(t->ctx, "compressed offset 0x");
    free(a);
    free(b);
    free(both);
    free(data);
}

static void
raw_deflate_index_checks_size_and_crc(void **state)
{
    struct fmt_test *t = *state;
    const size_t n = 9u << 20;
    uint8_t *data = pattern(n), *z;
    size_t zlen;
    struct r2d_bytesrc *in;
    struct r2d_inflate *inf;
    struct r2d_inflate_info info;
    struct r2d_inflate_params p = {.name = "member",
                                   .what = "deflate data",
                                   .wrap = R2D_INFLATE_RAW,
                                   .want_crc = 1,
                                   .spacing = 1u << 20};
    uint8_t buf[64];

    z = deflate_buf(data, n, -15, &zlen);
    assert_int_equal(r2d_bytesrc_open_file(t->ctx, fmt_test_write(t, "raw.deflate", z, zlen), &in), 0);
    p.in = in;
    p.in_end = zlen;
    p.max_out = n;
    assert_int_equal(r2d_inflate_open(t->ctx, &p, &inf), 0);
    r2d_inflate_get_info(inf, &info);
    assert_int_equal(info.out_size, n);
    assert_int_equal(info.crc, (uint32_t)crc32(0, data, (uInt)n));
    assert_true(info.points >= 2);
    assert_int_equal(r2d_inflate_read(t->ctx, inf, n - 64, buf, sizeof(buf)), 0);
    assert_memory_equal(buf, data + n - 64, sizeof(buf));
    assert_int_equal(r2d_inflate_read(t->ctx, inf, 12345, buf, sizeof(buf)), 0);
    assert_memory_equal(buf, data + 12345, sizeof(buf));
    r2d_inflate_free(inf);
    /* a declared size below the real one: the pass stops there */
    p.max_out = n - 1;
    assert_int_equal(r2d_inflate_open(t->ctx, &p, &inf), R2D_EFORMAT);
    assert_msg_has(t->ctx, "inflates to more than its declared");
    r2d_bytesrc_close(in);
    free(z);
    free(data);
}

/* --- xz (liblzma's multi-threaded encoder makes blocks) --- */

static uint8_t *
xz_buf(const uint8_t *in, size_t n, uint64_t block, size_t *out_len)
{
    lzma_stream s = LZMA_STREAM_INIT;
    lzma_mt mt = {.threads = 1, .block_size = block, .preset = 0, .check = LZMA_CHECK_CRC64};
    const size_t cap = lzma_stream_buffer_bound(n) + 4096;
    uint8_t *out = malloc(cap);

    assert_non_null(out);
    assert_int_equal(block ? lzma_stream_encoder_mt(&s, &mt) : lzma_easy_encoder(&s, 0, LZMA_CHECK_CRC32),
                     LZMA_OK);
    s.next_in = in;
    s.avail_in = n;
    s.next_out = out;
    s.avail_out = cap;
    assert_int_equal(lzma_code(&s, LZMA_FINISH), LZMA_STREAM_END);
    *out_len = s.total_out;
    lzma_end(&s);
    return out;
}

static void
xz_blocks_and_a_single_block(void **state)
{
    struct fmt_test *t = *state;
    const size_t n = 6u << 20;
    uint8_t *data = pattern(n), *x;
    size_t xlen;
    struct r2d_bytesrc *bs;

    x = xz_buf(data, n, 512u << 10, &xlen);
    bs = open_unwrapped(t, fmt_test_write(t, "m.xz", x, xlen), "xz", 1);
    assert_non_null(strstr(r2d_bytesrc_how(bs), "12 blocks"));
    check_reads(t->ctx, bs, n);
    r2d_bytesrc_close(bs);
    x[xlen / 2] ^= 0x10;
    open_fails(t, fmt_test_write(t, "bad.xz", x, xlen), 1);
    assert_msg_has(t->ctx, "xz block");
    open_fails(t, fmt_test_write(t, "cut.xz", x, xlen - 30), 0);
    free(x);
    x = xz_buf(data, 2u << 20, 0, &xlen);
    bs = open_unwrapped(t, fmt_test_write(t, "one.xz", x, xlen), "xz", 0);
    assert_non_null(strstr(r2d_bytesrc_how(bs), "one block"));
    check_reads(t->ctx, bs, 2u << 20);
    r2d_bytesrc_close(bs);
    free(x);
    free(data);
}

/* --- zstd: frames with and without content size, a skippable frame between them --- */

static size_t
zstd_stream_frame(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_inBuffer ib = {in, n, 0};
    ZSTD_outBuffer ob = {out, cap, 0};

    assert_non_null(c);
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    assert_int_equal(ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end), 0); /* size unknown: no content size */
    ZSTD_freeCCtx(c);
    return ob.pos;
}

static void
zstd_frames_read_back(void **state)
{
    struct fmt_test *t = *state;
    const size_t n = 10u << 20, a = 4u << 20;
    uint8_t *data = pattern(n), *z = malloc(ZSTD_compressBound(n) + 4096);
    size_t len;
    struct r2d_bytesrc *bs;
    static const uint8_t skip[12] = {0x5a, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4};

    assert_non_null(z);
    len = ZSTD_compress(z, ZSTD_compressBound(a), data, a, 3);
    assert_false(ZSTD_isError(len));
    memcpy(z + len, skip, sizeof(skip));
    len += sizeof(skip);
    len += zstd_stream_frame(data + a, n - a, z + len, ZSTD_compressBound(n));
    bs = open_unwrapped(t, fmt_test_write(t, "m.zst", z, len), "zstd", 1);
    assert_non_null(strstr(r2d_bytesrc_how(bs), "2 frames"));
    check_reads(t->ctx, bs, n);
    r2d_bytesrc_close(bs);
    open_fails(t, fmt_test_write(t, "cut.zst", z, len - 100), 0);
    z[len - 2000] ^= 0x21;
    open_fails(t, fmt_test_write(t, "bad.zst", z, len), 1);
    assert_msg_has(t->ctx, "zstd");
    free(z);
    free(data);
}

/* --- LZ4: independent and linked blocks --- */

static void
lz4_frames_read_back(void **state)
{
    struct fmt_test *t = *state;
    const size_t n = 6u << 20;
    uint8_t *data = pattern(n);
    const size_t cap = 2 * n + 65536;
    uint8_t *z = malloc(cap);
    struct r2d_bytesrc *bs;

    assert_non_null(z);
    for (int linked = 0; linked < 2; linked++) {
        LZ4F_preferences_t prefs = {
            .frameInfo = {.blockSizeID = LZ4F_max64KB,
                          .blockMode = linked ? LZ4F_blockLinked : LZ4F_blockIndependent,
                          .contentChecksumFlag = LZ4F_contentChecksumEnabled,
                          .blockChecksumFlag = LZ4F_blockChecksumEnabled,
                          .contentSize = n},
        };
        const size_t len = LZ4F_compressFrame(z, cap, data, n, &prefs);

        assert_false(LZ4F_isError(len));
        bs = open_unwrapped(t, fmt_test_write(t, "m.lz4", z, len), "lz4", 0);
        assert_non_null(strstr(r2d_bytesrc_how(bs), linked ? "linked" : "independent"));
        check_reads(t->ctx, bs, n);
        r2d_bytesrc_close(bs);
        z[len / 3] ^= 0x01;
        open_fails(t, fmt_test_write(t, "bad.lz4", z, len), 0);
        assert_msg_has(t->ctx, "LZ4");
    }
    free(z);
    free(data);
}

/* --- ZIP (libzip's writer): stored and deflated, and the choice of member --- */

static void
zip_write(const char *path, const uint8_t *data, size_t n, int stored, int extra_member)
{
    int err = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    zip_source_t *s;
    zip_int64_t i;

    assert_non_null(za);
    s = zip_source_buffer(za, data, n, 0);
    assert_non_null(s);
    i = zip_file_add(za, "memory.raw", s, 0);
    assert_true(i >= 0);
    assert_int_equal(zip_set_file_compression(za, (zip_uint64_t)i, stored ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 0),
                     0);
    if (extra_member) {
        s = zip_source_buffer(za, data, n, 0);
        assert_true(zip_file_add(za, "other.raw", s, 0) >= 0);
    }
    s = zip_source_buffer(za, "hello\n", 6, 0);
    assert_true(zip_file_add(za, "notes.txt", s, 0) >= 0);
    assert_int_equal(zip_close(za), 0);
}

static void
zip_members_read_back(void **state)
{
    struct fmt_test *t = *state;
    const size_t n = 5u << 20;
    uint8_t *data = pattern(n);
    char path[600];
    struct r2d_bytesrc *bs;
    struct r2d_container_opts opts = {0};

    for (int stored = 0; stored < 2; stored++) {
        snprintf(path, sizeof(path), "%s/m%d.zip", t->dir, stored);
        zip_write(path, data, n, stored, 0);
        bs = open_unwrapped(t, path, "zip", 1);
        assert_non_null(strstr(r2d_bytesrc_how(bs), stored ? "stored" : "deflate"));
        assert_int_equal(r2d_bytesrc_digest_count(bs), 1);
        assert_int_equal(r2d_bytesrc_digest(bs, 0)->state, R2D_DIGEST_MATCHED);
        check_reads(t->ctx, bs, n);
        r2d_bytesrc_close(bs);
    }
    snprintf(path, sizeof(path), "%s/two.zip", t->dir);
    zip_write(path, data, n, 1, 1);
    assert_int_equal(open_fails(t, path, 0), R2D_EINVAL);
    assert_msg_has(t->ctx, "--member");
    assert_msg_has(t->ctx, "other.raw");
    opts.member = "other.raw";
    assert_int_equal(r2d_bytesrc_open_file(t->ctx, path, &bs), 0);
    assert_int_equal(r2d_container_unwrap(t->ctx, &bs, &opts), 0);
    check_reads(t->ctx, bs, n);
    r2d_bytesrc_close(bs);
    free(data);
}

/* --- probes --- */

static void
probes_claim_their_magic_only(void **state)
{
    static const uint8_t gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0};
    static const uint8_t zst[] = {0x28, 0xb5, 0x2f, 0xfd, 0x24, 0, 0, 0};
    static const uint8_t lz4[] = {0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7};
    static const uint8_t skip_then_zst[] = {0x50, 0x2a, 0x4d, 0x18, 2,    0,    0,   0,
                                            9,    9,    0x28, 0xb5, 0x2f, 0xfd, 0x24};
    static const uint8_t e01[] = {'E', 'V', 'F', 0x09, 0x0d, 0x0a, 0xff, 0x00};
    static const uint8_t elf[] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
    const char *why = NULL;

    (void)state;
    assert_string_equal(r2d_container_probe(gz, sizeof(gz), 100, &why)->name, "gzip");
    assert_string_equal(r2d_container_probe(zst, sizeof(zst), 100, &why)->name, "zstd");
    assert_string_equal(r2d_container_probe(skip_then_zst, sizeof(skip_then_zst), 100, &why)->name, "zstd");
    assert_string_equal(r2d_container_probe(lz4, sizeof(lz4), 100, &why)->name, "lz4");
    assert_string_equal(r2d_container_probe((const uint8_t *)"PK\3\4", 4, 100, &why)->name, "zip");
    assert_string_equal(r2d_container_probe(e01, sizeof(e01), 100, &why)->name, "ewf");
    assert_null(r2d_container_probe(elf, sizeof(elf), 100, &why));
    assert_null(r2d_container_probe(gz, 2, 100, &why));
    assert_null(r2d_container_probe((const uint8_t *)"PAGEDU64", 8, 100, &why));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(zstream_reads_restart_at_the_nearest_point, fmt_test_setup,
                                        fmt_test_teardown),
        cmocka_unit_test_setup_teardown(zstream_index_is_thinned_past_its_bound, fmt_test_setup,
                                        fmt_test_teardown),
        cmocka_unit_test_setup_teardown(gzip_members_read_back, fmt_test_setup, fmt_test_teardown),
        cmocka_unit_test_setup_teardown(raw_deflate_index_checks_size_and_crc, fmt_test_setup,
                                        fmt_test_teardown),
        cmocka_unit_test_setup_teardown(xz_blocks_and_a_single_block, fmt_test_setup, fmt_test_teardown),
        cmocka_unit_test_setup_teardown(zstd_frames_read_back, fmt_test_setup, fmt_test_teardown),
        cmocka_unit_test_setup_teardown(lz4_frames_read_back, fmt_test_setup, fmt_test_teardown),
        cmocka_unit_test_setup_teardown(zip_members_read_back, fmt_test_setup, fmt_test_teardown),
        cmocka_unit_test(probes_claim_their_magic_only),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
