/* SPDX-License-Identifier: MIT */
/* The pipeline: image -> discovery -> symbols -> KDBG -> processors -> plan -> dump (+ report), and --info. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "raw2dmp/crashdump.h"
#include "raw2dmp/image.h"
#include "report.h"

void
r2d_options_init(struct r2d_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->input_format = "auto";
    opts->hash = R2D_HASH_SHA256;
    opts->dump_type = R2D_DUMP_AUTO;
}

static double
convert_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run the engine steps in order; stop at the first failure (its message is in the context). */
static int
convert_analyse(struct r2d_analysis *a)
{
    int rc = r2d_discover_dtb(a);

    if (!rc)
        rc = r2d_discover_kernel(a);
    if (!rc)
        rc = r2d_load_kernel_symbols(a);
    if (!rc)
        rc = r2d_discover_system_dtb(a);
    if (!rc) {
        /* KdVersionBlock first: a rebuilt KDBG's Size depends on the build. */
        struct r2d_plan *scratch = r2d_plan_new();

        if (!scratch)
            return r2d_err(a->ctx, R2D_ENOMEM, "out of memory");
        rc = r2d_build_plan_version(a, scratch);
        r2d_plan_free(scratch);
    }
    if (!rc)
        rc = r2d_kdbg_locate(a);
    if (!rc)
        rc = r2d_match_cpus(a);
    return rc;
}

static json_t *
convert_diffs_json(const struct r2d_kdbg_diff *d, int n)
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

static json_t *
convert_options_json(const struct r2d_options *o)
{
    json_t *j = json_object();

    json_object_set_new(j, "input_format", json_string(o->input_format ? o->input_format : "auto"));
    json_object_set_new(j, "pdb", o->pdb_path ? json_string(o->pdb_path) : json_null());
    json_object_set_new(j, "symbols", o->isf_path ? json_string(o->isf_path) : json_null());
    json_object_set_new(j, "symbol_path", o->symbol_path ? json_string(o->symbol_path) : json_null());
    json_object_set_new(j, "offline", json_boolean(o->offline));
    json_object_set_new(j, "force_symbols", json_boolean(o->force_symbols));
    json_object_set_new(j, "dtb", o->have_dtb ? r2d_json_hex(o->dtb) : json_null());
    json_object_set_new(j, "kernel_base", o->have_kernel_base ? r2d_json_hex(o->kernel_base) : json_null());
    json_object_set_new(j, "rebuild_kdbg", json_boolean(o->rebuild_kdbg));
    json_object_set_new(j, "verify_kdbg", json_boolean(o->verify_kdbg));
    json_object_set_new(j, "bugcheck", o->have_bugcheck ? r2d_json_hex(o->bugcheck_code) : json_null());
    json_object_set_new(j, "dump_type", json_integer(o->dump_type));
    json_object_set_new(j, "force", json_boolean(o->force));
    json_object_set_new(j, "hash", json_string(o->hash == R2D_HASH_SHA256 ? "sha256" : "none"));
    return j;
}

/* Verification: differences are reported, and make the run fail with R2D_EVERIFY after writing. */
static int
convert_verify(struct r2d_analysis *a, json_t *report, int *differences)
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
    json_object_set_new(v, "differences", convert_diffs_json(diffs, n));
    json_object_set_new(report, "kdbg_verification", v);
    *differences = n;
    return 0;
}

int
r2d_convert(struct r2d_ctx *ctx, const struct r2d_options *opts, const char *input, const char *output)
{
    struct r2d_image *img = NULL;
    struct r2d_analysis *a = NULL;
    struct r2d_plan *plan = NULL;
    struct r2d_write_result res;
    json_t *report = json_object(), *out = NULL, *timings = json_object();
    double t0 = convert_now(), t1;
    int rc, differences = 0, verify_rc = 0;

    json_object_set_new(report, "schema", json_integer(R2D_REPORT_SCHEMA));
    json_object_set_new(report, "raw2dmp", json_string(R2D_VERSION));
    json_object_set_new(report, "options", convert_options_json(opts));
    rc = r2d_image_open(ctx, input, opts->input_format, &img);
    if (rc)
        goto done;
    json_object_set_new(report, "input", r2d_report_image(img));
    a = malloc(sizeof(*a));
    plan = r2d_plan_new();
    if (!a || !plan) {
        rc = r2d_err(ctx, R2D_ENOMEM, "out of memory");
        goto done;
    }
    r2d_analysis_init(a, ctx, opts, img);
    rc = convert_analyse(a);
    t1 = convert_now();
    json_object_set_new(timings, "analysis_s", json_real(t1 - t0));
    if (!rc && opts->verify_kdbg)
        verify_rc = convert_verify(a, report, &differences);
    if (!rc)
        rc = r2d_build_plan(a, plan);
    json_object_set_new(report, "analysis", r2d_report_analysis(a));
    if (rc)
        goto done;
    json_object_set_new(report, "plan", r2d_report_plan(plan));
    rc = r2d_crashdump_write(ctx, img, plan, output, opts->force, opts->hash, &res);
    if (rc)
        goto done;
    json_object_set_new(timings, "write_s", json_real(convert_now() - t1));
    out = json_object();
    json_object_set_new(out, "path", json_string(output));
    json_object_set_new(out, "size", json_integer((json_int_t)res.size));
    json_object_set_new(out, "dump_type", json_integer(res.dump_type));
    json_object_set_new(out, "header_runs", json_integer(res.header_runs));
    json_object_set_new(out, "pages", json_integer((json_int_t)res.pages));
    json_object_set_new(out, "hole_pages", json_integer((json_int_t)res.hole_pages));
    json_object_set_new(out, "sha256", res.digest[0] ? json_string(res.digest) : json_null());
    json_object_set_new(report, "output", out);
    r2d_log(ctx, R2D_LOG_WARN, "%s: %s dump, %" PRIu64 " pages, %zu patch%s, KDBG %s", output,
            res.dump_type == 5 ? "bitmap" : "full", res.pages, r2d_plan_patch_count(plan),
            r2d_plan_patch_count(plan) == 1 ? "" : "es", a->kdbg.why);
    if (differences)
        rc = verify_rc ? verify_rc
                       : r2d_err(ctx, R2D_EVERIFY, "%s: the KDBG differs from the symbols in %d field%s (see the log)",
                                 input, differences, differences == 1 ? "" : "s");
done:
    json_object_set_new(timings, "total_s", json_real(convert_now() - t0));
    json_object_set_new(report, "timings", timings);
    json_object_set_new(report, "result", json_string(rc ? r2d_status_name(rc) : "ok"));
    if (rc)
        json_object_set_new(report, "error", json_string(r2d_errmsg(ctx)));
    if (opts->report_path) {
        /* A failed conversion still documents what was tried; keep the first error message. */
        char saved[2048];
        int rrc;

        snprintf(saved, sizeof(saved), "%s", r2d_errmsg(ctx));
        rrc = r2d_report_write(ctx, report, opts->report_path, opts->force);
        if (rrc && !rc)
            rc = rrc;
        else if (rc)
            r2d_err(ctx, rc, "%s", saved);
    }
    json_decref(report);
    if (a)
        r2d_analysis_free(a);
    free(a);
    r2d_plan_free(plan);
    r2d_image_free(img);
    return rc;
}

int
r2d_info(struct r2d_ctx *ctx, const struct r2d_options *opts, const char *input, FILE *out, int json)
{
    struct r2d_image *img = NULL;
    struct r2d_analysis *a;
    json_t *info;
    int rc = r2d_image_open(ctx, input, opts->input_format, &img);

    if (rc)
        return rc;
    info = json_object();
    json_object_set_new(info, "input", r2d_report_image(img));
    /* A crash dump describes itself through its header notes; the engine runs on anything with memory. */
    a = malloc(sizeof(*a));
    if (!a) {
        rc = r2d_err(ctx, R2D_ENOMEM, "out of memory");
    } else {
        struct r2d_plan *plan = r2d_plan_new();
        int arc;

        r2d_analysis_init(a, ctx, opts, img);
        arc = convert_analyse(a);
        if (arc) {
            json_object_set_new(info, "analysis_error", json_string(r2d_errmsg(ctx)));
        } else {
            int differences = 0;

            convert_verify(a, info, &differences);
            if (plan && r2d_build_plan(a, plan) == 0)
                json_object_set_new(info, "plan", r2d_report_plan(plan));
        }
        json_object_set_new(info, "analysis", r2d_report_analysis(a));
        r2d_plan_free(plan);
        r2d_analysis_free(a);
        free(a);
    }
    if (!rc) {
        if (json) {
            json_dumpf(info, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            fputc('\n', out);
        } else {
            r2d_report_print_text(info, out);
        }
    }
    json_decref(info);
    r2d_image_free(img);
    return rc;
}
