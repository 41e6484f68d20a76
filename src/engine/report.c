/* SPDX-License-Identifier: MIT */
/* JSON descriptions of images, analyses and plans; generated from the objects, never collected on the side. */
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kdbg_fields.h"
#include "bytes.h"
#include "file_identity.h"
#include "input_files.h"
#include "container.h"
#include "format.h"
#include "hex.h"
#include "output.h"
#include "report.h"

json_t *
r2d_json_hex(uint64_t v)
{
    char buf[24];

    snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
    return json_string(buf);
}

static json_t *
report_sha256(const uint8_t *p, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];

    if (!EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL))
        return json_null();
    return json_string(r2d_hex(hex, md, mdlen));
}

static json_t *
report_hex_bytes(const uint8_t *p, size_t len)
{
    char *s = malloc(2 * len + 1);
    json_t *j;

    if (!s)
        return json_null();
    j = json_string(r2d_hex(s, p, len));
    free(s);
    return j;
}

static json_t *
report_cpu(const struct r2d_cpu_state *c)
{
    json_t *o = json_object();

    json_object_set_new(o, "rip", r2d_json_hex(c->rip));
    json_object_set_new(o, "rsp", r2d_json_hex(c->rsp));
    json_object_set_new(o, "rflags", r2d_json_hex(c->rflags));
    json_object_set_new(o, "cr0", r2d_json_hex(c->cr0));
    json_object_set_new(o, "cr3", r2d_json_hex(c->cr3));
    json_object_set_new(o, "cr4", r2d_json_hex(c->cr4));
    json_object_set_new(o, "cs", json_integer(c->cs.selector));
    json_object_set_new(o, "ss", json_integer(c->ss.selector));
    json_object_set_new(o, "gs_base", r2d_json_hex(c->gs.base));
    json_object_set_new(o, "kernel_gs_base",
                        (c->flags & R2D_CPU_HAVE_KGSBASE) ? r2d_json_hex(c->kernel_gs_base) : json_null());
    json_object_set_new(o, "idt_base", r2d_json_hex(c->idt.base));
    json_object_set_new(o, "gdt_base", r2d_json_hex(c->gdt.base));
    json_object_set_new(o, "long_mode", json_boolean(c->flags & R2D_CPU_LONG_MODE));
    return o;
}

/* One container layer: what it is, how it is read, what it stores about its data. */
static json_t *
report_container(const struct r2d_bytesrc *bs)
{
    json_t *o = json_object(), *digests = json_array(), *notes = json_object();

    json_object_set_new(o, "kind", json_string(r2d_bytesrc_kind(bs)));
    json_object_set_new(o, "name", json_string(r2d_bytesrc_name(bs)));
    json_object_set_new(o, "size", json_integer((json_int_t)r2d_bytesrc_size(bs)));
    json_object_set_new(o, "read", r2d_bytesrc_how(bs) ? json_string(r2d_bytesrc_how(bs)) : json_null());
    for (size_t i = 0; i < r2d_bytesrc_digest_count(bs); i++) {
        const struct r2d_bytesrc_digest *d = r2d_bytesrc_digest(bs, i);
        const char *state = d->state == R2D_DIGEST_MATCHED ? "matched" : "unchecked";

        json_array_append_new(digests, json_pack("{s:s,s:s,s:s,s:s?}", "algorithm", d->alg, "stored", d->hex,
                                                 "state", state, "checked", d->how));
    }
    json_object_set_new(o, "digests", digests);
    for (size_t i = 0; i < r2d_bytesrc_note_count(bs); i++) {
        const char *k, *v;

        r2d_bytesrc_note(bs, i, &k, &v);
        json_object_set_new(notes, k, json_string(v));
    }
    json_object_set_new(o, "notes", notes);
    return o;
}

/* The containers between the file and the format, outermost first, and the stack as one line. */
static void
report_containers(json_t *o, const struct r2d_image *img)
{
    const struct r2d_bytesrc *layer[R2D_CONTAINER_MAX_DEPTH + 1];
    json_t *list = json_array();
    char stack[160];
    size_t n = 0;

    for (const struct r2d_bytesrc *b = r2d_image_input(img); r2d_bytesrc_below(b) && n < 5;
         b = r2d_bytesrc_below(b))
        layer[n++] = b;
    while (n-- > 0)
        json_array_append_new(list, report_container(layer[n]));
    r2d_container_stack(r2d_image_input(img), stack, sizeof(stack));
    json_object_set_new(o, "containers", list);
    json_object_set_new(o, "stack",
                        json_pack("s++", stack, stack[0] ? " -> " : "", r2d_image_format_name(img)));
}

/* What the format stores of its own data (AFF4's aff4:hash): like a container's digests, with the object. */
static json_t *
report_format_digests(const struct r2d_image *img)
{
    json_t *list = json_array();

    for (size_t i = 0; i < r2d_image_digest_count(img); i++) {
        const struct r2d_image_digest *d = r2d_image_digest(img, i);
        const char *state = d->state == R2D_DIGEST_MATCHED ? "matched" : "unchecked";

        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?,s:s?}", "object", d->object,
                                              "statement", d->kind, "algorithm", d->alg, "stored", d->hex,
                                              "state", state, "checked", d->how, "note", d->note));
    }
    return list;
}

/* The run table, one object per run (hundreds of bytes each: a million runs make hundreds of MiB). */
static json_t *
report_runs(const struct r2d_image *img)
{
    json_t *runs = json_array();

    for (size_t i = 0; i < r2d_image_run_count(img); i++) {
        const struct r2d_run *r = r2d_image_run(img, i);
        json_t *run = json_object();

        json_object_set_new(run, "pa", r2d_json_hex(r->pa));
        json_object_set_new(run, "length", r2d_json_hex(r->len));
        if (r->ops)
            json_object_set_new(run, "source", json_string(r->ops->name));
        else
            json_object_set_new(run, "file_offset", r2d_json_hex(r->off));
        if (r->bytes && r->bytes != r2d_image_input(img))
            json_object_set_new(run, "file", json_string(r2d_bytesrc_name(r->bytes)));
        json_array_append_new(runs, run);
    }
    return runs;
}

json_t *
r2d_report_image(const struct r2d_image *img)
{
    return r2d_report_image_lists(img, 1);
}

json_t *
r2d_report_image_lists(const struct r2d_image *img, int lists)
{
    json_t *o = json_object(), *cpus = json_array(), *notes = json_object();
    const struct r2d_bytesrc *file = r2d_bytesrc_base(r2d_image_input(img));

    /* The file on disk, whatever containers it holds: its digest is the input's. */
    json_object_set_new(o, "path", json_string(r2d_bytesrc_name(file)));
    json_object_set_new(o, "size", json_integer((json_int_t)r2d_bytesrc_size(file)));
    json_object_set_new(o, "sha256", json_null()); /* filled in by r2d_convert when hashing */
    json_object_set_new(o, "files", r2d_report_input_files(r2d_image_input(img)));
    report_containers(o, img);
    json_object_set_new(o, "format", json_string(r2d_image_format_name(img)));
    json_object_set_new(o, "format_reason", json_string(r2d_image_probe_reason(img)));
    json_object_set_new(o, "format_digests", report_format_digests(img));
    if (lists)
        json_object_set_new(o, "runs", report_runs(img));
    json_object_set_new(o, "bytes_in_runs", json_integer((json_int_t)r2d_image_total_bytes(img)));
    for (size_t i = 0; i < r2d_image_cpu_count(img); i++)
        json_array_append_new(cpus, report_cpu(r2d_image_cpu(img, i)));
    json_object_set_new(o, "cpus", cpus);
    for (size_t i = 0; i < r2d_image_note_count(img); i++) {
        const char *k, *v;

        r2d_image_note(img, i, &k, &v);
        json_object_set_new(notes, k, json_string(v));
    }
    json_object_set_new(o, "notes", notes);
    return o;
}

static const char *
report_kdbg_mode(enum r2d_kdbg_mode m)
{
    static const char *const names[] = {"none", "plain", "decoded", "rebuilt"};

    return (unsigned)m < 4 ? names[m] : "?";
}

static json_t *
report_kernel(const struct r2d_analysis *a)
{
    char guid[R2D_GUID_HEX_LEN + 1];
    json_t *k = json_object();

    r2d_guid_format(a->pe.pdb.guid, guid);
    json_object_set_new(k, "base", r2d_json_hex(a->kernel_base));
    json_object_set_new(k, "how", json_string(a->kernel_how));
    json_object_set_new(k, "size_of_image", r2d_json_hex(a->pe.size_of_image));
    json_object_set_new(k, "export_name", json_string(a->pe.export_name));
    json_object_set_new(k, "pdb_name", json_string(a->pe.pdb.name));
    json_object_set_new(k, "pdb_guid", json_string(guid));
    json_object_set_new(k, "pdb_age", json_integer(a->pe.pdb.age));
    return k;
}

static json_t *
report_version(const struct r2d_analysis *a)
{
    json_t *v = json_object();

    json_object_set_new(v, "major", json_integer(a->major_version));
    json_object_set_new(v, "build", json_integer(a->minor_version));
    json_object_set_new(v, "kd_secondary_version", json_integer(a->kd_secondary_version));
    json_object_set_new(v, "machine", r2d_json_hex(a->machine_type));
    return v;
}

static json_t *
report_kdbg(const struct r2d_kdbg *kd)
{
    json_t *k = json_object();

    json_object_set_new(k, "va", r2d_json_hex(kd->va));
    json_object_set_new(k, "mode", json_string(report_kdbg_mode(kd->mode)));
    json_object_set_new(k, "why", json_string(kd->why));
    json_object_set_new(k, "size", r2d_json_hex(kd->size));
    if (kd->have_flag)
        json_object_set_new(k, "KdpDataBlockEncoded", json_integer(kd->flag));
    if (kd->size)
        json_object_set_new(k, "bytes", report_hex_bytes(kd->bytes, kd->size));
    if (kd->nunderived) {
        /* Fields the symbols and the image could not give: 0 in a rebuilt block (List links: self). */
        json_t *u = json_array();

        for (unsigned i = 0; i < kd->nunderived; i++)
            json_array_append_new(u, json_string(r2d_kdbg_fields[kd->underived[i]].name));
        json_object_set_new(k, "underived", u);
    }
    return k;
}

/* Which processor each vCPU of the image turned out to be, and how that was decided. */
static json_t *
report_cpu_matches(const struct r2d_analysis *a)
{
    json_t *cpus = json_array();

    for (size_t i = 0; i < r2d_image_cpu_count(a->img) && i < a->ncpus; i++) {
        const struct r2d_cpu_match *m = &a->cpus[i];
        json_t *c = json_object();

        json_object_set_new(c, "cpu", json_integer((json_int_t)i));
        json_object_set_new(c, "processor", m->processor >= 0 ? json_integer(m->processor) : json_null());
        json_object_set_new(c, "how", json_string(m->how));
        if (m->processor >= 0) {
            json_object_set_new(c, "kprcb", r2d_json_hex(m->kprcb));
            json_object_set_new(c, "context_va", r2d_json_hex(m->context_va));
        }
        json_array_append_new(cpus, c);
    }
    return cpus;
}

json_t *
r2d_report_analysis(const struct r2d_analysis *a)
{
    json_t *o = json_object();

    if (a->dtb) {
        json_t *p = json_object();

        json_object_set_new(o, "dtb", r2d_json_hex(a->dtb));
        json_object_set_new(o, "dtb_how", json_string(a->dtb_how));
        json_object_set_new(p, "mode", json_string(r2d_mmu_mode_name(&a->mmu)));
        json_object_set_new(p, "how", json_string(a->paging_how));
        json_object_set_new(p, "pointer_size", json_integer(a->ptr_size));
        json_object_set_new(o, "paging", p);
    }
    if (a->system_dtb)
        json_object_set_new(o, "system_dtb", r2d_json_hex(a->system_dtb));
    if (a->kernel_base)
        json_object_set_new(o, "kernel", report_kernel(a));
    if (a->syms) {
        json_t *s = json_object();

        json_object_set_new(s, "kind", json_string(a->syms->ops->kind));
        json_object_set_new(s, "origin", json_string(a->syms->origin));
        json_object_set_new(s, "how", json_string(a->symbols_how));
        json_object_set_new(o, "symbols", s);
    }
    if (a->have_version)
        json_object_set_new(o, "version", report_version(a));
    if (a->kdbg.va)
        json_object_set_new(o, "kdbg", report_kdbg(&a->kdbg));
    if (a->nprocessors) {
        json_object_set_new(o, "processors", json_integer(a->nprocessors));
        json_object_set_new(o, "cpu_matches", report_cpu_matches(a));
    }
    return o;
}

json_t *
r2d_report_plan(const struct r2d_plan *plan)
{
    return r2d_report_plan_lists(plan, 1);
}

json_t *
r2d_report_plan_lists(const struct r2d_plan *plan, int lists)
{
    const struct r2d_header_values *h = r2d_plan_header_const(plan);
    json_t *o = json_object(), *hdr = json_object(), *ranges = json_array(), *patches = json_array();
    json_t *warnings = json_array(), *facts = json_object();

    json_object_set_new(hdr, "major_version", json_integer(h->major_version));
    json_object_set_new(hdr, "minor_version", json_integer(h->minor_version));
    json_object_set_new(hdr, "dtb", r2d_json_hex(h->dtb));
    json_object_set_new(hdr, "pfn_database", r2d_json_hex(h->pfn_database));
    json_object_set_new(hdr, "ps_loaded_module_list", r2d_json_hex(h->ps_loaded_module_list));
    json_object_set_new(hdr, "ps_active_process_head", r2d_json_hex(h->ps_active_process_head));
    json_object_set_new(hdr, "machine_image_type", r2d_json_hex(h->machine_image_type));
    json_object_set_new(hdr, "number_processors", json_integer(h->number_processors));
    json_object_set_new(hdr, "bugcheck_code", r2d_json_hex(h->bugcheck_code));
    json_object_set_new(hdr, "kdbg_va", r2d_json_hex(h->kdbg_va));
    json_object_set_new(hdr, "system_time", r2d_json_hex(h->system_time));
    json_object_set_new(hdr, "system_uptime", r2d_json_hex(h->system_uptime));
    json_object_set_new(hdr, "product_type", json_integer(h->product_type));
    json_object_set_new(hdr, "suite_mask", r2d_json_hex(h->suite_mask));
    json_object_set_new(hdr, "kd_secondary_version", json_integer(h->kd_secondary_version));
    json_object_set_new(hdr, "comment", json_string(h->comment));
    json_object_set_new(o, "header", hdr);
    for (size_t i = 0; lists && i < r2d_plan_range_count(plan); i++) {
        const struct r2d_page_range *r = r2d_plan_range(plan, i);
        json_t *j = json_object();

        json_object_set_new(j, "base_page", r2d_json_hex(r->base_page));
        json_object_set_new(j, "page_count", r2d_json_hex(r->page_count));
        json_array_append_new(ranges, j);
    }
    if (lists)
        json_object_set_new(o, "ranges", ranges);
    else
        json_decref(ranges);
    json_object_set_new(o, "pages", json_integer((json_int_t)r2d_plan_page_count(plan)));
    for (size_t i = 0; i < r2d_plan_patch_count(plan); i++) {
        const struct r2d_patch *p = r2d_plan_patch(plan, i);
        json_t *j = json_object();

        json_object_set_new(j, "pa", r2d_json_hex(p->pa));
        json_object_set_new(j, "va", r2d_json_hex(p->va));
        json_object_set_new(j, "length", json_integer(p->len));
        json_object_set_new(j, "reason", json_string(p->reason));
        json_object_set_new(j, "sha256_before", report_sha256(p->before, p->len));
        json_object_set_new(j, "sha256_after", report_sha256(p->after, p->len));
        json_array_append_new(patches, j);
    }
    json_object_set_new(o, "patches", patches);
    for (size_t i = 0; i < r2d_plan_warning_count(plan); i++)
        json_array_append_new(warnings, json_string(r2d_plan_warning(plan, i)));
    json_object_set_new(o, "warnings", warnings);
    for (size_t i = 0; i < r2d_plan_fact_count(plan); i++) {
        const char *k, *v;

        if (r2d_plan_fact(plan, i, &k, &v) == 0)
            json_object_set_new(facts, k, json_string(v));
    }
    json_object_set_new(o, "facts", facts);
    return o;
}

/* json_dump_callback's sink: the report's output (small writes are gathered there). */
struct report_sink {
    struct r2d_ctx *ctx;
    struct r2d_output *out;
    int rc;
};

static int
report_sink_write(const char *buf, size_t len, void *data)
{
    struct report_sink *k = data;

    if (!k->rc)
        k->rc = r2d_output_write(k->ctx, k->out, buf, len);
    return k->rc ? -1 : 0;
}

int
r2d_report_stage(struct r2d_ctx *ctx, json_t *obj, const char *path, unsigned flags,
                 struct r2d_output **staged)
{
    struct report_sink sink = {.ctx = ctx};
    struct stat st;
    int rc;

    /*
     * r2d_convert checked the target before any work. Again here, for what took its place since, in the
     * report's words (the output layer's messages say "output").
     */
    rc = r2d_file_target_check(ctx, path, "report");
    if (!rc && !(flags & R2D_OUTPUT_FORCE) && lstat(path, &st) == 0)
        rc = r2d_err(ctx, R2D_EEXIST, "%s: report exists (use --force to replace it)", path);
    if (!rc)
        rc = r2d_output_open(ctx, path, flags, R2D_HASH_NONE, &sink.out);
    /* Streamed, not built as one string: a report listing a million runs is hundreds of MiB of text. */
    if (!rc && json_dump_callback(obj, report_sink_write, &sink, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        rc = sink.rc ? sink.rc : r2d_err(ctx, R2D_ENOMEM, "%s: cannot serialise the report", path);
    if (!rc)
        rc = r2d_output_write(ctx, sink.out, "\n", 1);
    if (!rc)
        rc = r2d_output_finish(ctx, sink.out, NULL);
    if (rc) {
        r2d_output_abort(sink.out);
        return rc;
    }
    *staged = sink.out;
    return 0;
}

int
r2d_report_write(struct r2d_ctx *ctx, json_t *obj, const char *path, unsigned flags)
{
    struct r2d_output *out = NULL;
    const int rc = r2d_report_stage(ctx, obj, path, flags, &out);

    return rc ? rc : r2d_output_commit(ctx, out, NULL);
}
