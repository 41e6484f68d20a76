/* SPDX-License-Identifier: MIT */
/* The pipeline: image -> discovery -> symbols -> KDBG -> processors -> plan -> dump (+ report), and --info. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "analysis.h"
#include "plan_build.h"
#include "kdbg_fields.h"
#include "bytes.h"
#include "crashdump.h"
#include "format.h"
#include "image.h"
#include "options_json.h"
#include "report.h"

void
r2d_options_init(struct r2d_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->input_format = "auto";
    opts->hash = R2D_HASH_SHA256;
    opts->dump_type = R2D_DUMP_AUTO;
}

/*
 * Record the input's SHA-256, made by the writer while it streamed (or why there is none), and the time it
 * took. A missing input digest is a warning, not a failed conversion: the dump itself is complete.
 */
static void
convert_input_digest(struct r2d_ctx *ctx, const char *input, const struct r2d_write_result *res, json_t *in_json,
                     json_t *timings)
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

/* Open the input as the options say: its format, and what to do with containers around it. */
static int
convert_open(struct r2d_ctx *ctx, const struct r2d_options *opts, const char *input, struct r2d_image **img)
{
    const struct r2d_open_hints hints = {
        .member = opts->member,
        .no_containers = opts->no_containers,
        .verify_container = opts->verify_container,
    };

    return r2d_format_open_hints(ctx, input, opts->input_format, &hints, img);
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

/* Without force, refuse an existing output or report before any work (the writers check again). */
static int
convert_check_targets(struct r2d_ctx *ctx, const struct r2d_options *opts, const char *output)
{
    struct stat st;

    if (opts->force)
        return 0;
    R2D_CHECK(output && lstat(output, &st) == 0, ctx, R2D_EEXIST,
              "%s: output exists (use --force to replace it)", output);
    R2D_CHECK(opts->report_path && lstat(opts->report_path, &st) == 0, ctx, R2D_EEXIST,
              "%s: report exists (use --force to replace it)", opts->report_path);
    return 0;
}

/* UTC wall-clock time as ISO 8601 ("2024-05-01T12:00:00Z"); only the report holds it, never the dump. */
static json_t *
convert_utc_now(void)
{
    char buf[32];
    struct tm tm;
    const time_t now = time(NULL);

    if (!gmtime_r(&now, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
        return json_null();
    return json_string(buf);
}

/* The report's "output" object: what the writer says it wrote. */
static json_t *
convert_output_json(const char *path, const struct r2d_write_result *res)
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
r2d_convert(struct r2d_ctx *ctx, const struct r2d_options *opts, const char *input, const char *output)
{
    struct r2d_image *img = NULL;
    struct r2d_analysis *a = NULL;
    struct r2d_plan *plan = NULL;
    struct r2d_write_result res;
    json_t *report = json_object(), *timings = json_object(), *in_json = NULL;
    double t0 = r2d_now(), t1;
    int rc, differences = 0, verify_rc = 0, refused;

    json_object_set_new(report, "schema", json_integer(R2D_REPORT_SCHEMA));
    json_object_set_new(report, "raw2dmp", json_string(R2D_VERSION));
    json_object_set_new(report, "started", convert_utc_now());
    json_object_set_new(report, "options", r2d_options_to_json(opts));
    rc = refused = convert_check_targets(ctx, opts, output);
    if (!rc)
        rc = convert_open(ctx, opts, input, &img);
    if (rc)
        goto done;
    in_json = r2d_report_image(img);
    json_object_set_new(report, "input", in_json);
    a = malloc(sizeof(*a));
    plan = r2d_plan_new();
    if (!a || !plan) {
        rc = r2d_err(ctx, R2D_ENOMEM, "out of memory");
        goto done;
    }
    r2d_analysis_init(a, ctx, opts, img);
    rc = convert_analyse(a);
    t1 = r2d_now();
    json_object_set_new(timings, "analysis_s", json_real(t1 - t0));
    if (!rc && opts->verify_kdbg)
        verify_rc = convert_verify(a, report, &differences);
    else if (!rc)
        json_object_set_new(report, "kdbg_verification", json_pack("{s:s}", "result", "not_requested"));
    if (!rc)
        rc = r2d_build_plan(a, plan);
    json_object_set_new(report, "analysis", r2d_report_analysis(a));
    if (rc)
        goto done;
    json_object_set_new(report, "plan", r2d_report_plan(plan));
    rc = r2d_crashdump_write(ctx, img, plan, output, opts->force, opts->hash, &res);
    if (rc)
        goto done;
    json_object_set_new(timings, "write_s", json_real(r2d_now() - t1));
    if (opts->hash != R2D_HASH_NONE)
        convert_input_digest(ctx, input, &res, in_json, timings);
    json_object_set_new(report, "output", convert_output_json(output, &res));
    r2d_log(ctx, R2D_LOG_WARN, "%s: %s dump, %" PRIu64 " pages, %zu patch%s, KDBG %s", output,
            res.dump_type == 5 ? "bitmap" : "full", res.pages, r2d_plan_patch_count(plan),
            r2d_plan_patch_count(plan) == 1 ? "" : "es", a->kdbg.why);
    if (differences) {
        /* Name the first difference in the one-line error; the log has them all. */
        json_t *d0 = json_array_get(json_object_get(json_object_get(report, "kdbg_verification"), "differences"), 0);

        rc = verify_rc ? verify_rc
                       : r2d_err(ctx, R2D_EVERIFY, "%s: the KDBG differs from the symbols in %d field%s: %s (+%s): "
                                 "image %s, symbols %s%s", input, differences, differences == 1 ? "" : "s",
                                 json_string_value(json_object_get(d0, "field")),
                                 json_string_value(json_object_get(d0, "offset")),
                                 json_string_value(json_object_get(d0, "image")),
                                 json_string_value(json_object_get(d0, "symbols")),
                                 differences > 1 ? " (and more: see the log)" : "");
    }
done:
    json_object_set_new(timings, "total_s", json_real(r2d_now() - t0));
    json_object_set_new(report, "timings", timings);
    json_object_set_new(report, "result", json_string(rc ? r2d_status_name(rc) : "ok"));
    if (rc)
        json_object_set_new(report, "error", json_string(r2d_errmsg(ctx)));
    if (opts->report_path && !refused) {
        /* A failed conversion still documents what was tried (a refusal to overwrite tried nothing). */
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

/*
 * For a crash dump: the KDBG exactly where WinDbg will look for it -- header KdDebuggerDataBlock through
 * the header DTB -- without needing symbols. A block that does not read 'KDBG' there is what makes WinDbg
 * say "KdDebuggerDataBlock is not present or unreadable".
 */
static void
convert_dump_kdbg(struct r2d_ctx *ctx, const struct r2d_image *img, json_t *info)
{
    const struct r2d_image_props *props = r2d_image_props(img);
    const uint64_t va = props->dump_kdbg_va, dtb = props->dump_dtb;
    json_t *k;
    struct r2d_mmu mmu;
    uint8_t hdr[R2D_KDBG_OFF_KERNBASE + 8];

    if (!props->have_dump_header || va == 0)
        return;
    k = json_object();
    json_object_set_new(k, "va", r2d_json_hex(va));
    r2d_mmu_init(&mmu, ctx, img, R2D_PAGING_X64, dtb);
    if (r2d_mmu_read(&mmu, va, hdr, sizeof(hdr))) {
        json_object_set_new(k, "readable", json_false());
        json_object_set_new(k, "error", json_string(r2d_errmsg(ctx)));
    } else {
        const uint32_t tag = r2d_le32(hdr + R2D_KDBG_OFF_OWNER_TAG);

        json_object_set_new(k, "readable", json_true());
        json_object_set_new(k, "owner_tag_ok", json_boolean(tag == R2D_KDBG_TAG));
        json_object_set_new(k, "owner_tag", r2d_json_hex(tag));
        json_object_set_new(k, "size", r2d_json_hex(r2d_le32(hdr + R2D_KDBG_OFF_SIZE)));
        json_object_set_new(k, "kern_base", r2d_json_hex(r2d_le64(hdr + R2D_KDBG_OFF_KERNBASE)));
    }
    json_object_set_new(info, "dump_kdbg", k);
}

int
r2d_info(struct r2d_ctx *ctx, const struct r2d_options *opts, const char *input, FILE *out, int json)
{
    struct r2d_image *img = NULL;
    struct r2d_analysis *a;
    json_t *info;
    int rc = convert_open(ctx, opts, input, &img);

    if (rc)
        return rc;
    info = json_object();
    json_object_set_new(info, "input", r2d_report_image(img));
    convert_dump_kdbg(ctx, img, info);
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
