/* SPDX-License-Identifier: MIT */
/*
 * Writing an output file safely: a temporary file beside the target, hashed while written, renamed into
 * place only when complete, removed on any failure. An existing target is replaced only with force.
 */
#ifndef RAW2DMP_OUTPUT_H
#define RAW2DMP_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "digests.h"
#include "raw2dmp/types.h"

struct r2d_output;

/* flags of r2d_output_open. */
/* Replace an existing target (1, so that a caller's boolean "force" is this flag). */
#define R2D_OUTPUT_FORCE 1u
/*
 * Do not make the output durable: no fsync of the file or its directory, no write-behind. The file is
 * still written to a temporary and renamed into place when complete, but a crash of the host before the
 * kernel wrote it back can leave a complete-looking file with stale or zero blocks (--no-sync).
 */
#define R2D_OUTPUT_NO_SYNC 2u

/**
 * Create "<dir>/.<name>.XXXXXX.part" for path (O_EXCL, mode 0640 minus the umask: memory holds secrets;
 * read-only evidence modes are left to the user). Fails with R2D_EEXIST when path exists and flags lack
 * R2D_OUTPUT_FORCE (checked now and again at commit, where an output that appeared meanwhile is never
 * replaced), and with R2D_EINVAL when path is a directory or flags has an unknown bit. hash (R2D_HASH_* bits)
 * selects the digests computed over every byte written; an unknown bit is R2D_EINVAL.
 */
int r2d_output_open(struct r2d_ctx *ctx, const char *path, unsigned flags, unsigned hash,
                    struct r2d_output **out);
/**
 * Also compute the same digests of the source file fd, whose first size bytes they cover (it must be
 * called before anything is written, and only with a hash). With follow, the digest is made from the bytes
 * that r2d_output_copy reads from fd (each is read once for both digests); what the copies skip (headers,
 * padding, patched pages, bytes read by other means) is read separately, when the copies pass it and at
 * the end. Without follow (the caller decodes the file rather than copying slices of it) a thread reads the
 * whole file while the output is written. A failure to read the source is not an error of the output: it
 * shows as missing digests with their reason (r2d_output_source_digest).
 */
int r2d_output_hash_source(struct r2d_ctx *ctx, struct r2d_output *o, int fd, uint64_t size, int follow);
/**
 * Once everything is written, before commit: wait for the source digests and copy them as hex to hex, or
 * all "" and the reason they are missing to why.
 */
void r2d_output_source_digest(struct r2d_output *o, struct r2d_digest_hex *hex, char *why, size_t why_len);
/**
 * Append len bytes (looping on short writes, at most 1 GiB per call). ENOSPC/EFBIG/EDQUOT become R2D_ENOSPC
 * ("<path>: offset 0x..: disk full while writing: <strerror>"); a set cancel flag R2D_ECANCELED.
 */
int r2d_output_write(struct r2d_ctx *ctx, struct r2d_output *o, const void *buf, size_t len);
/**
 * Append len bytes read from in_fd at in_off. Holes of the input (SEEK_DATA/SEEK_HOLE) are not read: they
 * become holes of the output (and are hashed as zeros). Data is copied with copy_file_range when no hash is
 * computed (it never passes through user space), else read into buffers that a second thread hashes while
 * the next ones are read and written. Small copies without a hash are gathered (read a window ahead, written
 * later with one call): in_fd must stay open on the same file until the output is finished, as what was
 * learnt of its holes and read of it is kept.
 */
int r2d_output_copy(struct r2d_ctx *ctx, struct r2d_output *o, int in_fd, const char *in_path,
                            uint64_t in_off, uint64_t len);
/**
 * Append len zero bytes without writing them: the file gets a hole there (extended at commit when it ends
 * in one); hashed as zeros. A set cancel flag gives R2D_ECANCELED.
 */
int r2d_output_zero(struct r2d_ctx *ctx, struct r2d_output *o, uint64_t len);
/**
 * Overwrite len bytes at offset off of what was already written. Refused (R2D_EINVAL) when hashing, since
 * the streamed digest would no longer match the file.
 */
int r2d_output_pwrite(struct r2d_ctx *ctx, struct r2d_output *o, uint64_t off, const void *buf,
                              size_t len);
uint64_t r2d_output_size(const struct r2d_output *o);
/**
 * Complete the temporary without putting it in place: final digests, trailing hole, fsync (unless
 * R2D_OUTPUT_NO_SYNC), close. Nothing
 * can be written after it; then r2d_output_commit (or r2d_output_commit_pair) or r2d_output_abort. The hex
 * digests ("" for those not computed) are copied to digests (may be NULL). A second call only copies the
 * digests. On failure o is left for r2d_output_abort.
 */
int r2d_output_finish(struct r2d_ctx *ctx, struct r2d_output *o, struct r2d_digest_hex *digests);
/**
 * Finish (unless done), rename into place, fsync the directory (unless R2D_OUTPUT_NO_SYNC), free. On success
 * the hex digests are copied to digests as by r2d_output_finish. o is freed in every case: on failure the
 * temporary is removed and nothing is left at path. Note: the writer writes the header first and never
 * rewrites it.
 */
int r2d_output_commit(struct r2d_ctx *ctx, struct r2d_output *o, struct r2d_digest_hex *digests);
/**
 * Commit two outputs as one (a dump and the report that describes it): both are finished before either is
 * renamed, then first is put in place, then second; when second cannot be, first is removed again (only
 * while its name still holds this file), so both or neither are left. *failed (may be NULL) is 0, or 1 or
 * 2 for the output whose step failed (its message is in ctx). Both are freed in every case. Caveat: with
 * force, a file that first replaced stays replaced even when first is removed again.
 */
int r2d_output_commit_pair(struct r2d_ctx *ctx, struct r2d_output *first, struct r2d_output *second,
                           int *failed);
/** Remove the temporary file and free; NULL is a no-op. Keeps the context's error message. */
void r2d_output_abort(struct r2d_output *o);

#endif
