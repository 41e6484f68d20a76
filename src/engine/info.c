/* SPDX-License-Identifier: MIT */
/*
 * --info: describe an input (or a crash dump) without writing anything, as far as the engine gets. The
 * description is one JSON object (--json prints it whole; info_text.c makes the text). When a step fails,
 * what was found before it is still described, and the call returns R2D_EINCOMPLETE with what stopped it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "bytes.h"
#include "context_amd64.h"
#include "context_x86.h"
#include "dump_header64.h"
#include "format.h"
#include "info_text.h"
#include "kdbg_fields.h"
#include "plan_build.h"
#include "report.h"
#include "report_convert.h"
#include "symstore.h"

/* KUSER_SHARED_DATA fields (docs/reference/discovery.md section 3): what Windows says it is. */
#define INFO_KUSER_INTERRUPT_TIME 0x08   /* KSYSTEM_TIME: 100 ns since boot (the dump's SystemUpTime) */
#define INFO_KUSER_SYSTEM_TIME 0x14      /* KSYSTEM_TIME: FILETIME, UTC */
#define INFO_KUSER_NT_BUILD_NUMBER 0x260 /* u32: build in the low 16 bits, 0xF... in the top nibble */
#define INFO_KUSER_NT_PRODUCT_TYPE 0x264 /* u32: 1 WinNt (workstation), 2 LanManNt (DC), 3 Server */
#define INFO_KUSER_NT_MAJOR 0x26c
#define INFO_KUSER_NT_MINOR 0x270

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
    static const enum r2d_paging modes[] = {R2D_PAGING_X64, R2D_PAGING_X86_PAE, R2D_PAGING_X86};
    json_t *k;
    struct r2d_mmu mmu;
    uint8_t hdr[R2D_KDBG_OFF_KERNBASE + 8];
    int rc = 0;

    if (!props->have_dump_header || va == 0)
        return;
    k = json_object();
    json_object_set_new(k, "va", r2d_json_hex(va));
    /*
     * A 32-bit header names the paging mode (PaeEnabled); a 64-bit one does not: the first mode in which the
     * block reads KDBG, else x64's.
     */
    const enum r2d_paging own = props->dump_pae ? R2D_PAGING_X86_PAE : R2D_PAGING_X86;
    const size_t ntry = props->dump_is32 ? 1 : sizeof(modes) / sizeof(modes[0]);

    for (size_t i = 0; i <= ntry; i++) {
        r2d_mmu_init(&mmu, ctx, img, props->dump_is32 ? own : i < ntry ? modes[i] : R2D_PAGING_X64, dtb);
        rc = r2d_mmu_read(&mmu, va, hdr, sizeof(hdr));
        if (!rc && r2d_le32(hdr + R2D_KDBG_OFF_OWNER_TAG) == R2D_KDBG_TAG)
            break;
    }
    if (rc) {
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

/* The marketing name of an NT version, as far as the build and product type tell it. */
static const char *
info_os_name(uint32_t major, uint32_t minor, uint32_t build, uint32_t product)
{
    const int server = product == 2 || product == 3;

    if (major == 10 && minor == 0 && !server)
        return build >= 22000 ? "Windows 11" : "Windows 10";
    if (major == 10 && minor == 0)
        return build >= 26100   ? "Windows Server 2025"
               : build >= 20348 ? "Windows Server 2022"
               : build >= 17763 ? "Windows Server 2019"
               : build >= 14393 ? "Windows Server 2016"
                                : "Windows Server";
    if (major == 6 && minor == 3)
        return server ? "Windows Server 2012 R2" : "Windows 8.1";
    if (major == 6 && minor == 2)
        return server ? "Windows Server 2012" : "Windows 8";
    if (major == 6 && minor == 1)
        return server ? "Windows Server 2008 R2" : "Windows 7";
    if (major == 6 && minor == 0)
        return server ? "Windows Server 2008" : "Windows Vista";
    if (major == 5 && minor == 2)
        return "Windows Server 2003";
    if (major == 5 && minor == 1)
        return "Windows XP";
    return "Windows";
}

/*
 * A KSYSTEM_TIME (LowPart, High1Time, High2Time) as key in o, when its two high parts agree: the kernel
 * writes High2Time, LowPart, High1Time in that order, so a torn read shows as a mismatch.
 */
static void
info_ksystem_time(struct r2d_analysis *a, uint64_t off, const char *key, json_t **o)
{
    uint8_t t[12];

    if (r2d_mmu_read(&a->mmu, r2d_kuser_va(a->paging) + off, t, sizeof(t)) == 0 &&
        r2d_le32(t + 4) == r2d_le32(t + 8))
        json_object_set_new(*o, key, r2d_json_hex((uint64_t)r2d_le32(t + 4) << 32 | r2d_le32(t)));
}

/* "os": what KUSER_SHARED_DATA says, through the page tables found; needs no symbols. */
static void
info_os(struct r2d_analysis *a, json_t *info)
{
    static const char *const products[] = {"unknown", "Workstation", "Domain Controller", "Server"};
    uint32_t build = 0, product = 0, major = 0, minor = 0;
    json_t *os, *times = json_object();

    const uint64_t kuser = r2d_kuser_va(a->paging);

    if (!a->dtb || r2d_mmu_read_u32(&a->mmu, kuser + INFO_KUSER_NT_MAJOR, &major) ||
        r2d_mmu_read_u32(&a->mmu, kuser + INFO_KUSER_NT_MINOR, &minor)) {
        json_decref(times);
        return;
    }
    r2d_mmu_read_u32(&a->mmu, kuser + INFO_KUSER_NT_BUILD_NUMBER, &build);
    r2d_mmu_read_u32(&a->mmu, kuser + INFO_KUSER_NT_PRODUCT_TYPE, &product);
    build &= 0xffff;
    info_ksystem_time(a, INFO_KUSER_SYSTEM_TIME, "system_time", &times);
    info_ksystem_time(a, INFO_KUSER_INTERRUPT_TIME, "system_uptime", &times);
    /* Before Windows 10 NtBuildNumber is not in KUSER_SHARED_DATA; KdVersionBlock has it. */
    if (build == 0 && a->have_version)
        build = a->minor_version;
    os = json_object();
    json_object_set_new(os, "name", json_string(info_os_name(major, minor, build, product)));
    json_object_set_new(os, "nt_major", json_integer(major));
    json_object_set_new(os, "nt_minor", json_integer(minor));
    json_object_set_new(os, "build", json_integer(build));
    json_object_set_new(os, "product_type", json_integer(product));
    json_object_set_new(os, "product", json_string(products[product < 4 ? product : 0]));
    json_object_update(os, times);
    json_decref(times);
    json_object_set_new(info, "os", os);
}

/* The first http(s) server of the symbol path in effect, else Microsoft's: where to fetch the PDB. */
static void
info_symbol_server(const struct r2d_options *opts, char *out, size_t n)
{
    const char *path =
        opts->symbol_path && *opts->symbol_path ? opts->symbol_path : getenv("_NT_SYMBOL_PATH");
    const char *url = path ? strstr(path, "https://") : NULL;
    const char *http = path ? strstr(path, "http://") : NULL;
    size_t len;

    if (!url || (http && http < url))
        url = http;
    if (!url) {
        snprintf(out, n, "%s", R2D_SYMSTORE_MSDL);
        return;
    }
    len = strcspn(url, "*;");
    while (len > 0 && url[len - 1] == '/')
        len--;
    snprintf(out, n, "%.*s", (int)len, url);
}

/* "symbols_needed": the kernel was found but no symbols for it: the file to get and where from. */
static void
info_symbols_needed(const struct r2d_analysis *a, json_t *info)
{
    char guid[R2D_GUID_HEX_LEN + 1], key[R2D_GUID_HEX_LEN + 9], server[1024], url[1600], isf[512];
    const char *name = a->pe.pdb.name;
    json_t *s = json_object();

    r2d_guid_format(a->pe.pdb.guid, guid);
    r2d_pdb_id_key(&a->pe.pdb, key);
    info_symbol_server(a->opts, server, sizeof(server));
    snprintf(url, sizeof(url), "%s/%s/%s/%s", server, name, key, name);
    snprintf(isf, sizeof(isf), "%s/%s-%" PRIu32 ".json.xz", name, guid, a->pe.pdb.age);
    json_object_set_new(s, "pdb_name", json_string(name));
    json_object_set_new(s, "key", json_string(key));
    json_object_set_new(s, "url", json_string(url));
    json_object_set_new(s, "isf", json_string(isf));
    json_object_set_new(info, "symbols_needed", s);
}

/* "<input>: description incomplete (<step>): <what failed>", the input named once. */
static int
info_incomplete_message(struct r2d_analysis *a, const char *step)
{
    const char *path = r2d_image_path(a->img);
    const size_t plen = strlen(path);
    char *msg = strdup(r2d_errmsg(a->ctx));
    const char *why = msg;
    int rc;

    if (!msg)
        return r2d_err(a->ctx, R2D_ENOMEM, "out of memory");
    if (strncmp(why, path, plen) == 0 && strncmp(why + plen, ": ", 2) == 0)
        why += plen + 2;
    rc = r2d_err(a->ctx, R2D_EINCOMPLETE, "%s: description incomplete (%s): %s", path, step, why);
    free(msg);
    return rc;
}

/* Record where the analysis stopped; the context's message becomes the one warning the CLI prints. */
static int
info_incomplete(struct r2d_analysis *a, json_t *info, int rc)
{
    const char *step = !a->dtb           ? "page tables"
                       : !a->kernel_base ? "kernel"
                       : !a->syms        ? "symbols"
                       : !a->kdbg.va     ? "KDBG"
                                         : "processors";

    if (rc == R2D_ENOMEM || rc == R2D_ECANCELED)
        return rc;
    json_object_set_new(info, "analysis_error", json_string(r2d_errmsg(a->ctx)));
    json_object_set_new(info, "analysis_stopped_at", json_string(step));
    if (!a->syms && a->kernel_base && a->pe.have_rsds)
        info_symbols_needed(a, info);
    return info_incomplete_message(a, step);
}

/*
 * A crash dump's processors: how many the header and the kernel count, and whether a CONTEXT is where
 * WinDbg reads each processor's registers (KPRCB.Context). The header's own context is input.cpus[0].
 */
static void
info_dump_processors(struct r2d_analysis *a, json_t *info)
{
    json_t *list = json_array(), *o = json_object();

    /* An x86 CONTEXT (0x2CC bytes, CONTEXT_i386, 32-bit EIP/ESP) or an AMD64 one. */
    const int x86 = r2d_analysis_is_x86(a);
    const size_t size = x86 ? R2D_CTX86_SIZE : R2D_CONTEXT_SIZE;
    const uint32_t arch_flag = x86 ? R2D_CTX86_FLAG_I386 : R2D_CTX64_FLAG_AMD64;

    for (size_t j = 0; j < a->ncpus; j++) {
        struct r2d_cpu_match *m = &a->cpus[j];
        uint8_t ctx[R2D_CONTEXT_SIZE];
        json_t *p = json_object();
        const char *state = "no KPRCB";
        uint64_t ip = 0, sp = 0;

        if (m->processor >= 0) {
            const int unreadable = m->context_va && r2d_mmu_read(&a->mmu, m->context_va, ctx, size);

            if (m->context_va && !unreadable) {
                ip = x86 ? r2d_le32(ctx + R2D_CTX86_OFF_EIP) : r2d_le64(ctx + R2D_CTX64_OFF_RIP);
                sp = x86 ? r2d_le32(ctx + R2D_CTX86_OFF_ESP) : r2d_le64(ctx + R2D_CTX64_OFF_RSP);
            }
            state = !m->context_va ? "KPRCB.Context is NULL"
                    : unreadable   ? "unreadable"
                    : !(r2d_le32(ctx) & arch_flag) || ip == 0 ? "empty"
                                                               : "present";
        }
        json_object_set_new(p, "processor", json_integer((json_int_t)j));
        json_object_set_new(p, "context", json_string(state));
        if (m->processor >= 0) {
            json_object_set_new(p, "kprcb", r2d_json_hex(m->kprcb));
            json_object_set_new(p, "context_va", r2d_json_hex(m->context_va));
        }
        if (!strcmp(state, "present")) {
            json_object_set_new(p, "rip", r2d_json_hex(ip));
            json_object_set_new(p, "rsp", r2d_json_hex(sp));
        }
        json_array_append_new(list, p);
    }
    json_object_set_new(o, "kernel", json_integer(a->nprocessors));
    json_object_set_new(o, "contexts", list);
    json_object_set_new(info, "dump_processors", o);
}

/* What a conversion would write: the plan, with the dump type the writer would choose for it. */
static int
info_plan(struct r2d_analysis *a, json_t *info)
{
    struct r2d_plan *plan = r2d_plan_new();
    json_t *p;
    int rc;

    if (!plan)
        return r2d_err(a->ctx, R2D_ENOMEM, "out of memory");
    rc = r2d_build_plan(a, plan);
    if (!rc) {
        enum r2d_dump_type type = a->opts->dump_type;

        if (type == R2D_DUMP_AUTO)
            type = r2d_plan_range_count(plan) <= R2D_DH64_MAX_RUNS ? R2D_DUMP_FULL : R2D_DUMP_BITMAP;
        p = r2d_report_plan(plan);
        json_object_set_new(p, "dump_type", json_integer(type));
        json_object_set_new(info, "plan", p);
    }
    r2d_plan_free(plan);
    return rc;
}

/* The engine's steps as far as they go; a crash dump is described, not planned for conversion. */
static int
info_analyse(struct r2d_analysis *a, json_t *info)
{
    const int dump = r2d_image_props(a->img)->have_dump_header;
    int rc = dump ? r2d_analyse_kernel(a) : r2d_analyse(a);
    int differences = 0;

    info_os(a, info);
    if (!rc && dump)
        rc = r2d_find_processors(a);
    if (!rc) {
        r2d_report_verify_kdbg(a, info, &differences);
        if (dump)
            info_dump_processors(a, info);
        else
            rc = info_plan(a, info);
    }
    json_object_set_new(info, "analysis", r2d_report_analysis(a));
    /* The dump's header context is no vCPU to match: its processors are in "dump_processors". */
    if (dump)
        json_object_del(json_object_get(info, "analysis"), "cpu_matches");
    return rc ? info_incomplete(a, info, rc) : 0;
}

int
r2d_info(struct r2d_ctx *ctx, const struct r2d_options *opts, const char *input, FILE *out, int json)
{
    struct r2d_image *img = NULL;
    struct r2d_analysis *a;
    json_t *info;
    const struct r2d_open_hints hints = {.companion = opts->companion,
                                         .member = opts->member,
                                         .no_containers = opts->no_containers,
                                         .verify_container = opts->verify_container};
    int rc = r2d_format_open_hints(ctx, input, opts->input_format, &hints, &img);

    if (rc)
        return rc;
    info = json_object();
    json_object_set_new(info, "input", r2d_report_image(img));
    info_dump_kdbg(ctx, img, info);
    a = malloc(sizeof(*a));
    if (!a) {
        rc = r2d_err(ctx, R2D_ENOMEM, "out of memory");
    } else {
        r2d_analysis_init(a, ctx, opts, img);
        rc = info_analyse(a, info);
        r2d_analysis_free(a);
        free(a);
    }
    if (!rc || rc == R2D_EINCOMPLETE) {
        if (json) {
            json_dumpf(info, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            fputc('\n', out);
        } else {
            r2d_info_print_text(info, out, r2d_ctx_verbosity(ctx) >= R2D_LOG_INFO);
        }
    }
    json_decref(info);
    r2d_image_free(img);
    return rc;
}
