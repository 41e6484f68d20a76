/* SPDX-License-Identifier: MIT */
/* The symbol provider dispatch, the identity check against the kernel's RSDS, and GUID/key formatting. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "symbols.h"

int
r2d_symbols_rva(struct r2d_ctx *ctx, const struct r2d_symbols *syms, const char *name, uint64_t *rva)
{
    const int rc = syms->ops->symbol_rva(ctx, syms->data, name, rva);

    if (rc == R2D_ENOTFOUND)
        return r2d_err(ctx, rc, "%s: symbol '%s' not found", syms->origin, name);
    return rc;
}

int
r2d_symbols_type_size(struct r2d_ctx *ctx, const struct r2d_symbols *syms, const char *type, uint64_t *size)
{
    const int rc = syms->ops->type_size(ctx, syms->data, type, size);

    if (rc == R2D_ENOTFOUND)
        return r2d_err(ctx, rc, "%s: type '%s' not found", syms->origin, type);
    return rc;
}

int
r2d_symbols_field_offset(struct r2d_ctx *ctx, const struct r2d_symbols *syms, const char *type,
                         const char *path, uint64_t *off)
{
    const int rc = syms->ops->field_offset(ctx, syms->data, type, path, off);

    /* The provider's message says which component failed; keep it and put the full request in front. */
    if (rc == R2D_ENOTFOUND)
        return r2d_err_prefix(ctx, rc, "%s: field '%s.%s' not found", syms->origin, type, path);
    return rc;
}

void
r2d_symbols_free(struct r2d_symbols *syms)
{
    if (!syms)
        return;
    if (syms->ops && syms->ops->free)
        syms->ops->free(syms->data);
    free(syms);
}

static int
symbols_id_is_zero(const struct r2d_pdb_id *id)
{
    for (size_t i = 0; i < sizeof(id->guid); i++)
        if (id->guid[i])
            return 0;
    return id->age == 0;
}

int
r2d_symbols_match(struct r2d_ctx *ctx, const struct r2d_symbols *syms, const struct r2d_pdb_id *id, int force)
{
    char have[R2D_GUID_HEX_LEN + 9];
    char want[R2D_GUID_HEX_LEN + 9];

    if (memcmp(syms->id.guid, id->guid, sizeof(id->guid)) == 0 && syms->id.age == id->age)
        return 0;
    r2d_pdb_id_key(&syms->id, have);
    r2d_pdb_id_key(id, want);
    if (symbols_id_is_zero(&syms->id)) {
        /* An ISF without metadata.windows.pdb: nothing to compare, so only the user can vouch for it. */
        if (force) {
            r2d_log(ctx, R2D_LOG_WARN,
                    "symbols %s carry no GUID/age; using them for %s anyway (forced)", syms->origin,
                    want);
            return 0;
        }
        return r2d_err(ctx, R2D_EMISMATCH,
                       "symbols %s carry no GUID/age (no metadata.windows.pdb), the kernel wants %s: "
                       "use --force to accept them",
                       syms->origin, want);
    }
    if (force) {
        r2d_log(ctx, R2D_LOG_WARN,
                "symbols %s are %s, the kernel wants %s; using them anyway (forced)", syms->origin,
                have, want);
        return 0;
    }
    return r2d_err(ctx, R2D_EMISMATCH, "symbols %s are %s, the kernel wants %s", syms->origin, have, want);
}

void
r2d_guid_format(const uint8_t guid[16], char out[R2D_GUID_HEX_LEN + 1])
{
    int n = snprintf(out, R2D_GUID_HEX_LEN + 1, "%08" PRIX32 "%04X%04X", r2d_le32(guid),
                     (unsigned)r2d_le16(guid + 4), (unsigned)r2d_le16(guid + 6));

    for (int i = 8; i < 16 && n > 0 && n < R2D_GUID_HEX_LEN; i++)
        n += snprintf(out + n, (size_t)(R2D_GUID_HEX_LEN + 1 - n), "%02X", (unsigned)guid[i]);
}

static int
symbols_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
r2d_guid_parse(const char *s, uint8_t guid[16])
{
    uint8_t digits[R2D_GUID_HEX_LEN];
    size_t n = 0;
    size_t len;
    const char *p;
    const char *end;

    if (!s)
        return R2D_EINVAL;
    len = strlen(s);
    p = s;
    end = s + len;
    /* Braces only as a pair around the whole string. */
    if (len >= 2 && s[0] == '{' && s[len - 1] == '}') {
        p++;
        end--;
    }
    for (; p < end; p++) {
        int v;

        if (*p == '-')
            continue;
        v = symbols_hexval(*p);
        if (v < 0 || n == R2D_GUID_HEX_LEN)
            return R2D_EINVAL;
        digits[n++] = (uint8_t)v;
    }
    if (n != R2D_GUID_HEX_LEN)
        return R2D_EINVAL;
    {
        uint8_t str[16]; /* the bytes in printed order */
        uint32_t d1;

        for (size_t i = 0; i < 16; i++)
            str[i] = (uint8_t)(digits[2 * i] << 4 | digits[2 * i + 1]);
        /* Printed order is Data1..Data3 big-endian; RSDS stores them little-endian. */
        d1 = r2d_be32(str);
        r2d_put_le32(guid, d1);
        r2d_put_le16(guid + 4, r2d_be16(str + 4));
        r2d_put_le16(guid + 6, r2d_be16(str + 6));
        memcpy(guid + 8, str + 8, 8);
    }
    return 0;
}

void
r2d_pdb_id_key(const struct r2d_pdb_id *id, char out[R2D_GUID_HEX_LEN + 9])
{
    r2d_guid_format(id->guid, out);
    /* At most 8 hex digits for a u32 age: 32 + 8 + NUL fits exactly (elf2dmp's buffer was one short). */
    snprintf(out + R2D_GUID_HEX_LEN, 9, "%" PRIX32, id->age);
}
