/* SPDX-License-Identifier: MIT */
/* The container kinds and their probes, for the list in container.c and the kinds' own files. */
#ifndef R2D_CONTAINERS_CONTAINER_KINDS_H
#define R2D_CONTAINERS_CONTAINER_KINDS_H

#include "container.h"

#define R2D_SKIPPABLE_MAGIC 0x184D2A50u  /* zstd and LZ4 skippable frames: 0x184D2A50-0x184D2A5F */
#define R2D_ZSTD_MAGIC 0xFD2FB528u       /* RFC 8878 */
#define R2D_LZ4_MAGIC 0x184D2204u        /* LZ4 frame format */
#define R2D_LZ4_LEGACY_MAGIC 0x184C2102u /* lz4 -l */

extern const struct r2d_container_kind r2d_container_gzip;
extern const struct r2d_container_kind r2d_container_xz;
extern const struct r2d_container_kind r2d_container_zstd;
extern const struct r2d_container_kind r2d_container_lz4;
extern const struct r2d_container_kind r2d_container_zip;
extern const struct r2d_container_kind r2d_container_ewf;
extern const struct r2d_container_kind r2d_container_zdmp;

int r2d_probe_gzip(const uint8_t *head, size_t len, uint64_t size, const char **why);
int r2d_probe_xz(const uint8_t *head, size_t len, uint64_t size, const char **why);
int r2d_probe_zstd(const uint8_t *head, size_t len, uint64_t size, const char **why);
int r2d_probe_lz4(const uint8_t *head, size_t len, uint64_t size, const char **why);
int r2d_probe_zip(const uint8_t *head, size_t len, uint64_t size, const char **why);
int r2d_probe_ewf(const uint8_t *head, size_t len, uint64_t size, const char **why);
int r2d_probe_zdmp(const uint8_t *head, size_t len, uint64_t size, const char **why);

/* A kind whose library this build lacks: probes still claim the file, and open says what is missing. */
int r2d_container_unavailable(struct r2d_ctx *ctx, struct r2d_bytesrc *below, const char *kind,
                              const char *library, const char *option);

#endif
