/* SPDX-License-Identifier: MIT */
/* --info: describe an input (or a crash dump) without writing anything, as far as the engine gets. */
#include <stdio.h>
#include <stdlib.h>

#include "analysis.h"
#include "bytes.h"
#include "format.h"
#include "kdbg_fields.h"
#include "plan_build.h"
#include "report.h"
#include "report_convert.h"

/*
 * For a crash dump: the KDBG exactly where WinDbg will look for it -- header KdDebuggerDataBlock through
 * the header DTB -- without needing symbols. A block that does not read 'KDBG' there is what makes WinDbg
 * say "KdDebuggerDataBlock is not present or unreadable".
 */
static void
info_dump_kdbg(struct r2d_ctx *ctx, const struct r2d_image *img, json_t *info)
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
    const struct r2d_open_hints hints = {.companion = opts->companion};
    int rc = r2d_format_open_hints(ctx, input, opts->input_format, &hints, &img);

    if (rc)
        return rc;
    info = json_object();
    json_object_set_new(info, "input", r2d_report_image(img));
    info_dump_kdbg(ctx, img, info);
    /* A crash dump describes itself through its header notes; the engine runs on anything with memory. */
    a = malloc(sizeof(*a));
    if (!a) {
        rc = r2d_err(ctx, R2D_ENOMEM, "out of memory");
    } else {
        struct r2d_plan *plan = r2d_plan_new();
        int arc;

        r2d_analysis_init(a, ctx, opts, img);
        arc = r2d_analyse(a);
        if (arc) {
            json_object_set_new(info, "analysis_error", json_string(r2d_errmsg(ctx)));
        } else {
            int differences = 0;

            r2d_report_verify_kdbg(a, info, &differences);
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
