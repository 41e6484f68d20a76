/* SPDX-License-Identifier: MIT */
/*
 * The AFF4 reader's parts (docs/formats/aff4.md): the turtle subset its information.turtle is written in
 * (aff4_turtle.c), the ImageStream's chunks in bevies (aff4_stream.c), the Map from the memory image's
 * offsets to its target streams (aff4_map.c), and the volume that ties them to the image (aff4.c).
 */
#ifndef R2D_FORMATS_AFF4_H
#define R2D_FORMATS_AFF4_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define R2D_AFF4_NS "http://aff4.org/Schema#"
#define R2D_AFF4_LEGACY_NS "http://afflib.org/2009/aff4#"
#define R2D_RDF_TYPE "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
#define R2D_XSD_NS "http://www.w3.org/2001/XMLSchema#"

#define R2D_AFF4_TURTLE_MAX (16u << 20) /* information.turtle bytes read */
#define R2D_AFF4_TRIPLES_MAX (1u << 20)
#define R2D_AFF4_TERM_MAX 8192u /* the longest IRI or literal */

/* --- turtle (aff4_turtle.c) --- */

enum r2d_aff4_kind { R2D_AFF4_IRI, R2D_AFF4_LITERAL };

struct r2d_aff4_triple {
    char *s, *p, *o;         /* IRIs expanded; o is the literal's text when kind is R2D_AFF4_LITERAL */
    char *dtype;             /* a literal's datatype IRI (xsd:integer for bare numbers), or NULL */
    enum r2d_aff4_kind kind; /* of o */
};

struct r2d_aff4_graph {
    struct r2d_aff4_triple *t;
    size_t n, cap;
};

/**
 * Parse text (len bytes, NUL not needed) into g (zeroed by the caller, freed by it even on failure). The
 * subset: @prefix / PREFIX, IRIs, prefixed names, 'a', string literals ('...', "...", """...""") with
 * ^^datatype or @language, integers, true/false, ';' and ',' lists, '#' comments. Anything else (blank
 * nodes, collections, @base, decimals) is R2D_EFORMAT "<name>: line N: <what>"; so are more than
 * R2D_AFF4_TRIPLES_MAX triples or a term over R2D_AFF4_TERM_MAX bytes.
 */
int r2d_aff4_turtle_parse(struct r2d_ctx *ctx, const char *name, const char *text, size_t len,
                          struct r2d_aff4_graph *g);
void r2d_aff4_graph_free(struct r2d_aff4_graph *g);
/** The first triple at index >= *from with subject s (NULL: any) and predicate p; NULL when none. */
const struct r2d_aff4_triple *r2d_aff4_graph_next(const struct r2d_aff4_graph *g, const char *s,
                                                  const char *p, size_t *from);
/** The first object of (s, p): its text, or NULL. */
const char *r2d_aff4_graph_get(const struct r2d_aff4_graph *g, const char *s, const char *p);
/** Whether (s, p, o) is in the graph (o compared as text, whatever its kind). */
int r2d_aff4_graph_has(const struct r2d_aff4_graph *g, const char *s, const char *p, const char *o);
/**
 * The first object of (s, p) as an unsigned integer (decimal, or 0x hex); 0 with *found 0 when absent,
 * R2D_EFORMAT naming where when present but not a number.
 */
int r2d_aff4_graph_u64(struct r2d_ctx *ctx, const char *where, const struct r2d_aff4_graph *g, const char *s,
                       const char *p, uint64_t *v, int *found);

/* --- stored hashes (aff4_hash.c; docs/formats/aff4.md H1-H6) --- */

#define R2D_AFF4_HASHES_MAX 32u /* stored hashes read per object */

enum r2d_aff4_hash_cover {
    R2D_AFF4_HASH_LINEAR,  /* aff4:hash: the object's bytes, 0 to aff4:size */
    R2D_AFF4_HASH_BLOCKS,  /* a hash of per-chunk block hashes (blockMapHash, blockHashesHash) */
    R2D_AFF4_HASH_MEMBERS, /* a hash of the map's own members (mapPointHash, mapIdxHash, ...) */
};

struct r2d_aff4_hash {
    char pred[24]; /* "aff4:hash", "afflib:blockHashesHash" ... */
    enum r2d_aff4_hash_cover cover;
    char alg[16];  /* "md5", "sha1", "sha256", "sha512", "blake2b"; else the datatype's name, lowercase */
    char hex[129]; /* lowercase */
    int known;     /* alg is a message digest we know (its length was checked) */
};

/**
 * The hashes the graph stores of urn, in the graph's order, into out (cap entries; *n of them). A value that
 * is no hex digest, or whose length is not its algorithm's, is R2D_EFORMAT naming where, urn and the
 * statement; more than cap of them R2D_EUNSUPPORTED.
 */
int r2d_aff4_hashes(struct r2d_ctx *ctx, const char *where, const struct r2d_aff4_graph *g, const char *urn,
                    struct r2d_aff4_hash *out, size_t cap, size_t *n);

#endif

/* --- ImageStream (aff4_stream.c) and its chunk codecs (aff4_codec*.c) --- */

#define R2D_AFF4_CHUNK_MAX (4u << 20)    /* the largest aff4:chunkSize read */
#define R2D_AFF4_PER_BEVY_MAX (1u << 20) /* the most aff4:chunksInSegment read */
#define R2D_AFF4_CHUNKS_MAX (1ull << 27) /* chunks in one stream: 1.5 GiB of index at most */

enum r2d_aff4_codec { R2D_AFF4_STORED, R2D_AFF4_ZLIB, R2D_AFF4_DEFLATE, R2D_AFF4_SNAPPY, R2D_AFF4_LZ4 };

/** The codec an aff4:compressionMethod IRI names; R2D_EUNSUPPORTED (message names it) when unknown. */
int r2d_aff4_codec_from_iri(struct r2d_ctx *ctx, const char *where, const char *iri, enum r2d_aff4_codec *c);
const char *r2d_aff4_codec_name(enum r2d_aff4_codec c);
/**
 * Decode one chunk of slen bytes into dst (cap bytes); *out receives the length decoded. A stream that is
 * corrupt or decodes past cap is R2D_EFORMAT naming what; a codec this build lacks is R2D_EUNSUPPORTED.
 */
int r2d_aff4_decode(struct r2d_ctx *ctx, const char *what, enum r2d_aff4_codec c, const uint8_t *src,
                    size_t slen, uint8_t *dst, size_t cap, size_t *out);
/* The optional codecs (one file each with its library, or a _none file without). */
int r2d_aff4_snappy(struct r2d_ctx *ctx, const char *what, const uint8_t *src, size_t slen, uint8_t *dst,
                    size_t cap, size_t *out);
int r2d_aff4_lz4(struct r2d_ctx *ctx, const char *what, const uint8_t *src, size_t slen, uint8_t *dst,
                 size_t cap, size_t *out);

/**
 * A bevy's index: idx (len bytes) in the standard form (u64 offset, u32 length per chunk) or, when legacy,
 * the pre-standard u32 chunk offsets (lengths from the next offset and the bevy's size). want chunks must be
 * described, each inside the bevy's bevy_size bytes, non-empty and at most max_len long; off and len
 * (want entries each) receive them. R2D_EFORMAT naming what otherwise.
 */
int r2d_aff4_bevy_index(struct r2d_ctx *ctx, const char *what, const uint8_t *idx, size_t len, int legacy,
                        uint64_t bevy_size, uint64_t want, uint64_t max_len, uint64_t *off, uint32_t *clen);

struct r2d_zip;
struct r2d_bytesrc;

struct r2d_aff4_stream_desc {
    const char *urn;    /* for messages */
    const char *member; /* the member name the bevies' names start from ("<member>/00000000") */
    uint64_t size, chunk_size, per_bevy;
    enum r2d_aff4_codec codec;
};

struct r2d_aff4_stream;

/**
 * Open an ImageStream: every bevy's index is read and checked now (so a lying index fails the open, before
 * any output exists). in is the volume's byte source, z its archive; both must outlive the stream.
 */
int r2d_aff4_stream_open(struct r2d_ctx *ctx, const struct r2d_zip *z, const struct r2d_bytesrc *in,
                         const struct r2d_aff4_stream_desc *d, struct r2d_aff4_stream **out);
/** Read len bytes at off of the stream's decoded bytes (off + len <= its size, checked). */
int r2d_aff4_stream_read(struct r2d_ctx *ctx, struct r2d_aff4_stream *s, uint64_t off, void *buf, size_t len);
uint64_t r2d_aff4_stream_size(const struct r2d_aff4_stream *s);
enum r2d_aff4_codec r2d_aff4_stream_codec(const struct r2d_aff4_stream *s);
/** "standard (u64 offset, u32 length)" or "pre-standard (u32 offsets)". */
const char *r2d_aff4_stream_index_kind(const struct r2d_aff4_stream *s);
void r2d_aff4_stream_free(struct r2d_aff4_stream *s);

/* --- Map (aff4_map.c) --- */

#define R2D_AFF4_MAP_ENTRY 28u /* u64 mapped offset, u64 length, u64 target offset, u32 target id */
#define R2D_AFF4_MAP_ENTRIES_MAX (1u << 22)
#define R2D_AFF4_MAP_DEPTH 4 /* maps of maps followed at most */

/* One run of the image: [pa, pa + len) is target stream `stream` at offset off. */
struct r2d_aff4_run {
    uint64_t pa, len, off;
    uint32_t stream;
};

/**
 * Decode a map stream's entries (len bytes; a multiple of R2D_AFF4_MAP_ENTRY) against ntargets targets and
 * a map of map_size bytes: entries are sorted, empty ones dropped; an entry past map_size, naming a target
 * that does not exist, or overlapping another is R2D_EFORMAT naming what. *out (malloc'd, *n entries)
 * holds them with stream = the target id.
 */
int r2d_aff4_map_entries(struct r2d_ctx *ctx, const char *what, const uint8_t *map, size_t len,
                         uint64_t map_size, uint32_t ntargets, struct r2d_aff4_run **out, size_t *n);
/**
 * Compose: the runs of a map whose entry e points into another map's runs sub (sorted, nsub) become runs
 * onto sub's targets, clipped to [e->off, e->off + e->len); appended to *out (grown with r2d_grow). A part
 * of e that sub leaves unmapped is skipped.
 */
int r2d_aff4_map_compose(struct r2d_ctx *ctx, const struct r2d_aff4_run *e, const struct r2d_aff4_run *sub,
                         size_t nsub, struct r2d_aff4_run **out, size_t *n, size_t *cap);
