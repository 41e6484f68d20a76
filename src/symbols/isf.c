/* SPDX-License-Identifier: MIT */
/*
 * Volatility 3 JSON symbol tables (ISF, docs/reference/symbols.md section 5), plain `.json` or `.json.xz`; a
 * symbol directory or a windows.zip pack holding many of them is searched in isf_pack.c.
 *
 * The parsed jansson tree is kept: its objects are hash tables, so "symbols", "user_types" and each type's
 * "fields" answer a lookup in O(1) on average without building a second index. The 19041 table (6 MB of JSON)
 * costs a few tens of MB parsed.
 *
 * Limits, against hostile or broken files: the file read is at most R2D_ISF_MAX_FILE bytes, the decompressed
 * JSON at most R2D_ISF_MAX_JSON bytes (the largest real ntkrnlmp table is under 10 MB), and the xz decoder
 * may use at most R2D_ISF_XZ_MEMLIMIT bytes of memory (xz -9 needs 65 MiB).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <lzma.h>

#include "symbols.h"

#define R2D_ISF_MAX_FILE (1ull << 30) /* bytes of the file itself */
#define R2D_ISF_MAX_JSON (1ull << 30) /* bytes of JSON after decompression */
#define R2D_ISF_XZ_MEMLIMIT (256ull << 20)
#define ISF_NAME_MAX 4096

static const uint8_t isf_xz_magic[6] = {0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00};

struct isf {
    json_t *root;
    json_t *symbols;    /* borrowed from root */
    json_t *user_types; /* borrowed from root */
    json_t *base_types; /* borrowed from root, may be NULL */
    char path[ISF_NAME_MAX];
};

static int
isf_read_file(struct r2d_ctx *ctx, const char *path, uint8_t **out, size_t *out_len)
{
    struct stat st;
    uint8_t *buf;
    size_t done = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return r2d_err_errno(ctx, "%s: cannot open symbol table", path);
    if (fstat(fd, &st) != 0) {
        const int rc = r2d_err_errno(ctx, "%s: cannot stat", path);
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > R2D_ISF_MAX_FILE) {
        close(fd);
        if (!S_ISREG(st.st_mode))
            return r2d_err(ctx, R2D_EINVAL, "%s: not a regular file", path);
        return r2d_err(ctx, R2D_EFORMAT,
                       "%s: size %" PRIu64 " bytes is not that of a symbol table "
                       "(limit %llu)",
                       path, (uint64_t)st.st_size, R2D_ISF_MAX_FILE);
    }
    buf = malloc((size_t)st.st_size);
    if (!buf) {
        close(fd);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory reading %" PRIu64 " bytes", path,
                       (uint64_t)st.st_size);
    }
    while (done < (size_t)st.st_size) {
        const ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            const int rc = n < 0 ? r2d_err_errno(ctx, "%s: read failed", path)
                                 : r2d_err(ctx, R2D_ETRUNC, "%s: file shrank while reading", path);
            free(buf);
            close(fd);
            return rc;
        }
        done += (size_t)n;
    }
    close(fd);
    *out = buf;
    *out_len = done;
    return 0;
}

static const char *
isf_lzma_problem(lzma_ret ret)
{
    switch (ret) {
    case LZMA_MEM_ERROR:
        return "out of memory";
    case LZMA_MEMLIMIT_ERROR:
        return "needs more than the 256 MiB decoder memory limit";
    case LZMA_FORMAT_ERROR:
        return "not an xz stream";
    case LZMA_OPTIONS_ERROR:
        return "unsupported xz options";
    case LZMA_DATA_ERROR:
        return "corrupt xz data";
    case LZMA_BUF_ERROR:
        return "xz stream truncated";
    default:
        return "xz decoder error";
    }
}

/* Decompress an .xz file image into a NUL-terminated buffer of at most R2D_ISF_MAX_JSON bytes. */
static int
isf_unxz(struct r2d_ctx *ctx, const char *path, const uint8_t *in, size_t in_len, uint8_t **out,
         size_t *out_len)
{
    lzma_stream strm = LZMA_STREAM_INIT;
    size_t cap = in_len < (SIZE_MAX / 16) ? in_len * 12 + 4096 : in_len;
    uint8_t *buf;
    lzma_ret ret;

    if (cap > R2D_ISF_MAX_JSON + 1)
        cap = R2D_ISF_MAX_JSON + 1;
    ret = lzma_stream_decoder(&strm, R2D_ISF_XZ_MEMLIMIT, LZMA_CONCATENATED);
    if (ret != LZMA_OK)
        return r2d_err(ctx, R2D_ENOMEM, "%s: cannot start the xz decoder: %s", path, isf_lzma_problem(ret));
    buf = malloc(cap);
    if (!buf) {
        lzma_end(&strm);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", path);
    }
    strm.next_in = in;
    strm.avail_in = in_len;
    strm.next_out = buf;
    strm.avail_out = cap - 1; /* room for the NUL */
    for (;;) {
        ret = lzma_code(&strm, LZMA_FINISH);
        if (ret == LZMA_STREAM_END)
            break;
        if (ret == LZMA_OK && strm.avail_out == 0) {
            const size_t used = cap - 1;
            uint8_t *grown;

            if (used >= R2D_ISF_MAX_JSON) {
                lzma_end(&strm);
                free(buf);
                return r2d_err(ctx, R2D_EFORMAT,
                               "%s: decompresses to more than %llu bytes: not a symbol table", path,
                               R2D_ISF_MAX_JSON);
            }
            cap = used * 2 + 1 > R2D_ISF_MAX_JSON + 1 ? R2D_ISF_MAX_JSON + 1 : used * 2 + 1;
            grown = realloc(buf, cap);
            if (!grown) {
                lzma_end(&strm);
                free(buf);
                return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory decompressing", path);
            }
            buf = grown;
            strm.next_out = buf + used;
            strm.avail_out = cap - 1 - used;
            continue;
        }
        if (ret != LZMA_OK) {
            const uint64_t at = strm.total_in;

            lzma_end(&strm);
            free(buf);
            return r2d_err(ctx, ret == LZMA_BUF_ERROR ? R2D_ETRUNC : R2D_EFORMAT,
                           "%s: offset 0x%" PRIx64 ": %s", path, at, isf_lzma_problem(ret));
        }
    }
    *out_len = (size_t)strm.total_out;
    buf[*out_len] = 0;
    lzma_end(&strm);
    *out = buf;
    return 0;
}

/* A non-negative JSON integer, or -1. */
static int64_t
isf_uint(const json_t *v)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    return (int64_t)json_integer_value(v);
}

/*
 * The machine the table describes: metadata.windows.pdb.machine_type when Volatility's converter wrote it
 * (332 = 0x14c i386, 34404 = 0x8664 AMD64), else the size of base_types.pointer (4 or 8); 0 when neither says.
 */
static uint16_t
isf_machine(json_t *root, json_t *base_types)
{
    json_t *pdb = json_object_get(json_object_get(json_object_get(root, "metadata"), "windows"), "pdb");
    const int64_t m = isf_uint(json_object_get(pdb, "machine_type"));
    const int64_t ptr = isf_uint(json_object_get(json_object_get(base_types, "pointer"), "size"));

    if (m == 0x14c || m == 0x8664)
        return (uint16_t)m;
    return ptr == 4 ? 0x14c : ptr == 8 ? 0x8664 : 0;
}

/* Fill id from metadata.windows.pdb; a table without it keeps an all-zero id. */
static int
isf_read_id(struct r2d_ctx *ctx, const char *path, json_t *root, struct r2d_pdb_id *id)
{
    json_t *pdb = json_object_get(json_object_get(json_object_get(root, "metadata"), "windows"), "pdb");
    json_t *guid;
    json_t *db;
    int64_t age;

    memset(id, 0, sizeof(*id));
    if (!pdb) {
        r2d_log(ctx, R2D_LOG_INFO, "%s: no metadata.windows.pdb: the table's GUID/age are unknown", path);
        return 0;
    }
    guid = json_object_get(pdb, "GUID");
    db = json_object_get(pdb, "database");
    age = isf_uint(json_object_get(pdb, "age"));
    if (!json_is_string(guid) || r2d_guid_parse(json_string_value(guid), id->guid) != 0)
        return r2d_err(ctx, R2D_EFORMAT, "%s: metadata.windows.pdb.GUID is not a GUID of 32 hex digits",
                       path);
    if (age < 0 || age > (int64_t)UINT32_MAX)
        return r2d_err(ctx, R2D_EFORMAT, "%s: metadata.windows.pdb.age is not a 32-bit unsigned integer",
                       path);
    id->age = (uint32_t)age;
    if (json_is_string(db)) {
        const char *name = json_string_value(db);
        const char *slash = strrchr(name, '\\');

        if (slash || (slash = strrchr(name, '/')))
            name = slash + 1;
        if (strlen(name) >= sizeof(id->name))
            return r2d_err(ctx, R2D_EFORMAT, "%s: metadata.windows.pdb.database is longer than %zu bytes",
                           path, sizeof(id->name) - 1);
        memcpy(id->name, name, strlen(name) + 1);
    }
    return 0;
}

static int
isf_symbol_rva(struct r2d_ctx *ctx, void *data, const char *name, uint64_t *rva)
{
    const struct isf *isf = data;
    json_t *sym = json_object_get(isf->symbols, name);
    int64_t addr;

    if (!sym)
        return r2d_err(ctx, R2D_ENOTFOUND, "%s: symbol '%s' not found", isf->path, name);
    addr = isf_uint(json_object_get(sym, "address"));
    if (addr < 0)
        return r2d_err(ctx, R2D_EFORMAT, "%s: symbols.%s.address is not a non-negative integer", isf->path,
                       name);
    *rva = (uint64_t)addr;
    return 0;
}

static int
isf_type_size(struct r2d_ctx *ctx, void *data, const char *type, uint64_t *size)
{
    const struct isf *isf = data;
    const char *where = "user_types";
    json_t *t = json_object_get(isf->user_types, type);
    int64_t sz;

    if (!t && isf->base_types) {
        t = json_object_get(isf->base_types, type);
        where = "base_types";
    }
    if (!t)
        return r2d_err(ctx, R2D_ENOTFOUND, "%s: type '%s' not found", isf->path, type);
    sz = isf_uint(json_object_get(t, "size"));
    if (sz < 0)
        return r2d_err(ctx, R2D_EFORMAT, "%s: %s.%s.size is not a non-negative integer", isf->path, where,
                       type);
    *size = (uint64_t)sz;
    return 0;
}

static int
isf_field_offset(struct r2d_ctx *ctx, void *data, const char *type, const char *path, uint64_t *off)
{
    const struct isf *isf = data;
    char cur[512];
    uint64_t total = 0;
    const char *p = path;

    if (strlen(type) >= sizeof(cur))
        return r2d_err(ctx, R2D_ENOTFOUND, "%s: type name too long", isf->path);
    memcpy(cur, type, strlen(type) + 1);
    for (;;) {
        const char *dot = strchr(p, '.');
        const size_t len = dot ? (size_t)(dot - p) : strlen(p);
        char comp[512];
        json_t *t = json_object_get(isf->user_types, cur);
        json_t *f;
        json_t *ft;
        int64_t o;
        const char *kind;
        const char *next;

        if (!t)
            return r2d_err(ctx, R2D_ENOTFOUND, "%s: type '%s' not found", isf->path, cur);
        if (len == 0 || len >= sizeof(comp))
            return r2d_err(ctx, R2D_ENOTFOUND, "%s: bad field path '%s'", isf->path, path);
        memcpy(comp, p, len);
        comp[len] = 0;
        f = json_object_get(json_object_get(t, "fields"), comp);
        if (!f)
            return r2d_err(ctx, R2D_ENOTFOUND, "%s: '%s' has no field '%s'", isf->path, cur, comp);
        o = isf_uint(json_object_get(f, "offset"));
        if (o < 0 || (uint64_t)o > UINT64_MAX - total)
            return r2d_err(ctx, R2D_EFORMAT, "%s: user_types.%s.fields.%s.offset is not a valid offset",
                           isf->path, cur, comp);
        total += (uint64_t)o;
        if (!dot)
            break;
        ft = json_object_get(f, "type");
        kind = json_string_value(json_object_get(ft, "kind"));
        next = json_string_value(json_object_get(ft, "name"));
        if (!kind || !next || (strcmp(kind, "struct") && strcmp(kind, "union") && strcmp(kind, "class")))
            return r2d_err(ctx, R2D_ENOTFOUND, "%s: '%s.%s' is a %s, not an embedded struct or union",
                           isf->path, cur, comp, kind ? kind : "field of unknown kind");
        if (strlen(next) >= sizeof(cur))
            return r2d_err(ctx, R2D_EFORMAT, "%s: type name too long", isf->path);
        memcpy(cur, next, strlen(next) + 1);
        p = dot + 1;
    }
    *off = total;
    return 0;
}

static void
isf_free(void *data)
{
    struct isf *isf = data;

    if (!isf)
        return;
    json_decref(isf->root);
    free(isf);
}

static const struct r2d_symbols_ops isf_ops = {
    .kind = "isf",
    .symbol_rva = isf_symbol_rva,
    .type_size = isf_type_size,
    .field_offset = isf_field_offset,
    .free = isf_free,
};

/* Parse the JSON text and check the top-level shape. On success *root owns the tree. */
static int
isf_parse(struct r2d_ctx *ctx, const char *path, const uint8_t *text, size_t len, json_t **root)
{
    json_error_t jerr;
    json_t *r;
    json_t *syms;

    r = json_loadb((const char *)text, len, 0, &jerr);
    if (!r)
        return r2d_err(ctx, R2D_EFORMAT, "%s: not valid JSON: line %d, column %d: %s", path, jerr.line,
                       jerr.column, jerr.text);
    if (!json_is_object(r)) {
        json_decref(r);
        return r2d_err(ctx, R2D_EFORMAT, "%s: not a symbol table (the JSON is not an object)", path);
    }
    syms = json_object_get(r, "symbols");
    if (!json_is_object(syms) || json_object_size(syms) == 0) {
        json_decref(r);
        return r2d_err(ctx, R2D_EFORMAT, "%s: not a symbol table: no 'symbols' object with entries", path);
    }
    if (!json_is_object(json_object_get(r, "user_types"))) {
        json_decref(r);
        return r2d_err(ctx, R2D_EFORMAT, "%s: not a symbol table: no 'user_types' object", path);
    }
    *root = r;
    return 0;
}

int
r2d_isf_open_buffer(struct r2d_ctx *ctx, const char *name, uint8_t *file, size_t file_len,
                    struct r2d_symbols **out)
{
    uint8_t *text = NULL;
    size_t text_len = 0;
    struct r2d_symbols *syms;
    struct isf *isf;
    json_t *root = NULL;
    int rc;

    *out = NULL;
    if (strlen(name) >= sizeof(isf->path)) {
        free(file);
        return r2d_err(ctx, R2D_EINVAL, "symbol table path longer than %zu bytes", sizeof(isf->path) - 1);
    }
    if (file_len >= sizeof(isf_xz_magic) && memcmp(file, isf_xz_magic, sizeof(isf_xz_magic)) == 0) {
        rc = isf_unxz(ctx, name, file, file_len, &text, &text_len);
        free(file);
        if (rc)
            return rc;
    } else {
        text = file;
        text_len = file_len;
    }
    rc = isf_parse(ctx, name, text, text_len, &root);
    free(text);
    if (rc)
        return rc;

    syms = calloc(1, sizeof(*syms));
    isf = calloc(1, sizeof(*isf));
    if (!syms || !isf) {
        free(syms);
        free(isf);
        json_decref(root);
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory", name);
    }
    isf->root = root;
    isf->symbols = json_object_get(root, "symbols");
    isf->user_types = json_object_get(root, "user_types");
    isf->base_types =
        json_is_object(json_object_get(root, "base_types")) ? json_object_get(root, "base_types") : NULL;
    memcpy(isf->path, name, strlen(name) + 1);
    memcpy(syms->origin, name, strlen(name) + 1);
    memcpy(syms->path, name, strlen(name) + 1);
    syms->ops = &isf_ops;
    syms->data = isf;
    rc = isf_read_id(ctx, name, root, &syms->id);
    if (rc) {
        r2d_symbols_free(syms);
        return rc;
    }
    syms->machine = isf_machine(root, isf->base_types);
    r2d_log(ctx, R2D_LOG_DEBUG, "%s: symbol table with %zu symbols and %zu types", name,
            json_object_size(isf->symbols), json_object_size(isf->user_types));
    *out = syms;
    return 0;
}

int
r2d_isf_open(struct r2d_ctx *ctx, const char *path, struct r2d_symbols **out)
{
    uint8_t *file = NULL;
    size_t file_len = 0;
    int rc;

    *out = NULL;
    if (strlen(path) >= ISF_NAME_MAX)
        return r2d_err(ctx, R2D_EINVAL, "symbol table path longer than %d bytes", ISF_NAME_MAX - 1);
    rc = isf_read_file(ctx, path, &file, &file_len);
    return rc ? rc : r2d_isf_open_buffer(ctx, path, file, file_len, out);
}
