/* SPDX-License-Identifier: MIT */
/* The list of container kinds, their probes (pure: the kinds without their library keep them) and unwrapping.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "aff4_probe.h"
#include "bytes.h"
#include "container.h"
#include "container_kinds.h"

const struct r2d_container_kind *const r2d_containers[] = {
    &r2d_container_ewf,
    &r2d_container_zip,
    &r2d_container_gzip,
    &r2d_container_xz,
    &r2d_container_zstd,
    &r2d_container_lz4,
    &r2d_container_zdmp,
    NULL,
};

/* --- probes --- */

int
r2d_probe_gzip(const uint8_t *head, size_t len, uint64_t size, const char **why)
{
    (void)size;
    /* RFC 1952: ID1 ID2 CM=8 (deflate), FLG with the reserved bits clear */
    if (len < 4 || head[0] != 0x1f || head[1] != 0x8b || head[2] != 8 || (head[3] & 0xe0))
        return 0;
    *why = "gzip magic 1f 8b, deflate";
    return 1;
}

int
r2d_probe_xz(const uint8_t *head, size_t len, uint64_t size, const char **why)
{
    static const uint8_t magic[6] = {0xfd, '7', 'z', 'X', 'Z', 0};

    (void)size;
    /* The stream header: magic, two flag bytes, their CRC-32 */
    if (len < 12 || memcmp(head, magic, 6) != 0 || crc32(0, head + 6, 2) != r2d_le32(head + 8))
        return 0;
    *why = "xz stream header (magic and flags CRC-32)";
    return 1;
}

/* Past the skippable frames (zstd and LZ4 share them) the head holds: the offset of the first other frame. */
static size_t
probe_skip_skippable(const uint8_t *head, size_t len)
{
    size_t at = 0;

    while (len - at >= 8 && (r2d_le32(head + at) & 0xfffffff0u) == R2D_SKIPPABLE_MAGIC) {
        const uint32_t n = r2d_le32(head + at + 4);

        if (n > len - at - 8)
            return len;
        at += 8 + n;
    }
    return at;
}

int
r2d_probe_zstd(const uint8_t *head, size_t len, uint64_t size, const char **why)
{
    const size_t at = probe_skip_skippable(head, len);

    (void)size;
    if (len - at < 5 || r2d_le32(head + at) != R2D_ZSTD_MAGIC || (head[at + 4] & 0x08))
        return 0; /* 0x08: Frame_Header_Descriptor's reserved bit */
    *why = at ? "zstd frame magic after skippable frames" : "zstd frame magic 28 b5 2f fd";
    return 1;
}

int
r2d_probe_lz4(const uint8_t *head, size_t len, uint64_t size, const char **why)
{
    const size_t at = probe_skip_skippable(head, len);

    (void)size;
    if (len - at >= 4 && r2d_le32(head + at) == R2D_LZ4_LEGACY_MAGIC) {
        *why = "LZ4 legacy frame magic 02 21 4c 18";
        return 1;
    }
    if (len - at < 5 || r2d_le32(head + at) != R2D_LZ4_MAGIC || (head[at + 4] >> 6) != 1)
        return 0; /* FLG's version bits are 01 */
    *why = "LZ4 frame magic 04 22 4d 18, version 01";
    return 1;
}

int
r2d_probe_zip(const uint8_t *head, size_t len, uint64_t size, const char **why)
{
    const char *aff4_why;

    (void)size;
    if (len < 4 || memcmp(head, "PK\3\4", 4) != 0)
        return 0;
    if (r2d_aff4_probe_head(head, len, &aff4_why))
        return 0; /* an AFF4 volume: the aff4 format reads the whole ZIP (formats/aff4.c) */
    *why = "ZIP local file header PK 03 04";
    return 1;
}

int
r2d_probe_ewf(const uint8_t *head, size_t len, uint64_t size, const char **why)
{
    static const uint8_t evf1[8] = {'E', 'V', 'F', 0x09, 0x0d, 0x0a, 0xff, 0x00};
    static const uint8_t evf2[8] = {'E', 'V', 'F', '2', 0x0d, 0x0a, 0x81, 0x00};

    (void)size;
    if (len >= 8 && memcmp(head, evf1, 8) == 0) {
        *why = "EWF segment signature EVF 09 0d 0a ff 00 (E01)";
        return 1;
    }
    if (len >= 8 && memcmp(head, evf2, 8) == 0) {
        *why = "EWF2 segment signature EVF2 0d 0a 81 00 (Ex01)";
        return 1;
    }
    return 0;
}

/* --- unwrapping --- */

const struct r2d_container_kind *
r2d_container_probe(const uint8_t *head, size_t len, uint64_t size, const char **why)
{
    for (size_t i = 0; r2d_containers[i]; i++)
        if (r2d_containers[i]->probe(head, len, size, why))
            return r2d_containers[i];
    return NULL;
}

/* The next layer over *bs, or 0 with *kind NULL when no container claims its head. */
static int
container_step(struct r2d_ctx *ctx, struct r2d_bytesrc **bs, const struct r2d_container_opts *opts, int depth,
               const struct r2d_container_kind **kind)
{
    uint8_t head[R2D_CONTAINER_PROBE_MAX];
    const uint64_t size = r2d_bytesrc_size(*bs);
    const size_t hlen = size < sizeof(head) ? (size_t)size : sizeof(head);
    const char *why = "";
    struct r2d_bytesrc *next;
    int rc = r2d_bytesrc_read(ctx, *bs, 0, head, hlen, "file header");

    *kind = NULL;
    if (rc)
        return rc;
    *kind = r2d_container_probe(head, hlen, size, &why);
    if (!*kind)
        return 0;
    R2D_CHECK(depth == R2D_CONTAINER_MAX_DEPTH, ctx, R2D_EUNSUPPORTED,
              "%s: %s inside %d other containers: more than %d containers deep", r2d_bytesrc_name(*bs),
              (*kind)->name, depth, R2D_CONTAINER_MAX_DEPTH);
    r2d_log(ctx, R2D_LOG_INFO, "%s: %s container (%s)", r2d_bytesrc_name(*bs), (*kind)->name, why);
    rc = (*kind)->open(ctx, *bs, opts, &next);
    *bs = rc ? NULL : next; /* the failed open closed it */
    return rc;
}

int
r2d_container_unwrap(struct r2d_ctx *ctx, struct r2d_bytesrc **bs, const struct r2d_container_opts *opts)
{
    struct r2d_container_opts o = *opts;
    const char *file = NULL;
    int zip_seen = 0, rc = 0;

    for (int depth = 0; !rc; depth++) {
        const struct r2d_container_kind *kind;

        rc = container_step(ctx, bs, &o, depth, &kind);
        if (rc || !kind)
            break;
        if (kind == &r2d_container_zip) {
            zip_seen = 1;
            o.member = NULL; /* --member names a member of the outermost ZIP */
        }
    }
    if (!rc && opts->member && !zip_seen) {
        file = r2d_bytesrc_name(r2d_bytesrc_base(*bs));
        rc = r2d_err(ctx, R2D_EINVAL, "%s: --member %s: the input is not a ZIP archive", file, opts->member);
    }
    if (rc) {
        r2d_bytesrc_close(*bs);
        *bs = NULL;
    }
    return rc;
}

void
r2d_container_stack(const struct r2d_bytesrc *top, char *buf, size_t len)
{
    const struct r2d_bytesrc *layer[R2D_CONTAINER_MAX_DEPTH + 1];
    size_t n = 0, at = 0;

    for (const struct r2d_bytesrc *b = top; r2d_bytesrc_below(b) && n < sizeof(layer) / sizeof(*layer);
         b = r2d_bytesrc_below(b))
        layer[n++] = b;
    buf[0] = '\0';
    while (n-- > 0 && at < len) {
        const int k = snprintf(buf + at, len - at, "%s%s", at ? " -> " : "", r2d_bytesrc_kind(layer[n]));

        at += k > 0 ? (size_t)k : 0;
    }
}

char *
r2d_container_name(const struct r2d_bytesrc *below, const char *what)
{
    const char *b = r2d_bytesrc_name(below);
    const size_t n = strlen(b) + strlen(what) + 3;
    char *s = malloc(n);

    if (s)
        snprintf(s, n, "%s[%s]", b, what);
    return s;
}

void
r2d_container_hex(const uint8_t *p, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[p[i] >> 4];
        hex[2 * i + 1] = digits[p[i] & 15];
    }
    hex[2 * n] = '\0';
}

int
r2d_container_unavailable(struct r2d_ctx *ctx, struct r2d_bytesrc *below, const char *kind,
                          const char *library, const char *option)
{
    const int rc = r2d_err(ctx, R2D_EUNSUPPORTED,
                           "%s: a %s container, but this build of raw2dmp has no %s support (%s; meson "
                           "option -D%s=enabled)",
                           r2d_bytesrc_name(below), kind, kind, library, option);

    r2d_bytesrc_close(below);
    return rc;
}
