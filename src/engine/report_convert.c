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
#include "report_custody.h"

json_t *
r2d_report_new(const struct r2d_options *opts)
{
    json_t *report = json_object();
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    json_object_set_new(report, "schema", json_integer(R2D_REPORT_SCHEMA));
    json_object_set_new(report, "raw2dmp", json_string(R2D_VERSION));
    json_object_set_new(report, "tool", r2d_report_tool());
    /* Wall-clock times are the report's alone: nothing of them goes into the dump. */
    json_object_set_new(report, "started", r2d_report_utc(now.tv_sec, -1));
    json_object_set_new(report, "invocation", r2d_report_invocation(opts));
    json_object_set_new(report, "options", r2d_options_to_json(opts));
    return report;
}

void
r2d_report_finished(json_t *report, double elapsed_s)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    json_object_set_new(report, "finished", r2d_report_utc(now.tv_sec, -1));
    json_object_set_new(report, "elapsed_s", json_real(elapsed_s));
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

/*
 * One warning for all the differences: each field with both values, as many as fit one line (the report
 * has them all).
 */
static void
report_warn_diffs(struct r2d_analysis *a, const struct r2d_kdbg_diff *d, int n, int converting)
{
    char list[1400];
    size_t len = 0;
    int shown = 0;

    list[0] = '\0';
    for (; shown < n; shown++) {
        char one[160];
        const int k =
            snprintf(one, sizeof(one), "%s%s (+0x%x): image 0x%" PRIx64 ", symbols 0x%" PRIx64,
                     shown ? "; " : "", d[shown].field, d[shown].offset, d[shown].image, d[shown].symbols);

        if (len + (size_t)k >= sizeof(list))
            break;
        memcpy(list + len, one, (size_t)k + 1);
        len += (size_t)k;
    }
    r2d_log(
        a->ctx, R2D_LOG_WARN, "%s: the KDBG at 0x%" PRIx64 " differs from the symbols in %d field%s: %s%s%s",
        r2d_image_path(a->img), a->kdbg.va, n, n == 1 ? "" : "s", list,
        shown < n ? "; and more (see the report)" : "",
        !converting                        ? ""
        : a->kdbg.mode == R2D_KDBG_REBUILT ? " (the dump holds the block rebuilt from the symbols)"
                                           : " (the dump holds the image's block as it is; --rebuild-kdbg "
                                             "writes one built from the symbols)");
}

/* The comparison and its record; converting: the warning says what the dump holds. */
static int
report_compare_kdbg(struct r2d_analysis *a, json_t *report, int requested, int converting, int *differences)
{
    struct r2d_kdbg_diff diffs[R2D_KDBG_MAX_DIFFS];
    unsigned compared = 0;
    const double t0 = r2d_now();
    const int n = r2d_kdbg_verify(a, diffs, R2D_KDBG_MAX_DIFFS, &compared);
    json_t *v = json_object();

    json_object_set_new(v, "requested", json_boolean(requested));
    if (n < 0) {
        json_object_set_new(v, "result", json_string("unverifiable"));
        json_object_set_new(v, "error", json_string(r2d_errmsg(a->ctx)));
        json_object_set_new(v, "seconds", json_real(r2d_now() - t0));
        json_object_set_new(report, "kdbg_verification", v);
        *differences = requested ? 1 : 0;
        return requested ? n : 0;
    }
    if (n)
        report_warn_diffs(a, diffs, n, converting);
    json_object_set_new(v, "result", json_string(n ? "differs" : "matches"));
    json_object_set_new(v, "fields_compared", json_integer(compared));
    json_object_set_new(v, "differences", report_diffs_json(diffs, n));
    json_object_set_new(v, "seconds", json_real(r2d_now() - t0));
    json_object_set_new(report, "kdbg_verification", v);
    *differences = requested ? n : 0;
    return 0;
}

int
r2d_report_verify_kdbg(struct r2d_analysis *a, json_t *report, int *differences)
{
    return report_compare_kdbg(a, report, 1, 0, differences);
}

int
r2d_report_check_kdbg(struct r2d_analysis *a, json_t *report, int requested, int *differences)
{
    const int rc = report_compare_kdbg(a, report, requested, 1, differences);
    json_t *v = json_object_get(report, "kdbg_verification");

    /* Not asked for, a block that cannot be compared does not stop the conversion; it is said once. */
    if (!requested && strcmp(json_string_value(json_object_get(v, "result")), "unverifiable") == 0)
        r2d_log(a->ctx, R2D_LOG_WARN, "KDBG not compared with the symbols: %s",
                json_string_value(json_object_get(v, "error")));
    return rc;
}

/*
 * Record the input's digests, made by the writer while it streamed (or why there are none), and the time
 * they took. Missing input digests are a warning, not a failed conversion: the dump itself is complete.
 */
void
r2d_report_input_digest(struct r2d_ctx *ctx, const char *input, const struct r2d_write_result *res,
                        json_t *in_json, json_t *timings)
{
    json_object_set_new(timings, "input_hash_s", json_real(res->source_hash_s));
    json_object_set_new(timings, "input_hash_wait_s", json_real(res->source_wait_s));
    if (res->source_error[0]) {
        json_object_set_new(in_json, "digest_error", json_string(res->source_error));
        r2d_log(ctx, R2D_LOG_WARN, "%s: no input digest: %s", input, res->source_error);
        return;
    }
    r2d_report_digests(in_json, &res->source_digests, 1);
}

/* The report's "output" object: what the writer says it wrote. */
json_t *
r2d_report_output(const char *path, const struct r2d_write_result *res)
{
    json_t *out = json_object();

    json_object_set_new(out, "path", json_string(path));
    json_object_set_new(out, "absolute_path", r2d_report_target_path(path));
    json_object_set_new(out, "size", json_integer((json_int_t)res->size));
    json_object_set_new(out, "dump_type", json_integer(res->dump_type));
    json_object_set_new(out, "header_runs", json_integer(res->header_runs));
    json_object_set_new(out, "pages", json_integer((json_int_t)res->pages));
    json_object_set_new(out, "hole_pages", json_integer((json_int_t)res->hole_pages));
    r2d_report_digests(out, &res->digests, 1);
    json_object_set_new(out, "synced", json_boolean(res->synced));
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
