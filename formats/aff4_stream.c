/* SPDX-License-Identifier: MIT */
/*
 * An AFF4 ImageStream: the stream cut in chunks of aff4:chunkSize bytes, each compressed alone, gathered
 * aff4:chunksInSegment at a time into bevies (ZIP members "<stream>/00000000", "<stream>/00000001", ...)
 * whose index members say where each chunk lies. All indexes are read and checked at open; chunks are
 * decoded on demand through a small direct-mapped cache, or straight into the caller's buffer for whole
 * chunks, half of a long read by a second thread. Facts: docs/formats/aff4.md A4-A6.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aff4.h"
#include "bytes.h"
#include "bytesrc.h"
#include "decode_helper.h"
#include "zip_archive.h"

#define AFF4_CACHE_BYTES (8u << 20) /* decoded chunks kept */
#define AFF4_CACHE_MIN 2u
#define AFF4_CACHE_MAX 64u
#define AFF4_INDEX_STD 12u   /* u64 offset, u32 length */
#define AFF4_PARALLEL_MIN 8u /* whole chunks in one read before the helper takes half */

struct r2d_aff4_stream {
    const struct r2d_bytesrc *in;
    char *urn;
    uint64_t size, chunk_size, nchunks;
    enum r2d_aff4_codec codec;
    int legacy;
    uint64_t *coff; /* each chunk's compressed bytes: file offset ... */
    uint32_t *clen; /* ... and length */
    uint8_t *cbuf;  /* one chunk's compressed bytes */
    size_t cmax;
    uint8_t *cache; /* nslots decoded chunks */
    uint64_t *slot_chunk;
    unsigned nslots;
    uint8_t *wcbuf;                  /* the helper thread's compressed chunk */
    struct r2d_decode_helper helper; /* decodes the second half of long reads (over a plain file) */
};

int
r2d_aff4_bevy_index(struct r2d_ctx *ctx, const char *what, const uint8_t *idx, size_t len, int legacy,
                    uint64_t bevy_size, uint64_t want, uint64_t max_len, uint64_t *off, uint32_t *clen)
{
    const size_t esz = legacy ? 4 : AFF4_INDEX_STD;
    const uint64_t n = len / esz;
    /* Evimetry's pre-standard indexes leave out the first chunk's offset 0 (pyaff4 notes both forms) */
    const int implicit0 = legacy && n > 0 && r2d_le32(idx) != 0;
    const uint64_t have = n + (uint64_t)implicit0;

    R2D_CHECK(len % esz != 0, ctx, R2D_EFORMAT, "%s: %zu bytes is not a whole number of %zu-byte entries",
              what, len, esz);
    R2D_CHECK(have < want, ctx, R2D_EFORMAT, "%s: %" PRIu64 " entries for the %" PRIu64 " chunks of the bevy",
              what, have, want);
    for (uint64_t i = 0; i < want; i++) {
        uint64_t o, l;

        if (!legacy) {
            o = r2d_le64(idx + i * esz);
            l = r2d_le32(idx + i * esz + 8);
        } else {
            const uint64_t k = i - (uint64_t)implicit0;

            o = i == 0 && implicit0 ? 0 : r2d_le32(idx + k * 4);
            l = (k + 1 < n ? r2d_le32(idx + (k + 1) * 4) : bevy_size) - o; /* wraps when offsets go back */
        }
        R2D_CHECK(o > bevy_size || l > bevy_size - o, ctx, R2D_EFORMAT,
                  "%s: chunk %" PRIu64 " at 0x%" PRIx64 " (0x%" PRIx64
                  " bytes) runs past the bevy's 0x%" PRIx64 " bytes",
                  what, i, o, l, bevy_size);
        R2D_CHECK(l == 0 || l > max_len, ctx, R2D_EFORMAT,
                  "%s: chunk %" PRIu64 " is 0x%" PRIx64 " bytes long (a chunk is at most 0x%" PRIx64 ")",
                  what, i, l, max_len);
        off[i] = o;
        clen[i] = (uint32_t)l;
    }
    return 0;
}

/* Bevy b: its data member (stored: chunks are read in place) and its index, standard or legacy. */
static int
stream_bevy(struct r2d_ctx *ctx, const struct r2d_zip *z, struct r2d_aff4_stream *s, const char *member,
            uint64_t b, uint64_t want, uint64_t first)
{
    const char *file = r2d_bytesrc_name(s->in);
    struct r2d_zip_member data, idx;
    char name[R2D_AFF4_TERM_MAX + 32], what[R2D_AFF4_TERM_MAX + 64];
    uint8_t *buf = NULL;
    int rc;

    snprintf(name, sizeof(name), "%s/%08" PRIu64, member, b);
    rc = r2d_zip_member_named(ctx, z, name, &data);
    R2D_CHECK(!rc && data.method != ZIP_CM_STORE, ctx, R2D_EUNSUPPORTED,
              "%s: bevy %s is compressed in the ZIP (method %u): only stored bevies are read", file, name,
              data.method);
    snprintf(name, sizeof(name), "%s/%08" PRIu64 "%s", member, b, s->legacy ? "/index" : ".index");
    if (!rc)
        rc = r2d_zip_member_named(ctx, z, name, &idx);
    if (!rc)
        rc = r2d_zip_read_member(ctx, z, &idx, (want + 1) * AFF4_INDEX_STD + 64, &buf);
    snprintf(what, sizeof(what), "%s: bevy index %s", file, name);
    if (!rc)
        rc = r2d_aff4_bevy_index(ctx, what, buf, (size_t)idx.size, s->legacy, data.size, want, s->cmax,
                                 s->coff + first, s->clen + first);
    for (uint64_t i = 0; !rc && i < want; i++)
        s->coff[first + i] += data.data_off;
    free(buf);
    return rc;
}

static int
stream_check_desc(struct r2d_ctx *ctx, const char *file, const struct r2d_aff4_stream_desc *d)
{
    R2D_CHECK(d->chunk_size < 512 || d->chunk_size > R2D_AFF4_CHUNK_MAX, ctx, R2D_EUNSUPPORTED,
              "%s: <%s>: chunk size 0x%" PRIx64 " outside the 512 bytes to 4 MiB read", file, d->urn,
              d->chunk_size);
    R2D_CHECK(d->per_bevy == 0 || d->per_bevy > R2D_AFF4_PER_BEVY_MAX, ctx, R2D_EUNSUPPORTED,
              "%s: <%s>: %" PRIu64 " chunks per bevy (1 to %u are read)", file, d->urn, d->per_bevy,
              R2D_AFF4_PER_BEVY_MAX);
    R2D_CHECK(d->size / d->chunk_size >= R2D_AFF4_CHUNKS_MAX, ctx, R2D_EUNSUPPORTED,
              "%s: <%s>: 0x%" PRIx64 " bytes in chunks of 0x%" PRIx64 ": more than %llu chunks", file, d->urn,
              d->size, d->chunk_size, R2D_AFF4_CHUNKS_MAX);
    return 0;
}

static int
stream_alloc(struct r2d_ctx *ctx, struct r2d_aff4_stream *s, const struct r2d_aff4_stream_desc *d)
{
    s->chunk_size = d->chunk_size;
    s->size = d->size;
    s->codec = d->codec;
    s->nchunks = (d->size + d->chunk_size - 1) / d->chunk_size;
    /* the worst case of every codec (LZ4, snappy, zlib on incompressible data) is well below a quarter more
     */
    s->cmax = (size_t)d->chunk_size + d->chunk_size / 4 + 1024;
    s->nslots = (unsigned)(AFF4_CACHE_BYTES / d->chunk_size);
    s->nslots = s->nslots < AFF4_CACHE_MIN   ? AFF4_CACHE_MIN
                : s->nslots > AFF4_CACHE_MAX ? AFF4_CACHE_MAX
                                             : s->nslots;
    s->urn = strdup(d->urn);
    s->coff = malloc((size_t)(s->nchunks ? s->nchunks : 1) * sizeof(*s->coff));
    s->clen = malloc((size_t)(s->nchunks ? s->nchunks : 1) * sizeof(*s->clen));
    s->cbuf = malloc(s->cmax);
    s->cache = malloc((size_t)s->nslots * d->chunk_size);
    s->slot_chunk = malloc(s->nslots * sizeof(*s->slot_chunk));
    R2D_CHECK(!s->urn || !s->coff || !s->clen || !s->cbuf || !s->cache || !s->slot_chunk, ctx, R2D_ENOMEM,
              "out of memory for the index of <%s> (%" PRIu64 " chunks)", d->urn, s->nchunks);
    for (unsigned i = 0; i < s->nslots; i++)
        s->slot_chunk[i] = UINT64_MAX;
    return 0;
}

int
r2d_aff4_stream_open(struct r2d_ctx *ctx, const struct r2d_zip *z, const struct r2d_bytesrc *in,
                     const struct r2d_aff4_stream_desc *d, struct r2d_aff4_stream **out)
{
    struct r2d_aff4_stream *s;
    char name[R2D_AFF4_TERM_MAX + 32];
    int rc = stream_check_desc(ctx, r2d_bytesrc_name(in), d);

    *out = NULL;
    if (rc)
        return rc;
    /* every chunk takes at least 4 bytes of index and 1 of data: a size the volume cannot hold is a lie,
     * refused before the index is allocated */
    R2D_CHECK((d->size + d->chunk_size - 1) / d->chunk_size > r2d_bytesrc_size(in) / 4, ctx, R2D_EFORMAT,
              "%s: <%s> declares 0x%" PRIx64 " bytes in chunks of 0x%" PRIx64
              ": more chunks than the volume's "
              "0x%" PRIx64 " bytes can hold",
              r2d_bytesrc_name(in), d->urn, d->size, d->chunk_size, r2d_bytesrc_size(in));
    R2D_CHECK(!(s = calloc(1, sizeof(*s))), ctx, R2D_ENOMEM, "out of memory");
    s->in = in;
    rc = stream_alloc(ctx, s, d);
    /* The standard's "<bevy>.index", or the pre-standard "<bevy>/index" of Rekall-era writers */
    snprintf(name, sizeof(name), "%s/%08u/index", d->member, 0u);
    s->legacy = !rc && s->nchunks && zip_name_locate(r2d_zip_handle(z), name, ZIP_FL_ENC_RAW) >= 0;
    for (uint64_t b = 0, first = 0; !rc && first < s->nchunks; b++, first += d->per_bevy) {
        const uint64_t want = s->nchunks - first < d->per_bevy ? s->nchunks - first : d->per_bevy;

        rc = r2d_cancelled(ctx) ? r2d_err(ctx, R2D_ECANCELED, "cancelled while reading bevy indexes")
                                : stream_bevy(ctx, z, s, d->member, b, want, first);
    }
    if (rc) {
        r2d_aff4_stream_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/*
 * Chunk k into dst (a chunk's room): its compressed bytes read into cbuf, or a stored chunk read straight
 * into dst. The decoded length must reach what the stream still holds from the chunk on.
 */
static int
stream_decode(struct r2d_ctx *ctx, const struct r2d_aff4_stream *s, uint8_t *cbuf, uint64_t k, uint8_t *dst)
{
    const uint64_t expect =
        s->size - k * s->chunk_size < s->chunk_size ? s->size - k * s->chunk_size : s->chunk_size;
    char what[R2D_AFF4_TERM_MAX + 128];
    size_t got = 0;
    int rc;

    /* A chunk as long as aff4:chunkSize is stored as is, whatever the codec (the standard's rule) */
    if (s->clen[k] == s->chunk_size)
        return r2d_bytesrc_read(ctx, s->in, s->coff[k], dst, s->chunk_size, "AFF4 chunk");
    rc = r2d_bytesrc_read(ctx, s->in, s->coff[k], cbuf, s->clen[k], "AFF4 chunk");
    if (rc)
        return rc;
    snprintf(what, sizeof(what), "%s: offset 0x%" PRIx64 ": chunk %" PRIu64 " of <%s>",
             r2d_bytesrc_name(s->in), s->coff[k], k, s->urn);
    rc = r2d_aff4_decode(ctx, what, s->codec, cbuf, s->clen[k], dst, s->chunk_size, &got);
    /* c-aff4 stores a short last chunk as is too when it does not compress */
    if (rc == R2D_EFORMAT && s->clen[k] == expect && k + 1 == s->nchunks) {
        memcpy(dst, cbuf, expect);
        got = expect;
        rc = 0;
    }
    R2D_CHECK(!rc && got < expect, ctx, R2D_EFORMAT, "%s decodes to 0x%zx bytes, 0x%" PRIx64 " expected",
              what, got, expect);
    return rc;
}

/* Chunk k decoded, through the cache. */
static int
stream_chunk(struct r2d_ctx *ctx, struct r2d_aff4_stream *s, uint64_t k, const uint8_t **out)
{
    const unsigned slot = (unsigned)(k % s->nslots);
    uint8_t *dst = s->cache + (size_t)slot * s->chunk_size;
    int rc;

    *out = dst;
    if (s->slot_chunk[slot] == k)
        return 0;
    s->slot_chunk[slot] = UINT64_MAX;
    rc = stream_decode(ctx, s, s->cbuf, k, dst);
    if (!rc)
        s->slot_chunk[slot] = k;
    return rc;
}

/* Whole chunks [first, first + count) into dst, in order. */
static int
stream_decode_range(struct r2d_ctx *ctx, void *owner, void *cbuf, uint64_t first, uint64_t count, uint8_t *dst)
{
    const struct r2d_aff4_stream *s = owner;
    int rc = 0;

    for (uint64_t i = 0; !rc && i < count; i++)
        rc = stream_decode(ctx, s, cbuf, first + i, dst + i * s->chunk_size);
    return rc;
}

/*
 * Whole chunks: long ranges split between this thread (first half) and the helper (second half). Only over a
 * plain file, whose reads (pread) may run in two threads at once; a decoding container below keeps caches.
 */
static int
stream_decode_chunks(struct r2d_ctx *ctx, struct r2d_aff4_stream *s, uint64_t first, uint64_t count,
                     uint8_t *dst)
{
    const uint64_t mine = count / 2;

    if (count < AFF4_PARALLEL_MIN || r2d_bytesrc_fd(s->in) < 0 || (!s->wcbuf && !(s->wcbuf = malloc(s->cmax))))
        return stream_decode_range(ctx, s, s->cbuf, first, count, dst);
    if (!s->helper.decode)
        r2d_decode_helper_init(&s->helper, stream_decode_range, s, s->wcbuf);
    return r2d_decode_helper_split(ctx, &s->helper, s->cbuf, first, count, mine, dst, dst + mine * s->chunk_size);
}

int
r2d_aff4_stream_read(struct r2d_ctx *ctx, struct r2d_aff4_stream *s, uint64_t off, void *buf, size_t len)
{
    uint8_t *p = buf;

    R2D_CHECK(off > s->size || len > s->size - off, ctx, R2D_ETRUNC,
              "%s: read of 0x%zx bytes at 0x%" PRIx64 " past the end of <%s> (0x%" PRIx64 " bytes)",
              r2d_bytesrc_name(s->in), len, off, s->urn, s->size);
    while (len) {
        const uint64_t k = off / s->chunk_size, in = off % s->chunk_size;
        const size_t n = s->chunk_size - in < len ? (size_t)(s->chunk_size - in) : len;
        /* whole chunks, the stream's last one aside (it may be short): straight into the caller's buffer */
        const uint64_t whole =
            in ? 0 : (len / s->chunk_size < s->nchunks - 1 - k ? len / s->chunk_size : s->nchunks - 1 - k);
        const uint8_t *c;
        int rc;

        if (whole) {
            rc = stream_decode_chunks(ctx, s, k, whole, p);
            if (rc)
                return rc;
            p += whole * s->chunk_size;
            off += whole * s->chunk_size;
            len -= (size_t)(whole * s->chunk_size);
            continue;
        }
        rc = stream_chunk(ctx, s, k, &c);
        if (rc)
            return rc;
        memcpy(p, c + in, n);
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

uint64_t
r2d_aff4_stream_size(const struct r2d_aff4_stream *s)
{
    return s->size;
}

enum r2d_aff4_codec
r2d_aff4_stream_codec(const struct r2d_aff4_stream *s)
{
    return s->codec;
}

const char *
r2d_aff4_stream_index_kind(const struct r2d_aff4_stream *s)
{
    return s->legacy ? "pre-standard (u32 offsets in <bevy>/index)"
                     : "standard (u64 offset, u32 length in <bevy>.index)";
}

void
r2d_aff4_stream_free(struct r2d_aff4_stream *s)
{
    if (!s)
        return;
    r2d_decode_helper_stop(&s->helper);
    free(s->wcbuf);
    free(s->urn);
    free(s->coff);
    free(s->clen);
    free(s->cbuf);
    free(s->cache);
    free(s->slot_chunk);
    free(s);
}
