/* SPDX-License-Identifier: MIT */
/*
 * The parts of the report that belong to a conversion or to --info rather than to one engine step: the
 * report's head, the KDBG verification, the input digest, the output object and the result.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "options_json.h"
#include "report.h"
#include "report_convert.h"

/* UTC wall-clock time as ISO 8601 ("2024-05-01T12:00:00Z"); only the report holds it, never the dump. */
static json_t *
report_utc_now(void)
{
    char buf[32];
    struct tm tm;
    const time_t now = time(NULL);

    if (!gmtime_r(&now, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
        return json_null();
    return json_string(buf);
}

json_t *
r2d_report_new(const struct r2d_options *opts)
{
    json_t *report = json_object();

    json_object_set_new(report, "schema", json_integer(R2D_REPORT_SCHEMA));
    json_object_set_new(report, "raw2dmp", json_string(R2D_VERSION));
    json_object_set_new(report, "started", report_utc_now());
    json_object_set_new(report, "options", r2d_options_to_json(opts));
    return report;
}

static json_t *
report_diffs_json(const struct r2d_kdbg_diff *d, int n)
{
    json_t *arr = json_array();

    for (int i = 0; i < n; i++) {
        json_t *o = json_object();

        json_object_set_new(o, "field", json_string(d[i].field));
        json_object_set_new(o, "offset", r2d_json_hex(d[i].offset));
        json_object_set_new(o, "image", r2d_json_hex(d[i].image));
        json_object_set_new(o, "symbols", r2d_json_hex(d[i].symbols));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* Verification: differences are reported, and make the run fail with R2D_EVERIFY after writing. */
int
r2d_report_verify_kdbg(struct r2d_analysis *a, json_t *report, int *differences)
{
    struct r2d_kdbg_diff diffs[R2D_KDBG_MAX_DIFFS];
    const int n = r2d_kdbg_verify(a, diffs, R2D_KDBG_MAX_DIFFS);
    json_t *v = json_object();

    if (n < 0) {
        json_object_set_new(v, "result", json_string("unverifiable"));
        json_object_set_new(v, "error", json_string(r2d_errmsg(a->ctx)));
        json_object_set_new(report, "kdbg_verification", v);
        *differences = 1;
        return n;
    }
    for (int i = 0; i < n; i++)
        r2d_log(a->ctx, R2D_LOG_WARN, "KDBG differs: %s (+0x%x): image 0x%" PRIx64 ", symbols 0x%" PRIx64,
                diffs[i].field, diffs[i].offset, diffs[i].image, diffs[i].symbols);
    json_object_set_new(v, "result", json_string(n ? "differs" : "matches"));
    json_object_set_new(v, "differences", report_diffs_json(diffs, n));
    json_object_set_new(report, "kdbg_verification", v);
    *differences = n;
    return 0;
}

/*
 * Record the input's SHA-256, made by the writer while it streamed (or why there is none), and the time it
 * took. A missing input digest is a warning, not a failed conversion: the dump itself is complete.
 */
void
r2d_report_input_digest(struct r2d_ctx *ctx, const char *input, const struct r2d_write_result *res,
                        json_t *in_json, json_t *timings)
{
    json_object_set_new(timings, "input_hash_s", json_real(res->source_hash_s));
    json_object_set_new(timings, "input_hash_wait_s", json_real(res->source_wait_s));
    if (res->source_digest[0]) {
        json_object_set_new(in_json, "sha256", json_string(res->source_digest));
        return;
    }
    json_object_set_new(in_json, "sha256_error", json_string(res->source_error));
    r2d_log(ctx, R2D_LOG_WARN, "%s: no input SHA-256: %s", input, res->source_error);
}

/* The report's "output" object: what the writer says it wrote. */
json_t *
r2d_report_output(const char *path, const struct r2d_write_result *res)
{
    json_t *out = json_object();

    json_object_set_new(out, "path", json_string(path));
    json_object_set_new(out, "size", json_integer((json_int_t)res->size));
    json_object_set_new(out, "dump_type", json_integer(res->dump_type));
    json_object_set_new(out, "header_runs", json_integer(res->header_runs));
    json_object_set_new(out, "pages", json_integer((json_int_t)res->pages));
    json_object_set_new(out, "hole_pages", json_integer((json_int_t)res->hole_pages));
    json_object_set_new(out, "sha256", res->digest[0] ? json_string(res->digest) : json_null());
    return out;
}

int
r2d_report_verify_error(struct r2d_ctx *ctx, const char *input, json_t *report, int differences)
{
    /* Name the first difference in the one-line error; the log has them all. */
    json_t *d0 =
        json_array_get(json_object_get(json_object_get(report, "kdbg_verification"), "differences"), 0);

    return r2d_err(
        ctx, R2D_EVERIFY,
        "%s: the KDBG differs from the symbols in %d field%s: %s (+%s): image %s, "
        "symbols %s%s",
        input, differences, differences == 1 ? "" : "s", json_string_value(json_object_get(d0, "field")),
        json_string_value(json_object_get(d0, "offset")), json_string_value(json_object_get(d0, "image")),
        json_string_value(json_object_get(d0, "symbols")), differences > 1 ? " (and more: see the log)" : "");
}

void
r2d_report_result(struct r2d_ctx *ctx, json_t *report, int rc)
{
    json_object_set_new(report, "result", json_string(rc ? r2d_status_name(rc) : "ok"));
    if (rc)
        json_object_set_new(report, "error", json_string(r2d_errmsg(ctx)));
    else
        json_object_del(report, "error");
}
