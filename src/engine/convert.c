/* SPDX-License-Identifier: MIT */
/* The pipeline: image -> discovery -> symbols -> KDBG -> processors -> plan -> dump (+ report). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis.h"
#include "convert_commit.h"
#include "crashdump.h"
#include "file_identity.h"
#include "format.h"
#include "input_files.h"
#include "plan_build.h"
#include "report.h"
#include "report_convert.h"
#include "report_custody.h"

void
r2d_options_init(struct r2d_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->input_format = "auto";
    opts->hash = R2D_HASH_SHA256;
    opts->dump_type = R2D_DUMP_AUTO;
}

/* How the output layer writes the dump and the report: replacing or not, durable or not. */
static unsigned
convert_output_flags(const struct r2d_options *opts)
{
    return (opts->force ? R2D_OUTPUT_FORCE : 0u) | (opts->no_sync ? R2D_OUTPUT_NO_SYNC : 0u);
}

/* One conversion's state, from the first check to the report. */
struct convert_run {
    struct r2d_ctx *ctx;
    const struct r2d_options *opts;
    const char *input, *output;
    struct r2d_image *img;
    struct r2d_analysis *a;
    struct r2d_plan *plan;
    struct r2d_output *staged; /* the complete dump, not yet in place */
    struct r2d_input_hasher *later; /* hashes a split image's later segments while the dump is written */
    struct r2d_write_result res;
    json_t *report, *timings, *in_json;
    double t0, t1;
    int differences, verify_rc;
    int refused;      /* stopped by the checks before any work: no report */
    int report_tried; /* the commit wrote (or tried) the report already */
};

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

/*
 * The report's record of the input and of the report itself (the output's comes when it is written). An
 * input that could not be opened as an image is still recorded as a file: it was examined.
 */
static void
convert_record_files(struct convert_run *r)
{
    /* Without --report the report is only read back (KDBG verification): no per-run lists. */
    json_t *in = r->img ? r2d_report_image_lists(r->img, r->opts->report_path != NULL) : json_pack("{s:s}", "path", r->input);

    r->in_json =
        r2d_report_input_custody(in, r->input, r->img ? r2d_bytesrc_fd(r2d_image_input(r->img)) : -1);
    json_object_set_new(r->report, "input", r->in_json);
}

/* Checks, then the input opened and the analysis set up. */
static int
convert_open(struct convert_run *r)
{
    const struct r2d_open_hints hints = {.companion = r->opts->companion,
                                         .member = r->opts->member,
                                         .no_containers = r->opts->no_containers,
                                         .verify_container = r->opts->verify_container};
    /* Evidence first: no output may be the input (or the report, a PDB), whatever the spelling or --force. */
    int rc = r2d_files_check_conversion(r->ctx, r->opts, r->input, r->output);

    if (!rc)
        rc = r2d_input_files_precheck(r->ctx, r->opts, r->input, r->output);
    if (!rc)
        rc = convert_check_targets(r->ctx, r->opts, r->output);
    r->refused = rc != 0;
    if (rc)
        return rc;
    if (r->opts->report_path)
        json_object_set_new(r->report, "report",
                            json_pack("{s:s,s:o}", "path", r->opts->report_path, "absolute_path",
                                      r2d_report_target_path(r->opts->report_path)));
    rc = r2d_format_open_hints(r->ctx, r->input, r->opts->input_format, &hints, &r->img);
    /* The segments of a split image are known only now: none may be an output either. */
    if (!rc && (rc = r2d_input_files_check(r->ctx, r->opts, r2d_image_input(r->img), r->output)) != 0) {
        r->refused = 1;
        return rc;
    }
    convert_record_files(r);
    if (rc)
        return rc;
    r->a = malloc(sizeof(*r->a));
    r->plan = r2d_plan_new();
    if (!r->a || !r->plan)
        return r2d_err(r->ctx, R2D_ENOMEM, "out of memory");
    r2d_analysis_init(r->a, r->ctx, r->opts, r->img);
    return 0;
}

/*
 * The engine, the KDBG comparison and the plan; the analysis goes into the report whatever happens. The
 * image's KDBG is always compared with the symbols (issue 12: a tampered block is never silent); only
 * --verify-kdbg makes differences fail the run.
 */
static int
convert_plan(struct convert_run *r)
{
    int rc = r2d_analyse(r->a);
    json_t *analysis;

    r->t1 = r2d_now();
    json_object_set_new(r->timings, "analysis_s", json_real(r->t1 - r->t0));
    if (!rc)
        r->verify_rc = r2d_report_check_kdbg(r->a, r->report, r->opts->verify_kdbg, &r->differences);
    if (!rc)
        rc = r2d_build_plan(r->a, r->plan);
    analysis = r2d_report_analysis(r->a);
    r2d_report_symbols_file(r->ctx, r->a, analysis, r->opts->hash);
    json_object_set_new(r->report, "analysis", analysis);
    if (!rc)
        json_object_set_new(r->report, "plan", r2d_report_plan_lists(r->plan, r->opts->report_path != NULL));
    return rc;
}

/* The dump written to its temporary; KDBG differences fail the run only now, with the dump complete. */
static int
convert_write(struct convert_run *r)
{
    int rc;

    r->later = r2d_input_files_hash_start(r->ctx, r->in_json, r->opts->hash);
    rc = r2d_crashdump_stage(r->ctx, r->img, r->plan, r->output, convert_output_flags(r->opts), r->opts->hash,
                             &r->res, &r->staged);
    if (rc)
        return rc;
    json_object_set_new(r->timings, "write_s", json_real(r2d_now() - r->t1));
    if (r->opts->hash != R2D_HASH_NONE) {
        r2d_report_input_digest(r->ctx, r->input, &r->res, r->in_json, r->timings);
        r2d_report_input_files_digests(r->ctx, r->in_json, &r->res, r->later);
    }
    json_object_set_new(r->report, "output", r2d_report_output(r->output, &r->res));
    if (!r->differences)
        return 0;
    return r->verify_rc ? r->verify_rc : r2d_report_verify_error(r->ctx, r->input, r->report, r->differences);
}

/* Tell the client what is now in place (its closing line); the library logs no summary of its own. */
static void
convert_emit_result(struct convert_run *r)
{
    const struct r2d_digest_hex *o = &r->res.digests, *in = &r->res.source_digests;
    const json_t *v = json_object_get(r->report, "kdbg_verification");
    const char *vres = json_string_value(json_object_get(v, "result"));
    const struct r2d_result res = {
        .input = r->input,
        .output = r->output,
        .report = r->opts->report_path,
        .dump_type = (int)r->res.dump_type,
        .size = r->res.size,
        .pages = r->res.pages,
        .patches = r2d_plan_patch_count(r->plan),
        .elapsed_s = r2d_now() - r->t0,
        .write_s = r->res.write_s,
        .sha256 = o->hex[0],
        .sha1 = o->hex[1],
        .md5 = o->hex[2],
        .input_sha256 = in->hex[0],
        .input_sha1 = in->hex[1],
        .input_md5 = in->hex[2],
        .kdbg = r->a->kdbg.why,
        .kdbg_differences = vres && strcmp(vres, "unverifiable") != 0
                                ? (int)json_array_size(json_object_get(v, "differences"))
                                : -1,
    };

    r2d_emit_result(r->ctx, &res);
}

/* A complete dump (rc 0, or R2D_EVERIFY) goes in place only together with its report. */
static int
convert_commit(struct convert_run *r, int rc)
{
    const int crc = r2d_convert_commit(r->ctx, r->staged, r->output, r->report, r->opts->report_path,
                                       convert_output_flags(r->opts), &r->report_tried);

    r->staged = NULL;
    if (crc) {
        json_object_del(r->report, "output"); /* not in place after all */
        r2d_report_result(r->ctx, r->report, crc);
        return crc;
    }
    convert_emit_result(r);
    return rc;
}

/* The report of a conversion that did not get as far as a dump still documents what was tried. */
static int
convert_report_failure(struct convert_run *r, int rc)
{
    char saved[2048];
    int rrc;

    snprintf(saved, sizeof(saved), "%s", r2d_errmsg(r->ctx));
    rrc = r2d_report_write(r->ctx, r->report, r->opts->report_path, convert_output_flags(r->opts));
    if (rrc && !rc)
        return rrc;
    if (rc)
        r2d_err(r->ctx, rc, "%s", saved);
    return rc;
}

static void
convert_free(struct convert_run *r)
{
    r2d_input_files_hash_stop(r->later);
    json_decref(r->report);
    if (r->a)
        r2d_analysis_free(r->a);
    free(r->a);
    r2d_plan_free(r->plan);
    r2d_image_free(r->img);
}

int
r2d_convert(struct r2d_ctx *ctx, const struct r2d_options *opts, const char *input, const char *output)
{
    struct convert_run r = {.ctx = ctx, .opts = opts, .input = input, .output = output, .t0 = r2d_now()};
    int rc;

    r.report = r2d_report_new(opts);
    r.timings = json_object();
    rc = convert_open(&r);
    if (!rc)
        rc = convert_plan(&r);
    if (!rc)
        rc = convert_write(&r);
    json_object_set_new(r.timings, "total_s", json_real(r2d_now() - r.t0));
    json_object_set_new(r.report, "timings", r.timings);
    r2d_report_finished(r.report, json_real_value(json_object_get(r.timings, "total_s")));
    r2d_report_result(ctx, r.report, rc);
    if (r.staged)
        rc = convert_commit(&r, rc);
    if (opts->report_path && !r.refused && !r.report_tried)
        rc = convert_report_failure(&r, rc);
    convert_free(&r);
    return rc;
}
